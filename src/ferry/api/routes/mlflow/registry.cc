// The MLflow model registry, /api/2.0/mlflow/registered-models/... and
// /api/2.0/mlflow/model-versions/... (also under /ajax-api/2.0/mlflow/, as
// MLflow serves both), over registry::RegistryStore. Requests are read as
// MLflow's server/handlers.py reads them (_get_request_message and the
// schema of each handler: required strings may not be empty, max_results
// has its upper bound); absent proto strings read as "" where the handler
// passes request_message.<field> on unchanged. JSON is the proto as
// message_to_json writes it: RegisteredModel {name, creation_timestamp,
// last_updated_timestamp?, description? (when not empty), latest_versions?,
// tags?, aliases?}, ModelVersion {name, version (a string),
// creation_timestamp, last_updated_timestamp, description?, user_id?,
// current_stage, source?, run_id?, status, status_message?, tags?,
// run_link?, aliases?, model_id?}; repeated fields are absent when empty,
// int64s are numbers.
#include <memory>

#include "ferry/api/routes/mlflow/common.h"
#include "ferry/api/routes/mlflow/routes.h"
#include "ferry/registry/registry_store.h"

namespace ferry::api::mlflow {
namespace {

using registry::ModelVersion;
using registry::RegisteredModel;
using registry::RegistryStore;
using registry::Tag;

Json TagsJson(const std::vector<Tag>& tags) {
  Json out = Json::array();
  for (const Tag& tag : tags) out.push_back({{"key", tag.key}, {"value", tag.value}});
  return out;
}

// MLflow's SQL store fills a version's aliases when versions are read one by
// one or by get-latest-versions, not in searches nor in a registered model's
// latest_versions.
Json ModelVersionJson(const ModelVersion& mv, bool with_aliases = true) {
  Json out = {{"name", mv.name},
              {"version", std::to_string(mv.version)},
              {"creation_timestamp", mv.creation_timestamp},
              {"last_updated_timestamp", mv.last_updated_timestamp}};
  if (mv.description) out["description"] = *mv.description;
  if (mv.user_id) out["user_id"] = *mv.user_id;
  out["current_stage"] = mv.current_stage;
  if (mv.source) out["source"] = *mv.source;
  if (mv.run_id) out["run_id"] = *mv.run_id;
  out["status"] = mv.status;
  if (mv.status_message && !mv.status_message->empty()) out["status_message"] = *mv.status_message;
  if (!mv.tags.empty()) out["tags"] = TagsJson(mv.tags);
  if (mv.run_link) out["run_link"] = *mv.run_link;
  if (with_aliases && !mv.aliases.empty()) out["aliases"] = mv.aliases;
  if (mv.model_id && !mv.model_id->empty()) out["model_id"] = *mv.model_id;
  return out;
}

Json RegisteredModelJson(const RegisteredModel& m) {
  Json out = {{"name", m.name}, {"creation_timestamp", m.creation_timestamp}};
  if (m.last_updated_timestamp != 0) out["last_updated_timestamp"] = m.last_updated_timestamp;
  if (m.description && !m.description->empty()) out["description"] = *m.description;
  if (!m.latest_versions.empty()) {
    Json versions = Json::array();
    for (const ModelVersion& mv : m.latest_versions) versions.push_back(ModelVersionJson(mv, false));
    out["latest_versions"] = std::move(versions);
  }
  if (!m.tags.empty()) out["tags"] = TagsJson(m.tags);
  if (!m.aliases.empty()) {
    Json aliases = Json::array();
    for (const auto& a : m.aliases)
      aliases.push_back({{"alias", a.alias}, {"version", std::to_string(a.version)}});
    out["aliases"] = std::move(aliases);
  }
  return out;
}

// A required string: absent, null or "" is MLflow's missing-parameter error
// (_assert_required).
Result<std::string> Required(const Json& body, std::string_view field) {
  ASSIGN_OR_RETURN(std::optional<std::string> v, OptString(body, field));
  if (!v || v->empty()) return InvalidArgument(MissingParameterMessage(field), std::string(field));
  return std::move(*v);
}

Result<std::string> Optional(const Json& body, std::string_view field) {
  ASSIGN_OR_RETURN(std::optional<std::string> v, OptString(body, field));
  return v.value_or("");
}

// [{key, value}]; a missing key or value reads as the proto's "" (the
// store then refuses the empty key, as MLflow does).
Result<std::vector<Tag>> ParseTags(const Json& body) {
  std::vector<Tag> tags;
  ASSIGN_OR_RETURN(const Json* list, OptArray(body, "tags"));
  if (list == nullptr) return tags;
  for (const Json& item : *list) {
    ASSIGN_OR_RETURN(std::optional<std::string> key, OptString(item, "key"));
    ASSIGN_OR_RETURN(std::optional<std::string> value, OptString(item, "value"));
    tags.push_back({key.value_or(""), value.value_or("")});
  }
  return tags;
}

// max_results as the handler's schema checks it (_assert_intlike and the
// upper bound), else the proto default.
Result<std::int64_t> MaxResults(const Json& body, std::int64_t default_value, std::int64_t limit) {
  // The message quotes the value as sent (a query value is a string) and
  // its Python type, as the handler's schema check words it.
  auto invalid = [&]() -> Status {
    auto it = body.find("max_results");
    const Json& raw = it->is_array() && !it->empty() ? it->front() : *it;
    const char* type = raw.is_string()           ? "str"
                       : raw.is_number_integer() ? "int"
                       : raw.is_number_float()   ? "float"
                       : raw.is_boolean()        ? "bool"
                                                 : "dict";
    return InvalidArgument("Invalid value " + raw.dump() +
                               " for parameter 'max_results' supplied:  Hint: Value was of type '" + type +
                               "'. See the API docs for more information about request parameters.",
                           "max_results");
  };
  auto v = OptInt64(body, "max_results");
  if (!v.ok()) return invalid();
  if (!*v) return default_value;
  if (**v > limit) return invalid();
  return **v;
}

class RegistryRoutes {
 public:
  explicit RegistryRoutes(RegistryStore* store) : store_(store) {}

