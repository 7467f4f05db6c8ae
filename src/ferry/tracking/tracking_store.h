#pragma once
// TrackingStore: experiments, runs, params, tags, metric time series and
// run inputs/outputs — the data behind MLflow's tracking API
// (/api/2.0/mlflow/experiments|runs|metrics/...), kept in the Store
// (SQLite or PostgreSQL, migrations 0002_tracking*.sql) and durable when a
// call returns.
//
// Semantics are MLflow's server (mlflow/store/tracking/sqlalchemy_store.py
// of the pinned release), because the stock `mlflow` client and code written
// against it rely on them:
// - Experiment ids are decimal strings; "0" is the "Default" experiment and
//   exists from the start. Names are unique among all experiments, deleted
//   ones included. Run ids are 32 lowercase hex characters.
// - A param, once logged, cannot change value (logging the same value again
//   is fine). Tags overwrite. Metrics are a time series per (run, key):
//   an identical point (key, value, timestamp, step) logged twice is stored
//   once; the "latest" value of a key is the point with the greatest (step,
//   timestamp, value), NaN counted as 0 (MLflow stores NaN as 0 with an
//   is_nan flag and compares the stored value).
// - NaN metric values are stored and returned as such; ±Inf become
//   ±1.797e308 (DBL_MAX), as in MLflow's SQL store.
// - Writes to a run that is deleted, or in a deleted experiment, fail with
//   FailedPrecondition ("The run ... must be in the 'active' state").
// - Validation limits (utils/validation.py): keys ≤ 250 chars, no "..",
//   '/' or "//" tricks (a key must equal its POSIX-normalised path), only
//   alphanumerics (any script) and _ - . space : /; param values longer
//   than 6000 chars and run tag values longer than 8000 are truncated, as
//   MLflow's server does by default (MLFLOW_TRUNCATE_LONG_VALUES);
//   experiment names ≤ 500; experiment tag values ≤ 20000; log_batch ≤ 1000
//   metrics, ≤ 100 params, ≤ 100 tags, ≤ 1000 entities in all.
//
// Error codes (the routes map them to MLflow's error_code):
//   NotFound           RESOURCE_DOES_NOT_EXIST   unknown experiment / run
//   AlreadyExists      RESOURCE_ALREADY_EXISTS   experiment name taken
//   InvalidArgument    INVALID_PARAMETER_VALUE   validation, param overwrite, bad filter
//   FailedPrecondition INVALID_STATE             write to a deleted run / experiment
//
// Thread-safety: thread-safe; every call is one store transaction (or one
// read), so concurrent writers of one run never lose points.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/common/env.h"
#include "ferry/common/status.h"
#include "ferry/store/database.h"
#include "ferry/tracking/search_filter.h"

namespace ferry::tracking {

inline constexpr std::string_view kDefaultExperimentId = "0";
inline constexpr std::string_view kDefaultExperimentName = "Default";

enum class LifecycleStage { kActive, kDeleted };
// "active" / "deleted"
std::string_view LifecycleStageName(LifecycleStage stage);

// MLflow's RunStatus enum, by name: RUNNING, SCHEDULED, FINISHED, FAILED, KILLED.
enum class RunStatus { kRunning = 1, kScheduled = 2, kFinished = 3, kFailed = 4, kKilled = 5 };
std::string_view RunStatusName(RunStatus status);
Result<RunStatus> ParseRunStatus(std::string_view name);

// Which experiments or runs a search or list sees (MLflow's ViewType).
enum class ViewType { kActiveOnly = 1, kDeletedOnly = 2, kAll = 3 };
Result<ViewType> ParseViewType(std::string_view name);  // ACTIVE_ONLY, DELETED_ONLY, ALL

struct Tag {
  std::string key;
  std::string value;
  bool operator==(const Tag&) const = default;
};

struct Experiment {
  std::string experiment_id;
  std::string name;
  std::string artifact_location;
  LifecycleStage lifecycle_stage = LifecycleStage::kActive;
  std::int64_t creation_time = 0;     // ms since the epoch
  std::int64_t last_update_time = 0;  // ms since the epoch
  std::vector<Tag> tags;              // sorted by key
};

struct Metric {
  std::string key;
  double value = 0;  // may be NaN; ±Inf are stored as ±DBL_MAX
  std::int64_t timestamp = 0;  // ms since the epoch
  std::int64_t step = 0;
  std::string run_id;          // filled on reads
  std::string model_id;        // MLflow 3: the LoggedModel the metric belongs to, or empty
  std::string dataset_name;    // MLflow 3: the dataset it was computed on, or empty
  std::string dataset_digest;
};

struct Param {
  std::string key;
  std::string value;
  bool operator==(const Param&) const = default;
};

struct Dataset {
  std::string name;
  std::string digest;
  std::string source_type;
  std::string source;
  std::string schema;   // may be empty
  std::string profile;  // may be empty
};

struct DatasetInput {
  Dataset dataset;
  std::vector<Tag> tags;  // e.g. mlflow.data.context = "training"
};

struct ModelInput {
  std::string model_id;
};

struct ModelOutput {
  std::string model_id;
  std::int64_t step = 0;
};

struct RunInfo {
  std::string run_id;
  std::string run_name;
  std::string experiment_id;
  std::string user_id;
  RunStatus status = RunStatus::kRunning;
  std::int64_t start_time = 0;               // ms
  std::optional<std::int64_t> end_time;      // ms; unset while running
  std::string artifact_uri;                  // mlflow-artifacts:/<experiment>/<run>/artifacts
  LifecycleStage lifecycle_stage = LifecycleStage::kActive;
};

struct Run {
  RunInfo info;
  std::vector<Metric> metrics;  // the latest point of each key, sorted by key
  std::vector<Param> params;    // sorted by key
  std::vector<Tag> tags;        // sorted by key; includes mlflow.runName, mlflow.user, ...
  std::vector<DatasetInput> dataset_inputs;
  std::vector<ModelInput> model_inputs;
  std::vector<ModelOutput> model_outputs;
};

struct Page {
  std::int64_t max_results = 1000;
  std::string page_token;  // empty: the first page
};

template <typename T>
struct PageOf {
  std::vector<T> items;
  std::string next_page_token;  // empty: no more
};

struct ExperimentSearch {
  ViewType view = ViewType::kActiveOnly;
  std::string filter;
  std::vector<std::string> order_by;
  Page page;  // max_results ≤ 50000 (MAX_EXPERIMENTS_LISTED_PER_PAGE)
};

struct RunSearch {
  std::vector<std::string> experiment_ids;  // at least one
  std::string filter;
  ViewType view = ViewType::kActiveOnly;
  std::vector<std::string> order_by;  // default: start_time DESC, run_id ASC
  Page page;                          // max_results ≤ 50000
};

struct CreateRunRequest {
  std::string experiment_id;  // empty: "0"
  std::string user_id;
  std::string run_name;       // empty: the mlflow.runName tag, else a generated "adjective-noun-NNN"
  std::optional<std::int64_t> start_time;  // ms; unset: now
  std::vector<Tag> tags;
};

struct UpdateRunRequest {
  std::string run_id;
  std::optional<RunStatus> status;
  std::optional<std::int64_t> end_time;
  std::optional<std::string> run_name;  // also sets the mlflow.runName tag
};

struct MetricHistoryRequest {
  std::string run_id;
  std::string metric_key;
  Page page;  // max_results default 25000 per page, as MLflow's get-history paging
};

// get-history-bulk-interval: up to max_results points per run, sampled as
// MLflow 3 does: the points (within [start_step, end_step] if given) in
// (step, timestamp, value) order are cut into max_results NTILE buckets and
// the first point of each is kept, plus the last point (replacing the final
// sample when the page is full). Runs come back in request order.
struct BulkIntervalRequest {
  std::vector<std::string> run_ids;  // 1..100
  std::string metric_key;
  std::optional<std::int64_t> start_step, end_step;
  std::int64_t max_results = 320;    // 1..2500 (MLflow's MAX_RESULTS_PER_RUN, its default when absent)
};

class TrackingStore {
 public:
  // Opens the store over a migrated database; creates the Default experiment
  // when missing. `artifact_root_uri` is the prefix of new experiments'
  // artifact locations ("mlflow-artifacts:" unless configured otherwise).
  static Result<std::unique_ptr<TrackingStore>> Open(store::Database* db, Env* env,
                                                     std::string artifact_root_uri = "mlflow-artifacts:");
  virtual ~TrackingStore() = default;

