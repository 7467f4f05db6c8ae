#pragma once
// The native ONNX runtime: loads an ONNX ModelProto (parsed with the official
// onnx-ml schema from Debian's libonnx), checks every node against the
// kernel registry and the graph for cycles and dangling names, plans the
// execution order and the last use of each value, and runs requests
// without onnxruntime.
//
// Protocol mapping: graph inputs and outputs of tensor(float|double|int64|
// int32|string|bool) map to FP32, FP64, INT64, INT32, BYTES, BOOL; a
// symbolic or missing dimension is -1. A ZipMap output (sequence of maps) is
// served as an FP32 tensor [rows, classes] and its metadata say so. The
// model batches when every input's first dimension is symbolic.
//
// Refused at load with InvalidArgument or Unimplemented naming the node,
// operator or type: unsupported operators or opsets, unsupported element
// types, external data, subgraphs, a file that is not an ONNX model.
//
// Thread-safety: a loaded model is immutable; Infer runs concurrently.

#include <memory>
#include <string>
#include <string_view>

#include "ferry/common/status.h"
#include "ferry/serving/model.h"

namespace ferry::serving::onnx {

// From serialized ModelProto bytes.
Result<std::shared_ptr<const Model>> LoadOnnxModel(std::string_view bytes);
// From a file; NotFound naming the path when missing.
Result<std::shared_ptr<const Model>> LoadOnnxModelFile(const std::string& path);

}  // namespace ferry::serving::onnx
