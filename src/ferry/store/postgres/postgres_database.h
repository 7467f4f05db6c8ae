#pragma once
// The PostgreSQL backend of Database (libpq), for production deployments.
//
// A bounded pool of connections, opened on demand and dropped when broken
// (an idle connection is checked before reuse, so a server restart costs no
// failed request). Statements go through PQexecParams: parameters as text,
// typed int8/float8 for numbers and binary bytea for Blobs; results are
// converted by column type. Transact runs SERIALIZABLE and retries
// serialization failures and deadlocks (SQLSTATE 40001, 40P01): the first
// attempts run concurrently, later ones alone among this Database's writers,
// so a transaction on a hot row is not starved by its rivals.
//
// Thread-safety: thread-safe (see Database).

#include <memory>
#include <string>
#include <string_view>

#include "ferry/store/database.h"

namespace ferry::store {

// Connects to the server named by `url` (postgresql:// or postgres://),
// failing with kUnavailable when it cannot be reached.
Result<std::unique_ptr<Database>> OpenPostgresDatabase(std::string_view url, const DatabaseOptions& options);

// `url` with its password and every query parameter but sslmode left out,
// safe to log: postgresql://user@host:port/dbname.
std::string RedactPostgresUrl(std::string_view url);

}  // namespace ferry::store
