#pragma once
// ModelMetrics: the Prometheus metrics of a serving process per model and
// version, on `ferry serve`'s /metrics:
//
//   ferry_inference_requests_total{model,version}            every request to a loaded version
//   ferry_inference_failures_total{model,version,reason}     reason: the Status code ("InvalidArgument", ...)
//   ferry_inference_request_duration_seconds{model,version}  histogram, successful requests
//   ferry_inference_queue_duration_seconds{model,version}    histogram, time in the batcher's queue (0 unbatched)
//   ferry_inference_batch_size{model,version}                histogram, rows per model execution
//
// and Triton's counters under Triton's names, so Triton's dashboards work
// unchanged: nv_inference_request_success, nv_inference_request_failure,
// nv_inference_count (rows inferred), nv_inference_exec_count (model
// executions), each {model,version}.
//
// Families are registered once; a version's label set is created when it
// loads (AddVersion), so its series show 0 before the first request, and
// kept after it unloads (counters must not go back). Requests for unknown
// models are not counted here: their names would be unbounded labels.
//
// Thread-safety: thread-safe; the per-request path takes a shared lock.

#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "ferry/common/metrics.h"
#include "ferry/common/status.h"

namespace ferry::serving {

class ModelMetrics {
 public:
  // Registers the families in `registry` (not owned; outlives this).
  // Internal when a family cannot be registered (its name is taken).
  static Result<std::unique_ptr<ModelMetrics>> Create(MetricsRegistry* registry);
  ~ModelMetrics();

  // Creates `model` `version`'s label set (idempotent).
  void AddVersion(std::string_view model, std::string_view version);

  // One request to a loaded version: its outcome, seconds from arrival to
  // answer, seconds queued in a batcher, and rows.
  void ObserveRequest(std::string_view model, std::string_view version, const Status& status, double seconds,
                      double queue_seconds, int64_t rows);
  // One execution of the model over `rows` rows (a batch, or one request).
  void ObserveExecution(std::string_view model, std::string_view version, int64_t rows);

 private:
  struct Series;
  explicit ModelMetrics(MetricsRegistry* registry);
  Series& For(std::string_view model, std::string_view version);

  MetricFamily<Counter>* requests_ = nullptr;
  MetricFamily<Counter>* failures_ = nullptr;
  MetricFamily<Histogram>* duration_ = nullptr;
  MetricFamily<Histogram>* queue_ = nullptr;
  MetricFamily<Histogram>* batch_size_ = nullptr;
  MetricFamily<Counter>* nv_success_ = nullptr;
  MetricFamily<Counter>* nv_failure_ = nullptr;
  MetricFamily<Counter>* nv_count_ = nullptr;
  MetricFamily<Counter>* nv_exec_count_ = nullptr;

  std::shared_mutex mu_;
  // model → version → series; string_view lookups allocate nothing.
  std::map<std::string, std::map<std::string, std::unique_ptr<Series>, std::less<>>, std::less<>> series_;
};

}  // namespace ferry::serving
