#include "ferry/cli/tuning_views.h"

#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <sstream>

#include "ferry/api/client/testing/fake_http_server.h"
#include "ferry/common/time.h"

namespace ferry::cli {
namespace {

using api::client::testing::FakeHttpServer;
using api::client::testing::FakeRequest;
using api::client::testing::FakeResponse;

constexpr std::int64_t kNow = 1'700'000'000'000'000;

std::string Ago(std::int64_t seconds) { return FormatRfc3339(kNow - seconds * 1'000'000); }

// A Katib Experiment as the contract (section 2) has the controller write it.
Json SampleExperiment(const std::string& name = "random-example") {
  Json e = Json::parse(R"({
    "apiVersion": "kubeflow.org/v1beta1", "kind": "Experiment",
    "metadata": {"namespace": "default", "uid": "u-1", "resourceVersion": "7"},
    "spec": {
      "objective": {"type": "maximize", "goal": 0.99, "objectiveMetricName": "Validation-accuracy",
                    "additionalMetricNames": ["Train-accuracy"]},
      "algorithm": {"algorithmName": "random", "algorithmSettings": [{"name": "random_state", "value": "10"}]},
      "parallelTrialCount": 3, "maxTrialCount": 12, "maxFailedTrialCount": 3,
      "parameters": [
        {"name": "lr", "parameterType": "double",
         "feasibleSpace": {"min": "0.01", "max": "0.05", "distribution": "logUniform"}},
        {"name": "num-layers", "parameterType": "int", "feasibleSpace": {"min": "2", "max": "5", "step": "1"}},
        {"name": "optimizer", "parameterType": "categorical", "feasibleSpace": {"list": ["sgd", "adam", "ftrl"]}}]},
    "status": {
      "startTime": "2023-11-14T22:08:20Z",
      "conditions": [
        {"type": "Created", "status": "True", "reason": "ExperimentCreated", "message": "Experiment is created"},
        {"type": "Running", "status": "True", "reason": "ExperimentRunning", "message": "Experiment is running"}],
      "currentOptimalTrial": {
        "bestTrialName": "random-example-2",
        "parameterAssignments": [{"name": "lr", "value": "0.0123"}, {"name": "num-layers", "value": "3"},
                                 {"name": "optimizer", "value": "adam"}],
        "observation": {"metrics": [
          {"name": "Validation-accuracy", "min": "0.71", "max": "0.93", "latest": "0.92"},
          {"name": "Train-accuracy", "min": "0.8", "max": "0.97", "latest": "0.97"}]}},
      "trials": 12, "trialsPending": 1, "trialsRunning": 3, "trialsSucceeded": 6, "trialsFailed": 1,
      "trialsKilled": 0, "trialsEarlyStopped": 0, "trialMetricsUnavailable": 1}})");
  e["metadata"]["name"] = name;
  e["metadata"]["creationTimestamp"] = Ago(300);
  return e;
}

// A Trial of SampleExperiment: number `n`, in `state`, reporting `accuracy`
// ("" for nothing reported).
Json SampleTrial(int n, const std::string& state, const std::string& accuracy,
                 const std::string& experiment = "random-example") {
  Json t = {{"apiVersion", "kubeflow.org/v1beta1"},
            {"kind", "Trial"},
            {"metadata",
             {{"name", experiment + "-" + std::to_string(n)},
              {"namespace", "default"},
              {"labels", {{kKatibExperimentLabel, experiment}}},
              {"creationTimestamp", Ago(60)}}}};
  t["spec"]["objective"] = SampleExperiment()["spec"]["objective"];
  t["spec"]["parameterAssignments"] =
      Json::array({{{"name", "lr"}, {"value", "0.0" + std::to_string(n + 1)}},
                   {{"name", "num-layers"}, {"value", std::to_string(n % 4 + 2)}},
                   {{"name", "optimizer"}, {"value", n % 2 ? "adam" : "sgd"}}});
  t["status"]["conditions"] =
      Json::array({{{"type", "Created"}, {"status", "True"}},
                   {{"type", "Running"}, {"status", state == "Running" ? "True" : "False"}}});
  if (state != "Running") t["status"]["conditions"].push_back({{"type", state}, {"status", "True"}});
  t["status"]["observation"]["metrics"] = Json::array();
  if (!accuracy.empty())
    t["status"]["observation"]["metrics"].push_back(
        {{"name", "Validation-accuracy"}, {"min", "0.5"}, {"max", accuracy}, {"latest", accuracy}});
  return t;
}

TEST(KatibStateTest, IsTheLastTrueCondition) {
  EXPECT_EQ(KatibState(SampleExperiment()), "Running");
  Json done = SampleExperiment();
  auto& conditions = done["status"]["conditions"];
  conditions[1]["status"] = "False";
  conditions.push_back({{"type", "Succeeded"}, {"status", "True"}});
  EXPECT_EQ(KatibState(done), "Succeeded");
  conditions[2]["status"] = "False";
  EXPECT_EQ(KatibState(done), "Created");
  EXPECT_EQ(KatibState(Json::object()), "-");
  EXPECT_EQ(KatibState(Json::parse(R"({"status": {"conditions": "bad"}})")), "-");
}

TEST(ObjectiveValueTest, FollowsTheStrategy) {
  Json observation =
      Json::parse(R"({"metrics": [{"name": "loss", "min": "0.1", "max": "0.9", "latest": "0.3"},
                                                {"name": "acc", "min": "0.2", "max": "0.8", "latest": "0.7"}]})");
  EXPECT_EQ(ObjectiveValue({{"type", "minimize"}, {"objectiveMetricName", "loss"}}, observation), "0.1");
  EXPECT_EQ(ObjectiveValue({{"type", "maximize"}, {"objectiveMetricName", "acc"}}, observation), "0.8");
  Json latest = Json::parse(R"({"type": "minimize", "objectiveMetricName": "loss",
                                "metricStrategies": [{"name": "acc", "value": "min"},
                                                     {"name": "loss", "value": "latest"}]})");
  EXPECT_EQ(ObjectiveValue(latest, observation), "0.3");
  // Never reported, or reported as Katib's "unavailable".
  EXPECT_EQ(ObjectiveValue({{"type", "minimize"}, {"objectiveMetricName", "f1"}}, observation), "-");
  Json unavailable = Json::parse(R"({"metrics": [{"name": "loss", "min": "unavailable", "max": "unavailable",
                                                  "latest": "unavailable"}]})");
  EXPECT_EQ(ObjectiveValue({{"objectiveMetricName", "loss"}}, unavailable), "-");
  EXPECT_EQ(ObjectiveValue(Json::object(), observation), "-");
  EXPECT_EQ(ObjectiveValue({{"objectiveMetricName", "loss"}}, Json()), "-");
}

