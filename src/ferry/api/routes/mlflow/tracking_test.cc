// The MLflow tracking routes end to end: ApiServer over a real TrackingStore
// (SQLite) and a file:// artifact store, driven over TCP. Expected shapes and
// messages are those the pinned `mlflow server` gives for the same requests.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "ferry/api/testing/mlflow_test_server.h"

namespace ferry::api {
namespace {

using testing::BodyOf;
using testing::Query;
using testing::Response;
using ::testing::HasSubstr;

constexpr const char* kApi = testing::kMlflowApi;

class MlflowTrackingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status started = server_.Start({.tracking = true, .artifacts = true});
    ASSERT_TRUE(started.ok()) << started.ToString();
    artifacts_ = server_.artifacts();
  }

  Response Raw(std::string_view method, const std::string& target, std::string_view body = {}) {
    std::map<std::string, std::string> headers;
    if (!body.empty()) headers["Content-Type"] = "application/json";
    return server_.Raw(method, target, body, headers);
  }

  // POSTs `body` to kApi + path and returns the JSON answer, expecting `status`.
  Json Post(const std::string& path, const Json& body, int status = 200) {
    return server_.JsonRequest("POST", kApi + path, body.dump(), status);
  }

  Json Get(const std::string& path, const std::vector<std::pair<std::string, std::string>>& params,
           int status = 200) {
    return server_.JsonRequest("GET", kApi + path + Query(params), {}, status);
  }

  // Expects an MLflow error with `code`; returns its message.
  static std::string ErrorOf(const Json& body, const std::string& code) {
    EXPECT_EQ(body.value("error_code", ""), code) << body.dump();
    return body.value("message", "");
  }

  std::string CreateExperiment(const std::string& name) {
    Json body = Post("experiments/create", {{"name", name}});
    return body.value("experiment_id", "");
  }

  std::string CreateRun(const std::string& experiment_id, const Json& extra = Json::object()) {
    Json request = extra;
    request["experiment_id"] = experiment_id;
    Json body = Post("runs/create", request);
    return body["run"]["info"].value("run_id", "");
  }

  static std::vector<std::string> Keys(const Json& object) {
    std::vector<std::string> keys;
    for (auto it = object.begin(); it != object.end(); ++it) keys.push_back(it.key());
    return keys;
  }

  testing::MlflowTestServer server_;
  artifacts::ArtifactStore* artifacts_ = nullptr;
};

TEST_F(MlflowTrackingTest, DefaultExperimentExists) {
  Json body = Get("experiments/get", {{"experiment_id", "0"}});
  const Json& e = body["experiment"];
  EXPECT_EQ(e["experiment_id"], "0");
  EXPECT_EQ(e["name"], "Default");
  EXPECT_EQ(e["lifecycle_stage"], "active");
  EXPECT_EQ(e["artifact_location"], "mlflow-artifacts:/0");
  EXPECT_FALSE(e.contains("tags"));  // empty repeated fields are absent
}

TEST_F(MlflowTrackingTest, ExperimentLifecycle) {
  Json created = Post("experiments/create", {{"name", "exp"}, {"tags", {{{"key", "team"}, {"value", "ml"}}}}});
  ASSERT_TRUE(created["experiment_id"].is_string()) << created.dump();
  std::string id = created["experiment_id"];
  EXPECT_EQ(Keys(created), std::vector<std::string>{"experiment_id"});

  Json got = Get("experiments/get", {{"experiment_id", id}});
  const Json& e = got["experiment"];
  EXPECT_EQ(Keys(e), (std::vector<std::string>{"artifact_location", "creation_time", "experiment_id",
                                                "last_update_time", "lifecycle_stage", "name", "tags",
                                                "workspace"}));
  EXPECT_EQ(e["name"], "exp");
  EXPECT_EQ(e["artifact_location"], "mlflow-artifacts:/" + id);
  EXPECT_TRUE(e["creation_time"].is_number_integer());
  EXPECT_GT(e["creation_time"].get<std::int64_t>(), 1'600'000'000'000);
  EXPECT_EQ(e["tags"], Json::parse(R"([{"key":"team","value":"ml"}])"));

  EXPECT_EQ(Get("experiments/get-by-name", {{"experiment_name", "exp"}})["experiment"], e);
  EXPECT_EQ(ErrorOf(Get("experiments/get-by-name", {{"experiment_name", "nope"}}, 404), "RESOURCE_DOES_NOT_EXIST"),
            "Could not find experiment with name 'nope'");

  // A taken name, deleted experiments included.
  ErrorOf(Post("experiments/create", {{"name", "exp"}}, 400), "RESOURCE_ALREADY_EXISTS");

  EXPECT_EQ(Post("experiments/update", {{"experiment_id", id}, {"new_name", "renamed"}}), Json::object());
  EXPECT_EQ(Get("experiments/get", {{"experiment_id", id}})["experiment"]["name"], "renamed");

  EXPECT_EQ(Post("experiments/set-experiment-tag", {{"experiment_id", id}, {"key", "k"}, {"value", "v"}}),
            Json::object());
  Json tags = Get("experiments/get", {{"experiment_id", id}})["experiment"]["tags"];
  EXPECT_THAT(tags, ::testing::Contains(Json({{"key", "k"}, {"value", "v"}})));
  EXPECT_EQ(Post("experiments/delete-experiment-tag", {{"experiment_id", id}, {"key", "k"}}), Json::object());
  tags = Get("experiments/get", {{"experiment_id", id}})["experiment"]["tags"];
  EXPECT_THAT(tags, ::testing::Not(::testing::Contains(Json({{"key", "k"}, {"value", "v"}}))));

  EXPECT_EQ(Post("experiments/delete", {{"experiment_id", id}}), Json::object());
  EXPECT_EQ(Get("experiments/get", {{"experiment_id", id}})["experiment"]["lifecycle_stage"], "deleted");
  ErrorOf(Post("experiments/create", {{"name", "renamed"}}, 400), "RESOURCE_ALREADY_EXISTS");
  EXPECT_EQ(Post("experiments/restore", {{"experiment_id", id}}), Json::object());
  EXPECT_EQ(Get("experiments/get", {{"experiment_id", id}})["experiment"]["lifecycle_stage"], "active");

  ErrorOf(Get("experiments/get", {{"experiment_id", "999999"}}, 404), "RESOURCE_DOES_NOT_EXIST");
  ErrorOf(Post("experiments/delete", {{"experiment_id", "999999"}}, 404), "RESOURCE_DOES_NOT_EXIST");
}

