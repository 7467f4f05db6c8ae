#pragma once
// The MLflow surface: tracking (/api/2.0/mlflow/experiments|runs|metrics|
// artifacts/...), logged models (/api/2.0/mlflow/logged-models/...), the
// model registry (/api/2.0/mlflow/registered-models|model-versions/...) and
// the artifact proxy (/api/2.0/mlflow-artifacts/...), each added when its
// service is set in ApiServices. The stock `mlflow` client talks to these.
//
// Thread-safety: the handlers are thread-safe.

#include "ferry/api/api_server.h"
#include "ferry/api/router.h"
#include "ferry/common/status.h"

namespace ferry::api::mlflow {

// Artifact uploads accept bodies up to `max_upload_bytes`.
Status AddMlflowRoutes(Router& router, const ApiServices& services, std::size_t max_upload_bytes);

// One function a surface, each in its own file.
Status AddTrackingRoutes(Router& router, const ApiServices& services);      // tracking.cc
Status AddLoggedModelRoutes(Router& router, const ApiServices& services);   // logged_models.cc
Status AddRegistryRoutes(Router& router, const ApiServices& services);      // registry.cc
Status AddArtifactRoutes(Router& router, const ApiServices& services,       // artifacts.cc
                         std::size_t max_upload_bytes);

}  // namespace ferry::api::mlflow
