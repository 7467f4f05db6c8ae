#pragma once
// Private helpers of the KFP IR parser (pipeline_spec.cc), exposed for tests:
// the value syntaxes the IR carries as strings. Each returns InvalidArgument
// naming `field` on anything it does not fully understand.
//
// Thread-safety: pure functions.
#include <cstdint>
#include <string_view>

#include "ferry/common/json.h"
#include "ferry/common/status.h"
#include "ferry/pipelines/pipeline_spec.h"

namespace ferry::pipelines::internal {

// Kubernetes CPU quantity: "500m", "1", "1.5", "2e3m" is not accepted.
Result<double> ParseCpuQuantity(std::string_view text, std::string_view field);

// Kubernetes memory quantity in bytes: "1000000", "1G", "512Mi", "1Gi",
// "1.5Gi", "100k", "1e9". Suffixes k M G T P E (powers of 1000) and
// Ki Mi Gi Ti Pi Ei (powers of 1024).
Result<std::int64_t> ParseMemoryQuantity(std::string_view text, std::string_view field);

// protobuf Duration in JSON form: "0s", "1s", "1.5s", "3600s".
Result<double> ParseDurationSeconds(std::string_view text, std::string_view field);

// `value` as a value of `type` in canonical form: an integral double becomes
// an integer for NUMBER_INTEGER (the compiler writes `defaultValue: 2.0`).
// Fails as CheckParameterValue does.
Result<Json> NormalizeParameterValue(ParameterType type, const Json& value,
                                     std::string_view field);

// Limits of the validator (see pipeline_spec.h).
inline constexpr int kMaxDagDepth = 32;
inline constexpr int kMaxTasks = 10'000;

}  // namespace ferry::pipelines::internal
