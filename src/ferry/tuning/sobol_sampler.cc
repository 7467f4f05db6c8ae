// sobol: a scrambled Sobol' sequence over the internal unit cube (Katib's
// "sobol", which hands it to scipy.stats.qmc.Sobol via Optuna's QMCSampler).
//
// Follows scipy.stats.qmc.Sobol(scramble=True): Joe & Kuo's direction
// numbers (new-joe-kuo-6.21201; dimension 1 is the van der Corput
// sequence), Matousek's linear matrix scramble (a random lower-triangular
// binary matrix with unit diagonal per dimension, applied to the direction
// numbers) plus a random digital shift, and the points in Gray-code order.
//
// Decisions the contract left open:
// - Point index = trial number (the history size), starting at 0: scipy
//   does not skip the first point of a scrambled sequence (skipping would
//   break the balance of the first 2^m points), so neither do we.
// - 32 bits per coordinate (scipy's default is 30): indices wrap after 2^32
//   trials, which no study reaches.
// - The scramble's bits come from TrialRng(seed, 0, kSalt), drawn once when
//   the sampler is made: the sequence is a function of the seed alone.
// - Coordinate u in [0, 1) maps linearly to the parameter's internal range
//   and through FromInternal, so logUniform is log-spaced and ints, steps,
//   lists and categories take equal shares of [0, 1). Normal and logNormal
//   are treated as their bounded range (a normal warp would lose the
//   space-filling that is the point of Sobol').
// - At most kMaxDimensions parameters (the 64 embedded table lines plus
//   dimension 1); more is InvalidArgument naming spec.parameters.
//
// Per-Ask cost: O(32 d) bit operations; the history is not read.
#include <bit>
#include <cstdint>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "ferry/tuning/samplers_internal.h"

