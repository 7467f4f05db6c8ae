// cmaes: CMA-ES (Hansen, "The CMA Evolution Strategy: A Tutorial", 2016)
// with IPOP (Auger & Hansen 2005) and BIPOP (Hansen 2009) restarts.
//
// The update follows the `cmaes` library's CMA class (CyberAgentAILab/cmaes,
// cmaes/_cma.py, without learning-rate adaptation): its weights with negative
// recombination weights, learning rates, step-size and covariance updates,
// the eigendecomposition that clips negative eigenvalues, the bounded ask
// (resample up to 10 n times as Optuna configures it, then clip) and
// should_stop's termination criteria (tolfun over the recent best/worst
// history, tolx, tolxup, no-effect coordinate and axis, condition number
// 1e14) that trigger restarts. Given the same solutions, mean, sigma, C and
// should_stop matched cmaes 0.13.1 to ~1e-13 over hundreds of generations.
//
// The study-level bookkeeping follows Optuna's CmaEsSampler
// (optuna/samplers/_cmaes.py): the space is scaled to [0, 1] per dimension,
// sigma0 defaults to min_range / 6 = 1/6, popsize to 4 + floor(3 ln n), a
// trial is tagged with the (restart, generation) it was sampled from, a
// generation is told once `popsize` completed trials carry its tag (failed,
// pruned and still-running ones are not solutions; parallel asks meanwhile
// get further samples of the same generation), the first `popsize` of them by
// number are told, and IPOP multiplies popsize by inc_popsize at a restart
// while BIPOP alternates regimes as Optuna does (a large regime of
// popsize0 * inc_popsize^k at its k-th run, a small one of
// floor(popsize0 * mult^(u^2)) whenever fewer evaluations went to small
// runs). A restart starts at a uniformly random mean with sigma0.
//
// Decisions the contract left open:
// - State lives in the history, replayed (option (a)): every suggestion is
//   tagged cmaes:restart / cmaes:generation, and the trial whose Ask told a
//   generation records the numbers of the trials it told (cmaes:told). The
//   distribution is rebuilt by replaying those tells in order, so a fresh
//   sampler reaches bit-identical state. Recording the told set (instead of
//   recomputing "the first popsize completed") keeps replay exact when a
//   lower-numbered straggler of a generation completes after the tell, which
//   Optuna handles by pickling the whole optimizer into system attrs. The
//   record is popsize integers per generation, not O(n^2) floats, and no
//   float has to survive a text round trip. Restart randomness (new mean,
//   BIPOP's draw) comes from TrialRng of the trial that carries the tell.
// - The replayed state is cached keyed by how many trials were processed
//   (checked against the last recorded tell), so normal use is incremental;
//   the cache is rebuilt when the history is shorter or its last tell
//   differs. The state before an Ask's own tell is kept too, so asking
//   again on the same history does not replay from scratch.
// - Trials are told with their stored parameters mapped back to internal
//   coordinates, as Optuna does (snapped ints/steps/list entries included).
//   No CMA-with-margin correction: Optuna's default is with_margin=False and
//   its benchmarks compare against that; restarts recover from a collapsed
//   integer dimension.
// - Categorical parameters cannot be modelled: each is sampled uniformly at
//   random and independently per trial (Optuna falls back to its independent
//   RandomSampler). Parameters with a single feasible value are fixed (Optuna
//   skips "single" distributions). A one-dimensional numeric space is still
//   searched by CMA-ES, which the library supports, where Optuna falls back
//   to random sampling.
// - No independent start-up trial (Optuna's n_startup_trials = 1): the first
//   generation already samples around the centre, so no trial is spent.
// - A complete trial with a non-finite value has no loss and counts like a
//   failed one (a replacement is asked).
// - Random draws use our own Box-Muller over TrialRng so that a suggestion
//   does not depend on the standard library's distribution implementations.
//
// Settings: sigma (0, 1e4], default 1/6; restart_strategy none|ipop|bipop;
// popsize [4, 2^20], default 4 + floor(3 ln n) over the modelled dimensions
// (fewer than 4 zeroes the rank-mu rate, which the library divides by);
// inc_popsize [1, 100], default 2; random_state (read by MakeSampler).
//
// Per-Ask cost: O(new trials) attr look-ups to catch up the cache, a scan of
// the trials asked since the current generation started (popsize plus any
// stragglers) to count its completed solutions, and O(n^2) per sample (at
// most 10 n + 1 samples when the distribution leaves the box). Once per
// generation the tell costs O(popsize n^2 + n^3) (rank-mu update and the
// eigendecomposition). A fresh sampler replays every tell once:
// O(trials / popsize) tells.
#include <Eigen/Dense>
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <memory>
#include <numbers>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "ferry/tuning/samplers_internal.h"

