// TrialRuns over the TrackingStore (see trial_runs.h).
//
// Decisions the contract left open:
// - Asking costs two tracking transactions (CreateRun with the tags, then
//   LogBatch of the params), made on the asking thread after the trial is
//   durable. A param the tracking store refuses (MLflow's key rules are
//   stricter than a parameter name's) fails LogBatch, which is all or
//   nothing; the params are then logged one by one so the others still land.
// - Entries of running trials stay in memory until the trial finishes. The
//   keys of the last kRetiredKeys finished trials are remembered, so an Ask
//   notification that lost a race with its own trial's Tell (possible only
//   when another client tells a number it was not given) makes no second
//   run.
// - Run lookup after a restart is one SearchRuns per trial, the first time
//   the trial is touched; a trial without a run is then not searched again.
#include "ferry/tuning/trial_runs.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "ferry/common/logging.h"

namespace ferry::tuning {
namespace {

constexpr std::size_t kRetiredKeys = 4096;

std::string MetricOf(const StudyConfig& study) {
  return study.metric_names.empty() ? std::string(kDefaultObjectiveMetric) : study.metric_names.front();
}

std::string RunName(std::int64_t number) { return "trial-" + std::to_string(number); }

void Warn(std::string_view what, const StudyConfig& study, std::int64_t number, const Status& st) {
  LogEvent(spdlog::level::warn, what, {{"study", study.name}, {"trial", number}, {"error", st.ToString()}});
}

tracking::RunStatus RunStatusOf(TrialState state) {
  switch (state) {
    case TrialState::kComplete:
      return tracking::RunStatus::kFinished;
    case TrialState::kPruned:
      return tracking::RunStatus::kKilled;
    case TrialState::kFailed:
      return tracking::RunStatus::kFailed;
    case TrialState::kRunning:
      break;
  }
  return tracking::RunStatus::kRunning;
}

}  // namespace

TrialRuns::TrialRuns(tracking::TrackingStore* tracking, Env* env) : tracking_(tracking), env_(env) {}

std::shared_ptr<TrialRuns::Entry> TrialRuns::EntryFor(const Key& key) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it != entries_.end()) return it->second;
  if (retired_.count(key)) return nullptr;
  return entries_.emplace(key, std::make_shared<Entry>()).first->second;
}

void TrialRuns::Retire(const Key& key) {
  std::lock_guard lock(mu_);
  entries_.erase(key);
  if (retired_.insert(key).second) retired_order_.push_back(key);
  while (retired_order_.size() > kRetiredKeys) {
    retired_.erase(retired_order_.front());
    retired_order_.pop_front();
  }
}

void TrialRuns::NameExperiment(const std::string& study, const std::string& experiment) {
  std::lock_guard lock(experiments_mu_);
  experiment_names_[study] = experiment;
}

Result<std::string> TrialRuns::ExperimentFor(const StudyConfig& study) {
  std::lock_guard lock(experiments_mu_);
  auto it = experiments_.find(study.name);
  if (it != experiments_.end()) return it->second;
  auto named = experiment_names_.find(study.name);
  const std::string name = named != experiment_names_.end() ? named->second : study.name;
  auto found = tracking_->GetExperimentByName(name);
  if (!found.ok() && found.status().code() == StatusCode::kNotFound) {
    auto made = tracking_->CreateExperiment(name, "", {{std::string(kStudyTag), study.name}});
    if (made.ok()) return experiments_[study.name] = *made;
    if (made.status().code() != StatusCode::kAlreadyExists) return made.status();
    found = tracking_->GetExperimentByName(name);  // made meanwhile
  }
  if (!found.ok()) return found.status();
  return experiments_[study.name] = found->experiment_id;
}

Result<std::string> TrialRuns::FindRun(const StudyConfig& study, std::int64_t number, Entry& entry) {
  if (!entry.run_id.empty()) return entry.run_id;
  if (entry.searched) return NotFound("trial " + std::to_string(number) + " has no run");
  ASSIGN_OR_RETURN(std::string experiment, ExperimentFor(study));
  tracking::RunSearch search;
  search.experiment_ids = {experiment};
  // Study names are letters, digits, '-', '_' and '.': nothing to escape.
  search.filter = "tags.`" + std::string(kStudyTag) + "` = '" + study.name + "' and tags.`" +
                  std::string(kTrialTag) + "` = '" + std::to_string(number) + "'";
  search.page.max_results = 1;  // the newest: start_time DESC
  ASSIGN_OR_RETURN(auto page, tracking_->SearchRuns(search));
  entry.searched = true;
  if (page.items.empty()) return NotFound("trial " + std::to_string(number) + " has no run");
  entry.run_id = page.items.front().info.run_id;
  return entry.run_id;
}

Status TrialRuns::MakeRun(const StudyConfig& study, const Trial& trial, Entry& entry, bool with_values) {
  ASSIGN_OR_RETURN(std::string experiment, ExperimentFor(study));
  tracking::CreateRunRequest request;
  request.experiment_id = experiment;
  request.run_name = RunName(trial.number);
  request.tags = {{std::string(kStudyTag), study.name},
                  {std::string(kTrialTag), std::to_string(trial.number)}};
  auto run = tracking_->CreateRun(request);
  if (!run.ok()) {
    // The experiment may have gone (deleted, or the database replaced);
    // look it up again next time.
    std::lock_guard lock(experiments_mu_);
    experiments_.erase(study.name);
    return run.status();
  }
  entry.run_id = run->info.run_id;
  entry.searched = true;

  std::vector<tracking::Param> params;
  const std::size_t n = std::min(trial.params.size(), study.space.params.size());
  for (std::size_t i = 0; i < n; ++i)
    params.push_back({study.space.params[i].name, study.space.Format(i, trial.params[i])});
  Status result = tracking_->LogBatch(entry.run_id, {}, params, {});
  if (!result.ok() && result.code() == StatusCode::kInvalidArgument) {
    result = Status::OK();
    for (const tracking::Param& p : params) {
      const Status st = tracking_->LogParam(entry.run_id, p);
      if (!st.ok() && result.ok()) result = st;
    }
  }
  if (with_values) {
    for (const auto& [step, value] : trial.intermediate) {
      const Status st = LogValue(entry.run_id, study, step, value);
      if (!st.ok() && result.ok()) result = st;
    }
  }
  return result;
}

