// Tests of the pipeline engine over SQLite and PostgreSQL with the real
// local executor: pipelines compiled by the kfp compiler (testdata/*.yaml
// and the engine's container-only testdata/engine/*.yaml) run end to end;
// steps append to counter files so a test can tell how often a step really
// ran (cache hits, retries, recovery).
#include "ferry/pipelines/engine.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "ferry/executors/local/local_executor.h"
#include "ferry/pipelines/engine_internal.h"
#include "ferry/pipelines/python_env.h"
#include "ferry/store/testing/test_database.h"

namespace ferry::pipelines {
namespace {

namespace fs = std::filesystem;
using ::ferry::store::testing::AllBackends;
using ::ferry::store::testing::Backend;
using ::ferry::store::testing::BackendName;
using ::ferry::store::testing::TestDatabase;
using namespace std::chrono_literals;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Fixture(const std::string& name) {
  std::string text = ReadFile("src/ferry/pipelines/testdata/" + name + ".yaml");
  EXPECT_FALSE(text.empty()) << name;
  return text;
}

int CountLines(const std::string& path, const std::string& prefix = "") {
  std::ifstream in(path);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) ++n;
  }
  return n;
}

class EngineTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    tdb_ = TestDatabase::Create(GetParam());
    ASSERT_NE(tdb_, nullptr);
    char tmpl[] = "/tmp/ferry-engine-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    OpenAll();
  }

  void TearDown() override {
    CloseAll();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void OpenAll(bool enable_caching = true) {
    executors::LocalExecutorOptions eo;
    eo.state_dir = dir_ + "/executor";
    eo.kill_grace = 500ms;
    auto ex = executors::LocalExecutor::Create(eo);
    ASSERT_TRUE(ex.ok()) << ex.status().ToString();
    executor_ = std::move(*ex);
    EngineOptions o;
    o.data_dir = dir_ + "/data";
    o.enable_caching = enable_caching;
    const char* path = getenv("PATH");
    o.base_env = {{"PATH", path ? path : "/usr/bin:/bin"}, {"HOME", dir_}, {"LANG", "C.UTF-8"}};
    if (envs_ == nullptr) {
      PythonEnvsOptions po;
      po.base_python = fs::absolute(".venv/bin/python").string();
      po.envs_dir = dir_ + "/envs";
      envs_ = std::make_shared<PythonEnvs>(po);
    }
    auto envs = envs_;
    o.prepare_command = [envs](const std::vector<std::string>& argv,
                               const std::string& work_dir) -> Result<PreparedCommand> {
      auto inv = envs->Prepare(argv, work_dir);
      if (!inv.ok()) return inv.status();
      return PreparedCommand{inv->argv, inv->extra_env};
    };
    auto engine = PipelineEngine::Open(&tdb_->db(), Env::Default(), executor_.get(), o);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(*engine);
  }

  void CloseAll() {
    if (engine_) engine_->Shutdown();
    engine_.reset();
    if (executor_) executor_->Shutdown();
    executor_.reset();
  }

  std::string Submit(const std::string& text, std::map<std::string, Json> params = {},
                     std::optional<bool> caching = std::nullopt) {
    RunRequest r;
    r.pipeline_text = text;
    r.parameters = std::move(params);
    r.enable_caching = caching;
    auto run = engine_->SubmitRun(r);
    EXPECT_TRUE(run.ok()) << run.status().ToString();
    return run.ok() ? run->run_id : "";
  }

  RunDetail WaitDone(const std::string& run_id, std::chrono::seconds timeout = 120s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::int64_t rev = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      auto s = engine_->WaitForChange(run_id, rev, 1000ms);
      if (!s.ok()) {
        ADD_FAILURE() << s.status().ToString();
        break;
      }
      rev = s->revision;
      if (IsFinal(s->state)) break;
    }
    auto d = engine_->GetRun(run_id);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    if (!d.ok()) return {};
    EXPECT_TRUE(IsFinal(d->run.state)) << "run did not finish: " << RunStateName(d->run.state);
    return *d;
  }

  RunDetail RunToEnd(const std::string& text, std::map<std::string, Json> params = {},
                     std::optional<bool> caching = std::nullopt) {
    return WaitDone(Submit(text, std::move(params), caching));
  }

  // Polls GetRun until `pred` holds.
  bool WaitFor(const std::string& run_id, const std::function<bool(const RunDetail&)>& pred,
               std::chrono::seconds timeout = 30s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto d = engine_->GetRun(run_id);
      if (d.ok() && pred(*d)) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  static const TaskStatus* Find(const RunDetail& d, const std::string& path) {
    for (const TaskStatus& t : d.tasks)
      if (t.path == path) return &t;
    return nullptr;
  }
  // The task at `path`; a test failure listing the paths when there is none.
  static const TaskStatus& Task(const RunDetail& d, const std::string& path) {
    static const TaskStatus kMissing;
    if (const TaskStatus* t = Find(d, path)) return *t;
    std::string paths;
    for (const TaskStatus& t : d.tasks) paths += " " + t.path;
    ADD_FAILURE() << "no task " << path << " in:" << paths;
    return kMissing;
  }

  std::string Dump(const RunDetail& d) {
    std::string out = "run " + std::string(RunStateName(d.run.state)) + " " + d.run.error + "\n";
    for (const TaskStatus& t : d.tasks) {
      out += "  " + t.path + " " + std::string(RunStateName(t.state)) + " attempt=" + std::to_string(t.attempt) +
             (t.cached ? " cached" : "") + " " + t.error + "\n";
      if (!t.log_path.empty()) out += "    log: " + ReadFile(t.log_path) + "\n";
    }
    return out;
  }

  std::unique_ptr<TestDatabase> tdb_;
  std::string dir_;
  std::unique_ptr<executors::LocalExecutor> executor_;
  std::shared_ptr<PythonEnvs> envs_;
  std::unique_ptr<PipelineEngine> engine_;
};

