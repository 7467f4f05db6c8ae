#pragma once
// Private to pipelines/: how the KFP v2 backend (Go: strconv, protojson,
// encoding/json) writes parameter values as text, and reads them back.
// Placeholder resolution, executor input/output and the CEL evaluator share
// these so a value reads the same whichever path it took.
//
// Thread-safety: pure functions.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>

#include "ferry/common/json.h"
#include "ferry/common/status.h"
#include "ferry/common/strings.h"
#include "ferry/pipelines/pipeline_spec.h"

namespace ferry::pipelines::internal {

// The shortest decimal digits that round-trip `v` (finite, non-zero or zero)
// and the position of the decimal point: value = 0.DIGITS x 10^point.
struct ShortestDigits {
  std::string digits;
  int point = 0;
  bool negative = false;
};

inline ShortestDigits Shortest(double v) {
  ShortestDigits out;
  out.negative = std::signbit(v);
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), std::fabs(v), std::chars_format::scientific);
  std::string_view s(buf, static_cast<std::size_t>(res.ptr - buf));  // d[.ddd]e[+-]XX
  std::size_t e = s.find('e');
  for (std::size_t i = 0; i < e; ++i) {
    if (s[i] != '.') out.digits.push_back(s[i]);
  }
  int exp10 = std::atoi(std::string(s.substr(e + 1)).c_str());
  while (out.digits.size() > 1 && out.digits.back() == '0') out.digits.pop_back();
  out.point = exp10 + 1;
  if (out.digits == "0") out.point = 1;
  return out;
}

// Go's strconv.FormatFloat(v, 'f', -1, 64).
inline std::string FormatFloatF(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  ShortestDigits d = Shortest(v);
  std::string out = d.negative ? "-" : "";
  int nd = static_cast<int>(d.digits.size());
  if (d.point <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-d.point), '0');
    out += d.digits;
  } else if (d.point >= nd) {
    out += d.digits;
    out.append(static_cast<std::size_t>(d.point - nd), '0');
  } else {
    out += d.digits.substr(0, static_cast<std::size_t>(d.point));
    out += '.';
    out += d.digits.substr(static_cast<std::size_t>(d.point));
  }
  return out;
}

// Go's strconv.FormatFloat(v, 'e', -1, 64): d[.ddd]e±XX.
inline std::string FormatFloatE(double v) {
  ShortestDigits d = Shortest(v);
  std::string out = d.negative ? "-" : "";
  out += d.digits[0];
  if (d.digits.size() > 1) {
    out += '.';
    out += d.digits.substr(1);
  }
  int exp10 = d.digits == "0" ? 0 : d.point - 1;
  out += exp10 < 0 ? "e-" : "e+";
  std::string e = std::to_string(exp10 < 0 ? -exp10 : exp10);
  if (e.size() < 2) e.insert(0, "0");
  return out + e;
}

// Go's strconv.FormatFloat(v, 'g', -1, 64), which CEL's string(double) uses.
inline std::string FormatFloatG(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  ShortestDigits d = Shortest(v);
  int exp10 = d.digits == "0" ? 0 : d.point - 1;
  if (exp10 < -4 || exp10 >= 6) return FormatFloatE(v);
  return FormatFloatF(v);
}

// A double as protojson writes it (ECMAScript style: exponent form below
// 1e-6 and from 1e21 on).
inline std::string FormatJsonDouble(double v) {
  if (std::isnan(v)) return "\"NaN\"";
  if (std::isinf(v)) return v > 0 ? "\"Infinity\"" : "\"-Infinity\"";
  double a = std::fabs(v);
  if (a != 0 && (a < 1e-6 || a >= 1e21)) {
    std::string s = FormatFloatE(v);
    std::size_t n = s.size();
    if (n >= 4 && s[n - 4] == 'e' && s[n - 3] == '-' && s[n - 2] == '0') s.erase(n - 2, 1);
    return s;
  }
  return FormatFloatF(v);
}

inline void AppendJsonString(std::string& out, std::string_view s, bool escape_html) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (std::size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\f':
        out += "\\f";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      default:
        break;
    }
    if (c < 0x20 || (escape_html && (c == '<' || c == '>' || c == '&'))) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
      continue;
    }
    // encoding/json's compaction always escapes U+2028 and U+2029.
    if (escape_html && c == 0xE2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
        (static_cast<unsigned char>(s[i + 2]) == 0xA8 || static_cast<unsigned char>(s[i + 2]) == 0xA9)) {
      out += static_cast<unsigned char>(s[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";
      i += 2;
      continue;
    }
    out += static_cast<char>(c);
  }
  out += '"';
}

// Compact JSON as the Go backend writes it: protojson's numbers (1.0 is
// "1"), keys in sorted order; `escape_html` adds encoding/json's escaping of
// < > & U+2028 U+2029, which list and struct placeholders go through.
inline void AppendGoJson(std::string& out, const Json& v, bool escape_html) {
  switch (v.type()) {
    case Json::value_t::null:
      out += "null";
      return;
    case Json::value_t::boolean:
      out += v.get<bool>() ? "true" : "false";
      return;
    case Json::value_t::number_integer:
      out += std::to_string(v.get<std::int64_t>());
      return;
    case Json::value_t::number_unsigned:
      out += std::to_string(v.get<std::uint64_t>());
      return;
    case Json::value_t::number_float:
      out += FormatJsonDouble(v.get<double>());
      return;
    case Json::value_t::string:
      AppendJsonString(out, v.get_ref<const std::string&>(), escape_html);
      return;
    case Json::value_t::array: {
      out += '[';
      bool first = true;
      for (const Json& e : v) {
        if (!first) out += ',';
        first = false;
        AppendGoJson(out, e, escape_html);
      }
      out += ']';
      return;
    }
    case Json::value_t::object: {
      out += '{';
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (!first) out += ',';
        first = false;
        AppendJsonString(out, it.key(), escape_html);
        out += ':';
        AppendGoJson(out, it.value(), escape_html);
      }
      out += '}';
      return;
    }
    default:
      out += "null";
      return;  // binary/discarded never come from parsed JSON
  }
}

