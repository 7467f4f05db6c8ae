#include "ferry/api/routes/inference/routes.h"

#include <utility>

#include "ferry/api/routes/inference/common_internal.h"

namespace ferry::api::inference {
namespace {

// Extensions named in GET /v2, as Triton names them.
constexpr const char* kExtensions[] = {"binary_tensor_data", "model_repository", "model_configuration",
                                       "statistics", "classification"};

// The model (and version, when the route has one) of a request, or the
// NotFound error naming it.
Result<std::shared_ptr<const serving::LoadedModel>> ModelOf(serving::InferenceService* service,
                                                            const HttpRequest& request) {
  return service->repository().Get(request.Param("model"), request.Param("version"));
}

HttpResponse Metadata(serving::InferenceService* service, const HttpRequest& request) {
  auto model = ModelOf(service, request);
  if (!model.ok()) return V2Error(request, model.status());
  std::vector<std::string> versions;
  if (!request.Param("version").empty()) {
    versions.push_back((*model)->version);
  } else {
    for (const auto& loaded : service->repository().Loaded((*model)->name)) versions.push_back(loaded->version);
  }
  return V2Json(ModelMetadataJson(**model, versions));
}

HttpResponse Stats(serving::InferenceService* service, const HttpRequest& request) {
  Json stats = Json::array();
  const std::string& name = request.Param("model");
  if (name.empty()) {
    for (const auto& loaded : service->repository().Loaded()) stats.push_back(ModelStatsJson(*loaded));
  } else if (!request.Param("version").empty()) {
    auto model = ModelOf(service, request);
    if (!model.ok()) return V2Error(request, model.status());
    stats.push_back(ModelStatsJson(**model));
  } else {
    // Every version of the model, as Triton answers without a version.
    auto model = ModelOf(service, request);
    if (!model.ok()) return V2Error(request, model.status());
    for (const auto& loaded : service->repository().Loaded(name)) stats.push_back(ModelStatsJson(*loaded));
  }
  return V2Json({{"model_stats", std::move(stats)}});
}

// Adds `handler` on the pattern with and without "/versions/{version}"
// after the model.
Status AddVersioned(Router& router, const std::string& method, const std::string& suffix, Handler handler,
                    RouteOptions options) {
  RETURN_IF_ERROR(router.Add(method, "/v2/models/{model}" + suffix, handler, options));
  return router.Add(method, "/v2/models/{model}/versions/{version}" + suffix, std::move(handler), options);
}

}  // namespace

Status AddModelRoutes(Router& router, serving::InferenceService* service) {
  const RouteOptions cheap{.blocking = false};
  RETURN_IF_ERROR(AddVersioned(
      router, "GET", "", [service](const HttpRequest& r) { return Metadata(service, r); }, cheap));
  RETURN_IF_ERROR(AddVersioned(
      router, "GET", "/ready",
      [service](const HttpRequest& r) {
        auto model = ModelOf(service, r);
        if (!model.ok()) return V2Error(r, model.status());
        return TextResponse(200, "application/json", "");
      },
      cheap));
  RETURN_IF_ERROR(AddVersioned(
      router, "GET", "/config",
      [service](const HttpRequest& r) {
        auto model = ModelOf(service, r);
        if (!model.ok()) return V2Error(r, model.status());
        return V2Json(ModelConfigJson(**model));
      },
      cheap));
  RETURN_IF_ERROR(AddVersioned(
      router, "GET", "/stats", [service](const HttpRequest& r) { return Stats(service, r); }, cheap));
  return router.Add(
      "GET", "/v2/models/stats", [service](const HttpRequest& r) { return Stats(service, r); }, cheap);
}

Status AddInferenceRoutes(Router& router, serving::InferenceService* service,
                          const InferenceRouteOptions& options) {
  if (service == nullptr) return InvalidArgument("the inference routes need an InferenceService");
  const RouteOptions cheap{.blocking = false};
  Json metadata = {{"name", "ferry"}, {"version", options.server_version}, {"extensions", kExtensions}};
  RETURN_IF_ERROR(router.Add(
      "GET", "/v2", [body = metadata.dump()](const HttpRequest&) { return TextResponse(200, "application/json", body); },
      cheap));
  // Triton answers 400 with an empty body when not live or not ready.
  RETURN_IF_ERROR(router.Add(
      "GET", "/v2/health/live", [](const HttpRequest&) { return TextResponse(200, "application/json", ""); },
      cheap));
  RETURN_IF_ERROR(router.Add(
      "GET", "/v2/health/ready",
      [ready = options.ready](const HttpRequest&) {
        return TextResponse(!ready || ready() ? 200 : 400, "application/json", "");
      },
      cheap));
  if (options.metrics != nullptr) {
    RETURN_IF_ERROR(router.Add(
        "GET", "/metrics",
        [metrics = options.metrics](const HttpRequest&) {
          return TextResponse(200, "text/plain; version=0.0.4; charset=utf-8", metrics->Render());
        },
        cheap));
  }
  RETURN_IF_ERROR(AddModelRoutes(router, service));
  RETURN_IF_ERROR(AddInferRoutes(router, service, options.infer_inline));
  return AddRepositoryRoutes(router, service);
}

}  // namespace ferry::api::inference
