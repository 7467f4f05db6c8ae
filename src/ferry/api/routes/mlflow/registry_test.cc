// The MLflow model registry routes end to end: ApiServer over a real
// RegistryStore (SQLite), driven over TCP. Expected shapes and messages are
// those the pinned `mlflow server` gives for the same requests.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "ferry/api/testing/mlflow_test_server.h"

namespace ferry::api {
namespace {

using testing::BodyOf;
using ::testing::HasSubstr;
using testing::Query;
using testing::Response;

constexpr const char* kApi = testing::kMlflowApi;

class MlflowRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status started = server_.Start({.registry = true, .env = &env_});
    ASSERT_TRUE(started.ok()) << started.ToString();
  }

  Response Raw(std::string_view method, const std::string& target, std::string_view body = {}) {
    std::map<std::string, std::string> headers;
    if (!body.empty()) headers["Content-Type"] = "application/json";
    return server_.Raw(method, target, body, headers);
  }

  Json Call(std::string_view method, const std::string& path, const Json& body, int status = 200) {
    return server_.JsonRequest(method, kApi + path, body.dump(), status);
  }

  Json Get(const std::string& path, const std::vector<std::pair<std::string, std::string>>& params,
           int status = 200) {
    return server_.JsonRequest("GET", kApi + path + Query(params), {}, status);
  }

  // Expects MLflow's error shape with `code` and a message containing `part`.
  static void ExpectError(const Json& body, const std::string& code, const std::string& part) {
    EXPECT_EQ(body.value("error_code", ""), code) << body.dump();
    EXPECT_THAT(body.value("message", ""), HasSubstr(part)) << body.dump();
  }

  FakeEnv env_;
  testing::MlflowTestServer server_;
};

TEST_F(MlflowRegistryTest, RegisteredModelLifecycle) {
  const std::int64_t now = env_.NowMicros() / 1000;
  Json created =
      Call("POST", "registered-models/create",
           {{"name", "iris"}, {"tags", {{{"key", "team"}, {"value", "ml"}}}}, {"description", "d"}});
  EXPECT_EQ(created, Json({{"registered_model",
                            {{"name", "iris"},
                             {"creation_timestamp", now},
                             {"last_updated_timestamp", now},
                             {"description", "d"},
                             {"tags", {{{"key", "team"}, {"value", "ml"}}}}}}}));
  // Unset and empty descriptions are absent, as in MLflow.
  EXPECT_EQ(Call("POST", "registered-models/create", {{"name", "bare"}}),
            Json({{"registered_model",
                   {{"name", "bare"}, {"creation_timestamp", now}, {"last_updated_timestamp", now}}}}));

  ExpectError(Call("POST", "registered-models/create", {{"name", "iris"}}, 400), "RESOURCE_ALREADY_EXISTS",
              "Registered Model (name=iris) already exists.");
  ExpectError(
      Call("POST", "registered-models/create", Json::object(), 400), "INVALID_PARAMETER_VALUE",
      "Missing value for required parameter 'name'. See the API docs for more information about request "
      "parameters.");
  ExpectError(Call("POST", "registered-models/create", {{"name", ""}}, 400), "INVALID_PARAMETER_VALUE",
              "Missing value for required parameter 'name'.");
  ExpectError(Call("POST", "registered-models/create", {{"name", 5}}, 400), "INVALID_PARAMETER_VALUE",
              "name");
  ExpectError(Call("POST", "registered-models/create", {{"name", "a/b"}}, 400), "INVALID_PARAMETER_VALUE",
              "Names cannot contain '/' or ':'.");
  ExpectError(Call("POST", "registered-models/create", {{"name", "t"}, {"tags", "x"}}, 400),
              "INVALID_PARAMETER_VALUE", "tags");

  Json got = Get("registered-models/get", {{"name", "iris"}});
  EXPECT_EQ(got["registered_model"]["name"], "iris");
  ExpectError(Get("registered-models/get", {{"name", "nope"}}, 404), "RESOURCE_DOES_NOT_EXIST",
              "Registered Model with name=nope not found");
  ExpectError(Get("registered-models/get", {}, 400), "INVALID_PARAMETER_VALUE",
              "Missing value for required parameter 'name'");

  env_.AdvanceMicros(3000);
  Json updated = Call("PATCH", "registered-models/update", {{"name", "iris"}, {"description", "new"}});
  EXPECT_EQ(updated["registered_model"]["description"], "new");
  EXPECT_EQ(updated["registered_model"]["last_updated_timestamp"], now + 3);

  Call("POST", "registered-models/set-tag", {{"name", "iris"}, {"key", "k"}, {"value", "v"}});
  Json tags = Get("registered-models/get", {{"name", "iris"}})["registered_model"]["tags"];
  EXPECT_EQ(tags, Json::parse(R"([{"key":"k","value":"v"},{"key":"team","value":"ml"}])"));
  ExpectError(Call("POST", "registered-models/set-tag", {{"name", "iris"}, {"key", ""}}, 400),
              "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'key'");
  EXPECT_EQ(Call("DELETE", "registered-models/delete-tag", {{"name", "iris"}, {"key", "k"}}), Json::object());

  Json renamed = Call("POST", "registered-models/rename", {{"name", "iris"}, {"new_name", "iris2"}});
  EXPECT_EQ(renamed["registered_model"]["name"], "iris2");
  ExpectError(Call("POST", "registered-models/rename", {{"name", "iris2"}, {"new_name", "bare"}}, 400),
              "RESOURCE_ALREADY_EXISTS", "already exists");
  ExpectError(Call("POST", "registered-models/rename", {{"name", "iris2"}}, 400), "INVALID_PARAMETER_VALUE",
              "Missing value for required parameter 'new_name'");

  EXPECT_EQ(Call("DELETE", "registered-models/delete", {{"name", "iris2"}}), Json::object());
  ExpectError(Call("DELETE", "registered-models/delete", {{"name", "iris2"}}, 404), "RESOURCE_DOES_NOT_EXIST",
              "not found");
}

