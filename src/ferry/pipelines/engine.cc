// PipelineEngine implementation (engine.h).
//
// Layout. Every run that is not final has an ActiveRun in memory: the spec
// parsed once, and a tree of Nodes mirroring its pipeline_tasks rows (one
// per task path). All scheduling of a run happens in its *step*, a job on
// the worker pool that is serialised per run: the step alone touches the
// run's Nodes, so no lock guards them. Executor callbacks, retry timers and
// CancelRun only append an Event to the run's queue and make sure a step is
// scheduled.
//
// A step takes the queued events, applies them (cascading through the tree:
// a finished task releases its dependants, a DAG whose tasks are all final
// finishes, and so on), then commits every row it changed plus the run row
// in ONE transaction (the run's revision increments), and only then acts:
// submits the executions it prepared (their rows already say RUNNING with
// their attempt) and cancels processes. Outputs are therefore stored before
// any dependant starts, and a crash at any point leaves a state that Open()
// resumes from. The attach token of a kRunning update rides along with the
// run's next commit, or is committed on its own 200 ms later: a short task
// thus costs one commit, not two. A crash before the token (or the submit
// itself) was committed loses nothing either: an attempt's executor id is
// fixed by (run, task, attempt), and a recovered run asks the executor for
// that id before it launches the attempt (Reattach with no token), so it
// adopts the process an earlier server started instead of running it twice.
//
// Per event the work is proportional to what the event touches: each Node
// keeps a count of unfinished upstream tasks per child; a ParallelFor keeps
// a cursor over its iterations; only changed rows are written.
//
// DAG rows: when a DAG (root, DAG task, iteration) starts, all its tasks
// get PENDING rows; a ParallelFor creates all its iteration rows when it
// starts and runs at most parallelismLimit of them at once.
//
// Skips. A task whose condition is false is SKIPPED; so is a task under
// ALL_UPSTREAM_TASKS_SUCCEEDED with an upstream task that did not succeed
// (KFP does not run it either), with the reason in `error`. A DAG with a
// FAILED task is FAILED, else CANCELED if one was canceled, else SUCCEEDED.
//
// Locks: `mu_` guards the map of active runs and the change condition
// variable; an ActiveRun's `q_mu` its event queue; its `db_mu` the run row's
// state (the step's commit and CancelRun). None is held while calling the
// executor, a CommandPreparer, or doing file I/O.
#include "ferry/pipelines/engine.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>

#include "ferry/common/hash.h"
#include "ferry/common/logging.h"
#include "ferry/pipelines/conditions.h"
#include "ferry/pipelines/engine_internal.h"
#include "ferry/pipelines/placeholders.h"

namespace ferry::pipelines {

namespace fs = std::filesystem;

std::string_view RunStateName(RunState state) {
  switch (state) {
    case RunState::kPending: return "PENDING";
    case RunState::kRunning: return "RUNNING";
    case RunState::kSucceeded: return "SUCCEEDED";
    case RunState::kSkipped: return "SKIPPED";
    case RunState::kFailed: return "FAILED";
    case RunState::kCanceling: return "CANCELING";
    case RunState::kCanceled: return "CANCELED";
  }
  return "PENDING";
}

Result<RunState> ParseRunState(std::string_view name) {
  for (RunState s : {RunState::kPending, RunState::kRunning, RunState::kSucceeded, RunState::kSkipped,
                     RunState::kFailed, RunState::kCanceling, RunState::kCanceled}) {
    if (RunStateName(s) == name) return s;
  }
  return InvalidArgument("unknown run state '" + std::string(name) +
                         "' (want PENDING, RUNNING, SUCCEEDED, SKIPPED, FAILED, CANCELING or CANCELED)");
}

bool IsFinal(RunState state) {
  return state == RunState::kSucceeded || state == RunState::kSkipped || state == RunState::kFailed ||
         state == RunState::kCanceled;
}

namespace internal {

namespace {
Json InterfaceJson(const InterfaceSpec& spec) {
  Json params = Json::object();
  for (const auto& [name, p] : spec.parameters) {
    params[name] = {{"type", std::string(ParameterTypeName(p.type))}, {"optional", p.is_optional}};
  }
  Json artifacts = Json::object();
  for (const auto& [name, a] : spec.artifacts) {
    artifacts[name] = {{"schemaTitle", a.type.schema_title},
                       {"schemaVersion", a.type.schema_version},
                       {"isArtifactList", a.is_artifact_list},
                       {"optional", a.is_optional}};
  }
  return {{"parameters", params}, {"artifacts", artifacts}};
}
}  // namespace

std::string CacheKey(const ComponentSpec& component, const ContainerSpec& container,
                     const std::map<std::string, Json>& parameters,
                     const std::map<std::string, std::vector<RuntimeArtifact>>& artifacts) {
  Json key = Json::object();
  key["inputDefinitions"] = InterfaceJson(component.inputs);
  key["outputDefinitions"] = InterfaceJson(component.outputs);
  key["container"] = {{"image", container.image}, {"command", container.command}, {"args", container.args}};
  Json params = Json::object();
  for (const auto& [name, v] : parameters) params[name] = v;
  key["parameters"] = params;
  Json arts = Json::object();
  for (const auto& [name, list] : artifacts) {
    Json items = Json::array();
    for (const RuntimeArtifact& a : list) items.push_back({{"uri", a.uri}, {"metadata", a.metadata}});
    arts[name] = items;
  }
  key["artifacts"] = arts;
  return Sha256Hex(key.dump(-1, ' ', false, Json::error_handler_t::replace));
}

std::string ExecutionId(std::string_view run_id, std::string_view path, int attempt) {
  return "kfp-" + std::string(run_id) + "-" + Sha256Hex(path).substr(0, 16) + "-" + std::to_string(attempt);
}

double RetryBackoffSeconds(const RetryPolicy& policy, int failed_attempt) {
  double factor = policy.backoff_factor > 0 ? policy.backoff_factor : 1.0;
  double delay = policy.backoff_seconds * std::pow(factor, std::max(0, failed_attempt - 1));
  if (!std::isfinite(delay) || delay > policy.backoff_max_seconds) delay = policy.backoff_max_seconds;
  return std::max(0.0, delay);
}

Json ArtifactToJson(const RuntimeArtifact& a) {
  return {{"name", a.name},
          {"uri", a.uri},
          {"type", {{"schemaTitle", a.type.schema_title}, {"schemaVersion", a.type.schema_version}}},
          {"metadata", a.metadata.is_object() ? a.metadata : Json::object()}};
}

RuntimeArtifact ArtifactFromJson(const Json& j) {
  RuntimeArtifact a;
  if (!j.is_object()) return a;
  auto str = [&](const Json& o, const char* key) -> std::string {
    auto it = o.find(key);
    return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  a.name = str(j, "name");
  a.uri = str(j, "uri");
  if (auto t = j.find("type"); t != j.end() && t->is_object()) {
    if (auto s = str(*t, "schemaTitle"); !s.empty()) a.type.schema_title = s;
    if (auto s = str(*t, "schemaVersion"); !s.empty()) a.type.schema_version = s;
  }
  if (auto m = j.find("metadata"); m != j.end() && m->is_object()) a.metadata = *m;
  return a;
}

}  // namespace internal

namespace {

using ArtifactList = std::vector<RuntimeArtifact>;
using ArtifactMap = std::map<std::string, ArtifactList>;
using ParamMap = std::map<std::string, Json>;
using store::Value;

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

Json ParamsToJson(const ParamMap& m) {
  Json out = Json::object();
  for (const auto& [k, v] : m) out[k] = v;
  return out;
}
ParamMap ParamsFromText(const std::string& text) {
  ParamMap out;
  auto j = ParseJson(text);
  if (!j.ok() || !j->is_object()) return out;
  for (auto it = j->begin(); it != j->end(); ++it) out[it.key()] = it.value();
  return out;
}
Json ArtifactsToJson(const ArtifactMap& m) {
  Json out = Json::object();
  for (const auto& [k, list] : m) {
    Json items = Json::array();
    for (const RuntimeArtifact& a : list) items.push_back(internal::ArtifactToJson(a));
    out[k] = items;
  }
  return out;
}
ArtifactMap ArtifactsFromJson(const Json& j) {
  ArtifactMap out;
  if (!j.is_object()) return out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    ArtifactList list;
    if (it.value().is_array()) {
      for (const Json& a : it.value()) list.push_back(internal::ArtifactFromJson(a));
    }
    out[it.key()] = std::move(list);
  }
  return out;
}
ArtifactMap ArtifactsFromText(const std::string& text) {
  auto j = ParseJson(text);
  return j.ok() ? ArtifactsFromJson(*j) : ArtifactMap{};
}

enum class NodeKind { kContainer, kImporter, kDag, kLoop, kIteration };

std::string_view KindName(NodeKind k) {
  switch (k) {
    case NodeKind::kContainer: return "container";
    case NodeKind::kImporter: return "importer";
    case NodeKind::kDag: return "dag";
    case NodeKind::kLoop: return "loop";
    case NodeKind::kIteration: return "iteration";
  }
  return "dag";
}
NodeKind ParseKind(std::string_view s) {
  for (NodeKind k : {NodeKind::kContainer, NodeKind::kImporter, NodeKind::kDag, NodeKind::kLoop,
                     NodeKind::kIteration}) {
    if (KindName(k) == s) return k;
  }
  return NodeKind::kDag;
}

// Per DAG component: its tasks in topological order and the edges between
// them (dependentTasks plus producers of inputs), by index.
struct DagPlan {
  std::vector<const TaskSpec*> tasks;
  std::unordered_map<std::string, int> index;
  std::vector<std::vector<int>> upstream;
  std::vector<std::vector<int>> downstream;
};

DagPlan MakePlan(const DagSpec& dag) {
  DagPlan plan;
  std::vector<std::string> order = dag.topological_order;
  if (order.size() != dag.tasks.size()) {
    order.clear();
    for (const auto& [name, t] : dag.tasks) order.push_back(name);
  }
  for (const std::string& name : order) {
    auto it = dag.tasks.find(name);
    if (it == dag.tasks.end()) continue;
    plan.index[name] = static_cast<int>(plan.tasks.size());
    plan.tasks.push_back(&it->second);
  }
  plan.upstream.resize(plan.tasks.size());
  plan.downstream.resize(plan.tasks.size());
  for (std::size_t i = 0; i < plan.tasks.size(); ++i) {
    const TaskSpec& t = *plan.tasks[i];
    std::set<int> ups;
    auto add = [&](const std::string& producer) {
      auto it = plan.index.find(producer);
      if (it != plan.index.end() && it->second != static_cast<int>(i)) ups.insert(it->second);
    };
    for (const std::string& d : t.dependent_tasks) add(d);
    for (const auto& [n, src] : t.parameter_inputs) {
      if (src.kind == ParameterSource::Kind::kTaskOutput || src.kind == ParameterSource::Kind::kTaskFinalStatus)
        add(src.producer_task);
    }
    for (const auto& [n, src] : t.artifact_inputs) {
      if (src.kind == ArtifactSource::Kind::kTaskOutput) add(src.producer_task);
    }
    for (int u : ups) {
      plan.upstream[i].push_back(u);
      plan.downstream[u].push_back(static_cast<int>(i));
    }
  }
  return plan;
}

struct Node {
  std::string path, name, display_name, parent_path;
  NodeKind kind = NodeKind::kDag;
  RunState state = RunState::kPending;
  bool cached = false;
  int attempt = 0;
  std::int64_t created = 0, started = 0, finished = 0;
  std::string error;
  ParamMap inputs, outputs;
  ArtifactMap in_artifacts, out_artifacts;
  std::string token, exec_id, log_path, cache_key;

