// Unit tests of the ai.onnx.ml kernels, built from small hand-written
// NodeProtos. Expected values follow onnxruntime's semantics; the corpus
// test (tests/serving/test_onnx_corpus.py) checks real converter output.
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ferry/serving/runtimes/onnx/kernel.h"
#include "onnx/onnx_pb.h"

namespace ferry::serving::onnx {
namespace {

using ::testing::ElementsAre;
using ::testing::FloatNear;
using ::testing::HasSubstr;
using ::testing::Pointwise;

class NodeBuilder {
 public:
  NodeBuilder(std::string op, int inputs = 1, int outputs = 1, std::string name = "n") {
    node_.set_op_type(std::move(op));
    node_.set_domain("ai.onnx.ml");
    node_.set_name(std::move(name));
    for (int i = 0; i < inputs; ++i) node_.add_input("in" + std::to_string(i));
    for (int i = 0; i < outputs; ++i) node_.add_output("out" + std::to_string(i));
  }
  NodeBuilder& Ints(const std::string& name, std::vector<int64_t> v) {
    auto* a = Attr(name, ::onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
    return *this;
  }
  NodeBuilder& Floats(const std::string& name, std::vector<float> v) {
    auto* a = Attr(name, ::onnx::AttributeProto::FLOATS);
    for (float x : v) a->add_floats(x);
    return *this;
  }
  NodeBuilder& Strings(const std::string& name, std::vector<std::string> v) {
    auto* a = Attr(name, ::onnx::AttributeProto::STRINGS);
    for (auto& x : v) a->add_strings(x);
    return *this;
  }
  NodeBuilder& Int(const std::string& name, int64_t v) {
    Attr(name, ::onnx::AttributeProto::INT)->set_i(v);
    return *this;
  }
  NodeBuilder& Float(const std::string& name, float v) {
    Attr(name, ::onnx::AttributeProto::FLOAT)->set_f(v);
    return *this;
  }
  NodeBuilder& String(const std::string& name, std::string v) {
    Attr(name, ::onnx::AttributeProto::STRING)->set_s(std::move(v));
    return *this;
  }
  NodeBuilder& DoubleTensor(const std::string& name, std::vector<double> v) {
    auto* t = Attr(name, ::onnx::AttributeProto::TENSOR)->mutable_t();
    t->set_data_type(::onnx::TensorProto::DOUBLE);
    t->add_dims(static_cast<int64_t>(v.size()));
    for (double x : v) t->add_double_data(x);
    return *this;
  }
  NodeBuilder& Int64Tensor(const std::string& name, std::vector<int64_t> v) {
    auto* t = Attr(name, ::onnx::AttributeProto::TENSOR)->mutable_t();
    t->set_data_type(::onnx::TensorProto::INT64);
    t->add_dims(static_cast<int64_t>(v.size()));
    for (int64_t x : v) t->add_int64_data(x);
    return *this;
  }
  NodeBuilder& StringTensor(const std::string& name, std::vector<std::string> v) {
    auto* t = Attr(name, ::onnx::AttributeProto::TENSOR)->mutable_t();
    t->set_data_type(::onnx::TensorProto::STRING);
    t->add_dims(static_cast<int64_t>(v.size()));
    for (auto& x : v) t->add_string_data(x);
    return *this;
  }
  const ::onnx::NodeProto& proto() const { return node_; }

 private:
  ::onnx::AttributeProto* Attr(const std::string& name, ::onnx::AttributeProto::AttributeType type) {
    auto* a = node_.add_attribute();
    a->set_name(name);
    a->set_type(type);
    return a;
  }
  ::onnx::NodeProto node_;
};

const KernelRegistry& Registry() {
  static const KernelRegistry* r = [] {
    auto* reg = new KernelRegistry();
    Status st = RegisterMlKernels(*reg);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return reg;
  }();
  return *r;
}

Result<std::unique_ptr<Kernel>> Make(const NodeBuilder& b, int64_t opset = 3) {
  return Registry().Create(NodeInfo(b.proto(), opset));
}

std::unique_ptr<Kernel> MustMake(const NodeBuilder& b, int64_t opset = 3) {
  auto k = Make(b, opset);
  EXPECT_TRUE(k.ok()) << k.status().ToString();
  return k.ok() ? std::move(k).value() : nullptr;
}

Result<std::vector<Value>> RunKernel(const Kernel& k, std::vector<Value> inputs, int outputs = 1) {
  std::vector<const Value*> ptrs;
  for (const Value& v : inputs) ptrs.push_back(&v);
  std::vector<Value> out(static_cast<size_t>(outputs));
  RETURN_IF_ERROR(k.Run(ptrs, out));
  return out;
}

std::vector<Value> MustRun(const Kernel& k, std::vector<Value> inputs, int outputs = 1) {
  auto r = RunKernel(k, std::move(inputs), outputs);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : std::vector<Value>(static_cast<size_t>(outputs));
}

Tensor Floats(Shape shape, std::vector<float> v) { return Tensor::From<float>(std::move(shape), std::move(v)); }

template <typename T>
std::vector<T> Data(const Value& v) {
  auto d = std::get<Tensor>(v).data<T>();
  return {d.begin(), d.end()};
}

const Shape& ShapeOf(const Value& v) { return std::get<Tensor>(v).shape(); }

// Two stumps on feature 0 (tree 0: x <= 0.5 ? 1 : 2) and feature 1
// (tree 1: x <= 0 ? 10 : 20), listed as the converters do.
NodeBuilder Stumps(std::string op = "TreeEnsembleRegressor") {
  NodeBuilder b(std::move(op));
  b.Ints("nodes_treeids", {0, 0, 0, 1, 1, 1})
      .Ints("nodes_nodeids", {0, 1, 2, 0, 1, 2})
      .Ints("nodes_featureids", {0, 0, 0, 1, 0, 0})
      .Strings("nodes_modes", {"BRANCH_LEQ", "LEAF", "LEAF", "BRANCH_LEQ", "LEAF", "LEAF"})
      .Floats("nodes_values", {0.5f, 0, 0, 0.f, 0, 0})
      .Ints("nodes_truenodeids", {1, 0, 0, 1, 0, 0})
      .Ints("nodes_falsenodeids", {2, 0, 0, 2, 0, 0});
  return b;
}

NodeBuilder StumpRegressor(std::string aggregate = "SUM") {
  NodeBuilder b = Stumps();
  b.Int("n_targets", 1)
      .String("aggregate_function", std::move(aggregate))
      .Ints("target_treeids", {0, 0, 1, 1})
      .Ints("target_nodeids", {1, 2, 1, 2})
      .Ints("target_ids", {0, 0, 0, 0})
      .Floats("target_weights", {1, 2, 10, 20});
  return b;
}

TEST(OnnxMlTreeTest, RegressorSumsTreesAndAddsBaseValue) {
  NodeBuilder b = StumpRegressor();
  b.Floats("base_values", {0.25f});
  auto k = MustMake(b);
  auto out = MustRun(*k, {Floats({3, 2}, {0, -1, 1, -1, 1, 1})});
  EXPECT_EQ(ShapeOf(out[0]), (Shape{3, 1}));
  EXPECT_THAT(Data<float>(out[0]), ElementsAre(11.25f, 12.25f, 22.25f));
}

TEST(OnnxMlTreeTest, RegressorAggregates) {
  const std::vector<float> rows = {0, -1, 1, 1};
  EXPECT_THAT(Data<float>(MustRun(*MustMake(StumpRegressor("AVERAGE")), {Floats({2, 2}, rows)})[0]),
              ElementsAre(5.5f, 11.f));
  EXPECT_THAT(Data<float>(MustRun(*MustMake(StumpRegressor("MIN")), {Floats({2, 2}, rows)})[0]),
              ElementsAre(1.f, 2.f));
  EXPECT_THAT(Data<float>(MustRun(*MustMake(StumpRegressor("MAX")), {Floats({2, 2}, rows)})[0]),
              ElementsAre(10.f, 20.f));
}

TEST(OnnxMlTreeTest, RankOneInputIsOneRowAndOtherInputTypesWork) {
  auto k = MustMake(StumpRegressor());
  auto out = MustRun(*k, {Floats({2}, {1, 1})});
  EXPECT_EQ(ShapeOf(out[0]), (Shape{1, 1}));
  EXPECT_THAT(Data<float>(out[0]), ElementsAre(22.f));
  auto d = MustRun(*k, {Tensor::From<double>({1, 2}, {0.0, 1.0})});
  EXPECT_THAT(Data<float>(d[0]), ElementsAre(21.f));
  auto i = MustRun(*k, {Tensor::From<int64_t>({1, 2}, {1, 0})});
  EXPECT_THAT(Data<float>(i[0]), ElementsAre(12.f));
}

TEST(OnnxMlTreeTest, ManyRowsMatchRowByRow) {
  // More rows than one evaluation block, against one-row evaluations.
  auto k = MustMake(StumpRegressor());
  std::vector<float> x;
  for (int r = 0; r < 300; ++r) {
    x.push_back(static_cast<float>(r % 3) * 0.4f);
    x.push_back(static_cast<float>(r % 5) - 2.f);
  }
  auto all = Data<float>(MustRun(*k, {Floats({300, 2}, x)})[0]);
  ASSERT_EQ(all.size(), 300u);
  for (int r = 0; r < 300; ++r) {
    auto one = Data<float>(MustRun(*k, {Floats({1, 2}, {x[2 * r], x[2 * r + 1]})})[0]);
    EXPECT_EQ(one[0], all[static_cast<size_t>(r)]) << "row " << r;
  }
}

TEST(OnnxMlTreeTest, MissingValuesFollowTheirTrack) {
  NodeBuilder b = StumpRegressor();
  b.Ints("nodes_missing_value_tracks_true", {1, 0, 0, 0, 0, 0});
  auto k = MustMake(b);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // Tree 0 sends NaN to its true leaf (1); tree 1 has no track, NaN <= 0
  // is false so it goes to the false leaf (20).
  EXPECT_THAT(Data<float>(MustRun(*k, {Floats({1, 2}, {nan, nan})})[0]), ElementsAre(21.f));
}

TEST(OnnxMlTreeTest, MixedModesAndDoubleThresholds) {
  NodeBuilder b("TreeEnsembleRegressor");
  // node 0: x0 < 1 ? node 1 : node 2; node 1: x1 == 3 ? leaf 3 : leaf 4;
  // node 2: x1 >= 0.1 (double threshold) ? leaf 5 : leaf 6.
  b.Int("n_targets", 1)
      .Ints("nodes_treeids", {0, 0, 0, 0, 0, 0, 0})
      .Ints("nodes_nodeids", {0, 1, 2, 3, 4, 5, 6})
      .Ints("nodes_featureids", {0, 1, 1, 0, 0, 0, 0})
      .Strings("nodes_modes", {"BRANCH_LT", "BRANCH_EQ", "BRANCH_GTE", "LEAF", "LEAF", "LEAF", "LEAF"})
      .DoubleTensor("nodes_values_as_tensor", {1, 3, 0.1, 0, 0, 0, 0})
      .Ints("nodes_truenodeids", {1, 3, 5, 0, 0, 0, 0})
      .Ints("nodes_falsenodeids", {2, 4, 6, 0, 0, 0, 0})
      .Ints("target_treeids", {0, 0, 0, 0})
      .Ints("target_nodeids", {3, 4, 5, 6})
      .Ints("target_ids", {0, 0, 0, 0})
      .Floats("target_weights", {3, 4, 5, 6});
  auto k = MustMake(b);
  auto out = MustRun(*k, {Tensor::From<double>({4, 2}, {0, 3, 0, 2, 2, 0.1, 2, 0.09999999})});
  EXPECT_THAT(Data<float>(out[0]), ElementsAre(3.f, 4.f, 5.f, 6.f));
}

NodeBuilder StumpClassifier(std::vector<int64_t> class_ids, std::vector<float> weights) {
  NodeBuilder b = Stumps("TreeEnsembleClassifier");
  std::vector<int64_t> trees, nodes;
  for (size_t i = 0; i < class_ids.size(); ++i) {
    const size_t leaf = i % 4;  // cycles over the four leaves
    trees.push_back(leaf < 2 ? 0 : 1);
    nodes.push_back(leaf % 2 == 0 ? 1 : 2);
  }
  b.Ints("class_treeids", trees).Ints("class_nodeids", nodes).Ints("class_ids", class_ids).Floats("class_weights",
                                                                                                  weights);
  return b;
}

TEST(OnnxMlTreeTest, MulticlassClassifierVotesAndSoftmax) {
  NodeBuilder b = StumpClassifier({0, 1, 2, 0, 1, 1, 2, 2}, {1, 2, 3, 1, 1, 1, 1, 1});
  b.Ints("classlabels_int64s", {7, 8, 9}).String("post_transform", "SOFTMAX");
  auto k = MustMake(b);
  auto out = MustRun(*k, {Floats({1, 2}, {0, -1})}, 2);
  // Leaves reached: tree 0 node 1 (class 0: 1, class 1: 1), tree 1 node 1
  // (class 2: 3 + 1) -> scores [1, 1, 4] -> class 9.
  EXPECT_THAT(Data<int64_t>(out[0]), ElementsAre(9));
  const float e = std::exp(-3.f), s = 2 * e + 1;
  EXPECT_THAT(Data<float>(out[1]), Pointwise(FloatNear(1e-6f), std::vector<float>{e / s, e / s, 1 / s}));
}

TEST(OnnxMlTreeTest, BinaryClassifierWithOneClassColumnUsesLogistic) {
  // Every weight on class 0 with mixed signs, LOGISTIC: onnxruntime's binary
  // case writes [logistic(-s), logistic(s)] and labels by the sign of s.
  NodeBuilder b = StumpClassifier({0, 0, 0, 0}, {-1, 2, 0.5f, 3});
  b.Ints("classlabels_int64s", {4, 9}).String("post_transform", "LOGISTIC");
  auto k = MustMake(b);
  auto out = MustRun(*k, {Floats({2, 2}, {0, -1, 1, 1})}, 2);
  EXPECT_THAT(Data<int64_t>(out[0]), ElementsAre(4, 9));  // s = -0.5, then 5
  auto logistic = [](float v) { return 1 / (1 + std::exp(-v)); };
  EXPECT_THAT(Data<float>(out[1]), Pointwise(FloatNear(1e-6f), std::vector<float>{logistic(0.5f), logistic(-0.5f),
                                                                                   logistic(-5), logistic(5)}));
}

TEST(OnnxMlTreeTest, BinaryClassifierWithBothColumnsTransformsEach) {
  // Weights on class 1 only: class 0 has no score and reads 0.
  NodeBuilder b = StumpClassifier({1, 1, 1, 1}, {-1, 2, 0.5f, 3});
  b.Ints("classlabels_int64s", {4, 9}).String("post_transform", "LOGISTIC");
  auto out = MustRun(*MustMake(b), {Floats({1, 2}, {0, -1})}, 2);
  EXPECT_THAT(Data<int64_t>(out[0]), ElementsAre(4));
  EXPECT_THAT(Data<float>(out[1]),
              Pointwise(FloatNear(1e-6f), std::vector<float>{0.5f, 1 / (1 + std::exp(0.5f))}));
}

TEST(OnnxMlTreeTest, StringLabels) {
  NodeBuilder b = StumpClassifier({0, 1, 0, 1}, {0.9f, 0.1f, 0.2f, 0.8f});
  b.Strings("classlabels_strings", {"no", "yes"});
  auto k = MustMake(b);
  auto out = MustRun(*k, {Floats({1, 2}, {0, -1})}, 2);
  // Scores: class 0: 0.9 + 0.2... both weights of class 0 and 1 present,
  // not the binary case: label is 1 when class 1's score > 0.
  EXPECT_THAT(Data<std::string>(out[0]), ElementsAre("yes"));
  EXPECT_EQ(ShapeOf(out[1]), (Shape{1, 2}));
}

// --- bad models -----------------------------------------------------------

void ExpectLoadError(const NodeBuilder& b, const std::string& fragment) {
  auto k = Make(b);
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(k.status().message(), HasSubstr("node 'n'"));
  EXPECT_THAT(k.status().message(), HasSubstr(fragment));
}

TEST(OnnxMlTreeTest, RefusesMismatchedArrays) {
  NodeBuilder b = StumpRegressor();
  b.Ints("nodes_missing_value_tracks_true", {0, 1});
  ExpectLoadError(b, "nodes_missing_value_tracks_true");
  NodeBuilder c = Stumps();
  c.Int("n_targets", 1)
      .Ints("target_treeids", {0})
      .Ints("target_nodeids", {1, 2})
      .Ints("target_ids", {0})
      .Floats("target_weights", {1});
  ExpectLoadError(c, "must be equal");
}

TEST(OnnxMlTreeTest, RefusesClassIdOutOfRange) {
  NodeBuilder b = StumpClassifier({0, 1, 5, 0}, {1, 1, 1, 1});
  b.Ints("classlabels_int64s", {0, 1});
  ExpectLoadError(b, "class_ids[2] is 5");
}

TEST(OnnxMlTreeTest, RefusesMissingChild) {
  NodeBuilder b("TreeEnsembleRegressor");
  b.Int("n_targets", 1)
      .Ints("nodes_treeids", {0, 0})
      .Ints("nodes_nodeids", {0, 1})
      .Ints("nodes_featureids", {0, 0})
      .Strings("nodes_modes", {"BRANCH_LEQ", "LEAF"})
      .Floats("nodes_values", {0, 0})
      .Ints("nodes_truenodeids", {1, 0})
      .Ints("nodes_falsenodeids", {9, 0})
      .Ints("target_treeids", {0})
      .Ints("target_nodeids", {1})
      .Ints("target_ids", {0})
      .Floats("target_weights", {1});
  ExpectLoadError(b, "false child 9 does not exist");
}

TEST(OnnxMlTreeTest, RefusesCycles) {
  NodeBuilder b("TreeEnsembleRegressor");
  b.Int("n_targets", 1)
      .Ints("nodes_treeids", {0, 0, 0})
      .Ints("nodes_nodeids", {0, 1, 2})
      .Ints("nodes_featureids", {0, 0, 0})
      .Strings("nodes_modes", {"BRANCH_LEQ", "BRANCH_LEQ", "LEAF"})
      .Floats("nodes_values", {0, 0, 0})
      .Ints("nodes_truenodeids", {1, 0, 0})
      .Ints("nodes_falsenodeids", {2, 2, 0})
      .Ints("target_treeids", {0})
      .Ints("target_nodeids", {2})
      .Ints("target_ids", {0})
      .Floats("target_weights", {1});
  ExpectLoadError(b, "reached twice");
  // A node that is its own child.
  NodeBuilder self("TreeEnsembleRegressor");
  self.Int("n_targets", 1)
      .Ints("nodes_treeids", {0, 0})
      .Ints("nodes_nodeids", {0, 1})
      .Ints("nodes_featureids", {0, 0})
      .Strings("nodes_modes", {"BRANCH_LEQ", "LEAF"})
      .Floats("nodes_values", {0, 0})
      .Ints("nodes_truenodeids", {0, 0})
      .Ints("nodes_falsenodeids", {1, 0})
      .Ints("target_treeids", {0})
      .Ints("target_nodeids", {1})
      .Ints("target_ids", {0})
      .Floats("target_weights", {1});
  ExpectLoadError(self, "reached twice");
}

TEST(OnnxMlTreeTest, RefusesLeafWithoutWeightAndUnknownMode) {
  NodeBuilder b = Stumps();
  b.Int("n_targets", 1)
      .Ints("target_treeids", {0, 0, 1})
      .Ints("target_nodeids", {1, 2, 1})
      .Ints("target_ids", {0, 0, 0})
      .Floats("target_weights", {1, 2, 3});
  ExpectLoadError(b, "leaf tree 1 node 2 has no target weight");
  NodeBuilder m("TreeEnsembleRegressor");
  m.Int("n_targets", 1).Ints("nodes_treeids", {0}).Ints("nodes_nodeids", {0}).Ints("nodes_featureids", {0});
  m.Strings("nodes_modes", {"BRANCH_SIDEWAYS"}).Floats("nodes_values", {0}).Ints("nodes_truenodeids", {0});
  m.Ints("nodes_falsenodeids", {0});
  ExpectLoadError(m, "BRANCH_SIDEWAYS");
  NodeBuilder t = StumpRegressor();
  t.String("post_transform", "CUBE");
  ExpectLoadError(t, "post_transform");
}

TEST(OnnxMlTreeTest, RefusesBadRunInputs) {
  auto k = MustMake(StumpRegressor());
  auto few = RunKernel(*k, {Floats({1, 1}, {0})});
  ASSERT_FALSE(few.ok());
  EXPECT_THAT(few.status().message(), HasSubstr("feature 1 but the input has 1 features"));
  EXPECT_THAT(few.status().message(), HasSubstr("node 'n'"));
  auto strings = RunKernel(*k, {Tensor::From<std::string>({1, 2}, {"a", "b"})});
  ASSERT_FALSE(strings.ok());
  EXPECT_THAT(strings.status().message(), HasSubstr("string"));
  auto rank3 = RunKernel(*k, {Floats({1, 1, 2}, {0, 0})});
  ASSERT_FALSE(rank3.ok());
  EXPECT_THAT(rank3.status().message(), HasSubstr("rank"));
}

// --- linear and SVM ---------------------------------------------------------

TEST(OnnxMlLinearTest, RegressorTwoTargets) {
  NodeBuilder b("LinearRegressor");
  b.Floats("coefficients", {1, 2, 3, 4}).Floats("intercepts", {0.5f, -1}).Int("targets", 2);
  auto out = MustRun(*MustMake(b), {Floats({1, 2}, {1, 1})});
  EXPECT_EQ(ShapeOf(out[0]), (Shape{1, 2}));
  EXPECT_THAT(Data<float>(out[0]), ElementsAre(3.5f, 6.f));
  auto bad = RunKernel(*MustMake(b), {Floats({1, 3}, {1, 1, 1})});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("3 features, the model expects 2"));
}

TEST(OnnxMlLinearTest, BinaryClassifierAddsSecondColumn) {
  NodeBuilder b("LinearClassifier", 1, 2);
  b.Floats("coefficients", {1, -1}).Floats("intercepts", {0}).Ints("classlabels_ints", {3, 4});
  auto out = MustRun(*MustMake(b), {Floats({2, 2}, {0.75f, 0.5f, 0, 1})}, 2);
  EXPECT_THAT(Data<int64_t>(out[0]), ElementsAre(4, 3));
  EXPECT_THAT(Data<float>(out[1]), ElementsAre(0.75f, 0.25f, 2.f, -1.f));
}

TEST(OnnxMlLinearTest, MulticlassStringsWithLogistic) {
  NodeBuilder b("LinearClassifier", 1, 2);
  b.Floats("coefficients", {1, 0, 0, 1, -1, -1})
      .Floats("intercepts", {0, 0, 0})
      .Strings("classlabels_strings", {"a", "b", "c"})
      .String("post_transform", "LOGISTIC");
  auto out = MustRun(*MustMake(b), {Floats({1, 2}, {1, 2})}, 2);
  EXPECT_THAT(Data<std::string>(out[0]), ElementsAre("b"));
  auto z = Data<float>(out[1]);
  EXPECT_NEAR(z[0], 1 / (1 + std::exp(-1.f)), 1e-6);
  EXPECT_NEAR(z[2], 1 / (1 + std::exp(3.f)), 1e-6);
  NodeBuilder bad("LinearClassifier", 1, 2);
  bad.Floats("coefficients", {1, 0, 0}).Floats("intercepts", {0, 0}).Ints("classlabels_ints", {1, 2});
  ExpectLoadError(bad, "not a positive multiple");
}

TEST(OnnxMlSvmTest, RegressorRbf) {
  NodeBuilder b("SVMRegressor");
  b.String("kernel_type", "RBF")
      .Floats("kernel_params", {0.5f, 0, 3})
      .Floats("support_vectors", {0, 0, 1, 1})
      .Floats("coefficients", {2, -1})
      .Floats("rho", {0.25f})
      .Int("n_supports", 2);
  auto out = MustRun(*MustMake(b), {Floats({1, 2}, {1, 0})});
  const float want = 2 * std::exp(-0.5f) - std::exp(-0.5f) + 0.25f;
  EXPECT_NEAR(Data<float>(out[0])[0], want, 1e-6);
  NodeBuilder bad("SVMRegressor");
  bad.Floats("support_vectors", {0, 0, 1}).Floats("coefficients", {1, 1}).Floats("rho", {0}).Int("n_supports", 2);
  ExpectLoadError(bad, "support_vectors has 3 values for 2 vectors");
}

TEST(OnnxMlSvmTest, ClassifierVotes) {
  // Three classes, one support vector each, linear kernel.
  NodeBuilder b("SVMClassifier", 1, 2);
  b.Ints("vectors_per_class", {1, 1, 1})
      .Floats("support_vectors", {1, 0, 0, 1, -1, -1})
      .Floats("coefficients", {1, 1, -1, 1, -1, -1})
      .Floats("rho", {0, 0, 0})
      .Ints("classlabels_ints", {10, 20, 30})
      .String("kernel_type", "LINEAR");
  auto out = MustRun(*MustMake(b), {Floats({1, 2}, {2, 0})}, 2);
  EXPECT_EQ(ShapeOf(out[1]), (Shape{1, 3}));
  EXPECT_EQ(Data<int64_t>(out[0]).size(), 1u);
  NodeBuilder bad("SVMClassifier", 1, 2);
  bad.Ints("vectors_per_class", {1, 1}).Floats("support_vectors", {1, 0, 0, 1}).Floats("coefficients", {1});
  bad.Floats("rho", {0}).Ints("classlabels_ints", {1, 2});
  ExpectLoadError(bad, "coefficients has 1 values");
}

// --- transforms ---------------------------------------------------------------

TEST(OnnxMlTransformTest, ScalerBroadcastsAndChecksColumns) {
  NodeBuilder b("Scaler");
  b.Floats("offset", {1, 2}).Floats("scale", {2});
  auto k = MustMake(b);
  EXPECT_THAT(Data<float>(MustRun(*k, {Floats({1, 2}, {3, 3})})[0]), ElementsAre(4.f, 2.f));
  auto bad = RunKernel(*k, {Floats({1, 3}, {3, 3, 3})});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("offset has 2 values"));
}

TEST(OnnxMlTransformTest, Normalizer) {
  NodeBuilder l1("Normalizer");
  l1.String("norm", "L1");
  EXPECT_THAT(Data<float>(MustRun(*MustMake(l1), {Floats({1, 2}, {1, -3})})[0]), ElementsAre(0.25f, -0.75f));
  NodeBuilder l2("Normalizer");
  l2.String("norm", "L2");
  EXPECT_THAT(Data<float>(MustRun(*MustMake(l2), {Floats({1, 2}, {3, -4})})[0]), ElementsAre(0.6f, -0.8f));
  NodeBuilder mx("Normalizer");
  EXPECT_THAT(Data<float>(MustRun(*MustMake(mx), {Floats({1, 2}, {2, 4})})[0]), ElementsAre(0.5f, 1.f));
  NodeBuilder bad("Normalizer");
  bad.String("norm", "L3");
  ExpectLoadError(bad, "L3");
}

TEST(OnnxMlTransformTest, ImputerAndBinarizer) {
  NodeBuilder b("Imputer");
  b.Floats("imputed_value_floats", {7, 8}).Float("replaced_value_float", std::nanf(""));
  const float nan = std::nanf("");
  EXPECT_THAT(Data<float>(MustRun(*MustMake(b), {Floats({2, 2}, {nan, 1, 2, nan})})[0]), ElementsAre(7, 1, 2, 8));
  NodeBuilder bin("Binarizer");
  bin.Float("threshold", 0.5f);
  EXPECT_THAT(Data<float>(MustRun(*MustMake(bin), {Floats({3}, {0.5f, 0.6f, -1})})[0]), ElementsAre(0, 1, 0));
}

TEST(OnnxMlTransformTest, OneHotEncoder) {
  NodeBuilder b("OneHotEncoder");
  b.Strings("cats_strings", {"a", "b", "c"}).Int("zeros", 0);
  auto k = MustMake(b);
  auto out = MustRun(*k, {Tensor::From<std::string>({2, 1}, {"c", "a"})});
  EXPECT_EQ(ShapeOf(out[0]), (Shape{2, 1, 3}));
  EXPECT_THAT(Data<float>(out[0]), ElementsAre(0, 0, 1, 1, 0, 0));
  auto bad = RunKernel(*k, {Tensor::From<std::string>({1, 1}, {"zebra"})});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("zebra"));
}

