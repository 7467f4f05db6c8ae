// ParseEndpointSpec: KServe's InferenceService (serving.kserve.io/v1beta1)
// as Ferry serves it. Field names and defaults follow KServe's Go types
// (pkg/apis/serving/v1beta1: inference_service.go, predictor.go,
// component.go, model.go) and its validating webhook (validateReplicas,
// validateLogger, the one-implementation rule of PredictorSpec).
//
// Accepted: spec.predictor with exactly one of `model` (modelFormat.name,
// modelFormat.version, storageUri, runtime, protocolVersion, resources) or
// the older per-framework predictors `sklearn`, `xgboost`, `lightgbm`,
// `onnx` (storageUri, protocolVersion, resources), which KServe still
// accepts and which map to model_format; and the component extension
// minReplicas, maxReplicas, scaleTarget, scaleMetric, canaryTrafficPercent,
// batcher {maxBatchSize, maxLatency}, logger {mode}.
//
// Accepted and not recorded: modelFormat.version (KServe uses it only to
// pick a ServingRuntime; Ferry's runtime is chosen from the model itself)
// and the predictor's `resources` (requests/limits size a Kubernetes pod;
// local replicas are processes that take what they need, and a cluster
// executor sizes them from its own configuration). Both are still checked
// for shape, so a typo is an error.
//
// Refused, naming the field: spec.transformer and spec.explainer (no
// pre/post-processing or explanation containers), custom containers
// (spec.predictor.containers) and every other pod field, the predictor
// frameworks Ferry has no runtime for (tensorflow, pytorch, triton, ...),
// model.runtime (Ferry picks its own runtime), protocolVersion other than
// v1/v2 (the gateway speaks REST), scaleMetric cpu/memory/rps (only
// in-flight concurrency is measured locally), logger.url and the logger's
// other sinks (payloads go to Ferry's store), batcher.timeout,
// containerConcurrency and timeout (not enforced by Ferry's router), and
// a storageUri whose scheme Ferry cannot resolve (gs://, s3://, https://,
// pvc://, ...).
//
// Defaults kept from KServe: minReplicas 1; maxReplicas 0 ("unset") means
// max(minReplicas, 1); scaleTarget 100 (Knative's concurrency target);
// logger.mode all; a batcher without maxBatchSize/maxLatency gets 32 and
// 5000 ms, the defaults of KServe's batcher (pkg/batcher/handler.go).
#include "ferry/serving/deployments/endpoint_spec.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <string_view>
#include <vector>

#include "ferry/common/json_fields.h"
#include "ferry/common/strings.h"

