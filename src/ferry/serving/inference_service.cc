#include "ferry/serving/inference_service.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "ferry/common/strings.h"
#include "ferry/serving/batcher.h"
#include "ferry/serving/model.h"
#include "ferry/serving/model_metrics.h"
#include "ferry/serving/protocol/tensor_internal.h"

namespace ferry::serving {
namespace {

using protocol::DataType;
using protocol::Tensor;

uint64_t Nanos(std::chrono::steady_clock::duration d) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
}

template <typename T>
T Load(const char* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}

// Element `i` of a numeric tensor, and its text as Triton writes it in a
// classification ("%f" for floating point, the integer as is).
struct Element {
  double value;
  std::string text;
};

Element ElementAt(const Tensor& t, std::size_t i) {
  const char* p = t.data.data() + i * protocol::ElementSize(t.datatype);
  switch (t.datatype) {
    case DataType::kBool:
    case DataType::kUint8:
      return {static_cast<double>(Load<uint8_t>(p)), std::to_string(Load<uint8_t>(p))};
    case DataType::kUint16:
      return {static_cast<double>(Load<uint16_t>(p)), std::to_string(Load<uint16_t>(p))};
    case DataType::kUint32:
      return {static_cast<double>(Load<uint32_t>(p)), std::to_string(Load<uint32_t>(p))};
    case DataType::kUint64:
      return {static_cast<double>(Load<uint64_t>(p)), std::to_string(Load<uint64_t>(p))};
    case DataType::kInt8:
      return {static_cast<double>(Load<int8_t>(p)), std::to_string(Load<int8_t>(p))};
    case DataType::kInt16:
      return {static_cast<double>(Load<int16_t>(p)), std::to_string(Load<int16_t>(p))};
    case DataType::kInt32:
      return {static_cast<double>(Load<int32_t>(p)), std::to_string(Load<int32_t>(p))};
    case DataType::kInt64:
      return {static_cast<double>(Load<int64_t>(p)), std::to_string(Load<int64_t>(p))};
    case DataType::kFp16: {
      const float f = protocol::HalfToFloat(Load<uint16_t>(p));
      return {f, std::to_string(f)};
    }
    case DataType::kFp32:
      return {Load<float>(p), std::to_string(Load<float>(p))};
    case DataType::kFp64:
      return {Load<double>(p), std::to_string(Load<double>(p))};
    case DataType::kBytes:
      break;
  }
  return {0, "0"};
}

struct Timings {
  std::chrono::steady_clock::duration input{}, infer{}, output{};
  bool executed = false;  // the model ran (successfully or not)
};

}  // namespace

Result<Tensor> Classify(const Tensor& output, int64_t count, bool batched) {
  const std::string who = "output " + QuoteForMessage(output.name);
  if (count < 1) return InvalidArgument(who + ": classification count must be at least 1, got " +
                                        std::to_string(count));
  if (output.datatype == DataType::kBytes)
    return InvalidArgument(who + ": classification needs a numeric output, not BYTES");
  ASSIGN_OR_RETURN(int64_t elements, protocol::ElementCount(output.shape));
  if (static_cast<std::size_t>(elements) * protocol::ElementSize(output.datatype) != output.data.size())
    return Internal(who + ": the model returned " + std::to_string(output.data.size()) + " bytes for " +
                    std::to_string(elements) + " elements");
  int64_t rows = 1;
  if (batched && !output.shape.empty()) rows = output.shape[0];
  const int64_t per_row = rows > 0 ? elements / rows : 0;
  const int64_t k = std::min(count, per_row);

  Tensor classes;
  classes.name = output.name;
  classes.datatype = DataType::kBytes;
  classes.shape = batched && !output.shape.empty() ? std::vector<int64_t>{rows, k} : std::vector<int64_t>{k};
  std::vector<Element> row;
  std::vector<int64_t> order(static_cast<std::size_t>(per_row));
  for (int64_t r = 0; r < rows; ++r) {
    row.clear();
    for (int64_t i = 0; i < per_row; ++i) row.push_back(ElementAt(output, static_cast<std::size_t>(r * per_row + i)));
    std::iota(order.begin(), order.end(), 0);
    // Ties keep the lower index first; NaN sorts last.
    std::stable_sort(order.begin(), order.end(), [&row](int64_t a, int64_t b) {
      const double x = row[a].value, y = row[b].value;
      if (std::isnan(x)) return false;
      if (std::isnan(y)) return true;
      return x > y;
    });
    for (int64_t j = 0; j < k; ++j)
      protocol::AppendBytesElement(classes.data, row[order[j]].text + ":" + std::to_string(order[j]));
  }
  return classes;
}

InferenceService::InferenceService(ModelRepository* repository, Env* env, ModelMetrics* metrics)
    : repository_(repository), env_(env), metrics_(metrics) {}

