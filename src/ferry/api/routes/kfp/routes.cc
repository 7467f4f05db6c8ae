#include "ferry/api/routes/kfp/routes.h"

#include "ferry/api/routes/kfp/common_internal.h"

namespace ferry::api::kfp {

Status AddKfpRoutes(Router& router, const ApiServices& services) {
  if (services.pipelines == nullptr || services.pipeline_catalog == nullptr) return Status::OK();
  RETURN_IF_ERROR(router.Add("GET", std::string(kApi) + "/healthz",
                             [](const HttpRequest&) {
                               return JsonResponse({{"commit_sha", "unknown"},
                                                    {"tag_name", "unknown"},
                                                    {"multi_user", false},
                                                    {"pipeline_store", "database"}});
                             },
                             {.blocking = false}));
  RETURN_IF_ERROR(AddExperimentRoutes(router, services));
  RETURN_IF_ERROR(AddPipelineRoutes(router, services));
  RETURN_IF_ERROR(AddRunRoutes(router, services));
  RETURN_IF_ERROR(AddRecurringRunRoutes(router, services));
  RETURN_IF_ERROR(AddLogRoutes(router, services));

  // Anything else under /apis/ answers in KFP's shape; every route above is
  // more specific, so it still wins.
  auto not_found = [](const HttpRequest& request) {
    return ErrorResponse(request,
                         NotFound("Not Found: no API endpoint for " + request.method + " " + request.path));
  };
  for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE"})
    RETURN_IF_ERROR(router.Add(method, "/apis/{rest...}", not_found, {.blocking = false}));
  return Status::OK();
}

}  // namespace ferry::api::kfp
