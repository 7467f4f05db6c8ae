#include "ferry/serving/runtimes/onnx/ml/ml_common.h"

#include <limits>
#include <numbers>
#include <utility>

#include "ferry/common/strings.h"

namespace ferry::serving::onnx::ml {

namespace {

float ErfInv(float x) {
  const float sgn = x < 0 ? -1.0f : 1.0f;
  x = (1 - x) * (1 + x);
  const float log = std::log(x);
  const float v = 2 / (std::numbers::pi_v<float> * 0.147f) + 0.5f * log;
  const float v2 = 1 / (0.147f) * log;
  const float v3 = -v + std::sqrt(v * v - v2);
  return sgn * std::sqrt(v3);
}

}  // namespace

Result<PostTransform> ReadPostTransform(const NodeInfo& node) {
  std::string name = "NONE";
  if (node.Has("post_transform")) {
    ASSIGN_OR_RETURN(name, node.String("post_transform"));
  }
  if (name == "NONE") return PostTransform::kNone;
  if (name == "LOGISTIC") return PostTransform::kLogistic;
  if (name == "SOFTMAX") return PostTransform::kSoftmax;
  if (name == "SOFTMAX_ZERO") return PostTransform::kSoftmaxZero;
  if (name == "PROBIT") return PostTransform::kProbit;
  return node.Error("post_transform " + QuoteForMessage(name) +
                    " is not one of NONE, LOGISTIC, SOFTMAX, SOFTMAX_ZERO, PROBIT");
}

Result<PostTransform> PostTransformFromInt(const NodeInfo& node, int64_t value) {
  switch (value) {
    case 0:
      return PostTransform::kNone;
    case 1:
      return PostTransform::kLogistic;
    case 2:
      return PostTransform::kSoftmax;
    case 3:
      return PostTransform::kSoftmaxZero;
    case 4:
      return PostTransform::kProbit;
    default:
      return node.Error("post_transform " + std::to_string(value) + " is not in 0..4");
  }
}

float ComputeProbit(float val) { return std::numbers::sqrt2_v<float> * ErfInv(2 * val - 1); }

void ComputeSoftmax(std::span<float> values) {
  float v_max = -std::numeric_limits<float>::max();
  for (float v : values) v_max = v > v_max ? v : v_max;
  float sum = 0.f;
  for (float& v : values) {
    v = std::exp(v - v_max);
    sum += v;
  }
  for (float& v : values) v = v / sum;
}

void ComputeSoftmaxZero(std::span<float> values) {
  float v_max = -std::numeric_limits<float>::max();
  for (float v : values) v_max = v > v_max ? v : v_max;
  const float exp_neg_v_max = std::exp(-v_max);
  float sum = 0.f;
  for (float& v : values) {
    if (v > 0.0000001f || v < -0.0000001f) {
      v = std::exp(v - v_max);
      sum += v;
    } else {
      v = v * exp_neg_v_max;
    }
  }
  for (float& v : values) v = v / sum;
}

void ApplyTransform(PostTransform transform, std::span<float> row) {
  switch (transform) {
    case PostTransform::kNone:
      return;
    case PostTransform::kLogistic:
      for (float& v : row) v = ComputeLogistic(v);
      return;
    case PostTransform::kSoftmax:
      ComputeSoftmax(row);
      return;
    case PostTransform::kSoftmaxZero:
      ComputeSoftmaxZero(row);
      return;
    case PostTransform::kProbit:
      for (float& v : row) v = ComputeProbit(v);
      return;
  }
}

std::string NodeLabel(const NodeInfo& node) {
  return "node '" + SanitizeForMessage(node.name(), 120) + "' (" + SanitizeForMessage(node.op_type(), 60) + ")";
}

Status RunError(const std::string& label, std::string_view message) {
  return InvalidArgument(label + ": " + std::string(message));
}

Result<std::vector<double>> FloatsOrTensor(const NodeInfo& node, std::string_view name) {
  const std::string tensor_name = std::string(name) + "_as_tensor";
  const bool has_list = node.Has(name);
  const bool has_tensor = node.Has(tensor_name);
  if (has_list && has_tensor) {
    return node.Error("attributes '" + std::string(name) + "' and '" + tensor_name + "' are exclusive");
  }
  std::vector<double> out;
  if (has_tensor) {
    ASSIGN_OR_RETURN(Tensor t, node.TensorAttr(tensor_name));
    if (t.type() == ElemType::kFloat) {
      for (float v : t.data<float>()) out.push_back(v);
    } else if (t.type() == ElemType::kDouble) {
      auto d = t.data<double>();
      out.assign(d.begin(), d.end());
    } else {
      return node.Error("attribute '" + tensor_name + "' must be a float or double tensor, got " +
                        std::string(ElemTypeName(t.type())));
    }
    return out;
  }
  ASSIGN_OR_RETURN(std::vector<float> list, node.Floats(name));
  out.assign(list.begin(), list.end());
  return out;
}

bool IsDoubleTensorAttr(const NodeInfo& node, std::string_view name) {
  const std::string tensor_name = std::string(name) + "_as_tensor";
  if (!node.Has(tensor_name)) return false;
  auto t = node.TensorAttr(tensor_name);
  return t.ok() && t->type() == ElemType::kDouble;
}

Result<Matrix> AsMatrix(const std::string& label, const Tensor& x) {
  if (x.rank() == 1) return Matrix{1, x.dim(0)};
  if (x.rank() == 2) return Matrix{x.dim(0), x.dim(1)};
  return RunError(label, "input must have rank 1 or 2, got rank " + std::to_string(x.rank()));
}

Result<std::vector<float>> ToFloats(const std::string& label, const Tensor& x) {
  std::vector<float> out;
  RETURN_IF_ERROR(VisitNumeric(label, x, [&](auto data) {
    out.resize(data.size());
    for (size_t i = 0; i < data.size(); ++i) out[i] = static_cast<float>(data[i]);
    return Status::OK();
  }));
  return out;
}

Result<const Tensor*> TensorInput(const std::string& label, std::span<const Value* const> inputs, size_t i) {
  if (i >= inputs.size() || inputs[i] == nullptr) {
    return RunError(label, "input " + std::to_string(i) + " is missing");
  }
  const Tensor* t = std::get_if<Tensor>(inputs[i]);
  if (t == nullptr) return RunError(label, "input " + std::to_string(i) + " must be a tensor, got a map sequence");
  return t;
}

}  // namespace ferry::serving::onnx::ml
