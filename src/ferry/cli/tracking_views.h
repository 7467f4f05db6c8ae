#pragma once
// `ferry get experiments|runs|models` and `ferry describe experiment|run|model`:
// the tracking and registry data, which the server keeps behind its MLflow
// REST API (/api/2.0/mlflow/...) rather than as native resources, shown the
// way the native kinds are (aligned tables, JSON/YAML, describe sections).
//
// `describe model` also shows lineage (DESIGN.md §7): for every version, the
// run that produced it, that run's experiment and input datasets, and the
// pipeline run it belongs to (the run's `ferry.pipeline_run_id` tag) with
// its name and state and the input artifacts of the task that logged the
// run (the `ferry.pipeline_task` tag), read from the KFP API.
//
// The fetching functions print server errors and return the CLI's exit
// codes; the rendering functions are pure, so they are unit-tested alone.
//
// Thread-safety: as the rest of the CLI, one invocation at a time.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/cli/commands.h"
#include "ferry/cli/output.h"
#include "ferry/common/json.h"

namespace ferry::cli {

enum class TrackingKind { kNone, kExperiment, kRun, kModel };

// The tracking kind `kind` names ("experiments", "experiment", "exp",
// "runs", "run", "models", "model", "registeredmodels", "rm"; any case), or
// kNone for everything else (native kinds).
TrackingKind TrackingKindOf(std::string_view kind);

int GetTracking(Context& ctx, TrackingKind kind, const std::vector<std::string>& names,
                const GetOptions& options);
int DescribeTracking(Context& ctx, TrackingKind kind, const std::vector<std::string>& names);

// Tables over MLflow JSON objects (as the REST API returns them); times are
// compared with `now_ms` (ms since the epoch).
std::vector<TableRow> ExperimentTable(const std::vector<Json>& experiments, std::int64_t now_ms);
std::vector<TableRow> RunTable(const std::vector<Json>& runs, std::int64_t now_ms);
std::vector<TableRow> ModelTable(const std::vector<Json>& models, std::int64_t now_ms);

// What `describe model` prints: the registered model, its versions (newest
// first), aliases, and each version's lineage from `runs` (run id -> the
// run object, absent when the run is unknown) and `pipeline_runs` (pipeline
// run id -> the KFP v2beta1 run with its run_details, absent when unknown).
std::string DescribeModelText(const Json& model, const std::vector<Json>& versions,
                              const std::map<std::string, Json>& runs,
                              const std::map<std::string, Json>& pipeline_runs, std::int64_t now_ms);
std::string DescribeRunText(const Json& run, const Json& experiment, std::int64_t now_ms);
std::string DescribeExperimentText(const Json& experiment, std::int64_t run_count, std::int64_t now_ms);

}  // namespace ferry::cli
