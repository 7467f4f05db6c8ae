#include "ferry/store/database.h"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <future>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "ferry/store/database_internal.h"
#include "ferry/store/postgres/postgres_database.h"
#include "ferry/store/testing/test_database.h"

namespace ferry::store {
namespace {

using testing::AllBackends;
using testing::Backend;
using testing::BackendName;
using testing::TestDatabase;

class DatabaseTest : public testing::EmptyDatabaseTest {
 protected:
  // The one type name that differs for the tables of these tests.
  std::string BlobType() { return db().dialect() == Dialect::kSqlite ? "BLOB" : "BYTEA"; }

  void CreateValuesTable() {
    ASSERT_TRUE(db().Exec("CREATE TABLE vals (id INTEGER PRIMARY KEY, i BIGINT, d DOUBLE PRECISION, "
                          "s TEXT, b " +
                          BlobType() + ")")
                    .ok());
  }

  void CreateKvTable() {
    ASSERT_TRUE(db().Exec("CREATE TABLE kv (k TEXT PRIMARY KEY, v BIGINT NOT NULL)").ok());
  }

  std::int64_t Count(const std::string& table) {
    auto rows = db().Query("SELECT COUNT(*) FROM " + table);
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    return rows.ok() ? rows->at(0).Int(0) : -1;
  }

};

TEST_P(DatabaseTest, RoundTripsEveryValueType) {
  CreateValuesTable();
  const std::string nul_blob("\0a\0\xff\x01\0", 6);
  std::string every_byte;
  for (int c = 0; c < 256; ++c) every_byte.push_back(static_cast<char>(c));
  struct Case {
    std::int64_t i;
    double d;
    std::string s;
    std::string b;
  };
  const std::vector<Case> cases = {
      {std::numeric_limits<std::int64_t>::max(), 0.1, "plain", nul_blob},
      {std::numeric_limits<std::int64_t>::min(), -2.5,
       "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x9a\x80", every_byte},
      {0, std::numeric_limits<double>::max(), "", ""},
      {-1, std::numeric_limits<double>::denorm_min(), "line\nbreak\ttab 'quote' \"dq\" \\ back", "\0"},
      {42, 3.141592653589793, std::string(10000, 'x'), std::string(1 << 20, '\0')},
      {7, -1e-300, "1e5", "\x80\x81"},
      {8, 2.0, "NULL", "NULL"},
  };
  for (std::size_t n = 0; n < cases.size(); ++n) {
    const Case& c = cases[n];
    auto changed = db().Exec("INSERT INTO vals (id, i, d, s, b) VALUES ($1, $2, $3, $4, $5)",
                             {std::int64_t(n), c.i, c.d, c.s, Blob{c.b}});
    ASSERT_TRUE(changed.ok()) << changed.status().ToString();
    EXPECT_EQ(*changed, 1);
  }
  for (std::size_t n = 0; n < cases.size(); ++n) {
    const Case& c = cases[n];
    auto rows = db().Query("SELECT i, d, s, b FROM vals WHERE id = $1", {std::int64_t(n)});
    ASSERT_TRUE(rows.ok()) << rows.status().ToString();
    ASSERT_EQ(rows->size(), 1u);
    const Row& row = rows->at(0);
    ASSERT_EQ(row.size(), 4u);
    ASSERT_TRUE(std::holds_alternative<std::int64_t>(row.at(0))) << "case " << n;
    EXPECT_EQ(std::get<std::int64_t>(row.at(0)), c.i);
    ASSERT_TRUE(std::holds_alternative<double>(row.at(1))) << "case " << n;
    EXPECT_EQ(std::get<double>(row.at(1)), c.d) << "case " << n;
    ASSERT_TRUE(std::holds_alternative<std::string>(row.at(2))) << "case " << n;
    EXPECT_EQ(std::get<std::string>(row.at(2)), c.s);
    ASSERT_TRUE(std::holds_alternative<Blob>(row.at(3))) << "case " << n;
    EXPECT_EQ(std::get<Blob>(row.at(3)).bytes, c.b) << "case " << n;
  }
}

TEST_P(DatabaseTest, RoundTripsNulls) {
  CreateValuesTable();
  ASSERT_TRUE(db().Exec("INSERT INTO vals (id, i, d, s, b) VALUES ($1, $2, $3, $4, $5)",
                        {std::int64_t{1}, nullptr, nullptr, nullptr, nullptr})
                  .ok());
  auto rows = db().Query("SELECT i, d, s, b FROM vals WHERE id = $1", {std::int64_t{1}});
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  const Row& row = rows->at(0);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_TRUE(row.IsNull(i)) << i;
  EXPECT_EQ(row.OptInt(0), std::nullopt);
  EXPECT_EQ(row.OptDouble(1), std::nullopt);
  EXPECT_EQ(row.OptText(2), std::nullopt);
  EXPECT_EQ(row.Int(0), 0);
  EXPECT_EQ(row.Text(2), "");
}

TEST_P(DatabaseTest, ReusesAndReordersPlaceholders) {
  ASSERT_TRUE(db().Exec("CREATE TABLE pair (a BIGINT, b BIGINT, c TEXT, d TEXT)").ok());
  ASSERT_TRUE(
      db().Exec("INSERT INTO pair (a, b, c, d) VALUES ($2, $2, $1, $1)", {"text", std::int64_t{5}}).ok());
  auto rows = db().Query("SELECT a, b, c, d FROM pair WHERE a = $1 AND b = $1", {std::int64_t{5}});
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows->at(0).Int(0), 5);
  EXPECT_EQ(rows->at(0).Int(1), 5);
  EXPECT_EQ(rows->at(0).Text(2), "text");
  EXPECT_EQ(rows->at(0).Text(3), "text");
}

TEST_P(DatabaseTest, MissingParameterIsAnError) {
  CreateKvTable();
  auto result = db().Exec("INSERT INTO kv (k, v) VALUES ($1, $2)", {"only-one"});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(Count("kv"), 0);
}

TEST_P(DatabaseTest, InjectionLookingStringsStayData) {
  CreateKvTable();
  const std::vector<std::string> evil = {
      "Robert'); DROP TABLE kv;--",  "' OR '1'='1", "\"; DELETE FROM kv; --", "$1",
      "x'; SELECT pg_sleep(10); --",
  };
  for (std::size_t i = 0; i < evil.size(); ++i) {
    ASSERT_TRUE(db().Exec("INSERT INTO kv (k, v) VALUES ($1, $2)", {evil[i], std::int64_t(i)}).ok())
        << evil[i];
  }
  EXPECT_EQ(Count("kv"), static_cast<std::int64_t>(evil.size()));
  for (std::size_t i = 0; i < evil.size(); ++i) {
    auto rows = db().Query("SELECT v FROM kv WHERE k = $1", {evil[i]});
    ASSERT_TRUE(rows.ok());
    ASSERT_EQ(rows->size(), 1u) << evil[i];
    EXPECT_EQ(rows->at(0).Int(0), static_cast<std::int64_t>(i));
  }
}

TEST_P(DatabaseTest, ExecCountsChangedRows) {
  CreateKvTable();
  for (const char* k : {"a", "b", "c"}) {
    ASSERT_TRUE(db().Exec("INSERT INTO kv (k, v) VALUES ($1, 1)", {k}).ok());
  }
  auto updated = db().Exec("UPDATE kv SET v = v + 1 WHERE v = $1", {std::int64_t{1}});
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(*updated, 3);
  auto ignored = db().Exec("INSERT INTO kv (k, v) VALUES ($1, 9) ON CONFLICT (k) DO NOTHING", {"a"});
  ASSERT_TRUE(ignored.ok()) << ignored.status().ToString();
  EXPECT_EQ(*ignored, 0);
  auto ddl = db().Exec("CREATE INDEX kv_v ON kv (v)");
  ASSERT_TRUE(ddl.ok());
  EXPECT_EQ(*ddl, 0);
  auto deleted = db().Exec("DELETE FROM kv WHERE k <> $1", {"a"});
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 2);
}

