// StudyService over the Store: Optuna's ask/tell study (optuna/study/study.py
// ask/tell, optuna/study/_tell.py, optuna/trial/_trial.py report and
// should_prune) with RDBStorage's durability, in memory per study.
//
// Decisions the contract left open:
// - Telling follows optuna/study/_tell.py: COMPLETE needs a value (here a
//   finite one; Optuna also takes infinities), FAILED and PRUNED refuse one,
//   and a pruned trial records its last intermediate value when finite. The
//   arguments are checked before the trial's state, so a malformed request
//   is InvalidArgument whatever the trial's state.
// - Report follows Trial.report: steps are >= 0, the first value of a step
//   stays and a repeat is accepted (Optuna warns and ignores it); NaN is
//   allowed (pruners treat it as the worst value) and stored as NULL.
// - Fixed parameters (enqueue_trial) must be feasible (SearchSpace::Contains);
//   unlike Optuna, which warns and keeps an out-of-range value, they are
//   refused. They are stored as given, not snapped, so a log-scaled value
//   does not pick up rounding from a log/exp round trip. The sampler still
//   suggests the trial (so its attrs and any bookkeeping stay consistent)
//   unless every parameter is fixed.
// - A suggestion is checked (one feasible value per parameter) before it is
//   stored: a sampler bug is Internal, never an infeasible trial.
// - The best trial is the lowest loss, ties to the lowest number, so it does
//   not depend on the order in which equal trials completed.
// - The default seed is the first 64 bits of SHA-256(name): stable across
//   processes and releases, unlike std::hash.
// - Study ids are random positive 63-bit numbers from the Env (redrawn on a
//   collision) rather than MAX+1, which two concurrent creates on
//   PostgreSQL would both take.
// - Caching: a study is loaded on first use and then kept. A write is
//   applied in memory, queued, and acknowledged once committed; writes that
//   queue up while a commit is in flight go together in the next one (group
//   commit, one transaction), so parallel workers on one study share a disk
//   flush instead of waiting for one each. The sampler may therefore see
//   trials whose Ask is still committing; that is what it would see an
//   instant later anyway, and reads (Trials, GetStudy, ShouldPrune, ...)
//   wait for the queue, so they return only durable state. A failed commit
//   fails its writes and those queued behind it (they built on it) and drops
//   the cached study, which the next call reloads from the store.
// - The observer (StudyServiceOptions::observer) hears of a change once it
//   is durable and after the study's lock is released, so a slow observer
//   (TrialRuns writes MLflow runs) delays only its own caller, never the
//   other workers of the study.
// - ListStudies reads studies already in memory from memory and the others
//   from the store (counts by state, the best trial by ORDER BY), so listing
//   does not pull every study's history into memory.
//
// Per-Ask cost, excluding the sampler: O(d) to check the suggestion and
// encode it as JSON (d parameters, plus the attrs), one INSERT (in a
// transaction shared with whatever else is queued), and an amortised O(1)
// append to the cached history; the sampler gets a span over
// that history, never a copy. Tell and Report are one UPDATE or INSERT and
// O(1) (O(log steps) for Report) in memory. A study's first use reads its
// history once: O(n) rows.
#include "ferry/tuning/study_service.h"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <span>
#include <utility>

#include "ferry/common/hash.h"
#include "ferry/common/json.h"
#include "ferry/common/strings.h"

