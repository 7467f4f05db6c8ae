// Bayesian optimisation with a Gaussian process: Katib's "bayesianoptimization".
//
// The model and the acquisition follow Optuna's GPSampler
// (optuna/samplers/_gp/sampler.py, optuna/_gp/{gp,acqf,prior,optim_mixed,search_space}.py):
//   - Each parameter is one coordinate in [0, 1]: the internal coordinate (log applied),
//     scaled by its internal bounds, so ints and stepped doubles keep Optuna's half-step
//     margins. Categoricals stay choice indices and enter the kernel through the Hamming
//     distance.
//   - Losses are negated and standardised. The GP has a Matérn 5/2 ARD kernel times a kernel
//     scale, plus noise of at least 1e-6. Its hyperparameters (log inverse squared
//     lengthscales, log scale, log of the noise above the minimum) maximise the marginal
//     likelihood times Optuna's default_log_prior. They are found by L-BFGS from the previous
//     fit, or from all ones when there is none or it fails (fit_kernel_params).
//   - The acquisition is log EI (the stable form of Ament et al., "Unexpected Improvements to
//     Expected Improvement", 2023) against the best standardised value seen. Maximising it is
//     optimize_acqf_mixed: 2048 preliminary points; the best, 8 more drawn by roulette on
//     exp(acq - max) and the best trial start local searches. Each local search alternates
//     bounded L-BFGS on the continuous coordinates (scaled by the lengthscales) with a search
//     over each discrete coordinate: exhaustive for categoricals and up to 16 values.
//
// Decisions the contract left open:
//   - Settings (Katib's scikit-optimize names):
//       n_initial_points (>= 0, default 10): until that many trials (at least one) have
//         completed, suggestions come from a Latin hypercube over trial numbers
//         0..n_initial_points-1. In each dimension, trial t takes a stratum from a
//         permutation seeded by the study seed, so parallel workers cover the space without
//         repeating. Later trials in this phase (after failures) are uniform.
//       acq_func: ei/EI (default), gp_hedge, pi/PI, lcb/LCB. gp_hedge is log EI. skopt's
//         hedge is a random bandit over EI, PI and LCB, and Optuna (which we follow) has
//         only EI; log EI is also Katib's usual choice. pi is log PI. lcb is skopt's
//         mean - 1.96 sigma on the loss. EIps and PIps (per-second) are refused.
//       base_estimator: only GP; RF/ET/GBRT are refused.
//       acq_optimizer: auto and lbfgs run the mixed local search above; sampling keeps the
//         best preliminary point (skopt's meaning: no gradient polishing).
//       random_state: the study seed (SeedFrom).
//   - A discrete parameter (a list of numbers) is ordinal: its coordinate is the value (log
//     when its distribution is log), not its position in the list, and initial and
//     preliminary points pick its values uniformly. normal and logNormal are the bounded
//     ranges (uniform and log-uniform), as Katib's skopt does.
//   - Running trials use the kriging believer (Ginsbourger et al., "Kriging is well-suited to
//     parallelize optimization", 2010; Optuna's LogPI). The GP mean at each running point is
//     added as an observation. That leaves the mean unchanged and collapses the variance
//     there, so parallel asks spread out. Only the 64 newest running trials count. Failed and
//     pruned trials and non-finite values are ignored, as in Optuna.
//   - Cost bounds. At most 300 completed trials are modelled: the 150 best, plus 150 spread
//     evenly over the rest in trial order, the newest included. The hyperparameters are fitted
//     on at most 200 of those, thinned the same way. They are refitted when the completed
//     count has grown by max(1, n/20) since the last fit. Between refits the fit is reused.
//     Optuna refits every trial on every point.
//   - Purity. Every suggestion records its hyperparameters in attrs (gp:kernel, raw values
//     printed exactly, and gp:fit_n, the completed count of the fit). The next Ask reuses or
//     warm-starts from the newest such record, so the answer depends only on (seed, settings,
//     history). All arithmetic runs in a fixed order on the same data. The in-memory cache
//     only skips a refit whose inputs are bit-identical.
//   - Deviations from Optuna, for speed or to avoid dependencies:
//       preliminary points are a Latin hypercube (stratified in every dimension), not
//         scrambled Sobol;
//       bounded L-BFGS is a projected L-BFGS (free variables only, Armijo backtracking
//         along the projected path), not L-BFGS-B;
//       discrete parameters with more than 16 values get a galloping search on the index
//         (out while it improves, then halving steps), not Brent's method on the
//         interpolant. Both are local searches using O(log n) evaluations.
//   - Failures. A kernel matrix that Cholesky rejects is retried with growing jitter, then
//     with the default hyperparameters. If that fails too, the suggestion is uniformly
//     random.
//
// Per-Ask cost, with N trials in the history, n <= 364 modelled points (300 completed plus
// 64 running), d coordinates and m = 2048 preliminary points:
//   - O(N d) to read the history, plus O(N log N) to choose the model set when N > 300;
//   - O(n^3 / 6) to factorise the kernel matrix;
//   - O(m n (n / 2 + d)) to screen the preliminary points, vectorised across points;
//   - O(n^2) per local-search evaluation;
//   - when a refit is due (every n/20 completed trials), O(f^3 / 2 + f^2 d) per L-BFGS
//     iteration, f <= 200 fitted points; warm-started fits take about 10 iterations.
// The dense kernels are hand-written loops over Eigen storage rather than Eigen
// expressions. In the debug build the tests use, Eigen's triangular solve runs about 5x
// slower than these loops. The loops also keep every sum in one fixed order, and the
// inner ones are contiguous updates that GCC vectorises at -O2/-O3.
#include <Eigen/Dense>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <numbers>
#include <numeric>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ferry/tuning/samplers_internal.h"

