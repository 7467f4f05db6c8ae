#include "ferry/store/migrations.h"

#include <cassert>
#include <map>
#include <string>

#include "ferry/common/env.h"
#include "ferry/common/logging.h"
#include "ferry/common/time.h"
#include "ferry/store/migrations_internal.h"

namespace ferry::store {

namespace {

constexpr std::string_view kCreateSchemaMigrations =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " applied_at TEXT NOT NULL)";

std::string Label(int version, std::string_view name) {
  char digits[16];
  std::snprintf(digits, sizeof(digits), "%04d", version);
  return std::string(digits) + "_" + std::string(name);
}

Status ValidateMigrations(const std::vector<Migration>& migrations) {
  int previous = 0;
  for (const Migration& m : migrations) {
    if (m.version <= previous) {
      return InvalidArgument("migration " + Label(m.version, m.name) + " does not follow version " +
                             std::to_string(previous) + "; versions must be positive and increasing");
    }
    if (m.name.empty()) return InvalidArgument("migration " + std::to_string(m.version) + " has no name");
    previous = m.version;
  }
  return Status::OK();
}

// version -> name of every migration recorded in the database.
Result<std::map<int, std::string>> ReadApplied(Database& db) {
  ASSIGN_OR_RETURN(Rows rows, db.Query("SELECT version, name FROM schema_migrations ORDER BY version"));
  std::map<int, std::string> applied;
  for (const Row& row : rows) applied.emplace(static_cast<int>(row.Int(0)), row.Text(1));
  return applied;
}

// Refuses a database this binary cannot safely migrate: one migrated by a
// newer binary, or by a build whose migrations differ from ours.
Status CheckCompatible(const std::map<int, std::string>& applied, const std::vector<Migration>& migrations) {
  if (applied.empty()) return Status::OK();
  const int newest_applied = applied.rbegin()->first;
  const int newest_known = migrations.empty() ? 0 : migrations.back().version;
  if (newest_applied > newest_known) {
    return FailedPrecondition("database schema is at version " + std::to_string(newest_applied) +
                              ", newer than this binary's latest migration " + std::to_string(newest_known) +
                              "; run a Ferry release that knows version " + std::to_string(newest_applied));
  }
  std::map<int, const Migration*> known;
  for (const Migration& m : migrations) known.emplace(m.version, &m);
  for (const auto& [version, name] : applied) {
    const auto it = known.find(version);
    if (it == known.end()) {
      return FailedPrecondition("database records migration " + Label(version, name) +
                                ", which this binary does not have");
    }
    if (it->second->name != name) {
      return FailedPrecondition("database records migration " + Label(version, name) +
                                " but this binary's is " + Label(version, it->second->name));
    }
  }
  for (const Migration& m : migrations) {
    if (m.version < newest_applied && applied.count(m.version) == 0) {
      return FailedPrecondition("migration " + Label(m.version, m.name) + " is not applied but the later " +
                                Label(newest_applied, applied.rbegin()->second) + " is");
    }
  }
  return Status::OK();
}

Status Apply(Database& db, const Migration& m) {
  const std::string& sql =
      db.dialect() == Dialect::kPostgres && !m.postgres_sql.empty() ? m.postgres_sql : m.sqlite_sql;
  const std::string applied_at = FormatRfc3339Micros(Env::Default()->NowMicros());
  return db.Transact([&](Tx& tx) -> Status {
    // The record goes first: a concurrent migrator then waits on its primary
    // key and fails there, before running any of the script.
    RETURN_IF_ERROR(tx.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                            {std::int64_t{m.version}, m.name, applied_at}));
    return tx.ExecScript(sql);
  });
}

}  // namespace

namespace internal {

Result<std::vector<Migration>> MigrationsFromFiles(std::span<const EmbeddedMigrationFile> files) {
  std::map<int, Migration> by_version;
  std::map<int, const EmbeddedMigrationFile*> postgres_variants;
  for (const EmbeddedMigrationFile& file : files) {
    const std::string label = Label(file.version, file.name) + (file.postgres ? ".postgres.sql" : ".sql");
    if (file.version <= 0) return InvalidArgument("migration " + label + ": versions start at 1");
    if (file.postgres) {
      if (!postgres_variants.emplace(file.version, &file).second) {
        return InvalidArgument("migration " + label + ": version used twice");
      }
      continue;
    }
    Migration m{file.version, std::string(file.name), std::string(file.sql), ""};
    if (!by_version.emplace(file.version, std::move(m)).second) {
      return InvalidArgument("migration " + label + ": version used twice");
    }
  }
  for (const auto& [version, file] : postgres_variants) {
    const auto it = by_version.find(version);
    const std::string label = Label(version, file->name) + ".postgres.sql";
    if (it == by_version.end()) return InvalidArgument("migration " + label + " has no portable .sql file");
    if (it->second.name != file->name) {
      return InvalidArgument("migration " + label + " is named " + it->second.name + " in its portable file");
    }
    it->second.postgres_sql = std::string(file->sql);
  }
  std::vector<Migration> migrations;
  for (auto& [version, m] : by_version) migrations.push_back(std::move(m));
  return migrations;
}

}  // namespace internal

const std::vector<Migration>& AllMigrations() {
  static const std::vector<Migration>* const kAll = [] {
    auto migrations = internal::MigrationsFromFiles(internal::EmbeddedMigrationFiles());
    // embed_migrations.cmake enforces the same rules at build time.
    assert(migrations.ok());
    if (!migrations.ok()) {
      LogEvent(spdlog::level::critical, "embedded migrations are inconsistent",
               {{"error", migrations.status().message()}});
      return new std::vector<Migration>();
    }
    return new std::vector<Migration>(std::move(migrations).value());
  }();
  return *kAll;
}

Result<int> Migrate(Database& db, const std::vector<Migration>& migrations) {
  RETURN_IF_ERROR(ValidateMigrations(migrations));
  Status created = db.Exec(kCreateSchemaMigrations).status();
  if (!created.ok()) {
    // Two processes creating the table at once on PostgreSQL: one loses on
    // the catalog's unique index, and the table exists when it looks again.
    created = db.Exec(kCreateSchemaMigrations).status();
  }
  RETURN_IF_ERROR(created.WithContext("creating schema_migrations"));
  ASSIGN_OR_RETURN(auto applied, ReadApplied(db));
  RETURN_IF_ERROR(CheckCompatible(applied, migrations));
  for (const Migration& m : migrations) {
    if (applied.count(m.version) != 0) continue;
    const Status status = Apply(db, m);
    if (!status.ok()) {
      // Another process may have applied it first; that is success too.
      ASSIGN_OR_RETURN(applied, ReadApplied(db));
      const auto it = applied.find(m.version);
      if (it == applied.end() || it->second != m.name) {
        return status.WithContext("applying migration " + Label(m.version, m.name));
      }
      continue;
    }
    applied.emplace(m.version, m.name);
    LogEvent(spdlog::level::info, "schema migration applied",
             {{"version", m.version}, {"name", m.name}, {"database", db.redacted_url()}});
  }
  return applied.empty() ? 0 : applied.rbegin()->first;
}

}  // namespace ferry::store
