#pragma once
// Pieces shared by the V2 route files: the V2 error and JSON responses and
// the JSON documents of the metadata, configuration, statistics and
// repository-index endpoints (pure functions, unit-tested without HTTP).
//
// Thread-safety: plain functions.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/api/http_message.h"
#include "ferry/api/router.h"
#include "ferry/common/json.h"
#include "ferry/common/status.h"
#include "ferry/serving/inference_service.h"
#include "ferry/serving/model_repository.h"

namespace ferry::api::inference {

// {"error": "..."} with the HTTP status of `status` (errors.h's mapping);
// Internal errors are logged with the request id and answered without
// their detail. 503 and 429 carry Retry-After.
HttpResponse V2Error(const HttpRequest& request, const Status& status);

// A handler answering the error of `handle` with V2Error.
using V2HandlerFunction = Result<HttpResponse> (*)(serving::InferenceService*, const HttpRequest&);
Handler V2Handler(serving::InferenceService* service, V2HandlerFunction handle);

// A 200 (or `status`) application/json response.
HttpResponse V2Json(const Json& body, int status = 200);

// Triton's backend name for a platform ("onnxruntime_onnx" -> "onnxruntime").
std::string BackendFor(std::string_view platform);

// GET /v2/models/{m}: {name, versions, platform, inputs, outputs}.
Json ModelMetadataJson(const serving::LoadedModel& model, const std::vector<std::string>& versions);

// GET /v2/models/{m}/config: Triton's ModelConfig as JSON; dims without
// the batch dimension when max_batch_size > 0.
Json ModelConfigJson(const serving::LoadedModel& model);

// One entry of "model_stats".
Json ModelStatsJson(const serving::LoadedModel& model);

// POST /v2/repository/index.
Json RepositoryIndexJson(const std::vector<serving::ModelIndexEntry>& index);

// Registration of each group of routes (routes.cc, infer.cc, repository.cc).
Status AddModelRoutes(Router& router, serving::InferenceService* service);
Status AddInferRoutes(Router& router, serving::InferenceService* service, bool infer_inline);
Status AddRepositoryRoutes(Router& router, serving::InferenceService* service);

}  // namespace ferry::api::inference
