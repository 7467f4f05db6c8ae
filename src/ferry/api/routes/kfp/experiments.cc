// ExperimentService: /apis/v2beta1/experiments[/{id}[:archive|:unarchive]].

#include "ferry/api/routes/kfp/common_internal.h"
#include "ferry/api/routes/kfp/json_internal.h"
#include "ferry/api/routes/kfp/routes.h"
#include "ferry/common/strings.h"
#include "ferry/pipelines/catalog_store.h"
#include "ferry/pipelines/engine.h"

namespace ferry::api::kfp {
namespace {

const ListFields& ExperimentFields() {
  static const auto* fields = new ListFields{
      {"experiment_id", {"experiment_id"}},
      {"id", {"experiment_id"}},
      {"display_name", {"display_name"}},
      {"name", {"display_name"}},
      {"description", {"description"}},
      {"namespace", {"namespace"}},
      {"created_at", {"created_at", FieldKind::kTime}},
      {"storage_state", {"storage_state"}},
      {"last_run_created_at", {"last_run_created_at", FieldKind::kTime}},
  };
  return *fields;
}

Result<Json> Create(pipelines::CatalogStore* catalog, const HttpRequest& request) {
  ASSIGN_OR_RETURN(Json body, BodyObject(request));
  // The body is the Experiment itself; grpc-gateway also accepts it wrapped.
  const Json* object = &body;
  ASSIGN_OR_RETURN(const Json* wrapped, ObjectField(body, "experiment", "experiment"));
  if (wrapped != nullptr) object = wrapped;
  pipelines::Experiment e;
  ASSIGN_OR_RETURN(e.display_name, StringField(*object, "display_name", "experiment.display_name"));
  ASSIGN_OR_RETURN(e.description, StringField(*object, "description", "experiment.description"));
  ASSIGN_OR_RETURN(e.namespace_, StringField(*object, "namespace", "experiment.namespace"));
  ASSIGN_OR_RETURN(pipelines::Experiment created, catalog->CreateExperiment(e));
  return ExperimentJson(created);
}

// POST /experiments/{id}:archive | :unarchive
Status Archive(const ApiServices& s, const std::string& id, bool archived) {
  RETURN_IF_ERROR(s.pipeline_catalog->SetExperimentArchived(id, archived));
  if (!archived) return Status::OK();
  // KFP archives the experiment's runs with it (unarchiving leaves them).
  pipelines::ListRunsRequest list;
  list.experiment_id = id;
  list.page_size = 1000;
  while (true) {
    ASSIGN_OR_RETURN(pipelines::ListRunsResponse page, s.pipelines->ListRuns(list));
    for (const auto& run : page.runs)
      if (!run.archived) RETURN_IF_ERROR(s.pipelines->SetArchived(run.run_id, true));
    if (page.next_page_token.empty()) break;
    list.page_token = page.next_page_token;
  }
  return Status::OK();
}

}  // namespace

Status AddExperimentRoutes(Router& router, const ApiServices& services) {
  const std::string base = std::string(kApi) + "/experiments";
  pipelines::CatalogStore* catalog = services.pipeline_catalog;
  RETURN_IF_ERROR(router.Add("POST", base, [catalog](const HttpRequest& request) {
    auto created = Create(catalog, request);
    return created.ok() ? JsonResponse(*created) : ErrorResponse(request, created.status());
  }));
  RETURN_IF_ERROR(router.Add("GET", base, [catalog](const HttpRequest& request) {
    auto query = ParseListQuery(request, ExperimentFields(), "created_at");
    if (!query.ok()) return ErrorResponse(request, query.status());
    auto all = catalog->ListExperiments();
    if (!all.ok()) return ErrorResponse(request, all.status());
    std::vector<Json> items;
    for (const auto& e : *all) items.push_back(ExperimentJson(e));
    ListPage page = ApplyListQuery(std::move(items), *query, "experiment_id");
    Json body = {{"total_size", page.total_size}};
    if (!page.items.empty()) body["experiments"] = std::move(page.items);
    if (!page.next_page_token.empty()) body["next_page_token"] = page.next_page_token;
    return JsonResponse(body);
  }));
  RETURN_IF_ERROR(router.Add("GET", base + "/{id}", [catalog](const HttpRequest& request) {
    auto e = catalog->GetExperiment(request.Param("id"));
    return e.ok() ? JsonResponse(ExperimentJson(*e)) : ErrorResponse(request, e.status());
  }));
  RETURN_IF_ERROR(router.Add("DELETE", base + "/{id}", [catalog](const HttpRequest& request) {
    Status st = catalog->DeleteExperiment(request.Param("id"));
    return st.ok() ? JsonResponse(Json::object()) : ErrorResponse(request, st);
  }));
  ApiServices s = services;
  return router.Add("POST", base + "/{id}", [s](const HttpRequest& request) {
    const std::string& target = request.Param("id");
    const std::size_t colon = target.rfind(':');
    const std::string id = target.substr(0, colon);
    const std::string verb = colon == std::string::npos ? "" : target.substr(colon + 1);
    if (verb != "archive" && verb != "unarchive")
      return ErrorResponse(request, NotFound("Not Found: no API endpoint for POST " + request.path));
    Status st = Archive(s, id, verb == "archive");
    return st.ok() ? JsonResponse(Json::object()) : ErrorResponse(request, st);
  });
}

}  // namespace ferry::api::kfp