namespace ferry::tuning::internal {
namespace {

constexpr std::uint64_t kSalt = 0x534F424F;  // "SOBO"
constexpr int kBits = 32;

struct DirectionLine {
  int degree;            // s: the primitive polynomial's degree
  std::uint32_t coeffs;  // a: its inner coefficients
  std::uint32_t m[9];    // m_1..m_s: the initial direction numbers
};

// Joe & Kuo, new-joe-kuo-6.21201, dimensions 2..65 (the d column is in the
// comments).
constexpr DirectionLine kJoeKuo[] = {
    {1, 0, {1}},                                    // 2
    {2, 1, {1, 3}},                                 // 3
    {3, 1, {1, 3, 1}},                              // 4
    {3, 2, {1, 1, 1}},                              // 5
    {4, 1, {1, 1, 3, 3}},                           // 6
    {4, 4, {1, 3, 5, 13}},                          // 7
    {5, 2, {1, 1, 5, 5, 17}},                       // 8
    {5, 4, {1, 1, 5, 5, 5}},                        // 9
    {5, 7, {1, 1, 7, 11, 19}},                      // 10
    {5, 11, {1, 1, 5, 1, 1}},                       // 11
    {5, 13, {1, 1, 1, 3, 11}},                      // 12
    {5, 14, {1, 3, 5, 5, 31}},                      // 13
    {6, 1, {1, 3, 3, 9, 7, 49}},                    // 14
    {6, 13, {1, 1, 1, 15, 21, 21}},                 // 15
    {6, 16, {1, 3, 1, 13, 27, 49}},                 // 16
    {6, 19, {1, 1, 1, 15, 7, 5}},                   // 17
    {6, 22, {1, 3, 1, 15, 13, 25}},                 // 18
    {6, 25, {1, 1, 5, 5, 19, 61}},                  // 19
    {7, 1, {1, 3, 7, 11, 23, 15, 103}},             // 20
    {7, 4, {1, 3, 7, 13, 13, 15, 69}},              // 21
    {7, 7, {1, 1, 3, 13, 7, 35, 63}},               // 22
    {7, 8, {1, 3, 5, 9, 1, 25, 53}},                // 23
    {7, 14, {1, 3, 1, 13, 9, 35, 107}},             // 24
    {7, 19, {1, 3, 1, 5, 27, 61, 31}},              // 25
    {7, 21, {1, 1, 5, 11, 19, 41, 61}},             // 26
    {7, 28, {1, 3, 5, 3, 3, 13, 69}},               // 27
    {7, 31, {1, 1, 7, 13, 1, 19, 1}},               // 28
    {7, 32, {1, 3, 7, 5, 13, 19, 59}},              // 29
    {7, 37, {1, 1, 3, 9, 25, 29, 41}},              // 30
    {7, 41, {1, 3, 5, 13, 23, 1, 55}},              // 31
    {7, 42, {1, 3, 7, 3, 13, 59, 17}},              // 32
    {7, 50, {1, 3, 1, 3, 5, 53, 69}},               // 33
    {7, 55, {1, 1, 5, 5, 23, 33, 13}},              // 34
    {7, 56, {1, 1, 7, 7, 1, 61, 123}},              // 35
    {7, 59, {1, 1, 7, 9, 13, 61, 49}},              // 36
    {7, 62, {1, 3, 3, 5, 3, 55, 33}},               // 37
    {8, 14, {1, 3, 1, 15, 31, 13, 49, 245}},        // 38
    {8, 21, {1, 3, 5, 15, 31, 59, 63, 97}},         // 39
    {8, 22, {1, 3, 1, 11, 11, 11, 77, 249}},        // 40
    {8, 38, {1, 3, 1, 11, 27, 43, 71, 9}},          // 41
    {8, 47, {1, 1, 7, 15, 21, 11, 81, 45}},         // 42
    {8, 49, {1, 3, 7, 3, 25, 31, 65, 79}},          // 43
    {8, 50, {1, 3, 1, 1, 19, 11, 3, 205}},          // 44
    {8, 52, {1, 1, 5, 9, 19, 21, 29, 157}},         // 45
    {8, 56, {1, 3, 7, 11, 1, 33, 89, 185}},         // 46
    {8, 67, {1, 3, 3, 3, 15, 9, 79, 71}},           // 47
    {8, 70, {1, 3, 7, 11, 15, 39, 119, 27}},        // 48
    {8, 84, {1, 1, 3, 1, 11, 31, 97, 225}},         // 49
    {8, 97, {1, 1, 1, 3, 23, 43, 57, 177}},         // 50
    {8, 103, {1, 3, 7, 7, 17, 17, 37, 71}},         // 51
    {8, 115, {1, 3, 1, 5, 27, 63, 123, 213}},       // 52
    {8, 122, {1, 1, 3, 5, 11, 43, 53, 133}},        // 53
    {9, 8, {1, 3, 5, 5, 29, 17, 47, 173, 479}},     // 54
    {9, 13, {1, 3, 3, 11, 3, 1, 109, 9, 69}},       // 55
    {9, 16, {1, 1, 1, 5, 17, 39, 23, 5, 343}},      // 56
    {9, 22, {1, 3, 1, 5, 25, 15, 31, 103, 499}},    // 57
    {9, 25, {1, 1, 1, 11, 11, 17, 63, 105, 183}},   // 58
    {9, 44, {1, 1, 5, 11, 9, 29, 97, 231, 363}},    // 59
    {9, 47, {1, 1, 5, 15, 19, 45, 41, 7, 383}},     // 60
    {9, 52, {1, 3, 7, 7, 31, 19, 83, 137, 221}},    // 61
    {9, 55, {1, 1, 1, 3, 23, 15, 111, 223, 83}},    // 62
    {9, 59, {1, 1, 5, 13, 31, 15, 55, 25, 161}},    // 63
    {9, 62, {1, 1, 3, 13, 25, 47, 39, 87, 257}},    // 64
    {9, 67, {1, 1, 1, 11, 21, 53, 125, 249, 293}},  // 65
};

constexpr std::size_t kMaxDimensions = 1 + std::size(kJoeKuo);

// The 32-bit direction numbers V[j] = m_{j+1} / 2^{j+1} of one dimension.
std::vector<std::uint32_t> DirectionNumbers(std::size_t dim) {
  std::vector<std::uint32_t> v(kBits);
  if (dim == 0) {
    for (int j = 0; j < kBits; ++j) v[j] = std::uint32_t{1} << (kBits - 1 - j);
    return v;
  }
  const DirectionLine& line = kJoeKuo[dim - 1];
  const int s = line.degree;
  for (int j = 0; j < kBits; ++j) {
    if (j < s) {
      v[j] = line.m[j] << (kBits - 1 - j);
      continue;
    }
    std::uint32_t x = v[j - s] ^ (v[j - s] >> s);
    for (int k = 1; k < s; ++k) {
      if ((line.coeffs >> (s - 1 - k)) & 1) x ^= v[j - k];
    }
    v[j] = x;
  }
  return v;
}

// Matousek's linear scramble: digit p of the result (p = 0 the most
// significant) is the parity of the direction number's digits 0..p under a
// random row with a 1 at p, as scipy's _cscramble computes it.
void LinearScramble(std::vector<std::uint32_t>& v, std::mt19937_64& rng) {
  std::uint32_t rows[kBits];
  for (int p = 0; p < kBits; ++p) {
    const std::uint32_t higher = p == 0 ? 0 : ~std::uint32_t{0} << (kBits - p);
    rows[p] = (static_cast<std::uint32_t>(rng()) & higher) | (std::uint32_t{1} << (kBits - 1 - p));
  }
  for (std::uint32_t& x : v) {
    std::uint32_t out = 0;
    for (int p = 0; p < kBits; ++p) {
      out |= static_cast<std::uint32_t>(std::popcount(rows[p] & x) & 1) << (kBits - 1 - p);
    }
    x = out;
  }
}

class SobolSampler final : public Sampler {
 public:
  SobolSampler(const SearchSpace& space, std::uint64_t seed) : space_(space) {
    std::mt19937_64 rng = TrialRng(seed, 0, kSalt);
    const std::size_t d = space_.params.size();
    directions_.resize(d);
    shifts_.resize(d);
    for (std::size_t i = 0; i < d; ++i) {
      directions_[i] = DirectionNumbers(i);
      LinearScramble(directions_[i], rng);
      shifts_[i] = static_cast<std::uint32_t>(rng());
    }
  }