  // Experiments.
  virtual Result<std::string> CreateExperiment(std::string_view name, std::string_view artifact_location,
                                               const std::vector<Tag>& tags) = 0;
  virtual Result<Experiment> GetExperiment(std::string_view experiment_id) = 0;
  virtual Result<Experiment> GetExperimentByName(std::string_view name) = 0;
  virtual Result<PageOf<Experiment>> SearchExperiments(const ExperimentSearch& search) = 0;
  virtual Status RenameExperiment(std::string_view experiment_id, std::string_view new_name) = 0;
  // Deleting marks the experiment and its runs deleted; restoring undoes both.
  virtual Status DeleteExperiment(std::string_view experiment_id) = 0;
  virtual Status RestoreExperiment(std::string_view experiment_id) = 0;
  virtual Status SetExperimentTag(std::string_view experiment_id, const Tag& tag) = 0;
  virtual Status DeleteExperimentTag(std::string_view experiment_id, std::string_view key) = 0;

  // Runs.
  virtual Result<Run> CreateRun(const CreateRunRequest& request) = 0;
  virtual Result<Run> GetRun(std::string_view run_id) = 0;
  virtual Result<RunInfo> UpdateRun(const UpdateRunRequest& request) = 0;
  virtual Status DeleteRun(std::string_view run_id) = 0;
  virtual Status RestoreRun(std::string_view run_id) = 0;
  virtual Result<PageOf<Run>> SearchRuns(const RunSearch& search) = 0;

  // Logging. LogBatch is all or nothing, and the limits above apply.
  virtual Status LogMetric(std::string_view run_id, const Metric& metric) = 0;
  virtual Status LogParam(std::string_view run_id, const Param& param) = 0;
  virtual Status SetTag(std::string_view run_id, const Tag& tag) = 0;
  virtual Status DeleteTag(std::string_view run_id, std::string_view key) = 0;
  virtual Status LogBatch(std::string_view run_id, const std::vector<Metric>& metrics,
                          const std::vector<Param>& params, const std::vector<Tag>& tags) = 0;
  virtual Status LogInputs(std::string_view run_id, const std::vector<DatasetInput>& datasets,
                           const std::vector<ModelInput>& models) = 0;
  virtual Status LogOutputs(std::string_view run_id, const std::vector<ModelOutput>& models) = 0;

  // Metric reads. History is in MLflow's order: timestamp, step, value. An
  // unknown run or key has an empty history (MLflow does not check the run).
  // page.max_results must be positive.
  virtual Result<PageOf<Metric>> GetMetricHistory(const MetricHistoryRequest& request) = 0;
  virtual Result<std::vector<Metric>> GetMetricHistoryBulkInterval(const BulkIntervalRequest& request) = 0;
  // Every point logged with model_id = `model_id` (LoggedModel.data.metrics),
  // the latest per (key, dataset) — used by the logged-model store.
  virtual Result<std::vector<Metric>> GetModelMetrics(std::string_view model_id) = 0;
};

}  // namespace ferry::tracking
