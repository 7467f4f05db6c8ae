#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <numbers>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ferry/tuning/sampler.h"
#include "ferry/tuning/space.h"
#include "ferry/tuning/testing/params.h"

namespace ferry::tuning {
namespace {

using testing::Categorical;
using testing::Discrete;
using testing::Double;
using testing::Int;

using ::testing::HasSubstr;
using Objective = std::function<double(const std::vector<double>&)>;

SearchSpace Box(int n, double lo, double hi) {
  SearchSpace s;
  for (int i = 0; i < n; ++i) s.params.push_back(Double("x" + std::to_string(i), lo, hi));
  return s;
}

// Optima away from the centre, where every run starts.
double Sphere(const std::vector<double>& x) {
  double f = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double d = x[i] - (1.0 - 0.7 * static_cast<double>(i));
    f += d * d;
  }
  return f;
}

double Rosenbrock(const std::vector<double>& x) {
  double f = 0;
  for (std::size_t i = 0; i + 1 < x.size(); ++i) {
    f += 100 * std::pow(x[i + 1] - x[i] * x[i], 2) + std::pow(1 - x[i], 2);
  }
  return f;
}

// Shifted so the global minimum (0) is not at the centre of the box.
double Rastrigin(const std::vector<double>& x) {
  double f = 10.0 * static_cast<double>(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double z = x[i] - (1.3 - 0.6 * static_cast<double>(i));
    f += z * z - 10 * std::cos(2 * std::numbers::pi * z);
  }
  return f;
}

struct Study {
  explicit Study(SearchSpace s = {}) : space(std::move(s)) {}
  SearchSpace space;
  Direction direction = Direction::kMinimize;
  std::vector<Trial> trials;
  StudyView View() const { return StudyView{space, direction, trials}; }
};

std::unique_ptr<Sampler> MakeCma(const SearchSpace& space, std::map<std::string, std::string> settings = {},
                                 std::uint64_t seed = 1) {
  auto made = MakeSampler("cmaes", settings, space, seed);
  EXPECT_TRUE(made.ok()) << made.status().ToString();
  return made.ok() ? std::move(made).value() : nullptr;
}

// Asks for the next trial and records it as running.
std::size_t AskTrial(Sampler& sampler, Study& study) {
  auto s = sampler.Ask(study.View());
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  Trial t;
  t.number = static_cast<std::int64_t>(study.trials.size());
  if (s.ok()) {
    t.params = s->params;
    t.attrs = s->attrs;
  }
  study.trials.push_back(std::move(t));
  return study.trials.size() - 1;
}

void Complete(Study& study, std::size_t i, double value) {
  study.trials[i].state = TrialState::kComplete;
  study.trials[i].value = value;
}

// Sequential optimisation; returns the best loss.
double Optimise(Sampler& sampler, Study& study, int budget, const Objective& f) {
  double best = std::numeric_limits<double>::infinity();
  for (int k = 0; k < budget; ++k) {
    const std::size_t i = AskTrial(sampler, study);
    const double v = f(study.trials[i].params);
    Complete(study, i, v);
    best = std::min(best, study.direction == Direction::kMinimize ? v : -v);
  }
  return best;
}

double RandomSearchBest(const SearchSpace& space, int budget, const Objective& f, std::uint64_t seed) {
  double best = std::numeric_limits<double>::infinity();
  for (int t = 0; t < budget; ++t) {
    std::mt19937_64 rng = TrialRng(seed, t, 424242);
    std::uniform_real_distribution<double> u(0, 1);
    std::vector<double> x(space.params.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
      auto [lo, hi] = space.InternalBounds(i);
      x[i] = space.FromInternal(i, lo + u(rng) * (hi - lo));
    }
    best = std::min(best, f(x));
  }
  return best;
}

std::int64_t AttrInt(const Trial& t, const std::string& key) {
  auto it = t.attrs.find(key);
  return it == t.attrs.end() ? -1 : std::stoll(it->second);
}

std::vector<std::int64_t> Told(const Trial& t) {
  std::vector<std::int64_t> out;
  auto it = t.attrs.find("cmaes:told");
  if (it == t.attrs.end()) return out;
  std::string s = it->second;
  std::size_t start = 0;
  while (start < s.size()) {
    std::size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    out.push_back(std::stoll(s.substr(start, comma - start)));
    start = comma + 1;
  }
  return out;
}

// Over 60 seeds the cmaes library itself (same settings) reaches a geometric
// mean of 8e-4 after 300 evaluations here and this sampler 6e-4: single
// seeds scatter around 1e-3, so the median of five is what is asserted.
TEST(CmaEsSamplerTest, ConvergesOnSphere5D) {
  std::vector<double> best;
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    Study study{Box(5, -5, 5)};
    auto sampler = MakeCma(study.space, {}, seed);
    ASSERT_NE(sampler, nullptr);
    best.push_back(Optimise(*sampler, study, 300, Sphere));
    EXPECT_LT(best.back(), 1e-2) << "seed " << seed;
  }
  std::sort(best.begin(), best.end());
  EXPECT_LT(best[2], 1e-3);  // the median
}

