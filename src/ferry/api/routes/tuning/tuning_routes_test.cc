// The ask/tell routes end to end over TCP: ApiServer over a real
// StudyService (SQLite, the real samplers and pruners), so the JSON
// mapping, the status codes and the error fields are tested as a client
// sees them (tests/tuning/test_ask_tell_rest.py drives the real binary).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ferry/api/api_server.h"
#include "ferry/api/testing/test_client.h"
#include "ferry/store/resource_store.h"
#include "ferry/store/testing/test_database.h"
#include "ferry/tuning/study_service.h"

namespace ferry::api {
namespace {

using testing::BodyOf;
using ::testing::HasSubstr;
using testing::Response;

constexpr char kApi[] = "/api/v1/tuning/studies";

Json MixedDistributions() {
  return Json::parse(R"([
    {"name": "x", "type": "float", "low": -5, "high": 10},
    {"name": "lr", "type": "float", "low": 1e-5, "high": 0.1, "log": true},
    {"name": "n", "type": "int", "low": 1, "high": 64, "log": true},
    {"name": "batch", "type": "int", "low": 16, "high": 128, "step": 16},
    {"name": "dropout", "type": "discrete", "values": [0.0, 0.25, 0.5]},
    {"name": "opt", "type": "categorical", "choices": ["adam", 1, true, 2.5]}
  ])");
}

class TuningRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tdb_ = store::testing::TestDatabase::Create(store::testing::Backend::kSqlite);
    ASSERT_TRUE(tdb_);
    resources_ = std::make_unique<store::ResourceStore>(&tdb_->db(), &env_);
    store::RegisterCoreTypes(types_);
    auto studies = tuning::StudyService::Open(&tdb_->db(), &env_);
    ASSERT_TRUE(studies.ok()) << studies.status().ToString();
    studies_ = std::move(studies).value();
    ApiServices services{&tdb_->db(), resources_.get(), &types_, &metrics_, &env_};
    services.studies = studies_.get();
    ApiOptions options;
    options.listen = "127.0.0.1:0";
    options.threads = 2;
    options.handler_threads = 2;
    auto server = ApiServer::Start(options, services);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    conn_ = std::make_unique<testing::TestConnection>(server_->url());
  }

  Response Raw(std::string_view method, const std::string& target, std::string_view body = {},
               const std::map<std::string, std::string>& headers = {}) {
    auto response = conn_->Request(method, target, body, headers);
    EXPECT_TRUE(response) << method << " " << target;
    if (!response) conn_ = std::make_unique<testing::TestConnection>(server_->url());
    return response ? *response : Response();
  }

  // `path` is relative to /api/v1/tuning/studies ("" or "/name/...").
  Json Call(std::string_view method, const std::string& path, const Json& body = nullptr, int status = 200) {
    std::map<std::string, std::string> headers;
    std::string text;
    if (!body.is_null()) {
      text = body.dump();
      headers["Content-Type"] = "application/json";
    }
    Response r = Raw(method, kApi + path, text, headers);
    EXPECT_EQ(r.result_int(), status) << method << " " << path << " " << text << " -> " << r.body();
    return BodyOf(r);
  }

  // Expects a native error with `code`, naming `field`, its message containing `part`.
  static void ExpectError(const Json& body, const std::string& code, const std::string& field,
                          const std::string& part = "") {
    ASSERT_TRUE(body.contains("error")) << body.dump();
    const Json& e = body["error"];
    EXPECT_EQ(e.value("code", ""), code) << body.dump();
    EXPECT_EQ(e.value("field", ""), field) << body.dump();
    EXPECT_THAT(e.value("message", ""), HasSubstr(part)) << body.dump();
  }

  Json CreateBody(const std::string& name, Json extra = Json::object()) {
    Json body = {{"name", name}, {"distributions", MixedDistributions()}, {"sampler", "random"}};
    for (const auto& [k, v] : extra.items()) body[k] = v;
    return body;
  }

  Json Create(const std::string& name, Json extra = Json::object()) {
    return Call("POST", "", CreateBody(name, std::move(extra)), 201);
  }

  FakeEnv env_;
  std::unique_ptr<store::testing::TestDatabase> tdb_;
  std::unique_ptr<store::ResourceStore> resources_;
  store::ResourceTypes types_;
  MetricsRegistry metrics_;
  std::unique_ptr<tuning::StudyService> studies_;
  std::unique_ptr<ApiServer> server_;
  std::unique_ptr<testing::TestConnection> conn_;
};