TEST(OnnxMlTransformTest, LabelEncoderOpsets) {
  NodeBuilder v1("LabelEncoder");
  v1.Strings("classes_strings", {"x", "y"});
  auto k1 = MustMake(v1, 1);
  EXPECT_THAT(Data<int64_t>(MustRun(*k1, {Tensor::From<std::string>({3}, {"y", "x", "q"})})[0]),
              ElementsAre(1, 0, -1));
  EXPECT_THAT(Data<std::string>(MustRun(*k1, {Tensor::From<int64_t>({2}, {1, 5})})[0]), ElementsAre("y", "_Unused"));

  NodeBuilder v2("LabelEncoder");
  v2.Ints("keys_int64s", {3, 4}).Floats("values_floats", {0.5f, 1.5f}).Float("default_float", 9);
  EXPECT_THAT(Data<float>(MustRun(*MustMake(v2, 2), {Tensor::From<int64_t>({3}, {4, 3, 0})})[0]),
              ElementsAre(1.5f, 0.5f, 9.f));

  NodeBuilder v4("LabelEncoder");
  v4.StringTensor("keys_tensor", {"p", "q"}).Int64Tensor("values_tensor", {10, 20}).Int64Tensor("default_tensor", {-7});
  auto k4 = MustMake(v4, 4);
  EXPECT_THAT(Data<int64_t>(MustRun(*k4, {Tensor::From<std::string>({2}, {"q", "r"})})[0]), ElementsAre(20, -7));
  auto bad = RunKernel(*k4, {Floats({1}, {1})});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("must be a string tensor"));

  NodeBuilder mismatch("LabelEncoder");
  mismatch.Strings("keys_strings", {"a", "b"}).Ints("values_int64s", {1});
  auto m = Make(mismatch, 2);
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(m.status().message(), HasSubstr("keys has 2 entries, values 1"));
}