namespace ferry::tuning::internal {
namespace {

constexpr char kRestartKey[] = "cmaes:restart";
constexpr char kGenerationKey[] = "cmaes:generation";
constexpr char kToldKey[] = "cmaes:told";

constexpr std::uint64_t kSaltSample = 0xC3A5;
constexpr std::uint64_t kSaltRestart = 0xC3A6;
constexpr std::uint64_t kSaltCategorical = 0xC3A7;

// The library's constants (cmaes/_cma.py).
constexpr double kEps = 1e-8;
constexpr double kSigmaMax = 1e32;
constexpr double kTolXUp = 1e4;
constexpr double kTolFun = 1e-12;
constexpr double kTolConditionCov = 1e14;

// Keeps popsize arithmetic far from overflow after many restarts.
constexpr std::int64_t kMaxPopsize = std::int64_t{1} << 20;

enum class RestartStrategy { kNone, kIpop, kBipop };

double Uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// Standard normal draws by Box-Muller.
class NormalSource {
 public:
  explicit NormalSource(std::mt19937_64& rng) : rng_(rng) {}
  double Next() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = 1.0 - Uniform01(rng_);  // (0, 1]: log stays finite
    const double u2 = Uniform01(rng_);
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(2.0 * std::numbers::pi * u2);
    has_spare_ = true;
    return r * std::cos(2.0 * std::numbers::pi * u2);
  }

 private:
  std::mt19937_64& rng_;
  bool has_spare_ = false;
  double spare_ = 0;
};

// One CMA-ES run in [0, 1]^n: the cmaes library's CMA (lr_adapt off).
class Cma {
 public:
  Cma(Eigen::VectorXd mean, double sigma, std::int64_t popsize)
      : n_(static_cast<int>(mean.size())), popsize_(popsize), mean_(std::move(mean)), sigma_(sigma) {
    const double n = n_;
    const double lambda = static_cast<double>(popsize_);
    mu_ = popsize_ / 2;
    Eigen::VectorXd w_prime(popsize_);
    for (std::int64_t i = 0; i < popsize_; ++i) {
      w_prime[i] = std::log((lambda + 1) / 2) - std::log(static_cast<double>(i + 1));
    }
    const auto head = w_prime.head(mu_);
    const auto tail = w_prime.tail(popsize_ - mu_);
    mu_eff_ = head.sum() * head.sum() / head.squaredNorm();
    const double mu_eff_minus = tail.sum() * tail.sum() / tail.squaredNorm();

    const double alpha_cov = 2;
    c1_ = alpha_cov / ((n + 1.3) * (n + 1.3) + mu_eff_);
    cmu_ = std::min(1 - c1_ - 1e-8,
                    alpha_cov * (mu_eff_ - 2 + 1 / mu_eff_) / ((n + 2) * (n + 2) + alpha_cov * mu_eff_ / 2));
    const double min_alpha =
        std::min({1 + c1_ / cmu_, 1 + (2 * mu_eff_minus) / (mu_eff_ + 2), (1 - c1_ - cmu_) / (n * cmu_)});
    double positive_sum = 0, negative_sum = 0;
    for (double w : w_prime) (w > 0 ? positive_sum : negative_sum) += std::abs(w);
    weights_.resize(popsize_);
    for (std::int64_t i = 0; i < popsize_; ++i) {
      weights_[i] = w_prime[i] >= 0 ? w_prime[i] / positive_sum : min_alpha / negative_sum * w_prime[i];
    }
    weights_sum_ = weights_.sum();

    c_sigma_ = (mu_eff_ + 2) / (n + mu_eff_ + 5);
    d_sigma_ = 1 + 2 * std::max(0.0, std::sqrt((mu_eff_ - 1) / (n + 1)) - 1) + c_sigma_;
    cc_ = (4 + mu_eff_ / n) / (n + 4 + 2 * mu_eff_ / n);
    chi_n_ = std::sqrt(n) * (1.0 - 1.0 / (4.0 * n) + 1.0 / (21.0 * n * n));

    p_sigma_ = Eigen::VectorXd::Zero(n_);
    pc_ = Eigen::VectorXd::Zero(n_);
    c_ = Eigen::MatrixXd::Identity(n_, n_);
    b_ = Eigen::MatrixXd::Identity(n_, n_);
    d_ = Eigen::VectorXd::Ones(n_);

    tolx_ = 1e-12 * sigma;
    funhist_term_ = 10 + static_cast<std::int64_t>(std::ceil(30 * n / lambda));
    funhist_.assign(static_cast<std::size_t>(2 * funhist_term_), 0.0);
  }

