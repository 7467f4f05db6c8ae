#include "ferry/serving/deployments/controller.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "ferry/common/json.h"
#include "ferry/common/logging.h"
#include "ferry/common/strings.h"
#include "ferry/common/time.h"
#include "ferry/serving/deployments/endpoint_spec.h"

namespace ferry::serving::deployments {
namespace {

namespace fs = std::filesystem;
using executors::TaskSpec;
using executors::TaskState;
using executors::TaskUpdate;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// Knative's annotation names, so KServe YAML keeps working.
constexpr char kScaleDownDelayAnnotation[] = "autoscaling.knative.dev/scale-down-delay";
constexpr char kRetentionAnnotation[] = "autoscaling.knative.dev/scale-to-zero-pod-retention-period";
// How often replicas' ready files, deaths and drains are looked at.
constexpr milliseconds kTick{50};
// The autoscaler averages this many samples (one per scale_interval), as
// Knative's stable window does over 60 s.
constexpr std::size_t kLoadWindow = 6;
constexpr std::size_t kLogTail = 4096;

std::string Str(const Json& object, const char* key) {
  if (!object.is_object()) return {};
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::int64_t Int(const Json& object, const char* key) {
  if (!object.is_object()) return 0;
  auto it = object.find(key);
  return it != object.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

bool AllDigits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(),
                                      [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

// "<isvc>-predictor-00001", as KServe names a predictor's revisions.
std::string RevisionName(const std::string& isvc, int number) {
  char suffix[16];
  std::snprintf(suffix, sizeof(suffix), "%05d", number);
  return isvc + "-predictor-" + suffix;
}

bool Bool(const Json& object, const char* key) {
  if (!object.is_object()) return false;
  auto it = object.find(key);
  return it != object.end() && it->is_boolean() && it->get<bool>();
}

// A Go duration as Knative writes them: "30s", "1m30s", "500ms", "0s".
Result<milliseconds> ParseKnativeDuration(std::string_view text, std::string_view field) {
  auto bad = [&] {
    return InvalidArgument(std::string(field) + ": " + QuoteForMessage(text) +
                           " is not a duration (e.g. \"30s\", \"1m\", \"500ms\")");
  };
  if (text.empty()) return bad();
  double total_ms = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t start = i;
    while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
    if (i == start) return bad();
    double value = 0;
    try {
      value = std::stod(std::string(text.substr(start, i - start)));
    } catch (const std::exception&) {
      return bad();
    }
    const std::size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    const std::string_view unit = text.substr(unit_start, i - unit_start);
    double scale = 0;
    if (unit == "h") {
      scale = 3'600'000;
    } else if (unit == "m") {
      scale = 60'000;
    } else if (unit == "s") {
      scale = 1'000;
    } else if (unit == "ms") {
      scale = 1;
    } else if (unit == "us") {
      scale = 0.001;
    } else {
      return bad();
    }
    total_ms += value * scale;
  }
  if (!std::isfinite(total_ms) || total_ms > 7 * 24 * 3'600'000.0) return bad();
  return milliseconds(static_cast<std::int64_t>(total_ms));
}

// Sets condition `type` (KServe's shape): its transition time changes only
// with its status.
void SetCondition(Json& conditions, const Json& previous, const std::string& type, bool status,
                  const std::string& reason, const std::string& message, const std::string& now) {
  std::string since = now;
  if (previous.is_array()) {
    for (const Json& c : previous) {
      if (Str(c, "type") == type && Str(c, "status") == (status ? "True" : "False"))
        since = Str(c, "lastTransitionTime").empty() ? now : Str(c, "lastTransitionTime");
    }
  }
  Json c = {{"type", type}, {"status", status ? "True" : "False"}, {"lastTransitionTime", since}};
  if (!reason.empty()) c["reason"] = reason;
  if (!message.empty()) c["message"] = message;
  conditions.push_back(std::move(c));
}

// The last line `ferry serve` wrote before it died ("ferry serve: <why>"
// when it failed to start), for the status.
std::string LastWords(const std::string& log_path) {
  std::ifstream in(log_path, std::ios::binary);
  if (!in) return {};
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  const std::streamoff from = std::max<std::streamoff>(0, size - static_cast<std::streamoff>(kLogTail));
  in.seekg(from);
  std::string tail(static_cast<std::size_t>(size - from), '\0');
  in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  std::vector<std::string> lines;
  std::istringstream split(tail);
  for (std::string line; std::getline(split, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) lines.push_back(line);
  }
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    if (it->starts_with("ferry serve: ")) return SanitizeForMessage(it->substr(13));
  }
  return lines.empty() ? std::string() : SanitizeForMessage(lines.back());
}

enum class ReplicaPhase {
  kStarting,  // submitted; its ready file has not appeared
  kReady,     // routed
  kDraining,  // out of the routes, waiting for its requests to finish
  kStopping,  // cancelled, waiting for the executor to say it ended
};

struct Replica {
  int index = 0;
  TaskSpec task;
  std::string ready_file;
  std::string token;  // the executor's attach token, once running
  ReplicaPhase phase = ReplicaPhase::kStarting;
  std::string address;
  Clock::time_point since;  // when the phase began
  std::optional<TaskUpdate> final;
};

struct Revision {
  int number = 0;
  std::string name;             // "<isvc>-predictor-00001"
  Json model = Json::object();  // what makes a revision: modelFormat, storageUri, batcher
  PreparedModel prepared;
  bool failed = false;         // never loaded (its model did not prepare or its replica died first)
  std::string failure_reason;  // KServe's lastFailureInfo.reason
  std::string failure;         // and message
  bool ever_ready = false;     // a replica of it has served
  std::map<int, Replica> replicas;
  // The autoscaler's view.
  int target = 0;  // replicas wanted
  std::deque<double> samples;
  std::optional<Clock::time_point> below_since;
  Clock::time_point last_active;
  std::int64_t last_requests = -1;
};

struct Endpoint {
  std::string ns, name, uid, key;  // key "ns/name", the Router's name
  Json object;
  std::optional<EndpointSpec> spec;  // unset while the spec is invalid
  std::string invalid;               // why the spec cannot be used
  milliseconds scale_down_delay{0}, retention{0};
  std::map<int, Revision> revisions;
  int latest = 0;               // latest created revision (0: none)
  int rolled_out = 0;           // the revision that last took all traffic
  int previous_rolled_out = 0;  // the one before it
  std::map<int, int> traffic;   // revision -> percent, as last computed
  std::vector<RevisionRoute> published;
  bool routes_published = false;
  fs::path dir;
  Json written_status;  // the status as last written
  Clock::time_point last_scale;
};

// What executor threads and the store's watch hand to the loop. Shared, so
// a callback arriving after the controller is gone touches nothing freed.
struct Inbox {
  std::mutex mu;
  std::condition_variable cv;
  bool stopped = false;
  std::set<std::string> dirty;
  std::deque<TaskUpdate> updates;
};

class Controller final : public DeploymentController {
 public:
  Controller(store::ResourceStore* resources, Router* router, executors::Executor* executor, Env* env,
             DeploymentControllerOptions options)
      : resources_(resources),
        router_(router),
        executor_(executor),
        env_(env),
        options_(std::move(options)),
        inbox_(std::make_shared<Inbox>()) {}

  ~Controller() override { Shutdown(); }

  Status Begin() {
    if (options_.ferry_binary.empty()) return InvalidArgument("the deployment controller needs ferry_binary");
    if (options_.data_dir.empty()) return InvalidArgument("the deployment controller needs data_dir");
    if (!options_.prepare) return InvalidArgument("the deployment controller needs a prepare function");
    if (options_.scale_interval.count() <= 0) return InvalidArgument("scale_interval must be positive");
    store::WatchOptions watch;
    watch.type_key = kInferenceServicesKey;
    watch.initial_state = true;
    std::weak_ptr<Inbox> weak = inbox_;
    ASSIGN_OR_RETURN(subscription_, resources_->Watch(watch, [weak](const store::WatchEvent& event) {
      auto inbox = weak.lock();
      if (!inbox) return;
      const Json& md = event.object["metadata"];
      {
        std::lock_guard<std::mutex> lock(inbox->mu);
        inbox->dirty.insert(Str(md, "namespace") + "/" + Str(md, "name"));
      }
      inbox->cv.notify_all();
    }));
    thread_ = std::thread([this] { Loop(); });
    return Status();
  }

  void Shutdown() override {
    {
      std::lock_guard<std::mutex> lock(inbox_->mu);
      if (inbox_->stopped) return;
      inbox_->stopped = true;
    }
    inbox_->cv.notify_all();
    subscription_.reset();
    if (thread_.joinable()) thread_.join();
  }

 private:
  executors::UpdateCallback Callback() {
    std::weak_ptr<Inbox> weak = inbox_;
    return [weak](const TaskUpdate& update) {
      auto inbox = weak.lock();
      if (!inbox) return;
      {
        std::lock_guard<std::mutex> lock(inbox->mu);
        inbox->updates.push_back(update);
      }
      inbox->cv.notify_all();
    };
  }

  void Loop() {
    bool first = true;
    std::unique_lock<std::mutex> lock(inbox_->mu);
    while (!inbox_->stopped) {
      if (!first) {
        inbox_->cv.wait_for(lock, kTick, [this] {
          return inbox_->stopped || !inbox_->dirty.empty() || !inbox_->updates.empty();
        });
      }
      if (inbox_->stopped) break;
      std::set<std::string> dirty = std::move(inbox_->dirty);
      inbox_->dirty.clear();
      std::deque<TaskUpdate> updates = std::move(inbox_->updates);
      inbox_->updates.clear();
      lock.unlock();
      for (const TaskUpdate& u : updates) Apply(u);
      for (const std::string& key : dirty) Reconcile(key);
      if (first) CollectOrphans();
      first = false;
      for (auto& [key, x] : endpoints_) Step(x);
      lock.lock();
    }
  }

  // ---------------------------------------------------------------- tasks

  void Apply(const TaskUpdate& update) {
    auto owner = tasks_.find(update.id);
    if (owner == tasks_.end()) return;
    Replica* r = Find(owner->second);
    if (r == nullptr) {
      // A replica of a deleted endpoint, cancelled on the way out.
      if (executors::IsTerminal(update.state)) {
        executor_->Release(update.id);
        tasks_.erase(owner);
      }
      return;
    }
    if (update.state == TaskState::kRunning && !update.attach_token.empty()) r->token = update.attach_token;
    if (executors::IsTerminal(update.state)) r->final = update;
  }

  struct ReplicaRef {
    std::string key;
    int revision = 0;
    int index = 0;
  };

  Replica* Find(const ReplicaRef& ref) {
    auto x = endpoints_.find(ref.key);
    if (x == endpoints_.end()) return nullptr;
    auto rev = x->second.revisions.find(ref.revision);
    if (rev == x->second.revisions.end()) return nullptr;
    auto r = rev->second.replicas.find(ref.index);
    return r == rev->second.replicas.end() ? nullptr : &r->second;
  }

  void Cancel(const std::string& task_id) {
    Status s = executor_->Cancel(task_id);
    if (!s.ok() && s.code() != StatusCode::kNotFound)
      LogEvent(spdlog::level::warn, "stopping a replica failed", {{"task", task_id}, {"error", s.message()}});
  }

  // The replica's task as it was or will be submitted; fixed by (uid,
  // revision, index), so a restarted controller finds it again.
  TaskSpec ReplicaTask(const Endpoint& x, const Revision& rev, int index, std::string* ready_file) const {
    const fs::path dir = x.dir / std::to_string(rev.number);
    char suffix[32];
    std::snprintf(suffix, sizeof(suffix), "%05d-%d", rev.number, index);
    TaskSpec t;
    t.id = "isvc-" + x.uid + "-" + suffix;
    *ready_file = (dir / ("replica-" + std::to_string(index) + ".ready")).string();
    t.argv = {options_.ferry_binary,
              "serve",
              "--model",
              x.name + "=" + rev.prepared.path,
              "--listen",
              "127.0.0.1:0",
              "--ready-file",
              *ready_file,
              "--log-level",
              "warn"};
    const Json& batcher = rev.model["batcher"];
    if (Int(batcher, "maxBatchSize") > 0) {
      t.argv.push_back("--max-batch-size");
      t.argv.push_back(std::to_string(Int(batcher, "maxBatchSize")));
      t.argv.push_back("--max-queue-delay-us");
      t.argv.push_back(std::to_string(Int(batcher, "maxLatencyUs")));
    }
    t.env = options_.base_env;
    t.working_dir = dir.string();
    t.log_path = (dir / ("replica-" + std::to_string(index) + ".log")).string();
    return t;
  }

  void StartReplica(Endpoint& x, Revision& rev) {
    int index = 0;
    while (rev.replicas.count(index) != 0) ++index;
    Replica r;
    r.index = index;
    r.task = ReplicaTask(x, rev, index, &r.ready_file);
    std::error_code ec;
    fs::create_directories(r.task.working_dir, ec);
    fs::remove(r.ready_file, ec);
    tasks_[r.task.id] = {x.key, rev.number, index};
    Status started = executor_->Submit(r.task, Callback());
    if (started.code() == StatusCode::kFailedPrecondition)
      started = executor_->Reattach(r.task, "", Callback());
    if (!started.ok()) {
      tasks_.erase(r.task.id);
      LogEvent(spdlog::level::warn, "starting a replica failed",
               {{"endpoint", x.key}, {"revision", rev.name}, {"error", started.message()}});
      if (!rev.ever_ready)
        Fail(rev, "RuntimeUnhealthy", "the replica could not be started: " + started.message());
      return;
    }
    r.since = env_->SteadyNow();
    LogEvent(spdlog::level::info, "replica starting",
             {{"endpoint", x.key}, {"revision", rev.name}, {"task", r.task.id}});
    rev.replicas.emplace(index, std::move(r));
  }

  static void Fail(Revision& rev, const std::string& reason, const std::string& message) {
    rev.failed = true;
    rev.failure_reason = reason;
    rev.failure = message;
    rev.target = 0;
  }

  // Takes a replica out of the routes; it is cancelled once its requests
  // are done (Step).
  void Retire(Replica& r) {
    if (r.phase == ReplicaPhase::kReady) {
      r.phase = ReplicaPhase::kDraining;
      r.since = env_->SteadyNow();
    } else if (r.phase == ReplicaPhase::kStarting) {
      r.phase = ReplicaPhase::kStopping;
      Cancel(r.task.id);
    }
  }

  // ------------------------------------------------------------ reconcile

  void Reconcile(const std::string& key) {
    const std::size_t slash = key.find('/');
    const std::string ns = key.substr(0, slash), name = key.substr(slash + 1);
    auto got = resources_->Get(kInferenceServicesKey, ns, name);
    auto it = endpoints_.find(key);
    if (!got.ok()) {
      if (got.status().code() != StatusCode::kNotFound) {
        LogEvent(spdlog::level::warn, "reading an inference service failed",
                 {{"endpoint", key}, {"error", got.status().message()}});
        read_failed_ = true;
        return;
      }
      if (it != endpoints_.end()) Forget(it);
      return;
    }
    const std::string uid = Str((*got)["metadata"], "uid");
    if (it != endpoints_.end() && it->second.uid != uid) {
      Forget(it);
      it = endpoints_.end();
    }
    if (it == endpoints_.end()) {
      it = endpoints_.emplace(key, Endpoint{}).first;
      Endpoint& x = it->second;
      x.ns = ns;
      x.name = name;
      x.uid = uid;
      x.key = key;
      x.dir = fs::path(options_.data_dir) / "serving" / uid;
      x.object = *got;
      Load(x);
    }
    Endpoint& x = it->second;
    x.object = std::move(*got);
    ReadSpec(x);
    if (!x.spec) return;
    const EndpointSpec& spec = *x.spec;
    Json model = {
        {"modelFormat", spec.model_format},
        {"storageUri", spec.storage_uri},
        {"batcher",
         {{"maxBatchSize", spec.batcher.max_batch_size}, {"maxLatencyUs", spec.batcher.max_latency_us}}}};
    auto latest = x.revisions.find(x.latest);
    if (latest != x.revisions.end() && latest->second.model == model) return;
    // A new revision: the model (or how it is served) changed.
    Revision rev;
    rev.number = x.latest + 1;
    rev.name = RevisionName(x.name, rev.number);
    char suffix[16];
    std::snprintf(suffix, sizeof(suffix), "%05d", rev.number);
    rev.model = std::move(model);
    rev.last_active = env_->SteadyNow();
    auto prepared = options_.prepare(spec.model_format, spec.storage_uri, x.uid + "/" + suffix);
    if (prepared.ok()) {
      rev.prepared = std::move(*prepared);
    } else {
      Fail(rev, "ModelLoadFailed", prepared.status().message());
    }
    LogEvent(rev.failed ? spdlog::level::warn : spdlog::level::info, "new revision",
             {{"endpoint", x.key},
              {"revision", rev.name},
              {"storage_uri", spec.storage_uri},
              {"error", rev.failure}});
    x.latest = rev.number;
    x.revisions.emplace(rev.number, std::move(rev));
  }

  void ReadSpec(Endpoint& x) {
    x.invalid.clear();
    auto spec = ParseEndpointSpec(x.object);
    if (!spec.ok()) {
      x.spec.reset();
      x.invalid = spec.status().message();
      return;
    }
    x.scale_down_delay = options_.scale_down_delay;
    x.retention = options_.scale_to_zero_grace;
    const Json& annotations =
        x.object["metadata"].contains("annotations") ? x.object["metadata"]["annotations"] : Json::object();
    for (auto [name, target] : {std::pair{kScaleDownDelayAnnotation, &x.scale_down_delay},
                                std::pair{kRetentionAnnotation, &x.retention}}) {
      const std::string text = Str(annotations, name);
      if (text.empty()) continue;
      auto d = ParseKnativeDuration(text, std::string("metadata.annotations[") + name + "]");
      if (!d.ok()) {
        x.spec.reset();
        x.invalid = d.status().message();
        return;
      }
      *target = *d;
    }
    x.spec = std::move(*spec);
  }

  // Takes up what an earlier controller recorded in the status: the
  // revisions and the replicas that may still run.
  void Load(Endpoint& x) {
    const Json& status = x.object.contains("status") ? x.object["status"] : Json();
    if (!status.is_object()) return;
    x.written_status = status;
    const Json& book = status.contains("ferry") ? status["ferry"] : Json();
    if (!book.is_object()) return;
    x.latest = static_cast<int>(Int(book, "latestRevision"));
    x.rolled_out = static_cast<int>(Int(book, "rolledOutRevision"));
    x.previous_rolled_out = static_cast<int>(Int(book, "previousRolledOutRevision"));
    if (!book.contains("revisions") || !book["revisions"].is_array()) return;
    const Clock::time_point now = env_->SteadyNow();
    for (const Json& saved : book["revisions"]) {
      Revision rev;
      rev.number = static_cast<int>(Int(saved, "number"));
      rev.name = Str(saved, "name");
      if (rev.number <= 0 || rev.name.empty()) continue;
      rev.model = saved.contains("model") ? saved["model"] : Json::object();
      rev.prepared.path = Str(saved, "modelPath");
      rev.prepared.runtime = Str(saved, "runtime");
      rev.prepared.resolved_uri = Str(saved, "resolvedUri");
      rev.prepared.reason = Str(saved, "runtimeReason");
      rev.ever_ready = Bool(saved, "everReady");
      rev.failed = Bool(saved, "failed");
      rev.failure_reason = Str(saved, "failureReason");
      rev.failure = Str(saved, "failureMessage");
      rev.last_active = now;
      if (saved.contains("replicas") && saved["replicas"].is_array()) {
        for (const Json& sr : saved["replicas"]) {
          Replica r;
          r.index = static_cast<int>(Int(sr, "index"));
          r.token = Str(sr, "token");
          r.task = ReplicaTask(x, rev, r.index, &r.ready_file);
          tasks_[r.task.id] = {x.key, rev.number, r.index};
          Status attached = executor_->Reattach(r.task, r.token, Callback());
          if (!attached.ok() && !r.token.empty() && attached.code() != StatusCode::kAlreadyExists)
            attached = executor_->Reattach(r.task, "", Callback());
          if (!attached.ok()) {
            // Never started (or unknown to the executor): the autoscaler
            // starts what is wanted.
            tasks_.erase(r.task.id);
            continue;
          }
          r.since = now;
          rev.replicas.emplace(r.index, std::move(r));
        }
      }
      rev.target = static_cast<int>(rev.replicas.size());
      LogEvent(spdlog::level::info, "revision taken up",
               {{"endpoint", x.key}, {"revision", rev.name}, {"replicas", rev.replicas.size()}});
      x.revisions.emplace(rev.number, std::move(rev));
    }
  }

  // The endpoint is gone: out of the routes, its replicas stopped.
  void Forget(std::map<std::string, Endpoint>::iterator it) {
    Endpoint& x = it->second;
    router_->Remove(x.key);
    for (auto& [n, rev] : x.revisions) {
      for (auto& [i, r] : rev.replicas) {
        if (r.final) {
          executor_->Release(r.task.id);
          tasks_.erase(r.task.id);
        } else {
          tasks_[r.task.id] = {};  // an orphan now: its end is Released by Apply
          Cancel(r.task.id);
        }
      }
    }
    std::error_code ec;
    fs::remove_all(x.dir, ec);
    LogEvent(spdlog::level::info, "inference service removed", {{"endpoint", x.key}});
    published_logging_.erase(x.key);
    endpoints_.erase(it);
  }

  // Replicas of endpoints deleted while no controller ran: their folders
  // name them (<data_dir>/serving/<uid>/<revision>/replica-<k>.log).
  void CollectOrphans() {
    // Unsure which services exist: stopping a live one's replicas would be
    // worse than leaving an orphan until the next start.
    if (read_failed_) return;
    std::set<std::string> live;
    for (const auto& [key, x] : endpoints_) live.insert(x.uid);
    std::error_code ec;
    const fs::path root = fs::path(options_.data_dir) / "serving";
    for (const auto& entry : fs::directory_iterator(root, ec)) {
      const std::string uid = entry.path().filename().string();
      if (!entry.is_directory(ec) || uid == "prepared" || live.count(uid) != 0) continue;
      for (const auto& rev_dir : fs::directory_iterator(entry.path(), ec)) {
        const std::string number = rev_dir.path().filename().string();
        if (!AllDigits(number) || number.size() > 6) continue;
        for (const auto& file : fs::directory_iterator(rev_dir.path(), ec)) {
          const std::string f = file.path().filename().string();
          if (!f.starts_with("replica-") || !f.ends_with(".log")) continue;
          const std::string index = f.substr(8, f.size() - 12);
          if (!AllDigits(index) || index.size() > 6) continue;
          char suffix[32];
          std::snprintf(suffix, sizeof(suffix), "%05d-%s", std::atoi(number.c_str()), index.c_str());
          TaskSpec t;
          t.id = "isvc-" + uid + "-" + suffix;
          t.argv = {options_.ferry_binary};
          t.working_dir = rev_dir.path().string();
          tasks_[t.id] = {"", 0, 0};
          if (executor_->Reattach(t, "", Callback()).ok()) {
            Cancel(t.id);
          } else {
            tasks_.erase(t.id);
          }
        }
      }
      fs::remove_all(entry.path(), ec);
    }
  }

  // ----------------------------------------------------------------- step

  void Step(Endpoint& x) {
    const Clock::time_point now = env_->SteadyNow();
    for (auto& [n, rev] : x.revisions) StepReplicas(x, rev, now);
    ComputeTraffic(x);
    std::set<int> live;
    for (const auto& [n, percent] : x.traffic)
      if (percent > 0) live.insert(n);
    auto latest = x.revisions.find(x.latest);
    if (latest != x.revisions.end() && !latest->second.failed) live.insert(x.latest);
    const bool scale_now = now - x.last_scale >= options_.scale_interval;
    if (scale_now) x.last_scale = now;
    for (auto it = x.revisions.begin(); it != x.revisions.end();) {
      Revision& rev = it->second;
      if (live.count(rev.number) != 0 && x.spec) {
        Autoscale(x, rev, now, scale_now);
        Converge(x, rev);
      } else if (live.count(rev.number) == 0) {
        for (auto& [i, r] : rev.replicas) Retire(r);
      }
      if (live.count(rev.number) == 0 && rev.replicas.empty() && rev.number != x.latest &&
          rev.number != x.rolled_out) {
        std::error_code ec;
        fs::remove_all(x.dir / std::to_string(rev.number), ec);
        it = x.revisions.erase(it);
      } else {
        ++it;
      }
    }
    Publish(x);
    WriteStatus(x);
  }

  void StepReplicas(Endpoint& x, Revision& rev, Clock::time_point now) {
    for (auto it = rev.replicas.begin(); it != rev.replicas.end();) {
      Replica& r = it->second;
      if (r.final) {
        if (r.phase == ReplicaPhase::kStarting || r.phase == ReplicaPhase::kReady) {
          const std::string words = LastWords(r.task.log_path);
          const std::string why = r.final->message + (words.empty() ? "" : ": " + words);
          LogEvent(spdlog::level::warn, "replica ended",
                   {{"endpoint", x.key}, {"revision", rev.name}, {"task", r.task.id}, {"why", why}});
          // A revision none of whose replicas ever served does not load:
          // stop trying (the previous revision keeps the traffic).
          if (!rev.ever_ready && r.phase == ReplicaPhase::kStarting)
            Fail(rev, "ModelLoadFailed", "the model server exited before it was ready: " + why);
        }
        executor_->Release(r.task.id);
        tasks_.erase(r.task.id);
        it = rev.replicas.erase(it);
        continue;
      }
      switch (r.phase) {
        case ReplicaPhase::kStarting: {
          std::string address = ReadyAddress(r.ready_file);
          if (!address.empty()) {
            r.phase = ReplicaPhase::kReady;
            r.address = std::move(address);
            r.since = now;
            rev.ever_ready = true;
            LogEvent(spdlog::level::info, "replica ready",
                     {{"endpoint", x.key}, {"revision", rev.name}, {"address", r.address}});
          } else if (now - r.since > options_.ready_timeout) {
            LogEvent(spdlog::level::warn, "replica not ready in time; replacing it",
                     {{"endpoint", x.key}, {"revision", rev.name}, {"task", r.task.id}});
            if (!rev.ever_ready)
              Fail(rev, "ModelLoadFailed",
                   "the model server was not ready within " +
                       std::to_string(options_.ready_timeout.count() / 1000) + "s");
            r.phase = ReplicaPhase::kStopping;
            Cancel(r.task.id);
          }
          break;
        }
        case ReplicaPhase::kDraining:
          if (router_->InFlight(r.address) == 0 || now - r.since > options_.drain_timeout) {
            r.phase = ReplicaPhase::kStopping;
            r.since = now;
            Cancel(r.task.id);
          }
          break;
        case ReplicaPhase::kReady:
        case ReplicaPhase::kStopping:
          break;
      }
      ++it;
    }
  }

  static std::string ReadyAddress(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    if (!in || !std::getline(in, line)) return {};
    const std::size_t colon = line.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == line.size()) return {};
    return line;
  }

  // KServe's traffic rules (see the header).
  void ComputeTraffic(Endpoint& x) {
    x.traffic.clear();
    auto usable = [&](int n) {
      auto it = x.revisions.find(n);
      return it != x.revisions.end() && !it->second.failed && it->second.ever_ready;
    };
    // No canaryTrafficPercent is the same as 100: the latest takes all.
    const int canary = x.spec ? x.spec->canary_traffic_percent.value_or(100) : 100;
    if (usable(x.latest)) {
      const bool split = canary < 100 && x.rolled_out != 0 && x.rolled_out != x.latest && usable(x.rolled_out);
      if (!split) {
        if (x.rolled_out != x.latest) {
          x.previous_rolled_out = x.rolled_out;
          x.rolled_out = x.latest;
        }
        x.traffic[x.latest] = 100;
      } else {
        x.traffic[x.latest] = canary;
        x.traffic[x.rolled_out] = 100 - canary;
      }
    } else if (x.rolled_out != 0 && x.rolled_out != x.latest && x.revisions.count(x.rolled_out) != 0) {
      x.traffic[x.rolled_out] = 100;
    } else if (x.latest != 0 && x.revisions.count(x.latest) != 0 && !x.revisions[x.latest].failed) {
      // Nothing served yet: requests wait for the first revision.
      x.traffic[x.latest] = 100;
    }
  }

  // Concurrency autoscaling (Knative's KPA, simplified): the average of the
  // recent in-flight samples over scaleTarget, within [min, max]; down
  // only after scale_down_delay; to zero only after `retention` idle.
  void Autoscale(Endpoint& x, Revision& rev, Clock::time_point now, bool sample) {
    const EndpointSpec& spec = *x.spec;
    if (!rev.ever_ready) {
      // Must start to find out whether it loads, whatever minReplicas says.
      rev.target = std::max(rev.target, std::max(1, spec.min_replicas));
      rev.target = std::min(rev.target, std::max(1, spec.max_replicas));
      return;
    }
    const EndpointLoad load = router_->LoadOf(x.key, rev.name);
    if (load.in_flight > 0 || load.waiting > 0 || load.requests_total != rev.last_requests)
      rev.last_active = now;
    rev.last_requests = load.requests_total;
    if (load.waiting > 0 && rev.target == 0) {
      // Scale from zero at once: a request is waiting.
      rev.target = 1;
      rev.below_since.reset();
    }
    if (!sample) return;
    rev.samples.push_back(static_cast<double>(load.in_flight + load.waiting));
    while (rev.samples.size() > kLoadWindow) rev.samples.pop_front();
    double sum = 0;
    for (double s : rev.samples) sum += s;
    const double average = sum / static_cast<double>(rev.samples.size());
    const double target = static_cast<double>(std::max<std::int64_t>(1, spec.scale_target));
    int wanted = static_cast<int>(std::ceil(average / target - 1e-9));
    if (wanted == 0 && now - rev.last_active < x.retention) wanted = 1;
    if (load.waiting > 0) wanted = std::max(wanted, 1);
    wanted = std::clamp(wanted, spec.min_replicas, std::max(spec.max_replicas, spec.min_replicas));
    if (wanted >= rev.target) {
      rev.below_since.reset();
      rev.target = wanted;
      return;
    }
    if (!rev.below_since) rev.below_since = now;
    if (now - *rev.below_since >= x.scale_down_delay) {
      LogEvent(spdlog::level::info, "scaling down",
               {{"endpoint", x.key}, {"revision", rev.name}, {"from", rev.target}, {"to", wanted}});
      rev.target = wanted;
      rev.below_since.reset();
    }
  }

  // Starts or retires replicas so that `target` of them run.
  void Converge(Endpoint& x, Revision& rev) {
    if (rev.failed || rev.prepared.path.empty()) return;
    int running = 0;
    for (const auto& [i, r] : rev.replicas)
      if (r.phase == ReplicaPhase::kStarting || r.phase == ReplicaPhase::kReady) ++running;
    while (running < rev.target) {
      const std::size_t before = rev.replicas.size();
      StartReplica(x, rev);
      if (rev.replicas.size() == before) return;
      ++running;
    }
    // Extra replicas: the ones not yet serving first, then the newest.
    for (auto it = rev.replicas.rbegin(); it != rev.replicas.rend() && running > rev.target; ++it) {
      if (it->second.phase == ReplicaPhase::kStarting) {
        Retire(it->second);
        --running;
      }
    }
    for (auto it = rev.replicas.rbegin(); it != rev.replicas.rend() && running > rev.target; ++it) {
      if (it->second.phase == ReplicaPhase::kReady) {
        Retire(it->second);
        --running;
      }
    }
  }

  void Publish(Endpoint& x) {
    std::vector<RevisionRoute> routes;
    for (const auto& [n, percent] : x.traffic) {
      if (percent <= 0) continue;
      RevisionRoute route;
      route.revision = x.revisions[n].name;
      route.percent = percent;
      for (const auto& [i, r] : x.revisions[n].replicas)
        if (r.phase == ReplicaPhase::kReady) route.replicas.push_back(r.address);
      routes.push_back(std::move(route));
    }
    PayloadLogging logging;
    if (x.spec) {
      const LogMode mode = x.spec->logger.mode;
      logging.requests = mode == LogMode::kAll || mode == LogMode::kRequest;
      logging.responses = mode == LogMode::kAll || mode == LogMode::kResponse;
      logging.sample_rate = x.spec->logger.sample_rate;
    }
    const bool same =
        x.routes_published && routes.size() == x.published.size() &&
        std::equal(routes.begin(), routes.end(), x.published.begin(),
                   [](const RevisionRoute& a, const RevisionRoute& b) {
                     return a.revision == b.revision && a.percent == b.percent && a.replicas == b.replicas;
                   }) &&
        logging.requests == published_logging_[x.key].requests &&
        logging.responses == published_logging_[x.key].responses &&
        logging.sample_rate == published_logging_[x.key].sample_rate;
    if (same) return;
    if (routes.empty()) {
      router_->Remove(x.key);
    } else {
      router_->SetRoutes(x.key, routes, logging);
    }
    x.published = std::move(routes);
    published_logging_[x.key] = logging;
    x.routes_published = true;
  }

  // --------------------------------------------------------------- status

  void WriteStatus(Endpoint& x) {
    const std::string now = FormatRfc3339(env_->NowMicros());
    const Json& previous = x.written_status.is_object() && x.written_status.contains("conditions")
                               ? x.written_status["conditions"]
                               : Json();
    auto name_of = [&](int n) { return RevisionName(x.name, n); };
    int latest_ready = 0;
    for (const auto& [n, rev] : x.revisions)
      if (rev.ever_ready && !rev.failed) latest_ready = n;
    bool serving = false;  // a revision with traffic has loaded its model
    for (const auto& [n, percent] : x.traffic)
      if (percent > 0 && x.revisions[n].ever_ready) serving = true;
    const Revision* latest = x.revisions.count(x.latest) != 0 ? &x.revisions[x.latest] : nullptr;

    Json status = Json::object();
    const std::string url = options_.gateway_url + "/v2/models/" + x.name;
    status["url"] = url;
    status["address"] = {{"url", url}};
    Json traffic = Json::array();
    for (const auto& [n, percent] : x.traffic) {
      traffic.push_back({{"revisionName", name_of(n)},
                         {"percent", percent},
                         {"latestRevision", n == x.latest},
                         {"tag", n == x.latest ? "latest" : "prev"}});
    }
    Json predictor = {{"url", url}, {"traffic", traffic}};
    if (latest) predictor["latestCreatedRevision"] = latest->name;
    if (latest_ready) predictor["latestReadyRevision"] = name_of(latest_ready);
    if (x.rolled_out) predictor["latestRolledoutRevision"] = name_of(x.rolled_out);
    if (x.previous_rolled_out) predictor["previousRolledoutRevision"] = name_of(x.previous_rolled_out);
    status["components"] = {{"predictor", predictor}};

    // modelStatus, as KServe reports it.
    Json model_status = Json::object();
    std::string active = serving ? "Loaded" : "Pending", target = "Loaded", transition = "UpToDate";
    if (!x.invalid.empty()) {
      transition = "InvalidSpec";
      model_status["lastFailureInfo"] = {{"reason", "InvalidPredictorSpec"}, {"message", x.invalid}};
    } else if (latest && latest->failed) {
      target = "FailedToLoad";
      if (!serving) active = "FailedToLoad";
      transition = "BlockedByFailedLoad";
      model_status["lastFailureInfo"] = {{"reason", latest->failure_reason},
                                         {"message", latest->failure},
                                         {"modelRevisionName", latest->name}};
    } else if (latest && !latest->ever_ready) {
      target = "Loading";
      transition = "InProgress";
    }
    model_status["states"] = {{"activeModelState", active}, {"targetModelState", target}};
    model_status["transitionStatus"] = transition;
    int total = 0;
    for (const auto& [n, percent] : x.traffic) {
      for (const auto& [i, r] : x.revisions[n].replicas)
        if (r.phase == ReplicaPhase::kReady) ++total;
    }
    model_status["copies"] = {{"totalCopies", total}};
    status["modelStatus"] = model_status;

    Json conditions = Json::array();
    std::string reason, message;
    if (!x.invalid.empty() && !serving) {
      reason = "InvalidSpec";
      message = x.invalid;
    } else if (latest && latest->failed && !serving) {
      reason = "RevisionFailed";
      message = latest->failure;
    } else if (!serving) {
      reason = "RevisionMissing";
      message = "waiting for a revision to load its model";
    }
    SetCondition(conditions, previous, "IngressReady", serving, reason, message, now);
    const bool latest_ok = latest && latest->ever_ready && !latest->failed && x.invalid.empty();
    std::string latest_reason, latest_message;
    if (!x.invalid.empty()) {
      latest_reason = "InvalidSpec";
      latest_message = x.invalid;
    } else if (latest && latest->failed) {
      latest_reason = latest->failure_reason;
      latest_message = latest->failure;
    } else if (!latest_ok) {
      latest_reason = "RevisionLoading";
    }
    SetCondition(conditions, previous, "LatestDeploymentReady", latest_ok, latest_reason, latest_message,
                 now);
    SetCondition(conditions, previous, "PredictorReady", serving, reason, message, now);
    SetCondition(conditions, previous, "Ready", serving, reason, message, now);
    status["conditions"] = std::move(conditions);

    // Ferry's own record, so a restarted controller re-attaches.
    Json revisions = Json::array();
    for (const auto& [n, rev] : x.revisions) {
      Json replicas = Json::array();
      int ready = 0;
      for (const auto& [i, r] : rev.replicas) {
        Json saved = {{"index", i}, {"task", r.task.id}};
        if (!r.token.empty()) saved["token"] = r.token;
        if (!r.address.empty()) saved["address"] = r.address;
        if (r.phase == ReplicaPhase::kReady) ++ready;
        replicas.push_back(std::move(saved));
      }
      Json saved = {{"number", n},
                    {"name", rev.name},
                    {"model", rev.model},
                    {"modelPath", rev.prepared.path},
                    {"runtime", rev.prepared.runtime},
                    {"resolvedUri", rev.prepared.resolved_uri},
                    {"everReady", rev.ever_ready},
                    {"failed", rev.failed},
                    {"readyReplicas", ready},
                    {"replicas", std::move(replicas)}};
      if (!rev.prepared.reason.empty()) saved["runtimeReason"] = rev.prepared.reason;
      if (rev.failed) {
        saved["failureReason"] = rev.failure_reason;
        saved["failureMessage"] = rev.failure;
      }
      revisions.push_back(std::move(saved));
    }
    status["ferry"] = {{"latestRevision", x.latest},
                       {"rolledOutRevision", x.rolled_out},
                       {"previousRolledOutRevision", x.previous_rolled_out},
                       {"revisions", std::move(revisions)}};

    if (status == x.written_status) return;
    Json object = {{"apiVersion", Str(x.object, "apiVersion")},
                   {"kind", Str(x.object, "kind")},
                   {"metadata", {{"name", x.name}, {"namespace", x.ns}, {"uid", x.uid}}},
                   {"status", status}};
    auto written = resources_->ReplaceStatus(kInferenceServicesKey, std::move(object));
    if (!written.ok()) {
      if (written.status().code() != StatusCode::kNotFound &&
          written.status().code() != StatusCode::kConflict)
        LogEvent(spdlog::level::warn, "writing an inference service's status failed",
                 {{"endpoint", x.key}, {"error", written.status().message()}});
      return;
    }
    x.written_status = std::move(status);
  }

  store::ResourceStore* resources_;
  Router* router_;
  executors::Executor* executor_;
  Env* env_;
  DeploymentControllerOptions options_;
  std::shared_ptr<Inbox> inbox_;
  std::unique_ptr<store::WatchSubscription> subscription_;
  std::thread thread_;

  // The loop thread's own state.
  std::map<std::string, Endpoint> endpoints_;
  std::map<std::string, ReplicaRef> tasks_;  // task id -> its replica (key "" for orphans)
  std::map<std::string, PayloadLogging> published_logging_;
  bool read_failed_ = false;  // a Get failed (not NotFound) in the first pass
};

}  // namespace

Result<std::unique_ptr<DeploymentController>> DeploymentController::Start(
    store::ResourceStore* resources, Router* router, executors::Executor* executor, Env* env,
    DeploymentControllerOptions options) {
  if (resources == nullptr || router == nullptr || executor == nullptr || env == nullptr)
    return InvalidArgument("the deployment controller needs a store, a router, an executor and an env");
  auto controller = std::make_unique<Controller>(resources, router, executor, env, std::move(options));
  RETURN_IF_ERROR(controller->Begin());
  return std::unique_ptr<DeploymentController>(std::move(controller));
}

}  // namespace ferry::serving::deployments
