#pragma once
// The pipeline verbs: `ferry run PIPELINE.yaml`, `ferry get pipelineruns`,
// `ferry get pipelinerun|run ID`, `ferry logs run/ID [TASK]`,
// `ferry cancel run/ID`, `ferry retry run/ID`. They are clients of the KFP
// REST surface (/apis/v2beta1/runs, /apis/v2beta1/experiments) and of the
// native log route (/api/v1/namespaces/default/pipelineruns/{id}/log); the
// compiled pipeline is posted inline (pipeline_spec), parameters as the
// strings the user typed, which the server converts per the pipeline's
// declared types.
//
// Naming (docs/adr/0005-mlflow-surface.md): `runs` are MLflow tracking runs;
// pipeline runs are the kind `pipelineruns` (`pipelinerun`, `pr`). `get run
// ID` shows a pipeline run when ID is one (a UUID with dashes; tracking run
// ids are 32 hex digits).
//
// The fetching functions print server errors and return the CLI's exit
// codes; the rendering functions are pure, so they are unit-tested alone.
//
// Thread-safety: as the rest of the CLI, one invocation at a time.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ferry/cli/commands.h"
#include "ferry/cli/output.h"
#include "ferry/common/json.h"

namespace ferry::cli {

struct RunPipelineOptions {
  std::string file;                     // compiled pipeline, YAML or JSON; "-" for stdin
  std::vector<std::string> parameters;  // "name=value", repeatable
  std::string experiment;               // name; created when missing
  std::string name;                     // display name; default: the pipeline's name
  bool watch = false;
  bool disable_caching = false;
};

struct LogsOptions {
  std::string target;  // "run/ID", "pipelinerun/ID", "pr/ID" or "ID"
  std::string task;    // name or path; empty: every task
  bool follow = false;
  std::int64_t limit_bytes = 0;  // 0: the server's default
};

struct PipelineRunActionOptions {
  std::vector<std::string> targets;  // "run/ID" or "ID"
};

// True for the pipeline-run kind's names ("pipelineruns", "pipelinerun",
// "pr"; any case, optionally "/ID").
bool IsPipelineRunKind(std::string_view kind);
// True when `id` is a UUID with dashes (8-4-4-4-12 hex digits).
bool IsPipelineRunId(std::string_view id);
// The run id of "run/ID", "pipelinerun/ID", "pr/ID" or "ID"; InvalidArgument otherwise.
Result<std::string> PipelineRunIdOf(std::string_view target);
// Splits "name=value" at the first '='; InvalidArgument naming the argument.
Result<std::pair<std::string, std::string>> ParseParameter(std::string_view argument);

int RunPipeline(Context& ctx, const RunPipelineOptions& options);
// `get pipelineruns [ID...]` and `get run UUID`.
int GetPipelineRuns(Context& ctx, const std::vector<std::string>& ids, const GetOptions& options);
int PipelineRunLogs(Context& ctx, const LogsOptions& options);
int CancelPipelineRuns(Context& ctx, const PipelineRunActionOptions& options);
int RetryPipelineRuns(Context& ctx, const PipelineRunActionOptions& options);

// Tables over KFP V2beta1Run JSON (as the REST API returns it); times are
// compared with `now_micros`. `experiments` maps experiment ids to names.
std::vector<TableRow> PipelineRunTable(const std::vector<Json>& runs,
                                       const std::map<std::string, std::string>& experiments,
                                       std::int64_t now_micros);
// The leaf and loop tasks of a run with their state, duration, cache hit and attempt.
std::vector<TableRow> TaskTable(const Json& run, std::int64_t now_micros);
// What `get pipelinerun ID` prints: the run's fields, then the task table.
std::string PipelineRunText(const Json& run, std::string_view experiment_name, std::int64_t now_micros);
// Task path -> "STATE" or "STATE (cached)", for `--watch` to print changes.
std::map<std::string, std::string> TaskStates(const Json& run);

}  // namespace ferry::cli
