// The ai.onnx kernels, each run as a one-node graph on hand-checked values.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "ferry/serving/runtimes/onnx/graph.h"
#include "ferry/serving/runtimes/onnx/testing/model_builder.h"

namespace ferry::serving::onnx {
namespace {

using ::testing::ElementsAre;
using ::testing::FloatNear;
using ::testing::HasSubstr;
using testing::ModelBuilder;
using testing::NodeBuilder;

struct In {
  std::string name;
  Tensor value;
};

// Runs one node over `inputs` (fed as graph inputs, or as initializers when
// `constant`) and returns its outputs.
Result<std::vector<Value>> RunNode(const std::string& op, const std::vector<In>& inputs, int outputs,
                                   const std::function<void(NodeBuilder&)>& attrs = {}, int64_t opset = 17,
                                   std::vector<std::string> input_names = {}) {
  ModelBuilder b(opset);
  std::vector<Value> feed;
  for (const In& in : inputs) {
    b.Input(in.name, testing::kFloat, in.value.shape());
    feed.emplace_back(in.value);
  }
  if (input_names.empty()) {
    for (const In& in : inputs) input_names.push_back(in.name);
  }
  std::vector<std::string> outs;
  for (int i = 0; i < outputs; ++i) {
    outs.push_back("out" + std::to_string(i));
    b.Output(outs.back(), testing::kFloat, {-1});
  }
  NodeBuilder node = b.Node(op, input_names, outs);
  node.proto().set_name("n");
  if (attrs) attrs(node);
  auto graph = Graph::Load(std::make_unique<::onnx::ModelProto>(b.proto()), DefaultKernels());
  if (!graph.ok()) return graph.status();
  // Graph input declarations carry no element type check; feed as given.
  return (*graph)->Run(std::move(feed));
}

template <typename T>
Tensor T_(Shape shape, std::vector<T> v) {
  return Tensor::From<T>(std::move(shape), std::move(v));
}
Tensor F(Shape shape, std::vector<float> v) { return T_<float>(std::move(shape), std::move(v)); }
Tensor I(Shape shape, std::vector<int64_t> v) { return T_<int64_t>(std::move(shape), std::move(v)); }
Tensor B(Shape shape, std::vector<uint8_t> v) { return T_<uint8_t>(std::move(shape), std::move(v)); }

template <typename T>
ElemType dense_type() {
  if constexpr (std::is_same_v<T, float>) return ElemType::kFloat;
  if constexpr (std::is_same_v<T, double>) return ElemType::kDouble;
  if constexpr (std::is_same_v<T, int64_t>) return ElemType::kInt64;
  if constexpr (std::is_same_v<T, int32_t>) return ElemType::kInt32;
  if constexpr (std::is_same_v<T, std::string>) return ElemType::kString;
  return ElemType::kBool;
}

const Tensor& Out(const Result<std::vector<Value>>& r, size_t i = 0) {
  static const Tensor kEmpty;
  if (!r.ok() || i >= r->size()) {
    ADD_FAILURE() << (r.ok() ? std::string("missing output") : r.status().ToString());
    return kEmpty;
  }
  return std::get<Tensor>((*r)[i]);
}

template <typename T>
std::vector<T> V(const Result<std::vector<Value>>& r, size_t i = 0) {
  const Tensor& t = Out(r, i);
  if (!r.ok() || t.type() != dense_type<T>()) return {};
  auto d = t.data<T>();
  return std::vector<T>(d.begin(), d.end());
}

// --- Element-wise --------------------------------------------------------------------

TEST(OnnxDenseTest, AddBroadcastsBothWays) {
  auto r = RunNode("Add", {{"a", F({2, 1, 3}, {1, 2, 3, 4, 5, 6})}, {"b", F({2, 1}, {10, 20})}}, 1);
  EXPECT_THAT(Out(r).shape(), ElementsAre(2, 2, 3));
  EXPECT_THAT(V<float>(r), ElementsAre(11, 12, 13, 21, 22, 23, 14, 15, 16, 24, 25, 26));
  auto bad = RunNode("Add", {{"a", F({2, 3}, std::vector<float>(6))}, {"b", F({2}, {1, 2})}}, 1);
  EXPECT_THAT(bad.status().message(), HasSubstr("cannot broadcast shapes [2,3] and [2]"));
  auto types = RunNode("Add", {{"a", F({1}, {1})}, {"b", I({1}, {1})}}, 1);
  EXPECT_THAT(types.status().message(), HasSubstr("different types"));
}

TEST(OnnxDenseTest, IntegerArithmeticWrapsAndRefusesDivisionByZero) {
  const int64_t min = std::numeric_limits<int64_t>::min();
  auto r = RunNode("Div", {{"a", I({3}, {7, -7, min})}, {"b", I({3}, {2, 2, -1})}}, 1);
  EXPECT_THAT(V<int64_t>(r), ElementsAre(3, -3, min));
  auto add = RunNode("Add", {{"a", I({1}, {std::numeric_limits<int64_t>::max()})}, {"b", I({1}, {1})}}, 1);
  EXPECT_THAT(V<int64_t>(add), ElementsAre(min));
  auto zero = RunNode("Div", {{"a", I({2}, {1, 2})}, {"b", I({2}, {1, 0})}}, 1);
  EXPECT_THAT(zero.status().message(), HasSubstr("division by zero"));
  EXPECT_THAT(zero.status().message(), HasSubstr("node 'n' (Div)"));
}

TEST(OnnxDenseTest, PowTakesAnExponentOfAnotherType) {
  auto r = RunNode("Pow", {{"a", F({3}, {2, 3, 4})}, {"b", I({1}, {2})}}, 1);
  EXPECT_THAT(V<float>(r), ElementsAre(4, 9, 16));
  auto f = RunNode("Pow", {{"a", F({2}, {4, 9})}, {"b", F({}, {0.5f})}}, 1);
  EXPECT_THAT(V<float>(f), ElementsAre(2, 3));
}

TEST(OnnxDenseTest, ComparisonsAndLogic) {
  auto less = RunNode("Less", {{"a", F({3}, {1, 2, 3})}, {"b", F({}, {2})}}, 1);
  EXPECT_THAT(V<uint8_t>(less), ElementsAre(1, 0, 0));
  auto ge = RunNode("GreaterOrEqual", {{"a", F({3}, {1, 2, 3})}, {"b", F({}, {2})}}, 1);
  EXPECT_THAT(V<uint8_t>(ge), ElementsAre(0, 1, 1));
  auto eq =
      RunNode("Equal", {{"a", T_<std::string>({2}, {"x", "y"})}, {"b", T_<std::string>({1}, {"y"})}}, 1);
  EXPECT_THAT(V<uint8_t>(eq), ElementsAre(0, 1));
  auto x = RunNode("Xor", {{"a", B({4}, {0, 0, 1, 1})}, {"b", B({4}, {0, 1, 0, 1})}}, 1);
  EXPECT_THAT(V<uint8_t>(x), ElementsAre(0, 1, 1, 0));
  auto n = RunNode("Not", {{"a", B({2}, {0, 1})}}, 1);
  EXPECT_THAT(V<uint8_t>(n), ElementsAre(1, 0));
  EXPECT_FALSE(RunNode("And", {{"a", F({1}, {1})}, {"b", F({1}, {1})}}, 1).ok());
}

TEST(OnnxDenseTest, WhereBroadcastsThreeWays) {
  auto r = RunNode("Where", {{"c", B({2, 1}, {1, 0})}, {"x", F({3}, {1, 2, 3})}, {"y", F({}, {-1})}}, 1);
  EXPECT_THAT(Out(r).shape(), ElementsAre(2, 3));
  EXPECT_THAT(V<float>(r), ElementsAre(1, 2, 3, -1, -1, -1));
  EXPECT_FALSE(RunNode("Where", {{"c", F({1}, {1})}, {"x", F({1}, {1})}, {"y", F({1}, {1})}}, 1).ok());
}

TEST(OnnxDenseTest, UnaryFunctions) {
  const Tensor x = F({4}, {-2, -0.5f, 0.5f, 2});
  EXPECT_THAT(V<float>(RunNode("Relu", {{"x", x}}, 1)), ElementsAre(0, 0, 0.5f, 2));
  EXPECT_THAT(V<float>(RunNode("Abs", {{"x", x}}, 1)), ElementsAre(2, 0.5f, 0.5f, 2));
  EXPECT_THAT(V<float>(RunNode("Neg", {{"x", x}}, 1)), ElementsAre(2, 0.5f, -0.5f, -2));
  EXPECT_THAT(V<float>(RunNode("Floor", {{"x", x}}, 1)), ElementsAre(-2, -1, 0, 2));
  EXPECT_THAT(V<float>(RunNode("Ceil", {{"x", x}}, 1)), ElementsAre(-2, -0.0f, 1, 2));
  EXPECT_THAT(V<float>(RunNode("Round", {{"x", F({4}, {0.5f, 1.5f, 2.5f, -0.5f})}}, 1)),
              ElementsAre(0, 2, 2, -0.0f));
  EXPECT_THAT(V<float>(RunNode("Sigmoid", {{"x", F({3}, {0, 100, -100})}}, 1)),
              ElementsAre(0.5f, 1.0f, FloatNear(0, 1e-30)));
  EXPECT_THAT(V<float>(RunNode("LeakyRelu", {{"x", x}}, 1, [](NodeBuilder& n) { n.Float("alpha", 0.1f); })),
              ElementsAre(FloatNear(-0.2f, 1e-7), FloatNear(-0.05f, 1e-7), 0.5f, 2));
  EXPECT_THAT(V<float>(RunNode("HardSigmoid", {{"x", x}}, 1)),
              ElementsAre(FloatNear(0.1f, 1e-6), FloatNear(0.4f, 1e-6), FloatNear(0.6f, 1e-6),
                          FloatNear(0.9f, 1e-6)));
  EXPECT_THAT(V<float>(RunNode("Erf", {{"x", F({1}, {0})}}, 1)), ElementsAre(0));
  EXPECT_THAT(V<float>(RunNode("Sqrt", {{"x", F({2}, {4, 9})}}, 1)), ElementsAre(2, 3));
  EXPECT_THAT(V<float>(RunNode("Reciprocal", {{"x", F({2}, {4, -0.5f})}}, 1)), ElementsAre(0.25f, -2));
  EXPECT_THAT(V<int64_t>(RunNode("Abs", {{"x", I({2}, {-3, 3})}}, 1)), ElementsAre(3, 3));
  auto exp_int = RunNode("Exp", {{"x", I({1}, {1})}}, 1);
  EXPECT_THAT(exp_int.status().message(), HasSubstr("must be float or double, got int64"));
}

TEST(OnnxDenseTest, ClipInAttributeAndInputForms) {
  const Tensor x = F({4}, {-2, 0, 1, 5});
  auto attr = RunNode(
      "Clip", {{"x", x}}, 1, [](NodeBuilder& n) { n.Float("min", -1).Float("max", 2); }, 6);
  EXPECT_THAT(V<float>(attr), ElementsAre(-1, 0, 1, 2));
  auto in = RunNode("Clip", {{"x", x}, {"lo", F({}, {0})}}, 1, {}, 13, {"x", "lo"});
  EXPECT_THAT(V<float>(in), ElementsAre(0, 0, 1, 5));
  auto hi_only = RunNode("Clip", {{"x", x}, {"hi", F({}, {1})}}, 1, {}, 13, {"x", "", "hi"});
  EXPECT_THAT(V<float>(hi_only), ElementsAre(-2, 0, 1, 1));
  auto bad = RunNode("Clip", {{"x", x}, {"lo", F({2}, {0, 1})}}, 1, {}, 13, {"x", "lo"});
  EXPECT_THAT(bad.status().message(), HasSubstr("one-element"));
}

TEST(OnnxDenseTest, VariadicMaxMinSumMean) {
  const std::vector<In> ins = {{"a", F({2}, {1, 5})}, {"b", F({2, 1}, {3, 0})}, {"c", F({}, {2})}};
  EXPECT_THAT(V<float>(RunNode("Max", ins, 1)), ElementsAre(3, 5, 2, 5));
  EXPECT_THAT(V<float>(RunNode("Min", ins, 1)), ElementsAre(1, 2, 0, 0));
  EXPECT_THAT(V<float>(RunNode("Sum", ins, 1)), ElementsAre(6, 10, 3, 7));
  EXPECT_THAT(V<float>(RunNode("Mean", ins, 1)),
              ElementsAre(2, FloatNear(10.0f / 3, 1e-6), 1, FloatNear(7.0f / 3, 1e-6)));
  EXPECT_THAT(V<float>(RunNode("Sum", {{"a", F({2}, {1, 5})}}, 1)), ElementsAre(1, 5));
}

// --- Cast ---------------------------------------------------------------------------------

TEST(OnnxDenseTest, CastBetweenNumbersStringsAndBools) {
  auto to_str = [](Tensor x) {
    return RunNode("Cast", {{"x", std::move(x)}}, 1, [](NodeBuilder& n) { n.Int("to", testing::kString); });
  };
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_THAT(V<std::string>(to_str(F({6}, {1, 0.1f, 1e20f, 1.0f / 3, nan, -inf}))),
              ElementsAre("1", "0.1", "1e+20", "0.33333334", "NaN", "-INF"));
  EXPECT_THAT(V<std::string>(to_str(I({2}, {-5, 42}))), ElementsAre("-5", "42"));
  EXPECT_THAT(V<std::string>(to_str(B({2}, {1, 0}))), ElementsAre("1", "0"));

  auto from_str = [](std::vector<std::string> s, int to) {
    const auto n = static_cast<int64_t>(s.size());
    return RunNode("Cast", {{"x", T_<std::string>({n}, std::move(s))}}, 1,
                   [to](NodeBuilder& b) { b.Int("to", to); });
  };
  EXPECT_THAT(V<float>(from_str({"1.5", " 2", "1e3", "-INF"}, testing::kFloat)),
              ElementsAre(1.5f, 2, 1000, -inf));
  EXPECT_THAT(V<int64_t>(from_str({"12", "-3", "1.9"}, testing::kInt64)), ElementsAre(12, -3, 1));
  EXPECT_THAT(V<uint8_t>(from_str({"true", "0", "2"}, testing::kBool)), ElementsAre(1, 0, 1));
  auto bad = from_str({"abc"}, testing::kDouble);
  EXPECT_THAT(bad.status().message(), HasSubstr("'abc'"));
  EXPECT_FALSE(from_str({"99999999999999999999"}, testing::kInt64).ok());

  auto to_int = RunNode("Cast", {{"x", F({4}, {nan, 1e10f, 2.7f, -2.7f})}}, 1,
                        [](NodeBuilder& n) { n.Int("to", testing::kInt32); });
  EXPECT_THAT(V<int32_t>(to_int),
              ElementsAre(std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::min(), 2, -2));
  auto to_bool = RunNode("Cast", {{"x", F({3}, {nan, 0, 0.1f})}}, 1,
                         [](NodeBuilder& n) { n.Int("to", testing::kBool); });
  EXPECT_THAT(V<uint8_t>(to_bool), ElementsAre(1, 0, 1));
  auto opset1 = RunNode(
      "Cast", {{"x", I({1}, {3})}}, 1, [](NodeBuilder& n) { n.String("to", "DOUBLE"); }, 1);
  EXPECT_THAT(V<double>(opset1), ElementsAre(3.0));
}

// --- MatMul, Gemm, CDist -------------------------------------------------------------------

TEST(OnnxDenseTest, MatMulBatchesAndPromotesVectors) {
  // [2,1,2,2] x [3,2,1] -> [2,3,2,1]
  std::vector<float> a = {1, 2, 3, 4, 5, 6, 7, 8};
  std::vector<float> b = {1, 0, 0, 1, 1, 1};
  auto r = RunNode("MatMul", {{"a", F({2, 1, 2, 2}, a)}, {"b", F({3, 2, 1}, b)}}, 1);
  EXPECT_THAT(Out(r).shape(), ElementsAre(2, 3, 2, 1));
  EXPECT_THAT(V<float>(r), ElementsAre(1, 3, 2, 4, 3, 7, 5, 7, 6, 8, 11, 15));
  auto vec = RunNode("MatMul", {{"a", F({2}, {1, 2})}, {"b", F({2, 2}, {1, 2, 3, 4})}}, 1);
  EXPECT_THAT(Out(vec).shape(), ElementsAre(2));
  EXPECT_THAT(V<float>(vec), ElementsAre(7, 10));
  auto dot = RunNode("MatMul", {{"a", F({2}, {1, 2})}, {"b", F({2}, {3, 4})}}, 1);
  EXPECT_TRUE(Out(dot).shape().empty());
  EXPECT_THAT(V<float>(dot), ElementsAre(11));
  auto ints = RunNode("MatMul", {{"a", I({1, 2}, {2, 3})}, {"b", I({2, 1}, {4, 5})}}, 1);
  EXPECT_THAT(V<int64_t>(ints), ElementsAre(23));
  auto bad = RunNode("MatMul",
                     {{"a", F({2, 3}, std::vector<float>(6))}, {"b", F({2, 3}, std::vector<float>(6))}}, 1);
  EXPECT_THAT(bad.status().message(), HasSubstr("do not multiply"));
}

TEST(OnnxDenseTest, GemmTransposesAndBroadcastsC) {
  // A^T with A stored [2,2]; C a column [2,1].
  auto r = RunNode(
      "Gemm", {{"a", F({2, 2}, {1, 2, 3, 4})}, {"b", F({2, 2}, {1, 0, 0, 1})}, {"c", F({2, 1}, {10, 20})}}, 1,
      [](NodeBuilder& n) { n.Int("transA", 1); });
  EXPECT_THAT(V<float>(r), ElementsAre(11, 13, 22, 24));
  auto no_c = RunNode("Gemm", {{"a", F({1, 2}, {1, 2})}, {"b", F({2, 1}, {3, 4})}}, 1);
  EXPECT_THAT(V<float>(no_c), ElementsAre(11));
  auto bad_c =
      RunNode("Gemm", {{"a", F({1, 2}, {1, 2})}, {"b", F({2, 1}, {3, 4})}, {"c", F({3}, {1, 2, 3})}}, 1);
  EXPECT_THAT(bad_c.status().message(), HasSubstr("does not broadcast"));
  auto not_matrix = RunNode("Gemm", {{"a", F({2}, {1, 2})}, {"b", F({2, 1}, {3, 4})}}, 1);
  EXPECT_THAT(not_matrix.status().message(), HasSubstr("must be matrices"));
}

TEST(OnnxDenseTest, CDistFromOnnxruntimeContribOps) {
  ModelBuilder b;
  b.proto().add_opset_import()->set_domain("com.microsoft");
  b.proto().mutable_opset_import(1)->set_version(1);
  b.Input("a", testing::kFloat, {1, 2}).Output("d", testing::kFloat, {1, 2});
  b.Initializer<float>("b", {2, 2}, {0, 0, 3, 4});
  b.Node("CDist", {"a", "b"}, {"d"}, "com.microsoft").String("metric", "euclidean");
  auto graph = Graph::Load(std::make_unique<::onnx::ModelProto>(b.proto()), DefaultKernels());
  ASSERT_TRUE(graph.ok()) << graph.status().ToString();
  std::vector<Value> feed;
  feed.emplace_back(F({1, 2}, {0, 0}));
  auto r = (*graph)->Run(std::move(feed));
  EXPECT_THAT(V<float>(r), ElementsAre(0, 5));
}

// --- Shapes ----------------------------------------------------------------------------------

TEST(OnnxDenseTest, ReshapeCopiesZerosAndInfers) {
  const Tensor x = F({2, 3, 4}, std::vector<float>(24, 1));
  EXPECT_THAT(Out(RunNode("Reshape", {{"x", x}, {"s", I({2}, {0, -1})}}, 1)).shape(), ElementsAre(2, 12));
  EXPECT_THAT(Out(RunNode("Reshape", {{"x", x}, {"s", I({3}, {-1, 0, 2})}}, 1)).shape(),
              ElementsAre(4, 3, 2));
  auto allow_zero = RunNode(
      "Reshape", {{"x", F({0, 3}, {})}, {"s", I({2}, {3, 0})}}, 1,
      [](NodeBuilder& n) { n.Int("allowzero", 1); }, 14);
  EXPECT_THAT(Out(allow_zero).shape(), ElementsAre(3, 0));
  EXPECT_THAT(RunNode("Reshape", {{"x", x}, {"s", I({2}, {5, -1})}}, 1).status().message(),
              HasSubstr("cannot reshape"));
  EXPECT_THAT(RunNode("Reshape", {{"x", x}, {"s", I({2}, {-1, -1})}}, 1).status().message(),
              HasSubstr("more than one"));
  auto attr = RunNode(
      "Reshape", {{"x", x}}, 1,
      [](NodeBuilder& n) {
        n.Ints("shape", {6, 4});
      },
      1);
  EXPECT_THAT(Out(attr).shape(), ElementsAre(6, 4));
}

TEST(OnnxDenseTest, FlattenSqueezeUnsqueeze) {
  const Tensor x = F({2, 1, 3}, std::vector<float>(6));
  EXPECT_THAT(Out(RunNode("Flatten", {{"x", x}}, 1)).shape(), ElementsAre(2, 3));
  EXPECT_THAT(Out(RunNode("Flatten", {{"x", x}}, 1, [](NodeBuilder& n) { n.Int("axis", 0); })).shape(),
              ElementsAre(1, 6));
  EXPECT_THAT(Out(RunNode("Flatten", {{"x", x}}, 1, [](NodeBuilder& n) { n.Int("axis", -1); })).shape(),
              ElementsAre(2, 3));
  EXPECT_THAT(Out(RunNode("Squeeze", {{"x", x}}, 1)).shape(), ElementsAre(2, 3));
  EXPECT_THAT(Out(RunNode("Squeeze", {{"x", x}, {"a", I({1}, {-2})}}, 1)).shape(), ElementsAre(2, 3));
  EXPECT_THAT(Out(RunNode(
                      "Squeeze", {{"x", x}}, 1, [](NodeBuilder& n) { n.Ints("axes", {1}); }, 11))
                  .shape(),
              ElementsAre(2, 3));
  EXPECT_THAT(RunNode("Squeeze", {{"x", x}, {"a", I({1}, {0})}}, 1).status().message(), HasSubstr("not 1"));
  EXPECT_THAT(Out(RunNode("Unsqueeze", {{"x", x}, {"a", I({2}, {0, -1})}}, 1)).shape(),
              ElementsAre(1, 2, 1, 3, 1));
  EXPECT_THAT(Out(RunNode(
                      "Unsqueeze", {{"x", x}}, 1, [](NodeBuilder& n) { n.Ints("axes", {1}); }, 11))
                  .shape(),
              ElementsAre(2, 1, 1, 3));
  EXPECT_FALSE(RunNode("Unsqueeze", {{"x", x}, {"a", I({2}, {0, 0})}}, 1).ok());
}

TEST(OnnxDenseTest, TransposeSliceGather) {
  const Tensor x = F({2, 3}, {1, 2, 3, 4, 5, 6});
  auto t = RunNode("Transpose", {{"x", x}}, 1);
  EXPECT_THAT(Out(t).shape(), ElementsAre(3, 2));
  EXPECT_THAT(V<float>(t), ElementsAre(1, 4, 2, 5, 3, 6));
  EXPECT_FALSE(RunNode("Transpose", {{"x", x}}, 1, [](NodeBuilder& n) { n.Ints("perm", {0, 0}); }).ok());

  auto s = RunNode(
      "Slice",
      {{"x", x}, {"st", I({1}, {-1})}, {"en", I({1}, {-100})}, {"ax", I({1}, {1})}, {"sp", I({1}, {-2})}}, 1);
  EXPECT_THAT(Out(s).shape(), ElementsAre(2, 2));
  EXPECT_THAT(V<float>(s), ElementsAre(3, 1, 6, 4));
  auto s2 = RunNode("Slice", {{"x", x}, {"st", I({2}, {1, 1})}, {"en", I({2}, {INT64_MAX, 2})}}, 1);
  EXPECT_THAT(V<float>(s2), ElementsAre(5));
  auto s_attr = RunNode(
      "Slice", {{"x", x}}, 1,
      [](NodeBuilder& n) { n.Ints("starts", {0}).Ints("ends", {2}).Ints("axes", {1}); }, 9);
  EXPECT_THAT(V<float>(s_attr), ElementsAre(1, 2, 4, 5));
  EXPECT_FALSE(
      RunNode("Slice",
              {{"x", x}, {"st", I({1}, {0})}, {"en", I({1}, {1})}, {"ax", I({1}, {0})}, {"sp", I({1}, {0})}},
              1)
          .ok());

  auto g =
      RunNode("Gather", {{"x", x}, {"i", I({2, 1}, {-1, 0})}}, 1, [](NodeBuilder& n) { n.Int("axis", 1); });
  EXPECT_THAT(Out(g).shape(), ElementsAre(2, 2, 1));
  EXPECT_THAT(V<float>(g), ElementsAre(3, 1, 6, 4));
  auto oob = RunNode("Gather", {{"x", x}, {"i", I({1}, {2})}}, 1);
  EXPECT_THAT(oob.status().message(), HasSubstr("out of range"));
}

TEST(OnnxDenseTest, ExpandTileConcatSplit) {
  auto e = RunNode("Expand", {{"x", F({2, 1}, {1, 2})}, {"s", I({3}, {2, 1, 3})}}, 1);
  EXPECT_THAT(Out(e).shape(), ElementsAre(2, 2, 3));
  EXPECT_THAT(V<float>(e), ElementsAre(1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2));
  auto huge = RunNode("Expand", {{"x", F({1}, {1})}, {"s", I({3}, {1 << 20, 1 << 20, 1 << 20})}}, 1);
  EXPECT_THAT(huge.status().message(), HasSubstr("exceeds"));
  auto t = RunNode("Tile", {{"x", F({1, 2}, {1, 2})}, {"r", I({2}, {2, 2})}}, 1);
  EXPECT_THAT(V<float>(t), ElementsAre(1, 2, 1, 2, 1, 2, 1, 2));
  auto c = RunNode("Concat", {{"a", F({1, 2}, {1, 2})}, {"b", F({1, 1}, {3})}}, 1,
                   [](NodeBuilder& n) { n.Int("axis", -1); });
  EXPECT_THAT(V<float>(c), ElementsAre(1, 2, 3));
  EXPECT_FALSE(RunNode("Concat", {{"a", F({1, 2}, {1, 2})}, {"b", F({2, 1}, {3, 4})}}, 1, [](NodeBuilder& n) {
                 n.Int("axis", 1);
               }).ok());
  auto sp = RunNode("Split", {{"x", F({5}, {1, 2, 3, 4, 5})}, {"s", I({2}, {2, 3})}}, 2);
  EXPECT_THAT(V<float>(sp, 0), ElementsAre(1, 2));
  EXPECT_THAT(V<float>(sp, 1), ElementsAre(3, 4, 5));
}

TEST(OnnxDenseTest, ShapeSizeConstantOfShapeRange) {
  const Tensor x = F({2, 3, 4}, std::vector<float>(24));
  EXPECT_THAT(V<int64_t>(RunNode("Shape", {{"x", x}}, 1)), ElementsAre(2, 3, 4));
  EXPECT_THAT(V<int64_t>(RunNode(
                  "Shape", {{"x", x}}, 1, [](NodeBuilder& n) { n.Int("start", -2); }, 15)),
              ElementsAre(3, 4));
  EXPECT_THAT(V<int64_t>(RunNode("Size", {{"x", x}}, 1)), ElementsAre(24));
  auto c = RunNode("ConstantOfShape", {{"s", I({2}, {2, 2})}}, 1, [](NodeBuilder& n) {
    n.Tensor("value", testing::MakeTensorProto<int64_t>("", {1}, {7}));
  });
  EXPECT_THAT(V<int64_t>(c), ElementsAre(7, 7, 7, 7));
  EXPECT_THAT(V<float>(RunNode("Range", {{"a", F({}, {1})}, {"b", F({}, {2})}, {"c", F({}, {0.25f})}}, 1)),
              ElementsAre(1, 1.25f, 1.5f, 1.75f));
  EXPECT_THAT(V<int64_t>(RunNode("Range", {{"a", I({}, {5})}, {"b", I({}, {0})}, {"c", I({}, {-2})}}, 1)),
              ElementsAre(5, 3, 1));
  EXPECT_FALSE(RunNode("Range", {{"a", I({}, {0})}, {"b", I({}, {INT64_MAX})}, {"c", I({}, {1})}}, 1).ok());
}

// --- Reductions -------------------------------------------------------------------------------

TEST(OnnxDenseTest, ReductionsWithAttributeAndInputAxes) {
  const Tensor x = F({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_THAT(V<float>(RunNode("ReduceSum", {{"x", x}, {"a", I({1}, {1})}}, 1)), ElementsAre(6, 15));
  EXPECT_THAT(Out(RunNode("ReduceSum", {{"x", x}, {"a", I({1}, {1})}}, 1)).shape(), ElementsAre(2, 1));
  EXPECT_THAT(
      V<float>(RunNode(
          "ReduceSum", {{"x", x}}, 1, [](NodeBuilder& n) { n.Ints("axes", {0}).Int("keepdims", 0); }, 11)),
      ElementsAre(5, 7, 9));
  EXPECT_THAT(V<float>(RunNode("ReduceSum", {{"x", x}}, 1)), ElementsAre(21));
  EXPECT_THAT(
      Out(RunNode("ReduceSum", {{"x", x}}, 1, [](NodeBuilder& n) { n.Int("noop_with_empty_axes", 1); }))
          .shape(),
      ElementsAre(2, 3));
  EXPECT_THAT(V<float>(RunNode("ReduceMean", {{"x", x}}, 1, [](NodeBuilder& n) { n.Ints("axes", {1}); })),
              ElementsAre(2, 5));
  EXPECT_THAT(V<float>(RunNode("ReduceMax", {{"x", x}, {"a", I({1}, {0})}}, 1, {}, 18)),
              ElementsAre(4, 5, 6));
  EXPECT_THAT(V<float>(RunNode("ReduceMin", {{"x", x}}, 1, [](NodeBuilder& n) { n.Ints("axes", {-1}); })),
              ElementsAre(1, 4));
  EXPECT_THAT(V<float>(RunNode("ReduceProd", {{"x", x}}, 1, [](NodeBuilder& n) { n.Ints("axes", {1}); })),
              ElementsAre(6, 120));
  EXPECT_THAT(
      V<float>(RunNode("ReduceSumSquare", {{"x", x}}, 1, [](NodeBuilder& n) { n.Ints("axes", {1}); })),
      ElementsAre(14, 77));
  EXPECT_THAT(V<float>(RunNode("ReduceLogSumExp", {{"x", F({2}, {1000, 1000})}}, 1)),
              ElementsAre(FloatNear(1000 + std::log(2.0f), 1e-3)));
  EXPECT_FALSE(RunNode("ReduceSum", {{"x", x}, {"a", I({1}, {2})}}, 1).ok());
}

TEST(OnnxDenseTest, ArgMaxArgMin) {
  const Tensor x = F({2, 3}, {1, 3, 3, 0, -1, 0});
  EXPECT_THAT(V<int64_t>(RunNode("ArgMax", {{"x", x}}, 1, [](NodeBuilder& n) { n.Int("axis", 1); })),
              ElementsAre(1, 0));
  EXPECT_THAT(V<int64_t>(RunNode("ArgMax", {{"x", x}}, 1,
                                 [](NodeBuilder& n) { n.Int("axis", 1).Int("select_last_index", 1); })),
              ElementsAre(2, 2));
  auto min = RunNode("ArgMin", {{"x", x}}, 1, [](NodeBuilder& n) { n.Int("keepdims", 0); });
  EXPECT_THAT(Out(min).shape(), ElementsAre(3));
  EXPECT_THAT(V<int64_t>(min), ElementsAre(1, 1, 1));
}

TEST(OnnxDenseTest, SoftmaxAxisSemanticsBeforeAndFromOpset13) {
  const Tensor x = F({1, 2, 2}, {0, 0, 0, std::log(3.0f)});
  // Opset 11, axis 1: normalized over the flattened [2*2].
  auto old = RunNode("Softmax", {{"x", x}}, 1, {}, 11);
  EXPECT_THAT(V<float>(old), ElementsAre(FloatNear(1.0f / 6, 1e-6), FloatNear(1.0f / 6, 1e-6),
                                         FloatNear(1.0f / 6, 1e-6), FloatNear(0.5f, 1e-6)));
  // Opset 13, axis -1: over the last axis only.
  auto now = RunNode("Softmax", {{"x", x}}, 1, {}, 13);
  EXPECT_THAT(V<float>(now), ElementsAre(0.5f, 0.5f, FloatNear(0.25f, 1e-6), FloatNear(0.75f, 1e-6)));
  auto log = RunNode("LogSoftmax", {{"x", x}}, 1, {}, 13);
  EXPECT_THAT(V<float>(log), ElementsAre(FloatNear(std::log(0.5f), 1e-6), FloatNear(std::log(0.5f), 1e-6),
                                         FloatNear(std::log(0.25f), 1e-6), FloatNear(std::log(0.75f), 1e-6)));
}

TEST(OnnxDenseTest, TopKKeepsLowerIndexOnTies) {
  const Tensor x = F({2, 4}, {1, 3, 3, 2, 5, 4, 6, 4});
  auto r = RunNode("TopK", {{"x", x}, {"k", I({1}, {2})}}, 2);
  EXPECT_THAT(V<float>(r, 0), ElementsAre(3, 3, 6, 5));
  EXPECT_THAT(V<int64_t>(r, 1), ElementsAre(1, 2, 2, 0));
  auto smallest =
      RunNode("TopK", {{"x", x}, {"k", I({1}, {2})}}, 2, [](NodeBuilder& n) { n.Int("largest", 0); });
  EXPECT_THAT(V<float>(smallest, 0), ElementsAre(1, 2, 4, 4));
  EXPECT_THAT(V<int64_t>(smallest, 1), ElementsAre(0, 3, 1, 3));
  EXPECT_THAT(RunNode("TopK", {{"x", x}, {"k", I({1}, {5})}}, 2).status().message(),
              HasSubstr("out of range"));
}

// --- Load-time checks ---------------------------------------------------------------------------

TEST(OnnxDenseTest, ArityAndAttributeErrorsNameTheNode) {
  auto arity = RunNode("Add", {{"a", F({1}, {1})}}, 1);
  EXPECT_THAT(arity.status().message(), HasSubstr("node 'n' (Add): takes 2 inputs, has 1"));
  auto attr = RunNode("Softmax", {{"x", F({1}, {1})}}, 1, [](NodeBuilder& n) { n.Float("axis", 1); });
  EXPECT_THAT(attr.status().message(), HasSubstr("attribute 'axis' must be an int, got float"));
  auto constant = RunNode("Constant", {}, 1);
  EXPECT_THAT(constant.status().message(), HasSubstr("no value"));
}

}  // namespace
}  // namespace ferry::serving::onnx
