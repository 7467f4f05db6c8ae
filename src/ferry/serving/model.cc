#include "ferry/serving/model.h"

#include <string_view>

#include "ferry/common/strings.h"
#include "ferry/serving/protocol/tensor_internal.h"

namespace ferry::serving {
namespace {

using protocol::DataTypeName;
using protocol::FormatShape;
using protocol::Tensor;
using protocol::TensorSpec;

template <typename T>
std::string NameList(const std::vector<T>& specs) {
  std::string out;
  for (const T& spec : specs) {
    if (!out.empty()) out += ", ";
    out += spec.name;
  }
  return out.empty() ? "none" : out;
}

std::string Describe(protocol::DataType type, const std::vector<int64_t>& shape) {
  return std::string(DataTypeName(type)) + " " + FormatShape(shape);
}

bool ShapeMatches(const std::vector<int64_t>& declared, const std::vector<int64_t>& got) {
  if (declared.size() != got.size()) return false;
  for (std::size_t i = 0; i < declared.size(); ++i) {
    if (declared[i] >= 0 && declared[i] != got[i]) return false;
  }
  return true;
}

}  // namespace

Status CheckInputs(const ModelSignature& signature, const std::vector<Tensor>& inputs) {
  // Models have a handful of inputs: quadratic lookups beat building maps.
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    for (std::size_t j = 0; j < i; ++j) {
      if (inputs[j].name == t.name) {
        return InvalidArgument("input " + QuoteForMessage(t.name) + " is given more than once");
      }
    }
    bool known = false;
    for (const TensorSpec& spec : signature.inputs) known = known || spec.name == t.name;
    if (!known) {
      return InvalidArgument("unexpected input " + QuoteForMessage(t.name) +
                             " (the model's inputs are: " + NameList(signature.inputs) + ")");
    }
  }
  const Tensor* batch_from = nullptr;
  for (const TensorSpec& spec : signature.inputs) {
    const Tensor* t = nullptr;
    for (const Tensor& input : inputs) {
      if (input.name == spec.name) t = &input;
    }
    if (t == nullptr) return InvalidArgument("missing input " + QuoteForMessage(spec.name));
    const std::string who = "input " + QuoteForMessage(spec.name);
    for (int64_t dim : t->shape) {
      if (dim < 0) {
        return InvalidArgument(who + ": shape " + FormatShape(t->shape) + " has a negative dimension");
      }
    }
    if (t->datatype != spec.datatype || !ShapeMatches(spec.shape, t->shape)) {
      return InvalidArgument(who + ": expected " + Describe(spec.datatype, spec.shape) + ", got " +
                             Describe(t->datatype, t->shape));
    }
    // A batching model's leading variable dimension is the batch: every
    // input must carry the same number of rows, within the model's limit.
    if (signature.max_batch_size > 0 && !spec.shape.empty() && spec.shape[0] < 0) {
      const int64_t batch = t->shape[0];
      if (batch > signature.max_batch_size) {
        return InvalidArgument(who + ": batch size " + std::to_string(batch) +
                               " exceeds the model's max_batch_size " +
                               std::to_string(signature.max_batch_size));
      }
      if (batch_from != nullptr && batch_from->shape[0] != batch) {
        return InvalidArgument(who + ": batch size " + std::to_string(batch) + " differs from input " +
                               QuoteForMessage(batch_from->name) + "'s " +
                               std::to_string(batch_from->shape[0]));
      }
      if (batch_from == nullptr) batch_from = t;
    }
    RETURN_IF_ERROR(protocol::CheckTensorData(*t));
  }
  return Status::OK();
}

Status CheckOutputs(const ModelSignature& signature, const std::vector<std::string>& outputs) {
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (outputs[j] == outputs[i]) {
        return InvalidArgument("output " + QuoteForMessage(outputs[i]) + " is requested more than once");
      }
    }
    bool known = false;
    for (const TensorSpec& spec : signature.outputs) known = known || spec.name == outputs[i];
    if (!known) {
      return InvalidArgument("unexpected output " + QuoteForMessage(outputs[i]) +
                             " (the model's outputs are: " + NameList(signature.outputs) + ")");
    }
  }
  return Status::OK();
}

}  // namespace ferry::serving