TEST_P(DatabaseTest, QueryRunsWritesWithReturning) {
  CreateKvTable();
  auto rows = db().Query("INSERT INTO kv (k, v) VALUES ($1, $2) RETURNING k, v", {"r", std::int64_t{7}});
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows->at(0).Text(0), "r");
  EXPECT_EQ(rows->at(0).Int(1), 7);
  auto upserted = db().Query(
      "INSERT INTO kv (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = kv.v + excluded.v RETURNING v",
      {"r", std::int64_t{3}});
  ASSERT_TRUE(upserted.ok()) << upserted.status().ToString();
  EXPECT_EQ(upserted->at(0).Int(0), 10);
}

TEST_P(DatabaseTest, TransactCommits) {
  CreateKvTable();
  Status status = db().Transact([](Tx& tx) -> Status {
    RETURN_IF_ERROR(tx.Exec("INSERT INTO kv (k, v) VALUES ($1, $2)", {"a", std::int64_t{1}}));
    RETURN_IF_ERROR(tx.Exec("INSERT INTO kv (k, v) VALUES ($1, $2)", {"b", std::int64_t{2}}));
    // The transaction sees its own writes.
    ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT SUM(v) FROM kv"));
    if (rows.at(0).Int(0) != 3) return Internal("sum inside transaction is " + rows.at(0).Text(0));
    return Status::OK();
  });
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(Count("kv"), 2);
}

TEST_P(DatabaseTest, TransactRollsBackWhenFunctionFails) {
  CreateKvTable();
  Status status = db().Transact([](Tx& tx) -> Status {
    RETURN_IF_ERROR(tx.Exec("INSERT INTO kv (k, v) VALUES ($1, $2)", {"a", std::int64_t{1}}));
    return NotFound("changed my mind");
  });
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_EQ(status.message(), "changed my mind");
  EXPECT_EQ(Count("kv"), 0);
}

