#include "ferry/common/json.h"

#include <yaml.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <limits>
#include <map>
#include <optional>
#include <utility>

#include "ferry/common/strings.h"

namespace ferry {
namespace {

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
Json ResolvePlainScalar(std::string s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  const char first = s[0];
  if (!IsDec(first) && first != '-' && first != '+' && first != '.') return Json(std::move(s));
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
      if (errno == ERANGE && std::isinf(d)) return Json(std::move(s));  // too large: keep the text
      return d;
    }
  } catch (const std::out_of_range&) {
    return Json(std::move(s));  // too large for a number: keep the text
  }
  if (s == ".inf" || s == ".Inf" || s == ".INF" || s == "+.inf" || s == "+.Inf" || s == "+.INF")
    return std::numeric_limits<double>::infinity();
  if (s == "-.inf" || s == "-.Inf" || s == "-.INF") return -std::numeric_limits<double>::infinity();
  if (s == ".nan" || s == ".NaN" || s == ".NAN") return std::numeric_limits<double>::quiet_NaN();
  return Json(std::move(s));
}

// ---- YAML input (libyaml) ----

constexpr std::string_view kStandardTagPrefix = "tag:yaml.org,2002:";
constexpr std::string_view kStrTag = "tag:yaml.org,2002:str";
// The non-specific tag "!": a scalar so tagged is a string (YAML 1.2 §6.9.1).
constexpr std::string_view kNonSpecificTag = "!";

std::string_view View(const yaml_char_t* s) {
  return s ? std::string_view(reinterpret_cast<const char*>(s)) : std::string_view();
}

std::string LineOf(const yaml_mark_t& mark) { return std::to_string(mark.line + 1); }

std::string PositionOf(const yaml_mark_t& mark) {
  return "line " + LineOf(mark) + ", column " + std::to_string(mark.column + 1);
}

// Length of the line break at text[i] as libyaml counts them (it reads YAML
// 1.1, where NEL, LS and PS break lines too), 0 if there is none.
std::size_t LineBreakAt(std::string_view text, std::size_t i) {
  const std::string_view rest = text.substr(i);
  if (rest.starts_with("\r\n")) return 2;
  if (rest.starts_with('\n') || rest.starts_with('\r')) return 1;
  if (rest.starts_with("\xC2\x85")) return 2;
  if (rest.starts_with("\xE2\x80\xA8") || rest.starts_with("\xE2\x80\xA9")) return 3;
  return 0;
}

// "---" or "..." followed by a blank, a line break or the end.
bool IsDocumentMarker(std::string_view line) {
  return (line.starts_with("---") || line.starts_with("...")) &&
         (line.size() == 3 || line[3] == ' ' || line[3] == '\t' || LineBreakAt(line, 3) > 0);
}

bool AtLineStart(std::string_view text, std::size_t pos) {
  if (pos == 0) return true;
  const std::string_view before = text.substr(0, pos);
  return before.ends_with('\n') || before.ends_with('\r') || before.ends_with("\xC2\x85") ||
         before.ends_with("\xE2\x80\xA8") || before.ends_with("\xE2\x80\xA9");
}

// Whether a bare document (one without "---") follows the "..." marker that
// ends at text[pos]: the rest of the marker's line is blank or a comment,
// and the first line after it that is not is neither a marker nor a
// directive.
bool BareDocumentFollows(std::string_view text, std::size_t pos) {
  bool marker_line = true;
  for (std::size_t i = pos;;) {
    const std::size_t line_start = i;
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    if (i < text.size() && text[i] == '#')
      while (i < text.size() && LineBreakAt(text, i) == 0) ++i;
    if (i == text.size()) return false;
    if (std::size_t n = LineBreakAt(text, i); n > 0) {
      i += n;
      marker_line = false;
      continue;
    }
    if (marker_line) return false;  // content after "..." on its line: libyaml reports it
    return i > line_start || (text[i] != '%' && !IsDocumentMarker(text.substr(i)));
  }
}