namespace ferry::tuning::internal {
namespace {

using Index = Eigen::Index;

constexpr double kMinimumNoise = 1e-6;        // prior.DEFAULT_MINIMUM_NOISE_VAR
constexpr double kStabilizingNoise = 1e-12;   // acqf stabilizing_noise
constexpr double kStandardizeEps = 1e-10;     // sampler.EPS
constexpr Index kPreliminaryPoints = 2048;    // n_preliminary_samples
constexpr Index kScreenBlock = 64;            // points per PredictBatch: count x n doubles fit in L2
constexpr int kLocalSearches = 10;            // n_local_search
constexpr double kLocalSearchTol = 1e-4;      // tol
constexpr int kLocalSearchRounds = 100;       // local_search_mixed max_iter
constexpr int kAcqLbfgsIterations = 200;      // fmin_l_bfgs_b maxiter
constexpr double kFitGradientTol = 1e-2;      // fit_kernel_params gtol
constexpr int kFitIterations = 200;
constexpr std::int64_t kMaxExhaustive = 16;   // MAX_INT_EXHAUSTIVE_SEARCH_PARAMS
constexpr std::size_t kMaxModelPoints = 300;
constexpr std::size_t kMaxFitPoints = 200;
constexpr std::size_t kMaxRunningPoints = 64;
constexpr std::int64_t kMaxStratifiedStart = 4096;
constexpr double kLcbKappa = 1.96;            // skopt's default kappa
constexpr double kRawBound = 25;              // keeps exp(raw hyperparameter) finite

// TrialRng salts: one stream per purpose so adding draws to one does not shift another.
constexpr std::uint64_t kSaltStrataPermutation = 0x67701;
constexpr std::uint64_t kSaltStratumJitter = 0x67702;
constexpr std::uint64_t kSaltUniformStart = 0x67703;
constexpr std::uint64_t kSaltAcquisition = 0x67704;

constexpr char kKernelAttr[] = "gp:kernel";
constexpr char kFitCountAttr[] = "gp:fit_n";

double Uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// ------------------------------------------------------------------ coordinates

enum class DimKind { kContinuous, kGrid, kList, kCategorical };

// One searched parameter and how its values map to the GP coordinate.
struct Dim {
  std::size_t param = 0;
  DimKind kind = DimKind::kContinuous;
  double lo = 0, hi = 1;       // continuous, grid: the internal bounds
  double min = 0, step = 0;    // grid: value k is min + k * step
  bool log = false;            // grid: the internal coordinate is log(value)
  std::int64_t count = 0;      // grid, list, categorical: number of feasible values
  std::vector<double> positions;   // list: ascending coordinates of the values
  std::vector<std::size_t> order;  // list: ParamSpec::values index of each position
  std::vector<std::size_t> rank;   // list: position of each ParamSpec::values index
};

bool IsDiscrete(const Dim& dim) { return dim.kind != DimKind::kContinuous; }

double GridPosition(const Dim& dim, std::int64_t k) {
  const double v = dim.min + static_cast<double>(k) * dim.step;
  const double internal = dim.log ? std::log(v) : v;
  return (internal - dim.lo) / (dim.hi - dim.lo);
}

std::int64_t GridIndex(const Dim& dim, double u) {
  const double internal = dim.lo + std::clamp(u, 0.0, 1.0) * (dim.hi - dim.lo);
  const double v = dim.log ? std::exp(internal) : internal;
  const double k = std::round((v - dim.min) / dim.step);
  return static_cast<std::int64_t>(std::clamp(k, 0.0, static_cast<double>(dim.count - 1)));
}

// The coordinate of choice k of a discrete dimension.
double ChoicePosition(const Dim& dim, std::int64_t k) {
  switch (dim.kind) {
    case DimKind::kGrid: return GridPosition(dim, k);
    case DimKind::kList: return dim.positions[static_cast<std::size_t>(k)];
    case DimKind::kCategorical: return static_cast<double>(k);
    case DimKind::kContinuous: break;
  }
  return 0;
}

// The choice nearest to coordinate u of a discrete dimension.
std::int64_t ChoiceIndex(const Dim& dim, double u) {
  switch (dim.kind) {
    case DimKind::kGrid: return GridIndex(dim, u);
    case DimKind::kList: {
      auto it = std::lower_bound(dim.positions.begin(), dim.positions.end(), u);
      if (it == dim.positions.end()) return dim.count - 1;
      std::int64_t k = it - dim.positions.begin();
      if (k > 0 && u - dim.positions[k - 1] < *it - u) --k;
      return k;
    }
    case DimKind::kCategorical:
      return static_cast<std::int64_t>(std::clamp(std::round(u), 0.0, static_cast<double>(dim.count - 1)));
    case DimKind::kContinuous: break;
  }
  return 0;
}

// The GP's view of a SearchSpace: one Dim per parameter with more than one feasible value
// (Optuna likewise leaves single-valued distributions out of the relative search space).
class Encoding {
 public:
  explicit Encoding(const SearchSpace& space) : space_(space) {
    for (std::size_t i = 0; i < space.params.size(); ++i) {
      const ParamSpec& p = space.params[i];
      auto [lo, hi] = space.InternalBounds(i);
      Dim dim;
      dim.param = i;
      switch (p.type) {
        case ParamType::kCategorical:
          dim.kind = DimKind::kCategorical;
          dim.count = static_cast<std::int64_t>(p.choices.size());
          break;
        case ParamType::kDiscrete: {
          dim.kind = DimKind::kList;
          dim.count = static_cast<std::int64_t>(p.values.size());
          if (dim.count < 2) break;
          dim.order.resize(p.values.size());
          std::iota(dim.order.begin(), dim.order.end(), std::size_t{0});
          std::sort(dim.order.begin(), dim.order.end(),
                    [&](std::size_t a, std::size_t b) { return p.values[a] < p.values[b]; });
          auto coord = [&](double v) { return p.IsLog() ? std::log(v) : v; };
          const double first = coord(p.values[dim.order.front()]);
          const double last = coord(p.values[dim.order.back()]);
          dim.rank.resize(p.values.size());
          for (std::size_t r = 0; r < dim.order.size(); ++r) {
            dim.positions.push_back((coord(p.values[dim.order[r]]) - first) / (last - first));
            dim.rank[dim.order[r]] = r;
          }
          break;
        }
        case ParamType::kInt:
        case ParamType::kDouble: {
          const std::optional<std::int64_t> card = p.Cardinality();
          dim.lo = lo;
          dim.hi = hi;
          if (card) {
            dim.kind = DimKind::kGrid;
            dim.count = *card;
            dim.min = p.min;
            dim.step = p.type == ParamType::kInt && p.step <= 0 ? 1 : p.step;
            dim.log = p.IsLog();
          } else {
            dim.kind = DimKind::kContinuous;
            dim.count = hi > lo ? 2 : 1;  // a continuous range is searched unless it is a point
          }
          break;
        }
      }
      if (dim.count >= 2) dims_.push_back(std::move(dim));
    }
  }

  const std::vector<Dim>& dims() const { return dims_; }
  Index size() const { return static_cast<Index>(dims_.size()); }

  // The coordinate of a feasible (or nearly feasible) value; nullopt when not finite.
  std::optional<double> Encode(const Dim& dim, double value) const {
    if (!std::isfinite(value)) return std::nullopt;
    switch (dim.kind) {
      case DimKind::kContinuous: {
        const double internal = space_.ToInternal(dim.param, value);
        return std::clamp((internal - dim.lo) / (dim.hi - dim.lo), 0.0, 1.0);
      }
      case DimKind::kGrid: {
        const double k = std::round((value - dim.min) / dim.step);
        return GridPosition(dim, static_cast<std::int64_t>(std::clamp(k, 0.0, static_cast<double>(dim.count - 1))));
      }
      case DimKind::kList: {
        const auto idx = static_cast<std::size_t>(space_.ToInternal(dim.param, value));
        return dim.positions[dim.rank[idx]];
      }
      case DimKind::kCategorical:
        return std::clamp(std::round(value), 0.0, static_cast<double>(dim.count - 1));
    }
    return std::nullopt;
  }

  // Maps u in [0, 1) to a coordinate the dimension can take: continuous ones keep it,
  // grids round to the nearest value (uniform in the internal scale, as Optuna's
  // sample_normalized_params), lists and categoricals pick a value uniformly.
  double FromUnit(const Dim& dim, double u) const {
    switch (dim.kind) {
      case DimKind::kContinuous: return u;
      case DimKind::kGrid: return GridPosition(dim, GridIndex(dim, u));
      case DimKind::kList:
      case DimKind::kCategorical: {
        const auto k = std::min(dim.count - 1, static_cast<std::int64_t>(u * static_cast<double>(dim.count)));
        return ChoicePosition(dim, k);
      }
    }
    return u;
  }

  // The feasible parameter values of a point, through SearchSpace::FromInternal.
  std::vector<double> Decode(const std::vector<double>& x) const {
    std::vector<double> params(space_.params.size());
    for (std::size_t i = 0; i < params.size(); ++i) {
      auto [lo, hi] = space_.InternalBounds(i);
      params[i] = space_.FromInternal(i, 0.5 * (lo + hi));  // single-valued parameters
    }
    for (std::size_t j = 0; j < dims_.size(); ++j) {
      const Dim& dim = dims_[j];
      double internal = 0;
      switch (dim.kind) {
        case DimKind::kContinuous: internal = dim.lo + std::clamp(x[j], 0.0, 1.0) * (dim.hi - dim.lo); break;
        case DimKind::kGrid: {
          const double v = dim.min + static_cast<double>(GridIndex(dim, x[j])) * dim.step;
          internal = dim.log ? std::log(v) : v;
          break;
        }
        case DimKind::kList: internal = static_cast<double>(dim.order[ChoiceIndex(dim, x[j])]); break;
        case DimKind::kCategorical: internal = static_cast<double>(ChoiceIndex(dim, x[j])); break;
      }
      params[dim.param] = space_.FromInternal(dim.param, internal);
    }
    return params;
  }

