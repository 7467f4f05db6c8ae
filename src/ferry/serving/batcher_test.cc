// The dynamic batcher over test doubles of our own Model interface that
// record every execution and can hold it at a gate, so a test decides
// exactly which requests are queued together: batched answers equal
// unbatched ones (every datatype, BYTES included), the queue bound, the
// delay, outputs that do not mix, shutdown with requests queued, and the
// options refused.

#include "ferry/serving/batcher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <future>
#include <limits>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "ferry/serving/batcher_internal.h"

namespace ferry::serving {
namespace {

using protocol::DataType;
using protocol::Tensor;
using ::testing::HasSubstr;

struct Execution {
  int64_t rows;
  std::vector<std::string> outputs;
};

// The recording and the gate the test doubles share. The gate starts open.
class Recorder {
 public:
  void Close() {
    std::lock_guard lock(mu_);
    open_ = false;
  }
  void Open() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  // Called by the model: records the execution, then waits at the gate.
  void Enter(int64_t rows, const std::vector<std::string>& outputs) {
    std::unique_lock lock(mu_);
    executions_.push_back({rows, outputs});
    cv_.notify_all();
    cv_.wait(lock, [this] { return open_; });
  }
  void WaitForExecutions(std::size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return executions_.size() >= n; });
  }
  std::vector<Execution> executions() const {
    std::lock_guard lock(mu_);
    return executions_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  std::vector<Execution> executions_;
};

template <typename T>
std::string Raw(const std::vector<T>& values) {
  std::string data(values.size() * sizeof(T), '\0');
  if (!values.empty()) std::memcpy(data.data(), values.data(), data.size());
  return data;
}

template <typename T>
std::vector<T> Values(const Tensor& t) {
  std::vector<T> values(t.data.size() / sizeof(T));
  if (!values.empty()) std::memcpy(values.data(), t.data.data(), values.size() * sizeof(T));
  return values;
}

// x FP32 [-1,3] and s BYTES [-1,2] → sum FP64 [-1] (of x's row),
// joined BYTES [-1,1] (s0 + "|" + s1), echo FP32 [-1,3]. A NaN in x is
// InvalidArgument, as a runtime refuses a value. With `aggregate`, "sum"
// answers one value for the whole call: not per row, despite its
// signature.
class RowModel : public Model {
 public:
  explicit RowModel(Recorder* recorder, bool aggregate = false) : recorder_(recorder), aggregate_(aggregate) {
    signature_.platform = "test";
    signature_.inputs = {{"x", DataType::kFp32, {-1, 3}}, {"s", DataType::kBytes, {-1, 2}}};
    signature_.outputs = {{"sum", DataType::kFp64, {-1}},
                          {"joined", DataType::kBytes, {-1, 1}},
                          {"echo", DataType::kFp32, {-1, 3}}};
    signature_.max_batch_size = 1000;
  }
  const ModelSignature& signature() const override { return signature_; }

  Result<std::vector<Tensor>> Infer(const std::vector<Tensor>& inputs,
                                    const std::vector<std::string>& outputs) const override {
    const Tensor* x = nullptr;
    const Tensor* s = nullptr;
    for (const Tensor& t : inputs) (t.name == "x" ? x : s) = &t;
    const int64_t rows = x->shape[0];
    const std::vector<std::string> names = outputs.empty() ? std::vector<std::string>{"sum", "joined", "echo"} : outputs;
    recorder_->Enter(rows, names);
    const std::vector<float> xs = Values<float>(*x);
    for (float v : xs)
      if (v != v) return InvalidArgument("x holds a NaN");
    auto strings = protocol::BytesElements(*s);
    if (!strings.ok()) return strings.status();
    std::vector<Tensor> result;
    for (const std::string& name : names) {
      if (name == "sum") {
        std::vector<double> sums(static_cast<std::size_t>(rows));
        for (int64_t r = 0; r < rows; ++r)
          for (int c = 0; c < 3; ++c) sums[r] += xs[r * 3 + c];
        if (aggregate_) {
          double all = 0;
          for (double v : sums) all += v;
          sums = {all};
        }
        result.push_back({name, DataType::kFp64, {static_cast<int64_t>(sums.size())}, Raw(sums)});
      } else if (name == "joined") {
        Tensor joined{name, DataType::kBytes, {rows, 1}, ""};
        for (int64_t r = 0; r < rows; ++r)
          protocol::AppendBytesElement(joined.data,
                                       std::string((*strings)[r * 2]) + "|" + std::string((*strings)[r * 2 + 1]));
        result.push_back(std::move(joined));
      } else {
        result.push_back({name, DataType::kFp32, x->shape, x->data});
      }
    }
    return result;
  }

