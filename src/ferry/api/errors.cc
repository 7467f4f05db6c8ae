#include "ferry/api/errors.h"

#include "ferry/common/logging.h"

namespace ferry::api {
namespace {

// Retry-After for overload and unavailability: short, since both are
// usually transient; clients back off further on repeats.
constexpr char kRetryAfterSeconds[] = "1";

constexpr std::string_view kTooOldPrefix = "too old resource version";

}  // namespace

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
      return 409;
    case StatusCode::kConflict:
      return 409;
    case StatusCode::kFailedPrecondition:
      return 400;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kResourceExhausted:
      return 429;
    case StatusCode::kPayloadTooLarge:
      return 413;
    case StatusCode::kDeadlineExceeded:
      return 504;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kUnimplemented:
      return 501;
    case StatusCode::kInternal:
      return 500;
  }
  return 500;
}

ApiError ToApiError(const Status& status) {
  ApiError error;
  error.http_status = HttpStatusFor(status.code());
  error.code = std::string(StatusCodeName(status.code()));
  if (status.ok()) {
    // A handler bug: success reported as an error. Never answer 200 here.
    error.http_status = 500;
    error.code = "Internal";
    error.message = "internal error";
    return error;
  }
  error.message = status.code() == StatusCode::kInternal
                      ? "internal error; the server log has the details under this response's X-Request-Id"
                      : status.message();
  error.field = status.field();
  return error;
}

ApiError UnsupportedMediaTypeError(std::string_view content_type, std::string_view accepted) {
  std::string shown(content_type.substr(0, 100));
  return {415, "UnsupportedMediaType",
          "unsupported Content-Type '" + shown + "'; use " + std::string(accepted), "Content-Type"};
}

ApiError ExpiredError(std::string message) { return {410, "Expired", std::move(message), "resourceVersion"}; }

bool IsExpiredWatchStatus(const Status& status) {
  return status.code() == StatusCode::kFailedPrecondition && status.message().starts_with(kTooOldPrefix);
}

Json ErrorBody(const ApiError& error) {
  Json body = {{"code", error.code}, {"message", error.message}};
  if (!error.field.empty()) body["field"] = error.field;
  return {{"error", std::move(body)}};
}

HttpResponse ErrorResponse(const ApiError& error) {
  HttpResponse response = TextResponse(error.http_status, "application/json",
                                       ErrorBody(error).dump(-1, ' ', false, Json::error_handler_t::replace));
  if (error.http_status == 429 || error.http_status == 503)
    response.headers.Set("Retry-After", kRetryAfterSeconds);
  return response;
}

HttpResponse ErrorResponse(const HttpRequest& request, const Status& status) {
  if (status.code() == StatusCode::kInternal || status.ok()) {
    LogEvent(spdlog::level::err, "internal error",
             {{"request_id", request.request_id}, {"error", status.ToString()}});
  }
  return ErrorResponse(ToApiError(status));
}

namespace {

std::string JoinAllowed(const std::vector<std::string>& allowed) {
  std::string allow;
  for (const auto& m : allowed) {
    if (!allow.empty()) allow += ", ";
    allow += m;
  }
  return allow;
}

}  // namespace

ApiError MethodNotAllowedError(std::string_view method, const std::vector<std::string>& allowed) {
  std::string shown(method.substr(0, 20));
  return ApiError{405, "MethodNotAllowed",
                  "method " + shown + " is not allowed here; allowed: " + JoinAllowed(allowed), ""};
}

HttpResponse MethodNotAllowedResponse(std::string_view method, const std::vector<std::string>& allowed) {
  HttpResponse response = ErrorResponse(MethodNotAllowedError(method, allowed));
  response.headers.Set("Allow", JoinAllowed(allowed));
  return response;
}

}  // namespace ferry::api
