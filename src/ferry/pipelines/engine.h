#pragma once
// PipelineEngine: runs KFP v2 pipelines (pipeline_spec.h) — event-driven,
// all run and task state in the Store (migrations 0005_pipelines*.sql), task
// processes through an executors::Executor.
//
// Model. A run is a tree of task executions addressed by a path:
//   "root"                                  the root DAG
//   "root/exit-handler-1"                   a DAG task
//   "root/exit-handler-1/for-loop-4"        a ParallelFor task
//   "root/exit-handler-1/for-loop-4[2]"     its third iteration (a DAG)
//   "root/exit-handler-1/for-loop-4[2]/add" a leaf task inside it
// Leaf tasks (container or importer executors) become processes; DAG tasks
// complete when their tasks do. A task becomes ready when every upstream
// task (dependentTasks plus producers of its inputs) is done per its trigger
// strategy; then its inputs are resolved, its condition evaluated (false ->
// kSkipped, as KFP), its cache looked up, and it is submitted.
//
// States, KFP's names (V2beta1RuntimeState): PENDING, RUNNING, SUCCEEDED,
// SKIPPED, FAILED, CANCELING, CANCELED. A failed task fails its DAG (and
// the run) once nothing else in the DAG can run, except that exit-handler
// tasks (ALL_UPSTREAM_TASKS_COMPLETED) still run and get the upstream's
// final status (`taskFinalStatus`: {state, error{code,message},
// pipelineJobResourceName, pipelineTaskName}).
//
// Durability: each scheduling step commits its state changes in one
// transaction, issued right after the step's submits (the executor starts
// the processes while the commit waits for the disk), and a run's steps are
// serial, so the store always holds a prefix of what happened. A crash
// between a submit and its commit leaves a process the store does not know
// (or knows without its attach token); an attempt's executor id is fixed by
// (run, task path, attempt), so the recovered run finds that process by id
// (Reattach with no token) before launching the attempt, and adopts it.
// Open() recovers: non-terminal runs continue; tasks that were running are
// re-attached through the executor (with the stored token, or by id) or,
// when lost, retried per their retry policy (counting the lost attempt) or
// failed. A task whose success was committed never re-runs, and no attempt
// runs twice.
//
// Caching (KFP semantics): key = SHA-256 over the canonical JSON of the
// component's interface, its executor (image, command, args) and the
// resolved input parameter values and input artifacts (uri + metadata).
// A hit copies the earlier execution's outputs and marks the task
// SUCCEEDED with `cached: true`. Disabled per task (cachingOptions), per run
// (RunRequest.enable_caching = false) or engine-wide (Options).
//
// Files: artifacts live under `<pipeline_root>/<run_id>/<task path>/<output>`
// (local absolute paths, which kfp's Artifact.path uses as is); each leaf
// execution has a work dir with its executor input, output files and log
// `<data_dir>/pipelines/runs/<run_id>/<task path>/attempt-N/`.
//
// Thread-safety: thread-safe. Callbacks from the executor drive the engine;
// public calls never wait for tasks.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/common/env.h"
#include "ferry/common/json.h"
#include "ferry/common/status.h"
#include "ferry/executors/executor.h"
#include "ferry/pipelines/pipeline_spec.h"
#include "ferry/store/database.h"

