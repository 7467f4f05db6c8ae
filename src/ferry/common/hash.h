#pragma once
// Content hashes: cache keys, environment keys, fingerprints that must be
// stable across processes and releases.
#include <string>
#include <string_view>

namespace ferry {

// SHA-256 of `data` as 64 lowercase hex digits.
std::string Sha256Hex(std::string_view data);

}  // namespace ferry
