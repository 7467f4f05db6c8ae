#pragma once
// LoggedModelStore: MLflow 3's logged models — a model logged by a run (or
// on its own), with its own id, artifact location, status, tags, params, and
// the metrics logged against it — the data behind
// /api/2.0/mlflow/logged-models/..., kept in the Store (migration
// 0003_logged_models.sql) and durable when a call returns.
//
// Semantics are MLflow's server (store/tracking/sqlalchemy_store.py
// create_logged_model ... search_logged_models, entities/logged_model*.py of
// the pinned release):
// - Ids are "m-" + 32 lowercase hex characters. A model belongs to one
//   active experiment; its artifact location is
//   "<experiment artifact_location>/models/<model_id>/artifacts".
// - A new model is LOGGED_MODEL_PENDING; Finalize sets READY or
//   UPLOAD_FAILED. Without a name it gets a generated "adjective-noun-NNN".
// - Deleting is soft: the model disappears from Get and Search (NotFound),
//   its rows stay.
// - Tags overwrite (a key repeated in one call keeps its last value).
//   Params are immutable: logging a key again with the same value is a
//   no-op, with another value InvalidArgument. Keys are 1..250 bytes.
// - Metrics are not stored here: they are the metrics logged with
//   model_id through the TrackingStore (TrackingStore::GetModelMetrics).
// - Search: models of the given experiments that are not deleted, filtered
//   by LoggedModelsGrammar() (attributes, metrics.x, params.x, tags.x), by
//   datasets (a metric of the model on one of them), ordered by
//   order_by (nulls last) then creation_timestamp DESC, model_id ASC.
//   A metric filter matches when any point of the metric matches, as
//   MLflow; ordering by a metric uses its latest point. max_results
//   defaults to 100 (MLflow's SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT), at
//   most 50000 (MLflow has no cap).
// - Tag, param and delete-tag writes and Finalize reach deleted models too,
//   as MLflow's _get_logged_model_record does.
//
// Error codes: NotFound for an unknown or deleted model / experiment,
// InvalidArgument for validation and bad filters, FailedPrecondition for a
// model created in a deleted experiment.
//
// Thread-safety: thread-safe; every write is one store transaction.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/common/env.h"
#include "ferry/common/status.h"
#include "ferry/store/database.h"
#include "ferry/tracking/tracking_store.h"

namespace ferry::tracking {

// MLflow's LoggedModelStatus names.
inline constexpr std::string_view kLoggedModelPending = "LOGGED_MODEL_PENDING";
inline constexpr std::string_view kLoggedModelReady = "LOGGED_MODEL_READY";
inline constexpr std::string_view kLoggedModelUploadFailed = "LOGGED_MODEL_UPLOAD_FAILED";

// OK for the three names above; InvalidArgument naming the value otherwise.
Status ValidateLoggedModelStatus(std::string_view status);

struct LoggedModel {
  std::string model_id;  // "m-<32 hex>"
  std::string experiment_id;
  std::string name;
  std::string artifact_location;  // LoggedModelInfo.artifact_uri
  std::string source_run_id;      // may be empty
  std::string model_type;         // may be empty
  std::string status;             // kLoggedModelPending | kLoggedModelReady | kLoggedModelUploadFailed
  std::string status_message;     // may be empty
  std::int64_t creation_timestamp_ms = 0;
  std::int64_t last_updated_timestamp_ms = 0;
  std::vector<Tag> tags;        // sorted by key
  std::vector<Param> params;    // sorted by key
  std::vector<Metric> metrics;  // from TrackingStore::GetModelMetrics
};

struct CreateLoggedModelRequest {
  std::string experiment_id;  // required
  std::string name;           // empty: generated
  std::string source_run_id;  // empty: none
  std::string model_type;
  std::vector<Tag> tags;
  std::vector<Param> params;
};

// A dataset clause of search: a model matches when it has a metric on it.
struct LoggedModelDatasetFilter {
  std::string dataset_name;    // required
  std::string dataset_digest;  // empty: any digest
};

// An order_by entry of search, as the proto sends it: field_name is an
// attribute ("creation_timestamp", "name", ...) or "metrics.<key>" (then the
// latest value of that metric, optionally on one dataset).
struct LoggedModelOrder {
  std::string field_name;
  bool ascending = true;
  std::string dataset_name;
  std::string dataset_digest;
};

struct LoggedModelSearch {
  std::vector<std::string> experiment_ids;  // at least one
  std::string filter;
  std::vector<LoggedModelDatasetFilter> datasets;
  std::vector<LoggedModelOrder> order_by;
  std::int64_t max_results = 0;  // 0: 100; at most 50000
  std::string page_token;        // empty: the first page
};

class LoggedModelStore {
 public:
  // Opens the store over a migrated database. `tracking` supplies
  // experiments and model metrics; both outlive the store.
  static Result<std::unique_ptr<LoggedModelStore>> Open(store::Database* db, TrackingStore* tracking,
                                                        Env* env);
  virtual ~LoggedModelStore() = default;

  // Creates a PENDING model in an active experiment.
  virtual Result<LoggedModel> Create(const CreateLoggedModelRequest& request) = 0;
  // The model, unless unknown or deleted.
  virtual Result<LoggedModel> Get(std::string_view model_id) = 0;
  // Marks the model deleted.
  virtual Status Delete(std::string_view model_id) = 0;
  // Sets the status (one of the three names) and returns the model.
  virtual Result<LoggedModel> Finalize(std::string_view model_id, std::string_view status) = 0;
  // Sets (overwrites) tags.
  virtual Status SetTags(std::string_view model_id, const std::vector<Tag>& tags) = 0;
  // Removes one tag; NotFound when the model has no such tag.
  virtual Status DeleteTag(std::string_view model_id, std::string_view key) = 0;
  // Adds params (immutable; see above).
  virtual Status LogParams(std::string_view model_id, const std::vector<Param>& params) = 0;
  // See the semantics above.
  virtual Result<PageOf<LoggedModel>> Search(const LoggedModelSearch& search) = 0;
};

}  // namespace ferry::tracking
