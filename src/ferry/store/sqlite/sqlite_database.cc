#include "ferry/store/sqlite/sqlite_database.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <list>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ferry/common/logging.h"
#include "ferry/store/database_internal.h"

namespace ferry::store {

namespace {

constexpr std::size_t kStatementCacheSize = 64;

Status SqliteError(sqlite3* db, int rc, std::string_view sql) {
  std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  if (!sql.empty()) message += " (in: " + internal::SqlForMessage(sql) + ")";
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) return AlreadyExists(message);
      return Internal(message);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
      return Unavailable(message);
    case SQLITE_FULL:
      return ResourceExhausted(message);
    case SQLITE_TOOBIG:
      return PayloadTooLarge(message);
    case SQLITE_MISMATCH:
      return InvalidArgument(message);
    default:
      return Internal(message);
  }
}

// Resets a statement and drops its bindings (which point into the caller's
// parameters) when a run ends, however it ends.
class StatementReset {
 public:
  explicit StatementReset(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~StatementReset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  StatementReset(const StatementReset&) = delete;
  StatementReset& operator=(const StatementReset&) = delete;

 private:
  sqlite3_stmt* stmt_;
};

// A compiled statement and, for each of its SQLite parameters j (1-based),
// the N of the "$N" it stands for. SQLite numbers distinct names in order of
// first appearance and finds a name's number by a linear scan, so the map is
// worked out once per compiled statement rather than on every execution
// (that scan made binding quadratic in the number of parameters).
struct Prepared {
  sqlite3_stmt* stmt = nullptr;
  std::vector<std::size_t> numbers;  // numbers[j - 1] = N
};

Result<std::vector<std::size_t>> PlaceholderNumbers(sqlite3_stmt* stmt, std::string_view sql) {
  const int count = sqlite3_bind_parameter_count(stmt);
  std::vector<std::size_t> numbers;
  numbers.reserve(count);
  for (int j = 1; j <= count; ++j) {
    const char* name = sqlite3_bind_parameter_name(stmt, j);
    const std::string_view name_view = name != nullptr ? name : "?";
    std::size_t n = 0;
    const char* digits = name_view.data() + 1;
    const char* end = name_view.data() + name_view.size();
    const auto parsed = std::from_chars(digits, end, n);
    if (name_view.front() != '$' || parsed.ec != std::errc() || parsed.ptr != end || n < 1) {
      return Internal("placeholder \"" + std::string(name_view) +
                      "\" is not of the form $N (in: " + internal::SqlForMessage(sql) + ")");
    }
    numbers.push_back(n);
  }
  return numbers;
}

// Binds params[n-1] to every "$n" of the statement. Like PostgreSQL, refuses
// a statement that uses a parameter it was not given or leaves one unused.
Status Bind(sqlite3* db, const Prepared& prepared, std::string_view sql, const std::vector<Value>& params) {
  sqlite3_stmt* stmt = prepared.stmt;
  std::vector<bool> used(params.size(), false);
  for (std::size_t i = 0; i < prepared.numbers.size(); ++i) {
    const int j = static_cast<int>(i + 1);
    const std::size_t n = prepared.numbers[i];
    if (n > params.size()) {
      return Internal("statement uses $" + std::to_string(n) + " but " + std::to_string(params.size()) +
                      " parameters were given (in: " + internal::SqlForMessage(sql) + ")");
    }
    used[n - 1] = true;
    const Value& v = params[n - 1];
    int rc = SQLITE_OK;
    if (std::holds_alternative<std::nullptr_t>(v)) {
      rc = sqlite3_bind_null(stmt, j);
    } else if (const auto* i64 = std::get_if<std::int64_t>(&v)) {
      rc = sqlite3_bind_int64(stmt, j, *i64);
    } else if (const auto* d = std::get_if<double>(&v)) {
      rc = sqlite3_bind_double(stmt, j, *d);
    } else if (const auto* s = std::get_if<std::string>(&v)) {
      rc = sqlite3_bind_text64(stmt, j, s->data(), s->size(), SQLITE_STATIC, SQLITE_UTF8);
    } else if (const auto* b = std::get_if<Blob>(&v)) {
      rc = sqlite3_bind_blob64(stmt, j, b->bytes.data(), b->bytes.size(), SQLITE_STATIC);
    }
    if (rc != SQLITE_OK) return SqliteError(db, rc, sql);
  }
  for (std::size_t p = 0; p < used.size(); ++p) {
    if (!used[p]) {
      return Internal("parameter $" + std::to_string(p + 1) +
                      " is not used by the statement (in: " + internal::SqlForMessage(sql) + ")");
    }
  }
  return Status::OK();
}

Row ReadRow(sqlite3_stmt* stmt, int columns) {
  std::vector<Value> values;
  values.reserve(columns);
  for (int i = 0; i < columns; ++i) {
    switch (sqlite3_column_type(stmt, i)) {
      case SQLITE_INTEGER:
        values.emplace_back(static_cast<std::int64_t>(sqlite3_column_int64(stmt, i)));
        break;
      case SQLITE_FLOAT:
        values.emplace_back(sqlite3_column_double(stmt, i));
        break;
      case SQLITE_TEXT: {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
        const int size = sqlite3_column_bytes(stmt, i);
        values.emplace_back(std::string(text != nullptr ? text : "", text != nullptr ? size : 0));
        break;
      }
      case SQLITE_BLOB: {
        const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt, i));
        const int size = sqlite3_column_bytes(stmt, i);
        values.emplace_back(Blob{std::string(data != nullptr ? data : "", data != nullptr ? size : 0)});
        break;
      }
      default:
        values.emplace_back(nullptr);
        break;
    }
  }
  return Row(std::move(values));
}

