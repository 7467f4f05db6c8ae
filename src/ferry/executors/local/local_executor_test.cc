#include "ferry/executors/local/local_executor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "ferry/executors/local/local_executor_internal.h"

extern char** environ;

namespace ferry::executors {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using local_internal::AttachToken;
using local_internal::DecodeAttachToken;
using local_internal::EncodeAttachToken;
using ::testing::HasSubstr;

constexpr auto kWait = 30s;  // a guard against hangs, never a time assertion

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// True when `pid` no longer runs (gone, or a zombie nobody has reaped yet).
bool ProcessGone(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  std::size_t close = stat.rfind(')');
  return stat.empty() || (close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z');
}

bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds limit = kWait) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// Collects every update, in delivery order, with the time it arrived.
class Recorder {
 public:
  struct Event {
    TaskUpdate update;
    std::chrono::steady_clock::time_point at;
    std::chrono::system_clock::time_point wall;
  };

  UpdateCallback Callback() {
    return [this](const TaskUpdate& u) {
      std::lock_guard lock(mu_);
      events_.push_back({u, std::chrono::steady_clock::now(), std::chrono::system_clock::now()});
      cv_.notify_all();
    };
  }

  std::optional<TaskUpdate> WaitFor(const std::string& id, const std::function<bool(TaskState)>& pred) {
    std::unique_lock lock(mu_);
    std::optional<TaskUpdate> found;
    cv_.wait_for(lock, kWait, [&] {
      for (const Event& e : events_) {
        if (e.update.id == id && pred(e.update.state)) {
          found = e.update;
          return true;
        }
      }
      return false;
    });
    return found;
  }
  std::optional<TaskUpdate> WaitTerminal(const std::string& id) { return WaitFor(id, IsTerminal); }
  std::optional<TaskUpdate> WaitState(const std::string& id, TaskState s) {
    return WaitFor(id, [s](TaskState x) { return x == s; });
  }

  std::vector<Event> Events() {
    std::lock_guard lock(mu_);
    return events_;
  }
  std::vector<TaskState> States(const std::string& id) {
    std::vector<TaskState> out;
    for (const Event& e : Events()) {
      if (e.update.id == id) out.push_back(e.update.state);
    }
    return out;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Event> events_;
};

class LocalExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "ferry-executor-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    fs::create_directories(root_ + "/wd");
    fs::create_directories(root_ + "/logs");
  }
  void TearDown() override {
    executor_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  std::string StateDir() const { return root_ + "/state"; }

  std::unique_ptr<LocalExecutor> Make(LocalExecutorOptions options = {}) {
    if (options.state_dir.empty()) options.state_dir = StateDir();
    auto created = LocalExecutor::Create(std::move(options));
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created.ok() ? std::move(*created) : nullptr;
  }
  void Start(LocalExecutorOptions options = {}) {
    executor_ = Make(std::move(options));
    ASSERT_NE(executor_, nullptr);
  }

  TaskSpec Spec(const std::string& id, std::vector<std::string> argv) {
    TaskSpec spec;
    spec.id = id;
    spec.argv = std::move(argv);
    spec.env = {{"PATH", "/usr/local/bin:/usr/bin:/bin"}};
    spec.working_dir = root_ + "/wd";
    spec.log_path = root_ + "/logs/" + id + ".log";
    return spec;
  }
  TaskSpec Shell(const std::string& id, const std::string& script) { return Spec(id, {"sh", "-c", script}); }
  // A shell task that waits until the test calls Open(gate), then runs `then`.
  TaskSpec Gated(const std::string& id, const std::string& gate, const std::string& then) {
    return Shell(id, "while [ ! -e " + gate + " ]; do sleep 0.01; done; " + then);
  }
  void Open(const std::string& gate) { std::ofstream(root_ + "/wd/" + gate) << "go"; }

  std::vector<std::string> ExitFiles() {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(StateDir(), ec)) out.push_back(e.path().filename().string());
    return out;
  }

  std::string root_;
  Recorder recorder_;
  std::unique_ptr<LocalExecutor> executor_;
};

TEST_F(LocalExecutorTest, SuccessAndExitCodes) {
  Start();
  ASSERT_TRUE(executor_->Submit(Spec("ok", {"true"}), recorder_.Callback()).ok());
  ASSERT_TRUE(executor_->Submit(Shell("three", "exit 3"), recorder_.Callback()).ok());
  auto ok = recorder_.WaitTerminal("ok");
  auto three = recorder_.WaitTerminal("three");
  ASSERT_TRUE(ok && three);
  EXPECT_EQ(ok->state, TaskState::kSucceeded);
  EXPECT_EQ(ok->exit_code, 0);
  EXPECT_EQ(ok->signal, 0);
  EXPECT_LE(ok->started, ok->finished);
  EXPECT_EQ(three->state, TaskState::kFailed);
  EXPECT_EQ(three->exit_code, 3);
  EXPECT_THAT(three->message, HasSubstr("exited with status 3"));
  // Running (with a token) came first, then exactly one terminal state.
  EXPECT_EQ(recorder_.States("ok"), (std::vector<TaskState>{TaskState::kRunning, TaskState::kSucceeded}));
  auto running = recorder_.WaitState("three", TaskState::kRunning);
  ASSERT_TRUE(running);
  EXPECT_FALSE(running->attach_token.empty());
  EXPECT_LT(running->attach_token.size(), 512u);
  // Exit and start records stay until the caller releases them.
  EXPECT_EQ(ExitFiles().size(), 4u);
  executor_->Release("ok");
  executor_->Release("three");
  executor_->Release("never-submitted");
  EXPECT_TRUE(ExitFiles().empty());
  auto stats = executor_->Stats();
  EXPECT_EQ(stats.running, 0);
  EXPECT_EQ(stats.queued, 0);
  EXPECT_EQ(stats.cpu_in_use, 0);
}