TEST(OnnxMlTransformTest, ArrayFeatureExtractorAndFeatureVectorizer) {
  NodeBuilder afe("ArrayFeatureExtractor", 2);
  auto k = MustMake(afe);
  auto out = MustRun(*k, {Floats({2, 3}, {1, 2, 3, 4, 5, 6}), Tensor::From<int64_t>({2}, {2, 0})});
  EXPECT_EQ(ShapeOf(out[0]), (Shape{2, 2}));
  EXPECT_THAT(Data<float>(out[0]), ElementsAre(3, 1, 6, 4));
  auto bad = RunKernel(*k, {Floats({1, 3}, {1, 2, 3}), Tensor::From<int64_t>({1}, {3})});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("index 3 is outside [0, 3)"));

  NodeBuilder fv("FeatureVectorizer", 2);
  fv.Ints("inputdimensions", {1, 3});
  auto v = MustRun(*MustMake(fv), {Tensor::From<int64_t>({2, 1}, {1, 2}), Floats({2, 2}, {3, 4, 5, 6})});
  EXPECT_EQ(ShapeOf(v[0]), (Shape{2, 4}));
  EXPECT_THAT(Data<float>(v[0]), ElementsAre(1, 3, 4, 0, 2, 5, 6, 0));
}

TEST(OnnxMlTransformTest, ZipMap) {
  NodeBuilder b("ZipMap");
  b.Ints("classlabels_int64s", {5, 6});
  auto k = MustMake(b);
  auto out = MustRun(*k, {Floats({2, 2}, {0.1f, 0.9f, 0.3f, 0.7f})});
  const auto& seq = std::get<MapSequence>(out[0]);
  EXPECT_EQ(seq.rows, 2);
  EXPECT_THAT(seq.int64_keys, ElementsAre(5, 6));
  EXPECT_THAT(seq.values, ElementsAre(0.1f, 0.9f, 0.3f, 0.7f));
  auto bad = RunKernel(*k, {Floats({1, 3}, {1, 2, 3})});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("3 columns for 2 class labels"));
}

TEST(OnnxMlRegistryTest, MapOperatorsAreNotSupported) {
  NodeBuilder b("DictVectorizer");
  auto k = Make(b);
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.status().code(), StatusCode::kUnimplemented);
  EXPECT_THAT(k.status().message(), HasSubstr("DictVectorizer"));
}

}  // namespace
}  // namespace ferry::serving::onnx
