#include "ferry/api/request_id.h"

#include <algorithm>

namespace ferry::api {

bool IsSaneRequestId(std::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdLength) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

std::string RequestIdFor(std::string_view client_id, Env& env) {
  if (IsSaneRequestId(client_id)) return std::string(client_id);
  return env.NewUuid();
}

}  // namespace ferry::api
