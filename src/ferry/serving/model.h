#pragma once
// Model: the narrow interface every runtime (native ONNX-ML, XGBoost,
// LightGBM, Python pyfunc workers) implements, as Triton's backends sit
// behind one API. The model repository and the protocol front ends (REST in
// api/routes/inference, gRPC) see only this.
//
// Thread-safety: Infer() is const and called concurrently from many
// threads; implementations keep no per-call state in the object.

#include <memory>
#include <string>
#include <vector>

#include "ferry/common/status.h"
#include "ferry/serving/protocol/tensor.h"

namespace ferry::serving {

struct ModelSignature {
  // Triton's platform/backend names: "onnxruntime_onnx" for ONNX,
  // "xgboost", "lightgbm", "python".
  std::string platform;
  std::vector<protocol::TensorSpec> inputs;
  std::vector<protocol::TensorSpec> outputs;
  // The largest first dimension accepted when the model batches (-1 leading
  // dimension); 0 when the model does not batch.
  int64_t max_batch_size = 0;
};

class Model {
 public:
  virtual ~Model() = default;

  virtual const ModelSignature& signature() const = 0;

  // Computes `outputs` (names from signature().outputs; all of them when
  // empty) from `inputs`, which CheckInputs has accepted. Returns the
  // outputs in the order asked. InvalidArgument for inputs the model cannot
  // take (a value out of a category list, say), Internal for a model fault.
  virtual Result<std::vector<protocol::Tensor>> Infer(const std::vector<protocol::Tensor>& inputs,
                                                      const std::vector<std::string>& outputs) const = 0;
};

// Checks `inputs` against `signature` before Infer: every declared input
// present once and nothing else, datatypes equal, ranks equal, fixed
// dimensions equal, variable ones agreeing across inputs where the model
// says they are the batch, data sizes consistent (CheckTensorData).
// InvalidArgument naming the input and what was expected
// ("input 'x': expected FP32 [-1,4], got FP64 [2,4]").
Status CheckInputs(const ModelSignature& signature, const std::vector<protocol::Tensor>& inputs);

// Checks requested output names; InvalidArgument naming an unknown one.
Status CheckOutputs(const ModelSignature& signature, const std::vector<std::string>& outputs);

}  // namespace ferry::serving
