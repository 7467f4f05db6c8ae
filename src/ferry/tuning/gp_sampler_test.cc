// Tests of the GP Bayesian-optimisation sampler ("bayesianoptimization").
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <numbers>
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
using testing::Hartmann6;
using testing::Median;
using testing::kBraninMin;

using Objective = std::function<double(const std::vector<double>&)>;

SearchSpace BraninSpace() { return SearchSpace{{Double("x1", -5, 10), Double("x2", 0, 15)}}; }

SearchSpace Hartmann6Space() {
  SearchSpace s;
  for (int i = 0; i < 6; ++i) s.params.push_back(Double("x" + std::to_string(i), 0, 1));
  return s;
}

std::unique_ptr<Sampler> MakeGp(const SearchSpace& space, std::uint64_t seed,
                                std::map<std::string, std::string> settings = {}) {
  Result<std::unique_ptr<Sampler>> made = MakeSampler("bayesianoptimization", settings, space, seed);
  EXPECT_TRUE(made.ok()) << made.status().ToString();
  return made.ok() ? std::move(made).value() : nullptr;
}

Trial Completed(std::int64_t number, const Suggestion& s, double value) {
  Trial t;
  t.number = number;
  t.state = TrialState::kComplete;
  t.params = s.params;
  t.attrs = s.attrs;
  t.value = value;
  return t;
}

void ExpectFeasible(const SearchSpace& space, const std::vector<double>& params) {
  ASSERT_EQ(params.size(), space.params.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    EXPECT_TRUE(space.Contains(i, params[i])) << space.params[i].name << " = " << params[i];
  }
}

// Asks, evaluates and completes up to `n` trials one after another; returns the history.
// With `target`, stops once a loss (the value, negated when maximising) below it is found:
// the best loss only improves, so "below target within n trials" is decided then, and the
// tests stay fast.
std::vector<Trial> RunStudy(Sampler& sampler, const SearchSpace& space, const Objective& f, int n,
                            Direction direction = Direction::kMinimize, double target = -INFINITY) {
  std::vector<Trial> trials;
  for (int t = 0; t < n; ++t) {
    Result<Suggestion> s = sampler.Ask(StudyView{space, direction, trials});
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok()) break;
    ExpectFeasible(space, s->params);
    trials.push_back(Completed(t, *s, f(s->params)));
    if ((direction == Direction::kMinimize ? 1 : -1) * *trials.back().value < target) break;
  }
  return trials;
}

double BestValue(const std::vector<Trial>& trials) {
  double best = INFINITY;
  for (const Trial& t : trials) best = std::min(best, *t.value);
  return best;
}

// Random search on a box of doubles with the test's own draws.
double RandomSearchBest(const SearchSpace& space, const Objective& f, int n, std::uint64_t seed) {
  double best = INFINITY;
  for (int t = 0; t < n; ++t) {
    std::mt19937_64 rng = TrialRng(seed, t, 991);
    std::vector<double> x;
    for (const ParamSpec& p : space.params) {
      x.push_back(p.min + (p.max - p.min) * std::uniform_real_distribution<double>(0, 1)(rng));
    }
    best = std::min(best, f(x));
  }
  return best;
}

TEST(GpSamplerTest, BraninReachesTheOptimumIn60Trials) {
  const SearchSpace space = BraninSpace();
  int hits = 0;
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    auto sampler = MakeGp(space, seed);
    ASSERT_NE(sampler, nullptr);
    const std::vector<Trial> trials = RunStudy(*sampler, space, Branin, 60, Direction::kMinimize, kBraninMin + 0.05);
    const double best = BestValue(trials);
    std::printf("  branin seed %d: best %.6f after %zu trials\n", static_cast<int>(seed), best, trials.size());
    if (best - kBraninMin < 0.05) ++hits;
  }
  EXPECT_GE(hits, 4);
}

