// Pruners: Katib's medianstop early-stopping service, Optuna's
// SuccessiveHalvingPruner (asynchronous successive halving, ASHA) and
// HyperbandPruner, and "none".
//
// References: kubeflow/katib pkg/earlystopping/v1beta1/medianstop/service.py
// with the rule check in cmd/metricscollector/v1beta1/file-metricscollector;
// optuna/optuna optuna/pruners/_successive_halving.py and _hyperband.py.
//
// Decisions the contract left open (and where Katib's code and pruner.h
// differ, which one wins):
// - Everything is in loss terms (smaller is better; the value negated when
//   maximising). A NaN intermediate value is the worst loss (+inf).
// - medianstop follows Katib's service where it and the header's wording
//   differ, except for one slip in Katib's code (the mean, below):
//   * the reference trials are the completed ones only (Katib takes
//     SUCCEEDED trials; early-stopped ones are not), other than `trial`;
//   * a reference trial's performance is the average of its first
//     start_step reported values, in step order (Katib slices the first
//     start_step metric logs), not its running best up to the current step;
//     trials that reported nothing are skipped;
//   * start_step counts reports, not step numbers (Katib's collector applies
//     the rule once the metric "is reported at least start_step times"), so
//     gaps in the steps do not matter;
//   * the reference is the median of those averages, as Katib's docs and its
//     code comment say; Katib's code computes their arithmetic mean under
//     that name, which one diverged trial would drag off;
//   * the trial stops when its best value so far is strictly worse. Katib's
//     collector means to keep that best but loses it (the Go pointer is
//     reassigned by value), and checks only at exactly the start_step-th
//     report (its countdown passes zero); here every report from the
//     start_step-th on is checked against the current history.
// - successivehalving: Optuna records the value a trial had when it crossed
//   a rung as a trial attribute. A pruner here is a pure function of the
//   history, so that value is re-derived: a trial's value at rung k is its
//   first reported value at a step >= the rung's step (what Optuna records
//   when should_prune is asked after every report, which this assumes).
//   `trial` is judged only at the rungs its last report crossed (rungs
//   crossed earlier were passed, or it would not be running); with gaps in
//   the steps one report may cross several rungs, judged lowest first, as
//   Optuna's loop does. A pruned trial counts only up to the lowest rung its
//   last report crossed (where it most likely lost), since Optuna records
//   nothing above the rung it lost at. NaN values are never competitors
//   (Optuna prunes before recording them). All states compete, as in
//   Optuna: running, complete, pruned and failed trials.
//   min_resource must be an integer: Optuna's "auto" (a guess from the first
//   completed trial) is refused. Optuna's bootstrap_count is not offered
//   (pruner.h does not list it).
// - hyperband: Optuna puts trial n in a bracket by crc32("<study>_<n>")
//   modulo the summed bracket budgets. Here the position is the golden-ratio
//   Weyl sequence frac(n * 0.618...) (in 64-bit fixed point, so exact on
//   every platform) times the summed budgets: deterministic by trial number
//   alone, and spread evenly early on (every window of trials gets each
//   bracket close to its share), where a hash only does so on average.
//   The number of brackets is the largest s with min_resource *
//   reduction_factor^s <= max_resource, plus one: Optuna's
//   floor(log(max / min, rf)) + 1 without its floating-point slips (Python
//   gives math.log(243, 3) = 4.999...).
//
// Per-call cost: medianstop O(n * start_step) over the history (the median
// by nth_element). successivehalving and hyperband return in O(1) unless
// the last report crossed a rung; then O(n log m) (a map lookup per trial,
// m reports per trial) plus O(n) selection per crossed rung. Hyperband adds
// O(log brackets) per trial to find its bracket.
#include "ferry/tuning/pruner.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ferry/tuning/sampler.h"

