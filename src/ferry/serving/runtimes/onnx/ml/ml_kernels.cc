// Registration of the ai.onnx.ml kernels. CastMap and DictVectorizer (map
// inputs) are not registered, so models using them are refused at load as
// unsupported operators.
#include "ferry/serving/runtimes/onnx/kernel.h"
#include "ferry/serving/runtimes/onnx/ml/ml_kernels_internal.h"

namespace ferry::serving::onnx {

Status RegisterMlKernels(KernelRegistry& registry) {
  RETURN_IF_ERROR(ml::RegisterTreeKernels(registry));
  RETURN_IF_ERROR(ml::RegisterLinearAndSvmKernels(registry));
  RETURN_IF_ERROR(ml::RegisterTransformKernels(registry));
  return Status::OK();
}

}  // namespace ferry::serving::onnx
