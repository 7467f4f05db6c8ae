// Tests of the Katib experiment controller over a real store, study service
// and local executor, with trials that are small shell commands: the
// status Katib's tooling reads, failures, missing metrics, goals, early
// stopping, the parallelism bound, spec edits, restart and deletion.
#include "ferry/tuning/experiment_controller.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "ferry/common/json.h"
#include "ferry/executors/local/local_executor.h"
#include "ferry/store/resource_store.h"
#include "ferry/store/resource_types.h"
#include "ferry/store/testing/test_database.h"

namespace ferry::tuning {
namespace {

namespace fs = std::filesystem;
using ::ferry::store::testing::Backend;
using ::ferry::store::testing::TestDatabase;
using ::testing::HasSubstr;

// A Katib experiment whose trial runs `command` (sh -c) with ${trialParameters.x}
// and ${trialParameters.y} bound to x in [-3, 3] and y in [0, 1].
std::string ExperimentYaml(const std::string& name, const std::string& command, const std::string& extra_spec = "") {
  return "apiVersion: kubeflow.org/v1beta1\n"
         "kind: Experiment\n"
         "metadata:\n"
         "  name: " + name + "\n"
         "  namespace: default\n"
         "spec:\n"
         "  objective:\n"
         "    type: minimize\n"
         "    objectiveMetricName: loss\n"
         "    additionalMetricNames: [accuracy]\n"
         "  algorithm:\n"
         "    algorithmName: random\n" +
         extra_spec +
         "  parameters:\n"
         "    - name: x\n"
         "      parameterType: double\n"
         "      feasibleSpace: {min: \"-3\", max: \"3\"}\n"
         "    - name: y\n"
         "      parameterType: double\n"
         "      feasibleSpace: {min: \"0\", max: \"1\"}\n"
         "  trialTemplate:\n"
         "    primaryContainerName: training-container\n"
         "    trialParameters:\n"
         "      - {name: x, reference: x}\n"
         "      - {name: y, reference: y}\n"
         "    trialSpec:\n"
         "      apiVersion: batch/v1\n"
         "      kind: Job\n"
         "      spec:\n"
         "        template:\n"
         "          spec:\n"
         "            containers:\n"
         "              - name: training-container\n"
         "                image: docker.io/library/busybox:latest\n"
         "                command: [sh, -c, '" + command + "']\n"
         "            restartPolicy: Never\n";
}

// Prints loss = x^2 + y and accuracy = 1 - y.
constexpr char kQuadratic[] =
    "awk -v x=${trialParameters.x} -v y=${trialParameters.y} "
    "\"BEGIN { print \\\"loss=\\\" x*x+y; print \\\"accuracy=\\\" 1-y }\"";

class ExperimentControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tdb_ = TestDatabase::Create(Backend::kSqlite);
    ASSERT_TRUE(tdb_);
    char tmpl[] = "/tmp/ferry-experiments-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_TRUE(RegisterTuningTypes(types_).ok());
    resources_ = std::make_unique<store::ResourceStore>(&tdb_->db(), Env::Default());
    Open();
  }