TEST_F(LocalExecutorTest, KilledBySignal) {
  Start();
  ASSERT_TRUE(executor_->Submit(Shell("sig", "kill -KILL $$"), recorder_.Callback()).ok());
  auto end = recorder_.WaitTerminal("sig");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->state, TaskState::kFailed);
  EXPECT_EQ(end->signal, SIGKILL);
  EXPECT_EQ(end->exit_code, -1);
  EXPECT_THAT(end->message, HasSubstr("SIGKILL"));
}

TEST_F(LocalExecutorTest, LogCapturesStdoutAndStderrWithEnvAndWorkingDir) {
  Start();
  TaskSpec spec = Shell("log", "echo $FOO; pwd; echo err >&2; echo \"[$HOME]\"; read x; echo \"read=$?\"");
  spec.env["FOO"] = "bar baz";
  ASSERT_TRUE(executor_->Submit(spec, recorder_.Callback()).ok());
  auto end = recorder_.WaitTerminal("log");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->state, TaskState::kSucceeded) << end->message;
  std::string wd = fs::canonical(root_ + "/wd").string();
  // Nothing is inherited (no HOME), and stdin is /dev/null (read fails at EOF).
  EXPECT_EQ(ReadFile(spec.log_path), "bar baz\n" + wd + "\nerr\n[]\nread=1\n");

  // The log is appended to, not truncated.
  ASSERT_TRUE(executor_->Submit(Shell("log", "echo again"), recorder_.Callback()).ok());
  ASSERT_TRUE(WaitUntil([&] { return recorder_.States("log").size() == 4; }));
  EXPECT_THAT(ReadFile(spec.log_path), ::testing::EndsWith("read=1\nagain\n"));
}

TEST_F(LocalExecutorTest, PathLookupUsesTheTaskEnvironment) {
  Start();
  fs::create_directories(root_ + "/bin");
  {
    std::ofstream script(root_ + "/bin/hello-ferry");
    script << "#!/bin/sh\necho hello \"$1\"\n";
  }
  {
    std::ofstream script(root_ + "/bin/no-shebang");  // run by /bin/sh, as execvp does
    script << "echo plain \"$1\"\n";
  }
  fs::permissions(root_ + "/bin/hello-ferry", fs::perms::owner_all);
  fs::permissions(root_ + "/bin/no-shebang", fs::perms::owner_all);
  TaskSpec hello = Spec("hello", {"hello-ferry", "x"});
  hello.env["PATH"] = "/nonexistent:" + root_ + "/bin:/usr/bin:/bin";
  TaskSpec plain = Spec("plain", {"no-shebang", "y"});
  plain.env["PATH"] = root_ + "/bin:/usr/bin:/bin";
  ASSERT_TRUE(executor_->Submit(hello, recorder_.Callback()).ok());
  ASSERT_TRUE(executor_->Submit(plain, recorder_.Callback()).ok());
  auto a = recorder_.WaitTerminal("hello");
  auto b = recorder_.WaitTerminal("plain");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->state, TaskState::kSucceeded) << a->message;
  EXPECT_EQ(ReadFile(hello.log_path), "hello x\n");
  EXPECT_EQ(b->state, TaskState::kSucceeded) << b->message;
  EXPECT_EQ(ReadFile(plain.log_path), "plain y\n");
}

TEST_F(LocalExecutorTest, ExecFailureIsReportedAndLogged) {
  Start();
  TaskSpec spec = Spec("nosuch", {"ferry-no-such-binary-1234", "arg"});
  ASSERT_TRUE(executor_->Submit(spec, recorder_.Callback()).ok());
  auto end = recorder_.WaitTerminal("nosuch");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->state, TaskState::kFailed);
  EXPECT_EQ(end->exit_code, 127);
  EXPECT_THAT(end->message, HasSubstr("cannot execute 'ferry-no-such-binary-1234'"));
  EXPECT_THAT(end->message, HasSubstr("No such file or directory"));
  EXPECT_EQ(ReadFile(spec.log_path),
            "ferry: cannot execute 'ferry-no-such-binary-1234': No such file or directory\n");
  EXPECT_EQ(recorder_.States("nosuch"), (std::vector<TaskState>{TaskState::kFailed}));  // it never ran

  // A file that is not executable: EACCES.
  { std::ofstream(root_ + "/wd/data.txt") << "x"; }
  ASSERT_TRUE(executor_->Submit(Spec("noexec", {"./data.txt"}), recorder_.Callback()).ok());
  auto noexec = recorder_.WaitTerminal("noexec");
  ASSERT_TRUE(noexec);
  EXPECT_EQ(noexec->state, TaskState::kFailed);
  EXPECT_THAT(noexec->message, HasSubstr("Permission denied"));
}

TEST_F(LocalExecutorTest, WorkingDirRemovedBeforeTheStartFailsTheTask) {
  LocalExecutorOptions options;
  options.max_concurrent = 1;
  Start(options);
  ASSERT_TRUE(executor_->Submit(Spec("blocker", {"sleep", "100"}), recorder_.Callback()).ok());
  ASSERT_TRUE(recorder_.WaitState("blocker", TaskState::kRunning));
  fs::create_directories(root_ + "/doomed");
  TaskSpec spec = Spec("late", {"true"});
  spec.working_dir = root_ + "/doomed";
  ASSERT_TRUE(executor_->Submit(spec, recorder_.Callback()).ok());
  ASSERT_TRUE(recorder_.WaitState("late", TaskState::kQueued));
  fs::remove(root_ + "/doomed");
  ASSERT_TRUE(executor_->Cancel("blocker").ok());
  auto end = recorder_.WaitTerminal("late");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->state, TaskState::kFailed);
  EXPECT_THAT(end->message, HasSubstr("cannot change to working directory"));
  EXPECT_THAT(ReadFile(spec.log_path), HasSubstr("No such file or directory"));
}

TEST_F(LocalExecutorTest, WhatTheTaskLeavesBehindIsKilledWhenItEnds) {
  Start();
  TaskSpec spec = Shell("daemon", "sleep 100 & echo $!");
  ASSERT_TRUE(executor_->Submit(spec, recorder_.Callback()).ok());
  auto end = recorder_.WaitTerminal("daemon");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->state, TaskState::kSucceeded);
  pid_t straggler = std::atoi(ReadFile(spec.log_path).c_str());
  ASSERT_GT(straggler, 0);
  EXPECT_TRUE(WaitUntil([&] { return ProcessGone(straggler); }, 10s));
}