TEST_P(DatabaseTest, FailedStatementAbortsTransactionEvenIfSwallowed) {
  CreateKvTable();
  ASSERT_TRUE(db().Exec("INSERT INTO kv (k, v) VALUES ('dup', 1)").ok());
  Status later;
  Status status = db().Transact([&](Tx& tx) -> Status {
    RETURN_IF_ERROR(tx.Exec("INSERT INTO kv (k, v) VALUES ($1, $2)", {"fresh", std::int64_t{1}}));
    auto dup = tx.Exec("INSERT INTO kv (k, v) VALUES ($1, $2)", {"dup", std::int64_t{2}});
    if (dup.ok()) return Internal("duplicate insert succeeded");
    later = tx.Exec("INSERT INTO kv (k, v) VALUES ($1, $2)", {"later", std::int64_t{3}}).status();
    return Status::OK();  // swallows the error
  });
  EXPECT_EQ(status.code(), StatusCode::kAlreadyExists) << status.ToString();
  EXPECT_EQ(later.code(), StatusCode::kFailedPrecondition) << later.ToString();
  EXPECT_EQ(Count("kv"), 1);
}

TEST_P(DatabaseTest, ExceptionInTransactionRollsBackAndDatabaseStaysUsable) {
  CreateKvTable();
  Status status = db().Transact([](Tx& tx) -> Status {
    RETURN_IF_ERROR(tx.Exec("INSERT INTO kv (k, v) VALUES ('a', 1)"));
    throw std::runtime_error("boom");
  });
  EXPECT_EQ(status.code(), StatusCode::kInternal);
  EXPECT_NE(status.message().find("boom"), std::string::npos);
  EXPECT_EQ(Count("kv"), 0);
  EXPECT_TRUE(db().Exec("INSERT INTO kv (k, v) VALUES ('b', 1)").ok());
  EXPECT_TRUE(
      db().Transact([](Tx& tx) { return tx.Exec("INSERT INTO kv (k, v) VALUES ('c', 1)").status(); }).ok());
  EXPECT_EQ(Count("kv"), 2);
}