TEST_F(TuningRoutesTest, StudyLifecycle) {
  Json created = Create("s1", {{"direction", "maximize"},
                               {"sampler", "tpe"},
                               {"sampler_settings", {{"n_startup_trials", 5}, {"consider_endpoints", true}}},
                               {"pruner", "medianstop"},
                               {"pruner_settings", {{"start_step", "2"}}},
                               {"seed", 7},
                               {"metric_names", {"accuracy", "loss"}}});
  EXPECT_EQ(created["name"], "s1");
  EXPECT_TRUE(created["study_id"].is_number_integer());
  EXPECT_EQ(created["direction"], "maximize");
  EXPECT_EQ(created["sampler"], "tpe");
  // Settings given as numbers and bools come back as their text.
  EXPECT_EQ(created["sampler_settings"], Json({{"n_startup_trials", "5"}, {"consider_endpoints", "true"}}));
  EXPECT_EQ(created["pruner"], "medianstop");
  EXPECT_EQ(created["pruner_settings"], Json({{"start_step", "2"}}));
  EXPECT_EQ(created["seed"], 7);
  EXPECT_EQ(created["metric_names"], Json({"accuracy", "loss"}));
  EXPECT_EQ(created["created"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(created["counts"], Json({{"running", 0}, {"complete", 0}, {"pruned", 0}, {"failed", 0}}));
  EXPECT_TRUE(created["best_trial"].is_null());

  // The distributions come back in their canonical form.
  const Json& d = created["distributions"];
  ASSERT_EQ(d.size(), 6u);
  EXPECT_EQ(d[0], Json::parse(R"({"name": "x", "type": "float", "low": -5.0, "high": 10.0, "log": false})"));
  EXPECT_EQ(d[1]["log"], true);
  EXPECT_EQ(d[2],
            Json::parse(R"({"name": "n", "type": "int", "low": 1, "high": 64, "log": true, "step": 1})"));
  EXPECT_EQ(d[3]["step"], 16);
  EXPECT_EQ(d[4], Json::parse(R"({"name": "dropout", "type": "discrete", "values": [0.0, 0.25, 0.5]})"));
  EXPECT_EQ(d[5]["choices"], Json({"adam", "1", "true", "2.5"}));

  EXPECT_EQ(Call("GET", "/s1"), created);
  ExpectError(Call("POST", "", CreateBody("s1"), 409), "AlreadyExists", "", "already exists");
  // load_if_exists: the same study loads (200); a different one is 409 naming the difference.
  Json same =
      CreateBody("s1", {{"direction", "maximize"},
                        {"sampler", "tpe"},
                        {"sampler_settings", {{"n_startup_trials", "5"}, {"consider_endpoints", "true"}}},
                        {"pruner", "medianstop"},
                        {"pruner_settings", {{"start_step", 2}}},
                        {"seed", 7},
                        {"metric_names", {"accuracy", "loss"}},
                        {"load_if_exists", true}});
  EXPECT_EQ(Call("POST", "", same, 200), created);
  same["direction"] = "minimize";
  ExpectError(Call("POST", "", same, 409), "AlreadyExists", "direction", "direction is maximize");
  same["direction"] = "maximize";
  same["distributions"][0]["high"] = 11;
  ExpectError(Call("POST", "", same, 409), "AlreadyExists", "distributions[0]", "differs");

  Create("s0");
  Create("s2");
  Json page = Call("GET", "?page_size=2");
  ASSERT_EQ(page["studies"].size(), 2u);
  EXPECT_EQ(page["studies"][0]["name"], "s0");
  EXPECT_EQ(page["studies"][1], created);
  const std::string token = page["next_page_token"];
  EXPECT_FALSE(token.empty());
  Json rest = Call("GET", "?page_size=2&page_token=" + token);
  ASSERT_EQ(rest["studies"].size(), 1u);
  EXPECT_EQ(rest["studies"][0]["name"], "s2");
  EXPECT_EQ(rest["next_page_token"], "");

  EXPECT_EQ(Call("DELETE", "/s1"), Json::object());
  ExpectError(Call("GET", "/s1", nullptr, 404), "NotFound", "", "not found");
  ExpectError(Call("DELETE", "/s1", nullptr, 404), "NotFound", "", "not found");
  EXPECT_EQ(Call("GET", "")["studies"].size(), 2u);
}

TEST_F(TuningRoutesTest, AskTellAndTheBestTrial) {
  Create("s");
  ExpectError(Call("GET", "/s/best-trial", nullptr, 404), "NotFound", "", "no complete trial");
  Response asked = Raw("POST", std::string(kApi) + "/s/trials");  // no body at all
  ASSERT_EQ(asked.result_int(), 201) << asked.body();
  Json t0 = BodyOf(asked);
  EXPECT_EQ(t0["number"], 0);
  EXPECT_EQ(t0["state"], "RUNNING");
  EXPECT_TRUE(t0["value"].is_null());
  EXPECT_EQ(t0["intermediate_values"], Json::object());
  const Json& p = t0["params"];
  EXPECT_TRUE(p["x"].is_number());
  EXPECT_TRUE(p["n"].is_number_integer());
  EXPECT_TRUE(p["batch"].is_number_integer());
  EXPECT_EQ(p["batch"].get<std::int64_t>() % 16, 0);
  EXPECT_TRUE(p["dropout"].is_number());
  ASSERT_TRUE(p["opt"].is_string());
  EXPECT_THAT((std::vector<std::string>{"adam", "1", "true", "2.5"}),
              ::testing::Contains(p["opt"].get<std::string>()));

  Json t1 = Call("POST", "/s/trials", Json::object(), 201);
  EXPECT_EQ(t1["number"], 1);
  Json told = Call("POST", "/s/trials/0/tell", {{"value", 2.5}});
  EXPECT_EQ(told["state"], "COMPLETE");
  EXPECT_EQ(told["value"], 2.5);
  EXPECT_EQ(told["params"], t0["params"]);
  Call("POST", "/s/trials/1/tell", {{"state", "COMPLETE"}, {"value", 1.5}});
  Json t2 = Call("POST", "/s/trials", Json::object(), 201);
  EXPECT_EQ(Call("POST", "/s/trials/2/tell", {{"state", "FAILED"}})["state"], "FAILED");
  Call("POST", "/s/trials", Json::object(), 201);
  EXPECT_EQ(Call("POST", "/s/trials/3/tell", {{"state", "PRUNED"}, {"value", nullptr}})["state"], "PRUNED");

  Json best = Call("GET", "/s/best-trial");
  EXPECT_EQ(best["number"], 1);
  EXPECT_EQ(best["value"], 1.5);
  Json trials = Call("GET", "/s/trials");
  ASSERT_EQ(trials["trials"].size(), 4u);
  EXPECT_EQ(trials["trials"][0], told);
  EXPECT_EQ(Call("GET", "/s/trials/1"), trials["trials"][1]);
  Json study = Call("GET", "/s");
  EXPECT_EQ(study["counts"], Json({{"running", 0}, {"complete", 2}, {"pruned", 1}, {"failed", 1}}));
  EXPECT_EQ(study["best_trial"], best);

  // A finished trial cannot be told again; unknown trials and studies are 404.
  ExpectError(Call("POST", "/s/trials/0/tell", {{"value", 1.0}}, 400), "FailedPrecondition", "", "already");
  ExpectError(Call("GET", "/s/trials/9", nullptr, 404), "NotFound", "", "no trial 9");
  ExpectError(Call("POST", "/s/trials/9/tell", {{"value", 1.0}}, 404), "NotFound", "", "no trial 9");
  ExpectError(Call("POST", "/nope/trials", Json::object(), 404), "NotFound", "", "not found");
  ExpectError(Call("GET", "/nope/trials", nullptr, 404), "NotFound", "", "not found");
  ExpectError(Call("GET", "/nope/best-trial", nullptr, 404), "NotFound", "", "not found");
}

TEST_F(TuningRoutesTest, FixedParams) {
  Create("s");
  Json t = Call(
      "POST", "/s/trials",
      {{"fixed_params", {{"x", 1.5}, {"n", 8}, {"batch", 32.0}, {"dropout", 0.25}, {"opt", "true"}}}}, 201);
  EXPECT_EQ(t["params"]["x"], 1.5);
  EXPECT_EQ(t["params"]["n"], 8);
  EXPECT_EQ(t["params"]["batch"], 32);
  EXPECT_EQ(t["params"]["dropout"], 0.25);
  EXPECT_EQ(t["params"]["opt"], "true");
  // A non-string choice may be given as the JSON value it was made from.
  EXPECT_EQ(Call("POST", "/s/trials", {{"fixed_params", {{"opt", true}}}}, 201)["params"]["opt"], "true");
  EXPECT_EQ(Call("POST", "/s/trials", {{"fixed_params", {{"opt", 2.5}}}}, 201)["params"]["opt"], "2.5");

  ExpectError(Call("POST", "/s/trials", {{"fixed_params", {{"zz", 1}}}}, 400), "InvalidArgument",
              "fixed_params.zz", "no parameter");
  ExpectError(Call("POST", "/s/trials", {{"fixed_params", {{"x", 11}}}}, 400), "InvalidArgument",
              "fixed_params.x", "outside");
  ExpectError(Call("POST", "/s/trials", {{"fixed_params", {{"batch", 20}}}}, 400), "InvalidArgument",
              "fixed_params.batch", "outside");
  ExpectError(Call("POST", "/s/trials", {{"fixed_params", {{"n", 2.5}}}}, 400), "InvalidArgument",
              "fixed_params.n", "integer");
  ExpectError(Call("POST", "/s/trials", {{"fixed_params", {{"opt", "sgd"}}}}, 400), "InvalidArgument",
              "fixed_params.opt", "not one of the choices");
  ExpectError(Call("POST", "/s/trials", {{"fixed_params", {{"x", "1"}}}}, 400), "InvalidArgument",
              "fixed_params.x", "must be a number");
  ExpectError(Call("POST", "/s/trials", {{"fixed_params", {1, 2}}}, 400), "InvalidArgument", "fixed_params",
              "must be an object");
  ExpectError(Call("POST", "/s/trials", {{"fixed", {}}}, 400), "InvalidArgument", "fixed", "unknown field");
  EXPECT_EQ(Call("GET", "/s")["counts"]["running"], 3);
}

TEST_F(TuningRoutesTest, ReportAndShouldPruneWithMedianStop) {
  Create("s",
         {{"pruner", "medianstop"}, {"pruner_settings", {{"min_trials_required", 1}, {"start_step", 1}}}});
  Call("POST", "/s/trials", Json::object(), 201);
  EXPECT_EQ(Call("POST", "/s/trials/0/report", {{"step", 0}, {"value", 1.0}}), Json::object());
  EXPECT_EQ(Call("GET", "/s/trials/0/should-prune"), Json({{"should_prune", false}}));
  Call("POST", "/s/trials/0/tell", {{"value", 1.0}});

  Call("POST", "/s/trials", Json::object(), 201);
  Call("POST", "/s/trials/1/report", {{"step", 0}, {"value", 5.0}});
  EXPECT_EQ(Call("GET", "/s/trials/1/should-prune"), Json({{"should_prune", true}}));
  Call("POST", "/s/trials/1/report", {{"step", 1}, {"value", "NaN"}});
  Call("POST", "/s/trials/1/report", {{"step", 2}, {"value", "-Infinity"}});
  Call("POST", "/s/trials/1/report", {{"step", 3}, {"value", "Infinity"}});
  Call("POST", "/s/trials/1/report", {{"step", 10}, {"value", 4}});
  Call("POST", "/s/trials/1/report", {{"step", 10}, {"value", 9}});  // a repeated step: ignored
  Json t1 = Call("GET", "/s/trials/1");
  EXPECT_EQ(t1["intermediate_values"],
            Json({{"0", 5.0}, {"1", "NaN"}, {"2", "-Infinity"}, {"3", "Infinity"}, {"10", 4.0}}));
  // Pruned: the trial keeps its last intermediate value (Optuna's rule).
  Json pruned = Call("POST", "/s/trials/1/tell", {{"state", "PRUNED"}});
  EXPECT_EQ(pruned["state"], "PRUNED");
  EXPECT_EQ(pruned["value"], 4.0);
  ExpectError(Call("POST", "/s/trials/1/report", {{"step", 4}, {"value", 1}}, 400), "FailedPrecondition", "",
              "not running");
  ExpectError(Call("GET", "/s/trials/1/should-prune", nullptr, 400), "FailedPrecondition", "", "not running");
  ExpectError(Call("GET", "/s/trials/7/should-prune", nullptr, 404), "NotFound", "", "no trial 7");
}

TEST_F(TuningRoutesTest, HyperbandWaitingIs503AndAnExhaustedGridIs409) {
  Call("POST", "",
       {{"name", "hb"},
        {"distributions",
         {{{"name", "epochs"}, {"type", "int"}, {"low", 1}, {"high", 2}},
          {{"name", "x"}, {"type", "float"}, {"low", 0}, {"high", 1}}}},
        {"sampler", "hyperband"},
        {"sampler_settings", {{"resource_name", "epochs"}, {"eta", 2}, {"r_l", 2}}}},
       201);
  Call("POST", "/hb/trials", Json::object(), 201);
  Call("POST", "/hb/trials", Json::object(), 201);
  Response waiting = Raw("POST", std::string(kApi) + "/hb/trials");
  EXPECT_EQ(waiting.result_int(), 503) << waiting.body();
  EXPECT_EQ(waiting[boost::beast::http::field::retry_after], "1");
  ExpectError(BodyOf(waiting), "Unavailable", "", "waiting for rung");
  Call("POST", "/hb/trials/0/tell", {{"value", 1.0}});
  Call("POST", "/hb/trials/1/tell", {{"value", 2.0}});
  EXPECT_EQ(Call("POST", "/hb/trials", Json::object(), 201)["params"]["epochs"], 2);

  Call("POST", "",
       {{"name", "grid"},
        {"distributions", {{{"name", "c"}, {"type", "categorical"}, {"choices", {"a", "b"}}}}},
        {"sampler", "grid"}},
       201);
  Call("POST", "/grid/trials", Json::object(), 201);
  Call("POST", "/grid/trials", Json::object(), 201);
  ExpectError(Call("POST", "/grid/trials", Json::object(), 409), "FailedPrecondition", "");
  // Fixed values need no sampler, so they still go.
  EXPECT_EQ(Call("POST", "/grid/trials", {{"fixed_params", {{"c", "a"}}}}, 201)["number"], 2);
}

TEST_F(TuningRoutesTest, BadStudyBodies) {
  const Json good = CreateBody("s");
  struct Case {
    std::string what;
    Json body;
    std::string field;
    std::string message;
  };
  auto with = [&](const std::string& key, Json value) {
    Json b = good;
    b[key] = std::move(value);
    return b;
  };
  auto with_dist = [&](std::size_t i, const std::string& key, Json value) {
    Json b = good;
    if (value.is_null())
      b["distributions"][i].erase(key);
    else
      b["distributions"][i][key] = std::move(value);
    return b;
  };
  Json no_name = good;
  no_name.erase("name");
  const std::vector<Case> cases = {
      {"unknown field", with("colour", "red"), "colour", "unknown field"},
      {"missing name", no_name, "name", "required"},
      {"name not a string", with("name", 5), "name", "must be a string"},
      {"bad name", with("name", "bad name!"), "name", "letters, digits"},
      {"oversize name", with("name", std::string(200, 'a')), "name", "1-128 bytes"},
      {"huge name", with("name", std::string(5000, 'a')), "name", "at most 1024"},
      {"distributions not an array", with("distributions", Json::object()), "distributions",
       "must be an array"},
      {"no distributions", with("distributions", Json::array()), "distributions", "no parameters"},
      {"too many distributions",
       with("distributions", Json(std::vector<Json>(1001, good["distributions"][0]))), "distributions",
       "at most 1000"},
      {"dist not an object", with("distributions", {1}), "distributions[0]", "must be an object"},
      {"dist unknown type", with_dist(0, "type", "gaussian"), "distributions[0].type", "\"float\""},
      {"dist missing low", with_dist(0, "low", nullptr), "distributions[0].low", "required"},
      {"dist low a string", with_dist(0, "low", "1"), "distributions[0].low", "must be a number"},
      {"dist low > high", with_dist(0, "low", 20), "distributions[0].low", "greater than max"},
      {"dist unknown field", with_dist(0, "values", {1}), "distributions[0].values", "unknown field"},
      {"dist log not a bool", with_dist(1, "log", "yes"), "distributions[1].log", "true or false"},
      {"log with non-positive low", with_dist(0, "log", true), "distributions[0].low", "positive"},
      {"int low not integral", with_dist(2, "low", 1.5), "distributions[2].low", "integer"},
      {"int step zero", with_dist(3, "step", 0), "distributions[3].step", "between"},
      {"float step negative", with_dist(0, "step", -1), "distributions[0].step", "positive"},
      {"step beyond range", with_dist(3, "step", 1000), "distributions[3].step", "larger than the range"},
      {"duplicate name", with_dist(1, "name", "x"), "distributions[1].name", "twice"},
      {"discrete values not numbers", with_dist(4, "values", {"a"}), "distributions[4].values[0]", "number"},
      {"discrete duplicate value", with_dist(4, "values", {1, 1}), "distributions[4].values[1]", "twice"},
      {"categorical null choice", with_dist(5, "choices", {"a", nullptr}), "distributions[5].choices[1]",
       "a string, a number or a bool"},
      {"categorical duplicate choice", with_dist(5, "choices", {"a", "a"}), "distributions[5].choices[1]",
       "twice"},
      {"categorical empty", with_dist(5, "choices", Json::array()), "distributions[5].choices", "empty"},
      {"direction", with("direction", "up"), "direction", "minimize"},
      {"sampler not a string", with("sampler", 1), "sampler", "must be a string"},
      {"unknown sampler", with("sampler", "enas"), "sampler", "enas"},
      {"unknown sampler setting", with("sampler_settings", {{"bogus", 1}}), "sampler_settings.bogus",
       "bogus"},
      {"bad setting value", with("sampler_settings", {{"random_state", "x"}}),
       "sampler_settings.random_state", ""},
      {"setting of a wrong type", with("sampler_settings", {{"random_state", {1}}}),
       "sampler_settings.random_state", "a string, a number or a bool"},
      {"settings not an object", with("pruner_settings", "x"), "pruner_settings", "must be an object"},
      {"unknown pruner", with("pruner", "magic"), "pruner", "magic"},
      {"bad pruner setting", with("pruner_settings", {{"start_step", 0}}), "pruner_settings.start_step", ""},
      {"negative seed", with("seed", -1), "seed", "negative"},
      {"fractional seed", with("seed", 1.5), "seed", "integer"},
      {"seed beyond uint64", with("seed", Json::parse("18446744073709551616")), "seed", "integer"},
      {"metric_names not an array", with("metric_names", "loss"), "metric_names", "array of strings"},
      {"metric name not a string", with("metric_names", {1}), "metric_names[0]", "must be a string"},
      {"duplicate metric name", with("metric_names", {"a", "a"}), "metric_names[1]", "twice"},
      {"load_if_exists not a bool", with("load_if_exists", "yes"), "load_if_exists", "true or false"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    ExpectError(Call("POST", "", c.body, 400), "InvalidArgument", c.field, c.message);
  }

  // A literal beyond the range of a double is malformed JSON.
  Response huge =
      Raw("POST", kApi,
          R"({"name": "s", "distributions": [{"name": "x", "type": "float", "low": 0, "high": 1e999}]})",
          {{"Content-Type", "application/json"}});
  EXPECT_EQ(huge.result_int(), 400);
  ExpectError(BodyOf(huge), "InvalidArgument", "", "malformed JSON");

  Response malformed = Raw("POST", kApi, "{not json", {{"Content-Type", "application/json"}});
  EXPECT_EQ(malformed.result_int(), 400);
  ExpectError(BodyOf(malformed), "InvalidArgument", "");
  Response array = Raw("POST", kApi, "[1]", {{"Content-Type", "application/json"}});
  EXPECT_EQ(array.result_int(), 400);
  ExpectError(BodyOf(array), "InvalidArgument", "", "object");
  Response empty = Raw("POST", kApi, "", {{"Content-Type", "application/json"}});
  EXPECT_EQ(empty.result_int(), 400);
  Response text = Raw("POST", kApi, good.dump(), {{"Content-Type", "text/plain"}});
  EXPECT_EQ(text.result_int(), 415);
  EXPECT_EQ(Call("GET", "")["studies"], Json::array());  // nothing was made
}

TEST_F(TuningRoutesTest, BadTrialRequests) {
  Create("s");
  Call("POST", "/s/trials", Json::object(), 201);
  struct Case {
    std::string method, path;
    Json body;
    int status;
    std::string field, message;
  };
  const std::vector<Case> cases = {
      {"GET", "/s/trials/abc", nullptr, 400, "number", "non-negative decimal integer"},
      {"GET", "/s/trials/-1", nullptr, 400, "number", "non-negative"},
      {"GET", "/s/trials/1.5", nullptr, 400, "number", "integer"},
      {"GET", "/s/trials/99999999999999999999", nullptr, 400, "number", "integer"},
      {"POST", "/s/trials/x/tell", {{"value", 1}}, 400, "number", "integer"},
      {"POST", "/s/trials/x/report", {{"step", 0}, {"value", 1}}, 400, "number", "integer"},
      {"GET", "/s/trials/x/should-prune", nullptr, 400, "number", "integer"},
      {"GET", "/bad%20name", nullptr, 400, "name", "letters, digits"},
      {"POST", "/bad%20name/trials", Json::object(), 400, "name", "letters, digits"},
      {"GET", "/" + std::string(200, 'a') + "/trials", nullptr, 400, "name", "1-128 bytes"},
      {"POST", "/s/trials/0/tell", {{"value", "NaN"}}, 400, "value", "finite"},
      {"POST", "/s/trials/0/tell", {{"value", "Infinity"}}, 400, "value", "finite"},
      {"POST", "/s/trials/0/tell", Json::object(), 400, "value", "needs a value"},
      {"POST", "/s/trials/0/tell", {{"value", "abc"}}, 400, "value", "\"NaN\""},
      {"POST", "/s/trials/0/tell", {{"value", {1}}}, 400, "value", "must be a number"},
      {"POST", "/s/trials/0/tell", {{"state", "RUNNING"}}, 400, "state", "COMPLETE"},
      {"POST", "/s/trials/0/tell", {{"state", 1}}, 400, "state", "must be a string"},
      {"POST", "/s/trials/0/tell", {{"state", "FAILED"}, {"value", 1}}, 400, "value", "takes no value"},
      {"POST", "/s/trials/0/tell", {{"value", 1}, {"extra", 1}}, 400, "extra", "unknown field"},
      {"POST", "/s/trials/0/report", {{"step", 1.5}, {"value", 1}}, 400, "step", "integer"},
      {"POST", "/s/trials/0/report", {{"step", -1}, {"value", 1}}, 400, "step", "between"},
      {"POST", "/s/trials/0/report", {{"step", "1"}, {"value", 1}}, 400, "step", "integer"},
      {"POST", "/s/trials/0/report", {{"step", Json::parse("1e300")}, {"value", 1}}, 400, "step", "integer"},
      {"POST", "/s/trials/0/report", {{"value", 1}}, 400, "step", "required"},
      {"POST", "/s/trials/0/report", {{"step", 0}}, 400, "value", "required"},
      {"POST", "/s/trials/0/report", {{"step", 0}, {"value", true}}, 400, "value", "must be a number"},
      {"POST", "/s/trials/0/report", {{"step", 0}, {"value", 1}, {"when", 1}}, 400, "when", "unknown field"},
      {"GET", "?page_size=0", nullptr, 400, "page_size", "1 to 1000"},
      {"GET", "?page_size=abc", nullptr, 400, "page_size", "1 to 1000"},
      {"GET", "?page_size=1001", nullptr, 400, "page_size", "1 to 1000"},
      {"GET", "?page_token=%21", nullptr, 400, "page_token", "not one this service gave out"},
      {"GET", "?limit=5", nullptr, 400, "limit", "unknown query parameter"},
      {"GET", "/s?x=1", nullptr, 400, "x", "takes none"},
      {"GET", "/s/trials?x=1", nullptr, 400, "x", "takes none"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.method + " " + c.path + " " + c.body.dump());
    ExpectError(Call(c.method, c.path, c.body, c.status), "InvalidArgument", c.field, c.message);
  }
  Response malformed = Raw("POST", std::string(kApi) + "/s/trials/0/tell", "{\"value\": NaN}",
                           {{"Content-Type", "application/json"}});
  EXPECT_EQ(malformed.result_int(), 400) << malformed.body();
  Response huge = Raw("POST", std::string(kApi) + "/s/trials/0/tell", "{\"value\": -1e999}",
                      {{"Content-Type", "application/json"}});
  EXPECT_EQ(huge.result_int(), 400) << huge.body();
  ExpectError(BodyOf(huge), "InvalidArgument", "", "malformed JSON");
  // Nothing above changed the trial.
  EXPECT_EQ(Call("GET", "/s/trials/0")["state"], "RUNNING");
}

TEST_F(TuningRoutesTest, TheLiteralRoutesWinOverTheNativeOnes) {
  // /api/v1/{plural} and /api/v1/namespaces/... still serve the native API.
  Response native = Raw("GET", "/api/v1/namespaces/default/configmaps");
  EXPECT_EQ(native.result_int(), 200) << native.body();
  EXPECT_EQ(BodyOf(native)["kind"], "ConfigMapList");
  Response plural = Raw("GET", "/api/v1/tuning");
  EXPECT_EQ(plural.result_int(), 404);
  // ... while these paths are the studies'.
  EXPECT_TRUE(Call("GET", "").contains("studies"));
  Create("namespaces");
  EXPECT_EQ(Call("GET", "/namespaces")["name"], "namespaces");
  Response put = Raw("PUT", std::string(kApi) + "/namespaces", "{}", {{"Content-Type", "application/json"}});
  EXPECT_EQ(put.result_int(), 405);
  EXPECT_EQ(put[boost::beast::http::field::allow], "DELETE, GET");
  Response yaml = Raw("GET", std::string(kApi) + "/namespaces", "", {{"Accept", "application/yaml"}});
  EXPECT_EQ(yaml.result_int(), 200);
  EXPECT_THAT(yaml.body(), HasSubstr("name: namespaces"));
}

}  // namespace
}  // namespace ferry::api
