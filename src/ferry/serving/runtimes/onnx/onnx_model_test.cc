#include "ferry/serving/runtimes/onnx/onnx_model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "ferry/serving/runtimes/onnx/graph.h"
#include "ferry/serving/runtimes/onnx/testing/model_builder.h"

namespace ferry::serving::onnx {
namespace {

using protocol::DataType;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::MakeInput;
using testing::ModelBuilder;
using testing::Values;

std::shared_ptr<const Model> Load(const ModelBuilder& b) {
  auto m = LoadOnnxModel(b.Bytes());
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? *m : nullptr;
}

Status LoadError(const ModelBuilder& b) {
  auto m = LoadOnnxModel(b.Bytes());
  return m.ok() ? Status::OK() : m.status();
}

TEST(OnnxModelTest, AddBroadcastsAndMapsTheSignature) {
  ModelBuilder b;
  b.Input("x", testing::kFloat, {-1, 3}).Output("y", testing::kFloat, {-1, 3});
  b.Initializer<float>("bias", {3}, {1, 2, 3});
  b.Node("Add", {"x", "bias"}, {"y"});
  auto model = Load(b);
  ASSERT_NE(model, nullptr);
  const ModelSignature& sig = model->signature();
  EXPECT_EQ(sig.platform, "onnxruntime_onnx");
  ASSERT_EQ(sig.inputs.size(), 1u);
  EXPECT_EQ(sig.inputs[0].name, "x");
  EXPECT_EQ(sig.inputs[0].datatype, DataType::kFp32);
  EXPECT_THAT(sig.inputs[0].shape, ElementsAre(-1, 3));
  ASSERT_EQ(sig.outputs.size(), 1u);
  EXPECT_THAT(sig.outputs[0].shape, ElementsAre(-1, 3));
  EXPECT_GT(sig.max_batch_size, 0);

  auto out = model->Infer({MakeInput<float>("x", {2, 3}, {0, 0, 0, 10, 20, 30})}, {});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0].name, "y");
  EXPECT_EQ((*out)[0].datatype, DataType::kFp32);
  EXPECT_THAT((*out)[0].shape, ElementsAre(2, 3));
  EXPECT_THAT(Values<float>((*out)[0]), ElementsAre(1, 2, 3, 11, 22, 33));
}

TEST(OnnxModelTest, FixedFirstDimensionDoesNotBatch) {
  ModelBuilder b;
  b.Input("x", testing::kFloat, {2, 3}).Output("y", testing::kFloat, {2, 3});
  b.Node("Identity", {"x"}, {"y"});
  auto model = Load(b);
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->signature().max_batch_size, 0);
}

TEST(OnnxModelTest, MatMulAndGemmAgree) {
  // y1 = x @ W; y2 = Gemm(x, W^T stored transposed, c) with alpha 2, beta 0.5.
  ModelBuilder b;
  b.Input("x", testing::kFloat, {-1, 2});
  b.Output("y1", testing::kFloat, {-1, 3}).Output("y2", testing::kFloat, {-1, 3});
  b.Initializer<float>("W", {2, 3}, {1, 2, 3, 4, 5, 6});
  b.Initializer<float>("Wt", {3, 2}, {1, 4, 2, 5, 3, 6});
  b.Initializer<float>("c", {3}, {10, 20, 30});
  b.Node("MatMul", {"x", "W"}, {"y1"});
  b.Node("Gemm", {"x", "Wt", "c"}, {"y2"}).Int("transB", 1).Float("alpha", 2).Float("beta", 0.5f);
  auto model = Load(b);
  ASSERT_NE(model, nullptr);
  auto out = model->Infer({MakeInput<float>("x", {2, 2}, {1, 1, 0, 2})}, {});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_THAT(Values<float>((*out)[0]), ElementsAre(5, 7, 9, 8, 10, 12));
  EXPECT_THAT(Values<float>((*out)[1]), ElementsAre(15, 24, 33, 21, 30, 39));
}

