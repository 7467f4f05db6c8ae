#pragma once
// RFC 3339 timestamps, the format of metadata.creationTimestamp.

#include <cstdint>
#include <string>
#include <string_view>

#include "ferry/common/status.h"

namespace ferry {

// "2026-11-22T15:00:00Z" (second precision, UTC), as Kubernetes writes it.
std::string FormatRfc3339(std::int64_t unix_micros);
// "2026-11-22T15:00:00.123456Z".
std::string FormatRfc3339Micros(std::int64_t unix_micros);
// Accepts 'Z' or a numeric offset and optional fractional seconds.
Result<std::int64_t> ParseRfc3339(std::string_view text);

}  // namespace ferry
