#include "ferry/tuning/pruner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace ferry::tuning {
namespace {

using ::testing::HasSubstr;

const double kNaN = std::nan("");

Trial MakeTrial(std::int64_t number, TrialState state, std::map<std::int64_t, double> intermediate,
                std::optional<double> value = std::nullopt) {
  Trial t;
  t.number = number;
  t.state = state;
  t.params = {0.5};
  t.intermediate = std::move(intermediate);
  t.value = value;
  return t;
}

// Reports 0, 1, 2, ... at steps 0, 1, 2, ...
std::map<std::int64_t, double> Steps(std::vector<double> values) {
  std::map<std::int64_t, double> m;
  for (std::size_t i = 0; i < values.size(); ++i) m[static_cast<std::int64_t>(i)] = values[i];
  return m;
}

class PrunerTest : public ::testing::Test {
 protected:
  std::unique_ptr<Pruner> Make(const std::string& name, const std::map<std::string, std::string>& settings) {
    Result<std::unique_ptr<Pruner>> made = MakePruner(name, settings);
    EXPECT_TRUE(made.ok()) << made.status().ToString();
    return made.ok() ? std::move(made).value() : nullptr;
  }

  // Whether `pruner` stops `trial`, which is also in the history (running).
  bool Prunes(const Pruner& pruner, std::vector<Trial> others, const Trial& trial,
              Direction direction = Direction::kMinimize) {
    others.push_back(trial);
    StudyView view{space_, direction, others};
    return pruner.ShouldPrune(view, trial);
  }

  static SearchSpace OneDouble() {
    ParamSpec x;
    x.name = "x";
    x.max = 1;
    return SearchSpace{{x}};
  }

