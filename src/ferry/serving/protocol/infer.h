#pragma once
// InferRequest and InferResponse: the Open Inference Protocol (KServe V2)
// inference messages, and their REST codecs: JSON bodies, optionally
// followed by binary tensor data (the binary tensor data extension that
// tritonclient uses by default), and the V1 `:predict` shape.
//
// REST request body, V2 (https://kserve.github.io/website/latest/modelserving/data_plane/v2_protocol/):
//   {"id": "...", "parameters": {...},
//    "inputs":  [{"name", "shape", "datatype", "parameters"?, "data"?}],
//    "outputs": [{"name", "parameters"?: {"binary_data": bool, "classification": n}}]?}
// `data` is nested (row-major nesting matching the shape) or flat; BYTES
// elements are JSON strings; BOOL elements JSON booleans. With the binary
// extension the JSON part is the first Inference-Header-Content-Length
// bytes, an input with `"parameters": {"binary_data_size": n}` has no
// `data`, and its n bytes follow in the order of the inputs.
//
// Every malformed body is InvalidArgument naming what is wrong (field path
// and the offending value), never a crash: non-object JSON, unknown
// datatype, shape/data mismatch, wrong JSON types for the datatype, values
// out of range for an integer type, binary sizes that do not add up to the
// body, a header length beyond the body, depth beyond 64.
//
// Thread-safety: plain functions over values.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ferry/common/status.h"
#include "ferry/serving/protocol/tensor.h"

namespace ferry::serving::protocol {

struct RequestedOutput {
  std::string name;
  // The output's "binary_data" parameter; unset: the request's
  // "binary_data_output" parameter decides (default false).
  std::optional<bool> binary_data;
  // "classification": n — answer the top n classes as BYTES "score:index[:label]".
  int64_t classification = 0;
  nlohmann::json parameters = nlohmann::json::object();  // all of them, as sent
};

struct InferRequest {
  std::string id;  // echoed in the response; may be empty
  nlohmann::json parameters = nlohmann::json::object();
  std::vector<Tensor> inputs;
  // Empty: every output of the model, in the model's order.
  std::vector<RequestedOutput> outputs;
  bool binary_data_output = false;  // the request parameter of that name
};

struct InferResponse {
  std::string model_name;
  std::string model_version;
  std::string id;
  nlohmann::json parameters = nlohmann::json::object();
  std::vector<Tensor> outputs;
};

// Decodes a V2 REST request body. `json_size` is the
// Inference-Header-Content-Length header's value when the client sent one
// (the JSON is then body[0, json_size) and binary data follow); nullopt
// when the whole body is JSON.
Result<InferRequest> DecodeInferRequest(std::string_view body, std::optional<std::size_t> json_size);

// A REST response body. `json_size` is set when binary output data follow
// the JSON (the caller sends it as Inference-Header-Content-Length and the
// Content-Type becomes application/octet-stream).
struct EncodedResponse {
  std::string body;
  std::optional<std::size_t> json_size;
};

// Encodes `response`; an output is sent as binary data when `request` asked
// for that output in binary (per output, else binary_data_output), as flat
// JSON data otherwise (as Triton answers).
EncodedResponse EncodeInferResponse(const InferResponse& response, const InferRequest& request);

// The V2 error body: {"error": "message"}.
std::string EncodeError(std::string_view message);

// V1 (TensorFlow-serving style, KServe V1): {"instances": [...]} or
// {"inputs": [...]} (row format). Decoded against the model's first input,
// whose datatype decides how elements are read; the rows become the batch
// dimension.
Result<InferRequest> DecodeV1Request(std::string_view body, const TensorSpec& input);
// {"predictions": [...]}, one entry per row of the first requested output
// (a scalar per row when the output has one column).
std::string EncodeV1Response(const InferResponse& response);

}  // namespace ferry::serving::protocol
