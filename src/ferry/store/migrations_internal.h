#pragma once
// How migrations reach the binary: embed_migrations.cmake turns every
// migrations/NNNN_name.sql (portable SQL) and NNNN_name.postgres.sql (the
// PostgreSQL text of the same migration, when the dialects differ) into an
// EmbeddedMigrationFile at build time; AllMigrations() assembles them.
//
// Thread-safety: immutable data and pure functions.

#include <span>
#include <string_view>
#include <vector>

#include "ferry/common/status.h"
#include "ferry/store/migrations.h"

namespace ferry::store::internal {

struct EmbeddedMigrationFile {
  int version;
  std::string_view name;  // "resources" for 0001_resources.sql
  bool postgres;          // the .postgres.sql variant
  std::string_view sql;
};

// Every embedded file, in file-name order (generated code).
std::span<const EmbeddedMigrationFile> EmbeddedMigrationFiles();

// Pairs each portable file with its PostgreSQL variant, in version order;
// rejects duplicate versions, a variant without a portable file, and names
// that differ between the two.
Result<std::vector<Migration>> MigrationsFromFiles(std::span<const EmbeddedMigrationFile> files);

}  // namespace ferry::store::internal