  Result<Suggestion> Ask(const StudyView& study) override {
    const auto index = static_cast<std::uint32_t>(study.trials.size());
    const std::uint32_t gray = index ^ (index >> 1);
    Suggestion s;
    s.params.resize(space_.params.size());
    for (std::size_t i = 0; i < s.params.size(); ++i) {
      std::uint32_t x = shifts_[i];
      for (std::uint32_t g = gray; g != 0; g &= g - 1) x ^= directions_[i][std::countr_zero(g)];
      const double u = static_cast<double>(x) * 0x1.0p-32;
      const auto [lo, hi] = space_.InternalBounds(i);
      s.params[i] = space_.FromInternal(i, lo + (hi - lo) * u);
    }
    return s;
  }

 private:
  SearchSpace space_;
  std::vector<std::vector<std::uint32_t>> directions_;
  std::vector<std::uint32_t> shifts_;
};

}  // namespace

Result<std::unique_ptr<Sampler>> MakeSobolSampler(AlgorithmSettings&, const SearchSpace& space,
                                                  std::uint64_t seed) {
  if (space.params.size() > kMaxDimensions) {
    return InvalidArgument("sobol supports at most " + std::to_string(kMaxDimensions) + " parameters, not " +
                               std::to_string(space.params.size()),
                           "spec.parameters");
  }
  return std::unique_ptr<Sampler>(std::make_unique<SobolSampler>(space, seed));
}

}  // namespace ferry::tuning::internal
