#include "ferry/serving/payload_log.h"

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#include "ferry/common/logging.h"
#include "ferry/common/strings.h"

namespace ferry::serving {
namespace {

constexpr int kMaxLimit = 10'000;
// Rows per INSERT statement: 9 parameters each stays far below SQLite's
// smallest parameter limit (999).
constexpr std::size_t kRowsPerInsert = 100;

// Text both backends can hold: invalid bytes and NUL become U+FFFD. Bodies
// are JSON and normally pass untouched; this keeps a hostile one from failing
// a whole batch.
std::string Storable(std::string text) {
  if (IsStorableText(text)) return text;
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = DecodeUtf8(text, i);
    if (n == 0 || text[i] == '\0') {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(text, i, n);
      i += n;
    }
  }
  return out;
}

// Cuts `text` to at most `max` bytes at a character boundary; true if cut.
bool Truncate(std::string& text, std::size_t max) {
  if (text.size() <= max) return false;
  std::size_t end = max;
  // Step back over continuation bytes so no character is split.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  text.resize(end);
  return true;
}

// Page token: "<ts_micros>.<id>" of the last record returned. Opaque to
// clients; the (ts_micros, id) order makes it stable under concurrent writes.
std::string EncodeToken(std::int64_t ts, std::int64_t id) {
  return std::to_string(ts) + "." + std::to_string(id);
}

Status DecodeToken(std::string_view token, std::int64_t* ts, std::int64_t* id) {
  const Status bad = InvalidArgument("malformed page_token " + QuoteForMessage(token), "page_token");
  const std::size_t dot = token.find('.');
  if (dot == std::string_view::npos) return bad;
  auto parse = [](std::string_view s, std::int64_t* out) {
    if (s.empty()) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
    return ec == std::errc() && p == s.data() + s.size() && *out >= 0;
  };
  if (!parse(token.substr(0, dot), ts) || !parse(token.substr(dot + 1), id)) return bad;
  return Status::OK();
}

class StorePayloadLog final : public PayloadLog {
 public:
  StorePayloadLog(store::Database* db, Env* env, PayloadLogOptions options)
      : db_(db), env_(env), options_(options) {
    if (options_.batch_rows == 0) options_.batch_rows = 1;
    writer_ = std::thread([this] { WriterLoop(); });
  }
  ~StorePayloadLog() override { Close(); }

  bool Append(PayloadRecord record) override {
    if (record.timestamp_micros == 0) record.timestamp_micros = env_->NowMicros();
    record.truncated = Truncate(record.request, options_.max_body_bytes) | record.truncated;
    record.truncated = Truncate(record.response, options_.max_body_bytes) | record.truncated;
    {
      std::lock_guard lock(mu_);
      if (closed_ || queue_.size() >= options_.max_queue) {
        dropped_.fetch_add(1, std::memory_order_relaxed);
        return false;
      }
      queue_.push_back(std::move(record));
      ++appended_;
    }
    cv_.notify_all();
    return true;
  }

  Status Flush() override {
    std::unique_lock lock(mu_);
    const std::uint64_t target = appended_;
    const std::uint64_t errors_before = failed_batches_;
    done_cv_.wait(lock, [&] { return written_ >= target || writer_exited_; });
    if (failed_batches_ != errors_before) return last_error_;
    if (written_ < target) return Unavailable("payload log is closed");
    return Status::OK();
  }

  Result<PayloadPage> Query(const PayloadQuery& query) override {
    if (query.endpoint.empty()) return InvalidArgument("endpoint is required", "endpoint");
    if (!IsStorableText(query.endpoint)) return InvalidArgument("endpoint is not valid UTF-8", "endpoint");
    if (query.limit < 1) {
      return InvalidArgument("limit must be at least 1, got " + std::to_string(query.limit), "limit");
    }
    if (query.since_micros < 0) return InvalidArgument("since must not be negative", "since");
    if (query.until_micros < 0) return InvalidArgument("until must not be negative", "until");
    const int limit = std::min(query.limit, kMaxLimit);
    std::int64_t after_ts = -1, after_id = -1;
    if (!query.page_token.empty()) RETURN_IF_ERROR(DecodeToken(query.page_token, &after_ts, &after_id));
    const std::int64_t until = query.until_micros > 0 ? query.until_micros : INT64_MAX;

    ASSIGN_OR_RETURN(store::Rows rows,
                     db_->Query("SELECT id, endpoint, revision, request_id, ts_micros, status, request, "
                                "response, truncated FROM prediction_logs "
                                "WHERE endpoint = $1 AND ts_micros >= $2 AND ts_micros < $3 "
                                "AND (ts_micros > $4 OR (ts_micros = $4 AND id > $5)) "
                                "ORDER BY ts_micros, id LIMIT $6",
                                {query.endpoint, query.since_micros, until, after_ts, after_id,
                                 std::int64_t{limit} + 1}));
    PayloadPage page;
    const std::size_t n = std::min(rows.size(), static_cast<std::size_t>(limit));
    page.records.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      const store::Row& row = rows[i];
      PayloadRecord r;
      r.endpoint = row.Text(1);
      r.revision = row.Text(2);
      r.request_id = row.Text(3);
      r.timestamp_micros = row.Int(4);
      r.status = static_cast<int>(row.Int(5));
      r.request = row.Text(6);
      r.response = row.Text(7);
      r.truncated = row.Int(8) != 0;
      page.records.push_back(std::move(r));
    }
    if (rows.size() > n) page.next_page_token = EncodeToken(rows[n - 1].Int(4), rows[n - 1].Int(0));
    return page;
  }

