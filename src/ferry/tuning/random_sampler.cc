// random: independent draws per parameter (Katib's "random", Optuna's
// RandomSampler), and internal::SampleUniform, which the model-based samplers
// use for their start-up and fall-back draws.
//
// Decisions the contract left open:
// - uniform/logUniform: uniform over the internal range, so logUniform is
//   log-uniform and an int gets every value with the same chance (the range
//   is widened by half a step, see SearchSpace::InternalBounds).
// - normal/logNormal: a normal centred on the middle of the internal range
//   with sd = range / 6 (so min and max sit at +-3 sd), truncated by drawing
//   again up to kNormalTries times and then clamping. Katib hands these to
//   Hyperopt/Optuna as bounded ranges too; this keeps the bounds and still
//   prefers the middle as a normal prior would.
// - discrete/categorical: uniform over the entries, whatever the
//   distribution says.
// - Katib's random "performs sampling without replacement" when every
//   parameter is finite: a draw whose combination is already in the history
//   (any state: a running trial is taken, a failed one would fail again) is
//   drawn again up to kRedraws times; if all of those repeat, the first
//   unseen combination at or after a random mixed-radix index is taken.
//   Once every combination has been tried, draws may repeat.
// - All draws come from TrialRng(seed, trial number, kSalt) with our own
//   uniform/normal transforms (not <random>'s distributions, whose output
//   is implementation-defined), so suggestions survive a standard-library
//   change as well as a restart.
//
// Per-Ask cost: O(d) for the draw. For finite spaces the seen combinations
// live in a hash set that is updated only with the trials added since the
// last Ask (amortised O(d) per trial, O(n d) once for a fresh sampler); the
// fall-back scan, run only when kRedraws draws all repeat, is bounded by the
// number of seen combinations.
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <numbers>
#include <optional>
#include <unordered_set>
#include <utility>
#include <vector>

#include "ferry/tuning/samplers_internal.h"

namespace ferry::tuning::internal {
namespace {

constexpr std::uint64_t kSalt = 0x52414E44;  // "RAND"
constexpr int kNormalTries = 8;
constexpr int kRedraws = 16;
// Above this many combinations a repeat is too unlikely to be worth tracking.
constexpr std::int64_t kMaxTrackedCombinations = std::int64_t{1} << 52;

double Uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

double StandardNormal(std::mt19937_64& rng) {
  // Box-Muller; 1 - U keeps the log argument in (0, 1].
  const double u1 = 1.0 - Uniform01(rng);
  const double u2 = Uniform01(rng);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

bool IsNormal(const ParamSpec& p) {
  return (p.type == ParamType::kDouble || p.type == ParamType::kInt) &&
         (p.distribution == Distribution::kNormal || p.distribution == Distribution::kLogNormal);
}

double SampleNormal(const SearchSpace& space, std::size_t i, std::mt19937_64& rng) {
  const auto [lo, hi] = space.InternalBounds(i);
  const double mid = 0.5 * (lo + hi);
  const double sd = (hi - lo) / 6.0;
  double x = mid;
  for (int t = 0; t < kNormalTries; ++t) {
    x = mid + sd * StandardNormal(rng);
    if (x >= lo && x <= hi) break;
  }
  return space.FromInternal(i, x);
}

class RandomSampler final : public Sampler {
 public:
  RandomSampler(const SearchSpace& space, std::uint64_t seed)
      : space_(space), seed_(seed), combos_(space_, kMaxTrackedCombinations) {}

  Result<Suggestion> Ask(const StudyView& study) override {
    const auto number = static_cast<std::int64_t>(study.trials.size());
    std::mt19937_64 rng = TrialRng(seed_, number, kSalt);
    Suggestion s;
    Draw(rng, s.params);
    if (combos_.total() == 0) return s;
    combos_.Update(study);
    if (static_cast<std::int64_t>(combos_.taken_count()) >= combos_.total()) return s;
    for (int t = 0; t < kRedraws && combos_.Taken(combos_.Encode(s.params)); ++t) Draw(rng, s.params);
    if (!combos_.Taken(combos_.Encode(s.params))) return s;
    // Each step past a seen code lands on another seen code or an unseen
    // one, so this ends within |seen| + 1 steps.
    const auto total = static_cast<std::uint64_t>(combos_.total());
    const std::uint64_t start = rng() % total;
    for (std::uint64_t j = 0; j < total; ++j) {
      const auto code = static_cast<std::int64_t>((start + j) % total);
      if (!combos_.Taken(code)) {
        combos_.Decode(code, s.params);
        break;
      }
    }
    return s;
  }

 private:
  void Draw(std::mt19937_64& rng, std::vector<double>& params) const {
    params.resize(space_.params.size());
    for (std::size_t i = 0; i < params.size(); ++i) {
      params[i] = IsNormal(space_.params[i]) ? SampleNormal(space_, i, rng) : SampleUniform(space_, i, rng);
    }
  }

  SearchSpace space_;
  std::uint64_t seed_;
  CombinationSet combos_;
};

}  // namespace

double SampleUniform(const SearchSpace& space, std::size_t i, std::mt19937_64& rng) {
  const auto [lo, hi] = space.InternalBounds(i);
  return space.FromInternal(i, lo + (hi - lo) * Uniform01(rng));
}

Result<std::unique_ptr<Sampler>> MakeRandomSampler(AlgorithmSettings&, const SearchSpace& space,
                                                   std::uint64_t seed) {
  return std::unique_ptr<Sampler>(std::make_unique<RandomSampler>(space, seed));
}

}  // namespace ferry::tuning::internal