TEST_F(LocalExecutorTest, LogFileThatCannotBeOpenedFailsTheTask) {
  Start();
  TaskSpec spec = Spec("nolog", {"true"});
  spec.log_path = root_ + "/missing-dir/x.log";
  ASSERT_TRUE(executor_->Submit(spec, recorder_.Callback()).ok());
  auto end = recorder_.WaitTerminal("nolog");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->state, TaskState::kFailed);
  EXPECT_THAT(end->message, HasSubstr("cannot open log file"));
  EXPECT_EQ(executor_->Stats().running, 0);
}

TEST_F(LocalExecutorTest, CancelKillsTheWholeProcessGroup) {
  Start();
  TaskSpec spec = Shell("tree", "sleep 100 & echo $!; sleep 100 & echo $!; wait");
  ASSERT_TRUE(executor_->Submit(spec, recorder_.Callback()).ok());
  auto running = recorder_.WaitState("tree", TaskState::kRunning);
  ASSERT_TRUE(running);
  ASSERT_TRUE(WaitUntil([&] {
    std::string log = ReadFile(spec.log_path);
    return std::count(log.begin(), log.end(), '\n') >= 2;
  }));
  std::vector<pid_t> pids;
  {
    std::istringstream lines(ReadFile(spec.log_path));
    pid_t p;
    while (lines >> p) pids.push_back(p);
  }
  auto token = DecodeAttachToken(running->attach_token);
  ASSERT_TRUE(token.ok());
  pids.push_back(token->task_pid);
  ASSERT_EQ(pids.size(), 3u);
  for (pid_t p : pids) EXPECT_FALSE(ProcessGone(p)) << p;

  ASSERT_TRUE(executor_->Cancel("tree").ok());
  auto end = recorder_.WaitTerminal("tree");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->state, TaskState::kCancelled);
  EXPECT_EQ(end->signal, SIGTERM);
  for (pid_t p : pids)
    EXPECT_TRUE(WaitUntil([&] { return ProcessGone(p); }, 10s)) << "pid " << p << " survived";
  EXPECT_EQ(executor_->Cancel("tree").code(), StatusCode::kNotFound);
  EXPECT_EQ(executor_->Cancel("never-was").code(), StatusCode::kNotFound);
}

TEST_F(LocalExecutorTest, CancelEscalatesToSigkillAfterTheGracePeriod) {
  LocalExecutorOptions options;
  options.kill_grace = 200ms;
  Start(options);
  // The group ignores SIGTERM (the disposition is inherited across exec).
  TaskSpec spec = Shell("stubborn", "trap '' TERM; echo ready; sleep 100");
  ASSERT_TRUE(executor_->Submit(spec, recorder_.Callback()).ok());
  ASSERT_TRUE(WaitUntil([&] { return ReadFile(spec.log_path) == "ready\n"; }));
  ASSERT_TRUE(executor_->Cancel("stubborn").ok());
  ASSERT_TRUE(executor_->Cancel("stubborn").ok());  // a second cancel is harmless
  auto end = recorder_.WaitTerminal("stubborn");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->state, TaskState::kCancelled);
  EXPECT_EQ(end->signal, SIGKILL);
}

TEST_F(LocalExecutorTest, TimeoutKillsTheTask) {
  Start();
  TaskSpec spec = Spec("slow", {"sleep", "100"});
  spec.timeout = 200ms;
  ASSERT_TRUE(executor_->Submit(spec, recorder_.Callback()).ok());
  auto end = recorder_.WaitTerminal("slow");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->state, TaskState::kTimedOut);
  EXPECT_EQ(end->signal, SIGTERM);
  EXPECT_THAT(end->message, HasSubstr("timed out"));
}

// Replays the callbacks (delivered in order by one thread) to find the most
// tasks that were running at once.
int MaxConcurrency(const std::vector<Recorder::Event>& events) {
  int now = 0, max = 0;
  for (const auto& e : events) {
    if (e.update.state == TaskState::kRunning) max = std::max(max, ++now);
    if (IsTerminal(e.update.state) && e.update.state != TaskState::kLost) --now;
  }
  return max;
}

TEST_F(LocalExecutorTest, AdmissionRespectsCpuCapacity) {
  LocalExecutorOptions options;
  options.cpu_capacity = 2;
  Start(options);
  for (int i = 0; i < 3; ++i) {
    TaskSpec spec = Spec("cpu" + std::to_string(i), {"sleep", "0.3"});
    spec.resources.cpu = 1;
    ASSERT_TRUE(executor_->Submit(spec, recorder_.Callback()).ok());
  }
  for (int i = 0; i < 3; ++i) {
    auto end = recorder_.WaitTerminal("cpu" + std::to_string(i));
    ASSERT_TRUE(end);
    EXPECT_EQ(end->state, TaskState::kSucceeded);
  }
  auto events = recorder_.Events();
  EXPECT_LE(MaxConcurrency(events), 2);
  // FIFO: the first two started before the third.
  std::vector<std::string> start_order;
  for (const auto& e : events) {
    if (e.update.state == TaskState::kRunning) start_order.push_back(e.update.id);
  }
  ASSERT_EQ(start_order.size(), 3u);
  EXPECT_EQ(start_order[2], "cpu2");
  EXPECT_EQ(executor_->Stats().cpu_in_use, 0);
}

TEST_F(LocalExecutorTest, RequestsLargerThanTheCapacityAreRefused) {
  LocalExecutorOptions options;
  options.cpu_capacity = 2;
  options.memory_capacity = 1 << 20;
  options.gpu_capacity = 1;
  Start(options);
  TaskSpec spec = Spec("big", {"true"});
  spec.resources.cpu = 3;
  Status s = executor_->Submit(spec, recorder_.Callback());
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("cpu"));
  spec.resources.cpu = 1;
  spec.resources.memory_bytes = 2 << 20;
  s = executor_->Submit(spec, recorder_.Callback());
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("memory"));
  spec.resources.memory_bytes = 0;
  spec.resources.gpu = 2;
  s = executor_->Submit(spec, recorder_.Callback());
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("gpu"));
  spec.resources.gpu = 1;
  EXPECT_TRUE(executor_->Submit(spec, recorder_.Callback()).ok());
  auto end = recorder_.WaitTerminal("big");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->state, TaskState::kSucceeded);
}

