// The MLflow logged-model routes end to end: ApiServer over a real
// TrackingStore and LoggedModelStore (SQLite) and a file:// artifact store,
// driven over TCP. Expected shapes and messages are those the pinned
// `mlflow server` gives for the same requests.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "ferry/api/testing/mlflow_test_server.h"

namespace ferry::api {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

constexpr char kModels[] = "/api/2.0/mlflow/logged-models";

class MlflowLoggedModelsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status started = server_.Start({.tracking = true, .logged_models = true, .artifacts = true});
    ASSERT_TRUE(started.ok()) << started.ToString();
    tracking_ = server_.tracking();
    artifacts_ = server_.artifacts();
    auto exp = tracking_->CreateExperiment("exp", "", {});
    ASSERT_TRUE(exp.ok()) << exp.status().ToString();
    experiment_id_ = *exp;
  }

  Json Call(std::string_view method, const std::string& target, const Json& body = nullptr,
            int status = 200) {
    return server_.JsonRequest(method, target, body.is_null() ? "" : body.dump(), status);
  }

  Json Create(const Json& extra = Json::object()) {
    Json body = extra;
    body["experiment_id"] = experiment_id_;
    return Call("POST", kModels, body)["model"];
  }

  static std::string IdOf(const Json& model) { return model["info"].value("model_id", ""); }

  static std::string ErrorOf(const Json& body, const std::string& code) {
    EXPECT_EQ(body.value("error_code", ""), code) << body.dump();
    return body.value("message", "");
  }

  testing::MlflowTestServer server_;
  tracking::TrackingStore* tracking_ = nullptr;
  artifacts::ArtifactStore* artifacts_ = nullptr;
  std::string experiment_id_;
};

TEST_F(MlflowLoggedModelsTest, CreateAnswersMlflowShape) {
  Json model = Create({{"name", "mm"}, {"params", {{{"key", "a"}, {"value", "1"}}}}});
  const Json& info = model["info"];
  const std::string id = IdOf(model);
  EXPECT_THAT(id, MatchesRegex("m-[0-9a-f]{32}"));
  EXPECT_EQ(info["experiment_id"], experiment_id_);
  EXPECT_EQ(info["name"], "mm");
  EXPECT_EQ(info["status"], "LOGGED_MODEL_PENDING");
  EXPECT_EQ(info["model_type"], "");
  EXPECT_EQ(info["source_run_id"], "");
  EXPECT_TRUE(info["creation_timestamp_ms"].is_number_integer());
  EXPECT_EQ(info["creation_timestamp_ms"], info["last_updated_timestamp_ms"]);
  EXPECT_THAT(info.value("artifact_uri", ""),
              MatchesRegex("mlflow-artifacts:/" + experiment_id_ + "/models/" + id + "/artifacts"));
  EXPECT_FALSE(info.contains("tags"));
  EXPECT_FALSE(info.contains("status_message"));
  EXPECT_EQ(model["data"], Json::parse(R"({"params": [{"key": "a", "value": "1"}]})"));

  // No name: a generated one; no params: data is {}.
  Json anon = Create();
  EXPECT_THAT(anon["info"].value("name", ""), MatchesRegex("[a-z]+-[a-z]+-[0-9]+"));
  EXPECT_EQ(anon["data"], Json::object());

  Json got = Call("GET", std::string(kModels) + "/" + id)["model"];
  EXPECT_EQ(got, model);
}

