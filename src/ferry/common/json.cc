#include "ferry/common/json.h"

#include <cmath>
#include <limits>
#include <regex>

#include <yaml-cpp/yaml.h>

namespace ferry {
namespace {

struct LimitExceeded {
  std::string what;
};

Status ParseError(std::string_view kind, std::string_view detail) {
  return InvalidArgument("malformed " + std::string(kind) + ": " + std::string(detail));
}

// YAML 1.2 core schema resolution of a plain scalar.
Json ResolvePlainScalar(const std::string& s) {
  static const std::regex kInt(R"([-+]?[0-9]+)");
  static const std::regex kOct(R"(0o[0-7]+)");
  static const std::regex kHex(R"(0x[0-9a-fA-F]+)");
  static const std::regex kFloat(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  try {
    if (std::regex_match(s, kInt)) {
      if (s[0] == '-') return static_cast<std::int64_t>(std::stoll(s));
      std::uint64_t u = std::stoull(s[0] == '+' ? s.substr(1) : s);
      if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        return static_cast<std::int64_t>(u);
      return u;
    }
    if (std::regex_match(s, kOct)) return static_cast<std::int64_t>(std::stoll(s.substr(2), nullptr, 8));
    if (std::regex_match(s, kHex)) return static_cast<std::int64_t>(std::stoll(s.substr(2), nullptr, 16));
    if (std::regex_match(s, kFloat)) return std::stod(s);
  } catch (const std::out_of_range&) {
    return s;  // too large for a number: keep the text
  }
  if (s == ".inf" || s == ".Inf" || s == ".INF" || s == "+.inf" || s == "+.Inf" || s == "+.INF")
    return std::numeric_limits<double>::infinity();
  if (s == "-.inf" || s == "-.Inf" || s == "-.INF") return -std::numeric_limits<double>::infinity();
  if (s == ".nan" || s == ".NaN" || s == ".NAN") return std::numeric_limits<double>::quiet_NaN();
  return s;
}

class YamlConverter {
 public:
  explicit YamlConverter(const ParseLimits& limits) : limits_(limits) {}

  Json Convert(const YAML::Node& node, int depth) {
    if (depth > limits_.max_depth)
      throw LimitExceeded{"nesting deeper than " + std::to_string(limits_.max_depth) + " levels"};
    if (++nodes_ > limits_.max_nodes)
      throw LimitExceeded{"more than " + std::to_string(limits_.max_nodes) + " nodes"};
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return nullptr;
      case YAML::NodeType::Scalar:
        // Tag "!" marks a quoted (non-plain) scalar; "?" or empty a plain one.
        if (node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str") return node.Scalar();
        return ResolvePlainScalar(node.Scalar());
      case YAML::NodeType::Sequence: {
        Json out = Json::array();
        for (const auto& item : node) out.push_back(Convert(item, depth + 1));
        return out;
      }
      case YAML::NodeType::Map: {
        Json out = Json::object();
        for (const auto& kv : node) {
          if (!kv.first.IsScalar())
            throw LimitExceeded{"mapping keys must be scalars (line " +
                                std::to_string(kv.first.Mark().line + 1) + ")"};
          const std::string& key = kv.first.Scalar();
          if (out.contains(key))
            throw LimitExceeded{"duplicate key '" + key + "' (line " +
                                std::to_string(kv.first.Mark().line + 1) + ")"};
          out[key] = Convert(kv.second, depth + 1);
        }
        return out;
      }
    }
    return nullptr;
  }

 private:
  const ParseLimits& limits_;
  std::size_t nodes_ = 0;
};

bool NeedsQuotes(const std::string& s) {
  return !ResolvePlainScalar(s).is_string() || s.empty();
}

void Emit(YAML::Emitter& out, const Json& v) {
  switch (v.type()) {
    case Json::value_t::object:
      out << YAML::BeginMap;
      for (const auto& [k, item] : v.items()) {
        out << YAML::Key;
        if (NeedsQuotes(k)) out << YAML::DoubleQuoted;
        out << k << YAML::Value;
        Emit(out, item);
      }
      out << YAML::EndMap;
      break;
    case Json::value_t::array:
      out << YAML::BeginSeq;
      for (const auto& item : v) Emit(out, item);
      out << YAML::EndSeq;
      break;
    case Json::value_t::string: {
      const auto& s = v.get_ref<const std::string&>();
      if (NeedsQuotes(s)) out << YAML::DoubleQuoted;
      if (s.find('\n') != std::string::npos) out << YAML::Literal;
      out << s;
      break;
    }
    case Json::value_t::boolean:
      out << (v.get<bool>() ? "true" : "false");
      break;
    case Json::value_t::number_integer:
      out << v.get<std::int64_t>();
      break;
    case Json::value_t::number_unsigned:
      out << v.get<std::uint64_t>();
      break;
    case Json::value_t::number_float: {
      double d = v.get<double>();
      if (std::isnan(d)) out << ".nan";
      else if (std::isinf(d)) out << (d > 0 ? ".inf" : "-.inf");
      else out << v.dump();  // shortest round-trip form, always with '.' or 'e'
      break;
    }
    default:
      out << YAML::Null;
  }
}

}  // namespace

Result<Json> ParseJson(std::string_view text, const ParseLimits& limits) {
  std::size_t nodes = 0;
  auto cb = [&](int depth, Json::parse_event_t event, Json&) {
    if (depth > limits.max_depth)
      throw LimitExceeded{"nesting deeper than " + std::to_string(limits.max_depth) + " levels"};
    if (event == Json::parse_event_t::value && ++nodes > limits.max_nodes)
      throw LimitExceeded{"more than " + std::to_string(limits.max_nodes) + " values"};
    return true;
  };
  try {
    return Json::parse(text.begin(), text.end(), cb);
  } catch (const LimitExceeded& e) {
    return ParseError("JSON", e.what);
  } catch (const Json::parse_error& e) {
    // nlohmann's message starts with "[json.exception.parse_error.101] parse error at ..."
    std::string msg = e.what();
    if (auto pos = msg.find("] "); pos != std::string::npos) msg = msg.substr(pos + 2);
    return ParseError("JSON", msg);
  } catch (const std::exception& e) {
    return ParseError("JSON", e.what());
  }
}

Result<std::vector<Json>> ParseYamlDocuments(std::string_view text, const ParseLimits& limits) {
  try {
    std::vector<Json> docs;
    YamlConverter conv(limits);
    for (const auto& node : YAML::LoadAll(std::string(text))) {
      Json j = conv.Convert(node, 0);
      if (!j.is_null()) docs.push_back(std::move(j));
    }
    return docs;
  } catch (const LimitExceeded& e) {
    return ParseError("YAML", e.what);
  } catch (const YAML::Exception& e) {
    return ParseError("YAML", "line " + std::to_string(e.mark.line + 1) + ", column " +
                                  std::to_string(e.mark.column + 1) + ": " + e.msg);
  } catch (const std::exception& e) {
    return ParseError("YAML", e.what());
  }
}

Result<Json> ParseYaml(std::string_view text, const ParseLimits& limits) {
  ASSIGN_OR_RETURN(auto docs, ParseYamlDocuments(text, limits));
  if (docs.size() > 1) return InvalidArgument("expected one YAML document, got " + std::to_string(docs.size()));
  if (docs.empty()) return Json(nullptr);
  return std::move(docs.front());
}

std::string ToYaml(const Json& value) {
  YAML::Emitter out;
  Emit(out, value);
  std::string s = out.c_str();
  s += '\n';
  return s;
}

std::string_view JsonTypeName(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::object: return "object";
    case Json::value_t::array: return "array";
    case Json::value_t::string: return "string";
    case Json::value_t::boolean: return "boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return "integer";
    case Json::value_t::number_float: return "number";
    default: return "value";
  }
}

}  // namespace ferry
