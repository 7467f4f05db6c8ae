// Recurring runs: the robfig/cron v1 parser and next-fire times (tables of
// known answers), KFP's catch-up and start/end rules, and the Scheduler over
// SQLite and PostgreSQL with the real engine and local executor but a
// FakeEnv clock for the scheduler, so firing is driven by Tick().
#include "ferry/pipelines/schedules.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "ferry/common/time.h"
#include "ferry/executors/local/local_executor.h"
#include "ferry/pipelines/catalog_store.h"
#include "ferry/store/testing/test_database.h"

namespace ferry::pipelines {
namespace {

namespace fs = std::filesystem;
using ::ferry::store::testing::AllBackends;
using ::ferry::store::testing::Backend;
using ::ferry::store::testing::BackendName;
using ::ferry::store::testing::TestDatabase;
using namespace std::chrono_literals;

std::int64_t T(const char* rfc3339) {
  auto micros = ParseRfc3339(rfc3339);
  EXPECT_TRUE(micros.ok()) << rfc3339;
  return micros.ok() ? *micros / 1'000'000 : 0;
}

std::string Iso(std::optional<std::int64_t> epoch) {
  return epoch ? FormatRfc3339(*epoch * 1'000'000) : "never";
}

struct NextCase {
  const char* cron;
  const char* after;
  const char* want;  // nullptr: never
};

TEST(CronScheduleTest, NextFireTimes) {
  const NextCase cases[] = {
      {"0 * * * * *", "2026-11-22T15:00:30Z", "2026-11-22T15:01:00Z"},
      {"* * * * * ?", "2026-11-22T15:00:30Z", "2026-11-22T15:00:31Z"},
      {"*/15 * * * * *", "2026-11-22T15:00:30Z", "2026-11-22T15:00:45Z"},
      {"*/15 * * * * *", "2026-11-22T15:00:59Z", "2026-11-22T15:01:00Z"},
      {"5/20 * * * * *", "2026-11-22T15:00:26Z", "2026-11-22T15:00:45Z"},
      {"1,2,40-42 * * * * *", "2026-11-22T15:00:02Z", "2026-11-22T15:00:40Z"},
      // KFP's documented example: 09:00 Tuesday to Saturday (2026-11-21 is a Saturday).
      {"0 0 9 ? * 2-6", "2026-11-21T10:00:00Z", "2026-11-24T09:00:00Z"},
      {"0 30 8 1 * *", "2026-11-22T00:00:00Z", "2026-12-01T08:30:00Z"},
      {"0 0 0 29 2 *", "2026-01-01T00:00:00Z", "2028-02-29T00:00:00Z"},
      // Names; dom is * so the weekday must match too (2027-01-04 is a Monday).
      {"0 0 12 * JAN-MAR MON", "2026-11-22T00:00:00Z", "2027-01-04T12:00:00Z"},
      {"0 0 12 * jan-mar mon", "2026-11-22T00:00:00Z", "2027-01-04T12:00:00Z"},
      // Both day fields restricted: either matches (Friday 2026-11-27 before the 13th).
      {"0 0 0 13 * FRI", "2026-11-22T00:00:00Z", "2026-11-27T00:00:00Z"},
      {"0 0 0 * * 0", "2026-11-22T00:00:00Z", "2026-11-29T00:00:00Z"},
      // Five fields are robfig's: seconds first, day of week left out.
      {"0 */5 * * *", "2026-11-22T15:02:10Z", "2026-11-22T15:05:00Z"},
      {"30 0 0 1 1", "2026-11-22T15:02:10Z", "2027-01-01T00:00:30Z"},
      {"59 59 23 31 12 *", "2026-12-31T23:59:59Z", "2027-12-31T23:59:59Z"},
      {"0 0 */6 * * *", "2026-11-22T19:00:00Z", "2026-11-23T00:00:00Z"},
      {"0 0 0 31 * *", "2026-11-22T00:00:00Z", "2026-12-31T00:00:00Z"},
      {"  0   0  0 1 1 *  ", "2026-11-22T00:00:00Z", "2027-01-01T00:00:00Z"},
      {"@hourly", "2026-11-22T15:00:00Z", "2026-11-22T16:00:00Z"},
      {"@daily", "2026-11-22T15:00:00Z", "2026-11-23T00:00:00Z"},
      {"@midnight", "2026-11-22T00:00:00Z", "2026-11-23T00:00:00Z"},
      {"@weekly", "2026-11-22T00:00:00Z", "2026-11-29T00:00:00Z"},
      {"@monthly", "2026-11-22T00:00:00Z", "2026-12-01T00:00:00Z"},
      {"@yearly", "2026-11-22T00:00:00Z", "2027-01-01T00:00:00Z"},
      {"@annually", "2026-11-22T00:00:00Z", "2027-01-01T00:00:00Z"},
      {"@every 90s", "2026-11-22T15:00:00Z", "2026-11-22T15:01:30Z"},
      {"@every 1h30m", "2026-11-22T15:00:00Z", "2026-11-22T16:30:00Z"},
      {"@every 1500ms", "2026-11-22T15:00:00Z", "2026-11-22T15:00:01Z"},
      {"0 0 0 30 2 *", "2026-11-22T00:00:00Z", nullptr},
  };
  for (const NextCase& c : cases) {
    auto parsed = CronSchedule::Parse(c.cron);
    ASSERT_TRUE(parsed.ok()) << c.cron << ": " << parsed.status().ToString();
    std::optional<std::int64_t> next = parsed->Next(T(c.after));
    std::optional<std::int64_t> want;
    if (c.want != nullptr) want = T(c.want);
    EXPECT_EQ(Iso(next), Iso(want)) << c.cron << " after " << c.after;
  }
}

TEST(CronScheduleTest, RejectsBadExpressionsNamingTheProblem) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "Empty spec"},
      {"* * *", "Expected 5 to 6 fields, found 3"},
      {"* * * * * * *", "Expected 5 to 6 fields, found 7"},
      {"60 * * * * *", "End of range (60) above maximum (59)"},
      {"* * 24 * * *", "End of range (24) above maximum (23)"},
      {"* * * 0 * *", "Beginning of range (0) below minimum (1)"},
      {"* * * * 13 *", "End of range (13) above maximum (12)"},
      {"* * * * * 7", "End of range (7) above maximum (6)"},
      {"5-1 * * * * *", "Beginning of range (5) beyond end of range (1)"},
      {"*/0 * * * * *", "Step of range should be a positive number"},
      {"a * * * * *", "Failed to parse int from a"},
      {"-1 * * * * *", "Failed to parse int from"},
      {"1-2-3 * * * * *", "Too many hyphens"},
      {"1/2/3 * * * * *", "Too many slashes"},
      {"1,,2 * * * * *", "Empty item"},
      {"* * * * FOO *", "Failed to parse int from FOO"},
      {"@weekly2", "Unrecognized descriptor"},
      {"@every 5x", "unknown unit"},
      {"@every 5", "missing unit"},
      {"@every -5s", "positive duration"},
  };
  for (const auto& [cron, want] : cases) {
    auto parsed = CronSchedule::Parse(cron);
    ASSERT_FALSE(parsed.ok()) << cron;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << cron;
    EXPECT_NE(parsed.status().message().find(want), std::string::npos)
        << cron << ": " << parsed.status().message();
  }
}

