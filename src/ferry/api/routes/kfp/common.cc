#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <optional>

#include "ferry/api/routes/kfp/common_internal.h"
#include "ferry/common/logging.h"
#include "ferry/common/strings.h"
#include "ferry/common/time.h"

namespace ferry::api::kfp {
namespace {

// ---- base64url, for opaque page tokens ----

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Base64UrlEncode(std::string_view in) {
  std::string out;
  std::uint32_t buf = 0;
  int bits = 0;
  for (unsigned char c : in) {
    buf = (buf << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kB64[(buf >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kB64[(buf << (6 - bits)) & 63]);
  return out;
}

bool Base64UrlDecode(std::string_view in, std::string* out) {
  std::uint32_t buf = 0;
  int bits = 0;
  for (char c : in) {
    const char* p = std::strchr(kB64, c);
    if (c == '\0' || p == nullptr) return false;
    buf = (buf << 6) | static_cast<std::uint32_t>(p - kB64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((buf >> bits) & 0xff));
    }
  }
  return true;
}

std::optional<std::int64_t> ParseInt(std::string_view text) {
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

// `object[name]`, trying the camelCase spelling too (the client's filter
// JSON uses stringValue; proto JSON accepts both).
const Json* Member(const Json& object, std::string_view snake) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(snake);
  if (it != object.end() && !it->is_null()) return &*it;
  std::string camel;
  bool up = false;
  for (char c : snake) {
    if (c == '_') {
      up = true;
      continue;
    }
    camel.push_back(up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c);
    up = false;
  }
  it = object.find(camel);
  if (it != object.end() && !it->is_null()) return &*it;
  return nullptr;
}

const std::map<std::string, int, std::less<>>& Operations() {
  static const auto* ops = new std::map<std::string, int, std::less<>>{
      {"EQUALS", 1},    {"NOT_EQUALS", 2},       {"GREATER_THAN", 3}, {"GREATER_THAN_EQUALS", 5},
      {"LESS_THAN", 6}, {"LESS_THAN_EQUALS", 7}, {"IN", 8},           {"IS_SUBSTRING", 9}};
  return *ops;
}

// A value of the item at a dotted path; null when absent.
const Json* ItemValue(const Json& item, std::string_view path) {
  const Json* cur = &item;
  while (true) {
    const std::size_t dot = path.find('.');
    std::string_view part = path.substr(0, dot);
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(part);
    if (it == cur->end()) return nullptr;
    cur = &*it;
    if (dot == std::string_view::npos) return cur;
    path.remove_prefix(dot + 1);
  }
}

// Comparable form of a value: times as micros, numbers as doubles, the
// rest as strings. Returns false when the value is absent.
struct Comparable {
  bool numeric = false;
  double number = 0;
  std::string text;
};

bool ToComparable(const Json* v, FieldKind kind, Comparable* out) {
  if (v == nullptr || v->is_null()) {
    if (kind == FieldKind::kString) {
      out->text.clear();
      return true;  // absent strings compare as "" (proto3 defaults)
    }
    out->numeric = true;
    out->number = 0;
    return true;
  }
  switch (kind) {
    case FieldKind::kTime:
      out->numeric = true;
      if (v->is_string()) {
        auto t = ParseRfc3339(v->get<std::string>());
        out->number = t.ok() ? static_cast<double>(*t) : 0;
      } else if (v->is_number()) {
        out->number = v->get<double>() * 1e6;  // seconds
      }
      return true;
    case FieldKind::kNumber:
      out->numeric = true;
      if (v->is_number())
        out->number = v->get<double>();
      else if (v->is_string())
        out->number = static_cast<double>(ParseInt(v->get<std::string>()).value_or(0));
      return true;
    case FieldKind::kString:
      out->text = v->is_string() ? v->get<std::string>() : v->dump();
      return true;
  }
  return false;
}

int Compare(const Comparable& a, const Comparable& b) {
  if (a.numeric || b.numeric) return a.number < b.number ? -1 : (a.number > b.number ? 1 : 0);
  return a.text.compare(b.text) < 0 ? -1 : (a.text == b.text ? 0 : 1);
}

// A predicate value as the field's kind wants it.
Result<Json> PredicateValue(const Json& raw, std::string_view how, const Predicate& p,
                            std::string_view path) {
  switch (p.field.kind) {
    case FieldKind::kTime:
      if (how == "timestamp_value") {
        if (!raw.is_string())
          return InvalidArgument("timestamp_value must be an RFC 3339 string", std::string(path));
        auto t = ParseRfc3339(raw.get<std::string>());
        if (!t.ok()) return InvalidArgument("timestamp_value: " + t.status().message(), std::string(path));
        return Json(static_cast<double>(*t) / 1e6);
      }
      [[fallthrough]];
    case FieldKind::kNumber:
      if (raw.is_number()) return raw;
      if (raw.is_string()) {
        if (auto v = ParseInt(raw.get<std::string>())) return Json(*v);
      }
      return InvalidArgument("Filter key " + QuoteForMessage(p.key) + " takes a number, got " +
                                 SanitizeForMessage(raw.dump(), 80),
                             std::string(path));
    case FieldKind::kString:
      if (raw.is_string()) return raw;
      if (raw.is_number()) return Json(raw.dump());
      return InvalidArgument("Filter key " + QuoteForMessage(p.key) + " takes a string", std::string(path));
  }
  return Internal("unknown field kind");
}

}  // namespace

int GrpcCode(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 0;
    case StatusCode::kInvalidArgument:
      return 3;
    case StatusCode::kDeadlineExceeded:
      return 4;
    case StatusCode::kNotFound:
      return 5;
    case StatusCode::kAlreadyExists:
      return 6;
    case StatusCode::kPermissionDenied:
      return 7;
    case StatusCode::kResourceExhausted:
    case StatusCode::kPayloadTooLarge:
      return 8;
    case StatusCode::kFailedPrecondition:
      return 9;
    case StatusCode::kConflict:
      return 10;
    case StatusCode::kUnimplemented:
      return 12;
    case StatusCode::kInternal:
      return 13;
    case StatusCode::kUnavailable:
      return 14;
    case StatusCode::kUnauthenticated:
      return 16;
  }
  return 2;
}

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
    case StatusCode::kFailedPrecondition:
      return 400;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
    case StatusCode::kConflict:
      return 409;
    case StatusCode::kPayloadTooLarge:
      return 413;
    case StatusCode::kResourceExhausted:
      return 429;
    case StatusCode::kUnimplemented:
      return 501;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kDeadlineExceeded:
      return 504;
    case StatusCode::kInternal:
      return 500;
  }
  return 500;
}

