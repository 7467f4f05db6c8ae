#pragma once
// Validation of names that end up in URLs, file paths and SQL parameters.

#include <string_view>

#include "ferry/common/status.h"

namespace ferry {

// RFC 1123 DNS label, as Kubernetes names: 1-63 chars of [a-z0-9-], starting
// and ending with an alphanumeric. `field` names the field in errors.
Status ValidateDns1123Label(std::string_view name, std::string_view field);

// RFC 1123 subdomain: dot-separated labels, at most 253 chars.
Status ValidateDns1123Subdomain(std::string_view name, std::string_view field);

// Kubernetes label key ([prefix/]name) and value rules.
Status ValidateLabelKey(std::string_view key, std::string_view field);
Status ValidateLabelValue(std::string_view value, std::string_view field);

}  // namespace ferry
