#include "ferry/serving/runtimes/onnx/kernel.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <utility>

#include "ferry/common/strings.h"
#include "onnx/onnx_pb.h"

namespace ferry::serving::onnx {

namespace {

using ::onnx::AttributeProto;

const AttributeProto* FindAttr(const ::onnx::NodeProto& node, std::string_view name) {
  for (const AttributeProto& a : node.attribute()) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}

// Models written before IR version 2 may leave `type` unset; the field that
// holds the value then says what the attribute is.
AttributeProto::AttributeType TypeOf(const AttributeProto& a) {
  if (a.type() != AttributeProto::UNDEFINED) return a.type();
  if (a.has_f()) return AttributeProto::FLOAT;
  if (a.has_i()) return AttributeProto::INT;
  if (a.has_s()) return AttributeProto::STRING;
  if (a.has_t()) return AttributeProto::TENSOR;
  if (a.has_g()) return AttributeProto::GRAPH;
  if (a.floats_size() > 0) return AttributeProto::FLOATS;
  if (a.ints_size() > 0) return AttributeProto::INTS;
  if (a.strings_size() > 0) return AttributeProto::STRINGS;
  if (a.tensors_size() > 0) return AttributeProto::TENSORS;
  if (a.graphs_size() > 0) return AttributeProto::GRAPHS;
  return AttributeProto::UNDEFINED;
}

std::string_view AttrTypeName(AttributeProto::AttributeType t) {
  switch (t) {
    case AttributeProto::FLOAT:
      return "float";
    case AttributeProto::INT:
      return "int";
    case AttributeProto::STRING:
      return "string";
    case AttributeProto::TENSOR:
      return "tensor";
    case AttributeProto::GRAPH:
      return "graph";
    case AttributeProto::SPARSE_TENSOR:
      return "sparse tensor";
    case AttributeProto::TYPE_PROTO:
      return "type";
    case AttributeProto::FLOATS:
      return "floats";
    case AttributeProto::INTS:
      return "ints";
    case AttributeProto::STRINGS:
      return "strings";
    case AttributeProto::TENSORS:
      return "tensors";
    case AttributeProto::GRAPHS:
      return "graphs";
    case AttributeProto::SPARSE_TENSORS:
      return "sparse tensors";
    case AttributeProto::TYPE_PROTOS:
      return "types";
    default:
      return "undefined";
  }
}

// An absent list attribute reads as empty; an empty list whose type was
// left unset is also accepted as that list.
bool IsListOf(const AttributeProto& a, AttributeProto::AttributeType want) {
  const auto t = TypeOf(a);
  return t == want || t == AttributeProto::UNDEFINED;
}

std::string DomainName(std::string_view domain) {
  return domain.empty() ? std::string("ai.onnx") : std::string(domain);
}

int64_t ElementsOf(const ::onnx::TensorProto& proto, bool* ok) {
  int64_t n = 1;
  for (int64_t d : proto.dims()) {
    if (d < 0 || (d > 0 && n > std::numeric_limits<int64_t>::max() / d)) {
      *ok = false;
      return 0;
    }
    n *= d;
  }
  *ok = true;
  return n;
}

template <typename T>
Result<Tensor> FromRaw(const ::onnx::TensorProto& proto, Shape shape, int64_t n) {
  const std::string& raw = proto.raw_data();
  if (raw.size() != static_cast<size_t>(n) * sizeof(T)) {
    return InvalidArgument("tensor '" + SanitizeForMessage(proto.name()) + "': raw_data holds " +
                           std::to_string(raw.size()) + " bytes, its dims need " +
                           std::to_string(static_cast<size_t>(n) * sizeof(T)));
  }
  std::vector<T> data(static_cast<size_t>(n));
  if (n > 0)
    std::memcpy(data.data(), raw.data(), raw.size());  // ONNX raw data is little-endian, as is the host
  return Tensor::From<T>(std::move(shape), std::move(data));
}

template <typename T, typename Field>
Result<Tensor> FromField(const ::onnx::TensorProto& proto, Shape shape, int64_t n, const Field& field,
                         std::string_view field_name) {
  if (field.size() != n) {
    return InvalidArgument("tensor '" + SanitizeForMessage(proto.name()) + "': " + std::string(field_name) +
                           " holds " + std::to_string(field.size()) + " values, its dims need " +
                           std::to_string(n));
  }
  std::vector<T> data;
  data.reserve(static_cast<size_t>(n));
  for (const auto& v : field) data.push_back(static_cast<T>(v));
  return Tensor::From<T>(std::move(shape), std::move(data));
}

}  // namespace

// ---------------------------------------------------------------------------
// NodeInfo

NodeInfo::NodeInfo(const ::onnx::NodeProto& node, int64_t opset)
    : node_(&node), opset_(opset), name_(node.name().empty() ? node.op_type() : node.name()) {}

NodeInfo::NodeInfo(const ::onnx::NodeProto& node, int64_t opset, int index)
    : node_(&node),
      opset_(opset),
      name_(node.name().empty() ? node.op_type() + "#" + std::to_string(index) : node.name()) {}

const std::string& NodeInfo::name() const { return name_; }
const std::string& NodeInfo::op_type() const { return node_->op_type(); }
const std::string& NodeInfo::domain() const { return node_->domain(); }
int NodeInfo::input_count() const { return node_->input_size(); }
bool NodeInfo::has_input(int i) const {
  return i >= 0 && i < node_->input_size() && !node_->input(i).empty();
}
int NodeInfo::output_count() const { return node_->output_size(); }

bool NodeInfo::Has(std::string_view attr) const { return FindAttr(*node_, attr) != nullptr; }

Status NodeInfo::Error(std::string_view message) const {
  return InvalidArgument("node '" + SanitizeForMessage(name_, 120) + "' (" +
                         SanitizeForMessage(op_type(), 60) + "): " + std::string(message));
}

namespace {
Status WrongType(const NodeInfo& n, std::string_view attr, std::string_view want,
                 AttributeProto::AttributeType got) {
  return n.Error("attribute '" + std::string(attr) + "' must be " + std::string(want) + ", got " +
                 std::string(AttrTypeName(got)));
}
}  // namespace

Result<int64_t> NodeInfo::Int(std::string_view attr) const {
  const AttributeProto* a = FindAttr(*node_, attr);
  if (a == nullptr) return Error("attribute '" + std::string(attr) + "' is required");
  if (TypeOf(*a) != AttributeProto::INT) return WrongType(*this, attr, "an int", TypeOf(*a));
  return a->i();
}

int64_t NodeInfo::IntOr(std::string_view attr, int64_t fallback) const {
  const AttributeProto* a = FindAttr(*node_, attr);
  return a != nullptr && TypeOf(*a) == AttributeProto::INT ? a->i() : fallback;
}

Result<float> NodeInfo::Float(std::string_view attr) const {
  const AttributeProto* a = FindAttr(*node_, attr);
  if (a == nullptr) return Error("attribute '" + std::string(attr) + "' is required");
  if (TypeOf(*a) != AttributeProto::FLOAT) return WrongType(*this, attr, "a float", TypeOf(*a));
  return a->f();
}

float NodeInfo::FloatOr(std::string_view attr, float fallback) const {
  const AttributeProto* a = FindAttr(*node_, attr);
  return a != nullptr && TypeOf(*a) == AttributeProto::FLOAT ? a->f() : fallback;
}

Result<std::string> NodeInfo::String(std::string_view attr) const {
  const AttributeProto* a = FindAttr(*node_, attr);
  if (a == nullptr) return Error("attribute '" + std::string(attr) + "' is required");
  if (TypeOf(*a) != AttributeProto::STRING) return WrongType(*this, attr, "a string", TypeOf(*a));
  return a->s();
}

std::string NodeInfo::StringOr(std::string_view attr, std::string fallback) const {
  const AttributeProto* a = FindAttr(*node_, attr);
  return a != nullptr && TypeOf(*a) == AttributeProto::STRING ? a->s() : std::move(fallback);
}

Result<std::vector<int64_t>> NodeInfo::Ints(std::string_view attr) const {
  const AttributeProto* a = FindAttr(*node_, attr);
  if (a == nullptr) return std::vector<int64_t>{};
  if (!IsListOf(*a, AttributeProto::INTS)) return WrongType(*this, attr, "ints", TypeOf(*a));
  return std::vector<int64_t>(a->ints().begin(), a->ints().end());
}

Result<std::vector<float>> NodeInfo::Floats(std::string_view attr) const {
  const AttributeProto* a = FindAttr(*node_, attr);
  if (a == nullptr) return std::vector<float>{};
  if (!IsListOf(*a, AttributeProto::FLOATS)) return WrongType(*this, attr, "floats", TypeOf(*a));
  return std::vector<float>(a->floats().begin(), a->floats().end());
}

Result<std::vector<std::string>> NodeInfo::Strings(std::string_view attr) const {
  const AttributeProto* a = FindAttr(*node_, attr);
  if (a == nullptr) return std::vector<std::string>{};
  if (!IsListOf(*a, AttributeProto::STRINGS)) return WrongType(*this, attr, "strings", TypeOf(*a));
  return std::vector<std::string>(a->strings().begin(), a->strings().end());
}

Result<Tensor> NodeInfo::TensorAttr(std::string_view attr) const {
  const AttributeProto* a = FindAttr(*node_, attr);
  if (a == nullptr) return Error("attribute '" + std::string(attr) + "' is required");
  if (TypeOf(*a) != AttributeProto::TENSOR) return WrongType(*this, attr, "a tensor", TypeOf(*a));
  auto t = TensorFromProto(a->t());
  if (!t.ok()) return Error("attribute '" + std::string(attr) + "': " + t.status().message());
  return t;
}

// ---------------------------------------------------------------------------
// TensorFromProto

Result<Tensor> TensorFromProto(const ::onnx::TensorProto& proto) {
  const std::string name = SanitizeForMessage(proto.name(), 120);
  if (proto.data_location() == ::onnx::TensorProto::EXTERNAL || proto.external_data_size() > 0) {
    return InvalidArgument("tensor '" + name +
                           "' keeps its data in an external file, which the native runtime does not read");
  }
  if (proto.has_segment())
    return InvalidArgument("tensor '" + name + "' is segmented, which is not supported");
  bool dims_ok = false;
  const int64_t n = ElementsOf(proto, &dims_ok);
  if (!dims_ok) return InvalidArgument("tensor '" + name + "' has negative or overflowing dims");
  Shape shape(proto.dims().begin(), proto.dims().end());
  const bool raw = proto.has_raw_data();
  switch (proto.data_type()) {
    case ::onnx::TensorProto::FLOAT:
      if (raw) return FromRaw<float>(proto, std::move(shape), n);
      return FromField<float>(proto, std::move(shape), n, proto.float_data(), "float_data");
    case ::onnx::TensorProto::DOUBLE:
      if (raw) return FromRaw<double>(proto, std::move(shape), n);
      return FromField<double>(proto, std::move(shape), n, proto.double_data(), "double_data");
    case ::onnx::TensorProto::INT64:
      if (raw) return FromRaw<int64_t>(proto, std::move(shape), n);
      return FromField<int64_t>(proto, std::move(shape), n, proto.int64_data(), "int64_data");
    case ::onnx::TensorProto::INT32:
      if (raw) return FromRaw<int32_t>(proto, std::move(shape), n);
      return FromField<int32_t>(proto, std::move(shape), n, proto.int32_data(), "int32_data");
    case ::onnx::TensorProto::BOOL: {
      Result<Tensor> t = raw ? FromRaw<uint8_t>(proto, shape, n)
                             : FromField<uint8_t>(proto, shape, n, proto.int32_data(), "int32_data");
      if (!t.ok()) return t;
      for (uint8_t& b : t->mutable_data<uint8_t>()) b = b != 0 ? 1 : 0;
      return t;
    }
    case ::onnx::TensorProto::STRING: {
      if (raw) return InvalidArgument("tensor '" + name + "': string tensors cannot use raw_data");
      if (proto.string_data_size() != n) {
        return InvalidArgument("tensor '" + name + "': string_data holds " +
                               std::to_string(proto.string_data_size()) + " values, its dims need " +
                               std::to_string(n));
      }
      return Tensor::From<std::string>(
          std::move(shape), std::vector<std::string>(proto.string_data().begin(), proto.string_data().end()));
    }
    default: {
      const int dt = proto.data_type();
      const std::string type_name = ::onnx::TensorProto::DataType_IsValid(dt)
                                        ? ::onnx::TensorProto::DataType_Name(dt)
                                        : "data type " + std::to_string(dt);
      return InvalidArgument(
          "tensor '" + name + "' has element type " + type_name +
          "; the native runtime computes with float, double, int64, int32, string and bool");
    }
  }
}

// ---------------------------------------------------------------------------
// KernelRegistry

Status KernelRegistry::Register(std::string domain, std::string op_type, KernelFactory factory) {
  if (domain == "ai.onnx") domain.clear();
  auto key = std::make_pair(std::move(domain), std::move(op_type));
  if (factories_.contains(key)) {
    return AlreadyExists("operator " + DomainName(key.first) + ":" + key.second + " is already registered");
  }
  factories_.emplace(std::move(key), std::move(factory));
  return Status::OK();
}

Result<std::unique_ptr<Kernel>> KernelRegistry::Create(const NodeInfo& node) const {
  const std::string& domain = node.domain() == "ai.onnx" ? std::string() : node.domain();
  auto it = factories_.find(std::make_pair(domain, node.op_type()));
  if (it == factories_.end()) {
    return Unimplemented("node '" + SanitizeForMessage(node.name(), 120) + "': operator " +
                         SanitizeForMessage(DomainName(domain), 80) + ":" +
                         SanitizeForMessage(node.op_type(), 80) + " is not supported by the native runtime");
  }
  return it->second(node);
}

const KernelRegistry& DefaultKernels() {
  static const KernelRegistry* registry = [] {
    auto* r = new KernelRegistry();
    Status dense = RegisterDenseKernels(*r);
    Status ml = RegisterMlKernels(*r);
    // A failure here is a programming error (an operator registered twice),
    // caught by every test that loads a model.
    if (!dense.ok() || !ml.ok()) {
      std::fprintf(stderr, "onnx kernel registry: %s %s\n", dense.ToString().c_str(), ml.ToString().c_str());
      std::abort();
    }
    return r;
  }();
  return *registry;
}

}  // namespace ferry::serving::onnx
