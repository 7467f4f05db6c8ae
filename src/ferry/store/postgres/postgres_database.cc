#include "ferry/store/postgres/postgres_database.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "ferry/common/logging.h"
#include "ferry/store/database_internal.h"

namespace ferry::store {

namespace {

// Type OIDs from PostgreSQL's pg_type.dat; they are fixed for built-in types.
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kFloat4Oid = 700;
constexpr Oid kFloat8Oid = 701;
constexpr Oid kNumericOid = 1700;

// The most parameters the wire protocol can carry (a 16-bit count).
constexpr std::size_t kMaxParams = 65535;

// Transact runs a function at most this many times; after kOptimisticAttempts
// lost conflicts it runs alone (see TransactionGate).
constexpr int kMaxTransactAttempts = 12;
constexpr int kOptimisticAttempts = 3;

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

std::string TrimmedError(const char* text) {
  std::string s = text != nullptr ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// What looks like the password in a URL that libpq could not parse, so that
// it can be cut out of libpq's error message.
std::string CrudePassword(std::string_view url) {
  const std::size_t start = url.find("://");
  if (start == std::string_view::npos) return "";
  const std::string_view rest = url.substr(start + 3);
  const std::size_t at = rest.rfind('@', rest.find_first_of("?"));
  if (at == std::string_view::npos) return "";
  const std::size_t colon = rest.find(':');
  if (colon == std::string_view::npos || colon > at) return "";
  return std::string(rest.substr(colon + 1, at - colon - 1));
}

std::string Redacted(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (std::size_t pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos + 3)) {
    text.replace(pos, secret.size(), "***");
  }
  return text;
}

struct ConninfoDeleter {
  void operator()(PQconninfoOption* o) const { PQconninfoFree(o); }
};
using ConninfoPtr = std::unique_ptr<PQconninfoOption, ConninfoDeleter>;

Result<ConninfoPtr> ParseUrl(const std::string& url) {
  if (url.find('\0') != std::string::npos) return InvalidArgument("PostgreSQL URL contains a NUL byte");
  char* error = nullptr;
  ConninfoPtr options(PQconninfoParse(url.c_str(), &error));
  if (!options) {
    std::string message = error != nullptr ? TrimmedError(error) : "out of memory";
    PQfreemem(error);
    return InvalidArgument("invalid PostgreSQL URL: " + Redacted(message, CrudePassword(url)));
  }
  for (PQconninfoOption* o = options.get(); o->keyword != nullptr; ++o) {
    if (o->val == nullptr || std::strcmp(o->keyword, "port") != 0) continue;
    const std::string_view port = o->val;
    if (port.find_first_not_of("0123456789,") != std::string_view::npos) {
      return InvalidArgument("invalid PostgreSQL URL: port \"" + std::string(port) + "\" is not a number");
    }
  }
  return options;
}

std::string FormatDouble(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), d);
  return std::string(buffer, result.ptr);
}

// Reads float8/float4/numeric text. NUMERIC may exceed double's range; it
// then reads as ±infinity or ±0, as strtod would.
double ParseDouble(std::string_view text) {
  double value = 0;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  if (!text.empty() && text.front() == '+') ++begin;
  const auto result = std::from_chars(begin, end, value);
  if (result.ec == std::errc::result_out_of_range) {
    const bool negative = !text.empty() && text.front() == '-';
    const std::size_t exponent = text.find_first_of("eE");
    const std::string_view mantissa = text.substr(0, std::min(text.find('.'), exponent));
    const bool tiny = (exponent != std::string_view::npos && text.substr(exponent + 1, 1) == "-") ||
                      mantissa.find_first_of("123456789") == std::string_view::npos;
    const double magnitude = tiny ? 0.0 : HUGE_VAL;
    return negative ? -magnitude : magnitude;
  }
  return value;
}

