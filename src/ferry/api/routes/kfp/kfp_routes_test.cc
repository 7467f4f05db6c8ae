// The KFP routes end to end over TCP: ApiServer over a real CatalogStore
// (SQLite) and an in-memory PipelineEngine that records what the routes ask
// of it, so the JSON mapping, the catalog rules and the error shapes are
// tested without running processes (tests/pipelines/test_kfp_client.py
// runs the real engine under the real kfp.Client). Pipelines are the real
// compiler's output in src/ferry/pipelines/testdata/.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <mutex>
#include <sstream>

#include "ferry/api/api_server.h"
#include "ferry/api/testing/test_client.h"
#include "ferry/pipelines/catalog_store.h"
#include "ferry/pipelines/engine.h"
#include "ferry/store/resource_store.h"
#include "ferry/store/testing/test_database.h"

namespace ferry::api {
namespace {

using pipelines::RunState;
using testing::BodyOf;
using ::testing::HasSubstr;
using testing::Query;
using testing::Response;

std::string ReadTestdata(const std::string& name) {
  std::ifstream in("src/ferry/pipelines/testdata/" + name);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_FALSE(text.str().empty()) << "missing testdata " << name << " (run from the source root)";
  return text.str();
}

// Runs that never run: SUBMITTED runs stay RUNNING until a test moves them.
class FakeEngine : public pipelines::PipelineEngine {
 public:
  explicit FakeEngine(Env* env) : env_(env) {}

  Result<pipelines::RunStatus> SubmitRun(const pipelines::RunRequest& request) override {
    std::lock_guard<std::mutex> lock(mu_);
    last_request = request;
    pipelines::RunDetail d;
    d.run.run_id = env_->NewUuid();
    d.run.display_name = request.display_name;
    d.run.description = request.description;
    d.run.experiment_id = request.experiment_id;
    d.run.pipeline_id = request.pipeline_id;
    d.run.pipeline_version_id = request.pipeline_version_id;
    d.run.parameters = request.parameters;
    d.run.state = RunState::kRunning;
    d.run.created_micros = env_->NowMicros();
    d.pipeline_text = request.pipeline_text;
    pipelines::TaskStatus root;
    root.path = root.name = root.display_name = "root";
    root.kind = "dag";
    root.state = RunState::kRunning;
    root.created_micros = root.started_micros = d.run.created_micros;
    pipelines::TaskStatus leaf;
    leaf.path = "root/say-hello";
    leaf.name = leaf.display_name = "say-hello";
    leaf.parent_path = "root";
    leaf.kind = "container";
    leaf.state = RunState::kSucceeded;
    leaf.attempt = 1;
    leaf.created_micros = leaf.started_micros = d.run.created_micros;
    leaf.finished_micros = d.run.created_micros + 1'000'000;
    leaf.inputs["name"] = "World";
    leaf.outputs["Output"] = "Hello, World!";
    leaf.output_artifacts["model"] = Json::array({{{"name", "model"}, {"uri", "/tmp/a/model"}}});
    d.tasks = {root, leaf};
    runs_[d.run.run_id] = d;
    order_.push_back(d.run.run_id);
    return d.run;
  }
  Result<pipelines::RunDetail> GetRun(std::string_view run_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = runs_.find(std::string(run_id));
    if (it == runs_.end()) return NotFound("Run " + std::string(run_id) + " not found");
    return it->second;
  }
  Result<pipelines::ListRunsResponse> ListRuns(const pipelines::ListRunsRequest& request) override {
    std::lock_guard<std::mutex> lock(mu_);
    pipelines::ListRunsResponse out;
    const std::size_t start = request.page_token.empty() ? 0 : std::stoul(request.page_token);
    for (std::size_t i = 0; i < order_.size(); ++i) {
      const auto& run = runs_.at(order_[i]).run;
      if (!request.experiment_id.empty() && run.experiment_id != request.experiment_id) continue;
      ++out.total_size;
      if (out.total_size <= static_cast<std::int64_t>(start)) continue;
      if (static_cast<int>(out.runs.size()) == request.page_size) {
        out.next_page_token = std::to_string(start + out.runs.size());
        continue;
      }
      out.runs.push_back(run);
    }
    return out;
  }
  Status CancelRun(std::string_view run_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = runs_.find(std::string(run_id));
    if (it == runs_.end()) return NotFound("Run not found");
    if (pipelines::IsFinal(it->second.run.state)) return FailedPrecondition("run is finished");
    it->second.run.state = RunState::kCanceled;
    it->second.run.finished_micros = env_->NowMicros();
    ++it->second.run.revision;
    return Status::OK();
  }
  Status RetryRun(std::string_view run_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = runs_.find(std::string(run_id));
    if (it == runs_.end()) return NotFound("Run not found");
    if (it->second.run.state != RunState::kFailed && it->second.run.state != RunState::kCanceled)
      return FailedPrecondition("only failed or canceled runs can be retried");
    it->second.run.state = RunState::kRunning;
    return Status::OK();
  }
  Status DeleteRun(std::string_view run_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = runs_.find(std::string(run_id));
    if (it == runs_.end()) return NotFound("Run not found");
    if (!pipelines::IsFinal(it->second.run.state)) return FailedPrecondition("run is running");
    runs_.erase(it);
    order_.erase(std::find(order_.begin(), order_.end(), std::string(run_id)));
    return Status::OK();
  }
  Status SetArchived(std::string_view run_id, bool archived) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = runs_.find(std::string(run_id));
    if (it == runs_.end()) return NotFound("Run not found");
    it->second.run.archived = archived;
    return Status::OK();
  }
  Result<pipelines::RunStatus> WaitForChange(std::string_view run_id, std::int64_t,
                                             std::chrono::milliseconds) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = runs_.find(std::string(run_id));
    if (it == runs_.end()) return NotFound("Run not found");
    return it->second.run;
  }
  Result<std::string> TaskLogPath(std::string_view, std::string_view) override { return NotFound("no log"); }
  void Shutdown() override {}