TEST(ExperimentTableTest, ShowsCountsAndTheBestValue) {
  Json fresh = {{"metadata", {{"name", "fresh"}, {"creationTimestamp", Ago(5)}}},
                {"spec", SampleExperiment()["spec"]}};
  TableLayout layout = ExperimentTableLayout(false);
  EXPECT_EQ(RenderTable({layout.header, layout.row(SampleExperiment(), kNow), layout.row(fresh, kNow)}),
            "NAME             STATUS    TRIALS   RUNNING   SUCCEEDED   FAILED   BEST   AGE\n"
            "random-example   Running   12       3         6           2        0.93   5m\n"
            "fresh            -         0        0         0           0        -      5s\n");
  TableLayout everywhere = ExperimentTableLayout(true);
  EXPECT_EQ(everywhere.header.front(), "NAMESPACE");
  EXPECT_EQ(everywhere.row(SampleExperiment(), kNow).front(), "default");
}

TEST(TrialTableTest, OneColumnPerParameterForOneExperiment) {
  std::vector<Json> trials = {SampleTrial(0, "Succeeded", "0.81"), SampleTrial(1, "Running", "")};
  std::vector<std::string> parameters = SharedTrialParameters(trials);
  EXPECT_EQ(parameters, (std::vector<std::string>{"lr", "num-layers", "optimizer"}));
  TableLayout layout = TrialTableLayout(parameters, false);
  EXPECT_EQ(RenderTable({layout.header, layout.row(trials[0], kNow), layout.row(trials[1], kNow)}),
            "NAME               STATE       lr     num-layers   optimizer   OBJECTIVE   AGE\n"
            "random-example-0   Succeeded   0.01   2            sgd         0.81        60s\n"
            "random-example-1   Running     0.02   3            adam        -           60s\n");
}