// YAML 1.2 §9.2 lets a bare document follow a "..." document end marker;
// libyaml, which reads YAML 1.1, wants "---" there. Returns `text` with each
// such "..." turned into "---", which ends the document before it just the
// same and keeps every line and column where it was; nullopt if there is
// none. A "..." line is a marker wherever it stands: in a scalar or a flow
// collection it is an error either way.
std::optional<std::string> MarkBareDocuments(std::string_view text) {
  std::optional<std::string> marked;
  for (std::size_t pos = text.find("..."); pos != std::string_view::npos; pos = text.find("...", pos + 3)) {
    if (!AtLineStart(text, pos) || !IsDocumentMarker(text.substr(pos)) || !BareDocumentFollows(text, pos + 3))
      continue;
    if (!marked) marked.emplace(text);
    marked->replace(pos, 3, "---");
  }
  return marked;
}

// A libyaml error as "line L, column C: problem (context at line L', column C')".
Status LibyamlError(const yaml_parser_t& parser, std::string_view text) {
  if (parser.error == YAML_MEMORY_ERROR) return ResourceExhausted("out of memory while parsing YAML");
  std::string problem = parser.problem ? parser.problem : "unknown error";
  if (parser.error == YAML_READER_ERROR) {
    // Decoding errors carry a byte offset instead of a mark; the text before
    // it decoded cleanly, so columns count characters as marks do.
    const std::size_t end = std::min(parser.problem_offset, text.size());
    std::size_t line_start = 0;
    if (end > 0) {
      const std::size_t newline = text.rfind('\n', end - 1);
      if (newline != std::string_view::npos) line_start = newline + 1;
    }
    yaml_mark_t mark{};
    mark.line = static_cast<std::size_t>(std::count(text.begin(), text.begin() + end, '\n'));
    for (std::size_t i = line_start; i < end; i += std::max<std::size_t>(DecodeUtf8(text, i), 1))
      ++mark.column;
    if (parser.problem_value != -1) {
      char value[16];
      std::snprintf(value, sizeof value, " (0x%02X)", static_cast<unsigned>(parser.problem_value));
      problem += value;
    }
    return ParseError("YAML", PositionOf(mark) + ": " + problem);
  }
  // libyaml's words for content after the end of a document, e.g. "[1]\n[2]".
  if (problem == "did not find expected <document start>") problem += "; separate documents with '---'";
  std::string detail = PositionOf(parser.problem_mark) + ": " + problem;
  if (parser.context)
    detail += " (" + std::string(parser.context) + " at " + PositionOf(parser.context_mark) + ")";
  return ParseError("YAML", detail);
}

// Builds Json straight from libyaml's parse events, in one pass: no node
// tree is built first. It rejects what Json cannot hold (non-scalar and
// duplicate keys), tags other than !!str, and what untrusted input must not
// be able to do: nest deeper than the limit, or make more nodes than the
// limit through aliases. Aliases are expanded by copy; every node made,
// including the copy kept of each anchored node for later aliases, is
// charged against the node limit before it is made.
class YamlBuilder {
 public:
  explicit YamlBuilder(const ParseLimits& limits) : limits_(limits) {}

  // Starts a document: anchors name nodes of one document only.
  void StartDocument() {
    stack_.clear();
    anchors_.clear();
    document_ = nullptr;
  }

  // The finished document (null for an empty one).
  Json TakeDocument() { return std::move(document_); }

  // Adds a node event (scalar, alias, sequence or mapping start or end).
  Status Add(const yaml_event_t& event) {
    switch (event.type) {
      case YAML_SCALAR_EVENT:
        return AddScalar(event);
      case YAML_ALIAS_EVENT:
        return AddAlias(event);
      case YAML_SEQUENCE_START_EVENT:
        return Open(event, Json::array(), event.data.sequence_start.anchor, event.data.sequence_start.tag);
      case YAML_MAPPING_START_EVENT:
        return Open(event, Json::object(), event.data.mapping_start.anchor, event.data.mapping_start.tag);
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT:
        return Close(event);
      default:
        return Status::OK();
    }
  }

 private:
  struct Frame {
    Json value;
    std::string anchor;
    std::size_t nodes = 1;  // in `value` so far, itself and its keys included
    Json* slot = nullptr;   // in a mapping: the member whose key came last, awaiting its value
  };
  struct Anchored {
    Json value;
    std::size_t nodes;
    std::string text;  // a scalar's text, for use as a mapping key
  };

  Status Error(const std::string& what, const yaml_event_t& event) const {
    return ParseError("YAML", what + " (line " + LineOf(event.start_mark) + ")");
  }

