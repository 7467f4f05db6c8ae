#pragma once
// The factories MakeSampler dispatches to, one per algorithm (each in its
// own file), and helpers the samplers share. Each factory reads its
// settings from `settings` (MakeSampler calls Finish() afterwards) and
// refuses a space it cannot search, naming the parameter.
//
// Thread-safety: pure functions.
#include <cstdint>
#include <memory>

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

// A random feasible value of parameter i (drawn uniformly in internal
// coordinates, then snapped through FromInternal), for start-up trials and
// fall-backs.
double SampleUniform(const SearchSpace& space, std::size_t i, std::mt19937_64& rng);

}  // namespace ferry::tuning::internal