TEST_F(MlflowRegistryTest, ModelVersionLifecycle) {
  const std::int64_t now = env_.NowMicros() / 1000;
  Call("POST", "registered-models/create", {{"name", "m"}});
  Json mv =
      Call("POST", "model-versions/create",
           {{"name", "m"}, {"source", "s3://bucket/model"}, {"tags", {{{"key", "k"}, {"value", "v"}}}}});
  EXPECT_EQ(mv, Json({{"model_version",
                       {{"name", "m"},
                        {"version", "1"},
                        {"creation_timestamp", now},
                        {"last_updated_timestamp", now},
                        {"description", ""},
                        {"current_stage", "None"},
                        {"source", "s3://bucket/model"},
                        {"run_id", ""},
                        {"status", "READY"},
                        {"tags", {{{"key", "k"}, {"value", "v"}}}},
                        {"run_link", ""}}}}));
  EXPECT_EQ(Call("POST", "model-versions/create",
                 {{"name", "m"}, {"source", "s3://bucket/model2"}})["model_version"]["version"],
            "2");
  ExpectError(Call("POST", "model-versions/create", {{"name", "m"}}, 400), "INVALID_PARAMETER_VALUE",
              "Missing value for required parameter 'source'");
  ExpectError(Call("POST", "model-versions/create", {{"name", "nope"}, {"source", "s3://b/m"}}, 404),
              "RESOURCE_DOES_NOT_EXIST", "Registered Model with name=nope not found");
  ExpectError(Call("POST", "model-versions/create", {{"name", "m"}, {"source", "/local/path"}}, 400),
              "INVALID_PARAMETER_VALUE", "To use a local path as a model version source");

  EXPECT_EQ(Get("model-versions/get", {{"name", "m"}, {"version", "1"}})["model_version"]["source"],
            "s3://bucket/model");
  ExpectError(Get("model-versions/get", {{"name", "m"}, {"version", "7"}}, 404), "RESOURCE_DOES_NOT_EXIST",
              "Model Version (name=m, version=7) not found");
  ExpectError(Get("model-versions/get", {{"name", "m"}, {"version", "x"}}, 400), "INVALID_PARAMETER_VALUE",
              "Parameter 'version' must be an integer, got 'x'.");
  ExpectError(Get("model-versions/get", {{"name", "m"}}, 400), "INVALID_PARAMETER_VALUE",
              "Missing value for required parameter 'version'");

  Json upd = Call("PATCH", "model-versions/update", {{"name", "m"}, {"version", "1"}, {"description", "hi"}});
  EXPECT_EQ(upd["model_version"]["description"], "hi");

  Json staged =
      Call("POST", "model-versions/transition-stage",
           {{"name", "m"}, {"version", "1"}, {"stage", "production"}, {"archive_existing_versions", false}});
  EXPECT_EQ(staged["model_version"]["current_stage"], "Production");
  Call("POST", "model-versions/transition-stage",
       {{"name", "m"}, {"version", "2"}, {"stage", "Production"}, {"archive_existing_versions", true}});
  EXPECT_EQ(Get("model-versions/get", {{"name", "m"}, {"version", "1"}})["model_version"]["current_stage"],
            "Archived");
  ExpectError(Call("POST", "model-versions/transition-stage",
                   {{"name", "m"}, {"version", "1"}, {"stage", "Gold"}}, 400),
              "INVALID_PARAMETER_VALUE", "Invalid Model Version stage: Gold.");
  ExpectError(
      Call("POST", "model-versions/transition-stage",
           {{"name", "m"}, {"version", "1"}, {"stage", "None"}, {"archive_existing_versions", "maybe"}}, 400),
      "INVALID_PARAMETER_VALUE", "archive_existing_versions");

  Json latest =
      Call("POST", "registered-models/get-latest-versions", {{"name", "m"}, {"stages", {"Production"}}});
  ASSERT_EQ(latest["model_versions"].size(), 1u);
  EXPECT_EQ(latest["model_versions"][0]["version"], "2");
  latest = Get("registered-models/get-latest-versions", {{"name", "m"}, {"stages", "Archived"}});
  ASSERT_EQ(latest["model_versions"].size(), 1u);
  EXPECT_EQ(latest["model_versions"][0]["version"], "1");
  EXPECT_EQ(Get("registered-models/get-latest-versions", {{"name", "m"}, {"stages", "Staging"}}),
            Json::object());
  EXPECT_EQ(Get("registered-models/get", {{"name", "m"}})["registered_model"]["latest_versions"].size(), 2u);

  EXPECT_EQ(Get("model-versions/get-download-uri", {{"name", "m"}, {"version", "2"}}),
            Json({{"artifact_uri", "s3://bucket/model2"}}));
  ExpectError(Get("model-versions/get-download-uri", {{"name", "m"}, {"version", "9"}}, 404),
              "RESOURCE_DOES_NOT_EXIST", "not found");

  Call("POST", "model-versions/set-tag", {{"name", "m"}, {"version", "1"}, {"key", "a"}, {"value", "b"}});
  EXPECT_EQ(Get("model-versions/get", {{"name", "m"}, {"version", "1"}})["model_version"]["tags"].size(), 2u);
  Call("DELETE", "model-versions/delete-tag", {{"name", "m"}, {"version", "1"}, {"key", "a"}});
  EXPECT_EQ(Get("model-versions/get", {{"name", "m"}, {"version", "1"}})["model_version"]["tags"].size(), 1u);
  ExpectError(Call("POST", "model-versions/set-tag", {{"name", "m"}, {"version", "1"}, {"key", "a*"}}, 400),
              "INVALID_PARAMETER_VALUE", "Names may only contain");

  EXPECT_EQ(Call("DELETE", "model-versions/delete", {{"name", "m"}, {"version", "1"}}), Json::object());
  ExpectError(Get("model-versions/get", {{"name", "m"}, {"version", "1"}}, 404), "RESOURCE_DOES_NOT_EXIST",
              "not found");
}