TEST(NextScheduledEpochTest, PeriodicCatchUpStartAndEnd) {
  Trigger t;
  t.kind = Trigger::Kind::kPeriodic;
  t.interval_second = 10;
  const std::int64_t created = 1000;
  // First fire one interval after creation, then one interval after each fire.
  EXPECT_EQ(*NextScheduledEpoch(t, std::nullopt, created, true, created), 1010);
  EXPECT_EQ(*NextScheduledEpoch(t, 1010, created, true, 5000), 1020);
  // No catch-up: more than one interval missed -> now.
  EXPECT_EQ(*NextScheduledEpoch(t, 1010, created, false, 5000), 5000);
  EXPECT_EQ(*NextScheduledEpoch(t, 1010, created, false, 1025), 1020);
  // A start time later than the last fire counts from the start.
  t.start_epoch = 2000;
  EXPECT_EQ(*NextScheduledEpoch(t, std::nullopt, created, true, created), 2010);
  EXPECT_EQ(*NextScheduledEpoch(t, 1010, created, true, created), 2010);
  // Nothing after the end time.
  t.end_epoch = 2009;
  EXPECT_EQ(*NextScheduledEpoch(t, std::nullopt, created, true, created), kNeverEpoch);
  t.end_epoch = 2010;
  EXPECT_EQ(*NextScheduledEpoch(t, std::nullopt, created, true, created), 2010);
}

