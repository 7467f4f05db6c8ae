#pragma once
// Pruners: early stopping of running trials from their intermediate values
// (Katib's earlyStopping, the ask/tell API's should_prune).
//
//   medianstop (Katib's service): settings min_trials_required (default 3)
//     and start_step (default 4, counted in reports, not step numbers). From
//     its start_step-th report on, a trial stops when its best value so far
//     is worse than the median, over the completed trials, of the average of
//     each one's first start_step reports — provided at least
//     min_trials_required completed trials. (Katib's code takes the mean
//     while calling it the median; its docs say median, and one diverged
//     trial would drag a mean off.)
//   successivehalving (ASHA, Optuna's SuccessiveHalvingPruner): settings
//     min_resource (default 1), reduction_factor (default 4),
//     min_early_stopping_rate (default 0). Rungs at min_resource *
//     reduction_factor^(min_early_stopping_rate + k); a trial reaching a
//     rung continues only if its value is in the top 1/reduction_factor of
//     the values recorded at that rung (asynchronously: as they come).
//   hyperband (Optuna's HyperbandPruner): settings min_resource (1),
//     max_resource (required), reduction_factor (3); trials are spread over
//     brackets by number, each bracket a successive-halving pruner.
//   none: never prunes.
//
// Like samplers, a pruner is a pure function of (settings, history).
//
// Thread-safety: const methods, safe to share.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "ferry/common/status.h"
#include "ferry/tuning/space.h"

namespace ferry::tuning {

class Pruner {
 public:
  virtual ~Pruner() = default;
  // Whether running `trial` (its intermediate values as reported so far,
  // the last being the current step) should stop now.
  virtual bool ShouldPrune(const StudyView& study, const Trial& trial) const = 0;
};

// InvalidArgument naming "spec.earlyStopping.algorithmName" or the setting
// ("spec.earlyStopping.algorithmSettings[start_step]").
Result<std::unique_ptr<Pruner>> MakePruner(std::string_view algorithm,
                                           const std::map<std::string, std::string>& settings);

}  // namespace ferry::tuning
