#pragma once
// Kernels of the native ONNX runtime: one object per graph node, built once
// at load from the node's attributes (everything that can be checked or
// precomputed is, then), run many times. Kernels are found by (domain,
// op_type) in a KernelRegistry that the runtime fills explicitly at start:
// RegisterDenseKernels (ai.onnx) and RegisterMlKernels (ai.onnx.ml).
//
// Thread-safety: Run() is const and called concurrently; a kernel keeps no
// per-run state.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ferry/common/status.h"
#include "ferry/serving/runtimes/onnx/value.h"

namespace onnx {
class NodeProto;
class TensorProto;
}  // namespace onnx

namespace ferry::serving::onnx {

// A node's attributes and arity, read from its NodeProto. Getters return
// InvalidArgument naming the node and attribute when the attribute has
// another type; the *Or forms give the default when it is absent.
class NodeInfo {
 public:
  NodeInfo(const ::onnx::NodeProto& node, int64_t opset);
  // `index` is the node's position in its graph, naming an unnamed node.
  NodeInfo(const ::onnx::NodeProto& node, int64_t opset, int index);

  const std::string& name() const;     // node name, or op_type#index when unnamed
  const std::string& op_type() const;
  const std::string& domain() const;   // "" is ai.onnx
  int64_t opset() const { return opset_; }  // of the node's domain in the model
  int input_count() const;             // declared inputs, "" (omitted optional) included
  bool has_input(int i) const;         // declared and not ""
  int output_count() const;

  bool Has(std::string_view attr) const;
  Result<int64_t> Int(std::string_view attr) const;
  int64_t IntOr(std::string_view attr, int64_t fallback) const;
  Result<float> Float(std::string_view attr) const;
  float FloatOr(std::string_view attr, float fallback) const;
  Result<std::string> String(std::string_view attr) const;
  std::string StringOr(std::string_view attr, std::string fallback) const;
  Result<std::vector<int64_t>> Ints(std::string_view attr) const;      // absent: empty
  Result<std::vector<float>> Floats(std::string_view attr) const;      // absent: empty
  Result<std::vector<std::string>> Strings(std::string_view attr) const;  // absent: empty
  Result<Tensor> TensorAttr(std::string_view attr) const;  // "value", "*_as_tensor"

  // InvalidArgument "node 'n' (TreeEnsembleClassifier): <message>".
  Status Error(std::string_view message) const;

 private:
  const ::onnx::NodeProto* node_;
  int64_t opset_;
  std::string name_;
};

// Converts an initializer or Constant value; InvalidArgument for a type
// outside ElemType or data that do not match the dims.
Result<Tensor> TensorFromProto(const ::onnx::TensorProto& proto);

class Kernel {
 public:
  virtual ~Kernel() = default;
  // `inputs[i]` is null for an omitted optional input. `outputs` has the
  // node's output count; the kernel assigns each one it produces.
  // InvalidArgument (via NodeInfo-style messages) for inputs of the wrong
  // type or shape, which come from the request and must not crash.
  virtual Status Run(std::span<const Value* const> inputs, std::span<Value> outputs) const = 0;
};

using KernelFactory = std::function<Result<std::unique_ptr<Kernel>>(const NodeInfo& node)>;

class KernelRegistry {
 public:
  // AlreadyExists for a repeated (domain, op_type).
  Status Register(std::string domain, std::string op_type, KernelFactory factory);
  // Unimplemented "operator ai.onnx.ml:Foo is not supported by the native
  // runtime" when absent.
  Result<std::unique_ptr<Kernel>> Create(const NodeInfo& node) const;

 private:
  std::map<std::pair<std::string, std::string>, KernelFactory> factories_;
};

// ai.onnx: dense operators (dense_kernels.cc and siblings).
Status RegisterDenseKernels(KernelRegistry& registry);
// ai.onnx.ml: classical-ML operators (ml/*.cc).
Status RegisterMlKernels(KernelRegistry& registry);

// The registry with both sets, built once.
const KernelRegistry& DefaultKernels();

}  // namespace ferry::serving::onnx