namespace ferry::pipelines {

enum class RunState { kPending, kRunning, kSucceeded, kSkipped, kFailed, kCanceling, kCanceled };
std::string_view RunStateName(RunState state);  // "PENDING", ..., "CANCELED"
Result<RunState> ParseRunState(std::string_view name);
bool IsFinal(RunState state);  // SUCCEEDED, SKIPPED, FAILED, CANCELED

// Turns a leaf task's resolved argv into what actually runs locally, e.g.
// a KFP lightweight Python component becomes `<env python> -m
// kfp.dsl.executor_main ...` in a cached environment for its
// packages_to_install (python_env.h). May block while an environment is
// built; called on an engine worker thread, never under engine locks.
struct PreparedCommand {
  std::vector<std::string> argv;
  std::map<std::string, std::string> extra_env;
};
// `work_dir` is the execution's own directory (it exists).
using CommandPreparer = std::function<Result<PreparedCommand>(
    const std::vector<std::string>& argv, const std::string& work_dir)>;

struct EngineOptions {
  std::string data_dir;       // work dirs and logs under <data_dir>/pipelines
  std::string pipeline_root;  // artifacts; default <data_dir>/pipelines/artifacts
  bool enable_caching = true;  // engine-wide switch
  CommandPreparer prepare_command;  // null = run argv as is
  // Environment every task starts from (PATH, HOME, ...); the engine adds
  // KFP's variables. Default: the server's environment.
  std::map<std::string, std::string> base_env;
  int worker_threads = 2;     // input resolution, file I/O, preparers
};

struct RunRequest {
  std::string display_name;     // default: the pipeline's name
  std::string description;
  std::string pipeline_text;    // compiled pipeline, YAML or JSON, as uploaded
  std::map<std::string, Json> parameters;  // runtime_config.parameters
  std::string experiment_id;    // KFP experiment; empty = the default one
  std::string pipeline_id;      // when started from an uploaded pipeline
  std::string pipeline_version_id;
  std::string recurring_run_id; // when fired by a schedule
  std::optional<bool> enable_caching;  // unset = the tasks' own settings
  std::string pipeline_root;    // runtime_config.pipeline_root; empty = engine default
};

struct TaskStatus {
  std::string path;          // "root/for-loop-4[2]/add"
  std::string name;          // task name in its DAG ("add"), "root" for the root
  std::string display_name;  // taskInfo.name, with "[i]" for iterations
  std::string parent_path;   // empty for root
  std::string kind;          // "container", "importer", "dag", "loop", "iteration"
  RunState state = RunState::kPending;
  bool cached = false;
  int attempt = 0;           // 1-based once started; retries increment it
  std::int64_t created_micros = 0;
  std::int64_t started_micros = 0;   // 0 = not started
  std::int64_t finished_micros = 0;  // 0 = not finished
  std::string error;         // why it failed / was skipped
  std::map<std::string, Json> inputs;   // resolved parameter inputs
  std::map<std::string, Json> outputs;  // output parameters
  // Input and output artifacts: name -> [{name, uri, type, metadata}].
  Json input_artifacts = Json::object();
  Json output_artifacts = Json::object();
  std::string log_path;      // of the latest attempt; empty for DAG tasks
};

struct RunStatus {
  std::string run_id;        // UUID
  std::string display_name;
  std::string description;
  std::string experiment_id;
  std::string pipeline_id;
  std::string pipeline_version_id;
  std::string recurring_run_id;
  std::string pipeline_name;
  RunState state = RunState::kPending;
  std::string error;
  std::map<std::string, Json> parameters;  // as resolved (defaults filled)
  std::int64_t created_micros = 0;
  std::int64_t finished_micros = 0;  // 0 = not finished
  bool archived = false;     // KFP storage_state ARCHIVED
  std::int64_t revision = 0; // grows with every change of the run or its tasks
};

struct RunDetail {
  RunStatus run;
  std::vector<TaskStatus> tasks;  // parents before children, then by path
  std::string pipeline_text;      // as submitted
};

struct ListRunsRequest {
  std::string experiment_id;  // empty = all
  std::optional<RunState> state;
  std::string name_contains;  // display name substring
  std::string recurring_run_id;
  bool include_archived = true;
  std::string order_by = "created_at desc";  // "created_at|name|state [asc|desc]"
  int page_size = 100;
  std::string page_token;
};
struct ListRunsResponse {
  std::vector<RunStatus> runs;
  std::int64_t total_size = 0;
  std::string next_page_token;
};

class PipelineEngine {
 public:
  // Opens over a migrated database and recovers unfinished runs (see file
  // comment). `executor` must outlive the engine.
  static Result<std::unique_ptr<PipelineEngine>> Open(store::Database* db, Env* env,
                                                       executors::Executor* executor,
                                                       EngineOptions options);
  virtual ~PipelineEngine() = default;

  // Parses and validates the pipeline and the parameters (InvalidArgument
  // naming the field), stores the run (durable when this returns) and starts
  // it. Returns the run as stored.
  virtual Result<RunStatus> SubmitRun(const RunRequest& request) = 0;
  virtual Result<RunDetail> GetRun(std::string_view run_id) = 0;
  virtual Result<ListRunsResponse> ListRuns(const ListRunsRequest& request) = 0;
  // Cancels every running task (process groups killed) and the run; a
  // finished run is FailedPrecondition.
  virtual Status CancelRun(std::string_view run_id) = 0;
  // Re-runs a FAILED or CANCELED run in place: failed, canceled and
  // never-started tasks run again; succeeded ones keep their outputs.
  virtual Status RetryRun(std::string_view run_id) = 0;
  // Deletes a finished run (and its work dirs); a running run is
  // FailedPrecondition.
  virtual Status DeleteRun(std::string_view run_id) = 0;
  virtual Status SetArchived(std::string_view run_id, bool archived) = 0;

  // Blocks until the run's revision exceeds `after_revision` or `timeout`
  // passes; returns the run's current status either way. For watches
  // (SSE), `--watch` and kfp's wait_for_run_completion.
  virtual Result<RunStatus> WaitForChange(std::string_view run_id, std::int64_t after_revision,
                                          std::chrono::milliseconds timeout) = 0;

  // Log file of a task's latest attempt (path = TaskStatus.path, or a task
  // name when it is unique in the run). NotFound for DAG tasks or tasks that
  // never started.
  virtual Result<std::string> TaskLogPath(std::string_view run_id, std::string_view task) = 0;

  // Stops scheduling and detaches from running tasks (they keep running; the
  // next Open re-attaches).
  virtual void Shutdown() = 0;
};

}  // namespace ferry::pipelines