  void SetState(const std::string& run_id, RunState state, std::string error = "") {
    std::lock_guard<std::mutex> lock(mu_);
    runs_.at(run_id).run.state = state;
    runs_.at(run_id).run.error = std::move(error);
  }

  pipelines::RunRequest last_request;

 private:
  Env* env_;
  std::mutex mu_;
  std::map<std::string, pipelines::RunDetail> runs_;
  std::vector<std::string> order_;
};

constexpr char kBoundary[] = "ferryboundary42";

std::string Multipart(const std::string& filename, const std::string& content,
                      const std::string& field = "uploadfile") {
  return std::string("--") + kBoundary + "\r\nContent-Disposition: form-data; name=\"" + field +
         "\"; filename=\"" + filename + "\"\r\nContent-Type: application/octet-stream\r\n\r\n" + content +
         "\r\n--" + kBoundary + "--\r\n";
}

class KfpRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(max_body_bytes_); }

  void Start(std::size_t max_body_bytes) {
    tdb_ = store::testing::TestDatabase::Create(store::testing::Backend::kSqlite);
    ASSERT_TRUE(tdb_);
    resources_ = std::make_unique<store::ResourceStore>(&tdb_->db(), &env_);
    store::RegisterCoreTypes(types_);
    auto catalog = pipelines::CatalogStore::Open(&tdb_->db(), &env_);
    ASSERT_TRUE(catalog.ok()) << catalog.status().ToString();
    catalog_ = std::move(catalog).value();
    engine_ = std::make_unique<FakeEngine>(&env_);
    ApiServices services{&tdb_->db(), resources_.get(), &types_, &metrics_, &env_};
    services.pipelines = engine_.get();
    services.pipeline_catalog = catalog_.get();
    ApiOptions options;
    options.listen = "127.0.0.1:0";
    options.threads = 2;
    options.handler_threads = 2;
    if (max_body_bytes) options.max_body_bytes = max_body_bytes;
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
  Json Call(std::string_view method, const std::string& path, const Json& body = nullptr, int status = 200) {
    std::map<std::string, std::string> headers;
    std::string text;
    if (!body.is_null()) {
      text = body.dump();
      headers["Content-Type"] = "application/json";
    }
    Response r = Raw(method, std::string("/apis/v2beta1/") + path, text, headers);
    EXPECT_EQ(r.result_int(), status) << method << " " << path << " -> " << r.body();
    return BodyOf(r);
  }
  Json Upload(const std::string& path, const std::string& filename, const std::string& content,
              int status = 200) {
    Response r = Raw("POST", std::string("/apis/v2beta1/") + path, Multipart(filename, content),
                     {{"Content-Type", std::string("multipart/form-data; boundary=") + kBoundary}});
    EXPECT_EQ(r.result_int(), status) << path << " -> " << r.body();
    return BodyOf(r);
  }
  // grpc-gateway's error body with `code` and a message containing `part`.
  static void ExpectError(const Json& body, int code, const std::string& part) {
    EXPECT_EQ(body.value("code", -1), code) << body.dump();
    EXPECT_THAT(body.value("message", ""), HasSubstr(part)) << body.dump();
    EXPECT_TRUE(body.contains("details")) << body.dump();
  }
  static std::string Filter(const Json& predicates) { return Json({{"predicates", predicates}}).dump(); }

  std::string DefaultExperimentId() { return *catalog_->DefaultExperimentId(); }

  std::size_t max_body_bytes_ = 0;
  FakeEnv env_;
  std::unique_ptr<store::testing::TestDatabase> tdb_;
  std::unique_ptr<store::ResourceStore> resources_;
  store::ResourceTypes types_;
  MetricsRegistry metrics_;
  std::unique_ptr<pipelines::CatalogStore> catalog_;
  std::unique_ptr<FakeEngine> engine_;
  std::unique_ptr<ApiServer> server_;
  std::unique_ptr<testing::TestConnection> conn_;
};