Result<Rows> ToRows(const PGresult* result) {
  const int rows = PQntuples(result);
  const int columns = PQnfields(result);
  std::vector<Oid> types(columns);
  for (int c = 0; c < columns; ++c) types[c] = PQftype(result, c);
  Rows out;
  out.reserve(rows);
  for (int r = 0; r < rows; ++r) {
    std::vector<Value> values;
    values.reserve(columns);
    for (int c = 0; c < columns; ++c) {
      if (PQgetisnull(result, r, c)) {
        values.emplace_back(nullptr);
        continue;
      }
      const char* text = PQgetvalue(result, r, c);
      const std::string_view view(text, static_cast<std::size_t>(PQgetlength(result, r, c)));
      switch (types[c]) {
        case kInt2Oid:
        case kInt4Oid:
        case kInt8Oid: {
          std::int64_t n = 0;
          const auto parsed = std::from_chars(view.data(), view.data() + view.size(), n);
          if (parsed.ec != std::errc() || parsed.ptr != view.data() + view.size()) {
            return Internal("cannot read integer column " + std::string(PQfname(result, c)) + ": " +
                            std::string(view));
          }
          values.emplace_back(n);
          break;
        }
        case kFloat4Oid:
        case kFloat8Oid:
        case kNumericOid:
          values.emplace_back(ParseDouble(view));
          break;
        case kBoolOid:
          values.emplace_back(std::int64_t{view == "t" ? 1 : 0});
          break;
        case kByteaOid: {
          std::size_t size = 0;
          unsigned char* bytes = PQunescapeBytea(reinterpret_cast<const unsigned char*>(text), &size);
          if (bytes == nullptr) return ResourceExhausted("out of memory reading a bytea column");
          values.emplace_back(Blob{std::string(reinterpret_cast<const char*>(bytes), size)});
          PQfreemem(bytes);
          break;
        }
        default:
          values.emplace_back(std::string(view));
          break;
      }
    }
    out.emplace_back(std::move(values));
  }
  return out;
}

std::int64_t ChangedRows(const PGresult* result) {
  // Exec counts changed rows; a SELECT's row count is not that.
  if (StartsWith(PQcmdStatus(const_cast<PGresult*>(result)), "SELECT")) return 0;
  const std::string_view count = PQcmdTuples(const_cast<PGresult*>(result));
  std::int64_t n = 0;
  std::from_chars(count.data(), count.data() + count.size(), n);
  return n;
}

// Statements that begin or end transactions. Transact alone may run them: a
// caller's COMMIT would commit half of a transaction. Savepoints go too,
// as on SQLite.
bool IsTransactionControl(std::string_view keyword) {
  static constexpr std::string_view kKeywords[] = {"ABORT",   "BEGIN",    "COMMIT",    "END",  "PREPARE",
                                                   "RELEASE", "ROLLBACK", "SAVEPOINT", "START"};
  return std::find(std::begin(kKeywords), std::end(kKeywords), keyword) != std::end(kKeywords);
}

bool IsWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Index just past the quoted text or comment that starts at sql[i], or i when
// none does. Knows '...', E'...', "...", $tag$...$tag$, -- and nested /* */.
std::size_t SkipQuotedOrComment(std::string_view sql, std::size_t i) {
  const std::size_t n = sql.size();
  const char c = sql[i];
  if (c == '-' && i + 1 < n && sql[i + 1] == '-') {
    const std::size_t end = sql.find('\n', i);
    return end == std::string_view::npos ? n : end + 1;
  }
  if (c == '/' && i + 1 < n && sql[i + 1] == '*') {
    int depth = 0;
    while (i < n) {
      if (sql.substr(i, 2) == "/*") {
        ++depth;
        i += 2;
      } else if (sql.substr(i, 2) == "*/") {
        i += 2;
        if (--depth == 0) return i;
      } else {
        ++i;
      }
    }
    return n;
  }
  if (c == '\'' || c == '"') {
    // A doubled quote inside reads as a close and a reopen, which is fine.
    const std::size_t end = sql.find(c, i + 1);
    return end == std::string_view::npos ? n : end + 1;
  }
  if ((c == 'E' || c == 'e') && i + 1 < n && sql[i + 1] == '\'' && (i == 0 || !IsWordChar(sql[i - 1]))) {
    for (std::size_t k = i + 2; k < n; ++k) {
      if (sql[k] == '\\') {
        ++k;
      } else if (sql[k] == '\'') {
        return k + 1;
      }
    }
    return n;
  }
  if (c == '$' && (i == 0 || !IsWordChar(sql[i - 1]))) {
    // $tag$ or $$; $1 is a parameter.
    std::size_t k = i + 1;
    if (k < n && std::isdigit(static_cast<unsigned char>(sql[k]))) return i;
    while (k < n && IsWordChar(sql[k])) ++k;
    if (k >= n || sql[k] != '$') return i;
    const std::string_view tag = sql.substr(i, k - i + 1);
    const std::size_t end = sql.find(tag, k + 1);
    return end == std::string_view::npos ? n : end + tag.size();
  }
  return i;
}