 private:
  const SearchSpace& space_;
  std::vector<Dim> dims_;
};

// ------------------------------------------------------------------ dense linear algebra
//
// Column-major matrices; only the lower triangle of a factor is read.

// In-place Cholesky factorisation of the leading n x n block, right-looking in panels of
// four columns: each trailing column is updated by a whole panel in one contiguous pass,
// a quarter of the memory traffic of a column at a time. False when the block is not
// positive definite.
bool CholeskyInPlace(Eigen::MatrixXd& a, Index n) {
  const Index ld = a.rows();
  double* p = a.data();
  for (Index j0 = 0; j0 < n; j0 += 4) {
    const Index j1 = std::min(j0 + 4, n);
    for (Index j = j0; j < j1; ++j) {
      double* col_j = p + j * ld;
      for (Index q = j0; q < j; ++q) {
        const double* col_q = p + q * ld;
        const double l_jq = col_q[j];
        for (Index i = j; i < n; ++i) col_j[i] -= l_jq * col_q[i];
      }
      const double diag = col_j[j];
      if (!(diag > 0) || !std::isfinite(diag)) return false;
      const double l_jj = std::sqrt(diag);
      col_j[j] = l_jj;
      for (Index i = j + 1; i < n; ++i) col_j[i] /= l_jj;
    }
    const double* c0 = p + j0 * ld;
    for (Index k = j1; k < n; ++k) {
      double* col_k = p + k * ld;
      if (j1 - j0 == 4) {
        const double* c1 = c0 + ld;
        const double* c2 = c1 + ld;
        const double* c3 = c2 + ld;
        const double l0 = c0[k], l1 = c1[k], l2 = c2[k], l3 = c3[k];
        for (Index i = k; i < n; ++i) col_k[i] -= (l0 * c0[i] + l1 * c1[i]) + (l2 * c2[i] + l3 * c3[i]);
      } else {
        for (Index q = j0; q < j1; ++q) {
          const double* col_q = p + q * ld;
          const double l_kq = col_q[k];
          for (Index i = k; i < n; ++i) col_k[i] -= l_kq * col_q[i];
        }
      }
    }
  }
  return true;
}

// Solves L v = b in place, L the leading n x n block of `l`.
void ForwardSolve(const Eigen::MatrixXd& l, Index n, double* v) {
  const Index ld = l.rows();
  const double* p = l.data();
  for (Index j = 0; j < n; ++j) {
    const double* col = p + j * ld;
    const double vj = v[j] / col[j];
    v[j] = vj;
    for (Index i = j + 1; i < n; ++i) v[i] -= col[i] * vj;
  }
}

// Solves L^T v = b in place.
void BackSolveTransposed(const Eigen::MatrixXd& l, Index n, double* v) {
  const Index ld = l.rows();
  const double* p = l.data();
  for (Index j = n - 1; j >= 0; --j) {
    const double* col = p + j * ld;
    double s = v[j];
    for (Index i = j + 1; i < n; ++i) s -= col[i] * v[i];
    v[j] = s / col[j];
  }
}

// Matérn 5/2 of the scaled squared distance r2, and its derivative with respect to r2
// (Optuna's Matern52Kernel, whose backward pass is taken w.r.t. the squared distance).
inline void Matern52(double r2, double* value, double* deriv) {
  const double s = std::sqrt(5.0 * r2);
  const double e = std::exp(-s);
  *value = (1.0 + s + (5.0 / 3.0) * r2) * e;
  *deriv = (-5.0 / 6.0) * (1.0 + s) * e;
}

inline double Matern52Value(double r2) {
  const double s = std::sqrt(5.0 * r2);
  return (1.0 + s + (5.0 / 3.0) * r2) * std::exp(-s);
}

// ------------------------------------------------------------------ box-constrained L-BFGS

struct BoxMinimum {
  std::vector<double> x;
  double f = 0;
  int iterations = 0;
};

// Minimises fn(x, grad) -> value over lo <= x <= hi (bounds may be infinite) from x0: a
// projected L-BFGS (memory 10) on the variables not held at a bound by their gradient,
// with Armijo backtracking along the projected path. It stops when the projected gradient's
// largest component is at most pgtol, after max_iter iterations, or when the relative
// decrease falls below scipy's default factr (1e7 * machine epsilon). A non-finite value
// counts as a failed step.
template <typename Fn>
BoxMinimum MinimizeInBox(Fn&& fn, std::vector<double> x0, const std::vector<double>& lo,
                         const std::vector<double>& hi, double pgtol, int max_iter) {
  constexpr std::size_t kMemory = 10;
  constexpr double kArmijo = 1e-4;
  constexpr double kFactr = 1e7 * std::numeric_limits<double>::epsilon();
  const std::size_t n = x0.size();
  BoxMinimum out;
  out.x = std::move(x0);
  for (std::size_t k = 0; k < n; ++k) out.x[k] = std::clamp(out.x[k], lo[k], hi[k]);
  std::vector<double> g(n), gn(n), xn(n), d(n), q(n), alpha(kMemory);
  std::vector<char> is_free(n);
  out.f = fn(out.x, g);
  if (!std::isfinite(out.f)) return out;
  std::vector<std::vector<double>> s_mem, y_mem;  // oldest first
  std::vector<double> rho_mem;
  auto dot = [n](const std::vector<double>& a, const std::vector<double>& b) {
    double s = 0;
    for (std::size_t k = 0; k < n; ++k) s += a[k] * b[k];
    return s;
  };
  for (int it = 0; it < max_iter; ++it) {
    double pg = 0;
    for (std::size_t k = 0; k < n; ++k) {
      is_free[k] = !((out.x[k] <= lo[k] && g[k] > 0) || (out.x[k] >= hi[k] && g[k] < 0));
      if (is_free[k]) pg = std::max(pg, std::abs(g[k]));
    }
    if (pg <= pgtol) break;
    // Two-loop recursion restricted to the free variables.
    for (std::size_t k = 0; k < n; ++k) q[k] = is_free[k] ? g[k] : 0.0;
    const std::size_t m = s_mem.size();
    for (std::size_t i = m; i-- > 0;) {
      alpha[i] = rho_mem[i] * dot(s_mem[i], q);
      for (std::size_t k = 0; k < n; ++k) q[k] -= alpha[i] * y_mem[i][k];
    }
    const double gamma = m > 0 ? 1.0 / (rho_mem[m - 1] * dot(y_mem[m - 1], y_mem[m - 1])) : 1.0;
    for (std::size_t k = 0; k < n; ++k) q[k] = is_free[k] ? gamma * q[k] : 0.0;
    for (std::size_t i = 0; i < m; ++i) {
      const double beta = rho_mem[i] * dot(y_mem[i], q);
      for (std::size_t k = 0; k < n; ++k) q[k] += s_mem[i][k] * (alpha[i] - beta);
    }
    for (std::size_t k = 0; k < n; ++k) d[k] = is_free[k] ? -q[k] : 0.0;
    double dg = dot(d, g);
    if (!(dg < 0)) {  // not a descent direction: restart from steepest descent
      for (std::size_t k = 0; k < n; ++k) d[k] = is_free[k] ? -g[k] : 0.0;
      s_mem.clear();
      y_mem.clear();
      rho_mem.clear();
    }
    double step = 1;
    if (s_mem.empty()) {
      double dmax = 0;
      for (std::size_t k = 0; k < n; ++k) dmax = std::max(dmax, std::abs(d[k]));
      step = std::min(1.0, 1.0 / dmax);
    }
    bool accepted = false;
    double fn_new = 0;
    for (int ls = 0; ls < 40; ++ls) {
      bool moved = false;
      double decrease = 0;
      for (std::size_t k = 0; k < n; ++k) {
        xn[k] = std::clamp(out.x[k] + step * d[k], lo[k], hi[k]);
        moved = moved || xn[k] != out.x[k];
        decrease += g[k] * (xn[k] - out.x[k]);
      }
      if (!moved) break;
      fn_new = fn(xn, gn);
      if (std::isfinite(fn_new) && fn_new <= out.f + kArmijo * decrease) {
        accepted = true;
        break;
      }
      step *= 0.5;
    }
    if (!accepted) break;
    std::vector<double> s(n), y(n);
    for (std::size_t k = 0; k < n; ++k) {
      s[k] = xn[k] - out.x[k];
      y[k] = gn[k] - g[k];
    }
    const double sy = dot(s, y);
    if (sy > 1e-10) {
      if (s_mem.size() == kMemory) {
        s_mem.erase(s_mem.begin());
        y_mem.erase(y_mem.begin());
        rho_mem.erase(rho_mem.begin());
      }
      s_mem.push_back(std::move(s));
      y_mem.push_back(std::move(y));
      rho_mem.push_back(1.0 / sy);
    }
    const double relative = (out.f - fn_new) / std::max({std::abs(out.f), std::abs(fn_new), 1.0});
    out.x.swap(xn);
    g.swap(gn);
    out.f = fn_new;
    ++out.iterations;
    if (relative <= kFactr) break;
  }
  return out;
}

// ------------------------------------------------------------------ kernel hyperparameters

// Raw hyperparameters, as Optuna optimises them: log inverse squared lengthscale per
// coordinate, log kernel scale, log(noise variance - kMinimumNoise).
std::vector<double> DefaultRawParams(Index d) {
  std::vector<double> raw(static_cast<std::size_t>(d + 2), 0.0);
  raw.back() = std::log(1.0 - 0.99 * kMinimumNoise);  // noise 1, as Optuna's initial guess
  return raw;
}

// The negative log marginal likelihood minus Optuna's default_log_prior, and its gradient
// in the raw parameters:
//   prior = -sum(0.1 / isl + 0.1 * isl) + Gamma(2, 1)(scale) + Gamma(1.1, 30)(noise).
class KernelObjective {
 public:
  KernelObjective(const Eigen::MatrixXd& x, const Eigen::VectorXd& y, const std::vector<char>& categorical)
      : n_(x.rows()), d_(x.cols()), pairs_(n_ * (n_ - 1) / 2), y_(y) {
    // Squared per-coordinate distances of every pair (i > j), coordinate-major so the
    // weighted sum over coordinates is a contiguous update.
    d2_.resize(static_cast<std::size_t>(d_ * pairs_));
    for (Index k = 0; k < d_; ++k) {
      const double* xk = x.data() + k * n_;
      double* out = d2_.data() + k * pairs_;
      for (Index i = 1; i < n_; ++i) {
        for (Index j = 0; j < i; ++j) {
          const double diff = xk[i] - xk[j];
          *out++ = categorical[static_cast<std::size_t>(k)] ? (diff != 0 ? 1.0 : 0.0) : diff * diff;
        }
      }
    }
    r_.resize(static_cast<std::size_t>(pairs_));
    m_.resize(static_cast<std::size_t>(pairs_));
    dm_.resize(static_cast<std::size_t>(pairs_));
    s_.resize(static_cast<std::size_t>(pairs_));
    c_.resize(n_, n_);
    minv_.resize(static_cast<std::size_t>(n_ * (n_ + 1) / 2));
    cinv_.resize(static_cast<std::size_t>(n_ * (n_ + 1) / 2));
    alpha_.resize(n_);
  }

