#include "ferry/api/grpc/codec.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string_view>
#include <utility>

#include "model_config.pb.h"

namespace ferry::api::grpc {
namespace {

namespace protocol = serving::protocol;
using protocol::DataType;

// The binary tensor layout is little-endian; so is every host we build for,
// which lets typed values be copied as they are.
static_assert(std::endian::native == std::endian::little);

template <typename T>
void AppendValue(std::string& data, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  data.append(bytes, sizeof(T));
}

std::string ShapeString(const google::protobuf::RepeatedField<int64_t>& shape) {
  std::string out = "[";
  for (int i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ",";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

// Names the non-empty InferTensorContents fields.
std::vector<std::string> FilledFields(const inference::InferTensorContents& c) {
  std::vector<std::string> names;
  if (c.bool_contents_size() > 0) names.emplace_back("bool_contents");
  if (c.int_contents_size() > 0) names.emplace_back("int_contents");
  if (c.int64_contents_size() > 0) names.emplace_back("int64_contents");
  if (c.uint_contents_size() > 0) names.emplace_back("uint_contents");
  if (c.uint64_contents_size() > 0) names.emplace_back("uint64_contents");
  if (c.fp32_contents_size() > 0) names.emplace_back("fp32_contents");
  if (c.fp64_contents_size() > 0) names.emplace_back("fp64_contents");
  if (c.bytes_contents_size() > 0) names.emplace_back("bytes_contents");
  return names;
}

// The typed field that carries `type`; empty for FP16 (raw only).
std::string_view ContentsFieldFor(DataType type) {
  switch (type) {
    case DataType::kBool:
      return "bool_contents";
    case DataType::kInt8:
    case DataType::kInt16:
    case DataType::kInt32:
      return "int_contents";
    case DataType::kInt64:
      return "int64_contents";
    case DataType::kUint8:
    case DataType::kUint16:
    case DataType::kUint32:
      return "uint_contents";
    case DataType::kUint64:
      return "uint64_contents";
    case DataType::kFp32:
      return "fp32_contents";
    case DataType::kFp64:
      return "fp64_contents";
    case DataType::kBytes:
      return "bytes_contents";
    case DataType::kFp16:
      return "";
  }
  return "";
}

// Narrows each value of an int32/uint32 field to `Narrow`, rejecting what
// does not fit.
template <typename Narrow, typename Wide>
Status AppendNarrowed(const google::protobuf::RepeatedField<Wide>& values, std::string_view input,
                      std::string_view field, DataType type, std::string& data) {
  for (int i = 0; i < values.size(); ++i) {
    Wide v = values[i];
    if (v < static_cast<Wide>(std::numeric_limits<Narrow>::min()) ||
        v > static_cast<Wide>(std::numeric_limits<Narrow>::max())) {
      return InvalidArgument("input '" + std::string(input) + "': " + std::string(field) + "[" +
                             std::to_string(i) + "] = " + std::to_string(v) + " is out of range for " +
                             std::string(protocol::DataTypeName(type)));
    }
    AppendValue(data, static_cast<Narrow>(v));
  }
  return Status::OK();
}

template <typename T>
void AppendAll(const google::protobuf::RepeatedField<T>& values, std::string& data) {
  data.reserve(data.size() + values.size() * sizeof(T));
  for (T v : values) AppendValue(data, v);
}

// Converts the typed contents of `input` into `tensor.data`.
Status DecodeTypedContents(const inference::ModelInferRequest::InferInputTensor& input,
                           protocol::Tensor& tensor) {
  const std::string& name = input.name();
  const auto& c = input.contents();
  std::string_view field = ContentsFieldFor(tensor.datatype);
  std::vector<std::string> filled = FilledFields(c);
  ASSIGN_OR_RETURN(int64_t count, protocol::ElementCount(tensor.shape));
  if (filled.empty()) {
    if (count == 0) return Status::OK();
    return InvalidArgument("input '" + name + "' has no data: send raw_input_contents" +
                           (field.empty() ? std::string() : " or contents." + std::string(field)));
  }
  if (field.empty()) {
    return InvalidArgument("input '" + name + "': " + std::string(protocol::DataTypeName(tensor.datatype)) +
                           " data must be sent in raw_input_contents (there is no typed field for it)");
  }
  for (const std::string& f : filled) {
    if (f != field) {
      return InvalidArgument("input '" + name + "': " + std::string(protocol::DataTypeName(tensor.datatype)) +
                             " data go in contents." + std::string(field) + ", got contents." + f);
    }
  }
  int64_t got = 0;
  switch (tensor.datatype) {
    case DataType::kBool:
      got = c.bool_contents_size();
      break;
    case DataType::kInt8:
    case DataType::kInt16:
    case DataType::kInt32:
      got = c.int_contents_size();
      break;
    case DataType::kInt64:
      got = c.int64_contents_size();
      break;
    case DataType::kUint8:
    case DataType::kUint16:
    case DataType::kUint32:
      got = c.uint_contents_size();
      break;
    case DataType::kUint64:
      got = c.uint64_contents_size();
      break;
    case DataType::kFp32:
      got = c.fp32_contents_size();
      break;
    case DataType::kFp64:
      got = c.fp64_contents_size();
      break;
    case DataType::kBytes:
      got = c.bytes_contents_size();
      break;
    case DataType::kFp16:
      break;
  }
  if (got != count) {
    return InvalidArgument("input '" + name + "': " + std::string(protocol::DataTypeName(tensor.datatype)) +
                           " " + ShapeString(input.shape()) + " needs " + std::to_string(count) +
                           " values in contents." + std::string(field) + ", got " + std::to_string(got));
  }
  std::string& data = tensor.data;
  switch (tensor.datatype) {
    case DataType::kBool:
      data.reserve(c.bool_contents_size());
      for (bool b : c.bool_contents()) data.push_back(b ? 1 : 0);
      break;
    case DataType::kInt8:
      return AppendNarrowed<int8_t>(c.int_contents(), name, "contents.int_contents", tensor.datatype, data);
    case DataType::kInt16:
      return AppendNarrowed<int16_t>(c.int_contents(), name, "contents.int_contents", tensor.datatype, data);
    case DataType::kInt32:
      AppendAll(c.int_contents(), data);
      break;
    case DataType::kInt64:
      AppendAll(c.int64_contents(), data);
      break;
    case DataType::kUint8:
      return AppendNarrowed<uint8_t>(c.uint_contents(), name, "contents.uint_contents", tensor.datatype,
                                     data);
    case DataType::kUint16:
      return AppendNarrowed<uint16_t>(c.uint_contents(), name, "contents.uint_contents", tensor.datatype,
                                      data);
    case DataType::kUint32:
      AppendAll(c.uint_contents(), data);
      break;
    case DataType::kUint64:
      AppendAll(c.uint64_contents(), data);
      break;
    case DataType::kFp32:
      AppendAll(c.fp32_contents(), data);
      break;
    case DataType::kFp64:
      AppendAll(c.fp64_contents(), data);
      break;
    case DataType::kBytes:
      for (int i = 0; i < c.bytes_contents_size(); ++i) {
        const std::string& element = c.bytes_contents(i);
        if (element.size() > std::numeric_limits<uint32_t>::max()) {
          return InvalidArgument("input '" + name + "': contents.bytes_contents[" + std::to_string(i) +
                                 "] is longer than 4 GiB");
        }
        protocol::AppendBytesElement(data, element);
      }
      break;
    case DataType::kFp16:
      break;
  }
  return Status::OK();
}

// A protocol parameter value as JSON, the form InferRequest keeps them in.
nlohmann::json ParameterJson(const inference::InferParameter& p) {
  switch (p.parameter_choice_case()) {
    case inference::InferParameter::kBoolParam:
      return p.bool_param();
    case inference::InferParameter::kInt64Param:
      return p.int64_param();
    case inference::InferParameter::kStringParam:
      return p.string_param();
    case inference::InferParameter::kDoubleParam:
      return p.double_param();
    case inference::InferParameter::kUint64Param:
      return p.uint64_param();
    case inference::InferParameter::PARAMETER_CHOICE_NOT_SET:
      break;
  }
  return nullptr;
}

nlohmann::json ParametersJson(const google::protobuf::Map<std::string, inference::InferParameter>& params) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [key, value] : params) out[key] = ParameterJson(value);
  return out;
}

void SetParameter(const nlohmann::json& value, inference::InferParameter* p) {
  if (value.is_boolean()) {
    p->set_bool_param(value.get<bool>());
  } else if (value.is_number_unsigned() &&
             value.get<uint64_t>() > uint64_t{std::numeric_limits<int64_t>::max()}) {
    p->set_uint64_param(value.get<uint64_t>());
  } else if (value.is_number_integer()) {
    p->set_int64_param(value.get<int64_t>());
  } else if (value.is_number_float()) {
    p->set_double_param(value.get<double>());
  } else if (value.is_string()) {
    p->set_string_param(value.get<std::string>());
  } else {
    p->set_string_param(value.dump());  // objects and arrays have no proto form
  }
}

// Shared-memory tensors name a region instead of carrying data; Ferry has
// no shared-memory regions.
Status RejectSharedMemory(const google::protobuf::Map<std::string, inference::InferParameter>& params,
                          std::string_view what) {
  for (const auto& [key, value] : params) {
    if (key.rfind("shared_memory_", 0) == 0) {
      return Unimplemented(std::string(what) + ": parameter '" + key +
                           "': shared memory is not supported by ferry serve; send the data in the request");
    }
  }
  return Status::OK();
}

void EncodeTensorMetadata(const protocol::TensorSpec& spec,
                          inference::ModelMetadataResponse::TensorMetadata* out) {
  out->set_name(spec.name);
  out->set_datatype(std::string(protocol::DataTypeName(spec.datatype)));
  for (int64_t d : spec.shape) out->add_shape(d);
}

inference::DataType ConfigDataType(DataType type) {
  inference::DataType out = inference::TYPE_INVALID;
  inference::DataType_Parse(std::string(protocol::ConfigDataTypeName(type)), &out);
  return out;
}

// Config dims drop the batch dimension when the model batches.
template <typename Dims>
void EncodeDims(const protocol::TensorSpec& spec, int64_t max_batch_size, Dims* dims) {
  size_t first = (max_batch_size > 0 && !spec.shape.empty()) ? 1 : 0;
  for (size_t i = first; i < spec.shape.size(); ++i) dims->Add(spec.shape[i]);
}

void SetDuration(uint64_t count, uint64_t ns, inference::StatisticDuration* out) {
  out->set_count(count);
  out->set_ns(ns);
}

}  // namespace

Result<protocol::InferRequest> DecodeInferRequest(inference::ModelInferRequest* mutable_request) {
  const inference::ModelInferRequest& request = *mutable_request;
  protocol::InferRequest out;
  out.id = request.id();
  out.parameters = ParametersJson(request.parameters());
  const int raw_count = request.raw_input_contents_size();
  if (raw_count > 0 && raw_count != request.inputs_size()) {
    return InvalidArgument("raw_input_contents has " + std::to_string(raw_count) + " entries for " +
                           std::to_string(request.inputs_size()) + " inputs; send one per input, in order");
  }
  out.inputs.reserve(request.inputs_size());
  for (int i = 0; i < request.inputs_size(); ++i) {
    const auto& input = request.inputs(i);
    RETURN_IF_ERROR(RejectSharedMemory(input.parameters(), "input '" + input.name() + "'"));
    protocol::Tensor tensor;
    tensor.name = input.name();
    auto datatype = protocol::ParseDataType(input.datatype());
    if (!datatype.ok()) return datatype.status().WithContext("input '" + input.name() + "'");
    tensor.datatype = *datatype;
    tensor.shape.assign(input.shape().begin(), input.shape().end());
    if (raw_count > 0) {
      if (!FilledFields(input.contents()).empty()) {
        return InvalidArgument("input '" + input.name() +
                               "': contents must be empty when the request uses raw_input_contents");
      }
      tensor.data = std::move(*mutable_request->mutable_raw_input_contents(i));
      RETURN_IF_ERROR(protocol::CheckTensorData(tensor));
    } else {
      RETURN_IF_ERROR(DecodeTypedContents(input, tensor));
    }
    out.inputs.push_back(std::move(tensor));
  }
  out.outputs.reserve(request.outputs_size());
  for (const auto& output : request.outputs()) {
    RETURN_IF_ERROR(RejectSharedMemory(output.parameters(), "output '" + output.name() + "'"));
    protocol::RequestedOutput requested;
    requested.name = output.name();
    requested.parameters = ParametersJson(output.parameters());
    if (auto it = output.parameters().find("classification"); it != output.parameters().end()) {
      if (it->second.parameter_choice_case() != inference::InferParameter::kInt64Param ||
          it->second.int64_param() < 0) {
        return InvalidArgument("output '" + output.name() +
                               "': parameter 'classification' must be a non-negative int64_param");
      }
      requested.classification = it->second.int64_param();
    }
    out.outputs.push_back(std::move(requested));
  }
  return out;
}

void EncodeInferResponse(protocol::InferResponse&& response, inference::ModelInferResponse* out) {
  out->set_model_name(std::move(response.model_name));
  out->set_model_version(std::move(response.model_version));
  out->set_id(std::move(response.id));
  if (response.parameters.is_object()) {
    for (const auto& [key, value] : response.parameters.items())
      SetParameter(value, &(*out->mutable_parameters())[key]);
  }
  out->mutable_outputs()->Reserve(static_cast<int>(response.outputs.size()));
  out->mutable_raw_output_contents()->Reserve(static_cast<int>(response.outputs.size()));
  for (protocol::Tensor& tensor : response.outputs) {
    auto* o = out->add_outputs();
    o->set_name(std::move(tensor.name));
    o->set_datatype(std::string(protocol::DataTypeName(tensor.datatype)));
    for (int64_t d : tensor.shape) o->add_shape(d);
    out->add_raw_output_contents(std::move(tensor.data));
  }
}

std::string BackendForPlatform(const std::string& platform) {
  if (platform == "onnxruntime_onnx") return "onnxruntime";
  return platform;
}

void EncodeModelMetadata(const serving::LoadedModel& model, const std::vector<std::string>& versions,
                         inference::ModelMetadataResponse* out) {
  const serving::ModelSignature& sig = model.model->signature();
  out->set_name(model.name);
  for (const std::string& v : versions) out->add_versions(v);
  out->set_platform(sig.platform);
  for (const auto& spec : sig.inputs) EncodeTensorMetadata(spec, out->add_inputs());
  for (const auto& spec : sig.outputs) EncodeTensorMetadata(spec, out->add_outputs());
}

void EncodeModelConfig(const serving::LoadedModel& model, inference::ModelConfig* out) {
  const serving::ModelSignature& sig = model.model->signature();
  out->set_name(model.name);
  out->set_platform(sig.platform);
  out->set_backend(BackendForPlatform(sig.platform));
  // Every version folder is served, as the REST configuration says.
  out->mutable_version_policy()->mutable_all();
  out->set_max_batch_size(
      static_cast<int32_t>(std::min<int64_t>(sig.max_batch_size, std::numeric_limits<int32_t>::max())));
  for (const auto& spec : sig.inputs) {
    auto* in = out->add_input();
    in->set_name(spec.name);
    in->set_data_type(ConfigDataType(spec.datatype));
    EncodeDims(spec, sig.max_batch_size, in->mutable_dims());
  }
  for (const auto& spec : sig.outputs) {
    auto* o = out->add_output();
    o->set_name(spec.name);
    o->set_data_type(ConfigDataType(spec.datatype));
    EncodeDims(spec, sig.max_batch_size, o->mutable_dims());
  }
}

void EncodeModelStatistics(const serving::LoadedModel& model, inference::ModelStatistics* out) {
  const serving::ModelStats& s = model.stats;
  const uint64_t success = s.success_count.load();
  const uint64_t executions = s.execution_count.load();
  out->set_name(model.name);
  out->set_version(model.version);
  out->set_last_inference(s.last_inference_ms.load());
  out->set_inference_count(s.inference_count.load());
  out->set_execution_count(executions);
  auto* stats = out->mutable_inference_stats();
  SetDuration(success, s.success_ns.load(), stats->mutable_success());
  SetDuration(s.fail_count.load(), s.fail_ns.load(), stats->mutable_fail());
  // As the REST statistics: queue once per request, compute phases once per
  // model execution.
  SetDuration(success, s.queue_ns.load(), stats->mutable_queue());
  SetDuration(executions, s.compute_input_ns.load(), stats->mutable_compute_input());
  SetDuration(executions, s.compute_infer_ns.load(), stats->mutable_compute_infer());
  SetDuration(executions, s.compute_output_ns.load(), stats->mutable_compute_output());
  stats->mutable_cache_hit();
  stats->mutable_cache_miss();
}

}  // namespace ferry::api::grpc