namespace ferry::tuning {
namespace {

using store::Row;
using store::Rows;
using store::Value;

constexpr std::size_t kMaxMetricNameLength = 256;
constexpr int kMaxPageSize = 1000;
constexpr int kStudyIdDraws = 8;

constexpr std::string_view kStudyColumns =
    "name, study_id, direction, space, sampler, sampler_settings, pruner, pruner_settings, seed, "
    "metric_names, created_micros";

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

std::string_view StateName(TrialState s) {
  switch (s) {
    case TrialState::kRunning:
      return "RUNNING";
    case TrialState::kComplete:
      return "COMPLETE";
    case TrialState::kPruned:
      return "PRUNED";
    case TrialState::kFailed:
      return "FAIL";
  }
  return "RUNNING";
}

Result<TrialState> ParseState(std::string_view name) {
  for (TrialState s :
       {TrialState::kRunning, TrialState::kComplete, TrialState::kPruned, TrialState::kFailed}) {
    if (StateName(s) == name) return s;
  }
  return Internal("stored trial state '" + SanitizeForMessage(name) + "' is unknown");
}

std::string_view DirectionName(Direction d) { return d == Direction::kMaximize ? "maximize" : "minimize"; }

std::string Quote(std::string_view name) { return QuoteForMessage(name); }

Status ValidateName(std::string_view name, const std::string& field) {
  if (name.empty() || name.size() > kMaxStudyNameLength) {
    return InvalidArgument("study name must be 1-" + std::to_string(kMaxStudyNameLength) + " bytes, not " +
                               std::to_string(name.size()),
                           field);
  }
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(name.front())) {
    return InvalidArgument("study name " + Quote(name) + " must start with a letter or digit", field);
  }
  for (char c : name) {
    if (!alnum(c) && c != '-' && c != '_' && c != '.') {
      return InvalidArgument("study name " + Quote(name) + " may hold only letters, digits, '-', '_' and '.'",
                             field);
    }
  }
  return Status::OK();
}

Status ValidateText(std::string_view text, const std::string& what, const std::string& field) {
  if (!IsStorableText(text)) {
    return InvalidArgument(what + " " + Quote(text) + " is not valid UTF-8 text", field);
  }
  return Status::OK();
}

Status ValidateSettings(const std::map<std::string, std::string>& settings, const std::string& prefix) {
  for (const auto& [name, value] : settings) {
    RETURN_IF_ERROR(ValidateText(name, "setting name", prefix));
    RETURN_IF_ERROR(ValidateText(value, "setting " + name, prefix + "[" + name + "]"));
  }
  return Status::OK();
}

Status ValidateConfig(const StudyConfig& c) {
  RETURN_IF_ERROR(ValidateName(c.name, "name"));
  for (std::size_t i = 0; i < c.space.params.size(); ++i) {
    const ParamSpec& p = c.space.params[i];
    const std::string at = "spec.parameters[" + std::to_string(i) + "]";
    RETURN_IF_ERROR(ValidateText(p.name, "parameter name", at + ".name"));
    for (std::size_t k = 0; k < p.choices.size(); ++k) {
      RETURN_IF_ERROR(
          ValidateText(p.choices[k], "choice", at + ".feasibleSpace.list[" + std::to_string(k) + "]"));
    }
  }
  RETURN_IF_ERROR(c.space.Validate());
  RETURN_IF_ERROR(ValidateSettings(c.sampler_settings, "spec.algorithm.algorithmSettings"));
  RETURN_IF_ERROR(ValidateSettings(c.pruner_settings, "spec.earlyStopping.algorithmSettings"));
  std::set<std::string_view> metrics;
  for (std::size_t i = 0; i < c.metric_names.size(); ++i) {
    const std::string& m = c.metric_names[i];
    const std::string field = "metric_names[" + std::to_string(i) + "]";
    if (m.empty() || m.size() > kMaxMetricNameLength) {
      return InvalidArgument("metric names must be 1-" + std::to_string(kMaxMetricNameLength) + " bytes",
                             field);
    }
    RETURN_IF_ERROR(ValidateText(m, "metric name", field));
    for (std::size_t k = 0; k < m.size();) {
      char32_t cp = 0;
      const std::size_t n = DecodeUtf8(m, k, &cp);
      if (IsControlCodePoint(cp))
        return InvalidArgument("metric name " + Quote(m) + " has a control character", field);
      k += n;
    }
    if (!metrics.insert(m).second)
      return InvalidArgument("metric name " + Quote(m) + " appears twice", field);
  }
  return Status::OK();
}

std::uint64_t SeedFromName(std::string_view name) {
  const std::string hex = Sha256Hex(name);
  std::uint64_t seed = 0;
  for (std::size_t i = 0; i < 16; ++i) seed = (seed << 4) | static_cast<std::uint64_t>(HexDigit(hex[i]));
  return seed;
}

// --- JSON of what the study and trial rows hold -------------------------

Json SpaceToJson(const SearchSpace& space) {
  Json out = Json::array();
  for (const ParamSpec& p : space.params) {
    out.push_back({{"name", p.name},
                   {"type", ParamTypeName(p.type)},
                   {"distribution", DistributionName(p.distribution)},
                   {"min", p.min},
                   {"max", p.max},
                   {"step", p.step},
                   {"values", p.values},
                   {"choices", p.choices}});
  }
  return out;
}

// Stored rows are ours, so a malformed one is Internal; nlohmann's typed
// reads throw on a wrong type, which stays inside this function.
Result<SearchSpace> SpaceFromJson(std::string_view text) {
  ASSIGN_OR_RETURN(Json j, ParseJson(text));
  SearchSpace space;
  try {
    for (const Json& e : j) {
      ParamSpec p;
      p.name = e.at("name").get<std::string>();
      const std::string type = e.at("type").get<std::string>();
      const std::string dist = e.at("distribution").get<std::string>();
      bool type_ok = false, dist_ok = false;
      for (ParamType t :
           {ParamType::kDouble, ParamType::kInt, ParamType::kDiscrete, ParamType::kCategorical}) {
        if (ParamTypeName(t) == type) p.type = t, type_ok = true;
      }
      for (Distribution d : {Distribution::kUniform, Distribution::kLogUniform, Distribution::kNormal,
                             Distribution::kLogNormal}) {
        if (DistributionName(d) == dist) p.distribution = d, dist_ok = true;
      }
      if (!type_ok || !dist_ok) return Internal("stored search space has an unknown type or distribution");
      p.min = e.at("min").get<double>();
      p.max = e.at("max").get<double>();
      p.step = e.at("step").get<double>();
      p.values = e.at("values").get<std::vector<double>>();
      p.choices = e.at("choices").get<std::vector<std::string>>();
      space.params.push_back(std::move(p));
    }
  } catch (const Json::exception& e) {
    return Internal(std::string("stored search space is malformed: ") + e.what());
  }
  return space;
}

Result<std::map<std::string, std::string>> StringMapFromJson(std::string_view text, std::string_view what) {
  ASSIGN_OR_RETURN(Json j, ParseJson(text));
  if (!j.is_object()) return Internal("stored " + std::string(what) + " is not a JSON object");
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : j.items()) {
    if (!v.is_string()) return Internal("stored " + std::string(what) + " has a non-string value");
    out.emplace(k, v.get<std::string>());
  }
  return out;
}

Json StringMapToJson(const std::map<std::string, std::string>& m) {
  Json out = Json::object();
  for (const auto& [k, v] : m) out[k] = v;
  return out;
}

Result<std::vector<std::string>> StringListFromJson(std::string_view text) {
  ASSIGN_OR_RETURN(Json j, ParseJson(text));
  std::vector<std::string> out;
  if (!j.is_array()) return Internal("stored metric names are not a JSON array");
  for (const Json& e : j) {
    if (!e.is_string()) return Internal("stored metric names hold a non-string");
    out.push_back(e.get<std::string>());
  }
  return out;
}

std::string ParamsToJson(const SearchSpace& space, const std::vector<double>& params) {
  Json out = Json::object();
  for (std::size_t i = 0; i < params.size(); ++i) out[space.params[i].name] = params[i];
  return Dump(out);
}