TEST_F(MlflowLoggedModelsTest, CreateRejectsBadInput) {
  EXPECT_THAT(ErrorOf(Call("POST", kModels, Json::object(), 400), "INVALID_PARAMETER_VALUE"),
              HasSubstr("Missing value for required parameter 'experiment_id'"));
  ErrorOf(Call("POST", kModels, {{"experiment_id", 5}}, 400), "INVALID_PARAMETER_VALUE");
  ErrorOf(Call("POST", kModels, {{"experiment_id", "424242"}}, 404), "RESOURCE_DOES_NOT_EXIST");
  ErrorOf(Call("POST", kModels, {{"experiment_id", experiment_id_}, {"name", "a/b"}}, 400),
          "INVALID_PARAMETER_VALUE");
  ErrorOf(Call("POST", kModels, {{"experiment_id", experiment_id_}, {"params", "x"}}, 400),
          "INVALID_PARAMETER_VALUE");
  ErrorOf(Call("POST", kModels, {{"experiment_id", experiment_id_}, {"params", {{{"value", "1"}}}}}, 400),
          "INVALID_PARAMETER_VALUE");
  ErrorOf(Call("POST", kModels, {{"experiment_id", experiment_id_}, {"tags", {1, 2}}}, 400),
          "INVALID_PARAMETER_VALUE");
  auto raw = server_.conn().Request("POST", kModels, "{not json", {{"Content-Type", "application/json"}});
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->result_int(), 400);
  raw = server_.conn().Request("POST", kModels, "[1]", {{"Content-Type", "application/json"}});
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->result_int(), 400);
}

TEST_F(MlflowLoggedModelsTest, GetDeleteAndNotFound) {
  const std::string id = IdOf(Create());
  EXPECT_EQ(ErrorOf(Call("GET", std::string(kModels) + "/m-nope", nullptr, 404), "RESOURCE_DOES_NOT_EXIST"),
            "Logged model with ID 'm-nope' not found.");
  EXPECT_EQ(Call("DELETE", std::string(kModels) + "/" + id), Json::object());
  ErrorOf(Call("GET", std::string(kModels) + "/" + id, nullptr, 404), "RESOURCE_DOES_NOT_EXIST");
  ErrorOf(Call("DELETE", std::string(kModels) + "/m-nope", nullptr, 404), "RESOURCE_DOES_NOT_EXIST");
}

TEST_F(MlflowLoggedModelsTest, FinalizeTakesNameOrNumber) {
  const std::string id = IdOf(Create());
  const std::string url = std::string(kModels) + "/" + id;
  Json m = Call("PATCH", url, {{"model_id", id}, {"status", "LOGGED_MODEL_READY"}})["model"];
  EXPECT_EQ(m["info"]["status"], "LOGGED_MODEL_READY");
  m = Call("PATCH", url, {{"model_id", id}, {"status", 3}})["model"];
  EXPECT_EQ(m["info"]["status"], "LOGGED_MODEL_UPLOAD_FAILED");
  m = Call("PATCH", url, {{"status", "2"}})["model"];
  EXPECT_EQ(m["info"]["status"], "LOGGED_MODEL_READY");
  ErrorOf(Call("PATCH", url, {{"status", "DONE"}}, 400), "INVALID_PARAMETER_VALUE");
  ErrorOf(Call("PATCH", url, {{"status", 7}}, 400), "INVALID_PARAMETER_VALUE");
  EXPECT_THAT(ErrorOf(Call("PATCH", url, Json::object(), 400), "INVALID_PARAMETER_VALUE"),
              HasSubstr("Missing value for required parameter 'status'"));
  ErrorOf(Call("PATCH", std::string(kModels) + "/m-nope", {{"status", 2}}, 404), "RESOURCE_DOES_NOT_EXIST");
}

