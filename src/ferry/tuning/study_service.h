#pragma once
// StudyService: durable ask/tell studies, the service behind Ferry's
// Optuna-style REST API and Katib experiments. A study is a search space, a
// direction, a sampler and a pruner; workers Ask it for the parameters of a
// new trial, Report intermediate values, ask whether to stop (ShouldPrune)
// and Tell the outcome. Everything lives in the Store (migration
// 0009_tuning*.sql) and is durable before a call returns: each Ask, Tell and
// Report commits in a transaction, which concurrent calls on the same study
// share (group commit).
//
// Semantics are Optuna's (study.ask/tell, trial.report/should_prune):
// - Trials are numbered 0, 1, 2, ... per study in the order they were asked,
//   with no gaps, and are RUNNING until told COMPLETE (with a finite value),
//   FAILED or PRUNED (without one: a pruned trial takes its last finite
//   intermediate value, as Optuna records it). Telling a finished trial is
//   FailedPrecondition.
// - Report keeps the first value reported for a step; reporting the step
//   again is accepted and ignored (Optuna warns). Intermediate values may be
//   NaN or infinite.
// - Ask with fixed parameters (Optuna's enqueue_trial) gives the trial those
//   values and the sampler's for the rest; the sampler is not consulted when
//   every parameter is fixed.
// - A suggestion is a pure function of (seed, settings, history), so after a
//   restart (a new StudyService on the same database) the next Ask answers
//   exactly as it would have without the restart. Errors of the sampler pass
//   through unchanged: Unavailable (hyperband waiting for a rung to fill)
//   means ask again later, FailedPrecondition (grid exhausted) stop asking.
// - Field paths in errors follow Katib ("spec.parameters[2].feasibleSpace.min",
//   "spec.algorithm.algorithmSettings[n_startup_trials]"); otherwise they
//   are the config's ("name", "metric_names[1]") or the call's ("value",
//   "step", "params.<name>" for a fixed parameter).
//
// Each study's trials are kept in memory from the first call that touches
// the study on, and written through to the store, so an Ask never re-reads
// the history. One StudyService must therefore own the tuning tables of a
// database; a second process writing the same study is detected (the
// store's keys refuse its writes) but not coordinated with.
//
// Thread-safety: thread-safe. Calls on one study take turns (the sampler
// sees a consistent history and numbers stay dense) but share their commits;
// calls on different studies run in parallel.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/common/env.h"
#include "ferry/common/status.h"
#include "ferry/store/database.h"
#include "ferry/tuning/pruner.h"
#include "ferry/tuning/sampler.h"
#include "ferry/tuning/space.h"