Result<std::vector<double>> ParamsFromJson(const SearchSpace& space, std::string_view text) {
  ASSIGN_OR_RETURN(Json j, ParseJson(text));
  std::vector<double> out;
  out.reserve(space.params.size());
  for (const ParamSpec& p : space.params) {
    auto it = j.is_object() ? j.find(p.name) : j.end();
    if (it == j.end() || !it->is_number()) return Internal("stored trial lacks parameter " + Quote(p.name));
    out.push_back(it->get<double>());
  }
  return out;
}

// --- Rows ----------------------------------------------------------------

struct StudyRow {
  StudyConfig config;
  std::int64_t study_id = 0;
  std::int64_t created_micros = 0;
};

// Reads a row of kStudyColumns.
Result<StudyRow> StudyFromRow(const Row& r) {
  StudyRow out;
  out.config.name = r.Text(0);
  out.study_id = r.Int(1);
  out.config.direction = r.Text(2) == "maximize" ? Direction::kMaximize : Direction::kMinimize;
  ASSIGN_OR_RETURN(out.config.space, SpaceFromJson(r.Text(3)));
  out.config.sampler = r.Text(4);
  ASSIGN_OR_RETURN(out.config.sampler_settings, StringMapFromJson(r.Text(5), "sampler settings"));
  out.config.pruner = r.Text(6);
  ASSIGN_OR_RETURN(out.config.pruner_settings, StringMapFromJson(r.Text(7), "pruner settings"));
  out.config.seed = static_cast<std::uint64_t>(r.Int(8));
  ASSIGN_OR_RETURN(out.config.metric_names, StringListFromJson(r.Text(9)));
  out.created_micros = r.Int(10);
  return out;
}

constexpr std::string_view kTrialColumns = "number, state, params, value, attrs";

Result<Trial> TrialFromRow(const SearchSpace& space, const Row& r) {
  Trial t;
  t.number = r.Int(0);
  ASSIGN_OR_RETURN(t.state, ParseState(r.Text(1)));
  ASSIGN_OR_RETURN(t.params, ParamsFromJson(space, r.Text(2)));
  t.value = r.OptDouble(3);
  ASSIGN_OR_RETURN(t.attrs, StringMapFromJson(r.Text(4), "trial attrs"));
  return t;
}

double IntermediateFromColumn(const Row& r, std::size_t i) {
  return r.IsNull(i) ? std::numeric_limits<double>::quiet_NaN() : r.Double(i);
}

Value IntermediateToColumn(double v) { return std::isnan(v) ? Value(nullptr) : Value(v); }

Value OptionalDouble(const std::optional<double>& v) { return v ? Value(*v) : Value(nullptr); }

// Loss as StudyView::Loss defines it (smaller is better).
std::optional<double> LossOf(Direction direction, const Trial& t) {
  if (t.state != TrialState::kComplete || !t.value || !std::isfinite(*t.value)) return std::nullopt;
  return direction == Direction::kMinimize ? *t.value : -*t.value;
}

void Count(TrialCounts& c, TrialState s, std::int64_t delta) {
  switch (s) {
    case TrialState::kRunning:
      c.running += delta;
      break;
    case TrialState::kComplete:
      c.complete += delta;
      break;
    case TrialState::kPruned:
      c.pruned += delta;
      break;
    case TrialState::kFailed:
      c.failed += delta;
      break;
  }
}

// The first difference between an existing study's config and a requested
// one, as (field, words), or nothing when they are the same.
std::optional<std::pair<std::string, std::string>> Difference(const StudyConfig& have,
                                                              const StudyConfig& want) {
  if (have.direction != want.direction) {
    return std::pair{std::string("direction"), "direction is " + std::string(DirectionName(have.direction)) +
                                                   ", not " + std::string(DirectionName(want.direction))};
  }
  const auto& hp = have.space.params;
  const auto& wp = want.space.params;
  if (hp.size() != wp.size()) {
    return std::pair{std::string("spec.parameters"),
                     "it has " + std::to_string(hp.size()) + " parameters, not " + std::to_string(wp.size())};
  }
  for (std::size_t i = 0; i < hp.size(); ++i) {
    const ParamSpec& a = hp[i];
    const ParamSpec& b = wp[i];
    if (a.name != b.name || a.type != b.type || a.distribution != b.distribution || a.min != b.min ||
        a.max != b.max || a.step != b.step || a.values != b.values || a.choices != b.choices) {
      return std::pair{"spec.parameters[" + std::to_string(i) + "]",
                       "parameter " + std::to_string(i) + " (" + Quote(a.name) + ") differs"};
    }
  }
  if (have.sampler != want.sampler) {
    return std::pair{std::string("spec.algorithm.algorithmName"),
                     "sampler is " + have.sampler + ", not " + want.sampler};
  }
  if (have.sampler_settings != want.sampler_settings) {
    return std::pair{std::string("spec.algorithm.algorithmSettings"), std::string("sampler settings differ")};
  }
  if (have.pruner != want.pruner) {
    return std::pair{std::string("spec.earlyStopping.algorithmName"),
                     "pruner is " + have.pruner + ", not " + want.pruner};
  }
  if (have.pruner_settings != want.pruner_settings) {
    return std::pair{std::string("spec.earlyStopping.algorithmSettings"),
                     std::string("pruner settings differ")};
  }
  if (have.seed != want.seed) {
    return std::pair{std::string("seed"), "seed is " + std::to_string(have.seed.value_or(0)) + ", not " +
                                              std::to_string(want.seed.value_or(0))};
  }
  if (have.metric_names != want.metric_names) {
    return std::pair{std::string("metric_names"), std::string("metric names differ")};
  }
  return std::nullopt;
}

// --- The service ---------------------------------------------------------

enum class Phase { kUnloaded, kLoaded, kGone };

// The fate of one queued write, set by whoever commits it.
struct WriteOutcome {
  bool done = false;
  Status status;
};

