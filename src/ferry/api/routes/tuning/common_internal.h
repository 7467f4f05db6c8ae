#pragma once
// What the study and trial routes share: reading a request (its JSON body,
// its query parameters, the {number} of its path) strictly, and
// answering in the native shapes (codec.h, errors.h).
//
// Thread-safety: stateless functions.
#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <variant>

#include "ferry/api/codec.h"
#include "ferry/api/errors.h"
#include "ferry/api/http_message.h"
#include "ferry/common/json.h"
#include "ferry/common/status.h"

namespace ferry::api::studies {

// `result`'s response, or the native error for its status.
HttpResponse Respond(const HttpRequest& request, Result<HttpResponse> result);

// Calls `handle(body)` with the body as a JSON object, read as the native
// API reads one (JSON, or YAML by Content-Type; 415 for other types). An
// empty body is {} when `optional`, else InvalidArgument.
template <typename F>
HttpResponse WithBody(const HttpRequest& request, bool optional, F&& handle) {
  if (optional && request.body.find_first_not_of(" \t\r\n") == std::string::npos)
    return Respond(request, handle(Json::object()));
  auto format = RequestBodyFormat(request, BodyKind::kObject);
  if (const auto* error = std::get_if<ApiError>(&format)) return ErrorResponse(*error);
  Result<Json> body = DecodeObject(request.body, std::get<BodyFormat>(format));
  if (!body.ok()) return ErrorResponse(request, body.status());
  return Respond(request, handle(*body));
}

// The path's {number}: a decimal trial number; InvalidArgument naming
// "number" otherwise.
Result<std::int64_t> TrialNumber(const HttpRequest& request);

}  // namespace ferry::api::studies