 private:
  Recorder* recorder_;
  bool aggregate_;
  ModelSignature signature_;
};

// y = Identity(x) over `type` [-1, 2].
class IdentityModel : public Model {
 public:
  IdentityModel(Recorder* recorder, DataType type) : recorder_(recorder) {
    signature_.platform = "test";
    signature_.inputs = {{"x", type, {-1, 2}}};
    signature_.outputs = {{"y", type, {-1, 2}}};
    signature_.max_batch_size = 1000;
  }
  const ModelSignature& signature() const override { return signature_; }
  Result<std::vector<Tensor>> Infer(const std::vector<Tensor>& inputs,
                                    const std::vector<std::string>& outputs) const override {
    recorder_->Enter(inputs[0].shape[0], outputs);
    return std::vector<Tensor>{{"y", inputs[0].datatype, inputs[0].shape, inputs[0].data}};
  }

 private:
  Recorder* recorder_;
  ModelSignature signature_;
};

// A RowModel request of `rows` rows whose values derive from `seed`.
std::vector<Tensor> RowRequest(int64_t rows, int seed) {
  std::vector<float> x;
  Tensor s{"s", DataType::kBytes, {rows, 2}, ""};
  for (int64_t r = 0; r < rows; ++r) {
    for (int c = 0; c < 3; ++c) x.push_back(static_cast<float>(seed * 1000 + r * 3 + c));
    // Lengths vary, some empty, so the BYTES offsets are exercised.
    protocol::AppendBytesElement(s.data, std::string(static_cast<std::size_t>((seed + r) % 5), 'a' + seed % 26));
    protocol::AppendBytesElement(s.data, "r" + std::to_string(r));
  }
  return {{"x", DataType::kFp32, {rows, 3}, Raw(x)}, std::move(s)};
}

void ExpectSameTensors(const std::vector<Tensor>& got, const std::vector<Tensor>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].name, want[i].name);
    EXPECT_EQ(got[i].datatype, want[i].datatype);
    EXPECT_EQ(got[i].shape, want[i].shape) << got[i].name;
    EXPECT_EQ(got[i].data, want[i].data) << got[i].name;
  }
}

std::shared_ptr<BatchingModel> MakeBatcher(std::shared_ptr<const Model> inner, int64_t max_batch_size,
                                           std::chrono::microseconds delay, int64_t max_queue_rows = 4096) {
  BatchingOptions options;
  options.max_batch_size = max_batch_size;
  options.max_queue_delay = delay;
  options.max_queue_rows = max_queue_rows;
  options.model_name = "m";
  auto made = MakeBatchingModel(std::move(inner), options);
  EXPECT_TRUE(made.ok()) << made.status().ToString();
  if (!made.ok()) return nullptr;
  // The test reaches Stop and the queue through the concrete type.
  return std::const_pointer_cast<BatchingModel>(std::dynamic_pointer_cast<const BatchingModel>(*made));
}

// Holds the executor in a first 1-row execution, so that what is sent next
// queues; returns that first request's future.
std::future<Result<std::vector<Tensor>>> Occupy(Recorder& recorder, const Model& model,
                                                std::vector<Tensor> inputs) {
  recorder.Close();
  auto first = std::async(std::launch::async, [&model, inputs = std::move(inputs)] { return model.Infer(inputs, {}); });
  recorder.WaitForExecutions(1);
  return first;
}

void WaitForQueued(const BatchingModel& model, std::size_t requests) {
  while (model.queued_requests() < requests) std::this_thread::yield();
}

