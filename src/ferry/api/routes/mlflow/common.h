#pragma once
// What every MLflow route shares: reading a request the way MLflow's server
// does, and answering in MLflow's shapes.
//
// Requests: GET requests carry their fields in the query string (every key
// becomes a list of its values, as Flask's getlist gives; scalar getters
// read the first), all other methods in a JSON
// object body (an empty body is {}). RequestObject() turns either into one
// JSON object, and the getters below read fields from it — or from any
// nested object of a body — with proto-JSON leniency: an int64 may come as a
// number or a decimal string, a double as a number or "NaN" / "Infinity" /
// "-Infinity", a bool as true/false or "true"/"false".
//
// Errors: `{"error_code": "...", "message": "..."}` with the HTTP status
// MLflow gives that code (mlflow/exceptions.py). Status codes map as
//   InvalidArgument, FailedPrecondition  -> INVALID_PARAMETER_VALUE 400
//   NotFound                             -> RESOURCE_DOES_NOT_EXIST 404
//   AlreadyExists                        -> RESOURCE_ALREADY_EXISTS 400
//   Conflict                             -> RESOURCE_CONFLICT 409
//   PayloadTooLarge                      -> INVALID_PARAMETER_VALUE 413
//   PermissionDenied -> PERMISSION_DENIED 403, Unauthenticated -> UNAUTHENTICATED 401,
//   ResourceExhausted -> REQUEST_LIMIT_EXCEEDED 429, DeadlineExceeded -> DEADLINE_EXCEEDED 504,
//   Unavailable -> TEMPORARILY_UNAVAILABLE 503, Unimplemented -> NOT_IMPLEMENTED 501,
//   Internal -> INTERNAL_ERROR 500 (detail logged, not sent).
//
// Responses: JSON objects with proto field names (snake_case); int64 fields
// as JSON numbers (MLflow's convert_int64_to_number); doubles through
// JsonDouble so NaN and infinities survive as proto-JSON strings.
//
// Thread-safety: stateless functions.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/api/http_message.h"
#include "ferry/common/json.h"
#include "ferry/common/status.h"

namespace ferry::api::mlflow {

// The request's fields as one JSON object (see above). InvalidArgument for
// a body that is not a JSON object or a malformed query.
Result<Json> RequestObject(const HttpRequest& request);

// Field getters. A field that is absent or JSON null reads as std::nullopt
// (or an empty list); a field of the wrong type is InvalidArgument naming
// it. The Required forms fail for absent fields with MLflow's message:
// "Missing value for required parameter 'run_id'. See the API docs for more
// information about request parameters."
Result<std::optional<std::string>> OptString(const Json& object, std::string_view field);
Result<std::string> RequiredString(const Json& object, std::string_view field);
Result<std::optional<std::int64_t>> OptInt64(const Json& object, std::string_view field);
Result<std::int64_t> RequiredInt64(const Json& object, std::string_view field);
Result<std::optional<double>> OptDouble(const Json& object, std::string_view field);
Result<double> RequiredDouble(const Json& object, std::string_view field);
Result<std::optional<bool>> OptBool(const Json& object, std::string_view field);
// A list of strings; a lone JSON string in a body is a type error, as in MLflow.
Result<std::vector<std::string>> StringList(const Json& object, std::string_view field);
// The array at `field` (nullptr when absent); InvalidArgument when it is not
// an array, or when an element is not an object and `objects` is set.
Result<const Json*> OptArray(const Json& object, std::string_view field, bool objects = true);
// The object at `field` (nullptr when absent); InvalidArgument when it is
// not an object.
Result<const Json*> OptObject(const Json& object, std::string_view field);

// The message of the Required getters for `field`.
std::string MissingParameterMessage(std::string_view field);

// 200 with `body` as compact JSON.
HttpResponse JsonResponse(const Json& body, int status = 200);

// MLflow's error code and HTTP status for a Status code (table above).
std::string_view ErrorCodeFor(StatusCode code);
int HttpStatusFor(StatusCode code);

// {"error_code", "message"} for `status` with its HTTP status; Internal
// errors are logged with the request id and answered "internal error".
HttpResponse ErrorResponse(const HttpRequest& request, const Status& status);
// An error with an explicit MLflow code, for the few cases no Status code
// expresses (e.g. ENDPOINT_NOT_FOUND, BAD_REQUEST).
HttpResponse ErrorResponse(int http_status, std::string_view error_code, std::string_view message);

}  // namespace ferry::api::mlflow
