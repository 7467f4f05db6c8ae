// InferenceService over a test double of our own Model interface: the
// request is checked against the signature before the model runs, the
// classification extension, statistics, and errors naming what is wrong.

#include "ferry/serving/inference_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace ferry::serving {
namespace {

using protocol::DataType;
using protocol::InferRequest;
using protocol::Tensor;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Floats(const std::vector<float>& values) {
  std::string data(values.size() * sizeof(float), '\0');
  if (!values.empty()) std::memcpy(data.data(), values.data(), data.size());
  return data;
}

std::vector<float> FloatsOf(const Tensor& t) {
  std::vector<float> values(t.data.size() / sizeof(float));
  if (!values.empty()) std::memcpy(values.data(), t.data.data(), values.size() * sizeof(float));
  return values;
}

std::vector<std::string> BytesOf(const Tensor& t) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i + 4 <= t.data.size();) {
    uint32_t n = 0;
    std::memcpy(&n, t.data.data() + i, 4);
    out.emplace_back(t.data.substr(i + 4, n));
    i += 4 + n;
  }
  return out;
}

// y = x + 1 and z = 2x over FP32 [-1, 4]; counts its calls.
class AddOne : public Model {
 public:
  AddOne() {
    signature_.platform = "test";
    signature_.inputs = {{"x", DataType::kFp32, {-1, 4}}};
    signature_.outputs = {{"y", DataType::kFp32, {-1, 4}}, {"z", DataType::kFp32, {-1, 4}}};
    signature_.max_batch_size = 8;
  }
  const ModelSignature& signature() const override { return signature_; }
  Result<std::vector<Tensor>> Infer(const std::vector<Tensor>& inputs,
                                    const std::vector<std::string>& outputs) const override {
    calls.fetch_add(1);
    std::vector<float> x = FloatsOf(inputs[0]);
    std::vector<Tensor> result;
    std::vector<std::string> names = outputs.empty() ? std::vector<std::string>{"y", "z"} : outputs;
    for (const auto& name : names) {
      std::vector<float> v = x;
      for (float& f : v) f = name == "y" ? f + 1 : 2 * f;
      result.push_back({name, DataType::kFp32, inputs[0].shape, Floats(v)});
    }
    return result;
  }
  mutable std::atomic<int> calls{0};

 private:
  ModelSignature signature_;
};

class InferenceServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = std::make_shared<AddOne>();
    ASSERT_TRUE(repo_.AddModel("add", "1", model_).ok());
  }
  static protocol::RequestedOutput Output(std::string name, int64_t classification = 0) {
    protocol::RequestedOutput output;
    output.name = std::move(name);
    output.classification = classification;
    return output;
  }
  InferRequest Request(std::vector<int64_t> shape, std::vector<float> values) {
    InferRequest request;
    request.id = "req-7";
    request.inputs.push_back({"x", DataType::kFp32, std::move(shape), Floats(values)});
    return request;
  }

  ModelRepository repo_{""};
  FakeEnv env_;
  InferenceService service_{&repo_, &env_};
  std::shared_ptr<AddOne> model_;
};

TEST_F(InferenceServiceTest, RunsTheModelAndEchoesTheId) {
  auto response = service_.Infer("add", "", Request({1, 4}, {1, 2, 3, 4}));
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->model_name, "add");
  EXPECT_EQ(response->model_version, "1");
  EXPECT_EQ(response->id, "req-7");
  ASSERT_EQ(response->outputs.size(), 2u);
  EXPECT_EQ(response->outputs[0].name, "y");
  EXPECT_THAT(FloatsOf(response->outputs[0]), ElementsAre(2, 3, 4, 5));
  EXPECT_THAT(FloatsOf(response->outputs[1]), ElementsAre(2, 4, 6, 8));
}

TEST_F(InferenceServiceTest, RequestedOutputsOnlyInTheirOrder) {
  InferRequest request = Request({1, 4}, {1, 2, 3, 4});
  request.outputs = {Output("z")};
  auto response = service_.Infer("add", "1", request);
  ASSERT_TRUE(response.ok());
  ASSERT_EQ(response->outputs.size(), 1u);
  EXPECT_EQ(response->outputs[0].name, "z");
}

