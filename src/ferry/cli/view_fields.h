#pragma once
// Field readers the CLI's views share. They are lenient: views only format
// what a server sent, so a missing or mistyped field reads as empty (null,
// an empty array, 0) instead of failing the command.
//
// Thread-safety: pure functions.
#include <cstdint>
#include <string_view>

#include "ferry/common/json.h"

namespace ferry::cli {

// object[key], or null when `object` is not an object or has no `key`.
const Json& Member(const Json& object, std::string_view key);
// object[key] when it is an array, else an empty array.
const Json& Array(const Json& object, std::string_view key);
// object[key] as an integer: a number (truncated) or a decimal string; 0
// otherwise.
std::int64_t Int(const Json& object, std::string_view key);

}  // namespace ferry::cli