namespace ferry::serving::deployments {
namespace {

constexpr std::int64_t kDefaultBatchSize = 32;        // KServe batcher MaxBatchSize
constexpr std::int64_t kDefaultBatchLatencyMs = 5000;  // KServe batcher MaxLatency
// The most a batcher may hold a request: an hour is already absurd.
constexpr std::int64_t kMaxBatchLatencyMs = 3'600'000;

// Predictor frameworks KServe has and Ferry serves, keyed by their field.
constexpr std::string_view kServedFrameworks[] = {"sklearn", "xgboost", "lightgbm", "onnx"};
// Predictor frameworks KServe has and Ferry does not.
constexpr std::string_view kUnservedFrameworks[] = {"tensorflow", "pytorch", "triton", "huggingface",
                                                    "pmml",       "paddle",  "catboost"};
constexpr std::string_view kModelFormats[] = {"onnx", "sklearn", "xgboost", "lightgbm", "mlflow"};
constexpr std::string_view kStorageSchemes[] = {"models:/", "runs:/", "mlflow-artifacts:/", "file://"};


Result<const Json*> ObjectField(const Json& parent, std::string_view key, const std::string& field,
                                bool required) {
  const Json* v = FindField(parent, key);
  if (!v) {
    if (required) return RequiredFieldError(field);
    return static_cast<const Json*>(nullptr);
  }
  if (!v->is_object()) return WrongTypeError(field, "an object", *v);
  return v;
}

// std::nullopt when absent.
Result<std::optional<std::string>> StringField(const Json& obj, std::string_view key, const std::string& field) {
  const Json* v = FindField(obj, key);
  if (!v) return std::optional<std::string>();
  if (!v->is_string()) return WrongTypeError(field, "a string", *v);
  return std::optional<std::string>(v->get<std::string>());
}

// An integer in [min, max], or std::nullopt when absent. KServe's fields are
// Go ints, so a string or a fraction is refused as the API server would.
Result<std::optional<std::int64_t>> IntField(const Json& obj, std::string_view key, const std::string& field,
                                             std::int64_t min, std::int64_t max) {
  const Json* v = FindField(obj, key);
  if (!v) return std::optional<std::int64_t>();
  std::int64_t n = 0;
  if (v->is_number_integer()) {
    if (v->is_number_unsigned() && v->get<std::uint64_t>() > static_cast<std::uint64_t>(max)) {
      return InvalidArgument(field + " must be at most " + std::to_string(max), field);
    }
    n = v->get<std::int64_t>();
  } else if (v->is_number_float() && std::isfinite(v->get<double>()) &&
             v->get<double>() == std::floor(v->get<double>()) && std::fabs(v->get<double>()) < 9e15) {
    n = static_cast<std::int64_t>(v->get<double>());  // 3.0 from a JSON client
  } else {
    return WrongTypeError(field, "an integer", *v);
  }
  if (n < min) return InvalidArgument(field + " must be at least " + std::to_string(min), field);
  if (n > max) return InvalidArgument(field + " must be at most " + std::to_string(max), field);
  return std::optional<std::int64_t>(n);
}

// Refuses any key of `obj` not in `allowed`; `why` explains known keys Ferry
// refuses on purpose.
Status CheckFields(const Json& obj, const std::string& path, std::initializer_list<std::string_view> allowed) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (std::find(allowed.begin(), allowed.end(), it.key()) != allowed.end()) continue;
    const std::string field = path + "." + it.key();
    return InvalidArgument(field + " is not supported by Ferry (" + QuoteForMessage(it.key()) +
                               " is not one of the fields it serves)",
                           field);
  }
  return Status::OK();
}

Status CheckStorageUri(const std::string& uri, const std::string& field) {
  if (uri.empty()) return InvalidArgument(field + " must not be empty", field);
  for (std::string_view scheme : kStorageSchemes) {
    if (uri.starts_with(scheme)) return Status::OK();
  }
  return InvalidArgument(field + " " + QuoteForMessage(uri) +
                             " is not supported: Ferry resolves models:/NAME/VERSION, models:/NAME@ALIAS, "
                             "runs:/RUN_ID/PATH, mlflow-artifacts:/PATH and file:///PATH",
                         field);
}

Status CheckProtocolVersion(const Json& impl, const std::string& path) {
  const std::string field = path + ".protocolVersion";
  ASSIGN_OR_RETURN(std::optional<std::string> protocol, StringField(impl, "protocolVersion", field));
  if (!protocol || *protocol == "v1" || *protocol == "v2") return Status::OK();
  if (*protocol == "grpc-v1" || *protocol == "grpc-v2") {
    return InvalidArgument(field + " " + QuoteForMessage(*protocol) +
                               " is not supported: the gateway serves REST (v1 and v2); use v2",
                           field);
  }
  return InvalidArgument(field + " must be v1 or v2, not " + QuoteForMessage(*protocol), field);
}

// resources: {requests, limits} of name -> quantity; checked, not recorded
// (see the file comment).
Status CheckResources(const Json& impl, const std::string& path) {
  const std::string field = path + ".resources";
  ASSIGN_OR_RETURN(const Json* resources, ObjectField(impl, "resources", field, false));
  if (!resources) return Status::OK();
  RETURN_IF_ERROR(CheckFields(*resources, field, {"requests", "limits"}));
  for (const char* part : {"requests", "limits"}) {
    const std::string part_field = field + "." + part;
    ASSIGN_OR_RETURN(const Json* quantities, ObjectField(*resources, part, part_field, false));
    if (!quantities) continue;
    for (auto it = quantities->begin(); it != quantities->end(); ++it) {
      if (!it->is_string() && !it->is_number()) {
        return WrongTypeError(part_field + "." + it.key(), "a quantity (\"100m\", \"256Mi\", 2)", *it);
      }
    }
  }
  return Status::OK();
}

