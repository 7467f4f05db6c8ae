#include "ferry/tuning/experiment_controller.h"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <charconv>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "ferry/common/logging.h"
#include "ferry/common/time.h"
#include "ferry/store/label_selector.h"
#include "ferry/tuning/katib_experiment.h"
#include "ferry/tuning/metrics_collector.h"

namespace ferry::tuning {
namespace {

namespace fs = std::filesystem;
using executors::TaskSpec;
using executors::TaskState;
using executors::TaskUpdate;

constexpr char kApiVersion[] = "kubeflow.org/v1beta1";
constexpr std::size_t kMaxTrialPrefix = 50;
constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kMaxReadPerPoll = 4 * 1024 * 1024;

// A trial's phase, as its last true condition says (Katib's trial states;
// kPending is "Created" and not yet running).
enum class Phase { kPending, kRunning, kSucceeded, kFailed, kKilled, kEarlyStopped, kMetricsUnavailable };

bool IsFinished(Phase p) { return p != Phase::kPending && p != Phase::kRunning; }

struct PhaseInfo {
  const char* type;
  const char* reason;
  const char* message;
};

PhaseInfo InfoOf(Phase p) {
  switch (p) {
    case Phase::kPending:
      return {"Created", "TrialCreated", "Trial is created"};
    case Phase::kRunning:
      return {"Running", "TrialRunning", "Trial is running"};
    case Phase::kSucceeded:
      return {"Succeeded", "TrialSucceeded", "Trial has succeeded"};
    case Phase::kFailed:
      return {"Failed", "TrialFailed", "Trial has failed"};
    case Phase::kKilled:
      return {"Killed", "TrialKilled", "Trial was killed because its experiment ended"};
    case Phase::kEarlyStopped:
      return {"EarlyStopped", "TrialEarlyStopped", "Trial is early stopped"};
    case Phase::kMetricsUnavailable:
      return {"MetricsUnavailable", "TrialMetricsUnavailable", "Metrics are not available"};
  }
  return {"Created", "TrialCreated", "Trial is created"};
}

std::optional<Phase> PhaseOfType(std::string_view type) {
  for (Phase p : {Phase::kPending, Phase::kRunning, Phase::kSucceeded, Phase::kFailed, Phase::kKilled,
                  Phase::kEarlyStopped, Phase::kMetricsUnavailable}) {
    if (type == InfoOf(p).type) return p;
  }
  return std::nullopt;
}

std::string TrialName(const std::string& experiment, std::int64_t number) {
  return experiment.substr(0, std::min(experiment.size(), kMaxTrialPrefix)) + "-" + std::to_string(number);
}

std::string TaskId(const std::string& uid, std::int64_t number) {
  return "katib-" + uid + "-" + std::to_string(number);
}

// Katib keeps metric values as text; the shortest text that reads back.
std::string MetricText(const std::optional<double>& v) { return v ? Json(*v).dump() : "unavailable"; }

std::string Str(const Json& object, const char* key) {
  if (!object.is_object()) return {};
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Sets condition `type` in a Katib conditions list: updates it in place (its
// transition time changes only with its status) or appends it.
void SetCondition(Json& conditions, const std::string& type, bool status, const std::string& reason,
                  const std::string& message, const std::string& now) {
  if (!conditions.is_array()) conditions = Json::array();
  const std::string text = status ? "True" : "False";
  for (Json& c : conditions) {
    if (Str(c, "type") != type) continue;
    if (Str(c, "status") == text && Str(c, "reason") == reason && Str(c, "message") == message) return;
    if (Str(c, "status") != text) c["lastTransitionTime"] = now;
    c["status"] = text;
    c["reason"] = reason;
    c["message"] = message;
    c["lastUpdateTime"] = now;
    return;
  }
  conditions.push_back({{"type", type},
                        {"status", text},
                        {"reason", reason},
                        {"message", message},
                        {"lastUpdateTime", now},
                        {"lastTransitionTime", now}});
}

bool HasTrueCondition(const Json& status, std::string_view type, std::string_view reason = {}) {
  if (!status.is_object() || !status.contains("conditions") || !status["conditions"].is_array()) return false;
  for (const Json& c : status["conditions"]) {
    if (Str(c, "type") == type && Str(c, "status") == "True" && (reason.empty() || Str(c, "reason") == reason))
      return true;
  }
  return false;
}

// What the controller knows of one trial (from its Trial object after a
// restart, then kept up to date).
struct TrialRecord {
  std::int64_t number = 0;
  std::string name;
  Phase phase = Phase::kPending;
  Json assignments = Json::array();  // [{name, value}]
  Json metrics = Json::array();      // [{name, min, max, latest}]
  std::optional<double> objective;   // the objective value of a succeeded trial
  Json status = Json::object();      // the Trial's status as last written
  bool object_written = false;
};

// A trial whose task the controller follows.
struct ActiveTrial {
  TaskSpec task;
  std::optional<MetricsParser> parser;  // unset: no collector (None)
  std::string metrics_path;             // what the parser reads
  std::uint64_t offset = 0;
  std::vector<MetricLog> logs;
  std::vector<double> objective;  // the objective's values so far: step k is objective[k - 1]
  std::size_t reported = 0;       // steps reported to the study
  bool stopping = false;      // cancelled by early stopping
  bool killing = false;       // cancelled because the experiment ended
  std::optional<TaskUpdate> final;
};

struct Experiment {
  std::string ns, name, uid, study;
  ExperimentSpec spec;
  Json object;
  std::map<std::int64_t, TrialRecord> trials;
  std::map<std::int64_t, ActiveTrial> active;
  bool suggestion_end = false;
  std::string failure;  // why the experiment cannot run, once known
  fs::path dir;
};

class Controller final : public ExperimentController {
 public:
  Controller(store::ResourceStore* resources, StudyService* studies, executors::Executor* executor, Env* env,
             ExperimentControllerOptions options)
      : resources_(resources), studies_(studies), executor_(executor), env_(env), options_(std::move(options)) {}

  ~Controller() override { Shutdown(); }

  Status Begin() {
    CollectOrphans();
    store::WatchOptions watch;
    watch.type_key = kExperimentsKey;
    watch.initial_state = true;
    ASSIGN_OR_RETURN(subscription_, resources_->Watch(watch, [this](const store::WatchEvent& event) {
                       const Json& md = event.object["metadata"];
                       Enqueue(Str(md, "namespace") + "/" + Str(md, "name"));
                     }));
    thread_ = std::thread([this] { Loop(); });
    return Status();
  }

  void Shutdown() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    cv_.notify_all();
    subscription_.reset();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Enqueue(std::string key) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      dirty_.insert(std::move(key));
    }
    cv_.notify_all();
  }

  executors::UpdateCallback Callback() {
    return [this](const TaskUpdate& update) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        updates_.push_back(update);
      }
      cv_.notify_all();
    };
  }

  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopped_) {
      cv_.wait_for(lock, options_.poll_interval, [this] { return stopped_ || !dirty_.empty() || !updates_.empty(); });
      if (stopped_) break;
      std::set<std::string> dirty = std::move(dirty_);
      dirty_.clear();
      std::deque<TaskUpdate> updates = std::move(updates_);
      updates_.clear();
      lock.unlock();
      for (const TaskUpdate& u : updates) Apply(u, dirty);
      Poll(dirty);
      for (const std::string& key : dirty) Reconcile(key);
      lock.lock();
    }
  }

  // ---------------------------------------------------------------- tasks

  void Apply(const TaskUpdate& update, std::set<std::string>& dirty) {
    auto owner = tasks_.find(update.id);
    if (owner == tasks_.end()) return;
    if (owner->second.first.empty()) {
      // A trial of a deleted experiment, cancelled on the way out.
      if (executors::IsTerminal(update.state)) {
        executor_->Release(update.id);
        tasks_.erase(owner);
      }
      return;
    }
    auto x = experiments_.find(owner->second.first);
    if (x == experiments_.end()) return;
    auto a = x->second.active.find(owner->second.second);
    if (a == x->second.active.end()) return;
    if (update.state == TaskState::kRunning) {
      TrialRecord& r = x->second.trials[owner->second.second];
      if (r.phase == Phase::kPending) {
        r.phase = Phase::kRunning;
        WriteTrial(x->second, r, {}, update.started);
        dirty.insert(owner->second.first);
      }
    } else if (executors::IsTerminal(update.state)) {
      a->second.final = update;
      dirty.insert(owner->second.first);
    }
  }

  // Stops a trial's task; one that already ended is fine.
  void Cancel(const std::string& task_id) {
    Status s = executor_->Cancel(task_id);
    if (!s.ok() && s.code() != StatusCode::kNotFound)
      LogEvent(spdlog::level::warn, "cancelling a trial failed", {{"task", task_id}, {"error", s.message()}});
  }

  // Reads what running trials wrote since the last poll; with early
  // stopping, reports each new objective value and stops the trial when
  // the pruner says so.
  void Poll(std::set<std::string>& dirty) {
    for (auto& [key, x] : experiments_) {
      for (auto& [number, a] : x.active) {
        if (a.final || a.stopping || a.killing) continue;
        const std::size_t before = a.objective.size();
        ReadNew(x, a);
        if (!x.spec.early_stopping || a.objective.size() == before) continue;
        if (ReportNew(x, number, a) && ShouldStop(x, number)) {
          a.stopping = true;
          Cancel(a.task.id);
          dirty.insert(key);
        }
      }
    }
  }

  void ReadNew(const Experiment& x, ActiveTrial& a) {
    if (!a.parser) return;
    std::ifstream in(a.metrics_path, std::ios::binary);
    if (!in) return;
    in.seekg(static_cast<std::streamoff>(a.offset));
    std::string chunk(kReadChunk, '\0');
    std::size_t total = 0;
    while (total < kMaxReadPerPoll) {
      in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
      const std::streamsize got = in.gcount();
      if (got <= 0) break;
      a.parser->Feed(std::string_view(chunk.data(), static_cast<std::size_t>(got)));
      a.offset += static_cast<std::uint64_t>(got);
      total += static_cast<std::size_t>(got);
    }
    Keep(x, a, a.parser->TakeLogs());
  }

  // Adds newly parsed observations to the trial's, and their objective
  // values to its intermediate values (step k = the k-th value, as Katib's
  // median stop counts).
  static void Keep(const Experiment& x, ActiveTrial& a, std::vector<MetricLog> logs) {
    for (const auto& [step, value] : IntermediateValues(x.spec.objective.objective_metric_name, logs))
      a.objective.push_back(value);
    for (MetricLog& log : logs) a.logs.push_back(std::move(log));
  }

  // Reports the objective values not yet reported; true when there was a
  // new one.
  bool ReportNew(Experiment& x, std::int64_t number, ActiveTrial& a) {
    bool any = false;
    for (; a.reported < a.objective.size(); ++a.reported) {
      const auto step = static_cast<std::int64_t>(a.reported + 1);
      Status s = studies_->Report(x.study, number, step, a.objective[a.reported]);
      if (!s.ok()) {
        LogEvent(spdlog::level::warn, "reporting a trial's intermediate value failed",
                 {{"trial", x.trials[number].name}, {"error", s.message()}});
        return any;
      }
      any = true;
    }
    return any;
  }

  bool ShouldStop(Experiment& x, std::int64_t number) {
    auto prune = studies_->ShouldPrune(x.study, number);
    return prune.ok() && *prune;
  }

  // ------------------------------------------------------------ reconcile

  void Reconcile(const std::string& key) {
    const std::size_t slash = key.find('/');
    const std::string ns = key.substr(0, slash), name = key.substr(slash + 1);
    auto got = resources_->Get(kExperimentsKey, ns, name);
    auto it = experiments_.find(key);
    if (!got.ok()) {
      if (got.status().code() != StatusCode::kNotFound) {
        LogEvent(spdlog::level::warn, "reading an experiment failed",
                 {{"experiment", key}, {"error", got.status().message()}});
        return;
      }
      if (it != experiments_.end()) Forget(it);
      return;
    }
    const std::string uid = Str((*got)["metadata"], "uid");
    if (it != experiments_.end() && it->second.uid != uid) {
      Forget(it);
      it = experiments_.end();
    }
    if (it == experiments_.end()) {
      it = experiments_.emplace(key, Experiment{}).first;
      Experiment& x = it->second;
      x.ns = ns;
      x.name = name;
      x.uid = uid;
      x.study = "katib-" + uid;
      x.dir = fs::path(options_.data_dir) / "tuning" / uid;
    }
    Experiment& x = it->second;
    const bool first_sight = x.object.is_null();
    x.object = std::move(*got);
    if (x.failure.empty()) {
      // Again on every change: the trial counts may have been edited.
      auto spec = ParseExperiment(x.object);
      if (spec.ok()) {
        x.spec = std::move(*spec);
      } else {
        x.failure = spec.status().message();
      }
    }
    if (first_sight) Load(x);
    Harvest(x);
    Json status = x.object.contains("status") && x.object["status"].is_object() ? x.object["status"] : Json::object();
    const std::string now = FormatRfc3339(env_->NowMicros());
    if (!status.contains("startTime")) status["startTime"] = now;
    Json& conditions = status["conditions"];
    SetCondition(conditions, "Created", true, "ExperimentCreated", "Experiment is created", now);
    bool completed = HasTrueCondition(status, "Succeeded") || HasTrueCondition(status, "Failed");
    if (completed && Restartable(x, status)) {
      Json kept = Json::array();
      for (const Json& c : conditions)
        if (Str(c, "type") != "Succeeded") kept.push_back(c);
      conditions = std::move(kept);
      status.erase("completionTime");
      completed = false;
      x.suggestion_end = false;
    }
    if (!completed) {
      if (!x.failure.empty()) {
        Complete(x, status, false, "ExperimentFailed", x.failure, now);
        completed = true;
      } else {
        completed = Decide(x, status, now);
      }
    }
    if (completed) {
      KillActive(x);  // trials re-attached after a restart of a finished experiment
    } else {
      StartTrials(x);
      if (!x.failure.empty()) {
        Complete(x, status, false, "ExperimentFailed", x.failure, now);
      } else {
        completed = Decide(x, status, now);
        if (!completed) SetCondition(conditions, "Running", true, "ExperimentRunning", "Experiment is running", now);
      }
    }
    Summarise(x, status);
    WriteStatus(x, std::move(status), now);
  }

  // A raised maxTrialCount restarts an experiment that succeeded by reaching
  // the old one, as Katib's IsCompletedExperimentRestartable allows.
  bool Restartable(const Experiment& x, const Json& status) const {
    if (!x.failure.empty() || x.spec.resume_policy == ResumePolicy::kNever) return false;
    if (!HasTrueCondition(status, "Succeeded", "ExperimentMaxTrialsReached")) return false;
    return x.spec.max_trial_count && Completed(x) < *x.spec.max_trial_count;
  }

  static std::int64_t Completed(const Experiment& x) {
    std::int64_t n = 0;
    for (const auto& [number, r] : x.trials) n += IsFinished(r.phase) ? 1 : 0;
    return n;
  }

  // Katib's UpdateExperimentStatusCondition: goal, then failures, then the
  // trial count, then the end of suggestions. True when it completed the
  // experiment.
  bool Decide(Experiment& x, Json& status, const std::string& now) {
    std::optional<double> best;
    std::int64_t failed = 0;
    for (const auto& [number, r] : x.trials) {
      if (r.phase == Phase::kFailed || r.phase == Phase::kMetricsUnavailable) ++failed;
      if (r.phase != Phase::kSucceeded || !r.objective) continue;
      if (!best || (x.spec.objective.type == Direction::kMinimize ? *r.objective < *best : *r.objective > *best))
        best = r.objective;
    }
    const std::optional<double>& goal = x.spec.objective.goal;
    if (goal && best && (x.spec.objective.type == Direction::kMinimize ? *best <= *goal : *best >= *goal)) {
      Complete(x, status, true, "ExperimentGoalReached", "Experiment has succeeded because Objective goal has reached",
               now);
      return true;
    }
    if (x.spec.max_failed_trial_count && failed > *x.spec.max_failed_trial_count) {
      std::string message = "Experiment has failed because max failed count has reached";
      if (std::string why = FailureHint(x); !why.empty()) message += ": " + why;
      Complete(x, status, false, "ExperimentFailed", message, now);
      return true;
    }
    if (x.spec.max_trial_count && Completed(x) >= *x.spec.max_trial_count) {
      Complete(x, status, true, "ExperimentMaxTrialsReached",
               "Experiment has succeeded because max trial count has reached", now);
      return true;
    }
    if (x.suggestion_end && x.active.empty()) {
      Complete(x, status, true, "ExperimentSuggestionEndReached",
               "Experiment has succeeded because suggestion service has reached the end", now);
      return true;
    }
    return false;
  }

  // The message of the last failed trial, so that "the objective metric was
  // never reported" or "exited with status 2" reaches the experiment.
  static std::string FailureHint(const Experiment& x) {
    for (auto it = x.trials.rbegin(); it != x.trials.rend(); ++it) {
      const TrialRecord& r = it->second;
      if (r.phase != Phase::kFailed && r.phase != Phase::kMetricsUnavailable) continue;
      const Json& conditions = r.status.value("conditions", Json::array());
      for (auto c = conditions.rbegin(); c != conditions.rend(); ++c) {
        if (Str(*c, "status") == "True") return r.name + ": " + Str(*c, "message");
      }
    }
    return {};
  }

  void Complete(Experiment& x, Json& status, bool succeeded, const std::string& reason, const std::string& message,
                const std::string& now) {
    Json& conditions = status["conditions"];
    for (Json& c : conditions) {
      if (Str(c, "type") == "Running" && Str(c, "status") == "True") {
        c["status"] = "False";
        c["lastTransitionTime"] = now;
        c["lastUpdateTime"] = now;
      }
    }
    SetCondition(conditions, succeeded ? "Succeeded" : "Failed", true, reason, message, now);
    status["completionTime"] = now;
    KillActive(x);
  }

  void KillActive(Experiment& x) {
    for (auto& [number, a] : x.active) {
      if (a.final || a.killing) continue;
      a.killing = true;
      Cancel(a.task.id);
    }
  }

  // ------------------------------------------------------------- trials

  void StartTrials(Experiment& x) {
    while (x.failure.empty() && !x.suggestion_end &&
           static_cast<std::int64_t>(x.active.size()) < x.spec.parallel_trial_count &&
           (!x.spec.max_trial_count || static_cast<std::int64_t>(x.trials.size()) < *x.spec.max_trial_count)) {
      auto trial = studies_->Ask(x.study);
      if (!trial.ok()) {
        const StatusCode code = trial.status().code();
        if (code == StatusCode::kFailedPrecondition) {
          x.suggestion_end = true;
        } else if (code != StatusCode::kUnavailable) {
          // Hyperband's Unavailable waits for a trial to finish; anything
          // else is the algorithm failing on this experiment.
          x.failure = "the suggestion algorithm failed: " + trial.status().message();
        }
        return;
      }
      Launch(x, *trial, /*resume=*/false);
      if (!x.active.count(trial->number)) {
        // It failed without a task: let the failure count before asking
        // for another (the next pass decides).
        Enqueue(Key(x));
        return;
      }
    }
  }

  // Runs trial `trial` (a RUNNING trial of the study): writes its Trial
  // object and submits its task; with `resume`, first takes back the task
  // an earlier server started.
  void Launch(Experiment& x, const Trial& trial, bool resume) {
    TrialRecord& r = x.trials[trial.number];
    r.number = trial.number;
    r.name = TrialName(x.name, trial.number);
    std::map<std::string, std::string> assignments;
    r.assignments = Json::array();
    for (std::size_t i = 0; i < x.spec.space.params.size(); ++i) {
      const std::string value = x.spec.space.Format(i, trial.params[i]);
      assignments[x.spec.space.params[i].name] = value;
      r.assignments.push_back({{"name", x.spec.space.params[i].name}, {"value", value}});
    }
    auto rendered = RenderTrialSpec(x.spec, assignments, r.name, x.ns);
    Result<TrialProcess> process = rendered.ok() ? PrimaryProcess(x.spec, *rendered) : Result<TrialProcess>(rendered.status());
    if (process.ok() && process->argv.empty()) {
      x.failure = "the primary container " + x.spec.trial_template.primary_container_name +
                  " has no command: Ferry runs trials as local processes, and an image's entrypoint needs a "
                  "container runtime";
    }
    if (!r.object_written) {
      Json object = {{"apiVersion", kApiVersion},
                     {"kind", "Trial"},
                     {"metadata",
                      {{"name", r.name},
                       {"namespace", x.ns},
                       {"labels", {{kExperimentLabel, x.name}}},
                       {"annotations", {{kTrialLogAnnotation, LogPath(x, trial.number)}}},
                       {"ownerReferences",
                        Json::array({{{"apiVersion", kApiVersion},
                                      {"kind", "Experiment"},
                                      {"name", x.name},
                                      {"uid", x.uid},
                                      {"controller", true},
                                      {"blockOwnerDeletion", true}}})}}},
                     {"spec",
                      {{"objective", x.object["spec"].value("objective", Json::object())},
                       {"parameterAssignments", r.assignments},
                       {"runSpec", rendered.ok() ? *rendered : Json::object()},
                       {"primaryContainerName", x.spec.trial_template.primary_container_name},
                       {"successCondition", x.spec.trial_template.success_condition},
                       {"failureCondition", x.spec.trial_template.failure_condition},
                       {"metricsCollector", x.object["spec"].value("metricsCollectorSpec", Json::object())}}}};
      auto created = resources_->Create(kTrialsKey, std::move(object));
      if (!created.ok() && created.status().code() != StatusCode::kAlreadyExists) {
        LogEvent(spdlog::level::warn, "writing a trial failed", {{"trial", r.name}, {"error", created.status().message()}});
      }
      r.object_written = true;
    }
    if (!process.ok() || !x.failure.empty()) {
      FinishWithoutTask(x, r, process.ok() ? x.failure : process.status().message());
      return;
    }

    const fs::path sandbox = x.dir / std::to_string(trial.number);
    const fs::path logs = x.dir / "logs";
    ActiveTrial a;
    a.task.id = TaskId(x.uid, trial.number);
    a.task.log_path = LogPath(x, trial.number);
    a.task.env = options_.base_env;
    for (const EnvVar& e : process->env) a.task.env[e.name] = e.value;
    const std::string push_file = (logs / (std::to_string(trial.number) + ".push.jsonl")).string();
    a.task.env["KATIB_TRIAL_NAME"] = r.name;
    a.task.env["FERRY_TRIAL_METRICS_FILE"] = push_file;
    a.task.argv = process->argv;
    if (process->requests.cpu) a.task.resources.cpu = *process->requests.cpu;
    if (process->requests.memory_bytes) a.task.resources.memory_bytes = *process->requests.memory_bytes;
    if (process->requests.gpu) a.task.resources.gpu = static_cast<int>(*process->requests.gpu);

    MetricsParserOptions parser_options = x.spec.ParserOptions();
    const MetricsCollectorSpec& collector = x.spec.metrics_collector;
    switch (collector.kind) {
      case CollectorKind::kStdOut:
        a.metrics_path = a.task.log_path;
        break;
      case CollectorKind::kFile: {
        const std::string inside = collector.file_path;
        const std::string mapped = (sandbox / fs::path(inside).relative_path()).string();
        auto map = [&](std::string& s) {
          for (std::size_t at = s.find(inside); at != std::string::npos; at = s.find(inside, at + mapped.size()))
            s.replace(at, inside.size(), mapped);
        };
        for (std::string& arg : a.task.argv) map(arg);
        for (auto& [k, v] : a.task.env)
          if (k != "KATIB_TRIAL_NAME" && k != "FERRY_TRIAL_METRICS_FILE") map(v);
        a.metrics_path = mapped;
        break;
      }
      case CollectorKind::kPush:
        a.metrics_path = push_file;
        parser_options.format = MetricsFormat::kJson;
        parser_options.filters.clear();
        break;
      case CollectorKind::kNone:
        break;
    }
    if (!a.metrics_path.empty()) {
      auto parser = MetricsParser::Make(parser_options);
      if (!parser.ok()) {
        FinishWithoutTask(x, r, parser.status().message());
        return;
      }
      a.parser.emplace(std::move(*parser));
    }

    std::error_code ec;
    if (!resume) fs::remove_all(sandbox, ec);
    fs::create_directories(sandbox, ec);
    fs::create_directories(logs, ec);
    if (collector.kind == CollectorKind::kFile) fs::create_directories(fs::path(a.metrics_path).parent_path(), ec);
    if (!resume) {
      fs::remove(a.task.log_path, ec);
      fs::remove(push_file, ec);
    }
    if (!process->working_dir.empty()) {
      const fs::path wd(process->working_dir);
      if (!wd.is_absolute() || !fs::is_directory(wd, ec)) {
        FinishWithoutTask(x, r,
                          "workingDir " + process->working_dir +
                              " is not a directory on this machine (trials run as local processes)");
        return;
      }
      a.task.working_dir = wd.string();
    } else {
      a.task.working_dir = sandbox.string();
    }

    tasks_[a.task.id] = {Key(x), trial.number};
    Status started = resume ? executor_->Reattach(a.task, "", Callback()) : executor_->Submit(a.task, Callback());
    if (resume && started.code() == StatusCode::kNotFound) {
      // Never started before the restart: start it now.
      fs::remove_all(sandbox, ec);
      fs::create_directories(sandbox, ec);
      started = executor_->Submit(a.task, Callback());
    } else if (!resume && !started.ok() && started.code() == StatusCode::kFailedPrecondition) {
      started = executor_->Reattach(a.task, "", Callback());
    }
    if (!started.ok()) {
      tasks_.erase(a.task.id);
      FinishWithoutTask(x, r, "the trial could not be started: " + started.message());
      return;
    }
    if (r.phase != Phase::kRunning) r.phase = Phase::kPending;
    x.active.emplace(trial.number, std::move(a));
    WriteTrial(x, r);
  }

  // A trial that never got a task (bad render, no working dir): FAILED.
  void FinishWithoutTask(Experiment& x, TrialRecord& r, const std::string& message) {
    auto told = studies_->Tell(x.study, r.number, TrialState::kFailed);
    if (!told.ok() && told.status().code() != StatusCode::kFailedPrecondition)
      LogEvent(spdlog::level::warn, "telling a failed trial failed", {{"trial", r.name}, {"error", told.status().message()}});
    r.phase = Phase::kFailed;
    WriteTrial(x, r, message);
  }

  // Finishes the trials whose tasks ended: their metrics, the study's
  // record, the Trial's status.
  void Harvest(Experiment& x) {
    for (auto it = x.active.begin(); it != x.active.end();) {
      ActiveTrial& a = it->second;
      if (!a.final) {
        ++it;
        continue;
      }
      TrialRecord& r = x.trials[it->first];
      ReadNew(x, a);
      if (a.parser) {
        a.parser->Finish();
        Keep(x, a, a.parser->TakeLogs());
      }
      if (x.spec.early_stopping && !a.stopping && !a.killing) ReportNew(x, r.number, a);
      r.metrics = Json::array();
      for (const std::string& metric : x.spec.objective.MetricNames()) {
        const Observation o = tuning::Summarise(metric, x.spec.objective.StrategyOf(metric), a.logs);
        r.metrics.push_back({{"name", metric},
                             {"min", MetricText(o.min)},
                             {"max", MetricText(o.max)},
                             {"latest", MetricText(o.latest)}});
      }
      const std::optional<double> objective = ObjectiveValue(x.spec.objective, a.logs);
      std::string message;
      TrialState told = TrialState::kFailed;
      std::optional<double> value;
      if (a.stopping) {
        r.phase = Phase::kEarlyStopped;
        told = TrialState::kPruned;
      } else if (a.killing) {
        r.phase = Phase::kKilled;
      } else if (a.final->state == TaskState::kSucceeded && objective && std::isfinite(*objective)) {
        r.phase = Phase::kSucceeded;
        r.objective = objective;
        told = TrialState::kComplete;
        value = objective;
      } else if (a.final->state == TaskState::kSucceeded) {
        r.phase = Phase::kMetricsUnavailable;
        message = "the objective metric " + x.spec.objective.objective_metric_name +
                  (objective ? " was not a finite number" : " was never reported") +
                  (a.parser && !a.parser->status().ok() ? " (" + a.parser->status().message() + ")" : "");
      } else {
        r.phase = Phase::kFailed;
        message = a.final->message.empty() ? std::string(executors::TaskStateName(a.final->state)) : a.final->message;
      }
      auto result = studies_->Tell(x.study, r.number, told, value);
      if (!result.ok() && result.status().code() != StatusCode::kFailedPrecondition)
        LogEvent(spdlog::level::warn, "telling a trial failed", {{"trial", r.name}, {"error", result.status().message()}});
      WriteTrial(x, r, message, a.final->started, a.final->finished);
      executor_->Release(a.task.id);
      tasks_.erase(a.task.id);
      it = x.active.erase(it);
    }
  }

  void WriteTrial(Experiment& x, TrialRecord& r, const std::string& message = {},
                  std::chrono::system_clock::time_point started = {},
                  std::chrono::system_clock::time_point finished = {}) {
    const std::string now = FormatRfc3339(env_->NowMicros());
    Json status = r.status.is_object() ? r.status : Json::object();
    auto micros = [](std::chrono::system_clock::time_point t) {
      return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
    };
    Json& conditions = status["conditions"];
    SetCondition(conditions, "Created", true, "TrialCreated", "Trial is created", now);
    if (r.phase != Phase::kPending) {
      if (!status.contains("startTime"))
        status["startTime"] = started.time_since_epoch().count() > 0 ? FormatRfc3339(micros(started)) : now;
      const bool running = r.phase == Phase::kRunning;
      SetCondition(conditions, "Running", running, "TrialRunning", "Trial is running", now);
    }
    if (IsFinished(r.phase)) {
      const PhaseInfo info = InfoOf(r.phase);
      SetCondition(conditions, info.type, true, info.reason,
                   message.empty() ? info.message : std::string(info.message) + ": " + message, now);
      status["completionTime"] = finished.time_since_epoch().count() > 0 ? FormatRfc3339(micros(finished)) : now;
      status["observation"] = {{"metrics", r.metrics}};
    }
    if (status == r.status) return;
    auto written = resources_->PatchStatus(kTrialsKey, x.ns, r.name, {{"status", status}});
    if (!written.ok()) {
      LogEvent(spdlog::level::warn, "writing a trial's status failed",
               {{"trial", r.name}, {"error", written.status().message()}});
      return;
    }
    r.status = std::move(status);
  }

  // Katib's trial summary: the lists, the counts and the current optimal trial.
  void Summarise(const Experiment& x, Json& status) const {
    Json running = Json::array(), pending = Json::array(), succeeded = Json::array(), failed = Json::array(),
         killed = Json::array(), early = Json::array(), unavailable = Json::array();
    const TrialRecord* best = nullptr;
    for (const auto& [number, r] : x.trials) {
      switch (r.phase) {
        case Phase::kPending: pending.push_back(r.name); break;
        case Phase::kRunning: running.push_back(r.name); break;
        case Phase::kSucceeded: succeeded.push_back(r.name); break;
        case Phase::kFailed: failed.push_back(r.name); break;
        case Phase::kKilled: killed.push_back(r.name); break;
        case Phase::kEarlyStopped: early.push_back(r.name); break;
        case Phase::kMetricsUnavailable: unavailable.push_back(r.name); break;
      }
      if (r.phase != Phase::kSucceeded || !r.objective) continue;
      if (best == nullptr || (x.spec.objective.type == Direction::kMinimize ? *r.objective < *best->objective
                                                                          : *r.objective > *best->objective))
        best = &r;
    }
    status["trials"] = x.trials.size();
    status["trialsPending"] = pending.size();
    status["trialsRunning"] = running.size();
    status["trialsSucceeded"] = succeeded.size();
    status["trialsFailed"] = failed.size();
    status["trialsKilled"] = killed.size();
    status["trialsEarlyStopped"] = early.size();
    status["trialMetricsUnavailable"] = unavailable.size();
    status["pendingTrialList"] = std::move(pending);
    status["runningTrialList"] = std::move(running);
    status["succeededTrialList"] = std::move(succeeded);
    status["failedTrialList"] = std::move(failed);
    status["killedTrialList"] = std::move(killed);
    status["earlyStoppedTrialList"] = std::move(early);
    status["metricsUnavailableTrialList"] = std::move(unavailable);
    if (best != nullptr) {
      status["currentOptimalTrial"] = {{"bestTrialName", best->name},
                                       {"parameterAssignments", best->assignments},
                                       {"observation", {{"metrics", best->metrics}}}};
    } else if (!status.contains("currentOptimalTrial")) {
      status["currentOptimalTrial"] = {{"bestTrialName", ""},
                                       {"parameterAssignments", Json::array()},
                                       {"observation", {{"metrics", Json::array()}}}};
    }
  }

  void WriteStatus(Experiment& x, Json status, const std::string& now) {
    Json old = x.object.contains("status") ? x.object["status"] : Json::object();
    Json compare = status;
    compare.erase("lastReconcileTime");
    if (old.is_object()) old.erase("lastReconcileTime");
    if (compare == old) return;
    status["lastReconcileTime"] = now;
    // A merge patch keeps keys it does not name: remove dropped ones by null.
    Json patch = status;
    if (x.object.contains("status") && x.object["status"].is_object()) {
      for (auto& [k, v] : x.object["status"].items())
        if (!status.contains(k)) patch[k] = nullptr;
    }
    auto written = resources_->PatchStatus(kExperimentsKey, x.ns, x.name, {{"status", patch}});
    if (!written.ok()) {
      LogEvent(spdlog::level::warn, "writing an experiment's status failed",
               {{"experiment", Key(x)}, {"error", written.status().message()}});
      return;
    }
    x.object = std::move(*written);
  }

  // -------------------------------------------------------------- start up

  // Takes up an experiment: its study (made on first sight), its trials as
  // their objects and the study record them, and the tasks of those that
  // were running when the server stopped.
  void Load(Experiment& x) {
    if (!x.failure.empty()) return;
    StudyConfig config;
    config.name = x.study;
    config.space = x.spec.space;
    config.direction = x.spec.objective.type;
    config.sampler = x.spec.algorithm.name;
    config.sampler_settings = x.spec.algorithm.settings;
    if (x.spec.early_stopping) {
      config.pruner = x.spec.early_stopping->name;
      config.pruner_settings = x.spec.early_stopping->settings;
    }
    config.metric_names = x.spec.objective.MetricNames();
    if (options_.name_study) options_.name_study(x.study, x.ns == "default" ? x.name : x.ns + "/" + x.name);
    auto study = studies_->CreateStudy(config, /*load_if_exists=*/true);
    if (!study.ok()) {
      x.failure = study.status().message();
      return;
    }
    // The Trial objects written before.
    store::ListOptions list;
    list.ns = x.ns;
    list.selector = store::LabelSelector::Parse(std::string(kExperimentLabel) + "=" + x.name).ValueOr({});
    do {
      auto page = resources_->List(kTrialsKey, list);
      if (!page.ok()) break;
      for (const Json& t : page->items) {
        if (!OwnedBy(t, x.uid)) continue;
        const std::string name = Str(t["metadata"], "name");
        const std::size_t dash = name.rfind('-');
        std::int64_t number = -1;
        if (dash == std::string::npos ||
            std::from_chars(name.data() + dash + 1, name.data() + name.size(), number).ec != std::errc())
          continue;
        TrialRecord& r = x.trials[number];
        r.number = number;
        r.name = name;
        r.object_written = true;
        r.assignments = t["spec"].value("parameterAssignments", Json::array());
        r.status = t.value("status", Json::object());
        r.phase = Phase::kPending;
        for (const Json& c : r.status.value("conditions", Json::array())) {
          if (Str(c, "status") != "True") continue;
          if (auto p = PhaseOfType(Str(c, "type"))) r.phase = *p;
        }
        r.metrics = r.status.value("observation", Json::object()).value("metrics", Json::array());
      }
      list.continue_token = page->continue_token;
    } while (!list.continue_token.empty());
    // The study's record wins: every trial it asked is a trial.
    auto trials = studies_->Trials(x.study);
    if (!trials.ok()) {
      x.failure = trials.status().message();
      return;
    }
    for (const Trial& t : *trials) {
      TrialRecord& r = x.trials[t.number];
      if (t.state == TrialState::kComplete) r.objective = t.value;
      if (t.state == TrialState::kRunning) {
        Launch(x, t, /*resume=*/true);
      } else if (!IsFinished(r.phase)) {
        // Told, but the server stopped before the Trial's status was
        // written: finish it from the study and the output it left.
        r.number = t.number;
        r.name = TrialName(x.name, t.number);
        r.phase = t.state == TrialState::kComplete ? Phase::kSucceeded
                  : t.state == TrialState::kPruned ? Phase::kEarlyStopped
                                                   : Phase::kFailed;
        WriteTrial(x, r);
      }
    }
  }

  static bool OwnedBy(const Json& trial, const std::string& uid) {
    const Json& md = trial["metadata"];
    if (!md.contains("ownerReferences") || !md["ownerReferences"].is_array()) return false;
    for (const Json& ref : md["ownerReferences"])
      if (Str(ref, "uid") == uid) return true;
    return false;
  }

  static std::string Key(const Experiment& x) { return x.ns + "/" + x.name; }

  static std::string LogPath(const Experiment& x, std::int64_t number) {
    return (x.dir / "logs" / (std::to_string(number) + ".log")).string();
  }

  // An experiment is gone (deleted, or replaced by one of the same name):
  // its running trials are cancelled, its trials, study and files removed.
  void Forget(std::map<std::string, Experiment>::iterator it) {
    Experiment& x = it->second;
    for (auto& [number, a] : x.active) {
      Cancel(a.task.id);
      // tasks_ keeps the id so that its end is released (see Apply).
      tasks_[a.task.id] = {"", number};
    }
    DeleteTrials(x.ns, x.uid);
    Status s = studies_->DeleteStudy(x.study);
    if (!s.ok() && s.code() != StatusCode::kNotFound)
      LogEvent(spdlog::level::warn, "deleting an experiment's study failed", {{"study", x.study}, {"error", s.message()}});
    std::error_code ec;
    fs::remove_all(x.dir, ec);
    experiments_.erase(it);
  }

  void DeleteTrials(const std::string& ns, const std::string& uid) {
    store::ListOptions list;
    list.ns = ns;
    std::vector<std::string> doomed;
    do {
      auto page = resources_->List(kTrialsKey, list);
      if (!page.ok()) break;
      for (const Json& t : page->items)
        if (OwnedBy(t, uid)) doomed.push_back(Str(t["metadata"], "name"));
      list.continue_token = page->continue_token;
    } while (!list.continue_token.empty());
    for (const std::string& name : doomed) {
      auto deleted = resources_->Delete(kTrialsKey, ns, name);
      if (!deleted.ok() && deleted.status().code() != StatusCode::kNotFound)
        LogEvent(spdlog::level::warn, "deleting a trial failed", {{"trial", name}, {"error", deleted.status().message()}});
    }
  }

  // Trials and studies of experiments deleted while the server was down.
  void CollectOrphans() {
    std::set<std::string> live;
    store::ListOptions list;
    do {
      auto page = resources_->List(kExperimentsKey, list);
      if (!page.ok()) return;
      for (const Json& e : page->items) live.insert(Str(e["metadata"], "uid"));
      list.continue_token = page->continue_token;
    } while (!list.continue_token.empty());
    std::map<std::string, std::string> dead;  // uid -> namespace
    list = {};
    do {
      auto page = resources_->List(kTrialsKey, list);
      if (!page.ok()) return;
      for (const Json& t : page->items) {
        const Json& md = t["metadata"];
        if (!md.contains("ownerReferences") || !md["ownerReferences"].is_array()) continue;
        for (const Json& ref : md["ownerReferences"]) {
          const std::string uid = Str(ref, "uid");
          if (!uid.empty() && !live.count(uid)) dead[uid] = Str(md, "namespace");
        }
      }
      list.continue_token = page->continue_token;
    } while (!list.continue_token.empty());
    for (const auto& [uid, ns] : dead) {
      DeleteTrials(ns, uid);
      (void)studies_->DeleteStudy("katib-" + uid);
      std::error_code ec;
      fs::remove_all(fs::path(options_.data_dir) / "tuning" / uid, ec);
    }
  }

  store::ResourceStore* resources_;
  StudyService* studies_;
  executors::Executor* executor_;
  Env* env_;
  const ExperimentControllerOptions options_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  std::set<std::string> dirty_;       // experiment keys ("ns/name") to reconcile
  std::deque<TaskUpdate> updates_;    // from the executor's threads

  // The loop thread's own state.
  std::map<std::string, Experiment> experiments_;                               // by key
  std::map<std::string, std::pair<std::string, std::int64_t>> tasks_;          // task id -> (key, number)
  std::unique_ptr<store::WatchSubscription> subscription_;
  std::thread thread_;
};

