#pragma once
// The CLI's views of Katib's kinds (kubeflow.org/v1beta1 Experiment and
// Trial): the `get` tables of experiments and trials, and `describe
// experiment`, which shows the experiment's objective, algorithm, search
// space, current optimal trial and every trial (listed by the label
// katib.kubeflow.org/experiment=NAME, in trial-number order).
//
// `experiment` is also the MLflow kind (tracking_views.h): `get experiment
// NAME` and `describe experiment NAME` show the Katib Experiment NAME when
// the namespace has one and the MLflow experiment otherwise;
// `experiments.kubeflow.org` always means Katib, and `get experiments` with
// no name stays the MLflow list (Katib experiments log their trials as
// MLflow runs in an experiment of the same name, so they show there too).
//
// Metric values are the strings Katib's status holds ("0.93"), shown as
// they are; "-" stands for a value that was never reported.
//
// The fetching functions print server errors and return the CLI's exit
// codes; the rendering functions are pure, so they are unit-tested alone.
//
// Thread-safety: as the rest of the CLI, one invocation at a time.

#include <cstdint>
#include <string>
#include <vector>

#include "ferry/cli/commands.h"
#include "ferry/cli/discovery.h"
#include "ferry/cli/output.h"
#include "ferry/common/json.h"

namespace ferry::cli {

// The label the experiment controller puts on each of its trials.
inline constexpr char kKatibExperimentLabel[] = "katib.kubeflow.org/experiment";

bool IsKatibExperimentType(const ApiResource& type);
bool IsKatibTrialType(const ApiResource& type);

// The type of the last condition in status.conditions whose status is
// "True" ("Running", "Succeeded"); "-" when none is.
std::string KatibState(const Json& object);

// The objective metric's value in `observation` ({metrics: [{name, min,
// max, latest}]}) as `objective` (an Experiment's spec.objective) says to
// summarise it: its metricStrategies entry for the metric, else min when
// minimizing and max when maximizing. "-" when there is none or it is
// Katib's "unavailable".
std::string ObjectiveValue(const Json& objective, const Json& observation);

// `get` tables: [NAMESPACE,] NAME, STATUS, TRIALS, RUNNING, SUCCEEDED,
// FAILED (failed and metrics-unavailable trials), BEST (the current optimal
// trial's objective value), AGE.
TableLayout ExperimentTableLayout(bool with_namespace);
// [NAMESPACE,] NAME, STATE, a column per name of `parameters` (or, when it is
// empty, PARAMETERS "a=1,b=2"), OBJECTIVE, AGE.
TableLayout TrialTableLayout(const std::vector<std::string>& parameters, bool with_namespace);
// The parameter names of `trials`, in the order the first trial assigns
// them, when they all belong to one experiment (same namespace and
// experiment label); empty otherwise, or when there are none.
std::vector<std::string> SharedTrialParameters(const std::vector<Json>& trials);

// Sorts trials by the number that ends their name ("exp-10" after "exp-9"),
// those of one experiment (the same name before the number) together;
// names that end in no number come last, by name.
void SortTrialsByNumber(std::vector<Json>& trials);

// What `describe experiment` prints for a Katib Experiment and its trials
// (sorted by SortTrialsByNumber). `trials_error` replaces the trial table
// when the trials could not be listed.
std::string DescribeKatibExperimentText(const Json& experiment, const std::vector<Json>& trials,
                                        std::int64_t now_micros, const std::string& trials_error = {});

// Katib Experiments among `names` in ctx.ns, for the verbs that share the
// name `experiment` with MLflow.
struct KatibExperimentLookup {
  const ApiResource* type = nullptr;  // null when the server has no Experiment type
  std::vector<Json> found;            // the Katib Experiments, in the order of `names`
  std::vector<std::string> others;    // names that are not: MLflow experiments, if anything
};
// Looks each name up; a NotFound answer (or a name that cannot be a
// resource's) puts it in `others`. Other server errors are printed and make
// the result kExitFailed; the lookup still goes on.
int FindKatibExperiments(Context& ctx, const std::vector<std::string>& names, KatibExperimentLookup& lookup);

// Prints the describe view of each experiment, listing its trials.
int DescribeKatibExperiments(Context& ctx, const std::vector<Json>& experiments);

}  // namespace ferry::cli