  // Tree links, set when the parent expands.
  Node* parent = nullptr;
  int index = -1;                      // plan index in a DAG, iteration index in a loop
  const TaskSpec* task = nullptr;      // null for root and iterations
  const ComponentSpec* component = nullptr;

  bool dirty = false;

  // DAG-like (root, dag, iteration) and loops.
  bool expanded = false;
  const DagPlan* plan = nullptr;
  std::vector<Node*> children;
  std::vector<int> waiting;            // unfinished upstream tasks per child
  int final_children = 0;
  // Loops.
  std::vector<Json> item_params;
  std::vector<std::optional<RuntimeArtifact>> item_artifacts;
  int cursor = 0;                      // next iteration to consider starting
  int running_iterations = 0;
  bool counted_running = false;        // an iteration counted in its loop's running_iterations
  // Leaves.
  bool backoff = false;                // waiting for the retry timer
};

struct Event {
  enum class Type { kStart, kUpdate, kRetry, kCancel, kWake, kFlushTokens } type = Type::kWake;
  std::string path;
  std::string exec_id;
  int attempt = 0;
  executors::TaskUpdate update;
};

struct Launch {
  std::string path;
  executors::TaskSpec spec;
  bool reattach = false;
  std::string token;
};

struct RunMeta {
  std::string run_id, display_name, description, experiment_id, pipeline_id, pipeline_version_id,
      recurring_run_id, pipeline_name, pipeline_root;
  ParamMap parameters;
  std::optional<bool> enable_caching;
  RunState state = RunState::kPending;
  std::string error;
  std::int64_t created = 0, finished = 0, revision = 0;
  bool archived = false;
};

struct CacheEntry {
  std::string key, outputs, path;
};

struct ActiveRun : std::enable_shared_from_this<ActiveRun> {
  RunMeta meta;  // immutable after load, except state/error/finished/revision (under db_mu)
  PipelineSpec spec;
  std::map<const ComponentSpec*, std::unique_ptr<DagPlan>> plans;
  std::unordered_map<std::string, std::unique_ptr<Node>> nodes;
  Node* root = nullptr;

  // Step-owned.
  struct Work {
    enum class What { kStart, kResume, kRelaunch } what;
    Node* node;
  };
  std::deque<Work> ready;
  std::vector<Node*> dirty;
  // Attach tokens not yet committed: they ride along with the next commit,
  // or are committed on their own kTokenDelay after they arrived.
  std::vector<Node*> pending_tokens;
  bool token_timer = false;
  std::vector<CacheEntry> cache_entries;
  // Executor tasks whose terminal update arrived: released (executors::
  // Executor::Release) once the next commit has recorded it.
  std::vector<std::string> to_release;
  std::vector<Launch> launches;
  std::vector<std::string> cancels;
  bool canceling = false;  // the step has applied a cancel
  // Loaded by Recover: a launch may find the process an earlier server
  // started for it but did not live to record (LaunchAttempt adopts it).
  bool recovered = false;

  std::mutex q_mu;
  std::deque<Event> events;
  bool scheduled = false;

  std::mutex db_mu;
  bool cancel_requested = false;
  bool final = false;