  std::int64_t popsize() const { return popsize_; }
  std::int64_t generation() const { return g_; }

  // The library's bounded ask: resample until inside [0, 1]^n, at most
  // max_resampling times, then clip one more sample. `z` and `x` are
  // caller-owned buffers of size n.
  void Sample(std::mt19937_64& rng, int max_resampling, Eigen::VectorXd& z, Eigen::VectorXd& x) const {
    NormalSource normal(rng);
    for (int attempt = 0; attempt <= max_resampling; ++attempt) {
      for (int i = 0; i < n_; ++i) z[i] = d_[i] * normal.Next();
      x.noalias() = b_ * z;
      x = mean_ + sigma_ * x;
      if (attempt < max_resampling && (x.array() < 0.0).any()) continue;
      if (attempt < max_resampling && (x.array() > 1.0).any()) continue;
      break;
    }
    x = x.cwiseMax(0.0).cwiseMin(1.0);
  }

  // `solutions` holds popsize columns; `losses` their losses, same order.
  void Tell(const Eigen::MatrixXd& solutions, const std::vector<double>& losses) {
    ++g_;
    std::vector<std::int64_t> order(static_cast<std::size_t>(popsize_));
    std::iota(order.begin(), order.end(), 0);
    // Stable, as Python's sort: ties keep trial-number order.
    std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
      return losses[static_cast<std::size_t>(a)] < losses[static_cast<std::size_t>(b)];
    });
    const auto idx = static_cast<std::size_t>(2 * (g_ % funhist_term_));
    funhist_[idx] = losses[static_cast<std::size_t>(order.front())];
    funhist_[idx + 1] = losses[static_cast<std::size_t>(order.back())];

    Eigen::MatrixXd y(n_, popsize_);
    for (std::int64_t k = 0; k < popsize_; ++k) y.col(k) = (solutions.col(order[k]) - mean_) / sigma_;

    const Eigen::VectorXd y_w = y.leftCols(mu_) * weights_.head(mu_);
    mean_ += sigma_ * y_w;  // cm = 1

    const Eigen::MatrixXd c_inv_sqrt = b_ * d_.cwiseInverse().asDiagonal() * b_.transpose();
    p_sigma_ =
        (1 - c_sigma_) * p_sigma_ + std::sqrt(c_sigma_ * (2 - c_sigma_) * mu_eff_) * (c_inv_sqrt * y_w);
    const double norm_p_sigma = p_sigma_.norm();
    sigma_ *= std::exp((c_sigma_ / d_sigma_) * (norm_p_sigma / chi_n_ - 1));
    sigma_ = std::min(sigma_, kSigmaMax);

