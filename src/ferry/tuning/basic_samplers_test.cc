// Tests of the random, grid and sobol samplers and internal::SampleUniform.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <numbers>
#include <set>
#include <string>
#include <vector>

#include "ferry/tuning/sampler.h"
#include "ferry/tuning/samplers_internal.h"
#include "ferry/tuning/space.h"
#include "ferry/tuning/testing/functions.h"
#include "ferry/tuning/testing/params.h"

namespace ferry::tuning {
namespace {

using testing::Categorical;
using testing::Discrete;
using testing::Double;
using testing::Int;
using testing::Branin;
using testing::Median;
using testing::kBraninMin;

using ::testing::HasSubstr;

// Every kind of parameter the samplers must keep feasible.
SearchSpace MixedSpace() {
  return SearchSpace{{Double("x", -2, 3), Double("lr", 1e-4, 1, 0, Distribution::kLogUniform),
                      Int("layers", 1, 8), Int("units", 16, 128, 16),
                      Int("batch", 1, 64, 0, Distribution::kLogUniform), Double("dropout", 0, 0.5, 0.1),
                      Discrete("k", {3, 5, 7, 11}), Categorical("opt", {"sgd", "adam", "rmsprop"}),
                      Double("mom", 0, 1, 0, Distribution::kNormal),
                      Int("depth", 1, 9, 0, Distribution::kLogNormal)}};
}

// 3 x 2 x 2 = 12 combinations.
SearchSpace SmallFiniteSpace() {
  return SearchSpace{{Int("n", 1, 3), Categorical("opt", {"sgd", "adam"}), Discrete("batch", {16, 32})}};
}

std::unique_ptr<Sampler> Make(const std::string& algorithm, const SearchSpace& space, std::uint64_t seed,
                              std::map<std::string, std::string> settings = {}) {
  Result<std::unique_ptr<Sampler>> made = MakeSampler(algorithm, settings, space, seed);
  EXPECT_TRUE(made.ok()) << made.status().ToString();
  return made.ok() ? std::move(made).value() : nullptr;
}

Suggestion AskOk(Sampler& sampler, const SearchSpace& space, const std::vector<Trial>& trials) {
  Result<Suggestion> s = sampler.Ask(StudyView{space, Direction::kMinimize, trials});
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? *s : Suggestion{};
}

Trial MakeTrial(std::int64_t number, std::vector<double> params, TrialState state,
                std::optional<double> value = std::nullopt) {
  Trial t;
  t.number = number;
  t.params = std::move(params);
  t.state = state;
  t.value = value;
  return t;
}

void ExpectFeasible(const SearchSpace& space, const std::vector<double>& params) {
  ASSERT_EQ(params.size(), space.params.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    EXPECT_TRUE(space.Contains(i, params[i])) << space.params[i].name << " = " << params[i];
  }
}

// A state per trial number that exercises every kind of history entry.
TrialState StateFor(std::int64_t n) {
  switch (n % 5) {
    case 0:
      return TrialState::kRunning;
    case 1:
      return TrialState::kFailed;
    case 2:
      return TrialState::kPruned;
    default:
      return TrialState::kComplete;
  }
}

// Asks `count` trials one by one, each appended with StateFor its number.
std::vector<Trial> Grow(Sampler& sampler, const SearchSpace& space, int count) {
  std::vector<Trial> trials;
  for (int n = 0; n < count; ++n) {
    Suggestion s = AskOk(sampler, space, trials);
    const TrialState state = StateFor(n);
    trials.push_back(
        MakeTrial(n, s.params, state, state == TrialState::kComplete ? std::optional(1.0) : std::nullopt));
  }
  return trials;
}

// The best loss after `budget` sequentially evaluated trials.
double BestOf(const std::string& algorithm, const SearchSpace& space, std::uint64_t seed, int budget,
              const std::function<double(const std::vector<double>&)>& f) {
  std::unique_ptr<Sampler> sampler = Make(algorithm, space, seed);
  std::vector<Trial> trials;
  double best = INFINITY;
  for (int n = 0; n < budget; ++n) {
    Suggestion s = AskOk(*sampler, space, trials);
    const double v = f(s.params);
    best = std::min(best, v);
    trials.push_back(MakeTrial(n, s.params, TrialState::kComplete, v));
  }
  return best;
}

// Warnock's closed form of the L2-star discrepancy of points in [0, 1)^d.
double L2StarDiscrepancy(const std::vector<std::vector<double>>& pts) {
  const double n = static_cast<double>(pts.size());
  const std::size_t d = pts[0].size();
  double single = 0, pairs = 0;
  for (const auto& x : pts) {
    double prod = 1;
    for (double xi : x) prod *= (1 - xi * xi) / 2;
    single += prod;
    for (const auto& y : pts) {
      double q = 1;
      for (std::size_t k = 0; k < d; ++k) q *= 1 - std::max(x[k], y[k]);
      pairs += q;
    }
  }
  return std::sqrt(std::pow(3.0, -static_cast<double>(d)) - 2 * single / n + pairs / (n * n));
}

// ---------------------------------------------------------------- SampleUniform

TEST(SampleUniformTest, FeasibleCoversEveryValueAndIsLogUniformOnLogScales) {
  SearchSpace space = MixedSpace();
  std::mt19937_64 rng = TrialRng(7, 0, 0);
  std::vector<std::set<double>> seen(space.params.size());
  int below_geometric_mean = 0;
  const int draws = 4000;
  for (int n = 0; n < draws; ++n) {
    for (std::size_t i = 0; i < space.params.size(); ++i) {
      const double v = internal::SampleUniform(space, i, rng);
      ASSERT_TRUE(space.Contains(i, v)) << space.params[i].name << " = " << v;
      seen[i].insert(v);
      if (i == 1 && v < 1e-2) ++below_geometric_mean;
    }
  }
  for (std::size_t i = 0; i < space.params.size(); ++i) {
    if (std::optional<std::int64_t> c = space.params[i].Cardinality()) {
      EXPECT_EQ(static_cast<std::int64_t>(seen[i].size()), *c) << space.params[i].name;
    }
  }
  // Log-uniform on [1e-4, 1]: half of the draws below 1e-2 (uniform: 1%).
  EXPECT_NEAR(below_geometric_mean / static_cast<double>(draws), 0.5, 0.05);
}

TEST(SampleUniformTest, IntEndpointsGetAFullShare) {
  SearchSpace space{{Int("n", 1, 4)}};
  std::mt19937_64 rng = TrialRng(3, 0, 0);
  std::map<double, int> counts;
  for (int n = 0; n < 8000; ++n) ++counts[internal::SampleUniform(space, 0, rng)];
  ASSERT_EQ(counts.size(), 4u);
  for (const auto& [v, c] : counts) EXPECT_NEAR(c, 2000, 200) << v;
}

// ---------------------------------------------------------------- random

TEST(RandomSamplerTest, FeasibleOverMixedSpaceWithTheDistributionsShapes) {
  SearchSpace space = MixedSpace();
  std::unique_ptr<Sampler> sampler = Make("random", space, 11);
  std::vector<Trial> trials = Grow(*sampler, space, 1500);
  int x_middle = 0, mom_middle = 0, lr_small = 0;
  for (const Trial& t : trials) {
    ExpectFeasible(space, t.params);
    if (t.params[0] > -2 + 5.0 / 3 && t.params[0] < -2 + 10.0 / 3) ++x_middle;
    if (t.params[8] > 1.0 / 3 && t.params[8] < 2.0 / 3) ++mom_middle;
    if (t.params[1] < 1e-2) ++lr_small;
  }
  const double n = static_cast<double>(trials.size());
  EXPECT_NEAR(x_middle / n, 1.0 / 3, 0.05);  // uniform
  EXPECT_NEAR(mom_middle / n, 0.68, 0.05);   // normal, sd = range / 6: middle third = +-1 sd
  EXPECT_NEAR(lr_small / n, 0.5, 0.05);      // log-uniform
}

TEST(RandomSamplerTest, DeterministicAndRestartEquivalent) {
  for (const SearchSpace& space : {MixedSpace(), SmallFiniteSpace()}) {
    std::unique_ptr<Sampler> long_lived = Make("random", space, 5);
    std::vector<Trial> trials;
    for (int n = 0; n < 40; ++n) {
      Suggestion s = AskOk(*long_lived, space, trials);
      std::unique_ptr<Sampler> fresh = Make("random", space, 5);
      EXPECT_EQ(AskOk(*fresh, space, trials).params, s.params) << n;
      trials.push_back(MakeTrial(n, s.params, StateFor(n)));
    }
    // A view that is not an extension of the cached one (a shorter history
    // with other parameters) is handled like a fresh sampler would.
    std::vector<Trial> other(trials.begin(), trials.begin() + 5);
    other[4].params = other[0].params;
    std::unique_ptr<Sampler> fresh = Make("random", space, 5);
    EXPECT_EQ(AskOk(*long_lived, space, other).params, AskOk(*fresh, space, other).params);
    // Another seed gives another sequence.
    std::unique_ptr<Sampler> other_seed = Make("random", space, 6);
    std::vector<Trial> grown = Grow(*other_seed, space, 10);
    int same = 0;
    for (int n = 0; n < 10; ++n) same += grown[n].params == trials[n].params;
    EXPECT_LT(same, 5);
  }
}

TEST(RandomSamplerTest, SamplesWithoutReplacementOnFiniteSpaces) {
  SearchSpace space = SmallFiniteSpace();
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    std::unique_ptr<Sampler> sampler = Make("random", space, seed);
    std::vector<Trial> trials = Grow(*sampler, space, 12);
    std::set<std::vector<double>> combos;
    for (const Trial& t : trials) {
      ExpectFeasible(space, t.params);
      combos.insert(t.params);
    }
    EXPECT_EQ(combos.size(), 12u) << "seed " << seed;
    // Exhausted: repeats are allowed again, and stay feasible.
    ExpectFeasible(space, AskOk(*sampler, space, trials).params);
  }
  // Eleven of twelve taken by trials the sampler never proposed: the one
  // left is found, not a random repeat.
  std::vector<std::vector<double>> all;
  for (double n : {1, 2, 3})
    for (double opt : {0, 1})
      for (double batch : {16, 32}) all.push_back({n, opt, batch});
  for (std::size_t left = 0; left < all.size(); ++left) {
    std::vector<Trial> trials;
    for (std::size_t k = 0; k < all.size(); ++k) {
      if (k != left)
        trials.push_back(MakeTrial(static_cast<std::int64_t>(trials.size()), all[k], TrialState::kFailed));
    }
    std::unique_ptr<Sampler> sampler = Make("random", space, 99);
    EXPECT_EQ(AskOk(*sampler, space, trials).params, all[left]);
  }
}

// ---------------------------------------------------------------- grid

// 5 x 3 x 4 x 2 x 3 = 360 combinations.
SearchSpace GridSpace() {
  return SearchSpace{{Double("dropout", 0, 1, 0.25), Int("units", 1, 5, 2),
                      Int("batch", 1, 4, 0, Distribution::kLogUniform), Categorical("opt", {"sgd", "adam"}),
                      Discrete("k", {0.5, 1.5, 2.5})}};
}

TEST(GridSamplerTest, VisitsEveryCombinationOnceThenStops) {
  SearchSpace space = GridSpace();
  std::vector<std::vector<std::vector<double>>> orders;
  for (std::uint64_t seed : {1, 2}) {
    std::unique_ptr<Sampler> sampler = Make("grid", space, seed);
    std::vector<Trial> trials = Grow(*sampler, space, 360);
    std::set<std::vector<double>> combos;
    std::vector<std::vector<double>> order;
    for (const Trial& t : trials) {
      ExpectFeasible(space, t.params);
      combos.insert(t.params);
      order.push_back(t.params);
    }
    EXPECT_EQ(combos.size(), 360u);
    Result<Suggestion> after = sampler->Ask(StudyView{space, Direction::kMinimize, trials});
    EXPECT_EQ(after.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_THAT(after.status().message(), HasSubstr("360"));
    // Shuffled, not in lexicographic order.
    EXPECT_FALSE(std::is_sorted(order.begin(), order.end()));
    orders.push_back(order);
  }
  // The seed picks the order.
  EXPECT_NE(orders[0], orders[1]);
}

TEST(GridSamplerTest, SkipsCombinationsTakenByRunningDuplicateAndHandMadeTrials) {
  SearchSpace space = SmallFiniteSpace();
  const std::vector<double> a = {2, 1, 16}, b = {3, 0, 32};
  std::vector<Trial> trials = {
      MakeTrial(0, a, TrialState::kRunning),
      MakeTrial(1, a, TrialState::kComplete, 1.0),  // a duplicate of a running trial
      MakeTrial(2, b, TrialState::kFailed),
      MakeTrial(3, {2.5, 0, 16}, TrialState::kComplete, 2.0),  // not on the grid
  };
  std::unique_ptr<Sampler> sampler = Make("grid", space, 4);
  std::set<std::vector<double>> combos = {a, b};
  for (int k = 0; k < 10; ++k) {
    Suggestion s = AskOk(*sampler, space, trials);
    ExpectFeasible(space, s.params);
    EXPECT_TRUE(combos.insert(s.params).second) << "repeated at ask " << k;
    // A fresh sampler agrees at every step.
    EXPECT_EQ(AskOk(*Make("grid", space, 4), space, trials).params, s.params);
    trials.push_back(MakeTrial(static_cast<std::int64_t>(trials.size()), s.params, TrialState::kRunning));
  }
  EXPECT_EQ(combos.size(), 12u);
  EXPECT_EQ(sampler->Ask(StudyView{space, Direction::kMinimize, trials}).status().code(),
            StatusCode::kFailedPrecondition);
}

TEST(GridSamplerTest, DeterministicAndRestartEquivalent) {
  SearchSpace space = GridSpace();
  std::unique_ptr<Sampler> long_lived = Make("grid", space, 8);
  std::vector<Trial> trials;
  for (int n = 0; n < 50; ++n) {
    Suggestion s = AskOk(*long_lived, space, trials);
    EXPECT_EQ(AskOk(*Make("grid", space, 8), space, trials).params, s.params) << n;
    trials.push_back(MakeTrial(n, s.params, StateFor(n)));
  }
  std::vector<Trial> shorter(trials.begin(), trials.begin() + 7);
  EXPECT_EQ(AskOk(*long_lived, space, shorter).params, AskOk(*Make("grid", space, 8), space, shorter).params);
}

TEST(GridSamplerTest, RefusesWhatItCannotSearch) {
  struct Case {
    SearchSpace space;
    std::string field;
    std::string words;
  };
  std::vector<Case> cases = {
      {SearchSpace{{Int("n", 1, 3), Double("lr", 0, 1)}}, "spec.parameters[1].feasibleSpace.step",
       "grid needs a step for a double"},
      {SearchSpace{{Double("lr", 1e-4, 1, 0, Distribution::kLogUniform)}},
       "spec.parameters[0].feasibleSpace.step", "grid needs a step"},
      {SearchSpace{{Int("a", 1, 100), Int("b", 1, 100), Int("c", 1, 100), Int("d", 1, 100)}},
       "spec.parameters", "10000000"},
  };
  for (const Case& c : cases) {
    Result<std::unique_ptr<Sampler>> made = MakeSampler("grid", {}, c.space, 1);
    ASSERT_FALSE(made.ok()) << c.field;
    EXPECT_EQ(made.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(made.status().field(), c.field);
    EXPECT_THAT(made.status().message(), HasSubstr(c.words));
  }
  // Exactly ten million is allowed, and asking is cheap since nothing is
  // materialised.
  SearchSpace big;
  for (int i = 0; i < 7; ++i) big.params.push_back(Int("p" + std::to_string(i), 0, 9));
  std::unique_ptr<Sampler> sampler = Make("grid", big, 1);
  ASSERT_NE(sampler, nullptr);
  std::vector<Trial> trials = Grow(*sampler, big, 200);
  std::set<std::vector<double>> combos;
  for (const Trial& t : trials) combos.insert(t.params);
  EXPECT_EQ(combos.size(), 200u);
}

// ---------------------------------------------------------------- sobol

// The internal coordinates of `d` unit doubles are the values themselves.
std::vector<std::vector<double>> SobolPoints(std::size_t d, int count, std::uint64_t seed) {
  SearchSpace space;
  for (std::size_t i = 0; i < d; ++i) space.params.push_back(Double("x" + std::to_string(i), 0, 1));
  std::unique_ptr<Sampler> sampler = Make("sobol", space, seed);
  std::vector<Trial> trials = Grow(*sampler, space, count);
  std::vector<std::vector<double>> pts;
  for (const Trial& t : trials) pts.push_back(t.params);
  return pts;
}

TEST(SobolSamplerTest, FirstPowerOfTwoPointsFormANet) {
  for (std::uint64_t seed : {1, 2, 3}) {
    std::vector<std::vector<double>> pts = SobolPoints(5, 256, seed);
    // Every dimension: one point in each of 256 equal intervals.
    for (std::size_t k = 0; k < 5; ++k) {
      std::set<int> bins;
      for (const auto& x : pts) bins.insert(static_cast<int>(x[k] * 256));
      EXPECT_EQ(bins.size(), 256u) << "dimension " << k << " seed " << seed;
    }
    // The first two dimensions are a (0, 8, 2)-net: one point in every
    // elementary box of area 1/256.
    for (int a = 0; a <= 8; ++a) {
      std::set<std::pair<int, int>> boxes;
      for (const auto& x : pts)
        boxes.insert({static_cast<int>(x[0] * (1 << a)), static_cast<int>(x[1] * (1 << (8 - a)))});
      EXPECT_EQ(boxes.size(), 256u) << "boxes 2^" << a << " x 2^" << 8 - a << " seed " << seed;
    }
  }
}

TEST(SobolSamplerTest, MuchLowerDiscrepancyThanRandom) {
  SearchSpace space;
  for (int i = 0; i < 5; ++i) space.params.push_back(Double("x" + std::to_string(i), 0, 1));
  // Per seed: the L2-star discrepancy, and how unevenly the points fill the
  // 16 x 16 cells of every two-dimensional projection (sum over the 10
  // projections of (count - 1)^2; about 255 per projection for random).
  auto unevenness = [](const std::vector<std::vector<double>>& pts) {
    double sum = 0;
    for (std::size_t a = 0; a < 5; ++a) {
      for (std::size_t b = a + 1; b < 5; ++b) {
        std::vector<int> cells(256, 0);
        for (const auto& x : pts) ++cells[static_cast<int>(x[a] * 16) * 16 + static_cast<int>(x[b] * 16)];
        for (int c : cells) sum += (c - 1) * (c - 1);
      }
    }
    return sum;
  };
  double sobol_disc = 0, random_disc = 0, sobol_uneven = 0, random_uneven = 0;
  for (std::uint64_t seed = 0; seed < 8; ++seed) {
    std::vector<std::vector<double>> sobol = SobolPoints(5, 256, seed);
    std::unique_ptr<Sampler> sampler = Make("random", space, seed);
    std::vector<std::vector<double>> random;
    for (const Trial& t : Grow(*sampler, space, 256)) random.push_back(t.params);
    sobol_disc += L2StarDiscrepancy(sobol) / 8;
    random_disc += L2StarDiscrepancy(random) / 8;
    sobol_uneven += unevenness(sobol) / 8;
    random_uneven += unevenness(random) / 8;
  }
  std::printf(
      "256 points in 5-D, mean of 8 seeds: L2-star discrepancy sobol %.5f random %.5f; "
      "2-D unevenness sobol %.1f random %.1f\n",
      sobol_disc, random_disc, sobol_uneven, random_uneven);
  EXPECT_LT(sobol_disc, 0.6 * random_disc);
  EXPECT_LT(sobol_uneven, 0.5 * random_uneven);
}

TEST(SobolSamplerTest, BeatsRandomOnBranin) {
  SearchSpace space{{Double("x1", -5, 10), Double("x2", 0, 15)}};
  std::vector<double> sobol, random;
  for (std::uint64_t seed = 0; seed < 10; ++seed) {
    sobol.push_back(BestOf("sobol", space, seed, 64, Branin) - kBraninMin);
    random.push_back(BestOf("random", space, seed, 64, Branin) - kBraninMin);
  }
  std::printf("Branin regret after 64 trials, median of 10 seeds: sobol %.4f, random %.4f\n", Median(sobol),
              Median(random));
  EXPECT_LT(Median(sobol), Median(random));
  EXPECT_LT(Median(sobol), 1.0);
}

TEST(SobolSamplerTest, FeasibleOverMixedSpaceAndEveryValueIsReached) {
  SearchSpace space = MixedSpace();
  std::unique_ptr<Sampler> sampler = Make("sobol", space, 3);
  std::vector<Trial> trials = Grow(*sampler, space, 128);
  std::vector<std::set<double>> seen(space.params.size());
  for (const Trial& t : trials) {
    ExpectFeasible(space, t.params);
    for (std::size_t i = 0; i < t.params.size(); ++i) seen[i].insert(t.params[i]);
  }
  for (std::size_t i = 0; i < space.params.size(); ++i) {
    if (std::optional<std::int64_t> c = space.params[i].Cardinality(); c && *c <= 16) {
      EXPECT_EQ(static_cast<std::int64_t>(seen[i].size()), *c) << space.params[i].name;
    }
  }
}

TEST(SobolSamplerTest, DeterministicAndRestartEquivalent) {
  SearchSpace space = MixedSpace();
  std::unique_ptr<Sampler> long_lived = Make("sobol", space, 21);
  std::vector<Trial> trials;
  for (int n = 0; n < 40; ++n) {
    Suggestion s = AskOk(*long_lived, space, trials);
    EXPECT_EQ(AskOk(*Make("sobol", space, 21), space, trials).params, s.params) << n;
    trials.push_back(MakeTrial(n, s.params, StateFor(n)));
  }
  EXPECT_NE(SobolPoints(3, 8, 1), SobolPoints(3, 8, 2));
}

TEST(SobolSamplerTest, SupportsSixtyFiveDimensionsAndRefusesMore) {
  // Every embedded direction-number line gives a stratified dimension.
  std::vector<std::vector<double>> pts = SobolPoints(65, 64, 5);
  for (std::size_t k = 0; k < 65; ++k) {
    std::set<int> bins;
    for (const auto& x : pts) bins.insert(static_cast<int>(x[k] * 64));
    EXPECT_EQ(bins.size(), 64u) << "dimension " << k;
  }
  SearchSpace too_many;
  for (int i = 0; i < 66; ++i) too_many.params.push_back(Double("x" + std::to_string(i), 0, 1));
  Result<std::unique_ptr<Sampler>> made = MakeSampler("sobol", {}, too_many, 1);
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(made.status().field(), "spec.parameters");
  EXPECT_THAT(made.status().message(), HasSubstr("65"));
}

// ---------------------------------------------------------------- shared

TEST(BasicSamplersTest, SettingsAreCheckedAndNamed) {
  SearchSpace space = SmallFiniteSpace();
  for (const char* algorithm : {"random", "grid", "sobol"}) {
    EXPECT_TRUE(MakeSampler(algorithm, {{"random_state", "42"}}, space, 1).ok()) << algorithm;
    Result<std::unique_ptr<Sampler>> bad = MakeSampler(algorithm, {{"random_state", "-3"}}, space, 1);
    EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument) << algorithm;
    EXPECT_EQ(bad.status().field(), "spec.algorithm.algorithmSettings[random_state]");
    Result<std::unique_ptr<Sampler>> unknown = MakeSampler(algorithm, {{"n_startup_trials", "5"}}, space, 1);
    EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidArgument) << algorithm;
    EXPECT_EQ(unknown.status().field(), "spec.algorithm.algorithmSettings[n_startup_trials]");
  }
  // random_state overrides the default seed.
  std::vector<Trial> none;
  EXPECT_EQ(AskOk(*Make("sobol", MixedSpace(), 1, {{"random_state", "9"}}), MixedSpace(), none).params,
            AskOk(*Make("sobol", MixedSpace(), 9), MixedSpace(), none).params);
}

// Printed, not asserted: per-Ask cost with 100 and 1,000 completed trials,
// for a long-lived sampler (cache warm) and a fresh one (cache built).
TEST(BasicSamplersTest, AskTiming) {
  struct Case {
    std::string algorithm;
    SearchSpace space;
  };
  SearchSpace grid_space;
  for (int i = 0; i < 6; ++i) grid_space.params.push_back(Int("p" + std::to_string(i), 0, 9));
  std::vector<Case> cases = {
      {"random", MixedSpace()}, {"random", grid_space}, {"grid", grid_space}, {"sobol", MixedSpace()}};
  for (const Case& c : cases) {
    for (int n : {100, 1000}) {
      std::unique_ptr<Sampler> sampler = Make(c.algorithm, c.space, 1);
      std::vector<Trial> trials;
      for (int k = 0; k < n; ++k) {
        trials.push_back(MakeTrial(k, AskOk(*sampler, c.space, trials).params, TrialState::kComplete,
                                   static_cast<double>(k)));
      }
      const int reps = 200;
      auto t0 = std::chrono::steady_clock::now();
      for (int r = 0; r < reps; ++r) AskOk(*sampler, c.space, trials);
      auto t1 = std::chrono::steady_clock::now();
      for (int r = 0; r < 20; ++r) AskOk(*Make(c.algorithm, c.space, 1), c.space, trials);
      auto t2 = std::chrono::steady_clock::now();
      std::printf("%-7s d=%2zu n=%4d: %8.2f us/Ask warm, %8.2f us/Ask fresh\n", c.algorithm.c_str(),
                  c.space.params.size(), n, std::chrono::duration<double, std::micro>(t1 - t0).count() / reps,
                  std::chrono::duration<double, std::micro>(t2 - t1).count() / 20);
    }
  }
}

}  // namespace
}  // namespace ferry::tuning