std::string E(const std::string& name) { return Fixture("engine/" + name); }

TEST_P(EngineTest, ContainerFixtureSucceedsWithOutputs) {
  RunDetail d = RunToEnd(Fixture("container"), {{"message", "hey"}});
  ASSERT_EQ(d.run.state, RunState::kSucceeded) << Dump(d);
  EXPECT_EQ(d.run.pipeline_name, "container");
  EXPECT_EQ(d.run.parameters.at("message"), "hey");
  ASSERT_EQ(d.tasks.size(), 3u) << Dump(d);
  EXPECT_EQ(d.tasks[0].path, "root");
  EXPECT_EQ(d.tasks[0].kind, "dag");
  const TaskStatus* echo = Find(d, "root/echo-container");
  ASSERT_NE(echo, nullptr);
  EXPECT_EQ(echo->kind, "container");
  EXPECT_EQ(echo->parent_path, "root");
  EXPECT_EQ(echo->attempt, 1);
  EXPECT_FALSE(echo->cached);
  EXPECT_EQ(echo->inputs.at("message"), "hey");
  EXPECT_EQ(echo->inputs.at("greeting"), "hello");  // the component's default
  EXPECT_EQ(echo->inputs.at("suffix"), "?");
  ASSERT_TRUE(echo->outputs.count("out_file"));
  EXPECT_EQ(echo->outputs.at("out_file").get<std::string>().substr(0, 15), "hey hello world");
  EXPECT_GT(echo->started_micros, 0);
  EXPECT_GE(echo->finished_micros, echo->started_micros);
  const TaskStatus* cat = Find(d, "root/cat-container");
  ASSERT_NE(cat, nullptr);
  EXPECT_EQ(cat->inputs.at("text"), echo->outputs.at("out_file"));
  EXPECT_NE(ReadFile(cat->log_path).find("hey hello world"), std::string::npos);
  EXPECT_GE(cat->started_micros, echo->finished_micros);
  auto log = engine_->TaskLogPath(d.run.run_id, "cat-container");
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_EQ(*log, cat->log_path);
  EXPECT_EQ(engine_->TaskLogPath(d.run.run_id, "root").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(engine_->CancelRun(d.run.run_id).code(), StatusCode::kFailedPrecondition);
}

TEST_P(EngineTest, ParameterPassingAndDagOutputs) {
  std::string counter = dir_ + "/counter";
  RunDetail d = RunToEnd(E("sum_chain"), {{"counter", counter}, {"a", 5}, {"b", 7}});
  ASSERT_EQ(d.run.state, RunState::kSucceeded) << Dump(d);
  EXPECT_EQ(Task(d, "root/add-step").outputs.at("out"), 12);
  EXPECT_EQ(Task(d, "root/add-step-2").inputs.at("a"), 12);
  EXPECT_EQ(Task(d, "root/add-step-2").outputs.at("out"), 22);
  EXPECT_EQ(Task(d, "root").outputs.at("Output"), 22);
  EXPECT_EQ(CountLines(counter), 2);
}

TEST_P(EngineTest, ArtifactPassing) {
  std::string counter = dir_ + "/counter";
  RunDetail d = RunToEnd(E("artifacts"), {{"counter", counter}, {"text", "the payload"}});
  ASSERT_EQ(d.run.state, RunState::kSucceeded) << Dump(d);
  const TaskStatus* w = Find(d, "root/write-data");
  const TaskStatus* r = Find(d, "root/read-data");
  ASSERT_TRUE(w && r);
  EXPECT_EQ(r->outputs.at("out"), "the payload");
  ASSERT_TRUE(w->output_artifacts.contains("data"));
  const Json& out = w->output_artifacts["data"][0];
  EXPECT_EQ(out["type"]["schemaTitle"], "system.Dataset");
  std::string uri = out["uri"].get<std::string>();
  EXPECT_EQ(uri, dir_ + "/data/pipelines/artifacts/" + d.run.run_id + "/root/write-data/data");
  EXPECT_EQ(ReadFile(uri), "the payload");
  EXPECT_EQ(r->input_artifacts["data"][0]["uri"], uri);
}

TEST_P(EngineTest, ConditionTrueAndFalse) {
  std::string counter = dir_ + "/counter";
  RunDetail yes = RunToEnd(E("condition"), {{"counter", counter}, {"word", "yes"}});
  ASSERT_EQ(yes.run.state, RunState::kSucceeded) << Dump(yes);
  EXPECT_EQ(Task(yes, "root/condition-branches-1/condition-2").state, RunState::kSucceeded);
  EXPECT_EQ(Task(yes, "root/condition-branches-1/condition-2/echo-step-2").outputs.at("out"), "took yes");
  EXPECT_EQ(Task(yes, "root/condition-branches-1/condition-3").state, RunState::kSkipped);
  EXPECT_NE(Task(yes, "root/condition-branches-1/condition-3").error.find("condition"), std::string::npos);
  EXPECT_EQ(Find(yes, "root/condition-branches-1/condition-3/echo-step-3"), nullptr);
  EXPECT_EQ(CountLines(counter), 2);

  RunDetail no = RunToEnd(E("condition"), {{"counter", counter}, {"word", "no"}});
  ASSERT_EQ(no.run.state, RunState::kSucceeded) << Dump(no);
  EXPECT_EQ(Task(no, "root/condition-branches-1/condition-2").state, RunState::kSkipped);
  EXPECT_EQ(Task(no, "root/condition-branches-1/condition-3/echo-step-3").outputs.at("out"), "took no");
  EXPECT_EQ(CountLines(counter), 4);
}

TEST_P(EngineTest, ParallelForHonoursLimitAndCollectsOutputs) {
  std::string log = dir_ + "/loop.log";
  RunDetail d = RunToEnd(E("loop"), {{"log", log}, {"items", Json::array({1, 2, 3, 4, 5})}, {"seconds", 0.3}});
  ASSERT_EQ(d.run.state, RunState::kSucceeded) << Dump(d);
  const TaskStatus* loop = Find(d, "root/for-loop-1");
  ASSERT_NE(loop, nullptr) << Dump(d);
  EXPECT_EQ(loop->kind, "loop");
  for (int i = 0; i < 5; ++i) {
    const TaskStatus* it = Find(d, "root/for-loop-1[" + std::to_string(i) + "]");
    ASSERT_NE(it, nullptr);
    EXPECT_EQ(it->kind, "iteration");
    EXPECT_EQ(it->state, RunState::kSucceeded);
    EXPECT_EQ(it->inputs.at("pipelinechannel--items-loop-item"), i + 1);
  }
  // Collected in iteration order.
  Json expected = Json::array({2, 4, 6, 8, 10});
  EXPECT_EQ(loop->outputs.at("pipelinechannel--sleep-step-out"), expected);
  auto sum = ParseJson(Task(d, "root/sum-step").outputs.at("out").get<std::string>());
  ASSERT_TRUE(sum.ok());
  EXPECT_EQ(*sum, expected);
  // Never more than 2 at once, from the steps' own timestamps.
  std::ifstream in(log);
  std::vector<std::pair<long long, int>> events;
  std::string kind;
  int x;
  long long ns;
  while (in >> kind >> x >> ns) events.emplace_back(ns, kind == "start" ? 1 : -1);
  ASSERT_EQ(events.size(), 10u);
  std::sort(events.begin(), events.end());
  int running = 0, peak = 0;
  for (auto& [t, delta] : events) peak = std::max(peak, running += delta);
  EXPECT_LE(peak, 2);
  EXPECT_GE(peak, 1);
}

TEST_P(EngineTest, ExitHandlerRunsAfterFailureAndSeesStatus) {
  std::string counter = dir_ + "/counter";
  RunDetail d = RunToEnd(E("exit"), {{"counter", counter}, {"code", 3}});
  ASSERT_EQ(d.run.state, RunState::kFailed) << Dump(d);
  EXPECT_FALSE(d.run.error.empty());
  const TaskStatus* fail = Find(d, "root/exit-handler-1/fail-step");
  ASSERT_NE(fail, nullptr) << Dump(d);
  EXPECT_EQ(fail->state, RunState::kFailed);
  EXPECT_NE(ReadFile(fail->log_path).find("about to fail"), std::string::npos);
  EXPECT_EQ(Task(d, "root/exit-handler-1/echo-step-2").state, RunState::kSkipped);
  EXPECT_EQ(Task(d, "root/exit-handler-1").state, RunState::kFailed);
  const TaskStatus* status = Find(d, "root/status-step");
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(status->state, RunState::kSucceeded) << Dump(d);
  auto st = ParseJson(status->outputs.at("out").get<std::string>());
  ASSERT_TRUE(st.ok()) << status->outputs.at("out");
  EXPECT_EQ((*st)["state"], "FAILED");
  EXPECT_EQ((*st)["pipelineTaskName"], "guarded");
  EXPECT_NE((*st)["error"]["message"].get<std::string>().find("fail-step"), std::string::npos);
  EXPECT_GE(status->started_micros, fail->finished_micros);
  EXPECT_EQ(CountLines(counter, "echo"), 1);  // "never" did not run
  EXPECT_EQ(CountLines(counter, "status"), 1);
}

TEST_P(EngineTest, RetriesFlakyTask) {
  std::string counter = dir_ + "/flaky";
  RunDetail d = RunToEnd(E("flaky"), {{"counter", counter}, {"failures", 2}});
  ASSERT_EQ(d.run.state, RunState::kSucceeded) << Dump(d);
  const TaskStatus* t = Find(d, "root/flaky-step");
  EXPECT_EQ(t->attempt, 3);
  EXPECT_EQ(t->outputs.at("out"), 3);
  EXPECT_EQ(CountLines(counter), 3);
  EXPECT_NE(t->log_path.find("attempt-3"), std::string::npos);

  std::string counter2 = dir_ + "/flaky2";
  RunDetail f = RunToEnd(E("flaky"), {{"counter", counter2}, {"failures", 10}});
  ASSERT_EQ(f.run.state, RunState::kFailed) << Dump(f);
  EXPECT_EQ(Task(f, "root/flaky-step").attempt, 4);  // 1 + maxRetryCount 3
  EXPECT_NE(Task(f, "root/flaky-step").error.find("attempt 4"), std::string::npos);
  EXPECT_EQ(CountLines(counter2), 4);
}

TEST_P(EngineTest, CacheHitOnSecondIdenticalRun) {
  std::string counter = dir_ + "/counter";
  RunDetail first = RunToEnd(E("sum_chain"), {{"counter", counter}, {"a", 1}, {"b", 2}});
  ASSERT_EQ(first.run.state, RunState::kSucceeded) << Dump(first);
  EXPECT_EQ(CountLines(counter), 2);
  RunDetail second = RunToEnd(E("sum_chain"), {{"counter", counter}, {"a", 1}, {"b", 2}});
  ASSERT_EQ(second.run.state, RunState::kSucceeded) << Dump(second);
  EXPECT_EQ(CountLines(counter), 2);  // no new process
  for (const char* p : {"root/add-step", "root/add-step-2"}) {
    EXPECT_TRUE(Task(second, p).cached) << p;
    EXPECT_EQ(Task(second, p).outputs, Task(first, p).outputs) << p;
    EXPECT_TRUE(Task(second, p).log_path.empty());
  }
  EXPECT_EQ(Task(second, "root").outputs.at("Output"), 13);
  // Different inputs: a miss.
  RunDetail other = RunToEnd(E("sum_chain"), {{"counter", counter}, {"a", 2}, {"b", 2}});
  EXPECT_FALSE(Task(other, "root/add-step").cached);
  EXPECT_EQ(CountLines(counter), 4);
  // Disabled for the run.
  RunDetail off = RunToEnd(E("sum_chain"), {{"counter", counter}, {"a", 1}, {"b", 2}}, false);
  EXPECT_FALSE(Task(off, "root/add-step").cached);
  EXPECT_EQ(CountLines(counter), 6);
  // Disabled for one task by the spec.
  std::string counter2 = dir_ + "/counter2";
  RunToEnd(E("uncached_chain"), {{"counter", counter2}});
  RunDetail again = RunToEnd(E("uncached_chain"), {{"counter", counter2}});
  EXPECT_TRUE(Task(again, "root/add-step").cached);
  EXPECT_FALSE(Task(again, "root/add-step-2").cached);
  EXPECT_EQ(CountLines(counter2), 3);
}

TEST_P(EngineTest, CachingDisabledEngineWide) {
  CloseAll();
  OpenAll(/*enable_caching=*/false);
  std::string counter = dir_ + "/counter";
  RunToEnd(E("sum_chain"), {{"counter", counter}});
  RunDetail second = RunToEnd(E("sum_chain"), {{"counter", counter}});
  EXPECT_FALSE(Task(second, "root/add-step").cached);
  EXPECT_EQ(CountLines(counter), 4);
}

TEST_P(EngineTest, CancelKillsRunningTasks) {
  std::string log = dir_ + "/sleep.log", counter = dir_ + "/counter";
  std::string id = Submit(E("sleeper"), {{"log", log}, {"counter", counter}, {"seconds", 30}});
  ASSERT_TRUE(WaitFor(id, [&](const RunDetail&) { return CountLines(log, "start") == 1; }));
  ASSERT_TRUE(engine_->CancelRun(id).ok());
  auto now = engine_->GetRun(id);
  ASSERT_TRUE(now.ok());
  EXPECT_TRUE(now->run.state == RunState::kCanceling || now->run.state == RunState::kCanceled);
  auto t0 = std::chrono::steady_clock::now();
  RunDetail d = WaitDone(id, 20s);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  EXPECT_EQ(d.run.state, RunState::kCanceled) << Dump(d);
  EXPECT_EQ(Task(d, "root/sleep-step").state, RunState::kCanceled);
  EXPECT_EQ(Task(d, "root/add-step").state, RunState::kCanceled);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(CountLines(log, "end"), 0);
  EXPECT_EQ(CountLines(counter), 0);
  EXPECT_EQ(engine_->CancelRun(id).code(), StatusCode::kFailedPrecondition);
}

TEST_P(EngineTest, RetryRunReRunsOnlyWhatFailed) {
  std::string counter = dir_ + "/counter", fails = dir_ + "/fails";
  RunDetail d = RunToEnd(E("retry_then_fail"), {{"counter", counter}, {"fail_counter", fails}, {"failures", 1}});
  ASSERT_EQ(d.run.state, RunState::kFailed) << Dump(d);
  EXPECT_EQ(Task(d, "root/flaky-step").state, RunState::kFailed);
  EXPECT_EQ(Task(d, "root/add-step").state, RunState::kSucceeded);
  EXPECT_EQ(Task(d, "root/add-step-2").state, RunState::kSkipped);
  EXPECT_EQ(CountLines(counter), 1);
  EXPECT_EQ(engine_->RetryRun("no-such-run").code(), StatusCode::kNotFound);
  ASSERT_TRUE(engine_->RetryRun(d.run.run_id).ok());
  RunDetail r = WaitDone(d.run.run_id);
  ASSERT_EQ(r.run.state, RunState::kSucceeded) << Dump(r);
  EXPECT_EQ(CountLines(fails), 2);
  EXPECT_EQ(CountLines(counter), 2);  // add-step kept its result; add-step-2 ran once
  EXPECT_EQ(Task(r, "root/add-step").finished_micros, Task(d, "root/add-step").finished_micros);
  EXPECT_EQ(Task(r, "root/add-step-2").outputs.at("out"), 2 + 2);
  EXPECT_GT(r.run.revision, d.run.revision);
  EXPECT_EQ(engine_->RetryRun(d.run.run_id).code(), StatusCode::kFailedPrecondition);
}

TEST_P(EngineTest, RecoversAfterRestartWithoutRerunningTasks) {
  std::string log = dir_ + "/sleep.log", counter = dir_ + "/counter";
  std::string id = Submit(E("sleeper"), {{"log", log}, {"counter", counter}, {"seconds", 1.5}});
  // Wait until the attach token is durable, then stop engine and executor.
  auto token_stored = [&] {
    auto rows = tdb_->db().Query(
        "SELECT attach_token FROM pipeline_tasks WHERE run_id = $1 AND path = 'root/sleep-step'", {id});
    return rows.ok() && !rows->empty() && !(*rows)[0].Text(0).empty();
  };
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!token_stored() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(token_stored());
  CloseAll();
  auto mid = tdb_->db().Query("SELECT state FROM pipeline_runs WHERE run_id = $1", {id});
  ASSERT_TRUE(mid.ok() && !mid->empty());
  EXPECT_EQ((*mid)[0].Text(0), "RUNNING");
  OpenAll();
  RunDetail d = WaitDone(id);
  ASSERT_EQ(d.run.state, RunState::kSucceeded) << Dump(d);
  EXPECT_EQ(CountLines(log, "start"), 1);
  EXPECT_EQ(CountLines(log, "end"), 1);
  EXPECT_EQ(Task(d, "root/sleep-step").attempt, 1);
  EXPECT_EQ(Task(d, "root/add-step").outputs.at("out"), 42);
  EXPECT_EQ(CountLines(counter), 1);
}

TEST_P(EngineTest, RecoversATaskThatFinishedWhileDown) {
  std::string log = dir_ + "/sleep.log", counter = dir_ + "/counter";
  std::string id = Submit(E("sleeper"), {{"log", log}, {"counter", counter}, {"seconds", 0.3}});
  auto token_stored = [&] {
    auto rows = tdb_->db().Query(
        "SELECT attach_token FROM pipeline_tasks WHERE run_id = $1 AND path = 'root/sleep-step'", {id});
    return rows.ok() && !rows->empty() && !(*rows)[0].Text(0).empty();
  };
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!token_stored() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(token_stored());
  CloseAll();
  deadline = std::chrono::steady_clock::now() + 10s;
  while (CountLines(log, "end") == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  ASSERT_EQ(CountLines(log, "end"), 1);
  std::this_thread::sleep_for(100ms);
  OpenAll();
  RunDetail d = WaitDone(id);
  ASSERT_EQ(d.run.state, RunState::kSucceeded) << Dump(d);
  EXPECT_EQ(CountLines(log, "start"), 1);
  EXPECT_EQ(Task(d, "root/add-step").outputs.at("out"), 42);
}

// The crash window between a submit and its commit: the process runs, but
// the store still says the task never started. The recovered run finds the
// process by its execution id instead of starting the task a second time.
TEST_P(EngineTest, RecoveryAdoptsATaskWhoseStartWasNeverCommitted) {
  std::string log = dir_ + "/sleep.log", counter = dir_ + "/counter";
  std::string id = Submit(E("sleeper"), {{"log", log}, {"counter", counter}, {"seconds", 1.0}});
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (CountLines(log, "start") == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  ASSERT_EQ(CountLines(log, "start"), 1);
  CloseAll();
  ASSERT_TRUE(tdb_->db()
                  .Exec("UPDATE pipeline_tasks SET state = 'PENDING', attempt = 0, attach_token = '', "
                        "executor_task_id = '', started_at = 0 WHERE run_id = $1 AND path = 'root/sleep-step'",
                        {id})
                  .ok());
  OpenAll();
  RunDetail d = WaitDone(id);
  ASSERT_EQ(d.run.state, RunState::kSucceeded) << Dump(d);
  EXPECT_EQ(CountLines(log, "start"), 1);
  EXPECT_EQ(CountLines(log, "end"), 1);
  EXPECT_EQ(Task(d, "root/sleep-step").attempt, 1);
  EXPECT_EQ(Task(d, "root/add-step").outputs.at("out"), 42);
}

TEST_P(EngineTest, LightweightPythonPipelines) {
  RunDetail hello = RunToEnd(Fixture("hello_world"), {{"recipient", "Ferry"}});
  ASSERT_EQ(hello.run.state, RunState::kSucceeded) << Dump(hello);
  EXPECT_EQ(Task(hello, "root/say-hello").outputs.at("Output"), "Hello, Ferry!");
  EXPECT_EQ(Task(hello, "root").outputs.at("Output"), "Hello, Ferry!");

  RunDetail pa = RunToEnd(Fixture("params_and_artifacts"), {{"label", "x"}});
  ASSERT_EQ(pa.run.state, RunState::kSucceeded) << Dump(pa);
  EXPECT_EQ(Task(pa, "root/produce").outputs.at("Output"), 6);
  EXPECT_EQ(Task(pa, "root/consume").outputs.at("Output"), "3 lines, total 6");
  const Json& ds = Task(pa, "root/produce").output_artifacts["dataset"][0];
  EXPECT_EQ(ds["metadata"]["rows"], 3);
  EXPECT_EQ(ReadFile(ds["uri"].get<std::string>()), "hi!\nhi!\nhi!");
}

TEST_P(EngineTest, RejectsBadSubmissions) {
  RunRequest r;
  r.pipeline_text = "{not yaml: [";
  EXPECT_EQ(engine_->SubmitRun(r).status().code(), StatusCode::kInvalidArgument);
  r.pipeline_text = Fixture("container");
  r.parameters = {{"nope", 1}};
  EXPECT_EQ(engine_->SubmitRun(r).status().code(), StatusCode::kInvalidArgument);
  r.parameters = {};
  r.pipeline_root = "gs://bucket/root";
  auto bad_root = engine_->SubmitRun(r);
  EXPECT_EQ(bad_root.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad_root.status().field(), "pipeline_root");
  EXPECT_EQ(engine_->GetRun("missing").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(engine_->CancelRun("missing").code(), StatusCode::kNotFound);
  EXPECT_EQ(engine_->DeleteRun("missing").code(), StatusCode::kNotFound);
  ListRunsRequest lr;
  lr.order_by = "bogus";
  EXPECT_EQ(engine_->ListRuns(lr).status().code(), StatusCode::kInvalidArgument);
  lr.order_by = "name sideways";
  EXPECT_EQ(engine_->ListRuns(lr).status().code(), StatusCode::kInvalidArgument);
  lr.order_by = "name";
  lr.page_token = "x";
  EXPECT_EQ(engine_->ListRuns(lr).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(EngineTest, ListFilterPageArchiveDelete) {
  std::string counter = dir_ + "/counter";
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    RunRequest r;
    r.pipeline_text = E("sum_chain");
    r.parameters = {{"counter", counter}, {"a", i}};
    r.display_name = i == 1 ? "special_run" : "run " + std::to_string(i);
    r.experiment_id = i == 2 ? "exp-b" : "exp-a";
    auto run = engine_->SubmitRun(r);
    ASSERT_TRUE(run.ok()) << run.status().ToString();
    ids.push_back(run->run_id);
    WaitDone(run->run_id);
  }
  ListRunsRequest all;
  all.page_size = 2;
  auto p1 = engine_->ListRuns(all);
  ASSERT_TRUE(p1.ok()) << p1.status().ToString();
  EXPECT_EQ(p1->total_size, 3);
  ASSERT_EQ(p1->runs.size(), 2u);
  EXPECT_EQ(p1->runs[0].run_id, ids[2]);  // created_at desc
  all.page_token = p1->next_page_token;
  auto p2 = engine_->ListRuns(all);
  ASSERT_TRUE(p2.ok());
  ASSERT_EQ(p2->runs.size(), 1u);
  EXPECT_EQ(p2->runs[0].run_id, ids[0]);
  EXPECT_TRUE(p2->next_page_token.empty());

  ListRunsRequest by_exp;
  by_exp.experiment_id = "exp-a";
  EXPECT_EQ(engine_->ListRuns(by_exp)->total_size, 2);
  ListRunsRequest by_name;
  by_name.name_contains = "l_r";  // LIKE wildcards are literal
  auto named = engine_->ListRuns(by_name);
  ASSERT_TRUE(named.ok()) << named.status().ToString();
  ASSERT_EQ(named->runs.size(), 1u);
  EXPECT_EQ(named->runs[0].run_id, ids[1]);
  ListRunsRequest by_state;
  by_state.state = RunState::kSucceeded;
  by_state.order_by = "name asc";
  auto ok = engine_->ListRuns(by_state);
  ASSERT_EQ(ok->runs.size(), 3u);
  EXPECT_EQ(ok->runs[0].display_name, "run 0");

  auto before = engine_->GetRun(ids[0]);
  ASSERT_TRUE(engine_->SetArchived(ids[0], true).ok());
  auto after = engine_->GetRun(ids[0]);
  EXPECT_TRUE(after->run.archived);
  EXPECT_GT(after->run.revision, before->run.revision);
  ListRunsRequest live;
  live.include_archived = false;
  EXPECT_EQ(engine_->ListRuns(live)->total_size, 2);

  ASSERT_TRUE(engine_->DeleteRun(ids[0]).ok());
  EXPECT_EQ(engine_->GetRun(ids[0]).status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(fs::exists(dir_ + "/data/pipelines/runs/" + ids[0]));
}

// Engine overhead per task: the time between a task's upstream finishing
// and it starting (chain), and the wall time not covered by tasks' own
// processes. Printed, never asserted (tests never assert wall-clock times).
TEST_P(EngineTest, ReportsOverheadPerTask) {
  auto report = [&](const std::string& label, const RunDetail& d) {
    std::vector<const TaskStatus*> leaves;
    for (const TaskStatus& t : d.tasks)
      if (t.kind == "container") leaves.push_back(&t);
    std::sort(leaves.begin(), leaves.end(),
              [](auto* a, auto* b) { return a->started_micros < b->started_micros; });
    double process = 0;
    for (auto* t : leaves) process += static_cast<double>(t->finished_micros - t->started_micros);
    const TaskStatus* root = Find(d, "root");
    double wall = static_cast<double>(root->finished_micros - root->started_micros);
    std::printf("[overhead] %s (%s): %zu tasks, wall %.1f ms, task time %.1f ms, wall/task %.2f ms\n",
                label.c_str(), GetParam() == Backend::kSqlite ? "sqlite" : "postgres", leaves.size(),
                wall / 1000, process / 1000, wall / 1000 / static_cast<double>(leaves.size()));
    if (label.rfind("chain", 0) == 0) {
      std::vector<double> gaps;
      for (std::size_t i = 1; i < leaves.size(); ++i)
        gaps.push_back(static_cast<double>(leaves[i]->started_micros - leaves[i - 1]->finished_micros) / 1000);
      std::sort(gaps.begin(), gaps.end());
      if (!gaps.empty())
        std::printf("[overhead] %s: gap between dependent tasks p50 %.2f ms, max %.2f ms\n", label.c_str(),
                    gaps[gaps.size() / 2], gaps.back());
    }
  };
  RunDetail c10 = RunToEnd(E("chain10"));
  ASSERT_EQ(c10.run.state, RunState::kSucceeded) << Dump(c10);
  EXPECT_EQ(Task(c10, "root").outputs.at("Output"), 10);
  report("chain10", c10);
  // chain100.yaml and fanouts of 1,000 measure growth; they take a minute
  // or more, so the unit test runs the small sizes only.
  for (int n : {10, 200}) {
    Json items = Json::array();
    for (int i = 0; i < n; ++i) items.push_back(i);
    auto t0 = std::chrono::steady_clock::now();
    RunDetail f = RunToEnd(E("fanout"), {{"items", items}});
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_EQ(f.run.state, RunState::kSucceeded);
    EXPECT_EQ(f.tasks.size(), static_cast<std::size_t>(2 + 2 * n));
    EXPECT_EQ(Task(f, "root/for-loop-1[" + std::to_string(n - 1) + "]/inc-step").outputs.at("out"), n);
    std::printf("[overhead] fanout%d: submit-to-done %.1f ms\n", n, ms);
    report("fanout" + std::to_string(n), f);
  }
}

TEST(EngineInternalTest, RetryBackoff) {
  RetryPolicy p;
  p.backoff_seconds = 1;
  p.backoff_factor = 2;
  p.backoff_max_seconds = 5;
  EXPECT_DOUBLE_EQ(internal::RetryBackoffSeconds(p, 1), 1);
  EXPECT_DOUBLE_EQ(internal::RetryBackoffSeconds(p, 2), 2);
  EXPECT_DOUBLE_EQ(internal::RetryBackoffSeconds(p, 3), 4);
  EXPECT_DOUBLE_EQ(internal::RetryBackoffSeconds(p, 4), 5);
  EXPECT_DOUBLE_EQ(internal::RetryBackoffSeconds(p, 400), 5);
}

TEST(EngineInternalTest, CacheKeyDependsOnInputsAndCommand) {
  ComponentSpec comp;
  comp.inputs.parameters["x"] = ParameterSpec{};
  ContainerSpec c;
  c.image = "alpine";
  c.command = {"echo"};
  c.args = {"{{$.inputs.parameters['x']}}"};
  std::map<std::string, std::vector<RuntimeArtifact>> arts;
  std::string k1 = internal::CacheKey(comp, c, {{"x", 1}}, arts);
  EXPECT_EQ(k1.size(), 64u);
  EXPECT_EQ(k1, internal::CacheKey(comp, c, {{"x", 1}}, arts));
  EXPECT_NE(k1, internal::CacheKey(comp, c, {{"x", 2}}, arts));
  EXPECT_NE(k1, internal::CacheKey(comp, c, {{"x", "1"}}, arts));
  ContainerSpec c2 = c;
  c2.command = {"printf"};
  EXPECT_NE(k1, internal::CacheKey(comp, c2, {{"x", 1}}, arts));
  RuntimeArtifact a;
  a.uri = "/tmp/a";
  arts["d"] = {a};
  std::string k2 = internal::CacheKey(comp, c, {{"x", 1}}, arts);
  EXPECT_NE(k1, k2);
  arts["d"][0].metadata["m"] = 1;
  EXPECT_NE(k2, internal::CacheKey(comp, c, {{"x", 1}}, arts));
}

TEST(EngineInternalTest, RunStateNames) {
  for (RunState s : {RunState::kPending, RunState::kRunning, RunState::kSucceeded, RunState::kSkipped,
                     RunState::kFailed, RunState::kCanceling, RunState::kCanceled}) {
    auto parsed = ParseRunState(RunStateName(s));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, s);
  }
  EXPECT_FALSE(ParseRunState("DONE").ok());
  EXPECT_TRUE(IsFinal(RunState::kSkipped));
  EXPECT_FALSE(IsFinal(RunState::kCanceling));
}

INSTANTIATE_TEST_SUITE_P(Backends, EngineTest, AllBackends(), BackendName);

}  // namespace
}  // namespace ferry::pipelines