TEST(OnnxModelTest, RequestedOutputsInTheOrderAsked) {
  ModelBuilder b;
  b.Input("x", testing::kInt64, {-1}).Output("a", testing::kInt64, {-1}).Output("b", testing::kDouble, {-1});
  b.Node("Identity", {"x"}, {"a"});
  b.Node("Cast", {"x"}, {"b"}).Int("to", testing::kDouble);
  auto model = Load(b);
  ASSERT_NE(model, nullptr);
  auto out = model->Infer({MakeInput<int64_t>("x", {2}, {7, -1})}, {"b", "a"});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out->size(), 2u);
  EXPECT_EQ((*out)[0].name, "b");
  EXPECT_EQ((*out)[0].datatype, DataType::kFp64);
  EXPECT_THAT(Values<double>((*out)[0]), ElementsAre(7.0, -1.0));
  EXPECT_THAT(Values<int64_t>((*out)[1]), ElementsAre(7, -1));
  EXPECT_FALSE(model->Infer({MakeInput<int64_t>("x", {1}, {1})}, {"nope"}).ok());
}

TEST(OnnxModelTest, EveryDatatypeRoundTrips) {
  ModelBuilder b;
  b.Input("f", testing::kFloat, {-1}).Output("f2", testing::kFloat, {-1});
  b.Input("d", testing::kDouble, {-1}).Output("d2", testing::kDouble, {-1});
  b.Input("i", testing::kInt32, {-1}).Output("i2", testing::kInt32, {-1});
  b.Input("s", testing::kString, {-1}).Output("s2", testing::kString, {-1});
  b.Input("t", testing::kBool, {-1}).Output("t2", testing::kBool, {-1});
  for (const char* n : {"f", "d", "i", "s", "t"}) b.Node("Identity", {n}, {std::string(n) + "2"});
  auto model = Load(b);
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->signature().inputs[3].datatype, DataType::kBytes);
  EXPECT_EQ(model->signature().inputs[4].datatype, DataType::kBool);
  auto out = model->Infer(
      {MakeInput<float>("f", {1}, {1.5f}), MakeInput<double>("d", {1}, {2.5}),
       MakeInput<int32_t>("i", {2}, {3, 4}), MakeInput<std::string>("s", {2}, {"", std::string("a\0b", 3)}),
       MakeInput<bool>("t", {2}, {true, false})},
      {});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_THAT(Values<float>((*out)[0]), ElementsAre(1.5f));
  EXPECT_THAT(Values<double>((*out)[1]), ElementsAre(2.5));
  EXPECT_THAT(Values<int32_t>((*out)[2]), ElementsAre(3, 4));
  EXPECT_THAT(testing::Strings((*out)[3]), ElementsAre("", std::string("a\0b", 3)));
  EXPECT_THAT(Values<uint8_t>((*out)[4]), ElementsAre(1, 0));
}

TEST(OnnxModelTest, InitializerInputsAreConstantsAndFolded) {
  // An input with an initializer is not part of the signature; the Constant
  // and the Mul on constants fold away, leaving one step per call.
  ModelBuilder b;
  b.Input("x", testing::kFloat, {-1}).Input("k", testing::kFloat, {1}).Output("y", testing::kFloat, {-1});
  b.Initializer<float>("k", {1}, {2});
  b.Node("Constant", {}, {"three"}).Tensor("value", testing::MakeTensorProto<float>("", {1}, {3}));
  b.Node("Mul", {"k", "three"}, {"six"});
  b.Node("Add", {"x", "six"}, {"y"});
  auto model = Load(b);
  ASSERT_NE(model, nullptr);
  ASSERT_EQ(model->signature().inputs.size(), 1u);
  auto out = model->Infer({MakeInput<float>("x", {2}, {1, 2})}, {});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_THAT(Values<float>((*out)[0]), ElementsAre(7, 8));

  auto proto = std::make_unique<::onnx::ModelProto>(b.proto());
  auto graph = Graph::Load(std::move(proto), DefaultKernels());
  ASSERT_TRUE(graph.ok()) << graph.status().ToString();
  EXPECT_EQ((*graph)->step_count(), 1);
}

TEST(OnnxModelTest, NodesOutOfOrderAreSortedAndIntermediatesShared) {
  ModelBuilder b;
  b.Input("x", testing::kFloat, {-1}).Output("y", testing::kFloat, {-1}).Output("z", testing::kFloat, {-1});
  b.Node("Add", {"t", "t"}, {"y"});
  b.Node("Neg", {"x"}, {"t"});
  b.Node("Abs", {"t"}, {"z"});
  auto model = Load(b);
  ASSERT_NE(model, nullptr);
  auto out = model->Infer({MakeInput<float>("x", {2}, {1, -2})}, {});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_THAT(Values<float>((*out)[0]), ElementsAre(-2, 4));
  EXPECT_THAT(Values<float>((*out)[1]), ElementsAre(1, 2));
}