// Refuses `sql` when one of its statements (only the first unless `script`)
// begins or ends a transaction.
Status CheckNoTransactionControl(std::string_view sql, bool script) {
  bool statement_start = true;
  for (std::size_t i = 0; i < sql.size();) {
    const std::size_t skipped = SkipQuotedOrComment(sql, i);
    if (skipped != i) {
      i = skipped;
      continue;
    }
    const char c = sql[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    if (c == ';') {
      statement_start = true;
      ++i;
      continue;
    }
    if (statement_start) {
      std::size_t end = i;
      std::string word;
      while (end < sql.size() && IsWordChar(sql[end])) {
        word += static_cast<char>(std::toupper(static_cast<unsigned char>(sql[end])));
        ++end;
      }
      if (IsTransactionControl(word)) {
        return Internal(
            "transaction control statements (BEGIN, COMMIT, ROLLBACK, SAVEPOINT) are not allowed; "
            "Transact begins and ends transactions (in: " +
            internal::SqlForMessage(sql) + ")");
      }
      if (!script) return Status::OK();
      statement_start = false;
      i = std::max(end, i + 1);
      continue;
    }
    ++i;
  }
  return Status::OK();
}

bool IsRetryableState(std::string_view sqlstate) {
  return sqlstate == "40001" || sqlstate == "40P01";  // serialization_failure, deadlock_detected
}

// The Status for a failed statement, by SQLSTATE (PostgreSQL appendix A).
Status StatementError(PGconn* conn, const PGresult* result, std::string_view sql) {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = result != nullptr ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  const std::string_view code = state != nullptr ? state : "";
  std::string message = primary != nullptr ? primary : TrimmedError(PQerrorMessage(conn));
  if (!code.empty()) message += " [SQLSTATE " + std::string(code) + "]";
  if (!sql.empty()) message += " (in: " + internal::SqlForMessage(sql) + ")";
  if (PQstatus(conn) == CONNECTION_BAD) return Unavailable("lost the PostgreSQL connection: " + message);
  if (code == "23505") return AlreadyExists(message);
  if (IsRetryableState(code)) return Unavailable(message);
  if (code == "25P02") return FailedPrecondition(message);
  if (code == "57014") return {StatusCode::kDeadlineExceeded, message};
  if (StartsWith(code, "22")) return InvalidArgument(message);
  if (StartsWith(code, "53")) return ResourceExhausted(message);
  if ((StartsWith(code, "08") && code != "08P01") || StartsWith(code, "57P")) return Unavailable(message);
  return Internal(message);
}

// One libpq connection. Used by one thread at a time (whoever leased it).
class PgConnection {
 public:
  explicit PgConnection(PGconn* conn) : conn_(conn) {}
  ~PgConnection() { PQfinish(conn_); }
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  PGconn* get() const { return conn_; }
  bool broken() const { return PQstatus(conn_) == CONNECTION_BAD; }

  // Takes over libpq's notices. NOTICEs (e.g. "relation already exists,
  // skipping") are not errors and would otherwise go to stderr; a FATAL
  // arriving while idle is the server saying why it is closing the
  // connection.
  void InstallNoticeReceiver() { PQsetNoticeReceiver(conn_, &PgConnection::OnNotice, this); }

  // Whether the connection, idle in the pool, is still fit for a statement.
  // Reads what the server sent meanwhile: after a restart, idle timeout or
  // pg_terminate_backend that is a FATAL message and then EOF.
  bool StillUsable() {
    if (PQconsumeInput(conn_) == 0) return false;
    PQisBusy(conn_);  // parses the input, passing an idle-time error to OnNotice
    return !broken() && !terminated_;
  }

  PGTransactionStatusType tx_status() const { return PQtransactionStatus(conn_); }

  // Runs one statement. `retryable` (optional) is set when it lost a
  // serialization conflict or a deadlock.
  Result<ResultPtr> Run(std::string_view sql, const std::vector<Value>& params, bool* retryable = nullptr) {
    RETURN_IF_ERROR(CheckNoTransactionControl(sql, false));
    RETURN_IF_ERROR(internal::ValidateParams(params));
    if (params.size() > kMaxParams) return Internal("more than 65535 parameters");
    const std::string statement(sql);
    if (statement.find('\0') != std::string::npos) return Internal("SQL statement contains a NUL byte");
    const std::size_t n = params.size();
    std::vector<Oid> types(n, 0);
    std::vector<std::string> texts(n);
    std::vector<const char*> values(n, nullptr);
    std::vector<int> lengths(n, 0);
    std::vector<int> formats(n, 0);
    for (std::size_t i = 0; i < n; ++i) {
      const Value& v = params[i];
      // Numbers are typed so that "SELECT $1" means the same on both backends;
      // text stays untyped so the server casts it to the column's type.
      if (const auto* integer = std::get_if<std::int64_t>(&v)) {
        types[i] = kInt8Oid;
        texts[i] = std::to_string(*integer);
        values[i] = texts[i].c_str();
      } else if (const auto* d = std::get_if<double>(&v)) {
        types[i] = kFloat8Oid;
        texts[i] = FormatDouble(*d);
        values[i] = texts[i].c_str();
      } else if (const auto* s = std::get_if<std::string>(&v)) {
        values[i] = s->c_str();
      } else if (const auto* b = std::get_if<Blob>(&v)) {
        if (b->bytes.size() > static_cast<std::size_t>(INT32_MAX)) {
          return PayloadTooLarge("Blob parameter over 2 GiB");
        }
        types[i] = kByteaOid;
        values[i] = b->bytes.data();
        lengths[i] = static_cast<int>(b->bytes.size());
        formats[i] = 1;
      }
    }
    ResultPtr result(PQexecParams(conn_, statement.c_str(), static_cast<int>(n), types.data(), values.data(),
                                  lengths.data(), formats.data(), 0));
    return Check(std::move(result), sql, retryable);
  }

  // Runs BEGIN, COMMIT or ROLLBACK, which statements of callers may not.
  Result<ResultPtr> RunTransactionControl(const char* sql, bool* retryable = nullptr) {
    return Check(ResultPtr(PQexec(conn_, sql)), sql, retryable);
  }

  // Runs a parameterless script of one or more statements.
  Result<ResultPtr> RunScript(std::string_view script) {
    RETURN_IF_ERROR(CheckNoTransactionControl(script, true));
    const std::string text(script);
    if (text.find('\0') != std::string::npos) return Internal("SQL script contains a NUL byte");
    return Check(ResultPtr(PQexec(conn_, text.c_str())), script, nullptr);
  }

 private:
  static void OnNotice(void* self, const PGresult* notice) {
    const char* severity = PQresultErrorField(notice, PG_DIAG_SEVERITY_NONLOCALIZED);
    if (severity != nullptr && (std::strcmp(severity, "FATAL") == 0 || std::strcmp(severity, "PANIC") == 0)) {
      static_cast<PgConnection*>(self)->terminated_ = true;
    }
  }

  Result<ResultPtr> Check(ResultPtr result, std::string_view sql, bool* retryable) {
    const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;
    if (status == PGRES_EMPTY_QUERY) return Internal("empty SQL statement");
    if (retryable != nullptr && result) {
      const char* state = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
      *retryable = state != nullptr && IsRetryableState(state);
    }
    if (status != PGRES_FATAL_ERROR && status != PGRES_NONFATAL_ERROR && status != PGRES_BAD_RESPONSE) {
      return Internal(std::string("unsupported PostgreSQL result ") + PQresStatus(status) +
                      " (in: " + internal::SqlForMessage(sql) + ")");
    }
    return StatementError(conn_, result.get(), sql);
  }

  PGconn* conn_;
  bool terminated_ = false;
};

class PgTx final : public Tx {
 public:
  explicit PgTx(PgConnection& conn) : conn_(conn) {}

  Result<Rows> Query(std::string_view sql, const std::vector<Value>& params) override {
    ASSIGN_OR_RETURN(ResultPtr result, Run(sql, params));
    return Record(ToRows(result.get()));
  }

  Result<std::int64_t> Exec(std::string_view sql, const std::vector<Value>& params) override {
    ASSIGN_OR_RETURN(ResultPtr result, Run(sql, params));
    return ChangedRows(result.get());
  }

  Status ExecScript(std::string_view script) override {
    RETURN_IF_ERROR(CheckNotAborted());
    return Record(conn_.RunScript(script)).status();
  }

  const Status& error() const { return error_; }
  bool retryable() const { return retryable_; }

 private:
  Result<ResultPtr> Run(std::string_view sql, const std::vector<Value>& params) {
    RETURN_IF_ERROR(CheckNotAborted());
    bool retryable = false;
    Result<ResultPtr> result = conn_.Run(sql, params, &retryable);
    retryable_ = retryable_ || retryable;
    return Record(std::move(result));
  }

  Status CheckNotAborted() const {
    if (error_.ok()) return Status::OK();
    return FailedPrecondition("transaction is aborted by an earlier error: " + error_.message());
  }

  template <typename T>
  Result<T> Record(Result<T> result) {
    if (!result.ok() && error_.ok()) error_ = result.status();
    return result;
  }

  PgConnection& conn_;
  Status error_;
  bool retryable_ = false;
};

// Lets write transactions of one Database run concurrently (shared) but
// gives one that keeps losing serialization conflicts a turn alone
// (exclusive), so that a hot row cannot starve it: optimistic first,
// pessimistic after. A waiting exclusive holder blocks new shared ones.
class TransactionGate {
 public:
  void Lock(bool exclusive) {
    std::unique_lock lock(mu_);
    if (exclusive) {
      ++exclusive_waiting_;
      cv_.wait(lock, [&] { return !exclusive_ && shared_ == 0; });
      --exclusive_waiting_;
      exclusive_ = true;
    } else {
      cv_.wait(lock, [&] { return !exclusive_ && exclusive_waiting_ == 0; });
      ++shared_;
    }
  }

  void Unlock(bool exclusive) {
    {
      std::lock_guard lock(mu_);
      if (exclusive) {
        exclusive_ = false;
      } else {
        --shared_;
      }
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int shared_ = 0;
  int exclusive_waiting_ = 0;
  bool exclusive_ = false;
};

class GateGuard {
 public:
  GateGuard(TransactionGate& gate, bool exclusive) : gate_(gate), exclusive_(exclusive) {
    gate_.Lock(exclusive_);
  }
  ~GateGuard() { gate_.Unlock(exclusive_); }
  GateGuard(const GateGuard&) = delete;
  GateGuard& operator=(const GateGuard&) = delete;

 private:
  TransactionGate& gate_;
  bool exclusive_;
};

class PostgresDatabase final : public Database {
 public:
  PostgresDatabase(std::string url, const DatabaseOptions& options)
      : url_(std::move(url)), redacted_(RedactPostgresUrl(url_)), options_(options) {}

  Dialect dialect() const override { return Dialect::kPostgres; }
  std::string redacted_url() const override { return redacted_; }

  Result<Rows> Query(std::string_view sql, const std::vector<Value>& params) override {
    RETURN_IF_ERROR(internal::TransactionScope::CheckNotInside(this, "Query"));
    ASSIGN_OR_RETURN(Lease lease, Acquire());
    ASSIGN_OR_RETURN(ResultPtr result, lease->Run(sql, params));
    return ToRows(result.get());
  }

  Result<std::int64_t> Exec(std::string_view sql, const std::vector<Value>& params) override {
    RETURN_IF_ERROR(internal::TransactionScope::CheckNotInside(this, "Exec"));
    // A write, so it yields to a transaction taking its turn alone.
    GateGuard gate(gate_, false);
    ASSIGN_OR_RETURN(Lease lease, Acquire());
    ASSIGN_OR_RETURN(ResultPtr result, lease->Run(sql, params));
    return ChangedRows(result.get());
  }

  Status Transact(const std::function<Status(Tx&)>& fn) override {
    RETURN_IF_ERROR(internal::TransactionScope::CheckNotInside(this, "Transact"));
    Status status;
    for (int attempt = 1; attempt <= kMaxTransactAttempts; ++attempt) {
      bool retry = false;
      {
        GateGuard gate(gate_, attempt > kOptimisticAttempts);
        status = TryTransact(fn, &retry);
      }
      if (!retry) return status;
      std::this_thread::sleep_for(internal::RetryBackoff(attempt));
    }
    return Unavailable("transaction still conflicted with concurrent ones after " +
                       std::to_string(kMaxTransactAttempts) + " attempts: " + status.message());
  }

  Status Ping() override { return Query("SELECT 1", {}).status(); }

  // Opens the first connection, so that a bad address or credentials show
  // up at start-up rather than on the first request.
  Status Warm() { return Acquire().status(); }

 private:
  // A connection borrowed from the pool, returned (or dropped, if no longer
  // clean) when the lease ends.
  class Lease {
   public:
    Lease(PostgresDatabase* db, std::unique_ptr<PgConnection> conn) : db_(db), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept : db_(other.db_), conn_(std::move(other.conn_)) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (conn_) db_->Release(std::move(conn_));
    }
    PgConnection& operator*() const { return *conn_; }
    PgConnection* operator->() const { return conn_.get(); }

   private:
    PostgresDatabase* db_;
    std::unique_ptr<PgConnection> conn_;
  };

  // One attempt; `retry` is set when it lost a conflict and may run again.
  Status TryTransact(const std::function<Status(Tx&)>& fn, bool* retry) {
    ASSIGN_OR_RETURN(Lease lease, Acquire());
    // Serializable on PostgreSQL gives what SQLite's single writer gives:
    // read-modify-write without lost updates, in the common SQL subset
    // (which has no SELECT ... FOR UPDATE).
    Result<ResultPtr> begun = lease->RunTransactionControl("BEGIN ISOLATION LEVEL SERIALIZABLE");
    if (!begun.ok()) {
      // Nothing ran yet, so a connection that turned out dead is safe to retry.
      *retry = lease->broken();
      return begun.status();
    }
    PgTx tx(*lease);
    Status status;
    {
      internal::TransactionScope scope(this);
      status = internal::RunTransactionFunction(fn, tx);
    }
    if (status.ok()) status = tx.error();
    *retry = tx.retryable();
    if (status.ok()) {
      bool commit_conflict = false;
      Result<ResultPtr> committed = lease->RunTransactionControl("COMMIT", &commit_conflict);
      if (committed.ok()) return Status::OK();
      *retry = commit_conflict;
      status = committed.status();
      if (lease->broken()) {
        return Unavailable(
            "lost the PostgreSQL connection during COMMIT; the transaction may or may not have "
            "committed: " +
            status.message());
      }
    }
    if (!lease->broken() && lease->tx_status() != PQTRANS_IDLE) {
      const Result<ResultPtr> rolled_back = lease->RunTransactionControl("ROLLBACK");
      if (!rolled_back.ok()) {
        LogEvent(spdlog::level::warn, "postgres rollback failed",
                 {{"database", redacted_}, {"error", rolled_back.status().message()}});
      }
    }
    return status;
  }

  Result<Lease> Acquire() {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.busy_timeout_ms);
    std::unique_lock lock(mu_);
    for (;;) {
      while (!idle_.empty()) {
        std::unique_ptr<PgConnection> conn = std::move(idle_.back());
        idle_.pop_back();
        // One the server closed while it sat idle is dropped here, before it
        // can fail a statement.
        if (conn->StillUsable()) return Lease(this, std::move(conn));
        --open_;
      }
      if (open_ < options_.max_connections) {
        ++open_;
        lock.unlock();
        Result<std::unique_ptr<PgConnection>> conn = Connect();
        if (!conn.ok()) {
          lock.lock();
          --open_;
          cv_.notify_one();
          return conn.status();
        }
        return Lease(this, std::move(conn).value());
      }
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
          open_ >= options_.max_connections) {
        return Unavailable("all " + std::to_string(options_.max_connections) +
                           " PostgreSQL connections stayed busy for " +
                           std::to_string(options_.busy_timeout_ms) + " ms");
      }
    }
  }

  void Release(std::unique_ptr<PgConnection> conn) {
    // Only a connection that is healthy and outside any transaction goes back.
    const bool reusable = !conn->broken() && conn->tx_status() == PQTRANS_IDLE;
    std::unique_ptr<PgConnection> dropped;
    {
      std::lock_guard lock(mu_);
      if (reusable) {
        idle_.push_back(std::move(conn));
      } else {
        --open_;
        dropped = std::move(conn);
      }
    }
    cv_.notify_one();
  }

  Result<std::unique_ptr<PgConnection>> Connect() {
    const std::string timeout = std::to_string(std::max(1, (options_.busy_timeout_ms + 999) / 1000));
    // Entries before dbname are defaults the URL may override; client_encoding
    // after it is forced: every string Ferry handles is UTF-8.
    const char* keywords[] = {"connect_timeout", "application_name", "dbname", "client_encoding", nullptr};
    const char* values[] = {timeout.c_str(), "ferry", url_.c_str(), "UTF8", nullptr};
    auto conn = std::make_unique<PgConnection>(PQconnectdbParams(keywords, values, 1));
    if (conn->get() == nullptr) return ResourceExhausted("out of memory connecting to PostgreSQL");
    if (conn->broken()) {
      return Unavailable("cannot connect to PostgreSQL at " + redacted_ + ": " +
                         TrimmedError(PQerrorMessage(conn->get())));
    }
    conn->InstallNoticeReceiver();
    return conn;
  }

  const std::string url_;
  const std::string redacted_;
  const DatabaseOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<PgConnection>> idle_;
  int open_ = 0;  // idle plus leased
  TransactionGate gate_;
};

}  // namespace

