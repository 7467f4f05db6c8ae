#pragma once
// Database: the SQL seam under every Ferry store. One interface, two backends
// chosen by URL: SQLite (embedded default, WAL) and PostgreSQL (libpq).
//
// SQL is written once for both: placeholders are $1..$N in both dialects (a
// number may appear several times; every parameter must be used), and
// statements stick to the common subset (ON CONFLICT, RETURNING, standard
// types, CAST rather than ::, INTEGER 0/1 rather than BOOLEAN). Query and Exec
// take exactly one statement. Where DDL differs, migrations carry one text per
// dialect. Transact alone begins and ends transactions: BEGIN, COMMIT,
// ROLLBACK and savepoints are refused everywhere else.
//
// Text parameters must be valid UTF-8 without NUL bytes (PostgreSQL cannot
// store either in text); binary data goes in a Blob.
//
// Transactions are serializable on both backends (SQLite has one writer;
// PostgreSQL runs SERIALIZABLE and retries serialization failures), so a
// read-modify-write written against SQLite stays correct on PostgreSQL. A
// statement that fails inside a transaction aborts it on both backends, as
// PostgreSQL does: later statements of that Tx fail and Transact rolls back
// even if the function swallows the error. Use ON CONFLICT, not a caught
// error, for "insert unless present".
//
// Durability: Exec outside a transaction and Transact() return only after the
// write is durable (SQLite synchronous=FULL; PostgreSQL commit).
//
// Errors: UNIQUE / PRIMARY KEY violations are kAlreadyExists, malformed data
// values kInvalidArgument, a lost or unreachable server and lock timeouts
// kUnavailable, anything else (bad SQL, other constraints) kInternal. Messages
// carry the backend's text and the start of the statement, never parameters.
//
// Thread-safety: a Database is thread-safe; it pools connections. A Tx is
// used by the one thread running the transaction function, which must not call
// back into the same Database (that returns kFailedPrecondition).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ferry/common/status.h"

namespace ferry::store {

struct Blob {
  std::string bytes;
  bool operator==(const Blob&) const = default;
};

// A bound parameter or a column value.
using Value = std::variant<std::nullptr_t, std::int64_t, double, std::string, Blob>;

// One result row. Columns come back as the backend stores them: integers
// (and PostgreSQL booleans, as 0/1) as int64, floating-point and NUMERIC as
// double, BLOB/bytea as Blob, everything else as text. The plain accessors
// read NULL as 0 / "" and convert between the numeric types; reading another
// type (or a column past the end) is a programming error that asserts in
// debug builds and reads as 0 / "" otherwise. The Opt accessors read NULL as
// std::nullopt.
class Row {
 public:
  explicit Row(std::vector<Value> values) : values_(std::move(values)) {}
  std::size_t size() const { return values_.size(); }
  const Value& at(std::size_t i) const { return values_.at(i); }
  bool IsNull(std::size_t i) const { return std::holds_alternative<std::nullptr_t>(values_.at(i)); }
  std::int64_t Int(std::size_t i) const;         // doubles truncate; NULL -> 0
  double Double(std::size_t i) const;            // integers widen; NULL -> 0
  const std::string& Text(std::size_t i) const;  // Blob bytes too; NULL -> ""
  std::optional<std::int64_t> OptInt(std::size_t i) const;
  std::optional<double> OptDouble(std::size_t i) const;
  std::optional<std::string> OptText(std::size_t i) const;

 private:
  std::vector<Value> values_;
};

using Rows = std::vector<Row>;

enum class Dialect { kSqlite, kPostgres };

class Tx {
 public:
  virtual ~Tx() = default;
  // Runs one statement and returns its rows (RETURNING works too).
  virtual Result<Rows> Query(std::string_view sql, const std::vector<Value>& params = {}) = 0;
  // Returns the number of rows changed by an INSERT, UPDATE or DELETE (0 otherwise).
  virtual Result<std::int64_t> Exec(std::string_view sql, const std::vector<Value>& params = {}) = 0;
  // Runs a script of several parameterless statements (migrations).
  virtual Status ExecScript(std::string_view script) = 0;
};

struct DatabaseOptions {
  int max_connections = 8;
  int busy_timeout_ms = 5000;  // SQLite lock wait / PostgreSQL connect and pool wait
};

class Database {
 public:
  virtual ~Database() = default;
  virtual Dialect dialect() const = 0;
  // A URL with the password removed, safe to log.
  virtual std::string redacted_url() const = 0;

  // Single statements in their own implicit transaction.
  virtual Result<Rows> Query(std::string_view sql, const std::vector<Value>& params = {}) = 0;
  virtual Result<std::int64_t> Exec(std::string_view sql, const std::vector<Value>& params = {}) = 0;

  // Runs `fn` in a read-write transaction and commits if it returns OK (rolls
  // back otherwise, and returns fn's status). Serialisation failures are
  // retried a few times; `fn` must therefore be safe to run again.
  virtual Status Transact(const std::function<Status(Tx&)>& fn) = 0;

  // Cheap liveness check for /readyz.
  virtual Status Ping() = 0;
};

// "sqlite:///abs/path.db", "sqlite://relative.db", "sqlite://:memory:", a
// plain file path, or "postgresql://user:pass@host:port/db?..." (also
// "postgres://"). Any other scheme is kInvalidArgument.
Result<std::unique_ptr<Database>> OpenDatabase(std::string_view url, const DatabaseOptions& options = {});

}  // namespace ferry::store