TEST_F(KfpRoutesTest, Healthz) {
  Json body = Call("GET", "healthz");
  EXPECT_EQ(body["multi_user"], false);
  EXPECT_EQ(body["pipeline_store"], "database");
}

TEST_F(KfpRoutesTest, UnknownPathsAnswerInKfpShape) {
  ExpectError(Call("GET", "nothing/here", nullptr, 404), 5, "no API endpoint");
  ExpectError(Call("POST", "runs/abc:explode", nullptr, 404), 5, "no run action");
  ExpectError(Call("POST", "experiments/abc:explode", nullptr, 404), 5, "no API endpoint");
}

TEST_F(KfpRoutesTest, ExperimentLifecycle) {
  Json list = Call("GET", "experiments");
  ASSERT_EQ(list["total_size"], 1);
  EXPECT_EQ(list["experiments"][0]["display_name"], "Default");
  EXPECT_EQ(list["experiments"][0]["storage_state"], "AVAILABLE");

  env_.AdvanceMicros(2'000'000);
  Json created =
      Call("POST", "experiments", {{"display_name", "exp-a"}, {"description", "first"}, {"namespace", ""}});
  EXPECT_EQ(created["display_name"], "exp-a");
  EXPECT_EQ(created["description"], "first");
  EXPECT_EQ(created["created_at"], "2023-11-14T22:13:22Z");
  EXPECT_EQ(created["storage_state"], "AVAILABLE");
  EXPECT_EQ(created["last_run_created_at"], "1970-01-01T00:00:00Z");
  const std::string id = created["experiment_id"];
  EXPECT_EQ(Call("GET", "experiments/" + id), created);

  ExpectError(Call("POST", "experiments", {{"display_name", "exp-a"}}, 409), 6, "already exists");
  ExpectError(Call("POST", "experiments", Json::object(), 400), 3, "experiment.display_name");
  ExpectError(Call("POST", "experiments", {{"display_name", 7}}, 400), 3, "must be a string");
  ExpectError(Call("GET", "experiments/nope", nullptr, 404), 5, "not found");

  Response bad =
      Raw("POST", "/apis/v2beta1/experiments", "{not json", {{"Content-Type", "application/json"}});
  EXPECT_EQ(bad.result_int(), 400);
  ExpectError(BodyOf(bad), 3, "Malformed request body");

  EXPECT_EQ(Call("POST", "experiments/" + id + ":archive", Json::object()), Json::object());
  EXPECT_EQ(Call("GET", "experiments/" + id)["storage_state"], "ARCHIVED");
  Call("POST", "experiments/" + id + ":unarchive", Json::object());
  EXPECT_EQ(Call("GET", "experiments/" + id)["storage_state"], "AVAILABLE");
  ExpectError(Call("POST", "experiments/nope:archive", Json::object(), 404), 5, "not found");

  EXPECT_EQ(Call("DELETE", "experiments/" + id), Json::object());
  ExpectError(Call("DELETE", "experiments/" + id, nullptr, 404), 5, "not found");
}

