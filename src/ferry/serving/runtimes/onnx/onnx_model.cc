#include "ferry/serving/runtimes/onnx/onnx_model.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <system_error>
#include <utility>
#include <vector>

#include "ferry/common/strings.h"
#include "ferry/serving/runtimes/onnx/graph.h"
#include "ferry/serving/runtimes/onnx/kernel.h"
#include "onnx/onnx_pb.h"

namespace ferry::serving::onnx {

namespace {

using protocol::DataType;

// Protobuf refuses messages of 2 GiB or more.
constexpr size_t kMaxModelBytes = static_cast<size_t>(std::numeric_limits<int>::max());
// The IR versions this runtime reads: 3 introduced opset_import; 13 is the
// newest onnxruntime 1.31 loads (what IR 9 to 13 added is refused by element
// type or operator).
constexpr int64_t kMinIrVersion = 3;
constexpr int64_t kMaxIrVersion = 13;
// The largest batch a batching model accepts. The request body limit of the
// server bounds memory first; this bounds what the metadata promise.
constexpr int64_t kMaxBatchSize = 1 << 20;

DataType ToDataType(ElemType t) {
  switch (t) {
    case ElemType::kFloat:
      return DataType::kFp32;
    case ElemType::kDouble:
      return DataType::kFp64;
    case ElemType::kInt64:
      return DataType::kInt64;
    case ElemType::kInt32:
      return DataType::kInt32;
    case ElemType::kString:
      return DataType::kBytes;
    case ElemType::kBool:
      return DataType::kBool;
  }
  return DataType::kFp32;
}

std::string Quote(std::string_view s) { return "'" + SanitizeForMessage(s, 120) + "'"; }

Result<int64_t> CountElements(const protocol::Tensor& t) {
  int64_t n = 1;
  for (int64_t d : t.shape) {
    if (d < 0) return InvalidArgument("input " + Quote(t.name) + ": negative dimension " + std::to_string(d));
    if (d > 0 && n > std::numeric_limits<int64_t>::max() / d) {
      return InvalidArgument("input " + Quote(t.name) + ": the shape's element count overflows");
    }
    n *= d;
  }
  return n;
}

template <typename T>
Result<Tensor> FixedFromProtocol(const protocol::Tensor& t, int64_t n) {
  if (t.data.size() / sizeof(T) != static_cast<size_t>(n) || t.data.size() % sizeof(T) != 0) {
    return InvalidArgument("input " + Quote(t.name) + ": " + std::string(protocol::DataTypeName(t.datatype)) +
                           " needs " + std::to_string(static_cast<size_t>(n) * sizeof(T)) + " bytes, got " +
                           std::to_string(t.data.size()));
  }
  std::vector<T> data(static_cast<size_t>(n));
  if (n > 0) std::memcpy(data.data(), t.data.data(), t.data.size());
  return Tensor::From<T>(Shape(t.shape), std::move(data));
}

Result<Tensor> FromProtocol(const protocol::Tensor& t, ElemType want) {
  if (t.datatype != ToDataType(want)) {
    return InvalidArgument("input " + Quote(t.name) + ": expected " +
                           std::string(protocol::DataTypeName(ToDataType(want))) + ", got " +
                           std::string(protocol::DataTypeName(t.datatype)));
  }
  ASSIGN_OR_RETURN(int64_t n, CountElements(t));
  switch (want) {
    case ElemType::kFloat:
      return FixedFromProtocol<float>(t, n);
    case ElemType::kDouble:
      return FixedFromProtocol<double>(t, n);
    case ElemType::kInt64:
      return FixedFromProtocol<int64_t>(t, n);
    case ElemType::kInt32:
      return FixedFromProtocol<int32_t>(t, n);
    case ElemType::kBool: {
      ASSIGN_OR_RETURN(Tensor b, FixedFromProtocol<uint8_t>(t, n));
      for (uint8_t& v : b.mutable_data<uint8_t>()) v = v != 0 ? 1 : 0;
      return b;
    }
    case ElemType::kString: {
      ASSIGN_OR_RETURN(std::vector<std::string_view> elements, protocol::BytesElements(t));
      return Tensor::From<std::string>(Shape(t.shape), std::vector<std::string>(elements.begin(), elements.end()));
    }
  }
  return Internal("unreachable element type");
}

template <typename T>
void AppendFixed(const Tensor& t, std::string& out) {
  auto d = t.data<T>();
  out.resize(d.size() * sizeof(T));
  if (!d.empty()) std::memcpy(out.data(), d.data(), out.size());
}

Result<protocol::Tensor> ToProtocol(const Value& v, const ValueDecl& decl) {
  protocol::Tensor out;
  out.name = decl.name;
  out.datatype = ToDataType(decl.type);
  if (decl.kind == ValueDecl::Kind::kMapSequence) {
    const auto* m = std::get_if<MapSequence>(&v);
    if (m == nullptr) return Internal("output " + Quote(decl.name) + " should be a sequence of maps");
    const size_t keys = m->int64_keys.empty() ? m->string_keys.size() : m->int64_keys.size();
    out.shape = {m->rows, static_cast<int64_t>(keys)};
    out.data.resize(m->values.size() * sizeof(float));
    if (!m->values.empty()) std::memcpy(out.data.data(), m->values.data(), out.data.size());
    return out;
  }
  const auto* t = std::get_if<Tensor>(&v);
  if (t == nullptr)
    return Internal("output " + Quote(decl.name) + " is a sequence of maps, declared a tensor");
  if (t->type() != decl.type) {
    return Internal("output " + Quote(decl.name) + " is " + std::string(ElemTypeName(t->type())) +
                    ", the model declares " + std::string(ElemTypeName(decl.type)));
  }
  out.shape = t->shape();
  switch (t->type()) {
    case ElemType::kFloat:
      AppendFixed<float>(*t, out.data);
      break;
    case ElemType::kDouble:
      AppendFixed<double>(*t, out.data);
      break;
    case ElemType::kInt64:
      AppendFixed<int64_t>(*t, out.data);
      break;
    case ElemType::kInt32:
      AppendFixed<int32_t>(*t, out.data);
      break;
    case ElemType::kBool:
      AppendFixed<uint8_t>(*t, out.data);
      break;
    case ElemType::kString: {
      size_t total = 0;
      for (const std::string& s : t->data<std::string>()) total += 4 + s.size();
      out.data.reserve(total);
      for (const std::string& s : t->data<std::string>()) protocol::AppendBytesElement(out.data, s);
      break;
    }
  }
  return out;
}

class OnnxModel final : public Model {
 public:
  explicit OnnxModel(std::unique_ptr<Graph> graph) : graph_(std::move(graph)) {
    signature_.platform = "onnxruntime_onnx";
    bool batches = !graph_->inputs().empty();
    for (const ValueDecl& in : graph_->inputs()) {
      signature_.inputs.push_back({in.name, ToDataType(in.type), in.shape});
      batches = batches && !in.shape.empty() && in.shape[0] == -1;
    }
    for (const ValueDecl& out : graph_->outputs()) {
      signature_.outputs.push_back({out.name, ToDataType(out.type), out.shape});
    }
    signature_.max_batch_size = batches ? kMaxBatchSize : 0;
  }

