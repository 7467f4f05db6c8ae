// The model repository extension: POST /v2/repository/index and
// /v2/repository/models/{m}/load|unload.

#include <algorithm>
#include <initializer_list>
#include <utility>

#include "ferry/api/routes/inference/common_internal.h"
#include "ferry/common/strings.h"

namespace ferry::api::inference {
namespace {

// A JSON object body, or {} when the body is empty (tritonclient sends an
// empty index request).
Result<Json> ObjectBody(const HttpRequest& request) {
  if (request.body.empty()) return Json::object();
  ASSIGN_OR_RETURN(Json body, ParseJson(request.body));
  if (!body.is_object())
    return InvalidArgument("request body must be a JSON object, got " + std::string(JsonTypeName(body)));
  return body;
}

// Checks the body's fields: only "parameters" (an object whose keys are in
// `parameters`, each of JSON type `type`) and, for the index, "ready".
Status CheckFields(const Json& body, std::initializer_list<std::string_view> fields,
                   std::initializer_list<std::string_view> parameters) {
  for (const auto& [key, value] : body.items()) {
    if (std::find(fields.begin(), fields.end(), key) == fields.end())
      return InvalidArgument("unknown field " + QuoteForMessage(key), key);
    if (key == "ready" && !value.is_boolean())
      return InvalidArgument("field 'ready' must be a boolean, got " + std::string(JsonTypeName(value)), key);
    if (key != "parameters") continue;
    if (!value.is_object())
      return InvalidArgument("field 'parameters' must be an object, got " + std::string(JsonTypeName(value)), key);
    for (const auto& [name, parameter] : value.items()) {
      if (std::find(parameters.begin(), parameters.end(), name) == parameters.end()) {
        // Triton's load parameters "config" and "file:..." override the
        // repository; ferry serve loads only what the repository holds.
        return InvalidArgument("parameter " + QuoteForMessage(name) +
                                   " is not supported; ferry serve loads models from its repository folder",
                               "parameters." + name);
      }
      if (!parameter.is_boolean())
        return InvalidArgument("parameter " + QuoteForMessage(name) + " must be a boolean, got " +
                                   std::string(JsonTypeName(parameter)),
                               "parameters." + name);
    }
  }
  return Status::OK();
}

Result<HttpResponse> Index(serving::InferenceService* service, const HttpRequest& request) {
  ASSIGN_OR_RETURN(Json body, ObjectBody(request));
  RETURN_IF_ERROR(CheckFields(body, {"ready"}, {}));
  const bool ready_only = body.value("ready", false);
  return V2Json(RepositoryIndexJson(service->repository().Index(ready_only)));
}

Result<HttpResponse> Load(serving::InferenceService* service, const HttpRequest& request) {
  ASSIGN_OR_RETURN(Json body, ObjectBody(request));
  RETURN_IF_ERROR(CheckFields(body, {"parameters"}, {}));
  RETURN_IF_ERROR(service->repository().Load(request.Param("model")));
  return TextResponse(200, "application/json", "");
}

Result<HttpResponse> Unload(serving::InferenceService* service, const HttpRequest& request) {
  ASSIGN_OR_RETURN(Json body, ObjectBody(request));
  // No ensembles, so no dependents: the flag is accepted and has nothing to do.
  RETURN_IF_ERROR(CheckFields(body, {"parameters"}, {"unload_dependents"}));
  RETURN_IF_ERROR(service->repository().Unload(request.Param("model")));
  return TextResponse(200, "application/json", "");
}

}  // namespace

Status AddRepositoryRoutes(Router& router, serving::InferenceService* service) {
  RETURN_IF_ERROR(router.Add("POST", "/v2/repository/index", V2Handler(service, Index), {.blocking = false}));
  // Loading reads and plans model files: off the I/O threads.
  RETURN_IF_ERROR(router.Add("POST", "/v2/repository/models/{model}/load", V2Handler(service, Load)));
  return router.Add("POST", "/v2/repository/models/{model}/unload", V2Handler(service, Unload));
}

}  // namespace ferry::api::inference