// A write already applied to the study in memory, waiting for its commit.
struct PendingWrite {
  std::string sql;
  std::vector<Value> params;
  bool must_change_row = false;  // an UPDATE that must find its row
  std::shared_ptr<WriteOutcome> outcome;
};

// One study in memory. `mu` serialises every call on the study; the rest is
// guarded by it.
//
// Writes are group-committed: a call applies its change in memory, queues
// the statement and waits; the first waiter to find no commit in flight
// commits everything queued in one transaction. So the trials a sampler
// sees may include ones still being committed (they were asked; the caller
// just has not heard yet), while every answer waits for its own commit.
// Commits run one at a time per study and in order, so the store always
// holds a prefix of the writes; when one fails, it and everything queued
// behind it (which built on it) fail, and the study is reloaded.
struct StudyState {
  explicit StudyState(std::string n) : name(std::move(n)) {}

  std::mutex mu;
  std::condition_variable committed;  // a commit finished
  const std::string name;
  // kGone: deleted or never there; whoever finds it so looks the name up
  // again (the map then holds a new entry, or none).
  Phase phase = Phase::kUnloaded;
  std::int64_t study_id = 0;
  StudyConfig config;
  std::int64_t created_micros = 0;
  std::vector<Trial> trials;  // by number
  TrialCounts counts;
  std::optional<std::int64_t> best;  // number of the best complete trial
  std::unique_ptr<Sampler> sampler;
  std::unique_ptr<Pruner> pruner;
  std::vector<PendingWrite> queue;  // in order
  bool committing = false;
  std::shared_ptr<WriteOutcome> last_write;  // the newest write queued

  StudyView View() const { return StudyView{config.space, config.direction, std::span<const Trial>(trials)}; }

  void ConsiderBest(const Trial& t) {
    const std::optional<double> loss = LossOf(config.direction, t);
    if (!loss) return;
    if (best) {
      const double current = *LossOf(config.direction, trials[static_cast<std::size_t>(*best)]);
      if (current < *loss || (current == *loss && *best < t.number)) return;
    }
    best = t.number;
  }

  StudyInfo Info() const {
    StudyInfo info;
    info.config = config;
    info.study_id = study_id;
    info.created_micros = created_micros;
    info.counts = counts;
    if (best) info.best_trial = trials[static_cast<std::size_t>(*best)];
    return info;
  }

  Result<const Trial*> Find(std::int64_t number) const {
    if (number < 0 || number >= static_cast<std::int64_t>(trials.size())) {
      return NotFound("study " + Quote(name) + " has no trial " + std::to_string(number));
    }
    return &trials[static_cast<std::size_t>(number)];
  }

  bool Settled() const { return !last_write || last_write->done; }

  std::shared_ptr<WriteOutcome> Enqueue(std::string sql, std::vector<Value> params,
                                        bool must_change_row = false) {
    auto outcome = std::make_shared<WriteOutcome>();
    queue.push_back(PendingWrite{std::move(sql), std::move(params), must_change_row, outcome});
    last_write = outcome;
    return outcome;
  }
};

struct LockedStudy {
  std::shared_ptr<StudyState> state;
  std::unique_lock<std::mutex> lock;
  StudyState* operator->() const { return state.get(); }
};

class StudyServiceImpl final : public StudyService {
 public:
  StudyServiceImpl(store::Database* db, Env* env, StudyServiceOptions options)
      : db_(db), env_(env), options_(std::move(options)) {}

  Result<StudyInfo> CreateStudy(const StudyConfig& config, bool load_if_exists) override;
  Result<StudyInfo> GetStudy(std::string_view name) override;
  Result<StudyPage> ListStudies(int page_size, std::string_view page_token) override;
  Status DeleteStudy(std::string_view name) override;
  Result<Trial> Ask(std::string_view study, const FixedParams& fixed) override;
  Result<Trial> Tell(std::string_view study, std::int64_t number, TrialState state,
                     std::optional<double> value) override;
  Status Report(std::string_view study, std::int64_t number, std::int64_t step, double value) override;
  Result<bool> ShouldPrune(std::string_view study, std::int64_t number) override;
  Result<std::vector<Trial>> Trials(std::string_view study) override;
  Result<Trial> GetTrial(std::string_view study, std::int64_t number) override;
  Result<Trial> BestTrial(std::string_view study) override;

 private:
  // The entry for `name`, locked, in whatever phase but kGone (created
  // unloaded when missing).
  LockedStudy LockEntry(std::string_view name);
  // The loaded study, locked; NotFound when there is none. `settle` waits
  // for the study's queued writes first, so what a read returns is durable.
  Result<LockedStudy> Acquire(std::string_view name, bool settle);
  // Loads the study when unloaded and, with `settle`, waits until no write
  // is queued or in flight (reloading after a failed commit).
  Status Ready(LockedStudy& s, bool settle);
  // Reads the study and its trials into `s` (kUnloaded -> kLoaded);
  // NotFound leaves it unloaded.
  Status Load(StudyState& s);
  // Returns once the queued write `w` is committed (OK) or lost (its
  // error): waits for the commit in flight, or commits the queue itself.
  Status Commit(LockedStudy& s, std::shared_ptr<WriteOutcome> w);
  // Marks the locked entry gone and drops it from the map.
  void Forget(LockedStudy& s);
  Result<StudyInfo> InfoFromStore(const Row& study_row);
  Result<std::map<std::int64_t, double>> LoadIntermediate(std::int64_t study_id, std::int64_t number);
  // Releases the study's lock and calls `tell(observer, config)` when an
  // observer is set; the config is copied first, as the lock no longer
  // guards it.
  template <typename F>
  void Notify(LockedStudy& s, F&& tell) {
    StudyObserver* observer = options_.observer;
    if (observer == nullptr) return;
    const StudyConfig config = s->config;
    s.lock.unlock();
    tell(*observer, config);
  }

