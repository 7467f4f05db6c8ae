#include "ferry/serving/model_metrics.h"

#include <algorithm>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace ferry::serving {
namespace {

// Native models answer in tens of microseconds: start the latency buckets
// well below the default 0.5 ms.
const std::vector<double>& RequestBuckets() {
  static const std::vector<double> kBuckets = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                               0.025,   0.05,   0.1,     0.25,   0.5,   1,      2.5,   5, 10};
  return kBuckets;
}

// Queue delays are configured in microseconds (100 by default).
const std::vector<double>& QueueBuckets() {
  static const std::vector<double> kBuckets = {0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001,
                                               0.0025,  0.005,   0.01,   0.025,   0.05,   0.1,
                                               0.25,    0.5,     1};
  return kBuckets;
}

const std::vector<double>& BatchSizeBuckets() {
  static const std::vector<double> kBuckets = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096};
  return kBuckets;
}

}  // namespace

struct ModelMetrics::Series {
  Counter* requests;
  Histogram* duration;
  Histogram* queue;
  Histogram* batch_size;
  Counter* nv_success;
  Counter* nv_failure;
  Counter* nv_count;
  Counter* nv_exec_count;
};

ModelMetrics::~ModelMetrics() = default;

ModelMetrics::ModelMetrics(MetricsRegistry* registry) {
  const std::vector<std::string> labels = {"model", "version"};
  requests_ = &registry->AddCounter("ferry_inference_requests_total", "Inference requests, by model and version",
                                    labels);
  failures_ = &registry->AddCounter("ferry_inference_failures_total",
                                    "Failed inference requests, by model, version and reason (the status code)",
                                    {"model", "version", "reason"});
  duration_ = &registry->AddHistogram("ferry_inference_request_duration_seconds",
                                      "Time to answer a successful inference request", labels, RequestBuckets());
  queue_ = &registry->AddHistogram("ferry_inference_queue_duration_seconds",
                                   "Time a successful request waited in the batching queue (0 unbatched)", labels,
                                   QueueBuckets());
  batch_size_ = &registry->AddHistogram("ferry_inference_batch_size", "Rows per model execution", labels,
                                        BatchSizeBuckets());
  nv_success_ = &registry->AddCounter("nv_inference_request_success",
                                      "Number of successful inference requests, all batch sizes", labels);
  nv_failure_ = &registry->AddCounter("nv_inference_request_failure",
                                      "Number of failed inference requests, all batch sizes", labels);
  nv_count_ = &registry->AddCounter("nv_inference_count", "Number of inferences performed (rows)", labels);
  nv_exec_count_ = &registry->AddCounter("nv_inference_exec_count", "Number of model executions performed",
                                         labels);
}

Result<std::unique_ptr<ModelMetrics>> ModelMetrics::Create(MetricsRegistry* registry) {
  if (registry == nullptr) return InvalidArgument("model metrics need a metrics registry");
  try {
    return std::unique_ptr<ModelMetrics>(new ModelMetrics(registry));
  } catch (const std::exception& e) {
    // prometheus-cpp throws on a family name registered twice.
    return Internal(std::string("cannot register the model metrics: ") + e.what());
  }
}

ModelMetrics::Series& ModelMetrics::For(std::string_view model, std::string_view version) {
  {
    std::shared_lock lock(mu_);
    auto m = series_.find(model);
    if (m != series_.end()) {
      auto v = m->second.find(version);
      if (v != m->second.end()) return *v->second;
    }
  }
  std::unique_lock lock(mu_);
  auto& versions = series_[std::string(model)];
  auto v = versions.find(version);
  if (v != versions.end()) return *v->second;
  const std::vector<std::string> labels = {std::string(model), std::string(version)};
  auto series = std::make_unique<Series>(Series{&requests_->WithLabels(labels), &duration_->WithLabels(labels),
                                                &queue_->WithLabels(labels), &batch_size_->WithLabels(labels),
                                                &nv_success_->WithLabels(labels), &nv_failure_->WithLabels(labels),
                                                &nv_count_->WithLabels(labels), &nv_exec_count_->WithLabels(labels)});
  return *versions.emplace(std::string(version), std::move(series)).first->second;
}

void ModelMetrics::AddVersion(std::string_view model, std::string_view version) { For(model, version); }

void ModelMetrics::ObserveRequest(std::string_view model, std::string_view version, const Status& status,
                                  double seconds, double queue_seconds, int64_t rows) {
  Series& series = For(model, version);
  series.requests->Inc();
  if (!status.ok()) {
    series.nv_failure->Inc();
    failures_->WithLabels({std::string(model), std::string(version), std::string(StatusCodeName(status.code()))})
        .Inc();
    return;
  }
  series.nv_success->Inc();
  series.nv_count->Inc(static_cast<double>(std::max<int64_t>(rows, 0)));
  series.duration->Observe(seconds);
  series.queue->Observe(queue_seconds);
}

void ModelMetrics::ObserveExecution(std::string_view model, std::string_view version, int64_t rows) {
  Series& series = For(model, version);
  series.nv_exec_count->Inc();
  series.batch_size->Observe(static_cast<double>(std::max<int64_t>(rows, 0)));
}

}  // namespace ferry::serving