TEST_F(LocalExecutorTest, MaxConcurrentAndQueuedCancel) {
  LocalExecutorOptions options;
  options.max_concurrent = 1;
  Start(options);
  ASSERT_TRUE(executor_->Submit(Spec("first", {"sleep", "100"}), recorder_.Callback()).ok());
  ASSERT_TRUE(recorder_.WaitState("first", TaskState::kRunning));
  ASSERT_TRUE(executor_->Submit(Spec("second", {"true"}), recorder_.Callback()).ok());
  ASSERT_TRUE(executor_->Submit(Spec("third", {"true"}), recorder_.Callback()).ok());
  ASSERT_TRUE(recorder_.WaitState("second", TaskState::kQueued));
  ASSERT_TRUE(recorder_.WaitState("third", TaskState::kQueued));
  auto stats = executor_->Stats();
  EXPECT_EQ(stats.running, 1);
  EXPECT_EQ(stats.queued, 2);

  ASSERT_TRUE(executor_->Cancel("second").ok());
  auto second = recorder_.WaitTerminal("second");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->state, TaskState::kCancelled);
  EXPECT_EQ(recorder_.States("second"), (std::vector<TaskState>{TaskState::kQueued, TaskState::kCancelled}));

  ASSERT_TRUE(executor_->Cancel("first").ok());
  auto third = recorder_.WaitTerminal("third");
  ASSERT_TRUE(third);
  EXPECT_EQ(third->state, TaskState::kSucceeded);
  EXPECT_EQ(MaxConcurrency(recorder_.Events()), 1);
  EXPECT_FALSE(fs::exists(root_ + "/logs/second.log"));  // never started
}

TEST_F(LocalExecutorTest, BadSpecsAreRejected) {
  Start();
  auto cb = recorder_.Callback();
  TaskSpec spec = Spec("x", {});
  Status s = executor_->Submit(spec, cb);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.field(), "argv");
  spec = Spec("", {"true"});
  EXPECT_EQ(executor_->Submit(spec, cb).field(), "id");
  spec = Spec("x", {"true"});
  spec.working_dir = root_ + "/no-such-dir";
  EXPECT_EQ(executor_->Submit(spec, cb).field(), "working_dir");
  spec = Spec("x", {"true"});
  spec.resources.cpu = -1;
  EXPECT_EQ(executor_->Submit(spec, cb).field(), "resources.cpu");
  spec.resources.cpu = std::nan("");
  EXPECT_EQ(executor_->Submit(spec, cb).field(), "resources.cpu");
  spec = Spec("x", {"true"});
  spec.env["A=B"] = "1";
  EXPECT_EQ(executor_->Submit(spec, cb).code(), StatusCode::kInvalidArgument);
  spec = Spec("x", {"true", std::string("a\0b", 3)});
  EXPECT_EQ(executor_->Submit(spec, cb).field(), "argv[1]");
  spec = Spec("x", {"true"});
  EXPECT_EQ(executor_->Submit(spec, nullptr).code(), StatusCode::kInvalidArgument);
  spec.timeout = -1ms;
  EXPECT_EQ(executor_->Submit(spec, cb).field(), "timeout");

  ASSERT_TRUE(executor_->Submit(Spec("dup", {"sleep", "100"}), cb).ok());
  EXPECT_EQ(executor_->Submit(Spec("dup", {"true"}), cb).code(), StatusCode::kAlreadyExists);
  ASSERT_TRUE(executor_->Cancel("dup").ok());
  ASSERT_TRUE(recorder_.WaitTerminal("dup"));
}

TEST_F(LocalExecutorTest, CreateRejectsBadOptions) {
  LocalExecutorOptions options;
  EXPECT_EQ(LocalExecutor::Create(options).status().code(), StatusCode::kInvalidArgument);  // no state dir
  options.state_dir = StateDir();
  options.cpu_capacity = -1;
  EXPECT_EQ(LocalExecutor::Create(options).status().field(), "cpu_capacity");
  options.cpu_capacity = 0;
  options.max_concurrent = -2;
  EXPECT_EQ(LocalExecutor::Create(options).status().field(), "max_concurrent");
}

TEST_F(LocalExecutorTest, CallbacksMayCallBackIntoTheExecutor) {
  Start();
  // Each terminal callback submits the next task of a chain of 5.
  std::mutex mu;
  std::condition_variable cv;
  int done = 0;
  std::function<void(const TaskUpdate&)> chain = [&](const TaskUpdate& u) {
    if (!IsTerminal(u.state)) return;
    std::lock_guard lock(mu);
    ++done;
    if (done < 5) {
      EXPECT_TRUE(executor_->Submit(Spec("chain" + std::to_string(done), {"true"}), chain).ok());
    }
    EXPECT_EQ(executor_->Cancel(u.id).code(), StatusCode::kNotFound);
    cv.notify_all();
  };
  ASSERT_TRUE(executor_->Submit(Spec("chain0", {"true"}), chain).ok());
  std::unique_lock lock(mu);
  EXPECT_TRUE(cv.wait_for(lock, kWait, [&] { return done == 5; }));
}