TEST(CmaEsSamplerTest, ConvergesOnRosenbrock4D) {
  for (std::uint64_t seed : {1, 2, 3}) {
    Study study{Box(4, -2, 2)};
    auto sampler = MakeCma(study.space, {}, seed);
    ASSERT_NE(sampler, nullptr);
    EXPECT_LT(Optimise(*sampler, study, 1500, Rosenbrock), 1e-3) << "seed " << seed;
  }
}

TEST(CmaEsSamplerTest, ClearlyBeatsRandomSearchOnTheSameBudget) {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    Study sphere{Box(5, -5, 5)};
    auto a = MakeCma(sphere.space, {}, seed);
    const double cma_sphere = Optimise(*a, sphere, 200, Sphere);
    EXPECT_LT(cma_sphere * 10, RandomSearchBest(sphere.space, 200, Sphere, seed)) << "seed " << seed;

    Study rosen{Box(4, -2, 2)};
    auto b = MakeCma(rosen.space, {}, seed);
    const double cma_rosen = Optimise(*b, rosen, 400, Rosenbrock);
    EXPECT_LT(cma_rosen * 10, RandomSearchBest(rosen.space, 400, Rosenbrock, seed)) << "seed " << seed;
  }
}

TEST(CmaEsSamplerTest, IpopRestartsImproveOnRastrigin5D) {
  const int kBudget = 3000;
  double sum_none = 0, sum_ipop = 0;
  int ipop_wins = 0;
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    Study none{Box(5, -5.12, 5.12)};
    auto plain = MakeCma(none.space, {}, seed);
    const double best_none = Optimise(*plain, none, kBudget, Rastrigin);
    for (const Trial& t : none.trials) ASSERT_EQ(AttrInt(t, "cmaes:restart"), 0);

    Study ipop{Box(5, -5.12, 5.12)};
    auto restarting = MakeCma(ipop.space, {{"restart_strategy", "ipop"}}, seed);
    const double best_ipop = Optimise(*restarting, ipop, kBudget, Rastrigin);

    // Restarts fired, and each one doubled the population (told sets grow).
    std::map<std::int64_t, std::size_t> popsize_of_restart;
    for (const Trial& t : ipop.trials) {
      std::vector<std::int64_t> told = Told(t);
      if (told.empty()) continue;
      const std::int64_t r = AttrInt(ipop.trials[static_cast<std::size_t>(told[0])], "cmaes:restart");
      popsize_of_restart[r] = told.size();
    }
    ASSERT_GE(popsize_of_restart.size(), 2u) << "seed " << seed;
    for (auto [r, size] : popsize_of_restart) EXPECT_EQ(size, 8u << r) << "seed " << seed;

    sum_none += best_none;
    sum_ipop += best_ipop;
    if (best_ipop <= best_none) ++ipop_wins;
  }
  EXPECT_LT(sum_ipop, 0.5 * sum_none);
  EXPECT_GE(ipop_wins, 4);
}

