// grid: every combination of every parameter's feasible values, each once
// (Katib's "grid", Optuna's GridSampler).
//
// Decisions the contract left open:
// - The grid of a parameter is its feasible set: an int's or stepped
//   double's min, min + step, ... up to max; a discrete or categorical
//   parameter's list. A double without a step (and so any log-scaled
//   double, which cannot have one) is refused, as in Katib. Distributions
//   do not matter: every value is visited once.
// - Order: Optuna shuffles the grid once per study; here position k of the
//   order is a keyed bijection of [0, N) (a 4-round Feistel network over
//   the next even power of two, cycle-walking back into range, keys from
//   TrialRng(seed, 0, kSalt)). It looks random and differs per seed but
//   needs no list of N entries, so N may reach kMaxCombinations cheaply. It
//   is not uniform over all N! orders, which a grid does not need.
// - The k-th trial (k = history size) takes the combination at position k,
//   or, when a trial in the history (any state: running trials are taken,
//   finished or failed ones are tried) already has those parameters, the
//   next free position after it, wrapping around. So trials enqueued by
//   hand and duplicates in the history are skipped, not repeated. Optuna
//   re-proposes still-running points once all have started; here that is
//   FailedPrecondition like any exhausted grid, since Katib's grid ends
//   when every combination was suggested.
//
// Per-Ask cost: amortised O(d) per trial added since the last Ask to update
// the hash set of taken combinations (O(n d) once for a fresh sampler), then
// O(1) expected Feistel evaluations; the scan past taken positions is
// bounded by the number of taken combinations.
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "ferry/tuning/samplers_internal.h"

namespace ferry::tuning::internal {
namespace {

constexpr std::uint64_t kSalt = 0x47524944;  // "GRID"
constexpr std::int64_t kMaxCombinations = 10'000'000;
constexpr int kFeistelRounds = 4;

std::uint64_t Mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// A keyed permutation of [0, n).
class ShuffledOrder {
 public:
  ShuffledOrder(std::uint64_t n, std::mt19937_64& rng) : n_(n) {
    int bits = 2;
    while (bits < 62 && (std::uint64_t{1} << bits) < n) ++bits;
    half_ = (bits + 1) / 2;  // rounding up keeps the domain below 4n
    mask_ = (std::uint64_t{1} << half_) - 1;
    for (std::uint64_t& k : keys_) k = rng();
  }

  std::uint64_t At(std::uint64_t position) const {
    // Cycle-walking: a permutation of the larger domain visits a value
    // below n again within a few steps on average (the domain is < 4n).
    std::uint64_t x = position;
    do {
      x = Encrypt(x);
    } while (x >= n_);
    return x;
  }

 private:
  std::uint64_t Encrypt(std::uint64_t x) const {
    std::uint64_t left = x >> half_;
    std::uint64_t right = x & mask_;
    for (std::uint64_t key : keys_) {
      const std::uint64_t next = left ^ (Mix(right ^ key) & mask_);
      left = right;
      right = next;
    }
    return (left << half_) | right;
  }

  std::uint64_t n_;
  int half_ = 1;
  std::uint64_t mask_ = 1;
  std::uint64_t keys_[kFeistelRounds] = {};
};

class GridSampler final : public Sampler {
 public:
  GridSampler(const SearchSpace& space, std::uint64_t seed)
      : space_(space), taken_(space_, kMaxCombinations), total_(taken_.total()), order_(Order(total_, seed)) {}

  Result<Suggestion> Ask(const StudyView& study) override {
    taken_.Update(study);
    if (static_cast<std::int64_t>(taken_.taken_count()) >= total_) {
      return FailedPrecondition("grid search has tried all " + std::to_string(total_) + " combinations");
    }
    const auto total = static_cast<std::uint64_t>(total_);
    const auto k = static_cast<std::uint64_t>(study.trials.size()) % total;
    Suggestion s;
    // Each taken code occupies one position, so this ends within
    // |taken| + 1 steps.
    for (std::uint64_t j = 0; j < total; ++j) {
      const auto code = static_cast<std::int64_t>(order_.At((k + j) % total));
      if (!taken_.Taken(code)) {
        taken_.Decode(code, s.params);
        return s;
      }
    }
    return Internal("grid search found no free combination");  // unreachable: |taken| < total
  }

 private:
  static ShuffledOrder Order(std::int64_t total, std::uint64_t seed) {
    std::mt19937_64 rng = TrialRng(seed, 0, kSalt);
    return ShuffledOrder(static_cast<std::uint64_t>(total), rng);
  }

  SearchSpace space_;
  CombinationSet taken_;  // codes of the trials' parameters (hand-made ones off the grid are not)
  std::int64_t total_;
  ShuffledOrder order_;
};

}  // namespace

Result<std::unique_ptr<Sampler>> MakeGridSampler(AlgorithmSettings&, const SearchSpace& space,
                                                 std::uint64_t seed) {
  std::int64_t total = 1;
  for (std::size_t i = 0; i < space.params.size(); ++i) {
    const ParamSpec& p = space.params[i];
    std::optional<std::int64_t> n = p.Cardinality();
    if (!n) {
      return InvalidArgument(
          "parameter " + p.name + ": grid needs a step for a double parameter" +
              (p.IsLog() ? " (a log-scaled double has none; list its values as discrete)" : ""),
          "spec.parameters[" + std::to_string(i) + "].feasibleSpace.step");
    }
    if (*n <= 0 || total > kMaxCombinations / *n) {
      return InvalidArgument("the grid has more than " + std::to_string(kMaxCombinations) +
                                 " combinations; use fewer values or another algorithm",
                             "spec.parameters");
    }
    total *= *n;
  }
  return std::unique_ptr<Sampler>(std::make_unique<GridSampler>(space, seed));
}

}  // namespace ferry::tuning::internal
