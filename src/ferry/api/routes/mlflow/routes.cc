#include "ferry/api/routes/mlflow/routes.h"

namespace ferry::api::mlflow {

Status AddMlflowRoutes(Router& router, const ApiServices& services, std::size_t max_upload_bytes) {
  if (services.tracking != nullptr) RETURN_IF_ERROR(AddTrackingRoutes(router, services));
  if (services.logged_models != nullptr) RETURN_IF_ERROR(AddLoggedModelRoutes(router, services));
  if (services.registry != nullptr) RETURN_IF_ERROR(AddRegistryRoutes(router, services));
  if (services.artifacts != nullptr) RETURN_IF_ERROR(AddArtifactRoutes(router, services, max_upload_bytes));
  return Status::OK();
}

}  // namespace ferry::api::mlflow
