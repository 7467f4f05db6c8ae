#include "ferry/api/codec.h"

#include <cctype>
#include <cmath>
#include <vector>

namespace ferry::api {
namespace {

constexpr char kJsonType[] = "application/json";
constexpr char kYamlType[] = "application/yaml";
constexpr char kMergePatchType[] = "application/merge-patch+json";
constexpr char kObjectTypes[] = "application/json, application/yaml, application/x-yaml or text/yaml";
constexpr char kMergePatchTypes[] = "application/merge-patch+json or application/json";

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IsYamlType(std::string_view media_type) {
  return media_type == "application/yaml" || media_type == "application/x-yaml" || media_type == "text/yaml";
}

// Text encodings other than UTF-8 (and its subset ASCII) are refused rather
// than misread.
bool CharsetIsUtf8(std::string_view content_type) {
  std::size_t semi = content_type.find(';');
  while (semi != std::string_view::npos) {
    content_type.remove_prefix(semi + 1);
    semi = content_type.find(';');
    std::string param = Lower(Trim(content_type.substr(0, semi)));
    if (!param.starts_with("charset=")) continue;
    std::string value = param.substr(8);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    if (value != "utf-8" && value != "utf8" && value != "us-ascii") return false;
  }
  return true;
}

bool IsIdentifier(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return true;
}

std::string ChildPath(const std::string& parent, const std::string& key) {
  if (IsIdentifier(key)) return parent.empty() ? key : parent + "." + key;
  return parent + "[" + Json(key).dump(-1, ' ', false, Json::error_handler_t::replace) + "]";
}

// YAML can express values JSON cannot; refuse them here instead of letting
// them turn into nulls when the object is stored.
Status CheckFiniteNumbers(const Json& value, const std::string& path) {
  if (value.is_number_float() && !std::isfinite(value.get<double>()))
    return InvalidArgument(
        (path.empty() ? std::string("value") : path) + ": .nan and .inf cannot be represented in JSON", path);
  if (value.is_object()) {
    for (const auto& [key, item] : value.items())
      RETURN_IF_ERROR(CheckFiniteNumbers(item, ChildPath(path, key)));
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i)
      RETURN_IF_ERROR(CheckFiniteNumbers(value[i], path + "[" + std::to_string(i) + "]"));
  }
  return Status::OK();
}

struct MediaRange {
  std::string type;  // "application/json", "application/*", "*/*"
  double q = 1;
};

std::vector<MediaRange> ParseAccept(std::string_view accept) {
  std::vector<MediaRange> out;
  while (!accept.empty()) {
    std::size_t comma = accept.find(',');
    std::string_view item = accept.substr(0, comma);
    accept = comma == std::string_view::npos ? std::string_view() : accept.substr(comma + 1);
    std::size_t semi = item.find(';');
    MediaRange range{Lower(Trim(item.substr(0, semi))), 1};
    if (range.type.empty()) continue;
    while (semi != std::string_view::npos) {
      item.remove_prefix(semi + 1);
      semi = item.find(';');
      std::string param = Lower(Trim(item.substr(0, semi)));
      if (!param.starts_with("q=")) continue;
      char* end = nullptr;
      std::string number = param.substr(2);
      double q = std::strtod(number.c_str(), &end);
      range.q = (end == number.c_str() + number.size() && q >= 0 && q <= 1) ? q : 0;
    }
    out.push_back(std::move(range));
  }
  return out;
}

// The quality the Accept ranges give `type`, by the most specific range
// that matches it (RFC 9110 §12.5.1); -1 when none does.
double QualityOf(const std::vector<MediaRange>& ranges, std::string_view type) {
  std::string_view major = type.substr(0, type.find('/'));
  int best_specificity = -1;
  double q = -1;
  for (const auto& range : ranges) {
    int specificity = -1;
    if (range.type == type)
      specificity = 2;
    else if (range.type.size() == major.size() + 2 && range.type.starts_with(major) &&
             range.type.ends_with("/*"))
      specificity = 1;
    else if (range.type == "*/*")
      specificity = 0;
    if (specificity > best_specificity) {
      best_specificity = specificity;
      q = range.q;
    }
  }
  return q;
}

}  // namespace

std::string MediaTypeOf(std::string_view content_type) {
  return Lower(Trim(content_type.substr(0, content_type.find(';'))));
}

std::variant<BodyFormat, ApiError> RequestBodyFormat(const HttpRequest& request, BodyKind kind) {
  std::string_view header = request.headers.Get("Content-Type");
  std::string media = MediaTypeOf(header);
  std::string_view accepted = kind == BodyKind::kObject ? kObjectTypes : kMergePatchTypes;
  if (!CharsetIsUtf8(header))
    return UnsupportedMediaTypeError(header, "UTF-8 text: " + std::string(accepted));
  if (kind == BodyKind::kMergePatch) {
    if (media == kMergePatchType || media == kJsonType) return BodyFormat::kJson;
    return UnsupportedMediaTypeError(header, accepted);
  }
  if (media.empty() || media == kJsonType) return BodyFormat::kJson;
  if (IsYamlType(media)) return BodyFormat::kYaml;
  return UnsupportedMediaTypeError(header, accepted);
}

Result<Json> DecodeObject(std::string_view body, BodyFormat format) {
  const char* name = format == BodyFormat::kJson ? "JSON" : "YAML";
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return InvalidArgument(std::string("request body is empty; expected a ") + name + " object");
  Json value;
  if (format == BodyFormat::kJson) {
    ASSIGN_OR_RETURN(value, ParseJson(body));
  } else {
    ASSIGN_OR_RETURN(value, ParseYaml(body));
    // ParseYaml has already refused invalid UTF-8, as ParseJson does.
    RETURN_IF_ERROR(CheckFiniteNumbers(value, ""));
  }
  if (!value.is_object())
    return InvalidArgument(std::string("request body must be a ") + name + " object, got " +
                           std::string(JsonTypeName(value)));
  return value;
}

BodyFormat NegotiateResponseFormat(std::string_view accept) {
  if (Trim(accept).empty()) return BodyFormat::kJson;
  std::vector<MediaRange> ranges = ParseAccept(accept);
  double json = QualityOf(ranges, kJsonType);
  double yaml = std::max({QualityOf(ranges, kYamlType), QualityOf(ranges, "application/x-yaml"),
                          QualityOf(ranges, "text/yaml")});
  return yaml > 0 && yaml > json ? BodyFormat::kYaml : BodyFormat::kJson;
}

std::string Encode(const Json& value, BodyFormat format) {
  if (format == BodyFormat::kYaml) return ToYaml(value);
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

HttpResponse ObjectResponse(const HttpRequest& request, int status, const Json& value) {
  BodyFormat format = NegotiateResponseFormat(request.headers.Get("Accept"));
  return TextResponse(status, format == BodyFormat::kYaml ? kYamlType : kJsonType, Encode(value, format));
}

}  // namespace ferry::api
