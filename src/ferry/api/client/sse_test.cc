#include "ferry/api/client/sse.h"

#include <gtest/gtest.h>

namespace ferry::api::client {
namespace {

struct Collected {
  std::vector<SseEvent> events;
  SseParser parser{[this](const SseEvent& e) {
    events.push_back(e);
    return true;
  }};
};

TEST(SseParserTest, ParsesTypedEventsWithIds) {
  Collected c;
  ASSERT_TRUE(
      c.parser.Feed("event: ADDED\nid: 7\ndata: {\"a\":1}\n\nevent: DELETED\nid: 8\ndata: {}\n\n").ok());
  ASSERT_EQ(c.events.size(), 2u);
  EXPECT_EQ(c.events[0].type, "ADDED");
  EXPECT_EQ(c.events[0].id, "7");
  EXPECT_EQ(c.events[0].data, "{\"a\":1}");
  EXPECT_EQ(c.events[1].type, "DELETED");
  EXPECT_EQ(c.events[1].id, "8");
}

TEST(SseParserTest, HandlesEveryLineEndingAndSplitsAnywhere) {
  const std::string stream = "event: A\r\ndata: one\r\n\r\nevent: B\rdata: two\r\rdata: three\n\n";
  // Feeding byte by byte splits every "\r\n" between two chunks.
  Collected c;
  for (char ch : stream) ASSERT_TRUE(c.parser.Feed(std::string(1, ch)).ok());
  ASSERT_EQ(c.events.size(), 3u);
  EXPECT_EQ(c.events[0].type, "A");
  EXPECT_EQ(c.events[0].data, "one");
  EXPECT_EQ(c.events[1].type, "B");
  EXPECT_EQ(c.events[1].data, "two");
  EXPECT_EQ(c.events[2].type, "message");
  EXPECT_EQ(c.events[2].data, "three");
}

TEST(SseParserTest, SkipsCommentsAndJoinsDataLines) {
  Collected c;
  ASSERT_TRUE(c.parser.Feed(": keep-alive\n\ndata:first\ndata:  second\nretry: 10\nunknown: x\n\n").ok());
  ASSERT_EQ(c.events.size(), 1u);
  // Only one space after the colon is dropped.
  EXPECT_EQ(c.events[0].data, "first\n second");
  EXPECT_EQ(c.events[0].type, "message");
}

TEST(SseParserTest, EventWithoutDataIsNotDispatched) {
  Collected c;
  ASSERT_TRUE(c.parser.Feed("event: ADDED\nid: 3\n\ndata: x\n\n").ok());
  ASSERT_EQ(c.events.size(), 1u);
  EXPECT_EQ(c.events[0].type, "message");  // the type does not carry over
  EXPECT_EQ(c.events[0].id, "3");          // the id does
}

TEST(SseParserTest, IncompleteEventWaitsForTheBlankLine) {
  Collected c;
  ASSERT_TRUE(c.parser.Feed("data: partial\n").ok());
  EXPECT_TRUE(c.events.empty());
  ASSERT_TRUE(c.parser.Feed("\n").ok());
  EXPECT_EQ(c.events.size(), 1u);
}

TEST(SseParserTest, CallbackCanStop) {
  int calls = 0;
  SseParser parser([&](const SseEvent&) { return ++calls < 1; });
  ASSERT_TRUE(parser.Feed("data: a\n\ndata: b\n\n").ok());
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(parser.stopped());
}

TEST(SseParserTest, OversizedEventIsRejected) {
  SseParser parser([](const SseEvent&) { return true; }, 64);
  Status s = parser.Feed("data: " + std::string(100, 'x') + "\n\n");
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  // Many small data lines add up too.
  SseParser lines([](const SseEvent&) { return true; }, 64);
  Status total;
  for (int i = 0; i < 20 && total.ok(); ++i) total = lines.Feed("data: 0123456789\n");
  EXPECT_EQ(total.code(), StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace ferry::api::client
