// Task logs of pipeline runs, native-style (not part of KFP's API):
//
//   GET /api/v1/namespaces/{ns}/pipelineruns/{run_id}/log
//       ?task=NAME_OR_PATH   one task's latest attempt (name when unique in the run)
//       &follow=true         keep streaming new bytes until the task (or, without
//                            task, the run) is final
//       &limitBytes=N        only the last N bytes of what is already written
//                            (default 10 MiB)
//
// The body is text/plain. Without `task` it is every started leaf task's log
// in task order, each after a `==> PATH <==` line (as `tail` prints several
// files); the byte limit then applies to the whole, dropping the oldest bytes.
// A task that never started (or a DAG task) is 404 naming it. Pipeline runs
// live in namespace "default".
//
// Following: files are not watched through the OS; one tailer thread polls
// every followed log every 200 ms (the run's revision first, so the task
// table is only re-read when something changed) and wakes the connection
// when there are new bytes. A stream holds at most 1 MiB the client has not
// taken yet; a slow reader just makes the tailer read later.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "ferry/api/errors.h"
#include "ferry/api/routes/kfp/routes.h"
#include "ferry/common/strings.h"
#include "ferry/pipelines/engine.h"

namespace ferry::api::kfp {
namespace {

using namespace std::chrono_literals;
using pipelines::PipelineEngine;
using pipelines::RunDetail;
using pipelines::TaskStatus;

constexpr std::int64_t kDefaultLimitBytes = std::int64_t{10} << 20;
constexpr std::size_t kMaxPendingBytes = std::size_t{1} << 20;
constexpr auto kPollInterval = 200ms;
constexpr char kNamespace[] = "default";
constexpr char kTextPlain[] = "text/plain; charset=utf-8";

struct LogQuery {
  std::string task;  // empty: every task
  bool follow = false;
  std::int64_t limit_bytes = kDefaultLimitBytes;
};

Result<LogQuery> ParseLogQuery(const HttpRequest& request) {
  LogQuery q;
  for (const auto& [key, value] : request.query) {
    if (key == "task") {
      if (value.empty()) return InvalidArgument("task must not be empty", "task");
      q.task = value;
    } else if (key == "follow") {
      if (value == "true" || value == "1") {
        q.follow = true;
      } else if (value == "false" || value == "0") {
        q.follow = false;
      } else {
        return InvalidArgument("follow must be true or false, got " + QuoteForMessage(value), "follow");
      }
    } else if (key == "limitBytes") {
      std::int64_t n = 0;
      bool digits = !value.empty() && value.size() <= 18 &&
                    std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (digits) n = std::stoll(value);
      if (!digits || n <= 0)
        return InvalidArgument("limitBytes must be a positive integer, got " + QuoteForMessage(value),
                               "limitBytes");
      q.limit_bytes = n;
    } else {
      return InvalidArgument(
          "unknown query parameter " + QuoteForMessage(key) + " (known: task, follow, limitBytes)", key);
    }
  }
  return q;
}

std::int64_t FileSize(const std::string& path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<std::int64_t>(size);
}

// Up to `max` bytes of `path` from `offset`; empty when the file is missing.
std::string ReadRange(const std::string& path, std::int64_t offset, std::int64_t max) {
  std::string out;
  if (max <= 0) return out;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return out;
  if (std::fseek(f, static_cast<long>(offset), SEEK_SET) == 0) {
    out.resize(static_cast<std::size_t>(max));
    out.resize(std::fread(out.data(), 1, out.size(), f));
  }
  std::fclose(f);
  return out;
}

std::string Header(const TaskStatus& task, bool first) {
  std::string h = first ? "" : "\n";
  h += "==> " + task.path;
  if (task.attempt > 1) h += " (attempt " + std::to_string(task.attempt) + ")";
  return h + " <==\n";
}

// The leaf tasks that have a log, in task order.
std::vector<const TaskStatus*> LoggedTasks(const RunDetail& detail) {
  std::vector<const TaskStatus*> out;
  for (const auto& t : detail.tasks)
    if (!t.log_path.empty()) out.push_back(&t);
  return out;
}

// The task whose latest attempt logs to `log_path` (which
// PipelineEngine::TaskLogPath resolved from the task's path or name).
const TaskStatus* FindTask(const RunDetail& detail, const std::string& log_path) {
  for (const auto& t : detail.tasks)
    if (t.log_path == log_path) return &t;
  return nullptr;
}

// What is already written: the text and, per task path, where it ends.
struct Snapshot {
  std::string text;
  std::map<std::string, std::int64_t> offsets;  // task path -> bytes read up to
};

Snapshot TakeSnapshot(const std::vector<const TaskStatus*>& tasks, bool headers, std::int64_t limit) {
  // The budget goes to the newest bytes: walk back from the last task.
  std::vector<std::int64_t> sizes, starts(tasks.size());
  for (const auto* t : tasks) sizes.push_back(FileSize(t->log_path));
  std::int64_t budget = limit;
  for (std::size_t i = tasks.size(); i-- > 0;) {
    std::int64_t take = std::min(budget, sizes[i]);
    starts[i] = sizes[i] - take;
    budget -= take;
  }
  Snapshot s;
  bool first = true;
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    s.offsets[tasks[i]->path] = sizes[i];
    if (starts[i] == sizes[i] && sizes[i] > 0) continue;  // dropped by the limit
    if (headers) {
      s.text += Header(*tasks[i], first);
      first = false;
    }
    s.text += ReadRange(tasks[i]->log_path, starts[i], sizes[i] - starts[i]);
    if (headers && !s.text.empty() && s.text.back() != '\n') s.text += '\n';
  }
  return s;
}

// A followed log (see the file comment). Poll() runs on the tailer thread;
// Attach() and Drain() on the connection's strand.
class FollowStream : public EventStream {
 public:
  FollowStream(PipelineEngine* engine, std::string run_id, std::string task_path, std::int64_t revision,
               const std::vector<const TaskStatus*>& tasks, Snapshot snapshot, bool final)
      : engine_(engine),
        run_id_(std::move(run_id)),
        task_path_(std::move(task_path)),
        revision_(revision),
        final_(final),
        pending_(std::move(snapshot.text)) {
    for (const auto* t : tasks) sources_[t->path] = {t->log_path, snapshot.offsets[t->path], *t};
    if (!task_path_.empty()) {
      current_ = task_path_;
    } else if (!tasks.empty()) {
      current_ = tasks.back()->path;
    }
    printed_header_ = !pending_.empty() || !task_path_.empty();
  }

