#include "ferry/api/routes/health.h"

#include "ferry/api/codec.h"
#include "ferry/api/errors.h"

namespace ferry::api {

Status AddHealthRoutes(Router& router, const ApiServices& services, std::string version) {
  // Liveness must not depend on the store or the worker pool: it runs on the
  // I/O thread, so a saturated server is still seen as alive.
  RETURN_IF_ERROR(
      router.Add("GET", "/healthz",
                 [](const HttpRequest&) { return TextResponse(200, "text/plain; charset=utf-8", "ok"); },
                 {.blocking = false}));

  store::Database* db = services.db;
  RETURN_IF_ERROR(router.Add("GET", "/readyz", [db](const HttpRequest&) {
    Status ping = db->Ping();
    if (!ping.ok()) {
      return ErrorResponse(ApiError{503, "Unavailable", "store is not reachable: " + ping.message(), ""});
    }
    return TextResponse(200, "text/plain; charset=utf-8", "ok");
  }));

  RETURN_IF_ERROR(router.Add("GET", "/version",
                             [version = std::move(version)](const HttpRequest& request) {
                               return ObjectResponse(request, 200, Json{{"version", version}});
                             },
                             {.blocking = false}));

  MetricsRegistry* metrics = services.metrics;
  RETURN_IF_ERROR(router.Add("GET", "/metrics",
                             [metrics](const HttpRequest&) {
                               return TextResponse(200, "text/plain; version=0.0.4; charset=utf-8",
                                                   metrics->Render());
                             },
                             {.blocking = false}));
  return Status::OK();
}

}  // namespace ferry::api
