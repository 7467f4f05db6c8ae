// Tests of element counts, tensor data checks and the half-precision
// conversions.
#include "ferry/serving/protocol/tensor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "ferry/serving/protocol/tensor_internal.h"

namespace ferry::serving::protocol {
namespace {

using ::testing::HasSubstr;

std::string BytesElement(std::string_view s) {
  const auto len = static_cast<uint32_t>(s.size());
  std::string out(4, '\0');
  std::memcpy(out.data(), &len, 4);
  out.append(s);
  return out;
}

TEST(TensorTest, ElementCount) {
  EXPECT_EQ(*ElementCount({}), 1);  // a scalar
  EXPECT_EQ(*ElementCount({3}), 3);
  EXPECT_EQ(*ElementCount({2, 3, 4}), 24);
  EXPECT_EQ(*ElementCount({0, 4}), 0);
  EXPECT_EQ(*ElementCount({4, 0}), 0);
  // A zero dimension empties the tensor even when the rest would overflow.
  EXPECT_EQ(*ElementCount({0, std::numeric_limits<int64_t>::max(), 4}), 0);
}

TEST(TensorTest, ElementCountRefusesNegativeAndOverflowingShapes) {
  auto negative = ElementCount({2, -1});
  ASSERT_FALSE(negative.ok());
  EXPECT_THAT(negative.status().message(), HasSubstr("shape [2,-1] has a negative dimension"));
  auto huge = ElementCount({1LL << 32, 1LL << 32});
  ASSERT_FALSE(huge.ok());
  EXPECT_THAT(huge.status().message(), HasSubstr("shape [4294967296,4294967296] has too many elements"));
  EXPECT_EQ(*ElementCount({1LL << 31, 1LL << 31}), 1LL << 62);
}

TEST(TensorTest, CheckTensorDataFixedSize) {
  Tensor t{"x", DataType::kFp32, {2, 3}, std::string(24, '\0')};
  EXPECT_TRUE(CheckTensorData(t).ok());
  t.data.resize(20);
  Status s = CheckTensorData(t);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "input 'x': FP32 [2,3] needs 24 bytes, got 20");
  Tensor scalar{"s", DataType::kInt64, {}, std::string(8, '\0')};
  EXPECT_TRUE(CheckTensorData(scalar).ok());
  Tensor empty{"e", DataType::kFp64, {0, 4}, ""};
  EXPECT_TRUE(CheckTensorData(empty).ok());
  empty.data = "x";
  EXPECT_THAT(CheckTensorData(empty).message(), HasSubstr("needs 0 bytes, got 1"));
  Tensor negative{"n", DataType::kFp64, {-1, 4}, ""};
  EXPECT_THAT(CheckTensorData(negative).message(),
              HasSubstr("input 'n': FP64 [-1,4]: shape [-1,4] has a negative"));
}

TEST(TensorTest, CheckTensorDataBoolBytesAreZeroOrOne) {
  Tensor t{"b", DataType::kBool, {3}, std::string("\1\0\1", 3)};
  EXPECT_TRUE(CheckTensorData(t).ok());
  t.data[1] = 7;
  EXPECT_EQ(CheckTensorData(t).message(), "input 'b': BOOL [3]: element 1 is 7, not 0 or 1");
}

TEST(TensorTest, CheckTensorDataBytesWalksTheLengthPrefixes) {
  Tensor t{"s",
           DataType::kBytes,
           {3},
           BytesElement("ab") + BytesElement(std::string("\0\0x", 3)) + BytesElement("")};
  EXPECT_TRUE(CheckTensorData(t).ok());

  Tensor short_prefix = t;
  short_prefix.data = BytesElement("ab") + std::string("\x01\x00", 2);
  EXPECT_EQ(CheckTensorData(short_prefix).message(),
            "input 's': BYTES [3]: element 1 needs a 4-byte length at offset 6, but the data end at 8");

  Tensor too_long = t;
  too_long.data = BytesElement("ab") + BytesElement("cd");
  too_long.data[6] = 100;  // element 1 claims 100 bytes
  EXPECT_EQ(CheckTensorData(too_long).message(),
            "input 's': BYTES [3]: element 1 is 100 bytes long, but only 2 bytes remain");

  Tensor left_over{"s", DataType::kBytes, {1}, BytesElement("ab") + "zz"};
  EXPECT_EQ(CheckTensorData(left_over).message(),
            "input 's': BYTES [1]: 2 bytes left over after its 1 elements");

  Tensor huge_length{"s", DataType::kBytes, {1}, std::string("\xff\xff\xff\xff", 4)};
  EXPECT_THAT(CheckTensorData(huge_length).message(), HasSubstr("4294967295 bytes long"));

  Tensor empty{"s", DataType::kBytes, {0}, ""};
  EXPECT_TRUE(CheckTensorData(empty).ok());
}

TEST(TensorTest, BytesElementsAreViewsOfWhatAppendBytesElementWrote) {
  Tensor t{"s", DataType::kBytes, {3}, {}};
  AppendBytesElement(t.data, "ab");
  AppendBytesElement(t.data, std::string_view("\0x\0", 3));
  AppendBytesElement(t.data, "");
  ASSERT_EQ(t.data.size(), 4u * 3 + 5);
  auto elements = BytesElements(t);
  ASSERT_TRUE(elements.ok()) << elements.status().ToString();
  ASSERT_EQ(elements->size(), 3u);
  EXPECT_EQ((*elements)[0], "ab");
  EXPECT_EQ((*elements)[1], std::string_view("\0x\0", 3));
  EXPECT_EQ((*elements)[2], "");

  t.shape = {int64_t{1} << 40};  // far more elements than the data hold
  EXPECT_EQ(BytesElements(t).status().code(), StatusCode::kInvalidArgument);
}

TEST(TensorTest, FormatShape) {
  EXPECT_EQ(FormatShape({}), "[]");
  EXPECT_EQ(FormatShape({-1, 4}), "[-1,4]");
}

TEST(TensorTest, HalfConversionOfKnownValues) {
  EXPECT_EQ(DoubleToHalf(0.0), 0x0000);
  EXPECT_EQ(DoubleToHalf(-0.0), 0x8000);
  EXPECT_EQ(DoubleToHalf(1.0), 0x3c00);
  EXPECT_EQ(DoubleToHalf(-2.0), 0xc000);
  EXPECT_EQ(DoubleToHalf(0.5), 0x3800);
  EXPECT_EQ(DoubleToHalf(65504.0), 0x7bff);   // the largest half
  EXPECT_EQ(DoubleToHalf(65519.99), 0x7bff);  // still rounds down
  EXPECT_EQ(DoubleToHalf(65520.0), 0x7c00);   // the tie rounds to even: infinity
  EXPECT_EQ(DoubleToHalf(1e10), 0x7c00);
  EXPECT_EQ(DoubleToHalf(-1e10), 0xfc00);
  EXPECT_EQ(DoubleToHalf(std::ldexp(1.0, -14)), 0x0400);  // the smallest normal
  EXPECT_EQ(DoubleToHalf(std::ldexp(1.0, -24)), 0x0001);  // the smallest subnormal
  EXPECT_EQ(DoubleToHalf(std::ldexp(1.0, -25)), 0x0000);  // tie between 0 and 1: even
  EXPECT_EQ(DoubleToHalf(std::ldexp(3.0, -26)), 0x0001);  // 0.75 of the smallest rounds up
  EXPECT_EQ(DoubleToHalf(std::ldexp(3.0, -25)), 0x0002);  // tie between 1 and 2: even
  EXPECT_EQ(DoubleToHalf(std::ldexp(5.0, -25)), 0x0002);  // tie between 2 and 3: even
  EXPECT_EQ(DoubleToHalf(1e-300), 0x0000);
  EXPECT_EQ(DoubleToHalf(std::numeric_limits<double>::denorm_min()), 0x0000);
  EXPECT_EQ(DoubleToHalf(std::numeric_limits<double>::infinity()), 0x7c00);
  EXPECT_EQ(DoubleToHalf(-std::numeric_limits<double>::infinity()), 0xfc00);
  EXPECT_EQ(DoubleToHalf(std::nan("")) & 0x7c00, 0x7c00);
  EXPECT_NE(DoubleToHalf(std::nan("")) & 0x03ff, 0);
  // Halfway between 1 and the next half (1 + 2^-10): ties go to the even one.
  EXPECT_EQ(DoubleToHalf(1.0 + std::ldexp(1.0, -11)), 0x3c00);
  EXPECT_EQ(DoubleToHalf(1.0 + 3 * std::ldexp(1.0, -11)), 0x3c02);
  // Just above the tie rounds up, which a float detour would get wrong
  // (1 + 2^-11 + 2^-40 is not a float).
  EXPECT_EQ(DoubleToHalf(1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40)), 0x3c01);
  // A mantissa carry bumps the exponent: 2047/1024 rounds to 2.
  EXPECT_EQ(DoubleToHalf(2.0 - std::ldexp(1.0, -12)), 0x4000);
  EXPECT_EQ(DoubleToHalf(0.1), 0x2e66);
  EXPECT_EQ(DoubleToHalf(1.0 / 3.0), 0x3555);
}

TEST(TensorTest, EveryHalfRoundTripsThroughFloat) {
  for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
    const auto h = static_cast<uint16_t>(bits);
    const float f = HalfToFloat(h);
    if ((h & 0x7c00) == 0x7c00 && (h & 0x03ff) != 0) {
      EXPECT_TRUE(std::isnan(f)) << bits;
      continue;
    }
    ASSERT_EQ(DoubleToHalf(f), h) << bits << " -> " << f;
  }
  EXPECT_EQ(HalfToFloat(0x3c00), 1.0f);
  EXPECT_EQ(HalfToFloat(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(HalfToFloat(0x7bff), 65504.0f);
  EXPECT_TRUE(std::isinf(HalfToFloat(0xfc00)));
  EXPECT_LT(HalfToFloat(0xfc00), 0.0f);
}

}  // namespace
}  // namespace ferry::serving::protocol
