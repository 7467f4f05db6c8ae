#pragma once
// X-Request-Id handling. Every exchange gets an id that the response carries
// and the access log records, so a user's report can be matched to the
// server's log. A client's own id is kept only when it is short and made of
// safe characters: it ends up in logs and headers, and must not be able to
// forge log lines or inject header fields.
//
// Thread-safety: stateless functions; RequestIdFor uses the thread-safe Env.

#include <cstddef>
#include <string>
#include <string_view>

#include "ferry/common/env.h"

namespace ferry::api {

inline constexpr std::size_t kMaxRequestIdLength = 128;

// True when `id` is 1 to 128 characters of [A-Za-z0-9._-].
bool IsSaneRequestId(std::string_view id);

// The client's id when sane, else a fresh UUID from `env`.
std::string RequestIdFor(std::string_view client_id, Env& env);

}  // namespace ferry::api
