#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <tuple>
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

// Every kind of parameter; "epochs" (index 1) is the resource.
SearchSpace MixedSpace(ParamSpec epochs = Int("epochs", 1, 27)) {
  return SearchSpace{{Double("lr", 1e-4, 1e-1, 0, Distribution::kLogUniform), std::move(epochs),
                      Double("momentum", 0, 1), Int("units", 16, 256, 16),
                      Discrete("batch", {16, 32, 64, 128}), Categorical("opt", {"sgd", "adam", "rmsprop"}),
                      Double("dropout", 0, 0.5, 0.05)}};
}
constexpr std::size_t kEpochs = 1;

// The final loss of a configuration (its minimum is 0 at lr 10^-2.5,
// momentum 0.9, 128 units, batch 64, adam, dropout 0.2).
double FinalLoss(const std::vector<double>& p) {
  const double lr = std::log10(p[0]) + 2.5;
  return lr * lr + (p[2] - 0.9) * (p[2] - 0.9) + std::pow((p[3] - 128) / 128, 2) + (p[4] == 64 ? 0 : 0.2) +
         (p[5] == 1 ? 0 : 0.3) + (p[6] - 0.2) * (p[6] - 0.2);
}

// A learning curve: the final loss plus a configuration-dependent excess
// that shrinks with the budget, so short runs rank configurations roughly.
double Observed(const std::vector<double>& p) {
  double h = 0;
  for (std::size_t k = 0; k < p.size(); ++k) {
    if (k != kEpochs) h += p[k] * static_cast<double>(2 * k + 3);
  }
  const double u = std::abs(std::sin(h * 12.9898) * 43758.5453);
  return FinalLoss(p) + 0.3 * (u - std::floor(u)) / p[kEpochs];
}

std::unique_ptr<Sampler> MakeHyperband(const SearchSpace& space, std::map<std::string, std::string> settings,
                                       std::uint64_t seed = 7) {
  Result<std::unique_ptr<Sampler>> made = MakeSampler("hyperband", settings, space, seed);
  EXPECT_TRUE(made.ok()) << made.status().ToString();
  return made.ok() ? std::move(made).value() : nullptr;
}

std::int64_t Attr(const Trial& t, const std::string& key) {
  return std::stoll(t.attrs.at("hyperband:" + key));
}

// A study the tests drive by hand.
struct Study {
  explicit Study(SearchSpace s, Direction d = Direction::kMinimize) : space(std::move(s)), direction(d) {}

  SearchSpace space;
  Direction direction;
  std::vector<Trial> trials;

  StudyView View() const { return StudyView{space, direction, trials}; }
  // Asks and, when there is a suggestion, adds it as a running trial.
  Result<Suggestion> Ask(Sampler& sampler) {
    Result<Suggestion> s = sampler.Ask(View());
    if (s.ok()) {
      Trial t;
      t.number = static_cast<std::int64_t>(trials.size());
      t.params = s->params;
      t.attrs = s->attrs;
      trials.push_back(std::move(t));
    }
    return s;
  }
  void Complete(std::size_t k) {
    trials[k].state = TrialState::kComplete;
    const double v = Observed(trials[k].params);
    trials[k].value = direction == Direction::kMinimize ? v : -v;
  }
  // Asks and completes one trial at a time until the sampler is done.
  void RunSequentially(Sampler& sampler) {
    for (;;) {
      Result<Suggestion> s = Ask(sampler);
      if (!s.ok()) {
        EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition) << s.status().ToString();
        return;
      }
      Complete(trials.size() - 1);
    }
  }
};

// (bracket s, rung i, budget) of every trial, in order.
using Schedule = std::vector<std::tuple<std::int64_t, std::int64_t, double>>;

Schedule ScheduleOf(const Study& study) {
  Schedule out;
  for (const Trial& t : study.trials)
    out.emplace_back(Attr(t, "bracket"), Attr(t, "rung"), t.params[kEpochs]);
  return out;
}

