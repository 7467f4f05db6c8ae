#pragma once
// Conversions between the gRPC protocol messages (grpc_service.proto) and
// the transport-independent serving types: ModelInferRequest to
// protocol::InferRequest (raw_input_contents, or the typed
// InferTensorContents fields converted to the binary tensor layout),
// protocol::InferResponse to ModelInferResponse (always
// raw_output_contents, as Triton answers), and the metadata, configuration
// and statistics messages built from a loaded model.
//
// Every malformed request is InvalidArgument naming the input and what is
// wrong ("input 'x': FP32 [2,4] needs 8 values in fp32_contents, got 6"),
// never a crash.
//
// Thread-safety: plain functions over values.

#include <string>
#include <vector>

#include "ferry/common/status.h"
#include "ferry/serving/model.h"
#include "ferry/serving/model_repository.h"
#include "ferry/serving/protocol/infer.h"
#include "grpc_service.pb.h"

namespace ferry::api::grpc {

// The request as the inference service takes it; the tensor bytes are
// moved out of `*request` rather than copied (the rest of it is left as it
// was). Shared-memory inputs and outputs are Unimplemented.
Result<serving::protocol::InferRequest> DecodeInferRequest(inference::ModelInferRequest* request);

// Fills `out` from `response`, moving its tensor data.
void EncodeInferResponse(serving::protocol::InferResponse&& response, inference::ModelInferResponse* out);

// Triton's backend name for a platform ("onnxruntime_onnx" → "onnxruntime").
std::string BackendForPlatform(const std::string& platform);

// ModelMetadata: `versions` are the model's ready versions.
void EncodeModelMetadata(const serving::LoadedModel& model, const std::vector<std::string>& versions,
                         inference::ModelMetadataResponse* out);

// ModelConfig: dims without the batch dimension when max_batch_size > 0.
void EncodeModelConfig(const serving::LoadedModel& model, inference::ModelConfig* out);

// One ModelStatistics entry from the version's counters.
void EncodeModelStatistics(const serving::LoadedModel& model, inference::ModelStatistics* out);

}  // namespace ferry::api::grpc
