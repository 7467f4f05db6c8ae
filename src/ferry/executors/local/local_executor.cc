// The local executor (see local_executor.h).
//
// One monitor thread owns the moving parts: it admits queued tasks, forks
// their supervisors (without waiting for them: the task's pid arrives
// through a pipe in the same epoll set), watches each supervisor through a
// pidfd (a supervisor exits right after it renames the exit file, so the
// pidfd turning readable is the task's end: no polling, no inotify),
// enforces timeouts and kill grace periods through the epoll timeout, and
// delivers every callback, in order, with no lock held. Other threads only
// change the bookkeeping under mu_ and wake the monitor through an eventfd.
//
// The supervisor starts the task with posix_spawn (glibc: clone with
// CLONE_VM|CLONE_VFORK, then setpgid, default signals, dup2s, chdir, exec),
// so the server's address space is copied once per task, not twice.
//
// Decisions where the header is silent:
//   - A task whose supervisor died (killed by hand, OOM) is watched through
//     its own pidfd; when it ends it is reported kFailed with exit_code -1
//     and a message saying the status is unknown (kCancelled/kTimedOut if it
//     was being killed). kLost is only for Reattach finding nothing alive
//     and no exit record.
//   - A command that cannot be executed never reports kRunning: kFailed
//     (exit code 127, the reason in the message and the log) comes alone.
//   - kQueued is reported only when a task has to wait for capacity.
//   - Shutdown drops queued tasks silently (they have no process and no
//     token; the caller submits them again after a restart).
//   - Exit files are removed after the callback that delivered them returns.

#include "ferry/executors/local/local_executor.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>

#include "ferry/common/logging.h"
#include "ferry/common/strings.h"
#include "ferry/executors/local/local_executor_internal.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace ferry::executors {
namespace {

using namespace local_internal;  // NOLINT: this file's private helpers
using Clock = std::chrono::steady_clock;

constexpr double kMinCpuShare = 0.1;  // what cpu = 0 counts as
constexpr std::chrono::hours kStaleExitFileAge{24 * 7};
constexpr char kDefaultPath[] = "/usr/local/bin:/usr/bin:/bin";

int PidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

std::string ErrnoText(int err) {
  const char* desc = ::strerrordesc_np(err);
  return desc != nullptr ? desc : "errno " + std::to_string(err);
}

// A pidfd of `pid` if it is still the process that started at `start`; -1
// otherwise. The pidfd is opened first, so a matching start time read after
// it proves the pidfd refers to that very process.
int OpenVerifiedPidfd(pid_t pid, std::uint64_t start) {
  if (pid <= 0 || start == 0) return -1;
  int fd = PidfdOpen(pid);
  if (fd < 0) return -1;
  auto now_start = ProcessStartTime(pid);
  if (!now_start || *now_start != start) {
    ::close(fd);
    return -1;
  }
  return fd;
}

struct ExitFile {
  ExitRecord record;
  std::chrono::system_clock::time_point written;
};

std::optional<ExitFile> ReadExitFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return std::nullopt;
  char buf[128];
  ssize_t n;
  do {
    n = ::read(fd, buf, sizeof(buf));
  } while (n < 0 && errno == EINTR);
  struct stat st {};
  bool have_stat = ::fstat(fd, &st) == 0;
  ::close(fd);
  if (n <= 0) return std::nullopt;
  auto record = ParseExitRecord(std::string_view(buf, static_cast<std::size_t>(n)));
  if (!record) return std::nullopt;
  ExitFile out{*record, std::chrono::system_clock::now()};
  if (have_stat) {
    out.written =
        std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
  }
  return out;
}

bool HasNul(const std::string& s) { return s.find('\0') != std::string::npos; }

double CpuShare(double cpu) { return cpu > 0 ? cpu : kMinCpuShare; }

// ---------------------------------------------------------------------------
// After fork: everything below until the end of RunSupervisor runs in a
// child of a multi-threaded process, so it only makes async-signal-safe
// calls (posix_spawn with attributes prepared before the fork included) and
// allocates nothing.

// Everything the supervisor and the task need, allocated before fork.
struct LaunchPlan {
  std::vector<std::string> candidates;  // where argv[0] may be, in PATH order
  std::vector<std::string> argv_storage;
  std::vector<char*> argv;
  std::vector<char*> sh_argv;  // {"/bin/sh", <candidate>, argv[1..], nullptr} for ENOEXEC
  std::vector<std::string> env_storage;
  std::vector<char*> envp;
  std::string working_dir;
  std::string exit_path;
  std::string tmp_path;
  std::string exec_error_prefix;   // "ferry: cannot execute 'x': "
  std::string chdir_error_prefix;  // "ferry: cannot change to working directory 'd': "
  bool fsync_exit_file = true;
  int log_fd = -1;
  int devnull_fd = -1;
  int pid_pipe_read = -1;
  int pid_pipe_write = -1;
  int start_fd = -1;  // the start record, flock'ed (LOCK_EX) for the supervisor's life
  std::int64_t started_ms = 0;
  int max_fd = 1024;  // for the close() loop when close_range is missing
  // The task's own group, default signals, empty mask; stdin from
  // /dev/null, stdout and stderr to the log; the working dir.
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  bool spawn_ready = false;

  LaunchPlan() = default;
  LaunchPlan(const LaunchPlan&) = delete;
  LaunchPlan& operator=(const LaunchPlan&) = delete;
  ~LaunchPlan() {
    if (spawn_ready) {
      ::posix_spawnattr_destroy(&attr);
      ::posix_spawn_file_actions_destroy(&actions);
    }
  }
};

// What the supervisor sends through the pid pipe once the task runs.
struct StartMessage {
  pid_t pid;
  std::uint64_t start_time;
};

