// MLflow 3 logged models, /api/2.0/mlflow/logged-models/... (MLflow's
// server/handlers.py _create_logged_model ... _list_logged_model_artifacts)
// over tracking::LoggedModelStore. JSON is LoggedModel as MLflow's
// message_to_json writes it: info {model_id, experiment_id, name,
// creation_timestamp_ms, last_updated_timestamp_ms, artifact_uri, status,
// model_type, source_run_id (both "" when unset), status_message?, tags?},
// data {params?, metrics?}.
#include <charconv>

#include "ferry/api/routes/mlflow/artifacts_internal.h"
#include "ferry/api/routes/mlflow/common.h"
#include "ferry/api/routes/mlflow/routes.h"
#include "ferry/api/routes/mlflow/tracking_json_internal.h"
#include "ferry/artifacts/artifact_store.h"
#include "ferry/common/strings.h"
#include "ferry/tracking/logged_model_store.h"

namespace ferry::api::mlflow {
namespace {

using tracking::LoggedModel;
using tracking::LoggedModelStore;

constexpr std::string_view kBase = "/api/2.0/mlflow/logged-models";

Json LoggedModelJson(const LoggedModel& m) {
  Json info = {{"model_id", m.model_id},
               {"experiment_id", m.experiment_id},
               {"name", m.name},
               {"creation_timestamp_ms", m.creation_timestamp_ms},
               {"last_updated_timestamp_ms", m.last_updated_timestamp_ms},
               {"artifact_uri", m.artifact_location},
               {"status", m.status},
               {"model_type", m.model_type},
               {"source_run_id", m.source_run_id}};
  if (!m.status_message.empty()) info["status_message"] = m.status_message;
  if (!m.tags.empty()) info["tags"] = TagsJson(m.tags);
  Json data = Json::object();
  if (!m.params.empty()) {
    Json params = Json::array();
    for (const tracking::Param& p : m.params) params.push_back({{"key", p.key}, {"value", p.value}});
    data["params"] = std::move(params);
  }
  if (!m.metrics.empty()) {
    Json metrics = Json::array();
    for (const tracking::Metric& metric : m.metrics) metrics.push_back(MetricJson(metric, true));
    data["metrics"] = std::move(metrics);
  }
  return {{"info", std::move(info)}, {"data", std::move(data)}};
}

// [{key, value}] at `field`; the key is required, the value defaults to "".
Result<std::vector<tracking::Param>> ParseParams(const Json& request, std::string_view field) {
  std::vector<tracking::Param> params;
  ASSIGN_OR_RETURN(const Json* list, OptArray(request, field));
  if (list == nullptr) return params;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::string name = std::string(field) + "[" + std::to_string(i) + "]";
    ASSIGN_OR_RETURN(std::optional<std::string> key, OptString((*list)[i], "key"));
    if (!key || key->empty()) return InvalidArgument(MissingParameterMessage(name + ".key"), name + ".key");
    ASSIGN_OR_RETURN(std::optional<std::string> value, OptString((*list)[i], "value"));
    params.push_back({std::move(*key), value.value_or("")});
  }
  return params;
}

// FinalizeLoggedModel.status: the enum's name, or its number.
Result<std::string> ParseStatus(const Json& request) {
  const auto it = request.find("status");
  if (it == request.end() || it->is_null())
    return InvalidArgument(MissingParameterMessage("status"), "status");
  if (it->is_string()) {
    const std::string& s = it->get_ref<const std::string&>();
    int n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || end != s.data() + s.size()) {
      RETURN_IF_ERROR(tracking::ValidateLoggedModelStatus(s));
      return s;
    }
  }
  ASSIGN_OR_RETURN(std::int64_t n, RequiredInt64(request, "status"));
  switch (n) {
    case 1:
      return std::string(tracking::kLoggedModelPending);
    case 2:
      return std::string(tracking::kLoggedModelReady);
    case 3:
      return std::string(tracking::kLoggedModelUploadFailed);
    default:
      return InvalidArgument("Invalid logged model status " + std::to_string(n) +
                                 "; expected 1 (PENDING), 2 (READY) "
                                 "or 3 (UPLOAD_FAILED)",
                             "status");
  }
}

class LoggedModelRoutes {
 public:
  LoggedModelRoutes(LoggedModelStore* models, artifacts::ArtifactStore* artifacts)
      : models_(models), artifacts_(artifacts) {}