// Katib's formulas, by hand: bracket s runs n = ceil((s_max + 1) eta^s /
// (s + 1)) configurations at r_l eta^-s, then ceil(n / eta^i) at r_l eta^(i-s).
Schedule Expand(const std::vector<std::tuple<std::int64_t, std::int64_t, int, double>>& rungs) {
  Schedule out;
  for (const auto& [s, i, count, budget] : rungs) {
    for (int k = 0; k < count; ++k) out.emplace_back(s, i, budget);
  }
  return out;
}

TEST(HyperbandSamplerTest, BudgetsFollowKatibsScheduleForR9) {
  Study study{MixedSpace()};
  auto sampler = MakeHyperband(study.space, {{"resource_name", "epochs"}, {"r_l", "9"}, {"eta", "3"}});
  study.RunSequentially(*sampler);
  // s_max = 2. s = 2: n = ceil(3 * 9 / 3) = 9 at 1, 3 at 3, 1 at 9;
  // s = 1: n = ceil(3 * 3 / 2) = 5 at 3, 2 at 9; s = 0: 3 at 9.
  EXPECT_EQ(ScheduleOf(study),
            Expand({{2, 0, 9, 1}, {2, 1, 3, 3}, {2, 2, 1, 9}, {1, 0, 5, 3}, {1, 1, 2, 9}, {0, 0, 3, 9}}));
}

TEST(HyperbandSamplerTest, BudgetsFollowKatibsScheduleForR27) {
  Study study{MixedSpace()};
  auto sampler = MakeHyperband(study.space, {{"resource_name", "epochs"}, {"r_l", "27"}});  // eta 3
  study.RunSequentially(*sampler);
  // s_max = 3: n = 27, 12, 6, 4 for s = 3, 2, 1, 0.
  EXPECT_EQ(ScheduleOf(study), Expand({{3, 0, 27, 1},
                                       {3, 1, 9, 3},
                                       {3, 2, 3, 9},
                                       {3, 3, 1, 27},
                                       {2, 0, 12, 3},
                                       {2, 1, 4, 9},
                                       {2, 2, 2, 27},
                                       {1, 0, 6, 9},
                                       {1, 1, 2, 27},
                                       {0, 0, 4, 27}}));
  // Katib rounds r_l * 3^-2 * 3^2 down to 9 for r_l = 10; the last rung
  // gets r_l here. Budgets of an int are truncated: 10/9 -> 1, 10/3 -> 3.
  Study ten{MixedSpace()};
  auto sampler10 = MakeHyperband(ten.space, {{"resource_name", "epochs"}, {"r_l", "10"}});
  ten.RunSequentially(*sampler10);
  EXPECT_EQ(ScheduleOf(ten),
            Expand({{2, 0, 9, 1}, {2, 1, 3, 3}, {2, 2, 1, 10}, {1, 0, 5, 3}, {1, 1, 2, 10}, {0, 0, 3, 10}}));
  // eta = 2, r_l = 4: s_max = 2; n = ceil(3 * 4 / 3) = 4, ceil(3 * 2 / 2) = 3, 3.
  Study two{MixedSpace()};
  auto sampler2 = MakeHyperband(two.space, {{"resource_name", "epochs"}, {"r_l", "4"}, {"eta", "2"}});
  two.RunSequentially(*sampler2);
  EXPECT_EQ(ScheduleOf(two),
            Expand({{2, 0, 4, 1}, {2, 1, 2, 2}, {2, 2, 1, 4}, {1, 0, 3, 2}, {1, 1, 2, 4}, {0, 0, 3, 4}}));
}