TEST_F(KfpRoutesTest, ListFiltersSortsAndPages) {
  for (const char* name : {"b", "a", "c"}) {
    env_.AdvanceMicros(1'000'000);
    Call("POST", "experiments", {{"display_name", name}});
  }
  // The client's get_experiment(name=...): operation as a number, camelCase value.
  Json found = Call(
      "GET",
      "experiments" +
          Query({{"filter", Filter({{{"operation", 1}, {"key", "display_name"}, {"stringValue", "a"}}})}}));
  ASSERT_EQ(found["total_size"], 1);
  EXPECT_EQ(found["experiments"][0]["display_name"], "a");
  Json none = Call(
      "GET",
      "experiments" +
          Query({{"filter",
                  Filter({{{"operation", "EQUALS"}, {"key", "display_name"}, {"string_value", "zzz"}}})}}));
  EXPECT_EQ(none["total_size"], 0);
  EXPECT_FALSE(none.contains("experiments"));

  Json in =
      Call("GET", "experiments" + Query({{"filter", Filter({{{"operation", "IN"},
                                                             {"key", "name"},
                                                             {"string_values", {{"values", {"a", "c"}}}}}})},
                                         {"sort_by", "display_name desc"}}));
  ASSERT_EQ(in["total_size"], 2);
  EXPECT_EQ(in["experiments"][0]["display_name"], "c");
  EXPECT_EQ(in["experiments"][1]["display_name"], "a");

  // created_at after the second experiment: c only.
  Json later = Call(
      "GET", "experiments" + Query({{"filter", Filter({{{"operation", "GREATER_THAN"},
                                                        {"key", "created_at"},
                                                        {"timestamp_value", "2023-11-14T22:13:22Z"}}})}}));
  ASSERT_EQ(later["total_size"], 1);
  EXPECT_EQ(later["experiments"][0]["display_name"], "c");

  // Paging by name: Default, a, b, c two at a time; the token carries the order.
  Json page1 = Call("GET", "experiments" + Query({{"page_size", "2"}, {"sort_by", "name"}}));
  EXPECT_EQ(page1["total_size"], 4);
  ASSERT_EQ(page1["experiments"].size(), 2u);
  EXPECT_EQ(page1["experiments"][0]["display_name"], "Default");
  EXPECT_EQ(page1["experiments"][1]["display_name"], "a");
  const std::string token = page1["next_page_token"];
  Json page2 = Call("GET", "experiments" + Query({{"page_size", "2"}, {"page_token", token}}));
  ASSERT_EQ(page2["experiments"].size(), 2u);
  EXPECT_EQ(page2["experiments"][0]["display_name"], "b");
  EXPECT_EQ(page2["experiments"][1]["display_name"], "c");
  EXPECT_FALSE(page2.contains("next_page_token"));

  ExpectError(Call("GET", "experiments" + Query({{"page_token", "%%%"}}), nullptr, 400), 3,
              "Invalid page token");
  ExpectError(Call("GET", "experiments" + Query({{"sort_by", "color"}}), nullptr, 400), 3,
              "Invalid sorting field");
  ExpectError(Call("GET", "experiments" + Query({{"sort_by", "name sideways"}}), nullptr, 400), 3,
              "sorting order");
  ExpectError(Call("GET", "experiments" + Query({{"page_size", "-1"}}), nullptr, 400), 3, "page size");
  ExpectError(Call("GET", "experiments" + Query({{"filter", "{"}}), nullptr, 400), 3, "Invalid filter");
  ExpectError(
      Call("GET",
           "experiments" +
               Query({{"filter", Filter({{{"operation", 1}, {"key", "color"}, {"string_value", "x"}}})}}),
           nullptr, 400),
      3, "unsupported key");
  ExpectError(
      Call("GET",
           "experiments" +
               Query({{"filter", Filter({{{"operation", 42}, {"key", "name"}, {"string_value", "x"}}})}}),
           nullptr, 400),
      3, "operation");
  ExpectError(Call("GET", "experiments" + Query({{"filter", Filter({{{"operation", 1}, {"key", "name"}}})}}),
                   nullptr, 400),
              3, "exactly one value");
  ExpectError(Call("GET",
                   "experiments" + Query({{"filter", Filter({{{"operation", 1},
                                                              {"key", "created_at"},
                                                              {"timestamp_value", "yesterday"}}})}}),
                   nullptr, 400),
              3, "timestamp_value");
}