  store::Database* const db_;
  Env* const env_;
  const StudyServiceOptions options_;
  std::mutex mu_;  // guards studies_
  std::map<std::string, std::shared_ptr<StudyState>, std::less<>> studies_;
};

LockedStudy StudyServiceImpl::LockEntry(std::string_view name) {
  for (;;) {
    std::shared_ptr<StudyState> s;
    {
      std::lock_guard l(mu_);
      auto it = studies_.find(name);
      if (it == studies_.end()) {
        it = studies_.emplace(std::string(name), std::make_shared<StudyState>(std::string(name))).first;
      }
      s = it->second;
    }
    std::unique_lock lock(s->mu);
    if (s->phase != Phase::kGone) return LockedStudy{std::move(s), std::move(lock)};
  }
}

void StudyServiceImpl::Forget(LockedStudy& s) {
  s->phase = Phase::kGone;
  std::lock_guard l(mu_);
  auto it = studies_.find(s->name);
  if (it != studies_.end() && it->second == s.state) studies_.erase(it);
}

Status StudyServiceImpl::Ready(LockedStudy& s, bool settle) {
  for (;;) {
    if (s->phase == Phase::kGone) return NotFound("study " + Quote(s->name) + " not found");
    if (s->phase == Phase::kUnloaded) {
      const Status st = Load(*s.state);
      if (!st.ok()) {
        if (st.code() == StatusCode::kNotFound) Forget(s);
        return st;
      }
    }
    if (!settle || s->Settled()) return Status::OK();
    // A failed commit unloads the study; the loop then reloads it.
    (void)Commit(s, s->last_write);
  }
}

Result<LockedStudy> StudyServiceImpl::Acquire(std::string_view name, bool settle) {
  RETURN_IF_ERROR(ValidateName(name, "name"));
  LockedStudy s = LockEntry(name);
  RETURN_IF_ERROR(Ready(s, settle));
  return s;
}

Status StudyServiceImpl::Commit(LockedStudy& s, std::shared_ptr<WriteOutcome> w) {
  StudyState& st = *s.state;
  while (!w->done) {
    if (st.committing) {
      st.committed.wait(s.lock);
      continue;
    }
    // Not done and nothing in flight: `w` is queued, so the batch holds it.
    std::vector<PendingWrite> batch = std::move(st.queue);
    st.queue.clear();
    st.committing = true;
    s.lock.unlock();
    const Status result = db_->Transact([&](store::Tx& tx) -> Status {
      for (const PendingWrite& p : batch) {
        ASSIGN_OR_RETURN(std::int64_t changed, tx.Exec(p.sql, p.params));
        if (p.must_change_row && changed != 1) {
          return FailedPrecondition("study " + Quote(st.name) +
                                    " was changed in the store by someone else (another Ferry server on the "
                                    "same database?)");
        }
      }
      return Status::OK();
    });
    s.lock.lock();
    st.committing = false;
    for (PendingWrite& p : batch) *p.outcome = WriteOutcome{true, result};
    if (!result.ok()) {
      for (PendingWrite& p : st.queue) *p.outcome = WriteOutcome{true, result};
      st.queue.clear();
      st.phase = Phase::kUnloaded;
    }
    st.committed.notify_all();
  }
  return w->status;
}

Status StudyServiceImpl::Load(StudyState& s) {
  ASSIGN_OR_RETURN(
      Rows rows,
      db_->Query("SELECT " + std::string(kStudyColumns) + " FROM tuning_studies WHERE name = $1", {s.name}));
  if (rows.empty()) return NotFound("study " + Quote(s.name) + " not found");
  ASSIGN_OR_RETURN(StudyRow row, StudyFromRow(rows[0]));
  const StudyConfig& c = row.config;
  ASSIGN_OR_RETURN(auto sampler, options_.make_sampler(c.sampler, c.sampler_settings, c.space, *c.seed));
  ASSIGN_OR_RETURN(auto pruner, options_.make_pruner(c.pruner, c.pruner_settings));

  ASSIGN_OR_RETURN(Rows trial_rows, db_->Query("SELECT " + std::string(kTrialColumns) +
                                                   " FROM tuning_trials WHERE study_id = $1 ORDER BY number",
                                               {row.study_id}));
  std::vector<Trial> trials;
  trials.reserve(trial_rows.size());
  for (const Row& r : trial_rows) {
    ASSIGN_OR_RETURN(Trial t, TrialFromRow(c.space, r));
    if (t.number != static_cast<std::int64_t>(trials.size())) {
      return Internal("study " + Quote(s.name) + " lacks trial " + std::to_string(trials.size()) +
                      " in the store");
    }
    trials.push_back(std::move(t));
  }
  ASSIGN_OR_RETURN(Rows value_rows, db_->Query("SELECT number, step, value FROM tuning_trial_values "
                                               "WHERE study_id = $1 ORDER BY number, step",
                                               {row.study_id}));
  for (const Row& r : value_rows) {
    const std::int64_t number = r.Int(0);
    if (number < 0 || number >= static_cast<std::int64_t>(trials.size())) {
      return Internal("study " + Quote(s.name) + " has a value of the unknown trial " +
                      std::to_string(number));
    }
    auto& intermediate = trials[static_cast<std::size_t>(number)].intermediate;
    intermediate.emplace_hint(intermediate.end(), r.Int(1), IntermediateFromColumn(r, 2));
  }

  s.study_id = row.study_id;
  s.config = std::move(row.config);
  s.created_micros = row.created_micros;
  s.trials = std::move(trials);
  s.sampler = std::move(sampler);
  s.pruner = std::move(pruner);
  s.counts = {};
  s.best.reset();
  for (const Trial& t : s.trials) {
    Count(s.counts, t.state, 1);
    s.ConsiderBest(t);
  }
  s.phase = Phase::kLoaded;
  return Status::OK();
}

