#include "ferry/store/migrations.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "ferry/store/migrations_internal.h"
#include "ferry/store/testing/test_database.h"

namespace ferry::store {
namespace {

using testing::AllBackends;
using testing::Backend;
using testing::BackendName;
using testing::TestDatabase;

const Migration kCreateA{1, "create_a",
                         "-- a comment; with a semicolon\n"
                         "CREATE TABLE a (id BIGINT PRIMARY KEY, note TEXT);\n"
                         "INSERT INTO a (id, note) VALUES (1, 'one; still one statement');\n",
                         ""};
const Migration kCreateB{2, "create_b",
                         "CREATE TABLE b (id BIGINT PRIMARY KEY);\n"
                         "CREATE INDEX b_id ON b (id);\n"
                         "INSERT INTO a (id, note) VALUES (2, 'from b');",
                         ""};
const Migration kPerDialect{3, "per_dialect", "CREATE TABLE only_sqlite (x BIGINT);",
                            "CREATE TABLE only_postgres (x BIGINT);"};

class MigrationsTest : public testing::EmptyDatabaseTest {
 protected:
  std::int64_t Count(const std::string& table) {
    auto rows = db().Query("SELECT COUNT(*) FROM " + table);
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    return rows.ok() ? rows->at(0).Int(0) : -1;
  }

