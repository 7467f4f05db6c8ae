#pragma once
// TrialRuns: records every trial of every study as an MLflow tracking run,
// so ask/tell studies and Katib experiments show up in the MLflow client and
// UI next to hand-written runs. It is a StudyObserver; the server hands it to
// the StudyService.
//
// What is recorded:
// - Each study has the MLflow experiment named like the study, or as
//   NameExperiment said (an existing one of that name is used; otherwise it
//   is created with the tag "ferry.tuning.study" = the study's name).
// - Each trial is a run "trial-<number>" with the tags "ferry.tuning.study"
//   (the study's name) and "ferry.tuning.trial" (the number), and the trial's
//   parameters as params in SearchSpace::Format's text ("0.01", "3", "sgd").
// - Intermediate values are the metric named by the study's metric_names[0]
//   ("objective" when it has none) at their step. The tracking store accepts
//   NaN and ±Inf (the latter stored as ±DBL_MAX, as MLflow's SQL store does),
//   so every reported value is logged.
// - A COMPLETE trial logs its value as the same metric at the step after its
//   last intermediate value (0 without any); the run then ends FINISHED
//   (COMPLETE), KILLED (PRUNED) or FAILED. A pruned trial's value is its
//   last intermediate value, already logged, so it is not logged again.
// - A deleted study's running trials end KILLED.
//
// The trial -> run id map of running trials is kept in memory; after a
// restart a run is found again by a SearchRuns on the two tags (the newest
// match). A trial whose run cannot be found when it finishes (its Ask was
// not recorded) gets its run then, with everything it reported.
//
// Failures of the tracking store are logged (LogEvent, warn) and otherwise
// ignored: recording is a by-product, and never fails an ask or a tell.
//
// Thread-safety: thread-safe. Calls on different trials run in parallel;
// calls on one trial take turns.
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "ferry/common/env.h"
#include "ferry/common/status.h"
#include "ferry/tracking/tracking_store.h"
#include "ferry/tuning/study_service.h"

namespace ferry::tuning {

inline constexpr std::string_view kStudyTag = "ferry.tuning.study";
inline constexpr std::string_view kTrialTag = "ferry.tuning.trial";
// The metric of a study without metric_names.
inline constexpr std::string_view kDefaultObjectiveMetric = "objective";

class TrialRuns final : public StudyObserver {
 public:
  // `tracking` and `env` (the metrics' timestamps) must outlive it.
  TrialRuns(tracking::TrackingStore* tracking, Env* env);

  void TrialAsked(const StudyConfig& study, const Trial& trial) override;
  void TrialReported(const StudyConfig& study, std::int64_t number, std::int64_t step, double value) override;
  void TrialFinished(const StudyConfig& study, const Trial& trial) override;
  void StudyDeleted(std::string_view name) override;

  // Records the study's trials in the MLflow experiment `experiment`
  // instead of one named like the study (Katib experiments, whose studies
  // are named by uid). Call before the study's first trial is recorded.
  void NameExperiment(const std::string& study, const std::string& experiment);
  // The run of a study's trial: from memory, else by SearchRuns; NotFound
  // when it has none.
  Result<std::string> RunIdOf(const StudyConfig& study, std::int64_t number);

 private:
  using Key = std::pair<std::string, std::int64_t>;  // (study, trial number)

  // What is known of one trial's run; `mu` orders the calls on the trial.
  struct Entry {
    std::mutex mu;
    std::string run_id;     // empty while unknown
    bool searched = false;  // the store was searched (or the run made) once
    bool finished = false;  // ended, or its study deleted: nothing more to do
  };

  // The entry of `key`, made when missing; null when the trial finished
  // recently (an Ask heard after the trial's Tell must not make a run).
  std::shared_ptr<Entry> EntryFor(const Key& key);
  // Drops the finished trial's entry, remembering the key for a while.
  void Retire(const Key& key);

  Result<std::string> ExperimentFor(const StudyConfig& study);
  // The run id of `entry` (locked), searching the store the first time.
  Result<std::string> FindRun(const StudyConfig& study, std::int64_t number, Entry& entry);
  // Makes the trial's run with its params (and, when `with_values`, its
  // intermediate values) and records it in `entry`.
  Status MakeRun(const StudyConfig& study, const Trial& trial, Entry& entry, bool with_values);
  Status Finish(const StudyConfig& study, const Trial& trial, Entry& entry);
  Status LogValue(const std::string& run_id, const StudyConfig& study, std::int64_t step, double value);

  tracking::TrackingStore* const tracking_;
  Env* const env_;

  std::mutex mu_;  // guards entries_ and retired_*; never held across a store call
  std::map<Key, std::shared_ptr<Entry>> entries_;  // running trials heard of
  std::set<Key> retired_;                          // recently finished trials...
  std::deque<Key> retired_order_;                  // ...oldest first, bounded

  std::mutex experiments_mu_;  // guards experiments_; held while one is looked up or made
  std::map<std::string, std::string, std::less<>> experiments_;  // study name -> experiment id
  std::map<std::string, std::string> experiment_names_;         // study name -> MLflow experiment name
};

}  // namespace ferry::tuning