Status SyncParentDirectory(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Internal("cannot open directory " + dir + " to sync it: " + std::strerror(errno));
  const int rc = fsync(fd);
  const int error = errno;
  close(fd);
  if (rc != 0) return Internal("cannot sync directory " + dir + ": " + std::strerror(error));
  return Status::OK();
}

// One sqlite3 handle with its prepared-statement cache. Used by one thread at
// a time (the owner of the writer mutex or of a reader lease).
class Connection {
 public:
  static Result<std::unique_ptr<Connection>> Open(const std::string& path, bool reader,
                                                  const DatabaseOptions& options) {
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    if (!reader) flags |= SQLITE_OPEN_CREATE;
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
    if (rc != SQLITE_OK) {
      Status status = SqliteError(db, rc, {}).WithContext("opening SQLite database " + path);
      sqlite3_close_v2(db);
      return status;
    }
    std::unique_ptr<Connection> conn(new Connection(db));
    sqlite3_extended_result_codes(db, 1);
    sqlite3_set_authorizer(db, &Connection::Authorize, conn.get());
    sqlite3_busy_timeout(db, options.busy_timeout_ms);
    const std::string context = "opening SQLite database " + path;
    if (!reader) {
      // Persistent in the file; the readers inherit it.
      ASSIGN_OR_RETURN(std::string mode, conn->QueryText("PRAGMA journal_mode=WAL"));
      if (mode != "wal" && !(mode == "memory" && path == ":memory:")) {
        return FailedPrecondition(context + ": cannot enable WAL (journal_mode is " + mode + ")");
      }
    }
    RETURN_IF_ERROR(conn->ExecSimple("PRAGMA synchronous=FULL").WithContext(context));
    RETURN_IF_ERROR(conn->ExecSimple("PRAGMA foreign_keys=ON").WithContext(context));
    if (reader) RETURN_IF_ERROR(conn->ExecSimple("PRAGMA query_only=ON").WithContext(context));
    return conn;
  }

  ~Connection() {
    for (auto& entry : lru_) sqlite3_finalize(entry.second.stmt);
    sqlite3_close_v2(db_);
  }

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

  // Runs BEGIN, COMMIT or ROLLBACK, which statements of callers may not.
  Status ExecTransactionControl(const std::string& sql) {
    allow_transaction_control_ = true;
    Status status = ExecSimple(sql);
    allow_transaction_control_ = false;
    return status;
  }

