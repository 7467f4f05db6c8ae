#pragma once
// The factories MakeSampler dispatches to, one per algorithm (each in its
// own file), and helpers the samplers share. Each factory reads its
// settings from `settings` (MakeSampler calls Finish() afterwards) and
// refuses a space it cannot search, naming the parameter.
//
// Thread-safety: pure functions.
#include <cstdint>
#include <memory>
#include <random>
#include <unordered_set>
#include <vector>

#include "ferry/common/status.h"
#include "ferry/tuning/sampler.h"
#include "ferry/tuning/space.h"

namespace ferry::tuning::internal {

// random: settings random_state.
Result<std::unique_ptr<Sampler>> MakeRandomSampler(AlgorithmSettings& settings, const SearchSpace& space,
                                                   std::uint64_t seed);
// grid: every combination once, in a seeded shuffled order (as Optuna's
// GridSampler); a double needs a step. Settings random_state.
Result<std::unique_ptr<Sampler>> MakeGridSampler(AlgorithmSettings& settings, const SearchSpace& space,
                                                 std::uint64_t seed);
// sobol: scrambled Sobol' points (Owen-style scrambling, seeded).
Result<std::unique_ptr<Sampler>> MakeSobolSampler(AlgorithmSettings& settings, const SearchSpace& space,
                                                  std::uint64_t seed);
// tpe and multivariate-tpe (Optuna's TPESampler semantics).
Result<std::unique_ptr<Sampler>> MakeTpeSampler(AlgorithmSettings& settings, const SearchSpace& space,
                                                std::uint64_t seed, bool multivariate);
// cmaes with IPOP/BIPOP restarts.
Result<std::unique_ptr<Sampler>> MakeCmaEsSampler(AlgorithmSettings& settings, const SearchSpace& space,
                                                  std::uint64_t seed);
// bayesianoptimization: GP with a Matérn 5/2 kernel, expected improvement.
Result<std::unique_ptr<Sampler>> MakeGpSampler(AlgorithmSettings& settings, const SearchSpace& space,
                                               std::uint64_t seed);
// hyperband (Katib's): settings resource_name, eta, r_l.
Result<std::unique_ptr<Sampler>> MakeHyperbandSampler(AlgorithmSettings& settings, const SearchSpace& space,
                                                      std::uint64_t seed);

// The combinations of a finite space as mixed-radix codes, and which of
// them the trials of a history already hold — for grid search and random
// search without replacement. The set is brought up to date incrementally
// and rebuilt when a view is not an extension of the last one, so what it
// holds never depends on earlier calls. It refers to `space`, which must
// outlive it.
class CombinationSet {
 public:
  // total() == 0 when a parameter is continuous or there are more than
  // `limit` combinations.
  CombinationSet(const SearchSpace& space, std::int64_t limit);
  std::int64_t total() const { return total_; }
  // -1 when `params` is not a combination of the space.
  std::int64_t Encode(const std::vector<double>& params) const;
  void Decode(std::int64_t code, std::vector<double>& params) const;
  // Adds the combinations of the trials of `study` not yet seen.
  void Update(const StudyView& study);
  bool Taken(std::int64_t code) const { return taken_.count(code) != 0; }
  std::size_t taken_count() const { return taken_.size(); }

 private:
  std::int64_t IndexOf(std::size_t i, double v) const;
  double ValueAt(std::size_t i, std::int64_t k) const;

  const SearchSpace& space_;
  std::vector<std::int64_t> sizes_;
  std::int64_t total_ = 0;
  std::unordered_set<std::int64_t> taken_;
  std::size_t processed_ = 0;
  std::int64_t last_number_ = 0;
  std::vector<double> last_params_;
};

// A random feasible value of parameter i (drawn uniformly in internal
// coordinates, then snapped through FromInternal), for start-up trials and
// fall-backs.
double SampleUniform(const SearchSpace& space, std::size_t i, std::mt19937_64& rng);

}  // namespace ferry::tuning::internal
