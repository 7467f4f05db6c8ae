#pragma once
// JSON and YAML for untrusted input. Everything Ferry parses from the outside
// goes through these functions, which bound nesting depth and node count and
// report errors with a position, never by throwing.
//
// YAML is converted to the same Json value a JSON document would give, using
// the YAML 1.2 core schema for plain scalars (null, true/false, integers,
// floats); quoted scalars are always strings.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ferry/common/status.h"

namespace ferry {

using Json = nlohmann::json;

struct ParseLimits {
  int max_depth = 64;
  std::size_t max_nodes = 1'000'000;  // guards YAML alias expansion bombs
};

Result<Json> ParseJson(std::string_view text, const ParseLimits& limits = {});

// One YAML document; an empty document yields null.
Result<Json> ParseYaml(std::string_view text, const ParseLimits& limits = {});
// All documents of a multi-document YAML stream, skipping empty ones.
Result<std::vector<Json>> ParseYamlDocuments(std::string_view text,
                                             const ParseLimits& limits = {});

// Block-style YAML that ParseYaml reads back to an equal Json value.
std::string ToYaml(const Json& value);

// Short JSON type name for error messages: "string", "object", ...
std::string_view JsonTypeName(const Json& value);

// A double as proto-JSON writes it: a number, or "NaN" / "Infinity" /
// "-Infinity", which JSON cannot carry as numbers.
Json JsonDouble(double value);

}  // namespace ferry
