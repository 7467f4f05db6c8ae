#include "ferry/api/http_message.h"

#include <algorithm>
#include <cctype>

#include "ferry/common/strings.h"

namespace ferry::api {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

void HttpHeaders::Add(std::string name, std::string value) {
  fields_.emplace_back(std::move(name), std::move(value));
}

void HttpHeaders::Set(std::string_view name, std::string value) {
  std::erase_if(fields_, [&](const auto& field) { return EqualsIgnoreCase(field.first, name); });
  fields_.emplace_back(std::string(name), std::move(value));
}

std::string_view HttpHeaders::Get(std::string_view name) const {
  for (const auto& [key, value] : fields_)
    if (EqualsIgnoreCase(key, name)) return value;
  return {};
}

bool HttpHeaders::Has(std::string_view name) const {
  return std::any_of(fields_.begin(), fields_.end(),
                     [&](const auto& field) { return EqualsIgnoreCase(field.first, name); });
}

const std::string& HttpRequest::Param(const std::string& name) const {
  static const std::string kEmpty;
  auto it = params.find(name);
  return it == params.end() ? kEmpty : it->second;
}

HttpResponse TextResponse(int status, std::string content_type, std::string body) {
  HttpResponse response;
  response.status = status;
  response.headers.Set("Content-Type", std::move(content_type));
  response.body = std::move(body);
  return response;
}

Result<std::string> PercentDecode(std::string_view text, bool plus_as_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      bool complete = i + 2 < text.size();
      int hi = complete ? HexValue(text[i + 1]) : -1;
      int lo = complete ? HexValue(text[i + 2]) : -1;
      if (hi < 0 || lo < 0)
        return InvalidArgument("malformed percent-encoding at offset " + std::to_string(i) +
                               " (expected %XX with two hex digits)");
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_as_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> ParseQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (part.empty()) continue;
    std::size_t eq = part.find('=');
    auto key = PercentDecode(part.substr(0, eq), /*plus_as_space=*/true);
    if (!key.ok()) return InvalidArgument("malformed query string: " + key.status().message());
    std::string value;
    if (eq != std::string_view::npos) {
      auto decoded = PercentDecode(part.substr(eq + 1), /*plus_as_space=*/true);
      if (!decoded.ok())
        return InvalidArgument("malformed query parameter '" + *key + "': " + decoded.status().message(),
                               *key);
      value = std::move(decoded).value();
    }
    out.emplace_back(std::move(key).value(), std::move(value));
  }
  return out;
}

Result<std::map<std::string, std::string>> AcceptedQuery(const HttpRequest& request,
                                                          std::initializer_list<std::string_view> accepted) {
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : request.query) {
    bool known = false;
    for (std::string_view name : accepted) known = known || name == key;
    if (!known) {
      std::string list;
      for (std::string_view name : accepted) list += (list.empty() ? "" : ", ") + std::string(name);
      return InvalidArgument(
          "unknown query parameter " + QuoteForMessage(key) +
              (list.empty() ? std::string("; this route takes none") : "; this route accepts " + list),
          SanitizeForMessage(key, 100));
    }
    if (!out.emplace(key, value).second)
      return InvalidArgument("query parameter " + QuoteForMessage(key) + " is given more than once",
                             SanitizeForMessage(key, 100));
  }
  return out;
}

}  // namespace ferry::api