TEST_F(MlflowTrackingTest, SearchExperiments) {
  for (const char* name : {"s-a", "s-b", "s-c"}) CreateExperiment(name);
  // Default + 3; pages of 2 over GET and POST.
  Json first = Get("experiments/search", {{"max_results", "2"}});
  ASSERT_EQ(first["experiments"].size(), 2u) << first.dump();
  ASSERT_TRUE(first.contains("next_page_token"));
  Json second = Post("experiments/search", {{"max_results", 2}, {"page_token", first["next_page_token"]}});
  ASSERT_EQ(second["experiments"].size(), 2u) << second.dump();
  EXPECT_FALSE(second.contains("next_page_token")) << second.dump();
  std::set<std::string> names;
  for (const Json& e : first["experiments"]) names.insert(e["name"]);
  for (const Json& e : second["experiments"]) names.insert(e["name"]);
  EXPECT_EQ(names, (std::set<std::string>{"Default", "s-a", "s-b", "s-c"}));

  Json filtered = Post("experiments/search", {{"max_results", 10}, {"filter", "name = 's-b'"}});
  ASSERT_EQ(filtered["experiments"].size(), 1u);
  EXPECT_EQ(filtered["experiments"][0]["name"], "s-b");
  // No experiments: an empty object, no empty list.
  EXPECT_EQ(Post("experiments/search", {{"max_results", 10}, {"filter", "name = 'none'"}}), Json::object());

  // Deleted ones only with view_type.
  std::string deleted = CreateExperiment("s-deleted");
  Post("experiments/delete", {{"experiment_id", deleted}});
  auto count = [&](const Json& request) { return Post("experiments/search", request).value("experiments", Json::array()).size(); };
  // No default for experiments (MLflow's proto has none, so 0 is refused).
  ErrorOf(Post("experiments/search", Json::object(), 400), "INVALID_PARAMETER_VALUE");
  EXPECT_EQ(count({{"max_results", 100}}), 4u);
  EXPECT_EQ(count({{"max_results", 100}, {"view_type", "ALL"}}), 5u);
  EXPECT_EQ(count({{"max_results", 100}, {"view_type", "DELETED_ONLY"}}), 1u);
  EXPECT_EQ(count({{"max_results", 100}, {"view_type", 2}}), 1u);  // the enum's number
  EXPECT_EQ(Get("experiments/search", {{"max_results", "100"}, {"view_type", "ALL"}})["experiments"].size(), 5u);

  ErrorOf(Post("experiments/search", {{"max_results", 10}, {"filter", "name ~ 'x'"}}, 400), "INVALID_PARAMETER_VALUE");
  ErrorOf(Post("experiments/search", {{"max_results", 10}, {"view_type", "BOGUS"}}, 400), "INVALID_PARAMETER_VALUE");
  EXPECT_EQ(ErrorOf(Post("experiments/search", {{"max_results", 0}}, 400), "INVALID_PARAMETER_VALUE"),
            "Invalid value 0 for parameter 'max_results' supplied. It must be a positive integer");
  EXPECT_EQ(ErrorOf(Post("experiments/search", {{"max_results", 60000}}, 400), "INVALID_PARAMETER_VALUE"),
            "Invalid value 60000 for parameter 'max_results' supplied. It must be at most 50000");
  ErrorOf(Post("experiments/search", {{"max_results", "ten"}}, 400), "INVALID_PARAMETER_VALUE");
}

