#pragma once
// Versioned schema migrations, applied in order at start-up inside one
// transaction each, recorded in table schema_migrations(version, name,
// applied_at). A database newer than this binary is refused.

#include <string>
#include <vector>

#include "ferry/store/database.h"

namespace ferry::store {

struct Migration {
  int version;
  std::string name;
  std::string sqlite_sql;    // may hold several statements
  std::string postgres_sql;  // empty: same as sqlite_sql
};

// Every migration Ferry knows, in version order.
const std::vector<Migration>& AllMigrations();

// Applies the migrations not yet recorded; returns the schema version.
Result<int> Migrate(Database& db, const std::vector<Migration>& migrations = AllMigrations());

}  // namespace ferry::store
