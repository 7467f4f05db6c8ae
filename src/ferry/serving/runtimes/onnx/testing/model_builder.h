#pragma once
// Test helpers for the native ONNX runtime: ModelBuilder writes small
// ModelProtos with the protobuf API (what onnx.helper does in Python), and
// the Tensor helpers make protocol tensors and read them back.
//
// Thread-safety: plain values; a builder is used by one test.

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "ferry/serving/protocol/tensor.h"
#include "onnx/onnx_pb.h"

namespace ferry::serving::onnx::testing {

// Element types by their ONNX numbers, for brevity in tests.
inline constexpr int kFloat = ::onnx::TensorProto::FLOAT;
inline constexpr int kDouble = ::onnx::TensorProto::DOUBLE;
inline constexpr int kInt64 = ::onnx::TensorProto::INT64;
inline constexpr int kInt32 = ::onnx::TensorProto::INT32;
inline constexpr int kString = ::onnx::TensorProto::STRING;
inline constexpr int kBool = ::onnx::TensorProto::BOOL;

// A dimension of -1 is written as the symbolic dimension "N".
inline void SetValueInfo(::onnx::ValueInfoProto* v, const std::string& name, int elem_type,
                         const std::vector<int64_t>& dims) {
  v->set_name(name);
  auto* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(elem_type);
  auto* shape = t->mutable_shape();
  for (int64_t d : dims) {
    auto* dim = shape->add_dim();
    if (d < 0) {
      dim->set_dim_param("N");
    } else {
      dim->set_dim_value(d);
    }
  }
}

template <typename T>
::onnx::TensorProto MakeTensorProto(const std::string& name, const std::vector<int64_t>& dims,
                                    const std::vector<T>& values) {
  ::onnx::TensorProto t;
  t.set_name(name);
  for (int64_t d : dims) t.add_dims(d);
  if constexpr (std::is_same_v<T, float>) {
    t.set_data_type(kFloat);
    for (float v : values) t.add_float_data(v);
  } else if constexpr (std::is_same_v<T, double>) {
    t.set_data_type(kDouble);
    for (double v : values) t.add_double_data(v);
  } else if constexpr (std::is_same_v<T, int64_t>) {
    t.set_data_type(kInt64);
    for (int64_t v : values) t.add_int64_data(v);
  } else if constexpr (std::is_same_v<T, int32_t>) {
    t.set_data_type(kInt32);
    for (int32_t v : values) t.add_int32_data(v);
  } else if constexpr (std::is_same_v<T, bool>) {
    t.set_data_type(kBool);
    for (bool v : values) t.add_int32_data(v ? 1 : 0);
  } else {
    t.set_data_type(kString);
    for (const std::string& v : values) t.add_string_data(v);
  }
  return t;
}

class NodeBuilder {
 public:
  explicit NodeBuilder(::onnx::NodeProto* node) : node_(node) {}
  NodeBuilder& Int(const std::string& name, int64_t v) {
    auto* a = Add(name, ::onnx::AttributeProto::INT);
    a->set_i(v);
    return *this;
  }
  NodeBuilder& Float(const std::string& name, float v) {
    auto* a = Add(name, ::onnx::AttributeProto::FLOAT);
    a->set_f(v);
    return *this;
  }
  NodeBuilder& String(const std::string& name, const std::string& v) {
    auto* a = Add(name, ::onnx::AttributeProto::STRING);
    a->set_s(v);
    return *this;
  }
  NodeBuilder& Ints(const std::string& name, const std::vector<int64_t>& v) {
    auto* a = Add(name, ::onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
    return *this;
  }
  NodeBuilder& Floats(const std::string& name, const std::vector<float>& v) {
    auto* a = Add(name, ::onnx::AttributeProto::FLOATS);
    for (float x : v) a->add_floats(x);
    return *this;
  }
  NodeBuilder& Strings(const std::string& name, const std::vector<std::string>& v) {
    auto* a = Add(name, ::onnx::AttributeProto::STRINGS);
    for (const std::string& x : v) a->add_strings(x);
    return *this;
  }
  NodeBuilder& Tensor(const std::string& name, const ::onnx::TensorProto& t) {
    auto* a = Add(name, ::onnx::AttributeProto::TENSOR);
    *a->mutable_t() = t;
    return *this;
  }
  ::onnx::NodeProto& proto() { return *node_; }

 private:
  ::onnx::AttributeProto* Add(const std::string& name, ::onnx::AttributeProto::AttributeType type) {
    auto* a = node_->add_attribute();
    a->set_name(name);
    a->set_type(type);
    return a;
  }
  ::onnx::NodeProto* node_;
};

class ModelBuilder {
 public:
  // `ml_opset` 0 imports no ai.onnx.ml.
  explicit ModelBuilder(int64_t opset = 17, int64_t ml_opset = 0) {
    model_.set_ir_version(8);
    model_.set_producer_name("ferry-test");
    auto* op = model_.add_opset_import();
    op->set_domain("");
    op->set_version(opset);
    if (ml_opset > 0) {
      auto* ml = model_.add_opset_import();
      ml->set_domain("ai.onnx.ml");
      ml->set_version(ml_opset);
    }
    model_.mutable_graph()->set_name("g");
  }