TEST(NextScheduledEpochTest, CronCatchUpAndNoCatchUp) {
  Trigger t;
  t.kind = Trigger::Kind::kCron;
  t.cron = "0 * * * * *";  // every minute
  const std::int64_t created = T("2026-11-22T15:00:30Z");
  const std::int64_t now = T("2026-11-22T15:10:05Z");
  EXPECT_EQ(Iso(*NextScheduledEpoch(t, std::nullopt, created, true, now)), "2026-11-22T15:01:00Z");
  EXPECT_EQ(Iso(*NextScheduledEpoch(t, T("2026-11-22T15:01:00Z"), created, true, now)),
            "2026-11-22T15:02:00Z");
  // Without catch-up, the latest due time; the ones between are skipped.
  EXPECT_EQ(Iso(*NextScheduledEpoch(t, T("2026-11-22T15:01:00Z"), created, false, now)),
            "2026-11-22T15:10:00Z");
  // ...but never past the end time.
  t.end_epoch = T("2026-11-22T15:05:00Z");
  EXPECT_EQ(Iso(*NextScheduledEpoch(t, T("2026-11-22T15:01:00Z"), created, false, now)),
            "2026-11-22T15:05:00Z");
  EXPECT_EQ(*NextScheduledEpoch(t, T("2026-11-22T15:05:00Z"), created, true, now), kNeverEpoch);
  // Start time in the future.
  t.end_epoch.reset();
  t.start_epoch = T("2026-12-01T00:00:30Z");
  EXPECT_EQ(Iso(*NextScheduledEpoch(t, std::nullopt, created, true, now)), "2026-12-01T00:01:00Z");

  Trigger once;
  EXPECT_EQ(*NextScheduledEpoch(once, std::nullopt, created, true, now), created);
  EXPECT_EQ(*NextScheduledEpoch(once, created, created, true, now), kNeverEpoch);

  t.cron = "bad";
  EXPECT_EQ(NextScheduledEpoch(t, std::nullopt, created, true, now).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(FiredRunNameTest, DeterministicAndDistinct) {
  EXPECT_EQ(FiredRunName("nightly", "id", 1), FiredRunName("nightly", "id", 1));
  EXPECT_NE(FiredRunName("nightly", "id", 1), FiredRunName("nightly", "id", 2));
  EXPECT_NE(FiredRunName("nightly", "id", 1), FiredRunName("nightly", "other", 1));
  EXPECT_EQ(FiredRunName("nightly", "id", 7).rfind("nightly-7-", 0), 0u);
}

// ---- Scheduler ----

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class SchedulerTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    tdb_ = TestDatabase::Create(GetParam());
    ASSERT_NE(tdb_, nullptr);
    char tmpl[] = "/tmp/ferry-schedules-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    executors::LocalExecutorOptions eo;
    eo.state_dir = dir_ + "/executor";
    eo.kill_grace = 500ms;
    auto ex = executors::LocalExecutor::Create(eo);
    ASSERT_TRUE(ex.ok()) << ex.status().ToString();
    executor_ = std::move(*ex);
    EngineOptions o;
    o.data_dir = dir_ + "/data";
    const char* path = getenv("PATH");
    o.base_env = {{"PATH", path ? path : "/usr/bin:/bin"}, {"HOME", dir_}, {"LANG", "C.UTF-8"}};
    auto engine = PipelineEngine::Open(&tdb_->db(), Env::Default(), executor_.get(), o);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(*engine);
    auto catalog = CatalogStore::Open(&tdb_->db(), &env_);
    ASSERT_TRUE(catalog.ok()) << catalog.status().ToString();
    catalog_ = std::move(*catalog);
    experiment_id_ = *catalog_->DefaultExperimentId();
    OpenScheduler();
  }

  void TearDown() override {
    if (scheduler_) scheduler_->Stop();
    scheduler_.reset();
    // Leave no task running behind.
    if (engine_) {
      ListRunsRequest all;
      auto runs = engine_->ListRuns(all);
      if (runs.ok())
        for (const RunStatus& r : runs->runs)
          if (!IsFinal(r.state)) (void)engine_->CancelRun(r.run_id);
      if (runs.ok())
        for (const RunStatus& r : runs->runs) WaitFinal(r.run_id);
      engine_->Shutdown();
    }
    engine_.reset();
    if (executor_) executor_->Shutdown();
    executor_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void OpenScheduler() {
    auto s = Scheduler::Open(&tdb_->db(), &env_, engine_.get(), catalog_.get());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    scheduler_ = std::move(*s);
  }

  RecurringRun Periodic(std::int64_t seconds, std::string pipeline = "sum_chain") {
    RecurringRun r;
    r.display_name = "every-" + std::to_string(seconds);
    r.experiment_id = experiment_id_;
    r.pipeline_text = ReadFile("src/ferry/pipelines/testdata/engine/" + pipeline + ".yaml");
    r.parameters["counter"] = dir_ + "/counter";
    r.trigger.kind = Trigger::Kind::kPeriodic;
    r.trigger.interval_second = seconds;
    return r;
  }

  std::vector<RunStatus> Runs(const std::string& recurring_run_id) {
    ListRunsRequest list;
    list.recurring_run_id = recurring_run_id;
    list.order_by = "created_at asc";
    auto page = engine_->ListRuns(list);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    return page.ok() ? page->runs : std::vector<RunStatus>{};
  }

  // For failure messages: each run's name, state and error.
  static std::string Describe(const std::vector<RunStatus>& runs) {
    std::string out;
    for (const RunStatus& r : runs)
      out += "\n  " + r.display_name + " " + std::string(RunStateName(r.state)) + " " + r.error;
    return out;
  }

  void WaitFinal(const std::string& run_id) {
    auto deadline = std::chrono::steady_clock::now() + 60s;
    std::int64_t rev = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      auto s = engine_->WaitForChange(run_id, rev, 1000ms);
      if (!s.ok() || IsFinal(s->state)) return;
      rev = s->revision;
    }
    ADD_FAILURE() << "run " << run_id << " did not finish";
  }

  std::int64_t TickOk() {
    auto wake = scheduler_->Tick();
    EXPECT_TRUE(wake.ok()) << wake.status().ToString();
    return wake.ok() ? *wake : 0;
  }

  FakeEnv env_;  // starts on a whole second
  std::unique_ptr<TestDatabase> tdb_;
  std::string dir_;
  std::unique_ptr<executors::LocalExecutor> executor_;
  std::unique_ptr<PipelineEngine> engine_;
  std::unique_ptr<CatalogStore> catalog_;
  std::unique_ptr<Scheduler> scheduler_;
  std::string experiment_id_;
};

