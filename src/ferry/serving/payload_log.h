#pragma once
// PayloadLog: the sampled record of what an endpoint was asked and what it
// answered — KServe's payload logger, written to the store instead of a
// CloudEvents sink — which monitoring and drift detection read back.
//
// The gateway calls Append on the request's thread; records go to a
// bounded in-memory queue and a writer thread inserts them in batches (one
// transaction per batch, table prediction_logs). When the queue is full a
// record is dropped and counted (dropped()), never blocking a request.
// Bodies larger than max_body_bytes are stored truncated with
// `truncated` set.
//
// Thread-safety: thread-safe.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ferry/common/env.h"
#include "ferry/common/status.h"
#include "ferry/store/database.h"

namespace ferry::serving {

struct PayloadRecord {
  std::string endpoint;    // "ns/name"
  std::string revision;
  std::string request_id;  // the V2 request's id, else the HTTP request id
  std::int64_t timestamp_micros = 0;
  int status = 0;            // HTTP status answered
  std::string request;       // body as received (JSON; binary tensors base64'd
                             // into V2 JSON by the caller), empty in mode response
  std::string response;      // body as answered, empty in mode request
  bool truncated = false;
};

struct PayloadQuery {
  std::string endpoint;            // required
  std::int64_t since_micros = 0;   // inclusive
  std::int64_t until_micros = 0;   // exclusive; 0: no bound
  int limit = 100;                 // capped at 10'000
  std::string page_token;          // from the previous page
};

struct PayloadPage {
  std::vector<PayloadRecord> records;  // oldest first
  std::string next_page_token;         // empty when there is no more
};

struct PayloadLogOptions {
  std::size_t max_queue = 10'000;
  std::size_t max_body_bytes = 1 << 20;
  std::size_t batch_rows = 500;
};

class PayloadLog {
 public:
  // Starts the writer thread. The table exists (migration 0010).
  static Result<std::unique_ptr<PayloadLog>> Open(store::Database* db, Env* env, PayloadLogOptions options = {});
  virtual ~PayloadLog() = default;

  // Never blocks on the database; false when the record was dropped.
  virtual bool Append(PayloadRecord record) = 0;
  // Waits until everything appended so far is in the store (tests, shutdown).
  virtual Status Flush() = 0;
  virtual Result<PayloadPage> Query(const PayloadQuery& query) = 0;
  virtual std::uint64_t dropped() const = 0;
  // Flushes and stops the writer. Idempotent.
  virtual void Close() = 0;
};

}  // namespace ferry::serving