TEST(BatcherTest, ConcurrentRandomRequestsEqualUnbatchedInference) {
  Recorder recorder;
  auto inner = std::make_shared<RowModel>(&recorder);
  auto batcher = MakeBatcher(inner, 16, std::chrono::microseconds(500));
  ASSERT_NE(batcher, nullptr);
  constexpr int kThreads = 16, kRequestsPerThread = 40;
  std::atomic<int> mismatches{0}, failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      for (int i = 0; i < kRequestsPerThread; ++i) {
        // 1..20 rows: some larger than max_batch_size, which run alone.
        const int64_t rows = std::uniform_int_distribution<int64_t>(1, 20)(rng);
        const int seed = t * 100 + i;
        std::vector<std::string> outputs;
        if (i % 3 == 1) outputs = {"echo", "sum"};
        if (i % 3 == 2) outputs = {"joined"};
        auto inputs = RowRequest(rows, seed);
        auto got = batcher->Infer(inputs, outputs);
        if (!got.ok()) {
          failures.fetch_add(1);
          continue;
        }
        auto want = inner->Infer(inputs, outputs);
        if (!want.ok() || got->size() != want->size()) {
          mismatches.fetch_add(1);
          continue;
        }
        for (std::size_t k = 0; k < got->size(); ++k)
          if ((*got)[k].data != (*want)[k].data || (*got)[k].shape != (*want)[k].shape) mismatches.fetch_add(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(mismatches.load(), 0);
  // Executions either stay within max_batch_size or are one oversize request.
  int64_t batched_rows = 0;
  for (const Execution& e : recorder.executions()) {
    if (e.rows > 16) {
      EXPECT_LE(e.rows, 20);
    }
    batched_rows += e.rows;
  }
  EXPECT_GT(batched_rows, 0);
}

TEST(BatcherTest, EveryDatatypeIsConcatenatedAndSplitByRows) {
  const DataType kTypes[] = {DataType::kBool,  DataType::kUint8, DataType::kUint16, DataType::kUint32,
                             DataType::kUint64, DataType::kInt8,  DataType::kInt16,  DataType::kInt32,
                             DataType::kInt64, DataType::kFp16,  DataType::kFp32,   DataType::kFp64,
                             DataType::kBytes};
  for (DataType type : kTypes) {
    SCOPED_TRACE(std::string(protocol::DataTypeName(type)));
    Recorder recorder;
    auto batcher = MakeBatcher(std::make_shared<IdentityModel>(&recorder, type), 64, std::chrono::microseconds(0));
    ASSERT_NE(batcher, nullptr);
    std::mt19937 rng(7);
    auto tensor = [&](int64_t rows) {
      Tensor t{"x", type, {rows, 2}, ""};
      for (int64_t i = 0; i < rows * 2; ++i) {
        if (type == DataType::kBytes) {
          protocol::AppendBytesElement(t.data, std::string(rng() % 4, static_cast<char>('a' + rng() % 26)));
        } else {
          for (std::size_t b = 0; b < protocol::ElementSize(type); ++b)
            t.data += static_cast<char>(type == DataType::kBool ? rng() % 2 : rng() % 256);
        }
      }
      return t;
    };
    auto first = Occupy(recorder, *batcher, {tensor(1)});
    std::vector<std::vector<Tensor>> requests;
    std::vector<std::future<Result<std::vector<Tensor>>>> answers;
    for (int64_t rows : {3, 1, 0, 5}) requests.push_back({tensor(rows)});
    for (const auto& request : requests)
      answers.push_back(std::async(std::launch::async, [&] { return batcher->Infer(request, {}); }));
    WaitForQueued(*batcher, 4);
    recorder.Open();
    ASSERT_TRUE(first.get().ok());
    for (std::size_t i = 0; i < requests.size(); ++i) {
      auto got = answers[i].get();
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      ASSERT_EQ(got->size(), 1u);
      EXPECT_EQ((*got)[0].shape, requests[i][0].shape);
      EXPECT_EQ((*got)[0].data, requests[i][0].data);
    }
    auto executions = recorder.executions();
    ASSERT_EQ(executions.size(), 2u);
    EXPECT_EQ(executions[1].rows, 9);  // the four queued requests in one execution
  }
}

TEST(BatcherTest, FullQueueIsRefusedWithResourceExhausted) {
  Recorder recorder;
  auto batcher = MakeBatcher(std::make_shared<RowModel>(&recorder), 2, std::chrono::microseconds(0), 4);
  ASSERT_NE(batcher, nullptr);
  auto first = Occupy(recorder, *batcher, RowRequest(1, 0));
  auto queued1 = std::async(std::launch::async, [&] { return batcher->Infer(RowRequest(2, 1), {}); });
  auto queued2 = std::async(std::launch::async, [&] { return batcher->Infer(RowRequest(2, 2), {}); });
  WaitForQueued(*batcher, 2);
  auto refused = batcher->Infer(RowRequest(1, 3), {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(refused.status().message(), "model 'm' queue is full (4 rows waiting); retry later");
  recorder.Open();
  EXPECT_TRUE(first.get().ok());
  EXPECT_TRUE(queued1.get().ok());
  EXPECT_TRUE(queued2.get().ok());
  // Once drained, the queue admits again.
  EXPECT_TRUE(batcher->Infer(RowRequest(1, 4), {}).ok());
}

TEST(BatcherTest, RequestLargerThanTheQueueRunsAloneWhenTheQueueIsEmpty) {
  Recorder recorder;
  auto inner = std::make_shared<RowModel>(&recorder);
  auto batcher = MakeBatcher(inner, 4, std::chrono::microseconds(0), 8);
  ASSERT_NE(batcher, nullptr);
  auto inputs = RowRequest(50, 9);
  auto got = batcher->Infer(inputs, {});
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ExpectSameTensors(*got, *inner->Infer(inputs, {}));
  EXPECT_EQ(LastBatchTrace().batch_rows, 50);
  EXPECT_TRUE(LastBatchTrace().leader);
}

TEST(BatcherTest, RequestsAskingForDifferentOutputsAreNotMixed) {
  Recorder recorder;
  auto batcher = MakeBatcher(std::make_shared<RowModel>(&recorder), 64, std::chrono::microseconds(0));
  ASSERT_NE(batcher, nullptr);
  auto first = Occupy(recorder, *batcher, RowRequest(1, 0));
  auto a1 = std::async(std::launch::async, [&] { return batcher->Infer(RowRequest(1, 1), {"sum"}); });
  WaitForQueued(*batcher, 1);
  auto b = std::async(std::launch::async, [&] { return batcher->Infer(RowRequest(2, 2), {"echo"}); });
  WaitForQueued(*batcher, 2);
  // Naming every output in the signature's order asks for what no names do.
  auto all1 = std::async(std::launch::async, [&] { return batcher->Infer(RowRequest(1, 3), {}); });
  WaitForQueued(*batcher, 3);
  auto all2 = std::async(std::launch::async,
                         [&] { return batcher->Infer(RowRequest(3, 4), {"sum", "joined", "echo"}); });
  WaitForQueued(*batcher, 4);
  auto a2 = std::async(std::launch::async, [&] { return batcher->Infer(RowRequest(4, 5), {"sum"}); });
  WaitForQueued(*batcher, 5);
  recorder.Open();
  for (auto* f : {&first, &a1, &b, &all1, &all2, &a2}) EXPECT_TRUE(f->get().ok());
  std::vector<Execution> executions = recorder.executions();
  ASSERT_EQ(executions.size(), 4u);
  EXPECT_EQ(executions[1].rows, 5);  // a1 + a2
  EXPECT_EQ(executions[1].outputs, std::vector<std::string>{"sum"});
  EXPECT_EQ(executions[2].rows, 2);  // b
  EXPECT_EQ(executions[2].outputs, std::vector<std::string>{"echo"});
  EXPECT_EQ(executions[3].rows, 4);  // all1 + all2
}

TEST(BatcherTest, FullBatchDoesNotWaitForTheDelay) {
  Recorder recorder;
  // A minute's delay: only a full batch can answer within the test.
  auto batcher = MakeBatcher(std::make_shared<RowModel>(&recorder), 4, std::chrono::seconds(60));
  ASSERT_NE(batcher, nullptr);
  std::vector<std::future<Result<std::vector<Tensor>>>> answers;
  for (int i = 0; i < 4; ++i)
    answers.push_back(std::async(std::launch::async, [&, i] { return batcher->Infer(RowRequest(1, i), {}); }));
  for (auto& answer : answers) {
    ASSERT_EQ(answer.wait_for(std::chrono::seconds(30)), std::future_status::ready);
    EXPECT_TRUE(answer.get().ok());
  }
  // So does a request as large as a batch on its own.
  auto alone = std::async(std::launch::async, [&] { return batcher->Infer(RowRequest(4, 9), {}); });
  ASSERT_EQ(alone.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_TRUE(alone.get().ok());
}

TEST(BatcherTest, LoneRequestWaitsAtLeastTheDelay) {
  Recorder recorder;
  constexpr auto kDelay = std::chrono::milliseconds(50);
  auto batcher = MakeBatcher(std::make_shared<RowModel>(&recorder), 8, kDelay);
  ASSERT_NE(batcher, nullptr);
  ASSERT_TRUE(batcher->Infer(RowRequest(1, 0), {}).ok());
  EXPECT_GE(LastBatchTrace().queue_ns, std::chrono::nanoseconds(kDelay).count());
  EXPECT_EQ(LastBatchTrace().batch_rows, 1);
  ClearBatchTrace();
  EXPECT_EQ(LastBatchTrace().batch_rows, 0);
}

TEST(BatcherTest, BadValueFailsOnlyItsOwnRequest) {
  Recorder recorder;
  auto batcher = MakeBatcher(std::make_shared<RowModel>(&recorder), 64, std::chrono::microseconds(0));
  ASSERT_NE(batcher, nullptr);
  auto first = Occupy(recorder, *batcher, RowRequest(1, 0));
  auto good = std::async(std::launch::async, [&] { return batcher->Infer(RowRequest(2, 1), {}); });
  WaitForQueued(*batcher, 1);
  auto bad_inputs = RowRequest(1, 2);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(bad_inputs[0].data.data(), &nan, sizeof nan);
  auto bad = std::async(std::launch::async, [&] { return batcher->Infer(bad_inputs, {}); });
  WaitForQueued(*batcher, 2);
  recorder.Open();
  EXPECT_TRUE(first.get().ok());
  EXPECT_TRUE(good.get().ok());
  auto refused = bad.get();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("NaN"));
}

TEST(BatcherTest, OutputsNotPerRowFallBackToRunningEachRequestAlone) {
  Recorder recorder;
  auto inner = std::make_shared<RowModel>(&recorder, /*aggregate=*/true);
  auto batcher = MakeBatcher(inner, 64, std::chrono::microseconds(0));
  ASSERT_NE(batcher, nullptr);
  auto first = Occupy(recorder, *batcher, RowRequest(1, 0));
  auto a_inputs = RowRequest(2, 1), b_inputs = RowRequest(3, 2);
  auto a = std::async(std::launch::async, [&] { return batcher->Infer(a_inputs, {"sum"}); });
  WaitForQueued(*batcher, 1);
  auto b = std::async(std::launch::async, [&] { return batcher->Infer(b_inputs, {"sum"}); });
  WaitForQueued(*batcher, 2);
  recorder.Open();
  EXPECT_TRUE(first.get().ok());
  auto got_a = a.get(), got_b = b.get();
  ASSERT_TRUE(got_a.ok() && got_b.ok());
  ExpectSameTensors(*got_a, *inner->Infer(a_inputs, {"sum"}));
  ExpectSameTensors(*got_b, *inner->Infer(b_inputs, {"sum"}));
}

TEST(BatcherTest, StopAnswersQueuedRequestsUnavailableAndJoins) {
  Recorder recorder;
  auto batcher = MakeBatcher(std::make_shared<RowModel>(&recorder), 64, std::chrono::microseconds(0));
  ASSERT_NE(batcher, nullptr);
  auto first = Occupy(recorder, *batcher, RowRequest(1, 0));
  std::vector<std::future<Result<std::vector<Tensor>>>> queued;
  for (int i = 1; i <= 3; ++i) {
    queued.push_back(std::async(std::launch::async, [&, i] { return batcher->Infer(RowRequest(1, i), {}); }));
    WaitForQueued(*batcher, static_cast<std::size_t>(i));
  }
  auto stopped = std::async(std::launch::async, [&] { batcher->Stop(); });
  while (!batcher->stopping()) std::this_thread::yield();
  recorder.Open();
  stopped.get();
  EXPECT_TRUE(first.get().ok());  // the running execution finishes
  for (auto& answer : queued) {
    auto got = answer.get();
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), StatusCode::kUnavailable);
    EXPECT_THAT(got.status().message(), HasSubstr("shutting down"));
  }
  auto late = batcher->Infer(RowRequest(1, 9), {});
  EXPECT_EQ(late.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(recorder.executions().size(), 1u);
}

TEST(BatcherTest, MismatchedRowsAreRefused) {
  Recorder recorder;
  auto batcher = MakeBatcher(std::make_shared<RowModel>(&recorder), 8, std::chrono::microseconds(0));
  ASSERT_NE(batcher, nullptr);
  auto inputs = RowRequest(2, 0);
  inputs[1] = RowRequest(3, 0)[1];
  auto got = batcher->Infer(inputs, {});
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(got.status().message(), HasSubstr("batch size 3 differs"));
  EXPECT_THAT(batcher->Infer({inputs[0]}, {}).status().message(), HasSubstr("expected 2 inputs"));
}

// A model whose one output has a fixed first dimension, or that does not batch.
class FixedModel : public Model {
 public:
  FixedModel(int64_t max_batch_size, std::vector<int64_t> output_shape) {
    signature_.inputs = {{"x", DataType::kFp32, {-1, 2}}};
    signature_.outputs = {{"y", DataType::kFp32, std::move(output_shape)}};
    signature_.max_batch_size = max_batch_size;
  }
  const ModelSignature& signature() const override { return signature_; }
  Result<std::vector<Tensor>> Infer(const std::vector<Tensor>&, const std::vector<std::string>&) const override {
    return Internal("not run");
  }

 private:
  ModelSignature signature_;
};

TEST(BatcherTest, RefusesModelsAndOptionsItCannotBatch) {
  auto make = [](std::shared_ptr<const Model> model, BatchingOptions options) {
    options.model_name = "m";
    return MakeBatchingModel(std::move(model), options).status();
  };
  auto good = std::make_shared<FixedModel>(100, std::vector<int64_t>{-1, 2});
  BatchingOptions options;
  options.max_batch_size = 8;
  EXPECT_TRUE(make(good, options).ok());
  EXPECT_THAT(make(nullptr, options).message(), HasSubstr("null model"));
  EXPECT_THAT(make(std::make_shared<FixedModel>(0, std::vector<int64_t>{-1, 2}), options).message(),
              HasSubstr("model 'm' does not batch"));
  EXPECT_THAT(make(std::make_shared<FixedModel>(100, std::vector<int64_t>{1, 2}), options).message(),
              HasSubstr("output 'y' has shape [1,2], so it cannot be split by rows"));
  EXPECT_THAT(make(std::make_shared<FixedModel>(100, std::vector<int64_t>{}), options).message(),
              HasSubstr("output 'y'"));
  BatchingOptions bad = options;
  bad.max_batch_size = 0;
  EXPECT_THAT(make(good, bad).message(), HasSubstr("max_batch_size must be at least 1, got 0"));
  bad.max_batch_size = 101;
  EXPECT_THAT(make(good, bad).message(), HasSubstr("exceeds model 'm''s own limit of 100"));
  bad = options;
  bad.max_queue_delay = std::chrono::microseconds(-1);
  EXPECT_THAT(make(good, bad).message(), HasSubstr("max_queue_delay must be between 0 and 60 s"));
  bad.max_queue_delay = std::chrono::minutes(2);
  EXPECT_EQ(make(good, bad).code(), StatusCode::kInvalidArgument);
  bad = options;
  bad.max_queue_rows = 4;
  EXPECT_THAT(make(good, bad).message(), HasSubstr("max_queue_rows 4 is smaller than max_batch_size 8"));
}

}  // namespace
}  // namespace ferry::serving