TEST(CmaEsSamplerTest, BipopAlternatesLargeAndSmallPopulations) {
  Study study{Box(2, -5.12, 5.12)};
  auto sampler = MakeCma(study.space, {{"restart_strategy", "bipop"}}, 3);
  Optimise(*sampler, study, 3000, Rastrigin);
  std::map<std::int64_t, std::size_t> popsize_of_restart;
  for (const Trial& t : study.trials) {
    std::vector<std::int64_t> told = Told(t);
    if (told.empty()) continue;
    popsize_of_restart[AttrInt(study.trials[static_cast<std::size_t>(told[0])], "cmaes:restart")] =
        told.size();
  }
  ASSERT_GE(popsize_of_restart.size(), 3u);
  // Restart 1 is always a large run (twice the default 6); a small run
  // follows once the large ones used more evaluations.
  EXPECT_EQ(popsize_of_restart[0], 6u);
  EXPECT_EQ(popsize_of_restart[1], 12u);
  EXPECT_GE(popsize_of_restart[2], 6u);
  EXPECT_LT(popsize_of_restart[2], 12u);
}

TEST(CmaEsSamplerTest, MixedSpaceStaysFeasibleAndOptimises) {
  Study study;
  study.space.params = {
      Double("x", -3, 3),
      Double("lr", 1e-4, 1, 0, Distribution::kLogUniform),
      Int("layers", 1, 8),
      Int("units", 16, 256, 16),
      Int("batch", 8, 512, 0, Distribution::kLogUniform),
      Double("dropout", 0, 0.5, 0.05),
      Discrete("momentum", {0.0, 0.5, 0.9, 0.99}),
      Categorical("optimizer", {"sgd", "adam", "rmsprop"}),
      Int("fixed", 4, 4),
  };
  ASSERT_TRUE(study.space.Validate().ok());
  // Optimum at x=1, lr=1e-2, layers=3, units=128, batch=64, dropout=0.2,
  // momentum=0.9, optimizer=adam.
  auto f = [](const std::vector<double>& p) {
    return std::pow(p[0] - 1, 2) + std::pow(std::log10(p[1]) + 2, 2) + std::pow(p[2] - 3, 2) +
           std::pow((p[3] - 128) / 16, 2) + std::pow(std::log2(p[4]) - 6, 2) +
           std::pow((p[5] - 0.2) * 10, 2) + std::abs(p[6] - 0.9) * 10 + (p[7] == 1 ? 0 : 1);
  };
  auto sampler = MakeCma(study.space, {}, 7);
  const double best = Optimise(*sampler, study, 400, f);
  std::set<double> optimizers;
  for (const Trial& t : study.trials) {
    for (std::size_t i = 0; i < t.params.size(); ++i) {
      ASSERT_TRUE(study.space.Contains(i, t.params[i])) << study.space.params[i].name << " = " << t.params[i];
    }
    EXPECT_EQ(t.params[8], 4);
    optimizers.insert(t.params[7]);
  }
  EXPECT_EQ(optimizers.size(), 3u);  // sampled at random, every choice shows up
  // Every numeric parameter reached its optimum together (the categorical
  // one is random, so it may cost 1).
  EXPECT_LT(best, 0.1);
}

TEST(CmaEsSamplerTest, CategoricalOnlySpaceFallsBackToRandomSampling) {
  Study study;
  study.space.params = {Categorical("a", {"x", "y"}), Categorical("b", {"p", "q", "r"})};
  auto sampler = MakeCma(study.space, {}, 5);
  std::set<std::pair<double, double>> seen;
  for (int k = 0; k < 60; ++k) {
    const std::size_t i = AskTrial(*sampler, study);
    Complete(study, i, 1.0);
    EXPECT_TRUE(study.trials[i].attrs.empty());
    seen.insert({study.trials[i].params[0], study.trials[i].params[1]});
  }
  EXPECT_EQ(seen.size(), 6u);
}