  Status UnsupportedTag(std::string_view tag, const yaml_event_t& event) const {
    std::string shown = tag.starts_with(kStandardTagPrefix)
                            ? "!!" + std::string(tag.substr(kStandardTagPrefix.size()))
                            : std::string(tag);
    return InvalidArgument("unsupported YAML tag " + QuoteForMessage(shown) + " (line " +
                           LineOf(event.start_mark) + "): only !!str is accepted");
  }

  Status Charge(std::size_t n) {
    nodes_ += n;
    if (nodes_ > limits_.max_nodes)
      return ParseError("YAML", "more than " + std::to_string(limits_.max_nodes) + " nodes");
    return Status::OK();
  }

  bool ExpectingKey() const {
    return !stack_.empty() && stack_.back().value.is_object() && !stack_.back().slot;
  }

  Status AddScalar(const yaml_event_t& event) {
    const auto& scalar = event.data.scalar;
    RETURN_IF_ERROR(Charge(1));
    const std::string_view text(reinterpret_cast<const char*>(scalar.value), scalar.length);
    if (FindInvalidUtf8(text) != std::string_view::npos) return Error("invalid UTF-8", event);
    bool is_string = scalar.style != YAML_PLAIN_SCALAR_STYLE;  // quoted and block scalars
    if (scalar.tag) {
      const std::string_view tag = View(scalar.tag);
      if (tag != kStrTag && tag != kNonSpecificTag) return UnsupportedTag(tag, event);
      is_string = true;
    }
    Json value = is_string ? Json(std::string(text)) : ResolvePlainScalar(std::string(text));
    return Complete(event, std::move(value), View(scalar.anchor), 1, text);
  }

  Status AddAlias(const yaml_event_t& event) {
    const std::string_view name = View(event.data.alias.anchor);
    auto it = anchors_.find(name);
    if (it == anchors_.end())
      return Error("unknown alias " + QuoteForMessage("*" + std::string(name)), event);
    const Anchored& anchored = it->second;
    RETURN_IF_ERROR(Charge(anchored.nodes));
    return Complete(event, anchored.value, {}, anchored.nodes, anchored.text);
  }

  Status Open(const yaml_event_t& event, Json container, const yaml_char_t* anchor, const yaml_char_t* tag) {
    if (tag && View(tag) != kNonSpecificTag) return UnsupportedTag(View(tag), event);
    if (ExpectingKey()) return Error("mapping keys must be scalars", event);
    if (static_cast<int>(stack_.size()) >= limits_.max_depth)
      return ParseError("YAML", "nesting deeper than " + std::to_string(limits_.max_depth) + " levels");
    RETURN_IF_ERROR(Charge(1));
    stack_.push_back(Frame{std::move(container), std::string(View(anchor))});
    return Status::OK();
  }

  Status Close(const yaml_event_t& event) {
    Frame frame = std::move(stack_.back());
    stack_.pop_back();
    return Complete(event, std::move(frame.value), frame.anchor, frame.nodes, {});
  }

  // Places a finished node of `nodes` nodes into its parent, or makes it the
  // document. `text` is a scalar's text, which a key that is not a string
  // (e.g. 1.0) keeps.
  Status Complete(const yaml_event_t& event, Json value, std::string_view anchor, std::size_t nodes,
                  std::string_view text) {
    if (!anchor.empty()) {
      RETURN_IF_ERROR(Charge(nodes));
      anchors_.insert_or_assign(std::string(anchor), Anchored{value, nodes, std::string(text)});
    }
    if (stack_.empty()) {
      document_ = std::move(value);
      return Status::OK();
    }
    Frame& parent = stack_.back();
    parent.nodes += nodes;
    if (parent.value.is_array()) {
      parent.value.push_back(std::move(value));
    } else if (parent.slot) {
      *parent.slot = std::move(value);
      parent.slot = nullptr;
    } else {
      if (value.is_structured()) return Error("mapping keys must be scalars", event);  // an alias
      std::string key = value.is_string() ? std::move(value.get_ref<std::string&>())
                                          : (text.empty() ? value.dump() : std::string(text));
      // std::map members stay where they are as the mapping grows or moves.
      auto [member, inserted] = parent.value.get_ref<Json::object_t&>().try_emplace(std::move(key));
      if (!inserted) return Error("duplicate key " + QuoteForMessage(member->first), event);
      parent.slot = &member->second;
    }
    return Status::OK();
  }