namespace ferry::tuning {

inline constexpr std::size_t kMaxStudyNameLength = 128;

struct StudyConfig {
  // 1-128 bytes of letters, digits, '-', '_' and '.', starting with a
  // letter or digit.
  std::string name;
  SearchSpace space;
  Direction direction = Direction::kMinimize;
  // A MakeSampler algorithm. "tpe" is independent TPE, Optuna 4's default;
  // Optuna 5's TPESampler() is multivariate ("multivariate-tpe").
  std::string sampler = "tpe";
  std::map<std::string, std::string> sampler_settings;
  std::string pruner = "none";  // a MakePruner algorithm
  std::map<std::string, std::string> pruner_settings;
  // The default seed of the sampler (its `random_state` setting wins). Unset:
  // derived from the name, so re-creating a study gives the same sequence.
  std::optional<std::uint64_t> seed;
  // The objective's name first, then any other metrics the trials report
  // (Katib's objectiveMetricName and additionalMetricNames); stored only.
  std::vector<std::string> metric_names;
};

struct TrialCounts {
  std::int64_t running = 0;
  std::int64_t complete = 0;
  std::int64_t pruned = 0;
  std::int64_t failed = 0;
  std::int64_t total() const { return running + complete + pruned + failed; }
};

struct StudyInfo {
  StudyConfig config;  // seed always set
  std::int64_t study_id = 0;
  std::int64_t created_micros = 0;
  TrialCounts counts;
  std::optional<Trial> best_trial;  // see StudyService::BestTrial
};

struct StudyPage {
  std::vector<StudyInfo> studies;  // by name, in byte order
  std::string next_page_token;     // empty on the last page
};

// Parameter name -> value, as in Trial::params (a categorical's choice index).
using FixedParams = std::map<std::string, double>;

// Hears of trials as they are asked, reported and finished, e.g. to record
// them elsewhere (TrialRuns records each as an MLflow run). Each call comes
// after the change committed, outside the study's lock, on the caller's
// thread; calls on different trials may run in parallel, and in rare races
// (a trial told by another client before its Ask has returned) out of
// order. An observer must not call back into the service, and its failures
// are its own: it cannot fail the call that triggered it.
class StudyObserver {
 public:
  virtual ~StudyObserver() = default;
  virtual void TrialAsked(const StudyConfig& study, const Trial& trial) = 0;
  // A new intermediate value (a repeated step, which Report ignores, is not
  // passed on); `value` may be NaN or infinite.
  virtual void TrialReported(const StudyConfig& study, std::int64_t number, std::int64_t step,
                             double value) = 0;
  virtual void TrialFinished(const StudyConfig& study, const Trial& trial) = 0;
  // The study was deleted with its trials.
  virtual void StudyDeleted(std::string_view /*name*/) {}
};

struct StudyServiceOptions {
  // Not owned; must outlive the service. Null: nobody is told.
  StudyObserver* observer = nullptr;
  // How a study's sampler and pruner are made; tests swap in their own.
  std::function<Result<std::unique_ptr<Sampler>>(std::string_view, const std::map<std::string, std::string>&,
                                                 const SearchSpace&, std::uint64_t)>
      make_sampler = MakeSampler;
  std::function<Result<std::unique_ptr<Pruner>>(std::string_view, const std::map<std::string, std::string>&)>
      make_pruner = MakePruner;
};

class StudyService {
 public:
  // Opens over a migrated database; `db` and `env` (clock, study ids) must
  // outlive the service. Studies are loaded lazily.
  static Result<std::unique_ptr<StudyService>> Open(store::Database* db, Env* env,
                                                    StudyServiceOptions options = {});
  virtual ~StudyService() = default;

  // Creates a study: InvalidArgument naming the field for a bad config,
  // AlreadyExists when the name is taken — unless `load_if_exists`, which
  // returns the existing study when its config is the same and otherwise
  // AlreadyExists naming the first difference.
  virtual Result<StudyInfo> CreateStudy(const StudyConfig& config, bool load_if_exists = false) = 0;
  // The study's config, counts and best trial; NotFound for an unknown name.
  virtual Result<StudyInfo> GetStudy(std::string_view name) = 0;
  // Up to `page_size` (1-1000) studies after `page_token` (from the
  // previous page; empty for the first).
  virtual Result<StudyPage> ListStudies(int page_size = 100, std::string_view page_token = {}) = 0;
  // Deletes the study with its trials; NotFound for an unknown name.
  virtual Status DeleteStudy(std::string_view name) = 0;

  // Records a new RUNNING trial with the sampler's suggestion (and the
  // fixed values) and returns it; InvalidArgument naming "params.<name>"
  // for an unknown parameter or a value outside its space.
  virtual Result<Trial> Ask(std::string_view study, const FixedParams& fixed = {}) = 0;
  // Finishes a running trial with `state` COMPLETE (value required, finite),
  // FAILED or PRUNED (no value); returns the finished trial.
  virtual Result<Trial> Tell(std::string_view study, std::int64_t number, TrialState state,
                             std::optional<double> value = std::nullopt) = 0;
  // Records a running trial's intermediate value at `step` (>= 0).
  virtual Status Report(std::string_view study, std::int64_t number, std::int64_t step, double value) = 0;
  // Whether the study's pruner would stop the running trial now.
  virtual Result<bool> ShouldPrune(std::string_view study, std::int64_t number) = 0;

  // Every trial of the study, by number.
  virtual Result<std::vector<Trial>> Trials(std::string_view study) = 0;
  // One trial; NotFound for a number never asked.
  virtual Result<Trial> GetTrial(std::string_view study, std::int64_t number) = 0;
  // The complete trial with the best value (the lowest number among equals);
  // NotFound while no trial is complete.
  virtual Result<Trial> BestTrial(std::string_view study) = 0;
};

}  // namespace ferry::tuning
