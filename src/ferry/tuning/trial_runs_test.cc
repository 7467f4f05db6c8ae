// Tests of TrialRuns on SQLite and PostgreSQL: a StudyService with
// TrialRuns as its observer over the same database as a TrackingStore, as
// the server wires them. Each trial becomes a run with its params, its
// intermediate and final values as a metric and its end state; runs are
// found again after a restart; a trial whose Ask went unrecorded gets its
// run when it finishes; tracking failures never fail the study's calls.
#include "ferry/tuning/trial_runs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>
#include <thread>

#include "ferry/store/testing/test_database.h"
#include "ferry/tuning/testing/params.h"

namespace ferry::tuning {
namespace {

using testing::Categorical;
using testing::Double;
using testing::Int;

using ::ferry::store::testing::AllBackends;
using ::ferry::store::testing::Backend;
using ::ferry::store::testing::BackendName;
using ::ferry::store::testing::TestDatabase;
using ::testing::ElementsAre;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

StudyConfig Config(std::string name, std::vector<std::string> metric_names = {}) {
  StudyConfig c;
  c.name = std::move(name);
  c.space.params = {Double("lr", 1e-4, 1e-1, 0, Distribution::kLogUniform), Int("layers", 1, 8),
                    Categorical("optimizer", {"sgd", "adam"})};
  c.sampler = "random";
  c.metric_names = std::move(metric_names);
  return c;
}

class TrialRunsTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    tdb_ = TestDatabase::Create(GetParam());
    ASSERT_NE(tdb_, nullptr);
    Open(/*observe=*/true);
  }

  // A new TrialRuns and StudyService; `observe` false leaves the service
  // without an observer.
  void Open(bool observe) {
    service_.reset();
    runs_.reset();
    tracking_.reset();
    auto tracking = tracking::TrackingStore::Open(&tdb_->db(), &env_);
    ASSERT_TRUE(tracking.ok()) << tracking.status().ToString();
    tracking_ = std::move(*tracking);
    runs_ = std::make_unique<TrialRuns>(tracking_.get(), &env_);
    StudyServiceOptions options;
    if (observe) options.observer = runs_.get();
    auto service = StudyService::Open(&tdb_->db(), &env_, std::move(options));
    ASSERT_TRUE(service.ok()) << service.status().ToString();
    service_ = std::move(*service);
  }

  // Everything opened again on a reopened database, as after a process restart.
  void Restart() {
    service_.reset();
    runs_.reset();
    tracking_.reset();
    ASSERT_TRUE(tdb_->Reopen().ok());
    Open(/*observe=*/true);
  }

  Trial Ask(const std::string& study) {
    auto t = service_->Ask(study);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return t.ok() ? *t : Trial{};
  }

  // The trial's run, read back from the store.
  tracking::Run RunOf(const StudyConfig& study, std::int64_t number) {
    auto id = runs_->RunIdOf(study, number);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    if (!id.ok()) return {};
    auto run = tracking_->GetRun(*id);
    EXPECT_TRUE(run.ok()) << run.status().ToString();
    return run.ok() ? *run : tracking::Run{};
  }

  // (step, value) of the metric's history, in step order.
  std::vector<std::pair<std::int64_t, double>> History(const std::string& run_id, const std::string& key) {
    tracking::MetricHistoryRequest request;
    request.run_id = run_id;
    request.metric_key = key;
    auto page = tracking_->GetMetricHistory(request);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    std::vector<std::pair<std::int64_t, double>> out;
    if (page.ok())
      for (const auto& m : page->items) out.emplace_back(m.step, m.value);
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    return out;
  }

  std::vector<tracking::Run> RunsOfExperiment(const std::string& name) {
    auto experiment = tracking_->GetExperimentByName(name);
    EXPECT_TRUE(experiment.ok()) << experiment.status().ToString();
    if (!experiment.ok()) return {};
    tracking::RunSearch search;
    search.experiment_ids = {experiment->experiment_id};
    auto page = tracking_->SearchRuns(search);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    return page.ok() ? page->items : std::vector<tracking::Run>{};
  }

  static std::string TagOf(const tracking::Run& run, const std::string& key) {
    for (const auto& t : run.tags)
      if (t.key == key) return t.value;
    return "<none>";
  }

  FakeEnv env_;
  std::unique_ptr<TestDatabase> tdb_;
  std::unique_ptr<tracking::TrackingStore> tracking_;
  std::unique_ptr<TrialRuns> runs_;
  std::unique_ptr<StudyService> service_;
};