  // Runs a parameterless statement or script without caching it.
  Status ExecSimple(const std::string& sql) {
    char* error = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
    if (rc == SQLITE_OK) return Status::OK();
    if (rc == SQLITE_AUTH) {
      sqlite3_free(error);
      return TransactionControlRefused(sql);
    }
    Status status = SqliteError(nullptr, rc, {});
    std::string message = error != nullptr ? error : sqlite3_errstr(rc);
    sqlite3_free(error);
    return Status(status.code(), message + " (in: " + internal::SqlForMessage(sql) + ")");
  }

  // Runs one statement with `params`, returning its rows; `changes` receives
  // the rows it changed.
  Result<Rows> Run(std::string_view sql, const std::vector<Value>& params, std::int64_t* changes) {
    ASSIGN_OR_RETURN(const Prepared* prepared, Prepare(sql));
    sqlite3_stmt* stmt = prepared->stmt;
    StatementReset reset(stmt);
    RETURN_IF_ERROR(Bind(db_, *prepared, sql, params));
    const sqlite3_int64 total_before = sqlite3_total_changes64(db_);
    const int columns = sqlite3_column_count(stmt);
    Rows rows;
    for (;;) {
      const int rc = sqlite3_step(stmt);
      if (rc == SQLITE_ROW) {
        rows.push_back(ReadRow(stmt, columns));
      } else if (rc == SQLITE_DONE) {
        break;
      } else {
        return SqliteError(db_, rc, sql);
      }
    }
    // sqlite3_changes64 keeps the count of the last INSERT/UPDATE/DELETE, so
    // it is stale after DDL; an unchanged total tells the two apart.
    if (changes != nullptr) {
      *changes = sqlite3_total_changes64(db_) != total_before ? sqlite3_changes64(db_) : 0;
    }
    return rows;
  }

  // The cached statement for `sql`, compiling it on first use.
  Result<const Prepared*> Prepare(std::string_view sql) {
    if (const auto it = cache_.find(sql); it != cache_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      return &it->second->second;
    }
    if (sql.size() > static_cast<std::size_t>(INT_MAX)) return PayloadTooLarge("SQL statement too long");
    sqlite3_stmt* stmt = nullptr;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                &stmt, &tail);
    if (rc == SQLITE_AUTH) return TransactionControlRefused(sql);
    if (rc != SQLITE_OK) return SqliteError(db_, rc, sql);
    if (stmt == nullptr) return Internal("empty SQL statement");
    const std::string_view rest(tail, static_cast<std::size_t>(sql.data() + sql.size() - tail));
    if (!rest.empty()) {
      sqlite3_stmt* extra = nullptr;
      rc = sqlite3_prepare_v2(db_, rest.data(), static_cast<int>(rest.size()), &extra, nullptr);
      sqlite3_finalize(extra);
      if (rc != SQLITE_OK || extra != nullptr) {
        sqlite3_finalize(stmt);
        return Internal("Query and Exec run one statement, this text has several (in: " +
                        internal::SqlForMessage(sql) + ")");
      }
    }
    auto numbers = PlaceholderNumbers(stmt, sql);
    if (!numbers.ok()) {
      sqlite3_finalize(stmt);
      return numbers.status();
    }
    if (lru_.size() >= kStatementCacheSize) {
      cache_.erase(lru_.back().first);
      sqlite3_finalize(lru_.back().second.stmt);
      lru_.pop_back();
    }
    lru_.emplace_front(std::string(sql), Prepared{stmt, std::move(numbers).value()});
    cache_.emplace(lru_.front().first, lru_.begin());
    return &lru_.front().second;
  }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}

  // Transactions begin and end in Transact only; a caller's BEGIN or COMMIT
  // (in a statement or a script) would break its atomicity, so it fails to
  // compile. Savepoints go too: they can open a transaction as well.
  static int Authorize(void* self, int action, const char*, const char*, const char*, const char*) {
    if (action != SQLITE_TRANSACTION && action != SQLITE_SAVEPOINT) return SQLITE_OK;
    return static_cast<Connection*>(self)->allow_transaction_control_ ? SQLITE_OK : SQLITE_DENY;
  }

  static Status TransactionControlRefused(std::string_view sql) {
    return Internal(
        "transaction control statements (BEGIN, COMMIT, ROLLBACK, SAVEPOINT) are not allowed; "
        "Transact begins and ends transactions (in: " +
        internal::SqlForMessage(sql) + ")");
  }

  Result<std::string> QueryText(const std::string& sql) {
    ASSIGN_OR_RETURN(Rows rows, Run(sql, {}, nullptr));
    if (rows.empty() || rows[0].size() == 0) return Internal("no result from " + sql);
    return rows[0].Text(0);
  }

  sqlite3* db_;
  bool allow_transaction_control_ = false;
  // Most recently used first; the map's keys view the list's strings.
  std::list<std::pair<std::string, Prepared>> lru_;
  std::unordered_map<std::string_view, std::list<std::pair<std::string, Prepared>>::iterator> cache_;
};