TEST(OnnxModelTest, OutputThatIsAnInputOrTwiceTheSameValue) {
  ModelBuilder b;
  b.Input("x", testing::kFloat, {-1}).Output("x", testing::kFloat, {-1});
  b.Output("y", testing::kFloat, {-1}).Output("y", testing::kFloat, {-1});
  b.Node("Neg", {"x"}, {"y"});
  auto model = Load(b);
  ASSERT_NE(model, nullptr);
  auto out = model->Infer({MakeInput<float>("x", {1}, {3})}, {});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out->size(), 3u);
  EXPECT_THAT(Values<float>((*out)[0]), ElementsAre(3));
  EXPECT_THAT(Values<float>((*out)[1]), ElementsAre(-3));
  EXPECT_THAT(Values<float>((*out)[2]), ElementsAre(-3));
}

TEST(OnnxModelTest, LoadsFromFile) {
  ModelBuilder b;
  b.Input("x", testing::kFloat, {-1}).Output("y", testing::kFloat, {-1});
  b.Node("Identity", {"x"}, {"y"});
  const auto path =
      std::filesystem::temp_directory_path() / ("ferry_onnx_test_" + std::to_string(::getpid()));
  {
    std::ofstream f(path, std::ios::binary);
    f << b.Bytes();
  }
  auto m = LoadOnnxModelFile(path.string());
  std::filesystem::remove(path);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  auto missing = LoadOnnxModelFile(path.string());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

// --- Bad models ---------------------------------------------------------------------

TEST(OnnxModelTest, RefusesBytesThatAreNotAModel) {
  EXPECT_EQ(LoadOnnxModel("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(LoadOnnxModel("this is not protobuf \xff\xff\xff").status().message(),
              HasSubstr("not an ONNX model"));
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    std::string junk(static_cast<size_t>(rng() % 300), '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    EXPECT_FALSE(LoadOnnxModel(junk).ok());
  }
}

TEST(OnnxModelTest, RefusesTruncatedModels) {
  ModelBuilder b;
  b.Input("x", testing::kFloat, {-1, 2}).Output("y", testing::kFloat, {-1, 3});
  b.Initializer<float>("W", {2, 3}, {1, 2, 3, 4, 5, 6});
  b.Node("MatMul", {"x", "W"}, {"y"});
  const std::string bytes = b.Bytes();
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto m = LoadOnnxModel(std::string_view(bytes).substr(0, n));
    if (m.ok()) {
      // A cut between fields can still parse; the model must then still run.
      auto out = (*m)->Infer({MakeInput<float>("x", {1, 2}, {1, 1})}, {});
      (void)out;
    }
  }
}

TEST(OnnxModelTest, RefusesUnknownOperatorNamingIt) {
  ModelBuilder b;
  b.Input("x", testing::kFloat, {-1}).Output("y", testing::kFloat, {-1});
  b.Node("FancyOp", {"x"}, {"y"}).proto().set_name("fancy");
  Status st = LoadError(b);
  EXPECT_EQ(st.code(), StatusCode::kUnimplemented);
  EXPECT_THAT(st.message(), HasSubstr("ai.onnx:FancyOp"));
  EXPECT_THAT(st.message(), HasSubstr("fancy"));
}

TEST(OnnxModelTest, RefusesCycles) {
  ModelBuilder b;
  b.Input("x", testing::kFloat, {-1}).Output("y", testing::kFloat, {-1});
  b.Node("Add", {"x", "b"}, {"a"});
  b.Node("Neg", {"a"}, {"b"});
  b.Node("Identity", {"a"}, {"y"});
  EXPECT_THAT(LoadError(b).message(), HasSubstr("cycle"));
}

TEST(OnnxModelTest, RefusesDanglingNames) {
  ModelBuilder b;
  b.Input("x", testing::kFloat, {-1}).Output("y", testing::kFloat, {-1});
  b.Node("Add", {"x", "ghost"}, {"y"});
  EXPECT_THAT(LoadError(b).message(), HasSubstr("'ghost'"));

  ModelBuilder c;
  c.Input("x", testing::kFloat, {-1}).Output("nowhere", testing::kFloat, {-1});
  c.Node("Neg", {"x"}, {"y"});
  EXPECT_THAT(LoadError(c).message(), HasSubstr("'nowhere'"));
}

TEST(OnnxModelTest, RefusesOutputsDefinedTwice) {
  ModelBuilder b;
  b.Input("x", testing::kFloat, {-1}).Output("y", testing::kFloat, {-1});
  b.Node("Neg", {"x"}, {"y"});
  b.Node("Abs", {"x"}, {"y"});
  EXPECT_THAT(LoadError(b).message(), HasSubstr("also produced"));

  ModelBuilder c;
  c.Input("x", testing::kFloat, {-1}).Output("y", testing::kFloat, {-1});
  c.Node("Neg", {"x"}, {"x"});
  c.Node("Neg", {"x"}, {"y"});
  EXPECT_FALSE(LoadError(c).ok());
}

TEST(OnnxModelTest, RefusesWrongAttributeTypes) {
  ModelBuilder b;
  b.Input("x", testing::kFloat, {-1, 2}).Output("y", testing::kFloat, {-1, 2});
  b.Initializer<float>("W", {2, 2}, {1, 0, 0, 1});
  b.Node("Gemm", {"x", "W"}, {"y"}).String("transB", "yes");
  Status st = LoadError(b);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("transB"));
  EXPECT_THAT(st.message(), HasSubstr("Gemm"));
}