TEST_P(TrialRunsTest, TrialBecomesARunWithParamsValuesAndEndState) {
  const StudyConfig c = Config("study-a", {"loss", "accuracy"});
  ASSERT_TRUE(service_->CreateStudy(c).ok());
  const Trial t = Ask(c.name);

  auto experiment = tracking_->GetExperimentByName(c.name);
  ASSERT_TRUE(experiment.ok()) << experiment.status().ToString();
  EXPECT_THAT(experiment->tags, ElementsAre(tracking::Tag{"ferry.tuning.study", "study-a"}));

  tracking::Run run = RunOf(c, t.number);
  EXPECT_EQ(run.info.run_name, "trial-0");
  EXPECT_EQ(run.info.experiment_id, experiment->experiment_id);
  EXPECT_EQ(run.info.status, tracking::RunStatus::kRunning);
  EXPECT_EQ(TagOf(run, "ferry.tuning.study"), "study-a");
  EXPECT_EQ(TagOf(run, "ferry.tuning.trial"), "0");
  ASSERT_EQ(run.params.size(), 3u);
  std::map<std::string, std::string> params;
  for (const auto& p : run.params) params[p.key] = p.value;
  for (std::size_t i = 0; i < 3; ++i)
    EXPECT_EQ(params[c.space.params[i].name], c.space.Format(i, t.params[i])) << c.space.params[i].name;

  ASSERT_TRUE(service_->Report(c.name, 0, 0, 0.9).ok());
  ASSERT_TRUE(service_->Report(c.name, 0, 2, 0.7).ok());
  ASSERT_TRUE(service_->Report(c.name, 0, 2, 0.1).ok());  // a repeated step is ignored
  ASSERT_TRUE(service_->Report(c.name, 0, 3, kNaN).ok());
  ASSERT_TRUE(service_->Tell(c.name, 0, TrialState::kComplete, 0.5).ok());

  run = RunOf(c, 0);
  EXPECT_EQ(run.info.status, tracking::RunStatus::kFinished);
  EXPECT_TRUE(run.info.end_time.has_value());
  auto history = History(run.info.run_id, "loss");
  ASSERT_EQ(history.size(), 4u);
  EXPECT_EQ(history[0], std::make_pair(std::int64_t{0}, 0.9));
  EXPECT_EQ(history[1], std::make_pair(std::int64_t{2}, 0.7));
  EXPECT_EQ(history[2].first, 3);
  EXPECT_TRUE(std::isnan(history[2].second));
  EXPECT_EQ(history[3], std::make_pair(std::int64_t{4}, 0.5));  // the value: after the last step
  EXPECT_TRUE(History(run.info.run_id, "accuracy").empty());
}

TEST_P(TrialRunsTest, EndStatesAndTheDefaultMetric) {
  const StudyConfig c = Config("study-b");
  ASSERT_TRUE(service_->CreateStudy(c).ok());
  for (int i = 0; i < 3; ++i) Ask(c.name);
  ASSERT_TRUE(service_->Tell(c.name, 0, TrialState::kComplete, 2.5).ok());
  ASSERT_TRUE(service_->Report(c.name, 1, 5, 1.5).ok());
  ASSERT_TRUE(service_->Tell(c.name, 1, TrialState::kPruned).ok());
  ASSERT_TRUE(service_->Tell(c.name, 2, TrialState::kFailed).ok());

  tracking::Run complete = RunOf(c, 0);
  EXPECT_EQ(complete.info.status, tracking::RunStatus::kFinished);
  EXPECT_THAT(History(complete.info.run_id, "objective"), ElementsAre(std::make_pair(std::int64_t{0}, 2.5)));
  tracking::Run pruned = RunOf(c, 1);
  EXPECT_EQ(pruned.info.status, tracking::RunStatus::kKilled);
  // The pruned trial's value is its last intermediate value: logged once.
  EXPECT_THAT(History(pruned.info.run_id, "objective"), ElementsAre(std::make_pair(std::int64_t{5}, 1.5)));
  tracking::Run failed = RunOf(c, 2);
  EXPECT_EQ(failed.info.status, tracking::RunStatus::kFailed);
  EXPECT_TRUE(History(failed.info.run_id, "objective").empty());
  EXPECT_EQ(RunsOfExperiment(c.name).size(), 3u);
}