HttpResponse JsonResponse(const Json& body, int status) {
  return TextResponse(status, "application/json", body.dump(-1, ' ', false, Json::error_handler_t::replace));
}

namespace {
Json ErrorBody(const HttpRequest& request, const Status& status, int* http_status) {
  if (status.ok() || status.code() == StatusCode::kInternal) {
    LogEvent(spdlog::level::err, "kfp request failed",
             {{"request_id", request.request_id}, {"path", request.path}, {"error", status.ToString()}});
    *http_status = 500;
    return {{"code", 13}, {"message", "internal error"}, {"details", Json::array()}};
  }
  *http_status = HttpStatusFor(status.code());
  std::string message = status.message();
  Json details = Json::array();
  if (!status.field().empty()) {
    message += " (field " + status.field() + ")";
    details.push_back(
        {{"@type", "type.googleapis.com/google.rpc.BadRequest"},
         {"field_violations", {{{"field", status.field()}, {"description", status.message()}}}}});
  }
  return {{"code", GrpcCode(status.code())}, {"message", message}, {"details", details}};
}
}  // namespace

HttpResponse ErrorResponse(const HttpRequest& request, const Status& status) {
  int http_status = 500;
  Json body = ErrorBody(request, status, &http_status);
  HttpResponse response = JsonResponse(body, http_status);
  if (http_status == 429 || http_status == 503) response.headers.Set("Retry-After", "1");
  return response;
}

HttpResponse UploadErrorResponse(const HttpRequest& request, const Status& status) {
  int http_status = 500;
  Json body = ErrorBody(request, status, &http_status);
  body["error_message"] = body["message"];
  body["error_details"] = body["message"];
  return JsonResponse(body, http_status);
}

std::string Timestamp(std::int64_t micros) { return FormatRfc3339(micros); }

Result<Json> BodyObject(const HttpRequest& request) {
  if (request.body.find_first_not_of(" \t\r\n") == std::string::npos) return Json::object();
  auto parsed = ParseJson(request.body);
  if (!parsed.ok()) return InvalidArgument("Malformed request body: " + parsed.status().message(), "body");
  if (!parsed->is_object())
    return InvalidArgument(
        "Malformed request body: expected a JSON object, got " + std::string(JsonTypeName(*parsed)), "body");
  return std::move(parsed).value();
}