  bool TableExists(const std::string& table) { return db().Query("SELECT COUNT(*) FROM " + table).ok(); }

};

TEST_P(MigrationsTest, AppliesInOrderAndRecordsEach) {
  auto version = Migrate(db(), {kCreateA, kCreateB});
  ASSERT_TRUE(version.ok()) << version.status().ToString();
  EXPECT_EQ(*version, 2);
  EXPECT_EQ(Count("a"), 2);
  EXPECT_EQ(Count("b"), 0);
  auto rows = db().Query("SELECT version, name, applied_at FROM schema_migrations ORDER BY version");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ(rows->at(0).Int(0), 1);
  EXPECT_EQ(rows->at(0).Text(1), "create_a");
  EXPECT_EQ(rows->at(1).Text(1), "create_b");
  EXPECT_EQ(rows->at(1).Text(2).back(), 'Z');
}

TEST_P(MigrationsTest, IsIdempotent) {
  ASSERT_TRUE(Migrate(db(), {kCreateA, kCreateB}).ok());
  auto again = Migrate(db(), {kCreateA, kCreateB});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, 2);
  // The INSERTs in the scripts ran once.
  EXPECT_EQ(Count("a"), 2);
  EXPECT_EQ(Count("schema_migrations"), 2);
}

TEST_P(MigrationsTest, AppliesOnlyWhatIsNew) {
  ASSERT_EQ(*Migrate(db(), {kCreateA}), 1);
  EXPECT_FALSE(TableExists("b"));
  auto version = Migrate(db(), {kCreateA, kCreateB});
  ASSERT_TRUE(version.ok()) << version.status().ToString();
  EXPECT_EQ(*version, 2);
  EXPECT_EQ(Count("a"), 2);
  EXPECT_TRUE(TableExists("b"));
}

TEST_P(MigrationsTest, EmptyListOnEmptyDatabaseIsVersionZero) {
  auto version = Migrate(db(), {});
  ASSERT_TRUE(version.ok()) << version.status().ToString();
  EXPECT_EQ(*version, 0);
}

TEST_P(MigrationsTest, RefusesNewerSchema) {
  ASSERT_TRUE(Migrate(db(), {kCreateA, kCreateB}).ok());
  auto older_binary = Migrate(db(), {kCreateA});
  ASSERT_EQ(older_binary.status().code(), StatusCode::kFailedPrecondition);
  const std::string message = older_binary.status().message();
  EXPECT_NE(message.find("version 2"), std::string::npos) << message;
  EXPECT_NE(message.find("migration 1"), std::string::npos) << message;
  EXPECT_EQ(Migrate(db(), {}).status().code(), StatusCode::kFailedPrecondition);
}

TEST_P(MigrationsTest, RefusesMigrationsFromAnotherBuild) {
  ASSERT_TRUE(Migrate(db(), {kCreateA}).ok());
  Migration renamed = kCreateA;
  renamed.name = "something_else";
  auto result = Migrate(db(), {renamed});
  EXPECT_EQ(result.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(result.status().message().find("something_else"), std::string::npos);
}

TEST_P(MigrationsTest, RefusesAGapBeforeTheNewestApplied) {
  Migration third = kPerDialect;
  ASSERT_TRUE(Migrate(db(), {kCreateA, third}).ok());
  auto result = Migrate(db(), {kCreateA, kCreateB, third});
  EXPECT_EQ(result.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(result.status().message().find("0002_create_b"), std::string::npos) << result.status().message();
}

TEST_P(MigrationsTest, FailedMigrationLeavesNoTrace) {
  ASSERT_TRUE(Migrate(db(), {kCreateA}).ok());
  const Migration broken{2, "broken",
                         "CREATE TABLE half (x BIGINT);\nINSERT INTO a (id) VALUES (10);\nNOT SQL;", ""};
  auto result = Migrate(db(), {kCreateA, broken});
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("0002_broken"), std::string::npos) << result.status().message();
  // DDL is transactional on both backends: the whole migration rolled back.
  EXPECT_FALSE(TableExists("half"));
  EXPECT_EQ(Count("a"), 1);
  EXPECT_EQ(Count("schema_migrations"), 1);
  // Once fixed, it applies.
  EXPECT_EQ(*Migrate(db(), {kCreateA, kCreateB}), 2);
}

TEST_P(MigrationsTest, UsesThePostgresTextOnPostgres) {
  ASSERT_TRUE(Migrate(db(), {kCreateA, kCreateB, kPerDialect}).ok());
  const bool postgres = db().dialect() == Dialect::kPostgres;
  EXPECT_EQ(TableExists("only_postgres"), postgres);
  EXPECT_EQ(TableExists("only_sqlite"), !postgres);
}

TEST_P(MigrationsTest, RefusesScriptsThatEndTheTransaction) {
  for (const char* control : {"COMMIT;", "  rollback ;", "BEGIN;", "SAVEPOINT s;", "/* c */ END;"}) {
    const Migration sneaky{1, "sneaky", std::string("CREATE TABLE s (x BIGINT);\n") + control, ""};
    auto result = Migrate(db(), {sneaky});
    EXPECT_FALSE(result.ok()) << control;
    EXPECT_NE(result.status().message().find("transaction control"), std::string::npos)
        << result.status().ToString();
    // Refused before anything committed.
    EXPECT_FALSE(TableExists("s")) << control;
    EXPECT_EQ(Count("schema_migrations"), 0) << control;
  }
}

TEST_P(MigrationsTest, KeywordsInsideQuotesAndCommentsAreData) {
  const Migration quoted{
      1, "quoted",
      "CREATE TABLE q (s TEXT);\n"
      "INSERT INTO q (s) VALUES ('x; COMMIT; y');\n"
      "-- COMMIT;\n"
      "/* ROLLBACK; */ INSERT INTO q (s) VALUES ('it''s; BEGIN');\n",
      "CREATE TABLE q (s TEXT);\n"
      "INSERT INTO q (s) VALUES ('x; COMMIT; y');\n"
      "-- COMMIT;\n"
      "/* nested /* ROLLBACK; */ still comment */ INSERT INTO q (s) VALUES (E'it\\'s; BEGIN');\n"
      "CREATE FUNCTION q_count() RETURNS BIGINT AS $body$ BEGIN RETURN (SELECT COUNT(*) FROM q); END $body$ "
      "LANGUAGE plpgsql;\n"};
  auto version = Migrate(db(), {quoted});
  ASSERT_TRUE(version.ok()) << version.status().ToString();
  auto rows = db().Query("SELECT s FROM q ORDER BY s");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ(rows->at(0).Text(0), "it's; BEGIN");
  EXPECT_EQ(rows->at(1).Text(0), "x; COMMIT; y");
}

TEST_P(MigrationsTest, RejectsBadMigrationLists) {
  EXPECT_EQ(Migrate(db(), {kCreateB, kCreateA}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Migrate(db(), {kCreateA, kCreateA}).status().code(), StatusCode::kInvalidArgument);
  const Migration zero{0, "zero", "SELECT 1", ""};
  EXPECT_EQ(Migrate(db(), {zero}).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(MigrationsTest, ConcurrentMigratorsApplyEachMigrationOnce) {
  constexpr int kMigrators = 4;
  std::vector<std::unique_ptr<Database>> dbs;
  for (int i = 0; i < kMigrators; ++i) {
    auto opened = OpenDatabase(tdb_->url());
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    dbs.push_back(std::move(opened).value());
  }
  std::vector<Status> results(kMigrators);
  std::vector<int> versions(kMigrators, -1);
  std::vector<std::thread> threads;
  for (int i = 0; i < kMigrators; ++i) {
    threads.emplace_back([&, i] {
      auto version = Migrate(*dbs[i], {kCreateA, kCreateB});
      results[i] = version.status();
      if (version.ok()) versions[i] = *version;
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kMigrators; ++i) {
    EXPECT_TRUE(results[i].ok()) << results[i].ToString();
    EXPECT_EQ(versions[i], 2);
  }
  EXPECT_EQ(Count("a"), 2);
  EXPECT_EQ(Count("schema_migrations"), 2);
}

TEST_P(MigrationsTest, AllMigrationsApplyAndAreIdempotent) {
  auto version = Migrate(db());
  ASSERT_TRUE(version.ok()) << version.status().ToString();
  EXPECT_EQ(*version, AllMigrations().empty() ? 0 : AllMigrations().back().version);
  auto again = Migrate(db());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, *version);
}

INSTANTIATE_TEST_SUITE_P(Backends, MigrationsTest, AllBackends(), BackendName);

TEST(AllMigrationsTest, VersionsIncreaseFromOne) {
  const auto& all = AllMigrations();
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].version, static_cast<int>(i) + 1) << all[i].name;
    EXPECT_FALSE(all[i].name.empty());
    EXPECT_FALSE(all[i].sqlite_sql.empty()) << all[i].name;
  }
}

TEST(MigrationsFromFilesTest, PairsPostgresVariants) {
  using internal::EmbeddedMigrationFile;
  const std::vector<EmbeddedMigrationFile> files = {
      {1, "first", true, "PG 1"},
      {1, "first", false, "SQL 1"},
      {2, "second", false, "SQL 2"},
  };
  auto migrations = internal::MigrationsFromFiles(files);
  ASSERT_TRUE(migrations.ok()) << migrations.status().ToString();
  ASSERT_EQ(migrations->size(), 2u);
  EXPECT_EQ((*migrations)[0].version, 1);
  EXPECT_EQ((*migrations)[0].sqlite_sql, "SQL 1");
  EXPECT_EQ((*migrations)[0].postgres_sql, "PG 1");
  EXPECT_EQ((*migrations)[1].name, "second");
  EXPECT_EQ((*migrations)[1].postgres_sql, "");
}

TEST(MigrationsFromFilesTest, RejectsInconsistentFiles) {
  using internal::EmbeddedMigrationFile;
  using Files = std::vector<EmbeddedMigrationFile>;
  EXPECT_FALSE(internal::MigrationsFromFiles(Files{{1, "a", false, "x"}, {1, "b", false, "y"}}).ok());
  EXPECT_FALSE(internal::MigrationsFromFiles(Files{{1, "a", true, "x"}}).ok());
  EXPECT_FALSE(internal::MigrationsFromFiles(Files{{1, "a", false, "x"}, {1, "b", true, "y"}}).ok());
  EXPECT_FALSE(internal::MigrationsFromFiles(Files{{0, "a", false, "x"}}).ok());
  EXPECT_TRUE(internal::MigrationsFromFiles(Files{}).ok());
}

}  // namespace
}  // namespace ferry::store