Result<StudyInfo> StudyServiceImpl::CreateStudy(const StudyConfig& config, bool load_if_exists) {
  RETURN_IF_ERROR(ValidateConfig(config));
  StudyConfig c = config;
  if (!c.seed) c.seed = SeedFromName(c.name);
  // Bad settings and spaces the algorithms cannot search are refused before
  // anything is stored.
  ASSIGN_OR_RETURN(auto sampler, options_.make_sampler(c.sampler, c.sampler_settings, c.space, *c.seed));
  ASSIGN_OR_RETURN(auto pruner, options_.make_pruner(c.pruner, c.pruner_settings));

  LockedStudy s = LockEntry(c.name);
  if (s->phase == Phase::kUnloaded) {
    const Status st = Load(*s.state);
    if (!st.ok() && st.code() != StatusCode::kNotFound) return st;
  }
  if (s->phase == Phase::kLoaded) {
    if (!load_if_exists) return AlreadyExists("study " + Quote(c.name) + " already exists");
    RETURN_IF_ERROR(Ready(s, /*settle=*/true));
    if (auto diff = Difference(s->config, c)) {
      return Status(
          StatusCode::kAlreadyExists,
          "study " + Quote(c.name) + " already exists with a different configuration: " + diff->second,
          diff->first);
    }
    return s->Info();
  }

  const std::int64_t now = env_->NowMicros();
  const std::string space = Dump(SpaceToJson(c.space));
  const std::string sampler_settings = Dump(StringMapToJson(c.sampler_settings));
  const std::string pruner_settings = Dump(StringMapToJson(c.pruner_settings));
  const std::string metric_names = Dump(Json(c.metric_names));
  std::int64_t study_id = 0;
  for (int draw = 0; draw < kStudyIdDraws && study_id == 0; ++draw) {
    const auto id = static_cast<std::int64_t>(env_->Random64() >> 1);
    if (id == 0) continue;
    // DO NOTHING rather than an error, to tell the two conflicts apart: a
    // taken name is final, a taken id is worth another draw.
    auto inserted =
        db_->Exec("INSERT INTO tuning_studies (" + std::string(kStudyColumns) +
                      ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING",
                  {c.name, id, std::string(DirectionName(c.direction)), space, c.sampler, sampler_settings,
                   c.pruner, pruner_settings, static_cast<std::int64_t>(*c.seed), metric_names, now});
    if (!inserted.ok()) {
      Forget(s);
      return inserted.status();
    }
    if (*inserted == 1) {
      study_id = id;
      break;
    }
    auto exists = db_->Query("SELECT 1 FROM tuning_studies WHERE name = $1", {c.name});
    if (!exists.ok() || !exists->empty()) {
      // Another process created it meanwhile.
      Forget(s);
      return exists.ok() ? AlreadyExists("study " + Quote(c.name) + " already exists") : exists.status();
    }
  }
  if (study_id == 0) {
    Forget(s);
    return Internal("no free study id after " + std::to_string(kStudyIdDraws) + " draws");
  }
  s->study_id = study_id;
  s->config = std::move(c);
  s->created_micros = now;
  s->trials.clear();
  s->counts = {};
  s->best.reset();
  s->sampler = std::move(sampler);
  s->pruner = std::move(pruner);
  s->phase = Phase::kLoaded;
  return s->Info();
}

Result<StudyInfo> StudyServiceImpl::GetStudy(std::string_view name) {
  ASSIGN_OR_RETURN(LockedStudy s, Acquire(name, /*settle=*/true));
  return s->Info();
}

Result<std::map<std::int64_t, double>> StudyServiceImpl::LoadIntermediate(std::int64_t study_id,
                                                                          std::int64_t number) {
  ASSIGN_OR_RETURN(Rows rows, db_->Query("SELECT step, value FROM tuning_trial_values "
                                         "WHERE study_id = $1 AND number = $2 ORDER BY step",
                                         {study_id, number}));
  std::map<std::int64_t, double> out;
  for (const Row& r : rows) out.emplace_hint(out.end(), r.Int(0), IntermediateFromColumn(r, 1));
  return out;
}

Result<StudyInfo> StudyServiceImpl::InfoFromStore(const Row& study_row) {
  ASSIGN_OR_RETURN(StudyRow row, StudyFromRow(study_row));
  StudyInfo info;
  info.study_id = row.study_id;
  info.created_micros = row.created_micros;
  ASSIGN_OR_RETURN(Rows counts, db_->Query("SELECT state, COUNT(*) FROM tuning_trials WHERE study_id = $1 "
                                           "GROUP BY state",
                                           {row.study_id}));
  for (const Row& r : counts) {
    ASSIGN_OR_RETURN(TrialState state, ParseState(r.Text(0)));
    Count(info.counts, state, r.Int(1));
  }
  const bool maximize = row.config.direction == Direction::kMaximize;
  ASSIGN_OR_RETURN(Rows best, db_->Query("SELECT " + std::string(kTrialColumns) +
                                             " FROM tuning_trials WHERE study_id = $1 AND state = 'COMPLETE' "
                                             "ORDER BY value " +
                                             (maximize ? "DESC" : "ASC") + ", number ASC LIMIT 1",
                                         {row.study_id}));
  if (!best.empty()) {
    ASSIGN_OR_RETURN(Trial t, TrialFromRow(row.config.space, best[0]));
    ASSIGN_OR_RETURN(t.intermediate, LoadIntermediate(row.study_id, t.number));
    info.best_trial = std::move(t);
  }
  info.config = std::move(row.config);
  return info;
}