TEST_F(KfpRoutesTest, UploadPipelineAndVersions) {
  const std::string yaml = ReadTestdata("hello_world.yaml");
  Json p = Upload("pipelines/upload" + Query({{"name", "hello"}, {"description", "greets"}}),
                  "hello_world.yaml", yaml);
  EXPECT_EQ(p["name"], "hello");
  EXPECT_EQ(p["display_name"], "hello");
  EXPECT_EQ(p["description"], "greets");
  const std::string pid = p["pipeline_id"];
  EXPECT_EQ(Call("GET", "pipelines/" + pid), p);
  EXPECT_EQ(Call("GET", "pipelines/names/hello"), p);

  // The name defaults to the file name; a taken name is 409.
  Json q = Upload("pipelines/upload", "other.yaml", yaml);
  EXPECT_EQ(q["name"], "other");
  Json dup = Upload("pipelines/upload" + Query({{"name", "hello"}}), "x.yaml", yaml, 409);
  EXPECT_EQ(dup.value("code", 0), 6);
  EXPECT_TRUE(dup.contains("error_message"));

  // get_pipeline_id(name): filter on display_name.
  Json byname = Call(
      "GET", "pipelines" +
                 Query({{"filter",
                         Filter({{{"operation", 1}, {"key", "display_name"}, {"stringValue", "hello"}}})}}));
  ASSERT_EQ(byname["total_size"], 1);
  EXPECT_EQ(byname["pipelines"][0]["pipeline_id"], pid);

  Json versions = Call("GET", "pipelines/" + pid + "/versions");
  ASSERT_EQ(versions["total_size"], 1);
  const std::string v1 = versions["pipeline_versions"][0]["pipeline_version_id"];
  EXPECT_FALSE(versions["pipeline_versions"][0].contains("pipeline_spec"));
  Json version = Call("GET", "pipelines/" + pid + "/versions/" + v1);
  EXPECT_EQ(version["pipeline_spec"]["pipelineInfo"]["name"], "hello-world");
  EXPECT_EQ(version["name"], "hello");

  env_.AdvanceMicros(1'000'000);
  Json v2 =
      Upload("pipelines/upload_version" + Query({{"name", "v2"}, {"pipelineid", pid}}), "hello.yaml", yaml);
  EXPECT_EQ(v2["name"], "v2");
  EXPECT_EQ(v2["pipeline_id"], pid);
  EXPECT_EQ(Call("GET", "pipelines/" + pid + "/versions" +
                            Query({{"sort_by", "created_at desc"}}))["pipeline_versions"][0]["name"],
            "v2");
  Upload("pipelines/upload_version" + Query({{"name", "v3"}, {"pipelineid", "missing"}}), "h.yaml", yaml,
         404);
  Upload("pipelines/upload_version" + Query({{"name", "v3"}}), "h.yaml", yaml, 400);

  // JSON create of a version (pipeline_spec inline).
  auto spec = ParseYaml(yaml);
  ASSERT_TRUE(spec.ok());
  Json v3 =
      Call("POST", "pipelines/" + pid + "/versions", {{"display_name", "v3"}, {"pipeline_spec", *spec}});
  EXPECT_EQ(v3["name"], "v3");
  ExpectError(Call("POST", "pipelines/" + pid + "/versions",
                   {{"display_name", "v4"}, {"package_url", {{"pipeline_url", "http://x/y.yaml"}}}}, 400),
              3, "package_url");

  // Versions block a plain delete; cascade takes them along.
  ExpectError(Call("DELETE", "pipelines/" + pid, nullptr, 400), 9, "version");
  EXPECT_EQ(Call("DELETE", "pipelines/" + pid + "/versions/" + v1), Json::object());
  ExpectError(Call("GET", "pipelines/" + pid + "/versions/" + v1, nullptr, 404), 5, "not found");
  EXPECT_EQ(Call("DELETE", "pipelines/" + pid + Query({{"cascade", "true"}})), Json::object());
  ExpectError(Call("GET", "pipelines/" + pid, nullptr, 404), 5, "not found");
}