std::string QueryParam(const HttpRequest& request, std::string_view name) {
  for (const auto& [k, v] : request.query)
    if (k == name) return v;
  return {};
}

Result<std::string> StringField(const Json& object, std::string_view name, std::string_view path) {
  const Json* v = Member(object, name);
  if (v == nullptr) return std::string();
  if (!v->is_string())
    return InvalidArgument(std::string(path) + " must be a string, got " + std::string(JsonTypeName(*v)),
                           std::string(path));
  return v->get<std::string>();
}

Result<const Json*> ObjectField(const Json& object, std::string_view name, std::string_view path) {
  const Json* v = Member(object, name);
  if (v == nullptr) return static_cast<const Json*>(nullptr);
  if (!v->is_object())
    return InvalidArgument(std::string(path) + " must be an object, got " + std::string(JsonTypeName(*v)),
                           std::string(path));
  return v;
}

// ---- Lists ----

Result<std::vector<Predicate>> ParseFilter(std::string_view text, const ListFields& fields) {
  std::vector<Predicate> out;
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) return out;
  auto parsed = ParseJson(text);
  if (!parsed.ok()) return InvalidArgument("Invalid filter: " + parsed.status().message(), "filter");
  if (!parsed->is_object()) return InvalidArgument("Invalid filter: expected a JSON object", "filter");
  for (const auto& [k, v] : parsed->items()) {
    if (k != "predicates")
      return InvalidArgument("Invalid filter: unknown field " + QuoteForMessage(k), "filter." + k);
  }
  const Json* predicates = Member(*parsed, "predicates");
  if (predicates == nullptr) return out;
  if (!predicates->is_array())
    return InvalidArgument("Invalid filter: predicates must be a list", "filter.predicates");
  for (std::size_t i = 0; i < predicates->size(); ++i) {
    const Json& raw = (*predicates)[i];
    const std::string path = "filter.predicates[" + std::to_string(i) + "]";
    if (!raw.is_object()) return InvalidArgument("Invalid filter: a predicate must be an object", path);
    Predicate p;
    ASSIGN_OR_RETURN(p.key, StringField(raw, "key", path + ".key"));
    auto field = fields.find(p.key);
    if (field == fields.end())
      return InvalidArgument("Invalid filter: unsupported key " + QuoteForMessage(p.key), path + ".key");
    p.field = field->second;
    const Json* op = Member(raw, "operation");
    if (op != nullptr && op->is_number_integer()) {
      p.op = op->get<int>();
    } else if (op != nullptr && op->is_string()) {
      auto it = Operations().find(op->get<std::string>());
      if (it != Operations().end())
        p.op = it->second;
      else if (auto n = ParseInt(op->get<std::string>()))
        p.op = static_cast<int>(*n);
    }
    if (p.op < 1 || p.op > 9 || p.op == 4)
      return InvalidArgument("Invalid filter: unknown or missing operation" +
                                 (op ? " " + SanitizeForMessage(op->dump(), 60) : std::string()),
                             path + ".operation");
    int given = 0;
    for (std::string_view how : {"string_value", "int_value", "long_value", "timestamp_value"}) {
      if (const Json* v = Member(raw, how)) {
        ++given;
        ASSIGN_OR_RETURN(Json value, PredicateValue(*v, how, p, path + "." + std::string(how)));
        p.values.push_back(std::move(value));
      }
    }
    for (std::string_view how : {"string_values", "int_values", "long_values"}) {
      if (const Json* v = Member(raw, how)) {
        ++given;
        const std::string vpath = path + "." + std::string(how);
        const Json* list = Member(*v, "values");
        if (!v->is_object() || (list != nullptr && !list->is_array()))
          return InvalidArgument("Invalid filter: " + std::string(how) + " must be {values: [...]}", vpath);
        if (list != nullptr) {
          for (const Json& item : *list) {
            ASSIGN_OR_RETURN(Json value, PredicateValue(item, how, p, vpath));
            p.values.push_back(std::move(value));
          }
        }
      }
    }
    if (given != 1) return InvalidArgument("Invalid filter: a predicate needs exactly one value", path);
    const bool is_list =
        Member(raw, "string_values") || Member(raw, "int_values") || Member(raw, "long_values");
    if ((p.op == 8) != is_list)
      return InvalidArgument(p.op == 8 ? "Invalid filter: IN takes a list of values"
                                       : "Invalid filter: only IN takes a list of values",
                             path);
    if (p.op == 9 && p.field.kind != FieldKind::kString)
      return InvalidArgument("Invalid filter: IS_SUBSTRING works on strings only", path + ".operation");
    out.push_back(std::move(p));
  }
  return out;
}