TEST(CmaEsSamplerTest, OneDimensionIsSearchedToo) {
  Study study{Box(1, -10, 10)};
  auto sampler = MakeCma(study.space, {}, 2);
  EXPECT_LT(Optimise(*sampler, study, 100, Sphere), 1e-6);
}

TEST(CmaEsSamplerTest, SameSeedSameSuggestionsOtherSeedDiffers) {
  auto run = [](std::uint64_t seed) {
    Study study{Box(3, -5, 5)};
    auto sampler = MakeCma(study.space, {{"restart_strategy", "ipop"}}, seed);
    Optimise(*sampler, study, 120, Sphere);
    return study.trials;
  };
  std::vector<Trial> a = run(11), b = run(11), c = run(12);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].params, b[i].params);
    EXPECT_EQ(a[i].attrs, b[i].attrs);
  }
  EXPECT_NE(a[0].params, c[0].params);
  // random_state overrides the study seed.
  Study study{Box(3, -5, 5)};
  auto x = MakeCma(study.space, {{"random_state", "11"}}, 999);
  auto first = x->Ask(study.View());
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->params, a[0].params);
}

// Four workers, completions out of order, failures and pruned trials, IPOP
// restarts: at every step a fresh sampler given the history must suggest
// exactly what the long-lived one does.
TEST(CmaEsSamplerTest, FreshSamplerReplaysToTheSameSuggestion) {
  Study study{Box(2, -5, 5)};
  const std::map<std::string, std::string> settings = {{"restart_strategy", "ipop"}, {"popsize", "4"}};
  auto long_lived = MakeCma(study.space, settings, 21);
  std::vector<std::size_t> running;
  std::mt19937_64 order(5);
  int checked = 0, restarts_seen = 0;
  // A flat-bottomed bowl: once a run sits in the flat part, tolfun restarts
  // it early (and the tied values exercise the stable sort).
  auto f = [](const std::vector<double>& x) { return std::max(Sphere(x) - 0.1, 0.0); };
  for (int k = 0; k < 1200; ++k) {
    std::optional<Suggestion> got;
    if (k % 10 == 0) {
      auto fresh = MakeCma(study.space, settings, 21);
      auto want = fresh->Ask(study.View());
      auto first = long_lived->Ask(study.View());
      ASSERT_TRUE(want.ok() && first.ok());
      ASSERT_EQ(want->params, first->params) << "trial " << study.trials.size();
      ASSERT_EQ(want->attrs, first->attrs) << "trial " << study.trials.size();
      got = *first;
      ++checked;
    }
    running.push_back(AskTrial(*long_lived, study));
    if (got) {  // asking twice on the same history gives the same answer
      ASSERT_EQ(study.trials.back().params, got->params);
      ASSERT_EQ(study.trials.back().attrs, got->attrs);
    }
    restarts_seen =
        std::max<int>(restarts_seen, static_cast<int>(AttrInt(study.trials.back(), "cmaes:restart")));
    if (running.size() < 4) continue;
    // Finish a random one of the running trials.
    const std::size_t pick = order() % running.size();
    const std::size_t i = running[pick];
    running.erase(running.begin() + static_cast<std::ptrdiff_t>(pick));
    if (i % 11 == 5) {
      study.trials[i].state = TrialState::kFailed;
    } else if (i % 13 == 7) {
      study.trials[i].state = TrialState::kPruned;
      study.trials[i].intermediate[1] = 0.0;
    } else {
      Complete(study, i, f(study.trials[i].params));
    }
  }
  EXPECT_GT(checked, 100);
  EXPECT_GE(restarts_seen, 2);

  // A shorter history (a caller that lost trials) invalidates the cache.
  study.trials.resize(400);
  auto fresh = MakeCma(study.space, settings, 21);
  auto want = fresh->Ask(study.View());
  auto got = long_lived->Ask(study.View());
  ASSERT_TRUE(want.ok() && got.ok());
  EXPECT_EQ(want->params, got->params);
  EXPECT_EQ(want->attrs, got->attrs);

  // So does a longer, different history.
  Study other{Box(2, -5, 5)};
  auto other_sampler = MakeCma(other.space, settings, 21);
  Optimise(*other_sampler, other, 450, Sphere);
  fresh = MakeCma(other.space, settings, 21);
  want = fresh->Ask(other.View());
  got = long_lived->Ask(other.View());
  ASSERT_TRUE(want.ok() && got.ok());
  EXPECT_EQ(want->params, got->params);
  EXPECT_EQ(want->attrs, got->attrs);
}