  // ---- registered models ----

  Result<Json> CreateRegisteredModel(const Json& body) {
    ASSIGN_OR_RETURN(std::string name, Required(body, "name"));
    ASSIGN_OR_RETURN(std::vector<Tag> tags, ParseTags(body));
    ASSIGN_OR_RETURN(std::string description, Optional(body, "description"));
    ASSIGN_OR_RETURN(RegisteredModel m, store_->CreateRegisteredModel(name, tags, description));
    return Json{{"registered_model", RegisteredModelJson(m)}};
  }

  Result<Json> GetRegisteredModel(const Json& body) {
    ASSIGN_OR_RETURN(std::string name, Required(body, "name"));
    ASSIGN_OR_RETURN(RegisteredModel m, store_->GetRegisteredModel(name));
    return Json{{"registered_model", RegisteredModelJson(m)}};
  }

  Result<Json> RenameRegisteredModel(const Json& body) {
    ASSIGN_OR_RETURN(std::string name, Required(body, "name"));
    ASSIGN_OR_RETURN(std::string new_name, Required(body, "new_name"));
    ASSIGN_OR_RETURN(RegisteredModel m, store_->RenameRegisteredModel(name, new_name));
    return Json{{"registered_model", RegisteredModelJson(m)}};
  }

  Result<Json> UpdateRegisteredModel(const Json& body) {
    ASSIGN_OR_RETURN(std::string name, Required(body, "name"));
    ASSIGN_OR_RETURN(std::string description, Optional(body, "description"));
    ASSIGN_OR_RETURN(RegisteredModel m, store_->UpdateRegisteredModel(name, description));
    return Json{{"registered_model", RegisteredModelJson(m)}};
  }

  Result<Json> DeleteRegisteredModel(const Json& body) {
    ASSIGN_OR_RETURN(std::string name, Required(body, "name"));
    RETURN_IF_ERROR(store_->DeleteRegisteredModel(name));
    return Json::object();
  }

