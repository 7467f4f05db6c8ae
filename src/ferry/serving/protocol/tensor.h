#pragma once
// Tensor: one named input or output of an inference request, as the Open
// Inference Protocol carries it, independent of the transport (REST JSON,
// the binary tensor extension, gRPC raw contents).
//
// The data are held in the binary extension's layout, which is also the
// gRPC raw_input_contents layout: row-major, little-endian; BOOL one byte
// (0 or 1); FP16 the IEEE half bits; BYTES each element a 4-byte
// little-endian length followed by that many bytes.
//
// Thread-safety: plain values.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/common/status.h"
#include "ferry/serving/protocol/datatype.h"

namespace ferry::serving::protocol {

struct Tensor {
  std::string name;
  DataType datatype = DataType::kFp32;
  std::vector<int64_t> shape;
  std::string data;  // the layout above
};

// The element count of `shape` (1 for a scalar shape []); InvalidArgument
// for a negative dimension or an overflowing product.
Result<int64_t> ElementCount(const std::vector<int64_t>& shape);

// Checks that `t.data` holds exactly the elements its shape says (for BYTES:
// that the length prefixes walk the buffer exactly, element by element; for
// BOOL: that every byte is 0 or 1).
// InvalidArgument naming the tensor otherwise ("input 'x': FP32 [2,3] needs
// 24 bytes, got 20").
Status CheckTensorData(const Tensor& t);

// The elements of a BYTES tensor, as views into `t.data` (valid while it
// lives); InvalidArgument as CheckTensorData when the length prefixes do not
// walk the data exactly.
Result<std::vector<std::string_view>> BytesElements(const Tensor& t);

// Appends one BYTES element to `data`: its 4-byte little-endian length, then
// its bytes. `element` must be shorter than 4 GiB.
void AppendBytesElement(std::string& data, std::string_view element);

// The declared form of a model input or output. -1 in `shape` is a
// variable dimension (the batch, usually).
struct TensorSpec {
  std::string name;
  DataType datatype = DataType::kFp32;
  std::vector<int64_t> shape;
};

}  // namespace ferry::serving::protocol
