#include "ferry/common/names.h"

#include <cstdio>
#include <string>

#include "ferry/common/strings.h"

namespace ferry {
namespace {

bool IsAlnumLower(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return IsAlnumLower(c) || (c >= 'A' && c <= 'Z'); }

std::string Quote(std::string_view s) { return QuoteForMessage(s, 80); }

}  // namespace

Status ValidateDns1123Label(std::string_view name, std::string_view field) {
  const std::string f(field);
  if (name.empty()) return InvalidArgument(f + " must not be empty", f);
  if (name.size() > 63)
    return InvalidArgument(f + " " + Quote(name) + " is longer than 63 characters", f);
  for (char c : name) {
    if (!IsAlnumLower(c) && c != '-')
      return InvalidArgument(f + " " + Quote(name) +
                                 " must consist of lower case letters, digits and '-' (RFC 1123 label)",
                             f);
  }
  if (name.front() == '-' || name.back() == '-')
    return InvalidArgument(f + " " + Quote(name) + " must start and end with a letter or digit", f);
  return Status::OK();
}

Status ValidateDns1123Subdomain(std::string_view name, std::string_view field) {
  const std::string f(field);
  if (name.empty()) return InvalidArgument(f + " must not be empty", f);
  if (name.size() > 253)
    return InvalidArgument(f + " " + Quote(name) + " is longer than 253 characters", f);
  std::size_t start = 0;
  while (true) {
    std::size_t dot = name.find('.', start);
    std::string_view label = name.substr(start, dot == std::string_view::npos ? name.npos : dot - start);
    if (!ValidateDns1123Label(label, field).ok())
      return InvalidArgument(f + " " + Quote(name) +
                                 " must be lower case RFC 1123 labels separated by '.'",
                             f);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return Status::OK();
}

static Status ValidateQualifiedName(std::string_view name, std::string_view field, bool allow_empty) {
  const std::string f(field);
  if (name.empty()) {
    if (allow_empty) return Status::OK();
    return InvalidArgument(f + " must not be empty", f);
  }
  if (name.size() > 63) return InvalidArgument(f + " " + Quote(name) + " is longer than 63 characters", f);
  for (char c : name) {
    if (!IsAlnum(c) && c != '-' && c != '_' && c != '.')
      return InvalidArgument(f + " " + Quote(name) + " may contain only letters, digits, '-', '_' and '.'", f);
  }
  if (!IsAlnum(name.front()) || !IsAlnum(name.back()))
    return InvalidArgument(f + " " + Quote(name) + " must start and end with a letter or digit", f);
  return Status::OK();
}

Status ValidateLabelKey(std::string_view key, std::string_view field) {
  auto slash = key.find('/');
  if (slash != std::string_view::npos) {
    RETURN_IF_ERROR(ValidateDns1123Subdomain(key.substr(0, slash), field));
    return ValidateQualifiedName(key.substr(slash + 1), field, false);
  }
  return ValidateQualifiedName(key, field, false);
}

Status ValidateLabelValue(std::string_view value, std::string_view field) {
  return ValidateQualifiedName(value, field, true);
}

}  // namespace ferry
