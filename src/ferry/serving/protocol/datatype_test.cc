// Tests of the Open Inference Protocol datatype names and sizes.
#include "ferry/serving/protocol/datatype.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace ferry::serving::protocol {
namespace {

using ::testing::HasSubstr;

constexpr DataType kAll[] = {DataType::kBool,   DataType::kUint8, DataType::kUint16, DataType::kUint32,
                             DataType::kUint64, DataType::kInt8,  DataType::kInt16,  DataType::kInt32,
                             DataType::kInt64,  DataType::kFp16,  DataType::kFp32,   DataType::kFp64,
                             DataType::kBytes};

TEST(DataTypeTest, NamesRoundTrip) {
  for (DataType type : kAll) {
    auto parsed = ParseDataType(DataTypeName(type));
    ASSERT_TRUE(parsed.ok()) << DataTypeName(type);
    EXPECT_EQ(*parsed, type);
  }
  EXPECT_EQ(DataTypeName(DataType::kFp32), "FP32");
  EXPECT_EQ(DataTypeName(DataType::kBytes), "BYTES");
  EXPECT_EQ(DataTypeName(DataType::kUint16), "UINT16");
}

TEST(DataTypeTest, ConfigNamesAreTritons) {
  EXPECT_EQ(ConfigDataTypeName(DataType::kFp32), "TYPE_FP32");
  EXPECT_EQ(ConfigDataTypeName(DataType::kBool), "TYPE_BOOL");
  EXPECT_EQ(ConfigDataTypeName(DataType::kInt64), "TYPE_INT64");
  EXPECT_EQ(ConfigDataTypeName(DataType::kBytes), "TYPE_STRING");
}

TEST(DataTypeTest, ElementSizes) {
  EXPECT_EQ(ElementSize(DataType::kBool), 1u);
  EXPECT_EQ(ElementSize(DataType::kUint8), 1u);
  EXPECT_EQ(ElementSize(DataType::kInt16), 2u);
  EXPECT_EQ(ElementSize(DataType::kFp16), 2u);
  EXPECT_EQ(ElementSize(DataType::kUint32), 4u);
  EXPECT_EQ(ElementSize(DataType::kFp32), 4u);
  EXPECT_EQ(ElementSize(DataType::kInt64), 8u);
  EXPECT_EQ(ElementSize(DataType::kFp64), 8u);
  EXPECT_EQ(ElementSize(DataType::kBytes), 0u);
}

TEST(DataTypeTest, UnknownNamesAreRefusedWithTheValidOnes) {
  for (const char* bad : {"fp32", "FLOAT", "", "TYPE_FP32", "FP32 ", "BF16", "STRING"}) {
    auto parsed = ParseDataType(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(parsed.status().message(), HasSubstr("unknown datatype '" + std::string(bad) + "'"));
    EXPECT_THAT(parsed.status().message(), HasSubstr("BOOL, UINT8"));
    EXPECT_THAT(parsed.status().message(), HasSubstr("FP64, BYTES"));
  }
}

TEST(DataTypeTest, NamesWithControlBytesAreQuotedSafely) {
  auto parsed = ParseDataType(std::string("F\0P\n32", 6));
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(parsed.status().message(), HasSubstr("'F\\x00P\\x0A32'"));
}

}  // namespace
}  // namespace ferry::serving::protocol