TEST_P(SchedulerTest, CreateValidatesWithKfpMessages) {
  RecurringRun r = Periodic(0);
  auto bad = scheduler_->Create(r);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("Set at interval to least 1 second"), std::string::npos);
  EXPECT_EQ(bad.status().field(), "recurring_run.trigger.periodic_schedule.interval_second");

  r = Periodic(5);
  r.max_concurrency = 11;
  EXPECT_NE(scheduler_->Create(r).status().message().find("Support 1-10. Received 11."), std::string::npos);
  r.max_concurrency = 0;
  EXPECT_EQ(scheduler_->Create(r).status().code(), StatusCode::kInvalidArgument);

  r = Periodic(5);
  r.trigger.kind = Trigger::Kind::kCron;
  r.trigger.cron = "0 0 25 * * *";
  auto cron = scheduler_->Create(r);
  EXPECT_EQ(cron.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(cron.status().message().find("Schedule cron is not a supported format"), std::string::npos);
  EXPECT_NE(cron.status().message().find("End of range (25) above maximum (23)"), std::string::npos);
  EXPECT_EQ(cron.status().field(), "recurring_run.trigger.cron_schedule.cron");

  r = Periodic(5);
  r.display_name = "  ";
  EXPECT_EQ(scheduler_->Create(r).status().field(), "recurring_run.display_name");
  r = Periodic(5);
  r.pipeline_text = "";
  EXPECT_EQ(scheduler_->Create(r).status().field(), "recurring_run.pipeline_spec");
  r = Periodic(5);
  r.description = std::string("bad\xff", 4);
  EXPECT_EQ(scheduler_->Create(r).status().field(), "recurring_run.description");

  EXPECT_TRUE(scheduler_->List()->empty());
  EXPECT_EQ(scheduler_->Get("nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(scheduler_->SetEnabled("nope", true).code(), StatusCode::kNotFound);
  EXPECT_EQ(scheduler_->Delete("nope").code(), StatusCode::kNotFound);
}

TEST_P(SchedulerTest, FiresOnIntervalWithRecurringRunIdAndNames) {
  RecurringRun r = Periodic(10);
  r.max_concurrency = 10;
  auto created = scheduler_->Create(r);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  const std::string id = created->recurring_run_id;
  EXPECT_EQ(created->created_micros, env_.NowMicros());

  // Not due yet: the wake time is creation + 10 s.
  EXPECT_EQ(TickOk(), env_.NowMicros() + 10'000'000);
  EXPECT_TRUE(Runs(id).empty());

  env_.AdvanceMicros(10'000'000);
  TickOk();
  auto runs = Runs(id);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].recurring_run_id, id);
  EXPECT_EQ(runs[0].display_name, FiredRunName("every-10", id, 1));
  EXPECT_EQ(runs[0].experiment_id, experiment_id_);
  // A second tick at the same time fires nothing more.
  TickOk();
  EXPECT_EQ(Runs(id).size(), 1u);

  auto got = scheduler_->Get(id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->last_index, 1);
  EXPECT_EQ(*got->last_triggered_epoch, env_.NowMicros() / 1'000'000);
  EXPECT_FALSE(got->pipeline_text.empty());
  EXPECT_TRUE(scheduler_->List()->at(0).pipeline_text.empty());
  WaitFinal(runs[0].run_id);
  EXPECT_EQ(engine_->GetRun(runs[0].run_id)->run.state, RunState::kSucceeded);
}