TEST(OnnxModelTest, RefusesUnsupportedFeaturesClearly) {
  {  // external data
    ModelBuilder b;
    b.Input("x", testing::kFloat, {-1}).Output("y", testing::kFloat, {-1});
    auto* init = b.proto().mutable_graph()->add_initializer();
    init->set_name("w");
    init->set_data_type(testing::kFloat);
    init->add_dims(1);
    init->set_data_location(::onnx::TensorProto::EXTERNAL);
    auto* e = init->add_external_data();
    e->set_key("location");
    e->set_value("weights.bin");
    b.Node("Add", {"x", "w"}, {"y"});
    EXPECT_THAT(LoadError(b).message(), HasSubstr("external"));
  }
  {  // subgraph
    ModelBuilder b;
    b.Input("c", testing::kBool, {}).Output("y", testing::kFloat, {-1});
    auto n = b.Node("If", {"c"}, {"y"});
    auto* a = n.proto().add_attribute();
    a->set_name("then_branch");
    a->set_type(::onnx::AttributeProto::GRAPH);
    a->mutable_g()->set_name("then");
    Status st = LoadError(b);
    EXPECT_EQ(st.code(), StatusCode::kUnimplemented);
    EXPECT_THAT(st.message(), HasSubstr("subgraph"));
  }
  {  // training info
    ModelBuilder b;
    b.Input("x", testing::kFloat, {-1}).Output("y", testing::kFloat, {-1});
    b.Node("Identity", {"x"}, {"y"});
    b.proto().add_training_info();
    EXPECT_THAT(LoadError(b).message(), HasSubstr("training"));
  }
  {  // an element type outside the runtime's
    ModelBuilder b;
    b.Input("x", ::onnx::TensorProto::FLOAT16, {-1}).Output("y", ::onnx::TensorProto::FLOAT16, {-1});
    b.Node("Identity", {"x"}, {"y"});
    EXPECT_THAT(LoadError(b).message(), HasSubstr("FLOAT16"));
  }
  {  // an opset from the future
    ModelBuilder b(99);
    b.Input("x", testing::kFloat, {-1}).Output("y", testing::kFloat, {-1});
    b.Node("Identity", {"x"}, {"y"});
    EXPECT_THAT(LoadError(b).message(), HasSubstr("opset 99"));
  }
  {  // a domain the model does not import
    ModelBuilder b;
    b.Input("x", testing::kFloat, {-1}).Output("y", testing::kFloat, {-1});
    b.Node("Scaler", {"x"}, {"y"}, "ai.onnx.ml");
    EXPECT_THAT(LoadError(b).message(), HasSubstr("does not import"));
  }
  {  // no ir_version
    ModelBuilder b;
    b.Input("x", testing::kFloat, {-1}).Output("y", testing::kFloat, {-1});
    b.Node("Identity", {"x"}, {"y"});
    b.proto().clear_ir_version();
    EXPECT_THAT(LoadError(b).message(), HasSubstr("ir_version"));
  }
  {  // Cast to an unsupported type
    ModelBuilder b;
    b.Input("x", testing::kFloat, {-1}).Output("y", ::onnx::TensorProto::UINT8, {-1});
    b.Node("Cast", {"x"}, {"y"}).Int("to", ::onnx::TensorProto::UINT8);
    EXPECT_FALSE(LoadError(b).ok());
  }
}

