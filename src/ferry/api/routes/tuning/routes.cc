#include "ferry/api/routes/tuning/routes.h"

namespace ferry::api::studies {

Status AddTuningRoutes(Router& router, const ApiServices& services) {
  if (services.studies == nullptr) return Status::OK();
  RETURN_IF_ERROR(AddStudyRoutes(router, services));
  return AddTrialRoutes(router, services);
}

}  // namespace ferry::api::studies