  const ParseLimits& limits_;
  std::size_t nodes_ = 0;  // over the whole stream
  std::vector<Frame> stack_;
  std::map<std::string, Anchored, std::less<>> anchors_;
  Json document_;
};

// Owns a libyaml parser reading UTF-8 `text`, which must outlive it.
class LibyamlParser {
 public:
  explicit LibyamlParser(std::string_view text) : initialized_(yaml_parser_initialize(&parser_) != 0) {
    if (!initialized_) return;
    yaml_parser_set_input_string(&parser_, reinterpret_cast<const unsigned char*>(text.data()), text.size());
    yaml_parser_set_encoding(&parser_, YAML_UTF8_ENCODING);
  }
  ~LibyamlParser() {
    if (initialized_) yaml_parser_delete(&parser_);
  }
  LibyamlParser(const LibyamlParser&) = delete;
  LibyamlParser& operator=(const LibyamlParser&) = delete;

  bool initialized() const { return initialized_; }
  yaml_parser_t& get() { return parser_; }

 private:
  yaml_parser_t parser_;
  const bool initialized_;
};

// Owns one parsed event.
class LibyamlEvent {
 public:
  LibyamlEvent() = default;
  ~LibyamlEvent() { yaml_event_delete(&event_); }
  LibyamlEvent(const LibyamlEvent&) = delete;
  LibyamlEvent& operator=(const LibyamlEvent&) = delete;

  yaml_event_t& get() { return event_; }

 private:
  yaml_event_t event_{};
};

// ---- YAML output (libyaml) ----

// Owns a libyaml emitter that writes block-style YAML into a string.
class LibyamlEmitter {
 public:
  LibyamlEmitter() : initialized_(yaml_emitter_initialize(&emitter_) != 0), ok_(initialized_) {
    if (!initialized_) return;
    yaml_emitter_set_output(&emitter_, &Append, &out_);
    yaml_emitter_set_unicode(&emitter_, 1);
    yaml_emitter_set_indent(&emitter_, 2);
    yaml_emitter_set_width(&emitter_, -1);  // never fold long lines
    yaml_emitter_set_break(&emitter_, YAML_LN_BREAK);
  }
  ~LibyamlEmitter() {
    if (initialized_) yaml_emitter_delete(&emitter_);
  }
  LibyamlEmitter(const LibyamlEmitter&) = delete;
  LibyamlEmitter& operator=(const LibyamlEmitter&) = delete;

  // Emits `event` when `initialized` (what its yaml_*_initialize returned)
  // and nothing failed before; false from the first failure on.
  bool Emit(int initialized, yaml_event_t& event) {
    if (initialized && !ok_) yaml_event_delete(&event);
    // yaml_emitter_emit takes the event, whether it succeeds or not.
    ok_ = initialized && ok_ && yaml_emitter_emit(&emitter_, &event);
    return ok_;
  }

  const std::string& output() const { return out_; }

 private:
  static int Append(void* out, unsigned char* buffer, std::size_t size) {
    static_cast<std::string*>(out)->append(reinterpret_cast<const char*>(buffer), size);
    return 1;
  }

  yaml_emitter_t emitter_;
  const bool initialized_;
  bool ok_;
  std::string out_;
};

// Whether YAML 1.1 readers (PyYAML, the go-yaml v2 behind kubectl) would
// read plain `s` as something other than a string: yes/no/on/off and y/n
// booleans, the "=" and "<<" indicators, or what starts like a number and
// holds only hex digits and number or date punctuation ("1_000", "0b101",
// "12:30", "2024-01-01"), quoted even where no reader would need it.
bool Yaml11ReadsAsNonString(std::string_view s) {
  static constexpr std::string_view kSpecial[] = {"y",  "Y",  "yes", "Yes", "YES", "n",   "N",   "no", "No",
                                                  "NO", "on", "On",  "ON",  "off", "Off", "OFF", "=",  "<<"};
  if (std::find(std::begin(kSpecial), std::end(kSpecial), s) != std::end(kSpecial)) return true;
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  if (i < s.size() && s[i] == '.') ++i;
  if (i == s.size() || !IsDec(s[i])) return false;
  return s.find_first_not_of("0123456789abcdefABCDEF_:.+-xTZ ") == std::string_view::npos;
}