TEST(GpSamplerTest, Hartmann6BeatsRandomSearch) {
  const SearchSpace space = Hartmann6Space();
  std::vector<double> random;
  for (std::uint64_t seed = 1; seed <= 5; ++seed) random.push_back(RandomSearchBest(space, Hartmann6, 80, seed));
  // The optimum is -3.32237; random search's median best at 80 trials is about -2. A run
  // may stop once below the target: its best at 80 trials can only be lower.
  const double target = std::min(Median(random) - 0.5, -3.0);
  std::vector<double> gp;
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    auto sampler = MakeGp(space, seed);
    ASSERT_NE(sampler, nullptr);
    const std::vector<Trial> trials = RunStudy(*sampler, space, Hartmann6, 80, Direction::kMinimize, target);
    gp.push_back(BestValue(trials));
    std::printf("  hartmann6 seed %d: gp %.4f after %zu trials, random %.4f after 80\n", static_cast<int>(seed),
                gp.back(), trials.size(), random[seed - 1]);
  }
  EXPECT_LT(Median(gp), target);
}

TEST(GpSamplerTest, MixedSpaceStaysFeasibleAndFindsTheOptimum) {
  const SearchSpace space{{
      Double("lr", 1e-4, 1e-1, 0, Distribution::kLogUniform),
      Double("x", -1, 1),
      Int("layers", 1, 8),
      Int("units", 16, 256, 16),
      Int("width", 1, 1000, 0, Distribution::kLogUniform),
      Discrete("batch", {64, 16, 256, 32, 128}),
      Categorical("opt", {"sgd", "adam", "rmsprop"}),
      Double("dropout", 0, 0.5, 0.1),
      Int("fixed", 3, 3),
      Categorical("only", {"one"}),
  }};
  const Objective f = [](const std::vector<double>& p) {
    const double lr = std::log10(p[0]) + 2.5;
    return lr * lr + p[1] * p[1] + (p[2] - 5) * (p[2] - 5) / 10 + std::pow((p[3] - 128) / 64, 2) +
           std::pow(std::log(p[4] / 50), 2) / 4 + std::pow(std::log2(p[5]) - 5, 2) / 4 + (p[6] == 1 ? 0.0 : 1.0) +
           10 * (p[7] - 0.2) * (p[7] - 0.2);
  };
  auto sampler = MakeGp(space, 7);
  ASSERT_NE(sampler, nullptr);
  const std::vector<Trial> trials = RunStudy(*sampler, space, f, 40);
  const Trial& best = *std::min_element(trials.begin(), trials.end(),
                                        [](const Trial& a, const Trial& b) { return *a.value < *b.value; });
  EXPECT_EQ(best.params[6], 1) << "adam";
  EXPECT_EQ(best.params[5], 32);
  EXPECT_LT(*best.value, 0.5);
  for (const Trial& t : trials) {
    EXPECT_EQ(t.params[8], 3);
    EXPECT_EQ(t.params[9], 0);
  }
}

TEST(GpSamplerTest, CategoricalOnlyAndSingleValuedSpaces) {
  const SearchSpace cats{{Categorical("a", {"p", "q", "r"}), Categorical("b", {"w", "x", "y", "z"})}};
  const Objective f = [](const std::vector<double>& p) { return (p[0] == 2 ? 0.0 : 1.0) + (p[1] == 1 ? 0.0 : 1.0); };
  auto sampler = MakeGp(cats, 3, {{"n_initial_points", "4"}});
  ASSERT_NE(sampler, nullptr);
  EXPECT_EQ(BestValue(RunStudy(*sampler, cats, f, 12)), 0);

  const SearchSpace fixed{{Int("n", 4, 4), Discrete("k", {2.5}), Double("x", 1, 1)}};
  auto constant = MakeGp(fixed, 3);
  ASSERT_NE(constant, nullptr);
  const std::vector<Trial> trials = RunStudy(*constant, fixed, [](const std::vector<double>&) { return 1.0; }, 12);
  EXPECT_EQ(trials.back().params, (std::vector<double>{4, 2.5, 1}));
}