  Result<Json> SearchRegisteredModels(const Json& body) {
    registry::RegistrySearch search;
    ASSIGN_OR_RETURN(search.filter, Optional(body, "filter"));
    ASSIGN_OR_RETURN(search.page.max_results, MaxResults(body, registry::kSearchRegisteredModelsDefault,
                                                         registry::kSearchRegisteredModelsMax));
    ASSIGN_OR_RETURN(search.order_by, StringList(body, "order_by"));
    ASSIGN_OR_RETURN(search.page.page_token, Optional(body, "page_token"));
    ASSIGN_OR_RETURN(registry::PageOf<RegisteredModel> page, store_->SearchRegisteredModels(search));
    Json out = Json::object();
    if (!page.items.empty()) {
      Json models = Json::array();
      for (const RegisteredModel& m : page.items) models.push_back(RegisteredModelJson(m));
      out["registered_models"] = std::move(models);
    }
    if (!page.next_page_token.empty()) out["next_page_token"] = page.next_page_token;
    return out;
  }

  Result<Json> GetLatestVersions(const Json& body) {
    ASSIGN_OR_RETURN(std::string name, Required(body, "name"));
    ASSIGN_OR_RETURN(std::vector<std::string> stages, StringList(body, "stages"));
    ASSIGN_OR_RETURN(std::vector<ModelVersion> versions, store_->GetLatestVersions(name, stages));
    return VersionsJson(versions, /*with_aliases=*/true);
  }

  Result<Json> SetRegisteredModelTag(const Json& body) {
    ASSIGN_OR_RETURN(std::string name, Required(body, "name"));
    ASSIGN_OR_RETURN(std::string key, Required(body, "key"));
    ASSIGN_OR_RETURN(std::string value, Optional(body, "value"));
    RETURN_IF_ERROR(store_->SetRegisteredModelTag(name, {key, value}));
    return Json::object();
  }

  Result<Json> DeleteRegisteredModelTag(const Json& body) {
    ASSIGN_OR_RETURN(std::string name, Required(body, "name"));
    ASSIGN_OR_RETURN(std::string key, Required(body, "key"));
    RETURN_IF_ERROR(store_->DeleteRegisteredModelTag(name, key));
    return Json::object();
  }

  Result<Json> SetAlias(const Json& body) {
    ASSIGN_OR_RETURN(std::string name, Required(body, "name"));
    ASSIGN_OR_RETURN(std::string alias, Required(body, "alias"));
    ASSIGN_OR_RETURN(std::string version, Required(body, "version"));
    RETURN_IF_ERROR(store_->SetRegisteredModelAlias(name, alias, version));
    return Json::object();
  }

  Result<Json> DeleteAlias(const Json& body) {
    ASSIGN_OR_RETURN(std::string name, Required(body, "name"));
    ASSIGN_OR_RETURN(std::string alias, Required(body, "alias"));
    RETURN_IF_ERROR(store_->DeleteRegisteredModelAlias(name, alias));
    return Json::object();
  }

  Result<Json> GetByAlias(const Json& body) {
    ASSIGN_OR_RETURN(std::string name, Required(body, "name"));
    ASSIGN_OR_RETURN(std::string alias, Required(body, "alias"));
    ASSIGN_OR_RETURN(ModelVersion mv, store_->GetModelVersionByAlias(name, alias));
    return Json{{"model_version", ModelVersionJson(mv)}};
  }

  // ---- model versions ----

  Result<Json> CreateModelVersion(const Json& body) {
    registry::CreateModelVersionRequest create;
    ASSIGN_OR_RETURN(create.name, Required(body, "name"));
    ASSIGN_OR_RETURN(create.source, Required(body, "source"));
    ASSIGN_OR_RETURN(create.run_id, OptString(body, "run_id"));
    ASSIGN_OR_RETURN(create.tags, ParseTags(body));
    // The handler passes the proto's "" for an unset run_link and
    // description, and the store keeps it.
    ASSIGN_OR_RETURN(std::string run_link, Optional(body, "run_link"));
    ASSIGN_OR_RETURN(std::string description, Optional(body, "description"));
    create.run_link = run_link;
    create.description = description;
    ASSIGN_OR_RETURN(create.model_id, OptString(body, "model_id"));
    ASSIGN_OR_RETURN(ModelVersion mv, store_->CreateModelVersion(create));
    return Json{{"model_version", ModelVersionJson(mv)}};
  }