  SearchSpace space_ = OneDouble();
};

// --- medianstop ------------------------------------------------------------

// Completed trials whose averages over their first 4 reports are 2.5, 4.5
// and 20.5: the median is 4.5 (their mean, 9.17, would spare a trial at 6).
std::vector<Trial> MedianReferences() {
  return {MakeTrial(0, TrialState::kComplete, Steps({4, 3, 2, 1, 0.5, 0.1}), 0.1),
          MakeTrial(1, TrialState::kComplete, Steps({6, 5, 4, 3, 2}), 2),
          MakeTrial(2, TrialState::kComplete, Steps({22, 21, 20, 19}), 19)};
}

TEST_F(PrunerTest, MedianStopStopsAWorseTrialNotABetterOne) {
  auto pruner = Make("medianstop", {});
  // Best so far 6 > 4.5: stopped, although its latest report is not its best.
  EXPECT_TRUE(Prunes(*pruner, MedianReferences(), MakeTrial(3, TrialState::kRunning, Steps({9, 6, 8, 7}))));
  // Every report after the start_step-th is checked too.
  EXPECT_TRUE(
      Prunes(*pruner, MedianReferences(), MakeTrial(3, TrialState::kRunning, Steps({9, 8, 8, 7, 6, 6}))));
  // Best so far 4 < 4.5.
  EXPECT_FALSE(Prunes(*pruner, MedianReferences(), MakeTrial(3, TrialState::kRunning, Steps({9, 8, 4, 7}))));
  // Equal to the median is not strictly worse.
  EXPECT_FALSE(
      Prunes(*pruner, MedianReferences(), MakeTrial(3, TrialState::kRunning, Steps({9, 8, 4.5, 7}))));
}

TEST_F(PrunerTest, MedianStopWaitsForStartStepReports) {
  auto pruner = Make("medianstop", {});
  const Trial bad3 = MakeTrial(3, TrialState::kRunning, Steps({50, 50, 50}));
  EXPECT_FALSE(Prunes(*pruner, MedianReferences(), bad3));
  // Reports, not step numbers: four reports at steps 0, 10, 20, 30 count as
  // four, and three at steps 0..300 do not.
  EXPECT_TRUE(Prunes(*pruner, MedianReferences(),
                     MakeTrial(3, TrialState::kRunning, {{0, 50}, {10, 50}, {20, 50}, {30, 50}})));
  EXPECT_FALSE(Prunes(*pruner, MedianReferences(),
                      MakeTrial(3, TrialState::kRunning, {{0, 50}, {100, 50}, {300, 50}})));

  // start_step 2: the references average their first two reports: 3.5, 5.5,
  // 21.5, so the median is 5.5, and two reports are enough.
  auto early = Make("medianstop", {{"start_step", "2"}});
  EXPECT_TRUE(Prunes(*early, MedianReferences(), MakeTrial(3, TrialState::kRunning, Steps({9, 6}))));
  EXPECT_FALSE(Prunes(*early, MedianReferences(), MakeTrial(3, TrialState::kRunning, Steps({9, 5}))));
  EXPECT_FALSE(Prunes(*early, MedianReferences(), MakeTrial(3, TrialState::kRunning, Steps({9}))));
}

TEST_F(PrunerTest, MedianStopNeedsMinTrialsRequiredCompletedTrials) {
  const Trial bad = MakeTrial(9, TrialState::kRunning, Steps({50, 50, 50, 50}));
  std::vector<Trial> history = MedianReferences();
  // Running, pruned and failed trials are not references, however bad.
  history.push_back(MakeTrial(4, TrialState::kRunning, Steps({1, 1, 1, 1})));
  history.push_back(MakeTrial(5, TrialState::kPruned, Steps({0, 0, 0, 0})));
  history.push_back(MakeTrial(6, TrialState::kFailed, Steps({0, 0, 0, 0})));
  history.push_back(MakeTrial(7, TrialState::kComplete, {}, 1.0));  // reported nothing

  EXPECT_TRUE(Prunes(*Make("medianstop", {{"min_trials_required", "3"}}), history, bad));
  EXPECT_FALSE(Prunes(*Make("medianstop", {{"min_trials_required", "4"}}), history, bad));
  std::vector<Trial> two(history.begin(), history.begin() + 2);
  EXPECT_FALSE(Prunes(*Make("medianstop", {}), two, bad));  // default 3
  EXPECT_TRUE(Prunes(*Make("medianstop", {{"min_trials_required", "2"}}), two, bad));
  // Two references: the median is the middle of 2.5 and 4.5.
  auto two_required = Make("medianstop", {{"min_trials_required", "2"}});
  EXPECT_TRUE(Prunes(*two_required, two, MakeTrial(9, TrialState::kRunning, Steps({3.6, 9, 9, 9}))));
  EXPECT_FALSE(Prunes(*two_required, two, MakeTrial(9, TrialState::kRunning, Steps({3.4, 9, 9, 9}))));
}

TEST_F(PrunerTest, MedianStopWhenMaximising) {
  auto pruner = Make("medianstop", {});
  // Accuracies averaging 0.65, 0.45 and 0.25: the median is 0.45.
  std::vector<Trial> history = {MakeTrial(0, TrialState::kComplete, Steps({.5, .6, .7, .8}), .8),
                                MakeTrial(1, TrialState::kComplete, Steps({.3, .4, .5, .6}), .6),
                                MakeTrial(2, TrialState::kComplete, Steps({.1, .2, .3, .4}), .4)};
  EXPECT_TRUE(Prunes(*pruner, history, MakeTrial(3, TrialState::kRunning, Steps({.1, .4, .2, .3})),
                     Direction::kMaximize));
  EXPECT_FALSE(Prunes(*pruner, history, MakeTrial(3, TrialState::kRunning, Steps({.1, .5, .2, .3})),
                      Direction::kMaximize));
}

TEST_F(PrunerTest, MedianStopTreatsNaNAsWorst) {
  auto pruner = Make("medianstop", {});
  EXPECT_TRUE(Prunes(*pruner, MedianReferences(),
                     MakeTrial(3, TrialState::kRunning, Steps({kNaN, kNaN, kNaN, kNaN}))));
  // A NaN never becomes the best value.
  EXPECT_FALSE(
      Prunes(*pruner, MedianReferences(), MakeTrial(3, TrialState::kRunning, Steps({kNaN, 4, kNaN, kNaN}))));
  // A reference with a NaN among its first reports is the worst one: with
  // averages 2.5, 4.5 and worst, the median stays 4.5.
  std::vector<Trial> history = MedianReferences();
  history[2].intermediate[1] = kNaN;
  EXPECT_TRUE(Prunes(*pruner, history, MakeTrial(3, TrialState::kRunning, Steps({9, 6, 8, 7}))));
  EXPECT_FALSE(Prunes(*pruner, history, MakeTrial(3, TrialState::kRunning, Steps({9, 4, 8, 7}))));
}

// --- successivehalving -----------------------------------------------------

TEST_F(PrunerTest, SuccessiveHalvingPromotesTheTopFractionAsTrialsArrive) {
  auto pruner = Make("successivehalving", {{"min_resource", "1"}, {"reduction_factor", "4"}});
  // Trials reach rung 0 (step 1) one after another, each judged against
  // the values recorded there before it (pruned ones included):
  //   5 alone: kept; 3 best of 2: kept; 8: pruned; 1 best of 4: kept;
  //   7, 2, 6: not the best of 5, 6, 7; 4: not in the best 2 of 8.
  const std::vector<double> arriving = {5, 3, 8, 1, 7, 2, 6, 4};
  const std::vector<bool> expected = {false, false, true, false, true, true, true, true};
  std::vector<Trial> history;
  for (std::size_t n = 0; n < arriving.size(); ++n) {
    Trial t = MakeTrial(static_cast<std::int64_t>(n), TrialState::kRunning, {{0, 100}, {1, arriving[n]}});
    EXPECT_EQ(Prunes(*pruner, history, t), expected[n]) << "trial " << n;
    t.state = expected[n] ? TrialState::kPruned : TrialState::kRunning;
    history.push_back(t);
  }
  // At rung 0 with 9 competitors the best 9 / 4 = 2 continue.
  EXPECT_FALSE(Prunes(*pruner, history, MakeTrial(8, TrialState::kRunning, {{1, 1.5}})));
  EXPECT_TRUE(Prunes(*pruner, history, MakeTrial(8, TrialState::kRunning, {{1, 2.5}})));
}

TEST_F(PrunerTest, SuccessiveHalvingJudgesOnlyAtRungs) {
  auto pruner = Make("successivehalving", {{"min_resource", "1"}, {"reduction_factor", "2"}});
  std::vector<Trial> history = {MakeTrial(0, TrialState::kComplete, {{1, 1}, {2, 1}, {4, 1}}, 1),
                                MakeTrial(1, TrialState::kComplete, {{1, 1}, {2, 1}, {4, 1}}, 1)};
  // Step 3 is not a rung (rungs 1, 2, 4, 8, ...): a terrible value there
  // is not judged; at step 4 it is.
  EXPECT_FALSE(Prunes(*pruner, history, MakeTrial(2, TrialState::kRunning, {{1, 0}, {2, 0}, {3, 99}})));
  EXPECT_TRUE(
      Prunes(*pruner, history, MakeTrial(2, TrialState::kRunning, {{1, 0}, {2, 0}, {3, 99}, {4, 99}})));
  // A rung is judged once, when the report crosses it: the same bad value
  // at step 5 was already through rung 4.
  EXPECT_FALSE(
      Prunes(*pruner, history, MakeTrial(2, TrialState::kRunning, {{1, 0}, {2, 0}, {4, 0}, {5, 99}})));
}

TEST_F(PrunerTest, SuccessiveHalvingWithGapsInSteps) {
  auto pruner = Make("successivehalving", {{"min_resource", "1"}, {"reduction_factor", "2"}});
  std::vector<Trial> history = {MakeTrial(0, TrialState::kRunning, {{1, 3}, {2, 3}, {4, 0.1}}),
                                MakeTrial(1, TrialState::kRunning, {{1, 3}, {2, 3}, {4, 0.2}})};
  // A jump from step 0 to 10 crosses rungs 1, 2, 4 and 8: it wins at 1
  // and 2 but loses at 4.
  EXPECT_TRUE(Prunes(*pruner, history, MakeTrial(2, TrialState::kRunning, {{0, 9}, {10, 1.0}})));
  EXPECT_FALSE(Prunes(*pruner, history, MakeTrial(2, TrialState::kRunning, {{0, 9}, {10, 0.05}})));

  // A trial pruned after one report at step 10 lost at rung 1, the first
  // it crossed: it does not compete at rung 8. Still running, it would.
  const Trial at8 = MakeTrial(3, TrialState::kRunning, {{1, 0}, {2, 0}, {4, 0}, {8, 6}});
  EXPECT_FALSE(Prunes(*pruner, {MakeTrial(0, TrialState::kPruned, {{10, 5}})}, at8));
  EXPECT_TRUE(Prunes(*pruner, {MakeTrial(0, TrialState::kRunning, {{10, 5}})}, at8));
}

TEST_F(PrunerTest, SuccessiveHalvingMinEarlyStoppingRate) {
  auto pruner = Make("successivehalving",
                     {{"min_resource", "1"}, {"reduction_factor", "4"}, {"min_early_stopping_rate", "1"}});
  std::vector<Trial> history = {MakeTrial(0, TrialState::kComplete, {{1, 0}, {4, 0}}, 0)};
  // The first rung is at 1 * 4^1 = 4.
  EXPECT_FALSE(Prunes(*pruner, history, MakeTrial(1, TrialState::kRunning, {{1, 9}})));
  EXPECT_TRUE(Prunes(*pruner, history, MakeTrial(1, TrialState::kRunning, {{1, 9}, {4, 9}})));
}

TEST_F(PrunerTest, SuccessiveHalvingWhenMaximisingAndWithNaN) {
  auto pruner = Make("successivehalving", {{"min_resource", "1"}, {"reduction_factor", "2"}});
  std::vector<Trial> history = {MakeTrial(0, TrialState::kRunning, {{1, 0.9}}),
                                MakeTrial(1, TrialState::kRunning, {{1, 0.5}})};
  // Three competitors keep the best one.
  EXPECT_FALSE(
      Prunes(*pruner, history, MakeTrial(2, TrialState::kRunning, {{1, 0.95}}), Direction::kMaximize));
  EXPECT_TRUE(Prunes(*pruner, history, MakeTrial(2, TrialState::kRunning, {{1, 0.8}}), Direction::kMaximize));
  EXPECT_FALSE(
      Prunes(*pruner, history, MakeTrial(2, TrialState::kRunning, {{1, 0.4}}), Direction::kMinimize));
  // A NaN at a rung is pruned; NaN values never compete.
  EXPECT_TRUE(Prunes(*pruner, {}, MakeTrial(2, TrialState::kRunning, {{1, kNaN}})));
  std::vector<Trial> nans = {MakeTrial(0, TrialState::kRunning, {{1, kNaN}}),
                             MakeTrial(1, TrialState::kFailed, {{1, kNaN}})};
  EXPECT_FALSE(Prunes(*pruner, nans, MakeTrial(2, TrialState::kRunning, {{1, 1e9}})));
  // Nothing reported: nothing to judge.
  EXPECT_FALSE(Prunes(*pruner, history, MakeTrial(2, TrialState::kRunning, {})));
}

// --- hyperband -------------------------------------------------------------

// The documented bracket of trial n for min_resource 1, max_resource 9,
// reduction_factor 3: 3 brackets with budgets 9, 5, 3; the position is the
// golden-ratio Weyl sequence in 64-bit fixed point.
std::size_t ExpectedBracket(std::int64_t n) {
  const double cumulative[] = {9, 14, 17};
  const std::uint64_t fraction = static_cast<std::uint64_t>(n) * 0x9E3779B97F4A7C15ULL;
  const double position = static_cast<double>(fraction >> 11) * 0x1.0p-53 * 17;
  std::size_t b = 0;
  while (b < 2 && position >= cumulative[b]) ++b;
  return b;
}

TEST_F(PrunerTest, HyperbandSpreadsTrialsOverBracketsByNumber) {
  // Every window of 17 consecutive trials gives each bracket its budget
  // within 2 (a hash would drift by about the square root).
  for (std::int64_t start = 0; start < 300; ++start) {
    int counts[3] = {0, 0, 0};
    for (std::int64_t n = start; n < start + 17; ++n) ++counts[ExpectedBracket(n)];
    EXPECT_NEAR(counts[0], 9, 2) << start;
    EXPECT_NEAR(counts[1], 5, 2) << start;
    EXPECT_NEAR(counts[2], 3, 2) << start;
  }
  // Bracket 0's first rung is at step 1: a trial there loses to a bracket-0
  // rival at step 1, and no trial of another bracket is judged at step 1.
  auto a = Make("hyperband", {{"max_resource", "9"}});
  auto b = Make("hyperband", {{"max_resource", "9"}, {"min_resource", "1"}, {"reduction_factor", "3"}});
  const std::int64_t rival = 0;
  ASSERT_EQ(ExpectedBracket(rival), 0u);
  for (std::int64_t n = 1; n < 60; ++n) {
    const Trial t = MakeTrial(n, TrialState::kRunning, {{1, 5.0}});
    const std::vector<Trial> history = {MakeTrial(rival, TrialState::kRunning, {{1, 0.0}})};
    EXPECT_EQ(Prunes(*a, history, t), ExpectedBracket(n) == 0) << n;
    EXPECT_EQ(Prunes(*b, history, t), Prunes(*a, history, t)) << n;
  }
}

TEST_F(PrunerTest, HyperbandPrunesWithinABracketOnly) {
  auto pruner = Make("hyperband", {{"max_resource", "9"}, {"reduction_factor", "3"}});
  std::vector<std::int64_t> in[3];
  for (std::int64_t n = 0; n < 40; ++n) in[ExpectedBracket(n)].push_back(n);
  ASSERT_GE(in[1].size(), 3u);
  // Bracket 1's first rung is at step 3. A bracket-0 trial with a better
  // value at step 3 does not count; a bracket-1 one does.
  const Trial judged = MakeTrial(in[1][0], TrialState::kRunning, {{1, 9}, {3, 5.0}});
  const Trial other_bracket = MakeTrial(in[0][0], TrialState::kComplete, {{1, 0}, {3, 0}}, 0);
  const Trial same_bracket = MakeTrial(in[1][1], TrialState::kComplete, {{1, 0}, {3, 0}}, 0);
  EXPECT_FALSE(Prunes(*pruner, {other_bracket}, judged));
  EXPECT_TRUE(Prunes(*pruner, {other_bracket, same_bracket}, judged));
  // Its step 1 is not a rung of bracket 1.
  EXPECT_FALSE(Prunes(*pruner, {same_bracket}, MakeTrial(in[1][0], TrialState::kRunning, {{1, 9}})));
  // Maximising flips who wins.
  EXPECT_FALSE(Prunes(*pruner, {other_bracket, same_bracket}, judged, Direction::kMaximize));
}

TEST_F(PrunerTest, CallTimeWith1000Trials) {
  // 1000 finished trials with 27 reports each; timing printed, not asserted.
  std::vector<Trial> history;
  std::mt19937_64 rng(5);
  for (std::int64_t n = 0; n < 1000; ++n) {
    std::map<std::int64_t, double> reports;
    for (std::int64_t step = 1; step <= 27; ++step) reports[step] = static_cast<double>(rng() % 1000) / step;
    history.push_back(
        MakeTrial(n, n % 3 ? TrialState::kComplete : TrialState::kPruned, reports, reports[27]));
  }
  const Trial at_rung = MakeTrial(1000, TrialState::kRunning, Steps({50, 40, 30, 20, 10, 5, 4, 3, 2, 1}));
  for (const auto& [name, settings] : std::vector<std::pair<std::string, std::map<std::string, std::string>>>{
           {"medianstop", {}},
           {"successivehalving", {{"reduction_factor", "3"}}},
           {"hyperband", {{"max_resource", "27"}}}}) {
    auto pruner = Make(name, settings);
    history.push_back(at_rung);  // step 9 is a rung of successive halving
    StudyView view{space_, Direction::kMinimize, history};
    constexpr int kRepeats = 200;
    const std::clock_t start = std::clock();
    int pruned = 0;
    for (int k = 0; k < kRepeats; ++k) pruned += pruner->ShouldPrune(view, at_rung);
    std::printf("%s ShouldPrune with 1000 trials: %.1f us\n", name.c_str(),
                1e6 * static_cast<double>(std::clock() - start) / CLOCKS_PER_SEC / kRepeats);
    history.pop_back();
    EXPECT_TRUE(pruned == 0 || pruned == kRepeats);
  }
}

// --- none and settings -----------------------------------------------------

TEST_F(PrunerTest, NoneNeverPrunes) {
  auto pruner = Make("none", {});
  EXPECT_FALSE(
      Prunes(*pruner, MedianReferences(), MakeTrial(3, TrialState::kRunning, Steps({kNaN, 99, 99, 99}))));
}

TEST_F(PrunerTest, BadSettingsNameTheField) {
  struct Case {
    std::string algorithm;
    std::map<std::string, std::string> settings;
    std::string field;
    std::string words;
  };
  const std::string s = "spec.earlyStopping.algorithmSettings";
  const std::vector<Case> cases = {
      {"mediansop", {}, "spec.earlyStopping.algorithmName", "unknown"},
      {"", {}, "spec.earlyStopping.algorithmName", "unknown"},
      {"medianstop", {{"start_step", "0"}}, s + "[start_step]", "between"},
      {"medianstop", {{"min_trials_required", "three"}}, s + "[min_trials_required]", "integer"},
      {"medianstop", {{"min_trials_required", "0"}}, s + "[min_trials_required]", "between"},
      {"medianstop", {{"start_steps", "4"}}, s + "[start_steps]", "unknown setting"},
      {"successivehalving", {{"min_resource", "auto"}}, s + "[min_resource]", "'auto' is not supported"},
      {"successivehalving", {{"reduction_factor", "1"}}, s + "[reduction_factor]", "between"},
      {"successivehalving", {{"min_early_stopping_rate", "-1"}}, s + "[min_early_stopping_rate]", "between"},
      {"successivehalving", {{"max_resource", "9"}}, s + "[max_resource]", "unknown setting"},
      {"hyperband", {}, s + "[max_resource]", "required"},
      {"hyperband", {{"max_resource", "auto"}}, s + "[max_resource]", "'auto' is not supported"},
      {"hyperband", {{"max_resource", "4"}, {"min_resource", "5"}}, s + "[max_resource]", "between"},
      {"hyperband",
       {{"max_resource", "9"}, {"reduction_factor", "1.5"}},
       s + "[reduction_factor]",
       "integer"},
      {"none", {{"start_step", "4"}}, s + "[start_step]", "unknown setting"},
  };
  for (const Case& c : cases) {
    Result<std::unique_ptr<Pruner>> made = MakePruner(c.algorithm, c.settings);
    ASSERT_FALSE(made.ok()) << c.algorithm << " " << c.field;
    EXPECT_EQ(made.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(made.status().field(), c.field);
    EXPECT_THAT(made.status().message(), HasSubstr(c.words)) << c.field;
  }
  EXPECT_TRUE(MakePruner("hyperband", {{"max_resource", "1"}}).ok());  // one bracket
  // Rungs past the largest step are dropped, not overflowed.
  EXPECT_TRUE(MakePruner("successivehalving", {{"min_resource", "9007199254740992"},
                                               {"reduction_factor", "9007199254740992"},
                                               {"min_early_stopping_rate", "64"}})
                  .ok());
}

}  // namespace
}  // namespace ferry::tuning
