#include "ferry/api/api_server.h"

#include "ferry/api/http_server.h"
#include "ferry/api/process_metrics.h"
#include "ferry/api/router.h"
#include "ferry/api/routes/dashboard.h"
#include "ferry/api/routes/health.h"
#include "ferry/api/routes/inference/gateway.h"
#include "ferry/api/routes/kfp/routes.h"
#include "ferry/api/routes/mlflow/routes.h"
#include "ferry/api/routes/native.h"
#include "ferry/api/routes/tuning/routes.h"
#include "ferry/common/logging.h"

namespace ferry::api {
namespace {

Status ValidateOptions(const ApiOptions& options) {
  RETURN_IF_ERROR(ParseListenAddress(options.listen).status());
  if (options.max_body_bytes == 0)
    return InvalidArgument("max_body_bytes must be positive", "max_body_bytes");
  if (options.header_timeout.count() <= 0 || options.body_timeout.count() <= 0 ||
      options.idle_timeout.count() <= 0)
    return InvalidArgument("HTTP timeouts must be positive", "timeouts");
  if (options.threads < 0 || options.handler_threads < 0)
    return InvalidArgument("thread counts must not be negative", "threads");
  if (options.max_connections == 0)
    return InvalidArgument("max_connections must be positive", "max_connections");
  if (options.max_in_flight == 0) return InvalidArgument("max_in_flight must be positive", "max_in_flight");
  if (options.sse_keepalive.count() <= 0)
    return InvalidArgument("sse_keepalive must be positive", "sse_keepalive");
  if (options.max_watch_backlog == 0)
    return InvalidArgument("max_watch_backlog must be positive", "max_watch_backlog");
  return Status::OK();
}

}  // namespace

struct ApiServer::Impl {
  std::unique_ptr<MetricsRegistry> own_metrics;  // when the caller passed none
  Router router;
  // Last: stopped and destroyed before the routes it calls.
  std::unique_ptr<HttpServer> http;
};

Result<std::unique_ptr<ApiServer>> ApiServer::Start(const ApiOptions& options, const ApiServices& services) {
  if (services.db == nullptr || services.resources == nullptr || services.types == nullptr ||
      services.env == nullptr)
    return InvalidArgument("ApiServices needs db, resources, types and env");
  RETURN_IF_ERROR(ValidateOptions(options));

  auto impl = std::make_unique<Impl>();
  ApiServices wired = services;
  if (wired.metrics == nullptr) {
    impl->own_metrics = std::make_unique<MetricsRegistry>();
    wired.metrics = impl->own_metrics.get();
  }
  try {
    RegisterProcessMetrics(wired.metrics);
  } catch (const std::exception& e) {
    return Internal(std::string("cannot register process metrics: ") + e.what());
  }
  RETURN_IF_ERROR(AddHealthRoutes(impl->router, wired, options.version));
  RETURN_IF_ERROR(AddNativeRoutes(impl->router, wired, options.max_watch_backlog));
  RETURN_IF_ERROR(mlflow::AddMlflowRoutes(impl->router, wired, options.max_upload_bytes));
  RETURN_IF_ERROR(kfp::AddKfpRoutes(impl->router, wired));
  RETURN_IF_ERROR(studies::AddTuningRoutes(impl->router, wired));
  RETURN_IF_ERROR(inference::AddGatewayRoutes(impl->router, wired, {.server_version = options.version}));
  RETURN_IF_ERROR(AddDashboardRoutes(impl->router, {.web_root = options.web_root}));
  ASSIGN_OR_RETURN(impl->http, HttpServer::Start(options, &impl->router, wired.metrics, wired.env));
  LogEvent(spdlog::level::info, "http server started",
           {{"url", impl->http->url()}, {"max_body_bytes", options.max_body_bytes}});
  return std::unique_ptr<ApiServer>(new ApiServer(std::move(impl)));
}

ApiServer::ApiServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ApiServer::~ApiServer() { impl_->http->Shutdown(std::chrono::milliseconds(0)); }

std::string ApiServer::url() const { return impl_->http->url(); }

void ApiServer::Shutdown(std::chrono::milliseconds drain) { impl_->http->Shutdown(drain); }

}  // namespace ferry::api