TEST_F(MlflowTrackingTest, RunShapes) {
  std::string exp = CreateExperiment("runs");
  Json created = Post("runs/create", {{"experiment_id", exp},
                                      {"start_time", 1000},
                                      {"run_name", "r1"},
                                      {"user_id", "me"},
                                      {"tags", {{{"key", "t"}, {"value", "1"}}}}});
  const Json& run = created["run"];
  // create-run has no outputs; get and search do.
  EXPECT_EQ(Keys(run), (std::vector<std::string>{"data", "info", "inputs"}));
  const Json& info = run["info"];
  EXPECT_EQ(Keys(info), (std::vector<std::string>{"artifact_uri", "experiment_id", "lifecycle_stage", "run_id",
                                                   "run_name", "run_uuid", "start_time", "status", "user_id"}));
  std::string run_id = info["run_id"];
  EXPECT_EQ(run_id.size(), 32u);
  EXPECT_EQ(info["run_uuid"], run_id);
  EXPECT_EQ(info["run_name"], "r1");
  EXPECT_EQ(info["experiment_id"], exp);
  EXPECT_EQ(info["user_id"], "me");
  EXPECT_EQ(info["status"], "RUNNING");
  EXPECT_EQ(info["start_time"], 1000);
  EXPECT_EQ(info["lifecycle_stage"], "active");
  EXPECT_EQ(info["artifact_uri"], "mlflow-artifacts:/" + exp + "/" + run_id + "/artifacts");
  EXPECT_THAT(run["data"]["tags"], ::testing::Contains(Json({{"key", "t"}, {"value", "1"}})));
  EXPECT_THAT(run["data"]["tags"], ::testing::Contains(Json({{"key", "mlflow.runName"}, {"value", "r1"}})));
  EXPECT_FALSE(run["data"].contains("metrics"));
  EXPECT_FALSE(run["data"].contains("params"));
  EXPECT_EQ(run["inputs"], Json::object());

  Json got = Get("runs/get", {{"run_id", run_id}})["run"];
  EXPECT_EQ(Keys(got), (std::vector<std::string>{"data", "info", "inputs", "outputs"}));
  EXPECT_EQ(got["outputs"], Json::object());
  EXPECT_EQ(got["info"], info);
  // Older clients send run_uuid.
  EXPECT_EQ(Get("runs/get", {{"run_uuid", run_id}})["run"]["info"], info);

  Json updated = Post("runs/update", {{"run_id", run_id}, {"status", "FINISHED"}, {"end_time", 9000}});
  EXPECT_EQ(Keys(updated), std::vector<std::string>{"run_info"});
  EXPECT_EQ(updated["run_info"]["status"], "FINISHED");
  EXPECT_EQ(updated["run_info"]["end_time"], 9000);
  updated = Post("runs/update", {{"run_id", run_id}, {"run_name", "renamed"}});
  EXPECT_EQ(updated["run_info"]["run_name"], "renamed");
  EXPECT_EQ(updated["run_info"]["status"], "FINISHED");
  EXPECT_THAT(Get("runs/get", {{"run_id", run_id}})["run"]["data"]["tags"],
              ::testing::Contains(Json({{"key", "mlflow.runName"}, {"value", "renamed"}})));
  EXPECT_EQ(ErrorOf(Post("runs/update", {{"run_id", run_id}, {"status", "BAD"}}, 400), "INVALID_PARAMETER_VALUE"),
            "Invalid value \"BAD\" for parameter 'status' supplied: expected one of RUNNING, SCHEDULED, FINISHED, "
            "FAILED, KILLED");

  // Runs default to the Default experiment.
  Json in_default = Post("runs/create", Json::object());
  EXPECT_EQ(in_default["run"]["info"]["experiment_id"], "0");
}

TEST_F(MlflowTrackingTest, RunDeleteRestoreAndUnknownRuns) {
  std::string exp = CreateExperiment("lifecycle");
  std::string run_id = CreateRun(exp);
  EXPECT_EQ(Post("runs/delete", {{"run_id", run_id}}), Json::object());
  EXPECT_EQ(Get("runs/get", {{"run_id", run_id}})["run"]["info"]["lifecycle_stage"], "deleted");
  // Writes to a deleted run are refused.
  EXPECT_THAT(ErrorOf(Post("runs/log-parameter", {{"run_id", run_id}, {"key", "p"}, {"value", "1"}}, 400),
                      "INVALID_PARAMETER_VALUE"),
              HasSubstr("must be in the 'active' state"));
  EXPECT_EQ(Post("runs/restore", {{"run_id", run_id}}), Json::object());
  EXPECT_EQ(Get("runs/get", {{"run_id", run_id}})["run"]["info"]["lifecycle_stage"], "active");

  const std::string unknown = "0123456789abcdef0123456789abcdef";
  ErrorOf(Get("runs/get", {{"run_id", unknown}}, 404), "RESOURCE_DOES_NOT_EXIST");
  ErrorOf(Post("runs/delete", {{"run_id", unknown}}, 404), "RESOURCE_DOES_NOT_EXIST");
  ErrorOf(Post("runs/restore", {{"run_id", unknown}}, 404), "RESOURCE_DOES_NOT_EXIST");
  ErrorOf(Post("runs/update", {{"run_id", unknown}, {"status", "FAILED"}}, 404), "RESOURCE_DOES_NOT_EXIST");
  ErrorOf(Post("runs/log-metric", {{"run_id", unknown}, {"key", "m"}, {"value", 1}, {"timestamp", 1}}, 404),
          "RESOURCE_DOES_NOT_EXIST");
  ErrorOf(Post("runs/set-tag", {{"run_id", unknown}, {"key", "k"}, {"value", "v"}}, 404), "RESOURCE_DOES_NOT_EXIST");
  ErrorOf(Get("artifacts/list", {{"run_id", unknown}}, 404), "RESOURCE_DOES_NOT_EXIST");
  ErrorOf(Post("runs/create", {{"experiment_id", "999999"}}, 404), "RESOURCE_DOES_NOT_EXIST");
}

