#pragma once
// Pieces shared by the SQLite and PostgreSQL backends of Database: parameter
// checks, the guard against re-entering a Database from its own transaction,
// running the caller's transaction function, and retry backoff.
//
// Thread-safety: free functions are thread-safe; a TransactionScope belongs to
// the thread that created it.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/common/status.h"
#include "ferry/store/database.h"

namespace ferry::store::internal {

// Checks what both backends require of parameters: text is valid UTF-8 and
// holds no NUL byte (PostgreSQL can store neither in text).
Status ValidateParams(const std::vector<Value>& params);

// The start of `sql` on one line, for error messages.
std::string SqlForMessage(std::string_view sql);

// Marks the current thread as running `db`'s transaction function, so that a
// call back into `db` fails cleanly instead of deadlocking on its own lock.
class TransactionScope {
 public:
  explicit TransactionScope(const Database* db);
  ~TransactionScope();
  TransactionScope(const TransactionScope&) = delete;
  TransactionScope& operator=(const TransactionScope&) = delete;

  // kFailedPrecondition when the current thread is inside `db`'s Transact.
  static Status CheckNotInside(const Database* db, std::string_view method);

 private:
  const Database* db_;
  const TransactionScope* outer_;
};

// Runs the caller's function, turning an escaping exception into kInternal so
// that the backend can still roll back and release its connection.
Status RunTransactionFunction(const std::function<Status(Tx&)>& fn, Tx& tx);

// Jittered exponential backoff before retry `attempt` (1-based) of a
// transaction that lost a serialization conflict.
std::chrono::microseconds RetryBackoff(int attempt);

}  // namespace ferry::store::internal
