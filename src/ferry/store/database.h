#pragma once
// Database: the SQL seam under every Ferry store. One interface, two backends
// chosen by URL: SQLite (embedded default, WAL) and PostgreSQL (libpq).
//
// SQL is written once for both: placeholders are $1..$N in both dialects, and
// statements stick to the common subset (ON CONFLICT, RETURNING, standard
// types). Where DDL differs, migrations carry one text per dialect.
//
// Durability: Exec outside a transaction and Transact() return only after the
// write is durable (SQLite synchronous=FULL; PostgreSQL commit).
//
// Thread-safety: a Database is thread-safe; it pools connections. A Tx is
// used by the one thread running the transaction function.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ferry/common/status.h"

namespace ferry::store {

struct Blob {
  std::string bytes;
};

// A bound parameter or a column value.
using Value = std::variant<std::nullptr_t, std::int64_t, double, std::string, Blob>;

// One result row; typed accessors return an error when the column is absent
// or of another type (NULL reads as std::nullopt through the Opt accessors).
class Row {
 public:
  explicit Row(std::vector<Value> values) : values_(std::move(values)) {}
  std::size_t size() const { return values_.size(); }
  const Value& at(std::size_t i) const { return values_.at(i); }
  bool IsNull(std::size_t i) const { return std::holds_alternative<std::nullptr_t>(values_.at(i)); }
  std::int64_t Int(std::size_t i) const;        // NULL -> 0
  double Double(std::size_t i) const;          // integers widen; NULL -> 0
  const std::string& Text(std::size_t i) const;  // Blob bytes too; NULL -> ""

 private:
  std::vector<Value> values_;
};

using Rows = std::vector<Row>;

enum class Dialect { kSqlite, kPostgres };

class Tx {
 public:
  virtual ~Tx() = default;
  virtual Result<Rows> Query(std::string_view sql, const std::vector<Value>& params = {}) = 0;
  // Returns the number of rows changed.
  virtual Result<std::int64_t> Exec(std::string_view sql, const std::vector<Value>& params = {}) = 0;
};

struct DatabaseOptions {
  int max_connections = 8;
  int busy_timeout_ms = 5000;  // SQLite lock wait / PostgreSQL connect timeout
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

// "sqlite:///abs/path.db", "sqlite://relative.db", a plain file path, or
// "postgresql://user:pass@host:port/db?..." (also "postgres://").
Result<std::unique_ptr<Database>> OpenDatabase(std::string_view url, const DatabaseOptions& options = {});

}  // namespace ferry::store