  Result<Json> Create(const HttpRequest& request) {
    ASSIGN_OR_RETURN(Json body, RequestObject(request));
    tracking::CreateLoggedModelRequest create;
    ASSIGN_OR_RETURN(create.experiment_id, RequiredString(body, "experiment_id"));
    ASSIGN_OR_RETURN(std::optional<std::string> name, OptString(body, "name"));
    ASSIGN_OR_RETURN(std::optional<std::string> model_type, OptString(body, "model_type"));
    ASSIGN_OR_RETURN(std::optional<std::string> source_run_id, OptString(body, "source_run_id"));
    create.name = name.value_or("");
    create.model_type = model_type.value_or("");
    create.source_run_id = source_run_id.value_or("");
    ASSIGN_OR_RETURN(create.params, ParseParams(body, "params"));
    ASSIGN_OR_RETURN(create.tags, ParseTags(body, "tags"));
    ASSIGN_OR_RETURN(LoggedModel model, models_->Create(create));
    return Json{{"model", LoggedModelJson(model)}};
  }

  Result<Json> Get(const HttpRequest& request) {
    // allow_deleted=true (used only by `mlflow gc` against a database, never
    // over REST) is not supported: deleted models stay NotFound.
    ASSIGN_OR_RETURN(LoggedModel model, models_->Get(request.Param("model_id")));
    return Json{{"model", LoggedModelJson(model)}};
  }

  Result<Json> Delete(const HttpRequest& request) {
    RETURN_IF_ERROR(models_->Delete(request.Param("model_id")));
    return Json::object();
  }

  Result<Json> Finalize(const HttpRequest& request) {
    ASSIGN_OR_RETURN(Json body, RequestObject(request));
    ASSIGN_OR_RETURN(std::string status, ParseStatus(body));
    ASSIGN_OR_RETURN(LoggedModel model, models_->Finalize(request.Param("model_id"), status));
    return Json{{"model", LoggedModelJson(model)}};
  }

  Result<Json> SetTags(const HttpRequest& request) {
    ASSIGN_OR_RETURN(Json body, RequestObject(request));
    ASSIGN_OR_RETURN(std::vector<tracking::Tag> tags, ParseTags(body, "tags"));
    RETURN_IF_ERROR(models_->SetTags(request.Param("model_id"), tags));
    return Json::object();
  }

  Result<Json> DeleteTag(const HttpRequest& request) {
    RETURN_IF_ERROR(models_->DeleteTag(request.Param("model_id"), request.Param("tag_key")));
    return Json::object();
  }

  Result<Json> LogParams(const HttpRequest& request) {
    ASSIGN_OR_RETURN(Json body, RequestObject(request));
    ASSIGN_OR_RETURN(std::vector<tracking::Param> params, ParseParams(body, "params"));
    RETURN_IF_ERROR(models_->LogParams(request.Param("model_id"), params));
    return Json::object();
  }