TEST(TrialTableTest, CompactAssignmentsAcrossExperiments) {
  std::vector<Json> trials = {SampleTrial(0, "Failed", ""), SampleTrial(4, "Succeeded", "0.7", "other")};
  EXPECT_TRUE(SharedTrialParameters(trials).empty());
  Json unlabelled = SampleTrial(0, "Failed", "");
  unlabelled["metadata"].erase("labels");
  EXPECT_TRUE(SharedTrialParameters({unlabelled}).empty());
  Json elsewhere = SampleTrial(1, "Failed", "");
  elsewhere["metadata"]["namespace"] = "team";
  EXPECT_TRUE(SharedTrialParameters({trials[0], elsewhere}).empty());
  EXPECT_TRUE(SharedTrialParameters({}).empty());

  TableLayout layout = TrialTableLayout({}, true);
  EXPECT_EQ(layout.header, (TableRow{"NAMESPACE", "NAME", "STATE", "PARAMETERS", "OBJECTIVE", "AGE"}));
  EXPECT_EQ(layout.row(trials[1], kNow), (TableRow{"default", "other-4", "Succeeded",
                                                   "lr=0.05,num-layers=2,optimizer=sgd", "0.7", "60s"}));
  EXPECT_EQ(layout.row(Json::object(), kNow), (TableRow{"", "", "-", "-", "-", "<unknown>"}));
}