  ModelBuilder& Input(const std::string& name, int elem_type, const std::vector<int64_t>& dims) {
    SetValueInfo(model_.mutable_graph()->add_input(), name, elem_type, dims);
    return *this;
  }
  ModelBuilder& Output(const std::string& name, int elem_type, const std::vector<int64_t>& dims) {
    SetValueInfo(model_.mutable_graph()->add_output(), name, elem_type, dims);
    return *this;
  }
  template <typename T>
  ModelBuilder& Initializer(const std::string& name, const std::vector<int64_t>& dims,
                            const std::vector<T>& values) {
    *model_.mutable_graph()->add_initializer() = MakeTensorProto<T>(name, dims, values);
    return *this;
  }
  NodeBuilder Node(const std::string& op_type, const std::vector<std::string>& inputs,
                   const std::vector<std::string>& outputs, const std::string& domain = "") {
    auto* n = model_.mutable_graph()->add_node();
    n->set_op_type(op_type);
    n->set_domain(domain);
    for (const auto& i : inputs) n->add_input(i);
    for (const auto& o : outputs) n->add_output(o);
    return NodeBuilder(n);
  }

  ::onnx::ModelProto& proto() { return model_; }
  std::string Bytes() const { return model_.SerializeAsString(); }

 private:
  ::onnx::ModelProto model_;
};

// A protocol tensor from values; T float/double/int64_t/int32_t/bool/string.
template <typename T>
protocol::Tensor MakeInput(const std::string& name, std::vector<int64_t> shape,
                           const std::vector<T>& values) {
  protocol::Tensor t;
  t.name = name;
  t.shape = std::move(shape);
  if constexpr (std::is_same_v<T, std::string>) {
    t.datatype = protocol::DataType::kBytes;
    for (const std::string& s : values) {
      const auto len = static_cast<uint32_t>(s.size());
      for (int b = 0; b < 4; ++b) t.data.push_back(static_cast<char>((len >> (8 * b)) & 0xff));
      t.data += s;
    }
  } else if constexpr (std::is_same_v<T, bool>) {
    t.datatype = protocol::DataType::kBool;
    for (bool v : values) t.data.push_back(v ? 1 : 0);
  } else {
    if constexpr (std::is_same_v<T, float>) t.datatype = protocol::DataType::kFp32;
    if constexpr (std::is_same_v<T, double>) t.datatype = protocol::DataType::kFp64;
    if constexpr (std::is_same_v<T, int64_t>) t.datatype = protocol::DataType::kInt64;
    if constexpr (std::is_same_v<T, int32_t>) t.datatype = protocol::DataType::kInt32;
    t.data.resize(values.size() * sizeof(T));
    if (!values.empty()) std::memcpy(t.data.data(), values.data(), t.data.size());
  }
  return t;
}

// The values of a protocol tensor of a fixed-size type.
template <typename T>
std::vector<T> Values(const protocol::Tensor& t) {
  std::vector<T> out(t.data.size() / sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), t.data.data(), out.size() * sizeof(T));
  return out;
}

// The elements of a BYTES protocol tensor.
inline std::vector<std::string> Strings(const protocol::Tensor& t) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos + 4 <= t.data.size()) {
    uint32_t len = 0;
    for (int b = 3; b >= 0; --b)
      len = (len << 8) | static_cast<unsigned char>(t.data[pos + static_cast<size_t>(b)]);
    pos += 4;
    out.emplace_back(t.data, pos, len);
    pos += len;
  }
  return out;
}

}  // namespace ferry::serving::onnx::testing
