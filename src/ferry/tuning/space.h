#pragma once
// Search spaces and trial histories, as every sampler and pruner sees them.
//
// A SearchSpace is Katib's `spec.parameters` (and the ask/tell API's
// distributions): double, int, discrete (a list of numbers) and categorical
// parameters, with Katib's distributions. A parameter's value is always a
// double: the number itself for double/int/discrete, the choice's index for
// categorical (SearchSpace::Format turns it into Katib's string).
//
// Samplers work in an *internal* coordinate per parameter (see Internal*):
// log for log-scaled parameters, the index for discrete and categorical
// ones. FromInternal snaps back to a feasible value (rounding to the int,
// the step, the nearest list entry), so no sampler can propose a value
// outside the space.
//
// Thread-safety: plain values; const methods are safe to share.
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/common/status.h"

namespace ferry::tuning {

enum class ParamType { kDouble, kInt, kDiscrete, kCategorical };
// Katib's feasibleSpace.distribution. Normal/logNormal: min/max bound the
// support; the sampler's prior is centred on the middle (Katib via Optuna
// and Hyperopt treats them as bounded ranges as well).
enum class Distribution { kUniform, kLogUniform, kNormal, kLogNormal };

std::string_view ParamTypeName(ParamType t);        // "double", "int", "discrete", "categorical"
std::string_view DistributionName(Distribution d);  // "uniform", "logUniform", "normal", "logNormal"

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::kDouble;
  Distribution distribution = Distribution::kUniform;
  double min = 0, max = 0;  // double and int: inclusive bounds
  double step = 0;          // double: 0 = continuous; int: 0 means 1
  std::vector<double> values;        // discrete: the feasible numbers, as listed
  std::vector<std::string> choices;  // categorical: the feasible strings, as listed

  bool IsLog() const {
    return distribution == Distribution::kLogUniform || distribution == Distribution::kLogNormal;
  }
  // Number of feasible values, or nullopt for a continuous double (or a
  // grid too fine to count exactly, over 9e15 values).
  std::optional<std::int64_t> Cardinality() const;
};

enum class Direction { kMinimize, kMaximize };

struct SearchSpace {
  std::vector<ParamSpec> params;

  // InvalidArgument naming the field, as Katib's validator words it, e.g.
  // field "spec.parameters[2].feasibleSpace.min": empty or duplicate names,
  // min > max, a non-positive bound of a log distribution, step <= 0 or
  // larger than the range, a non-integer bound of an int, an empty or
  // duplicate list. `prefix` is the field path of the list
  // ("spec.parameters" for Katib, "distributions" for ask/tell).
  Status Validate(std::string_view prefix = "spec.parameters") const;

  // The parameter's internal coordinate range [lo, hi]:
  //   double/int: [min, max], or [log min, log max] when IsLog(); an int or
  //     a stepped double widens by half a step on each side (so rounding
  //     gives every value the same share, as Optuna does);
  //   discrete/categorical: [-0.5, n - 0.5] (the index, rounded).
  std::pair<double, double> InternalBounds(std::size_t i) const;
  double ToInternal(std::size_t i, double value) const;
  // Snaps any internal coordinate (clamped into the bounds first) to a
  // feasible value.
  double FromInternal(std::size_t i, double internal) const;
  // True when `value` is feasible for parameter i (exactly on the step,
  // in the list, an index in range).
  bool Contains(std::size_t i, double value) const;
  // Katib's string form of a value: "0.01", "3", "sgd" (the choice).
  std::string Format(std::size_t i, double value) const;
  // The reverse: NotFound/InvalidArgument naming the parameter.
  Result<double> Parse(std::size_t i, std::string_view text) const;
};

enum class TrialState { kRunning, kComplete, kPruned, kFailed };

struct Trial {
  std::int64_t number = 0;  // 0, 1, 2, ... in the order the trials were asked
  TrialState state = TrialState::kRunning;
  std::vector<double> params;             // one value per SearchSpace param
  std::optional<double> value;            // the objective, when complete
  std::map<std::int64_t, double> intermediate;  // step -> reported value
  std::map<std::string, std::string> attrs;     // what the sampler stored (Suggestion::attrs)
};

// What a sampler or pruner sees: the space, the direction and every trial
// asked so far (running ones included, by number).
struct StudyView {
  const SearchSpace& space;
  Direction direction = Direction::kMinimize;
  std::span<const Trial> trials;

  // The value as a loss (smaller is better): value, or -value when
  // maximising; nullopt unless complete with a finite value.
  std::optional<double> Loss(const Trial& t) const;
};

// A generator seeded from the study seed, the trial number and a salt, so a
// suggestion depends on nothing but (seed, history): the same history gives
// the same suggestion after a restart.
std::mt19937_64 TrialRng(std::uint64_t seed, std::int64_t number, std::uint64_t salt = 0);

}  // namespace ferry::tuning
