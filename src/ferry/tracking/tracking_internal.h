#pragma once
// Private pieces of the TrackingStore (tracking_store.cc): MLflow's input
// validation (utils/validation.py), its run-name generator, and the
// translation of parsed search terms (search_filter.h) into SQL with bound
// parameters for runs and experiments (run_search.cc). Not part of the
// module's interface; tests include it to check the pieces on their own.
//
// Thread-safety: pure functions, except GenerateRunName, which draws from
// the Env passed in (thread-safe Envs make it thread-safe).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/common/env.h"
#include "ferry/common/status.h"
#include "ferry/store/database.h"
#include "ferry/tracking/search_filter.h"
#include "ferry/tracking/tracking_store.h"

namespace ferry::tracking::internal {

// MLflow's limits (utils/validation.py, store/tracking/__init__.py).
inline constexpr std::size_t kMaxEntityKeyLength = 250;
inline constexpr std::size_t kMaxParamValueLength = 6000;
inline constexpr std::size_t kMaxTagValueLength = 8000;
inline constexpr std::size_t kMaxExperimentNameLength = 500;
inline constexpr std::size_t kMaxExperimentTagKeyLength = 250;
inline constexpr std::size_t kMaxExperimentTagValueLength = 20000;
inline constexpr std::size_t kMaxArtifactLocationLength = 2048;
inline constexpr std::size_t kMaxParamsTagsPerBatch = 100;
inline constexpr std::size_t kMaxMetricsPerBatch = 1000;
inline constexpr std::size_t kMaxEntitiesPerBatch = 1000;
inline constexpr std::size_t kMaxDatasetNameLength = 500;
inline constexpr std::size_t kMaxDatasetDigestLength = 36;
inline constexpr std::size_t kMaxDatasetSchemaLength = 1048575;
inline constexpr std::size_t kMaxDatasetSourceLength = 65535;
inline constexpr std::size_t kMaxDatasetProfileLength = 16777215;
inline constexpr std::size_t kMaxInputTagKeyLength = 255;
inline constexpr std::size_t kMaxInputTagValueLength = 500;
inline constexpr std::int64_t kMaxSearchResults = 50000;
inline constexpr std::size_t kMaxBulkIntervalRuns = 100;
inline constexpr std::int64_t kMaxBulkIntervalResults = 2500;  // MAX_RESULTS_PER_RUN

inline constexpr std::string_view kRunNameTag = "mlflow.runName";
inline constexpr std::string_view kDatasetContextTag = "mlflow.data.context";

// Number of code points of valid UTF-8 text (Python's len()).
std::size_t CodePointCount(std::string_view text);
// The first `max_code_points` code points of valid UTF-8 text.
std::string_view TruncateCodePoints(std::string_view text, std::size_t max_code_points);

// InvalidArgument unless `text` is valid UTF-8 without NUL (what the store
// can keep); `what` names the field in the message.
Status CheckStorableText(std::string_view text, std::string_view what);

// MLflow's name rule for metric, param and tag keys: only alphanumerics
// (non-ASCII letters and digits count, as Python's \w does), '_', '-', '.',
// ' ', ':' and '/', and the name must not change under POSIX path
// normalisation nor start with '/' or "..". `path` is the JSON path used in
// the message ("key", "metrics[3].name", ...).
Status ValidateKeyName(std::string_view name, std::string_view path);

// "Invalid value \"x\" for parameter 'path' supplied: message" (MLflow's
// invalid_value, with the value JSON-quoted).
std::string InvalidValueMessage(std::string_view path, std::string_view value, std::string_view message);
// "'path' exceeds the maximum length of N characters".
std::string ExceedsLengthMessage(std::string_view path, std::size_t limit);

// Validated copies, values truncated to MLflow's limits (MLflow's server
// truncates long param and tag values by default, MLFLOW_TRUNCATE_LONG_VALUES).
Result<Param> ValidateParam(const Param& param, std::string_view path);
Result<Tag> ValidateRunTag(const Tag& tag, std::string_view path);
Status ValidateMetric(const Metric& metric, std::string_view path);
Status ValidateExperimentName(std::string_view name);
Status ValidateExperimentTag(const Tag& tag);
Status ValidateDatasetInput(const DatasetInput& input);

// MLflow's _RUN_ID_REGEX: [a-zA-Z0-9][\w\-]{0,255}.
bool IsValidRunId(std::string_view run_id);
// Experiment ids are integers; InvalidArgument as MLflow's _parse_experiment_id.
Result<std::int64_t> ParseExperimentId(std::string_view experiment_id);

// A name like "bold-fox-123" from MLflow's word lists (utils/name_utils.py):
// predicate-noun-N with N in [0, 1000], at most 20 characters.
std::string GenerateRunName(Env* env);

// MLflow's append_to_uri_path for the simple cases the store needs: joins
// with exactly one '/' between the parts.
std::string AppendToUri(std::string_view base, std::string_view part);

// Builds SQL text with $N placeholders while collecting the bound values.
class SqlBuilder {
 public:
  // Appends `value` to the parameters and returns its placeholder.
  std::string Bind(store::Value value);
  std::vector<store::Value>& params() { return params_; }

 private:
  std::vector<store::Value> params_;
};

// Translates one string comparison on `column` (a SQL expression of type
// text) into a predicate: =, !=, LIKE, ILIKE (MLflow's semantics on both
// backends: LIKE case-sensitive, ILIKE ASCII case-insensitive, no escape
// character), IN, NOT IN. `indexed_prefix`: the column has an index on
// substr(column, 1, 200), which equality adds a term for.
Result<std::string> StringPredicate(store::Dialect dialect, SqlBuilder& b, std::string_view column,
                                    const FilterTerm& term, bool indexed_prefix = false);
// Numeric =, !=, <, <=, >, >= on `column` against the term's double.
Result<std::string> NumericPredicate(SqlBuilder& b, std::string_view column, const FilterTerm& term);

// A stable short fingerprint of a query, for page tokens.
std::string Fingerprint(std::string_view text);

// The SELECT of one page of run ids for a search, without its LIMIT/OFFSET.
struct RunQuery {
  std::string sql;  // selects the runs columns listed in kRunColumns, ordered
  std::vector<store::Value> params;
};

// The runs columns every run read selects, in this order.
inline constexpr std::string_view kRunColumns =
    "r.run_uuid, r.name, r.experiment_id, r.user_id, r.status, r.start_time, r.end_time, "
    "r.lifecycle_stage, r.artifact_uri";

Result<RunQuery> BuildRunSearchQuery(store::Dialect dialect, const std::vector<std::int64_t>& experiment_ids,
                                     ViewType view, const std::vector<FilterTerm>& filter,
                                     const std::vector<OrderTerm>& order_by,
                                     const std::vector<std::string>& raw_order_by);

// The experiments query for a search: selects experiment_id, name,
// artifact_location, lifecycle_stage, creation_time, last_update_time.
Result<RunQuery> BuildExperimentSearchQuery(store::Dialect dialect, ViewType view,
                                            const std::vector<FilterTerm>& filter,
                                            const std::vector<OrderTerm>& order_by);

}  // namespace ferry::tracking::internal