// For every rung after the first: its configurations are the best of the
// previous rung (by the study's direction), re-run with the new budget.
void ExpectPromotionsAreTheBest(const Study& study) {
  std::map<std::pair<std::int64_t, std::int64_t>, std::vector<const Trial*>> rungs;
  for (const Trial& t : study.trials) rungs[{Attr(t, "bracket"), Attr(t, "rung")}].push_back(&t);
  int checked = 0;
  for (const auto& [key, members] : rungs) {
    const auto [s, i] = key;
    if (i == 0) {
      for (const Trial* t : members) EXPECT_EQ(Attr(*t, "origin"), t->number);
      continue;
    }
    std::vector<const Trial*> previous = rungs.at({s, i - 1});
    std::stable_sort(previous.begin(), previous.end(), [&](const Trial* a, const Trial* b) {
      return *study.View().Loss(*a) < *study.View().Loss(*b);
    });
    std::set<std::int64_t> best, promoted;
    for (std::size_t k = 0; k < members.size(); ++k) best.insert(Attr(*previous[k], "origin"));
    for (const Trial* t : members) {
      promoted.insert(Attr(*t, "origin"));
      const Trial& parent = study.trials[static_cast<std::size_t>(Attr(*t, "origin"))];
      for (std::size_t p = 0; p < t->params.size(); ++p) {
        if (p != kEpochs) {
          EXPECT_EQ(t->params[p], parent.params[p]) << "trial " << t->number;
        }
      }
      EXPECT_GT(t->params[kEpochs], previous[0]->params[kEpochs]);
    }
    EXPECT_EQ(promoted, best) << "bracket " << s << " rung " << i;
    ++checked;
  }
  EXPECT_EQ(checked, 6);  // r_l = 27: 3 + 2 + 1 later rungs
}

TEST(HyperbandSamplerTest, PromotesTheBestOfThePreviousRung) {
  for (Direction d : {Direction::kMinimize, Direction::kMaximize}) {
    Study study{MixedSpace(), d};
    auto sampler = MakeHyperband(study.space, {{"resource_name", "epochs"}, {"r_l", "27"}});
    study.RunSequentially(*sampler);
    ExpectPromotionsAreTheBest(study);
  }
}

TEST(HyperbandSamplerTest, FailedTrialsArePromotedLast) {
  Study study{MixedSpace()};
  auto sampler = MakeHyperband(study.space, {{"resource_name", "epochs"}, {"r_l", "9"}});
  for (int k = 0; k < 9; ++k) ASSERT_TRUE(study.Ask(*sampler).ok());
  // Of the 9 first-rung trials only 2 succeed, one is pruned; 3 go on.
  study.Complete(4);
  study.Complete(7);
  for (std::size_t k : {0, 1, 2, 3, 5, 6, 8}) study.trials[k].state = TrialState::kFailed;
  study.trials[2].state = TrialState::kPruned;
  study.trials[2].intermediate[1] = -100;  // intermediate values do not rank
  std::set<std::int64_t> origins;
  for (int k = 0; k < 3; ++k) {
    Result<Suggestion> s = study.Ask(*sampler);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    origins.insert(std::stoll(s->attrs.at("hyperband:origin")));
  }
  // The two successes, then the lowest-numbered of the rest.
  EXPECT_EQ(origins, (std::set<std::int64_t>{0, 4, 7}));
}

TEST(HyperbandSamplerTest, SuggestionsAreFeasible) {
  const std::vector<std::pair<ParamSpec, std::string>> resources = {
      {Int("epochs", 1, 27), "27"},
      {Int("epochs", 1, 28, 3), "27"},  // 1, 4, ..., 28: 3 -> 4, 9 -> 10, 27 -> 28
      {Double("epochs", 0.5, 30), "10"},
      {Double("epochs", 1, 100, 0, Distribution::kLogUniform), "81"},
  };
  for (const auto& [epochs, r_l] : resources) {
    Study study{MixedSpace(epochs)};
    auto sampler = MakeHyperband(study.space, {{"resource_name", "epochs"}, {"r_l", r_l}});
    study.RunSequentially(*sampler);
    ASSERT_GT(study.trials.size(), 20u);
    std::set<double> budgets;
    for (const Trial& t : study.trials) {
      for (std::size_t p = 0; p < t.params.size(); ++p) {
        EXPECT_TRUE(study.space.Contains(p, t.params[p]))
            << epochs.name << " param " << p << " = " << t.params[p];
      }
      budgets.insert(t.params[kEpochs]);
    }
    if (epochs.step == 3) {
      EXPECT_EQ(budgets, (std::set<double>{1, 4, 10, 28}));
    }
    if (epochs.type == ParamType::kDouble && !epochs.IsLog()) {
      // A double budget keeps its fraction: 10/9, 10/3, 10.
      EXPECT_EQ(budgets.size(), 3u);
      EXPECT_DOUBLE_EQ(*budgets.begin(), 10.0 / 9);
    }
  }
}