TEST(CmaEsSamplerTest, RunningTrialsGetMoreSamplesOfTheSameGeneration) {
  Study study{Box(3, -5, 5)};
  auto sampler = MakeCma(study.space, {{"popsize", "5"}}, 4);
  // Eight workers start before anything finishes.
  for (int k = 0; k < 8; ++k) AskTrial(*sampler, study);
  std::set<std::vector<double>> points;
  for (const Trial& t : study.trials) {
    EXPECT_EQ(AttrInt(t, "cmaes:generation"), 0);
    EXPECT_FALSE(t.attrs.count("cmaes:told"));
    points.insert(t.params);
  }
  EXPECT_EQ(points.size(), 8u);

  // Trial 0 fails, 2 is pruned, 3 stays running: four solutions so far.
  study.trials[0].state = TrialState::kFailed;
  study.trials[2].state = TrialState::kPruned;
  for (std::size_t i : {1, 4, 5, 6}) Complete(study, i, Sphere(study.trials[i].params));
  std::size_t next = AskTrial(*sampler, study);
  EXPECT_EQ(AttrInt(study.trials[next], "cmaes:generation"), 0);
  EXPECT_TRUE(Told(study.trials[next]).empty());

  // The fifth solution completes the generation: told at the next ask.
  Complete(study, 7, Sphere(study.trials[7].params));
  next = AskTrial(*sampler, study);
  EXPECT_EQ(AttrInt(study.trials[next], "cmaes:generation"), 1);
  EXPECT_EQ(Told(study.trials[next]), (std::vector<std::int64_t>{1, 4, 5, 6, 7}));

  // Straggler 3 of generation 0 completes late: it is not a solution of
  // generation 1, and a fresh sampler still agrees with the long-lived one.
  Complete(study, 3, Sphere(study.trials[3].params));
  auto fresh = MakeCma(study.space, {{"popsize", "5"}}, 4);
  auto want = fresh->Ask(study.View());
  auto got = sampler->Ask(study.View());
  ASSERT_TRUE(want.ok() && got.ok());
  EXPECT_EQ(want->params, got->params);
  EXPECT_EQ(got->attrs.at("cmaes:generation"), "1");
  EXPECT_FALSE(got->attrs.count("cmaes:told"));
}

TEST(CmaEsSamplerTest, MaximisesWhenAskedTo) {
  Study study{Box(4, -5, 5)};
  study.direction = Direction::kMaximize;
  auto sampler = MakeCma(study.space, {}, 8);
  const double best_loss =
      Optimise(*sampler, study, 300, [](const std::vector<double>& x) { return -Sphere(x); });
  EXPECT_LT(best_loss, 1e-3);  // the loss is -value: the maximum 0 was approached
}

