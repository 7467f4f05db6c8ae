// Tests of the DeploymentController over a real store, router and local
// executor, with replicas that are the real `ferry serve` (FERRY_BIN, else
// the `ferry` built beside this test) serving tiny ONNX models: readiness,
// rollouts, the canary split, a model that does not load, autoscaling by
// concurrency, scale to zero and back, restart with re-attachment,
// deletion and bad input. `prepare` is a stand-in for the ModelPreparer
// (our own seam): file:///PATH is PATH.
#include "ferry/serving/deployments/controller.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "ferry/common/json.h"
#include "ferry/executors/local/local_executor.h"
#include "ferry/serving/deployments/endpoint_spec.h"
#include "ferry/serving/runtimes/onnx/testing/model_builder.h"
#include "ferry/store/resource_store.h"
#include "ferry/store/resource_types.h"
#include "ferry/store/testing/test_database.h"

namespace ferry::serving::deployments {
namespace {

namespace fs = std::filesystem;
using ::ferry::serving::onnx::testing::kFloat;
using ::ferry::serving::onnx::testing::ModelBuilder;
using ::ferry::store::testing::Backend;
using ::ferry::store::testing::TestDatabase;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

// The `ferry` binary: $FERRY_BIN, else the one in a parent folder of this
// test's binary (build/<dir>/ferry).
std::string FerryBinary() {
  if (const char* env = std::getenv("FERRY_BIN"); env != nullptr && *env != '\0') return env;
  std::error_code ec;
  fs::path dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
  for (int i = 0; i < 6 && !dir.empty(); ++i, dir = dir.parent_path()) {
    if (fs::is_regular_file(dir / "ferry", ec)) return (dir / "ferry").string();
  }
  return {};
}

// y = x + `add`, x float [N, 1].
void WriteAddModel(const std::string& path, float add) {
  ModelBuilder b;
  b.Input("x", kFloat, {-1, 1}).Output("y", kFloat, {-1, 1});
  b.Initializer<float>("c", {1}, {add});
  b.Node("Add", {"x", "c"}, {"y"});
  std::ofstream(path, std::ios::binary) << b.Bytes();
}

// GET `path` from `address` (host:port) over HTTP/1.0; the status code, or
// -1 when nothing answers.
int HttpGetStatus(const std::string& address, const std::string& path) {
  const std::size_t colon = address.rfind(':');
  if (colon == std::string::npos) return -1;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1))));
  if (inet_pton(AF_INET, address.substr(0, colon).c_str(), &sa.sin_addr) != 1) return -1;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  int status = -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0) {
    const std::string request = "GET " + path + " HTTP/1.0\r\nHost: " + address + "\r\n\r\n";
    if (::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buf[64] = {};
      const ssize_t got = ::read(fd, buf, sizeof(buf) - 1);
      // "HTTP/1.1 200 OK"
      if (got > 12) status = std::atoi(buf + 9);
    }
  }
  ::close(fd);
  return status;
}

class DeploymentControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ferry_ = FerryBinary();
    ASSERT_FALSE(ferry_.empty()) << "set FERRY_BIN to the ferry binary";
    tdb_ = TestDatabase::Create(Backend::kSqlite);
    ASSERT_TRUE(tdb_);
    char tmpl[] = "/tmp/ferry-deployments-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_TRUE(RegisterServingTypes(types_).ok());
    resources_ = std::make_unique<store::ResourceStore>(&tdb_->db(), Env::Default());
    model1_ = dir_ + "/plus1.onnx";
    model2_ = dir_ + "/plus2.onnx";
    WriteAddModel(model1_, 1);
    WriteAddModel(model2_, 2);
    std::ofstream(dir_ + "/garbage.onnx") << "this is not an onnx model";
  }

  void TearDown() override {
    Close(/*stop_replicas=*/true);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  DeploymentControllerOptions Options() {
    DeploymentControllerOptions options;
    options.data_dir = dir_ + "/data";
    options.ferry_binary = ferry_;
    options.base_env = {{"PATH", "/usr/bin:/bin"}};
    options.gateway_url = "http://127.0.0.1:8080";
    options.prepare = [this](const std::string& format, const std::string& uri,
                             const std::string& key) -> Result<PreparedModel> {
      ++prepared_;
      if (format != "onnx") return InvalidArgument("modelFormat " + format + " is not onnx");
      if (!uri.starts_with("file://")) return InvalidArgument("storageUri " + uri + " is not file://");
      const std::string path = uri.substr(7);
      if (!fs::exists(path)) return FailedPrecondition("no model at " + path);
      return PreparedModel{path, "onnx", uri, ""};
    };
    options.scale_interval = 100ms;
    options.drain_timeout = 5s;
    options.ready_timeout = 30s;
    return options;
  }

  void Open(DeploymentControllerOptions options) {
    executors::LocalExecutorOptions eo;
    eo.state_dir = dir_ + "/executor";
    eo.kill_grace = 2s;
    auto executor = executors::LocalExecutor::Create(eo);
    ASSERT_TRUE(executor.ok()) << executor.status().message();
    executor_ = std::move(*executor);
    auto controller = DeploymentController::Start(resources_.get(), &router_, executor_.get(), Env::Default(),
                                                  std::move(options));
    ASSERT_TRUE(controller.ok()) << controller.status().message();
    controller_ = std::move(*controller);
  }
  void Open() { Open(Options()); }

  // Stops the controller and the executor; with stop_replicas, deletes the
  // endpoints first so their processes end.
  void Close(bool stop_replicas) {
    if (stop_replicas && controller_) {
      auto list = resources_->List(kInferenceServicesKey, {});
      if (list.ok()) {
        for (const Json& item : list->items)
          (void)resources_->Delete(kInferenceServicesKey, "default",
                                   item["metadata"]["name"].get<std::string>());
      }
      WaitFor([&] { return !AnyReplicaProcess(); }, 20s);
    }
    if (controller_) controller_->Shutdown();
    if (executor_) executor_->Shutdown();
    controller_.reset();
    executor_.reset();
  }

  // Any `ferry serve` with a ready file under this test's folder.
  bool AnyReplicaProcess() const { return !ReplicaPids().empty(); }
  std::vector<int> ReplicaPids() const {
    std::vector<int> pids;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/proc", ec)) {
      const std::string name = entry.path().filename().string();
      if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
      std::ifstream in(entry.path() / "cmdline", std::ios::binary);
      std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (cmdline.find(std::string("serve") + '\0') != std::string::npos &&
          cmdline.find(dir_ + "/data/serving/") != std::string::npos)
        pids.push_back(std::stoi(name));
    }
    return pids;
  }

  static std::string Isvc(const std::string& name, const std::string& uri,
                          const std::string& predictor_extra = "", const std::string& annotations = "") {
    return "apiVersion: serving.kserve.io/v1beta1\n"
           "kind: InferenceService\n"
           "metadata:\n"
           "  name: " +
           name +
           "\n"
           "  namespace: default\n" +
           (annotations.empty() ? "" : "  annotations:\n" + annotations) +
           "spec:\n"
           "  predictor:\n" +
           predictor_extra +
           "    model:\n"
           "      modelFormat: {name: onnx}\n"
           "      storageUri: " +
           uri + "\n";
  }

  Status Apply(const std::string& yaml) {
    auto object = ParseYaml(yaml);
    if (!object.ok()) return object.status();
    const std::string name = (*object)["metadata"]["name"].get<std::string>();
    auto existing = resources_->Get(kInferenceServicesKey, "default", name);
    if (existing.ok()) return resources_->Replace(kInferenceServicesKey, *object).status();
    return resources_->Create(kInferenceServicesKey, *object).status();
  }

  Json StatusOf(const std::string& name) {
    auto got = resources_->Get(kInferenceServicesKey, "default", name);
    return got.ok() && got->contains("status") ? (*got)["status"] : Json::object();
  }

  static bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(20ms);
    }
    return done();
  }

  static std::string Condition(const Json& status, const std::string& type) {
    if (!status.contains("conditions")) return "";
    for (const Json& c : status["conditions"])
      if (c.value("type", "") == type) return c.value("status", "");
    return "";
  }

  // The traffic of status.components.predictor as "revision=percent,...".
  static std::string Traffic(const Json& status) {
    std::string out;
    if (!status.contains("components")) return out;
    for (const Json& t : status["components"]["predictor"]["traffic"]) {
      if (!out.empty()) out += ",";
      out += t["revisionName"].get<std::string>() + "=" + std::to_string(t["percent"].get<int>());
    }
    return out;
  }

  // Ready replicas of revision `number` per status.ferry.
  static int ReadyReplicas(const Json& status, int number) {
    if (!status.contains("ferry")) return -1;
    for (const Json& rev : status["ferry"]["revisions"])
      if (rev["number"].get<int>() == number) return rev["readyReplicas"].get<int>();
    return 0;
  }

  static int RevisionCount(const Json& status) {
    return status.contains("ferry") ? static_cast<int>(status["ferry"]["revisions"].size()) : -1;
  }

  bool WaitReady(const std::string& name) {
    return WaitFor([&] { return Condition(StatusOf(name), "Ready") == "True"; }, 30s);
  }

  // The replica a request to `endpoint` is sent to, and its revision.
  std::pair<std::string, std::string> Route(const std::string& endpoint) {
    auto lease = router_.Acquire("default/" + endpoint, 10s);
    if (!lease.ok()) return {"", lease.status().message()};
    return {lease->address(), lease->revision()};
  }

  std::string ferry_;
  std::string dir_, model1_, model2_;
  std::unique_ptr<TestDatabase> tdb_;
  store::ResourceTypes types_;
  std::unique_ptr<store::ResourceStore> resources_;
  Router router_;
  std::unique_ptr<executors::LocalExecutor> executor_;
  std::unique_ptr<DeploymentController> controller_;
  std::atomic<int> prepared_{0};
};