TEST_F(MlflowLoggedModelsTest, TagsAndParams) {
  const std::string id = IdOf(Create());
  const std::string url = std::string(kModels) + "/" + id;
  EXPECT_EQ(Call("PATCH", url + "/tags",
                 {{"tags", {{{"key", "t"}, {"value", "v"}}, {{"key", "a/b"}, {"value", "w"}}}}}),
            Json::object());
  Json m = Call("GET", url)["model"];
  EXPECT_EQ(m["info"]["tags"], Json::parse(R"([{"key": "a/b", "value": "w"}, {"key": "t", "value": "v"}])"));
  // A key with a slash travels percent-encoded in one segment.
  EXPECT_EQ(Call("DELETE", url + "/tags/a%2Fb"), Json::object());
  EXPECT_EQ(ErrorOf(Call("DELETE", url + "/tags/zz", nullptr, 404), "RESOURCE_DOES_NOT_EXIST"),
            "No tag with key 'zz' found for model with ID '" + id + "'.");
  ErrorOf(Call("PATCH", url + "/tags", {{"tags", "x"}}, 400), "INVALID_PARAMETER_VALUE");
  ErrorOf(
      Call("PATCH", std::string(kModels) + "/m-nope/tags", {{"tags", {{{"key", "k"}, {"value", "v"}}}}}, 404),
      "RESOURCE_DOES_NOT_EXIST");

  EXPECT_EQ(
      Call("POST", url + "/params", {{"model_id", id}, {"params", {{{"key", "lr"}, {"value", "0.1"}}}}}),
      Json::object());
  EXPECT_EQ(Call("POST", url + "/params", {{"params", {{{"key", "lr"}, {"value", "0.1"}}}}}), Json::object());
  ErrorOf(Call("POST", url + "/params", {{"params", {{{"key", "lr"}, {"value", "0.2"}}}}}, 400),
          "INVALID_PARAMETER_VALUE");
  m = Call("GET", url)["model"];
  EXPECT_EQ(m["data"]["params"], Json::parse(R"([{"key": "lr", "value": "0.1"}])"));
}

TEST_F(MlflowLoggedModelsTest, SearchPagesAndFilters) {
  for (const char* name : {"a", "b", "c"})
    Create({{"name", name}, {"tags", {{{"key", "k"}, {"value", name}}}}});
  Json page = Call("POST", std::string(kModels) + "/search",
                   {{"experiment_ids", {experiment_id_}}, {"max_results", 2}});
  ASSERT_EQ(page["models"].size(), 2u) << page.dump();
  EXPECT_EQ(page["models"][0]["info"]["name"], "c");
  ASSERT_TRUE(page.contains("next_page_token"));
  Json rest = Call(
      "POST", std::string(kModels) + "/search",
      {{"experiment_ids", {experiment_id_}}, {"max_results", 2}, {"page_token", page["next_page_token"]}});
  ASSERT_EQ(rest["models"].size(), 1u);
  EXPECT_EQ(rest["models"][0]["info"]["name"], "a");
  EXPECT_FALSE(rest.contains("next_page_token"));

  Json filtered = Call("POST", std::string(kModels) + "/search",
                       {{"experiment_ids", {experiment_id_}}, {"filter", "tags.k = 'b'"}});
  ASSERT_EQ(filtered["models"].size(), 1u);
  EXPECT_EQ(filtered["models"][0]["info"]["name"], "b");
  Json ordered = Call(
      "POST", std::string(kModels) + "/search",
      {{"experiment_ids", {experiment_id_}}, {"order_by", {{{"field_name", "name"}, {"ascending", true}}}}});
  ASSERT_EQ(ordered["models"].size(), 3u);
  EXPECT_EQ(ordered["models"][0]["info"]["name"], "a");
  // No match: {} (models absent, as MLflow's JSON).
  EXPECT_EQ(Call("POST", std::string(kModels) + "/search",
                 {{"experiment_ids", {experiment_id_}}, {"filter", "name = 'zzz'"}}),
            Json::object());
}