Result<StudyPage> StudyServiceImpl::ListStudies(int page_size, std::string_view page_token) {
  if (page_size < 1 || page_size > kMaxPageSize) {
    return InvalidArgument("page_size must be between 1 and " + std::to_string(kMaxPageSize), "page_size");
  }
  if (!page_token.empty() && !ValidateName(page_token, "page_token").ok()) {
    return InvalidArgument("page_token is not one this service gave out", "page_token");
  }
  ASSIGN_OR_RETURN(Rows rows, db_->Query("SELECT " + std::string(kStudyColumns) +
                                             " FROM tuning_studies WHERE name > $1 ORDER BY name LIMIT $2",
                                         {std::string(page_token), std::int64_t{page_size} + 1}));
  StudyPage page;
  const std::size_t n = std::min(rows.size(), static_cast<std::size_t>(page_size));
  for (std::size_t i = 0; i < n; ++i) {
    const std::string& name = rows[i].Text(0);
    std::shared_ptr<StudyState> cached;
    {
      std::lock_guard l(mu_);
      auto it = studies_.find(name);
      if (it != studies_.end()) cached = it->second;
    }
    if (cached) {
      std::unique_lock lock(cached->mu);
      // The row read above is older than this entry, so a study deleted
      // meanwhile is left out rather than listed from a stale row.
      if (cached->phase == Phase::kGone) continue;
      // With writes in flight, the store has what is durable.
      if (cached->phase == Phase::kLoaded && cached->Settled()) {
        page.studies.push_back(cached->Info());
        continue;
      }
    }
    ASSIGN_OR_RETURN(StudyInfo info, InfoFromStore(rows[i]));
    page.studies.push_back(std::move(info));
  }
  if (rows.size() > n) page.next_page_token = rows[n - 1].Text(0);
  return page;
}

Status StudyServiceImpl::DeleteStudy(std::string_view name) {
  RETURN_IF_ERROR(ValidateName(name, "name"));
  // The entry's lock keeps every other call on the study out while it goes;
  // the study need not be loaded for that, but its queued writes must land
  // first, or they would land after the delete.
  LockedStudy s = LockEntry(name);
  while (!s->Settled()) (void)Commit(s, s->last_write);
  if (s->phase == Phase::kGone) return NotFound("study " + Quote(name) + " not found");
  bool found = false;
  const Status st = db_->Transact([&](store::Tx& tx) -> Status {
    found = false;
    ASSIGN_OR_RETURN(Rows rows,
                     tx.Query("SELECT study_id FROM tuning_studies WHERE name = $1", {std::string(name)}));
    if (rows.empty()) return Status::OK();
    found = true;
    const std::int64_t id = rows[0].Int(0);
    RETURN_IF_ERROR(tx.Exec("DELETE FROM tuning_trial_values WHERE study_id = $1", {id}));
    RETURN_IF_ERROR(tx.Exec("DELETE FROM tuning_trials WHERE study_id = $1", {id}));
    return tx.Exec("DELETE FROM tuning_studies WHERE study_id = $1", {id}).status();
  });
  if (!st.ok()) {
    s->phase = Phase::kUnloaded;  // whether it went is unknown; the next call looks
    return st;
  }
  Forget(s);
  if (!found) return NotFound("study " + Quote(name) + " not found");
  if (options_.observer != nullptr) {
    s.lock.unlock();
    options_.observer->StudyDeleted(name);
  }
  return Status::OK();
}

Result<Trial> StudyServiceImpl::Ask(std::string_view study, const FixedParams& fixed) {
  ASSIGN_OR_RETURN(LockedStudy s, Acquire(study, /*settle=*/false));
  const SearchSpace& space = s->config.space;
  const std::size_t d = space.params.size();
  // Fixed values by parameter index.
  std::vector<std::optional<double>> pinned(d);
  for (const auto& [name, value] : fixed) {
    std::size_t i = 0;
    while (i < d && space.params[i].name != name) ++i;
    const std::string field = "params." + SanitizeForMessage(name, 200);
    if (i == d) return InvalidArgument("study " + Quote(s->name) + " has no parameter " + Quote(name), field);
    if (!space.Contains(i, value)) {
      return InvalidArgument(
          "value " + std::to_string(value) + " is outside the feasible space of parameter " + Quote(name),
          field);
    }
    pinned[i] = value;
  }

  Trial t;
  t.number = static_cast<std::int64_t>(s->trials.size());
  t.state = TrialState::kRunning;
  if (fixed.size() == d) {
    t.params.resize(d);
  } else {
    ASSIGN_OR_RETURN(Suggestion suggestion, s->sampler->Ask(s->View()));
    if (suggestion.params.size() != d) {
      return Internal("sampler " + s->config.sampler + " suggested " +
                      std::to_string(suggestion.params.size()) + " values for " + std::to_string(d) +
                      " parameters");
    }
    for (std::size_t i = 0; i < d; ++i) {
      if (!pinned[i] && !space.Contains(i, suggestion.params[i])) {
        return Internal("sampler " + s->config.sampler + " suggested the infeasible value " +
                        std::to_string(suggestion.params[i]) + " for parameter " +
                        Quote(space.params[i].name));
      }
    }
    t.params = std::move(suggestion.params);
    t.attrs = std::move(suggestion.attrs);
  }
  for (std::size_t i = 0; i < d; ++i) {
    if (pinned[i]) t.params[i] = *pinned[i];
  }

  auto write = s->Enqueue(
      "INSERT INTO tuning_trials (study_id, number, state, params, value, attrs, created_micros, "
      "finished_micros) "
      "VALUES ($1, $2, 'RUNNING', $3, NULL, $4, $5, 0)",
      {s->study_id, t.number, ParamsToJson(space, t.params), Dump(StringMapToJson(t.attrs)),
       env_->NowMicros()});
  s->trials.push_back(t);
  Count(s->counts, TrialState::kRunning, 1);
  RETURN_IF_ERROR(Commit(s, std::move(write)));
  Notify(s, [&](StudyObserver& o, const StudyConfig& c) { o.TrialAsked(c, t); });
  return t;
}