inline std::string GoJson(const Json& v, bool escape_html) {
  std::string out;
  AppendGoJson(out, v, escape_html);
  return out;
}

// metadata.PbValueToText: a parameter value as it appears in a placeholder
// or in CEL's string_value. Strings raw; numbers as strconv 'f' (5.0 is
// "5"); bools true/false; lists and structs as JSON; null as "".
inline std::string ParameterText(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return "";
    case Json::value_t::string:
      return v.get<std::string>();
    case Json::value_t::boolean:
      return v.get<bool>() ? "true" : "false";
    // Integers print exactly (Go goes through a double, which differs only
    // beyond 2^53).
    case Json::value_t::number_integer:
      return std::to_string(v.get<std::int64_t>());
    case Json::value_t::number_unsigned:
      return std::to_string(v.get<std::uint64_t>());
    case Json::value_t::number_float:
      return FormatFloatF(v.get<double>());
    default:
      return GoJson(v, /*escape_html=*/true);
  }
}

inline std::string_view TrimSpace(std::string_view s) {
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
  };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// strconv.ParseInt(s, 10, 64): optional sign, decimal digits, int64 range.
inline bool ParseGoInt(std::string_view s, std::int64_t* out) {
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return false;
  std::uint64_t mag = 0;
  auto res = std::from_chars(s.data(), s.data() + s.size(), mag);
  if (res.ec != std::errc() || res.ptr != s.data() + s.size()) return false;
  constexpr std::uint64_t kMaxPos = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (neg) {
    if (mag > kMaxPos + 1) return false;
    *out = mag == kMaxPos + 1 ? std::numeric_limits<std::int64_t>::min() : -static_cast<std::int64_t>(mag);
  } else {
    if (mag > kMaxPos) return false;
    *out = static_cast<std::int64_t>(mag);
  }
  return true;
}

// strconv.ParseFloat(s, 64) for finite values (Ferry refuses NaN and ±Inf:
// JSON cannot carry them).
inline bool ParseGoFloat(std::string_view s, double* out) {
  if (!s.empty() && s[0] == '+') {
    s.remove_prefix(1);
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) return false;
  }
  if (s.empty()) return false;
  const char* begin = s.data();
  std::string_view body = s[0] == '-' ? s.substr(1) : s;
  if (body.size() >= 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X')) {
    // Go accepts hexadecimal floats; so does strtod.
    std::string copy(s);
    char* end = nullptr;
    double v = std::strtod(copy.c_str(), &end);
    if (end != copy.c_str() + copy.size() || !std::isfinite(v)) return false;
    *out = v;
    return true;
  }
  double v = 0;
  auto res = std::from_chars(begin, s.data() + s.size(), v);
  if (res.ec != std::errc() || res.ptr != s.data() + s.size() || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

// metadata.TextToPbValue: the content of an output parameter file, parsed
// per the declared type. STRING is taken verbatim; numbers and bools are
// trimmed first; LIST and STRUCT must be JSON of that kind.
inline Result<Json> TextToParameterValue(std::string_view text, ParameterType type, std::string_view what) {
  auto bad = [&](std::string_view expected) {
    return InvalidArgument(std::string(what) + ": " + QuoteForMessage(text) + " is not " +
                           std::string(expected));
  };
  switch (type) {
    case ParameterType::kString:
      return Json(std::string(text));
    case ParameterType::kNumberInteger: {
      std::int64_t v = 0;
      if (!ParseGoInt(TrimSpace(text), &v)) return bad("an integer (NUMBER_INTEGER)");
      return Json(v);
    }
    case ParameterType::kNumberDouble: {
      double v = 0;
      if (!ParseGoFloat(TrimSpace(text), &v)) return bad("a finite number (NUMBER_DOUBLE)");
      return Json(v);
    }
    case ParameterType::kBoolean: {
      std::string_view t = TrimSpace(text);
      if (t == "1" || t == "t" || t == "T" || t == "TRUE" || t == "true" || t == "True") return Json(true);
      if (t == "0" || t == "f" || t == "F" || t == "FALSE" || t == "false" || t == "False")
        return Json(false);
      return bad("a boolean (BOOLEAN)");
    }
    case ParameterType::kList:
    case ParameterType::kStruct:
    case ParameterType::kTaskFinalStatus: {
      bool list = type == ParameterType::kList;
      Result<Json> parsed = ParseJson(text);
      if (!parsed.ok() || (list ? !parsed->is_array() : !parsed->is_object())) {
        return bad(list ? "a JSON list (LIST)" : "a JSON object (STRUCT)");
      }
      return std::move(parsed).value();
    }
  }
  return bad("of a known type");
}

}  // namespace ferry::pipelines::internal