// predictor.model (ModelSpec).
Status ParseModelSpec(const Json& model, const std::string& path, EndpointSpec& spec) {
  RETURN_IF_ERROR(CheckFields(model, path,
                              {"modelFormat", "storageUri", "runtime", "protocolVersion", "resources"}));
  const std::string format_path = path + ".modelFormat";
  ASSIGN_OR_RETURN(const Json* format, ObjectField(model, "modelFormat", format_path, true));
  RETURN_IF_ERROR(CheckFields(*format, format_path, {"name", "version"}));
  ASSIGN_OR_RETURN(std::optional<std::string> name, StringField(*format, "name", format_path + ".name"));
  if (!name || name->empty()) return RequiredFieldError(format_path + ".name");
  ASSIGN_OR_RETURN(std::optional<std::string> version,
                   StringField(*format, "version", format_path + ".version"));
  (void)version;  // checked, not recorded: see the file comment
  std::string lower = *name;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (std::find(std::begin(kModelFormats), std::end(kModelFormats), lower) == std::end(kModelFormats)) {
    return InvalidArgument(format_path + ".name " + QuoteForMessage(*name) +
                               " is not supported: Ferry serves onnx, sklearn, xgboost, lightgbm and mlflow",
                           format_path + ".name");
  }
  spec.model_format = lower;

  ASSIGN_OR_RETURN(std::optional<std::string> runtime, StringField(model, "runtime", path + ".runtime"));
  if (runtime && !runtime->empty()) {
    return InvalidArgument(path + ".runtime " + QuoteForMessage(*runtime) +
                               " is not supported: Ferry chooses the runtime from the model "
                               "(native ONNX, or Python for MLflow pyfunc); leave runtime out",
                           path + ".runtime");
  }
  RETURN_IF_ERROR(CheckProtocolVersion(model, path));
  RETURN_IF_ERROR(CheckResources(model, path));
  ASSIGN_OR_RETURN(std::optional<std::string> uri, StringField(model, "storageUri", path + ".storageUri"));
  if (!uri) return RequiredFieldError(path + ".storageUri");
  RETURN_IF_ERROR(CheckStorageUri(*uri, path + ".storageUri"));
  spec.storage_uri = *uri;
  return Status::OK();
}

// predictor.sklearn / xgboost / lightgbm / onnx (the pre-0.8 schema).
Status ParseFrameworkSpec(const Json& impl, std::string_view framework, const std::string& path,
                          EndpointSpec& spec) {
  RETURN_IF_ERROR(CheckFields(impl, path, {"storageUri", "protocolVersion", "resources"}));
  RETURN_IF_ERROR(CheckProtocolVersion(impl, path));
  RETURN_IF_ERROR(CheckResources(impl, path));
  ASSIGN_OR_RETURN(std::optional<std::string> uri, StringField(impl, "storageUri", path + ".storageUri"));
  if (!uri) return RequiredFieldError(path + ".storageUri");
  RETURN_IF_ERROR(CheckStorageUri(*uri, path + ".storageUri"));
  spec.model_format = std::string(framework);
  spec.storage_uri = *uri;
  return Status::OK();
}

Status ParseBatcher(const Json& predictor, const std::string& path, EndpointSpec& spec) {
  const std::string field = path + ".batcher";
  ASSIGN_OR_RETURN(const Json* batcher, ObjectField(predictor, "batcher", field, false));
  if (!batcher) return Status::OK();
  if (FindField(*batcher, "timeout")) {
    return InvalidArgument(field + ".timeout is not supported: a request waits at most maxLatency for its batch",
                           field + ".timeout");
  }
  RETURN_IF_ERROR(CheckFields(*batcher, field, {"maxBatchSize", "maxLatency"}));
  ASSIGN_OR_RETURN(std::optional<std::int64_t> size,
                   IntField(*batcher, "maxBatchSize", field + ".maxBatchSize", 1, 1'000'000));
  ASSIGN_OR_RETURN(std::optional<std::int64_t> latency_ms,
                   IntField(*batcher, "maxLatency", field + ".maxLatency", 1, kMaxBatchLatencyMs));
  spec.batcher.max_batch_size = size.value_or(kDefaultBatchSize);
  spec.batcher.max_latency_us = latency_ms.value_or(kDefaultBatchLatencyMs) * 1000;
  return Status::OK();
}

