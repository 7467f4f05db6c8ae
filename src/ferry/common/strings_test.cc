#include "ferry/common/strings.h"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace ferry {
namespace {

TEST(QuoteTest, EscapesWhatCouldBreakAMessage) {
  EXPECT_EQ(QuoteForMessage("plain/path"), "'plain/path'");
  EXPECT_EQ(QuoteForMessage(std::string("a\0b", 3)), "'a\\x00b'");
  EXPECT_EQ(QuoteForMessage("a\nb"), "'a\\x0Ab'");
  EXPECT_EQ(QuoteForMessage("it's"), "'it\\'s'");
  EXPECT_EQ(QuoteForMessage("a\\b"), "'a\\\\b'");
  EXPECT_EQ(QuoteForMessage("\xff"), "'\\xFF'");
  EXPECT_EQ(QuoteForMessage("模型"), "'模型'");
}

TEST(QuoteTest, CutsLongTextAtACharacterBoundary) {
  std::string text;
  for (int i = 0; i < 100; ++i) text += "é";  // two bytes each
  std::string quoted = QuoteForMessage(text);
  EXPECT_THAT(quoted, ::testing::EndsWith("...'"));
  EXPECT_LT(quoted.size(), text.size());
  EXPECT_NO_THROW((void)nlohmann::json(quoted).dump());
}

TEST(Utf8Test, DecodesAndRejectsPerRfc3629) {
  char32_t cp = 0;
  EXPECT_EQ(DecodeUtf8("a", 0, &cp), 1u);
  EXPECT_EQ(cp, U'a');
  EXPECT_EQ(DecodeUtf8("\xc3\xa9", 0, &cp), 2u);
  EXPECT_EQ(cp, U'\u00e9');
  EXPECT_EQ(DecodeUtf8("\xf0\x9f\x98\x80", 0, &cp), 4u);
  EXPECT_EQ(cp, U'\U0001F600');
  EXPECT_EQ(DecodeUtf8("\xc0\xaf", 0), 0u);          // overlong
  EXPECT_EQ(DecodeUtf8("\xed\xa0\x80", 0), 0u);      // surrogate
  EXPECT_EQ(DecodeUtf8("\xf4\x90\x80\x80", 0), 0u);  // above U+10FFFF
  EXPECT_EQ(DecodeUtf8("\xe6\xa8", 0), 0u);          // truncated
  EXPECT_EQ(FindInvalidUtf8("ok \xc3\xa9"), std::string_view::npos);
  EXPECT_EQ(FindInvalidUtf8("ok\xff"), 2u);
  EXPECT_EQ(FindInvalidUtf8("ascii then \xe6\xa8"), 11u);
  EXPECT_TRUE(IsStorableText("caf\xc3\xa9"));
  EXPECT_FALSE(IsStorableText(std::string_view("a\0b", 3)));
  EXPECT_FALSE(IsStorableText("a\xff"));
}

TEST(SanitizeTest, KeepsQuotesButEscapesControlsAndBadBytes) {
  EXPECT_EQ(SanitizeForMessage("it's \"x\""), "it's \"x\"");
  EXPECT_EQ(SanitizeForMessage("a\nb\xff"), "a\\x0Ab\\xFF");
  EXPECT_EQ(SanitizeForMessage(std::string(500, 'x'), 10), std::string(10, 'x') + "...");
}

}  // namespace
}  // namespace ferry