TEST(SortTrialsTest, ByTheNumberEndingTheName) {
  std::vector<Json> trials;
  for (const char* name : {"exp-10", "exp-2", "odd", "exp-9", "exp-0", "abc"})
    trials.push_back({{"metadata", {{"name", name}}}});
  SortTrialsByNumber(trials);
  std::vector<std::string> names;
  for (const Json& t : trials) names.push_back(t["metadata"]["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"exp-0", "exp-2", "exp-9", "exp-10", "abc", "odd"}));
}

TEST(DescribeKatibExperimentTest, ShowsEverySection) {
  std::vector<Json> trials = {SampleTrial(0, "Succeeded", "0.81"), SampleTrial(1, "Running", ""),
                              SampleTrial(2, "Succeeded", "0.93"), SampleTrial(10, "Failed", "")};
  const std::string text = DescribeKatibExperimentText(SampleExperiment(), trials, kNow);
  EXPECT_EQ(text,
            "Name:               random-example\n"
            "Namespace:          default\n"
            "Created:            2023-11-14T22:08:20Z (5m ago)\n"
            "Status:             Running (ExperimentRunning): Experiment is running\n"
            "Started:            2023-11-14T22:08:20Z (5m ago)\n"
            "Objective:          maximize Validation-accuracy, goal 0.99\n"
            "Additional Metrics: Train-accuracy\n"
            "Algorithm:          random (random_state=10)\n"
            "Early Stopping:     <none>\n"
            "Parallel Trials:    3\n"
            "Max Trials:         12\n"
            "Max Failed Trials:  3\n"
            "Trial Counts:       12 (1 pending, 3 running, 6 succeeded, 1 failed, 1 metrics unavailable)\n"
            "\n"
            "Parameters:\n"
            "  NAME         TYPE          FEASIBLE SPACE\n"
            "  lr           double        [0.01, 0.05] (logUniform)\n"
            "  num-layers   int           [2, 5] step 1\n"
            "  optimizer    categorical   sgd, adam, ftrl\n"
            "\n"
            "Current Optimal Trial:\n"
            "  Name:         random-example-2\n"
            "  Assignments:  lr=0.0123, num-layers=3, optimizer=adam\n"
            "  METRIC                MIN    MAX    LATEST\n"
            "  Validation-accuracy   0.71   0.93   0.92\n"
            "  Train-accuracy        0.8    0.97   0.97\n"
            "\n"
            "Trials:\n"
            "  TRIAL               STATE       lr      num-layers   optimizer   Validation-accuracy\n"
            "  random-example-0    Succeeded   0.01    2            sgd         0.81\n"
            "  random-example-1    Running     0.02    3            adam        -\n"
            "  random-example-2    Succeeded   0.03    4            sgd         0.93\n"
            "  random-example-10   Failed      0.011   4            sgd         -\n");
}

TEST(DescribeKatibExperimentTest, EndedEarlyStoppingAndEmptyParts) {
  Json e = SampleExperiment();
  e["spec"]["earlyStopping"] = {
      {"algorithmName", "medianstop"},
      {"algorithmSettings", Json::array({{{"name", "min_trials_required"}, {"value", "2"}}})}};
  e["spec"]["objective"]["metricStrategies"] =
      Json::array({{{"name", "Validation-accuracy"}, {"value", "latest"}}});
  e["spec"].erase("parallelTrialCount");
  e["spec"].erase("maxTrialCount");
  e["spec"]["parameters"] = Json::array();
  e["status"]["conditions"][1]["status"] = "False";
  e["status"]["conditions"].push_back({{"type", "Failed"},
                                       {"status", "True"},
                                       {"reason", "ExperimentFailed"},
                                       {"message", "max failed trials\nreached"}});
  e["status"]["completionTime"] = Ago(10);
  e["status"]["currentOptimalTrial"] = {{"bestTrialName", ""}};
  const std::string text = DescribeKatibExperimentText(e, {}, kNow);
  EXPECT_NE(text.find("Status:             Failed (ExperimentFailed): max failed trials?reached\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("Completed:          " + Ago(10) + " (10s ago)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Metric Strategies:  Validation-accuracy=latest\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Early Stopping:     medianstop (min_trials_required=2)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Parallel Trials:    3\nMax Trials:         -\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Parameters:\n  <none>\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Current Optimal Trial:  <none>\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Trials:  <none>\n"), std::string::npos) << text;

  // Without parameters in the spec the trials' own name the columns; the
  // objective follows the strategy (latest).
  std::string with_trials = DescribeKatibExperimentText(e, {SampleTrial(3, "Succeeded", "0.9")}, kNow);
  EXPECT_NE(with_trials.find(
                "  TRIAL              STATE       lr     num-layers   optimizer   Validation-accuracy\n"
                "  random-example-3   Succeeded   0.04   5            adam        0.9\n"),
            std::string::npos)
      << with_trials;
  EXPECT_NE(DescribeKatibExperimentText(e, {}, kNow, "<unknown>").find("Trials:  <unknown>\n"),
            std::string::npos);
}

// The native API's Experiment and Trial routes, MLflow's experiment lookup,
// and discovery, enough to drive `get` and `describe`. Lists answer one
// object per page so that `continue` is followed.
class FakeKatibApi {
 public:
  explicit FakeKatibApi(bool with_katib = true)
      : with_katib_(with_katib), server_([this](const FakeRequest& r) { return Handle(r); }) {}

  std::string url() const { return server_.url(); }
  std::vector<FakeRequest> requests() const { return server_.requests(); }

  void Add(const std::string& plural, Json object) {
    std::lock_guard<std::mutex> lock(mu_);
    const std::string name = object["metadata"]["name"];
    objects_[plural][name] = std::move(object);
  }

 private:
  static FakeResponse Error(int status, const std::string& code, const std::string& message) {
    return FakeResponse::Json(status, Json{{"error", {{"code", code}, {"message", message}}}}.dump());
  }

  static std::string Decode(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '%' && i + 2 < s.size()) {
        out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
        i += 2;
      } else {
        out.push_back(s[i]);
      }
    }
    return out;
  }

  FakeResponse Handle(const FakeRequest& req) {
    std::lock_guard<std::mutex> lock(mu_);
    const std::string path = req.Path();
    if (path == "/api/v1") {
      Json resources = Json::array({{{"name", "configmaps"}, {"kind", "ConfigMap"}, {"apiVersion", "v1"}}});
      if (with_katib_) {
        resources.push_back({{"name", "experiments"},
                             {"singularName", "experiment"},
                             {"kind", "Experiment"},
                             {"apiVersion", "kubeflow.org/v1beta1"},
                             {"namespaced", true}});
        resources.push_back({{"name", "trials"},
                             {"singularName", "trial"},
                             {"kind", "Trial"},
                             {"apiVersion", "kubeflow.org/v1beta1"},
                             {"namespaced", true}});
      }
      return FakeResponse::Json(200, Json{{"kind", "APIResourceList"}, {"resources", resources}}.dump());
    }
    if (path == "/api/2.0/mlflow/experiments/get-by-name") {
      const std::string name = Decode(req.Query("experiment_name"));
      if (name != "tracked")
        return FakeResponse::Json(404, Json{{"error_code", "RESOURCE_DOES_NOT_EXIST"},
                                            {"message", "no experiment \"" + name + "\""}}
                                           .dump());
      return FakeResponse::Json(200, R"({"experiment":{"experiment_id":"4","name":"tracked",
                                        "lifecycle_stage":"active","artifact_location":"a:/4"}})");
    }
    if (path == "/api/2.0/mlflow/runs/search") return FakeResponse::Json(200, R"({"runs":[]})");
    const std::string prefix = "/api/v1/namespaces/default/";
    if (path.rfind(prefix, 0) != 0) return Error(404, "NotFound", "no route " + path);
    std::string rest = path.substr(prefix.size());
    const std::string plural = rest.substr(0, rest.find('/'));
    const std::string name =
        rest.find('/') == std::string::npos ? "" : Decode(rest.substr(rest.find('/') + 1));
    if (!with_katib_ || (plural != "experiments" && plural != "trials"))
      return Error(404, "NotFound", "no type " + plural);
    auto& objects = objects_[plural];
    if (!name.empty()) {
      auto it = objects.find(name);
      if (it == objects.end()) return Error(404, "NotFound", plural + " \"" + name + "\" not found");
      return FakeResponse::Json(200, it->second.dump());
    }
    const std::string selector = Decode(req.Query("labelSelector"));
    std::vector<Json> matching;
    for (const auto& [key, obj] : objects) {
      if (!selector.empty()) {
        auto eq = selector.find('=');
        const Json& labels = obj["metadata"].value("labels", Json::object());
        const std::string label = selector.substr(0, eq);
        if (!labels.contains(label) || labels[label] != selector.substr(eq + 1)) continue;
      }
      matching.push_back(obj);
    }
    std::size_t start = req.Query("continue").empty() ? 0 : std::stoul(req.Query("continue"));
    Json page = {{"kind", "List"}, {"metadata", {{"resourceVersion", "9"}}}, {"items", Json::array()}};
    if (start < matching.size()) page["items"].push_back(matching[start]);
    if (start + 1 < matching.size()) page["metadata"]["continue"] = std::to_string(start + 1);
    return FakeResponse::Json(200, page.dump());
  }

  bool with_katib_;
  std::mutex mu_;
  std::map<std::string, std::map<std::string, Json>> objects_;
  FakeHttpServer server_;  // last: its thread calls Handle as soon as it exists
};