TEST_P(SchedulerTest, CatchesUpAfterDowntimeUnlessNoCatchup) {
  RecurringRun r = Periodic(10);
  r.max_concurrency = 10;
  const std::string catchup = scheduler_->Create(r)->recurring_run_id;
  r.display_name = "no-catchup";
  r.no_catchup = true;
  const std::string latest = scheduler_->Create(r)->recurring_run_id;

  // The "server" is down for 35 s, then a new scheduler opens on the store.
  scheduler_.reset();
  env_.AdvanceMicros(35'000'000);
  OpenScheduler();
  TickOk();
  // Catch-up fires the three missed times; no_catchup fires once, now.
  EXPECT_EQ(Runs(catchup).size(), 3u);
  EXPECT_EQ(Runs(latest).size(), 1u);
  EXPECT_EQ(*scheduler_->Get(catchup)->last_triggered_epoch, env_.NowMicros() / 1'000'000 - 5);
  EXPECT_EQ(*scheduler_->Get(latest)->last_triggered_epoch, env_.NowMicros() / 1'000'000);
  for (const auto& run : Runs(catchup)) WaitFinal(run.run_id);
  for (const auto& run : Runs(latest)) WaitFinal(run.run_id);
}

TEST_P(SchedulerTest, MaxConcurrencyHoldsFiresUntilRunsEnd) {
  RecurringRun r = Periodic(1, "sleeper");
  r.parameters["log"] = dir_ + "/sleep-log";
  r.parameters["seconds"] = 60.0;
  r.max_concurrency = 2;
  const std::string id = scheduler_->Create(r)->recurring_run_id;
  env_.AdvanceMicros(10'000'000);
  const std::int64_t wake = TickOk();
  auto runs = Runs(id);
  ASSERT_EQ(runs.size(), 2u) << Describe(runs);
  // Held back: look again soon, not at a fire time.
  EXPECT_EQ(wake, env_.NowMicros() + 1'000'000);
  TickOk();
  EXPECT_EQ(Runs(id).size(), 2u) << Describe(Runs(id));

  // One ends: the next (caught-up) fire goes out.
  ASSERT_TRUE(engine_->CancelRun(runs[0].run_id).ok());
  WaitFinal(runs[0].run_id);
  TickOk();
  EXPECT_EQ(Runs(id).size(), 3u) << Describe(Runs(id));
  EXPECT_EQ(scheduler_->Get(id)->last_index, 3);
}