Result<std::unique_ptr<Database>> OpenPostgresDatabase(std::string_view url, const DatabaseOptions& options) {
  const std::string text(url);
  RETURN_IF_ERROR(ParseUrl(text).status());
  auto db = std::make_unique<PostgresDatabase>(text, options);
  RETURN_IF_ERROR(db->Warm());
  return std::unique_ptr<Database>(std::move(db));
}

std::string RedactPostgresUrl(std::string_view url) {
  auto parsed = ParseUrl(std::string(url));
  if (!parsed.ok()) return "postgresql://(unparseable URL)";
  std::string user, host, port, dbname, sslmode;
  for (PQconninfoOption* o = parsed->get(); o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    const std::string_view key = o->keyword;
    if (key == "user") user = o->val;
    if (key == "host") host = o->val;
    if (key == "port") port = o->val;
    if (key == "dbname") dbname = o->val;
    if (key == "sslmode") sslmode = o->val;
  }
  std::string out = "postgresql://";
  if (!user.empty()) out += user + "@";
  const bool socket_dir = !host.empty() && host.front() == '/';
  if (!socket_dir) out += host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (!port.empty()) out += ":" + port;
  out += "/" + dbname;
  std::string query;
  if (socket_dir) query += "host=" + host;
  if (!sslmode.empty()) query += (query.empty() ? "" : "&") + std::string("sslmode=") + sslmode;
  if (!query.empty()) out += "?" + query;
  return out;
}

}  // namespace ferry::store
