#pragma once
// ApiError: the native API's error shape as a client reads it,
// `{"error": {"code": "NotFound", "message": "...", "field": "spec.x"}}`.
// `code` stays a string because the API adds codes of its own
// ("MethodNotAllowed", "Expired", ...) beyond ferry::StatusCode.
//
// Thread-safety: values.

#include <string>

#include "ferry/api/client/http_client.h"

namespace ferry::api::client {

struct ApiError {
  int http_status = 0;
  std::string code;  // "NotFound", "InvalidArgument", ...
  std::string message;
  std::string field;  // empty when the error is not about one field
};

// Reads the error from a non-2xx response: the native shape, or MLflow's
// `{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "..."}` (the code is
// then MLflow's), or KFP's `{"code": 3, "message": "..."}` (the code is then
// named after the HTTP status). A body that is neither
// (a proxy's HTML page, say) still gives a code named after the HTTP
// status and its first line of text as the message.
ApiError ParseApiError(const HttpResponse& response);

}  // namespace ferry::api::client