TEST_P(DatabaseTest, CallingTheDatabaseFromItsOwnTransactionFailsCleanly) {
  CreateKvTable();
  Status inner_exec, inner_query, inner_transact;
  Status status = db().Transact([&](Tx& tx) -> Status {
    inner_exec = db().Exec("INSERT INTO kv (k, v) VALUES ('x', 1)").status();
    inner_query = db().Query("SELECT 1").status();
    inner_transact = db().Transact([](Tx&) { return Status::OK(); });
    return tx.Exec("INSERT INTO kv (k, v) VALUES ('y', 1)").status();
  });
  EXPECT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(inner_exec.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(inner_query.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(inner_transact.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(Count("kv"), 1);
}

TEST_P(DatabaseTest, TransactionControlStatementsAreRefused) {
  CreateKvTable();
  EXPECT_FALSE(db().Exec("BEGIN").ok());
  EXPECT_FALSE(db().Query("BEGIN").ok());
  // Neither left a transaction open: this write is visible to every connection at once.
  ASSERT_TRUE(db().Exec("INSERT INTO kv (k, v) VALUES ('a', 1)").ok());
  EXPECT_EQ(Count("kv"), 1);
  Status status = db().Transact([](Tx& tx) -> Status {
    RETURN_IF_ERROR(tx.Exec("INSERT INTO kv (k, v) VALUES ('b', 1)"));
    return tx.Exec("COMMIT").status();
  });
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(
      db().Transact([](Tx& tx) { return tx.Exec("INSERT INTO kv (k, v) VALUES ('c', 1)").status(); }).ok());
}

TEST_P(DatabaseTest, SavepointsAreRefused) {
  CreateKvTable();
  Status status = db().Transact([](Tx& tx) -> Status {
    RETURN_IF_ERROR(tx.Exec("SAVEPOINT s"));
    return tx.Exec("INSERT INTO kv (k, v) VALUES ('a', 1)").status();
  });
  EXPECT_EQ(status.code(), StatusCode::kInternal);
  EXPECT_NE(status.message().find("transaction control"), std::string::npos) << status.ToString();
  EXPECT_FALSE(db().Exec("RELEASE s").ok());
  EXPECT_EQ(Count("kv"), 0);
}

TEST_P(DatabaseTest, ErrorsAreStatuses) {
  CreateKvTable();
  auto syntax = db().Exec("SELEC nonsense FROM");
  EXPECT_EQ(syntax.status().code(), StatusCode::kInternal);
  EXPECT_NE(syntax.status().message().find("SELEC"), std::string::npos) << syntax.status().ToString();
  EXPECT_EQ(db().Query("SELECT * FROM no_such_table").status().code(), StatusCode::kInternal);
  EXPECT_EQ(db().Query("").status().code(), StatusCode::kInternal);

  ASSERT_TRUE(db().Exec("INSERT INTO kv (k, v) VALUES ('a', 1)").ok());
  auto dup = db().Exec("INSERT INTO kv (k, v) VALUES ('a', 2)");
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists) << dup.status().ToString();
  auto null = db().Exec("INSERT INTO kv (k, v) VALUES ('b', NULL)");
  EXPECT_EQ(null.status().code(), StatusCode::kInternal) << null.status().ToString();

  ASSERT_TRUE(db().Exec("CREATE TABLE u (id INTEGER PRIMARY KEY, email TEXT UNIQUE)").ok());
  ASSERT_TRUE(db().Exec("INSERT INTO u (id, email) VALUES (1, 'a@x')").ok());
  EXPECT_EQ(db().Exec("INSERT INTO u (id, email) VALUES (2, 'a@x')").status().code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(db().Exec("INSERT INTO u (id, email) VALUES (1, 'b@x')").status().code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(Count("kv"), 1);
}

TEST_P(DatabaseTest, ForeignKeysAreEnforced) {
  ASSERT_TRUE(db().Exec("CREATE TABLE parent (id BIGINT PRIMARY KEY)").ok());
  ASSERT_TRUE(db().Exec("CREATE TABLE child (id BIGINT PRIMARY KEY, "
                        "parent_id BIGINT NOT NULL REFERENCES parent (id) ON DELETE CASCADE)")
                  .ok());
  auto orphan = db().Exec("INSERT INTO child (id, parent_id) VALUES (1, 99)");
  EXPECT_EQ(orphan.status().code(), StatusCode::kInternal) << orphan.status().ToString();
  ASSERT_TRUE(db().Exec("INSERT INTO parent (id) VALUES (1)").ok());
  ASSERT_TRUE(db().Exec("INSERT INTO child (id, parent_id) VALUES (1, 1)").ok());
  ASSERT_TRUE(db().Exec("DELETE FROM parent WHERE id = 1").ok());
  EXPECT_EQ(Count("child"), 0);
}

TEST_P(DatabaseTest, SeveralStatementsInOneCallAreRefused) {
  CreateKvTable();
  auto result = db().Exec("INSERT INTO kv (k, v) VALUES ('a', 1); DROP TABLE kv");
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(Count("kv"), 0);
  // A trailing semicolon and comment are still one statement.
  EXPECT_TRUE(db().Exec("INSERT INTO kv (k, v) VALUES ('a', 1); -- done\n").ok());
}

TEST_P(DatabaseTest, BadTextParametersAreInvalidArgument) {
  CreateKvTable();
  auto nul = db().Exec("INSERT INTO kv (k, v) VALUES ($1, 1)", {std::string("a\0b", 3)});
  EXPECT_EQ(nul.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(nul.status().message().find("$1"), std::string::npos) << nul.status().ToString();
  for (const std::string bad : {"\xff", "\xc3", "\xed\xa0\x80", "\xc0\xaf", "ok\xf4\x90\x80\x80"}) {
    auto result = db().Exec("INSERT INTO kv (k, v) VALUES ($1, 1)", {bad});
    EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument) << result.status().ToString();
  }
  EXPECT_EQ(Count("kv"), 0);
}

TEST_P(DatabaseTest, ConcurrentWritersAllLand) {
  CreateKvTable();
  ASSERT_TRUE(db().Exec("INSERT INTO kv (k, v) VALUES ('counter', 0)").ok());
  constexpr int kThreads = 6;
  constexpr int kPerThread = 20;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  std::vector<std::string> errors(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string key = "t" + std::to_string(t) + "-" + std::to_string(i);
        // A read-modify-write of one hot row plus an insert, in a transaction.
        Status status = db().Transact([&](Tx& tx) -> Status {
          ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT v FROM kv WHERE k = 'counter'"));
          RETURN_IF_ERROR(tx.Exec("UPDATE kv SET v = $1 WHERE k = 'counter'", {rows.at(0).Int(0) + 1}));
          return tx.Exec("INSERT INTO kv (k, v) VALUES ($1, $2)", {key, std::int64_t{t}}).status();
        });
        // And a plain single-statement write.
        if (status.ok()) {
          status = db().Exec("INSERT INTO kv (k, v) VALUES ($1, -1)", {key + "-plain"}).status();
        }
        if (!status.ok()) {
          errors[t] = status.ToString();
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
  EXPECT_EQ(failures.load(), 0);
  auto counter = db().Query("SELECT v FROM kv WHERE k = 'counter'");
  ASSERT_TRUE(counter.ok());
  EXPECT_EQ(counter->at(0).Int(0), kThreads * kPerThread);
  EXPECT_EQ(Count("kv"), 1 + 2 * kThreads * kPerThread);
}

TEST_P(DatabaseTest, ConcurrentReadersSeeCommittedData) {
  CreateKvTable();
  constexpr int kRows = 50;
  std::atomic<bool> done{false};
  std::atomic<int> bad_reads{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&] {
      std::int64_t last = 0;
      while (!done.load()) {
        auto rows = db().Query("SELECT COUNT(*) FROM kv");
        // Counts never go backwards, and every read succeeds.
        if (!rows.ok() || rows->at(0).Int(0) < last) ++bad_reads;
        if (rows.ok()) last = rows->at(0).Int(0);
      }
    });
  }
  for (int i = 0; i < kRows; ++i) {
    ASSERT_TRUE(
        db().Exec("INSERT INTO kv (k, v) VALUES ($1, $2)", {std::to_string(i), std::int64_t{i}}).ok());
  }
  done = true;
  for (auto& th : readers) th.join();
  EXPECT_EQ(bad_reads.load(), 0);
  EXPECT_EQ(Count("kv"), kRows);
}

TEST_P(DatabaseTest, WritesSurviveReopen) {
  CreateKvTable();
  ASSERT_TRUE(db().Exec("INSERT INTO kv (k, v) VALUES ('kept', 1)").ok());
  ASSERT_TRUE(
      db().Transact([](Tx& tx) { return tx.Exec("INSERT INTO kv (k, v) VALUES ('tx', 2)").status(); }).ok());
  ASSERT_TRUE(tdb_->Reopen().ok());
  EXPECT_EQ(Count("kv"), 2);
}

TEST_P(DatabaseTest, ManyDistinctStatementsOutgrowTheStatementCache) {
  CreateKvTable();
  // More distinct texts than a connection caches, twice over: evicted
  // statements must be finalised and recompiled, not reused stale.
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 150; ++i) {
      const std::string sql = "INSERT INTO kv (k, v) VALUES ($1, " + std::to_string(i) + ")";
      auto changed = db().Exec(sql, {"r" + std::to_string(round) + "-" + std::to_string(i)});
      ASSERT_TRUE(changed.ok()) << changed.status().ToString();
      auto rows = db().Query("SELECT v FROM kv WHERE v = " + std::to_string(i) + " ORDER BY k");
      ASSERT_TRUE(rows.ok()) << rows.status().ToString();
      ASSERT_EQ(rows->size(), static_cast<std::size_t>(round + 1));
    }
  }
}

TEST_P(DatabaseTest, PingAndRedactedUrl) {
  EXPECT_TRUE(db().Ping().ok());
  EXPECT_FALSE(db().redacted_url().empty());
  EXPECT_EQ(db().dialect(), GetParam() == Backend::kSqlite ? Dialect::kSqlite : Dialect::kPostgres);
}

TEST_P(DatabaseTest, SingleConnectionDatabaseWorks) {
  auto one = OpenDatabase(tdb_->url(), {.max_connections = 1});
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  Database& db1 = **one;
  ASSERT_TRUE(db1.Exec("CREATE TABLE solo (id BIGINT PRIMARY KEY)").ok());
  ASSERT_TRUE(db1.Transact([](Tx& tx) { return tx.Exec("INSERT INTO solo (id) VALUES (1)").status(); }).ok());
  auto rows = db1.Query("SELECT id FROM solo");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, DatabaseTest, AllBackends(), BackendName);

// A writer process is killed with SIGKILL mid-stream; every write it had
// seen acknowledged must be there afterwards. The test re-runs its own binary
// as the writer, told so by the environment.
class CrashTest : public ::testing::TestWithParam<Backend> {};

constexpr char kCrashWriterUrlEnv[] = "FERRY_TEST_CRASH_WRITER_URL";
constexpr int kCrashAckFd = 3;

// The child's side: writes rows 0, 1, 2, ... alternating plain writes and
// transactions, reporting each id on kCrashAckFd once the call returned OK.
[[noreturn]] void RunCrashWriter(const char* url) {
  auto db = OpenDatabase(url);
  if (!db.ok()) _exit(2);
  for (std::int64_t id = 0; id < 100000; ++id) {
    Status status;
    if (id % 2 == 0) {
      status = (*db)
                   ->Exec("INSERT INTO crash (id, payload) VALUES ($1, $2)", {id, std::string(512, 'p')})
                   .status();
    } else {
      status = (*db)->Transact([&](Tx& tx) -> Status {
        RETURN_IF_ERROR(
            tx.Exec("INSERT INTO crash (id, payload) VALUES ($1, $2)", {id, std::string(512, 't')}));
        return tx.Exec("UPDATE crash SET payload = $1 WHERE id = $2", {"updated", id - 1}).status();
      });
    }
    if (!status.ok()) _exit(3);
    const std::string line = std::to_string(id) + "\n";
    if (write(kCrashAckFd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(4);
  }
  _exit(0);
}

TEST_P(CrashTest, AcknowledgedWritesSurviveKill9) {
  if (const char* url = std::getenv(kCrashWriterUrlEnv)) RunCrashWriter(url);

  auto tdb = TestDatabase::CreateWithMigrations(GetParam(), {});
  ASSERT_TRUE(tdb);
  ASSERT_TRUE(tdb->db().Exec("CREATE TABLE crash (id BIGINT PRIMARY KEY, payload TEXT NOT NULL)").ok());

  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string filter = std::string("--gtest_filter=") + info->test_suite_name() + "." + info->name();
  const std::string env_entry = std::string(kCrashWriterUrlEnv) + "=" + tdb->url();
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e) env.push_back(*e);
  env.push_back(const_cast<char*>(env_entry.c_str()));
  env.push_back(nullptr);
  char exe[] = "/proc/self/exe";
  std::vector<char*> argv = {exe, const_cast<char*>(filter.c_str()), nullptr};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], kCrashAckFd);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  pid_t child = 0;
  const int spawned = posix_spawn(&child, exe, &actions, nullptr, argv.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  ASSERT_EQ(spawned, 0);

  // Let it get well under way, then kill it without warning.
  constexpr std::int64_t kAcksBeforeKill = 40;
  std::int64_t last_ack = -1;
  std::string pending;
  char buffer[256];
  while (last_ack + 1 < kAcksBeforeKill) {
    const ssize_t n = read(fds[0], buffer, sizeof(buffer));
    if (n <= 0) break;
    pending.append(buffer, static_cast<std::size_t>(n));
    for (std::size_t eol; (eol = pending.find('\n')) != std::string::npos; pending.erase(0, eol + 1)) {
      last_ack = std::stoll(pending.substr(0, eol));
    }
  }
  kill(child, SIGKILL);
  int wait_status = 0;
  waitpid(child, &wait_status, 0);
  close(fds[0]);
  ASSERT_GE(last_ack + 1, kAcksBeforeKill) << "the writer stopped early, wait status " << wait_status;
  ASSERT_TRUE(WIFSIGNALED(wait_status)) << "the writer exited by itself, wait status " << wait_status;

  ASSERT_TRUE(tdb->Reopen().ok());
  auto rows = tdb->db().Query("SELECT COUNT(*) FROM crash WHERE id <= $1", {last_ack});
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(rows->at(0).Int(0), last_ack + 1);
  if (GetParam() == Backend::kSqlite) {
    auto check = tdb->db().Query("PRAGMA integrity_check");
    ASSERT_TRUE(check.ok()) << check.status().ToString();
    EXPECT_EQ(check->at(0).Text(0), "ok");
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, CrashTest, AllBackends(), BackendName);

class SqliteDatabaseTest : public DatabaseTest {};

TEST_P(SqliteDatabaseTest, EveryConnectionIsDurableAndChecksForeignKeys) {
  // Query runs on the reader connections, Transact on the writer: both must be set up alike.
  auto readers = db().Query("PRAGMA synchronous");
  ASSERT_TRUE(readers.ok()) << readers.status().ToString();
  EXPECT_EQ(readers->at(0).Int(0), 2);  // FULL
  Status status = db().Transact([](Tx& tx) -> Status {
    ASSIGN_OR_RETURN(Rows sync, tx.Query("PRAGMA synchronous"));
    ASSIGN_OR_RETURN(Rows mode, tx.Query("PRAGMA journal_mode"));
    ASSIGN_OR_RETURN(Rows fk, tx.Query("PRAGMA foreign_keys"));
    if (sync.at(0).Int(0) != 2 || mode.at(0).Text(0) != "wal" || fk.at(0).Int(0) != 1) {
      return Internal("writer: synchronous=" + std::to_string(sync.at(0).Int(0)) + " journal_mode=" +
                      mode.at(0).Text(0) + " foreign_keys=" + std::to_string(fk.at(0).Int(0)));
    }
    return Status::OK();
  });
  EXPECT_TRUE(status.ok()) << status.ToString();
  auto fk = db().Query("PRAGMA foreign_keys");
  ASSERT_TRUE(fk.ok());
  EXPECT_EQ(fk->at(0).Int(0), 1);
}

TEST_P(SqliteDatabaseTest, RejectsPlaceholdersOtherThanDollarN) {
  CreateKvTable();
  EXPECT_EQ(db().Exec("INSERT INTO kv (k, v) VALUES (?, 1)", {"a"}).status().code(), StatusCode::kInternal);
  EXPECT_EQ(db().Exec("INSERT INTO kv (k, v) VALUES (:k, 1)", {"a"}).status().code(), StatusCode::kInternal);
  // Given but not used: PostgreSQL refuses that too (it cannot type the parameter).
  EXPECT_EQ(db().Exec("INSERT INTO kv (k, v) VALUES ($1, 1)", {"a", "b"}).status().code(),
            StatusCode::kInternal);
  EXPECT_EQ(Count("kv"), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, SqliteDatabaseTest, ::testing::Values(Backend::kSqlite), BackendName);

class PostgresDatabaseTest : public DatabaseTest {};

TEST_P(PostgresDatabaseTest, ConvertsColumnsByType) {
  auto rows = db().Query(
      "SELECT CAST(1 AS SMALLINT), CAST(2 AS INTEGER), CAST(3 AS BIGINT), CAST(1.5 AS REAL), "
      "CAST(2.25 AS NUMERIC), true, false, CAST('{\"a\": 1}' AS JSONB), CAST('2024-01-02' AS DATE), "
      "CAST(NULL AS BIGINT), CAST('NaN' AS DOUBLE PRECISION)");
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  const Row& row = rows->at(0);
  EXPECT_EQ(std::get<std::int64_t>(row.at(0)), 1);
  EXPECT_EQ(std::get<std::int64_t>(row.at(1)), 2);
  EXPECT_EQ(std::get<std::int64_t>(row.at(2)), 3);
  EXPECT_EQ(std::get<double>(row.at(3)), 1.5);
  EXPECT_EQ(std::get<double>(row.at(4)), 2.25);
  EXPECT_EQ(std::get<std::int64_t>(row.at(5)), 1);
  EXPECT_EQ(std::get<std::int64_t>(row.at(6)), 0);
  EXPECT_EQ(std::get<std::string>(row.at(7)), "{\"a\": 1}");
  EXPECT_EQ(std::get<std::string>(row.at(8)), "2024-01-02");
  EXPECT_TRUE(row.IsNull(9));
  EXPECT_TRUE(std::isnan(std::get<double>(row.at(10))));
}

TEST_P(PostgresDatabaseTest, ReconnectsAfterServerDropsConnections) {
  CreateKvTable();
  // Warm the pool so that idle connections exist to be killed.
  ASSERT_TRUE(db().Exec("INSERT INTO kv (k, v) VALUES ('a', 1)").ok());
  auto server = testing::TestPostgresUrl();
  ASSERT_TRUE(server.ok());
  auto admin = OpenDatabase(*server, {.max_connections = 1});
  ASSERT_TRUE(admin.ok()) << admin.status().ToString();
  auto current = db().Query("SELECT current_database()");
  ASSERT_TRUE(current.ok());
  auto killed = (*admin)->Query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                                {current->at(0).Text(0)});
  ASSERT_TRUE(killed.ok()) << killed.status().ToString();
  ASSERT_FALSE(killed->empty());
  // pg_terminate_backend only signals; wait until the backends are gone.
  for (;;) {
    auto left =
        (*admin)->Query("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = $1", {current->at(0).Text(0)});
    ASSERT_TRUE(left.ok());
    if (left->at(0).Int(0) == 0) break;
    std::this_thread::yield();
  }
  EXPECT_EQ(Count("kv"), 1);
  EXPECT_TRUE(db().Exec("INSERT INTO kv (k, v) VALUES ('b', 1)").ok());
  EXPECT_TRUE(
      db().Transact([](Tx& tx) { return tx.Exec("INSERT INTO kv (k, v) VALUES ('c', 1)").status(); }).ok());
  EXPECT_EQ(Count("kv"), 3);
}

TEST_P(PostgresDatabaseTest, PoolIsBoundedAndWaitsAreBounded) {
  auto small = OpenDatabase(tdb_->url(), {.max_connections = 1, .busy_timeout_ms = 200});
  ASSERT_TRUE(small.ok()) << small.status().ToString();
  Database& one = **small;
  std::promise<void> holding;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::thread holder([&] {
    // Keeps the only connection busy until told to let go.
    (void)one.Transact([&](Tx&) {
      holding.set_value();
      released.wait();
      return Status::OK();
    });
  });
  holding.get_future().wait();
  auto starved = one.Query("SELECT 1");
  release.set_value();
  holder.join();
  EXPECT_EQ(starved.status().code(), StatusCode::kUnavailable) << starved.status().ToString();
  EXPECT_TRUE(one.Query("SELECT 1").ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, PostgresDatabaseTest, ::testing::Values(Backend::kPostgres), BackendName);

void CreatePostgresTestDatabase() { EXPECT_EQ(TestDatabase::Create(Backend::kPostgres), nullptr); }

// Restores an environment variable when it goes out of scope.
class EnvRestorer {
 public:
  explicit EnvRestorer(const char* name) : name_(name) {
    const char* value = std::getenv(name);
    if (value != nullptr) saved_ = value;
  }
  ~EnvRestorer() {
    if (saved_) {
      setenv(name_, saved_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> saved_;
};

TEST(TestDatabaseTest, WithoutAPostgresServerTheTestFails) {
  EnvRestorer restore("FERRY_TEST_POSTGRES_URL");
  unsetenv("FERRY_TEST_POSTGRES_URL");
  EXPECT_NONFATAL_FAILURE(CreatePostgresTestDatabase(), "FERRY_TEST_POSTGRES_URL is not set");
  setenv("FERRY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:1/postgres", 1);
  EXPECT_NONFATAL_FAILURE(CreatePostgresTestDatabase(), "cannot connect to PostgreSQL");
}

TEST(TestDatabaseTest, WithDatabaseNameReplacesOnlyTheName) {
  using testing::WithDatabaseName;
  EXPECT_EQ(WithDatabaseName("postgresql://u@h:1/postgres", "t"), "postgresql://u@h:1/t");
  EXPECT_EQ(WithDatabaseName("postgresql://u@h:1", "t"), "postgresql://u@h:1/t");
  EXPECT_EQ(WithDatabaseName("postgresql://u@h/db?sslmode=disable", "t"),
            "postgresql://u@h/t?sslmode=disable");
  EXPECT_EQ(WithDatabaseName("postgresql://u@h?sslmode=disable", "t"), "postgresql://u@h/t?sslmode=disable");
}

TEST(OpenDatabaseTest, RejectsUnknownSchemes) {
  auto result = OpenDatabase("mysql://root@localhost/db");
  ASSERT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(result.status().message().find("\"mysql\""), std::string::npos) << result.status().ToString();
  EXPECT_EQ(OpenDatabase("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenDatabase("sqlite://").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenDatabase("sqlite:///tmp/x.db?mode=ro").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenDatabase("postgresql:localhost/db").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenDatabase("sqlite://:memory:", {.max_connections = 0}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(OpenDatabaseTest, OpensSqliteByUrlOrPath) {
  auto tdb = TestDatabase::CreateWithMigrations(Backend::kSqlite, {});
  ASSERT_TRUE(tdb);
  const std::string path = tdb->url().substr(std::string("sqlite://").size());
  ASSERT_EQ(path.front(), '/');
  for (const std::string& url : {tdb->url(), path, "SQLite://" + path}) {
    auto db = OpenDatabase(url);
    ASSERT_TRUE(db.ok()) << url << ": " << db.status().ToString();
    EXPECT_EQ((*db)->dialect(), Dialect::kSqlite);
    EXPECT_TRUE((*db)->Ping().ok());
  }
  auto memory = OpenDatabase("sqlite://:memory:");
  ASSERT_TRUE(memory.ok()) << memory.status().ToString();
  ASSERT_TRUE((*memory)->Exec("CREATE TABLE m (x BIGINT)").ok());
  ASSERT_TRUE((*memory)->Exec("INSERT INTO m (x) VALUES (1)").ok());
  EXPECT_EQ((*memory)->Query("SELECT x FROM m")->size(), 1u);
}

TEST(OpenDatabaseTest, UnopenableSqlitePathIsAnError) {
  auto result = OpenDatabase("/nonexistent-dir/sub/x.db");
  EXPECT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("/nonexistent-dir/sub/x.db"), std::string::npos);
}

TEST(OpenDatabaseTest, UnreachablePostgresIsUnavailable) {
  // Port 1 on loopback refuses at once.
  auto result = OpenDatabase("postgresql://ferry:secret-pw@127.0.0.1:1/db?connect_timeout=2");
  ASSERT_EQ(result.status().code(), StatusCode::kUnavailable) << result.status().ToString();
  EXPECT_EQ(result.status().message().find("secret-pw"), std::string::npos) << result.status().message();
}

TEST(OpenDatabaseTest, MalformedPostgresUrlIsInvalidArgument) {
  auto result = OpenDatabase("postgresql://u:pw@host:notaport/db");
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument) << result.status().ToString();
  EXPECT_EQ(result.status().message().find("pw@"), std::string::npos) << result.status().message();
  EXPECT_EQ(OpenDatabase("postgresql://h/db?nosuchoption=1").status().code(), StatusCode::kInvalidArgument);
}

TEST(RedactPostgresUrlTest, DropsPasswords) {
  EXPECT_EQ(RedactPostgresUrl("postgresql://ferry:s3cret@db.example:5432/ferry?sslmode=require"),
            "postgresql://ferry@db.example:5432/ferry?sslmode=require");
  const std::string redacted = RedactPostgresUrl("postgres://u@h/d?password=s3cret&application_name=x");
  EXPECT_EQ(redacted.find("s3cret"), std::string::npos) << redacted;
  EXPECT_EQ(RedactPostgresUrl("postgresql://u:p%40ss@h/d").find("p%40ss"), std::string::npos);
  EXPECT_EQ(RedactPostgresUrl("postgresql://u:pw@h/d?nosuchoption=1"), "postgresql://(unparseable URL)");
}

TEST(RowTest, AccessorsConvertNumbersAndReadNullAsDefault) {
  Row row({std::int64_t{7}, 2.75, std::string("s"), Blob{"b"}, nullptr});
  EXPECT_EQ(row.Int(0), 7);
  EXPECT_EQ(row.Double(0), 7.0);
  EXPECT_EQ(row.Int(1), 2);
  EXPECT_EQ(row.Double(1), 2.75);
  EXPECT_EQ(row.Text(2), "s");
  EXPECT_EQ(row.Text(3), "b");
  EXPECT_EQ(row.Int(4), 0);
  EXPECT_EQ(row.Double(4), 0.0);
  EXPECT_EQ(row.Text(4), "");
  EXPECT_EQ(row.OptInt(0), 7);
  EXPECT_EQ(row.OptText(2), "s");
  EXPECT_EQ(row.OptDouble(4), std::nullopt);
}

TEST(ValidateParamsTest, AcceptsUtf8AndRejectsTheRest) {
  EXPECT_TRUE(internal::ValidateParams({std::string("\xf0\x9f\x9a\x80 \xe2\x82\xac \xc3\xa9 ascii")}).ok());
  EXPECT_TRUE(internal::ValidateParams({Blob{std::string("\0\xff", 2)}, std::int64_t{1}, nullptr}).ok());
  EXPECT_FALSE(internal::ValidateParams({std::string("\xe0\x80\x80")}).ok());  // overlong
  EXPECT_FALSE(internal::ValidateParams({std::string("\xf8\x88\x80\x80\x80")}).ok());
  auto second = internal::ValidateParams({std::string("ok"), std::string("\x80")});
  EXPECT_NE(second.message().find("$2"), std::string::npos) << second.ToString();
  // The first fault in the text is the one named.
  auto nul_first = internal::ValidateParams({std::string("ab\0c\xff", 5)});
  EXPECT_NE(nul_first.message().find("NUL byte at offset 2"), std::string::npos) << nul_first.ToString();
  auto utf8_first = internal::ValidateParams({std::string("a\xc3\0b", 4)});
  EXPECT_NE(utf8_first.message().find("not valid UTF-8 at byte offset 1"), std::string::npos)
      << utf8_first.ToString();
}

}  // namespace
}  // namespace ferry::store
