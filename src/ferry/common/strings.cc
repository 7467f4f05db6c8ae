#include "ferry/common/strings.h"

#include <cstdio>

namespace ferry {
namespace {

std::string Escape(std::string_view text, std::size_t max_bytes, bool escape_quotes) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size() && i < max_bytes) {
    char32_t cp = 0;
    std::size_t len = DecodeUtf8(text, i, &cp);
    if (len == 0 || IsControlCodePoint(cp)) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned char>(text[i]));
      out += buf;
      len = len == 0 ? 1 : len;
    } else if (escape_quotes && (cp == '\'' || cp == '\\')) {
      out += '\\';
      out += static_cast<char>(cp);
    } else {
      out.append(text.substr(i, len));
    }
    i += len;
  }
  if (i < text.size()) out += "...";
  return out;
}

}  // namespace

void AppendUtf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::size_t DecodeUtf8(std::string_view text, std::size_t i, char32_t* cp) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) {
    if (cp) *cp = b0;
    return 1;
  }
  // Ranges of the second byte per RFC 3629 §4 exclude overlong forms,
  // surrogates and code points above U+10FFFF.
  std::size_t len;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + len > text.size() || byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  char32_t value = b0 & (0xFF >> (len + 1));
  for (std::size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    value = (value << 6) | (byte(i + k) & 0x3F);
  }
  if (cp) *cp = value;
  return len;
}

std::size_t FindInvalidUtf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {  // ASCII, the common case: no decoding
      ++i;
      continue;
    }
    std::size_t len = DecodeUtf8(text, i);
    if (len == 0) return i;
    i += len;
  }
  return std::string_view::npos;
}

bool IsStorableText(std::string_view text) {
  return text.find('\0') == std::string_view::npos && FindInvalidUtf8(text) == std::string_view::npos;
}

bool IsControlCodePoint(char32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

std::string QuoteForMessage(std::string_view text, std::size_t max_bytes) {
  return "'" + Escape(text, max_bytes, true) + "'";
}

std::string SanitizeForMessage(std::string_view text, std::size_t max_bytes) {
  return Escape(text, max_bytes, false);
}

}  // namespace ferry