TEST(HyperbandSamplerTest, WaitsWhileARungRuns) {
  Study study{MixedSpace()};
  auto sampler = MakeHyperband(study.space, {{"resource_name", "epochs"}, {"r_l", "9"}});
  // The whole first rung may run in parallel, with distinct configurations.
  std::set<std::vector<double>> configs;
  for (int k = 0; k < 9; ++k) {
    Result<Suggestion> s = study.Ask(*sampler);
    ASSERT_TRUE(s.ok());
    configs.insert(s->params);
  }
  EXPECT_EQ(configs.size(), 9u);
  for (std::size_t k = 0; k < 8; ++k) {
    Result<Suggestion> s = study.Ask(*sampler);
    EXPECT_EQ(s.status().code(), StatusCode::kUnavailable);
    EXPECT_THAT(s.status().message(), HasSubstr("waiting for rung 0 of bracket 2 to finish"));
    study.Complete(k);
  }
  EXPECT_EQ(study.Ask(*sampler).status().code(), StatusCode::kUnavailable);
  study.Complete(8);
  for (int k = 0; k < 3; ++k) ASSERT_TRUE(study.Ask(*sampler).ok());  // rung 1: 3 trials
  Result<Suggestion> waiting = study.Ask(*sampler);
  EXPECT_THAT(waiting.status().message(), HasSubstr("waiting for rung 1 of bracket 2 to finish"));
  for (std::size_t k = 9; k < 12; ++k) study.Complete(k);
  ASSERT_TRUE(study.Ask(*sampler).ok());  // rung 2: 1 trial, left running
  // The next bracket starts without waiting for the last rung of this one.
  Result<Suggestion> next = study.Ask(*sampler);
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(next->attrs.at("hyperband:bracket"), "1");
  EXPECT_EQ(next->attrs.at("hyperband:rung"), "0");
}

TEST(HyperbandSamplerTest, FinishesWithFailedPrecondition) {
  Study study{MixedSpace()};
  auto sampler = MakeHyperband(study.space, {{"resource_name", "epochs"}, {"r_l", "9"}});
  study.RunSequentially(*sampler);
  ASSERT_EQ(study.trials.size(), 23u);
  // Also while the last trials still run.
  for (std::size_t k = 20; k < 23; ++k) study.trials[k].state = TrialState::kRunning;
  Result<Suggestion> s = sampler->Ask(study.View());
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.status().message(), HasSubstr("hyperband has finished all brackets"));
}