  double operator()(const std::vector<double>& raw, std::vector<double>& grad) {
    const double inf = std::numeric_limits<double>::infinity();
    std::vector<double> isl(static_cast<std::size_t>(d_));
    for (Index k = 0; k < d_; ++k) isl[k] = std::exp(raw[k]);
    const double scale = std::exp(raw[d_]);
    const double noise_excess = std::exp(raw[d_ + 1]);
    const double noise = noise_excess + kMinimumNoise;

    double* r = r_.data();
    std::fill(r_.begin(), r_.end(), 0.0);
    for (Index k = 0; k < d_; ++k) {
      const double w = isl[k];
      const double* dk = d2_.data() + k * pairs_;
      for (Index p = 0; p < pairs_; ++p) r[p] += w * dk[p];
    }
    for (Index p = 0; p < pairs_; ++p) Matern52(r[p], &m_[p], &dm_[p]);

    double* c = c_.data();
    for (Index j = 0; j < n_; ++j) c[j * n_ + j] = scale + noise;
    for (Index i = 1, p = 0; i < n_; ++i) {
      for (Index j = 0; j < i; ++j, ++p) c[j * n_ + i] = scale * m_[p];
    }
    if (!CholeskyInPlace(c_, n_)) return inf;

    double* alpha = alpha_.data();
    for (Index i = 0; i < n_; ++i) alpha[i] = y_[i];
    ForwardSolve(c_, n_, alpha);
    double quad = 0;
    for (Index i = 0; i < n_; ++i) quad += alpha[i] * alpha[i];
    BackSolveTransposed(c_, n_, alpha);
    double log_det_half = 0;
    for (Index i = 0; i < n_; ++i) log_det_half += std::log(c[i * n_ + i]);

    // W = alpha alpha^T - C^-1; the gradient of the log likelihood is 0.5 tr(W dC). M = L^-1
    // and C^-1 = M^T M are built in packed row-major lower triangles (row i starts at
    // i (i + 1) / 2) by contiguous row updates.
    double* minv = minv_.data();
    for (Index i = 0; i < n_; ++i) {
      double* row_i = minv + i * (i + 1) / 2;
      std::fill(row_i, row_i + i + 1, 0.0);
      row_i[i] = 1.0;
      for (Index k = 0; k < i; ++k) {  // row_i -= L(i, k) * row_k
        const double l_ik = c[k * n_ + i];
        const double* row_k = minv + k * (k + 1) / 2;
        for (Index j = 0; j <= k; ++j) row_i[j] -= l_ik * row_k[j];
      }
      const double l_ii = c[i * n_ + i];
      for (Index j = 0; j <= i; ++j) row_i[j] /= l_ii;
    }
    double* cinv = cinv_.data();
    std::fill(cinv_.begin(), cinv_.end(), 0.0);
    for (Index k = 0; k < n_; ++k) {  // C^-1 += M(k, :)^T M(k, :)
      const double* row_k = minv + k * (k + 1) / 2;
      for (Index a = 0; a <= k; ++a) {
        const double w = row_k[a];
        double* out = cinv + a * (a + 1) / 2;
        for (Index b = 0; b <= a; ++b) out[b] += w * row_k[b];
      }
    }
    double trace_w = 0, sum_wm = 0;
    double* s = s_.data();
    for (Index i = 0; i < n_; ++i) {
      const double* cinv_i = cinv + i * (i + 1) / 2;
      trace_w += alpha[i] * alpha[i] - cinv_i[i];
      const Index row = i * (i - 1) / 2;
      for (Index j = 0; j < i; ++j) {
        const double w = alpha[i] * alpha[j] - cinv_i[j];
        sum_wm += w * m_[row + j];
        s[row + j] = w * dm_[row + j];
      }
    }

    double log_prior = std::log(scale) - scale + 0.1 * std::log(noise) - 30.0 * noise;
    grad.assign(static_cast<std::size_t>(d_ + 2), 0.0);
    for (Index k = 0; k < d_; ++k) {
      const double* dk = d2_.data() + k * pairs_;
      double acc = 0;
      for (Index p = 0; p < pairs_; ++p) acc += s[p] * dk[p];
      log_prior -= 0.1 / isl[k] + 0.1 * isl[k];
      grad[k] = -scale * isl[k] * acc - (0.1 / isl[k] - 0.1 * isl[k]);
    }
    grad[d_] = -0.5 * scale * (2.0 * sum_wm + trace_w) - (1.0 - scale);
    grad[d_ + 1] = -0.5 * trace_w * noise_excess - (0.1 / noise - 30.0) * noise_excess;
    const double nll = 0.5 * quad + log_det_half + 0.5 * static_cast<double>(n_) * std::log(2.0 * std::numbers::pi);
    return nll - log_prior;
  }

