#pragma once
// The Executor interface (DESIGN.md §6): runs task processes — pipeline
// steps, trials, training ranks — outside any request handler, reports their
// state through callbacks, cancels them, and re-attaches to them after the
// server restarts (`kill -9` included).
//
// Contract for every implementation:
//   - Submit returns at once; the task may wait for capacity first
//     (kQueued), then runs (kRunning), then ends in exactly one terminal
//     state, reported exactly once through `on_update`.
//   - The `attach_token` reported with kRunning is what the caller persists
//     (with the TaskSpec) to call Reattach after a restart; it is opaque
//     text of at most a few hundred bytes.
//   - Callbacks run on executor threads, never while an executor lock is
//     held, so they may call back into the executor. They must not block
//     for long.
//   - Cancel of a queued task ends it kCancelled without starting it; of a
//     running task kills its whole process group (SIGTERM, then SIGKILL
//     after the grace period) and ends it kCancelled.
//   - A task whose timeout passes is killed likewise and ends kTimedOut.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/common/status.h"

namespace ferry::executors {

struct ResourceRequest {
  double cpu = 0;                 // cores; 0 counts as a small share (0.1)
  std::int64_t memory_bytes = 0;  // 0 = not accounted
  int gpu = 0;
};

struct TaskSpec {
  std::string id;  // unique among live tasks, stable across restarts
  std::vector<std::string> argv;  // argv[0] is looked up in PATH (of `env`)
  // The complete environment of the process (nothing is inherited
  // implicitly; callers start from the server's environment if they want).
  std::map<std::string, std::string> env;
  std::string working_dir;  // must exist
  std::string log_path;     // stdout and stderr are appended here, interleaved
  ResourceRequest resources;
  std::chrono::milliseconds timeout{0};  // 0 = none
};

enum class TaskState { kQueued, kRunning, kSucceeded, kFailed, kCancelled, kTimedOut, kLost };
std::string_view TaskStateName(TaskState state);  // "Queued", "Running", ...
inline bool IsTerminal(TaskState s) { return s != TaskState::kQueued && s != TaskState::kRunning; }

struct TaskUpdate {
  std::string id;
  TaskState state = TaskState::kQueued;
  std::string attach_token;  // set with kRunning
  int exit_code = -1;        // terminal states: exit status, or -1
  int signal = 0;            // terminal states: the signal that ended it, or 0
  std::string message;       // e.g. "exited with status 3", "killed by SIGKILL",
                             // "process vanished while the server was down"
  std::chrono::system_clock::time_point started;   // kRunning and after
  std::chrono::system_clock::time_point finished;  // terminal states
};

using UpdateCallback = std::function<void(const TaskUpdate&)>;

class Executor {
 public:
  virtual ~Executor() = default;
  virtual Status Submit(const TaskSpec& spec, UpdateCallback on_update) = 0;
  // Takes back a task started by an earlier server process from its token:
  // if it still runs, reports kRunning and later its terminal state; if it
  // finished meanwhile, reports the terminal state it recorded; if nothing
  // can be known, kLost.
  // An empty token finds the task by spec.id alone, for a caller that
  // crashed after Submit and before it stored the token: NotFound if no
  // process of that id was started (or the executor cannot tell; then the
  // caller submits it), else as above. Ids must therefore not be reused
  // before Release.
  virtual Status Reattach(const TaskSpec& spec, std::string_view attach_token,
                          UpdateCallback on_update) = 0;
  virtual Status Cancel(std::string_view id) = 0;  // NotFound if unknown/finished
  // The caller has durably recorded the terminal state of task `id`: the
  // executor may drop what it kept to report that state again (until then a
  // Reattach after a restart still reports it). Unknown ids are ignored.
  virtual void Release(std::string_view id) = 0;
  // Stops accepting work and waits for the threads; running processes are
  // left running (a restart re-attaches them).
  virtual void Shutdown() = 0;
};

}  // namespace ferry::executors
