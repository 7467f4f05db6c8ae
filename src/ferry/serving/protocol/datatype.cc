#include "ferry/serving/protocol/datatype.h"

#include <array>
#include <string>

#include "ferry/common/strings.h"

namespace ferry::serving::protocol {
namespace {

struct TypeInfo {
  DataType type;
  std::string_view name;
  std::string_view config_name;
  std::size_t size;
};

// In enum order, so a type's entry is kTypes[static_cast<int>(type)].
constexpr std::array<TypeInfo, 13> kTypes = {{
    {DataType::kBool, "BOOL", "TYPE_BOOL", 1},
    {DataType::kUint8, "UINT8", "TYPE_UINT8", 1},
    {DataType::kUint16, "UINT16", "TYPE_UINT16", 2},
    {DataType::kUint32, "UINT32", "TYPE_UINT32", 4},
    {DataType::kUint64, "UINT64", "TYPE_UINT64", 8},
    {DataType::kInt8, "INT8", "TYPE_INT8", 1},
    {DataType::kInt16, "INT16", "TYPE_INT16", 2},
    {DataType::kInt32, "INT32", "TYPE_INT32", 4},
    {DataType::kInt64, "INT64", "TYPE_INT64", 8},
    {DataType::kFp16, "FP16", "TYPE_FP16", 2},
    {DataType::kFp32, "FP32", "TYPE_FP32", 4},
    {DataType::kFp64, "FP64", "TYPE_FP64", 8},
    {DataType::kBytes, "BYTES", "TYPE_STRING", 0},
}};

const TypeInfo& Info(DataType type) {
  const auto i = static_cast<std::size_t>(type);
  return i < kTypes.size() ? kTypes[i] : kTypes.back();
}

}  // namespace

std::string_view DataTypeName(DataType type) { return Info(type).name; }

Result<DataType> ParseDataType(std::string_view name) {
  for (const TypeInfo& info : kTypes) {
    if (info.name == name) return info.type;
  }
  std::string valid;
  for (const TypeInfo& info : kTypes) {
    if (!valid.empty()) valid += ", ";
    valid += info.name;
  }
  return InvalidArgument("unknown datatype " + QuoteForMessage(name) + " (valid: " + valid + ")");
}

std::string_view ConfigDataTypeName(DataType type) { return Info(type).config_name; }

std::size_t ElementSize(DataType type) { return Info(type).size; }

}  // namespace ferry::serving::protocol