TEST(GpSamplerTest, StartupTrialsFormALatinHypercube) {
  const SearchSpace space = BraninSpace();
  auto sampler = MakeGp(space, 11);
  ASSERT_NE(sampler, nullptr);
  // Parallel start-up: every trial is asked while the earlier ones still run.
  std::vector<Trial> trials;
  for (int t = 0; t < 10; ++t) {
    Result<Suggestion> s = sampler->Ask(StudyView{space, Direction::kMinimize, trials});
    ASSERT_TRUE(s.ok());
    Trial running;
    running.number = t;
    running.params = s->params;
    trials.push_back(running);
  }
  for (std::size_t i = 0; i < 2; ++i) {
    std::vector<int> strata;
    for (const Trial& t : trials) {
      const ParamSpec& p = space.params[i];
      strata.push_back(static_cast<int>((t.params[i] - p.min) / (p.max - p.min) * 10));
    }
    std::sort(strata.begin(), strata.end());
    EXPECT_EQ(strata, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})) << space.params[i].name;
  }
}

TEST(GpSamplerTest, DeterministicForASeed) {
  const SearchSpace space = Hartmann6Space();
  auto a = MakeGp(space, 5);
  ASSERT_NE(a, nullptr);
  std::vector<Trial> trials = RunStudy(*a, space, Hartmann6, 14);
  const StudyView view{space, Direction::kMinimize, trials};
  auto b = MakeGp(space, 5);
  auto c = MakeGp(space, 6);
  Result<Suggestion> sa = a->Ask(view), sb = b->Ask(view), sc = c->Ask(view);
  ASSERT_TRUE(sa.ok() && sb.ok() && sc.ok());
  EXPECT_EQ(sa->params, sb->params);
  EXPECT_EQ(sa->attrs, sb->attrs);
  EXPECT_NE(sa->params, sc->params);
}

// A long-lived sampler and a fresh one per Ask see the same history (parallel asks,
// out-of-order completions, failures, prunes, refits and reuses of the kernel fit) and must
// agree bit for bit.
TEST(GpSamplerTest, FreshSamplerMatchesLongLivedOne) {
  const SearchSpace space{{Double("x", 0, 1), Double("y", -2, 2), Int("k", 1, 40), Categorical("c", {"a", "b"})}};
  const Objective f = [](const std::vector<double>& p) {
    return Hartmann6({p[0], (p[1] + 2) / 4, p[2] / 40, 0.3, 0.3, 0.7}) + 0.2 * p[3];
  };
  const std::map<std::string, std::string> settings = {{"n_initial_points", "6"}};
  auto long_lived = MakeGp(space, 21, settings);
  ASSERT_NE(long_lived, nullptr);
  std::vector<Trial> trials;
  std::vector<std::size_t> running;
  int refits = 0, reuses = 0;
  for (int t = 0; t < 36; ++t) {
    const StudyView view{space, Direction::kMinimize, trials};
    Result<Suggestion> s = long_lived->Ask(view);
    auto fresh = MakeGp(space, 21, settings);
    Result<Suggestion> again = fresh->Ask(view);
    ASSERT_TRUE(s.ok() && again.ok());
    EXPECT_EQ(s->params, again->params) << "trial " << t;
    EXPECT_EQ(s->attrs, again->attrs) << "trial " << t;
    ExpectFeasible(space, s->params);
    if (s->attrs.count("gp:fit_n")) {
      if (!trials.empty() && trials.back().attrs.count("gp:fit_n") &&
          trials.back().attrs.at("gp:fit_n") == s->attrs.at("gp:fit_n")) {
        ++reuses;
      } else {
        ++refits;
      }
    }
    Trial trial;
    trial.number = t;
    trial.params = s->params;
    trial.attrs = s->attrs;
    trials.push_back(trial);
    running.push_back(trials.size() - 1);
    // Two workers: the newer trial finishes at once and the older one only every third
    // ask, so later trials complete while earlier ones still run. Trial 9 fails and trial
    // 14 is pruned.
    auto finish = [&](std::size_t idx) {
      Trial& done = trials[idx];
      if (done.number == 9) {
        done.state = TrialState::kFailed;
      } else if (done.number == 14) {
        done.state = TrialState::kPruned;
        done.intermediate[1] = 0.5;
      } else {
        done.state = TrialState::kComplete;
        done.value = f(done.params);
      }
    };
    if (running.size() == 2) {
      finish(running.back());
      running.pop_back();
    }
    if (t % 3 == 2) {
      finish(running.front());
      running.erase(running.begin());
    }
  }
  EXPECT_GT(refits, 0);
  EXPECT_GT(reuses, 0);

  // Without recorded fits (a caller that drops attrs) the answer is still a pure function
  // of the history, even when the long-lived sampler reuses its cached fit.
  for (Trial& t : trials) t.attrs.clear();
  const StudyView bare{space, Direction::kMinimize, trials};
  Result<Suggestion> first = long_lived->Ask(bare), second = long_lived->Ask(bare);
  Result<Suggestion> fresh = MakeGp(space, 21, settings)->Ask(bare);
  ASSERT_TRUE(first.ok() && second.ok() && fresh.ok());
  EXPECT_EQ(first->params, fresh->params);
  EXPECT_EQ(second->params, fresh->params);
}