  const ModelSignature& signature() const override { return signature_; }

  Result<std::vector<protocol::Tensor>> Infer(const std::vector<protocol::Tensor>& inputs,
                                              const std::vector<std::string>& outputs) const override {
    const auto& decls = graph_->inputs();
    std::vector<Value> feed(decls.size());
    std::vector<bool> fed(decls.size(), false);
    for (const protocol::Tensor& t : inputs) {
      size_t i = 0;
      while (i < decls.size() && decls[i].name != t.name) ++i;
      if (i == decls.size()) return InvalidArgument("unknown input " + Quote(t.name));
      if (fed[i]) return InvalidArgument("input " + Quote(t.name) + " is given twice");
      ASSIGN_OR_RETURN(Tensor v, FromProtocol(t, decls[i].type));
      feed[i] = std::move(v);
      fed[i] = true;
    }
    for (size_t i = 0; i < decls.size(); ++i) {
      if (!fed[i]) return InvalidArgument("input " + Quote(decls[i].name) + " is missing");
    }
    ASSIGN_OR_RETURN(std::vector<Value> values, graph_->Run(std::move(feed)));

    const auto& out_decls = graph_->outputs();
    std::vector<protocol::Tensor> result;
    if (outputs.empty()) {
      result.reserve(out_decls.size());
      for (size_t i = 0; i < out_decls.size(); ++i) {
        ASSIGN_OR_RETURN(protocol::Tensor t, ToProtocol(values[i], out_decls[i]));
        result.push_back(std::move(t));
      }
      return result;
    }
    result.reserve(outputs.size());
    for (const std::string& name : outputs) {
      size_t i = 0;
      while (i < out_decls.size() && out_decls[i].name != name) ++i;
      if (i == out_decls.size()) return InvalidArgument("unknown output " + Quote(name));
      ASSIGN_OR_RETURN(protocol::Tensor t, ToProtocol(values[i], out_decls[i]));
      result.push_back(std::move(t));
    }
    return result;
  }

 private:
  std::unique_ptr<Graph> graph_;
  ModelSignature signature_;
};

}  // namespace

Result<std::shared_ptr<const Model>> LoadOnnxModel(std::string_view bytes) {
  if (bytes.size() > kMaxModelBytes) {
    return InvalidArgument("the ONNX model is " + std::to_string(bytes.size()) +
                           " bytes; protobuf reads at most 2 GiB");
  }
  auto proto = std::make_unique<::onnx::ModelProto>();
  if (!proto->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return InvalidArgument("not an ONNX model: the bytes do not parse as an onnx.ModelProto");
  }
  if (!proto->has_ir_version()) return InvalidArgument("not an ONNX model: ir_version is missing");
  if (proto->ir_version() < kMinIrVersion || proto->ir_version() > kMaxIrVersion) {
    return Unimplemented("ONNX IR version " + std::to_string(proto->ir_version()) + " is not supported (" +
                         std::to_string(kMinIrVersion) + ".." + std::to_string(kMaxIrVersion) + ")");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Graph> graph, Graph::Load(std::move(proto), DefaultKernels()));
  return std::shared_ptr<const Model>(std::make_shared<OnnxModel>(std::move(graph)));
}

Result<std::shared_ptr<const Model>> LoadOnnxModelFile(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory)
      return NotFound("ONNX model file " + Quote(path) + " not found");
    return InvalidArgument("cannot read ONNX model file " + Quote(path) + ": " + ec.message());
  }
  if (size > kMaxModelBytes) {
    return InvalidArgument("ONNX model file " + Quote(path) + " is " + std::to_string(size) +
                           " bytes; protobuf reads at most 2 GiB");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidArgument("cannot open ONNX model file " + Quote(path));
  std::string bytes(static_cast<size_t>(size), '\0');
  if (!in.read(bytes.data(), static_cast<std::streamsize>(size))) {
    return InvalidArgument("cannot read ONNX model file " + Quote(path));
  }
  auto model = LoadOnnxModel(bytes);
  if (!model.ok()) return model.status().WithContext(path);
  return model;
}

}  // namespace ferry::serving::onnx
