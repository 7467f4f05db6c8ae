#include "ferry/api/http_message.h"

#include <gtest/gtest.h>

namespace ferry::api {
namespace {

TEST(HttpHeadersTest, LookupIgnoresCase) {
  HttpHeaders headers;
  headers.Add("Content-Type", "application/json");
  headers.Add("X-Custom", "1");
  headers.Add("x-custom", "2");
  EXPECT_EQ(headers.Get("content-type"), "application/json");
  EXPECT_EQ(headers.Get("X-CUSTOM"), "1");
  EXPECT_TRUE(headers.Has("x-Custom"));
  EXPECT_FALSE(headers.Has("Accept"));
  EXPECT_EQ(headers.Get("Accept"), "");
  headers.Set("X-custom", "3");
  EXPECT_EQ(headers.Get("x-custom"), "3");
  EXPECT_EQ(headers.fields().size(), 2u);
}

TEST(PercentDecodeTest, DecodesEscapes) {
  EXPECT_EQ(*PercentDecode("a%20b%2fc%2F", false), "a b/c/");
  EXPECT_EQ(*PercentDecode("a+b", false), "a+b");
  EXPECT_EQ(*PercentDecode("a+b", true), "a b");
  EXPECT_EQ(*PercentDecode("%00", false), std::string(1, '\0'));
}

TEST(PercentDecodeTest, RejectsMalformedEscapes) {
  for (const char* bad : {"%", "%2", "%zz", "a%g1", "%%"}) {
    auto decoded = PercentDecode(bad, false);
    EXPECT_FALSE(decoded.ok()) << bad;
    EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(ParseQueryTest, SplitsAndDecodesPairs) {
  auto query = ParseQuery("limit=5&labelSelector=env+in+%28a%2Cb%29&watch&&empty=");
  ASSERT_TRUE(query.ok());
  std::vector<std::pair<std::string, std::string>> want = {
      {"limit", "5"}, {"labelSelector", "env in (a,b)"}, {"watch", ""}, {"empty", ""}};
  EXPECT_EQ(*query, want);
  EXPECT_TRUE(ParseQuery("")->empty());
}

TEST(ParseQueryTest, NamesTheParameterWithABadEscape) {
  auto query = ParseQuery("limit=%zz");
  ASSERT_FALSE(query.ok());
  EXPECT_EQ(query.status().field(), "limit");
  EXPECT_FALSE(ParseQuery("%zz=1").ok());
}

}  // namespace
}  // namespace ferry::api
