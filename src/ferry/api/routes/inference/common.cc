#include "ferry/api/routes/inference/common_internal.h"

#include <utility>

#include "ferry/api/errors.h"
#include "ferry/common/logging.h"
#include "ferry/serving/protocol/datatype.h"
#include "ferry/serving/protocol/infer.h"

namespace ferry::api::inference {
namespace {

Json ShapeJson(const std::vector<int64_t>& shape) {
  Json dims = Json::array();
  for (int64_t d : shape) dims.push_back(d);
  return dims;
}

Json TensorMetadataJson(const serving::protocol::TensorSpec& spec) {
  return {{"name", spec.name},
          {"datatype", std::string(serving::protocol::DataTypeName(spec.datatype))},
          {"shape", ShapeJson(spec.shape)}};
}

// A tensor of the model configuration: dims without the batch dimension
// when the model batches; a tensor that is only the batch dimension is
// dims [1] reshaped to [] (Triton's rule: dims are never empty).
Json ConfigTensorJson(const serving::protocol::TensorSpec& spec, bool batched, bool input) {
  std::vector<int64_t> dims = spec.shape;
  if (batched && !dims.empty()) dims.erase(dims.begin());
  Json tensor = {{"name", spec.name},
                 {"data_type", std::string(serving::protocol::ConfigDataTypeName(spec.datatype))},
                 {"dims", ShapeJson(dims.empty() ? std::vector<int64_t>{1} : dims)},
                 {"is_shape_tensor", false},
                 {"is_non_linear_format_io", false}};
  if (dims.empty()) tensor["reshape"] = {{"shape", Json::array()}};
  if (input) {
    tensor["format"] = "FORMAT_NONE";
    tensor["allow_ragged_batch"] = false;
    tensor["optional"] = false;
  } else {
    tensor["label_filename"] = "";
  }
  return tensor;
}

Json Duration(uint64_t count, uint64_t ns) { return {{"count", count}, {"ns", ns}}; }

}  // namespace

HttpResponse V2Error(const HttpRequest& request, const Status& status) {
  if (status.code() == StatusCode::kInternal || status.ok()) {
    LogEvent(spdlog::level::err, "internal error",
             {{"request_id", request.request_id}, {"error", status.ToString()}});
  }
  ApiError error = ToApiError(status);
  HttpResponse response =
      TextResponse(error.http_status, "application/json", serving::protocol::EncodeError(error.message));
  if (error.http_status == 429 || error.http_status == 503) response.headers.Set("Retry-After", "1");
  return response;
}

Handler V2Handler(serving::InferenceService* service, V2HandlerFunction handle) {
  return [service, handle](const HttpRequest& request) {
    Result<HttpResponse> response = handle(service, request);
    if (!response.ok()) return V2Error(request, response.status());
    return std::move(response).value();
  };
}

HttpResponse V2Json(const Json& body, int status) {
  return TextResponse(status, "application/json", body.dump(-1, ' ', false, Json::error_handler_t::replace));
}

std::string BackendFor(std::string_view platform) {
  if (platform == "onnxruntime_onnx") return "onnxruntime";
  return std::string(platform);
}

Json ModelMetadataJson(const serving::LoadedModel& model, const std::vector<std::string>& versions) {
  const serving::ModelSignature& signature = model.model->signature();
  Json inputs = Json::array(), outputs = Json::array();
  for (const auto& spec : signature.inputs) inputs.push_back(TensorMetadataJson(spec));
  for (const auto& spec : signature.outputs) outputs.push_back(TensorMetadataJson(spec));
  return {{"name", model.name},
          {"versions", versions},
          {"platform", signature.platform},
          {"inputs", std::move(inputs)},
          {"outputs", std::move(outputs)}};
}

Json ModelConfigJson(const serving::LoadedModel& model) {
  const serving::ModelSignature& signature = model.model->signature();
  const bool batched = signature.max_batch_size > 0;
  Json inputs = Json::array(), outputs = Json::array();
  for (const auto& spec : signature.inputs) inputs.push_back(ConfigTensorJson(spec, batched, true));
  for (const auto& spec : signature.outputs) outputs.push_back(ConfigTensorJson(spec, batched, false));
  // No dynamic_batching or sequence_batching: clients such as perf_analyzer
  // change how they send load when those are present.
  return {{"name", model.name},
          {"platform", signature.platform},
          {"backend", BackendFor(signature.platform)},
          {"runtime", ""},
          // Every version folder is served (Triton's default serves the newest).
          {"version_policy", {{"all", Json::object()}}},
          {"max_batch_size", signature.max_batch_size},
          {"input", std::move(inputs)},
          {"output", std::move(outputs)},
          {"batch_input", Json::array()},
          {"batch_output", Json::array()},
          {"optimization",
           {{"priority", "PRIORITY_DEFAULT"},
            {"input_pinned_memory", {{"enable", true}}},
            {"output_pinned_memory", {{"enable", true}}},
            {"gather_kernel_buffer_threshold", 0},
            {"eager_batching", false}}},
          {"instance_group",
           Json::array({{{"name", model.name},
                         {"kind", "KIND_CPU"},
                         {"count", 1},
                         {"gpus", Json::array()},
                         {"secondary_devices", Json::array()},
                         {"profile", Json::array()},
                         {"passive", false},
                         {"host_policy", ""}}})},
          {"default_model_filename", ""},
          {"cc_model_filenames", Json::object()},
          {"metric_tags", Json::object()},
          {"parameters", Json::object()},
          {"model_warmup", Json::array()}};
}

Json ModelStatsJson(const serving::LoadedModel& model) {
  const serving::ModelStats& s = model.stats;
  const uint64_t success = s.success_count.load(std::memory_order_relaxed);
  const uint64_t executions = s.execution_count.load(std::memory_order_relaxed);
  return {{"name", model.name},
          {"version", model.version},
          {"last_inference", s.last_inference_ms.load(std::memory_order_relaxed)},
          {"inference_count", s.inference_count.load(std::memory_order_relaxed)},
          {"execution_count", executions},
          {"inference_stats",
           {{"success", Duration(success, s.success_ns.load(std::memory_order_relaxed))},
            {"fail", Duration(s.fail_count.load(std::memory_order_relaxed), s.fail_ns.load(std::memory_order_relaxed))},
            {"queue", Duration(success, s.queue_ns.load(std::memory_order_relaxed))},
            {"compute_input", Duration(executions, s.compute_input_ns.load(std::memory_order_relaxed))},
            {"compute_infer", Duration(executions, s.compute_infer_ns.load(std::memory_order_relaxed))},
            {"compute_output", Duration(executions, s.compute_output_ns.load(std::memory_order_relaxed))},
            {"cache_hit", Duration(0, 0)},
            {"cache_miss", Duration(0, 0)}}},
          {"response_stats", Json::object()},
          {"batch_stats", Json::array()},
          {"memory_usage", Json::array()}};
}

Json RepositoryIndexJson(const std::vector<serving::ModelIndexEntry>& index) {
  Json models = Json::array();
  for (const auto& entry : index) {
    Json model = {{"name", entry.name}};
    if (!entry.version.empty()) model["version"] = entry.version;
    if (!entry.state.empty()) model["state"] = entry.state;
    if (!entry.reason.empty()) model["reason"] = entry.reason;
    models.push_back(std::move(model));
  }
  return models;
}

}  // namespace ferry::api::inference