namespace ferry::tuning {
namespace {

constexpr char kSettingsField[] = "spec.earlyStopping.algorithmSettings";
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr std::int64_t kMaxSetting = std::int64_t{1} << 53;

double StepLoss(double value, Direction direction) {
  if (std::isnan(value)) return kInf;
  return direction == Direction::kMinimize ? value : -value;
}

// The median of `v` (reordered); NaN when it is undefined (empty, or the two
// middle values are -inf and +inf).
double Median(std::vector<double>& v) {
  if (v.empty()) return std::nan("");
  const std::size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  const double upper = v[mid];
  if (v.size() % 2 == 1) return upper;
  const double lower = *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid));
  return lower == upper ? upper : 0.5 * (lower + upper);
}

class NonePruner final : public Pruner {
 public:
  bool ShouldPrune(const StudyView&, const Trial&) const override { return false; }
};

class MedianStopPruner final : public Pruner {
 public:
  MedianStopPruner(std::int64_t min_trials_required, std::int64_t start_step)
      : min_trials_required_(min_trials_required), start_step_(start_step) {}

  bool ShouldPrune(const StudyView& study, const Trial& trial) const override {
    if (static_cast<std::int64_t>(trial.intermediate.size()) < start_step_) return false;
    double best = kInf;
    for (const auto& [step, value] : trial.intermediate)
      best = std::min(best, StepLoss(value, study.direction));

    std::vector<double> averages;
    for (const Trial& t : study.trials) {
      if (t.state != TrialState::kComplete || t.number == trial.number || t.intermediate.empty()) continue;
      double sum = 0;
      std::int64_t count = 0;
      for (auto it = t.intermediate.begin(); it != t.intermediate.end() && count < start_step_;
           ++it, ++count) {
        sum += StepLoss(it->second, study.direction);
      }
      // -inf and +inf among the first values: undefined, so the worst.
      const double average = sum / static_cast<double>(count);
      averages.push_back(std::isnan(average) ? kInf : average);
    }
    if (static_cast<std::int64_t>(averages.size()) < min_trials_required_) return false;
    const double median = Median(averages);
    return !std::isnan(median) && best > median;
  }

 private:
  std::int64_t min_trials_required_;
  std::int64_t start_step_;
};

// One successive-halving ladder (Optuna's SuccessiveHalvingPruner without
// its attribute bookkeeping): rung k sits at step min_resource *
// reduction_factor^(min_early_stopping_rate + k).
class SuccessiveHalving {
 public:
  SuccessiveHalving(std::int64_t min_resource, std::int64_t reduction_factor,
                    std::int64_t min_early_stopping_rate)
      : reduction_factor_(reduction_factor) {
    // Rungs past the largest representable step are never reached.
    constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
    std::int64_t step = min_resource;
    for (std::int64_t e = 0; e < min_early_stopping_rate; ++e) {
      if (step > kMax / reduction_factor) return;
      step *= reduction_factor;
    }
    for (;;) {
      rung_steps_.push_back(step);
      if (step > kMax / reduction_factor) break;
      step *= reduction_factor;
    }
  }

  // `competes(t)` says whether trial t is in this ladder's study (all of
  // them for successivehalving, one bracket's for hyperband).
  template <typename Competes>
  bool ShouldPrune(const StudyView& study, const Trial& trial, const Competes& competes) const {
    if (trial.intermediate.empty()) return false;
    const auto last = std::prev(trial.intermediate.end());
    const std::int64_t step = last->first;
    const std::int64_t previous = PreviousStep(trial);
    // The rungs this report crossed: previous < rung step <= step.
    auto first = std::upper_bound(rung_steps_.begin(), rung_steps_.end(), previous);
    auto end = std::upper_bound(first, rung_steps_.end(), step);
    if (first == end) return false;
    if (std::isnan(last->second)) return true;
    const double loss = StepLoss(last->second, study.direction);

    std::vector<double> competing;
    for (auto rung = first; rung != end; ++rung) {
      const std::size_t k = static_cast<std::size_t>(rung - rung_steps_.begin());
      competing.clear();
      for (const Trial& t : study.trials) {
        if (t.number == trial.number || !competes(t)) continue;
        if (std::optional<double> v = ValueAtRung(t, k)) competing.push_back(StepLoss(*v, study.direction));
      }
      competing.push_back(loss);
      if (!Promotable(loss, competing)) return true;
    }
    return false;
  }