// Katib's webhook: only the trial counts of a created experiment change.
Status ValidateExperimentUpdate(const Json& old_object, const Json& new_object) {
  static const std::set<std::string> kEditable = {"parallelTrialCount", "maxTrialCount", "maxFailedTrialCount"};
  const Json empty = Json::object();
  const Json& before = old_object.contains("spec") ? old_object["spec"] : empty;
  const Json& after = new_object.contains("spec") ? new_object["spec"] : empty;
  std::set<std::string> keys;
  for (const auto& [k, v] : before.items()) keys.insert(k);
  for (const auto& [k, v] : after.items()) keys.insert(k);
  for (const std::string& k : keys) {
    if (kEditable.count(k)) continue;
    const Json a = before.contains(k) ? before[k] : Json(), b = after.contains(k) ? after[k] : Json();
    if (a != b)
      return InvalidArgument("spec." + k +
                                 " cannot change once the experiment exists: only spec.parallelTrialCount, "
                                 "spec.maxTrialCount and spec.maxFailedTrialCount can",
                             "spec." + k);
  }
  return Status();
}

}  // namespace

Status RegisterTuningTypes(store::ResourceTypes& types) {
  store::ResourceType experiment;
  experiment.group = "kubeflow.org";
  experiment.versions = {"v1beta1"};
  experiment.kind = "Experiment";
  experiment.plural = "experiments";
  experiment.singular = "experiment";
  experiment.validate = ValidateExperimentObject;
  experiment.validate_update = ValidateExperimentUpdate;
  RETURN_IF_ERROR(types.Register(std::move(experiment)));

  store::ResourceType trial;
  trial.group = "kubeflow.org";
  trial.versions = {"v1beta1"};
  trial.kind = "Trial";
  trial.plural = "trials";
  trial.singular = "trial";
  trial.validate = [](const Json&) {
    return InvalidArgument("trials are created by their experiment's controller: apply an Experiment instead",
                           "kind");
  };
  return types.Register(std::move(trial));
}

Result<std::unique_ptr<ExperimentController>> ExperimentController::Start(store::ResourceStore* resources,
                                                                         StudyService* studies,
                                                                         executors::Executor* executor, Env* env,
                                                                         ExperimentControllerOptions options) {
  auto controller = std::make_unique<Controller>(resources, studies, executor, env, std::move(options));
  RETURN_IF_ERROR(controller->Begin());
  return std::unique_ptr<ExperimentController>(std::move(controller));
}

}  // namespace ferry::tuning