bool Matches(const Json& item, const std::vector<Predicate>& predicates) {
  for (const Predicate& p : predicates) {
    Comparable have;
    ToComparable(ItemValue(item, p.field.json_name), p.field.kind, &have);
    bool ok = false;
    if (p.op == 9) {
      ok = !p.values.empty() && have.text.find(p.values[0].get<std::string>()) != std::string::npos;
    } else if (p.op == 8) {
      for (const Json& v : p.values) {
        Comparable want;
        ToComparable(&v, p.field.kind == FieldKind::kTime ? FieldKind::kNumber : p.field.kind, &want);
        if (p.field.kind == FieldKind::kTime) want.number *= 1e6;
        if (Compare(have, want) == 0) ok = true;
      }
    } else {
      Comparable want;
      ToComparable(&p.values[0], p.field.kind == FieldKind::kTime ? FieldKind::kNumber : p.field.kind, &want);
      if (p.field.kind == FieldKind::kTime) want.number *= 1e6;  // values are seconds
      const int c = Compare(have, want);
      switch (p.op) {
        case 1:
          ok = c == 0;
          break;
        case 2:
          ok = c != 0;
          break;
        case 3:
          ok = c > 0;
          break;
        case 5:
          ok = c >= 0;
          break;
        case 6:
          ok = c < 0;
          break;
        case 7:
          ok = c <= 0;
          break;
        default:
          ok = false;
      }
    }
    if (!ok) return false;
  }
  return true;
}

namespace {

Status ParseSort(std::string_view sort_by, const ListFields& fields, ListQuery* q) {
  std::string text(sort_by);
  while (!text.empty() && text.back() == ' ') text.pop_back();
  std::string key = text;
  q->descending = false;
  const std::size_t space = text.find(' ');
  if (space != std::string::npos) {
    key = text.substr(0, space);
    std::string dir = text.substr(space + 1);
    dir.erase(0, dir.find_first_not_of(' '));
    if (dir == "desc")
      q->descending = true;
    else if (dir != "asc")
      return InvalidArgument("Invalid sorting order " + QuoteForMessage(dir) + ": use \"asc\" or \"desc\"",
                             "sort_by");
  }
  auto it = fields.find(key);
  if (it == fields.end()) return InvalidArgument("Invalid sorting field " + QuoteForMessage(key), "sort_by");
  q->sort_key = text;
  q->sort_field = it->second;
  return Status::OK();
}

}  // namespace

Result<ListQuery> ParseListQuery(const HttpRequest& request, const ListFields& fields,
                                 std::string_view default_sort) {
  ListQuery q;
  std::string sort_by = QueryParam(request, "sort_by");
  std::string filter = QueryParam(request, "filter");
  const std::string token = QueryParam(request, "page_token");
  if (!token.empty()) {
    // The token carries the listing's filter and order, as in KFP.
    std::string decoded;
    Result<Json> parsed = InvalidArgument("bad token");
    if (Base64UrlDecode(token, &decoded)) parsed = ParseJson(decoded);
    if (!parsed.ok() || !parsed->is_object() || !(*parsed)["o"].is_number_integer() ||
        !(*parsed)["s"].is_string() || !(*parsed)["f"].is_string() || (*parsed)["o"].get<std::int64_t>() < 0)
      return InvalidArgument("Invalid page token", "page_token");
    q.offset = (*parsed)["o"].get<std::int64_t>();
    sort_by = (*parsed)["s"].get<std::string>();
    filter = (*parsed)["f"].get<std::string>();
  }
  RETURN_IF_ERROR(ParseSort(sort_by.empty() ? default_sort : std::string_view(sort_by), fields, &q));
  ASSIGN_OR_RETURN(q.predicates, ParseFilter(filter, fields));
  q.filter_text = filter;
  const std::string size = QueryParam(request, "page_size");
  if (!size.empty()) {
    auto n = ParseInt(size);
    if (!n || *n < 0) return InvalidArgument("Invalid page size " + QuoteForMessage(size), "page_size");
    q.page_size = *n == 0 ? kDefaultPageSize : std::min(*n, kMaxPageSize);
  }
  return q;
}