TEST_F(MlflowTrackingTest, LoggingAndNaNRoundTrip) {
  std::string exp = CreateExperiment("logging");
  std::string run_id = CreateRun(exp);
  EXPECT_EQ(Post("runs/log-metric", {{"run_id", run_id}, {"key", "m"}, {"value", 1.5}, {"timestamp", 2000}, {"step", 3}}),
            Json::object());
  Post("runs/log-metric", {{"run_id", run_id}, {"key", "m"}, {"value", "NaN"}, {"timestamp", 2001}, {"step", 4}});
  Post("runs/log-metric", {{"run_id", run_id}, {"key", "inf"}, {"value", "Infinity"}, {"timestamp", 2001}});
  Post("runs/log-metric", {{"run_id", run_id}, {"key", "ninf"}, {"value", "-Infinity"}, {"timestamp", "2002"}});
  EXPECT_EQ(Post("runs/log-parameter", {{"run_id", run_id}, {"key", "p"}, {"value", "x"}}), Json::object());
  Post("runs/log-parameter", {{"run_id", run_id}, {"key", "p"}, {"value", "x"}});  // same value again: fine
  Post("runs/log-parameter", {{"run_id", run_id}, {"key", "empty"}});                // value defaults to ""
  EXPECT_THAT(ErrorOf(Post("runs/log-parameter", {{"run_id", run_id}, {"key", "p"}, {"value", "y"}}, 400),
                      "INVALID_PARAMETER_VALUE"),
              HasSubstr("Changing param values is not allowed"));
  EXPECT_EQ(Post("runs/set-tag", {{"run_id", run_id}, {"key", "tg"}, {"value", "v"}}), Json::object());
  Post("runs/set-tag", {{"run_id", run_id}, {"key", "gone"}, {"value", "v"}});
  EXPECT_EQ(Post("runs/delete-tag", {{"run_id", run_id}, {"key", "gone"}}), Json::object());
  ErrorOf(Post("runs/delete-tag", {{"run_id", run_id}, {"key", "gone"}}, 404), "RESOURCE_DOES_NOT_EXIST");

  Json data = Get("runs/get", {{"run_id", run_id}})["run"]["data"];
  std::map<std::string, Json> metrics;
  for (const Json& m : data["metrics"]) metrics[m["key"]] = m;
  ASSERT_EQ(metrics.size(), 3u) << data.dump();
  // The latest point of m is step 4, whose value is NaN.
  EXPECT_EQ(metrics["m"], Json::parse(R"({"key":"m","value":"NaN","timestamp":2001,"step":4})"));
  // ±Inf are stored as ±DBL_MAX, as MLflow's SQL store does.
  EXPECT_EQ(metrics["inf"]["value"], std::numeric_limits<double>::max());
  EXPECT_EQ(metrics["inf"]["step"], 0);
  EXPECT_EQ(metrics["ninf"]["value"], std::numeric_limits<double>::lowest());
  EXPECT_EQ(metrics["ninf"]["timestamp"], 2002);
  EXPECT_THAT(data["params"], ::testing::Contains(Json({{"key", "p"}, {"value", "x"}})));
  EXPECT_THAT(data["params"], ::testing::Contains(Json({{"key", "empty"}, {"value", ""}})));
  EXPECT_THAT(data["tags"], ::testing::Contains(Json({{"key", "tg"}, {"value", "v"}})));
  for (const Json& tag : data["tags"]) EXPECT_NE(tag["key"], "gone");

  Json history = Get("metrics/get-history", {{"run_id", run_id}, {"metric_key", "m"}});
  EXPECT_EQ(history, Json::parse(R"({"metrics":[{"key":"m","value":1.5,"timestamp":2000,"step":3},
                                                {"key":"m","value":"NaN","timestamp":2001,"step":4}]})"));
}

TEST_F(MlflowTrackingTest, LogBatch) {
  std::string run_id = CreateRun(CreateExperiment("batch"));
  Json batch = {{"run_id", run_id},
                {"metrics", {{{"key", "b"}, {"value", 1}, {"timestamp", 5}, {"step", 1}},
                             {{"key", "b"}, {"value", "NaN"}, {"timestamp", 6}, {"step", 2}}}},
                {"params", {{{"key", "bp"}, {"value", "1"}}}},
                {"tags", {{{"key", "bt"}, {"value", "1"}}}}};
  EXPECT_EQ(Post("runs/log-batch", batch), Json::object());
  Json data = Get("runs/get", {{"run_id", run_id}})["run"]["data"];
  EXPECT_EQ(data["metrics"], Json::parse(R"([{"key":"b","value":"NaN","timestamp":6,"step":2}])"));
  EXPECT_EQ(data["params"], Json::parse(R"([{"key":"bp","value":"1"}])"));
  EXPECT_THAT(data["tags"], ::testing::Contains(Json({{"key", "bt"}, {"value", "1"}})));
  EXPECT_EQ(Post("runs/log-batch", {{"run_id", run_id}}), Json::object());  // nothing to log

  EXPECT_EQ(ErrorOf(Post("runs/log-batch", {{"run_id", run_id}, {"metrics", {{{"key", "b"}, {"value", 1}}}}}, 400),
                    "INVALID_PARAMETER_VALUE"),
            "Missing value for required parameter 'metrics[0].timestamp'. See the API docs for more information about "
            "request parameters.");
  EXPECT_EQ(ErrorOf(Post("runs/log-batch", {{"run_id", run_id}, {"params", {{{"value", "1"}}}}}, 400),
                    "INVALID_PARAMETER_VALUE"),
            "Missing value for required parameter 'params[0].key'. See the API docs for more information about "
            "request parameters.");
  ErrorOf(Post("runs/log-batch", {{"run_id", run_id}, {"metrics", {{"a", 1}}}}, 400), "INVALID_PARAMETER_VALUE");
  ErrorOf(Post("runs/log-batch", {{"run_id", run_id}, {"metrics", {{{"key", "b"}, {"value", "x"}, {"timestamp", 1}}}}},
               400),
          "INVALID_PARAMETER_VALUE");

  Json too_many = {{"run_id", run_id}, {"metrics", Json::array()}};
  for (int i = 0; i < 1001; ++i) too_many["metrics"].push_back({{"key", "b"}, {"value", i}, {"timestamp", 1}});
  EXPECT_THAT(ErrorOf(Post("runs/log-batch", too_many, 400), "INVALID_PARAMETER_VALUE"),
              HasSubstr("A batch logging request can contain at most 1000 metrics. Got 1001 metrics."));
  // All or nothing: none of the refused batch was logged.
  Json history = Get("metrics/get-history", {{"run_id", run_id}, {"metric_key", "b"}});
  EXPECT_EQ(history["metrics"].size(), 2u);
}

