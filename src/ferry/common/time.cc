#include "ferry/common/time.h"

#include <cstdio>
#include <ctime>

namespace ferry {
namespace {

std::tm ToUtc(std::int64_t unix_micros) {
  std::time_t secs = static_cast<std::time_t>(unix_micros / 1'000'000);
  if (unix_micros < 0 && unix_micros % 1'000'000 != 0) --secs;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return tm;
}

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
  int y, mo, d, h, mi, s, consumed = 0;
  std::string str(text);
  if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &consumed) != 6 ||
      consumed != 19)
    return InvalidArgument("invalid RFC 3339 timestamp '" + str + "'");
  std::size_t i = 19;
  std::int64_t micros = 0;
  if (i < str.size() && str[i] == '.') {
    ++i;
    int digits = 0;
    while (i < str.size() && str[i] >= '0' && str[i] <= '9') {
      if (digits < 6) micros = micros * 10 + (str[i] - '0');
      ++digits;
      ++i;
    }
    if (digits == 0) return InvalidArgument("invalid RFC 3339 timestamp '" + str + "'");
    for (; digits < 6; ++digits) micros *= 10;
  }
  int offset_minutes = 0;
  if (i < str.size() && (str[i] == 'Z' || str[i] == 'z')) {
    ++i;
  } else if (i < str.size() && (str[i] == '+' || str[i] == '-')) {
    int oh, om;
    if (std::sscanf(str.c_str() + i + 1, "%2d:%2d", &oh, &om) != 2 || str.size() != i + 6)
      return InvalidArgument("invalid RFC 3339 offset in '" + str + "'");
    offset_minutes = (oh * 60 + om) * (str[i] == '+' ? 1 : -1);
    i += 6;
  } else {
    return InvalidArgument("RFC 3339 timestamp '" + str + "' lacks a time zone");
  }
  if (i != str.size() || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
    return InvalidArgument("invalid RFC 3339 timestamp '" + str + "'");
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  std::int64_t secs = timegm(&tm) - offset_minutes * 60;
  return secs * 1'000'000 + micros;
}

}  // namespace ferry