TEST(HyperbandSamplerTest, ParallelWorkersCompleteTheSameSchedule) {
  // Four workers finishing in a scrambled order: the schedule (and which
  // configurations are promoted) does not depend on the timing.
  Study serial{MixedSpace()};
  auto a = MakeHyperband(serial.space, {{"resource_name", "epochs"}, {"r_l", "27"}});
  serial.RunSequentially(*a);

  Study parallel{MixedSpace()};
  auto b = MakeHyperband(parallel.space, {{"resource_name", "epochs"}, {"r_l", "27"}});
  std::mt19937_64 order(3);
  std::vector<std::size_t> running;
  int unavailable = 0;
  for (;;) {
    while (running.size() < 4) {
      Result<Suggestion> s = parallel.Ask(*b);
      if (!s.ok()) {
        if (s.status().code() == StatusCode::kUnavailable) ++unavailable;
        break;
      }
      running.push_back(parallel.trials.size() - 1);
    }
    if (running.empty()) break;
    const std::size_t pick = order() % running.size();
    parallel.Complete(running[pick]);
    running.erase(running.begin() + static_cast<std::ptrdiff_t>(pick));
  }
  EXPECT_GT(unavailable, 0);
  EXPECT_EQ(ScheduleOf(parallel), ScheduleOf(serial));
  ExpectPromotionsAreTheBest(parallel);
  for (std::size_t k = 0; k < serial.trials.size(); ++k)
    EXPECT_EQ(parallel.trials[k].params, serial.trials[k].params);
}

TEST(HyperbandSamplerTest, DeterministicAndRestartEquivalent) {
  Study study{MixedSpace()};
  auto long_lived = MakeHyperband(study.space, {{"resource_name", "epochs"}, {"r_l", "27"}}, 11);
  for (;;) {
    // A fresh sampler per Ask answers exactly as the long-lived one,
    // waiting included.
    auto fresh = MakeHyperband(study.space, {{"resource_name", "epochs"}, {"r_l", "27"}}, 11);
    Result<Suggestion> want = fresh->Ask(study.View());
    Result<Suggestion> got = study.Ask(*long_lived);
    ASSERT_EQ(got.status().code(), want.status().code());
    if (!got.ok()) {
      if (got.status().code() != StatusCode::kUnavailable) break;
      for (Trial& t : study.trials) {
        if (t.state == TrialState::kRunning) study.Complete(static_cast<std::size_t>(t.number));
      }
      continue;
    }
    EXPECT_EQ(got->params, want->params);
    EXPECT_EQ(got->attrs, want->attrs);
    // Leave every third trial running for a while.
    if (study.trials.size() % 3 != 0) study.Complete(study.trials.size() - 1);
  }
  EXPECT_EQ(study.trials.size(), 70u);

  // Same seed, same study; another seed, other configurations.
  Study again{MixedSpace()};
  auto same = MakeHyperband(again.space, {{"resource_name", "epochs"}, {"r_l", "27"}}, 11);
  again.RunSequentially(*same);
  Study other{MixedSpace()};
  auto different = MakeHyperband(other.space, {{"resource_name", "epochs"}, {"r_l", "27"}}, 12);
  other.RunSequentially(*different);
  Study serial{MixedSpace()};
  auto serial_sampler = MakeHyperband(serial.space, {{"resource_name", "epochs"}, {"r_l", "27"}}, 11);
  serial.RunSequentially(*serial_sampler);
  for (std::size_t k = 0; k < again.trials.size(); ++k)
    EXPECT_EQ(again.trials[k].params, serial.trials[k].params);
  EXPECT_NE(other.trials[0].params, serial.trials[0].params);
  // random_state overrides the default seed.
  auto seeded =
      MakeHyperband(serial.space, {{"resource_name", "epochs"}, {"r_l", "27"}, {"random_state", "12"}}, 11);
  EXPECT_EQ(seeded->Ask(StudyView{serial.space, Direction::kMinimize, {}})->params, other.trials[0].params);
}