TEST_F(DeploymentControllerTest, RunsAReplicaRoutesItAndReportsKServeStatus) {
  Open();
  ASSERT_TRUE(Apply(Isvc("ep", "file://" + model1_)).ok());
  ASSERT_TRUE(WaitReady("ep")) << StatusOf("ep").dump();
  const Json status = StatusOf("ep");
  EXPECT_EQ(Condition(status, "PredictorReady"), "True");
  EXPECT_EQ(Condition(status, "IngressReady"), "True");
  EXPECT_EQ(status["url"], "http://127.0.0.1:8080/v2/models/ep");
  const Json& predictor = status["components"]["predictor"];
  EXPECT_EQ(predictor["latestCreatedRevision"], "ep-predictor-00001");
  EXPECT_EQ(predictor["latestReadyRevision"], "ep-predictor-00001");
  EXPECT_EQ(Traffic(status), "ep-predictor-00001=100");
  EXPECT_EQ(status["modelStatus"]["states"]["activeModelState"], "Loaded");
  EXPECT_EQ(status["modelStatus"]["transitionStatus"], "UpToDate");

  auto [address, revision] = Route("ep");
  EXPECT_EQ(revision, "ep-predictor-00001");
  // The routed replica is a live `ferry serve` with the model loaded.
  EXPECT_EQ(HttpGetStatus(address, "/v2/health/ready"), 200) << address;
  EXPECT_EQ(HttpGetStatus(address, "/v2/models/ep/ready"), 200) << address;
  EXPECT_EQ(ReplicaPids().size(), 1u);
}

TEST_F(DeploymentControllerTest, ANewModelRollsOutAndTheOldReplicaStops) {
  Open();
  ASSERT_TRUE(Apply(Isvc("ep", "file://" + model1_)).ok());
  ASSERT_TRUE(WaitReady("ep"));
  const std::string old_address = Route("ep").first;
  ASSERT_TRUE(Apply(Isvc("ep", "file://" + model2_)).ok());
  ASSERT_TRUE(WaitFor([&] { return Traffic(StatusOf("ep")) == "ep-predictor-00002=100"; }, 30s))
      << StatusOf("ep").dump();
  EXPECT_EQ(Route("ep").second, "ep-predictor-00002");
  // The old revision is drained, stopped and forgotten.
  ASSERT_TRUE(WaitFor([&] { return RevisionCount(StatusOf("ep")) == 1; }, 20s)) << StatusOf("ep").dump();
  EXPECT_TRUE(WaitFor([&] { return HttpGetStatus(old_address, "/v2/health/live") == -1; }, 10s));
  const Json status = StatusOf("ep");
  EXPECT_EQ(status["components"]["predictor"]["latestRolledoutRevision"], "ep-predictor-00002");
  EXPECT_EQ(status["components"]["predictor"]["previousRolledoutRevision"], "ep-predictor-00001");
  // A change that is not the model's makes no new revision.
  ASSERT_TRUE(Apply(Isvc("ep", "file://" + model2_, "    maxReplicas: 2\n")).ok());
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(StatusOf("ep")["components"]["predictor"]["latestCreatedRevision"], "ep-predictor-00002");
}