TEST(CmaEsSamplerTest, NonFiniteValuesAreNotSolutions) {
  Study study{Box(2, -5, 5)};
  auto sampler = MakeCma(study.space, {{"popsize", "4"}}, 9);
  for (int k = 0; k < 6; ++k) AskTrial(*sampler, study);
  for (std::size_t i = 0; i < 6; ++i) {
    Complete(study, i, i % 2 ? std::numeric_limits<double>::quiet_NaN() : Sphere(study.trials[i].params));
  }
  // Three finite values: not enough for a generation of four.
  std::size_t next = AskTrial(*sampler, study);
  EXPECT_TRUE(Told(study.trials[next]).empty());
  Complete(study, next, 1.0);
  next = AskTrial(*sampler, study);
  EXPECT_EQ(Told(study.trials[next]), (std::vector<std::int64_t>{0, 2, 4, 6}));
}

TEST(CmaEsSamplerTest, BadSettingsNameTheSetting) {
  SearchSpace space = Box(2, 0, 1);
  struct Case {
    std::map<std::string, std::string> settings;
    std::string field;
  };
  const std::vector<Case> cases = {
      {{{"sigma", "0"}}, "spec.algorithm.algorithmSettings[sigma]"},
      {{{"sigma", "-0.5"}}, "spec.algorithm.algorithmSettings[sigma]"},
      {{{"sigma", "wide"}}, "spec.algorithm.algorithmSettings[sigma]"},
      {{{"restart_strategy", "sometimes"}}, "spec.algorithm.algorithmSettings[restart_strategy]"},
      {{{"popsize", "2"}}, "spec.algorithm.algorithmSettings[popsize]"},
      {{{"inc_popsize", "0"}}, "spec.algorithm.algorithmSettings[inc_popsize]"},
      {{{"sigma0", "0.3"}}, "spec.algorithm.algorithmSettings[sigma0]"},
  };
  for (const Case& c : cases) {
    auto made = MakeSampler("cmaes", c.settings, space, 1);
    ASSERT_FALSE(made.ok()) << c.field;
    EXPECT_EQ(made.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(made.status().field(), c.field);
  }
  auto ok = MakeSampler(
      "cmaes", {{"sigma", "0.3"}, {"restart_strategy", "bipop"}, {"popsize", "6"}, {"inc_popsize", "3"}},
      space, 1);
  EXPECT_TRUE(ok.ok()) << ok.status().ToString();

  SearchSpace bad = Box(2, 0, 1);
  bad.params[1].min = 2;
  auto refused = MakeSampler("cmaes", {}, bad, 1);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().field(), HasSubstr("spec.parameters[1]"));
}

// Not asserted: prints the per-Ask cost (Ask alone, averaged over the 100
// asks after 100 and after 1,000 completed trials, best of three identical
// runs to filter out a busy machine) and a fresh sampler's full replay.
TEST(CmaEsSamplerTest, ReportsAskTime) {
  using Clock = std::chrono::steady_clock;
  const std::map<std::string, std::string> settings = {{"restart_strategy", "ipop"}};
  double at_100 = std::numeric_limits<double>::infinity(), at_1000 = at_100, fresh_us = at_100;
  for (int run = 0; run < 3; ++run) {
    Study study{Box(10, -5, 5)};
    auto sampler = MakeCma(study.space, settings, 1);
    double window_100 = 0, window_1000 = 0;
    for (int k = 0; k < 1100; ++k) {
      const auto start = Clock::now();
      const std::size_t i = AskTrial(*sampler, study);
      const double us = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
      if (k >= 100 && k < 200) window_100 += us / 100;
      if (k >= 1000) window_1000 += us / 100;
      Complete(study, i, Rastrigin(study.trials[i].params));
    }
    at_100 = std::min(at_100, window_100);
    at_1000 = std::min(at_1000, window_1000);
    study.trials.resize(1000);
    const auto start = Clock::now();
    auto fresh = MakeCma(study.space, settings, 1);
    ASSERT_TRUE(fresh->Ask(study.View()).ok());
    fresh_us = std::min(fresh_us, std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  std::printf(
      "cmaes 10-D per Ask: %.1f us after 100 trials, %.1f us after 1000; "
      "a fresh sampler replaying 1000 trials: %.1f us\n",
      at_100, at_1000, fresh_us);
}

}  // namespace
}  // namespace ferry::tuning