// A plain scalar that would read back as something else must be quoted:
// libyaml's emitter knows YAML's syntax, not how scalars resolve.
bool NeedsQuotes(const std::string& s) {
  return !ResolvePlainScalar(s).is_string() || Yaml11ReadsAsNonString(s);
}

// `s` with each byte that is not well-formed UTF-8 replaced by U+FFFD:
// libyaml writes only valid UTF-8, and ToYaml cannot fail.
std::string ValidUtf8(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    std::size_t len = DecodeUtf8(s, i);
    out += len ? s.substr(i, len) : std::string_view("\xEF\xBF\xBD");
    i += len ? len : 1;
  }
  return out;
}

bool EmitScalar(LibyamlEmitter& out, const std::string& text, yaml_scalar_style_t style) {
  if (text.size() > static_cast<std::size_t>(INT_MAX)) return false;
  if (FindInvalidUtf8(text) != std::string::npos) return EmitScalar(out, ValidUtf8(text), style);
  yaml_event_t event;
  auto* value = reinterpret_cast<yaml_char_t*>(const_cast<char*>(text.data()));
  return out.Emit(yaml_scalar_event_initialize(&event, nullptr, nullptr, value, static_cast<int>(text.size()),
                                               1, 1, style),
                  event);
}

// Strings with line breaks become literal blocks ("|"), which libyaml turns
// into double quotes in a key or where a block could not hold the string
// exactly: trailing spaces, or characters its emitter does not print as they
// are (control characters, tabs, carriage returns, those above U+FFFF).
bool EmitString(LibyamlEmitter& out, const std::string& s) {
  yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
  if (NeedsQuotes(s))
    style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
  else if (s.find('\n') != std::string::npos)
    style = YAML_LITERAL_SCALAR_STYLE;
  return EmitScalar(out, s, style);
}

bool Emit(LibyamlEmitter& out, const Json& v) {
  yaml_event_t event;
  switch (v.type()) {
    case Json::value_t::object: {
      if (!out.Emit(
              yaml_mapping_start_event_initialize(&event, nullptr, nullptr, 1, YAML_BLOCK_MAPPING_STYLE),
              event))
        return false;
      for (const auto& [key, item] : v.items())
        if (!EmitString(out, key) || !Emit(out, item)) return false;
      return out.Emit(yaml_mapping_end_event_initialize(&event), event);
    }
    case Json::value_t::array: {
      if (!out.Emit(
              yaml_sequence_start_event_initialize(&event, nullptr, nullptr, 1, YAML_BLOCK_SEQUENCE_STYLE),
              event))
        return false;
      for (const auto& item : v)
        if (!Emit(out, item)) return false;
      return out.Emit(yaml_sequence_end_event_initialize(&event), event);
    }
    case Json::value_t::string:
      return EmitString(out, v.get_ref<const std::string&>());
    case Json::value_t::boolean:
      return EmitScalar(out, v.get<bool>() ? "true" : "false", YAML_PLAIN_SCALAR_STYLE);
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return EmitScalar(out, v.dump(), YAML_PLAIN_SCALAR_STYLE);
    case Json::value_t::number_float: {
      const double d = v.get<double>();
      if (std::isnan(d)) return EmitScalar(out, ".nan", YAML_PLAIN_SCALAR_STYLE);
      if (std::isinf(d)) return EmitScalar(out, d > 0 ? ".inf" : "-.inf", YAML_PLAIN_SCALAR_STYLE);
      return EmitScalar(out, v.dump(), YAML_PLAIN_SCALAR_STYLE);  // shortest round-trip form, with '.' or 'e'
    }
    default:
      return EmitScalar(out, "null", YAML_PLAIN_SCALAR_STYLE);
  }
}

}  // namespace

namespace {

// nlohmann's DOM builder with the limits checked on the way: depth counts
// the containers enclosing a value, nodes the scalar values. Faster than
// Json::parse with a callback, which keeps a keep/discard stack and copies
// each value once more.
class LimitedDomBuilder : public nlohmann::detail::json_sax_dom_parser<Json> {
  using Base = nlohmann::detail::json_sax_dom_parser<Json>;

 public:
  LimitedDomBuilder(Json& root, const ParseLimits& limits) : Base(root, true), limits_(limits) {}