    const double h_left =
        norm_p_sigma / std::sqrt(1 - std::pow(1 - c_sigma_, 2 * static_cast<double>(g_ + 1)));
    const double h_right = (1.4 + 2.0 / (n_ + 1)) * chi_n_;
    const double h_sigma = h_left < h_right ? 1.0 : 0.0;
    pc_ = (1 - cc_) * pc_ + h_sigma * std::sqrt(cc_ * (2 - cc_) * mu_eff_) * y_w;

    // Negative weights are rescaled by the Mahalanobis norm (eq. 46).
    Eigen::VectorXd w_io = weights_;
    for (std::int64_t k = 0; k < popsize_; ++k) {
      if (weights_[k] < 0) w_io[k] *= n_ / ((c_inv_sqrt * y.col(k)).squaredNorm() + kEps);
    }
    const double delta_h_sigma = (1 - h_sigma) * cc_ * (2 - cc_);
    const Eigen::MatrixXd rank_mu = y * w_io.asDiagonal() * y.transpose();
    c_ = (1 + c1_ * delta_h_sigma - c1_ - cmu_ * weights_sum_) * c_ + c1_ * pc_ * pc_.transpose() +
         cmu_ * rank_mu;
    Decompose();
  }

  // The library's should_stop().
  bool ShouldStop() const {
    const Eigen::VectorXd dc = c_.diagonal();
    if (g_ > funhist_term_) {
      auto [lo, hi] = std::minmax_element(funhist_.begin(), funhist_.end());
      if (*hi - *lo < kTolFun) return true;
    }
    // Signed comparison of pc, exactly as the library does it.
    if ((sigma_ * dc.array() < tolx_).all() && (sigma_ * pc_.array() < tolx_).all()) return true;
    if (sigma_ * d_.maxCoeff() > kTolXUp) return true;
    for (int i = 0; i < n_; ++i) {
      if (mean_[i] == mean_[i] + 0.2 * sigma_ * std::sqrt(dc[i])) return true;
    }
    const int axis = static_cast<int>(g_ % n_);
    bool no_effect = true;
    for (int i = 0; i < n_ && no_effect; ++i) {
      no_effect = mean_[i] == mean_[i] + 0.1 * sigma_ * d_[axis] * b_(i, axis);
    }
    if (no_effect) return true;
    return d_.maxCoeff() / d_.minCoeff() > kTolConditionCov;
  }

 private:
  // C = B D^2 B^T after symmetrising and clipping eigenvalues to kEps, as
  // the library's _eigen_decomposition (which also rewrites C). The library
  // clips only negative ones; a zero would divide by zero in C^-1/2 here.
  void Decompose() {
    c_ = (c_ + c_.transpose()) / 2;
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eigen(c_);
    b_ = eigen.eigenvectors();
    Eigen::VectorXd d2 = eigen.eigenvalues();
    for (int i = 0; i < n_; ++i) {
      if (!(d2[i] > 0)) d2[i] = kEps;
    }
    d_ = d2.cwiseSqrt();
    c_ = b_ * d2.asDiagonal() * b_.transpose();
  }

  int n_;
  std::int64_t popsize_;
  std::int64_t mu_;
  double mu_eff_, c1_, cmu_, c_sigma_, d_sigma_, cc_, chi_n_, weights_sum_;
  Eigen::VectorXd weights_;

  Eigen::VectorXd mean_;
  double sigma_;
  Eigen::VectorXd p_sigma_, pc_;
  Eigen::MatrixXd c_, b_;
  Eigen::VectorXd d_;
  std::int64_t g_ = 0;

  double tolx_;
  std::int64_t funhist_term_;
  std::vector<double> funhist_;
};

struct Options {
  double sigma0 = 1.0 / 6;
  RestartStrategy restart = RestartStrategy::kNone;
  std::int64_t popsize0 = 4;
  std::int64_t inc_popsize = 2;
  std::uint64_t seed = 0;
};

std::string JoinNumbers(const std::vector<std::int64_t>& numbers) {
  std::string out;
  for (std::int64_t v : numbers) {
    if (!out.empty()) out += ',';
    out += std::to_string(v);
  }
  return out;
}

