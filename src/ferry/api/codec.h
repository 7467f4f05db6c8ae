#pragma once
// Codecs of the native API: which request bodies are accepted (JSON or YAML
// by Content-Type, merge patches as JSON), how they are parsed (through
// common/json.h, which bounds depth and node count), and how objects are
// written back (JSON, or YAML when the Accept header prefers it).
//
// Thread-safety: stateless functions.

#include <string>
#include <string_view>
#include <variant>

#include "ferry/api/errors.h"
#include "ferry/api/http_message.h"
#include "ferry/common/json.h"
#include "ferry/common/status.h"

namespace ferry::api {

enum class BodyFormat { kJson, kYaml };

enum class BodyKind {
  kObject,      // a resource: JSON or YAML; no Content-Type means JSON
  kMergePatch,  // RFC 7386: application/merge-patch+json or application/json
};

// The media type of a Content-Type value, lower-cased, without parameters:
// "Application/JSON; charset=utf-8" gives "application/json".
std::string MediaTypeOf(std::string_view content_type);

// The body format the request's Content-Type announces for `kind`, or a 415
// error naming the accepted types.
std::variant<BodyFormat, ApiError> RequestBodyFormat(const HttpRequest& request, BodyKind kind);

// Parses `body` as one JSON object. InvalidArgument for an empty or
// malformed body, a body that is not an object, or (from YAML) text that is
// not UTF-8 or numbers JSON cannot carry (.nan, .inf), naming the field.
Result<Json> DecodeObject(std::string_view body, BodyFormat format);

// The format the Accept header prefers: YAML only when a YAML type has a
// higher quality than JSON; JSON otherwise (including no Accept at all and
// types Ferry cannot produce, so browsers and curl get JSON).
BodyFormat NegotiateResponseFormat(std::string_view accept);

// Serialises `value` in `format` (invalid UTF-8 is replaced, never thrown).
std::string Encode(const Json& value, BodyFormat format);

// A response carrying `value` in the format the request's Accept prefers.
HttpResponse ObjectResponse(const HttpRequest& request, int status, const Json& value);

}  // namespace ferry::api