void WriteAll(int fd, const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

void WriteCString(int fd, const char* s) { WriteAll(fd, s, std::strlen(s)); }

// Closes every fd >= 3 except those in keep (sorted ascending).
void CloseAllExcept(const int* keep, int count, int max_fd) {
  unsigned int lo = 3;
  for (int i = 0; i <= count; ++i) {
    unsigned int hi = i < count ? static_cast<unsigned int>(keep[i]) : ~0U;  // exclusive bound for i < count
    if (i < count && static_cast<unsigned int>(keep[i]) < lo) continue;
    unsigned int last = i < count ? hi - 1 : ~0U;
    if (lo <= last) {
      if (::syscall(SYS_close_range, lo, last, 0) != 0) {
        unsigned int stop = std::min<unsigned int>(last, static_cast<unsigned int>(max_fd));
        for (unsigned int fd = lo; fd <= stop; ++fd) ::close(static_cast<int>(fd));
      }
    }
    if (i < count) lo = hi + 1;
  }
}

void ResetSignals(bool ignore_sigpipe) {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    ::sigaction(sig, &dfl, nullptr);  // EINVAL for libc-reserved signals: harmless
  }
  if (ignore_sigpipe) {
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    ::sigaction(SIGPIPE, &ign, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

void WriteExitRecord(const LaunchPlan& plan, const ExitRecord& record) {
  char buf[96];
  std::size_t len = FormatExitRecord(record, buf, sizeof(buf));
  int fd = ::open(plan.tmp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  WriteAll(fd, buf, len);
  if (plan.fsync_exit_file) ::fsync(fd);
  ::close(fd);
  ::rename(plan.tmp_path.c_str(), plan.exit_path.c_str());
}

[[noreturn]] void RunSupervisor(LaunchPlan& plan) {
  ::setsid();
  ResetSignals(/*ignore_sigpipe=*/true);
  // The supervisor may outlive the server: it must not hold the server's
  // stdio (a pipe someone waits on) or any other of its descriptors.
  ::dup2(plan.devnull_fd, 0);
  ::dup2(plan.devnull_fd, 1);
  ::dup2(plan.devnull_fd, 2);
  int keep[4] = {plan.log_fd, plan.devnull_fd, plan.pid_pipe_write, plan.start_fd};
  std::sort(keep, keep + 4);
  CloseAllExcept(keep, 4, plan.max_fd);

  // posix_spawn is fork+exec with vfork's cost (glibc clones with
  // CLONE_VM|CLONE_VFORK): the supervisor's copy of the server's page tables
  // is not copied again, and it returns once the exec has happened or failed.
  pid_t task = -1;
  int err = ENOENT;
  bool saw_eacces = false;
  bool spawned = false;
  for (std::size_t i = 0; i < plan.candidates.size() && !spawned; ++i) {
    char* path = plan.candidates[i].data();
    int e = ::posix_spawn(&task, path, &plan.actions, &plan.attr, plan.argv.data(), plan.envp.data());
    if (e == ENOEXEC) {  // no #! line: run it as a shell script, as execvp does
      plan.sh_argv[1] = path;
      e = ::posix_spawn(&task, "/bin/sh", &plan.actions, &plan.attr, plan.sh_argv.data(), plan.envp.data());
    }
    if (e == 0) {
      spawned = true;
      break;
    }
    switch (e) {
      case EACCES:
        saw_eacces = true;
        break;
      case ENOENT:
      case ENOTDIR:
      case ESTALE:
      case ENODEV:
      case ETIMEDOUT:
        err = e;
        break;
      default:
        err = e;
        i = plan.candidates.size();
        break;
    }
  }
  if (!spawned) {
    if (saw_eacces && err != EACCES && (err == ENOENT || err == ENOTDIR)) err = EACCES;
    // The chdir is one of the spawn's file actions; tell its failure apart.
    ExitRecord record{127 << 8, err == EAGAIN || err == ENOMEM ? kStageFork : kStageExec, err};
    const std::string* prefix = &plan.exec_error_prefix;
    if (::chdir(plan.working_dir.c_str()) != 0) {
      record.stage = kStageChdir;
      record.error = errno;
      prefix = &plan.chdir_error_prefix;
    }
    WriteAll(plan.log_fd, prefix->data(), prefix->size());
    const char* desc = ::strerrordesc_np(record.error);
    WriteCString(plan.log_fd, desc != nullptr ? desc : "unknown error");
    WriteCString(plan.log_fd, "\n");
    WriteExitRecord(plan, record);
    ::_exit(0);  // the pid pipe closes unwritten: there is no task pid
  }
  // The task is our unreaped child, so its /proc entry is its own: its start
  // time read here cannot belong to a later process that reuses the pid.
  StartMessage started{task, ProcessStartTime(task).value_or(0)};
  // The start record goes out before the pid does: a server that dies now
  // and restarts finds the task by its id (Reattach with no token).
  StartRecord start;
  start.supervisor_pid = ::getpid();
  start.supervisor_start = ProcessStartTime(start.supervisor_pid).value_or(0);
  start.task_pid = task;
  start.task_start = started.start_time;
  start.started_ms = plan.started_ms;
  char start_buf[160];
  std::size_t start_len = FormatStartRecord(start, start_buf, sizeof(start_buf));
  while (::pwrite(plan.start_fd, start_buf, start_len, 0) < 0 && errno == EINTR) {
  }
  WriteAll(plan.pid_pipe_write, &started, sizeof(started));  // < PIPE_BUF: one atomic write
  ::close(plan.pid_pipe_write);
  ::close(plan.log_fd);
  ::close(plan.devnull_fd);

  ExitRecord record;
  // Keep the leader a zombie (its pid, hence the group id, stays reserved)
  // while what is left of its group is killed, as a container's end does.
  siginfo_t info;
  while (::waitid(P_PID, static_cast<id_t>(task), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR) {
  }
  ::kill(-task, SIGKILL);
  int status = 0;
  while (::waitpid(task, &status, 0) < 0 && errno == EINTR) {
  }
  record.wait_status = status;
  WriteExitRecord(plan, record);
  ::_exit(0);
}

// End of the code that runs after fork.
// ---------------------------------------------------------------------------

class LocalExecutorImpl final : public LocalExecutor {
 public:
  explicit LocalExecutorImpl(LocalExecutorOptions options) : options_(std::move(options)) {}
  ~LocalExecutorImpl() override {
    Shutdown();
    if (monitor_.joinable()) monitor_.join();
    CloseFds();
  }

  Status Init();

  Status Submit(const TaskSpec& spec, UpdateCallback on_update) override;
  Status Reattach(const TaskSpec& spec, std::string_view attach_token, UpdateCallback on_update) override;
  Result<std::string> TokenFromStartRecord(std::string_view id) const;
  Status Cancel(std::string_view id) override;
  void Release(std::string_view id) override;
  void Shutdown() override;
  void RemoveStaleExitFiles();
  LocalExecutorStats Stats() const override;

 private:
  enum class Phase { kQueued, kStarting, kRunning };
  enum class EndReason { kNone, kCancel, kTimeout };

  struct Task {
    TaskSpec spec;
    UpdateCallback on_update;
    Phase phase = Phase::kQueued;
    double cpu = 0;
    bool reported_queued = false;
    bool cancel_pending = false;  // Cancel arrived while starting
    EndReason end = EndReason::kNone;
    pid_t supervisor_pid = 0;
    pid_t task_pid = 0;
    std::uint64_t task_start = 0;
    int watch_fd = -1;  // in epoll: the pid pipe while starting, then a pidfd
    std::uint64_t watch_key = 0;
    bool watching_supervisor = true;  // false: the supervisor died, the task is watched
    std::string exit_path;
    std::string token;
    std::chrono::system_clock::time_point started;
    std::optional<Clock::time_point> timeout_at;
    std::optional<Clock::time_point> kill_at;
  };
  using TaskPtr = std::shared_ptr<Task>;

  struct Delivery {
    TaskPtr task;
    TaskUpdate update;
  };

  Status ValidateSpec(const TaskSpec& spec, const UpdateCallback& on_update) const;
  void Wake();
  void Run();
  int NextTimeoutMs();
  void HandleWatch(const TaskPtr& task);
  void HandleDeadlines();
  void Admit(std::vector<TaskPtr>* to_start);
  void Launch(const TaskPtr& task);
  void SupervisorStarted(const TaskPtr& task);
  Status Plan(const Task& task, LaunchPlan& plan);
  bool Watch(const TaskPtr& task, int fd);
  void Unwatch(Task& task);
  void SignalGroup(Task& task, int sig);
  void BeginKill(Task& task, EndReason reason);
  void Finish(const TaskPtr& task, TaskUpdate update);
  TaskUpdate UpdateFromRecord(const Task& task, const ExitRecord& record) const;
  void Deliver();
  void CloseFds();

  LocalExecutorOptions options_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  int max_fd_ = 1024;
  std::thread monitor_;
  std::thread::id monitor_id_;

  mutable std::mutex mu_;
  bool stopping_ = false;
  std::map<std::string, TaskPtr, std::less<>> tasks_;  // queued, starting and running
  std::deque<TaskPtr> queue_;                          // FIFO of queued tasks
  std::unordered_map<std::uint64_t, TaskPtr> watches_;
  std::uint64_t next_watch_key_ = 1;  // 0 is the eventfd
  std::vector<Delivery> deliveries_;
  int active_ = 0;  // starting + running
  double cpu_in_use_ = 0;
  std::int64_t memory_in_use_ = 0;
  int gpu_in_use_ = 0;
};

Status LocalExecutorImpl::Init() {
  namespace fs = std::filesystem;
  if (options_.state_dir.empty()) return InvalidArgument("state_dir is required", "state_dir");
  std::error_code ec;
  fs::create_directories(options_.state_dir, ec);
  if (ec)
    return Internal("cannot create state dir " + QuoteForMessage(options_.state_dir) + ": " + ec.message());
  fs::path abs = fs::absolute(options_.state_dir, ec);
  if (ec) return Internal("cannot resolve state dir: " + ec.message());
  options_.state_dir = abs.lexically_normal().string();
  if (options_.state_dir.size() > 1 && options_.state_dir.back() == '/') options_.state_dir.pop_back();
  RemoveStaleExitFiles();

  if (!(options_.cpu_capacity >= 0) || !std::isfinite(options_.cpu_capacity)) {
    return InvalidArgument("cpu_capacity must be a finite number >= 0", "cpu_capacity");
  }
  if (options_.memory_capacity < 0) return InvalidArgument("memory_capacity must be >= 0", "memory_capacity");
  if (options_.gpu_capacity < 0) return InvalidArgument("gpu_capacity must be >= 0", "gpu_capacity");
  if (options_.max_concurrent < 0) return InvalidArgument("max_concurrent must be >= 0", "max_concurrent");
  if (options_.kill_grace.count() < 0) return InvalidArgument("kill_grace must be >= 0", "kill_grace");
  if (options_.cpu_capacity == 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    int n = ::sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 0;
    if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    options_.cpu_capacity = n;
  }
  if (options_.memory_capacity == 0) {
    std::ifstream meminfo("/proc/meminfo");
    std::string key;
    std::int64_t kb = 0;
    while (meminfo >> key) {
      if (key == "MemTotal:" && (meminfo >> kb)) break;
      std::getline(meminfo, key);
    }
    options_.memory_capacity = kb > 0 ? kb * 1024 : std::numeric_limits<std::int64_t>::max();
  }

  int self = PidfdOpen(::getpid());
  if (self < 0)
    return Unavailable("the local executor needs pidfd_open (Linux 5.3 or later): " + ErrnoText(errno));
  ::close(self);
  long open_max = ::sysconf(_SC_OPEN_MAX);
  max_fd_ = open_max > 0 ? static_cast<int>(std::min<long>(open_max, 1 << 20)) : 1024;

  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return Internal("epoll_create1: " + ErrnoText(errno));
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return Internal("eventfd: " + ErrnoText(errno));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 0;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0)
    return Internal("epoll_ctl: " + ErrnoText(errno));
  monitor_ = std::thread([this] { Run(); });
  monitor_id_ = monitor_.get_id();
  return Status::OK();
}

void LocalExecutorImpl::CloseFds() {
  for (auto& [key, task] : watches_) {
    if (task->watch_fd >= 0) ::close(task->watch_fd);
    task->watch_fd = -1;
  }
  watches_.clear();
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  wake_fd_ = epoll_fd_ = -1;
}

Status LocalExecutorImpl::ValidateSpec(const TaskSpec& spec, const UpdateCallback& on_update) const {
  if (!on_update) return InvalidArgument("on_update callback is required", "on_update");
  if (spec.id.empty()) return InvalidArgument("task id is empty", "id");
  if (HasNul(spec.id)) return InvalidArgument("task id contains a NUL byte", "id");
  if (spec.argv.empty()) return InvalidArgument("argv is empty", "argv");
  if (spec.argv[0].empty()) return InvalidArgument("argv[0] is empty", "argv[0]");
  for (std::size_t i = 0; i < spec.argv.size(); ++i) {
    if (HasNul(spec.argv[i]))
      return InvalidArgument("argument contains a NUL byte", "argv[" + std::to_string(i) + "]");
  }
  for (const auto& [key, value] : spec.env) {
    std::string field = "env[" + QuoteForMessage(key, 60) + "]";
    if (key.empty()) return InvalidArgument("environment variable with an empty name", "env");
    if (key.find('=') != std::string::npos || HasNul(key) || HasNul(value)) {
      return InvalidArgument("environment variable name contains '=' or a NUL byte, or its value a NUL byte",
                             field);
    }
  }
  if (spec.working_dir.empty()) return InvalidArgument("working_dir is empty", "working_dir");
  struct stat st {};
  if (HasNul(spec.working_dir) || ::stat(spec.working_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return InvalidArgument(
        "working_dir " + QuoteForMessage(spec.working_dir) + " is not an existing directory", "working_dir");
  }
  if (spec.log_path.empty() || HasNul(spec.log_path)) {
    return InvalidArgument("log_path is empty or contains a NUL byte", "log_path");
  }
  const ResourceRequest& r = spec.resources;
  if (!(r.cpu >= 0) || !std::isfinite(r.cpu)) {
    return InvalidArgument("cpu request must be a finite number >= 0", "resources.cpu");
  }
  if (r.memory_bytes < 0) return InvalidArgument("memory request must be >= 0", "resources.memory_bytes");
  if (r.gpu < 0) return InvalidArgument("gpu request must be >= 0", "resources.gpu");
  if (spec.timeout.count() < 0) return InvalidArgument("timeout must be >= 0", "timeout");
  return Status::OK();
}

Status LocalExecutorImpl::Submit(const TaskSpec& spec, UpdateCallback on_update) {
  RETURN_IF_ERROR(ValidateSpec(spec, on_update));
  const ResourceRequest& r = spec.resources;
  if (CpuShare(r.cpu) > options_.cpu_capacity + 1e-9) {
    return ResourceExhausted("cpu request " + std::to_string(r.cpu) + " exceeds the executor's capacity of " +
                             std::to_string(options_.cpu_capacity) + " cores");
  }
  if (r.memory_bytes > options_.memory_capacity) {
    return ResourceExhausted("memory request of " + std::to_string(r.memory_bytes) +
                             " bytes exceeds the executor's capacity of " +
                             std::to_string(options_.memory_capacity) + " bytes");
  }
  if (r.gpu > options_.gpu_capacity) {
    return ResourceExhausted("gpu request " + std::to_string(r.gpu) + " exceeds the executor's capacity of " +
                             std::to_string(options_.gpu_capacity) + " gpus");
  }
  auto task = std::make_shared<Task>();
  task->spec = spec;
  task->on_update = std::move(on_update);
  task->cpu = CpuShare(r.cpu);
  task->exit_path = options_.state_dir + "/" + ExitFileName(spec.id);
  {
    std::lock_guard lock(mu_);
    if (stopping_) return FailedPrecondition("the executor is shut down");
    if (tasks_.count(spec.id) != 0)
      return AlreadyExists("task " + QuoteForMessage(spec.id) + " is already live");
    tasks_.emplace(spec.id, task);
    queue_.push_back(task);
  }
  Wake();
  return Status::OK();
}

Result<std::string> LocalExecutorImpl::TokenFromStartRecord(std::string_view id) const {
  const std::string path = options_.state_dir + "/" + StartFileName(id);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return NotFound("no process of task " + QuoteForMessage(id) + " was started");
    return Internal("cannot open start record " + QuoteForMessage(path) + ": " + ErrnoText(errno));
  }
  auto read_record = [fd]() -> std::optional<StartRecord> {
    char buf[256];
    ssize_t n;
    do {
      n = ::pread(fd, buf, sizeof(buf), 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return std::nullopt;
    return ParseStartRecord(std::string_view(buf, static_cast<std::size_t>(n)));
  };
  // A live supervisor holds the lock. It writes the record right after it
  // started the task, so a held lock with no record yet is a start in
  // progress: wait for it (or for the supervisor's end).
  std::optional<StartRecord> record;
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  for (;;) {
    record = read_record();
    if (record) break;
    if (::flock(fd, LOCK_SH | LOCK_NB) == 0) {
      record = read_record();  // written just before the supervisor ended
      break;
    }
    if (errno != EWOULDBLOCK || Clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::close(fd);
  // No record and no supervisor: the command never ran (the exit record,
  // if any, says why it could not be executed).
  if (!record) return NotFound("no process of task " + QuoteForMessage(id) + " was started");
  AttachToken token;
  token.supervisor_pid = record->supervisor_pid;
  token.supervisor_start = record->supervisor_start;
  token.task_pid = record->task_pid;
  token.task_start = record->task_start;
  token.exit_path = options_.state_dir + "/" + ExitFileName(id);
  token.started_ms = record->started_ms;
  return EncodeAttachToken(token);
}

Status LocalExecutorImpl::Reattach(const TaskSpec& spec, std::string_view attach_token,
                                   UpdateCallback on_update) {
  if (!on_update) return InvalidArgument("on_update callback is required", "on_update");
  if (spec.id.empty()) return InvalidArgument("task id is empty", "id");
  std::string found;
  if (attach_token.empty()) {
    {
      std::lock_guard lock(mu_);
      if (tasks_.count(spec.id) != 0)
        return AlreadyExists("task " + QuoteForMessage(spec.id) + " is already live");
    }
    ASSIGN_OR_RETURN(found, TokenFromStartRecord(spec.id));
    attach_token = found;
  }
  ASSIGN_OR_RETURN(AttachToken token, DecodeAttachToken(attach_token));
  std::string file = ExitFileName(spec.id);
  if (token.exit_path.size() <= file.size() ||
      token.exit_path.compare(token.exit_path.size() - file.size(), file.size(), file) != 0 ||
      token.exit_path[token.exit_path.size() - file.size() - 1] != '/') {
    return InvalidArgument("attach token's exit file does not belong to task " + QuoteForMessage(spec.id),
                           "attach_token.exit");
  }
  {
    std::lock_guard lock(mu_);
    if (stopping_) return FailedPrecondition("the executor is shut down");
    if (tasks_.count(spec.id) != 0)
      return AlreadyExists("task " + QuoteForMessage(spec.id) + " is already live");
  }

  auto task = std::make_shared<Task>();
  task->spec = spec;
  task->on_update = std::move(on_update);
  task->cpu = CpuShare(spec.resources.cpu);
  task->exit_path = token.exit_path;
  task->token = std::string(attach_token);
  task->supervisor_pid = token.supervisor_pid;
  task->task_pid = token.task_pid;
  task->task_start = token.task_start;
  task->started = std::chrono::system_clock::time_point(std::chrono::milliseconds(token.started_ms));

  // Liveness before the exit file: the supervisor renames the file before it
  // exits, so "supervisor dead, then no file" means it never wrote one.
  int fd = OpenVerifiedPidfd(token.supervisor_pid, token.supervisor_start);
  if (fd < 0) {
    fd = OpenVerifiedPidfd(token.task_pid, token.task_start);
    task->watching_supervisor = false;
  }
  std::optional<ExitFile> exit = ReadExitFile(token.exit_path);

  std::lock_guard lock(mu_);
  if (stopping_ || tasks_.count(spec.id) != 0) {
    if (fd >= 0) ::close(fd);
    return stopping_ ? FailedPrecondition("the executor is shut down")
                     : AlreadyExists("task " + QuoteForMessage(spec.id) + " is already live");
  }
  if (exit) {
    if (fd >= 0) {
      // Reap the supervisor if it is our own child (a re-created executor in
      // the same process); ECHILD at once otherwise.
      siginfo_t info;
      if (task->watching_supervisor)
        ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(fd), &info, WEXITED);
      ::close(fd);
    }
    TaskUpdate update = UpdateFromRecord(*task, exit->record);
    update.finished = exit->written;
    deliveries_.push_back({task, std::move(update)});
  } else if (fd >= 0) {
    task->phase = Phase::kRunning;
    ++active_;
    cpu_in_use_ += task->cpu;
    memory_in_use_ += spec.resources.memory_bytes;
    gpu_in_use_ += spec.resources.gpu;
    tasks_.emplace(spec.id, task);
    if (spec.timeout.count() > 0) {
      auto elapsed = std::chrono::system_clock::now() - task->started;
      task->timeout_at =
          Clock::now() + std::max<Clock::duration>(Clock::duration::zero(), spec.timeout - elapsed);
    }
    if (!Watch(task, fd)) {
      ::close(fd);
      LogEvent(spdlog::level::err, "local executor: cannot watch a re-attached task", {{"task", spec.id}});
    }
    TaskUpdate update;
    update.id = spec.id;
    update.state = TaskState::kRunning;
    update.attach_token = task->token;
    update.started = task->started;
    update.message = task->watching_supervisor
                         ? "re-attached (pid " + std::to_string(task->task_pid) + ")"
                         : "re-attached (pid " + std::to_string(task->task_pid) +
                               "); its supervisor died, so its exit status will not be known";
    deliveries_.push_back({task, std::move(update)});
  } else {
    TaskUpdate update;
    update.id = spec.id;
    update.state = TaskState::kLost;
    update.started = task->started;
    update.finished = std::chrono::system_clock::now();
    update.message = "process vanished while the server was down (no exit record)";
    deliveries_.push_back({task, std::move(update)});
  }
  Wake();
  return Status::OK();
}

Status LocalExecutorImpl::Cancel(std::string_view id) {
  std::lock_guard lock(mu_);
  auto it = tasks_.find(id);
  if (it == tasks_.end()) return NotFound("no live task " + QuoteForMessage(id));
  TaskPtr task = it->second;
  switch (task->phase) {
    case Phase::kQueued: {
      queue_.erase(std::find(queue_.begin(), queue_.end(), task));
      tasks_.erase(it);
      TaskUpdate update;
      update.id = task->spec.id;
      update.state = TaskState::kCancelled;
      update.finished = std::chrono::system_clock::now();
      update.message = "cancelled before it started";
      deliveries_.push_back({task, std::move(update)});
      break;
    }
    case Phase::kStarting:
      task->cancel_pending = true;
      break;
    case Phase::kRunning:
      if (task->end == EndReason::kNone) BeginKill(*task, EndReason::kCancel);
      break;
  }
  Wake();
  return Status::OK();
}

void LocalExecutorImpl::Shutdown() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  Wake();
  // From a callback (the monitor thread itself) the join is left to the destructor.
  if (monitor_.joinable() && std::this_thread::get_id() != monitor_id_) monitor_.join();
}

LocalExecutorStats LocalExecutorImpl::Stats() const {
  std::lock_guard lock(mu_);
  LocalExecutorStats stats;
  stats.queued = static_cast<int>(queue_.size());
  stats.running = active_;
  stats.cpu_in_use = cpu_in_use_;
  stats.memory_in_use = memory_in_use_;
  stats.cpu_capacity = options_.cpu_capacity;
  stats.memory_capacity = options_.memory_capacity;
  stats.max_concurrent = options_.max_concurrent;
  return stats;
}

void LocalExecutorImpl::Wake() {
  std::uint64_t one = 1;
  ssize_t n = ::write(wake_fd_, &one, sizeof(one));
  (void)n;  // EAGAIN: the counter is already non-zero, the monitor wakes anyway
}

int LocalExecutorImpl::NextTimeoutMs() {
  std::optional<Clock::time_point> next;
  for (auto& [id, task] : tasks_) {
    for (const auto& t : {task->timeout_at, task->kill_at}) {
      if (t && (!next || *t < *next)) next = t;
    }
  }
  if (!next) return -1;
  auto wait = std::chrono::ceil<std::chrono::milliseconds>(*next - Clock::now()).count();
  return static_cast<int>(std::clamp<std::int64_t>(wait, 0, 60'000));
}

void LocalExecutorImpl::Run() {
  epoll_event events[64];
  for (;;) {
    int timeout_ms;
    {
      std::lock_guard lock(mu_);
      timeout_ms = deliveries_.empty() ? NextTimeoutMs() : 0;
    }
    int n = ::epoll_wait(epoll_fd_, events, 64, timeout_ms);
    if (n < 0 && errno != EINTR) {
      LogEvent(spdlog::level::err, "local executor: epoll_wait failed", {{"error", ErrnoText(errno)}});
      n = 0;
    }
    std::vector<TaskPtr> to_start;
    bool stop = false;
    {
      std::lock_guard lock(mu_);
      for (int i = 0; i < n; ++i) {
        if (events[i].data.u64 == 0) {
          std::uint64_t count;
          while (::read(wake_fd_, &count, sizeof(count)) > 0) {
          }
          continue;
        }
        auto it = watches_.find(events[i].data.u64);
        if (it != watches_.end()) HandleWatch(TaskPtr(it->second));
      }
      HandleDeadlines();
      stop = stopping_;
      if (!stop) Admit(&to_start);
    }
    Deliver();
    for (const TaskPtr& task : to_start) Launch(task);
    Deliver();
    if (stop) break;
  }
  // Tasks being started get their pid and token now (the read blocks only
  // until their supervisor has spawned them), so the caller can re-attach.
  {
    std::lock_guard lock(mu_);
    std::vector<TaskPtr> starting;
    for (auto& [key, task] : watches_) {
      if (task->phase == Phase::kStarting) starting.push_back(task);
    }
    for (const TaskPtr& task : starting) SupervisorStarted(task);
  }
  Deliver();
  // Queued tasks have no process and no token: a restarted server submits
  // them again. Running ones are left to run; their pidfds close with us.
  std::lock_guard lock(mu_);
  queue_.clear();
  for (auto& [key, task] : watches_) {
    ::close(task->watch_fd);
    task->watch_fd = -1;
  }
  watches_.clear();
  tasks_.clear();
}

bool LocalExecutorImpl::Watch(const TaskPtr& task, int fd) {
  task->watch_fd = fd;
  task->watch_key = next_watch_key_++;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = task->watch_key;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    task->watch_fd = -1;
    return false;
  }
  watches_.emplace(task->watch_key, task);
  return true;
}

void LocalExecutorImpl::Unwatch(Task& task) {
  if (task.watch_fd >= 0) {
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, task.watch_fd, nullptr);
    ::close(task.watch_fd);
    task.watch_fd = -1;
  }
  watches_.erase(task.watch_key);
}

void LocalExecutorImpl::HandleWatch(const TaskPtr& task) {
  if (task->phase == Phase::kStarting) {
    SupervisorStarted(task);
    return;
  }
  if (task->watching_supervisor) {
    // Reap it if it is our child; ECHILD (harmless) if it was re-parented.
    siginfo_t info;
    ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(task->watch_fd), &info, WEXITED | WNOHANG);
    Unwatch(*task);
    if (auto exit = ReadExitFile(task->exit_path)) {
      Finish(task, UpdateFromRecord(*task, exit->record));
      return;
    }
    // The supervisor died without a record; the task may still run.
    int fd = OpenVerifiedPidfd(task->task_pid, task->task_start);
    if (fd >= 0) {
      task->watching_supervisor = false;
      if (Watch(task, fd)) return;
      ::close(fd);
    }
  } else {
    Unwatch(*task);
  }
  TaskUpdate update;
  update.exit_code = -1;
  update.state = TaskState::kFailed;
  update.message = "the task ended but its exit status is unknown: its supervisor died";
  if (task->end == EndReason::kCancel) update.state = TaskState::kCancelled;
  if (task->end == EndReason::kTimeout) update.state = TaskState::kTimedOut;
  Finish(task, std::move(update));
}

TaskUpdate LocalExecutorImpl::UpdateFromRecord(const Task& task, const ExitRecord& record) const {
  TaskUpdate u;
  u.state = TaskState::kFailed;
  const int status = record.wait_status;
  if (record.stage == kStageFork) {
    u.message = "cannot start the task: " + ErrnoText(record.error);
  } else if (record.stage == kStageExec || record.stage == kStageChdir) {
    u.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 127;
    u.message = record.stage == kStageExec
                    ? "cannot execute " + QuoteForMessage(task.spec.argv.empty() ? "" : task.spec.argv[0]) +
                          ": " + ErrnoText(record.error)
                    : "cannot change to working directory " + QuoteForMessage(task.spec.working_dir) + ": " +
                          ErrnoText(record.error);
  } else if (WIFEXITED(status)) {
    u.exit_code = WEXITSTATUS(status);
    u.state = u.exit_code == 0 ? TaskState::kSucceeded : TaskState::kFailed;
    u.message = "exited with status " + std::to_string(u.exit_code);
  } else if (WIFSIGNALED(status)) {
    u.signal = WTERMSIG(status);
    u.message = "killed by " + SignalName(u.signal);
  } else {
    u.message = "ended with wait status " + std::to_string(status);
  }
  if (task.end == EndReason::kCancel) {
    u.state = TaskState::kCancelled;
    u.message = "cancelled; " + u.message;
  } else if (task.end == EndReason::kTimeout) {
    u.state = TaskState::kTimedOut;
    u.message = "timed out after " + std::to_string(task.spec.timeout.count()) + " ms; " + u.message;
  }
  u.id = task.spec.id;
  u.started = task.started;
  u.finished = std::chrono::system_clock::now();
  return u;
}

void LocalExecutorImpl::Finish(const TaskPtr& task, TaskUpdate update) {
  update.id = task->spec.id;
  update.started = task->started;
  if (update.finished == std::chrono::system_clock::time_point{})
    update.finished = std::chrono::system_clock::now();
  if (task->phase != Phase::kQueued) {
    --active_;
    cpu_in_use_ -= task->cpu;
    memory_in_use_ -= task->spec.resources.memory_bytes;
    gpu_in_use_ -= task->spec.resources.gpu;
    if (active_ == 0) cpu_in_use_ = 0;  // no drift from float sums
  }
  auto it = tasks_.find(task->spec.id);
  if (it != tasks_.end() && it->second == task) tasks_.erase(it);
  deliveries_.push_back({task, std::move(update)});
}

void LocalExecutorImpl::SignalGroup(Task& task, int sig) {
  if (task.task_pid > 0) ::kill(-task.task_pid, sig);
}

void LocalExecutorImpl::BeginKill(Task& task, EndReason reason) {
  task.end = reason;
  task.timeout_at.reset();
  SignalGroup(task, SIGTERM);
  task.kill_at = Clock::now() + options_.kill_grace;
}

void LocalExecutorImpl::HandleDeadlines() {
  auto now = Clock::now();
  for (auto& [id, task] : tasks_) {
    if (task->phase != Phase::kRunning) continue;
    if (task->timeout_at && now >= *task->timeout_at) BeginKill(*task, EndReason::kTimeout);
    if (task->kill_at && now >= *task->kill_at) {
      SignalGroup(*task, SIGKILL);
      task->kill_at.reset();
    }
  }
}

void LocalExecutorImpl::Admit(std::vector<TaskPtr>* to_start) {
  // FIFO with backfill: each pass retries the head first, then lets smaller
  // tasks behind it start if they fit.
  for (auto it = queue_.begin(); it != queue_.end();) {
    if (options_.max_concurrent > 0 && active_ >= options_.max_concurrent) break;
    Task& t = **it;
    const ResourceRequest& r = t.spec.resources;
    bool fits = cpu_in_use_ + t.cpu <= options_.cpu_capacity + 1e-9 &&
                (r.memory_bytes == 0 || memory_in_use_ + r.memory_bytes <= options_.memory_capacity) &&
                gpu_in_use_ + r.gpu <= options_.gpu_capacity;
    if (!fits) {
      ++it;
      continue;
    }
    t.phase = Phase::kStarting;
    ++active_;
    cpu_in_use_ += t.cpu;
    memory_in_use_ += r.memory_bytes;
    gpu_in_use_ += r.gpu;
    to_start->push_back(*it);
    it = queue_.erase(it);
  }
  for (const TaskPtr& task : queue_) {
    if (task->reported_queued) continue;
    task->reported_queued = true;
    TaskUpdate update;
    update.id = task->spec.id;
    update.state = TaskState::kQueued;
    update.message = "waiting for capacity";
    deliveries_.push_back({task, std::move(update)});
  }
}

Status LocalExecutorImpl::Plan(const Task& task, LaunchPlan& plan) {
  const TaskSpec& spec = task.spec;
  plan.fsync_exit_file = options_.fsync_exit_files;
  plan.max_fd = max_fd_;
  plan.working_dir = spec.working_dir;
  plan.exit_path = task.exit_path;
  plan.tmp_path = task.exit_path + ".tmp";
  plan.exec_error_prefix = "ferry: cannot execute " + QuoteForMessage(spec.argv[0]) + ": ";
  plan.chdir_error_prefix =
      "ferry: cannot change to working directory " + QuoteForMessage(spec.working_dir) + ": ";

  plan.argv_storage = spec.argv;
  for (std::string& a : plan.argv_storage) plan.argv.push_back(a.data());
  plan.argv.push_back(nullptr);
  plan.sh_argv.push_back(const_cast<char*>("/bin/sh"));
  plan.sh_argv.push_back(nullptr);  // the candidate, set in the child
  for (std::size_t i = 1; i < plan.argv_storage.size(); ++i)
    plan.sh_argv.push_back(plan.argv_storage[i].data());
  plan.sh_argv.push_back(nullptr);
  for (const auto& [key, value] : spec.env) plan.env_storage.push_back(key + "=" + value);
  for (std::string& e : plan.env_storage) plan.envp.push_back(e.data());
  plan.envp.push_back(nullptr);

  const std::string& file = spec.argv[0];
  if (file.find('/') != std::string::npos) {
    plan.candidates.push_back(file);
  } else {
    auto path_it = spec.env.find("PATH");
    std::string_view path = path_it != spec.env.end() ? std::string_view(path_it->second) : kDefaultPath;
    std::size_t start = 0;
    for (;;) {
      std::size_t colon = path.find(':', start);
      std::string_view dir = path.substr(start, colon == std::string_view::npos ? colon : colon - start);
      // An empty entry is the working directory, as for execvp.
      plan.candidates.push_back(dir.empty() ? file : std::string(dir) + "/" + file);
      if (colon == std::string_view::npos) break;
      start = colon + 1;
    }
  }

  auto fail = [&](const std::string& what) {
    int err = errno;
    for (int fd : {plan.log_fd, plan.devnull_fd, plan.pid_pipe_read, plan.pid_pipe_write, plan.start_fd}) {
      if (fd >= 0) ::close(fd);
    }
    return Internal(what + ": " + ErrnoText(err));
  };
  // Every fd the children use is above 2, so the dup2s onto 0-2 cannot clobber one.
  auto above_stdio = [](int fd) {
    if (fd < 0 || fd > 2) return fd;
    int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    ::close(fd);
    return moved;
  };
  // The start record's lock belongs to at most one live supervisor per id:
  // when another holds it, a process of this id (started by an earlier
  // server) still runs, and starting a second one would run the task twice.
  const std::string start_path = options_.state_dir + "/" + StartFileName(spec.id);
  plan.start_fd = above_stdio(::open(start_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (plan.start_fd < 0) return fail("cannot create start record " + QuoteForMessage(start_path));
  if (::flock(plan.start_fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      ::close(plan.start_fd);
      plan.start_fd = -1;
      return AlreadyExists("a process of task " + QuoteForMessage(spec.id) +
                           " started by an earlier server still runs; re-attach to it instead");
    }
    return fail("cannot lock start record " + QuoteForMessage(start_path));
  }
  if (::ftruncate(plan.start_fd, 0) != 0) {
    return fail("cannot truncate start record " + QuoteForMessage(start_path));
  }
  ::unlink(task.exit_path.c_str());  // a record of an earlier task with this id
  ::unlink((task.exit_path + ".tmp").c_str());
  plan.started_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  plan.log_fd = above_stdio(::open(spec.log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
  if (plan.log_fd < 0) return fail("cannot open log file " + QuoteForMessage(spec.log_path));
  plan.devnull_fd = above_stdio(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (plan.devnull_fd < 0) return fail("cannot open /dev/null");
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return fail("cannot create a pipe");
  plan.pid_pipe_read = above_stdio(pipe_fds[0]);
  plan.pid_pipe_write = above_stdio(pipe_fds[1]);
  if (plan.pid_pipe_read < 0 || plan.pid_pipe_write < 0) return fail("cannot create a pipe");

  bool ok = ::posix_spawnattr_init(&plan.attr) == 0;
  if (ok && ::posix_spawn_file_actions_init(&plan.actions) != 0) {
    ::posix_spawnattr_destroy(&plan.attr);
    ok = false;
  }
  if (!ok) return fail("cannot prepare the spawn");
  plan.spawn_ready = true;
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  int rc = ::posix_spawnattr_setflags(&plan.attr,
                                      POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  rc = rc ? rc : ::posix_spawnattr_setpgroup(&plan.attr, 0);
  rc = rc ? rc : ::posix_spawnattr_setsigdefault(&plan.attr, &all);
  rc = rc ? rc : ::posix_spawnattr_setsigmask(&plan.attr, &none);
  rc = rc ? rc : ::posix_spawn_file_actions_adddup2(&plan.actions, plan.devnull_fd, 0);
  rc = rc ? rc : ::posix_spawn_file_actions_adddup2(&plan.actions, plan.log_fd, 1);
  rc = rc ? rc : ::posix_spawn_file_actions_adddup2(&plan.actions, plan.log_fd, 2);
  rc = rc ? rc : ::posix_spawn_file_actions_addchdir_np(&plan.actions, plan.working_dir.c_str());
  if (rc != 0) {
    errno = rc;
    return fail("cannot prepare the spawn");
  }
  return Status::OK();
}

void LocalExecutorImpl::Launch(const TaskPtr& task) {
  LaunchPlan plan;
  Status planned = Plan(*task, plan);
  pid_t supervisor = -1;
  int pid_pipe = -1;
  std::string error;
  if (!planned.ok()) {
    error = planned.message();
  } else {
    // No signal handler of the server may run in the child before it resets them.
    sigset_t all, old;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    supervisor = ::fork();
    if (supervisor == 0) RunSupervisor(plan);
    int fork_errno = errno;
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    ::close(plan.pid_pipe_write);
    ::close(plan.log_fd);
    ::close(plan.devnull_fd);
    ::close(plan.start_fd);  // the lock stays with the supervisor's copy
    if (supervisor < 0) {
      error = "cannot fork: " + ErrnoText(fork_errno);
      ::close(plan.pid_pipe_read);
    } else {
      pid_pipe = plan.pid_pipe_read;
    }
  }

  std::lock_guard lock(mu_);
  task->started = planned.ok() ? std::chrono::system_clock::time_point(std::chrono::milliseconds(plan.started_ms))
                               : std::chrono::system_clock::now();
  if (!error.empty()) {
    task->phase = Phase::kRunning;  // resources were reserved
    TaskUpdate update;
    update.state = TaskState::kFailed;
    update.message = error;
    Finish(task, std::move(update));
    Wake();  // capacity freed
    return;
  }
  task->supervisor_pid = supervisor;
  // The supervisor sends the task's pid as soon as it has forked it; the
  // monitor goes on meanwhile (launches overlap) and resumes in
  // SupervisorStarted when the pipe turns readable.
  if (!Watch(task, pid_pipe)) {
    task->watch_fd = pid_pipe;  // SupervisorStarted then blocks on the read
    SupervisorStarted(task);
  }
}

void LocalExecutorImpl::SupervisorStarted(const TaskPtr& task) {
  StartMessage received{0, 0};
  std::size_t got = 0;
  while (got < sizeof(received)) {
    ssize_t n = ::read(task->watch_fd, reinterpret_cast<char*>(&received) + got, sizeof(received) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the command could not be started; the exit record says why
    got += static_cast<std::size_t>(n);
  }
  Unwatch(*task);
  bool have = got == sizeof(received) && received.pid > 0;
  task->task_pid = have ? received.pid : 0;
  task->task_start = have ? received.start_time : 0;
  int pidfd = PidfdOpen(task->supervisor_pid);  // our unreaped child: cannot fail for want of it
  if (pidfd < 0) {
    std::string error = "cannot watch the task: " + ErrnoText(errno);
    if (task->task_pid > 0) ::kill(-task->task_pid, SIGKILL);
    while (::waitpid(task->supervisor_pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    ::unlink(task->exit_path.c_str());
    task->phase = Phase::kRunning;
    TaskUpdate update;
    update.state = TaskState::kFailed;
    update.message = error;
    Finish(task, std::move(update));
    return;
  }
  task->phase = Phase::kRunning;
  AttachToken token;
  token.supervisor_pid = task->supervisor_pid;
  token.supervisor_start = ProcessStartTime(task->supervisor_pid).value_or(0);
  token.task_pid = task->task_pid;
  token.task_start = task->task_start;
  token.exit_path = task->exit_path;
  token.started_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(task->started.time_since_epoch()).count();
  task->token = EncodeAttachToken(token);
  task->watching_supervisor = true;
  if (!Watch(task, pidfd)) {
    // Only short of kernel memory; the supervisor still records the exit,
    // which a later Reattach finds.
    ::close(pidfd);
    LogEvent(spdlog::level::err, "local executor: cannot watch a task", {{"task", task->spec.id}});
  }
  // Without a pid the command never ran (it could not be executed): the
  // exit record that explains why is the next and only update.
  if (task->task_pid > 0) {
    TaskUpdate update;
    update.id = task->spec.id;
    update.state = TaskState::kRunning;
    update.attach_token = task->token;
    update.started = task->started;
    update.message = "started (pid " + std::to_string(task->task_pid) + ")";
    deliveries_.push_back({task, std::move(update)});
  }
  if (task->spec.timeout.count() > 0) {
    auto elapsed = std::chrono::system_clock::now() - task->started;
    task->timeout_at =
        Clock::now() + std::max<Clock::duration>(Clock::duration::zero(), task->spec.timeout - elapsed);
  }
  if (task->cancel_pending) BeginKill(*task, EndReason::kCancel);
}

void LocalExecutorImpl::Deliver() {
  std::vector<Delivery> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(deliveries_);
  }
  for (Delivery& d : batch) {
    try {
      d.task->on_update(d.update);
    } catch (const std::exception& e) {
      LogEvent(spdlog::level::err, "local executor: task callback threw",
               {{"task", d.update.id}, {"error", e.what()}});
    } catch (...) {
      LogEvent(spdlog::level::err, "local executor: task callback threw", {{"task", d.update.id}});
    }
  }
}

// Exit files whose Release never came (the caller crashed after recording
// the result): a week is far past any restart that could still need them.
void LocalExecutorImpl::RemoveStaleExitFiles() {
  namespace fs = std::filesystem;
  const auto cutoff = fs::file_time_type::clock::now() - kStaleExitFileAge;
  std::error_code ec;
  for (fs::directory_iterator it(options_.state_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    if (p.extension() != ".exit" && p.extension() != ".tmp" && p.extension() != ".start") continue;
    std::error_code time_ec;
    const auto mtime = fs::last_write_time(p, time_ec);
    if (time_ec || mtime >= cutoff) continue;
    if (p.extension() == ".start") {
      // A task running for more than a week keeps its record (its
      // supervisor holds the lock).
      int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      bool free = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
      if (free) fs::remove(p, time_ec);
      ::close(fd);
      continue;
    }
    fs::remove(p, time_ec);
  }
}

void LocalExecutorImpl::Release(std::string_view id) {
  if (id.empty()) return;
  {
    // Not while it runs: its start record is what finds it again.
    std::lock_guard lock(mu_);
    if (tasks_.count(id) != 0) return;
  }
  ::unlink((options_.state_dir + "/" + ExitFileName(id)).c_str());
  ::unlink((options_.state_dir + "/" + StartFileName(id)).c_str());
}

}  // namespace

Result<std::unique_ptr<LocalExecutor>> LocalExecutor::Create(LocalExecutorOptions options) {
  auto executor = std::make_unique<LocalExecutorImpl>(std::move(options));
  RETURN_IF_ERROR(executor->Init());
  return std::unique_ptr<LocalExecutor>(std::move(executor));
}

}  // namespace ferry::executors