TEST(HyperbandSamplerTest, IgnoresTrialsWithoutItsAttributes) {
  // Trials enqueued by hand (no hyperband attributes) neither fill a rung
  // nor get promoted; the schedule goes on around them.
  Study study{MixedSpace()};
  auto sampler = MakeHyperband(study.space, {{"resource_name", "epochs"}, {"r_l", "9"}});
  auto add_foreign = [&] {
    Trial t;
    t.number = static_cast<std::int64_t>(study.trials.size());
    t.params =
        study.trials.empty() ? std::vector<double>{0.003, 9, 0.9, 128, 64, 1, 0.2} : study.trials[0].params;
    t.params[kEpochs] = 9;
    study.trials.push_back(t);
    study.Complete(study.trials.size() - 1);
    study.trials.back().value = -1e9;  // better than anything: must still not be promoted
  };
  add_foreign();
  for (int k = 0; k < 5; ++k) {
    ASSERT_TRUE(study.Ask(*sampler).ok());
    study.Complete(study.trials.size() - 1);
  }
  add_foreign();
  // A sampler that served another study answers this one as a fresh one.
  Study other{MixedSpace()};
  auto reused = MakeHyperband(other.space, {{"resource_name", "epochs"}, {"r_l", "9"}});
  other.RunSequentially(*reused);
  for (;;) {
    auto fresh = MakeHyperband(study.space, {{"resource_name", "epochs"}, {"r_l", "9"}});
    Result<Suggestion> want = fresh->Ask(study.View());
    Result<Suggestion> got = reused->Ask(study.View());
    ASSERT_EQ(got.status().code(), want.status().code());
    if (!got.ok()) break;
    EXPECT_EQ(got->params, want->params);
    EXPECT_EQ(got->attrs, want->attrs);
    ASSERT_TRUE(study.Ask(*sampler).ok());
    study.Complete(study.trials.size() - 1);
  }
  ASSERT_EQ(study.trials.size(), 25u);
  std::vector<const Trial*> ours;
  for (const Trial& t : study.trials) {
    if (!t.attrs.empty()) ours.push_back(&t);
  }
  ASSERT_EQ(ours.size(), 23u);
  for (const Trial* t : ours) {
    EXPECT_NE(Attr(*t, "origin"), 0);
    EXPECT_NE(Attr(*t, "origin"), 6);
  }
}

TEST(HyperbandSamplerTest, BeatsRandomSearchOnTheSameResourceBudget) {
  // r_l = 27, eta = 3 spends 450 epochs, 16.7 full runs. Random search gets
  // 16 full runs; Hyperband's pick is its best trial at the full budget.
  double hyperband_total = 0, random_total = 0;
  int wins = 0;
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    Study study{MixedSpace()};
    auto sampler = MakeHyperband(study.space, {{"resource_name", "epochs"}, {"r_l", "27"}}, seed);
    study.RunSequentially(*sampler);
    double spent = 0, hyperband_best = 1e9;
    for (const Trial& t : study.trials) {
      spent += t.params[kEpochs];
      if (t.params[kEpochs] == 27) hyperband_best = std::min(hyperband_best, FinalLoss(t.params));
    }
    EXPECT_EQ(spent, 450);

    std::mt19937_64 rng(seed * 1000 + 17);
    double random_best = 1e9;
    for (int k = 0; k < 16; ++k) {
      std::vector<double> p(study.space.params.size());
      for (std::size_t i = 0; i < p.size(); ++i) {
        const auto [lo, hi] = study.space.InternalBounds(i);
        p[i] = study.space.FromInternal(i, std::uniform_real_distribution<double>(lo, hi)(rng));
      }
      p[kEpochs] = 27;
      random_best = std::min(random_best, FinalLoss(p));
    }
    hyperband_total += hyperband_best;
    random_total += random_best;
    if (hyperband_best < random_best) ++wins;
  }
  std::printf("mean best final loss over 8 seeds: hyperband %.4f, random %.4f (hyperband wins %d)\n",
              hyperband_total / 8, random_total / 8, wins);
  EXPECT_LT(hyperband_total, 0.75 * random_total);
  EXPECT_GE(wins, 6);
}

