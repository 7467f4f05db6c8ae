#pragma once
// DataType: the tensor element types of the Open Inference Protocol (KServe
// V2), by their wire names ("BOOL", "UINT8", ..., "FP32", "BYTES").
//
// Thread-safety: plain functions.

#include <cstddef>
#include <string_view>

#include "ferry/common/status.h"

namespace ferry::serving::protocol {

enum class DataType {
  kBool,
  kUint8,
  kUint16,
  kUint32,
  kUint64,
  kInt8,
  kInt16,
  kInt32,
  kInt64,
  kFp16,
  kFp32,
  kFp64,
  kBytes,
};

// The wire name: "FP32".
std::string_view DataTypeName(DataType type);

// Parses a wire name (exact, upper case); InvalidArgument naming the name
// and listing the valid ones otherwise.
Result<DataType> ParseDataType(std::string_view name);

// Triton's model-configuration name: "TYPE_FP32", "TYPE_STRING" for BYTES.
std::string_view ConfigDataTypeName(DataType type);

// Bytes per element; 0 for kBytes, whose elements vary in length.
std::size_t ElementSize(DataType type);

}  // namespace ferry::serving::protocol