TEST_F(KfpRoutesTest, UploadBadInput) {
  // A pipeline the parser refuses: 400 with its message and field.
  std::string yaml = ReadTestdata("hello_world.yaml");
  const std::string broken = yaml.replace(yaml.find("name: comp-say-hello"), 20, "name: comp-missing");
  Json body = Upload("pipelines/upload", "broken.yaml", broken, 400);
  EXPECT_EQ(body.value("code", 0), 3);
  EXPECT_THAT(body.value("error_message", ""), HasSubstr("Failed to parse the pipeline spec"));
  EXPECT_THAT(body.value("message", ""), HasSubstr("uploadfile.root.dag.tasks"));
  ASSERT_FALSE(body["details"].empty());
  EXPECT_THAT(body["details"][0]["field_violations"][0].value("field", ""), HasSubstr("comp"));

  EXPECT_EQ(Upload("pipelines/upload", "x.yaml", "{not yaml", 400).value("code", 0), 3);
  EXPECT_EQ(Upload("pipelines/upload", "x.tar.gz", std::string("\x1f\x8b\x08\x00", 4), 400).value("code", 0),
            3);
  Response wrong_part = Raw("POST", "/apis/v2beta1/pipelines/upload", Multipart("a.yaml", "x", "other"),
                            {{"Content-Type", std::string("multipart/form-data; boundary=") + kBoundary}});
  EXPECT_EQ(wrong_part.result_int(), 400);
  EXPECT_THAT(BodyOf(wrong_part).value("error_message", ""), HasSubstr("uploadfile"));
  Response not_multipart =
      Raw("POST", "/apis/v2beta1/pipelines/upload", "hello", {{"Content-Type", "application/json"}});
  EXPECT_EQ(not_multipart.result_int(), 400);
  Response no_boundary =
      Raw("POST", "/apis/v2beta1/pipelines/upload", "hello", {{"Content-Type", "multipart/form-data"}});
  EXPECT_EQ(no_boundary.result_int(), 400);
  EXPECT_EQ(Call("GET", "pipelines")["total_size"], 0);
}

class KfpSmallBodyTest : public KfpRoutesTest {
 protected:
  KfpSmallBodyTest() { max_body_bytes_ = 64 * 1024; }
};

TEST_F(KfpSmallBodyTest, OversizeUploadIs413) {
  Response r =
      Raw("POST", "/apis/v2beta1/pipelines/upload", Multipart("big.yaml", std::string(100 * 1024, 'x')),
          {{"Content-Type", std::string("multipart/form-data; boundary=") + kBoundary}});
  EXPECT_EQ(r.result_int(), 413);
}

TEST_F(KfpRoutesTest, CreateAndGetRunFromSpec) {
  auto spec = ParseYaml(ReadTestdata("hello_world.yaml"));
  ASSERT_TRUE(spec.ok());
  Json exp = Call("POST", "experiments", {{"display_name", "e"}});
  Json run =
      Call("POST", "runs",
           {{"experiment_id", exp["experiment_id"]},
            {"display_name", "first run"},
            {"pipeline_spec", *spec},
            {"runtime_config", {{"parameters", {{"recipient", "Ferry"}}}, {"pipeline_root", "/tmp/root"}}}});
  EXPECT_EQ(engine_->last_request.display_name, "first run");
  EXPECT_EQ(engine_->last_request.parameters.at("recipient"), "Ferry");
  EXPECT_EQ(engine_->last_request.pipeline_root, "/tmp/root");
  EXPECT_EQ(engine_->last_request.experiment_id, exp["experiment_id"]);
  EXPECT_EQ(run["state"], "RUNNING");
  EXPECT_EQ(run["storage_state"], "AVAILABLE");
  EXPECT_EQ(run["experiment_id"], exp["experiment_id"]);
  EXPECT_EQ(run["runtime_config"]["parameters"]["recipient"], "Ferry");
  EXPECT_EQ(run["pipeline_spec"]["pipelineInfo"]["name"], "hello-world");
  EXPECT_FALSE(run.contains("pipeline_version_reference"));
  const std::string id = run["run_id"];

  Json got = Call("GET", "runs/" + id);
  const Json& tasks = got["run_details"]["task_details"];
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_EQ(tasks[0]["task_id"], "root");
  EXPECT_EQ(tasks[0]["child_tasks"][0]["task_id"], "root/say-hello");
  EXPECT_EQ(tasks[1]["parent_task_id"], "root");
  EXPECT_EQ(tasks[1]["state"], "SUCCEEDED");
  EXPECT_EQ(tasks[1]["display_name"], "say-hello");
  EXPECT_EQ(tasks[1]["output_parameters"]["Output"], "Hello, World!");
  EXPECT_EQ(tasks[1]["outputs"]["model"]["artifact_ids"][0], "/tmp/a/model");
  EXPECT_EQ(tasks[1]["end_time"], "2023-11-14T22:13:21Z");

  // The experiment learnt of its run.
  EXPECT_EQ(Call("GET", "experiments/" + std::string(exp["experiment_id"]))["last_run_created_at"],
            "2023-11-14T22:13:20Z");

  engine_->SetState(id, RunState::kFailed, "boom");
  got = Call("GET", "runs/" + id);
  EXPECT_EQ(got["state"], "FAILED");
  EXPECT_EQ(got["error"]["message"], "boom");
  EXPECT_EQ(Call("POST", "runs/" + id + ":retry", Json::object()), Json::object());
  EXPECT_EQ(Call("GET", "runs/" + id)["state"], "RUNNING");
  ExpectError(Call("POST", "runs/" + id + ":retry", Json::object(), 400), 9, "retried");
  ExpectError(Call("GET", "runs/nope", nullptr, 404), 5, "not found");
}

