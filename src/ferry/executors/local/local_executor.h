#pragma once
// The local executor: task processes on this machine.
//
// Each task runs under a small supervisor: the executor forks a supervisor
// (a new session, so a signal to the server's group does not reach it),
// which forks the task in a process group of its own (pgid = task pid), with
// stdin from /dev/null, stdout+stderr appended to log_path, the given env and
// working dir; the supervisor waits for it and writes its wait status to
// `<state_dir>/<id>.exit` (write to a temp file, fsync, rename) and exits.
// When the task process ends, whatever is left of its process group is
// killed (SIGKILL), as the end of a container's main process ends the rest.
// Only async-signal-safe calls happen between fork and exec. The attach
// token records the supervisor's and the task's pids, their start times
// (from /proc, against pid reuse) and the exit-file path, so Reattach after
// a server restart watches the exit file and the pids. The supervisor also
// writes them to `<state_dir>/<id>.start` before the server learns the pid,
// and holds an flock on that file while it lives, so Reattach with an empty
// token finds a task whose token the caller never stored, and Submit of an
// id whose supervisor still runs ends kFailed ("still runs; re-attach")
// rather than running the task twice. An exit file stays until Release(id)
// (so does the start file), so a restart between the terminal callback and
// the caller's commit still learns the result; files older than a week
// (their Release was lost with a crash) are removed by Create.
//
// Admission: tasks wait in FIFO order (a task that does not fit does not
// block smaller ones behind it for ever: the head is retried first each
// time capacity frees) until cpu, memory and gpu fit in the capacity and the
// count of running tasks is below max_concurrent. A request larger than the
// whole capacity is refused by Submit (ResourceExhausted naming the
// resource).
//
// Thread-safety: all methods are thread-safe.
#include <memory>
#include <string>

#include "ferry/executors/executor.h"

namespace ferry::executors {

struct LocalExecutorOptions {
  std::string state_dir;        // exit files; created if missing
  double cpu_capacity = 0;      // 0 = the machine's cpu count
  std::int64_t memory_capacity = 0;  // 0 = the machine's MemTotal
  int gpu_capacity = 0;
  int max_concurrent = 0;       // 0 = unlimited
  std::chrono::milliseconds kill_grace{3000};  // SIGTERM -> SIGKILL
  // fsync each exit file before the rename. Off by default: the flush costs
  // a disk round trip per task (~6 ms on the reference VM, most of a short
  // task's overhead), and only a machine crash can lose an unflushed exit
  // file — a kill -9 of the server leaves it in the page cache, where
  // Reattach reads it. After a machine crash the task is reported kLost and
  // its caller re-runs it per its retry policy.
  bool fsync_exit_files = false;
};

struct LocalExecutorStats {
  int queued = 0;
  int running = 0;
  double cpu_in_use = 0;
  std::int64_t memory_in_use = 0;
  // The capacity tasks are admitted against (the options, 0s resolved to
  // the machine's size); max_concurrent 0 = unlimited.
  double cpu_capacity = 0;
  std::int64_t memory_capacity = 0;
  int max_concurrent = 0;
};

class LocalExecutor : public Executor {
 public:
  static Result<std::unique_ptr<LocalExecutor>> Create(LocalExecutorOptions options);
  virtual LocalExecutorStats Stats() const = 0;
};

}  // namespace ferry::executors