TEST_F(LocalExecutorTest, ReattachToARunningTaskAfterShutdown) {
  Recorder first;
  auto a = Make();
  ASSERT_NE(a, nullptr);
  TaskSpec spec = Gated("re", "go-re", "echo done; exit 3");
  ASSERT_TRUE(a->Submit(spec, first.Callback()).ok());
  auto running = first.WaitState("re", TaskState::kRunning);
  ASSERT_TRUE(running);
  a->Shutdown();  // the process keeps running
  a.reset();
  auto token = DecodeAttachToken(running->attach_token);
  ASSERT_TRUE(token.ok());
  EXPECT_FALSE(ProcessGone(token->task_pid));

  Start();
  ASSERT_TRUE(executor_->Reattach(spec, running->attach_token, recorder_.Callback()).ok());
  auto again = recorder_.WaitState("re", TaskState::kRunning);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->attach_token, running->attach_token);
  EXPECT_EQ(executor_->Stats().running, 1);
  EXPECT_EQ(executor_->Reattach(spec, running->attach_token, recorder_.Callback()).code(),
            StatusCode::kAlreadyExists);
  Open("go-re");
  auto end = recorder_.WaitTerminal("re");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->state, TaskState::kFailed);
  EXPECT_EQ(end->exit_code, 3);
  EXPECT_EQ(ReadFile(spec.log_path), "done\n");
  EXPECT_EQ(recorder_.States("re"), (std::vector<TaskState>{TaskState::kRunning, TaskState::kFailed}));
  executor_->Release("re");
  EXPECT_TRUE(ExitFiles().empty());
  // No callback reached the first executor after its Shutdown.
  EXPECT_EQ(first.States("re"), (std::vector<TaskState>{TaskState::kRunning}));
}

TEST_F(LocalExecutorTest, ReattachAfterTheTaskFinishedReportsItsRecordedState) {
  Recorder first;
  auto a = Make();
  ASSERT_NE(a, nullptr);
  TaskSpec spec = Gated("fin", "go-fin", "exit 5");
  ASSERT_TRUE(a->Submit(spec, first.Callback()).ok());
  auto running = first.WaitState("fin", TaskState::kRunning);
  ASSERT_TRUE(running);
  a->Shutdown();
  a.reset();
  Open("go-fin");
  std::string exit_file = StateDir() + "/fin.exit";
  ASSERT_TRUE(WaitUntil([&] { return fs::exists(exit_file); }));

  Start();
  ASSERT_TRUE(executor_->Reattach(spec, running->attach_token, recorder_.Callback()).ok());
  auto end = recorder_.WaitTerminal("fin");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->state, TaskState::kFailed);
  EXPECT_EQ(end->exit_code, 5);
  EXPECT_EQ(recorder_.States("fin"), (std::vector<TaskState>{TaskState::kFailed}));
  EXPECT_TRUE(fs::exists(exit_file));
  executor_->Release("fin");
  EXPECT_FALSE(fs::exists(exit_file));
}

// The window a crash can hit: the terminal state was delivered, but the
// caller had not recorded it (no Release) when the server died. A restarted
// executor still reports it.
TEST_F(LocalExecutorTest, ATerminalStateDeliveredButNotReleasedIsReportedAgainAfterARestart) {
  Recorder first;
  auto a = Make();
  ASSERT_NE(a, nullptr);
  TaskSpec spec = Gated("unrec", "go-unrec", "exit 4");
  ASSERT_TRUE(a->Submit(spec, first.Callback()).ok());
  auto running = first.WaitState("unrec", TaskState::kRunning);
  ASSERT_TRUE(running);
  Open("go-unrec");
  auto delivered = first.WaitTerminal("unrec");
  ASSERT_TRUE(delivered);
  EXPECT_EQ(delivered->exit_code, 4);
  a->Shutdown();
  a.reset();

  Start();
  ASSERT_TRUE(executor_->Reattach(spec, running->attach_token, recorder_.Callback()).ok());
  auto again = recorder_.WaitTerminal("unrec");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->state, TaskState::kFailed);
  EXPECT_EQ(again->exit_code, 4);
}

// A caller that crashed between Submit and storing the token still finds
// its task by id, running or finished; an id never started is NotFound.
TEST_F(LocalExecutorTest, ReattachWithoutATokenFindsTheTaskById) {
  Recorder first;
  auto a = Make();
  ASSERT_NE(a, nullptr);
  TaskSpec run = Gated("byid", "go-byid", "echo once >> once.txt; exit 6");
  TaskSpec fin = Gated("byid-fin", "go-fin", "exit 7");
  ASSERT_TRUE(a->Submit(run, first.Callback()).ok());
  ASSERT_TRUE(a->Submit(fin, first.Callback()).ok());
  auto running = first.WaitState("byid", TaskState::kRunning);
  ASSERT_TRUE(running);
  ASSERT_TRUE(first.WaitState("byid-fin", TaskState::kRunning));
  a->Shutdown();
  a.reset();
  Open("go-fin");
  ASSERT_TRUE(WaitUntil([&] { return fs::exists(StateDir() + "/byid-fin.exit"); }));

  Start();
  EXPECT_EQ(executor_->Reattach(Spec("never", {"true"}), "", recorder_.Callback()).code(),
            StatusCode::kNotFound);
  ASSERT_TRUE(executor_->Reattach(run, "", recorder_.Callback()).ok());
  auto again = recorder_.WaitState("byid", TaskState::kRunning);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->attach_token, running->attach_token);
  EXPECT_EQ(executor_->Reattach(run, "", recorder_.Callback()).code(), StatusCode::kAlreadyExists);
  ASSERT_TRUE(executor_->Reattach(fin, "", recorder_.Callback()).ok());
  auto fin_end = recorder_.WaitTerminal("byid-fin");
  ASSERT_TRUE(fin_end);
  EXPECT_EQ(fin_end->exit_code, 7);
  Open("go-byid");
  auto end = recorder_.WaitTerminal("byid");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->exit_code, 6);
  EXPECT_EQ(ReadFile(root_ + "/wd/once.txt"), "once\n");
  executor_->Release("byid");
  executor_->Release("byid-fin");
  EXPECT_TRUE(ExitFiles().empty());
  EXPECT_EQ(executor_->Reattach(run, "", recorder_.Callback()).code(), StatusCode::kNotFound);
}

