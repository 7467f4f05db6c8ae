#include "ferry/store/database.h"

#include <algorithm>
#include <cassert>
#include <cctype>
#include <exception>

#include "ferry/common/env.h"
#include "ferry/common/strings.h"
#include "ferry/store/database_internal.h"
#include "ferry/store/postgres/postgres_database.h"
#include "ferry/store/sqlite/sqlite_database.h"

namespace ferry::store {

namespace {

const std::string& EmptyString() {
  static const std::string* const kEmpty = new std::string();
  return *kEmpty;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool IsKnownScheme(std::string_view scheme) {
  return scheme == "sqlite" || scheme == "postgresql" || scheme == "postgres";
}

}  // namespace

std::int64_t Row::Int(std::size_t i) const {
  if (i >= values_.size()) {
    assert(false && "Row::Int: column index out of range");
    return 0;
  }
  const Value& v = values_[i];
  if (const auto* n = std::get_if<std::int64_t>(&v)) return *n;
  if (const auto* d = std::get_if<double>(&v)) return static_cast<std::int64_t>(*d);
  assert(std::holds_alternative<std::nullptr_t>(v) && "Row::Int: column is not numeric");
  return 0;
}

double Row::Double(std::size_t i) const {
  if (i >= values_.size()) {
    assert(false && "Row::Double: column index out of range");
    return 0;
  }
  const Value& v = values_[i];
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* n = std::get_if<std::int64_t>(&v)) return static_cast<double>(*n);
  assert(std::holds_alternative<std::nullptr_t>(v) && "Row::Double: column is not numeric");
  return 0;
}

const std::string& Row::Text(std::size_t i) const {
  if (i >= values_.size()) {
    assert(false && "Row::Text: column index out of range");
    return EmptyString();
  }
  const Value& v = values_[i];
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* b = std::get_if<Blob>(&v)) return b->bytes;
  assert(std::holds_alternative<std::nullptr_t>(v) && "Row::Text: column is not text");
  return EmptyString();
}

std::optional<std::int64_t> Row::OptInt(std::size_t i) const {
  if (i < values_.size() && IsNull(i)) return std::nullopt;
  return Int(i);
}

std::optional<double> Row::OptDouble(std::size_t i) const {
  if (i < values_.size() && IsNull(i)) return std::nullopt;
  return Double(i);
}

std::optional<std::string> Row::OptText(std::size_t i) const {
  if (i < values_.size() && IsNull(i)) return std::nullopt;
  return Text(i);
}

Result<std::unique_ptr<Database>> OpenDatabase(std::string_view url, const DatabaseOptions& options) {
  if (url.empty()) return InvalidArgument("database URL is empty");
  if (options.max_connections < 1) {
    return InvalidArgument("max_connections must be at least 1, got " +
                           std::to_string(options.max_connections));
  }
  if (options.busy_timeout_ms < 0) {
    return InvalidArgument("busy_timeout_ms must not be negative, got " +
                           std::to_string(options.busy_timeout_ms));
  }
  const std::size_t sep = url.find("://");
  if (sep == std::string_view::npos) {
    // A plain path; but "postgresql:host/db" is a mistyped URL, not a file name.
    const std::size_t colon = url.find(':');
    if (colon != std::string_view::npos && IsKnownScheme(Lower(url.substr(0, colon)))) {
      return InvalidArgument("database URL \"" + Lower(url.substr(0, colon)) + ":...\" lacks \"//\"; write " +
                             Lower(url.substr(0, colon)) + "://...");
    }
    return OpenSqliteDatabase(std::string(url), options);
  }
  const std::string scheme = Lower(url.substr(0, sep));
  if (scheme == "sqlite") {
    const std::string_view path = url.substr(sep + 3);
    if (path.empty()) {
      return InvalidArgument(
          "sqlite URL has no path; expected sqlite:///absolute/path.db or sqlite://relative.db");
    }
    if (path.find('?') != std::string_view::npos) {
      return InvalidArgument("sqlite URLs take no query parameters");
    }
    return OpenSqliteDatabase(std::string(path), options);
  }
  if (scheme == "postgresql" || scheme == "postgres") return OpenPostgresDatabase(url, options);
  return InvalidArgument("unsupported database URL scheme \"" + scheme +
                         "\"; expected sqlite://, postgresql:// or a file path");
}

namespace internal {

namespace {

thread_local const TransactionScope* active_scope = nullptr;

}  // namespace

Status ValidateParams(const std::vector<Value>& params) {
  for (std::size_t p = 0; p < params.size(); ++p) {
    const auto* text = std::get_if<std::string>(&params[p]);
    if (text == nullptr) continue;
    // Whichever comes first is reported (a NUL byte is valid UTF-8).
    const std::size_t nul = text->find('\0');
    const std::size_t bad = FindInvalidUtf8(*text);
    if (nul == std::string::npos && bad == std::string_view::npos) continue;
    const std::string name = "$" + std::to_string(p + 1);
    if (nul < bad) {
      return InvalidArgument("text parameter " + name + " contains a NUL byte at offset " + std::to_string(nul));
    }
    return InvalidArgument("text parameter " + name + " is not valid UTF-8 at byte offset " + std::to_string(bad));
  }
  return Status::OK();
}

std::string SqlForMessage(std::string_view sql) {
  constexpr std::size_t kMax = 120;
  std::string out;
  bool space = false;
  for (const char c : sql) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
    if (out.size() >= kMax) {
      out += "...";
      break;
    }
  }
  return out;
}

TransactionScope::TransactionScope(const Database* db) : db_(db), outer_(active_scope) {
  active_scope = this;
}

TransactionScope::~TransactionScope() { active_scope = outer_; }

Status TransactionScope::CheckNotInside(const Database* db, std::string_view method) {
  for (const TransactionScope* s = active_scope; s != nullptr; s = s->outer_) {
    if (s->db_ == db) {
      return FailedPrecondition("Database::" + std::string(method) +
                                " called from inside a Transact function of the same database; use the Tx");
    }
  }
  return Status::OK();
}

Status RunTransactionFunction(const std::function<Status(Tx&)>& fn, Tx& tx) {
  try {
    return fn(tx);
  } catch (const std::exception& e) {
    return Internal(std::string("transaction function threw: ") + e.what());
  } catch (...) {
    return Internal("transaction function threw a non-standard exception");
  }
}

std::chrono::microseconds RetryBackoff(int attempt) {
  constexpr std::int64_t kBaseMicros = 1000;
  constexpr std::int64_t kCapMicros = 64'000;
  const int shift = std::clamp(attempt - 1, 0, 16);
  const std::int64_t ceiling = std::min(kCapMicros, kBaseMicros << shift);
  const auto jitter =
      static_cast<std::int64_t>(Env::Default()->Random64() % static_cast<std::uint64_t>(ceiling));
  return std::chrono::microseconds(ceiling / 2 + jitter / 2);
}

}  // namespace internal

}  // namespace ferry::store