  std::string content_type() const override { return kTextPlain; }

  void Attach(std::function<void()> wake) override {
    std::function<void()> wake_now;
    {
      std::lock_guard lock(mu_);
      wake_ = std::move(wake);
      if (!pending_.empty() || ended_) wake_now = wake_;
    }
    if (wake_now) wake_now();
  }

  bool Drain(std::string* out) override {
    std::lock_guard lock(mu_);
    out->append(pending_);
    pending_.clear();
    return !ended_;
  }

  bool ended() const {
    std::lock_guard lock(mu_);
    return ended_;
  }

  // Reads what is new; ends the stream once the followed task (or the run)
  // is final and every byte was read.
  void Poll() {
    {
      std::lock_guard lock(mu_);
      if (ended_ || pending_.size() >= kMaxPendingBytes) return;
    }
    std::string out;
    bool end = false;
    auto run = engine_->WaitForChange(run_id_, revision_, 0ms);
    if (!run.ok()) {
      out = "\n[ferry] log stream ended: " + run.status().message() + "\n";
      end = true;
    } else if (run->revision != revision_) {
      // Final is decided before reading, so the bytes read next are all there are.
      Refresh(run->revision);
    }
    bool all_read = true;
    if (!end) {
      std::size_t room = kMaxPendingBytes;
      for (auto& [path, source] : sources_) {
        std::int64_t size = FileSize(source.file);
        if (size < source.offset) source.offset = 0;  // a new attempt's file
        if (size == source.offset) continue;
        std::string bytes = ReadRange(source.file, source.offset, static_cast<std::int64_t>(room));
        if (bytes.empty()) continue;
        if (task_path_.empty() && (current_ != path || !printed_header_)) {
          out += Header(source.task, !printed_header_);
          printed_header_ = true;
          current_ = path;
        }
        source.offset += static_cast<std::int64_t>(bytes.size());
        room -= std::min(room, bytes.size());
        out += bytes;
        if (source.offset < size) all_read = false;
        if (room == 0) {
          all_read = false;
          break;
        }
      }
      end = final_ && all_read;
    }
    std::function<void()> wake;
    {
      std::lock_guard lock(mu_);
      pending_ += out;
      ended_ = end;
      if (!out.empty() || end) wake = wake_;
    }
    if (wake) wake();
  }

 private:
  struct Source {
    std::string file;
    std::int64_t offset = 0;
    TaskStatus task;
  };

  void Refresh(std::int64_t revision) {
    auto detail = engine_->GetRun(run_id_);
    if (!detail.ok()) return;  // next poll tries again
    revision_ = revision;
    if (task_path_.empty()) {
      final_ = pipelines::IsFinal(detail->run.state);
      for (const auto* t : LoggedTasks(*detail)) {
        auto& source = sources_[t->path];
        if (source.file != t->log_path) source = {t->log_path, 0, *t};
      }
      return;
    }
    for (const auto& t : detail->tasks) {
      if (t.path != task_path_) continue;
      final_ = pipelines::IsFinal(t.state);
      auto& source = sources_[t.path];
      if (!t.log_path.empty() && source.file != t.log_path) source = {t.log_path, 0, t};
    }
  }

