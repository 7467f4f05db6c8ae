// PayloadLog on SQLite and PostgreSQL: records round-trip through the
// writer thread, paging by time, truncation of large bodies, text the store
// cannot hold, a full queue dropping instead of blocking, a missing table,
// and bad queries naming their parameter.

#include "ferry/serving/payload_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "ferry/store/testing/test_database.h"

namespace ferry::serving {
namespace {

using store::testing::AllBackends;
using store::testing::Backend;
using store::testing::BackendName;
using store::testing::TestDatabase;
using ::testing::HasSubstr;

PayloadRecord Record(std::string endpoint, std::int64_t ts, std::string request_id) {
  PayloadRecord r;
  r.endpoint = std::move(endpoint);
  r.revision = "iris-predictor-00001";
  r.request_id = std::move(request_id);
  r.timestamp_micros = ts;
  r.status = 200;
  r.request = R"({"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,2]}]})";
  r.response = R"({"outputs":[{"name":"y","shape":[1],"datatype":"INT64","data":[0]}]})";
  return r;
}

PayloadQuery Query(std::string endpoint, int limit = 100, std::int64_t since = 0, std::int64_t until = 0,
                   std::string page_token = "") {
  PayloadQuery q;
  q.endpoint = std::move(endpoint);
  q.limit = limit;
  q.since_micros = since;
  q.until_micros = until;
  q.page_token = std::move(page_token);
  return q;
}

PayloadLogOptions Options(std::size_t max_queue, std::size_t max_body_bytes, std::size_t batch_rows) {
  PayloadLogOptions o;
  o.max_queue = max_queue;
  o.max_body_bytes = max_body_bytes;
  o.batch_rows = batch_rows;
  return o;
}

class PayloadLogTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    tdb_ = TestDatabase::Create(GetParam());
    ASSERT_TRUE(tdb_);
  }
  std::unique_ptr<PayloadLog> OpenLog(PayloadLogOptions options = {}) {
    auto log = PayloadLog::Open(&tdb_->db(), &env_, options);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    return log.ok() ? std::move(*log) : nullptr;
  }

  FakeEnv env_;
  std::unique_ptr<TestDatabase> tdb_;
};

TEST_P(PayloadLogTest, RecordsRoundTrip) {
  auto log = OpenLog();
  ASSERT_TRUE(log);
  PayloadRecord first = Record("default/iris", 1000, "req-1");
  first.status = 400;
  first.response = R"({"error":"bad"})";
  EXPECT_TRUE(log->Append(first));
  EXPECT_TRUE(log->Append(Record("default/iris", 2000, "req-2")));
  EXPECT_TRUE(log->Append(Record("default/other", 1500, "req-3")));
  PayloadRecord unstamped = Record("default/iris", 0, "req-4");  // stamped with the Env's clock
  EXPECT_TRUE(log->Append(unstamped));
  ASSERT_TRUE(log->Flush().ok());

  auto page = log->Query(Query("default/iris"));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->records.size(), 3u);
  EXPECT_TRUE(page->next_page_token.empty());
  const PayloadRecord& r = page->records[0];
  EXPECT_EQ(r.endpoint, "default/iris");
  EXPECT_EQ(r.revision, "iris-predictor-00001");
  EXPECT_EQ(r.request_id, "req-1");
  EXPECT_EQ(r.timestamp_micros, 1000);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.request, first.request);
  EXPECT_EQ(r.response, R"({"error":"bad"})");
  EXPECT_FALSE(r.truncated);
  EXPECT_EQ(page->records[1].request_id, "req-2");
  EXPECT_EQ(page->records[2].request_id, "req-4");
  EXPECT_EQ(page->records[2].timestamp_micros, env_.NowMicros());
  EXPECT_EQ(log->dropped(), 0u);
}

