// Tests of CheckInputs and CheckOutputs, the checks every runtime relies on.
#include "ferry/serving/model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ferry::serving {
namespace {

using protocol::DataType;
using protocol::Tensor;
using ::testing::HasSubstr;

Tensor Fp32(std::string name, std::vector<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d < 0 ? 0 : d;
  return Tensor{std::move(name), DataType::kFp32, std::move(shape),
                std::string(static_cast<std::size_t>(n) * 4, '\0')};
}

ModelSignature TwoInputs(int64_t max_batch_size) {
  ModelSignature sig;
  sig.platform = "onnxruntime_onnx";
  sig.inputs = {{"x", DataType::kFp32, {-1, 4}}, {"y", DataType::kFp32, {-1, 2}}};
  sig.outputs = {{"label", DataType::kInt64, {-1}}, {"probabilities", DataType::kFp32, {-1, 3}}};
  sig.max_batch_size = max_batch_size;
  return sig;
}

TEST(CheckInputsTest, AcceptsMatchingInputsInAnyOrder) {
  EXPECT_TRUE(CheckInputs(TwoInputs(0), {Fp32("x", {2, 4}), Fp32("y", {2, 2})}).ok());
  EXPECT_TRUE(CheckInputs(TwoInputs(0), {Fp32("y", {5, 2}), Fp32("x", {5, 4})}).ok());
  EXPECT_TRUE(CheckInputs(TwoInputs(8), {Fp32("x", {0, 4}), Fp32("y", {0, 2})}).ok());
}

TEST(CheckInputsTest, NamesTheWrongDatatype) {
  Tensor x = Fp32("x", {2, 4});
  x.datatype = DataType::kFp64;
  x.data.resize(64);
  Status s = CheckInputs(TwoInputs(0), {x, Fp32("y", {2, 2})});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "input 'x': expected FP32 [-1,4], got FP64 [2,4]");
}

TEST(CheckInputsTest, NamesTheWrongShape) {
  EXPECT_EQ(CheckInputs(TwoInputs(0), {Fp32("x", {2, 5}), Fp32("y", {2, 2})}).message(),
            "input 'x': expected FP32 [-1,4], got FP32 [2,5]");
  EXPECT_EQ(CheckInputs(TwoInputs(0), {Fp32("x", {8}), Fp32("y", {2, 2})}).message(),
            "input 'x': expected FP32 [-1,4], got FP32 [8]");
  EXPECT_EQ(CheckInputs(TwoInputs(0), {Fp32("x", {2, 4}), Fp32("y", {2, 2, 1})}).message(),
            "input 'y': expected FP32 [-1,2], got FP32 [2,2,1]");
}

TEST(CheckInputsTest, NamesUnexpectedMissingAndRepeatedInputs) {
  EXPECT_EQ(CheckInputs(TwoInputs(0), {Fp32("x", {2, 4}), Fp32("y", {2, 2}), Fp32("z", {1})}).message(),
            "unexpected input 'z' (the model's inputs are: x, y)");
  EXPECT_EQ(CheckInputs(TwoInputs(0), {Fp32("x", {2, 4})}).message(), "missing input 'y'");
  EXPECT_EQ(CheckInputs(TwoInputs(0), {}).message(), "missing input 'x'");
  EXPECT_EQ(CheckInputs(TwoInputs(0), {Fp32("x", {2, 4}), Fp32("x", {2, 4}), Fp32("y", {2, 2})}).message(),
            "input 'x' is given more than once");
  ModelSignature none;
  EXPECT_EQ(CheckInputs(none, {Fp32("x", {1})}).message(),
            "unexpected input 'x' (the model's inputs are: none)");
  EXPECT_TRUE(CheckInputs(none, {}).ok());
}

TEST(CheckInputsTest, QuotesOddNamesSafely) {
  EXPECT_EQ(CheckInputs(TwoInputs(0), {Fp32("a'\n", {1})}).message(),
            "unexpected input 'a\\'\\x0A' (the model's inputs are: x, y)");
}

TEST(CheckInputsTest, BatchingModelsNeedOneBatchSizeWithinTheLimit) {
  EXPECT_EQ(CheckInputs(TwoInputs(8), {Fp32("x", {2, 4}), Fp32("y", {3, 2})}).message(),
            "input 'y': batch size 3 differs from input 'x''s 2");
  EXPECT_EQ(CheckInputs(TwoInputs(8), {Fp32("x", {9, 4}), Fp32("y", {9, 2})}).message(),
            "input 'x': batch size 9 exceeds the model's max_batch_size 8");
  EXPECT_TRUE(CheckInputs(TwoInputs(8), {Fp32("x", {8, 4}), Fp32("y", {8, 2})}).ok());
  // Without batching the variable dimensions are independent.
  EXPECT_TRUE(CheckInputs(TwoInputs(0), {Fp32("x", {2, 4}), Fp32("y", {3, 2})}).ok());
}

TEST(CheckInputsTest, ChecksTheDataSize) {
  Tensor x = Fp32("x", {2, 4});
  x.data.resize(28);
  EXPECT_EQ(CheckInputs(TwoInputs(0), {x, Fp32("y", {2, 2})}).message(),
            "input 'x': FP32 [2,4] needs 32 bytes, got 28");
  ModelSignature strings;
  strings.inputs = {{"s", DataType::kBytes, {-1}}};
  Tensor s{"s", DataType::kBytes, {1}, std::string("\x05\0\0\0ab", 6)};
  EXPECT_THAT(CheckInputs(strings, {s}).message(),
              HasSubstr("input 's': BYTES [1]: element 0 is 5 bytes long"));
}

TEST(CheckInputsTest, RefusesNegativeDimensions) {
  Tensor x = Fp32("x", {2, 4});
  x.shape = {-1, 4};
  EXPECT_EQ(CheckInputs(TwoInputs(0), {x, Fp32("y", {2, 2})}).message(),
            "input 'x': shape [-1,4] has a negative dimension");
}

TEST(CheckInputsTest, ScalarAndFixedShapes) {
  ModelSignature sig;
  sig.inputs = {{"t", DataType::kInt64, {}}, {"m", DataType::kBool, {2, 2}}};
  Tensor t{"t", DataType::kInt64, {}, std::string(8, '\0')};
  Tensor m{"m", DataType::kBool, {2, 2}, std::string(4, '\1')};
  EXPECT_TRUE(CheckInputs(sig, {t, m}).ok());
  t.shape = {1};
  EXPECT_EQ(CheckInputs(sig, {t, m}).message(), "input 't': expected INT64 [], got INT64 [1]");
}

TEST(CheckInputsTest, CheckOutputsNamesUnknownAndRepeatedOutputs) {
  EXPECT_TRUE(CheckOutputs(TwoInputs(0), {}).ok());
  EXPECT_TRUE(CheckOutputs(TwoInputs(0), {"probabilities", "label"}).ok());
  EXPECT_EQ(CheckOutputs(TwoInputs(0), {"label", "proba"}).message(),
            "unexpected output 'proba' (the model's outputs are: label, probabilities)");
  EXPECT_EQ(CheckOutputs(TwoInputs(0), {"label", "label"}).message(),
            "output 'label' is requested more than once");
}

}  // namespace
}  // namespace ferry::serving
