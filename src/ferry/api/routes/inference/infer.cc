// POST /v2/models/{m}[/versions/{v}]/infer and the KServe V1 routes.

#include <charconv>
#include <optional>
#include <utility>

#include "ferry/api/routes/inference/common_internal.h"
#include "ferry/common/strings.h"
#include "ferry/serving/protocol/infer.h"

namespace ferry::api::inference {
namespace {

namespace protocol = serving::protocol;

constexpr std::string_view kHeaderLength = "Inference-Header-Content-Length";

// Compressed bodies are refused rather than misread: tritonclient sends
// them only when asked to (request_compression_algorithm).
Status CheckContentEncoding(const HttpRequest& request) {
  std::string_view encoding = request.headers.Get("Content-Encoding");
  if (encoding.empty() || encoding == "identity") return Status::OK();
  return InvalidArgument("Content-Encoding " + QuoteForMessage(encoding) +
                             " is not supported; send the request body uncompressed",
                         "Content-Encoding");
}

// The JSON part's length with the binary tensor extension: nullopt when
// the header is absent (the whole body is JSON).
Result<std::optional<std::size_t>> JsonSize(const HttpRequest& request) {
  if (!request.headers.Has(kHeaderLength)) return std::optional<std::size_t>();
  std::string_view text = request.headers.Get(kHeaderLength);
  std::size_t size = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), size);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size())
    return InvalidArgument(std::string(kHeaderLength) + " " + QuoteForMessage(text) +
                               " is not a non-negative integer",
                           std::string(kHeaderLength));
  if (size > request.body.size())
    return InvalidArgument(std::string(kHeaderLength) + " " + std::to_string(size) + " exceeds the body of " +
                               std::to_string(request.body.size()) + " bytes",
                           std::string(kHeaderLength));
  return std::optional<std::size_t>(size);
}

Result<HttpResponse> InferV2(serving::InferenceService* service, const HttpRequest& request) {
  RETURN_IF_ERROR(AcceptedQuery(request, {}).status());
  RETURN_IF_ERROR(CheckContentEncoding(request));
  ASSIGN_OR_RETURN(std::optional<std::size_t> json_size, JsonSize(request));
  ASSIGN_OR_RETURN(protocol::InferRequest infer, protocol::DecodeInferRequest(request.body, json_size));
  ASSIGN_OR_RETURN(protocol::InferResponse result,
                   service->Infer(request.Param("model"), request.Param("version"), infer));
  protocol::EncodedResponse encoded = protocol::EncodeInferResponse(result, infer);
  HttpResponse response;
  response.body = std::move(encoded.body);
  if (encoded.json_size) {
    response.headers.Set("Content-Type", "application/octet-stream");
    response.headers.Set(kHeaderLength, std::to_string(*encoded.json_size));
  } else {
    response.headers.Set("Content-Type", "application/json");
  }
  return response;
}

// POST /v1/models/{m}:predict: the V1 verb is part of the last segment.
Result<HttpResponse> PredictV1(serving::InferenceService* service, const HttpRequest& request) {
  constexpr std::string_view kPredict = ":predict";
  const std::string& segment = request.Param("model");
  if (!segment.ends_with(kPredict))
    return NotFound("no V1 verb in " + QuoteForMessage(segment) + "; POST /v1/models/{model}:predict");
  const std::string name = segment.substr(0, segment.size() - kPredict.size());
  RETURN_IF_ERROR(AcceptedQuery(request, {}).status());
  RETURN_IF_ERROR(CheckContentEncoding(request));
  ASSIGN_OR_RETURN(std::shared_ptr<const serving::LoadedModel> model, service->repository().Get(name, ""));
  const auto& inputs = model->model->signature().inputs;
  if (inputs.size() != 1)
    return InvalidArgument("model " + QuoteForMessage(name) + " has " + std::to_string(inputs.size()) +
                           " inputs; V1 :predict serves models with one input (use the V2 /infer)");
  ASSIGN_OR_RETURN(protocol::InferRequest infer, protocol::DecodeV1Request(request.body, inputs[0]));
  // The version resolved above, so a reload in between cannot change the
  // signature the request was decoded against.
  ASSIGN_OR_RETURN(protocol::InferResponse result, service->Infer(name, model->version, infer));
  return TextResponse(200, "application/json", protocol::EncodeV1Response(result));
}

}  // namespace

Status AddInferRoutes(Router& router, serving::InferenceService* service, bool infer_inline) {
  const RouteOptions infer_options{.blocking = !infer_inline};
  RETURN_IF_ERROR(router.Add("POST", "/v2/models/{model}/infer", V2Handler(service, InferV2), infer_options));
  RETURN_IF_ERROR(
      router.Add("POST", "/v2/models/{model}/versions/{version}/infer", V2Handler(service, InferV2), infer_options));
  RETURN_IF_ERROR(router.Add("POST", "/v1/models/{model}", V2Handler(service, PredictV1), infer_options));
  RETURN_IF_ERROR(router.Add(
      "GET", "/v1/models/{model}",
      [service](const HttpRequest& request) {
        auto model = service->repository().Get(request.Param("model"), "");
        if (!model.ok()) return V2Error(request, model.status());
        return V2Json({{"name", (*model)->name}, {"ready", true}});
      },
      {.blocking = false}));
  return router.Add(
      "GET", "/v1/models",
      [service](const HttpRequest&) {
        Json names = Json::array();
        for (const auto& entry : service->repository().Index(/*ready_only=*/true))
          if (names.empty() || names.back() != entry.name) names.push_back(entry.name);
        return V2Json({{"models", std::move(names)}});
      },
      {.blocking = false});
}

}  // namespace ferry::api::inference