Status ParseLogger(const Json& predictor, const std::string& path, EndpointSpec& spec) {
  const std::string field = path + ".logger";
  ASSIGN_OR_RETURN(const Json* logger, ObjectField(predictor, "logger", field, false));
  if (!logger) return Status::OK();
  for (const char* sink : {"url", "storage", "metadataHeaders", "metadataAnnotations"}) {
    if (FindField(*logger, sink)) {
      return InvalidArgument(field + "." + sink +
                                 " is not supported: Ferry logs payloads to its own store "
                                 "(read them with the monitoring API); set only logger.mode",
                             field + "." + sink);
    }
  }
  RETURN_IF_ERROR(CheckFields(*logger, field, {"mode"}));
  ASSIGN_OR_RETURN(std::optional<std::string> mode, StringField(*logger, "mode", field + ".mode"));
  if (!mode || mode->empty() || *mode == "all") {
    spec.logger.mode = LogMode::kAll;
  } else if (*mode == "request") {
    spec.logger.mode = LogMode::kRequest;
  } else if (*mode == "response") {
    spec.logger.mode = LogMode::kResponse;
  } else {
    return InvalidArgument(field + ".mode must be all, request or response, not " + QuoteForMessage(*mode),
                           field + ".mode");
  }
  return Status::OK();
}

// Strict decimal in [0, 1]: "0.1", "1", "0". No sign, no hex, no spaces.
Result<double> ParseSampleRate(const std::string& text, const std::string& field) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value, std::chars_format::fixed);
  if (text.empty() || ec != std::errc() || ptr != end || !std::isfinite(value) || value < 0 || value > 1) {
    return InvalidArgument(field + " must be a number from 0 to 1, not " + QuoteForMessage(text), field);
  }
  return value;
}

Status ParseAnnotations(const Json& object, EndpointSpec& spec) {
  const Json* metadata = FindField(object, "metadata");
  if (!metadata || !metadata->is_object()) return Status::OK();
  const Json* annotations = FindField(*metadata, "annotations");
  if (!annotations || !annotations->is_object()) return Status::OK();
  const Json* rate = FindField(*annotations, kLogSampleRateAnnotation);
  if (!rate) return Status::OK();
  const std::string field = std::string("metadata.annotations[") + kLogSampleRateAnnotation + "]";
  if (!rate->is_string()) return WrongTypeError(field, "a string", *rate);
  ASSIGN_OR_RETURN(spec.logger.sample_rate, ParseSampleRate(rate->get<std::string>(), field));
  return Status::OK();
}

