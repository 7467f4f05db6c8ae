// RunService: /apis/v2beta1/runs[/{id}[:terminate|:retry|:archive|:unarchive]].
// Runs are the engine's; the catalog supplies experiments (a run needs one
// that exists and is not archived; "Default" when none is named) and the
// text of uploaded pipeline versions.

#include <chrono>
#include <set>

#include "ferry/api/routes/kfp/common_internal.h"
#include "ferry/api/routes/kfp/json_internal.h"
#include "ferry/api/routes/kfp/routes.h"
#include "ferry/common/strings.h"
#include "ferry/pipelines/catalog_store.h"
#include "ferry/pipelines/engine.h"

namespace ferry::api::kfp {
namespace {

using pipelines::PipelineEngine;
using pipelines::RunState;

const ListFields& RunFields() {
  static const auto* fields = new ListFields{
      {"run_id", {"run_id"}},
      {"id", {"run_id"}},
      {"display_name", {"display_name"}},
      {"name", {"display_name"}},
      {"description", {"description"}},
      {"experiment_id", {"experiment_id"}},
      {"created_at", {"created_at", FieldKind::kTime}},
      {"scheduled_at", {"scheduled_at", FieldKind::kTime}},
      {"finished_at", {"finished_at", FieldKind::kTime}},
      {"state", {"state"}},
      {"status", {"state"}},
      {"storage_state", {"storage_state"}},
      {"recurring_run_id", {"recurring_run_id"}},
      {"pipeline_version_id", {"pipeline_version_reference.pipeline_version_id"}},
      {"pipeline_id", {"pipeline_version_reference.pipeline_id"}},
  };
  return *fields;
}

// The fields of V2beta1Run, snake_case and camelCase (proto JSON accepts
// both); anything else in a create body is refused, as grpc-gateway does.
bool IsRunField(const std::string& key) {
  static const auto* known = new std::set<std::string>{"experiment_id",
                                                       "run_id",
                                                       "display_name",
                                                       "storage_state",
                                                       "description",
                                                       "pipeline_version_id",
                                                       "pipeline_spec",
                                                       "pipeline_version_reference",
                                                       "runtime_config",
                                                       "service_account",
                                                       "created_at",
                                                       "scheduled_at",
                                                       "finished_at",
                                                       "state",
                                                       "error",
                                                       "run_details",
                                                       "recurring_run_id",
                                                       "state_history",
                                                       "plugins_input",
                                                       "plugins_output"};
  if (known->count(key)) return true;
  std::string snake;
  for (char c : key) {
    if (std::isupper(static_cast<unsigned char>(c))) {
      snake.push_back('_');
      snake.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    } else {
      snake.push_back(c);
    }
  }
  return known->count(snake) > 0;
}

Result<pipelines::RunDetail> CreateRun(const ApiServices& s, const HttpRequest& request) {
  ASSIGN_OR_RETURN(Json body, BodyObject(request));
  ASSIGN_OR_RETURN(const Json* wrapped, ObjectField(body, "run", "run"));
  const Json& run = wrapped != nullptr && body.size() == 1 ? *wrapped : body;
  for (const auto& [key, value] : run.items()) {
    if (!IsRunField(key))
      return InvalidArgument("unknown field " + QuoteForMessage(key) + " in a run", "run." + key);
  }
  pipelines::RunRequest req;
  ASSIGN_OR_RETURN(req.display_name, StringField(run, "display_name", "run.display_name"));
  ASSIGN_OR_RETURN(req.description, StringField(run, "description", "run.description"));
  ASSIGN_OR_RETURN(req.experiment_id, StringField(run, "experiment_id", "run.experiment_id"));
  ASSIGN_OR_RETURN(std::string service_account, StringField(run, "service_account", "run.service_account"));
  if (req.display_name.find_first_not_of(" \t\r\n") == std::string::npos)
    return InvalidArgument("Run name is empty. Please specify a valid name", "run.display_name");

  // The pipeline: inline, or an uploaded version (the pipeline's latest
  // when only the pipeline is named).
  const Json* spec = run.contains("pipeline_spec") && !run["pipeline_spec"].is_null() ? &run["pipeline_spec"]
                     : run.contains("pipelineSpec") && !run["pipelineSpec"].is_null() ? &run["pipelineSpec"]
                                                                                      : nullptr;
  ASSIGN_OR_RETURN(const Json* ref,
                   ObjectField(run, "pipeline_version_reference", "run.pipeline_version_reference"));
  ASSIGN_OR_RETURN(std::string legacy_version,
                   StringField(run, "pipeline_version_id", "run.pipeline_version_id"));
  std::string pipeline_id, version_id = legacy_version;
  if (ref != nullptr) {
    ASSIGN_OR_RETURN(pipeline_id,
                     StringField(*ref, "pipeline_id", "run.pipeline_version_reference.pipeline_id"));
    ASSIGN_OR_RETURN(std::string v, StringField(*ref, "pipeline_version_id",
                                                "run.pipeline_version_reference.pipeline_version_id"));
    if (!v.empty()) version_id = v;
  }
  const bool from_catalog = !pipeline_id.empty() || !version_id.empty();
  if ((spec != nullptr) == from_catalog)
    return InvalidArgument("a run needs either pipeline_spec or pipeline_version_reference, not both",
                           "run.pipeline_spec");
  if (spec != nullptr) {
    ASSIGN_OR_RETURN(req.pipeline_text, PipelineTextFromJson(*spec, "run.pipeline_spec"));
    RETURN_IF_ERROR(CheckPipelineText(req.pipeline_text, "run.pipeline_spec").status());
  } else {
    pipelines::PipelineVersion version;
    if (!version_id.empty()) {
      ASSIGN_OR_RETURN(version, s.pipeline_catalog->GetPipelineVersion(pipeline_id, version_id));
    } else {
      ASSIGN_OR_RETURN(version, s.pipeline_catalog->LatestPipelineVersion(pipeline_id));
    }
    req.pipeline_text = version.pipeline_text;
    req.pipeline_id = version.pipeline_id;
    req.pipeline_version_id = version.pipeline_version_id;
  }

  ASSIGN_OR_RETURN(const Json* config, ObjectField(run, "runtime_config", "run.runtime_config"));
  if (config != nullptr) {
    ASSIGN_OR_RETURN(const Json* params, ObjectField(*config, "parameters", "run.runtime_config.parameters"));
    if (params != nullptr)
      for (const auto& [k, v] : params->items()) req.parameters[k] = v;
    ASSIGN_OR_RETURN(req.pipeline_root,
                     StringField(*config, "pipeline_root", "run.runtime_config.pipeline_root"));
  }

  // KFP: the experiment must exist; runs go to "Default" when none is named.
  if (req.experiment_id.empty()) {
    ASSIGN_OR_RETURN(req.experiment_id, s.pipeline_catalog->DefaultExperimentId());
  }
  ASSIGN_OR_RETURN(pipelines::Experiment experiment, s.pipeline_catalog->GetExperiment(req.experiment_id));
  if (experiment.archived)
    return FailedPrecondition("Experiment " + experiment.experiment_id +
                              " is archived; unarchive it to create runs in it");

  ASSIGN_OR_RETURN(pipelines::RunStatus created, s.pipelines->SubmitRun(req));
  RETURN_IF_ERROR(s.pipeline_catalog->TouchExperiment(created.experiment_id, created.created_micros));
  auto detail = s.pipelines->GetRun(created.run_id);
  if (detail.ok()) return detail;
  pipelines::RunDetail d;
  d.run = created;
  d.pipeline_text = req.pipeline_text;
  return d;
}

Result<Json> ListRuns(const ApiServices& s, const HttpRequest& request) {
  ASSIGN_OR_RETURN(ListQuery query, ParseListQuery(request, RunFields(), "created_at"));
  pipelines::ListRunsRequest list;
  list.experiment_id = QueryParam(request, "experiment_id");
  list.page_size = 1000;
  list.order_by = "created_at asc";
  std::vector<Json> items;
  while (true) {
    ASSIGN_OR_RETURN(pipelines::ListRunsResponse page, s.pipelines->ListRuns(list));
    for (const auto& run : page.runs) items.push_back(RunJson(run));
    if (page.next_page_token.empty() || page.runs.empty()) break;
    list.page_token = page.next_page_token;
  }
  ListPage page = ApplyListQuery(std::move(items), query, "run_id");
  Json body = {{"total_size", page.total_size}};
  if (!page.items.empty()) body["runs"] = std::move(page.items);
  if (!page.next_page_token.empty()) body["next_page_token"] = page.next_page_token;
  return body;
}

// KFP deletes running runs too: terminate first, wait for the end, delete.
Status DeleteRun(PipelineEngine* engine, const std::string& id) {
  Status st = engine->DeleteRun(id);
  if (st.code() != StatusCode::kFailedPrecondition) return st;
  Status cancel = engine->CancelRun(id);
  if (!cancel.ok() && cancel.code() != StatusCode::kFailedPrecondition) return cancel;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::int64_t revision = -1;
  while (std::chrono::steady_clock::now() < deadline) {
    ASSIGN_OR_RETURN(pipelines::RunStatus run,
                     engine->WaitForChange(id, revision, std::chrono::milliseconds(1000)));
    if (pipelines::IsFinal(run.state)) return engine->DeleteRun(id);
    revision = run.revision;
  }
  return Unavailable("run " + id + " is still stopping; try the delete again");
}

Status RunAction(PipelineEngine* engine, const std::string& id, const std::string& verb) {
  if (verb == "terminate") return engine->CancelRun(id);
  if (verb == "retry") return engine->RetryRun(id);
  if (verb == "archive") return engine->SetArchived(id, true);
  if (verb == "unarchive") return engine->SetArchived(id, false);
  return NotFound("Not Found: no run action " + QuoteForMessage(verb));
}

}  // namespace

Status AddRunRoutes(Router& router, const ApiServices& services) {
  const std::string base = std::string(kApi) + "/runs";
  ApiServices s = services;
  PipelineEngine* engine = services.pipelines;
  RETURN_IF_ERROR(router.Add("POST", base, [s](const HttpRequest& request) {
    auto detail = CreateRun(s, request);
    return detail.ok() ? JsonResponse(RunJson(detail->run, &*detail))
                       : ErrorResponse(request, detail.status());
  }));
  RETURN_IF_ERROR(router.Add("GET", base, [s](const HttpRequest& request) {
    auto body = ListRuns(s, request);
    return body.ok() ? JsonResponse(*body) : ErrorResponse(request, body.status());
  }));
  RETURN_IF_ERROR(router.Add("GET", base + "/{id}", [engine](const HttpRequest& request) {
    auto detail = engine->GetRun(request.Param("id"));
    return detail.ok() ? JsonResponse(RunJson(detail->run, &*detail))
                       : ErrorResponse(request, detail.status());
  }));
  RETURN_IF_ERROR(router.Add("DELETE", base + "/{id}", [engine](const HttpRequest& request) {
    Status st = DeleteRun(engine, request.Param("id"));
    return st.ok() ? JsonResponse(Json::object()) : ErrorResponse(request, st);
  }));
  return router.Add("POST", base + "/{id}", [engine](const HttpRequest& request) {
    const std::string& target = request.Param("id");
    const std::size_t colon = target.rfind(':');
    if (colon == std::string::npos)
      return ErrorResponse(request, NotFound("Not Found: no API endpoint for POST " + request.path));
    Status st = RunAction(engine, target.substr(0, colon), target.substr(colon + 1));
    return st.ok() ? JsonResponse(Json::object()) : ErrorResponse(request, st);
  });
}

}  // namespace ferry::api::kfp