  Result<Json> GetModelVersion(const Json& body) {
    ASSIGN_OR_RETURN(std::string name, Required(body, "name"));
    ASSIGN_OR_RETURN(std::string version, Required(body, "version"));
    ASSIGN_OR_RETURN(ModelVersion mv, store_->GetModelVersion(name, version));
    return Json{{"model_version", ModelVersionJson(mv)}};
  }

  Result<Json> UpdateModelVersion(const Json& body) {
    ASSIGN_OR_RETURN(std::string name, Required(body, "name"));
    ASSIGN_OR_RETURN(std::string version, Required(body, "version"));
    ASSIGN_OR_RETURN(std::optional<std::string> description, OptString(body, "description"));
    ASSIGN_OR_RETURN(ModelVersion mv, store_->UpdateModelVersion(name, version, description));
    return Json{{"model_version", ModelVersionJson(mv)}};
  }

  Result<Json> DeleteModelVersion(const Json& body) {
    ASSIGN_OR_RETURN(std::string name, Required(body, "name"));
    ASSIGN_OR_RETURN(std::string version, Required(body, "version"));
    RETURN_IF_ERROR(store_->DeleteModelVersion(name, version));
    return Json::object();
  }

  Result<Json> SearchModelVersions(const Json& body) {
    registry::RegistrySearch search;
    ASSIGN_OR_RETURN(search.filter, Optional(body, "filter"));
    ASSIGN_OR_RETURN(search.page.max_results, MaxResults(body, registry::kSearchModelVersionsDefault,
                                                         registry::kSearchModelVersionsMax));
    ASSIGN_OR_RETURN(search.order_by, StringList(body, "order_by"));
    ASSIGN_OR_RETURN(search.page.page_token, Optional(body, "page_token"));
    ASSIGN_OR_RETURN(registry::PageOf<ModelVersion> page, store_->SearchModelVersions(search));
    Json out = VersionsJson(page.items, /*with_aliases=*/false);
    if (!page.next_page_token.empty()) out["next_page_token"] = page.next_page_token;
    return out;
  }

  Result<Json> TransitionStage(const Json& body) {
    ASSIGN_OR_RETURN(std::string name, Required(body, "name"));
    ASSIGN_OR_RETURN(std::string version, Required(body, "version"));
    ASSIGN_OR_RETURN(std::string stage, Required(body, "stage"));
    ASSIGN_OR_RETURN(std::optional<bool> archive, OptBool(body, "archive_existing_versions"));
    ASSIGN_OR_RETURN(ModelVersion mv,
                     store_->TransitionModelVersionStage(name, version, stage, archive.value_or(false)));
    return Json{{"model_version", ModelVersionJson(mv)}};
  }

  Result<Json> GetDownloadUri(const Json& body) {
    // MLflow's handler has no schema here; the store validates.
    ASSIGN_OR_RETURN(std::string name, Optional(body, "name"));
    ASSIGN_OR_RETURN(std::string version, Optional(body, "version"));
    ASSIGN_OR_RETURN(std::string uri, store_->GetModelVersionDownloadUri(name, version));
    return Json{{"artifact_uri", uri}};
  }

  Result<Json> SetModelVersionTag(const Json& body) {
    ASSIGN_OR_RETURN(std::string name, Required(body, "name"));
    ASSIGN_OR_RETURN(std::string version, Required(body, "version"));
    ASSIGN_OR_RETURN(std::string key, Required(body, "key"));
    ASSIGN_OR_RETURN(std::string value, Optional(body, "value"));
    RETURN_IF_ERROR(store_->SetModelVersionTag(name, version, {key, value}));
    return Json::object();
  }

