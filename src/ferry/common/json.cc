#include "ferry/common/json.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <limits>
#include <optional>
#include <sstream>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "ferry/common/strings.h"

namespace ferry {
namespace {

struct LimitExceeded {
  std::string what;
};

Status ParseError(std::string_view kind, std::string_view detail) {
  return InvalidArgument("malformed " + std::string(kind) + ": " + SanitizeForMessage(detail));
}

bool IsDigits(std::string_view s, bool (*digit)(char)) {
  if (s.empty()) return false;
  for (char c : s)
    if (!digit(c)) return false;
  return true;
}
bool IsDec(char c) { return c >= '0' && c <= '9'; }
bool IsOct(char c) { return c >= '0' && c <= '7'; }
bool IsHex(char c) { return IsDec(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// [-+]? ( \.[0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
bool IsCoreFloat(std::string_view s) {
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  std::size_t int_digits = 0, frac_digits = 0;
  while (i < s.size() && IsDec(s[i])) ++i, ++int_digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && IsDec(s[i])) ++i, ++frac_digits;
  }
  if (int_digits == 0 && frac_digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    if (!IsDigits(s.substr(i), IsDec)) return false;
    return true;
  }
  return i == s.size();
}

// YAML 1.2 core schema resolution of a plain scalar. Hand-written rather than
// std::regex: it runs once per scalar of untrusted input and must be cheap.
Json ResolvePlainScalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  const char first = s[0];
  if (!IsDec(first) && first != '-' && first != '+' && first != '.') return s;
  const std::string_view sv(s);
  const bool sign = first == '-' || first == '+';
  try {
    if (IsDigits(sv.substr(sign ? 1 : 0), IsDec)) {
      if (first == '-') return static_cast<std::int64_t>(std::stoll(s));
      std::uint64_t u = std::stoull(sign ? s.substr(1) : s);
      if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        return static_cast<std::int64_t>(u);
      return u;
    }
    if (sv.size() > 2 && sv.substr(0, 2) == "0o" && IsDigits(sv.substr(2), IsOct))
      return static_cast<std::int64_t>(std::stoll(s.substr(2), nullptr, 8));
    if (sv.size() > 2 && sv.substr(0, 2) == "0x" && IsDigits(sv.substr(2), IsHex))
      return static_cast<std::int64_t>(std::stoll(s.substr(2), nullptr, 16));
    if (IsCoreFloat(sv)) {
      // strtod, not stod: a denormal such as 5e-324 is a number, not an error.
      errno = 0;
      double d = std::strtod(s.c_str(), nullptr);
      if (errno == ERANGE && std::isinf(d)) return s;  // too large: keep the text
      return d;
    }
  } catch (const std::out_of_range&) {
    return s;  // too large for a number: keep the text
  }
  if (s == ".inf" || s == ".Inf" || s == ".INF" || s == "+.inf" || s == "+.Inf" || s == "+.INF")
    return std::numeric_limits<double>::infinity();
  if (s == "-.inf" || s == "-.Inf" || s == "-.INF") return -std::numeric_limits<double>::infinity();
  if (s == ".nan" || s == ".NaN" || s == ".NAN") return std::numeric_limits<double>::quiet_NaN();
  return s;
}

// Line `n` (0-based) of `text`, without its line break; a UTF-8 byte order
// mark is dropped from the first line.
std::string_view NthLine(std::string_view text, int n) {
  std::size_t begin = 0;
  for (int i = 0; i < n && begin != std::string_view::npos; ++i) {
    begin = text.find('\n', begin);
    if (begin != std::string_view::npos) ++begin;
  }
  if (begin == std::string_view::npos) return {};
  std::string_view line = text.substr(begin, text.find('\n', begin) - begin);
  if (n == 0 && line.starts_with("\xEF\xBB\xBF")) line.remove_prefix(3);
  return line;
}

// YAML 1.2 §9.2 lets a document follow another only after a "---" marker or
// a "..." end marker. yaml-cpp 0.7 instead starts a new document wherever the
// previous one stopped, which silently splits garbage such as "[1]\n[2]" or
// "- a\nb: c" into documents, and on input like ",\n" reports an empty
// document at the same place forever (fixed upstream in jbeder/yaml-cpp#1319).
// Lines are compared rather than byte offsets, which yaml-cpp shifts after a
// byte order mark. `prev` is where the previous document started.
void CheckDocumentStart(std::string_view text, const YAML::Mark& mark, const YAML::Mark& prev) {
  const bool advanced = mark.line > prev.line || (mark.line == prev.line && mark.column > prev.column);
  if (advanced && NthLine(text, mark.line).starts_with("---")) return;
  for (int n = mark.line - 1; advanced && n > prev.line; --n) {
    std::string_view line = NthLine(text, n);
    std::size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos || line[first] == '#') continue;  // blank or comment
    if (!line.starts_with("...")) break;
    std::size_t rest = line.find_first_not_of(" \t\r", 3);
    if (rest == std::string_view::npos || line[rest] == '#') return;
    break;
  }
  throw YAML::ParserException(mark, "content after the end of a document; separate documents with '---'");
}

// Builds Json straight from yaml-cpp's parse events, in one pass. yaml-cpp's
// Node tree is not used: building it is superlinear in document size, which
// untrusted input must not be able to exploit. Aliases are expanded by copy,
// and their node counts charged against the limit before copying.
class YamlBuilder : public YAML::EventHandler {
 public:
  YamlBuilder(std::string_view text, const ParseLimits& limits) : text_(text), limits_(limits) {}

