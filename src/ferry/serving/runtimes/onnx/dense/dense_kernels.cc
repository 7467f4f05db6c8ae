// The ai.onnx kernel set and the helpers its kernels share.
#include "ferry/common/strings.h"
#include "ferry/serving/runtimes/onnx/dense/dense_internal.h"
#include "ferry/serving/runtimes/onnx/kernel.h"

namespace ferry::serving::onnx {

namespace dense {

std::string ShapeString(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ",";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

DenseKernel::DenseKernel(const NodeInfo& node)
    : label_("node '" + SanitizeForMessage(node.name(), 120) + "' (" +
             SanitizeForMessage(node.op_type(), 60) + "): ") {}

Status DenseKernel::Error(std::string_view message) const {
  return InvalidArgument(label_ + std::string(message));
}

Result<const Tensor*> DenseKernel::In(std::span<const Value* const> inputs, size_t i) const {
  if (i >= inputs.size() || inputs[i] == nullptr) return Error("input " + std::to_string(i) + " is required");
  const auto* t = std::get_if<Tensor>(inputs[i]);
  if (t == nullptr) return Error("input " + std::to_string(i) + " must be a tensor, got a sequence of maps");
  return t;
}

Result<std::pair<const Tensor*, const Tensor*>> DenseKernel::SameTypePair(
    std::span<const Value* const> inputs) const {
  ASSIGN_OR_RETURN(const Tensor* a, In(inputs, 0));
  ASSIGN_OR_RETURN(const Tensor* b, In(inputs, 1));
  if (a->type() != b->type()) {
    return Error("inputs have different types " + std::string(ElemTypeName(a->type())) + " and " +
                 std::string(ElemTypeName(b->type())));
  }
  return std::pair{a, b};
}

Result<const Tensor*> DenseKernel::OptionalIn(std::span<const Value* const> inputs, size_t i) const {
  if (i >= inputs.size() || inputs[i] == nullptr) return static_cast<const Tensor*>(nullptr);
  return In(inputs, i);
}

Result<Tensor> DenseKernel::NewTensor(ElemType type, Shape shape) const {
  if (BoundedSize(shape) < 0) {
    return Error("output shape " + ShapeString(shape) + " is invalid or exceeds " +
                 std::to_string(kMaxElements) + " elements");
  }
  return Tensor(type, std::move(shape));
}

Result<std::vector<int64_t>> DenseKernel::ReadInts(const Tensor& t, std::string_view what) const {
  if (t.type() == ElemType::kInt64) {
    auto d = t.data<int64_t>();
    return std::vector<int64_t>(d.begin(), d.end());
  }
  if (t.type() == ElemType::kInt32) {
    auto d = t.data<int32_t>();
    return std::vector<int64_t>(d.begin(), d.end());
  }
  return Error(std::string(what) + " must be int64 or int32, got " + std::string(ElemTypeName(t.type())));
}

Result<int> DenseKernel::Axis(int64_t axis, int rank) const {
  if (axis < -rank || axis >= rank) {
    return Error("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  }
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

Status DenseKernel::TypeError(std::string_view what, ElemType got, std::string_view allowed) const {
  return Error(std::string(what) + " must be " + std::string(allowed) + ", got " +
               std::string(ElemTypeName(got)));
}

Status CheckArity(const NodeInfo& node, int min_inputs, int max_inputs, int min_outputs, int max_outputs) {
  if (node.input_count() < min_inputs || node.input_count() > max_inputs) {
    return node.Error("takes " +
                      (min_inputs == max_inputs ? std::to_string(min_inputs)
                                                : std::to_string(min_inputs) + " to " +
                                                      (max_inputs == std::numeric_limits<int>::max()
                                                           ? std::string("any number of")
                                                           : std::to_string(max_inputs))) +
                      " inputs, has " + std::to_string(node.input_count()));
  }
  for (int i = 0; i < min_inputs; ++i) {
    if (!node.has_input(i)) return node.Error("input " + std::to_string(i) + " is required");
  }
  if (node.output_count() < min_outputs || node.output_count() > max_outputs) {
    return node.Error("has " + std::to_string(node.output_count()) + " outputs, the operator makes " +
                      (min_outputs == max_outputs
                           ? std::to_string(min_outputs)
                           : std::to_string(min_outputs) + " to " + std::to_string(max_outputs)));
  }
  return Status::OK();
}

int64_t BoundedSize(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return -1;
    if (d == 0) n = 0;
  }
  if (n == 0) return 0;
  for (int64_t d : shape) {
    if (n > kMaxElements / d) return -1;
    n *= d;
  }
  return n;
}

bool Broadcast(const Shape& a, const Shape& b, Shape* out) {
  const size_t rank = std::max(a.size(), b.size());
  Shape s(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da == db || db == 1) {
      s[i] = da;
    } else if (da == 1) {
      s[i] = db;
    } else {
      return false;
    }
  }
  *out = std::move(s);
  return true;
}

Shape BroadcastStrides(const Shape& in, const Shape& out) {
  const size_t rank = out.size();
  const size_t pad = rank - in.size();
  Shape strides(rank, 0);
  int64_t stride = 1;
  for (size_t i = in.size(); i-- > 0;) {
    strides[i + pad] = in[i] == 1 && out[i + pad] != 1 ? 0 : stride;
    stride *= in[i];
  }
  return strides;
}

}  // namespace dense

Status RegisterDenseKernels(KernelRegistry& registry) {
  RETURN_IF_ERROR(dense::RegisterElementwiseKernels(registry));
  RETURN_IF_ERROR(dense::RegisterMatmulKernels(registry));
  RETURN_IF_ERROR(dense::RegisterShapeKernels(registry));
  RETURN_IF_ERROR(dense::RegisterReduceKernels(registry));
  RETURN_IF_ERROR(dense::RegisterCastKernels(registry));
  return Status::OK();
}

}  // namespace ferry::serving::onnx
