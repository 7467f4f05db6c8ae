#pragma once
// TestDatabase: a fresh, empty, migrated database for one test, on SQLite or
// PostgreSQL, dropped when the TestDatabase is destroyed. Store tests are
// parameterised over both backends:
//
//   class FooTest : public ::testing::TestWithParam<Backend> {
//    protected:
//     void SetUp() override { tdb_ = TestDatabase::Create(GetParam()); ASSERT_TRUE(tdb_); }
//     std::unique_ptr<TestDatabase> tdb_;
//   };
//   INSTANTIATE_TEST_SUITE_P(Backends, FooTest, AllBackends(), BackendName);
//
// SQLite databases live in a new temporary directory. PostgreSQL ones are
// created as ferry_t_<random> on the server named by FERRY_TEST_POSTGRES_URL,
// which ctest's postgres fixture (scripts/pg-tmp) provides. When that server
// cannot be used the test fails with the reason; it never skips.
//
// Compiled into test binaries only. Thread-safety: db() is a thread-safe
// Database; the TestDatabase itself belongs to the test's thread.

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "ferry/store/database.h"
#include "ferry/store/migrations.h"

namespace ferry::store::testing {

enum class Backend { kSqlite, kPostgres };

// "Sqlite" / "Postgres", for parameterised test names.
std::string BackendName(const ::testing::TestParamInfo<Backend>& info);

inline auto AllBackends() { return ::testing::Values(Backend::kSqlite, Backend::kPostgres); }

class TestDatabase {
 public:
  // A fresh database with AllMigrations() applied; nullptr (with the test
  // marked failed) when it cannot be made.
  static std::unique_ptr<TestDatabase> Create(Backend backend);
  // Like Create, but applies `migrations` instead (empty: none).
  static std::unique_ptr<TestDatabase> CreateWithMigrations(Backend backend,
                                                            const std::vector<Migration>& migrations);

  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  Database& db() { return *db_; }
  Backend backend() const { return backend_; }
  // The URL the database was opened with; OpenDatabase(url()) opens it again.
  std::string url() const { return url_; }
  // Closes the Database and opens it again from url(), as a restart would.
  Status Reopen(const DatabaseOptions& options = {});

 private:
  TestDatabase() = default;
  Status Init(Backend backend, const std::vector<Migration>& migrations);

  Backend backend_ = Backend::kSqlite;
  std::string url_;
  std::string sqlite_dir_;       // SQLite: the temporary directory to remove
  std::string postgres_server_;  // PostgreSQL: server URL to drop the database through
  std::string postgres_name_;
  std::unique_ptr<Database> db_;
};

// A fixture per backend parameter over a fresh database with no migrations
// applied; tests create their own tables.
class EmptyDatabaseTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    tdb_ = TestDatabase::CreateWithMigrations(GetParam(), {});
    ASSERT_TRUE(tdb_);
  }

  Database& db() { return tdb_->db(); }

  std::unique_ptr<TestDatabase> tdb_;
};

// The URL of the PostgreSQL test server, or an error explaining how to get one.
Result<std::string> TestPostgresUrl();

// `url` with its database name replaced by `dbname`.
std::string WithDatabaseName(const std::string& url, const std::string& dbname);

}  // namespace ferry::store::testing