TEST_F(KfpRoutesTest, RunsGoToTheDefaultExperimentAndNeedAnExistingOne) {
  auto spec = ParseYaml(ReadTestdata("hello_world.yaml"));
  ASSERT_TRUE(spec.ok());
  Json run = Call("POST", "runs", {{"display_name", "r"}, {"pipeline_spec", *spec}});
  EXPECT_EQ(run["experiment_id"], DefaultExperimentId());
  ExpectError(
      Call("POST", "runs", {{"display_name", "r"}, {"experiment_id", "nope"}, {"pipeline_spec", *spec}}, 404),
      5, "not found");
  Json exp = Call("POST", "experiments", {{"display_name", "archived"}});
  Call("POST", "experiments/" + std::string(exp["experiment_id"]) + ":archive", Json::object());
  ExpectError(
      Call("POST", "runs",
           {{"display_name", "r"}, {"experiment_id", exp["experiment_id"]}, {"pipeline_spec", *spec}}, 400),
      9, "archived");
}

TEST_F(KfpRoutesTest, CreateRunFromUploadedVersion) {
  const std::string yaml = ReadTestdata("hello_world.yaml");
  Json p = Upload("pipelines/upload" + Query({{"name", "hello"}}), "h.yaml", yaml);
  const std::string pid = p["pipeline_id"];
  const std::string vid =
      Call("GET", "pipelines/" + pid + "/versions")["pipeline_versions"][0]["pipeline_version_id"];
  Json run = Call("POST", "runs",
                  {{"display_name", "from version"},
                   {"pipeline_version_reference", {{"pipeline_id", pid}, {"pipeline_version_id", vid}}}});
  EXPECT_EQ(run["pipeline_version_reference"]["pipeline_version_id"], vid);
  EXPECT_EQ(run["pipeline_version_reference"]["pipeline_id"], pid);
  EXPECT_FALSE(run.contains("pipeline_spec"));
  EXPECT_EQ(engine_->last_request.pipeline_text, yaml);
  // Only the pipeline: its latest version.
  Call("POST", "runs", {{"display_name", "latest"}, {"pipeline_version_reference", {{"pipeline_id", pid}}}});
  EXPECT_EQ(engine_->last_request.pipeline_version_id, vid);
  ExpectError(Call("POST", "runs",
                   {{"display_name", "x"},
                    {"pipeline_version_reference", {{"pipeline_id", pid}, {"pipeline_version_id", "no"}}}},
                   404),
              5, "not found");
}

TEST_F(KfpRoutesTest, CreateRunBadInput) {
  auto spec = ParseYaml(ReadTestdata("hello_world.yaml"));
  ASSERT_TRUE(spec.ok());
  ExpectError(Call("POST", "runs", {{"pipeline_spec", *spec}}, 400), 3, "Run name is empty");
  ExpectError(Call("POST", "runs", {{"display_name", "r"}}, 400), 3, "pipeline_spec");
  ExpectError(Call("POST", "runs",
                   {{"display_name", "r"},
                    {"pipeline_spec", *spec},
                    {"pipeline_version_reference", {{"pipeline_id", "p"}}}},
                   400),
              3, "not both");
  ExpectError(Call("POST", "runs", {{"display_name", "r"}, {"pipeline_spec", *spec}, {"colour", "red"}}, 400),
              3, "unknown field");
  ExpectError(Call("POST", "runs", {{"display_name", "r"}, {"pipeline_spec", "text"}}, 400), 3,
              "must be an object");
  ExpectError(
      Call("POST", "runs", {{"display_name", "r"}, {"pipeline_spec", *spec}, {"runtime_config", 3}}, 400), 3,
      "runtime_config");
  ExpectError(
      Call("POST", "runs",
           {{"display_name", "r"}, {"pipeline_spec", *spec}, {"runtime_config", {{"parameters", {1, 2}}}}},
           400),
      3, "parameters");
  Json broken = *spec;
  broken["root"]["dag"]["tasks"]["say-hello"]["componentRef"]["name"] = "comp-missing";
  Json body = Call("POST", "runs", {{"display_name", "r"}, {"pipeline_spec", broken}}, 400);
  ExpectError(body, 3, "Failed to parse the pipeline spec");
  EXPECT_THAT(body["details"][0]["field_violations"][0].value("field", ""),
              HasSubstr("run.pipeline_spec.root"));
  Response bad = Raw("POST", "/apis/v2beta1/runs", "[1,2]", {{"Content-Type", "application/json"}});
  EXPECT_EQ(bad.result_int(), 400);
  EXPECT_EQ(Call("GET", "runs")["total_size"], 0);
}

