#include "ferry/api/client/api_error.h"

#include "ferry/common/json.h"

namespace ferry::api::client {
namespace {

// Code names of the native API for statuses a body did not explain.
std::string CodeForHttpStatus(int status) {
  switch (status) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthenticated";
    case 403:
      return "PermissionDenied";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 409:
      return "Conflict";
    case 410:
      return "Expired";
    case 413:
      return "PayloadTooLarge";
    case 415:
      return "UnsupportedMediaType";
    case 429:
      return "ResourceExhausted";
    case 501:
      return "Unimplemented";
    case 503:
      return "Unavailable";
    case 504:
      return "DeadlineExceeded";
    default:
      return status >= 500 ? "Internal" : "HTTP " + std::to_string(status);
  }
}

}  // namespace

ApiError ParseApiError(const HttpResponse& response) {
  ApiError error;
  error.http_status = response.status;
  auto parsed = ParseJson(response.body);
  if (parsed.ok() && parsed->is_object()) {
    auto it = parsed->find("error");
    if (it != parsed->end() && it->is_object()) {
      const Json& e = *it;
      if (auto code = e.find("code"); code != e.end() && code->is_string())
        error.code = code->get<std::string>();
      if (auto msg = e.find("message"); msg != e.end() && msg->is_string())
        error.message = msg->get<std::string>();
      if (auto field = e.find("field"); field != e.end() && field->is_string())
        error.field = field->get<std::string>();
    }
    // The MLflow surface's shape: {"error_code": "...", "message": "..."}.
    auto code = parsed->find("error_code");
    auto msg = parsed->find("message");
    if (error.code.empty() && code != parsed->end() && code->is_string()) {
      error.code = code->get<std::string>();
      if (msg != parsed->end() && msg->is_string()) error.message = msg->get<std::string>();
    }
    // The KFP surface's (grpc-gateway's) shape: {"code": 3, "message": "..."}.
    auto grpc_code = parsed->find("code");
    if (error.code.empty() && grpc_code != parsed->end() && grpc_code->is_number_integer() &&
        msg != parsed->end() && msg->is_string()) {
      error.message = msg->get<std::string>();
    }
  }
  if (error.code.empty()) error.code = CodeForHttpStatus(response.status);
  if (error.message.empty()) {
    std::string_view body = response.body;
    body = body.substr(0, body.find('\n'));
    constexpr std::size_t kMaxShown = 200;
    if (body.size() > kMaxShown) body = body.substr(0, kMaxShown);
    std::string shown(body);
    // The text goes to a terminal: no escape sequences from an unknown server.
    for (char& c : shown) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
    }
    error.message = shown.empty()
                        ? "the server answered HTTP " + std::to_string(response.status) + " with no details"
                        : "the server answered HTTP " + std::to_string(response.status) + ": " + shown;
  }
  return error;
}

}  // namespace ferry::api::client