bool ParseNumbers(const std::string& text, std::vector<std::int64_t>& out) {
  out.clear();
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    std::int64_t v = 0;
    auto [next, ec] = std::from_chars(p, end, v);
    if (ec != std::errc()) return false;
    out.push_back(v);
    p = next;
    if (p < end && *p++ != ',') return false;
  }
  return !out.empty();
}

// Whether CMA-ES models parameter i: not categorical, more than one value.
bool IsCmaDimension(const SearchSpace& space, std::size_t i) {
  const ParamSpec& p = space.params[i];
  auto [lo, hi] = space.InternalBounds(i);
  return p.type != ParamType::kCategorical && p.Cardinality() != 1 && hi > lo;
}

const std::string* FindAttr(const Trial& t, const char* key) {
  auto it = t.attrs.find(key);
  return it == t.attrs.end() ? nullptr : &it->second;
}

class CmaEsSampler final : public Sampler {
 public:
  CmaEsSampler(SearchSpace space, Options options) : space_(std::move(space)), options_(options) {
    for (std::size_t i = 0; i < space_.params.size(); ++i) {
      if (space_.params[i].type == ParamType::kCategorical) {
        categorical_.push_back(i);
      } else if (!IsCmaDimension(space_, i)) {
        fixed_.push_back(i);
      } else {
        auto [lo, hi] = space_.InternalBounds(i);
        dims_.push_back({i, lo, hi - lo});
      }
    }
    const int n = static_cast<int>(dims_.size());
    max_resampling_ = 10 * n;
    z_.resize(n);
    x_.resize(n);
    Reset();
  }

  Result<Suggestion> Ask(const StudyView& study) override {
    if (study.space.params.size() != space_.params.size()) {
      return InvalidArgument("the study's search space has " + std::to_string(study.space.params.size()) +
                             " parameters, the cmaes sampler was made for " +
                             std::to_string(space_.params.size()));
    }
    const auto number = static_cast<std::int64_t>(study.trials.size());
    Suggestion s;
    s.params.assign(space_.params.size(), 0.0);
    SampleIndependent(number, s.params);
    if (dims_.empty()) return s;

    // Asked again before the last suggestion joined the history: undo the
    // tell that Ask applied rather than replaying everything.
    if (state_.processed == number + 1 && state_.last_told_trial == number && before_ask_tell_) {
      state_ = *before_ask_tell_;
    }
    if (!CacheValid(study)) Reset();
    for (; state_.processed < number; ++state_.processed) Replay(study, state_.processed);

    // Tell the current generation once popsize of its trials completed.
    const std::string restart_tag = std::to_string(state_.restart);
    const std::string generation_tag = std::to_string(state_.cma->generation());
    const std::int64_t popsize = state_.cma->popsize();
    std::vector<std::int64_t> solutions;
    for (std::int64_t i = state_.generation_start;
         i < number && static_cast<std::int64_t>(solutions.size()) < popsize; ++i) {
      const Trial& t = study.trials[static_cast<std::size_t>(i)];
      if (IsSolution(study, t, restart_tag, generation_tag)) solutions.push_back(i);
    }
    if (static_cast<std::int64_t>(solutions.size()) == popsize) {
      before_ask_tell_ = state_;
      std::string told = JoinNumbers(solutions);
      ApplyTell(study, solutions, number);
      state_.last_told_trial = number;
      state_.last_told = told;
      state_.processed = number + 1;  // this trial's tell is already applied
      s.attrs[kToldKey] = std::move(told);
    }

    std::mt19937_64 rng = TrialRng(options_.seed, number, kSaltSample);
    state_.cma->Sample(rng, max_resampling_, z_, x_);
    for (std::size_t d = 0; d < dims_.size(); ++d) {
      const Dim& dim = dims_[d];
      s.params[dim.param] =
          space_.FromInternal(dim.param, dim.lo + x_[static_cast<Eigen::Index>(d)] * dim.width);
    }
    s.attrs[kRestartKey] = std::to_string(state_.restart);
    s.attrs[kGenerationKey] = std::to_string(state_.cma->generation());
    return s;
  }

 private:
  struct Dim {
    std::size_t param;
    double lo, width;
  };