TEST_F(DeploymentControllerTest, CanarySplitsTrafficThenPromotes) {
  Open();
  ASSERT_TRUE(Apply(Isvc("ep", "file://" + model1_)).ok());
  ASSERT_TRUE(WaitReady("ep"));
  ASSERT_TRUE(Apply(Isvc("ep", "file://" + model2_, "    canaryTrafficPercent: 20\n")).ok());
  ASSERT_TRUE(
      WaitFor([&] { return Traffic(StatusOf("ep")) == "ep-predictor-00001=80,ep-predictor-00002=20"; }, 30s))
      << StatusOf("ep").dump();
  int canary = 0;
  for (int i = 0; i < 100; ++i) canary += Route("ep").second == "ep-predictor-00002" ? 1 : 0;
  EXPECT_EQ(canary, 20);
  // Roll back: 0% to the canary.
  ASSERT_TRUE(Apply(Isvc("ep", "file://" + model2_, "    canaryTrafficPercent: 0\n")).ok());
  ASSERT_TRUE(
      WaitFor([&] { return Traffic(StatusOf("ep")) == "ep-predictor-00001=100,ep-predictor-00002=0"; }, 10s))
      << StatusOf("ep").dump();
  for (int i = 0; i < 20; ++i) EXPECT_EQ(Route("ep").second, "ep-predictor-00001");
  // Promote: the field removed.
  ASSERT_TRUE(Apply(Isvc("ep", "file://" + model2_)).ok());
  ASSERT_TRUE(WaitFor([&] { return Traffic(StatusOf("ep")) == "ep-predictor-00002=100"; }, 10s))
      << StatusOf("ep").dump();
  for (int i = 0; i < 20; ++i) EXPECT_EQ(Route("ep").second, "ep-predictor-00002");
  ASSERT_TRUE(WaitFor([&] { return RevisionCount(StatusOf("ep")) == 1; }, 20s)) << StatusOf("ep").dump();
}

TEST_F(DeploymentControllerTest, AModelThatDoesNotLoadFailsItsRevisionAndThePreviousKeepsServing) {
  Open();
  ASSERT_TRUE(Apply(Isvc("ep", "file://" + model1_)).ok());
  ASSERT_TRUE(WaitReady("ep"));
  ASSERT_TRUE(Apply(Isvc("ep", "file://" + dir_ + "/garbage.onnx")).ok());
  ASSERT_TRUE(WaitFor(
      [&] { return StatusOf("ep")["modelStatus"]["states"].value("targetModelState", "") == "FailedToLoad"; },
      30s))
      << StatusOf("ep").dump();
  const Json status = StatusOf("ep");
  EXPECT_EQ(status["modelStatus"]["transitionStatus"], "BlockedByFailedLoad");
  EXPECT_EQ(status["modelStatus"]["lastFailureInfo"]["reason"], "ModelLoadFailed");
  EXPECT_THAT(status["modelStatus"]["lastFailureInfo"]["message"].get<std::string>(),
              HasSubstr("exited before it was ready"));
  EXPECT_EQ(status["modelStatus"]["lastFailureInfo"]["modelRevisionName"], "ep-predictor-00002");
  EXPECT_EQ(status["modelStatus"]["states"]["activeModelState"], "Loaded");
  EXPECT_EQ(Condition(status, "Ready"), "True");
  EXPECT_EQ(Condition(status, "LatestDeploymentReady"), "False");
  EXPECT_EQ(Traffic(status), "ep-predictor-00001=100");
  auto [address, revision] = Route("ep");
  EXPECT_EQ(revision, "ep-predictor-00001");
  EXPECT_EQ(HttpGetStatus(address, "/v2/health/ready"), 200);
  // A good model after the bad one rolls out.
  ASSERT_TRUE(Apply(Isvc("ep", "file://" + model2_)).ok());
  ASSERT_TRUE(WaitFor([&] { return Traffic(StatusOf("ep")) == "ep-predictor-00003=100"; }, 30s))
      << StatusOf("ep").dump();
  EXPECT_EQ(StatusOf("ep")["modelStatus"]["transitionStatus"], "UpToDate");
}