TEST_F(MlflowTrackingTest, LogInputsAndOutputs) {
  std::string run_id = CreateRun(CreateExperiment("inputs"));
  Json dataset = {{"name", "d"}, {"digest", "abc"}, {"source_type", "local"}, {"source", "{}"}};
  EXPECT_EQ(Post("runs/log-inputs",
                 {{"run_id", run_id},
                  {"datasets", {{{"dataset", dataset}, {"tags", {{{"key", "mlflow.data.context"}, {"value", "train"}}}}}}}}),
            Json::object());
  EXPECT_EQ(Post("runs/outputs", {{"run_id", run_id}, {"models", {{{"model_id", "m-123"}, {"step", 7}}}}}),
            Json::object());
  Json run = Get("runs/get", {{"run_id", run_id}})["run"];
  EXPECT_EQ(run["inputs"]["dataset_inputs"],
            Json::array({{{"dataset", dataset}, {"tags", {{{"key", "mlflow.data.context"}, {"value", "train"}}}}}}));
  EXPECT_EQ(run["outputs"], Json::parse(R"({"model_outputs":[{"model_id":"m-123","step":7}]})"));

  EXPECT_EQ(ErrorOf(Post("runs/outputs", {{"run_id", run_id}}, 400), "INVALID_PARAMETER_VALUE"),
            "Missing value for required parameter 'models'. See the API docs for more information about request "
            "parameters.");
  ErrorOf(Post("runs/log-inputs", {{"run_id", run_id}, {"datasets", {{{"dataset", "x"}}}}}, 400),
          "INVALID_PARAMETER_VALUE");
  ErrorOf(Post("runs/log-inputs", {{"run_id", run_id}, {"datasets", "x"}}, 400), "INVALID_PARAMETER_VALUE");
}

TEST_F(MlflowTrackingTest, SearchRuns) {
  std::string exp = CreateExperiment("search");
  std::vector<std::string> runs;
  for (int i = 0; i < 3; ++i) {
    std::string run_id = CreateRun(exp, {{"start_time", 1000 + i}});
    Post("runs/log-metric", {{"run_id", run_id}, {"key", "acc"}, {"value", 0.5 + i * 0.1}, {"timestamp", 1}});
    runs.push_back(run_id);
  }
  Json all = Post("runs/search", {{"experiment_ids", {exp}}});
  ASSERT_EQ(all["runs"].size(), 3u);
  EXPECT_FALSE(all.contains("next_page_token"));
  // Default order: start_time DESC.
  EXPECT_EQ(all["runs"][0]["info"]["run_id"], runs[2]);
  EXPECT_EQ(Keys(all["runs"][0]), (std::vector<std::string>{"data", "info", "inputs", "outputs"}));

  Json filtered = Post("runs/search", {{"experiment_ids", {exp}},
                                       {"filter", "metrics.acc > 0.55"},
                                       {"order_by", {"metrics.acc ASC"}}});
  ASSERT_EQ(filtered["runs"].size(), 2u) << filtered.dump();
  EXPECT_EQ(filtered["runs"][0]["info"]["run_id"], runs[1]);
  EXPECT_EQ(filtered["runs"][1]["info"]["run_id"], runs[2]);

  Json page1 = Post("runs/search", {{"experiment_ids", {exp}}, {"max_results", 2}});
  ASSERT_EQ(page1["runs"].size(), 2u);
  ASSERT_TRUE(page1.contains("next_page_token"));
  Json page2 = Post("runs/search", {{"experiment_ids", {exp}}, {"max_results", 2}, {"page_token", page1["next_page_token"]}});
  ASSERT_EQ(page2["runs"].size(), 1u);
  EXPECT_EQ(page2["runs"][0]["info"]["run_id"], runs[0]);
  EXPECT_FALSE(page2.contains("next_page_token"));

  Post("runs/delete", {{"run_id", runs[0]}});
  EXPECT_EQ(Post("runs/search", {{"experiment_ids", {exp}}})["runs"].size(), 2u);
  EXPECT_EQ(Post("runs/search", {{"experiment_ids", {exp}}, {"run_view_type", "ALL"}})["runs"].size(), 3u);
  EXPECT_EQ(Post("runs/search", {{"experiment_ids", {exp}}, {"run_view_type", "DELETED_ONLY"}})["runs"].size(), 1u);

  EXPECT_EQ(Post("runs/search", Json::object()), Json::object());  // no experiments, no runs
  EXPECT_EQ(Post("runs/search", {{"experiment_ids", {exp}}, {"filter", "metrics.acc > 5"}}), Json::object());
  EXPECT_THAT(ErrorOf(Post("runs/search", {{"experiment_ids", {exp}}, {"filter", "acc > 1"}}, 400),
                      "INVALID_PARAMETER_VALUE"),
              HasSubstr("Invalid attribute key 'acc'"));
  ErrorOf(Post("runs/search", {{"experiment_ids", {exp}}, {"filter", "metrics.acc > 1 OR metrics.acc < 0"}}, 400),
          "INVALID_PARAMETER_VALUE");
  ErrorOf(Post("runs/search", {{"experiment_ids", {exp}}, {"order_by", {"bogus.x"}}}, 400), "INVALID_PARAMETER_VALUE");
  EXPECT_EQ(ErrorOf(Post("runs/search", {{"experiment_ids", {exp}}, {"max_results", 0}}, 400), "INVALID_PARAMETER_VALUE"),
            "Invalid value 0 for parameter 'max_results' supplied. It must be a positive integer");
  EXPECT_THAT(ErrorOf(Post("runs/search", {{"experiment_ids", {exp}}, {"max_results", 60000}}, 400),
                      "INVALID_PARAMETER_VALUE"),
              HasSubstr("Invalid value 60000 for parameter 'max_results' supplied"));
  ErrorOf(Post("runs/search", {{"experiment_ids", {exp}}, {"run_view_type", "SOME"}}, 400), "INVALID_PARAMETER_VALUE");
  ErrorOf(Post("runs/search", {{"experiment_ids", {exp}}, {"page_token", "garbage!"}}, 400), "INVALID_PARAMETER_VALUE");
  // runs/search is POST only.
  EXPECT_EQ(Raw("GET", std::string(kApi) + "runs/search").result_int(), 405);
  // Unknown endpoints under MLflow's prefixes answer in MLflow's shape.
  for (const std::string& path : {std::string(kApi) + "experiments/explode", std::string("/api/3.0/mlflow/nope/x"),
                                 std::string("/ajax-api/2.0/mlflow/runs/x/y")}) {
    auto r = Raw("POST", path);
    EXPECT_EQ(r.result_int(), 404) << path;
    EXPECT_EQ(Json::parse(r.body()).value("error_code", ""), "ENDPOINT_NOT_FOUND") << path;
  }
}