 private:
  static std::int64_t PreviousStep(const Trial& t) {
    if (t.intermediate.size() < 2) return std::numeric_limits<std::int64_t>::min();
    return std::prev(t.intermediate.end(), 2)->first;
  }

  // What Optuna would have recorded for trial t at rung k; NaN is never
  // recorded.
  std::optional<double> ValueAtRung(const Trial& t, std::size_t k) const {
    auto it = t.intermediate.lower_bound(rung_steps_[k]);
    if (it == t.intermediate.end() || std::isnan(it->second)) return std::nullopt;
    if (t.state == TrialState::kPruned && std::next(it) == t.intermediate.end() && k > 0 &&
        rung_steps_[k - 1] > PreviousStep(t)) {
      return std::nullopt;  // its last report already lost at a lower rung
    }
    return it->second;
  }

  // Optuna's _is_trial_promotable_to_next_rung, in loss terms: within the
  // best len / reduction_factor (at least the best one).
  bool Promotable(double loss, std::vector<double>& competing) const {
    std::size_t keep = competing.size() / static_cast<std::size_t>(reduction_factor_);
    const std::size_t index = keep == 0 ? 0 : keep - 1;
    std::nth_element(competing.begin(), competing.begin() + static_cast<std::ptrdiff_t>(index),
                     competing.end());
    return loss <= competing[index];
  }

  std::int64_t reduction_factor_;
  std::vector<std::int64_t> rung_steps_;
};

class SuccessiveHalvingPruner final : public Pruner {
 public:
  explicit SuccessiveHalvingPruner(SuccessiveHalving ladder) : ladder_(std::move(ladder)) {}

  bool ShouldPrune(const StudyView& study, const Trial& trial) const override {
    return ladder_.ShouldPrune(study, trial, [](const Trial&) { return true; });
  }

 private:
  SuccessiveHalving ladder_;
};

class HyperbandPruner final : public Pruner {
 public:
  HyperbandPruner(std::int64_t min_resource, std::int64_t max_resource, std::int64_t reduction_factor) {
    std::int64_t brackets = 1;
    for (std::int64_t r = min_resource; r <= max_resource / reduction_factor; r *= reduction_factor)
      ++brackets;
    // Optuna's trial allocation budget of bracket b: ceil(n * rf^s / (s + 1))
    // with s = n - 1 - b. Doubles: only the ratios matter and they may be huge.
    double total = 0;
    for (std::int64_t b = 0; b < brackets; ++b) {
      const std::int64_t s = brackets - 1 - b;
      const double budget =
          std::ceil(static_cast<double>(brackets) *
                    std::pow(static_cast<double>(reduction_factor), static_cast<double>(s)) /
                    static_cast<double>(s + 1));
      total += budget;
      cumulative_budgets_.push_back(total);
      ladders_.emplace_back(min_resource, reduction_factor, b);
    }
  }

  bool ShouldPrune(const StudyView& study, const Trial& trial) const override {
    const std::size_t bracket = BracketOf(trial.number);
    return ladders_[bracket].ShouldPrune(study, trial,
                                         [&](const Trial& t) { return BracketOf(t.number) == bracket; });
  }

 private:
  std::size_t BracketOf(std::int64_t number) const {
    const std::uint64_t fraction = static_cast<std::uint64_t>(number) * 0x9E3779B97F4A7C15ULL;
    const double position = static_cast<double>(fraction >> 11) * 0x1.0p-53 * cumulative_budgets_.back();
    auto it = std::upper_bound(cumulative_budgets_.begin(), cumulative_budgets_.end(), position);
    return std::min(static_cast<std::size_t>(it - cumulative_budgets_.begin()),
                    cumulative_budgets_.size() - 1);
  }