TEST_F(MlflowRegistryTest, Aliases) {
  Call("POST", "registered-models/create", {{"name", "m"}});
  Call("POST", "model-versions/create", {{"name", "m"}, {"source", "s3://b/1"}});
  Call("POST", "model-versions/create", {{"name", "m"}, {"source", "s3://b/2"}});
  EXPECT_EQ(Call("POST", "registered-models/alias", {{"name", "m"}, {"alias", "champion"}, {"version", "1"}}),
            Json::object());
  Json by_alias = Get("registered-models/alias", {{"name", "m"}, {"alias", "champion"}});
  EXPECT_EQ(by_alias["model_version"]["version"], "1");
  EXPECT_EQ(by_alias["model_version"]["aliases"], Json::array({"champion"}));
  EXPECT_EQ(Get("registered-models/get", {{"name", "m"}})["registered_model"]["aliases"],
            Json::parse(R"([{"alias":"champion","version":"1"}])"));
  Call("POST", "registered-models/alias", {{"name", "m"}, {"alias", "champion"}, {"version", "2"}});
  EXPECT_EQ(
      Get("registered-models/alias", {{"name", "m"}, {"alias", "champion"}})["model_version"]["version"],
      "2");
  ExpectError(
      Call("POST", "registered-models/alias", {{"name", "m"}, {"alias", "latest"}, {"version", "1"}}, 400),
      "INVALID_PARAMETER_VALUE", "'latest' alias name (case insensitive) is reserved.");
  ExpectError(
      Call("POST", "registered-models/alias", {{"name", "m"}, {"alias", "v3"}, {"version", "1"}}, 400),
      "INVALID_PARAMETER_VALUE", "Version alias name 'v3' is reserved.");
  ExpectError(Call("POST", "registered-models/alias", {{"name", "m"}, {"alias", "x"}, {"version", "5"}}, 404),
              "RESOURCE_DOES_NOT_EXIST", "Model Version (name=m, version=5) not found");
  ExpectError(Call("POST", "registered-models/alias", {{"name", "m"}, {"alias", "x"}}, 400),
              "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'version'");
  ExpectError(Get("registered-models/alias", {{"name", "m"}, {"alias", "nope"}}, 400),
              "INVALID_PARAMETER_VALUE", "Registered model alias nope not found.");
  EXPECT_EQ(Call("DELETE", "registered-models/alias", {{"name", "m"}, {"alias", "champion"}}),
            Json::object());
  ExpectError(Get("registered-models/alias", {{"name", "m"}, {"alias", "champion"}}, 400),
              "INVALID_PARAMETER_VALUE", "not found");
}