TEST_P(TrialRunsTest, InfiniteValuesAreLoggedAsTheStoreKeepsThem) {
  const StudyConfig c = Config("study-inf");
  ASSERT_TRUE(service_->CreateStudy(c).ok());
  Ask(c.name);
  ASSERT_TRUE(service_->Report(c.name, 0, 0, std::numeric_limits<double>::infinity()).ok());
  ASSERT_TRUE(service_->Report(c.name, 0, 1, -std::numeric_limits<double>::infinity()).ok());
  auto history = History(RunOf(c, 0).info.run_id, "objective");
  EXPECT_THAT(history, ElementsAre(std::make_pair(std::int64_t{0}, std::numeric_limits<double>::max()),
                                   std::make_pair(std::int64_t{1}, std::numeric_limits<double>::lowest())));
}

TEST_P(TrialRunsTest, RunsAreFoundAgainAfterARestart) {
  const StudyConfig c = Config("study-c", {"loss"});
  ASSERT_TRUE(service_->CreateStudy(c).ok());
  Ask(c.name);
  Ask(c.name);
  ASSERT_TRUE(service_->Report(c.name, 0, 0, 1.0).ok());
  const std::string run0 = RunOf(c, 0).info.run_id;
  const std::string run1 = RunOf(c, 1).info.run_id;
  Restart();

  ASSERT_TRUE(service_->Report(c.name, 0, 1, 0.5).ok());
  ASSERT_TRUE(service_->Tell(c.name, 0, TrialState::kComplete, 0.25).ok());
  ASSERT_TRUE(service_->Tell(c.name, 1, TrialState::kFailed).ok());
  Ask(c.name);

  EXPECT_EQ(RunsOfExperiment(c.name).size(), 3u);
  tracking::Run again = RunOf(c, 0);
  EXPECT_EQ(again.info.run_id, run0);
  EXPECT_EQ(again.info.status, tracking::RunStatus::kFinished);
  EXPECT_THAT(History(run0, "loss"),
              ElementsAre(std::make_pair(std::int64_t{0}, 1.0), std::make_pair(std::int64_t{1}, 0.5),
                          std::make_pair(std::int64_t{2}, 0.25)));
  EXPECT_EQ(RunOf(c, 1).info.run_id, run1);
  EXPECT_EQ(RunOf(c, 1).info.status, tracking::RunStatus::kFailed);
  EXPECT_EQ(RunOf(c, 2).info.status, tracking::RunStatus::kRunning);
}

TEST_P(TrialRunsTest, ATrialAskedUnobservedGetsItsRunWhenItFinishes) {
  const StudyConfig c = Config("study-d");
  Open(/*observe=*/false);
  ASSERT_TRUE(service_->CreateStudy(c).ok());
  const Trial t = Ask(c.name);
  ASSERT_TRUE(service_->Report(c.name, 0, 0, 3.0).ok());
  Open(/*observe=*/true);

  ASSERT_TRUE(service_->Report(c.name, 0, 1, 2.0).ok());  // no run yet: kept for the end
  ASSERT_TRUE(service_->Tell(c.name, 0, TrialState::kComplete, 1.0).ok());
  const tracking::Run run = RunOf(c, 0);
  EXPECT_EQ(run.info.run_name, "trial-0");
  EXPECT_EQ(run.info.status, tracking::RunStatus::kFinished);
  EXPECT_EQ(run.params.size(), t.params.size());
  EXPECT_THAT(History(run.info.run_id, "objective"),
              ElementsAre(std::make_pair(std::int64_t{0}, 3.0), std::make_pair(std::int64_t{1}, 2.0),
                          std::make_pair(std::int64_t{2}, 1.0)));
  EXPECT_EQ(RunsOfExperiment(c.name).size(), 1u);
}

TEST_P(TrialRunsTest, ANamedStudyRecordsUnderItsExperimentName) {
  const StudyConfig c = Config("katib-5b1d", {"loss"});
  runs_->NameExperiment(c.name, "team/wine-tuning");
  ASSERT_TRUE(service_->CreateStudy(c).ok());
  Ask(c.name);
  auto experiment = tracking_->GetExperimentByName("team/wine-tuning");
  ASSERT_TRUE(experiment.ok()) << experiment.status().ToString();
  EXPECT_THAT(experiment->tags, ElementsAre(tracking::Tag{"ferry.tuning.study", "katib-5b1d"}));
  EXPECT_EQ(RunOf(c, 0).info.experiment_id, experiment->experiment_id);
  EXPECT_EQ(tracking_->GetExperimentByName(c.name).status().code(), StatusCode::kNotFound);
}