// A command that could not be executed leaves no start record: nothing ran,
// so the caller may start it again.
TEST_F(LocalExecutorTest, ReattachWithoutATokenToACommandThatNeverRanIsNotFound) {
  Start();
  TaskSpec spec = Spec("noexec", {"/nonexistent/ferry-no-such-command"});
  ASSERT_TRUE(executor_->Submit(spec, recorder_.Callback()).ok());
  auto end = recorder_.WaitTerminal("noexec");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->exit_code, 127);
  executor_.reset();
  Start();
  EXPECT_EQ(executor_->Reattach(spec, "", recorder_.Callback()).code(), StatusCode::kNotFound);
}

// Submitting an id whose supervisor (of an earlier server) still runs does
// not run the task a second time.
TEST_F(LocalExecutorTest, SubmitOfAnIdThatStillRunsDoesNotRunItTwice) {
  Recorder first;
  auto a = Make();
  ASSERT_NE(a, nullptr);
  TaskSpec spec = Gated("twice", "go-twice", "echo ran >> ran.txt");
  ASSERT_TRUE(a->Submit(spec, first.Callback()).ok());
  ASSERT_TRUE(first.WaitState("twice", TaskState::kRunning));
  a->Shutdown();
  a.reset();

  Start();
  ASSERT_TRUE(executor_->Submit(spec, recorder_.Callback()).ok());
  auto refused = recorder_.WaitTerminal("twice");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->state, TaskState::kFailed);
  EXPECT_NE(refused->message.find("still runs"), std::string::npos) << refused->message;
  Recorder second;
  ASSERT_TRUE(executor_->Reattach(spec, "", second.Callback()).ok());
  ASSERT_TRUE(second.WaitState("twice", TaskState::kRunning));
  Open("go-twice");
  auto end = second.WaitTerminal("twice");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->state, TaskState::kSucceeded);
  EXPECT_EQ(ReadFile(root_ + "/wd/ran.txt"), "ran\n");
}

TEST_F(LocalExecutorTest, ReattachWithBadTokens) {
  Start();
  TaskSpec spec = Spec("bad", {"true"});
  for (std::string token :
       {"garbage", "{}", "[1,2]", "{\"v\":1}", "{\"v\":2,\"sup\":1}", "null",
        "{\"v\":1,\"sup\":-4,\"sups\":1,\"pid\":1,\"pids\":1,\"exit\":\"/x/bad.exit\",\"t0\":0}",
        "{\"v\":1,\"sup\":4,\"sups\":1,\"pid\":1,\"pids\":1,\"exit\":\"rel/bad.exit\",\"t0\":0}",
        "{\"v\":1,\"sup\":4,\"sups\":1,\"pid\":1,\"pids\":1,\"exit\":7,\"t0\":0}",
        "{\"v\":1,\"sup\":4,\"sups\":\"1\",\"pid\":1,\"pids\":1,\"exit\":\"/x/bad.exit\",\"t0\":0}"}) {
    Status s = executor_->Reattach(spec, token, recorder_.Callback());
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << token;
  }
  // A well-formed token of another task.
  AttachToken other;
  other.supervisor_pid = 1;
  other.exit_path = StateDir() + "/other.exit";
  Status s = executor_->Reattach(spec, EncodeAttachToken(other), recorder_.Callback());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.field(), "attach_token.exit");
  EXPECT_TRUE(recorder_.Events().empty());
}

TEST_F(LocalExecutorTest, ReattachToAVanishedProcessIsLost) {
  Start();
  // A real pid that is dead by now.
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  auto start = local_internal::ProcessStartTime(child);
  ASSERT_TRUE(start.has_value());
  ::waitpid(child, nullptr, 0);
  AttachToken token;
  token.supervisor_pid = child;
  token.supervisor_start = *start;
  token.task_pid = child;
  token.task_start = *start;
  token.exit_path = StateDir() + "/gone.exit";
  token.started_ms = 1'700'000'000'000;
  ASSERT_TRUE(
      executor_->Reattach(Spec("gone", {"true"}), EncodeAttachToken(token), recorder_.Callback()).ok());
  auto end = recorder_.WaitTerminal("gone");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->state, TaskState::kLost);
  EXPECT_THAT(end->message, HasSubstr("vanished"));

  // A live pid with another start time (pid reuse) is not the task either.
  token.supervisor_pid = ::getpid();
  token.task_pid = ::getpid();
  token.exit_path = StateDir() + "/reused.exit";
  ASSERT_TRUE(
      executor_->Reattach(Spec("reused", {"true"}), EncodeAttachToken(token), recorder_.Callback()).ok());
  auto reused = recorder_.WaitTerminal("reused");
  ASSERT_TRUE(reused);
  EXPECT_EQ(reused->state, TaskState::kLost);
}

TEST_F(LocalExecutorTest, TaskWhoseSupervisorDiesEndsWithUnknownStatus) {
  Start();
  TaskSpec spec = Gated("orphan", "go-orphan", "exit 0");
  ASSERT_TRUE(executor_->Submit(spec, recorder_.Callback()).ok());
  auto running = recorder_.WaitState("orphan", TaskState::kRunning);
  ASSERT_TRUE(running);
  auto token = DecodeAttachToken(running->attach_token);
  ASSERT_TRUE(token.ok());
  ASSERT_EQ(::kill(token->supervisor_pid, SIGKILL), 0);
  ASSERT_TRUE(WaitUntil([&] { return ProcessGone(token->supervisor_pid); }));
  auto opened = std::chrono::system_clock::now();
  Open("go-orphan");
  auto end = recorder_.WaitTerminal("orphan");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->state, TaskState::kFailed);
  EXPECT_EQ(end->exit_code, -1);
  EXPECT_THAT(end->message, HasSubstr("unknown"));
  // It was reported only once the task itself had ended.
  EXPECT_GE(end->finished, opened);
  EXPECT_TRUE(ProcessGone(token->task_pid));
}