Status TrialRuns::LogValue(const std::string& run_id, const StudyConfig& study, std::int64_t step,
                           double value) {
  tracking::Metric m;
  m.key = MetricOf(study);
  m.value = value;
  m.timestamp = env_->NowMicros() / 1000;
  m.step = step;
  return tracking_->LogMetric(run_id, m);
}

Status TrialRuns::Finish(const StudyConfig& study, const Trial& trial, Entry& entry) {
  Status result;
  if (auto run = FindRun(study, trial.number, entry); !run.ok()) {
    if (run.status().code() != StatusCode::kNotFound) return run.status();
    result = MakeRun(study, trial, entry, /*with_values=*/true);
    if (entry.run_id.empty()) return result;  // no run to end
  }
  if (trial.state == TrialState::kComplete && trial.value) {
    const std::int64_t step = trial.intermediate.empty() ? 0 : trial.intermediate.rbegin()->first + 1;
    const Status logged = LogValue(entry.run_id, study, step, *trial.value);
    if (result.ok()) result = logged;
  }
  tracking::UpdateRunRequest update;
  update.run_id = entry.run_id;
  update.status = RunStatusOf(trial.state);
  update.end_time = env_->NowMicros() / 1000;
  const Status ended = tracking_->UpdateRun(update).status();
  return result.ok() ? ended : result;
}

void TrialRuns::TrialAsked(const StudyConfig& study, const Trial& trial) {
  std::shared_ptr<Entry> entry = EntryFor({study.name, trial.number});
  if (entry == nullptr) return;
  std::lock_guard lock(entry->mu);
  if (entry->finished || !entry->run_id.empty()) return;
  const Status st = MakeRun(study, trial, *entry, /*with_values=*/false);
  if (!st.ok()) Warn("tuning: cannot record the trial as an MLflow run", study, trial.number, st);
}

void TrialRuns::TrialReported(const StudyConfig& study, std::int64_t number, std::int64_t step,
                              double value) {
  std::shared_ptr<Entry> entry = EntryFor({study.name, number});
  if (entry == nullptr) return;
  std::lock_guard lock(entry->mu);
  if (entry->finished) return;
  auto run = FindRun(study, number, *entry);
  // No run: its Ask was not recorded. Finishing the trial makes the run
  // with every value, so this one is not lost.
  if (!run.ok()) {
    if (run.status().code() != StatusCode::kNotFound)
      Warn("tuning: cannot find the trial's MLflow run", study, number, run.status());
    return;
  }
  const Status st = LogValue(*run, study, step, value);
  if (!st.ok()) Warn("tuning: cannot record an intermediate value in MLflow", study, number, st);
}

void TrialRuns::TrialFinished(const StudyConfig& study, const Trial& trial) {
  const Key key{study.name, trial.number};
  std::shared_ptr<Entry> entry = EntryFor(key);
  if (entry == nullptr) return;
  {
    std::lock_guard lock(entry->mu);
    if (entry->finished) return;
    const Status st = Finish(study, trial, *entry);
    if (!st.ok()) Warn("tuning: cannot record the trial's end in MLflow", study, trial.number, st);
    entry->finished = true;
  }
  Retire(key);
}

void TrialRuns::StudyDeleted(std::string_view name) {
  std::vector<std::pair<std::int64_t, std::shared_ptr<Entry>>> running;
  {
    std::lock_guard lock(mu_);
    for (auto it = entries_.lower_bound({std::string(name), std::numeric_limits<std::int64_t>::min()});
         it != entries_.end() && it->first.first == name;) {
      running.emplace_back(it->first.second, it->second);
      it = entries_.erase(it);
    }
    // A study made again under the name numbers its trials from 0 again.
    for (auto it = retired_.lower_bound({std::string(name), std::numeric_limits<std::int64_t>::min()});
         it != retired_.end() && it->first == name;)
      it = retired_.erase(it);
  }
  {
    std::lock_guard lock(experiments_mu_);
    auto it = experiments_.find(name);
    if (it != experiments_.end()) experiments_.erase(it);
  }
  for (auto& [number, entry] : running) {
    std::lock_guard lock(entry->mu);
    if (entry->finished) continue;
    entry->finished = true;
    if (entry->run_id.empty()) continue;
    tracking::UpdateRunRequest update;
    update.run_id = entry->run_id;
    update.status = tracking::RunStatus::kKilled;
    update.end_time = env_->NowMicros() / 1000;
    const Status st = tracking_->UpdateRun(update).status();
    if (!st.ok()) {
      LogEvent(spdlog::level::warn, "tuning: cannot end the MLflow run of a deleted study's trial",
               {{"study", name}, {"trial", number}, {"error", st.ToString()}});
    }
  }
}

Result<std::string> TrialRuns::RunIdOf(const StudyConfig& study, std::int64_t number) {
  std::shared_ptr<Entry> entry;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find({study.name, number});
    if (it != entries_.end()) entry = it->second;
  }
  if (entry != nullptr) {
    std::lock_guard lock(entry->mu);
    if (!entry->run_id.empty()) return entry->run_id;
  }
  Entry scratch;
  return FindRun(study, number, scratch);
}

}  // namespace ferry::tuning