double NormalisedDistance(const SearchSpace& space, const std::vector<double>& a, const std::vector<double>& b) {
  double d2 = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double u = (a[i] - b[i]) / (space.params[i].max - space.params[i].min);
    d2 += u * u;
  }
  return std::sqrt(d2);
}

TEST(GpSamplerTest, RunningTrialsSpreadParallelAsks) {
  const SearchSpace space = BraninSpace();
  auto sampler = MakeGp(space, 4);
  ASSERT_NE(sampler, nullptr);
  std::vector<Trial> trials = RunStudy(*sampler, space, Branin, 20);
  Result<Suggestion> first = sampler->Ask(StudyView{space, Direction::kMinimize, trials});
  ASSERT_TRUE(first.ok());

  // The same trial number, once failed (ignored) and once running (believed at the mean).
  Trial pending;
  pending.number = 20;
  pending.params = first->params;
  pending.attrs = first->attrs;
  std::vector<Trial> with_failed = trials, with_running = trials;
  pending.state = TrialState::kFailed;
  with_failed.push_back(pending);
  pending.state = TrialState::kRunning;
  with_running.push_back(pending);
  Result<Suggestion> after_failed = sampler->Ask(StudyView{space, Direction::kMinimize, with_failed});
  Result<Suggestion> after_running = sampler->Ask(StudyView{space, Direction::kMinimize, with_running});
  ASSERT_TRUE(after_failed.ok() && after_running.ok());
  const double same = NormalisedDistance(space, first->params, after_failed->params);
  const double spread = NormalisedDistance(space, first->params, after_running->params);
  std::printf("  distance to the pending point: failed %.4f, running %.4f\n", same, spread);
  EXPECT_LT(same, 0.01);
  EXPECT_GT(spread, 0.05);

  // A third worker avoids both pending points.
  Trial second = pending;
  second.number = 21;
  second.params = after_running->params;
  with_running.push_back(second);
  Result<Suggestion> third = sampler->Ask(StudyView{space, Direction::kMinimize, with_running});
  ASSERT_TRUE(third.ok());
  EXPECT_GT(NormalisedDistance(space, first->params, third->params), 0.05);
  EXPECT_GT(NormalisedDistance(space, after_running->params, third->params), 0.05);
}

TEST(GpSamplerTest, MaximisingFlipsTheSign) {
  const SearchSpace space = BraninSpace();
  auto sampler = MakeGp(space, 2);
  ASSERT_NE(sampler, nullptr);
  const std::vector<Trial> trials =
      RunStudy(*sampler, space, [](const std::vector<double>& x) { return -Branin(x); }, 40, Direction::kMaximize,
               kBraninMin + 0.1);
  double best = -INFINITY;
  for (const Trial& t : trials) best = std::max(best, *t.value);
  EXPECT_GT(best, -kBraninMin - 0.1);
}