TEST_F(LocalExecutorTest, ReattachToATaskWhoseSupervisorDiedWatchesTheTask) {
  Recorder first;
  auto a = Make();
  ASSERT_NE(a, nullptr);
  TaskSpec spec = Gated("lone", "go-lone", "exit 0");
  ASSERT_TRUE(a->Submit(spec, first.Callback()).ok());
  auto running = first.WaitState("lone", TaskState::kRunning);
  ASSERT_TRUE(running);
  a.reset();
  auto token = DecodeAttachToken(running->attach_token);
  ASSERT_TRUE(token.ok());
  ASSERT_EQ(::kill(token->supervisor_pid, SIGKILL), 0);
  ::waitpid(token->supervisor_pid, nullptr, 0);  // this process is its parent

  Start();
  ASSERT_TRUE(executor_->Reattach(spec, running->attach_token, recorder_.Callback()).ok());
  auto again = recorder_.WaitState("lone", TaskState::kRunning);
  ASSERT_TRUE(again);
  EXPECT_THAT(again->message, HasSubstr("will not be known"));
  auto opened = std::chrono::system_clock::now();
  Open("go-lone");
  auto end = recorder_.WaitTerminal("lone");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->state, TaskState::kFailed);
  EXPECT_EQ(end->exit_code, -1);
  EXPECT_GE(end->finished, opened);
}

TEST_F(LocalExecutorTest, SubmitAfterShutdownIsRefused) {
  Start();
  executor_->Shutdown();
  executor_->Shutdown();
  EXPECT_EQ(executor_->Submit(Spec("late", {"true"}), recorder_.Callback()).code(),
            StatusCode::kFailedPrecondition);
}

std::chrono::microseconds Percentile(std::vector<std::chrono::microseconds> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? std::chrono::microseconds(0) : v[static_cast<std::size_t>(p * (v.size() - 1))];
}

TEST_F(LocalExecutorTest, ManyShortTasksAllComplete) {
  LocalExecutorOptions options;
  options.max_concurrent = 8;
  options.cpu_capacity = 64;
  Start(options);
  constexpr int kTasks = 200;
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, std::chrono::steady_clock::time_point> submitted;
  std::vector<std::chrono::microseconds> latency;
  int succeeded = 0, finished = 0, running = 0, max_running = 0;
  auto cb = [&](const TaskUpdate& u) {
    auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mu);
    if (u.state == TaskState::kRunning) max_running = std::max(max_running, ++running);
    if (!IsTerminal(u.state)) return;
    --running;
    ++finished;
    if (u.state == TaskState::kSucceeded) ++succeeded;
    latency.push_back(std::chrono::duration_cast<std::chrono::microseconds>(now - submitted[u.id]));
    cv.notify_all();
  };
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kTasks; ++i) {
    std::string id = "many" + std::to_string(i);
    {
      std::lock_guard lock(mu);
      submitted[id] = std::chrono::steady_clock::now();
    }
    ASSERT_TRUE(executor_->Submit(Spec(id, {"true"}), cb).ok());
  }
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, 120s, [&] { return finished == kTasks; }));
  EXPECT_EQ(succeeded, kTasks);
  EXPECT_LE(max_running, 8);
  auto wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "[ perf ] %d x `true` through max_concurrent=8: %.2f s, %.0f tasks/s, %.2f ms of wall time per task; "
      "submit->terminal p50 %lld us (queueing included)\n",
      kTasks, wall, kTasks / wall, wall * 1000 / kTasks,
      static_cast<long long>(Percentile(latency, 0.5).count()));
}

// Sequential tasks, one at a time, so no queueing is measured: the
// executor's overhead is the submit->terminal time minus the time the same
// command takes when the test spawns and waits for it itself. Measured with
// and without the fsync of the exit file.
TEST_F(LocalExecutorTest, PerTaskOverhead) {
  for (bool fsync : {true, false}) {
    LocalExecutorOptions options;
    options.fsync_exit_files = fsync;
    Start(options);
    Recorder recorder;
    constexpr int kRuns = 40;
    std::vector<std::chrono::microseconds> raw, through, to_running, exit_to_callback;
    for (int i = 0; i < kRuns; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      pid_t pid;
      char* argv[] = {const_cast<char*>("true"), nullptr};
      ASSERT_EQ(::posix_spawnp(&pid, "true", nullptr, nullptr, argv, environ), 0);
      ::waitpid(pid, nullptr, 0);
      raw.push_back(
          std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0));

      std::string id = "lat" + std::to_string(fsync) + "-" + std::to_string(i);
      t0 = std::chrono::steady_clock::now();
      ASSERT_TRUE(executor_->Submit(Spec(id, {"true"}), recorder.Callback()).ok());
      ASSERT_TRUE(recorder.WaitTerminal(id));
      through.push_back(
          std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0));
      for (const auto& e : recorder.Events()) {
        if (e.update.id == id && e.update.state == TaskState::kRunning) {
          to_running.push_back(std::chrono::duration_cast<std::chrono::microseconds>(e.at - t0));
        }
      }
    }
    // Task exit -> terminal callback: the task's last act prints the wall clock.
    for (int i = 0; i < 20; ++i) {
      std::string id = "exit" + std::to_string(fsync) + "-" + std::to_string(i);
      TaskSpec spec = Spec(id, {"date", "+%s%N"});
      ASSERT_TRUE(executor_->Submit(spec, recorder.Callback()).ok());
      ASSERT_TRUE(recorder.WaitTerminal(id));
      auto events = recorder.Events();
      auto it = std::find_if(events.begin(), events.end(),
                             [&](const auto& e) { return e.update.id == id && IsTerminal(e.update.state); });
      ASSERT_NE(it, events.end());
      std::int64_t printed_ns = std::atoll(ReadFile(spec.log_path).c_str());
      std::int64_t delivered_ns =
          std::chrono::duration_cast<std::chrono::nanoseconds>(it->wall.time_since_epoch()).count();
      exit_to_callback.push_back(std::chrono::microseconds((delivered_ns - printed_ns) / 1000));
    }
    auto p50_raw = Percentile(raw, 0.5), p50_through = Percentile(through, 0.5);
    std::printf(
        "[ perf ] fsync=%d `true`: spawn+wait by hand p50 %lld us; through the executor p50 %lld us "
        "(submit->Running p50 %lld us); overhead p50 %lld us; task exit -> terminal callback p50 %lld us "
        "(p90 %lld us)\n",
        fsync, static_cast<long long>(p50_raw.count()), static_cast<long long>(p50_through.count()),
        static_cast<long long>(Percentile(to_running, 0.5).count()),
        static_cast<long long>((p50_through - p50_raw).count()),
        static_cast<long long>(Percentile(exit_to_callback, 0.5).count()),
        static_cast<long long>(Percentile(exit_to_callback, 0.9).count()));
    EXPECT_EQ(recorder.Events().size(), 2u * (kRuns + 20));
    executor_.reset();
  }
}

