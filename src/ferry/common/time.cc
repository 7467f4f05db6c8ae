#include "ferry/common/time.h"

#include <cstdio>
#include <ctime>

#include "ferry/common/strings.h"

namespace ferry {
namespace {

std::tm ToUtc(std::int64_t unix_micros) {
  std::time_t secs = static_cast<std::time_t>(unix_micros / 1'000'000);
  if (unix_micros < 0 && unix_micros % 1'000'000 != 0) --secs;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return tm;
}

// A cursor over an RFC 3339 string that accepts only what the grammar allows
// (sscanf would also take signs and spaces where digits belong).
struct RfcReader {
  std::string_view text;
  std::size_t pos = 0;

  bool Digits(int n, int* out) {
    if (pos + n > text.size()) return false;
    int value = 0;
    for (int k = 0; k < n; ++k) {
      char c = text[pos + k];
      if (c < '0' || c > '9') return false;
      value = value * 10 + (c - '0');
    }
    pos += n;
    *out = value;
    return true;
  }
  bool Peek(char c) const { return pos < text.size() && text[pos] == c; }
  bool Char(char c) {
    if (!Peek(c)) return false;
    ++pos;
    return true;
  }
  bool AtEnd() const { return pos == text.size(); }
};

bool IsLeapYear(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeapYear(y) ? 29 : kDays[m - 1];
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
// days_from_civil), independent of the C library's time_t range.
std::int64_t DaysFromCivil(std::int64_t y, int m, int d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const std::int64_t yoe = y - era * 400;
  const std::int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146'097 + doe - 719'468;
}

std::string QuoteTimestamp(std::string_view text) { return QuoteForMessage(text, 64); }

}  // namespace

std::string FormatRfc3339(std::int64_t unix_micros) {
  std::tm tm = ToUtc(unix_micros);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string FormatRfc3339Micros(std::int64_t unix_micros) {
  std::tm tm = ToUtc(unix_micros);
  char buf[40];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  long frac = static_cast<long>(((unix_micros % 1'000'000) + 1'000'000) % 1'000'000);
  std::snprintf(buf + n, sizeof buf - n, ".%06ldZ", frac);
  return buf;
}

Result<std::int64_t> ParseRfc3339(std::string_view text) {
  RfcReader in{text};
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (!(in.Digits(4, &y) && in.Char('-') && in.Digits(2, &mo) && in.Char('-') && in.Digits(2, &d) &&
        (in.Char('T') || in.Char('t')) && in.Digits(2, &h) && in.Char(':') && in.Digits(2, &mi) &&
        in.Char(':') && in.Digits(2, &s)))
    return InvalidArgument("invalid RFC 3339 timestamp " + QuoteTimestamp(text) +
                           "; expected e.g. 2006-01-02T15:04:05Z");
  std::int64_t micros = 0;
  if (in.Char('.')) {
    int digits = 0;
    for (int digit = 0; in.Digits(1, &digit); ++digits) {
      if (digits < 6) micros = micros * 10 + digit;  // finer than microseconds is dropped
    }
    if (digits == 0) return InvalidArgument("invalid RFC 3339 timestamp " + QuoteTimestamp(text));
    for (; digits < 6; ++digits) micros *= 10;
  }
  int offset_minutes = 0;
  if (!in.Char('Z') && !in.Char('z')) {
    if (!in.Peek('+') && !in.Peek('-'))
      return InvalidArgument("RFC 3339 timestamp " + QuoteTimestamp(text) + " lacks a time zone");
    const int sign = in.Peek('-') ? -1 : 1;
    ++in.pos;
    int oh = 0, om = 0;
    if (!(in.Digits(2, &oh) && in.Char(':') && in.Digits(2, &om)) || oh > 23 || om > 59)
      return InvalidArgument("invalid RFC 3339 offset in " + QuoteTimestamp(text));
    offset_minutes = sign * (oh * 60 + om);
  }
  // Second 60 is a leap second, which Unix time folds into the next one.
  if (!in.AtEnd() || mo < 1 || mo > 12 || d < 1 || d > DaysInMonth(y, mo) || h > 23 || mi > 59 || s > 60)
    return InvalidArgument("invalid RFC 3339 timestamp " + QuoteTimestamp(text));
  std::int64_t secs = DaysFromCivil(y, mo, d) * 86'400 + h * 3'600 + mi * 60 + s - offset_minutes * 60;
  return secs * 1'000'000 + micros;
}

}  // namespace ferry