TEST(OnnxModelTest, InitializerDataMustMatchItsDims) {
  ModelBuilder b;
  b.Input("x", testing::kFloat, {-1}).Output("y", testing::kFloat, {-1});
  b.Initializer<float>("w", {3}, {1, 2});
  b.Node("Add", {"x", "w"}, {"y"});
  EXPECT_THAT(LoadError(b).message(), HasSubstr("'w'"));

  ModelBuilder c;
  c.Input("x", testing::kFloat, {-1}).Output("y", testing::kFloat, {-1});
  auto* init = c.proto().mutable_graph()->add_initializer();
  init->set_name("w");
  init->set_data_type(testing::kFloat);
  init->add_dims(2);
  init->set_raw_data(std::string(7, '\0'));
  c.Node("Add", {"x", "w"}, {"y"});
  EXPECT_THAT(LoadError(c).message(), HasSubstr("raw_data"));
}

// --- Bad requests ------------------------------------------------------------------

TEST(OnnxModelTest, RefusesRequestsThatDoNotBroadcast) {
  ModelBuilder b;
  b.Input("x", testing::kFloat, {-1, -1})
      .Input("z", testing::kFloat, {-1, -1})
      .Output("y", testing::kFloat, {-1, -1});
  b.Node("Add", {"x", "z"}, {"y"}).proto().set_name("adder");
  auto model = Load(b);
  ASSERT_NE(model, nullptr);
  auto out = model->Infer({MakeInput<float>("x", {2, 3}, std::vector<float>(6)),
                           MakeInput<float>("z", {2, 2}, std::vector<float>(4))},
                          {});
  EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(out.status().message(), HasSubstr("adder"));
  EXPECT_THAT(out.status().message(), HasSubstr("[2,3]"));
}

TEST(OnnxModelTest, RefusesMalformedRequestTensors) {
  ModelBuilder b;
  b.Input("x", testing::kFloat, {-1}).Input("s", testing::kString, {-1});
  b.Output("y", testing::kFloat, {-1}).Output("t", testing::kString, {-1});
  b.Node("Identity", {"x"}, {"y"});
  b.Node("Identity", {"s"}, {"t"});
  auto model = Load(b);
  ASSERT_NE(model, nullptr);
  auto good_s = MakeInput<std::string>("s", {1}, {"ab"});
  auto short_x = MakeInput<float>("x", {2}, {1});
  EXPECT_THAT(model->Infer({short_x, good_s}, {}).status().message(), HasSubstr("needs 8 bytes"));
  auto wrong_type = MakeInput<double>("x", {1}, {1});
  EXPECT_FALSE(model->Infer({wrong_type, good_s}, {}).ok());
  auto bad_s = good_s;
  bad_s.data.pop_back();
  EXPECT_FALSE(model->Infer({MakeInput<float>("x", {1}, {1}), bad_s}, {}).ok());
  auto extra_s = good_s;
  extra_s.data.push_back('z');
  EXPECT_FALSE(model->Infer({MakeInput<float>("x", {1}, {1}), extra_s}, {}).ok());
  auto huge_s = good_s;
  huge_s.shape = {int64_t{1} << 40};
  EXPECT_FALSE(model->Infer({MakeInput<float>("x", {1}, {1}), huge_s}, {}).ok());
  EXPECT_FALSE(model->Infer({MakeInput<float>("x", {1}, {1})}, {}).ok());  // missing s
  EXPECT_FALSE(model->Infer({MakeInput<float>("x", {1}, {1}), good_s, good_s}, {}).ok());
  EXPECT_FALSE(model->Infer({MakeInput<float>("x", {-1}, {}), good_s}, {}).ok());
}

}  // namespace
}  // namespace ferry::serving::onnx
