#pragma once
// Tracking entities as MLflow's server writes them in JSON
// (mlflow/protos/service.proto through message_to_json): proto field names,
// proto2 presence — a field MLflow's to_proto() leaves unset is absent, an
// empty repeated field is absent — int64 fields as JSON numbers, and metric
// values through JsonDouble so NaN and ±Inf survive. Shared by the tracking
// routes and the logged-model routes (which embed metrics and tags).
//
// Also the reverse for request tag lists, read with the lenient field
// getters of common.h; errors name the offending element, e.g. "tags[2].key".
//
// Thread-safety: stateless functions.

#include <string>
#include <string_view>
#include <vector>

#include "ferry/common/json.h"
#include "ferry/common/status.h"
#include "ferry/tracking/tracking_store.h"

namespace ferry::api::mlflow {

// [{key, value}, ...]; the caller omits the field when the list is empty.
Json TagsJson(const std::vector<tracking::Tag>& tags);

// {experiment_id, name, artifact_location, lifecycle_stage, creation_time?,
//  last_update_time?, tags?, workspace}. Times of 0 are absent, as MLflow's
// Experiment.to_proto leaves them.
Json ExperimentJson(const tracking::Experiment& experiment);

// {key, value, timestamp, step, model_id?, dataset_name?, dataset_digest?,
//  run_id?}; run_id only when `with_run_id` (MLflow writes it in
// get-history-bulk-interval, not in run data or get-history).
Json MetricJson(const tracking::Metric& metric, bool with_run_id = false);

// RunInfo with run_uuid duplicated beside run_id; end_time only when set
// and non-zero, artifact_uri only when non-empty.
Json RunInfoJson(const tracking::RunInfo& info);

// {info, data, inputs[, outputs]}: data and inputs are always present (empty
// objects when empty); outputs only when `with_outputs` — MLflow's
// create-run response has none, get and search always have it.
Json RunJson(const tracking::Run& run, bool with_outputs = true);

// Request side: the list of {key, value} at `field`; a missing or empty
// key is "Missing value for required parameter 'tags[i].key'", a missing
// value is "".
Result<std::vector<tracking::Tag>> ParseTags(const Json& request, std::string_view field);

}  // namespace ferry::api::mlflow