// ---- the private helpers ----

TEST(LocalExecutorInternalTest, AttachTokenRoundTrips) {
  AttachToken t;
  t.supervisor_pid = 123;
  t.supervisor_start = 456789;
  t.task_pid = 124;
  t.task_start = 456790;
  t.exit_path = "/var/lib/ferry/state/task-1.exit";
  t.started_ms = 1'700'000'000'123;
  auto back = DecodeAttachToken(EncodeAttachToken(t));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->supervisor_pid, 123);
  EXPECT_EQ(back->supervisor_start, 456789u);
  EXPECT_EQ(back->task_pid, 124);
  EXPECT_EQ(back->task_start, 456790u);
  EXPECT_EQ(back->exit_path, t.exit_path);
  EXPECT_EQ(back->started_ms, t.started_ms);
  EXPECT_EQ(DecodeAttachToken(std::string(5000, ' ')).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeAttachToken("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[").status().code(),
            StatusCode::kInvalidArgument);
  t.exit_path = "/a/../etc/passwd.exit";
  EXPECT_EQ(DecodeAttachToken(EncodeAttachToken(t)).status().code(), StatusCode::kInvalidArgument);
}

TEST(LocalExecutorInternalTest, ProcStatStartTime) {
  std::string line =
      "4242 (we ird) (name) S 1 4242 4242 0 -1 4194304 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 "
      "18446744073709551615\n";
  EXPECT_EQ(local_internal::ParseProcStatStartTime(line), std::optional<std::uint64_t>(987654));
  EXPECT_EQ(local_internal::ParseProcStatStartTime("4242 (x) S 1 2"), std::nullopt);
  EXPECT_EQ(local_internal::ParseProcStatStartTime("no paren"), std::nullopt);
  EXPECT_TRUE(local_internal::ProcessStartTime(::getpid()).has_value());
  EXPECT_FALSE(local_internal::ProcessStartTime(0).has_value());
}

TEST(LocalExecutorInternalTest, ExitRecordRoundTripsAndRejectsTornFiles) {
  local_internal::ExitRecord r{0x0900, local_internal::kStageExec, ENOENT};
  char buf[96];
  std::size_t n = local_internal::FormatExitRecord(r, buf, sizeof(buf));
  std::string text(buf, n);
  EXPECT_EQ(text, "ferry-exit 1 2304 2 2\n");
  auto back = local_internal::ParseExitRecord(text);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->wait_status, 0x0900);
  EXPECT_EQ(back->stage, local_internal::kStageExec);
  EXPECT_EQ(back->error, ENOENT);
  n = local_internal::FormatExitRecord({-5, 0, 0}, buf, sizeof(buf));
  EXPECT_EQ(local_internal::ParseExitRecord(std::string(buf, n))->wait_status, -5);
  for (std::string bad : {"", "ferry-exit 1 0 0", "ferry-exit 1 0 0 0", "ferry-exit 1 0 0 0 0\n",
                          "ferry-exit 2 0 0 0\n", "ferry-exit 1 x 0 0\n", "ferry-exit 1 0 9 0\n"}) {
    EXPECT_FALSE(local_internal::ParseExitRecord(bad).has_value()) << bad;
  }
}

TEST(LocalExecutorInternalTest, StartRecordRoundTripsAndRejectsTornFiles) {
  local_internal::StartRecord r;
  r.supervisor_pid = 12;
  r.supervisor_start = 345;
  r.task_pid = 13;
  r.task_start = 346;
  r.started_ms = 1700000000000;
  char buf[160];
  std::string text(buf, local_internal::FormatStartRecord(r, buf, sizeof(buf)));
  EXPECT_EQ(text, "ferry-start 1 12 345 13 346 1700000000000\n");
  auto back = local_internal::ParseStartRecord(text);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->supervisor_pid, 12);
  EXPECT_EQ(back->supervisor_start, 345u);
  EXPECT_EQ(back->task_pid, 13);
  EXPECT_EQ(back->task_start, 346u);
  EXPECT_EQ(back->started_ms, 1700000000000);
  for (std::string bad : {"", "ferry-start 1 12 345 13 346 1700000000000", "ferry-start 1 12 345 13 346\n",
                          "ferry-start 1 0 345 13 346 1\n", "ferry-start 1 12 345 -13 346 1\n",
                          "ferry-start 2 12 345 13 346 1\n", "ferry-start 1 12 345 13 346 1 9\n"}) {
    EXPECT_FALSE(local_internal::ParseStartRecord(bad).has_value()) << bad;
  }
  EXPECT_EQ(local_internal::StartFileName("run-1.task_a"), "run-1.task_a.start");
  EXPECT_EQ(local_internal::StartFileName("../x"), local_internal::ExitFileName("../x").substr(0, 34) + ".start");
}

TEST(LocalExecutorInternalTest, ExitFileNames) {
  EXPECT_EQ(local_internal::ExitFileName("run-1.task_a"), "run-1.task_a.exit");
  std::string hashed = local_internal::ExitFileName("../../etc/passwd");
  EXPECT_EQ(hashed.rfind("x-", 0), 0u);
  EXPECT_EQ(hashed.size(), 2 + 32 + 5);
  EXPECT_NE(local_internal::ExitFileName(".hidden"), ".hidden.exit");
  EXPECT_NE(local_internal::ExitFileName("a/b"), local_internal::ExitFileName("a_b"));
  EXPECT_EQ(local_internal::SignalName(SIGTERM), "SIGTERM");
}

}  // namespace
}  // namespace ferry::executors