  std::vector<double> cumulative_budgets_;
  std::vector<SuccessiveHalving> ladders_;
};

// Optuna's default "auto" has no integer meaning here; say so rather than
// "must be an integer".
Status RefuseAuto(const std::map<std::string, std::string>& values, AlgorithmSettings& settings,
                  const std::string& name) {
  auto it = values.find(name);
  if (it != values.end() && it->second == "auto") {
    return InvalidArgument("setting " + name + " must be an integer; 'auto' is not supported",
                           settings.Field(name));
  }
  return Status::OK();
}

Result<std::unique_ptr<Pruner>> MakeWithSettings(std::string_view algorithm,
                                                 const std::map<std::string, std::string>& values,
                                                 AlgorithmSettings& settings) {
  if (algorithm == "none") return std::unique_ptr<Pruner>(std::make_unique<NonePruner>());
  if (algorithm == "medianstop") {
    ASSIGN_OR_RETURN(std::int64_t min_trials, settings.Int("min_trials_required", 3, 1, kMaxSetting));
    ASSIGN_OR_RETURN(std::int64_t start_step, settings.Int("start_step", 4, 1, kMaxSetting));
    return std::unique_ptr<Pruner>(std::make_unique<MedianStopPruner>(min_trials, start_step));
  }
  if (algorithm == "successivehalving") {
    RETURN_IF_ERROR(RefuseAuto(values, settings, "min_resource"));
    ASSIGN_OR_RETURN(std::int64_t min_resource, settings.Int("min_resource", 1, 1, kMaxSetting));
    ASSIGN_OR_RETURN(std::int64_t reduction_factor, settings.Int("reduction_factor", 4, 2, kMaxSetting));
    ASSIGN_OR_RETURN(std::int64_t min_early_stopping_rate, settings.Int("min_early_stopping_rate", 0, 0, 64));
    return std::unique_ptr<Pruner>(std::make_unique<SuccessiveHalvingPruner>(
        SuccessiveHalving(min_resource, reduction_factor, min_early_stopping_rate)));
  }
  if (algorithm == "hyperband") {
    RETURN_IF_ERROR(RefuseAuto(values, settings, "min_resource"));
    RETURN_IF_ERROR(RefuseAuto(values, settings, "max_resource"));
    ASSIGN_OR_RETURN(std::int64_t min_resource, settings.Int("min_resource", 1, 1, kMaxSetting));
    if (!settings.Has("max_resource")) {
      return InvalidArgument("setting max_resource is required (the largest step a trial reports)",
                             settings.Field("max_resource"));
    }
    ASSIGN_OR_RETURN(std::int64_t max_resource, settings.Int("max_resource", 0, min_resource, kMaxSetting));
    ASSIGN_OR_RETURN(std::int64_t reduction_factor, settings.Int("reduction_factor", 3, 2, kMaxSetting));
    return std::unique_ptr<Pruner>(
        std::make_unique<HyperbandPruner>(min_resource, max_resource, reduction_factor));
  }
  return InvalidArgument("unknown early stopping algorithm '" + std::string(algorithm) +
                             "' (known: medianstop, successivehalving, hyperband, none)",
                         "spec.earlyStopping.algorithmName");
}

}  // namespace

Result<std::unique_ptr<Pruner>> MakePruner(std::string_view algorithm,
                                           const std::map<std::string, std::string>& settings) {
  AlgorithmSettings typed(settings, kSettingsField);
  ASSIGN_OR_RETURN(std::unique_ptr<Pruner> pruner, MakeWithSettings(algorithm, settings, typed));
  RETURN_IF_ERROR(typed.Finish());
  return pruner;
}

}  // namespace ferry::tuning