Result<Rows> Execute(Connection& conn, std::string_view sql, const std::vector<Value>& params,
                     std::int64_t* changes) {
  RETURN_IF_ERROR(internal::ValidateParams(params));
  return conn.Run(sql, params, changes);
}

class SqliteTx final : public Tx {
 public:
  explicit SqliteTx(Connection& conn) : conn_(conn) {}

  Result<Rows> Query(std::string_view sql, const std::vector<Value>& params) override {
    RETURN_IF_ERROR(CheckNotAborted());
    return Record(Execute(conn_, sql, params, nullptr));
  }

  Result<std::int64_t> Exec(std::string_view sql, const std::vector<Value>& params) override {
    RETURN_IF_ERROR(CheckNotAborted());
    std::int64_t changes = 0;
    RETURN_IF_ERROR(Record(Execute(conn_, sql, params, &changes)));
    return changes;
  }

  Status ExecScript(std::string_view script) override {
    RETURN_IF_ERROR(CheckNotAborted());
    Status status = conn_.ExecSimple(std::string(script));
    if (!status.ok()) error_ = status;
    return status;
  }

  // The first error a statement of this transaction hit, or OK.
  const Status& error() const { return error_; }

 private:
  Status CheckNotAborted() const {
    if (error_.ok()) return Status::OK();
    return FailedPrecondition("transaction is aborted by an earlier error: " + error_.message());
  }

  Result<Rows> Record(Result<Rows> rows) {
    if (!rows.ok()) error_ = rows.status();
    return rows;
  }

  Connection& conn_;
  Status error_;
};

class SqliteDatabase final : public Database {
 public:
  SqliteDatabase(std::string path, std::unique_ptr<Connection> writer,
                 std::vector<std::unique_ptr<Connection>> readers)
      : path_(std::move(path)), writer_(std::move(writer)), readers_(std::move(readers)) {
    for (auto& r : readers_) idle_readers_.push_back(r.get());
  }

  Dialect dialect() const override { return Dialect::kSqlite; }
  std::string redacted_url() const override { return "sqlite://" + path_; }

  Result<Rows> Query(std::string_view sql, const std::vector<Value>& params) override {
    RETURN_IF_ERROR(internal::TransactionScope::CheckNotInside(this, "Query"));
    if (!readers_.empty()) {
      ReaderLease lease(*this);
      ASSIGN_OR_RETURN(const Prepared* prepared, lease->Prepare(sql));
      if (sqlite3_stmt_readonly(prepared->stmt)) return Execute(*lease, sql, params, nullptr);
    }
    std::lock_guard lock(writer_mu_);
    return Execute(*writer_, sql, params, nullptr);
  }

  Result<std::int64_t> Exec(std::string_view sql, const std::vector<Value>& params) override {
    RETURN_IF_ERROR(internal::TransactionScope::CheckNotInside(this, "Exec"));
    std::lock_guard lock(writer_mu_);
    std::int64_t changes = 0;
    RETURN_IF_ERROR(Execute(*writer_, sql, params, &changes));
    return changes;
  }