 private:
  Index n_, d_, pairs_;
  const Eigen::VectorXd& y_;
  std::vector<double> d2_, r_, m_, dm_, s_, minv_, cinv_;
  Eigen::MatrixXd c_;
  Eigen::VectorXd alpha_;
};

// Optuna's fit_kernel_params: from `start`, then from the defaults if that fails; the
// defaults themselves when both fail.
std::vector<double> FitKernel(const Eigen::MatrixXd& x, const Eigen::VectorXd& y, const std::vector<char>& categorical,
                              const std::vector<double>& start) {
  KernelObjective objective(x, y, categorical);
  const std::size_t p = start.size();
  const std::vector<double> lo(p, -kRawBound), hi(p, kRawBound);
  BoxMinimum fit = MinimizeInBox(objective, start, lo, hi, kFitGradientTol, kFitIterations);
  if (std::isfinite(fit.f)) return std::move(fit.x);
  std::vector<double> defaults = DefaultRawParams(x.cols());
  fit = MinimizeInBox(objective, defaults, lo, hi, kFitGradientTol, kFitIterations);
  return std::isfinite(fit.f) ? std::move(fit.x) : defaults;
}

// ------------------------------------------------------------------ the GP posterior

struct KernelParams {
  std::vector<double> isl;  // inverse squared lengthscales
  double scale = 1;
  double noise = 1;
};

KernelParams FromRaw(const std::vector<double>& raw) {
  KernelParams k;
  const std::size_t d = raw.size() - 2;
  k.isl.resize(d);
  for (std::size_t i = 0; i < d; ++i) k.isl[i] = std::exp(raw[i]);
  k.scale = std::exp(raw[d]);
  k.noise = std::exp(raw[d + 1]) + kMinimumNoise;
  return k;
}

// Reused buffers of one prediction.
struct PredictScratch {
  std::vector<double> r, k, v, w;
};

// The posterior of the GP given completed points (standardised values) and running points
// (believed at their posterior mean).
class Posterior {
 public:
  // Rows of `x`: the completed points, then the running ones. False when the kernel matrix
  // cannot be factorised even with jitter.
  bool Build(Eigen::MatrixXd x, Index completed, const Eigen::VectorXd& y, const std::vector<char>& categorical,
             const KernelParams& params) {
    x_ = std::move(x);
    n_ = x_.rows();
    d_ = x_.cols();
    categorical_ = categorical;
    params_ = params;
    const double* isl = params_.isl.data();
    for (double jitter : {0.0, 1e-8, 1e-6, 1e-4}) {
      l_.resize(n_, n_);
      double* c = l_.data();
      std::vector<double> r(static_cast<std::size_t>(n_));
      for (Index j = 0; j < n_; ++j) {
        std::fill(r.begin(), r.end(), 0.0);
        for (Index k = 0; k < d_; ++k) {
          const double* xk = x_.data() + k * n_;
          const double xjk = xk[j];
          const double w = isl[k];
          if (categorical_[static_cast<std::size_t>(k)]) {
            for (Index i = j + 1; i < n_; ++i) r[i] += xk[i] != xjk ? w : 0.0;
          } else {
            for (Index i = j + 1; i < n_; ++i) r[i] += w * (xk[i] - xjk) * (xk[i] - xjk);
          }
        }
        c[j * n_ + j] = params_.scale + params_.noise + jitter * params_.scale;
        for (Index i = j + 1; i < n_; ++i) c[j * n_ + i] = params_.scale * Matern52Value(r[i]);
      }
      if (CholeskyInPlace(l_, n_)) break;
      if (jitter == 1e-4) return false;
    }
    // Kriging believer: a running point's value is the completed-only posterior mean,
    // (L11^-1 k)^T (L11^-1 y); the first factor is that point's row of L21.
    alpha_.resize(n_);
    Eigen::VectorXd w = y;
    ForwardSolve(l_, completed, w.data());
    for (Index i = 0; i < completed; ++i) alpha_[i] = y[i];
    for (Index i = completed; i < n_; ++i) {
      double mean = 0;
      for (Index j = 0; j < completed; ++j) mean += l_(i, j) * w[j];
      alpha_[i] = mean;
    }
    ForwardSolve(l_, n_, alpha_.data());
    BackSolveTransposed(l_, n_, alpha_.data());
    return true;
  }

  Index size() const { return n_; }
  const KernelParams& params() const { return params_; }

  // Mean and variance at one point; with `grad_dims`, also d acq / d x over those
  // coordinates for an acquisition with partial derivatives (d_mean, d_var).
  void Predict(const double* x, double* mean, double* var, PredictScratch& s) const {
    Kernel(x, s);
    double m = 0;
    for (Index i = 0; i < n_; ++i) m += s.k[i] * alpha_[i];
    s.v.assign(s.k.begin(), s.k.end());
    ForwardSolve(l_, n_, s.v.data());
    double q = 0;
    for (Index i = 0; i < n_; ++i) q += s.v[i] * s.v[i];
    *mean = m;
    *var = params_.scale - q;
  }

  // After Predict at x: the gradient of acq over coordinates `dims`, given d acq/d mean
  // and d acq/d var. dk_i/dx_j = scale * M'(r_i) * 2 * isl_j * (x_j - X_ij).
  void Gradient(const double* x, double d_mean, double d_var, const std::vector<Index>& dims, double* grad,
                PredictScratch& s) const {
    BackSolveTransposed(l_, n_, s.v.data());  // v becomes C^-1 k
    s.w.resize(static_cast<std::size_t>(n_));
    for (Index i = 0; i < n_; ++i) s.w[i] = 2.0 * params_.scale * s.r[i] * (d_mean * alpha_[i] - 2.0 * d_var * s.v[i]);
    for (std::size_t t = 0; t < dims.size(); ++t) {
      const Index k = dims[t];
      const double* xk = x_.data() + k * n_;
      double acc = 0;
      for (Index i = 0; i < n_; ++i) acc += s.w[i] * (x[k] - xk[i]);
      grad[t] = params_.isl[static_cast<std::size_t>(k)] * acc;
    }
  }

  // Means and variances of `count` points: coordinate k of point c is points[k * ld + c].
  // The triangular solve runs across points so it vectorises; callers pass small blocks so
  // that `buffer` (count x n) stays in cache.
  void PredictBatch(const double* points, Index ld, Index count, double* means, double* vars,
                    Eigen::MatrixXd& buffer) const {
    buffer.resize(count, n_);
    double* b = buffer.data();
    std::fill(means, means + count, 0.0);
    for (Index i = 0; i < n_; ++i) {
      double* col = b + i * count;
      std::fill(col, col + count, 0.0);
      for (Index k = 0; k < d_; ++k) {
        const double xik = x_(i, k);
        const double w = params_.isl[static_cast<std::size_t>(k)];
        const double* pk = points + k * ld;
        if (categorical_[static_cast<std::size_t>(k)]) {
          for (Index c = 0; c < count; ++c) col[c] += pk[c] != xik ? w : 0.0;
        } else {
          for (Index c = 0; c < count; ++c) col[c] += w * (pk[c] - xik) * (pk[c] - xik);
        }
      }
      const double a = alpha_[i];
      for (Index c = 0; c < count; ++c) {
        col[c] = params_.scale * Matern52Value(col[c]);
        means[c] += a * col[c];
      }
    }
    std::fill(vars, vars + count, params_.scale);
    const double* l = l_.data();
    for (Index i = 0; i < n_; ++i) {
      double* col = b + i * count;
      Index j = 0;
      // Eight earlier rows per pass: an eighth of the loads and stores of `col`.
      for (; j + 8 <= i; j += 8) {
        const double* lj = l + j * n_ + i;
        const double l0 = lj[0], l1 = lj[n_], l2 = lj[2 * n_], l3 = lj[3 * n_];
        const double l4 = lj[4 * n_], l5 = lj[5 * n_], l6 = lj[6 * n_], l7 = lj[7 * n_];
        const double* c0 = b + j * count;
        const double *c1 = c0 + count, *c2 = c1 + count, *c3 = c2 + count;
        const double *c4 = c3 + count, *c5 = c4 + count, *c6 = c5 + count, *c7 = c6 + count;
        for (Index c = 0; c < count; ++c) {
          col[c] -= ((l0 * c0[c] + l1 * c1[c]) + (l2 * c2[c] + l3 * c3[c])) +
                    ((l4 * c4[c] + l5 * c5[c]) + (l6 * c6[c] + l7 * c7[c]));
        }
      }
      for (; j < i; ++j) {
        const double lij = l[j * n_ + i];
        const double* col_j = b + j * count;
        for (Index c = 0; c < count; ++c) col[c] -= lij * col_j[c];
      }
      const double lii = l[i * n_ + i];
      for (Index c = 0; c < count; ++c) {
        col[c] /= lii;
        vars[c] -= col[c] * col[c];
      }
    }
  }

 private:
  // k(x, X_i) into s.k and M'(r_i) into s.r.
  void Kernel(const double* x, PredictScratch& s) const {
    s.r.assign(static_cast<std::size_t>(n_), 0.0);
    s.k.resize(static_cast<std::size_t>(n_));
    double* r = s.r.data();
    for (Index k = 0; k < d_; ++k) {
      const double* xk = x_.data() + k * n_;
      const double w = params_.isl[static_cast<std::size_t>(k)];
      const double xv = x[k];
      if (categorical_[static_cast<std::size_t>(k)]) {
        for (Index i = 0; i < n_; ++i) r[i] += xk[i] != xv ? w : 0.0;
      } else {
        for (Index i = 0; i < n_; ++i) r[i] += w * (xk[i] - xv) * (xk[i] - xv);
      }
    }
    for (Index i = 0; i < n_; ++i) {
      double m = 0, dm = 0;
      Matern52(r[i], &m, &dm);
      s.k[i] = params_.scale * m;
      r[i] = dm;
    }
  }

