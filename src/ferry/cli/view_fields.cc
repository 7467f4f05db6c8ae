#include "ferry/cli/view_fields.h"

#include <charconv>
#include <string>

namespace ferry::cli {

const Json& Member(const Json& object, std::string_view key) {
  static const Json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

const Json& Array(const Json& object, std::string_view key) {
  static const Json kEmpty = Json::array();
  const Json& v = Member(object, key);
  return v.is_array() ? v : kEmpty;
}

std::int64_t Int(const Json& object, std::string_view key) {
  const Json& v = Member(object, key);
  if (v.is_number()) return v.get<std::int64_t>();
  if (!v.is_string()) return 0;
  const std::string& text = v.get_ref<const std::string&>();
  std::int64_t out = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() ? out : 0;
}

}  // namespace ferry::cli
