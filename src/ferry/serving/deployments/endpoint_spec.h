#pragma once
// EndpointSpec: what Ferry takes from a KServe InferenceService
// (serving.kserve.io/v1beta1) — the predictor's model, its replicas and
// autoscaling target, the canary share, the batcher and the payload logger —
// and the registration of the InferenceService kind with the native
// resource API, so `ferry apply -f isvc.yaml` and
// /api/v1/namespaces/{ns}/inferenceservices accept KServe's YAML unchanged.
//
// Fields Ferry does not support (transformer, explainer, custom containers,
// a predictor framework other than `model`, ...) are refused with
// InvalidArgument naming the field ("spec.transformer"), never ignored.
// Two fields are checked and deliberately not recorded: the predictor's
// `resources` (requests/limits size a Kubernetes pod; a local replica is a
// process) and modelFormat.version (KServe picks a ServingRuntime by it;
// Ferry picks the runtime from the model itself).
//
// KServe's rules kept: minReplicas defaults to 1 and may be 0 (scale to
// zero); maxReplicas 0 means "as many as minReplicas" (at least 1);
// maxReplicas < minReplicas is refused; scaleMetric is "concurrency" (the
// only one served locally; "cpu", "memory", "rps" are refused naming the
// field); canaryTrafficPercent is 0..100; batcher.maxLatency is in
// milliseconds as in KServe (kept here as microseconds).
//
// Ferry's additions are annotations, so the YAML stays KServe's:
//   serving.ferry.dev/log-sample-rate: "0.1"   share of requests logged (default 1)
//
// Thread-safety: plain functions and values.

#include <cstdint>
#include <optional>
#include <string>

#include "ferry/common/json.h"
#include "ferry/common/status.h"
#include "ferry/store/resource_types.h"

namespace ferry::serving::deployments {

// The ResourceStore key of the kind.
inline constexpr char kInferenceServicesKey[] = "inferenceservices.serving.kserve.io";
inline constexpr char kLogSampleRateAnnotation[] = "serving.ferry.dev/log-sample-rate";

struct BatcherSpec {
  std::int64_t max_batch_size = 0;  // 0: no batching
  std::int64_t max_latency_us = 0;  // the longest a request waits for others
};

enum class LogMode { kNone, kAll, kRequest, kResponse };  // KServe logger.mode

struct LoggerSpec {
  LogMode mode = LogMode::kNone;
  double sample_rate = 1.0;  // from kLogSampleRateAnnotation
};

struct EndpointSpec {
  std::string model_format;   // predictor.model.modelFormat.name, lower-case:
                              // "onnx", "sklearn", "xgboost", "lightgbm", "mlflow"
  std::string storage_uri;    // predictor.model.storageUri: models:/, runs:/,
                              // mlflow-artifacts:/, file://
  int min_replicas = 1;
  int max_replicas = 1;       // after KServe's defaulting (>= max(min, 1))
  std::int64_t scale_target = 100;  // in-flight requests per replica
  std::optional<int> canary_traffic_percent;
  BatcherSpec batcher;
  LoggerSpec logger;
};

// Reads the spec of a whole InferenceService object (apiVersion, kind,
// metadata, spec). InvalidArgument naming the first offending field.
Result<EndpointSpec> ParseEndpointSpec(const Json& object);

// Registers InferenceService (serving.kserve.io, v1beta1; short name
// "isvc"), validated by ParseEndpointSpec.
Status RegisterServingTypes(store::ResourceTypes& types);

}  // namespace ferry::serving::deployments
