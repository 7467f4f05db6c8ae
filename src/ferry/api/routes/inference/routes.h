#pragma once
// The Open Inference Protocol (KServe V2) REST front end of `ferry serve`,
// with Triton's extensions so that the unmodified tritonclient and
// perf_analyzer work, and KServe V1 `:predict`. Handlers call only
// serving::InferenceService and its ModelRepository, as Triton's HTTP
// endpoint calls only its in-process core.
//
//   GET  /v2                                         server metadata
//   GET  /v2/health/live | /v2/health/ready          200, else 400 (as Triton)
//   GET  /v2/models/{m}[/versions/{v}]               model metadata
//   GET  /v2/models/{m}[/versions/{v}]/ready         200, else 404 {"error"}
//   POST /v2/models/{m}[/versions/{v}]/infer         JSON, or the binary tensor
//                                                    extension (Inference-Header-
//                                                    Content-Length)
//   GET  /v2/models/{m}[/versions/{v}]/config        Triton model configuration
//   GET  /v2/models/stats, /v2/models/{m}[/versions/{v}]/stats
//                                                    Triton statistics extension
//   POST /v2/repository/index                        [{name, version, state, reason}]
//   POST /v2/repository/models/{m}/load | /unload    model repository extension
//   GET  /v1/models, /v1/models/{m}; POST /v1/models/{m}:predict   KServe V1
//   GET  /metrics                                    Prometheus text (the HTTP
//                                                    and process metrics)
//
// Errors are {"error": "message"} with 400 (malformed or unsupported
// request), 404 (unknown model or version), 503 (unavailable), 500 (a
// model fault, detail in the log only). The transport answers 413 for a
// body over the limit and 404/405 for paths outside this surface in the
// native error shape (errors.h), before any handler runs.
//
// Thread-safety: the handlers are thread-safe.

#include <cstddef>
#include <functional>
#include <string>

#include "ferry/api/router.h"
#include "ferry/common/metrics.h"
#include "ferry/common/status.h"
#include "ferry/serving/inference_service.h"

namespace ferry::api::inference {

struct InferenceRouteOptions {
  std::string server_version;  // in GET /v2
  // True: infer handlers run inline on the I/O threads (cheap native
  // models: no hand-off between threads). False: on the server's handler
  // pool, for models slow enough to hold an I/O thread up.
  bool infer_inline = true;
  // Server readiness beyond the process being up (GET /v2/health/ready);
  // unset: always ready.
  std::function<bool()> ready;
  MetricsRegistry* metrics = nullptr;  // GET /metrics when set; not owned
};

// Adds the routes; `service` (and its repository) must outlive the router.
Status AddInferenceRoutes(Router& router, serving::InferenceService* service,
                          const InferenceRouteOptions& options);

}  // namespace ferry::api::inference
