#pragma once
// The one place where failures become native-API HTTP errors:
//
//   {"error": {"code": "InvalidArgument", "message": "...", "field": "spec.x"}}
//
// with the HTTP status that fits the code (DESIGN.md §4). Besides the Status
// codes, the HTTP layer has three codes of its own: MethodNotAllowed (405),
// UnsupportedMediaType (415) and Expired (410, a watch from a revision the
// store no longer keeps). Errors are always JSON, whatever the Accept header
// asks for, so every client can read them.
//
// Thread-safety: stateless functions.

#include <string>
#include <string_view>
#include <vector>

#include "ferry/api/http_message.h"
#include "ferry/common/json.h"
#include "ferry/common/status.h"

namespace ferry::api {

struct ApiError {
  int http_status = 500;
  std::string code;  // "InvalidArgument", "MethodNotAllowed", ...
  std::string message;
  std::string field;  // empty when the error is not about one field
};

// The HTTP status for a Status code (InvalidArgument 400, NotFound 404, ...).
int HttpStatusFor(StatusCode code);

// The API error for a non-OK Status. Internal errors keep their detail out
// of the response (it may name tables or paths); ErrorResponse logs it.
ApiError ToApiError(const Status& status);

// 415 for a request body whose Content-Type is not among `accepted`.
ApiError UnsupportedMediaTypeError(std::string_view content_type, std::string_view accepted);

// 410 for a watch from a revision older than the store keeps.
ApiError ExpiredError(std::string message);

// True when `status` is the store's "too old resource version" watch error.
bool IsExpiredWatchStatus(const Status& status);

// {"error": {...}}, `field` only when known.
Json ErrorBody(const ApiError& error);

// A JSON error response; 429 and 503 carry Retry-After.
HttpResponse ErrorResponse(const ApiError& error);

// ErrorResponse(ToApiError(status)), logging internal errors with the
// request's id first.
HttpResponse ErrorResponse(const HttpRequest& request, const Status& status);

// The 405 error for `method` where only `allowed` are.
ApiError MethodNotAllowedError(std::string_view method, const std::vector<std::string>& allowed);
// 405 with the Allow header listing `allowed`.
HttpResponse MethodNotAllowedResponse(std::string_view method, const std::vector<std::string>& allowed);

}  // namespace ferry::api
