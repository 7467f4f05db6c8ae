#include "ferry/common/time.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace ferry {
namespace {

constexpr std::int64_t kSecond = 1'000'000;

TEST(FormatRfc3339Test, FormatsUtcSeconds) {
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(1'700'000'000 * kSecond), "2023-11-14T22:13:20Z");
  EXPECT_EQ(FormatRfc3339(1'700'000'000 * kSecond + 999'999), "2023-11-14T22:13:20Z");  // truncates
  EXPECT_EQ(FormatRfc3339(951'782'400 * kSecond), "2000-02-29T00:00:00Z");              // leap day
  EXPECT_EQ(FormatRfc3339(-1), "1969-12-31T23:59:59Z");
}

TEST(FormatRfc3339Test, FormatsMicroseconds) {
  EXPECT_EQ(FormatRfc3339Micros(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(FormatRfc3339Micros(1'700'000'000 * kSecond + 123'456), "2023-11-14T22:13:20.123456Z");
  EXPECT_EQ(FormatRfc3339Micros(1), "1970-01-01T00:00:00.000001Z");
  EXPECT_EQ(FormatRfc3339Micros(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(FormatRfc3339Micros(-kSecond), "1969-12-31T23:59:59.000000Z");
}

TEST(ParseRfc3339Test, RoundTripsFormattedValues) {
  for (std::int64_t micros :
       {std::int64_t{0}, std::int64_t{1}, std::int64_t{-1}, 1'700'000'000 * kSecond + 123'456,
        951'782'400 * kSecond, 4'102'444'799 * kSecond + 999'999, -86'400 * kSecond - 5}) {
    SCOPED_TRACE(micros);
    EXPECT_EQ(ParseRfc3339(FormatRfc3339Micros(micros)).ValueOr(42), micros);
    std::int64_t floored = micros - (((micros % kSecond) + kSecond) % kSecond);
    EXPECT_EQ(ParseRfc3339(FormatRfc3339(micros)).ValueOr(42), floored);
  }
}

TEST(ParseRfc3339Test, AppliesOffsets) {
  const std::int64_t base = 1'700'000'000 * kSecond;  // 2023-11-14T22:13:20Z
  EXPECT_EQ(ParseRfc3339("2023-11-14T22:13:20+00:00").ValueOr(0), base);
  EXPECT_EQ(ParseRfc3339("2023-11-14T22:13:20-00:00").ValueOr(0), base);
  EXPECT_EQ(ParseRfc3339("2023-11-15T03:43:20+05:30").ValueOr(0), base);
  EXPECT_EQ(ParseRfc3339("2023-11-14T14:13:20-08:00").ValueOr(0), base);
  EXPECT_EQ(ParseRfc3339("2023-11-14T22:13:20z").ValueOr(0), base);
  EXPECT_EQ(ParseRfc3339("2023-11-14t22:13:20Z").ValueOr(0), base);  // RFC 3339 §5.6 allows lower case
}

TEST(ParseRfc3339Test, ReadsFractions) {
  const std::int64_t base = 1'700'000'000 * kSecond;
  EXPECT_EQ(ParseRfc3339("2023-11-14T22:13:20.1Z").ValueOr(0), base + 100'000);
  EXPECT_EQ(ParseRfc3339("2023-11-14T22:13:20.000001Z").ValueOr(0), base + 1);
  EXPECT_EQ(ParseRfc3339("2023-11-14T22:13:20.123456789Z").ValueOr(0), base + 123'456);  // truncated
  EXPECT_EQ(ParseRfc3339("2023-11-14T23:13:20.5+01:00").ValueOr(0), base + 500'000);
}

TEST(ParseRfc3339Test, ReadsLeapYearsAndBoundaries) {
  EXPECT_TRUE(ParseRfc3339("2024-02-29T00:00:00Z").ok());
  EXPECT_TRUE(ParseRfc3339("2000-02-29T00:00:00Z").ok());
  EXPECT_TRUE(ParseRfc3339("2023-12-31T23:59:59Z").ok());
  EXPECT_TRUE(ParseRfc3339("0001-01-01T00:00:00Z").ok());
  EXPECT_TRUE(ParseRfc3339("9999-12-31T23:59:59Z").ok());
}

TEST(ParseRfc3339Test, RejectsBadInput) {
  const std::string bad[] = {
      "",
      "2023-11-14",
      "2023-11-14T22:13:20",   // no zone
      "2023-11-14T22:13Z",     // no seconds
      "2023-11-14 22:13:20Z",  // Kubernetes writes 'T'
      "2023-13-01T00:00:00Z",  // month
      "2023-00-01T00:00:00Z",
      "2023-11-00T00:00:00Z",  // day
      "2023-11-31T00:00:00Z",  // November has 30 days
      "2023-02-29T00:00:00Z",  // not a leap year
      "1900-02-29T00:00:00Z",
      "2023-11-14T24:00:00Z",      // hour
      "2023-11-14T22:60:00Z",      // minute
      "2023-11-14T22:13:61Z",      // second
      "2023-11-14T22:13:20.Z",     // empty fraction
      "2023-11-14T22:13:20+0530",  // offset without colon
      "2023-11-14T22:13:20+05",
      "2023-11-14T22:13:20+24:00",  // offset hour
      "2023-11-14T22:13:20+05:60",  // offset minute
      "2023-11-14T22:13:20Zjunk",
      "2023-11-14T22:13:20+05:30junk",
      "2023-+1-14T22:13:20Z",  // signs are not digits
      "2023-11-+4T22:13:20Z",
      " 023-11-14T22:13:20Z",
      "+023-11-14T22:13:20Z",
      "20231114T221320Z",
      "2023-11-14T22:13:20.12a4Z",
      "2023-11-14T22:13:20+05:-3",
      "2023-11-14T22:13:20+ 5:30",
      std::string("2023-11-14T22:13:20\0Z", 21),
  };
  for (const std::string& text : bad) {
    auto parsed = ParseRfc3339(text);
    ASSERT_FALSE(parsed.ok()) << ::testing::PrintToString(text) << " parsed as " << parsed.ValueOr(0);
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
  }
}

TEST(ParseRfc3339Test, MessagesQuoteInputSafely) {
  auto long_input = ParseRfc3339(std::string(100'000, '9'));
  ASSERT_FALSE(long_input.ok());
  EXPECT_LT(long_input.status().message().size(), 300u);
  for (const std::string& text : {std::string("2023-11-14T22:13:20\xff"), std::string("\n\x01")}) {
    auto parsed = ParseRfc3339(text);
    ASSERT_FALSE(parsed.ok());
    EXPECT_NO_THROW((void)nlohmann::json(parsed.status().message()).dump());
    EXPECT_EQ(parsed.status().message().find('\n'), std::string::npos);
  }
}

}  // namespace
}  // namespace ferry