TEST(HyperbandSamplerTest, BadSettingsNameTheField) {
  struct Case {
    std::map<std::string, std::string> settings;
    std::string field;
    std::string words;
  };
  const std::string s = "spec.algorithm.algorithmSettings";
  const std::vector<Case> cases = {
      {{{"r_l", "9"}}, s + "[resource_name]", "required"},
      {{{"resource_name", "epoch"}, {"r_l", "9"}}, s + "[resource_name]", "must be one of"},
      {{{"resource_name", "opt"}, {"r_l", "9"}}, "spec.parameters[5].parameterType", "int or a double"},
      {{{"resource_name", "batch"}, {"r_l", "9"}}, "spec.parameters[4].parameterType", "int or a double"},
      {{{"resource_name", "epochs"}}, s + "[r_l]", "required"},
      {{{"resource_name", "epochs"}, {"r_l", "0.5"}}, s + "[r_l]", "between"},
      {{{"resource_name", "epochs"}, {"r_l", "nine"}}, s + "[r_l]", "number"},
      {{{"resource_name", "epochs"}, {"r_l", "9"}, {"eta", "1"}}, s + "[eta]", "between"},
      {{{"resource_name", "epochs"}, {"r_l", "9"}, {"eta", "2.5"}}, s + "[eta]", "integer"},
      {{{"resource_name", "epochs"}, {"r_l", "81"}}, "spec.parameters[1].feasibleSpace.max", "r_l"},
      {{{"resource_name", "epochs"}, {"r_l", "9"}, {"n", "4"}}, s + "[n]", "unknown setting"},
  };
  const SearchSpace space = MixedSpace();
  for (const Case& c : cases) {
    Result<std::unique_ptr<Sampler>> made = MakeSampler("hyperband", c.settings, space, 1);
    ASSERT_FALSE(made.ok()) << c.field;
    EXPECT_EQ(made.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(made.status().field(), c.field);
    EXPECT_THAT(made.status().message(), HasSubstr(c.words)) << c.field;
  }
  // The smallest budget 27 / 3^3 = 1 is below min 2.
  Result<std::unique_ptr<Sampler>> low = MakeSampler(
      "hyperband", {{"resource_name", "epochs"}, {"r_l", "27"}}, MixedSpace(Int("epochs", 2, 27)), 1);
  EXPECT_EQ(low.status().field(), "spec.parameters[1].feasibleSpace.min");
}

TEST(HyperbandSamplerTest, AskTimeAt100And1000Trials) {
  // r_l = 729: the first bracket alone has 1093 trials.
  Study study{MixedSpace(Int("epochs", 1, 729))};
  auto sampler = MakeHyperband(study.space, {{"resource_name", "epochs"}, {"r_l", "729"}});
  for (std::size_t target : {100u, 1000u}) {
    while (study.trials.size() < target) {
      ASSERT_TRUE(study.Ask(*sampler).ok());
      study.Complete(study.trials.size() - 1);
    }
    // CPU time, not wall time: the machine may be busy.
    constexpr int kRepeats = 200;
    const std::clock_t start = std::clock();
    for (int k = 0; k < kRepeats; ++k) ASSERT_TRUE(sampler->Ask(study.View()).ok());
    const double us = 1e6 * static_cast<double>(std::clock() - start) / CLOCKS_PER_SEC / kRepeats;
    std::printf("hyperband Ask with %zu completed trials (bracket %s, rung %s): %.1f us\n", target,
                sampler->Ask(study.View())->attrs.at("hyperband:bracket").c_str(),
                sampler->Ask(study.View())->attrs.at("hyperband:rung").c_str(), us);
  }
  // A fresh sampler (after a restart) parses every trial's attributes once.
  const std::clock_t start = std::clock();
  for (int k = 0; k < 20; ++k) {
    auto fresh = MakeHyperband(study.space, {{"resource_name", "epochs"}, {"r_l", "729"}});
    ASSERT_TRUE(fresh->Ask(study.View()).ok());
  }
  std::printf("first Ask of a fresh hyperband sampler with 1000 trials: %.1f us\n",
              1e6 * static_cast<double>(std::clock() - start) / CLOCKS_PER_SEC / 20);
}

}  // namespace
}  // namespace ferry::tuning
