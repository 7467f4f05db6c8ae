#pragma once
// Pieces shared by the ai.onnx.ml kernels: the post_transform functions with
// onnxruntime's exact float arithmetic (the reference the runtime is checked
// against), attribute readers for the "floats or *_as_tensor" pairs, and the
// rank-1/rank-2 feature-matrix view the classical-ML operators take.
//
// Thread-safety: free functions over caller-owned data.

#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/common/status.h"
#include "ferry/serving/runtimes/onnx/kernel.h"
#include "ferry/serving/runtimes/onnx/value.h"

namespace ferry::serving::onnx::ml {

enum class PostTransform { kNone, kLogistic, kSoftmax, kSoftmaxZero, kProbit };

// The "post_transform" string attribute (default NONE); an unknown name is
// an error naming the node.
Result<PostTransform> ReadPostTransform(const NodeInfo& node);
// The integer form of TreeEnsemble (opset 5): 0 NONE .. 4 PROBIT.
Result<PostTransform> PostTransformFromInt(const NodeInfo& node, int64_t value);

inline float ComputeLogistic(float val) {
  const float v = 1 / (1 + std::exp(-std::abs(val)));
  return val < 0 ? 1 - v : v;
}

// onnxruntime's erfinv approximation, so PROBIT matches it bit for bit.
float ComputeProbit(float val);

// In place over one row of scores, as onnxruntime computes them (float sums).
void ComputeSoftmax(std::span<float> values);
void ComputeSoftmaxZero(std::span<float> values);

// Applies a transform to one row of >= 2 scores (transforms of a single
// score are operator-specific and handled by the callers).
void ApplyTransform(PostTransform transform, std::span<float> row);

// The label of the kernel's node for run-time errors:
// "node 'n' (TreeEnsembleClassifier)".
std::string NodeLabel(const NodeInfo& node);
// InvalidArgument "<label>: <message>" for a request that does not fit.
Status RunError(const std::string& label, std::string_view message);

// A float attribute list that may instead be given as "<name>_as_tensor"
// (float or double). Both present is an error; absent is empty.
Result<std::vector<double>> FloatsOrTensor(const NodeInfo& node, std::string_view name);
// True when "<name>_as_tensor" is a double tensor, i.e. the model asks for
// double precision.
bool IsDoubleTensorAttr(const NodeInfo& node, std::string_view name);

// Rows and columns of a classical-ML input: [C] is one row, [N, C] is N rows.
struct Matrix {
  int64_t rows = 0;
  int64_t cols = 0;
};
// RunError unless the tensor has rank 1 or 2.
Result<Matrix> AsMatrix(const std::string& label, const Tensor& x);

// True for float, double, int64 and int32.
inline bool IsNumeric(ElemType t) {
  return t == ElemType::kFloat || t == ElemType::kDouble || t == ElemType::kInt64 || t == ElemType::kInt32;
}

// Calls f(std::span<const T>) with the tensor's elements for the numeric
// element types; RunError naming the type otherwise.
template <typename F>
Status VisitNumeric(const std::string& label, const Tensor& x, F&& f) {
  switch (x.type()) {
    case ElemType::kFloat:
      return f(x.data<float>());
    case ElemType::kDouble:
      return f(x.data<double>());
    case ElemType::kInt64:
      return f(x.data<int64_t>());
    case ElemType::kInt32:
      return f(x.data<int32_t>());
    default:
      return RunError(label, "input must be a float, double, int64 or int32 tensor, got " +
                                 std::string(ElemTypeName(x.type())));
  }
}

// The input as floats (a copy for other types), as onnxruntime does before
// its float GEMMs.
Result<std::vector<float>> ToFloats(const std::string& label, const Tensor& x);

// The tensor input at `i`, or RunError when it is missing or a map sequence.
Result<const Tensor*> TensorInput(const std::string& label, std::span<const Value* const> inputs, size_t i);

}  // namespace ferry::serving::onnx::ml
