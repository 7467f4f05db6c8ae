#pragma once
// UTF-8 checks and quoting of untrusted text for error messages. Messages end
// up in JSON error bodies and logs, so whatever they quote must come out as
// one line of valid UTF-8 of bounded length, whatever bytes came in.
//
// Thread-safety: pure functions.

#include <cstddef>
#include <string>
#include <string_view>

namespace ferry {

// Length (1-4) of the well-formed UTF-8 sequence (RFC 3629: no overlong
// forms, surrogates or code points above U+10FFFF) at text[i], storing its
// code point in *cp when cp is not null; 0 if the bytes there are not one.
std::size_t DecodeUtf8(std::string_view text, std::size_t i, char32_t* cp = nullptr);

// Appends the UTF-8 encoding of cp (at most U+10FFFF).
void AppendUtf8(std::string& out, char32_t cp);

// Value 0-15 of the hex digit c, or -1.
int HexDigit(char c);

// Offset of the first byte that is not well-formed UTF-8, or npos.
std::size_t FindInvalidUtf8(std::string_view text);

// Valid UTF-8 with no NUL byte: text both store backends can hold
// (PostgreSQL's text type refuses NUL).
bool IsStorableText(std::string_view text);

// C0 and C1 control characters and DEL.
bool IsControlCodePoint(char32_t cp);

// `text` in single quotes for an error message: control characters and
// invalid bytes as \xNN, quotes and backslashes escaped, cut at a character
// boundary after `max_bytes` with "...".
std::string QuoteForMessage(std::string_view text, std::size_t max_bytes = 120);

// Like QuoteForMessage without the quotes and quote escaping, for messages
// (e.g. a parser's) that already quote what they cite.
std::string SanitizeForMessage(std::string_view text, std::size_t max_bytes = 400);

}  // namespace ferry