TEST_F(DeploymentControllerTest, AModelThatCannotBePreparedShowsThePreparersMessage) {
  Open();
  ASSERT_TRUE(Apply(Isvc("ep", "file://" + dir_ + "/missing.onnx")).ok());
  ASSERT_TRUE(WaitFor([&] { return StatusOf("ep").contains("modelStatus"); }, 10s));
  const Json status = StatusOf("ep");
  EXPECT_EQ(status["modelStatus"]["states"]["targetModelState"], "FailedToLoad");
  EXPECT_EQ(status["modelStatus"]["states"]["activeModelState"], "FailedToLoad");
  EXPECT_THAT(status["modelStatus"]["lastFailureInfo"]["message"].get<std::string>(),
              HasSubstr("no model at"));
  EXPECT_EQ(Condition(status, "Ready"), "False");
  EXPECT_FALSE(AnyReplicaProcess());
}

TEST_F(DeploymentControllerTest, ScalesUpByConcurrencyAndDownAfterTheDelay) {
  Open();
  ASSERT_TRUE(
      Apply(Isvc("ep", "file://" + model1_, "    minReplicas: 1\n    maxReplicas: 3\n    scaleTarget: 1\n",
                 "    autoscaling.knative.dev/scale-down-delay: \"1s\"\n"))
          .ok());
  ASSERT_TRUE(WaitReady("ep"));
  {
    // Two requests held in flight: two replicas wanted.
    std::vector<Router::Lease> held;
    for (int i = 0; i < 2; ++i) {
      auto lease = router_.Acquire("default/ep", 10s);
      ASSERT_TRUE(lease.ok());
      held.push_back(std::move(*lease));
    }
    ASSERT_TRUE(WaitFor([&] { return ReadyReplicas(StatusOf("ep"), 1) == 2; }, 30s)) << StatusOf("ep").dump();
    std::this_thread::sleep_for(500ms);
    EXPECT_EQ(ReadyReplicas(StatusOf("ep"), 1), 2);  // never past the load
  }
  ASSERT_TRUE(WaitFor([&] { return ReadyReplicas(StatusOf("ep"), 1) == 1; }, 30s)) << StatusOf("ep").dump();
  EXPECT_TRUE(WaitFor([&] { return ReplicaPids().size() == 1; }, 10s));
}

TEST_F(DeploymentControllerTest, ScalesToZeroAndARequestStartsAReplica) {
  Open();
  ASSERT_TRUE(Apply(Isvc("ep", "file://" + model1_, "    minReplicas: 0\n",
                         "    autoscaling.knative.dev/scale-down-delay: \"1s\"\n"
                         "    autoscaling.knative.dev/scale-to-zero-pod-retention-period: \"1s\"\n"))
                  .ok());
  ASSERT_TRUE(WaitReady("ep"));
  ASSERT_TRUE(WaitFor([&] { return ReadyReplicas(StatusOf("ep"), 1) == 0 && !AnyReplicaProcess(); }, 30s))
      << StatusOf("ep").dump();
  // Scaled to zero is still Ready (as Knative's), and a request waits for a start.
  EXPECT_EQ(Condition(StatusOf("ep"), "Ready"), "True");
  auto lease = router_.Acquire("default/ep", 30s);
  ASSERT_TRUE(lease.ok()) << lease.status().message();
  EXPECT_EQ(HttpGetStatus(lease->address(), "/v2/models/ep/ready"), 200);
  EXPECT_EQ(ReplicaPids().size(), 1u);
}

TEST_F(DeploymentControllerTest, ARestartedControllerReattachesTheRunningReplica) {
  Open();
  ASSERT_TRUE(Apply(Isvc("ep", "file://" + model1_)).ok());
  ASSERT_TRUE(WaitReady("ep"));
  const std::string address = Route("ep").first;
  const std::vector<int> pids = ReplicaPids();
  ASSERT_EQ(pids.size(), 1u);
  Close(/*stop_replicas=*/false);
  // As after a crash: a new router, executor and controller.
  router_.Remove("default/ep");
  const int prepared_before = prepared_;
  Open();
  ASSERT_TRUE(WaitFor([&] { return Route("ep").first == address; }, 10s)) << StatusOf("ep").dump();
  EXPECT_EQ(ReplicaPids(), pids);
  EXPECT_EQ(prepared_, prepared_before);  // not prepared again
  EXPECT_EQ(HttpGetStatus(address, "/v2/health/ready"), 200);
  // And it still rolls out from there.
  ASSERT_TRUE(Apply(Isvc("ep", "file://" + model2_)).ok());
  ASSERT_TRUE(WaitFor([&] { return Traffic(StatusOf("ep")) == "ep-predictor-00002=100"; }, 30s))
      << StatusOf("ep").dump();
}

