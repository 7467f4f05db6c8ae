#include "ferry/api/routes/mlflow/common.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "ferry/common/logging.h"
#include "ferry/common/strings.h"

namespace ferry::api::mlflow {
namespace {

std::string Quoted(std::string_view field) { return "'" + std::string(field) + "'"; }

Status WrongType(std::string_view field, std::string_view want, const Json& got) {
  return InvalidArgument("Invalid value " + SanitizeForMessage(got.dump(), 80) + " for parameter " +
                             Quoted(field) + " supplied: expected " + std::string(want),
                         std::string(field));
}

const Json* Field(const Json& object, std::string_view field) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(field);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

// GET parameters are lists of strings (see RequestObject); a scalar field
// takes the first, and MLflow's proto parsing reads the declared type from
// that string.
const Json& Scalar(const Json& value) {
  if (value.is_array() && !value.empty() && value.front().is_string()) return value.front();
  return value;
}

std::optional<std::int64_t> ParseDecimal(std::string_view text) {
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

}  // namespace

Result<Json> RequestObject(const HttpRequest& request) {
  if (request.method == "GET" || request.method == "HEAD") {
    // Every query field is a list of strings (Flask's getlist); scalar
    // getters take its first value.
    Json object = Json::object();
    for (const auto& [key, value] : request.query) object[key].push_back(value);
    return object;
  }
  std::string_view body = request.body;
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return Json::object();
  auto parsed = ParseJson(body);
  if (!parsed.ok())
    return InvalidArgument("Malformed request body: " + parsed.status().message());
  if (!parsed->is_object())
    return InvalidArgument("Malformed request body: expected a JSON object, got " +
                           std::string(JsonTypeName(*parsed)));
  return std::move(parsed).value();
}

std::string MissingParameterMessage(std::string_view field) {
  return "Missing value for required parameter " + Quoted(field) +
         ". See the API docs for more information about request parameters.";
}

Result<std::optional<std::string>> OptString(const Json& object, std::string_view field) {
  const Json* v = Field(object, field);
  if (v == nullptr) return std::optional<std::string>();
  const Json& s = Scalar(*v);
  if (!s.is_string()) return WrongType(field, "a string", s);
  return std::optional<std::string>(s.get<std::string>());
}

Result<std::string> RequiredString(const Json& object, std::string_view field) {
  ASSIGN_OR_RETURN(std::optional<std::string> v, OptString(object, field));
  if (!v) return InvalidArgument(MissingParameterMessage(field), std::string(field));
  return std::move(*v);
}

Result<std::optional<std::int64_t>> OptInt64(const Json& object, std::string_view field) {
  const Json* v = Field(object, field);
  if (v == nullptr) return std::optional<std::int64_t>();
  const Json& s = Scalar(*v);
  if (s.is_number_integer()) {
    if (s.is_number_unsigned() && s.get<std::uint64_t>() > std::uint64_t(std::numeric_limits<std::int64_t>::max()))
      return WrongType(field, "a 64-bit integer", s);
    return std::optional<std::int64_t>(s.get<std::int64_t>());
  }
  if (s.is_number_float()) {
    double d = s.get<double>();
    if (std::trunc(d) == d && std::fabs(d) < 9.2e18) return std::optional<std::int64_t>(static_cast<std::int64_t>(d));
    return WrongType(field, "an integer", s);
  }
  if (s.is_string()) {
    if (auto parsed = ParseDecimal(s.get_ref<const std::string&>())) return std::optional<std::int64_t>(*parsed);
  }
  return WrongType(field, "an integer", s);
}

Result<std::int64_t> RequiredInt64(const Json& object, std::string_view field) {
  ASSIGN_OR_RETURN(std::optional<std::int64_t> v, OptInt64(object, field));
  if (!v) return InvalidArgument(MissingParameterMessage(field), std::string(field));
  return *v;
}

Result<std::optional<double>> OptDouble(const Json& object, std::string_view field) {
  const Json* v = Field(object, field);
  if (v == nullptr) return std::optional<double>();
  const Json& s = Scalar(*v);
  if (s.is_number()) return std::optional<double>(s.get<double>());
  if (s.is_string()) {
    const std::string& text = s.get_ref<const std::string&>();
    if (text == "NaN") return std::optional<double>(std::numeric_limits<double>::quiet_NaN());
    if (text == "Infinity") return std::optional<double>(std::numeric_limits<double>::infinity());
    if (text == "-Infinity") return std::optional<double>(-std::numeric_limits<double>::infinity());
    double d = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
    if (ec == std::errc() && end == text.data() + text.size() && !text.empty()) return std::optional<double>(d);
  }
  return WrongType(field, "a number", s);
}

Result<double> RequiredDouble(const Json& object, std::string_view field) {
  ASSIGN_OR_RETURN(std::optional<double> v, OptDouble(object, field));
  if (!v) return InvalidArgument(MissingParameterMessage(field), std::string(field));
  return *v;
}

Result<std::optional<bool>> OptBool(const Json& object, std::string_view field) {
  const Json* v = Field(object, field);
  if (v == nullptr) return std::optional<bool>();
  const Json& s = Scalar(*v);
  if (s.is_boolean()) return std::optional<bool>(s.get<bool>());
  if (s.is_string()) {
    const std::string& text = s.get_ref<const std::string&>();
    if (text == "true" || text == "True") return std::optional<bool>(true);
    if (text == "false" || text == "False") return std::optional<bool>(false);
  }
  return WrongType(field, "a boolean", s);
}

Result<std::vector<std::string>> StringList(const Json& object, std::string_view field) {
  std::vector<std::string> out;
  const Json* v = Field(object, field);
  if (v == nullptr) return out;
  if (!v->is_array()) return WrongType(field, "a list of strings", *v);
  for (const Json& item : *v) {
    if (!item.is_string()) return WrongType(field, "a list of strings", item);
    out.push_back(item.get<std::string>());
  }
  return out;
}

Result<const Json*> OptArray(const Json& object, std::string_view field, bool objects) {
  const Json* v = Field(object, field);
  if (v == nullptr) return static_cast<const Json*>(nullptr);
  if (!v->is_array()) return WrongType(field, "a list", *v);
  if (objects)
    for (const Json& item : *v)
      if (!item.is_object()) return WrongType(field, "a list of objects", item);
  return v;
}

Result<const Json*> OptObject(const Json& object, std::string_view field) {
  const Json* v = Field(object, field);
  if (v == nullptr) return static_cast<const Json*>(nullptr);
  if (!v->is_object()) return WrongType(field, "an object", *v);
  return v;
}

HttpResponse JsonResponse(const Json& body, int status) {
  return TextResponse(status, "application/json", body.dump(-1, ' ', false, Json::error_handler_t::replace));
}

std::string_view ErrorCodeFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
    case StatusCode::kInternal:
      return "INTERNAL_ERROR";
    case StatusCode::kInvalidArgument:
    case StatusCode::kFailedPrecondition:
    case StatusCode::kPayloadTooLarge:
      return "INVALID_PARAMETER_VALUE";
    case StatusCode::kNotFound:
      return "RESOURCE_DOES_NOT_EXIST";
    case StatusCode::kAlreadyExists:
      return "RESOURCE_ALREADY_EXISTS";
    case StatusCode::kConflict:
      return "RESOURCE_CONFLICT";
    case StatusCode::kPermissionDenied:
      return "PERMISSION_DENIED";
    case StatusCode::kUnauthenticated:
      return "UNAUTHENTICATED";
    case StatusCode::kResourceExhausted:
      return "REQUEST_LIMIT_EXCEEDED";
    case StatusCode::kDeadlineExceeded:
      return "DEADLINE_EXCEEDED";
    case StatusCode::kUnavailable:
      return "TEMPORARILY_UNAVAILABLE";
    case StatusCode::kUnimplemented:
      return "NOT_IMPLEMENTED";
  }
  return "INTERNAL_ERROR";
}

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kFailedPrecondition:
    case StatusCode::kAlreadyExists:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kConflict:
      return 409;
    case StatusCode::kPayloadTooLarge:
      return 413;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kResourceExhausted:
      return 429;
    case StatusCode::kDeadlineExceeded:
      return 504;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kUnimplemented:
      return 501;
    case StatusCode::kOk:
    case StatusCode::kInternal:
      return 500;
  }
  return 500;
}

HttpResponse ErrorResponse(int http_status, std::string_view error_code, std::string_view message) {
  Json body = {{"error_code", error_code}, {"message", message}};
  HttpResponse response = JsonResponse(body, http_status);
  if (http_status == 429 || http_status == 503) response.headers.Set("Retry-After", "1");
  return response;
}

HttpResponse ErrorResponse(const HttpRequest& request, const Status& status) {
  if (status.ok() || status.code() == StatusCode::kInternal) {
    LogEvent(spdlog::level::err, "mlflow request failed",
             {{"request_id", request.request_id}, {"path", request.path}, {"error", status.ToString()}});
    return ErrorResponse(500, "INTERNAL_ERROR", "internal error");
  }
  return ErrorResponse(HttpStatusFor(status.code()), ErrorCodeFor(status.code()), status.message());
}

}  // namespace ferry::api::mlflow