struct Invocation {
  explicit Invocation(const std::string& url) : http(url), client(&http), env(kNow) {
    ctx.client = &client;
    ctx.in = &in;
    ctx.out = &out;
    ctx.err = &err;
    ctx.env = &env;
  }

  api::client::HttpClient http;
  ResourceClient client;
  std::istringstream in;
  std::ostringstream out;
  std::ostringstream err;
  FakeEnv env;
  Context ctx;
};

// A Katib experiment with trials 0..11 that other-exp's trial sits among.
void Populate(FakeKatibApi& api) {
  api.Add("experiments", SampleExperiment());
  for (int n : {11, 2, 0, 10, 1})
    api.Add("trials", SampleTrial(n, n == 2 ? "Succeeded" : "Running", n == 2 ? "0.93" : ""));
  api.Add("trials", SampleTrial(5, "Failed", "", "other-exp"));
}

TEST(KatibCommandsTest, GetExperimentNamePrefersKatib) {
  FakeKatibApi api;
  Populate(api);
  Invocation run(api.url());
  EXPECT_EQ(RunGet(run.ctx, {.kind = "experiment", .names = {"random-example"}}), kExitOk) << run.err.str();
  EXPECT_EQ(run.out.str(),
            "NAME             STATUS    TRIALS   RUNNING   SUCCEEDED   FAILED   BEST   AGE\n"
            "random-example   Running   12       3         6           2        0.93   5m\n");

  Invocation json(api.url());
  EXPECT_EQ(RunGet(json.ctx, {.kind = "experiment/random-example", .output = "json"}), kExitOk)
      << json.err.str();
  EXPECT_EQ(Json::parse(json.out.str())["kind"], "Experiment");

  Invocation name(api.url());
  EXPECT_EQ(RunGet(name.ctx, {.kind = "exp", .names = {"random-example"}, .output = "name"}), kExitOk);
  EXPECT_EQ(name.out.str(), "experiment.kubeflow.org/random-example\n");
}

