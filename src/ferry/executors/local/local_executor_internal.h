#pragma once
// Private pieces of the local executor, exposed for its tests: the attach
// token, the exit record the supervisor writes, /proc start times, and the
// names and messages derived from them.
//
// Thread-safety: pure functions, except ProcessStartTime (reads /proc).

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ferry/common/status.h"

namespace ferry::executors::local_internal {

// What Reattach needs to find a task again after a server restart. Start
// times are /proc/<pid>/stat field 22 (clock ticks since boot), which tell a
// process from a later one that reuses its pid; 0 = not known.
struct AttachToken {
  pid_t supervisor_pid = 0;
  std::uint64_t supervisor_start = 0;
  pid_t task_pid = 0;  // also the task's process-group id; 0 = never started
  std::uint64_t task_start = 0;
  std::string exit_path;
  std::int64_t started_ms = 0;  // wall clock, ms since the Unix epoch
};

// Compact JSON, e.g. {"v":1,"sup":12,"sups":345,"pid":13,"pids":346,
// "exit":"/d/t.exit","t0":1700000000000}.
std::string EncodeAttachToken(const AttachToken& token);
// InvalidArgument (field "attach_token") for anything that is not a token
// EncodeAttachToken wrote: bad JSON, missing or mistyped fields, pids out of
// range, a relative exit path or one not ending in ".exit".
Result<AttachToken> DecodeAttachToken(std::string_view text);

// Start time of `pid` from /proc/<pid>/stat, or nullopt if there is no such
// process (or it cannot be read).
std::optional<std::uint64_t> ProcessStartTime(pid_t pid);
// Field 22 of a /proc/<pid>/stat line (the command name may hold spaces and
// parentheses, so fields are counted from the last ')').
std::optional<std::uint64_t> ParseProcStatStartTime(std::string_view stat_line);

// What the supervisor records in `<id>.exit`: one line
// "ferry-exit 1 <wait status> <stage> <errno>\n". `stage` says what failed
// before the command could run (then errno says why); on kStageNone the
// wait status is the task's.
// kStageFork: the task process could not be created (EAGAIN, ENOMEM).
enum ExitStage : int { kStageNone = 0, kStageChdir = 1, kStageExec = 2, kStageFork = 3 };
struct ExitRecord {
  int wait_status = 0;
  int stage = kStageNone;
  int error = 0;  // errno of the failed stage
};
// Writes the record into buf (at least 64 bytes) without allocating, for the
// supervisor between fork and exit; returns the length.
std::size_t FormatExitRecord(const ExitRecord& record, char* buf, std::size_t size);
std::optional<ExitRecord> ParseExitRecord(std::string_view text);

// What the supervisor records in `<id>.start` once the task process exists,
// before it tells the server the pid: one line "ferry-start 1 <supervisor
// pid> <supervisor start> <task pid> <task start> <started ms>\n". With the
// exit file's path it is an attach token, so a server that lost the token
// (it crashed before committing it) still finds the task by its id. The
// supervisor holds an exclusive flock on the file for as long as it lives:
// a lock that cannot be taken means the supervisor still runs.
struct StartRecord {
  pid_t supervisor_pid = 0;
  std::uint64_t supervisor_start = 0;
  pid_t task_pid = 0;
  std::uint64_t task_start = 0;
  std::int64_t started_ms = 0;
};
// Writes the record into buf (at least 128 bytes) without allocating;
// returns the length.
std::size_t FormatStartRecord(const StartRecord& record, char* buf, std::size_t size);
// nullopt for anything FormatStartRecord did not write, a torn write included.
std::optional<StartRecord> ParseStartRecord(std::string_view text);

// File name of a task's exit record in the state dir: the id itself when it
// is a safe file name ([A-Za-z0-9_.-], not starting with '.', at most 100
// bytes), else "x-" + the first 32 hex digits of its SHA-256; then ".exit".
std::string ExitFileName(std::string_view id);
// The same name with ".start" for ".exit".
std::string StartFileName(std::string_view id);

// "SIGKILL", "SIGTERM", ... or "signal 77".
std::string SignalName(int signal);

}  // namespace ferry::executors::local_internal