  // The finished document (null for an empty one); valid after OnDocumentEnd.
  Json TakeDocument() { return std::move(document_); }

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (document_start_) CheckDocumentStart(text_, mark, *document_start_);
    document_start_ = mark;
    stack_.clear();
    anchors_.clear();
    document_ = nullptr;
  }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    Complete(mark, Json(nullptr), anchor, 1, "null");
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (anchor >= anchors_.size() || !anchors_[anchor])
      throw LimitExceeded{"unknown alias (line " + Line(mark) + ")"};
    const Anchored& a = *anchors_[anchor];
    Charge(a.nodes);
    Complete(mark, a.value, YAML::NullAnchor, 0, a.value.is_string() ? a.value.get<std::string>() : "");
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    Charge(1);
    if (FindInvalidUtf8(value) != std::string_view::npos)
      throw LimitExceeded{"invalid UTF-8 (line " + Line(mark) + ")"};
    // Tag "!" marks a quoted (non-plain) scalar; "?" a plain one.
    Json v = (tag == "!" || tag == "tag:yaml.org,2002:str") ? Json(value) : ResolvePlainScalar(value);
    Complete(mark, std::move(v), anchor, 1, value);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Open(mark, Json::array(), anchor);
  }
  void OnSequenceEnd() override { Close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Open(mark, Json::object(), anchor);
  }
  void OnMapEnd() override { Close(); }

 private:
  struct Frame {
    Json value;
    YAML::anchor_t anchor;
    std::size_t nodes_at_open;
    bool has_key = false;
    std::string key;
  };
  struct Anchored {
    Json value;
    std::size_t nodes;
  };

  static std::string Line(const YAML::Mark& mark) { return std::to_string(mark.line + 1); }

  void Charge(std::size_t n) {
    nodes_ += n;
    if (nodes_ > limits_.max_nodes)
      throw LimitExceeded{"more than " + std::to_string(limits_.max_nodes) + " nodes"};
  }

  void Open(const YAML::Mark& mark, Json container, YAML::anchor_t anchor) {
    if (!stack_.empty() && stack_.back().value.is_object() && !stack_.back().has_key)
      throw LimitExceeded{"mapping keys must be scalars (line " + Line(mark) + ")"};
    if (static_cast<int>(stack_.size()) >= limits_.max_depth)
      throw LimitExceeded{"nesting deeper than " + std::to_string(limits_.max_depth) + " levels"};
    Charge(1);
    stack_.push_back(Frame{std::move(container), anchor, nodes_ - 1, false, {}});
  }

  void Close() {
    Frame frame = std::move(stack_.back());
    stack_.pop_back();
    Complete(last_mark_, std::move(frame.value), frame.anchor, nodes_ - frame.nodes_at_open, "");
  }

  // Places a finished value into its parent (or makes it the document).
  // `text` is the scalar's text, used when the value is a mapping key.
  void Complete(const YAML::Mark& mark, Json value, YAML::anchor_t anchor, std::size_t nodes,
                const std::string& text) {
    last_mark_ = mark;
    if (anchor != YAML::NullAnchor) {
      if (anchors_.size() <= anchor) anchors_.resize(anchor + 1);
      anchors_[anchor] = Anchored{value, nodes};
    }
    if (stack_.empty()) {
      document_ = std::move(value);
      return;
    }
    Frame& parent = stack_.back();
    if (parent.value.is_array()) {
      parent.value.push_back(std::move(value));
    } else if (!parent.has_key) {
      if (value.is_object() || value.is_array())
        throw LimitExceeded{"mapping keys must be scalars (line " + Line(mark) + ")"};
      parent.key = value.is_string() ? value.get<std::string>() : (text.empty() ? value.dump() : text);
      if (parent.value.contains(parent.key))
        throw LimitExceeded{"duplicate key '" + parent.key + "' (line " + Line(mark) + ")"};
      parent.has_key = true;
    } else {
      parent.value[parent.key] = std::move(value);
      parent.has_key = false;
    }
  }

  const std::string_view text_;
  const ParseLimits& limits_;
  std::optional<YAML::Mark> document_start_;  // of the previous document
  std::size_t nodes_ = 0;
  std::vector<Frame> stack_;
  std::vector<std::optional<Anchored>> anchors_;
  Json document_;
  YAML::Mark last_mark_;
};

// A plain scalar that would read back as something else, or as a document
// marker, must be quoted.
bool NeedsQuotes(const std::string& s) {
  return s.empty() || !ResolvePlainScalar(s).is_string() || s.starts_with("---") || s.starts_with("...");
}

// A literal block ("|") reads back unchanged only with clip chomping (one
// final line break), no carriage returns (YAML folds them into line breaks),
// and a first line that does not start with blanks (which would need an
// indentation indicator). Other multi-line strings are double-quoted.
bool FitsLiteralBlock(const std::string& s) {
  return s.size() >= 2 && s.back() == '\n' && s[s.size() - 2] != '\n' && s.front() != ' ' &&
         s.front() != '\t' && s.front() != '\n' && s.find('\r') == std::string::npos;
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
      if (s.find('\n') != std::string::npos && FitsLiteralBlock(s)) {
        out << YAML::Literal;
      } else if (NeedsQuotes(s) || s.find_first_of("\n\r") != std::string::npos) {
        out << YAML::DoubleQuoted;
      }
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
    std::istringstream in{std::string(text)};
    YAML::Parser parser(in);
    YamlBuilder builder(text, limits);
    while (parser.HandleNextDocument(builder)) {
      Json doc = builder.TakeDocument();
      if (!doc.is_null()) docs.push_back(std::move(doc));
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