  Index n_ = 0, d_ = 0;
  Eigen::MatrixXd x_;  // n x d, column-major: coordinate k of every point is contiguous
  std::vector<char> categorical_;
  KernelParams params_;
  Eigen::MatrixXd l_;
  Eigen::VectorXd alpha_;
};

// ------------------------------------------------------------------ acquisition functions

enum class AcqKind { kLogEi, kLogPi, kLcb };

constexpr double kSqrtHalf = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;
constexpr double kLogSqrt2Pi = 0.91893853320467274178;

// For z < -25: T(z) = sum_k (-1)^(k+1) (2k-1)!! / z^(2k), the asymptotic series of
// 1 + z * Phi(z) / phi(z), summed without the cancellation of the direct form.
double TailSeries(double z) {
  const double w = 1.0 / (z * z);
  double term = w, sum = 0;
  for (int k = 1; k <= 12; ++k) {
    sum += (k % 2 == 1 ? term : -term);
    term *= static_cast<double>(2 * k + 1) * w;
  }
  return sum;
}

// The acquisition at (mean, var), maximised; d_mean and d_var receive its partial
// derivatives.
double Acquire(AcqKind kind, double f0, double mean, double var, double* d_mean, double* d_var) {
  const bool clamped = var < 0;
  const double sigma = std::sqrt((clamped ? 0.0 : var) + kStabilizingNoise);
  double value = 0, dv_dmean = 0, dv_dsigma = 0;
  switch (kind) {
    case AcqKind::kLogEi: {
      // log E[max(0, Y - f0)] = log h(z) + log sigma, h(z) = z Phi(z) + phi(z), h' = Phi.
      const double z = (mean - f0) / sigma;
      double log_h = 0, ratio = 0;  // ratio = Phi(z) / h(z)
      if (z >= -25) {
        const double cdf = 0.5 * std::erfc(-z * kSqrtHalf);
        const double h = z * cdf + std::exp(-0.5 * z * z) * kInvSqrt2Pi;
        log_h = std::log(h);
        ratio = cdf / h;
      } else {
        const double t = TailSeries(z);  // h = phi * t, Phi / phi = (1 - t) / -z
        log_h = -0.5 * z * z - kLogSqrt2Pi + std::log(t);
        ratio = (1.0 - t) / (-z * t);
      }
      value = log_h + std::log(sigma);
      dv_dmean = ratio / sigma;
      dv_dsigma = (1.0 - z * ratio) / sigma;
      break;
    }
    case AcqKind::kLogPi: {
      const double z = (mean - f0) / sigma;
      double ratio = 0;  // phi(z) / Phi(z)
      if (z >= -25) {
        const double cdf = 0.5 * std::erfc(-z * kSqrtHalf);
        value = std::log(cdf);
        ratio = std::exp(-0.5 * z * z) * kInvSqrt2Pi / cdf;
      } else {
        const double tail = 1.0 - TailSeries(z);  // Phi = phi * tail / -z
        value = -0.5 * z * z - kLogSqrt2Pi + std::log(tail) - std::log(-z);
        ratio = -z / tail;
      }
      dv_dmean = ratio / sigma;
      dv_dsigma = -ratio * z / sigma;
      break;
    }
    case AcqKind::kLcb:
      // skopt's LCB (mean - kappa sigma of the loss) on the negated, standardised loss.
      value = mean + kLcbKappa * sigma;
      dv_dmean = 1;
      dv_dsigma = kLcbKappa;
      break;
  }
  if (d_mean) *d_mean = dv_dmean;
  if (d_var) *d_var = clamped ? 0.0 : dv_dsigma / (2.0 * sigma);
  return value;
}

// ------------------------------------------------------------------ acquisition optimiser

// Optuna's optimize_acqf_mixed and local_search_mixed over a Posterior.
class AcquisitionOptimizer {
 public:
  AcquisitionOptimizer(const Posterior& gp, const Encoding& encoding, AcqKind kind, double f0)
      : gp_(gp), encoding_(encoding), kind_(kind), f0_(f0) {
    const std::vector<Dim>& dims = encoding.dims();
    for (std::size_t j = 0; j < dims.size(); ++j) {
      if (IsDiscrete(dims[j])) {
        discrete_.push_back(static_cast<Index>(j));
      } else {
        continuous_.push_back(static_cast<Index>(j));
        // Preconditioning: optimise z = x / lengthscale, so every direction has unit scale.
        lengthscales_.push_back(1.0 / std::sqrt(gp.params().isl[j]));
      }
    }
  }

  double Value(const std::vector<double>& x) {
    double mean = 0, var = 0;
    gp_.Predict(x.data(), &mean, &var, scratch_);
    return Acquire(kind_, f0_, mean, var, nullptr, nullptr);
  }

  // The best of `starts` after local search (`local_search` false: without it).
  std::vector<double> Optimize(std::mt19937_64& rng, const std::vector<double>& best_observed, bool local_search) {
    const Index d = encoding_.size();
    const std::vector<Dim>& dims = encoding_.dims();
    // Preliminary points: a Latin hypercube, snapped to each dimension's values.
    Eigen::MatrixXd points(kPreliminaryPoints, d);
    std::vector<Index> perm(static_cast<std::size_t>(kPreliminaryPoints));
    for (Index k = 0; k < d; ++k) {
      std::iota(perm.begin(), perm.end(), Index{0});
      for (Index i = kPreliminaryPoints - 1; i > 0; --i) {
        std::swap(perm[i], perm[rng() % static_cast<std::uint64_t>(i + 1)]);
      }
      for (Index i = 0; i < kPreliminaryPoints; ++i) {
        const double u = (static_cast<double>(perm[i]) + Uniform01(rng)) / static_cast<double>(kPreliminaryPoints);
        points(i, k) = encoding_.FromUnit(dims[k], u);
      }
    }
    std::vector<double> means(kPreliminaryPoints), vars(kPreliminaryPoints), values(kPreliminaryPoints);
    for (Index start = 0; start < kPreliminaryPoints; start += kScreenBlock) {
      const Index count = std::min(kScreenBlock, kPreliminaryPoints - start);
      gp_.PredictBatch(points.data() + start, kPreliminaryPoints, count, means.data() + start, vars.data() + start,
                       batch_);
    }
    Index max_i = 0;
    for (Index i = 0; i < kPreliminaryPoints; ++i) {
      const double v = Acquire(kind_, f0_, means[i], vars[i], nullptr, nullptr);
      values[i] = std::isfinite(v) ? v : -std::numeric_limits<double>::infinity();
      if (values[i] > values[max_i]) max_i = i;
    }
    auto row = [&](Index i) {
      std::vector<double> x(static_cast<std::size_t>(d));
      for (Index k = 0; k < d; ++k) x[k] = points(i, k);
      return x;
    };
    std::vector<double> best_x = row(max_i);
    double best_f = values[max_i];
    if (!local_search) return best_x;

    // Roulette on exp(acq - max) for the other starts, without replacement.
    std::vector<double> probs(kPreliminaryPoints);
    Index nonzero = 0;
    for (Index i = 0; i < kPreliminaryPoints; ++i) {
      const bool usable = i != max_i && std::isfinite(values[max_i]);
      probs[i] = usable ? std::exp(values[i] - values[max_i]) : 0.0;
      if (probs[i] > 0) ++nonzero;
    }
    const Index extra = std::min<Index>(kLocalSearches - 2, nonzero);
    std::vector<Index> starts = {max_i};
    for (Index t = 0; t < extra; ++t) {
      double total = 0;
      for (double p : probs) total += p;
      double pick = Uniform01(rng) * total;
      Index chosen = -1;
      for (Index i = 0; i < kPreliminaryPoints; ++i) {
        if (probs[i] <= 0) continue;
        chosen = i;
        pick -= probs[i];
        if (pick < 0) break;
      }
      if (chosen < 0) break;
      probs[chosen] = 0;
      starts.push_back(chosen);
    }
    std::vector<std::vector<double>> start_points;
    for (Index i : starts) start_points.push_back(row(i));
    start_points.push_back(best_observed);
    for (std::vector<double>& x : start_points) {
      double f = LocalSearch(x);
      if (f > best_f) {
        best_f = f;
        best_x = x;
      }
    }
    return best_x;
  }

 private:
  // local_search_mixed: continuous gradient ascent and per-coordinate discrete search in
  // turn until a full round changes nothing. Returns the final value; x is updated.
  double LocalSearch(std::vector<double>& x) {
    double f = Value(x);
    constexpr Index kContinuousBlock = -1, kNone = -2;
    Index last_changed = kNone;
    for (int round = 0; round < kLocalSearchRounds; ++round) {
      if (last_changed == kContinuousBlock) break;
      if (GradientAscent(x, f)) last_changed = kContinuousBlock;
      for (Index j : discrete_) {
        if (last_changed == j) return f;
        if (DiscreteSearch(j, x, f)) last_changed = j;
      }
      if (last_changed == kNone) break;
    }
    return f;
  }