  // What replaying trials [0, processed) of the history yields.
  struct State {
    std::optional<Cma> cma;  // the current run
    std::int64_t restart = 0;
    // BIPOP's regime bookkeeping, as Optuna's attrs.
    bool large_regime = false;
    std::int64_t restarts_with_large = 0;
    std::int64_t small_evals = 0;
    std::int64_t large_evals = 0;
    std::int64_t generation_start = 0;  // no earlier trial carries the current generation's tag
    std::int64_t processed = 0;
    std::int64_t last_told_trial = -1;  // the trial that carries the last tell applied
    std::string last_told;
  };

  // Categorical parameters at random, single-valued ones fixed.
  void SampleIndependent(std::int64_t number, std::vector<double>& params) const {
    for (std::size_t i : fixed_) params[i] = space_.FromInternal(i, space_.InternalBounds(i).first);
    if (categorical_.empty()) return;
    std::mt19937_64 rng = TrialRng(options_.seed, number, kSaltCategorical);
    for (std::size_t i : categorical_) params[i] = SampleUniform(space_, i, rng);
  }

  void Reset() {
    state_ = State{};
    before_ask_tell_.reset();
    if (dims_.empty()) return;
    state_.cma.emplace(Eigen::VectorXd::Constant(static_cast<Eigen::Index>(dims_.size()), 0.5),
                       options_.sigma0, options_.popsize0);
  }

  // The cache belongs to this history if the history is at least as long
  // and still carries the last tell the cache applied.
  bool CacheValid(const StudyView& study) const {
    const auto n = static_cast<std::int64_t>(study.trials.size());
    if (state_.processed > n) return false;
    if (state_.last_told_trial < 0) return true;
    if (state_.last_told_trial >= n) return false;
    const std::string* told =
        FindAttr(study.trials[static_cast<std::size_t>(state_.last_told_trial)], kToldKey);
    return told != nullptr && *told == state_.last_told;
  }

  bool IsSolution(const StudyView& study, const Trial& t, const std::string& restart_tag,
                  const std::string& generation_tag) const {
    if (t.state != TrialState::kComplete || t.params.size() != space_.params.size()) return false;
    const std::string* r = FindAttr(t, kRestartKey);
    const std::string* g = FindAttr(t, kGenerationKey);
    return r && g && *r == restart_tag && *g == generation_tag && study.Loss(t).has_value();
  }

  // Re-applies the tell recorded on trial `i`, if any. A record that does
  // not fit the replayed state (not this sampler's, or edited) is ignored.
  void Replay(const StudyView& study, std::int64_t i) {
    const std::string* told = FindAttr(study.trials[static_cast<std::size_t>(i)], kToldKey);
    if (told == nullptr || !ParseNumbers(*told, told_buffer_)) return;
    if (static_cast<std::int64_t>(told_buffer_.size()) != state_.cma->popsize()) return;
    const std::string restart_tag = std::to_string(state_.restart);
    const std::string generation_tag = std::to_string(state_.cma->generation());
    std::int64_t previous = -1;
    for (std::int64_t j : told_buffer_) {
      if (j <= previous || j >= i) return;
      if (!IsSolution(study, study.trials[static_cast<std::size_t>(j)], restart_tag, generation_tag)) return;
      previous = j;
    }
    ApplyTell(study, told_buffer_, i);
    state_.last_told_trial = i;
    state_.last_told = *told;
  }

  // Tells `solutions` (trial numbers) on behalf of trial `at`, restarting
  // when the strategy says so.
  void ApplyTell(const StudyView& study, const std::vector<std::int64_t>& solutions, std::int64_t at) {
    const auto n = static_cast<Eigen::Index>(dims_.size());
    solutions_.resize(n, static_cast<Eigen::Index>(solutions.size()));
    losses_.resize(solutions.size());
    for (std::size_t k = 0; k < solutions.size(); ++k) {
      const Trial& t = study.trials[static_cast<std::size_t>(solutions[k])];
      for (std::size_t d = 0; d < dims_.size(); ++d) {
        const Dim& dim = dims_[d];
        solutions_(static_cast<Eigen::Index>(d), static_cast<Eigen::Index>(k)) =
            (space_.ToInternal(dim.param, t.params[dim.param]) - dim.lo) / dim.width;
      }
      losses_[k] = *study.Loss(t);
    }
    state_.cma->Tell(solutions_, losses_);
    state_.generation_start = at;
    if (options_.restart != RestartStrategy::kNone && state_.cma->ShouldStop()) Restart(at);
  }