Result<Trial> StudyServiceImpl::Tell(std::string_view study, std::int64_t number, TrialState state,
                                     std::optional<double> value) {
  switch (state) {
    case TrialState::kRunning:
      return InvalidArgument("a trial can be told COMPLETE, FAIL or PRUNED", "state");
    case TrialState::kComplete:
      if (!value) return InvalidArgument("a COMPLETE trial needs a value", "value");
      if (!std::isfinite(*value)) {
        return InvalidArgument("the value of a COMPLETE trial must be finite, not " + std::to_string(*value),
                               "value");
      }
      break;
    case TrialState::kPruned:
    case TrialState::kFailed:
      if (value)
        return InvalidArgument("a " + std::string(StateName(state)) + " trial takes no value", "value");
      break;
  }
  ASSIGN_OR_RETURN(LockedStudy s, Acquire(study, /*settle=*/false));
  ASSIGN_OR_RETURN(const Trial* found, s->Find(number));
  if (found->state != TrialState::kRunning) {
    return FailedPrecondition("trial " + std::to_string(number) + " of study " + Quote(s->name) +
                              " is already " + std::string(StateName(found->state)));
  }
  if (state == TrialState::kPruned && !found->intermediate.empty() &&
      std::isfinite(found->intermediate.rbegin()->second)) {
    value = found->intermediate.rbegin()->second;
  }
  auto write = s->Enqueue(
      "UPDATE tuning_trials SET state = $3, value = $4, finished_micros = $5 "
      "WHERE study_id = $1 AND number = $2 AND state = 'RUNNING'",
      {s->study_id, number, std::string(StateName(state)), OptionalDouble(value), env_->NowMicros()},
      /*must_change_row=*/true);
  Trial& t = s->trials[static_cast<std::size_t>(number)];
  t.state = state;
  t.value = value;
  Count(s->counts, TrialState::kRunning, -1);
  Count(s->counts, state, 1);
  s->ConsiderBest(t);
  const Trial told = t;
  RETURN_IF_ERROR(Commit(s, std::move(write)));
  Notify(s, [&](StudyObserver& o, const StudyConfig& c) { o.TrialFinished(c, told); });
  return told;
}

Status StudyServiceImpl::Report(std::string_view study, std::int64_t number, std::int64_t step,
                                double value) {
  if (step < 0) return InvalidArgument("step must be >= 0, not " + std::to_string(step), "step");
  ASSIGN_OR_RETURN(LockedStudy s, Acquire(study, /*settle=*/false));
  ASSIGN_OR_RETURN(const Trial* found, s->Find(number));
  if (found->state != TrialState::kRunning) {
    return FailedPrecondition("trial " + std::to_string(number) + " of study " + Quote(s->name) + " is " +
                              std::string(StateName(found->state)) + ", not running");
  }
  if (found->intermediate.count(step)) {
    // Already there, though perhaps not yet durable: acknowledge once it is.
    return s->Settled() ? Status::OK() : Commit(s, s->last_write);
  }
  auto write = s->Enqueue(
      "INSERT INTO tuning_trial_values (study_id, number, step, value) VALUES ($1, $2, $3, $4) "
      "ON CONFLICT (study_id, number, step) DO NOTHING",
      {s->study_id, number, step, IntermediateToColumn(value)});
  s->trials[static_cast<std::size_t>(number)].intermediate.emplace(step, value);
  RETURN_IF_ERROR(Commit(s, std::move(write)));
  Notify(s, [&](StudyObserver& o, const StudyConfig& c) { o.TrialReported(c, number, step, value); });
  return Status::OK();
}

Result<bool> StudyServiceImpl::ShouldPrune(std::string_view study, std::int64_t number) {
  ASSIGN_OR_RETURN(LockedStudy s, Acquire(study, /*settle=*/true));
  ASSIGN_OR_RETURN(const Trial* t, s->Find(number));
  if (t->state != TrialState::kRunning) {
    return FailedPrecondition("trial " + std::to_string(number) + " of study " + Quote(s->name) + " is " +
                              std::string(StateName(t->state)) + ", not running");
  }
  return s->pruner->ShouldPrune(s->View(), *t);
}

Result<std::vector<Trial>> StudyServiceImpl::Trials(std::string_view study) {
  ASSIGN_OR_RETURN(LockedStudy s, Acquire(study, /*settle=*/true));
  return s->trials;
}

Result<Trial> StudyServiceImpl::GetTrial(std::string_view study, std::int64_t number) {
  ASSIGN_OR_RETURN(LockedStudy s, Acquire(study, /*settle=*/true));
  ASSIGN_OR_RETURN(const Trial* t, s->Find(number));
  return *t;
}

Result<Trial> StudyServiceImpl::BestTrial(std::string_view study) {
  ASSIGN_OR_RETURN(LockedStudy s, Acquire(study, /*settle=*/true));
  if (!s->best) return NotFound("study " + Quote(s->name) + " has no completed trial");
  return s->trials[static_cast<std::size_t>(*s->best)];
}

}  // namespace

Result<std::unique_ptr<StudyService>> StudyService::Open(store::Database* db, Env* env,
                                                         StudyServiceOptions options) {
  if (db == nullptr || env == nullptr) return InvalidArgument("StudyService needs a database and an Env");
  if (!options.make_sampler || !options.make_pruner) {
    return InvalidArgument("StudyServiceOptions needs a sampler and a pruner factory");
  }
  // Fails early, with the store's words, when the migration is missing.
  RETURN_IF_ERROR(db->Query("SELECT 1 FROM tuning_studies LIMIT 1").status().WithContext("tuning tables"));
  return std::unique_ptr<StudyService>(new StudyServiceImpl(db, env, std::move(options)));
}

}  // namespace ferry::tuning