TEST(GpSamplerTest, AcquisitionVariantsOptimise) {
  const SearchSpace space = BraninSpace();
  const double random = RandomSearchBest(space, Branin, 40, 8);
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"acq_func", "LCB"}, {"acq_func", "pi"}, {"acq_func", "gp_hedge"}, {"acq_optimizer", "sampling"}}) {
    auto sampler = MakeGp(space, 8, {{name, value}});
    ASSERT_NE(sampler, nullptr);
    const std::vector<Trial> trials = RunStudy(*sampler, space, Branin, 40, Direction::kMinimize, kBraninMin + 0.1);
    const double best = BestValue(trials);
    std::printf("  %s=%s: best %.4f after %zu trials (random search: %.4f after 40)\n", name.c_str(), value.c_str(),
                best, trials.size(), random);
    EXPECT_LT(best, kBraninMin + 0.1) << name << "=" << value;
  }
}

TEST(GpSamplerTest, BadSettingsAndSpacesAreNamed) {
  const SearchSpace space = BraninSpace();
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"base_estimator", "RF"}, {"acq_func", "EIps"},      {"acq_optimizer", "adam"}, {"n_initial_points", "-1"},
      {"n_initial_points", "ten"}, {"random_state", "-3"}, {"kappa", "2.5"},
  };
  for (const auto& [name, value] : bad) {
    Result<std::unique_ptr<Sampler>> made = MakeSampler("bayesianoptimization", {{name, value}}, space, 1);
    ASSERT_FALSE(made.ok()) << name;
    EXPECT_EQ(made.status().code(), StatusCode::kInvalidArgument) << name;
    EXPECT_EQ(made.status().field(), "spec.algorithm.algorithmSettings[" + name + "]");
  }
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"base_estimator", "GP"}, {"acq_func", "EI"}, {"acq_func", "gp_hedge"}, {"acq_optimizer", "lbfgs"},
           {"acq_optimizer", "auto"}, {"n_initial_points", "0"}, {"random_state", "42"}}) {
    EXPECT_TRUE(MakeSampler("bayesianoptimization", {{name, value}}, space, 1).ok()) << name << "=" << value;
  }
  const SearchSpace broken{{Double("x", 0, 1), Double("y", 2, 1)}};
  Result<std::unique_ptr<Sampler>> made = MakeSampler("bayesianoptimization", {}, broken, 1);
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.status().field(), "spec.parameters[1].feasibleSpace.min");
}

// Prints the cost of one Ask with 100 and 1,000 completed trials: with a kernel refit due
// and with the recorded fit reused. Timing is reported, never asserted.
TEST(GpSamplerTest, AskCostAt100And1000Trials) {
  const SearchSpace space = Hartmann6Space();
  std::vector<int> sizes = {100};
#ifdef NDEBUG
  sizes.push_back(1000);
#endif
  for (int n : sizes) {
    std::vector<Trial> trials;
    for (int t = 0; t < n; ++t) {
      std::mt19937_64 rng = TrialRng(99, t, 5);
      Suggestion s;
      for (int k = 0; k < 6; ++k) s.params.push_back(std::uniform_real_distribution<double>(0, 1)(rng));
      trials.push_back(Completed(t, s, Hartmann6(s.params)));
    }
    auto sampler = MakeGp(space, 1);
    ASSERT_NE(sampler, nullptr);
    auto timed = [&](const std::vector<Trial>& history) {
      const auto start = std::chrono::steady_clock::now();
      Result<Suggestion> s = sampler->Ask(StudyView{space, Direction::kMinimize, history});
      const auto stop = std::chrono::steady_clock::now();
      EXPECT_TRUE(s.ok());
      return std::make_pair(std::chrono::duration<double, std::milli>(stop - start).count(), *s);
    };
    auto [refit_ms, suggestion] = timed(trials);
    trials.back().attrs = suggestion.attrs;  // as if trial n-1 had recorded that fit
    auto [reuse_ms, unused] = timed(trials);
    std::printf("  %d completed trials: %.1f ms with a refit, %.1f ms reusing the fit\n", n, refit_ms, reuse_ms);
  }
}

}  // namespace
}  // namespace ferry::tuning