namespace {

Result<protocol::InferResponse> Run(const LoadedModel& loaded, const protocol::InferRequest& request, Env* env,
                                    Timings* timings, int64_t* batch) {
  const Model& model = *loaded.model;
  const ModelSignature& signature = model.signature();
  auto t0 = env->SteadyNow();
  RETURN_IF_ERROR(CheckInputs(signature, request.inputs));
  if (signature.max_batch_size > 0 && !request.inputs.empty() && !request.inputs[0].shape.empty()) {
    *batch = request.inputs[0].shape[0];
    if (*batch > signature.max_batch_size)
      return InvalidArgument("batch size " + std::to_string(*batch) + " of input " +
                             QuoteForMessage(request.inputs[0].name) + " exceeds the model's max_batch_size " +
                             std::to_string(signature.max_batch_size));
  }
  std::vector<std::string> names;
  names.reserve(request.outputs.size());
  for (const auto& output : request.outputs) {
    if (std::find(names.begin(), names.end(), output.name) != names.end())
      return InvalidArgument("output " + QuoteForMessage(output.name) + " is requested twice");
    names.push_back(output.name);
  }
  RETURN_IF_ERROR(CheckOutputs(signature, names));
  auto t1 = env->SteadyNow();
  timings->input = t1 - t0;

  Result<std::vector<Tensor>> ran = model.Infer(request.inputs, names);
  timings->executed = true;
  ASSIGN_OR_RETURN(std::vector<Tensor> outputs, std::move(ran));
  auto t2 = env->SteadyNow();
  timings->infer = t2 - t1;
  const std::size_t expected = names.empty() ? signature.outputs.size() : names.size();
  if (outputs.size() != expected)
    return Internal("model " + QuoteForMessage(loaded.name) + " returned " + std::to_string(outputs.size()) +
                    " outputs, expected " + std::to_string(expected));

  for (std::size_t i = 0; i < request.outputs.size(); ++i) {
    if (request.outputs[i].classification == 0) continue;
    ASSIGN_OR_RETURN(outputs[i],
                     Classify(outputs[i], request.outputs[i].classification, signature.max_batch_size > 0));
  }
  protocol::InferResponse response;
  response.model_name = loaded.name;
  response.model_version = loaded.version;
  response.id = request.id;
  response.outputs = std::move(outputs);
  timings->output = env->SteadyNow() - t2;
  return response;
}

}  // namespace

Result<protocol::InferResponse> InferenceService::Infer(std::string_view name, std::string_view version,
                                                        const protocol::InferRequest& request) const {
  ASSIGN_OR_RETURN(std::shared_ptr<const LoadedModel> loaded, repository_->Get(name, version));
  ModelStats& stats = loaded->stats;
  const auto start = env_->SteadyNow();
  Timings timings;
  int64_t batch = 1;
  ClearBatchTrace();
  Result<protocol::InferResponse> response = Run(*loaded, request, env_, &timings, &batch);
  // A batcher reports the queue time and the execution the request shared;
  // without one, the request was its own execution and queued nowhere.
  const BatchTrace trace = LastBatchTrace();
  const bool batched = trace.batch_rows > 0;
  const bool counts_execution = batched ? trace.leader : timings.executed;
  const int64_t execution_rows = batched ? trace.batch_rows : batch;
  const uint64_t queue_ns = static_cast<uint64_t>(std::max<int64_t>(trace.queue_ns, 0));
  const uint64_t total = Nanos(env_->SteadyNow() - start);
  if (metrics_ != nullptr) {
    metrics_->ObserveRequest(loaded->name, loaded->version, response.status(), static_cast<double>(total) / 1e9,
                             static_cast<double>(queue_ns) / 1e9, batch);
    if (counts_execution) metrics_->ObserveExecution(loaded->name, loaded->version, execution_rows);
  }
  stats.last_inference_ms.store(static_cast<uint64_t>(env_->NowMicros() / 1000), std::memory_order_relaxed);
  if (!response.ok()) {
    stats.fail_count.fetch_add(1, std::memory_order_relaxed);
    stats.fail_ns.fetch_add(total, std::memory_order_relaxed);
    return response;
  }
  stats.success_count.fetch_add(1, std::memory_order_relaxed);
  stats.success_ns.fetch_add(total, std::memory_order_relaxed);
  stats.queue_ns.fetch_add(queue_ns, std::memory_order_relaxed);
  stats.compute_input_ns.fetch_add(Nanos(timings.input), std::memory_order_relaxed);
  stats.compute_infer_ns.fetch_add(Nanos(timings.infer) - std::min<uint64_t>(queue_ns, Nanos(timings.infer)),
                                   std::memory_order_relaxed);
  stats.compute_output_ns.fetch_add(Nanos(timings.output), std::memory_order_relaxed);
  stats.inference_count.fetch_add(static_cast<uint64_t>(std::max<int64_t>(batch, 0)), std::memory_order_relaxed);
  if (counts_execution) stats.execution_count.fetch_add(1, std::memory_order_relaxed);
  return response;
}

}  // namespace ferry::serving
