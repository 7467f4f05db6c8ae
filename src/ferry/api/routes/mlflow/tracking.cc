#include "ferry/api/routes/mlflow/routes.h"

namespace ferry::api::mlflow {

Status AddTrackingRoutes(Router& router, const ApiServices& services) { return Status::OK(); }

}  // namespace ferry::api::mlflow