  std::uint64_t dropped() const override { return dropped_.load(std::memory_order_relaxed); }

  void Close() override {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
    std::lock_guard join_lock(join_mu_);
    if (writer_.joinable()) writer_.join();
  }

 private:
  void WriterLoop() {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return closed_ || !queue_.empty(); });
      if (queue_.empty()) break;  // closed and drained
      std::vector<PayloadRecord> batch;
      const std::size_t n = std::min(queue_.size(), options_.batch_rows);
      batch.reserve(n);
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      lock.unlock();
      Status status = Insert(batch);
      lock.lock();
      if (!status.ok()) {
        // The store is down or refused the rows: they are lost, as a full
        // queue's are, rather than held without bound.
        dropped_.fetch_add(batch.size(), std::memory_order_relaxed);
        ++failed_batches_;
        last_error_ = status.WithContext("payload log");
        LogEvent(spdlog::level::warn, "payload log write failed",
                 {{"rows", batch.size()}, {"error", last_error_.ToString()}});
      }
      written_ += batch.size();
      done_cv_.notify_all();
    }
    writer_exited_ = true;
    done_cv_.notify_all();
  }

  Status Insert(std::vector<PayloadRecord>& batch) {
    for (PayloadRecord& r : batch) {
      r.endpoint = Storable(std::move(r.endpoint));
      r.revision = Storable(std::move(r.revision));
      r.request_id = Storable(std::move(r.request_id));
      r.request = Storable(std::move(r.request));
      r.response = Storable(std::move(r.response));
    }
    return db_->Transact([&](store::Tx& tx) -> Status {
      for (std::size_t start = 0; start < batch.size(); start += kRowsPerInsert) {
        const std::size_t end = std::min(batch.size(), start + kRowsPerInsert);
        std::string sql =
            "INSERT INTO prediction_logs (endpoint, revision, request_id, ts_micros, status, request, "
            "response, truncated) VALUES ";
        std::vector<store::Value> params;
        params.reserve((end - start) * 8);
        for (std::size_t i = start; i < end; ++i) {
          const PayloadRecord& r = batch[i];
          const std::size_t base = params.size();
          if (i != start) sql += ", ";
          sql += "(";
          for (std::size_t k = 1; k <= 8; ++k) {
            if (k != 1) sql += ", ";
            sql += "$" + std::to_string(base + k);
          }
          sql += ")";
          params.emplace_back(r.endpoint);
          params.emplace_back(r.revision);
          params.emplace_back(r.request_id);
          params.emplace_back(r.timestamp_micros);
          params.emplace_back(std::int64_t{r.status});
          params.emplace_back(r.request);
          params.emplace_back(r.response);
          params.emplace_back(std::int64_t{r.truncated ? 1 : 0});
        }
        RETURN_IF_ERROR(tx.Exec(sql, params).status());
      }
      return Status::OK();
    });
  }

  store::Database* db_;
  Env* env_;
  PayloadLogOptions options_;
  std::atomic<std::uint64_t> dropped_{0};

  std::mutex mu_;
  std::condition_variable cv_;       // the writer waits for records or Close
  std::condition_variable done_cv_;  // Flush waits for the writer
  std::deque<PayloadRecord> queue_;
  std::uint64_t appended_ = 0, written_ = 0, failed_batches_ = 0;
  Status last_error_;
  bool closed_ = false, writer_exited_ = false;

  std::mutex join_mu_;  // Close may be called from several threads
  std::thread writer_;
};

}  // namespace

Result<std::unique_ptr<PayloadLog>> PayloadLog::Open(store::Database* db, Env* env, PayloadLogOptions options) {
  if (db == nullptr) return InvalidArgument("payload log needs a database");
  if (env == nullptr) env = Env::Default();
  // Fail at start-up, not on the first write, when migration 0010 is missing.
  RETURN_IF_ERROR(db->Query("SELECT id FROM prediction_logs WHERE id < 0").status().WithContext("payload log"));
  return std::unique_ptr<PayloadLog>(new StorePayloadLog(db, env, options));
}

}  // namespace ferry::serving