  PipelineEngine* engine_;
  const std::string run_id_;
  const std::string task_path_;  // empty: every task
  // Tailer-thread state.
  std::int64_t revision_;
  bool final_;
  std::map<std::string, Source> sources_;  // by task path, which sorts as task order
  std::string current_;                    // the task whose bytes were sent last
  bool printed_header_ = false;

  mutable std::mutex mu_;
  std::string pending_;         // guarded by mu_
  bool ended_ = false;          // guarded by mu_
  std::function<void()> wake_;  // guarded by mu_
};

// The one thread that polls every followed log; it sleeps while there is none.
class LogTailer {
 public:
  LogTailer() : thread_([this] { Loop(); }) {}
  ~LogTailer() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  void Add(const std::shared_ptr<FollowStream>& stream) {
    {
      std::lock_guard lock(mu_);
      streams_.push_back(stream);
    }
    cv_.notify_all();
  }

 private:
  void Loop() {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stop_ || !streams_.empty(); });
      if (cv_.wait_for(lock, kPollInterval, [&] { return stop_; })) return;
      std::vector<std::shared_ptr<FollowStream>> live;
      std::vector<std::weak_ptr<FollowStream>> keep;
      for (auto& weak : streams_) {
        if (auto s = weak.lock()) {
          live.push_back(s);
          keep.push_back(weak);
        }
      }
      streams_.swap(keep);
      lock.unlock();
      for (auto& s : live) s->Poll();
      live.clear();  // the last reference may be ours: release it unlocked
      lock.lock();
      std::erase_if(streams_, [](const std::weak_ptr<FollowStream>& w) {
        auto s = w.lock();
        return s == nullptr || s->ended();
      });
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;                                 // guarded by mu_
  std::vector<std::weak_ptr<FollowStream>> streams_;  // guarded by mu_
  std::thread thread_;                                // last: starts after the rest
};

Result<HttpResponse> GetLog(PipelineEngine* engine, LogTailer* tailer, const HttpRequest& request) {
  const std::string& ns = request.Param("ns");
  const std::string& run_id = request.Param("run_id");
  if (ns != kNamespace)
    return NotFound("pipeline run " + QuoteForMessage(run_id) + " not found in namespace " +
                    QuoteForMessage(ns) + " (pipeline runs live in namespace \"default\")");
  ASSIGN_OR_RETURN(LogQuery query, ParseLogQuery(request));
  std::string task_log;
  if (!query.task.empty()) {
    // NotFound naming the task when it never started (or is a DAG task).
    ASSIGN_OR_RETURN(task_log, engine->TaskLogPath(run_id, query.task));
  }
  ASSIGN_OR_RETURN(RunDetail detail, engine->GetRun(run_id));
  std::vector<const TaskStatus*> tasks;
  if (query.task.empty()) {
    tasks = LoggedTasks(detail);
  } else if (const TaskStatus* t = FindTask(detail, task_log); t != nullptr) {
    tasks.push_back(t);
  } else {
    return NotFound("task " + QuoteForMessage(query.task) + " has no log in pipeline run " +
                    QuoteForMessage(run_id));
  }
  Snapshot snapshot = TakeSnapshot(tasks, query.task.empty(), query.limit_bytes);
  if (!query.follow) return TextResponse(200, kTextPlain, std::move(snapshot.text));

  const bool final =
      query.task.empty() ? pipelines::IsFinal(detail.run.state) : pipelines::IsFinal(tasks.front()->state);
  auto stream = std::make_shared<FollowStream>(engine, run_id, query.task.empty() ? "" : tasks.front()->path,
                                               detail.run.revision, tasks, std::move(snapshot), final);
  tailer->Add(stream);
  HttpResponse response;
  response.stream = std::move(stream);
  return response;
}

}  // namespace

Status AddLogRoutes(Router& router, const ApiServices& services) {
  PipelineEngine* engine = services.pipelines;
  auto tailer = std::make_shared<LogTailer>();
  return router.Add("GET", "/api/v1/namespaces/{ns}/pipelineruns/{run_id}/log",
                    [engine, tailer](const HttpRequest& request) {
                      auto response = GetLog(engine, tailer.get(), request);
                      return response.ok() ? std::move(response).value()
                                           : api::ErrorResponse(request, response.status());
                    });
}

}  // namespace ferry::api::kfp
