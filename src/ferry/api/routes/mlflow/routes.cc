#include "ferry/api/routes/mlflow/routes.h"

#include "ferry/api/routes/mlflow/common.h"

namespace ferry::api::mlflow {

Status AddMlflowRoutes(Router& router, const ApiServices& services, std::size_t max_upload_bytes) {
  if (services.tracking != nullptr) RETURN_IF_ERROR(AddTrackingRoutes(router, services));
  if (services.logged_models != nullptr) RETURN_IF_ERROR(AddLoggedModelRoutes(router, services));
  if (services.registry != nullptr) RETURN_IF_ERROR(AddRegistryRoutes(router, services));
  if (services.artifacts != nullptr) RETURN_IF_ERROR(AddArtifactRoutes(router, services, max_upload_bytes));
  if (services.tracking == nullptr) return Status::OK();

  // Anything else under MLflow's prefixes is answered in MLflow's shape, so
  // a client sees ENDPOINT_NOT_FOUND rather than the native error. Every
  // route above is more specific, so it still wins.
  auto not_found = [](const HttpRequest& request) {
    return ErrorResponse(404, "ENDPOINT_NOT_FOUND",
                         "No API endpoint for " + request.method + " " + request.path);
  };
  for (const char* prefix : {"/api/2.0/mlflow", "/ajax-api/2.0/mlflow", "/api/3.0/mlflow",
                             "/api/2.0/mlflow-artifacts"}) {
    for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE"})
      RETURN_IF_ERROR(router.Add(method, std::string(prefix) + "/{rest...}", not_found, {.blocking = false}));
  }
  return Status::OK();
}

}  // namespace ferry::api::mlflow