TEST_F(MlflowTrackingTest, MetricHistoryPaging) {
  std::string run_id = CreateRun(CreateExperiment("history"));
  Json batch = {{"run_id", run_id}, {"metrics", Json::array()}};
  for (int step = 0; step < 5; ++step)
    batch["metrics"].push_back({{"key", "loss"}, {"value", 1.0 / (step + 1)}, {"timestamp", 100 + step}, {"step", step}});
  Post("runs/log-batch", batch);

  std::vector<std::int64_t> steps;
  std::string token;
  int pages = 0;
  do {
    std::vector<std::pair<std::string, std::string>> params = {
        {"run_id", run_id}, {"metric_key", "loss"}, {"max_results", "2"}};
    if (!token.empty()) params.push_back({"page_token", token});
    Json page = Get("metrics/get-history", params);
    for (const Json& m : page["metrics"]) {
      EXPECT_FALSE(m.contains("run_id"));
      steps.push_back(m["step"]);
    }
    token = page.value("next_page_token", "");
    ASSERT_LT(++pages, 10);
  } while (!token.empty());
  EXPECT_EQ(steps, (std::vector<std::int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(pages, 3);

  EXPECT_EQ(Get("metrics/get-history", {{"run_id", run_id}, {"metric_key", "loss"}})["metrics"].size(), 5u);
  EXPECT_EQ(Get("metrics/get-history", {{"run_id", run_id}, {"metric_key", "none"}}), Json::object());
  EXPECT_EQ(ErrorOf(Get("metrics/get-history", {{"run_id", run_id}, {"metric_key", "loss"}, {"max_results", "0"}}, 400),
                    "INVALID_PARAMETER_VALUE"),
            "Invalid value 0 for parameter 'max_results' supplied. It must be a positive integer.");
  EXPECT_EQ(ErrorOf(Get("metrics/get-history", {{"run_id", run_id}}, 400), "INVALID_PARAMETER_VALUE"),
            "Missing value for required parameter 'metric_key'. See the API docs for more information about request "
            "parameters.");
  EXPECT_EQ(ErrorOf(Get("metrics/get-history", {{"metric_key", "loss"}}, 400), "INVALID_PARAMETER_VALUE"),
            "Missing value for required parameter 'run_id'. See the API docs for more information about request "
            "parameters.");
  ErrorOf(Get("metrics/get-history", {{"run_id", run_id}, {"metric_key", "loss"}, {"max_results", "x"}}, 400),
          "INVALID_PARAMETER_VALUE");
}

TEST_F(MlflowTrackingTest, MetricHistoryBulkInterval) {
  std::string exp = CreateExperiment("bulk");
  std::string a = CreateRun(exp), b = CreateRun(exp);
  for (const std::string& run_id : {a, b}) {
    Json batch = {{"run_id", run_id}, {"metrics", Json::array()}};
    for (int step = 0; step < 4; ++step)
      batch["metrics"].push_back({{"key", "loss"}, {"value", step}, {"timestamp", 10 + step}, {"step", step}});
    Post("runs/log-batch", batch);
  }
  Json body = Get("metrics/get-history-bulk-interval", {{"run_ids", a}, {"run_ids", b}, {"metric_key", "loss"}});
  ASSERT_EQ(body["metrics"].size(), 8u) << body.dump();
  std::map<std::string, int> per_run;
  for (const Json& m : body["metrics"]) {
    EXPECT_EQ(Keys(m), (std::vector<std::string>{"key", "run_id", "step", "timestamp", "value"}));
    per_run[m["run_id"]]++;
  }
  EXPECT_EQ(per_run[a], 4);
  EXPECT_EQ(per_run[b], 4);

  Json window = Get("metrics/get-history-bulk-interval",
                    {{"run_ids", a}, {"metric_key", "loss"}, {"start_step", "1"}, {"end_step", "2"}});
  ASSERT_EQ(window["metrics"].size(), 2u) << window.dump();
  EXPECT_EQ(window["metrics"][0]["step"], 1);
  EXPECT_EQ(window["metrics"][1]["step"], 2);

  EXPECT_EQ(ErrorOf(Get("metrics/get-history-bulk-interval", {{"metric_key", "loss"}}, 400), "INVALID_PARAMETER_VALUE"),
            "Missing value for required parameter 'run_ids'. See the API docs for more information about request "
            "parameters.");
  ErrorOf(Get("metrics/get-history-bulk-interval", {{"run_ids", a}}, 400), "INVALID_PARAMETER_VALUE");
  std::vector<std::pair<std::string, std::string>> too_many = {{"metric_key", "loss"}};
  for (int i = 0; i < 101; ++i) too_many.push_back({"run_ids", a});
  EXPECT_THAT(ErrorOf(Get("metrics/get-history-bulk-interval", too_many, 400), "INVALID_PARAMETER_VALUE"),
              HasSubstr("must specify at most 100 run_ids. Received 101 run_ids."));
  EXPECT_EQ(ErrorOf(Get("metrics/get-history-bulk-interval", {{"run_ids", a}, {"metric_key", "loss"}, {"start_step", "1"}},
                        400),
                    "INVALID_PARAMETER_VALUE"),
            "If either start step or end step are specified, both must be specified.");
  EXPECT_EQ(ErrorOf(Get("metrics/get-history-bulk-interval",
                        {{"run_ids", a}, {"metric_key", "loss"}, {"start_step", "5"}, {"end_step", "1"}}, 400),
                    "INVALID_PARAMETER_VALUE"),
            "end_step must be greater than start_step. Found start_step=5 and end_step=1.");
  EXPECT_THAT(ErrorOf(Get("metrics/get-history-bulk-interval", {{"run_ids", a}, {"metric_key", "loss"}, {"max_results", "0"}},
                          400),
                      "INVALID_PARAMETER_VALUE"),
              HasSubstr("max_results must be between 1 and 2500."));
}

TEST_F(MlflowTrackingTest, ListArtifacts) {
  std::string exp = CreateExperiment("artifacts");
  std::string run_id = CreateRun(exp);
  std::string root_uri = "mlflow-artifacts:/" + exp + "/" + run_id + "/artifacts";
  // Nothing logged yet: only the root.
  EXPECT_EQ(Get("artifacts/list", {{"run_id", run_id}}), Json({{"root_uri", root_uri}}));

  std::string base = "mlflow/" + exp + "/" + run_id + "/artifacts/";
  ASSERT_TRUE(artifacts_->Put(base + "a.txt", "hello").ok());
  ASSERT_TRUE(artifacts_->Put(base + "model/MLmodel", "flavors: {}\n").ok());

  Json root = Get("artifacts/list", {{"run_id", run_id}});
  EXPECT_EQ(root, Json::parse(R"({"root_uri":")" + root_uri + R"(","files":[
      {"path":"a.txt","is_dir":false,"file_size":5},{"path":"model","is_dir":true}]})"));
  Json model = Get("artifacts/list", {{"run_id", run_id}, {"path", "model"}});
  EXPECT_EQ(model["files"], Json::parse(R"([{"path":"model/MLmodel","is_dir":false,"file_size":12}])"));
  EXPECT_EQ(Get("artifacts/list", {{"run_id", run_id}, {"path", "model/"}})["files"], model["files"]);
  // A file or a missing directory lists nothing.
  EXPECT_EQ(Get("artifacts/list", {{"run_id", run_id}, {"path", "a.txt"}}), Json({{"root_uri", root_uri}}));
  EXPECT_EQ(Get("artifacts/list", {{"run_id", run_id}, {"path", "none/deeper"}}), Json({{"root_uri", root_uri}}));

  for (const char* bad : {"../x", "/abs", "a/../../b", "a//b"})
    EXPECT_THAT(ErrorOf(Get("artifacts/list", {{"run_id", run_id}, {"path", bad}}, 400), "INVALID_PARAMETER_VALUE"),
                ::testing::StartsWith("Invalid path"))
        << bad;
  ErrorOf(Get("artifacts/list", {}, 400), "INVALID_PARAMETER_VALUE");
}

TEST_F(MlflowTrackingTest, AjaxPrefixAndServerInfo) {
  Response ajax = Raw("GET", "/ajax-api/2.0/mlflow/experiments/get?experiment_id=0");
  ASSERT_EQ(ajax.result_int(), 200) << ajax.body();
  EXPECT_EQ(BodyOf(ajax)["experiment"]["name"], "Default");

  Response info = Raw("GET", "/api/3.0/mlflow/server-info");
  ASSERT_EQ(info.result_int(), 200);
  Json body = BodyOf(info);
  EXPECT_EQ(body["workspaces_enabled"], false);
  EXPECT_EQ(body["multipart_uploads_enabled"], false);
  EXPECT_EQ(body["multipart_downloads_enabled"], false);
}

// Bad input on every endpoint: each request is answered 400
// INVALID_PARAMETER_VALUE with a message containing `message`.
TEST_F(MlflowTrackingTest, BadInputIsRefused) {
  std::string run_id = CreateRun(CreateExperiment("bad-input"));
  struct Case {
    std::string method, path, body, message;
  };
  const std::string missing = "Missing value for required parameter ";
  const std::vector<Case> cases = {
      {"POST", "experiments/create", "{}", missing + "'name'"},
      {"POST", "experiments/create", R"({"name": ""})", missing + "'name'"},
      {"POST", "experiments/create", R"({"name": 5})", "'name'"},
      {"POST", "experiments/create", R"({"name": "x", "tags": "t"})", "'tags'"},
      {"POST", "experiments/create", R"({"name": "x", "tags": [{"value": "v"}]})", missing + "'tags[0].key'"},
      {"GET", "experiments/get", "", missing + "'experiment_id'"},
      {"GET", "experiments/get-by-name", "", missing + "'experiment_name'"},
      {"POST", "experiments/update", R"({"experiment_id": "0"})", missing + "'new_name'"},
      {"POST", "experiments/delete", "{}", missing + "'experiment_id'"},
      {"POST", "experiments/restore", R"({"experiment_id": {"id": "0"}})", "'experiment_id'"},
      {"POST", "experiments/set-experiment-tag", R"({"experiment_id": "0"})", missing + "'key'"},
      {"POST", "experiments/delete-experiment-tag", R"({"key": "k"})", missing + "'experiment_id'"},
      {"POST", "runs/create", R"({"start_time": "abc"})", "'start_time'"},
      {"POST", "runs/create", R"({"experiment_id": 5})", "'experiment_id'"},
      {"GET", "runs/get", "", missing + "'run_id'"},
      {"POST", "runs/update", R"({"end_time": 5})", missing + "'run_id'"},
      {"POST", "runs/update", R"({"run_id": "RUN", "end_time": "abc"})", "'end_time'"},
      {"POST", "runs/delete", "{}", missing + "'run_id'"},
      {"POST", "runs/restore", R"({"run_id": ""})", missing + "'run_id'"},
      {"POST", "runs/log-metric", R"({"run_id": "RUN", "key": "m", "timestamp": 1})", missing + "'value'"},
      {"POST", "runs/log-metric", R"({"run_id": "RUN", "key": "m", "value": 1})", missing + "'timestamp'"},
      {"POST", "runs/log-metric", R"({"run_id": "RUN", "value": 1, "timestamp": 1})", missing + "'key'"},
      {"POST", "runs/log-metric", R"({"run_id": "RUN", "key": "m", "value": "abc", "timestamp": 1})", "'value'"},
      {"POST", "runs/log-metric", R"({"run_id": "RUN", "key": "m", "value": true, "timestamp": 1})", "'value'"},
      {"POST", "runs/log-metric", R"({"run_id": "RUN", "key": "m", "value": 1, "timestamp": 1, "step": "x"})", "'step'"},
      {"POST", "runs/log-parameter", R"({"run_id": "RUN", "key": "p", "value": 5})", "'value'"},
      {"POST", "runs/log-parameter", R"({"run_id": "RUN", "value": "v"})", missing + "'key'"},
      {"POST", "runs/set-tag", R"({"run_id": "RUN", "key": {}})", "'key'"},
      {"POST", "runs/delete-tag", R"({"run_id": "RUN"})", missing + "'key'"},
      {"POST", "runs/log-batch", R"({"metrics": []})", missing + "'run_id'"},
      {"POST", "runs/log-batch", R"({"run_id": "RUN", "tags": [{"value": "v"}]})", missing + "'tags[0].key'"},
      {"POST", "runs/log-batch", R"({"run_id": "RUN", "params": [1]})", "'params'"},
      {"POST", "runs/log-inputs", R"({"run_id": "RUN", "models": [{}]})", missing + "'models[0].model_id'"},
      {"POST", "runs/outputs", R"({"run_id": "RUN", "models": [{"step": 1}]})", missing + "'models[0].model_id'"},
      {"POST", "runs/search", R"({"experiment_ids": [1]})", "'experiment_ids'"},
      // A lone string is a list of one (as a GET parameter is); "x" is no valid clause.
      {"POST", "runs/search", R"({"experiment_ids": ["0"], "order_by": "x"})", "'order_by'"},
      {"POST", "runs/search", R"({"experiment_ids": ["0"], "filter": 5})", "'filter'"},
      {"GET", "metrics/get-history", "", missing + "'run_id'"},
      {"GET", "artifacts/list", "", missing + "'run_id'"},
      // Bodies that are not JSON objects.
      {"POST", "runs/create", "{bad", "Malformed request body"},
      {"POST", "runs/create", "[1]", "Malformed request body"},
      {"POST", "experiments/create", "\"name\"", "Malformed request body"},
      {"POST", "runs/log-batch", std::string(100, '['), "Malformed request body"},
  };
  for (const Case& c : cases) {
    std::string body = c.body;
    for (std::size_t at; (at = body.find("RUN")) != std::string::npos;) body.replace(at, 3, run_id);
    Response response = c.method == "GET" ? Raw("GET", kApi + c.path) : Raw("POST", kApi + c.path, body);
    EXPECT_EQ(response.result_int(), 400) << c.method << " " << c.path << " " << body << " -> " << response.body();
    Json error = BodyOf(response);
    EXPECT_EQ(error.value("error_code", ""), "INVALID_PARAMETER_VALUE") << c.path << " " << body;
    EXPECT_THAT(error.value("message", ""), HasSubstr(c.message)) << c.path << " " << body;
  }
}

}  // namespace
}  // namespace ferry::api