  Result<Json> DeleteModelVersionTag(const Json& body) {
    ASSIGN_OR_RETURN(std::string name, Required(body, "name"));
    ASSIGN_OR_RETURN(std::string version, Required(body, "version"));
    ASSIGN_OR_RETURN(std::string key, Required(body, "key"));
    RETURN_IF_ERROR(store_->DeleteModelVersionTag(name, version, key));
    return Json::object();
  }

 private:
  static Json VersionsJson(const std::vector<ModelVersion>& versions, bool with_aliases) {
    Json out = Json::object();
    if (!versions.empty()) {
      Json list = Json::array();
      for (const ModelVersion& mv : versions) list.push_back(ModelVersionJson(mv, with_aliases));
      out["model_versions"] = std::move(list);
    }
    return out;
  }

  RegistryStore* store_;
};

}  // namespace

Status AddRegistryRoutes(Router& router, const ApiServices& services) {
  auto routes = std::make_shared<RegistryRoutes>(services.registry);
  using Method = Result<Json> (RegistryRoutes::*)(const Json&);
  auto bind = [routes](Method method) {
    return [routes, method](const HttpRequest& request) {
      Result<Json> body = RequestObject(request);
      if (!body.ok()) return ErrorResponse(request, body.status());
      Result<Json> result = ((*routes).*method)(*body);
      if (!result.ok()) return ErrorResponse(request, result.status());
      return JsonResponse(*result);
    };
  };
  struct Endpoint {
    const char* method;
    const char* path;
    Method handler;
  };
  const Endpoint endpoints[] = {
      {"POST", "registered-models/create", &RegistryRoutes::CreateRegisteredModel},
      {"POST", "registered-models/rename", &RegistryRoutes::RenameRegisteredModel},
      {"PATCH", "registered-models/update", &RegistryRoutes::UpdateRegisteredModel},
      {"DELETE", "registered-models/delete", &RegistryRoutes::DeleteRegisteredModel},
      {"GET", "registered-models/get", &RegistryRoutes::GetRegisteredModel},
      {"GET", "registered-models/search", &RegistryRoutes::SearchRegisteredModels},
      {"POST", "registered-models/get-latest-versions", &RegistryRoutes::GetLatestVersions},
      {"GET", "registered-models/get-latest-versions", &RegistryRoutes::GetLatestVersions},
      {"POST", "registered-models/set-tag", &RegistryRoutes::SetRegisteredModelTag},
      {"DELETE", "registered-models/delete-tag", &RegistryRoutes::DeleteRegisteredModelTag},
      {"POST", "registered-models/alias", &RegistryRoutes::SetAlias},
      {"DELETE", "registered-models/alias", &RegistryRoutes::DeleteAlias},
      {"GET", "registered-models/alias", &RegistryRoutes::GetByAlias},
      {"POST", "model-versions/create", &RegistryRoutes::CreateModelVersion},
      {"PATCH", "model-versions/update", &RegistryRoutes::UpdateModelVersion},
      {"POST", "model-versions/transition-stage", &RegistryRoutes::TransitionStage},
      {"DELETE", "model-versions/delete", &RegistryRoutes::DeleteModelVersion},
      {"GET", "model-versions/get", &RegistryRoutes::GetModelVersion},
      {"GET", "model-versions/search", &RegistryRoutes::SearchModelVersions},
      {"GET", "model-versions/get-download-uri", &RegistryRoutes::GetDownloadUri},
      {"POST", "model-versions/set-tag", &RegistryRoutes::SetModelVersionTag},
      {"DELETE", "model-versions/delete-tag", &RegistryRoutes::DeleteModelVersionTag},
  };
  for (std::string_view prefix : {"/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"})
    for (const Endpoint& e : endpoints)
      RETURN_IF_ERROR(router.Add(e.method, std::string(prefix) + e.path, bind(e.handler)));
  return Status::OK();
}

}  // namespace ferry::api::mlflow
