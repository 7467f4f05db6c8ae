// Registration of the ai.onnx.ml kernels (stub until the ML kernels land).
#include "ferry/serving/runtimes/onnx/kernel.h"

namespace ferry::serving::onnx {

Status RegisterMlKernels(KernelRegistry& registry) { return Status::OK(); }

}  // namespace ferry::serving::onnx