TEST(KatibCommandsTest, GetExperimentNameFallsBackToMlflow) {
  FakeKatibApi api;
  Populate(api);
  Invocation run(api.url());
  EXPECT_EQ(RunGet(run.ctx, {.kind = "experiment", .names = {"tracked"}}), kExitOk) << run.err.str();
  EXPECT_EQ(run.out.str(),
            "ID   NAME      STAGE    ARTIFACT LOCATION   AGE\n"
            "4    tracked   active   a:/4                <unknown>\n");

  // Names no resource can have go straight to MLflow; neither knows "ghost".
  Invocation both(api.url());
  EXPECT_EQ(RunGet(both.ctx, {.kind = "experiment", .names = {"random-example", "My Exp", "ghost"}}),
            kExitFailed);
  EXPECT_NE(both.out.str().find("random-example   Running"), std::string::npos) << both.out.str();
  EXPECT_NE(both.err.str().find("no experiment \"My Exp\""), std::string::npos) << both.err.str();
  EXPECT_NE(both.err.str().find("no experiment \"ghost\""), std::string::npos) << both.err.str();
  for (const auto& r : api.requests())
    EXPECT_NE(r.Path(), "/api/v1/namespaces/default/experiments/My%20Exp") << r.target;

  // A server without Katib's kinds: MLflow's, as before.
  FakeKatibApi plain(false);
  Invocation old(plain.url());
  EXPECT_EQ(RunGet(old.ctx, {.kind = "experiment", .names = {"tracked"}}), kExitOk) << old.err.str();
  EXPECT_NE(old.out.str().find("tracked"), std::string::npos);
}

TEST(KatibCommandsTest, QualifiedKindAlwaysMeansKatib) {
  FakeKatibApi api;
  Populate(api);
  Invocation list(api.url());
  EXPECT_EQ(RunGet(list.ctx, {.kind = "experiments.kubeflow.org"}), kExitOk) << list.err.str();
  EXPECT_EQ(list.out.str(),
            "NAME             STATUS    TRIALS   RUNNING   SUCCEEDED   FAILED   BEST   AGE\n"
            "random-example   Running   12       3         6           2        0.93   5m\n");
  Invocation missing(api.url());
  EXPECT_EQ(RunGet(missing.ctx, {.kind = "experiments.kubeflow.org", .names = {"tracked"}}), kExitFailed);
  EXPECT_EQ(missing.err.str(), "Error from server (NotFound): experiments \"tracked\" not found\n");
}

TEST(KatibCommandsTest, GetTrialsOfOneExperiment) {
  FakeKatibApi api;
  Populate(api);
  Invocation run(api.url());
  EXPECT_EQ(RunGet(run.ctx, {.kind = "trials", .experiment = "random-example"}), kExitOk) << run.err.str();
  EXPECT_EQ(run.out.str(),
            "NAME                STATE       lr      num-layers   optimizer   OBJECTIVE   AGE\n"
            "random-example-0    Running     0.01    2            sgd         -           60s\n"
            "random-example-1    Running     0.02    3            adam        -           60s\n"
            "random-example-2    Succeeded   0.03    4            sgd         0.93        60s\n"
            "random-example-10   Running     0.011   4            sgd         -           60s\n"
            "random-example-11   Running     0.012   5            adam        -           60s\n");
  EXPECT_EQ(api.requests().back().Query("labelSelector"), "katib.kubeflow.org%2Fexperiment%3Drandom-example");

  // With -l too, both select.
  Invocation both(api.url());
  EXPECT_EQ(RunGet(both.ctx, {.kind = "trial", .selector = "a=b", .experiment = "random-example"}), kExitOk);
  EXPECT_EQ(api.requests().back().Query("labelSelector"),
            "a%3Db%2Ckatib.kubeflow.org%2Fexperiment%3Drandom-example");

  Invocation all(api.url());
  EXPECT_EQ(RunGet(all.ctx, {.kind = "trials"}), kExitOk) << all.err.str();
  EXPECT_EQ(all.out.str(),
            "NAME                STATE       PARAMETERS                             OBJECTIVE   AGE\n"
            "other-exp-5         Failed      lr=0.06,num-layers=3,optimizer=adam    -           60s\n"
            "random-example-0    Running     lr=0.01,num-layers=2,optimizer=sgd     -           60s\n"
            "random-example-1    Running     lr=0.02,num-layers=3,optimizer=adam    -           60s\n"
            "random-example-2    Succeeded   lr=0.03,num-layers=4,optimizer=sgd     0.93        60s\n"
            "random-example-10   Running     lr=0.011,num-layers=4,optimizer=sgd    -           60s\n"
            "random-example-11   Running     lr=0.012,num-layers=5,optimizer=adam   -           60s\n");

  Invocation one(api.url());
  EXPECT_EQ(RunGet(one.ctx, {.kind = "trial/random-example-2"}), kExitOk) << one.err.str();
  EXPECT_EQ(one.out.str(),
            "NAME               STATE       lr     num-layers   optimizer   OBJECTIVE   AGE\n"
            "random-example-2   Succeeded   0.03   4            sgd         0.93        60s\n");
}