TEST_P(TrialRunsTest, AnExistingExperimentOfTheNameIsUsed) {
  auto id = tracking_->CreateExperiment("study-e", "", {});
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  const StudyConfig c = Config("study-e");
  ASSERT_TRUE(service_->CreateStudy(c).ok());
  Ask(c.name);
  EXPECT_EQ(RunOf(c, 0).info.experiment_id, *id);
}

TEST_P(TrialRunsTest, TrackingFailuresNeverFailTheStudy) {
  // A parameter name MLflow refuses as a key: the other params still land.
  StudyConfig c = Config("study-f");
  c.space.params.push_back(Double("a/../b", 0, 1));
  ASSERT_TRUE(service_->CreateStudy(c).ok());
  Ask(c.name);
  tracking::Run run = RunOf(c, 0);
  EXPECT_EQ(run.params.size(), 3u);

  // The study's experiment deleted: no run can be made or written.
  auto experiment = tracking_->GetExperimentByName(c.name);
  ASSERT_TRUE(experiment.ok());
  ASSERT_TRUE(tracking_->DeleteExperiment(experiment->experiment_id).ok());
  auto t = service_->Ask(c.name);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_TRUE(service_->Report(c.name, 0, 0, 1.0).ok());
  EXPECT_TRUE(service_->Tell(c.name, 0, TrialState::kComplete, 1.0).ok());
  EXPECT_TRUE(service_->Tell(c.name, 1, TrialState::kComplete, 2.0).ok());
  auto best = service_->BestTrial(c.name);
  ASSERT_TRUE(best.ok());
  EXPECT_EQ(best->number, 0);
}

TEST_P(TrialRunsTest, ADeletedStudyKillsItsRunningRuns) {
  const StudyConfig c = Config("study-g");
  ASSERT_TRUE(service_->CreateStudy(c).ok());
  Ask(c.name);
  Ask(c.name);
  ASSERT_TRUE(service_->Tell(c.name, 0, TrialState::kComplete, 1.0).ok());
  const std::string run0 = RunOf(c, 0).info.run_id;
  const std::string run1 = RunOf(c, 1).info.run_id;
  ASSERT_TRUE(service_->DeleteStudy(c.name).ok());
  EXPECT_EQ(tracking_->GetRun(run0)->info.status, tracking::RunStatus::kFinished);
  EXPECT_EQ(tracking_->GetRun(run1)->info.status, tracking::RunStatus::kKilled);

  // Made again, the study numbers from 0 again and records new runs.
  env_.AdvanceMicros(1'000'000);
  ASSERT_TRUE(service_->CreateStudy(c).ok());
  Ask(c.name);
  ASSERT_TRUE(service_->Tell(c.name, 0, TrialState::kComplete, 5.0).ok());
  const tracking::Run fresh = RunOf(c, 0);
  EXPECT_NE(fresh.info.run_id, run0);
  EXPECT_EQ(fresh.info.status, tracking::RunStatus::kFinished);
  EXPECT_EQ(RunsOfExperiment(c.name).size(), 3u);
}

TEST_P(TrialRunsTest, ParallelAsksMakeOneRunEach) {
  const StudyConfig c = Config("study-h");
  ASSERT_TRUE(service_->CreateStudy(c).ok());
  constexpr int kThreads = 8, kPerThread = 5;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      for (int k = 0; k < kPerThread; ++k) {
        auto t = service_->Ask(c.name);
        ASSERT_TRUE(t.ok()) << t.status().ToString();
        ASSERT_TRUE(service_->Report(c.name, t->number, 0, 1.0).ok());
        ASSERT_TRUE(service_->Tell(c.name, t->number, TrialState::kComplete, 0.5).ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  const auto runs = RunsOfExperiment(c.name);
  ASSERT_EQ(runs.size(), static_cast<std::size_t>(kThreads * kPerThread));
  std::set<std::string> trials;
  for (const auto& r : runs) {
    EXPECT_EQ(r.info.status, tracking::RunStatus::kFinished);
    trials.insert(TagOf(r, "ferry.tuning.trial"));
  }
  EXPECT_EQ(trials.size(), runs.size());
}

INSTANTIATE_TEST_SUITE_P(Backends, TrialRunsTest, AllBackends(), BackendName);

}  // namespace
}  // namespace ferry::tuning