  bool GradientAscent(std::vector<double>& x, double& f) {
    const std::size_t nc = continuous_.size();
    if (nc == 0) return false;
    std::vector<double> z0(nc), lo(nc, 0.0), hi(nc);
    for (std::size_t t = 0; t < nc; ++t) {
      z0[t] = x[continuous_[t]] / lengthscales_[t];
      hi[t] = 1.0 / lengthscales_[t];
    }
    std::vector<double> work = x, acq_grad(nc);
    auto negative_acq = [&](const std::vector<double>& z, std::vector<double>& grad) {
      for (std::size_t t = 0; t < nc; ++t) work[continuous_[t]] = z[t] * lengthscales_[t];
      double mean = 0, var = 0, d_mean = 0, d_var = 0;
      gp_.Predict(work.data(), &mean, &var, scratch_);
      const double value = Acquire(kind_, f0_, mean, var, &d_mean, &d_var);
      gp_.Gradient(work.data(), d_mean, d_var, continuous_, acq_grad.data(), scratch_);
      grad.resize(nc);
      for (std::size_t t = 0; t < nc; ++t) grad[t] = -acq_grad[t] * lengthscales_[t];
      return -value;
    };
    BoxMinimum best = MinimizeInBox(negative_acq, z0, lo, hi, std::sqrt(kLocalSearchTol), kAcqLbfgsIterations);
    if (best.iterations > 0 && -best.f > f) {
      for (std::size_t t = 0; t < nc; ++t) x[continuous_[t]] = best.x[t] * lengthscales_[t];
      f = -best.f;
      return true;
    }
    return false;
  }

  bool DiscreteSearch(Index j, std::vector<double>& x, double& f) {
    const Dim& dim = encoding_.dims()[j];
    const std::int64_t current = ChoiceIndex(dim, x[j]);
    std::vector<double> work = x;
    std::int64_t best_k = current;
    double best_f = f;
    auto eval = [&](std::int64_t k) {
      work[j] = ChoicePosition(dim, k);
      return Value(work);
    };
    if (dim.kind == DimKind::kCategorical || dim.count <= kMaxExhaustive) {
      for (std::int64_t k = 0; k < dim.count; ++k) {
        if (k == current) continue;
        const double fk = eval(k);
        if (fk > best_f) {
          best_f = fk;
          best_k = k;
        }
      }
    } else {
      // Gallop away from the current value while it improves, then halve the step around
      // the best value found.
      auto try_index = [&](std::int64_t k) {
        if (k < 0 || k >= dim.count || k == best_k) return false;
        const double fk = eval(k);
        if (fk > best_f) {
          best_f = fk;
          best_k = k;
          return true;
        }
        return false;
      };
      std::int64_t dir = 0;
      if (try_index(current + 1)) dir = 1;
      if (try_index(current - 1)) dir = -1;
      if (dir == 0) return false;
      std::int64_t step = 1;
      while (true) {
        step *= 2;
        const std::int64_t k = std::clamp(best_k + dir * step, std::int64_t{0}, dim.count - 1);
        if (!try_index(k)) break;
      }
      for (step /= 2; step >= 1; step /= 2) {
        if (!try_index(best_k + step)) try_index(best_k - step);
      }
    }
    if (best_k == current || !(best_f > f)) return false;
    x[j] = ChoicePosition(dim, best_k);
    f = best_f;
    return true;
  }

  const Posterior& gp_;
  const Encoding& encoding_;
  AcqKind kind_;
  double f0_;
  std::vector<Index> continuous_, discrete_;
  std::vector<double> lengthscales_;
  PredictScratch scratch_;
  Eigen::MatrixXd batch_;
};

// ------------------------------------------------------------------ attrs

std::string FormatRaw(const std::vector<double>& raw) {
  std::string out;
  char buf[32];
  for (double v : raw) {
    auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), v);
    (void)ec;
    if (!out.empty()) out += ',';
    out.append(buf, ptr);
  }
  return out;
}

std::optional<std::vector<double>> ParseRaw(const std::string& text, std::size_t size) {
  std::vector<double> raw;
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    double v = 0;
    auto [next, ec] = std::from_chars(p, end, v);
    if (ec != std::errc() || !std::isfinite(v)) return std::nullopt;
    raw.push_back(std::clamp(v, -kRawBound, kRawBound));
    p = next;
    if (p < end && *p++ != ',') return std::nullopt;
  }
  if (raw.size() != size) return std::nullopt;
  return raw;
}

// ------------------------------------------------------------------ the sampler

struct Options {
  std::int64_t n_initial_points = 10;
  AcqKind acq = AcqKind::kLogEi;
  bool local_search = true;
};

class GpSampler final : public Sampler {
 public:
  GpSampler(const SearchSpace& space, std::uint64_t seed, Options options)
      : space_(space), encoding_(space_), seed_(seed), options_(options) {
    for (const Dim& dim : encoding_.dims()) categorical_.push_back(dim.kind == DimKind::kCategorical);
  }

  Result<Suggestion> Ask(const StudyView& study) override {
    const auto number = static_cast<std::int64_t>(study.trials.size());
    const Index d = encoding_.size();
    Suggestion out;
    if (d == 0) {
      out.params = encoding_.Decode({});
      return out;
    }
    ReadHistory(study);
    const auto completed = static_cast<std::int64_t>(losses_.size());
    if (completed < std::max<std::int64_t>(1, options_.n_initial_points)) {
      out.params = encoding_.Decode(StartPoint(number));
      return out;
    }

    // The model set, in trial order, and its negated, standardised losses (maximised).
    std::vector<std::size_t> all(losses_.size());
    std::iota(all.begin(), all.end(), std::size_t{0});
    const std::vector<std::size_t> model = Thin(all, kMaxModelPoints);
    const auto n = static_cast<Index>(model.size());
    const Index running = static_cast<Index>(running_.size()) / d;
    Eigen::MatrixXd x(n + running, d);
    Eigen::VectorXd y(n);
    for (Index i = 0; i < n; ++i) {
      for (Index k = 0; k < d; ++k) x(i, k) = coords_[model[i] * d + k];
      y[i] = -losses_[model[i]];
    }
    for (Index r = 0; r < running; ++r) {
      for (Index k = 0; k < d; ++k) x(n + r, k) = running_[r * d + k];
    }
    double mean = 0, sq = 0;
    for (Index i = 0; i < n; ++i) mean += y[i];
    mean /= static_cast<double>(n);
    for (Index i = 0; i < n; ++i) sq += (y[i] - mean) * (y[i] - mean);
    const double stddev = std::max(kStandardizeEps, std::sqrt(sq / static_cast<double>(n)));
    for (Index i = 0; i < n; ++i) y[i] = (y[i] - mean) / stddev;
    Index best = 0;
    for (Index i = 1; i < n; ++i) {
      if (y[i] > y[best]) best = i;
    }

    // Hyperparameters: reuse the newest recorded fit until enough trials have completed
    // since, then refit from it.
    std::vector<double> raw;
    std::int64_t fit_n = completed;
    std::optional<std::pair<std::vector<double>, std::int64_t>> previous = PreviousFit(study, d);
    if (previous && completed >= previous->second &&
        completed < previous->second + std::max<std::int64_t>(1, previous->second / 20)) {
      raw = previous->first;
      fit_n = previous->second;
    } else {
      // The fit sees at most kMaxFitPoints of the modelled points, in the model's scale.
      const std::vector<std::size_t> rows = Thin(model, kMaxFitPoints);
      Eigen::MatrixXd x_fit(static_cast<Index>(rows.size()), d);
      Eigen::VectorXd y_fit(static_cast<Index>(rows.size()));
      for (std::size_t r = 0; r < rows.size(); ++r) {
        for (Index k = 0; k < d; ++k) x_fit(r, k) = x(rows[r], k);
        y_fit[r] = y[rows[r]];
      }
      raw = Fit(x_fit, y_fit, previous ? previous->first : DefaultRawParams(d));
    }

    Posterior gp;
    bool ok = gp.Build(x, n, y, categorical_, FromRaw(raw));
    if (!ok) {
      raw = DefaultRawParams(d);
      ok = gp.Build(x, n, y, categorical_, FromRaw(raw));
    }
    if (!ok) {
      std::mt19937_64 rng = TrialRng(seed_, number, kSaltUniformStart);
      std::vector<double> point(static_cast<std::size_t>(d));
      for (Index k = 0; k < d; ++k) point[k] = encoding_.FromUnit(encoding_.dims()[k], Uniform01(rng));
      out.params = encoding_.Decode(point);
      return out;
    }

    std::vector<double> best_observed(static_cast<std::size_t>(d));
    for (Index k = 0; k < d; ++k) best_observed[k] = x(best, k);
    AcquisitionOptimizer optimizer(gp, encoding_, options_.acq, y[best]);
    std::mt19937_64 rng = TrialRng(seed_, number, kSaltAcquisition);
    out.params = encoding_.Decode(optimizer.Optimize(rng, best_observed, options_.local_search));
    out.attrs[kKernelAttr] = FormatRaw(raw);
    out.attrs[kFitCountAttr] = std::to_string(fit_n);
    return out;
  }