TEST_F(InferenceServiceTest, BadRequestsNeverReachTheModel) {
  auto wrong_shape = service_.Infer("add", "", Request({1, 3}, {1, 2, 3}));
  EXPECT_EQ(wrong_shape.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(wrong_shape.status().message(), HasSubstr("'x'"));

  InferRequest wrong_type = Request({1, 4}, {1, 2, 3, 4});
  wrong_type.inputs[0].datatype = DataType::kInt32;
  EXPECT_EQ(service_.Infer("add", "", wrong_type).status().code(), StatusCode::kInvalidArgument);

  InferRequest unknown_output = Request({1, 4}, {1, 2, 3, 4});
  unknown_output.outputs = {Output("nope")};
  EXPECT_THAT(service_.Infer("add", "", unknown_output).status().message(), HasSubstr("nope"));

  InferRequest twice = Request({1, 4}, {1, 2, 3, 4});
  twice.outputs = {Output("y"), Output("y")};
  EXPECT_THAT(service_.Infer("add", "", twice).status().message(), HasSubstr("requested twice"));

  std::vector<float> nine_rows(36, 0.f);
  auto too_big = service_.Infer("add", "", Request({9, 4}, nine_rows));
  EXPECT_THAT(too_big.status().message(), HasSubstr("max_batch_size 8"));

  EXPECT_EQ(model_->calls.load(), 0);
  EXPECT_EQ(service_.Infer("nope", "", Request({1, 4}, {1, 2, 3, 4})).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(service_.Infer("add", "2", Request({1, 4}, {1, 2, 3, 4})).status().code(), StatusCode::kNotFound);
}

TEST_F(InferenceServiceTest, CountsStatistics) {
  ASSERT_TRUE(service_.Infer("add", "", Request({2, 4}, {1, 2, 3, 4, 5, 6, 7, 8})).ok());
  ASSERT_TRUE(service_.Infer("add", "", Request({1, 4}, {1, 2, 3, 4})).ok());
  EXPECT_FALSE(service_.Infer("add", "", Request({1, 3}, {1, 2, 3})).ok());
  auto loaded = repo_.Get("add", "1");
  ASSERT_TRUE(loaded.ok());
  const ModelStats& stats = (*loaded)->stats;
  EXPECT_EQ(stats.success_count.load(), 2u);
  EXPECT_EQ(stats.fail_count.load(), 1u);
  EXPECT_EQ(stats.inference_count.load(), 3u);  // rows
  EXPECT_EQ(stats.execution_count.load(), 2u);
  EXPECT_EQ(stats.last_inference_ms.load(), static_cast<uint64_t>(env_.NowMicros() / 1000));
}

TEST_F(InferenceServiceTest, ClassificationPerRow) {
  InferRequest request = Request({2, 4}, {0.1f, 0.7f, 0.2f, 0.0f, 5, 1, 9, 3});
  request.outputs = {Output("z", 2)};
  auto response = service_.Infer("add", "", request);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  const Tensor& classes = response->outputs[0];
  EXPECT_EQ(classes.datatype, DataType::kBytes);
  EXPECT_THAT(classes.shape, ElementsAre(2, 2));
  EXPECT_THAT(BytesOf(classes), ElementsAre("1.400000:1", "0.400000:2", "18.000000:2", "10.000000:0"));
}

TEST(ClassifyTest, WholeTensorWhenNotBatchedAndCountCapped) {
  Tensor t{"p", DataType::kInt32, {3}, std::string(12, '\0')};
  const int32_t v[3] = {4, -1, 7};
  std::memcpy(t.data.data(), v, 12);
  auto classes = Classify(t, 10, false);
  ASSERT_TRUE(classes.ok());
  EXPECT_THAT(classes->shape, ElementsAre(3));
  EXPECT_THAT(BytesOf(*classes), ElementsAre("7:2", "4:0", "-1:1"));
}

TEST(ClassifyTest, RefusesBytesAndNonPositiveCounts) {
  Tensor bytes{"s", DataType::kBytes, {1}, std::string("\1\0\0\0a", 5)};
  EXPECT_THAT(Classify(bytes, 1, false).status().message(), HasSubstr("numeric"));
  Tensor f{"p", DataType::kFp32, {1}, Floats({1})};
  EXPECT_THAT(Classify(f, 0, false).status().message(), HasSubstr("at least 1"));
}

}  // namespace
}  // namespace ferry::serving
