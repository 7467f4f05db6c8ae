#pragma once
// What every KFP route shares: reading requests the way the KFP API server's
// grpc-gateway does, answering in its shapes, KFP list semantics (filter,
// sort_by, page_size, page_token) and the multipart upload body.
//
// Errors: grpc-gateway's `{"code": <gRPC code>, "message", "details"}` with
// the HTTP status grpc-gateway gives that code (InvalidArgument and
// FailedPrecondition 400, NotFound 404, AlreadyExists 409, ...). A Status
// with a field adds a google.rpc.BadRequest detail naming it. The upload
// routes (plain HTTP handlers in KFP) add `error_message`/`error_details`.
// Internal errors are logged with the request id and answered "internal
// error".
//
// Lists: KFP's `filter` is a JSON Filter {predicates: [{key, operation,
// string_value | int_value | long_value | timestamp_value | string_values
// | int_values | long_values}]}, operations by name or number, field names
// snake_case or camelCase (the client sends both). Predicates are ANDed.
// `sort_by` is "field" or "field desc". Items are the API objects
// themselves, filtered and sorted in memory (ties by the id field); the page
// token carries the filter, the order and the offset, so a token alone
// continues a listing, as in KFP. Page size 0 means 20; at most 200.
//
// Thread-safety: stateless functions.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/api/http_message.h"
#include "ferry/common/json.h"
#include "ferry/common/status.h"

namespace ferry::api::kfp {

inline constexpr char kApi[] = "/apis/v2beta1";

int GrpcCode(StatusCode code);
int HttpStatusFor(StatusCode code);

// grpc-gateway's error body for `status` (see above).
HttpResponse ErrorResponse(const HttpRequest& request, const Status& status);
// The upload handlers' error body: adds error_message and error_details.
HttpResponse UploadErrorResponse(const HttpRequest& request, const Status& status);
HttpResponse JsonResponse(const Json& body, int status = 200);

// RFC 3339 in UTC, second precision, as KFP writes timestamps.
std::string Timestamp(std::int64_t micros);

// The body as a JSON object ({} when empty); InvalidArgument otherwise.
Result<Json> BodyObject(const HttpRequest& request);
// The query parameter's first value, or empty.
std::string QueryParam(const HttpRequest& request, std::string_view name);

// A string field of `object` ("" when absent or null); InvalidArgument
// naming `path` when it is not a string.
Result<std::string> StringField(const Json& object, std::string_view name, std::string_view path);
// An object field (nullptr when absent or null); InvalidArgument when not an object.
Result<const Json*> ObjectField(const Json& object, std::string_view name, std::string_view path);

// ---- Lists ----

enum class FieldKind { kString, kTime, kNumber };
struct ListField {
  std::string json_name;  // where the value sits in the API object ("a.b" for nested)
  FieldKind kind = FieldKind::kString;
};
// Filter and sort keys -> field. Aliases (KFP v1 names) may map to the same field.
using ListFields = std::map<std::string, ListField, std::less<>>;

struct Predicate {
  std::string key;
  ListField field;
  int op = 0;                // 1 EQUALS .. 9 IS_SUBSTRING (KFP's numbers)
  std::vector<Json> values;  // one, or several for IN
};

struct ListQuery {
  std::vector<Predicate> predicates;
  std::string sort_key;  // as given (for the token)
  ListField sort_field;
  bool descending = false;
  std::string filter_text;  // as given (for the token)
  std::int64_t offset = 0;
  std::int64_t page_size = 20;
};

inline constexpr std::int64_t kDefaultPageSize = 20;
inline constexpr std::int64_t kMaxPageSize = 200;

// Reads filter, sort_by, page_size and page_token from the query string.
// `id_field` breaks ties; `default_sort` is the key used without sort_by.
Result<ListQuery> ParseListQuery(const HttpRequest& request, const ListFields& fields,
                                 std::string_view default_sort);
// Parses a Filter JSON text into predicates (exposed for tests).
Result<std::vector<Predicate>> ParseFilter(std::string_view text, const ListFields& fields);
// True when `item` satisfies every predicate.
bool Matches(const Json& item, const std::vector<Predicate>& predicates);

struct ListPage {
  std::vector<Json> items;
  std::int64_t total_size = 0;  // matching items, all pages
  std::string next_page_token;  // empty on the last page
};
ListPage ApplyListQuery(std::vector<Json> items, const ListQuery& query, std::string_view id_field);

// ---- multipart/form-data ----

struct UploadedFile {
  std::string filename;
  std::string content;
};
// The part named `field` of a multipart/form-data body; InvalidArgument
// when the body is not multipart or has no such part.
Result<UploadedFile> MultipartFile(const HttpRequest& request, std::string_view field);

}  // namespace ferry::api::kfp
