#pragma once
// The SQLite backend of Database, the embedded default.
//
// Acknowledged writes survive kill -9 and power loss: WAL with
// synchronous=FULL. One writer connection, serialised by a mutex, runs Exec
// and Transact (BEGIN IMMEDIATE, so a transaction never fails half-way on a
// lock upgrade); a pool of query_only reader connections runs Query
// concurrently with the writer, which WAL allows. A Query that writes
// (INSERT ... RETURNING) goes to the writer. Each connection caches its
// prepared statements. ":memory:" gets a single connection.
//
// Thread-safety: thread-safe (see Database).

#include <memory>
#include <string>

#include "ferry/store/database.h"

namespace ferry::store {

// Opens, creating it if absent, the SQLite database file at `path`.
Result<std::unique_ptr<Database>> OpenSqliteDatabase(const std::string& path, const DatabaseOptions& options);

}  // namespace ferry::store
