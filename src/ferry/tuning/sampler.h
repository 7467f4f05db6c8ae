#pragma once
// Samplers: the suggestion algorithms behind Katib experiments and the
// ask/tell API.
//
// A Sampler proposes the parameters of the next trial from the history. It
// is a pure function of (seed, settings, history): it may cache what it
// derived from earlier calls, but must give the same suggestion as a fresh
// sampler would from the same StudyView. That is what makes experiments
// resume after a restart without repeating or losing trials, and keeps
// every algorithm deterministic for a seed. State a sampler cannot cheaply
// re-derive (CMA-ES's distribution, Hyperband's brackets) goes into
// Suggestion::attrs, which the caller stores with the trial and hands back
// in later StudyViews.
//
// Running trials are part of the history: a sampler that models the
// objective must not propose the same point again while they run (TPE's
// constant liar; GP's fantasised values; CMA-ES's generation bookkeeping).
//
// Algorithms (Katib's names), made by MakeSampler:
//   random, grid, sobol, tpe, multivariate-tpe, cmaes, bayesianoptimization,
//   hyperband.
//
// Thread-safety: a Sampler is used by one thread at a time.
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/common/status.h"
#include "ferry/tuning/space.h"

namespace ferry::tuning {

struct Suggestion {
  std::vector<double> params;  // one feasible value per SearchSpace param
  std::map<std::string, std::string> attrs;
};

class Sampler {
 public:
  virtual ~Sampler() = default;
  // The parameters of trial `study.trials.size()`. FailedPrecondition when
  // the algorithm has nothing left to propose (grid exhausted); the caller
  // then stops asking.
  virtual Result<Suggestion> Ask(const StudyView& study) = 0;
};

// Katib's algorithmSettings (name -> value strings) with typed reads. Every
// read marks the name used; Finish() refuses names never read, so a typo is
// an error naming it, not a silently ignored setting. Field paths look like
// "spec.algorithm.algorithmSettings[n_startup_trials]".
class AlgorithmSettings {
 public:
  explicit AlgorithmSettings(std::map<std::string, std::string> values,
                             std::string field_prefix = "spec.algorithm.algorithmSettings");
  Result<std::int64_t> Int(const std::string& name, std::int64_t fallback, std::int64_t min, std::int64_t max);
  Result<double> Double(const std::string& name, double fallback, double min, double max);
  Result<bool> Bool(const std::string& name, bool fallback);
  // One of `allowed` (compared exactly).
  Result<std::string> Choice(const std::string& name, const std::string& fallback,
                             const std::vector<std::string>& allowed);
  bool Has(const std::string& name) const { return values_.count(name) != 0; }
  // InvalidArgument naming the first setting no read asked for.
  Status Finish() const;
  std::string Field(const std::string& name) const { return prefix_ + "[" + name + "]"; }

 private:
  std::map<std::string, std::string> values_;
  std::set<std::string> read_;
  std::string prefix_;
};

// The study seed: `random_state` when the settings have one, else `fallback`.
// Every algorithm accepts `random_state`.
Result<std::uint64_t> SeedFrom(AlgorithmSettings& settings, std::uint64_t fallback);

// InvalidArgument naming "spec.algorithm.algorithmName" for an unknown
// algorithm; the algorithm's own error for bad settings or a space it
// cannot search (grid over a continuous double without a step, cmaes or
// bayesianoptimization on categorical-only spaces are fine — they fall back
// per parameter — but hyperband without its resource parameter is not).
Result<std::unique_ptr<Sampler>> MakeSampler(std::string_view algorithm,
                                             const std::map<std::string, std::string>& settings,
                                             const SearchSpace& space, std::uint64_t default_seed);

// The names MakeSampler knows, in a stable order.
const std::vector<std::string>& SamplerNames();

}  // namespace ferry::tuning
