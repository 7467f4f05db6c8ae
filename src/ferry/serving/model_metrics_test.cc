// Per-model metrics end to end inside the process: a repository whose
// model wrapper registers each version's series and puts a batcher in
// front, the InferenceService observing every request, and the Prometheus
// text that /metrics would serve.

#include "ferry/serving/model_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ferry/serving/batcher.h"
#include "ferry/serving/inference_service.h"
#include "ferry/serving/model_repository.h"

namespace ferry::serving {
namespace {

using protocol::DataType;
using protocol::Tensor;
using ::testing::HasSubstr;
using ::testing::Not;

// y = x + 1 over FP32 [-1, 2].
class AddOne : public Model {
 public:
  AddOne() {
    signature_.platform = "test";
    signature_.inputs = {{"x", DataType::kFp32, {-1, 2}}};
    signature_.outputs = {{"y", DataType::kFp32, {-1, 2}}};
    signature_.max_batch_size = 100;
  }
  const ModelSignature& signature() const override { return signature_; }
  Result<std::vector<Tensor>> Infer(const std::vector<Tensor>& inputs,
                                    const std::vector<std::string>&) const override {
    Tensor y = inputs[0];
    y.name = "y";
    for (std::size_t i = 0; i + sizeof(float) <= y.data.size(); i += sizeof(float)) {
      float v;
      std::memcpy(&v, y.data.data() + i, sizeof v);
      v += 1;
      std::memcpy(y.data.data() + i, &v, sizeof v);
    }
    return std::vector<Tensor>{std::move(y)};
  }

 private:
  ModelSignature signature_;
};

protocol::InferRequest Request(int64_t rows) {
  protocol::InferRequest request;
  request.inputs.push_back({"x", DataType::kFp32, {rows, 2}, std::string(static_cast<std::size_t>(rows) * 8, '\0')});
  return request;
}

// The value of the sample line that starts with `series` ("name{labels}").
std::string Sample(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind(series + " ", 0) == 0) return line.substr(series.size() + 1);
  return "absent";
}

class ModelMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto created = ModelMetrics::Create(&registry_);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    metrics_ = std::move(created).value();
  }

  MetricsRegistry registry_;
  std::unique_ptr<ModelMetrics> metrics_;
};

TEST_F(ModelMetricsTest, UnbatchedRequestsAreEachOneExecution) {
  ModelRepository repo("");
  repo.SetModelWrapper([this](std::string_view name, std::string_view version, std::shared_ptr<const Model> model)
                           -> Result<std::shared_ptr<const Model>> {
    metrics_->AddVersion(name, version);
    return model;
  });
  ASSERT_TRUE(repo.AddModel("add", "3", std::make_shared<AddOne>()).ok());
  const std::string labels = "{model=\"add\",version=\"3\"}";
  std::string text = registry_.Render();
  EXPECT_EQ(Sample(text, "ferry_inference_requests_total" + labels), "0");
  EXPECT_EQ(Sample(text, "nv_inference_exec_count" + labels), "0");
  EXPECT_THAT(text, HasSubstr("# TYPE nv_inference_count counter"));

  InferenceService service(&repo, Env::Default(), metrics_.get());
  ASSERT_TRUE(service.Infer("add", "", Request(3)).ok());
  ASSERT_TRUE(service.Infer("add", "", Request(2)).ok());
  auto bad = Request(1);
  bad.inputs[0].shape = {1, 3};
  EXPECT_FALSE(service.Infer("add", "", bad).ok());
  EXPECT_FALSE(service.Infer("nope", "", Request(1)).ok());  // unknown: no labels

  text = registry_.Render();
  EXPECT_EQ(Sample(text, "ferry_inference_requests_total" + labels), "3");
  EXPECT_EQ(Sample(text, "nv_inference_request_success" + labels), "2");
  EXPECT_EQ(Sample(text, "nv_inference_request_failure" + labels), "1");
  EXPECT_EQ(Sample(text, "ferry_inference_failures_total{model=\"add\",reason=\"InvalidArgument\",version=\"3\"}"),
            "1");
  EXPECT_EQ(Sample(text, "nv_inference_count" + labels), "5");
  EXPECT_EQ(Sample(text, "nv_inference_exec_count" + labels), "2");
  EXPECT_EQ(Sample(text, "ferry_inference_batch_size_sum" + labels), "5");
  EXPECT_EQ(Sample(text, "ferry_inference_request_duration_seconds_count" + labels), "2");
  EXPECT_EQ(Sample(text, "ferry_inference_queue_duration_seconds_sum" + labels), "0");
  EXPECT_THAT(text, Not(HasSubstr("nope")));
}

TEST_F(ModelMetricsTest, BatchedExecutionsAreCountedOncePerBatch) {
  ModelRepository repo("");
  repo.SetModelWrapper([this](std::string_view name, std::string_view version, std::shared_ptr<const Model> model)
                           -> Result<std::shared_ptr<const Model>> {
    metrics_->AddVersion(name, version);
    BatchingOptions options;
    options.max_batch_size = 8;
    options.max_queue_delay = std::chrono::seconds(60);  // only full batches run
    options.model_name = std::string(name);
    return MakeBatchingModel(std::move(model), options);
  });
  ASSERT_TRUE(repo.AddModel("add", "1", std::make_shared<AddOne>()).ok());
  InferenceService service(&repo, Env::Default(), metrics_.get());
  // Eight 1-row requests fill exactly one batch.
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&] { ok += service.Infer("add", "1", Request(1)).ok() ? 1 : 0; });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8);
  const std::string labels = "{model=\"add\",version=\"1\"}";
  const std::string text = registry_.Render();
  EXPECT_EQ(Sample(text, "nv_inference_request_success" + labels), "8");
  EXPECT_EQ(Sample(text, "nv_inference_exec_count" + labels), "1");
  EXPECT_EQ(Sample(text, "ferry_inference_batch_size_sum" + labels), "8");
  EXPECT_EQ(Sample(text, "ferry_inference_queue_duration_seconds_count" + labels), "8");
  auto loaded = repo.Get("add", "1");
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ((*loaded)->stats.execution_count.load(), 1u);
  EXPECT_EQ((*loaded)->stats.inference_count.load(), 8u);
}

TEST_F(ModelMetricsTest, AWrapperErrorFailsTheLoad) {
  ModelRepository repo("");
  repo.SetModelWrapper([](std::string_view, std::string_view, std::shared_ptr<const Model>)
                           -> Result<std::shared_ptr<const Model>> { return InvalidArgument("refused by wrapper"); });
  Status st = repo.AddModel("add", "1", std::make_shared<AddOne>());
  EXPECT_THAT(st.message(), HasSubstr("refused by wrapper"));
  EXPECT_FALSE(repo.Get("add", "").ok());
}

TEST_F(ModelMetricsTest, FamiliesAreRegisteredOnce) {
  auto again = ModelMetrics::Create(&registry_);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kInternal);
  EXPECT_EQ(ModelMetrics::Create(nullptr).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ferry::serving
