#pragma once
// A DOM-free parse of runs/log-batch bodies, for the hot path of metric
// ingestion. It accepts only the plain shape the MLflow client sends: an
// object with a non-empty "run_id" string, and "metrics" (objects with a
// non-empty string "key", a JSON number "value", integer "timestamp" and
// optional integer "step", optional string or null "model_id",
// "dataset_name", "dataset_digest", "run_id"), "params" and "tags" (objects
// with a non-empty string "key" and an optional string or null "value").
// Anything else — another field, a duplicate field, a string where a number
// goes (MLflow's "NaN"), malformed JSON, a body over 1 MiB — returns
// nullopt, and the caller takes the general path, which gives the same
// result for what this accepts and words every error.
//
// Thread-safety: thread-safe (one parser per thread).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/tracking/tracking_store.h"

namespace ferry::api::mlflow {

struct LogBatchBody {
  std::string run_id;
  std::vector<tracking::Metric> metrics;
  std::vector<tracking::Param> params;
  std::vector<tracking::Tag> tags;
};

// `capacity` is how many bytes are readable from body.data() (at least
// body.size()): with 64 bytes of slack the body is parsed in place.
std::optional<LogBatchBody> ParseLogBatchFast(std::string_view body, std::size_t capacity);

}  // namespace ferry::api::mlflow