 private:
  // Completed trials (coordinates and losses, in trial order) and the newest running ones.
  void ReadHistory(const StudyView& study) {
    const Index d = encoding_.size();
    const std::vector<Dim>& dims = encoding_.dims();
    coords_.clear();
    losses_.clear();
    running_.clear();
    std::vector<double> point(static_cast<std::size_t>(d));
    auto encode = [&](const Trial& t) {
      if (t.params.size() != space_.params.size()) return false;
      for (Index k = 0; k < d; ++k) {
        std::optional<double> u = encoding_.Encode(dims[k], t.params[dims[k].param]);
        if (!u) return false;
        point[k] = *u;
      }
      return true;
    };
    std::size_t running_seen = 0;
    for (auto it = study.trials.rbegin(); it != study.trials.rend(); ++it) {
      if (it->state != TrialState::kRunning || running_seen == kMaxRunningPoints) continue;
      if (!encode(*it)) continue;
      running_.insert(running_.begin(), point.begin(), point.end());  // keep trial order
      ++running_seen;
    }
    for (const Trial& t : study.trials) {
      std::optional<double> loss = study.Loss(t);
      if (!loss || !encode(t)) continue;
      coords_.insert(coords_.end(), point.begin(), point.end());
      losses_.push_back(*loss);
    }
  }

  // Positions (ascending) of at most `cap` of `items` (indices into losses_, in trial
  // order): all of them, or the best cap/2 by loss plus the rest thinned evenly, the newest
  // kept.
  std::vector<std::size_t> Thin(const std::vector<std::size_t>& items, std::size_t cap) const {
    const std::size_t total = items.size();
    std::vector<std::size_t> positions(total);
    std::iota(positions.begin(), positions.end(), std::size_t{0});
    if (total <= cap) return positions;
    const std::size_t n_best = cap / 2;
    std::vector<std::size_t> by_loss = positions;
    std::partial_sort(by_loss.begin(), by_loss.begin() + static_cast<std::ptrdiff_t>(n_best), by_loss.end(),
                      [&](std::size_t a, std::size_t b) {
                        const double la = losses_[items[a]], lb = losses_[items[b]];
                        return la < lb || (la == lb && a < b);
                      });
    std::vector<char> chosen(total, 0);
    for (std::size_t i = 0; i < n_best; ++i) chosen[by_loss[i]] = 1;
    std::vector<std::size_t> rest;
    for (std::size_t i = 0; i < total; ++i) {
      if (!chosen[i]) rest.push_back(i);
    }
    const std::size_t n_rest = cap - n_best;
    for (std::size_t j = 0; j < n_rest; ++j) chosen[rest[(j + 1) * rest.size() / n_rest - 1]] = 1;
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < total; ++i) {
      if (chosen[i]) out.push_back(i);
    }
    return out;
  }

  // The newest fit recorded in the attrs of a trial, if any.
  static std::optional<std::pair<std::vector<double>, std::int64_t>> PreviousFit(const StudyView& study, Index d) {
    for (auto it = study.trials.rbegin(); it != study.trials.rend(); ++it) {
      auto kernel = it->attrs.find(kKernelAttr);
      auto count = it->attrs.find(kFitCountAttr);
      if (kernel == it->attrs.end() || count == it->attrs.end()) continue;
      std::optional<std::vector<double>> raw = ParseRaw(kernel->second, static_cast<std::size_t>(d + 2));
      std::int64_t n = 0;
      const std::string& text = count->second;
      auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (!raw || ec != std::errc() || ptr != text.data() + text.size()) continue;
      return std::make_pair(std::move(*raw), n);
    }
    return std::nullopt;
  }

  // FitKernel, skipped when its inputs are bit-identical to the last call's.
  std::vector<double> Fit(const Eigen::MatrixXd& x, const Eigen::VectorXd& y, const std::vector<double>& start) {
    const bool same = fit_cache_valid_ && fit_x_.rows() == x.rows() && fit_x_.cols() == x.cols() &&
                      fit_start_ == start && (fit_x_.array() == x.array()).all() &&
                      (fit_y_.array() == y.array()).all();
    if (!same) {
      fit_x_ = x;
      fit_y_ = y;
      fit_start_ = start;
      fit_result_ = FitKernel(fit_x_, fit_y_, categorical_, start);
      fit_cache_valid_ = true;
    }
    return fit_result_;
  }

  // The coordinates of a start-up trial: stratum `number` of a Latin hypercube over the
  // first n_initial_points trials, or uniform after that.
  std::vector<double> StartPoint(std::int64_t number) const {
    const Index d = encoding_.size();
    const std::vector<Dim>& dims = encoding_.dims();
    std::vector<double> point(static_cast<std::size_t>(d));
    const std::int64_t strata = options_.n_initial_points;
    if (number < strata && strata <= kMaxStratifiedStart) {
      std::mt19937_64 perm_rng = TrialRng(seed_, -1, kSaltStrataPermutation);
      std::mt19937_64 jitter_rng = TrialRng(seed_, number, kSaltStratumJitter);
      std::vector<std::int64_t> perm(static_cast<std::size_t>(strata));
      for (Index k = 0; k < d; ++k) {
        std::iota(perm.begin(), perm.end(), std::int64_t{0});
        for (std::int64_t i = strata - 1; i > 0; --i) {
          std::swap(perm[i], perm[perm_rng() % static_cast<std::uint64_t>(i + 1)]);
        }
        const double u = (static_cast<double>(perm[number]) + Uniform01(jitter_rng)) / static_cast<double>(strata);
        point[k] = encoding_.FromUnit(dims[k], u);
      }
      return point;
    }
    std::mt19937_64 rng = TrialRng(seed_, number, kSaltUniformStart);
    for (Index k = 0; k < d; ++k) point[k] = encoding_.FromUnit(dims[k], Uniform01(rng));
    return point;
  }

  const SearchSpace space_;
  const Encoding encoding_;
  const std::uint64_t seed_;
  const Options options_;
  std::vector<char> categorical_;
  // Per-Ask buffers, kept to reuse their allocations.
  std::vector<double> coords_, losses_, running_;
  // The last kernel fit and its inputs.
  bool fit_cache_valid_ = false;
  Eigen::MatrixXd fit_x_;
  Eigen::VectorXd fit_y_;
  std::vector<double> fit_start_, fit_result_;
};

}  // namespace

Result<std::unique_ptr<Sampler>> MakeGpSampler(AlgorithmSettings& settings, const SearchSpace& space,
                                               std::uint64_t seed) {
  ASSIGN_OR_RETURN(seed, SeedFrom(settings, seed));
  Options options;
  ASSIGN_OR_RETURN(options.n_initial_points, settings.Int("n_initial_points", 10, 0, 1'000'000'000));
  ASSIGN_OR_RETURN(std::string acq, settings.Choice("acq_func", "ei", {"ei", "EI", "gp_hedge", "pi", "PI", "lcb", "LCB"}));
  if (acq == "pi" || acq == "PI") options.acq = AcqKind::kLogPi;
  if (acq == "lcb" || acq == "LCB") options.acq = AcqKind::kLcb;
  ASSIGN_OR_RETURN(std::string estimator, settings.Choice("base_estimator", "GP", {"GP"}));
  (void)estimator;
  ASSIGN_OR_RETURN(std::string optimizer, settings.Choice("acq_optimizer", "auto", {"auto", "sampling", "lbfgs"}));
  options.local_search = optimizer != "sampling";
  RETURN_IF_ERROR(space.Validate());
  return std::unique_ptr<Sampler>(std::make_unique<GpSampler>(space, seed, options));
}

}  // namespace ferry::tuning::internal