ListPage ApplyListQuery(std::vector<Json> items, const ListQuery& query, std::string_view id_field) {
  ListPage page;
  std::vector<std::pair<Comparable, Json>> kept;
  for (Json& item : items) {
    if (!Matches(item, query.predicates)) continue;
    Comparable key;
    ToComparable(ItemValue(item, query.sort_field.json_name), query.sort_field.kind, &key);
    kept.emplace_back(std::move(key), std::move(item));
  }
  const std::string id(id_field);
  std::stable_sort(kept.begin(), kept.end(), [&](const auto& a, const auto& b) {
    int c = Compare(a.first, b.first);
    if (c == 0) {
      const std::string ia = a.second.value(id, ""), ib = b.second.value(id, "");
      c = ia.compare(ib) < 0 ? -1 : (ia == ib ? 0 : 1);
    }
    return query.descending ? c > 0 : c < 0;
  });
  page.total_size = static_cast<std::int64_t>(kept.size());
  // A token's offset is untrusted: clamp before adding.
  const std::int64_t start = std::min(query.offset, page.total_size);
  const std::int64_t end = start + std::min(query.page_size, page.total_size - start);
  for (std::int64_t i = start; i < end; ++i) page.items.push_back(std::move(kept[i].second));
  if (end < page.total_size) {
    Json token = {{"o", end}, {"s", query.sort_key}, {"f", query.filter_text}};
    page.next_page_token = Base64UrlEncode(token.dump(-1, ' ', false, Json::error_handler_t::replace));
  }
  return page;
}

// ---- multipart/form-data ----

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// The value of `name=` in a header's parameters (quoted or not).
std::string HeaderParam(std::string_view header, std::string_view name) {
  std::size_t pos = 0;
  while (pos < header.size()) {
    std::size_t semi = header.find(';', pos);
    if (semi == std::string_view::npos) semi = header.size();
    std::string_view part = Trim(header.substr(pos, semi - pos));
    const std::size_t eq = part.find('=');
    if (eq != std::string_view::npos) {
      std::string key(Trim(part.substr(0, eq)));
      std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::tolower(c); });
      if (key == name) {
        std::string_view value = Trim(part.substr(eq + 1));
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
          value = value.substr(1, value.size() - 2);
          std::string out;
          for (std::size_t i = 0; i < value.size(); ++i) {
            if (value[i] == '\\' && i + 1 < value.size()) ++i;
            out.push_back(value[i]);
          }
          return out;
        }
        return std::string(value);
      }
    }
    pos = semi + 1;
  }
  return {};
}

}  // namespace

Result<UploadedFile> MultipartFile(const HttpRequest& request, std::string_view field) {
  const std::string_view type = request.headers.Get("Content-Type");
  std::string lower(type.substr(0, type.find(';')));
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (Trim(lower) != "multipart/form-data")
    return InvalidArgument(
        "Failed to read pipeline from file: expected a multipart/form-data body with a part "
        "named " +
            std::string(field),
        std::string(field));
  const std::string boundary = HeaderParam(type, "boundary");
  if (boundary.empty() || boundary.size() > 200)
    return InvalidArgument("Failed to read pipeline from file: multipart body without a boundary",
                           std::string(field));
  const std::string delimiter = "--" + boundary;
  std::string_view body = request.body;
  std::size_t pos = body.find(delimiter);
  while (pos != std::string_view::npos) {
    pos += delimiter.size();
    if (body.substr(pos, 2) == "--") break;  // closing delimiter
    if (body.substr(pos, 2) == "\r\n") pos += 2;
    const std::size_t header_end = body.find("\r\n\r\n", pos);
    if (header_end == std::string_view::npos) break;
    std::string_view headers = body.substr(pos, header_end - pos);
    const std::size_t content_start = header_end + 4;
    const std::size_t next = body.find("\r\n" + delimiter, content_start);
    if (next == std::string_view::npos) break;
    std::string disposition;
    std::size_t line_start = 0;
    while (line_start <= headers.size()) {
      std::size_t line_end = headers.find("\r\n", line_start);
      if (line_end == std::string_view::npos) line_end = headers.size();
      std::string_view line = headers.substr(line_start, line_end - line_start);
      const std::size_t colon = line.find(':');
      if (colon != std::string_view::npos) {
        std::string name(Trim(line.substr(0, colon)));
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        if (name == "content-disposition") disposition = std::string(Trim(line.substr(colon + 1)));
      }
      line_start = line_end + 2;
    }
    if (HeaderParam(disposition, "name") == field) {
      return UploadedFile{HeaderParam(disposition, "filename"),
                          std::string(body.substr(content_start, next - content_start))};
    }
    pos = body.find(delimiter, next + 2);
  }
  return InvalidArgument(
      "Failed to read pipeline from file: the multipart body has no part named " + std::string(field),
      std::string(field));
}

}  // namespace ferry::api::kfp