TEST_F(KfpRoutesTest, ListTerminateArchiveDeleteRuns) {
  auto spec = ParseYaml(ReadTestdata("hello_world.yaml"));
  ASSERT_TRUE(spec.ok());
  Json exp = Call("POST", "experiments", {{"display_name", "e"}});
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    env_.AdvanceMicros(1'000'000);
    Json body = {{"display_name", "run-" + std::to_string(i)}, {"pipeline_spec", *spec}};
    if (i % 2 == 0) body["experiment_id"] = exp["experiment_id"];
    ids.push_back(Call("POST", "runs", body)["run_id"]);
  }
  Json all = Call("GET", "runs" + Query({{"sort_by", "created_at desc"}, {"page_size", "2"}}));
  EXPECT_EQ(all["total_size"], 5);
  ASSERT_EQ(all["runs"].size(), 2u);
  EXPECT_EQ(all["runs"][0]["display_name"], "run-4");
  EXPECT_FALSE(all["runs"][0].contains("run_details"));
  Json next = Call("GET", "runs" + Query({{"page_token", all["next_page_token"]}, {"page_size", "2"}}));
  EXPECT_EQ(next["runs"][0]["display_name"], "run-2");

  Json in_exp = Call("GET", "runs" + Query({{"experiment_id", exp["experiment_id"]}}));
  EXPECT_EQ(in_exp["total_size"], 3);

  EXPECT_EQ(Call("POST", "runs/" + ids[0] + ":terminate", Json::object()), Json::object());
  EXPECT_EQ(Call("GET", "runs/" + ids[0])["state"], "CANCELED");
  ExpectError(Call("POST", "runs/" + ids[0] + ":terminate", Json::object(), 400), 9, "finished");
  Json canceled = Call(
      "GET",
      "runs" +
          Query({{"filter",
                  Filter({{{"operation", "EQUALS"}, {"key", "state"}, {"string_value", "CANCELED"}}})}}));
  ASSERT_EQ(canceled["total_size"], 1);
  EXPECT_EQ(canceled["runs"][0]["run_id"], ids[0]);
  Json named = Call("GET", "runs" + Query({{"filter", Filter({{{"operation", "IS_SUBSTRING"},
                                                               {"key", "display_name"},
                                                               {"string_value", "-3"}}})}}));
  ASSERT_EQ(named["total_size"], 1);
  EXPECT_EQ(named["runs"][0]["run_id"], ids[3]);

  Call("POST", "runs/" + ids[1] + ":archive", Json::object());
  EXPECT_EQ(Call("GET", "runs/" + ids[1])["storage_state"], "ARCHIVED");
  Json available = Call("GET", "runs" + Query({{"filter", Filter({{{"operation", "EQUALS"},
                                                                   {"key", "storage_state"},
                                                                   {"string_value", "AVAILABLE"}}})}}));
  EXPECT_EQ(available["total_size"], 4);
  Call("POST", "runs/" + ids[1] + ":unarchive", Json::object());
  EXPECT_EQ(Call("GET", "runs/" + ids[1])["storage_state"], "AVAILABLE");

  // Archiving the experiment archives its runs.
  Call("POST", "experiments/" + std::string(exp["experiment_id"]) + ":archive", Json::object());
  EXPECT_EQ(Call("GET", "runs/" + ids[2])["storage_state"], "ARCHIVED");
  EXPECT_EQ(Call("GET", "runs/" + ids[1])["storage_state"], "AVAILABLE");

  // Delete: a finished run at once, a running one after terminating it.
  EXPECT_EQ(Call("DELETE", "runs/" + ids[0]), Json::object());
  EXPECT_EQ(Call("DELETE", "runs/" + ids[3]), Json::object());
  ExpectError(Call("GET", "runs/" + ids[3], nullptr, 404), 5, "not found");
  ExpectError(Call("DELETE", "runs/" + ids[3], nullptr, 404), 5, "not found");
  EXPECT_EQ(Call("GET", "runs")["total_size"], 3);
}

}  // namespace
}  // namespace ferry::api