  std::atomic<std::int64_t> revision{0};
  std::atomic<bool> done{false};
};

// Fixed-size pool of worker threads running queued jobs.
class WorkerPool {
 public:
  explicit WorkerPool(int n) {
    for (int i = 0; i < std::max(1, n); ++i) threads_.emplace_back([this] { Loop(); });
  }
  ~WorkerPool() { Stop(); }
  void Post(std::function<void()> job) {
    {
      std::lock_guard l(mu_);
      if (stop_) return;
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }
  void Stop() {
    {
      std::lock_guard l(mu_);
      stop_ = true;
      jobs_.clear();
    }
    cv_.notify_all();
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    threads_.clear();
  }

 private:
  void Loop() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock l(mu_);
        cv_.wait(l, [&] { return stop_ || !jobs_.empty(); });
        if (stop_) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

// One thread firing delayed jobs (retry backoffs, commit retries).
class Timer {
 public:
  Timer() : thread_([this] { Loop(); }) {}
  ~Timer() { Stop(); }
  void After(std::chrono::milliseconds delay, std::function<void()> job) {
    {
      std::lock_guard l(mu_);
      if (stop_) return;
      jobs_.emplace(std::chrono::steady_clock::now() + delay, std::move(job));
    }
    cv_.notify_one();
  }
  void Stop() {
    {
      std::lock_guard l(mu_);
      stop_ = true;
      jobs_.clear();
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Loop() {
    std::unique_lock l(mu_);
    while (!stop_) {
      if (jobs_.empty()) {
        cv_.wait(l);
        continue;
      }
      auto when = jobs_.begin()->first;
      if (std::chrono::steady_clock::now() < when) {
        cv_.wait_until(l, when);
        continue;
      }
      auto job = std::move(jobs_.begin()->second);
      jobs_.erase(jobs_.begin());
      l.unlock();
      job();
      l.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<std::chrono::steady_clock::time_point, std::function<void()>> jobs_;
  bool stop_ = false;
  std::thread thread_;
};

// How long an attach token may wait for a commit to ride along with. A
// crash within this window after a task started makes recovery start that
// attempt again rather than re-attach to it.
constexpr std::chrono::milliseconds kTokenDelay{200};

constexpr char kRunColumns[] =
    "run_id, display_name, description, experiment_id, pipeline_id, pipeline_version_id, "
    "recurring_run_id, pipeline_name, parameters, pipeline_root, enable_caching, state, error, "
    "created_at, finished_at, archived, revision";

RunMeta RunMetaFromRow(const store::Row& r) {
  RunMeta m;
  m.run_id = r.Text(0);
  m.display_name = r.Text(1);
  m.description = r.Text(2);
  m.experiment_id = r.Text(3);
  m.pipeline_id = r.Text(4);
  m.pipeline_version_id = r.Text(5);
  m.recurring_run_id = r.Text(6);
  m.pipeline_name = r.Text(7);
  m.parameters = ParamsFromText(r.Text(8));
  m.pipeline_root = r.Text(9);
  if (auto c = r.OptInt(10)) m.enable_caching = *c != 0;
  m.state = ParseRunState(r.Text(11)).ValueOr(RunState::kFailed);
  m.error = r.Text(12);
  m.created = r.Int(13);
  m.finished = r.Int(14);
  m.archived = r.Int(15) != 0;
  m.revision = r.Int(16);
  return m;
}

RunStatus ToRunStatus(const RunMeta& m) {
  RunStatus s;
  s.run_id = m.run_id;
  s.display_name = m.display_name;
  s.description = m.description;
  s.experiment_id = m.experiment_id;
  s.pipeline_id = m.pipeline_id;
  s.pipeline_version_id = m.pipeline_version_id;
  s.recurring_run_id = m.recurring_run_id;
  s.pipeline_name = m.pipeline_name;
  s.state = m.state;
  s.error = m.error;
  s.parameters = m.parameters;
  s.created_micros = m.created;
  s.finished_micros = m.finished;
  s.archived = m.archived;
  s.revision = m.revision;
  return s;
}

constexpr char kTaskColumns[] =
    "path, parent_path, name, display_name, kind, state, cached, attempt, inputs, outputs, "
    "input_artifacts, output_artifacts, attach_token, executor_task_id, log_path, cache_key, error, "
    "created_at, started_at, finished_at";

std::unique_ptr<Node> NodeFromRow(const store::Row& r) {
  auto n = std::make_unique<Node>();
  n->path = r.Text(0);
  n->parent_path = r.Text(1);
  n->name = r.Text(2);
  n->display_name = r.Text(3);
  n->kind = ParseKind(r.Text(4));
  n->state = ParseRunState(r.Text(5)).ValueOr(RunState::kFailed);
  n->cached = r.Int(6) != 0;
  n->attempt = static_cast<int>(r.Int(7));
  n->inputs = ParamsFromText(r.Text(8));
  n->outputs = ParamsFromText(r.Text(9));
  n->in_artifacts = ArtifactsFromText(r.Text(10));
  n->out_artifacts = ArtifactsFromText(r.Text(11));
  n->token = r.Text(12);
  n->exec_id = r.Text(13);
  n->log_path = r.Text(14);
  n->cache_key = r.Text(15);
  n->error = r.Text(16);
  n->created = r.Int(17);
  n->started = r.Int(18);
  n->finished = r.Int(19);
  return n;
}

TaskStatus ToTaskStatus(const Node& n) {
  TaskStatus t;
  t.path = n.path;
  t.name = n.name;
  t.display_name = n.display_name;
  t.parent_path = n.parent_path;
  t.kind = std::string(KindName(n.kind));
  t.state = n.state;
  t.cached = n.cached;
  t.attempt = n.attempt;
  t.created_micros = n.created;
  t.started_micros = n.started;
  t.finished_micros = n.finished;
  t.error = n.error;
  t.inputs = n.inputs;
  t.outputs = n.outputs;
  t.input_artifacts = ArtifactsToJson(n.in_artifacts);
  t.output_artifacts = ArtifactsToJson(n.out_artifacts);
  t.log_path = n.log_path;
  return t;
}

bool IsLocalPath(const std::string& p) { return !p.empty() && p[0] == '/'; }

std::string EscapeLike(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '%' || c == '_') out += '\\';
    out += c;
  }
  return out;
}

class EngineImpl;

// What executor callbacks and timers hold: outlives the engine, so a late
// callback after Shutdown finds `engine` null and is dropped.
struct CallbackTarget {
  std::mutex mu;
  EngineImpl* engine = nullptr;
};

class EngineImpl final : public PipelineEngine {
 public:
  EngineImpl(store::Database* db, Env* env, executors::Executor* executor, EngineOptions options)
      : db_(db), env_(env), executor_(executor), options_(std::move(options)),
        pool_(std::max(1, options_.worker_threads)), target_(std::make_shared<CallbackTarget>()) {
    target_->engine = this;
  }
  ~EngineImpl() override { Shutdown(); }

  Status Recover();

  Result<RunStatus> SubmitRun(const RunRequest& request) override;
  Result<RunDetail> GetRun(std::string_view run_id) override;
  Result<ListRunsResponse> ListRuns(const ListRunsRequest& request) override;
  Status CancelRun(std::string_view run_id) override;
  Status RetryRun(std::string_view run_id) override;
  Status DeleteRun(std::string_view run_id) override;
  Status SetArchived(std::string_view run_id, bool archived) override;
  Result<RunStatus> WaitForChange(std::string_view run_id, std::int64_t after_revision,
                                  std::chrono::milliseconds timeout) override;
  Result<std::string> TaskLogPath(std::string_view run_id, std::string_view task) override;
  void Shutdown() override;

  void Enqueue(const std::shared_ptr<ActiveRun>& run, Event event);

 private:
  // Loading.
  Result<RunMeta> LoadRunMeta(std::string_view run_id);
  Result<std::shared_ptr<ActiveRun>> LoadActiveRun(const RunMeta& meta, const std::string& text);
  void Activate(const std::shared_ptr<ActiveRun>& run, bool cancel);

  // The step and its pieces (step-owned state only).
  void Step(const std::shared_ptr<ActiveRun>& run);
  void Apply(ActiveRun& run, const Event& e);
  void Drain(ActiveRun& run);
  Status Flush(const std::shared_ptr<ActiveRun>& run);
  void Act(const std::shared_ptr<ActiveRun>& run);

  void MarkDirty(ActiveRun& run, Node* n);
  void Finish(ActiveRun& run, Node* n, RunState state, std::string error);
  const DagPlan* PlanFor(ActiveRun& run, const ComponentSpec* component);
  Node* ChildNode(ActiveRun& run, Node* parent, std::string path, std::string name, std::string display);
  void Expand(ActiveRun& run, Node* dag);
  void ExpandLoop(ActiveRun& run, Node* loop);
  void StartIterations(ActiveRun& run, Node* loop);
  void OnChildFinal(ActiveRun& run, Node* parent, Node* child);
  bool FinishIfAChildFailed(ActiveRun& run, Node* parent, std::string_view noun);
  void FinalizeDag(ActiveRun& run, Node* dag);
  void FinalizeLoop(ActiveRun& run, Node* loop);
  void StartTask(ActiveRun& run, Node* n);
  void ResumeNode(ActiveRun& run, Node* n);
  Status ResolveInputs(ActiveRun& run, Node* n);
  void RunImporter(ActiveRun& run, Node* n);
  void StartContainer(ActiveRun& run, Node* n);
  void LaunchAttempt(ActiveRun& run, Node* n, bool new_attempt);
  executors::UpdateCallback TaskCallback(ActiveRun& run, const std::string& path, const std::string& id);
  void OnAttemptEnd(ActiveRun& run, Node* n, const executors::TaskUpdate& u);
  void AttemptFailed(ActiveRun& run, Node* n, const std::string& message);
  void ApplyCancel(ActiveRun& run);
  bool CachingEnabled(const ActiveRun& run, const Node* n) const;
  const ContainerSpec* ContainerOf(const ActiveRun& run, const Node* n) const;
  std::string WorkDir(const ActiveRun& run, const Node* n) const;
  ExecutionContext Context(const ActiveRun& run, const Node* n) const;

  store::Database* db_;
  Env* env_;
  executors::Executor* executor_;
  EngineOptions options_;
  WorkerPool pool_;
  Timer timer_;
  std::shared_ptr<CallbackTarget> target_;
  std::atomic<bool> stopping_{false};

  std::mutex mu_;
  std::condition_variable changed_;
  std::unordered_map<std::string, std::shared_ptr<ActiveRun>> runs_;

  std::mutex admin_mu_;  // serialises RetryRun / DeleteRun against each other
};

void Post(const std::shared_ptr<CallbackTarget>& target, const std::weak_ptr<ActiveRun>& weak, Event e) {
  std::lock_guard l(target->mu);
  if (target->engine == nullptr) return;
  auto run = weak.lock();
  if (!run) return;
  target->engine->Enqueue(run, std::move(e));
}

void EngineImpl::Enqueue(const std::shared_ptr<ActiveRun>& run, Event event) {
  bool schedule = false;
  {
    std::lock_guard l(run->q_mu);
    run->events.push_back(std::move(event));
    if (!run->scheduled) run->scheduled = schedule = true;
  }
  if (schedule) {
    pool_.Post([this, run] { Step(run); });
  }
}

// ---------------------------------------------------------------- the step

void EngineImpl::Step(const std::shared_ptr<ActiveRun>& run) {
  for (;;) {
    std::deque<Event> events;
    {
      std::lock_guard l(run->q_mu);
      if (run->events.empty() || stopping_ || run->done) {
        run->events.clear();
        run->scheduled = false;
        return;
      }
      events.swap(run->events);
    }
    for (const Event& e : events) {
      Apply(*run, e);
      Drain(*run);
    }
    Act(run);
  }
}

executors::UpdateCallback EngineImpl::TaskCallback(ActiveRun& run, const std::string& path,
                                                   const std::string& id) {
  std::weak_ptr<ActiveRun> weak = run.weak_from_this();
  auto target = target_;
  return [target, weak, path, id](const executors::TaskUpdate& u) {
    Event e;
    e.type = Event::Type::kUpdate;
    e.path = path;
    e.exec_id = id;
    e.update = u;
    Post(target, weak, std::move(e));
  };
}

void EngineImpl::Act(const std::shared_ptr<ActiveRun>& run) {
  // Submits go out before the step's commit, so the executor starts the
  // processes while the commit waits for the disk (one fsync per step was
  // most of a short task's overhead). A crash inside that window leaves a
  // process the store does not know yet; the recovered run adopts it by its
  // execution id (LaunchAttempt).
  for (;;) {
    std::vector<Launch> launches;
    launches.swap(run->launches);
    std::vector<std::string> cancels;
    cancels.swap(run->cancels);
    for (Launch& l : launches) {
      const std::string id = l.spec.id;
      auto cb = TaskCallback(*run, l.path, id);
      Status s = l.reattach ? executor_->Reattach(l.spec, l.token, cb) : executor_->Submit(l.spec, cb);
      if (!s.ok()) {
        auto it = run->nodes.find(l.path);
        if (it != run->nodes.end() && it->second->exec_id == id && it->second->state == RunState::kRunning) {
          AttemptFailed(*run, it->second.get(), (l.reattach ? "reattach: " : "submit: ") + s.ToString());
        }
      }
    }
    for (const std::string& id : cancels) {
      Status s = executor_->Cancel(id);
      (void)s;  // NotFound: it finished meanwhile; its terminal update comes anyway
    }
    Drain(*run);
    Status st = Flush(run);
    if (!st.ok()) {
      // Keep the changes and try the commit again.
      LogEvent(spdlog::level::err, "pipeline run commit failed",
               {{"run_id", run->meta.run_id}, {"error", st.ToString()}});
      std::weak_ptr<ActiveRun> weak = run;
      auto target = target_;
      timer_.After(std::chrono::milliseconds(500), [target, weak] { Post(target, weak, Event{}); });
      return;
    }
    if (run->launches.empty() && run->cancels.empty()) return;
  }
}

void EngineImpl::Apply(ActiveRun& run, const Event& e) {
  switch (e.type) {
    case Event::Type::kWake: return;
    case Event::Type::kFlushTokens:
      run.token_timer = false;
      for (Node* n : run.pending_tokens) MarkDirty(run, n);
      run.pending_tokens.clear();
      return;
    case Event::Type::kStart: {
      if (run.root == nullptr) {
        auto root = std::make_unique<Node>();
        root->path = "root";
        root->name = "root";
        root->display_name = run.spec.display_name.empty() ? run.spec.name : run.spec.display_name;
        root->kind = NodeKind::kDag;
        root->component = &run.spec.root;
        root->created = root->started = env_->NowMicros();
        root->inputs = run.meta.parameters;
        root->state = RunState::kRunning;
        run.root = root.get();
        run.nodes["root"] = std::move(root);
        MarkDirty(run, run.root);
        Expand(run, run.root);
      } else {
        run.root->component = &run.spec.root;
        ResumeNode(run, run.root);
      }
      return;
    }
    case Event::Type::kCancel: ApplyCancel(run); return;
    case Event::Type::kRetry: {
      auto it = run.nodes.find(e.path);
      if (it == run.nodes.end()) return;
      Node* n = it->second.get();
      if (!n->backoff || n->attempt != e.attempt || n->state != RunState::kRunning) return;
      n->backoff = false;
      if (run.canceling) {
        Finish(run, n, RunState::kCanceled, "canceled");
      } else {
        LaunchAttempt(run, n, true);
      }
      return;
    }
    case Event::Type::kUpdate: {
      if (executors::IsTerminal(e.update.state)) run.to_release.push_back(e.exec_id);
      auto it = run.nodes.find(e.path);
      if (it == run.nodes.end()) return;
      Node* n = it->second.get();
      if (n->exec_id != e.exec_id || n->state != RunState::kRunning || n->backoff) return;
      const executors::TaskUpdate& u = e.update;
      if (u.state == executors::TaskState::kQueued) return;
      if (u.state == executors::TaskState::kRunning) {
        if (!u.attach_token.empty() && u.attach_token != n->token) {
          n->token = u.attach_token;
          run.pending_tokens.push_back(n);
        }
        return;
      }
      OnAttemptEnd(run, n, u);
      return;
    }
  }
}

void EngineImpl::Drain(ActiveRun& run) {
  while (!run.ready.empty()) {
    ActiveRun::Work w = run.ready.front();
    run.ready.pop_front();
    switch (w.what) {
      case ActiveRun::Work::What::kStart: StartTask(run, w.node); break;
      case ActiveRun::Work::What::kResume: ResumeNode(run, w.node); break;
      case ActiveRun::Work::What::kRelaunch:
        if (w.node->state == RunState::kRunning) LaunchAttempt(run, w.node, w.node->attempt == 0);
        break;
    }
  }
}

void EngineImpl::MarkDirty(ActiveRun& run, Node* n) {
  if (!n->dirty) {
    n->dirty = true;
    run.dirty.push_back(n);
  }
}

Status EngineImpl::Flush(const std::shared_ptr<ActiveRun>& run) {
  std::lock_guard dl(run->db_mu);
  RunState state = RunState::kRunning;
  std::string error;
  bool final = false;
  if (run->root != nullptr && IsFinal(run->root->state)) {
    state = run->root->state;
    error = run->root->error;
    final = true;
  } else if (run->cancel_requested) {
    state = RunState::kCanceling;
  }
  if (run->dirty.empty() && run->cache_entries.empty() && state == run->meta.state) {
    // Only attach tokens changed: commit them a little later, usually
    // together with the task's end (one commit per short task, not two).
    if (!run->pending_tokens.empty() && !run->token_timer) {
      run->token_timer = true;
      std::weak_ptr<ActiveRun> weak = run;
      auto target = target_;
      Event e;
      e.type = Event::Type::kFlushTokens;
      timer_.After(kTokenDelay, [target, weak, e] { Post(target, weak, e); });
    }
    return Status::OK();
  }
  for (Node* n : run->pending_tokens) MarkDirty(*run, n);
  run->pending_tokens.clear();
  std::int64_t finished = final ? env_->NowMicros() : 0;

  std::vector<std::vector<Value>> rows;
  rows.reserve(run->dirty.size());
  for (Node* n : run->dirty) {
    rows.push_back({run->meta.run_id, n->path, n->parent_path, n->name, n->display_name,
                    std::string(KindName(n->kind)), std::string(RunStateName(n->state)),
                    std::int64_t{n->cached ? 1 : 0}, std::int64_t{n->attempt}, Dump(ParamsToJson(n->inputs)),
                    Dump(ParamsToJson(n->outputs)), Dump(ArtifactsToJson(n->in_artifacts)),
                    Dump(ArtifactsToJson(n->out_artifacts)), n->token, n->exec_id, n->log_path, n->cache_key,
                    n->error, n->created, n->started, n->finished});
  }
  std::int64_t now = env_->NowMicros();
  std::int64_t revision = 0;
  Status st = db_->Transact([&](store::Tx& tx) -> Status {
    for (const auto& row : rows) {
      RETURN_IF_ERROR(tx.Exec(
          "INSERT INTO pipeline_tasks (run_id, path, parent_path, name, display_name, kind, state, cached, "
          "attempt, inputs, outputs, input_artifacts, output_artifacts, attach_token, executor_task_id, "
          "log_path, cache_key, error, created_at, started_at, finished_at) VALUES ($1, $2, $3, $4, $5, $6, "
          "$7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21) "
          "ON CONFLICT (run_id, path) DO UPDATE SET state = excluded.state, cached = excluded.cached, "
          "attempt = excluded.attempt, inputs = excluded.inputs, outputs = excluded.outputs, "
          "input_artifacts = excluded.input_artifacts, output_artifacts = excluded.output_artifacts, "
          "attach_token = excluded.attach_token, executor_task_id = excluded.executor_task_id, "
          "log_path = excluded.log_path, cache_key = excluded.cache_key, error = excluded.error, "
          "started_at = excluded.started_at, finished_at = excluded.finished_at",
          row));
    }
    for (const CacheEntry& c : run->cache_entries) {
      RETURN_IF_ERROR(tx.Exec(
          "INSERT INTO pipeline_cache (cache_key, outputs, run_id, task_path, created_at) "
          "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (cache_key) DO UPDATE SET outputs = excluded.outputs, "
          "run_id = excluded.run_id, task_path = excluded.task_path, created_at = excluded.created_at",
          {c.key, c.outputs, run->meta.run_id, c.path, now}));
    }
    ASSIGN_OR_RETURN(store::Rows r,
                     tx.Query("UPDATE pipeline_runs SET state = $2, error = $3, finished_at = $4, "
                              "revision = revision + 1 WHERE run_id = $1 RETURNING revision",
                              {run->meta.run_id, std::string(RunStateName(state)), error, finished}));
    if (r.empty()) return NotFound("pipeline run " + run->meta.run_id + " vanished");
    revision = r[0].Int(0);
    return Status::OK();
  });
  if (!st.ok()) return st;
  for (Node* n : run->dirty) n->dirty = false;
  run->dirty.clear();
  run->cache_entries.clear();
  for (const std::string& id : run->to_release) executor_->Release(id);
  run->to_release.clear();
  run->meta.state = state;
  run->meta.error = error;
  run->meta.finished = finished;
  run->final = final;
  {
    std::lock_guard l(mu_);
    run->revision = revision;
    if (final) {
      run->done = true;
      runs_.erase(run->meta.run_id);
    }
  }
  changed_.notify_all();
  return Status::OK();
}

// ------------------------------------------------------------ the tree

void EngineImpl::Finish(ActiveRun& run, Node* n, RunState state, std::string error) {
  if (IsFinal(n->state)) return;
  RunState before = n->state;
  n->state = state;
  n->error = std::move(error);
  n->backoff = false;
  n->finished = env_->NowMicros();
  MarkDirty(run, n);
  if (n->parent != nullptr) {
    if (n->parent->kind == NodeKind::kLoop && n->counted_running) {
      n->counted_running = false;
      --n->parent->running_iterations;
    }
    (void)before;
    OnChildFinal(run, n->parent, n);
  }
}

const DagPlan* EngineImpl::PlanFor(ActiveRun& run, const ComponentSpec* component) {
  auto it = run.plans.find(component);
  if (it != run.plans.end()) return it->second.get();
  static const DagSpec kEmpty;
  auto plan = std::make_unique<DagPlan>(MakePlan(component->dag ? *component->dag : kEmpty));
  const DagPlan* p = plan.get();
  run.plans[component] = std::move(plan);
  return p;
}

Node* EngineImpl::ChildNode(ActiveRun& run, Node* parent, std::string path, std::string name,
                            std::string display) {
  auto it = run.nodes.find(path);
  if (it != run.nodes.end()) return it->second.get();
  auto n = std::make_unique<Node>();
  n->path = std::move(path);
  n->name = std::move(name);
  n->display_name = std::move(display);
  n->parent_path = parent->path;
  n->created = env_->NowMicros();
  Node* p = n.get();
  run.nodes[p->path] = std::move(n);
  MarkDirty(run, p);
  return p;
}

void EngineImpl::Expand(ActiveRun& run, Node* dag) {
  if (dag->expanded) return;
  dag->expanded = true;
  const DagPlan* plan = PlanFor(run, dag->component);
  dag->plan = plan;
  std::size_t count = plan->tasks.size();
  dag->children.assign(count, nullptr);
  dag->waiting.assign(count, 0);
  dag->final_children = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const TaskSpec* t = plan->tasks[i];
    Node* c = ChildNode(run, dag, dag->path + "/" + t->name, t->name,
                        t->display_name.empty() ? t->name : t->display_name);
    c->parent = dag;
    c->index = static_cast<int>(i);
    c->task = t;
    auto comp = run.spec.components.find(t->component);
    c->component = comp != run.spec.components.end() ? &comp->second : nullptr;
    if (t->iterator) {
      c->kind = NodeKind::kLoop;
    } else if (c->component != nullptr && c->component->dag) {
      c->kind = NodeKind::kDag;
    } else {
      c->kind = NodeKind::kContainer;
      if (c->component != nullptr) {
        auto ex = run.spec.executors.find(c->component->executor_label);
        if (ex != run.spec.executors.end() && ex->second.importer) c->kind = NodeKind::kImporter;
      }
    }
    dag->children[i] = c;
  }
  for (std::size_t i = 0; i < count; ++i) {
    Node* c = dag->children[i];
    if (IsFinal(c->state)) {
      ++dag->final_children;
      continue;
    }
    for (int u : plan->upstream[i]) {
      if (!IsFinal(dag->children[u]->state)) ++dag->waiting[i];
    }
  }
  for (std::size_t i = 0; i < count; ++i) {
    Node* c = dag->children[i];
    if (c->state == RunState::kRunning) {
      run.ready.push_back({ActiveRun::Work::What::kResume, c});
    } else if (c->state == RunState::kPending && dag->waiting[i] == 0) {
      run.ready.push_back({ActiveRun::Work::What::kStart, c});
    }
  }
  if (dag->final_children == static_cast<int>(count)) FinalizeDag(run, dag);
}

void EngineImpl::ExpandLoop(ActiveRun& run, Node* loop) {
  if (loop->expanded) return;
  loop->expanded = true;
  const Iterator& it = *loop->task->iterator;
  loop->item_params.clear();
  loop->item_artifacts.clear();
  std::size_t count = 0;
  if (it.kind == Iterator::Kind::kInputArtifact) {
    auto a = loop->in_artifacts.find(it.items_input);
    if (a != loop->in_artifacts.end()) {
      for (const RuntimeArtifact& x : a->second) loop->item_artifacts.emplace_back(x);
    }
    count = loop->item_artifacts.size();
  } else {
    Json items;
    if (it.kind == Iterator::Kind::kRaw) {
      items = it.raw_items;
    } else {
      auto p = loop->inputs.find(it.items_input);
      if (p == loop->inputs.end()) {
        Finish(run, loop, RunState::kFailed,
               "ParallelFor '" + loop->name + "': input '" + it.items_input + "' has no value");
        return;
      }
      items = p->second;
    }
    if (items.is_string()) {
      auto parsed = ParseJson(items.get<std::string>());
      if (parsed.ok()) items = std::move(*parsed);
    }
    if (!items.is_array()) {
      Finish(run, loop, RunState::kFailed,
             "ParallelFor '" + loop->name + "': items must be a list, got " + std::string(JsonTypeName(items)));
      return;
    }
    for (const Json& x : items) loop->item_params.push_back(x);
    count = loop->item_params.size();
  }
  loop->plan = nullptr;
  loop->children.assign(count, nullptr);
  loop->final_children = 0;
  loop->running_iterations = 0;
  loop->cursor = 0;
  for (std::size_t i = 0; i < count; ++i) {
    std::string suffix = "[" + std::to_string(i) + "]";
    Node* c = ChildNode(run, loop, loop->path + suffix, loop->name + suffix, loop->display_name + suffix);
    c->parent = loop;
    c->index = static_cast<int>(i);
    c->kind = NodeKind::kIteration;
    c->component = loop->component;
    if (c->state == RunState::kPending && c->inputs.empty() && c->in_artifacts.empty()) {
      c->inputs = loop->inputs;
      c->in_artifacts = loop->in_artifacts;
      if (it.kind == Iterator::Kind::kInputArtifact) {
        c->in_artifacts[it.item_input] = {*loop->item_artifacts[i]};
      } else {
        c->inputs[it.item_input] = loop->item_params[i];
      }
    }
    loop->children[i] = c;
    if (IsFinal(c->state)) ++loop->final_children;
    if (c->state == RunState::kRunning) {
      c->counted_running = true;
      ++loop->running_iterations;
      run.ready.push_back({ActiveRun::Work::What::kResume, c});
    }
  }
  StartIterations(run, loop);
  if (loop->final_children == static_cast<int>(count)) FinalizeLoop(run, loop);
}

void EngineImpl::StartIterations(ActiveRun& run, Node* loop) {
  if (run.canceling || IsFinal(loop->state)) return;
  int limit = loop->task->iterator->parallelism_limit;
  int count = static_cast<int>(loop->children.size());
  while (loop->cursor < count && (limit <= 0 || loop->running_iterations < limit)) {
    Node* c = loop->children[loop->cursor++];
    if (c->state != RunState::kPending) continue;
    c->state = RunState::kRunning;
    c->started = env_->NowMicros();
    c->counted_running = true;
    ++loop->running_iterations;
    MarkDirty(run, c);
    Expand(run, c);
  }
}

void EngineImpl::OnChildFinal(ActiveRun& run, Node* parent, Node* child) {
  if (!parent->expanded) return;
  ++parent->final_children;
  int count = static_cast<int>(parent->children.size());
  if (parent->kind == NodeKind::kLoop) {
    StartIterations(run, parent);
    if (parent->final_children == count) FinalizeLoop(run, parent);
    return;
  }
  for (int d : parent->plan->downstream[child->index]) {
    if (--parent->waiting[d] == 0 && parent->children[d]->state == RunState::kPending) {
      run.ready.push_back({ActiveRun::Work::What::kStart, parent->children[d]});
    }
  }
  if (parent->final_children == count) FinalizeDag(run, parent);
}

// Ends `parent` (a DAG or a loop whose children are all final) FAILED or
// CANCELED when one of its children ended so; `noun` names the children
// in the message. Returns whether it did.
bool EngineImpl::FinishIfAChildFailed(ActiveRun& run, Node* parent, std::string_view noun) {
  const Node* failed = nullptr;
  const Node* canceled = nullptr;
  for (const Node* c : parent->children) {
    if (c->state == RunState::kFailed && failed == nullptr) failed = c;
    if (c->state == RunState::kCanceled && canceled == nullptr) canceled = c;
  }
  if (run.canceling && canceled != nullptr) {
    Finish(run, parent, RunState::kCanceled, "canceled");
    return true;
  }
  if (failed != nullptr) {
    std::string msg = std::string(noun) + " '" + failed->display_name + "' failed";
    if (!failed->error.empty()) msg += ": " + failed->error;
    Finish(run, parent, RunState::kFailed, msg);
    return true;
  }
  if (canceled != nullptr) {
    Finish(run, parent, RunState::kCanceled, std::string(noun) + " '" + canceled->display_name + "' was canceled");
    return true;
  }
  return false;
}

void EngineImpl::FinalizeDag(ActiveRun& run, Node* dag) {
  if (IsFinal(dag->state) || FinishIfAChildFailed(run, dag, "task")) return;
  if (dag->component != nullptr && dag->component->dag) {
    const DagSpec& spec = *dag->component->dag;
    auto child = [&](const std::string& name) -> const Node* {
      auto it = dag->plan->index.find(name);
      if (it == dag->plan->index.end()) return nullptr;
      const Node* c = dag->children[it->second];
      return c->state == RunState::kSucceeded ? c : nullptr;
    };
    for (const auto& [name, out] : spec.output_parameters) {
      for (const auto& sel : out.selectors) {
        const Node* c = child(sel.producer_subtask);
        if (c == nullptr) continue;
        auto v = c->outputs.find(sel.output_key);
        if (v == c->outputs.end()) continue;
        dag->outputs[name] = v->second;
        break;
      }
    }
    for (const auto& [name, out] : spec.output_artifacts) {
      for (const auto& sel : out.selectors) {
        const Node* c = child(sel.producer_subtask);
        if (c == nullptr) continue;
        auto v = c->out_artifacts.find(sel.output_key);
        if (v == c->out_artifacts.end()) continue;
        dag->out_artifacts[name] = v->second;
        break;
      }
    }
  }
  Finish(run, dag, RunState::kSucceeded, "");
}

void EngineImpl::FinalizeLoop(ActiveRun& run, Node* loop) {
  if (IsFinal(loop->state) || FinishIfAChildFailed(run, loop, "iteration")) return;
  // dsl.Collected: each DAG output becomes the list over the iterations, in
  // iteration order.
  if (loop->component != nullptr && loop->component->dag) {
    const DagSpec& spec = *loop->component->dag;
    for (const auto& [name, out] : spec.output_parameters) {
      Json list = Json::array();
      for (const Node* c : loop->children) {
        auto v = c->outputs.find(name);
        if (v != c->outputs.end()) list.push_back(v->second);
      }
      loop->outputs[name] = std::move(list);
    }
    for (const auto& [name, out] : spec.output_artifacts) {
      ArtifactList list;
      for (const Node* c : loop->children) {
        auto v = c->out_artifacts.find(name);
        if (v != c->out_artifacts.end()) list.insert(list.end(), v->second.begin(), v->second.end());
      }
      loop->out_artifacts[name] = std::move(list);
    }
  }
  Finish(run, loop, RunState::kSucceeded, "");
}

Status EngineImpl::ResolveInputs(ActiveRun& run, Node* n) {
  Node* parent = n->parent;
  const TaskSpec& t = *n->task;
  auto producer = [&](const std::string& name) -> const Node* {
    auto it = parent->plan->index.find(name);
    return it == parent->plan->index.end() ? nullptr : parent->children[it->second];
  };
  ParamMap params;
  for (const auto& [name, src] : t.parameter_inputs) {
    std::optional<Json> value;
    switch (src.kind) {
      case ParameterSource::Kind::kConstant: value = src.constant; break;
      case ParameterSource::Kind::kComponentInput: {
        auto it = parent->inputs.find(src.name);
        if (it != parent->inputs.end()) value = it->second;
        break;
      }
      case ParameterSource::Kind::kTaskOutput: {
        const Node* p = producer(src.producer_task);
        if (p == nullptr) {
          return InvalidArgument("input '" + name + "' of task '" + t.name + "': unknown producer task '" +
                                 src.producer_task + "'");
        }
        auto it = p->outputs.find(src.name);
        if (it != p->outputs.end()) {
          value = it->second;
        } else if (p->state == RunState::kSucceeded) {
          return InvalidArgument("input '" + name + "' of task '" + t.name + "': task '" + src.producer_task +
                                 "' has no output parameter '" + src.name + "'");
        }
        break;
      }
      case ParameterSource::Kind::kTaskFinalStatus: {
        const Node* p = producer(src.producer_task);
        if (p == nullptr) {
          return InvalidArgument("input '" + name + "' of task '" + t.name + "': unknown producer task '" +
                                 src.producer_task + "'");
        }
        bool ok = p->state == RunState::kSucceeded || p->state == RunState::kSkipped;
        value = Json{{"state", std::string(RunStateName(p->state))},
                     {"error", {{"code", ok ? 0 : 2}, {"message", ok ? std::string() : p->error}}},
                     {"pipelineJobResourceName", "runs/" + run.meta.run_id},
                     {"pipelineTaskName", p->display_name}};
        break;
      }
    }
    if (value && !src.expression_selector.empty()) {
      auto selected = EvaluateSelector(src.expression_selector, *value);
      if (!selected.ok()) {
        return InvalidArgument("input '" + name + "' of task '" + t.name + "': parameterExpressionSelector: " +
                               selected.status().message());
      }
      value = std::move(*selected);
    }
    if (value) params[name] = std::move(*value);
  }
  ArtifactMap artifacts;
  for (const auto& [name, src] : t.artifact_inputs) {
    if (src.kind == ArtifactSource::Kind::kComponentInput) {
      auto it = parent->in_artifacts.find(src.name);
      if (it != parent->in_artifacts.end()) artifacts[name] = it->second;
    } else {
      const Node* p = producer(src.producer_task);
      if (p == nullptr) {
        return InvalidArgument("artifact input '" + name + "' of task '" + t.name + "': unknown producer task '" +
                               src.producer_task + "'");
      }
      auto it = p->out_artifacts.find(src.name);
      if (it != p->out_artifacts.end()) {
        artifacts[name] = it->second;
      } else if (p->state == RunState::kSucceeded) {
        return InvalidArgument("artifact input '" + name + "' of task '" + t.name + "': task '" +
                               src.producer_task + "' has no output artifact '" + src.name + "'");
      }
    }
  }
  if (n->component != nullptr) {
    for (const auto& [name, spec] : n->component->inputs.parameters) {
      if (!params.count(name) && spec.default_value) params[name] = *spec.default_value;
    }
  }
  n->inputs = std::move(params);
  n->in_artifacts = std::move(artifacts);
  return Status::OK();
}

void EngineImpl::StartTask(ActiveRun& run, Node* n) {
  if (n->state != RunState::kPending) return;
  if (run.canceling) {
    Finish(run, n, RunState::kCanceled, "canceled");
    return;
  }
  Node* parent = n->parent;
  const TaskSpec& t = *n->task;
  if (n->component == nullptr) {
    Finish(run, n, RunState::kFailed, "unknown component '" + t.component + "'");
    return;
  }
  if (t.strategy == TriggerStrategy::kAllUpstreamTasksSucceeded) {
    for (int u : parent->plan->upstream[n->index]) {
      const Node* up = parent->children[u];
      if (up->state != RunState::kSucceeded) {
        Finish(run, n, RunState::kSkipped,
               "upstream task '" + up->display_name + "' is " + std::string(RunStateName(up->state)));
        return;
      }
    }
  }
  if (Status st = ResolveInputs(run, n); !st.ok()) {
    Finish(run, n, RunState::kFailed, st.message());
    return;
  }
  if (!t.condition.empty()) {
    auto ok = EvaluateCondition(t.condition, n->inputs);
    if (!ok.ok()) {
      Finish(run, n, RunState::kFailed, "condition: " + ok.status().message());
      return;
    }
    if (!*ok) {
      MarkDirty(run, n);
      Finish(run, n, RunState::kSkipped, "condition is false: " + t.condition);
      return;
    }
  }
  n->started = env_->NowMicros();
  MarkDirty(run, n);
  switch (n->kind) {
    case NodeKind::kDag:
    case NodeKind::kIteration:
      n->state = RunState::kRunning;
      Expand(run, n);
      return;
    case NodeKind::kLoop:
      n->state = RunState::kRunning;
      ExpandLoop(run, n);
      return;
    case NodeKind::kImporter: RunImporter(run, n); return;
    case NodeKind::kContainer: StartContainer(run, n); return;
  }
}

void EngineImpl::ResumeNode(ActiveRun& run, Node* n) {
  if (n->state != RunState::kRunning) return;
  switch (n->kind) {
    case NodeKind::kDag:
    case NodeKind::kIteration: Expand(run, n); return;
    case NodeKind::kLoop:
      if (n->task == nullptr || !n->task->iterator) {
        Finish(run, n, RunState::kFailed, "ParallelFor spec missing on resume");
        return;
      }
      ExpandLoop(run, n);
      return;
    case NodeKind::kImporter: RunImporter(run, n); return;
    case NodeKind::kContainer: {
      const ContainerSpec* c = ContainerOf(run, n);
      if (c == nullptr) {
        Finish(run, n, RunState::kFailed, "container executor missing on resume");
        return;
      }
      if (run.canceling && (n->token.empty() || n->exec_id.empty() || n->backoff)) {
        Finish(run, n, RunState::kCanceled, "canceled");
        return;
      }
      if (n->token.empty() || n->exec_id.empty()) {
        // Never confirmed started: start the same attempt again.
        LaunchAttempt(run, n, n->attempt == 0);
        return;
      }
      Launch l;
      l.path = n->path;
      l.reattach = true;
      l.token = n->token;
      l.spec.id = n->exec_id;
      l.spec.working_dir = WorkDir(run, n);
      l.spec.log_path = n->log_path;
      run.launches.push_back(std::move(l));
      if (run.canceling) run.cancels.push_back(n->exec_id);
      return;
    }
  }
}

void EngineImpl::RunImporter(ActiveRun& run, Node* n) {
  auto ex = run.spec.executors.find(n->component->executor_label);
  if (ex == run.spec.executors.end() || !ex->second.importer) {
    Finish(run, n, RunState::kFailed, "importer executor missing");
    return;
  }
  const ImporterSpec& imp = *ex->second.importer;
  std::string uri = imp.uri_constant;
  if (!imp.uri_parameter.empty()) {
    auto it = n->inputs.find(imp.uri_parameter);
    if (it == n->inputs.end() || !it->second.is_string()) {
      Finish(run, n, RunState::kFailed, "importer: input '" + imp.uri_parameter + "' holds no URI string");
      return;
    }
    uri = it->second.get<std::string>();
  }
  if (uri.rfind("file://", 0) == 0) uri = uri.substr(7);
  std::string out_name = "artifact";
  if (!n->component->outputs.artifacts.empty()) out_name = n->component->outputs.artifacts.begin()->first;
  RuntimeArtifact a;
  a.name = out_name;
  a.type = imp.type;
  a.uri = uri;
  a.metadata = imp.metadata.is_object() ? imp.metadata : Json::object();
  n->out_artifacts[out_name] = {a};
  n->attempt = 1;
  n->state = RunState::kRunning;
  Finish(run, n, RunState::kSucceeded, "");
}

const ContainerSpec* EngineImpl::ContainerOf(const ActiveRun& run, const Node* n) const {
  if (n->component == nullptr) return nullptr;
  auto ex = run.spec.executors.find(n->component->executor_label);
  if (ex == run.spec.executors.end() || !ex->second.container) return nullptr;
  return &*ex->second.container;
}

bool EngineImpl::CachingEnabled(const ActiveRun& run, const Node* n) const {
  if (!options_.enable_caching) return false;
  if (run.meta.enable_caching) return *run.meta.enable_caching;
  return n->task == nullptr || n->task->enable_cache;
}

void EngineImpl::StartContainer(ActiveRun& run, Node* n) {
  const ContainerSpec* c = ContainerOf(run, n);
  if (c == nullptr) {
    Finish(run, n, RunState::kFailed, "component '" + n->component->name + "' has no container executor");
    return;
  }
  n->state = RunState::kRunning;
  n->attempt = 0;
  n->cache_key.clear();
  if (CachingEnabled(run, n)) {
    n->cache_key = internal::CacheKey(*n->component, *c, n->inputs, n->in_artifacts);
    auto rows = db_->Query("SELECT outputs FROM pipeline_cache WHERE cache_key = $1", {n->cache_key});
    if (rows.ok() && !rows->empty()) {
      auto j = ParseJson((*rows)[0].Text(0));
      if (j.ok() && j->is_object()) {
        auto p = j->find("parameters");
        auto a = j->find("artifacts");
        if (p != j->end() && p->is_object()) {
          for (auto it = p->begin(); it != p->end(); ++it) n->outputs[it.key()] = it.value();
        }
        if (a != j->end()) n->out_artifacts = ArtifactsFromJson(*a);
        n->cached = true;
        Finish(run, n, RunState::kSucceeded, "");
        return;
      }
    }
  }
  LaunchAttempt(run, n, true);
}

std::string EngineImpl::WorkDir(const ActiveRun& run, const Node* n) const {
  return options_.data_dir + "/pipelines/runs/" + run.meta.run_id + "/" + n->path + "/attempt-" +
         std::to_string(n->attempt);
}

ExecutionContext EngineImpl::Context(const ActiveRun& run, const Node* n) const {
  ExecutionContext ctx;
  std::string work = WorkDir(run, n);
  std::string art_dir = run.meta.pipeline_root + "/" + run.meta.run_id + "/" + n->path;
  ctx.parameters = n->inputs;
  ctx.artifacts = n->in_artifacts;
  for (const auto& [name, spec] : n->component->outputs.parameters) {
    (void)spec;
    ctx.output_parameter_files[name] = work + "/outputs/" + name;
  }
  for (const auto& [name, spec] : n->component->outputs.artifacts) {
    RuntimeArtifact a;
    a.name = name;
    a.type = spec.type;
    a.uri = art_dir + "/" + name;
    ctx.output_artifacts[name] = std::move(a);
  }
  ctx.executor_output_file = work + "/executor_output.json";
  ctx.pipeline_job_name = run.meta.display_name;
  ctx.pipeline_job_uuid = run.meta.run_id;
  ctx.pipeline_task_name = n->display_name;
  ctx.pipeline_task_uuid = Sha256Hex(run.meta.run_id + "/" + n->path).substr(0, 32);
  ctx.pipeline_root = run.meta.pipeline_root;
  return ctx;
}

void EngineImpl::LaunchAttempt(ActiveRun& run, Node* n, bool new_attempt) {
  const ContainerSpec* c = ContainerOf(run, n);
  if (c == nullptr) {
    Finish(run, n, RunState::kFailed, "container executor missing");
    return;
  }
  if (new_attempt) ++n->attempt;
  if (n->attempt <= 0) n->attempt = 1;
  n->state = RunState::kRunning;
  n->backoff = false;
  n->token.clear();
  n->exec_id.clear();
  MarkDirty(run, n);
  if (n->started == 0) n->started = env_->NowMicros();

  std::string work = WorkDir(run, n);
  // One id per (run, task, attempt): after a crash that came between the
  // submit and its commit, the same attempt gets the same id, and the
  // executor still knows the process an earlier server started for it.
  const std::string id = internal::ExecutionId(run.meta.run_id, n->path, n->attempt);
  if (run.recovered) {
    executors::TaskSpec known;
    known.id = id;
    known.working_dir = work;
    known.log_path = work + "/task.log";
    Status adopted = executor_->Reattach(known, "", TaskCallback(run, n->path, id));
    if (adopted.ok()) {
      n->exec_id = id;
      n->log_path = known.log_path;
      return;
    }
    if (adopted.code() != StatusCode::kNotFound) {
      LogEvent(spdlog::level::warn, "pipeline task: cannot look for an earlier process",
               {{"run_id", run.meta.run_id}, {"task", n->path}, {"error", adopted.ToString()}});
    }
  }

  ExecutionContext ctx = Context(run, n);
  std::error_code ec;
  fs::remove_all(work, ec);
  fs::create_directories(work + "/outputs", ec);
  if (ec) {
    AttemptFailed(run, n, "cannot create work dir " + work + ": " + ec.message());
    return;
  }
  for (const auto& [name, a] : ctx.output_artifacts) {
    (void)name;
    fs::create_directories(fs::path(a.uri).parent_path(), ec);
    if (ec) {
      AttemptFailed(run, n, "cannot create artifact dir for " + a.uri + ": " + ec.message());
      return;
    }
  }
  {
    std::ofstream f(work + "/executor_input.json");
    f << Dump(BuildExecutorInput(ctx));
  }
  auto argv = ResolveCommand(*c, ctx);
  if (!argv.ok()) {
    Finish(run, n, RunState::kFailed, "placeholders: " + argv.status().message());
    return;
  }
  executors::TaskSpec spec;
  spec.argv = std::move(*argv);
  std::map<std::string, std::string> extra_env;
  if (options_.prepare_command) {
    auto prepared = options_.prepare_command(spec.argv, work);
    if (!prepared.ok()) {
      AttemptFailed(run, n, "preparing the command: " + prepared.status().message());
      return;
    }
    spec.argv = std::move(prepared->argv);
    extra_env = std::move(prepared->extra_env);
  }
  if (spec.argv.empty()) {
    Finish(run, n, RunState::kFailed, "the container has an empty command");
    return;
  }
  n->exec_id = id;
  n->log_path = work + "/task.log";
  spec.id = n->exec_id;
  spec.env = options_.base_env;
  // The preparer's variables are defaults the component's own env overrides.
  for (const auto& [k, v] : extra_env) spec.env[k] = v;
  for (const auto& [k, v] : c->env) spec.env[k] = v;
  spec.env["KFP_POD_NAME"] = n->exec_id;
  spec.env["KFP_POD_UID"] = ctx.pipeline_task_uuid;
  spec.env["KFP_RUN_ID"] = run.meta.run_id;
  spec.env["FERRY_RUN_ID"] = run.meta.run_id;
  spec.env["FERRY_TASK_PATH"] = n->path;
  spec.working_dir = work;
  spec.log_path = n->log_path;
  spec.resources.cpu = std::max(c->resources.cpu_request, 0.0);
  spec.resources.memory_bytes = std::max<std::int64_t>(c->resources.memory_request, 0);
  spec.resources.gpu = std::max(c->resources.accelerator_count, 0);
  Launch l;
  l.path = n->path;
  l.spec = std::move(spec);
  run.launches.push_back(std::move(l));
}

void EngineImpl::OnAttemptEnd(ActiveRun& run, Node* n, const executors::TaskUpdate& u) {
  using executors::TaskState;
  if (u.state == TaskState::kSucceeded) {
    ExecutionContext ctx = Context(run, n);
    auto outs = ReadExecutionOutputs(*n->component, ctx);
    if (!outs.ok()) {
      AttemptFailed(run, n, "reading outputs: " + outs.status().message());
      return;
    }
    n->outputs = std::move(outs->parameters);
    n->out_artifacts.clear();
    for (auto& [name, a] : outs->artifacts) n->out_artifacts[name] = {a};
    if (!n->cache_key.empty()) {
      Json entry = {{"parameters", ParamsToJson(n->outputs)}, {"artifacts", ArtifactsToJson(n->out_artifacts)}};
      run.cache_entries.push_back({n->cache_key, Dump(entry), n->path});
    }
    Finish(run, n, RunState::kSucceeded, "");
    return;
  }
  if (u.state == TaskState::kCancelled && run.canceling) {
    Finish(run, n, RunState::kCanceled, "canceled");
    return;
  }
  std::string msg = u.message.empty() ? std::string(executors::TaskStateName(u.state)) : u.message;
  AttemptFailed(run, n, msg);
}

void EngineImpl::AttemptFailed(ActiveRun& run, Node* n, const std::string& message) {
  MarkDirty(run, n);
  n->error = "attempt " + std::to_string(n->attempt) + ": " + message;
  if (run.canceling) {
    Finish(run, n, RunState::kCanceled, "canceled");
    return;
  }
  const RetryPolicy& policy = n->task != nullptr ? n->task->retry : RetryPolicy{};
  if (n->attempt <= policy.max_retry_count) {
    n->backoff = true;
    double delay = internal::RetryBackoffSeconds(policy, n->attempt);
    auto target = target_;
    std::weak_ptr<ActiveRun> weak;
    {
      std::lock_guard l(mu_);
      auto it = runs_.find(run.meta.run_id);
      if (it != runs_.end()) weak = it->second;
    }
    Event e;
    e.type = Event::Type::kRetry;
    e.path = n->path;
    e.attempt = n->attempt;
    timer_.After(std::chrono::milliseconds(static_cast<std::int64_t>(delay * 1000)),
                 [target, weak, e] { Post(target, weak, e); });
    return;
  }
  std::string err = n->error;
  Finish(run, n, RunState::kFailed, err);
}

void EngineImpl::ApplyCancel(ActiveRun& run) {
  if (run.canceling) return;
  run.canceling = true;
  std::vector<Node*> all;
  all.reserve(run.nodes.size());
  for (auto& [p, n] : run.nodes) all.push_back(n.get());
  std::sort(all.begin(), all.end(), [](const Node* a, const Node* b) { return a->path < b->path; });
  for (Node* n : all) {
    if (IsFinal(n->state)) continue;
    bool leaf = n->kind == NodeKind::kContainer || n->kind == NodeKind::kImporter;
    if (n->state == RunState::kPending || (leaf && n->backoff)) {
      if (n->parent != nullptr || n == run.root) Finish(run, n, RunState::kCanceled, "canceled");
    } else if (leaf && n->state == RunState::kRunning) {
      if (n->exec_id.empty()) {
        Finish(run, n, RunState::kCanceled, "canceled");
      } else {
        run.cancels.push_back(n->exec_id);
      }
    }
  }
  // A run canceled before its root DAG started.
  if (run.root == nullptr) {
    auto root = std::make_unique<Node>();
    root->path = root->name = "root";
    root->kind = NodeKind::kDag;
    root->component = &run.spec.root;
    root->created = env_->NowMicros();
    run.root = root.get();
    run.nodes["root"] = std::move(root);
    Finish(run, run.root, RunState::kCanceled, "canceled");
  }
}

// ------------------------------------------------------------ public API

Result<RunMeta> EngineImpl::LoadRunMeta(std::string_view run_id) {
  ASSIGN_OR_RETURN(store::Rows rows,
                   db_->Query(std::string("SELECT ") + kRunColumns + " FROM pipeline_runs WHERE run_id = $1",
                              {std::string(run_id)}));
  if (rows.empty()) return NotFound("pipeline run '" + std::string(run_id) + "' not found");
  return RunMetaFromRow(rows[0]);
}

Result<std::shared_ptr<ActiveRun>> EngineImpl::LoadActiveRun(const RunMeta& meta, const std::string& text) {
  auto run = std::make_shared<ActiveRun>();
  run->meta = meta;
  run->revision = meta.revision;
  run->cancel_requested = meta.state == RunState::kCanceling;
  ASSIGN_OR_RETURN(run->spec, ParsePipelineText(text));
  ASSIGN_OR_RETURN(store::Rows rows,
                   db_->Query(std::string("SELECT ") + kTaskColumns + " FROM pipeline_tasks WHERE run_id = $1",
                              {meta.run_id}));
  for (const store::Row& r : rows) {
    auto n = NodeFromRow(r);
    std::string path = n->path;
    run->nodes[path] = std::move(n);
  }
  auto root = run->nodes.find("root");
  if (root != run->nodes.end()) run->root = root->second.get();
  return run;
}

void EngineImpl::Activate(const std::shared_ptr<ActiveRun>& run, bool cancel) {
  {
    std::lock_guard l(mu_);
    runs_[run->meta.run_id] = run;
  }
  Event start;
  start.type = Event::Type::kStart;
  Enqueue(run, start);
  if (cancel) {
    Event c;
    c.type = Event::Type::kCancel;
    Enqueue(run, c);
  }
}

Status EngineImpl::Recover() {
  ASSIGN_OR_RETURN(store::Rows rows,
                   db_->Query(std::string("SELECT ") + kRunColumns + ", pipeline_text FROM pipeline_runs "
                              "WHERE state IN ('PENDING', 'RUNNING', 'CANCELING') ORDER BY created_at"));
  for (const store::Row& r : rows) {
    RunMeta meta = RunMetaFromRow(r);
    auto run = LoadActiveRun(meta, r.Text(17));
    if (!run.ok()) {
      LogEvent(spdlog::level::err, "pipeline run cannot be recovered",
               {{"run_id", meta.run_id}, {"error", run.status().ToString()}});
      RETURN_IF_ERROR(db_->Exec(
          "UPDATE pipeline_runs SET state = 'FAILED', error = $2, finished_at = $3, revision = revision + 1 "
          "WHERE run_id = $1",
          {meta.run_id, "cannot recover: " + run.status().message(), env_->NowMicros()}));
      continue;
    }
    (*run)->recovered = true;
    Activate(*run, meta.state == RunState::kCanceling);
  }
  return Status::OK();
}

Result<RunStatus> EngineImpl::SubmitRun(const RunRequest& request) {
  if (stopping_) return Unavailable("pipeline engine is shutting down");
  ASSIGN_OR_RETURN(PipelineSpec spec, ParsePipelineText(request.pipeline_text));
  ASSIGN_OR_RETURN(ParamMap params, ResolveRunParameters(spec, request.parameters));
  RunMeta meta;
  meta.pipeline_root = options_.pipeline_root;
  if (!request.pipeline_root.empty()) {
    std::string root = request.pipeline_root;
    if (root.rfind("file://", 0) == 0) root = root.substr(7);
    if (!IsLocalPath(root)) {
      return InvalidArgument("pipeline_root must be a local absolute path or a file:// URI, got '" +
                                 request.pipeline_root + "'",
                             "pipeline_root");
    }
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    meta.pipeline_root = root;
  }
  meta.run_id = env_->NewUuid();
  meta.pipeline_name = spec.name;
  meta.display_name = !request.display_name.empty() ? request.display_name
                      : !spec.display_name.empty()  ? spec.display_name
                                                    : spec.name;
  meta.description = request.description;
  meta.experiment_id = request.experiment_id;
  meta.pipeline_id = request.pipeline_id;
  meta.pipeline_version_id = request.pipeline_version_id;
  meta.recurring_run_id = request.recurring_run_id;
  meta.parameters = std::move(params);
  meta.enable_caching = request.enable_caching;
  meta.state = RunState::kPending;
  meta.created = env_->NowMicros();
  meta.revision = 1;
  Value caching = nullptr;
  if (meta.enable_caching) caching = std::int64_t{*meta.enable_caching ? 1 : 0};
  RETURN_IF_ERROR(db_->Exec(
      "INSERT INTO pipeline_runs (run_id, display_name, description, experiment_id, pipeline_id, "
      "pipeline_version_id, recurring_run_id, pipeline_name, pipeline_text, parameters, pipeline_root, "
      "enable_caching, state, error, created_at, finished_at, archived, revision) VALUES ($1, $2, $3, $4, $5, "
      "$6, $7, $8, $9, $10, $11, $12, 'PENDING', '', $13, 0, 0, 1)",
      {meta.run_id, meta.display_name, meta.description, meta.experiment_id, meta.pipeline_id,
       meta.pipeline_version_id, meta.recurring_run_id, meta.pipeline_name, request.pipeline_text,
       Dump(ParamsToJson(meta.parameters)), meta.pipeline_root, caching, meta.created}));
  auto run = std::make_shared<ActiveRun>();
  run->meta = meta;
  run->spec = std::move(spec);
  run->revision = 1;
  Activate(run, false);
  return ToRunStatus(meta);
}

Result<RunDetail> EngineImpl::GetRun(std::string_view run_id) {
  RunDetail detail;
  ASSIGN_OR_RETURN(store::Rows rows, db_->Query(std::string("SELECT ") + kRunColumns +
                                                    ", pipeline_text FROM pipeline_runs WHERE run_id = $1",
                                                {std::string(run_id)}));
  if (rows.empty()) return NotFound("pipeline run '" + std::string(run_id) + "' not found");
  detail.run = ToRunStatus(RunMetaFromRow(rows[0]));
  detail.pipeline_text = rows[0].Text(17);
  ASSIGN_OR_RETURN(store::Rows tasks,
                   db_->Query(std::string("SELECT ") + kTaskColumns + " FROM pipeline_tasks WHERE run_id = $1",
                              {std::string(run_id)}));
  detail.tasks.reserve(tasks.size());
  for (const store::Row& r : tasks) detail.tasks.push_back(ToTaskStatus(*NodeFromRow(r)));
  std::sort(detail.tasks.begin(), detail.tasks.end(),
            [](const TaskStatus& a, const TaskStatus& b) { return a.path < b.path; });
  return detail;
}

Result<ListRunsResponse> EngineImpl::ListRuns(const ListRunsRequest& request) {
  std::string where = " WHERE 1 = 1";
  std::vector<Value> params;
  auto add = [&](const std::string& cond, Value v) {
    params.push_back(std::move(v));
    std::string c = cond;
    auto pos = c.find("$?");
    c.replace(pos, 2, "$" + std::to_string(params.size()));
    where += " AND " + c;
  };
  if (!request.experiment_id.empty()) add("experiment_id = $?", request.experiment_id);
  if (request.state) add("state = $?", std::string(RunStateName(*request.state)));
  if (!request.name_contains.empty())
    add("display_name LIKE $? ESCAPE '\\'", "%" + EscapeLike(request.name_contains) + "%");
  if (!request.recurring_run_id.empty()) add("recurring_run_id = $?", request.recurring_run_id);
  if (!request.include_archived) where += " AND archived = 0";

  std::string order = request.order_by.empty() ? "created_at desc" : request.order_by;
  std::string field = order, dir = "asc";
  if (auto sp = order.find(' '); sp != std::string::npos) {
    field = order.substr(0, sp);
    dir = order.substr(sp + 1);
    while (!dir.empty() && dir.front() == ' ') dir.erase(dir.begin());
  }
  std::transform(dir.begin(), dir.end(), dir.begin(), [](unsigned char c) { return std::tolower(c); });
  std::string column;
  if (field == "created_at") column = "created_at";
  else if (field == "name") column = "display_name";
  else if (field == "state") column = "state";
  else return InvalidArgument("order_by: unknown field '" + field + "' (want created_at, name or state)", "order_by");
  if (dir != "asc" && dir != "desc") {
    return InvalidArgument("order_by: direction must be asc or desc, got '" + dir + "'", "order_by");
  }
  if (request.page_size <= 0 || request.page_size > 1000) {
    return InvalidArgument("page_size must be between 1 and 1000", "page_size");
  }
  std::int64_t offset = 0;
  if (!request.page_token.empty()) {
    char* end = nullptr;
    long long v = std::strtoll(request.page_token.c_str(), &end, 10);
    if (end == nullptr || *end != '\0' || v < 0) return InvalidArgument("invalid page_token", "page_token");
    offset = v;
  }
  ListRunsResponse out;
  ASSIGN_OR_RETURN(store::Rows count, db_->Query("SELECT COUNT(*) FROM pipeline_runs" + where, params));
  out.total_size = count.empty() ? 0 : count[0].Int(0);
  std::vector<Value> page_params = params;
  page_params.push_back(std::int64_t{request.page_size});
  page_params.push_back(offset);
  std::string sql = std::string("SELECT ") + kRunColumns + " FROM pipeline_runs" + where + " ORDER BY " + column +
                    " " + dir + ", run_id " + dir + " LIMIT $" + std::to_string(page_params.size() - 1) +
                    " OFFSET $" + std::to_string(page_params.size());
  ASSIGN_OR_RETURN(store::Rows rows, db_->Query(sql, page_params));
  for (const store::Row& r : rows) out.runs.push_back(ToRunStatus(RunMetaFromRow(r)));
  if (offset + static_cast<std::int64_t>(rows.size()) < out.total_size) {
    out.next_page_token = std::to_string(offset + static_cast<std::int64_t>(rows.size()));
  }
  return out;
}

Status EngineImpl::CancelRun(std::string_view run_id) {
  std::shared_ptr<ActiveRun> run;
  {
    std::lock_guard l(mu_);
    auto it = runs_.find(std::string(run_id));
    if (it != runs_.end()) run = it->second;
  }
  if (!run) {
    ASSIGN_OR_RETURN(RunMeta meta, LoadRunMeta(run_id));
    return FailedPrecondition("pipeline run '" + meta.run_id + "' is " + std::string(RunStateName(meta.state)) +
                              "; only an unfinished run can be canceled");
  }
  {
    std::lock_guard dl(run->db_mu);
    if (run->final) {
      return FailedPrecondition("pipeline run '" + run->meta.run_id + "' is " +
                                std::string(RunStateName(run->meta.state)) + "; only an unfinished run can be canceled");
    }
    if (!run->cancel_requested) {
      ASSIGN_OR_RETURN(store::Rows r,
                       db_->Query("UPDATE pipeline_runs SET state = 'CANCELING', revision = revision + 1 "
                                  "WHERE run_id = $1 RETURNING revision",
                                  {run->meta.run_id}));
      run->cancel_requested = true;
      run->meta.state = RunState::kCanceling;
      if (!r.empty()) {
        std::lock_guard l(mu_);
        run->revision = r[0].Int(0);
      }
    }
  }
  changed_.notify_all();
  Event e;
  e.type = Event::Type::kCancel;
  Enqueue(run, e);
  return Status::OK();
}

Status EngineImpl::RetryRun(std::string_view run_id) {
  std::lock_guard admin(admin_mu_);
  {
    std::lock_guard l(mu_);
    if (runs_.count(std::string(run_id))) {
      return FailedPrecondition("pipeline run '" + std::string(run_id) + "' is still running");
    }
  }
  ASSIGN_OR_RETURN(RunMeta meta, LoadRunMeta(run_id));
  if (meta.state != RunState::kFailed && meta.state != RunState::kCanceled) {
    return FailedPrecondition("pipeline run '" + meta.run_id + "' is " + std::string(RunStateName(meta.state)) +
                              "; only a FAILED or CANCELED run can be retried");
  }
  ASSIGN_OR_RETURN(store::Rows text, db_->Query("SELECT pipeline_text FROM pipeline_runs WHERE run_id = $1",
                                                {meta.run_id}));
  if (text.empty()) return NotFound("pipeline run '" + meta.run_id + "' not found");
  ASSIGN_OR_RETURN(store::Rows rows, db_->Query("SELECT path, parent_path, state, kind, attempt "
                                                "FROM pipeline_tasks WHERE run_id = $1",
                                                {meta.run_id}));
  // Keep succeeded tasks and the DAGs above them (they go back to RUNNING);
  // every other task row goes, so it is created and run afresh.
  std::unordered_map<std::string, std::string> parent_of;
  for (const store::Row& r : rows) parent_of[r.Text(0)] = r.Text(1);
  std::set<std::string> keep_running;
  for (const store::Row& r : rows) {
    if (r.Text(2) != "SUCCEEDED") continue;
    std::string p = r.Text(1);
    while (!p.empty() && !keep_running.count(p)) {
      keep_running.insert(p);
      auto it = parent_of.find(p);
      p = it == parent_of.end() ? std::string() : it->second;
    }
  }
  std::vector<std::string> to_delete, to_reset;
  for (const store::Row& r : rows) {
    if (r.Text(2) == "SUCCEEDED") continue;
    (keep_running.count(r.Text(0)) ? to_reset : to_delete).push_back(r.Text(0));
  }
  RETURN_IF_ERROR(db_->Transact([&](store::Tx& tx) -> Status {
    for (const std::string& p : to_delete) {
      RETURN_IF_ERROR(tx.Exec("DELETE FROM pipeline_tasks WHERE run_id = $1 AND path = $2", {meta.run_id, p}));
    }
    for (const std::string& p : to_reset) {
      RETURN_IF_ERROR(tx.Exec("UPDATE pipeline_tasks SET state = 'RUNNING', error = '', finished_at = 0, "
                              "outputs = '{}', output_artifacts = '{}' WHERE run_id = $1 AND path = $2",
                              {meta.run_id, p}));
    }
    return tx.Exec("UPDATE pipeline_runs SET state = 'RUNNING', error = '', finished_at = 0, "
                   "revision = revision + 1 WHERE run_id = $1",
                   {meta.run_id})
        .status();
  }));
  // The re-created tasks count their attempts from 1 again, under the ids of
  // the earlier attempts: whatever the executor still keeps of those (a
  // Release lost with a crash) must not be taken for the new ones.
  for (const store::Row& r : rows) {
    if (r.Text(2) == "SUCCEEDED" || r.Text(3) != KindName(NodeKind::kContainer)) continue;
    for (std::int64_t a = 1; a <= r.Int(4); ++a) {
      executor_->Release(internal::ExecutionId(meta.run_id, r.Text(0), static_cast<int>(a)));
    }
  }
  ASSIGN_OR_RETURN(meta, LoadRunMeta(run_id));
  ASSIGN_OR_RETURN(auto run, LoadActiveRun(meta, text[0].Text(0)));
  Activate(run, false);
  changed_.notify_all();
  return Status::OK();
}

Status EngineImpl::DeleteRun(std::string_view run_id) {
  std::lock_guard admin(admin_mu_);
  {
    std::lock_guard l(mu_);
    if (runs_.count(std::string(run_id))) {
      return FailedPrecondition("pipeline run '" + std::string(run_id) + "' is still running; cancel it first");
    }
  }
  ASSIGN_OR_RETURN(RunMeta meta, LoadRunMeta(run_id));
  RETURN_IF_ERROR(db_->Transact([&](store::Tx& tx) -> Status {
    RETURN_IF_ERROR(tx.Exec("DELETE FROM pipeline_tasks WHERE run_id = $1", {meta.run_id}));
    return tx.Exec("DELETE FROM pipeline_runs WHERE run_id = $1", {meta.run_id}).status();
  }));
  std::error_code ec;
  fs::remove_all(options_.data_dir + "/pipelines/runs/" + meta.run_id, ec);
  return Status::OK();
}

Status EngineImpl::SetArchived(std::string_view run_id, bool archived) {
  ASSIGN_OR_RETURN(store::Rows r, db_->Query("UPDATE pipeline_runs SET archived = $2, revision = revision + 1 "
                                             "WHERE run_id = $1 RETURNING revision",
                                             {std::string(run_id), std::int64_t{archived ? 1 : 0}}));
  if (r.empty()) return NotFound("pipeline run '" + std::string(run_id) + "' not found");
  {
    std::lock_guard l(mu_);
    auto it = runs_.find(std::string(run_id));
    if (it != runs_.end() && it->second->revision < r[0].Int(0)) it->second->revision = r[0].Int(0);
  }
  changed_.notify_all();
  return Status::OK();
}

Result<RunStatus> EngineImpl::WaitForChange(std::string_view run_id, std::int64_t after_revision,
                                            std::chrono::milliseconds timeout) {
  ASSIGN_OR_RETURN(RunMeta meta, LoadRunMeta(run_id));
  if (meta.revision > after_revision) return ToRunStatus(meta);
  {
    std::unique_lock l(mu_);
    changed_.wait_for(l, timeout, [&] {
      if (stopping_) return true;
      auto it = runs_.find(std::string(run_id));
      return it == runs_.end() || it->second->revision > after_revision;
    });
  }
  ASSIGN_OR_RETURN(meta, LoadRunMeta(run_id));
  return ToRunStatus(meta);
}

Result<std::string> EngineImpl::TaskLogPath(std::string_view run_id, std::string_view task) {
  ASSIGN_OR_RETURN(store::Rows rows,
                   db_->Query("SELECT path, log_path FROM pipeline_tasks WHERE run_id = $1 AND "
                              "(path = $2 OR name = $2)",
                              {std::string(run_id), std::string(task)}));
  const store::Row* found = nullptr;
  int by_name = 0;
  for (const store::Row& r : rows) {
    if (r.Text(0) == task) {
      found = &r;
      by_name = 1;
      break;
    }
    ++by_name;
    found = &r;
  }
  if (found == nullptr) {
    RETURN_IF_ERROR(LoadRunMeta(run_id));
    return NotFound("task '" + std::string(task) + "' not found in pipeline run '" + std::string(run_id) + "'");
  }
  if (by_name > 1) {
    return InvalidArgument("task name '" + std::string(task) + "' is not unique in pipeline run '" +
                           std::string(run_id) + "'; give its path");
  }
  if (found->Text(1).empty()) {
    return NotFound("task '" + std::string(task) + "' has no log (a DAG task, or it never started)");
  }
  return found->Text(1);
}

void EngineImpl::Shutdown() {
  if (stopping_.exchange(true)) return;
  {
    std::lock_guard l(target_->mu);
    target_->engine = nullptr;
  }
  timer_.Stop();
  pool_.Stop();
  {
    std::lock_guard l(mu_);
    runs_.clear();
  }
  changed_.notify_all();
}

}  // namespace

Result<std::unique_ptr<PipelineEngine>> PipelineEngine::Open(store::Database* db, Env* env,
                                                             executors::Executor* executor,
                                                             EngineOptions options) {
  if (db == nullptr || env == nullptr || executor == nullptr) {
    return InvalidArgument("pipeline engine needs a database, an env and an executor");
  }
  if (options.data_dir.empty()) return InvalidArgument("pipeline engine: data_dir is empty", "data_dir");
  while (options.data_dir.size() > 1 && options.data_dir.back() == '/') options.data_dir.pop_back();
  if (options.pipeline_root.empty()) options.pipeline_root = options.data_dir + "/pipelines/artifacts";
  if (options.pipeline_root.rfind("file://", 0) == 0) options.pipeline_root = options.pipeline_root.substr(7);
  std::error_code ec;
  fs::create_directories(options.data_dir + "/pipelines/runs", ec);
  if (ec) return Internal("cannot create " + options.data_dir + "/pipelines/runs: " + ec.message());
  fs::create_directories(options.pipeline_root, ec);
  if (ec) return Internal("cannot create " + options.pipeline_root + ": " + ec.message());
  auto engine = std::make_unique<EngineImpl>(db, env, executor, std::move(options));
  RETURN_IF_ERROR(engine->Recover());
  return std::unique_ptr<PipelineEngine>(std::move(engine));
}

}  // namespace ferry::pipelines