TEST_F(MlflowLoggedModelsTest, SearchRejectsBadInput) {
  const std::string url = std::string(kModels) + "/search";
  EXPECT_THAT(ErrorOf(Call("POST", url, Json::object(), 400), "INVALID_PARAMETER_VALUE"),
              HasSubstr("experiment_ids"));
  ErrorOf(Call("POST", url, {{"experiment_ids", {1}}}, 400), "INVALID_PARAMETER_VALUE");
  ErrorOf(Call("POST", url, {{"experiment_ids", {experiment_id_}}, {"filter", "name ~ 'x'"}}, 400),
          "INVALID_PARAMETER_VALUE");
  ErrorOf(Call("POST", url, {{"experiment_ids", {experiment_id_}}, {"max_results", "many"}}, 400),
          "INVALID_PARAMETER_VALUE");
  ErrorOf(Call("POST", url, {{"experiment_ids", {experiment_id_}}, {"page_token", "%%%"}}, 400),
          "INVALID_PARAMETER_VALUE");
  ErrorOf(
      Call("POST", url, {{"experiment_ids", {experiment_id_}}, {"order_by", {{{"ascending", true}}}}}, 400),
      "INVALID_PARAMETER_VALUE");
  ErrorOf(Call("POST", url, {{"experiment_ids", {experiment_id_}}, {"order_by", {"name"}}}, 400),
          "INVALID_PARAMETER_VALUE");
  ErrorOf(Call("POST", url, {{"experiment_ids", {experiment_id_}}, {"datasets", {{{"dataset_digest", "d"}}}}},
               400),
          "INVALID_PARAMETER_VALUE");
}

TEST_F(MlflowLoggedModelsTest, MetricsAppearInData) {
  const std::string id = IdOf(Create());
  tracking::CreateRunRequest run_request;
  run_request.experiment_id = experiment_id_;
  auto run = tracking_->CreateRun(run_request);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  tracking::Metric metric;
  metric.key = "acc";
  metric.value = 0.5;
  metric.timestamp = 1000;
  metric.step = 2;
  metric.model_id = id;
  metric.dataset_name = "eval";
  metric.dataset_digest = "abc";
  ASSERT_TRUE(tracking_->LogMetric(run->info.run_id, metric).ok());
  Json m = Call("GET", std::string(kModels) + "/" + id)["model"];
  ASSERT_EQ(m["data"]["metrics"].size(), 1u) << m.dump();
  const Json& got = m["data"]["metrics"][0];
  EXPECT_EQ(got["key"], "acc");
  EXPECT_EQ(got["value"], 0.5);
  EXPECT_EQ(got["step"], 2);
  EXPECT_EQ(got["model_id"], id);
  EXPECT_EQ(got["dataset_name"], "eval");
  EXPECT_EQ(got["run_id"], run->info.run_id);
  Json found = Call("POST", std::string(kModels) + "/search",
                    {{"experiment_ids", {experiment_id_}}, {"filter", "metrics.acc > 0.4"}});
  EXPECT_EQ(found["models"].size(), 1u);
}

TEST_F(MlflowLoggedModelsTest, ListsModelArtifacts) {
  Json model = Create();
  const std::string id = IdOf(model);
  const std::string root = model["info"].value("artifact_uri", "");
  const std::string store_root = "mlflow/" + root.substr(std::string("mlflow-artifacts:/").size());
  ASSERT_TRUE(artifacts_->Put(store_root + "/MLmodel", "flavors: {}").ok());
  ASSERT_TRUE(artifacts_->Put(store_root + "/data/model.pkl", "12345").ok());
  const std::string url = std::string(kModels) + "/" + id + "/artifacts/directories";
  EXPECT_EQ(Call("GET", url), Json::parse(R"({"root_uri": ")" + root + R"(", "files": [
      {"path": "MLmodel", "is_dir": false, "file_size": 11}, {"path": "data", "is_dir": true}]})"));
  EXPECT_EQ(Call("GET", url + "?artifact_directory_path=data"),
            Json::parse(R"({"root_uri": ")" + root + R"(", "files": [
      {"path": "data/model.pkl", "is_dir": false, "file_size": 5}]})"));
  EXPECT_EQ(Call("GET", url + "?artifact_directory_path=none"),
            Json::parse(R"({"root_uri": ")" + root + R"("})"));
  ErrorOf(Call("GET", url + "?artifact_directory_path=../../x", nullptr, 400), "INVALID_PARAMETER_VALUE");
  ErrorOf(Call("GET", std::string(kModels) + "/m-nope/artifacts/directories", nullptr, 404),
          "RESOURCE_DOES_NOT_EXIST");
}

}  // namespace
}  // namespace ferry::api