  Status Transact(const std::function<Status(Tx&)>& fn) override {
    RETURN_IF_ERROR(internal::TransactionScope::CheckNotInside(this, "Transact"));
    std::lock_guard lock(writer_mu_);
    internal::TransactionScope scope(this);
    // IMMEDIATE takes the write lock up front: a single writer cannot lose a
    // serialization conflict, so there is nothing to retry.
    RETURN_IF_ERROR(writer_->ExecTransactionControl("BEGIN IMMEDIATE"));
    SqliteTx tx(*writer_);
    Status status = internal::RunTransactionFunction(fn, tx);
    if (status.ok()) status = tx.error();
    if (status.ok()) {
      status = writer_->ExecTransactionControl("COMMIT");
      if (status.ok()) return status;
    }
    if (writer_->InTransaction()) {
      const Status rollback = writer_->ExecTransactionControl("ROLLBACK");
      if (!rollback.ok()) {
        LogEvent(spdlog::level::err, "sqlite rollback failed",
                 {{"database", path_}, {"error", rollback.message()}});
      }
    }
    return status;
  }

  Status Ping() override { return Query("SELECT 1", {}).status(); }

 private:
  // Borrows an idle reader connection for the lifetime of the lease.
  class ReaderLease {
   public:
    explicit ReaderLease(SqliteDatabase& db) : db_(db) {
      std::unique_lock lock(db_.readers_mu_);
      db_.readers_cv_.wait(lock, [&] { return !db_.idle_readers_.empty(); });
      conn_ = db_.idle_readers_.back();
      db_.idle_readers_.pop_back();
    }
    ~ReaderLease() {
      {
        std::lock_guard lock(db_.readers_mu_);
        db_.idle_readers_.push_back(conn_);
      }
      db_.readers_cv_.notify_one();
    }
    ReaderLease(const ReaderLease&) = delete;
    ReaderLease& operator=(const ReaderLease&) = delete;
    Connection& operator*() const { return *conn_; }
    Connection* operator->() const { return conn_; }

   private:
    SqliteDatabase& db_;
    Connection* conn_;
  };

  const std::string path_;
  std::mutex writer_mu_;
  std::unique_ptr<Connection> writer_;
  std::vector<std::unique_ptr<Connection>> readers_;
  std::mutex readers_mu_;
  std::condition_variable readers_cv_;
  std::vector<Connection*> idle_readers_;
};

}  // namespace

Result<std::unique_ptr<Database>> OpenSqliteDatabase(const std::string& path,
                                                     const DatabaseOptions& options) {
  if (path.empty()) return InvalidArgument("SQLite database path is empty");
  if (path.find('\0') != std::string::npos) {
    return InvalidArgument("SQLite database path contains a NUL byte");
  }
  if (sqlite3_threadsafe() == 0) return FailedPrecondition("SQLite was built without thread support");
  const bool in_memory = path == ":memory:";
  struct stat before;
  const bool created = !in_memory && stat(path.c_str(), &before) != 0 && errno == ENOENT;
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> writer, Connection::Open(path, false, options));
  // SQLite syncs the directory when it creates the WAL, not when it creates
  // the database file; without this a power cut could lose a new database
  // with every write acknowledged in it.
  if (created) RETURN_IF_ERROR(SyncParentDirectory(path));
  std::vector<std::unique_ptr<Connection>> readers;
  // An in-memory database is private to its connection, so the writer does everything.
  const int reader_count = in_memory ? 0 : options.max_connections - 1;
  for (int i = 0; i < reader_count; ++i) {
    ASSIGN_OR_RETURN(std::unique_ptr<Connection> reader, Connection::Open(path, true, options));
    readers.push_back(std::move(reader));
  }
  return std::unique_ptr<Database>(new SqliteDatabase(path, std::move(writer), std::move(readers)));
}

}  // namespace ferry::store