  void TearDown() override {
    Close();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void Open() {
    auto studies = StudyService::Open(&tdb_->db(), Env::Default());
    ASSERT_TRUE(studies.ok()) << studies.status().message();
    studies_ = std::move(*studies);
    executors::LocalExecutorOptions eo;
    eo.state_dir = dir_ + "/executor";
    eo.kill_grace = std::chrono::milliseconds(200);
    auto executor = executors::LocalExecutor::Create(eo);
    ASSERT_TRUE(executor.ok()) << executor.status().message();
    executor_ = std::move(*executor);
    ExperimentControllerOptions options;
    options.data_dir = dir_;
    options.base_env = {{"PATH", "/usr/bin:/bin"}};
    options.poll_interval = std::chrono::milliseconds(50);
    auto controller =
        ExperimentController::Start(resources_.get(), studies_.get(), executor_.get(), Env::Default(), options);
    ASSERT_TRUE(controller.ok()) << controller.status().message();
    controller_ = std::move(*controller);
  }

  void Close() {
    if (controller_) controller_->Shutdown();
    if (executor_) executor_->Shutdown();
    controller_.reset();
    executor_.reset();
    studies_.reset();
  }

  Status Apply(const std::string& yaml) {
    auto object = ParseYaml(yaml);
    if (!object.ok()) return object.status();
    const store::ResourceType* type = types_.Find("experiments.kubeflow.org");
    Status valid = types_.ValidateObject(*type, *object, "default", "");
    if (!valid.ok()) ADD_FAILURE() << valid.message() << " (" << valid.field() << ")";
    RETURN_IF_ERROR(valid);
    return resources_->Create(kExperimentsKey, *object).status();
  }

  Json Get(const std::string& name) {
    auto got = resources_->Get(kExperimentsKey, "default", name);
    return got.ok() ? *got : Json();
  }

  // Waits (up to a minute) until the experiment's status satisfies `done`.
  Json WaitFor(const std::string& name, const std::function<bool(const Json&)>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    Json object;
    while (std::chrono::steady_clock::now() < deadline) {
      object = Get(name);
      if (object.is_object() && object.contains("status") && done(object["status"])) return object;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "timed out; last status: " << object.value("status", Json()).dump(2);
    return object;
  }

  static bool Condition(const Json& status, const std::string& type) {
    for (const Json& c : status.value("conditions", Json::array()))
      if (c.value("type", "") == type && c.value("status", "") == "True") return true;
    return false;
  }

  static std::string Reason(const Json& status, const std::string& type) {
    for (const Json& c : status.value("conditions", Json::array()))
      if (c.value("type", "") == type) return c.value("reason", "") + ": " + c.value("message", "");
    return {};
  }

  static bool Ended(const Json& status) { return Condition(status, "Succeeded") || Condition(status, "Failed"); }

  std::vector<Json> Trials(const std::string& experiment) {
    store::ListOptions list;
    list.ns = "default";
    list.selector = *store::LabelSelector::Parse(std::string(kExperimentLabel) + "=" + experiment);
    auto page = resources_->List(kTrialsKey, list);
    return page.ok() ? page->items : std::vector<Json>{};
  }

  std::unique_ptr<TestDatabase> tdb_;
  std::string dir_;
  store::ResourceTypes types_;
  std::unique_ptr<store::ResourceStore> resources_;
  std::unique_ptr<StudyService> studies_;
  std::unique_ptr<executors::LocalExecutor> executor_;
  std::unique_ptr<ExperimentController> controller_;
};

TEST_F(ExperimentControllerTest, RunsTrialsToMaxTrialCountWithKatibsStatus) {
  ASSERT_TRUE(Apply(ExperimentYaml("quad", kQuadratic, "  parallelTrialCount: 2\n  maxTrialCount: 5\n")).ok());
  Json object = WaitFor("quad", Ended);
  const Json& status = object["status"];
  ASSERT_TRUE(Condition(status, "Succeeded")) << status.dump(2);
  EXPECT_THAT(Reason(status, "Succeeded"), HasSubstr("ExperimentMaxTrialsReached"));
  EXPECT_TRUE(Condition(status, "Created"));
  EXPECT_FALSE(Condition(status, "Running"));  // false once it ended
  EXPECT_EQ(status["trials"], 5);
  EXPECT_EQ(status["trialsSucceeded"], 5);
  EXPECT_EQ(status["trialsRunning"], 0);
  EXPECT_EQ(status["succeededTrialList"].size(), 5u);
  EXPECT_TRUE(status.contains("startTime") && status.contains("completionTime"));

  // The optimal trial is the one with the smallest loss, and its metrics
  // are Katib's strings.
  const std::vector<Json> trials = Trials("quad");
  ASSERT_EQ(trials.size(), 5u);
  std::string best_name;
  double best = 1e300;
  std::set<std::string> names;
  for (const Json& t : trials) {
    names.insert(t["metadata"]["name"]);
    EXPECT_EQ(t["metadata"]["ownerReferences"][0]["uid"], object["metadata"]["uid"]);
    const Json& metrics = t["status"]["observation"]["metrics"];
    ASSERT_EQ(metrics.size(), 2u) << t.dump(2);
    EXPECT_EQ(metrics[0]["name"], "loss");
    const double loss = std::stod(metrics[0]["latest"].get<std::string>());
    if (loss < best) best = loss, best_name = t["metadata"]["name"];
    EXPECT_TRUE(Condition(t["status"], "Succeeded")) << t["status"].dump(2);
    // The trial's output is where its annotation says.
    std::ifstream log(t["metadata"]["annotations"]["tuning.ferry.dev/log"].get<std::string>());
    std::stringstream output;
    output << log.rdbuf();
    EXPECT_THAT(output.str(), HasSubstr("loss=" + metrics[0]["latest"].get<std::string>()));
    // The rendered job carries the trial's assignments.
    const std::string x = t["spec"]["parameterAssignments"][0]["value"];
    EXPECT_THAT(t["spec"]["runSpec"].dump(), HasSubstr("-v x=" + x));
  }
  EXPECT_EQ(names, (std::set<std::string>{"quad-0", "quad-1", "quad-2", "quad-3", "quad-4"}));
  const Json& optimal = status["currentOptimalTrial"];
  EXPECT_EQ(optimal["bestTrialName"], best_name);
  EXPECT_EQ(optimal["parameterAssignments"].size(), 2u);
  EXPECT_EQ(optimal["observation"]["metrics"][0]["name"], "loss");
  EXPECT_EQ(std::stod(optimal["observation"]["metrics"][0]["min"].get<std::string>()), best);
}

TEST_F(ExperimentControllerTest, GoalReachedEndsTheExperiment) {
  // Every trial meets a goal of 100 on a minimised loss below 10.
  std::string yaml = ExperimentYaml("goal", kQuadratic, "  parallelTrialCount: 1\n  maxTrialCount: 50\n");
  yaml.replace(yaml.find("    objectiveMetricName"), 0, "    goal: 100\n");
  ASSERT_TRUE(Apply(yaml).ok());
  Json object = WaitFor("goal", Ended);
  EXPECT_THAT(Reason(object["status"], "Succeeded"), HasSubstr("ExperimentGoalReached"));
  EXPECT_EQ(object["status"]["trialsSucceeded"], 1);
}

TEST_F(ExperimentControllerTest, FailedTrialsCountTowardMaxFailedTrialCount) {
  ASSERT_TRUE(Apply(ExperimentYaml("fails", "echo crashing at ${trialParameters.x} ${trialParameters.y}; exit 3",
                                   "  parallelTrialCount: 1\n  maxTrialCount: 10\n  maxFailedTrialCount: 2\n"))
                  .ok());
  Json object = WaitFor("fails", Ended);
  const Json& status = object["status"];
  ASSERT_TRUE(Condition(status, "Failed")) << status.dump(2);
  EXPECT_THAT(Reason(status, "Failed"), HasSubstr("max failed count"));
  EXPECT_THAT(Reason(status, "Failed"), HasSubstr("status 3"));
  EXPECT_EQ(status["trialsFailed"], 3);
  EXPECT_EQ(status["trials"], 3);
}

TEST_F(ExperimentControllerTest, TrialsThatCannotStartCountAsFailedOneAtATime) {
  std::string yaml = ExperimentYaml("nowhere", kQuadratic,
                                    "  parallelTrialCount: 3\n  maxTrialCount: 50\n  maxFailedTrialCount: 2\n");
  yaml.replace(yaml.find("                command:"), 0, "                workingDir: /no/such/dir\n");
  ASSERT_TRUE(Apply(yaml).ok());
  Json object = WaitFor("nowhere", Ended);
  const Json& status = object["status"];
  ASSERT_TRUE(Condition(status, "Failed")) << status.dump(2);
  EXPECT_THAT(Reason(status, "Failed"), HasSubstr("workingDir /no/such/dir is not a directory"));
  EXPECT_EQ(status["trials"], 3);  // not 50: the failures count as they happen
}

TEST_F(ExperimentControllerTest, AnObjectiveNeverReportedIsMetricsUnavailable) {
  ASSERT_TRUE(Apply(ExperimentYaml("silent", "echo x=${trialParameters.x} y=${trialParameters.y} accuracy=0.5",
                                   "  parallelTrialCount: 1\n  maxTrialCount: 10\n  maxFailedTrialCount: 1\n"))
                  .ok());
  Json object = WaitFor("silent", Ended);
  const Json& status = object["status"];
  ASSERT_TRUE(Condition(status, "Failed")) << status.dump(2);
  EXPECT_THAT(Reason(status, "Failed"), HasSubstr("objective metric loss was never reported"));
  EXPECT_EQ(status["trialMetricsUnavailable"], 2);
  const std::vector<Json> trials = Trials("silent");
  ASSERT_FALSE(trials.empty());
  EXPECT_TRUE(Condition(trials[0]["status"], "MetricsUnavailable")) << trials[0].dump(2);
  EXPECT_EQ(trials[0]["status"]["observation"]["metrics"][0]["latest"], "unavailable");
  EXPECT_EQ(trials[0]["status"]["observation"]["metrics"][1]["latest"], "0.5");
}

TEST_F(ExperimentControllerTest, ParallelTrialsNeverExceedParallelTrialCount) {
  // Each trial appends "start" and "end" lines to a shared file.
  const std::string log = dir_ + "/spans";
  // A second long enough for both of a pair to start on a loaded machine.
  const std::string command = "echo start >> " + log + "; sleep 1; echo end >> " + log + "; " + kQuadratic;
  ASSERT_TRUE(Apply(ExperimentYaml("par", command, "  parallelTrialCount: 2\n  maxTrialCount: 4\n")).ok());
  WaitFor("par", Ended);
  std::ifstream in(log);
  int running = 0, peak = 0, starts = 0;
  for (std::string line; std::getline(in, line);) {
    running += line == "start" ? 1 : -1;
    starts += line == "start";
    peak = std::max(peak, running);
  }
  EXPECT_EQ(starts, 4);
  EXPECT_LE(peak, 2);
  EXPECT_EQ(peak, 2);  // and the bound is used
}

TEST_F(ExperimentControllerTest, MedianStopEarlyStopsPoorTrials) {
  // Trial k prints 8 losses; x near 0 gives small ones. Poor trials are
  // stopped once three trials completed.
  const std::string command =
      "awk -v x=${trialParameters.x} -v y=${trialParameters.y} \"BEGIN { for (i = 1; i <= 8; i++) { "
      "print \\\"loss=\\\" (x*x+y) * (9-i); system(\\\"sleep 0.1\\\") } }\"";
  ASSERT_TRUE(Apply(ExperimentYaml("median", command,
                                   "  parallelTrialCount: 1\n  maxTrialCount: 14\n"
                                   "  earlyStopping:\n    algorithmName: medianstop\n"
                                   "    algorithmSettings:\n      - {name: min_trials_required, value: \"3\"}\n"
                                   "      - {name: start_step, value: \"2\"}\n"))
                  .ok());
  Json object = WaitFor("median", Ended);
  const Json& status = object["status"];
  EXPECT_GT(status["trialsEarlyStopped"].get<int>(), 0) << status.dump(2);
  for (const Json& t : Trials("median")) {
    if (!Condition(t["status"], "EarlyStopped")) continue;
    EXPECT_NE(t["status"]["observation"]["metrics"][0]["latest"], "unavailable");
  }
}

TEST_F(ExperimentControllerTest, SpecEditsAreLimitedToTrialCountsAndRestartLongRunning) {
  std::string yaml = ExperimentYaml("edit", kQuadratic, "  parallelTrialCount: 1\n  maxTrialCount: 2\n");
  yaml += "  resumePolicy: LongRunning\n";
  ASSERT_TRUE(Apply(yaml).ok());
  Json object = WaitFor("edit", Ended);
  ASSERT_TRUE(Condition(object["status"], "Succeeded"));

  const store::ResourceType* type = types_.Find("experiments.kubeflow.org");
  Json changed = object;
  changed["spec"]["algorithm"]["algorithmName"] = "grid";
  Status refused = types_.ValidateUpdate(*type, object, changed);
  EXPECT_EQ(refused.field(), "spec.algorithm");
  changed = object;
  changed["spec"]["maxTrialCount"] = 4;
  ASSERT_TRUE(types_.ValidateUpdate(*type, object, changed).ok());
  ASSERT_TRUE(resources_->Replace(kExperimentsKey, changed).ok());
  object = WaitFor("edit", [](const Json& s) { return s.value("trialsSucceeded", 0) == 4 && Ended(s); });
  EXPECT_THAT(Reason(object["status"], "Succeeded"), HasSubstr("ExperimentMaxTrialsReached"));
  EXPECT_EQ(Trials("edit").size(), 4u);
}

TEST_F(ExperimentControllerTest, RestartResumesWithoutRepeatingOrLosingTrials) {
  const std::string runs = dir_ + "/runs";
  const std::string command = "echo ${trialParameters.x} >> " + runs + "; sleep 0.3; " + kQuadratic;
  ASSERT_TRUE(Apply(ExperimentYaml("resume", command, "  parallelTrialCount: 2\n  maxTrialCount: 6\n")).ok());
  WaitFor("resume", [](const Json& s) { return s.value("trialsSucceeded", 0) >= 1 && s.value("trialsRunning", 0) > 0; });
  Close();  // the trials keep running
  Open();
  Json object = WaitFor("resume", Ended);
  EXPECT_TRUE(Condition(object["status"], "Succeeded")) << object["status"].dump(2);
  EXPECT_EQ(object["status"]["trialsSucceeded"], 6);
  std::ifstream in(runs);
  std::multiset<std::string> xs;
  for (std::string line; std::getline(in, line);) xs.insert(line);
  EXPECT_EQ(xs.size(), 6u);  // each trial ran once
  EXPECT_EQ(std::set<std::string>(xs.begin(), xs.end()).size(), 6u);
}

TEST_F(ExperimentControllerTest, DeletingAnExperimentCancelsAndDeletesItsTrials) {
  const std::string command = "sleep 30; " + std::string(kQuadratic);
  ASSERT_TRUE(Apply(ExperimentYaml("gone", command, "  parallelTrialCount: 2\n  maxTrialCount: 4\n")).ok());
  Json object = WaitFor("gone", [](const Json& s) { return s.value("trialsRunning", 0) == 2; });
  // The Trial objects say so too, with their start time.
  for (const Json& t : Trials("gone")) {
    EXPECT_TRUE(Condition(t["status"], "Running")) << t.dump(2);
    EXPECT_TRUE(t["status"].contains("startTime"));
  }
  const std::string uid = object["metadata"]["uid"];
  ASSERT_TRUE(resources_->Delete(kExperimentsKey, "default", "gone").ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline && (!Trials("gone").empty() || fs::exists(dir_ + "/tuning/" + uid)))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(Trials("gone").empty());
  EXPECT_FALSE(fs::exists(dir_ + "/tuning/" + uid));
  EXPECT_EQ(studies_->GetStudy("katib-" + uid).status().code(), StatusCode::kNotFound);
}

TEST_F(ExperimentControllerTest, FileAndPushCollectors) {
  // File: the path is mapped into the trial's sandbox.
  std::string yaml = ExperimentYaml("file",
                                    "mkdir -p /var/log/katib && " + std::string(kQuadratic) + " > /var/log/katib/m.log",
                                    "  parallelTrialCount: 1\n  maxTrialCount: 2\n"
                                    "  metricsCollectorSpec:\n    collector: {kind: File}\n"
                                    "    source: {fileSystemPath: {path: /var/log/katib/m.log, kind: File}}\n");
  ASSERT_TRUE(Apply(yaml).ok());
  Json object = WaitFor("file", Ended);
  EXPECT_EQ(object["status"]["trialsSucceeded"], 2) << object["status"].dump(2);

  // Push: the trial appends JSON lines to $FERRY_TRIAL_METRICS_FILE.
  yaml = ExperimentYaml("push", "echo ${trialParameters.x} ${trialParameters.y}; echo \"{\\\"loss\\\": 0.25}\" >> \"$FERRY_TRIAL_METRICS_FILE\"",
                        "  parallelTrialCount: 1\n  maxTrialCount: 2\n"
                        "  metricsCollectorSpec:\n    collector: {kind: Push}\n");
  ASSERT_TRUE(Apply(yaml).ok());
  object = WaitFor("push", Ended);
  EXPECT_EQ(object["status"]["trialsSucceeded"], 2) << object["status"].dump(2);
  EXPECT_EQ(object["status"]["currentOptimalTrial"]["observation"]["metrics"][0]["latest"], "0.25");
}

TEST_F(ExperimentControllerTest, TrialsCannotBeWrittenThroughTheApi) {
  const store::ResourceType* trial = types_.Find("trials");
  ASSERT_NE(trial, nullptr);
  Json object = {{"apiVersion", "kubeflow.org/v1beta1"}, {"kind", "Trial"}, {"metadata", {{"name", "t"}}}};
  Status refused = types_.ValidateObject(*trial, object, "default", "");
  EXPECT_THAT(refused.message(), HasSubstr("apply an Experiment"));
}

}  // namespace
}  // namespace ferry::tuning
