#pragma once
// ApiServer: Ferry's HTTP/1.1 front end. It listens on one address, serves
// the native resource API (/api/v1/...), discovery, health, readiness,
// version and Prometheus metrics, and enforces the transport limits (body
// size, header/body/idle timeouts, connection and in-flight caps) that keep
// untrusted clients from exhausting the process. docs/adr/0002-http-server.md
// explains the threading model.
//
// Thread-safety: thread-safe. Shutdown() may be called from any thread
// except the server's own (never from inside a handler).

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "ferry/common/env.h"
#include "ferry/common/metrics.h"
#include "ferry/common/status.h"
#include "ferry/store/database.h"
#include "ferry/store/resource_store.h"
#include "ferry/store/resource_types.h"

namespace ferry::artifacts {
class ArtifactStore;
}
namespace ferry::tracking {
class TrackingStore;
class LoggedModelStore;
}
namespace ferry::registry {
class RegistryStore;
}
namespace ferry::pipelines {
class PipelineEngine;
class CatalogStore;
class Scheduler;
}
namespace ferry::tuning {
class StudyService;
}
namespace ferry::serving {
class Router;
class PayloadLog;
}

namespace ferry::api {

struct ApiError;  // errors.h

struct ApiOptions {
  std::string listen = "127.0.0.1:8080";  // host:port; port 0 = any free port
  std::size_t max_body_bytes = 32 << 20;
  // Routes that take uploads (artifacts) accept bodies up to this size. The
  // body is held in memory while it is read.
  std::size_t max_upload_bytes = std::size_t{1} << 30;
  // Header: from a request's first byte to its blank line. Body: reading a
  // request body, and writing any response chunk. Idle: a keep-alive
  // connection waiting for its next request.
  std::chrono::seconds header_timeout{10}, body_timeout{60}, idle_timeout{75};
  int threads = 0;      // I/O threads; 0: max(2, hardware_concurrency)
  std::string version;  // for /version

  // Handler threads, which may block on the store; 0: 4 x I/O threads.
  int handler_threads = 0;
  // Open connections beyond this are answered 503 and closed.
  std::size_t max_connections = 4096;
  // Requests admitted to the handler threads (running or queued); beyond
  // this, 503 with Retry-After instead of an unbounded queue.
  std::size_t max_in_flight = 256;
  // Interval of the ": keep-alive" comment on idle watch streams.
  std::chrono::milliseconds sse_keepalive{15'000};
  // A watch stream whose client lags this many events behind is ended; the
  // client re-lists and watches again.
  std::size_t max_watch_backlog = 1024;
  // The body of the server's own error responses (an oversize or malformed
  // request, no such route, overload), for a server whose every route
  // speaks a surface with its own error shape (ferry serve: V2's
  // {"error": "..."}). Unset: the native {"error": {"code", "message"}}.
  std::function<std::string(const ApiError&)> error_body;
  // One access-log line per request at info level; false: at debug level
  // (ferry serve, whose tens of thousands of requests a second would write
  // megabytes of log a second, as Triton logs none by default).
  bool log_requests = true;
  // The dashboard's files: empty serves the build embedded in the binary;
  // a folder (web/dist) serves that folder, for work on the dashboard.
  std::string web_root;
};

struct ApiServices {    // not owned; outlive the server
  store::Database* db;  // /readyz pings it
  store::ResourceStore* resources;
  const store::ResourceTypes* types;
  MetricsRegistry* metrics;  // ferry_http_* and process_* are registered here
  Env* env;
  // The MLflow surface (/api/2.0/mlflow/..., /api/2.0/mlflow-artifacts/...)
  // is served when these are set.
  tracking::TrackingStore* tracking = nullptr;
  tracking::LoggedModelStore* logged_models = nullptr;
  registry::RegistryStore* registry = nullptr;
  artifacts::ArtifactStore* artifacts = nullptr;  // mlflow-artifacts:/ maps to mlflow/ under its root
  // The KFP surface (/apis/v2beta1/...) is served when both are set.
  pipelines::PipelineEngine* pipelines = nullptr;
  pipelines::CatalogStore* pipeline_catalog = nullptr;
  // Recurring runs (/apis/v2beta1/recurringruns) when also set.
  pipelines::Scheduler* pipeline_schedules = nullptr;
  // The ask/tell API (/api/v1/tuning/studies/...) when set.
  tuning::StudyService* studies = nullptr;
  // The serving gateway (/v2/..., /v1/models/EP:predict for every endpoint
  // in namespace "default") is served when router is set; sampled payloads
  // go to payload_log when also set, read back at /api/v1/serving/payloads.
  serving::Router* router = nullptr;
  serving::PayloadLog* payload_log = nullptr;
};

class ApiServer {
 public:
  // Binds and starts the threads. InvalidArgument for a malformed listen
  // address; Unavailable naming the address and the OS error when the bind
  // fails; Internal if the metrics are already registered in the registry.
  static Result<std::unique_ptr<ApiServer>> Start(const ApiOptions& options, const ApiServices& services);

  ~ApiServer();  // Shutdown(0) if still running
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // "http://127.0.0.1:PORT" with the bound port.
  std::string url() const;

  // Stops accepting, finishes in-flight requests (for up to `drain`; their
  // responses close the connection), ends watch streams and idle keep-alive
  // connections, joins threads. Idempotent.
  void Shutdown(std::chrono::milliseconds drain);

 private:
  struct Impl;
  explicit ApiServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ferry::api