TEST_P(PayloadLogTest, PagesByTimeOldestFirst) {
  auto log = OpenLog(Options(10'000, 1 << 20, 7));
  ASSERT_TRUE(log);
  // 250 records, several sharing a timestamp, so pages split ties by id.
  for (int i = 0; i < 250; ++i) {
    ASSERT_TRUE(log->Append(Record("default/iris", 10'000 + i / 3, "r" + std::to_string(i))));
  }
  ASSERT_TRUE(log->Flush().ok());

  std::vector<std::string> seen;
  PayloadQuery query = Query("default/iris", 40);
  for (int pages = 0; pages < 20; ++pages) {
    auto page = log->Query(query);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    for (const auto& r : page->records) seen.push_back(r.request_id);
    if (page->next_page_token.empty()) break;
    query.page_token = page->next_page_token;
  }
  ASSERT_EQ(seen.size(), 250u);
  for (int i = 0; i < 250; ++i) EXPECT_EQ(seen[i], "r" + std::to_string(i));

  // since is inclusive, until exclusive.
  auto window = log->Query(Query("default/iris", 100, 10'010, 10'012));
  ASSERT_TRUE(window.ok());
  ASSERT_EQ(window->records.size(), 6u);
  EXPECT_EQ(window->records.front().request_id, "r30");
  EXPECT_EQ(window->records.back().request_id, "r35");

  // The limit is capped, not refused.
  auto big = log->Query(Query("default/iris", 1'000'000));
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->records.size(), 250u);
}

TEST_P(PayloadLogTest, LargeBodiesAreTruncatedAtACharacterBoundary) {
  auto log = OpenLog(Options(10'000, 9, 500));
  ASSERT_TRUE(log);
  PayloadRecord r = Record("default/iris", 1, "big");
  r.request = "[\"\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\"]";  // "ééééé": 2-byte characters across the cut
  r.response = "{}";
  ASSERT_TRUE(log->Append(r));
  PayloadRecord small = Record("default/iris", 2, "small");
  small.request = "[1]";
  small.response = "[2]";
  ASSERT_TRUE(log->Append(small));
  ASSERT_TRUE(log->Flush().ok());
  auto page = log->Query(Query("default/iris"));
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->records.size(), 2u);
  EXPECT_TRUE(page->records[0].truncated);
  EXPECT_EQ(page->records[0].request, "[\"\xC3\xA9\xC3\xA9\xC3\xA9");  // 8 bytes, not 9
  EXPECT_EQ(page->records[0].response, "{}");
  EXPECT_FALSE(page->records[1].truncated);
}

TEST_P(PayloadLogTest, TextTheStoreCannotHoldIsReplaced) {
  auto log = OpenLog();
  ASSERT_TRUE(log);
  PayloadRecord r = Record("default/iris", 1, std::string("id\0x", 4));
  r.request = "bad \xFF byte";
  ASSERT_TRUE(log->Append(r));
  ASSERT_TRUE(log->Flush().ok());
  auto page = log->Query(Query("default/iris"));
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->records.size(), 1u);
  EXPECT_EQ(page->records[0].request_id, "id\xEF\xBF\xBDx");
  EXPECT_EQ(page->records[0].request, "bad \xEF\xBF\xBD byte");
}

TEST_P(PayloadLogTest, AppendNeverBlocksAndCountsDrops) {
  auto log = OpenLog(Options(4, 1 << 20, 500));
  ASSERT_TRUE(log);
  int accepted = 0;
  for (int i = 0; i < 2000; ++i) accepted += log->Append(Record("default/iris", i + 1, "r")) ? 1 : 0;
  ASSERT_TRUE(log->Flush().ok());
  EXPECT_EQ(log->dropped(), static_cast<std::uint64_t>(2000 - accepted));
  EXPECT_GE(accepted, 4);
  auto page = log->Query(Query("default/iris", 10'000));
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->records.size(), static_cast<std::size_t>(accepted));
}

TEST_P(PayloadLogTest, ConcurrentAppendersAllLand) {
  auto log = OpenLog();
  ASSERT_TRUE(log);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) log->Append(Record("default/iris", 1 + t * 1000 + i, "r"));
    });
  }
  for (auto& t : threads) t.join();
  log->Close();  // flushes what was queued
  log->Close();  // idempotent
  EXPECT_FALSE(log->Append(Record("default/iris", 5, "late")));
  auto page = log->Query(Query("default/iris", 10'000));
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->records.size(), 800u);
}

TEST_P(PayloadLogTest, BadQueriesNameTheParameter) {
  auto log = OpenLog();
  ASSERT_TRUE(log);
  struct Case {
    PayloadQuery query;
    std::string field;
  };
  for (const Case& c : {Case{Query(""), "endpoint"},
                        Case{Query("default/iris", 100, -1), "since"},
                        Case{Query("default/iris", 100, 0, -5), "until"},
                        Case{Query("default/iris", 0), "limit"},
                        Case{Query("default/iris", 100, 0, 0, "garbage"), "page_token"},
                        Case{Query("default/iris", 100, 0, 0, "1.-2"), "page_token"},
                        Case{Query("default/iris", 100, 0, 0, "1.2x"), "page_token"}}) {
    auto page = log->Query(c.query);
    ASSERT_FALSE(page.ok()) << c.field;
    EXPECT_EQ(page.status().code(), StatusCode::kInvalidArgument) << c.field;
    EXPECT_EQ(page.status().field(), c.field);
  }
}

TEST_P(PayloadLogTest, OpenWithoutTheTableFails) {
  auto empty = TestDatabase::CreateWithMigrations(GetParam(), {});
  ASSERT_TRUE(empty);
  auto log = PayloadLog::Open(&empty->db(), &env_);
  ASSERT_FALSE(log.ok());
  EXPECT_THAT(log.status().message(), HasSubstr("payload log"));
  EXPECT_EQ(PayloadLog::Open(nullptr, &env_).status().code(), StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Backends, PayloadLogTest, AllBackends(), BackendName);

}  // namespace
}  // namespace ferry::serving