TEST_F(MlflowRegistryTest, SearchesAndPaging) {
  for (int i = 0; i < 7; ++i) {
    const std::string name = "model" + std::to_string(i);
    Call("POST", "registered-models/create",
         {{"name", name}, {"tags", {{{"key", "group"}, {"value", i % 2 ? "odd" : "even"}}}}});
    Call("POST", "model-versions/create", {{"name", name}, {"source", "s3://b/" + name}});
  }
  Json page = Get("registered-models/search", {{"filter", "tags.group = 'odd'"}, {"max_results", "2"}});
  ASSERT_EQ(page["registered_models"].size(), 2u);
  EXPECT_EQ(page["registered_models"][0]["name"], "model1");
  EXPECT_EQ(page["registered_models"][0]["latest_versions"][0]["version"], "1");
  ASSERT_TRUE(page.contains("next_page_token"));
  Json next = Get("registered-models/search", {{"filter", "tags.group = 'odd'"},
                                               {"max_results", "2"},
                                               {"page_token", page["next_page_token"].get<std::string>()}});
  ASSERT_EQ(next["registered_models"].size(), 1u);
  EXPECT_EQ(next["registered_models"][0]["name"], "model5");
  EXPECT_FALSE(next.contains("next_page_token"));
  Json ordered = Get("registered-models/search", {{"order_by", "name DESC"}, {"max_results", "1"}});
  EXPECT_EQ(ordered["registered_models"][0]["name"], "model6");
  EXPECT_EQ(Get("registered-models/search", {{"filter", "name = 'zzz'"}}), Json::object());
  ExpectError(Get("registered-models/search", {{"max_results", "1001"}}, 400), "INVALID_PARAMETER_VALUE",
              "Invalid value \"1001\" for parameter 'max_results' supplied:  Hint: Value was of type 'str'.");
  ExpectError(Get("registered-models/search",
                  {{"order_by", "last_updated_timestamp"}, {"order_by", "timestamp"}}, 400),
              "INVALID_PARAMETER_VALUE", "duplicate");
  ExpectError(Get("registered-models/search", {{"max_results", "abc"}}, 400), "INVALID_PARAMETER_VALUE",
              "max_results");
  ExpectError(Get("registered-models/search", {{"filter", "name = "}}, 400), "INVALID_PARAMETER_VALUE", "");
  ExpectError(Get("registered-models/search", {{"page_token", "%%%"}}, 400), "INVALID_PARAMETER_VALUE", "");

  Json versions =
      Get("model-versions/search", {{"filter", "name IN ('model2', 'model3')"}, {"order_by", "name"}});
  ASSERT_EQ(versions["model_versions"].size(), 2u);
  EXPECT_EQ(versions["model_versions"][0]["name"], "model2");
  Json one = Get("model-versions/search",
                 {{"max_results", "3"}, {"order_by", "name"}, {"order_by", "version_number"}});
  EXPECT_EQ(one["model_versions"].size(), 3u);
  EXPECT_TRUE(one.contains("next_page_token"));
  ExpectError(Get("model-versions/search", {{"max_results", "200001"}}, 400), "INVALID_PARAMETER_VALUE",
              "Invalid value \"200001\" for parameter 'max_results' supplied");
  ExpectError(Get("model-versions/search", {{"filter", "source_path IN ('a')"}}, 400),
              "INVALID_PARAMETER_VALUE", "");
}

TEST_F(MlflowRegistryTest, BadRequestsAreRefused) {
  Response r = Raw("POST", std::string(kApi) + "registered-models/create", "{not json");
  EXPECT_EQ(r.result_int(), 400);
  ExpectError(BodyOf(r), "INVALID_PARAMETER_VALUE", "Malformed request body");
  r = Raw("POST", std::string(kApi) + "registered-models/create", "[1]");
  EXPECT_EQ(r.result_int(), 400);
  r = Raw("GET", std::string(kApi) + "registered-models/create");
  EXPECT_EQ(r.result_int(), 405);
  r = Raw("POST", std::string(kApi) + "model-versions/create",
          Json({{"name", "m"}, {"source", "s3://b/m"}, {"tags", {{{"value", "v"}}}}}).dump());
  EXPECT_EQ(r.result_int(), 400);
  ExpectError(BodyOf(r), "INVALID_PARAMETER_VALUE",
              "Invalid value \"\" for parameter 'key' supplied: Names may be treated as files");
  // The UI's prefix serves the same routes.
  r = Raw("GET", "/ajax-api/2.0/mlflow/registered-models/search");
  EXPECT_EQ(r.result_int(), 200);
}

}  // namespace
}  // namespace ferry::api