  Result<Json> Search(const HttpRequest& request) {
    ASSIGN_OR_RETURN(Json body, RequestObject(request));
    tracking::LoggedModelSearch search;
    if (!body.contains("experiment_ids"))
      return InvalidArgument(MissingParameterMessage("experiment_ids"), "experiment_ids");
    ASSIGN_OR_RETURN(search.experiment_ids, StringList(body, "experiment_ids"));
    ASSIGN_OR_RETURN(std::optional<std::string> filter, OptString(body, "filter"));
    search.filter = filter.value_or("");
    ASSIGN_OR_RETURN(std::optional<std::int64_t> max_results, OptInt64(body, "max_results"));
    search.max_results = max_results.value_or(0);
    ASSIGN_OR_RETURN(std::optional<std::string> page_token, OptString(body, "page_token"));
    search.page_token = page_token.value_or("");
    ASSIGN_OR_RETURN(const Json* datasets, OptArray(body, "datasets"));
    if (datasets != nullptr) {
      for (const Json& d : *datasets) {
        tracking::LoggedModelDatasetFilter filter_entry;
        ASSIGN_OR_RETURN(std::optional<std::string> name, OptString(d, "dataset_name"));
        ASSIGN_OR_RETURN(std::optional<std::string> digest, OptString(d, "dataset_digest"));
        filter_entry.dataset_name = name.value_or("");
        filter_entry.dataset_digest = digest.value_or("");
        search.datasets.push_back(std::move(filter_entry));
      }
    }
    ASSIGN_OR_RETURN(const Json* order_by, OptArray(body, "order_by"));
    if (order_by != nullptr) {
      for (const Json& o : *order_by) {
        tracking::LoggedModelOrder order;
        ASSIGN_OR_RETURN(std::optional<std::string> field, OptString(o, "field_name"));
        if (!field || field->empty())
          return InvalidArgument(MissingParameterMessage("order_by.field_name"), "order_by");
        order.field_name = std::move(*field);
        ASSIGN_OR_RETURN(std::optional<bool> ascending, OptBool(o, "ascending"));
        order.ascending = ascending.value_or(true);
        ASSIGN_OR_RETURN(std::optional<std::string> dataset_name, OptString(o, "dataset_name"));
        ASSIGN_OR_RETURN(std::optional<std::string> dataset_digest, OptString(o, "dataset_digest"));
        order.dataset_name = dataset_name.value_or("");
        order.dataset_digest = dataset_digest.value_or("");
        search.order_by.push_back(std::move(order));
      }
    }
    ASSIGN_OR_RETURN(tracking::PageOf<LoggedModel> page, models_->Search(search));
    Json out = Json::object();
    Json models = Json::array();
    for (const LoggedModel& m : page.items) models.push_back(LoggedModelJson(m));
    if (!models.empty()) out["models"] = std::move(models);
    if (!page.next_page_token.empty()) out["next_page_token"] = page.next_page_token;
    return out;
  }

  Result<Json> ListArtifacts(const HttpRequest& request) {
    ASSIGN_OR_RETURN(Json body, RequestObject(request));
    ASSIGN_OR_RETURN(std::optional<std::string> dir, OptString(body, "artifact_directory_path"));
    ASSIGN_OR_RETURN(LoggedModel model, models_->Get(request.Param("model_id")));
    Json out = {{"root_uri", model.artifact_location}};
    if (artifacts_ == nullptr) return Unavailable("this server has no artifact store");
    const std::string relative = dir.value_or("");
    ASSIGN_OR_RETURN(std::string store_dir, ProxiedStorePath(model.artifact_location, relative));
    ASSIGN_OR_RETURN(Json files, ListFilesJson(*artifacts_, store_dir, relative));
    if (!files.empty()) out["files"] = std::move(files);
    return out;
  }

 private:
  LoggedModelStore* models_;
  artifacts::ArtifactStore* artifacts_;
};

}  // namespace

Status AddLoggedModelRoutes(Router& router, const ApiServices& services) {
  auto routes = std::make_shared<LoggedModelRoutes>(services.logged_models, services.artifacts);
  auto bind = [routes](Result<Json> (LoggedModelRoutes::*method)(const HttpRequest&)) {
    return [routes, method](const HttpRequest& request) {
      Result<Json> result = ((*routes).*method)(request);
      if (!result.ok()) return ErrorResponse(request, result.status());
      return JsonResponse(*result);
    };
  };
  const std::string base(kBase);
  const std::string model = base + "/{model_id}";
  RETURN_IF_ERROR(router.Add("POST", base, bind(&LoggedModelRoutes::Create)));
  RETURN_IF_ERROR(router.Add("POST", base + "/search", bind(&LoggedModelRoutes::Search)));
  RETURN_IF_ERROR(router.Add("GET", model, bind(&LoggedModelRoutes::Get)));
  RETURN_IF_ERROR(router.Add("DELETE", model, bind(&LoggedModelRoutes::Delete)));
  RETURN_IF_ERROR(router.Add("PATCH", model, bind(&LoggedModelRoutes::Finalize)));
  RETURN_IF_ERROR(router.Add("PATCH", model + "/tags", bind(&LoggedModelRoutes::SetTags)));
  RETURN_IF_ERROR(router.Add("DELETE", model + "/tags/{tag_key}", bind(&LoggedModelRoutes::DeleteTag)));
  RETURN_IF_ERROR(router.Add("POST", model + "/params", bind(&LoggedModelRoutes::LogParams)));
  RETURN_IF_ERROR(
      router.Add("GET", model + "/artifacts/directories", bind(&LoggedModelRoutes::ListArtifacts)));
  return Status::OK();
}

}  // namespace ferry::api::mlflow