  bool null() { return Scalar() && Base::null(); }
  bool boolean(bool v) { return Scalar() && Base::boolean(v); }
  bool number_integer(Json::number_integer_t v) { return Scalar() && Base::number_integer(v); }
  bool number_unsigned(Json::number_unsigned_t v) { return Scalar() && Base::number_unsigned(v); }
  bool number_float(Json::number_float_t v, const Json::string_t& text) {
    return Scalar() && Base::number_float(v, text);
  }
  bool string(Json::string_t& v) { return Scalar() && Base::string(v); }
  bool binary(Json::binary_t& v) { return Scalar() && Base::binary(v); }
  bool start_object(std::size_t n) { return Enter() && Base::start_object(n); }
  bool end_object() {
    --depth_;
    return Base::end_object();
  }
  bool start_array(std::size_t n) { return Enter() && Base::start_array(n); }
  bool end_array() {
    --depth_;
    return Base::end_array();
  }

  // Set when a limit stopped the parse.
  const std::string& limit_error() const { return limit_error_; }

 private:
  bool TooDeep() {
    if (depth_ <= limits_.max_depth) return false;
    limit_error_ = "nesting deeper than " + std::to_string(limits_.max_depth) + " levels";
    return true;
  }
  bool Enter() {
    if (TooDeep()) return false;
    ++depth_;
    return true;
  }
  bool Scalar() {
    if (TooDeep()) return false;
    if (++nodes_ > limits_.max_nodes) {
      limit_error_ = "more than " + std::to_string(limits_.max_nodes) + " values";
      return false;
    }
    return true;
  }

  const ParseLimits& limits_;
  int depth_ = 0;
  std::size_t nodes_ = 0;
  std::string limit_error_;
};

}  // namespace

Result<Json> ParseJson(std::string_view text, const ParseLimits& limits) {
  try {
    Json root;
    LimitedDomBuilder builder(root, limits);
    if (!Json::sax_parse(text.begin(), text.end(), &builder)) {
      return ParseError("JSON", builder.limit_error().empty() ? "invalid document" : builder.limit_error());
    }
    return root;
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
  const std::optional<std::string> marked = MarkBareDocuments(text);
  const std::string_view input = marked ? std::string_view(*marked) : text;
  LibyamlParser parser(input);
  if (!parser.initialized()) return ResourceExhausted("out of memory while parsing YAML");
  YamlBuilder builder(limits);
  std::vector<Json> docs;
  for (;;) {
    LibyamlEvent event;
    if (!yaml_parser_parse(&parser.get(), &event.get())) return LibyamlError(parser.get(), input);
    switch (event.get().type) {
      case YAML_STREAM_END_EVENT:
        return docs;
      case YAML_DOCUMENT_START_EVENT:
        builder.StartDocument();
        break;
      case YAML_DOCUMENT_END_EVENT:
        if (Json doc = builder.TakeDocument(); !doc.is_null()) docs.push_back(std::move(doc));
        break;
      default:
        RETURN_IF_ERROR(builder.Add(event.get()));
    }
  }
}

Result<Json> ParseYaml(std::string_view text, const ParseLimits& limits) {
  ASSIGN_OR_RETURN(auto docs, ParseYamlDocuments(text, limits));
  if (docs.size() > 1)
    return InvalidArgument("expected one YAML document, got " + std::to_string(docs.size()));
  if (docs.empty()) return Json(nullptr);
  return std::move(docs.front());
}

std::string ToYaml(const Json& value) {
  LibyamlEmitter out;
  yaml_event_t event;
  const bool emitted =
      out.Emit(yaml_stream_start_event_initialize(&event, YAML_UTF8_ENCODING), event) &&
      out.Emit(yaml_document_start_event_initialize(&event, nullptr, nullptr, nullptr, 1), event) &&
      Emit(out, value) && out.Emit(yaml_document_end_event_initialize(&event, 1), event) &&
      out.Emit(yaml_stream_end_event_initialize(&event), event);
  // With valid UTF-8 and well-formed events, libyaml fails only to allocate
  // or on a string longer than its int lengths; JSON is YAML too.
  if (!emitted) return value.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
  return out.output();
}

std::string_view JsonTypeName(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::object:
      return "object";
    case Json::value_t::array:
      return "array";
    case Json::value_t::string:
      return "string";
    case Json::value_t::boolean:
      return "boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "integer";
    case Json::value_t::number_float:
      return "number";
    default:
      return "value";
  }
}

Json JsonDouble(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  return value;
}

}  // namespace ferry