Status ParsePredictor(const Json& predictor, const std::string& path, EndpointSpec& spec) {
  // Refusals with a reason come before the generic unknown-field check.
  if (FindField(predictor, "containers")) {
    return InvalidArgument(path + ".containers is not supported: Ferry runs no custom predictor containers; "
                               "give predictor.model with modelFormat and storageUri",
                           path + ".containers");
  }
  for (std::string_view framework : kUnservedFrameworks) {
    if (FindField(predictor, framework)) {
      const std::string field = path + "." + std::string(framework);
      return InvalidArgument(field +
                                 " is not supported: Ferry serves predictor.model (onnx, sklearn, xgboost, "
                                 "lightgbm, mlflow) and the sklearn, xgboost, lightgbm and onnx predictors",
                             field);
    }
  }
  RETURN_IF_ERROR(CheckFields(predictor, path,
                              {"model", "sklearn", "xgboost", "lightgbm", "onnx", "minReplicas", "maxReplicas",
                               "scaleTarget", "scaleMetric", "canaryTrafficPercent", "batcher", "logger"}));

  // Exactly one implementation, as KServe's validateExactlyOneImplementation.
  std::vector<std::string> implementations;
  for (std::string_view key : {std::string_view("model"), kServedFrameworks[0], kServedFrameworks[1],
                               kServedFrameworks[2], kServedFrameworks[3]}) {
    if (FindField(predictor, key)) implementations.emplace_back(key);
  }
  if (implementations.empty()) {
    return InvalidArgument(path + ".model is required: exactly one of model, sklearn, xgboost, lightgbm, onnx "
                               "must be specified",
                           path + ".model");
  }
  if (implementations.size() > 1) {
    const std::string field = path + "." + implementations[1];
    return InvalidArgument(field + ": exactly one of model, sklearn, xgboost, lightgbm, onnx may be given in " +
                               path + ", and " + implementations[0] + " is too",
                           field);
  }
  const std::string impl_path = path + "." + implementations[0];
  ASSIGN_OR_RETURN(const Json* impl, ObjectField(predictor, implementations[0], impl_path, true));
  if (implementations[0] == "model") {
    RETURN_IF_ERROR(ParseModelSpec(*impl, impl_path, spec));
  } else {
    RETURN_IF_ERROR(ParseFrameworkSpec(*impl, implementations[0], impl_path, spec));
  }

  constexpr std::int64_t kIntMax = std::numeric_limits<int>::max();
  ASSIGN_OR_RETURN(std::optional<std::int64_t> min_replicas,
                   IntField(predictor, "minReplicas", path + ".minReplicas", 0, kIntMax));
  ASSIGN_OR_RETURN(std::optional<std::int64_t> max_replicas,
                   IntField(predictor, "maxReplicas", path + ".maxReplicas", 0, kIntMax));
  spec.min_replicas = static_cast<int>(min_replicas.value_or(1));
  const int max = static_cast<int>(max_replicas.value_or(0));
  if (max != 0 && spec.min_replicas > max) {
    return InvalidArgument(path + ".maxReplicas (" + std::to_string(max) + ") must not be less than minReplicas (" +
                               std::to_string(spec.min_replicas) + ")",
                           path + ".maxReplicas");
  }
  spec.max_replicas = max != 0 ? max : std::max(spec.min_replicas, 1);

  ASSIGN_OR_RETURN(std::optional<std::string> metric,
                   StringField(predictor, "scaleMetric", path + ".scaleMetric"));
  if (metric && *metric != "concurrency") {
    const std::string field = path + ".scaleMetric";
    if (*metric == "cpu" || *metric == "memory" || *metric == "rps") {
      return InvalidArgument(field + " " + QuoteForMessage(*metric) +
                                 " is not supported: Ferry scales replicas by in-flight requests; "
                                 "use concurrency",
                             field);
    }
    return InvalidArgument(field + " must be one of cpu, memory, concurrency, rps, not " + QuoteForMessage(*metric),
                           field);
  }
  ASSIGN_OR_RETURN(std::optional<std::int64_t> target,
                   IntField(predictor, "scaleTarget", path + ".scaleTarget", 1, 1'000'000));
  spec.scale_target = target.value_or(100);

  ASSIGN_OR_RETURN(std::optional<std::int64_t> canary,
                   IntField(predictor, "canaryTrafficPercent", path + ".canaryTrafficPercent", 0, 100));
  if (canary) spec.canary_traffic_percent = static_cast<int>(*canary);

  RETURN_IF_ERROR(ParseBatcher(predictor, path, spec));
  RETURN_IF_ERROR(ParseLogger(predictor, path, spec));
  return Status::OK();
}

}  // namespace

Result<EndpointSpec> ParseEndpointSpec(const Json& object) {
  if (!object.is_object()) return WrongTypeError("object", "an object", object);
  ASSIGN_OR_RETURN(const Json* spec_json, ObjectField(object, "spec", "spec", true));
  if (FindField(*spec_json, "transformer")) {
    return InvalidArgument("spec.transformer is not supported: Ferry runs no pre/post-processing containers",
                           "spec.transformer");
  }
  if (FindField(*spec_json, "explainer")) {
    return InvalidArgument("spec.explainer is not supported: Ferry runs no explainer containers",
                           "spec.explainer");
  }
  RETURN_IF_ERROR(CheckFields(*spec_json, "spec", {"predictor"}));
  ASSIGN_OR_RETURN(const Json* predictor, ObjectField(*spec_json, "predictor", "spec.predictor", true));
  EndpointSpec spec;
  RETURN_IF_ERROR(ParsePredictor(*predictor, "spec.predictor", spec));
  RETURN_IF_ERROR(ParseAnnotations(object, spec));
  return spec;
}

Status RegisterServingTypes(store::ResourceTypes& types) {
  store::ResourceType isvc;
  isvc.group = "serving.kserve.io";
  isvc.versions = {"v1beta1"};
  isvc.kind = "InferenceService";
  isvc.plural = "inferenceservices";
  isvc.singular = "inferenceservice";
  isvc.short_names = {"isvc"};
  isvc.validate = [](const Json& object) { return ParseEndpointSpec(object).status(); };
  return types.Register(std::move(isvc));
}

}  // namespace ferry::serving::deployments