TEST_F(DeploymentControllerTest, ReplicasOfAServiceDeletedWhileNoControllerRanAreStopped) {
  Open();
  ASSERT_TRUE(Apply(Isvc("ep", "file://" + model1_)).ok());
  ASSERT_TRUE(WaitReady("ep"));
  ASSERT_EQ(ReplicaPids().size(), 1u);
  Close(/*stop_replicas=*/false);
  ASSERT_TRUE(resources_->Delete(kInferenceServicesKey, "default", "ep").ok());
  Open();
  EXPECT_TRUE(WaitFor([&] { return !AnyReplicaProcess(); }, 20s));
  EXPECT_TRUE(WaitFor([&] { return fs::is_empty(dir_ + "/data/serving"); }, 10s));
}

TEST_F(DeploymentControllerTest, AReplicaThatDiesIsReplaced) {
  Open();
  ASSERT_TRUE(Apply(Isvc("ep", "file://" + model1_)).ok());
  ASSERT_TRUE(WaitReady("ep"));
  const std::string address = Route("ep").first;
  const std::vector<int> pids = ReplicaPids();
  ASSERT_EQ(pids.size(), 1u);
  ASSERT_EQ(::kill(pids[0], SIGKILL), 0);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = Route("ep");
        return !r.first.empty() && r.first != address;
      },
      30s))
      << StatusOf("ep").dump();
  EXPECT_EQ(HttpGetStatus(Route("ep").first, "/v2/health/ready"), 200);
  EXPECT_EQ(StatusOf("ep")["modelStatus"]["transitionStatus"], "UpToDate");
}

TEST_F(DeploymentControllerTest, DeletingTheServiceStopsItsReplicasAndRoutes) {
  Open();
  ASSERT_TRUE(Apply(Isvc("ep", "file://" + model1_)).ok());
  ASSERT_TRUE(WaitReady("ep"));
  ASSERT_TRUE(resources_->Delete(kInferenceServicesKey, "default", "ep").ok());
  ASSERT_TRUE(WaitFor([&] { return !AnyReplicaProcess(); }, 20s));
  auto lease = router_.Acquire("default/ep", 0ms);
  ASSERT_FALSE(lease.ok());
  EXPECT_EQ(lease.status().code(), StatusCode::kNotFound);
}

TEST_F(DeploymentControllerTest, ABadAnnotationIsReportedNamingIt) {
  Open();
  ASSERT_TRUE(
      Apply(Isvc("ep", "file://" + model1_, "", "    autoscaling.knative.dev/scale-down-delay: \"soon\"\n"))
          .ok());
  ASSERT_TRUE(WaitFor([&] { return StatusOf("ep").contains("modelStatus"); }, 10s));
  const Json status = StatusOf("ep");
  EXPECT_EQ(status["modelStatus"]["transitionStatus"], "InvalidSpec");
  EXPECT_THAT(status["modelStatus"]["lastFailureInfo"]["message"].get<std::string>(),
              HasSubstr("autoscaling.knative.dev/scale-down-delay"));
  EXPECT_EQ(Condition(status, "Ready"), "False");
  EXPECT_FALSE(AnyReplicaProcess());
}

TEST_F(DeploymentControllerTest, StartRefusesMissingOptions) {
  executors::LocalExecutorOptions eo;
  eo.state_dir = dir_ + "/executor";
  auto executor = executors::LocalExecutor::Create(eo);
  ASSERT_TRUE(executor.ok());
  DeploymentControllerOptions options = Options();
  options.ferry_binary.clear();
  auto started =
      DeploymentController::Start(resources_.get(), &router_, executor->get(), Env::Default(), options);
  ASSERT_FALSE(started.ok());
  EXPECT_THAT(started.status().message(), HasSubstr("ferry_binary"));
  options = Options();
  options.prepare = nullptr;
  started = DeploymentController::Start(resources_.get(), &router_, executor->get(), Env::Default(), options);
  ASSERT_FALSE(started.ok());
  EXPECT_THAT(started.status().message(), HasSubstr("prepare"));
  started = DeploymentController::Start(nullptr, &router_, executor->get(), Env::Default(), Options());
  EXPECT_FALSE(started.ok());
  (*executor)->Shutdown();
}

}  // namespace
}  // namespace ferry::serving::deployments