TEST_P(SchedulerTest, DisableEnableAndDelete) {
  RecurringRun r = Periodic(10);
  r.max_concurrency = 10;
  r.enabled = false;
  const std::string id = scheduler_->Create(r)->recurring_run_id;
  env_.AdvanceMicros(25'000'000);
  EXPECT_EQ(TickOk(), kNeverEpoch);
  EXPECT_TRUE(Runs(id).empty());

  ASSERT_TRUE(scheduler_->SetEnabled(id, true).ok());
  EXPECT_TRUE(scheduler_->Get(id)->enabled);
  TickOk();
  EXPECT_EQ(Runs(id).size(), 2u);  // +10 and +20, caught up

  ASSERT_TRUE(scheduler_->SetEnabled(id, false).ok());
  env_.AdvanceMicros(30'000'000);
  TickOk();
  EXPECT_EQ(Runs(id).size(), 2u);

  ASSERT_TRUE(scheduler_->Delete(id).ok());
  EXPECT_EQ(scheduler_->Get(id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(TickOk(), kNeverEpoch);
  EXPECT_EQ(Runs(id).size(), 2u);  // its runs stay
  for (const auto& run : Runs(id)) WaitFinal(run.run_id);
}

TEST_P(SchedulerTest, AFireSubmittedBeforeACrashIsNotRepeated) {
  RecurringRun r = Periodic(10);
  const std::string id = scheduler_->Create(r)->recurring_run_id;
  // The run of fire 1 went out but the row was not advanced (crash).
  RunRequest req;
  req.display_name = FiredRunName(r.display_name, id, 1);
  req.pipeline_text = r.pipeline_text;
  req.parameters = r.parameters;
  req.recurring_run_id = id;
  req.experiment_id = experiment_id_;
  ASSERT_TRUE(engine_->SubmitRun(req).ok());
  env_.AdvanceMicros(10'000'000);
  TickOk();
  EXPECT_EQ(Runs(id).size(), 1u);
  EXPECT_EQ(scheduler_->Get(id)->last_index, 1);
  for (const auto& run : Runs(id)) WaitFinal(run.run_id);
}

TEST_P(SchedulerTest, AFailingFireIsRecordedAndRetried) {
  RecurringRun r = Periodic(10);
  r.parameters.erase("counter");  // a required pipeline input
  const std::string id = scheduler_->Create(r)->recurring_run_id;
  env_.AdvanceMicros(10'000'000);
  EXPECT_EQ(TickOk(), env_.NowMicros() + 1'000'000);
  EXPECT_TRUE(Runs(id).empty());
  auto got = scheduler_->Get(id);
  EXPECT_FALSE(got->error.empty());
  EXPECT_EQ(got->last_index, 0);
}

TEST_P(SchedulerTest, CronScheduleAndBackgroundThread) {
  RecurringRun r = Periodic(1);
  r.trigger.kind = Trigger::Kind::kCron;
  r.trigger.cron = "*/20 * * * * *";
  const std::string id = scheduler_->Create(r)->recurring_run_id;
  // FakeEnv starts at ...:13:20; the next multiple of 20 s is 20 s later.
  EXPECT_EQ(TickOk(), env_.NowMicros() + 20'000'000);
  env_.AdvanceMicros(20'000'000);
  scheduler_->Start();
  // The thread fires on its own; wait (bounded) for the run to appear.
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (Runs(id).empty() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
  scheduler_->Stop();
  ASSERT_EQ(Runs(id).size(), 1u);
  for (const auto& run : Runs(id)) WaitFinal(run.run_id);
}

INSTANTIATE_TEST_SUITE_P(Backends, SchedulerTest, AllBackends(), BackendName);

}  // namespace
}  // namespace ferry::pipelines