  void Restart(std::int64_t at) {
    std::mt19937_64 rng = TrialRng(options_.seed, at, kSaltRestart);
    const double inc = static_cast<double>(options_.inc_popsize);
    const double initial = static_cast<double>(options_.popsize0);
    const Cma& run = *state_.cma;
    double popsize = 0;
    if (options_.restart == RestartStrategy::kIpop) {
      popsize = static_cast<double>(run.popsize()) * inc;
    } else {
      (state_.large_regime ? state_.large_evals : state_.small_evals) += run.popsize() * run.generation();
      if (state_.small_evals < state_.large_evals) {
        state_.large_regime = false;
        const double multiplier = std::pow(inc, static_cast<double>(state_.restarts_with_large));
        const double u = Uniform01(rng);
        popsize = std::floor(initial * std::pow(multiplier, u * u));
      } else {
        state_.large_regime = true;
        ++state_.restarts_with_large;
        popsize = initial * std::pow(inc, static_cast<double>(state_.restarts_with_large));
      }
    }
    ++state_.restart;
    Eigen::VectorXd mean(static_cast<Eigen::Index>(dims_.size()));
    for (Eigen::Index d = 0; d < mean.size(); ++d) mean[d] = Uniform01(rng);
    state_.cma.emplace(std::move(mean), options_.sigma0,
                       static_cast<std::int64_t>(std::min(popsize, static_cast<double>(kMaxPopsize))));
  }

  SearchSpace space_;
  Options options_;
  std::vector<Dim> dims_;
  std::vector<std::size_t> categorical_;
  std::vector<std::size_t> fixed_;
  int max_resampling_ = 0;

  State state_;
  // state_ just before the tell the last Ask applied, so that asking again
  // on the same history does not replay from scratch.
  std::optional<State> before_ask_tell_;

  // Reused buffers.
  Eigen::VectorXd z_, x_;
  Eigen::MatrixXd solutions_;
  std::vector<double> losses_;
  std::vector<std::int64_t> told_buffer_;
};

}  // namespace

Result<std::unique_ptr<Sampler>> MakeCmaEsSampler(AlgorithmSettings& settings, const SearchSpace& space,
                                                  std::uint64_t seed) {
  RETURN_IF_ERROR(space.Validate());
  Options options;
  options.seed = seed;
  ASSIGN_OR_RETURN(options.sigma0, settings.Double("sigma", 1.0 / 6, 0, kTolXUp));
  if (options.sigma0 <= 0) {
    return InvalidArgument("setting sigma must be positive", settings.Field("sigma"));
  }
  ASSIGN_OR_RETURN(std::string restart,
                   settings.Choice("restart_strategy", "none", {"none", "ipop", "bipop"}));
  options.restart = restart == "ipop"    ? RestartStrategy::kIpop
                    : restart == "bipop" ? RestartStrategy::kBipop
                                         : RestartStrategy::kNone;
  std::int64_t dims = 0;
  for (std::size_t i = 0; i < space.params.size(); ++i) dims += IsCmaDimension(space, i) ? 1 : 0;
  const double log_n = std::log(static_cast<double>(std::max<std::int64_t>(dims, 1)));
  const std::int64_t default_popsize = 4 + static_cast<std::int64_t>(std::floor(3 * log_n));
  ASSIGN_OR_RETURN(options.popsize0, settings.Int("popsize", default_popsize, 4, kMaxPopsize));
  ASSIGN_OR_RETURN(options.inc_popsize, settings.Int("inc_popsize", 2, 1, 100));
  return std::unique_ptr<Sampler>(std::make_unique<CmaEsSampler>(space, options));
}

}  // namespace ferry::tuning::internal