TEST(KatibCommandsTest, ExperimentFlagUsage) {
  FakeKatibApi api;
  Invocation names(api.url());
  EXPECT_EQ(RunGet(names.ctx, {.kind = "trial", .names = {"x"}, .experiment = "e"}), kExitUsage);
  Invocation other_kind(api.url());
  EXPECT_EQ(RunGet(other_kind.ctx, {.kind = "configmaps", .experiment = "e"}), kExitUsage);
  EXPECT_NE(other_kind.err.str().find("--experiment applies to runs, pipelineruns and trials only"),
            std::string::npos);
  Invocation bad(api.url());
  EXPECT_EQ(RunGet(bad.ctx, {.kind = "trials", .experiment = "a=b"}), kExitUsage);
  Invocation filter(api.url());
  EXPECT_EQ(RunGet(filter.ctx, {.kind = "trials", .filter = "x"}), kExitUsage);
}

TEST(KatibCommandsTest, DescribeExperimentListsItsTrialsInOrder) {
  FakeKatibApi api;
  Populate(api);
  Invocation run(api.url());
  EXPECT_EQ(RunDescribe(run.ctx, {.kind = "experiment", .names = {"random-example"}}), kExitOk)
      << run.err.str();
  const std::string out = run.out.str();
  EXPECT_EQ(out.rfind("Name:               random-example\n", 0), 0u) << out;
  EXPECT_NE(
      out.find("Trials:\n"
               "  TRIAL               STATE       lr      num-layers   optimizer   Validation-accuracy\n"
               "  random-example-0    Running     0.01    2            sgd         -\n"
               "  random-example-1    Running     0.02    3            adam        -\n"
               "  random-example-2    Succeeded   0.03    4            sgd         0.93\n"
               "  random-example-10   Running     0.011   4            sgd         -\n"
               "  random-example-11   Running     0.012   5            adam        -\n"),
      std::string::npos)
      << out;
  EXPECT_EQ(out.find("other-exp"), std::string::npos) << out;
  int pages = 0;
  for (const auto& r : api.requests()) pages += r.Path() == "/api/v1/namespaces/default/trials";
  EXPECT_EQ(pages, 5);

  // The qualified kind, and a name that is only MLflow's after a Katib one.
  Invocation qualified(api.url());
  EXPECT_EQ(RunDescribe(qualified.ctx, {.kind = "experiments.kubeflow.org/random-example"}), kExitOk);
  EXPECT_EQ(qualified.out.str(), out);
  Invocation mixed(api.url());
  EXPECT_EQ(RunDescribe(mixed.ctx, {.kind = "experiment", .names = {"random-example", "tracked"}}), kExitOk)
      << mixed.err.str();
  EXPECT_NE(mixed.out.str().find(out + "\n\nName:           tracked\nID:             4\n"), std::string::npos)
      << mixed.out.str();
}

}  // namespace
}  // namespace ferry::cli
