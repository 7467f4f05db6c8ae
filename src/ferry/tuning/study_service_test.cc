// Tests of StudyService on SQLite and PostgreSQL: study lifecycle, the
// ask/tell/report/should_prune flow and its errors, concurrency on one
// study, restart equivalence (a study resumed by a new service on the same
// database asks exactly what an uninterrupted one would), that a loaded
// study is never re-read, and the overhead of an ask/tell pair.
#include "ferry/tuning/study_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <limits>
#include <set>
#include <thread>

#include "ferry/store/testing/test_database.h"
#include "ferry/tuning/testing/params.h"

namespace ferry::tuning {
namespace {

using testing::Categorical;
using testing::Discrete;
using testing::Double;
using testing::Int;

using ::ferry::store::testing::AllBackends;
using ::ferry::store::testing::Backend;
using ::ferry::store::testing::BackendName;
using ::ferry::store::testing::TestDatabase;
using ::testing::HasSubstr;

// Every kind of parameter the samplers handle.
SearchSpace MixedSpace() {
  SearchSpace s;
  s.params = {Double("x", -5, 5),
              Double("lr", 1e-4, 1e-1, 0, Distribution::kLogUniform),
              Int("layers", 1, 8),
              Int("batch", 16, 128, 16),
              Discrete("dropout", {0.0, 0.1, 0.25, 0.5}),
              Categorical("optimizer", {"sgd", "adam", "rmsprop"})};
  return s;
}

StudyConfig Config(std::string name, std::string sampler = "random") {
  StudyConfig c;
  c.name = std::move(name);
  c.space = MixedSpace();
  c.sampler = std::move(sampler);
  return c;
}

// An analytic objective over MixedSpace, minimised near x = 1.
double Objective(const std::vector<double>& p) {
  return (p[0] - 1) * (p[0] - 1) + std::abs(std::log10(p[1]) + 2) + 0.1 * p[2] + p[3] / 128 + p[4] +
         (p[5] == 1 ? 0 : 0.5);
}

void ExpectFeasible(const SearchSpace& space, const Trial& t) {
  ASSERT_EQ(t.params.size(), space.params.size());
  for (std::size_t i = 0; i < space.params.size(); ++i) {
    EXPECT_TRUE(space.Contains(i, t.params[i])) << space.params[i].name << " = " << t.params[i];
  }
}

std::uint64_t Mix(std::uint64_t h, std::uint64_t v) {
  h ^= v + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
  return h * 0xBF58476D1CE4E5B9ULL;
}

std::uint64_t Bits(double v) { return std::bit_cast<std::uint64_t>(v); }

// A sampler whose suggestion hashes everything it is shown (states,
// params, values, intermediate values and attrs, bit for bit), so two
// services agree on it only if they hand the sampler identical histories.
// It puts the hash in attrs, which later trials then hash too.
class HistoryHashSampler final : public Sampler {
 public:
  explicit HistoryHashSampler(std::uint64_t seed) : seed_(seed) {}
  Result<Suggestion> Ask(const StudyView& study) override {
    std::uint64_t h = seed_;
    for (const Trial& t : study.trials) {
      h = Mix(h, static_cast<std::uint64_t>(t.number));
      h = Mix(h, static_cast<std::uint64_t>(t.state));
      for (double p : t.params) h = Mix(h, Bits(p));
      h = Mix(h, t.value ? Bits(*t.value) : 7);
      for (const auto& [step, v] : t.intermediate) h = Mix(Mix(h, static_cast<std::uint64_t>(step)), Bits(v));
      for (const auto& [k, v] : t.attrs)
        h = Mix(Mix(h, std::hash<std::string>()(k)), std::hash<std::string>()(v));
    }
    const auto number = static_cast<std::int64_t>(study.trials.size());
    std::mt19937_64 rng = TrialRng(h, number);
    Suggestion s;
    for (std::size_t i = 0; i < study.space.params.size(); ++i) {
      auto [lo, hi] = study.space.InternalBounds(i);
      const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
      s.params.push_back(study.space.FromInternal(i, lo + u * (hi - lo)));
    }
    s.attrs["history"] = std::to_string(h);
    return s;
  }

 private:
  std::uint64_t seed_;
};

// Returns the same point every time: the service's own overhead, measured
// without a sampler's.
class ConstantSampler final : public Sampler {
 public:
  Result<Suggestion> Ask(const StudyView& study) override {
    Suggestion s;
    for (std::size_t i = 0; i < study.space.params.size(); ++i)
      s.params.push_back(study.space.FromInternal(i, 0));
    return s;
  }
};

// Answers with a scripted status (then succeeds with the constant point).
class ScriptedSampler final : public Sampler {
 public:
  explicit ScriptedSampler(std::vector<Status>* script) : script_(script) {}
  Result<Suggestion> Ask(const StudyView& study) override {
    if (!script_->empty()) {
      Status st = script_->front();
      script_->erase(script_->begin());
      if (!st.ok()) return st;
    }
    return ConstantSampler().Ask(study);
  }

 private:
  std::vector<Status>* script_;
};

// Samplers named "hash", "constant" and "scripted" are the test's; the
// rest go to MakeSampler.
StudyServiceOptions TestOptions(std::vector<Status>* script = nullptr) {
  StudyServiceOptions o;
  o.make_sampler = [script](std::string_view algorithm, const std::map<std::string, std::string>& settings,
                            const SearchSpace& space,
                            std::uint64_t seed) -> Result<std::unique_ptr<Sampler>> {
    if (algorithm == "hash") return std::unique_ptr<Sampler>(std::make_unique<HistoryHashSampler>(seed));
    if (algorithm == "constant") return std::unique_ptr<Sampler>(std::make_unique<ConstantSampler>());
    if (algorithm == "scripted") return std::unique_ptr<Sampler>(std::make_unique<ScriptedSampler>(script));
    return MakeSampler(algorithm, settings, space, seed);
  };
  return o;
}

// Forwards to a Database, counting the statements and transactions that
// reach it, and failing transactions on demand: before they run
// (fail_before) or after they commit (fail_after, a lost acknowledgement).
class CountingDatabase final : public store::Database {
 public:
  explicit CountingDatabase(store::Database* base) : base_(base) {}
  store::Dialect dialect() const override { return base_->dialect(); }
  std::string redacted_url() const override { return base_->redacted_url(); }
  Result<store::Rows> Query(std::string_view sql, const std::vector<store::Value>& params) override {
    ++(sql.starts_with("SELECT") ? reads : writes);
    return base_->Query(sql, params);
  }
  Result<std::int64_t> Exec(std::string_view sql, const std::vector<store::Value>& params) override {
    ++writes;
    return base_->Exec(sql, params);
  }
  Status Transact(const std::function<Status(store::Tx&)>& fn) override {
    ++writes;
    if (Take(fail_before)) return Unavailable("injected failure before the commit");
    const Status st = base_->Transact(fn);
    if (st.ok() && Take(fail_after)) return Unavailable("injected failure after the commit");
    return st;
  }
  Status Ping() override { return base_->Ping(); }

  std::atomic<int> reads{0};
  std::atomic<int> writes{0};
  std::atomic<int> fail_before{0};
  std::atomic<int> fail_after{0};

 private:
  static bool Take(std::atomic<int>& n) {
    int v = n.load();
    while (v > 0 && !n.compare_exchange_weak(v, v - 1)) {
    }
    return v > 0;
  }
  store::Database* base_;
};

// The tests of a backend share one migrated database, emptied before each
// test: making a PostgreSQL database per test would cost more than the
// tests themselves.
class StudyServiceTest : public ::testing::TestWithParam<Backend> {
 protected:
  static void TearDownTestSuite() { databases_.clear(); }

  void SetUp() override {
    std::unique_ptr<TestDatabase>& shared = databases_[GetParam()];
    if (shared == nullptr) shared = TestDatabase::Create(GetParam());
    ASSERT_NE(shared, nullptr);
    tdb_ = shared.get();
    ASSERT_TRUE(tdb_->db()
                    .Transact([](store::Tx& tx) -> Status {
                      for (const char* table : {"tuning_trial_values", "tuning_trials", "tuning_studies"}) {
                        RETURN_IF_ERROR(tx.Exec(std::string("DELETE FROM ") + table));
                      }
                      return Status::OK();
                    })
                    .ok());
    OpenService();
  }

  void TearDown() override {
    service_.reset();
    db_.reset();
  }

  void OpenService(StudyServiceOptions options = TestOptions()) {
    db_ = std::make_unique<CountingDatabase>(&tdb_->db());
    auto service = StudyService::Open(db_.get(), &env_, std::move(options));
    ASSERT_TRUE(service.ok()) << service.status().ToString();
    service_ = std::move(*service);
  }

  // A new service on a reopened database, as after a process restart.
  void Restart(StudyServiceOptions options = TestOptions()) {
    service_.reset();
    db_.reset();
    ASSERT_TRUE(tdb_->Reopen().ok());
    OpenService(std::move(options));
  }

  StudyInfo Create(const StudyConfig& c) {
    auto info = service_->CreateStudy(c);
    EXPECT_TRUE(info.ok()) << info.status().ToString();
    return info.ok() ? *info : StudyInfo{};
  }

  Trial MustAsk(const std::string& study, const FixedParams& fixed = {}) {
    auto t = service_->Ask(study, fixed);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return t.ok() ? *t : Trial{};
  }

  void MustTell(const std::string& study, std::int64_t number, TrialState state,
                std::optional<double> value = std::nullopt) {
    auto t = service_->Tell(study, number, state, value);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
  }

  std::int64_t StoredCount(const std::string& sql) {
    auto rows = tdb_->db().Query(sql);
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    return rows.ok() && !rows->empty() ? rows->at(0).Int(0) : -1;
  }

  static inline std::map<Backend, std::unique_ptr<TestDatabase>> databases_;

  FakeEnv env_;
  TestDatabase* tdb_ = nullptr;
  std::unique_ptr<CountingDatabase> db_;
  std::unique_ptr<StudyService> service_;
};

TEST_P(StudyServiceTest, CreateGetListDelete) {
  StudyConfig a = Config("beta");
  a.metric_names = {"loss", "accuracy"};
  a.pruner = "medianstop";
  a.pruner_settings = {{"start_step", "2"}};
  const StudyInfo created = Create(a);
  EXPECT_GT(created.study_id, 0);
  EXPECT_EQ(created.created_micros, env_.NowMicros());
  ASSERT_TRUE(created.config.seed.has_value());
  EXPECT_EQ(created.counts.total(), 0);
  EXPECT_FALSE(created.best_trial.has_value());
  Create(Config("alpha"));
  StudyConfig g = Config("gamma.v2_x-1");
  g.direction = Direction::kMaximize;
  g.seed = 7;
  Create(g);

  // A trial in beta, so listings have counts and a best trial to show.
  const Trial t0 = MustAsk("beta");
  MustTell("beta", t0.number, TrialState::kComplete, 3.5);
  MustAsk("beta");

  auto got = service_->GetStudy("beta");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->study_id, created.study_id);
  EXPECT_EQ(got->config.metric_names, a.metric_names);
  EXPECT_EQ(got->config.pruner, "medianstop");
  EXPECT_EQ(got->config.pruner_settings, a.pruner_settings);
  EXPECT_EQ(got->config.seed, created.config.seed);
  EXPECT_EQ(got->counts.complete, 1);
  EXPECT_EQ(got->counts.running, 1);
  ASSERT_TRUE(got->best_trial.has_value());
  EXPECT_EQ(got->best_trial->value, 3.5);

  auto check_listing = [&](const std::string& when) {
    SCOPED_TRACE(when);
    auto first = service_->ListStudies(2, "");
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    ASSERT_EQ(first->studies.size(), 2u);
    EXPECT_EQ(first->studies[0].config.name, "alpha");
    EXPECT_EQ(first->studies[1].config.name, "beta");
    EXPECT_EQ(first->studies[1].counts.complete, 1);
    EXPECT_EQ(first->studies[1].counts.running, 1);
    ASSERT_TRUE(first->studies[1].best_trial.has_value());
    EXPECT_EQ(first->studies[1].best_trial->params, t0.params);
    EXPECT_EQ(first->studies[1].config.metric_names, a.metric_names);
    ASSERT_FALSE(first->next_page_token.empty());
    auto second = service_->ListStudies(2, first->next_page_token);
    ASSERT_TRUE(second.ok()) << second.status().ToString();
    ASSERT_EQ(second->studies.size(), 1u);
    EXPECT_EQ(second->studies[0].config.name, "gamma.v2_x-1");
    EXPECT_EQ(second->studies[0].config.direction, Direction::kMaximize);
    EXPECT_EQ(second->studies[0].config.seed, 7u);
    EXPECT_EQ(second->studies[0].config.space.params.size(), MixedSpace().params.size());
    EXPECT_TRUE(second->next_page_token.empty());
  };
  check_listing("from memory");
  Restart();
  check_listing("from the store");

  EXPECT_EQ(service_->ListStudies(0, "").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(service_->ListStudies(1001, "").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(service_->ListStudies(10, "../etc").status().field(), "page_token");

  ASSERT_TRUE(service_->DeleteStudy("beta").ok());
  EXPECT_EQ(service_->GetStudy("beta").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(service_->DeleteStudy("beta").code(), StatusCode::kNotFound);
  EXPECT_EQ(service_->Ask("beta").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(StoredCount("SELECT COUNT(*) FROM tuning_trials"), 0);
  auto after = service_->ListStudies(10, "");
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->studies.size(), 2u);
  EXPECT_EQ(after->studies[1].config.name, "gamma.v2_x-1");

  // The name is free again, and the new study starts from trial 0.
  Create(Config("beta"));
  EXPECT_EQ(MustAsk("beta").number, 0);
}

TEST_P(StudyServiceTest, DefaultSeedComesFromTheName) {
  const StudyInfo a = Create(Config("seeded"));
  ASSERT_TRUE(service_->DeleteStudy("seeded").ok());
  const StudyInfo b = Create(Config("seeded"));
  EXPECT_EQ(a.config.seed, b.config.seed);
  EXPECT_NE(Create(Config("seeded2")).config.seed, a.config.seed);
}

TEST_P(StudyServiceTest, RefusesBadConfigsNamingTheField) {
  const std::string long_name(kMaxStudyNameLength + 1, 'a');
  for (const std::string& name : {std::string(), long_name, std::string("../x"), std::string("a/b"),
                                  std::string("a b"), std::string(".hidden"), std::string("-rf"),
                                  std::string("caf\xc3\xa9"), std::string("a\nb"), std::string("x;DROP")}) {
    auto r = service_->CreateStudy(Config(name));
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << name;
    EXPECT_EQ(r.status().field(), "name") << name;
    EXPECT_EQ(service_->GetStudy(name).status().code(), StatusCode::kInvalidArgument) << name;
  }
  EXPECT_TRUE(service_->CreateStudy(Config(std::string(kMaxStudyNameLength, 'a'))).ok());

  struct Case {
    std::function<void(StudyConfig&)> change;
    std::string field;
  };
  const std::vector<Case> cases = {
      {[](StudyConfig& c) { c.space.params[2].min = 9; }, "spec.parameters[2].feasibleSpace.min"},
      {[](StudyConfig& c) { c.space.params.clear(); }, "spec.parameters"},
      {[](StudyConfig& c) { c.space.params[5].choices[1] = "\xff"; },
       "spec.parameters[5].feasibleSpace.list[1]"},
      {[](StudyConfig& c) { c.sampler = "annealing"; }, "spec.algorithm.algorithmName"},
      {[](StudyConfig& c) {
         c.sampler_settings = {{"random_state", "x"}};
       },
       "spec.algorithm.algorithmSettings[random_state]"},
      {[](StudyConfig& c) {
         c.sampler_settings = {{"typo", "1"}};
       },
       "spec.algorithm.algorithmSettings[typo]"},
      {[](StudyConfig& c) { c.pruner = "sometimes"; }, "spec.earlyStopping.algorithmName"},
      {[](StudyConfig& c) {
         c.pruner = "medianstop";
         c.pruner_settings = {{"start_step", "-1"}};
       },
       "spec.earlyStopping.algorithmSettings[start_step]"},
      {[](StudyConfig& c) {
         c.metric_names = {"loss", "loss"};
       },
       "metric_names[1]"},
      {[](StudyConfig& c) { c.metric_names = {""}; }, "metric_names[0]"},
      {[](StudyConfig& c) { c.metric_names = {"a\tb"}; }, "metric_names[0]"},
  };
  for (const Case& k : cases) {
    StudyConfig c = Config("bad");
    k.change(c);
    auto r = service_->CreateStudy(c);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << k.field;
    EXPECT_EQ(r.status().field(), k.field) << r.status().ToString();
  }
  EXPECT_EQ(service_->GetStudy("bad").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(StoredCount("SELECT COUNT(*) FROM tuning_studies"), 1);
}

TEST_P(StudyServiceTest, LoadIfExists) {
  StudyConfig c = Config("study");
  c.sampler_settings = {{"random_state", "3"}};
  const StudyInfo created = Create(c);
  MustAsk("study");

  auto again = service_->CreateStudy(c);
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  auto loaded = service_->CreateStudy(c, /*load_if_exists=*/true);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->study_id, created.study_id);
  EXPECT_EQ(loaded->counts.running, 1);
  StudyConfig explicit_seed = c;
  explicit_seed.seed = created.config.seed;
  EXPECT_TRUE(service_->CreateStudy(explicit_seed, true).ok());

  struct Case {
    std::function<void(StudyConfig&)> change;
    std::string field;
  };
  const std::vector<Case> cases = {
      {[](StudyConfig& c) { c.direction = Direction::kMaximize; }, "direction"},
      {[](StudyConfig& c) { c.space.params[1].max = 0.5; }, "spec.parameters[1]"},
      {[](StudyConfig& c) { c.space.params.pop_back(); }, "spec.parameters"},
      {[](StudyConfig& c) { c.sampler = "tpe"; }, "spec.algorithm.algorithmName"},
      {[](StudyConfig& c) { c.sampler_settings = {}; }, "spec.algorithm.algorithmSettings"},
      {[](StudyConfig& c) { c.pruner = "medianstop"; }, "spec.earlyStopping.algorithmName"},
      {[](StudyConfig& c) { c.seed = 1; }, "seed"},
      {[](StudyConfig& c) { c.metric_names = {"loss"}; }, "metric_names"},
  };
  for (const Case& k : cases) {
    StudyConfig changed = c;
    k.change(changed);
    auto r = service_->CreateStudy(changed, true);
    EXPECT_EQ(r.status().code(), StatusCode::kAlreadyExists) << k.field;
    EXPECT_EQ(r.status().field(), k.field) << r.status().ToString();
    EXPECT_THAT(r.status().message(), HasSubstr("different configuration"));
  }
  // The same after a restart, when the study comes from the store.
  Restart();
  EXPECT_TRUE(service_->CreateStudy(c, true).ok());
  StudyConfig changed = c;
  changed.direction = Direction::kMaximize;
  EXPECT_EQ(service_->CreateStudy(changed, true).status().field(), "direction");
}

TEST_P(StudyServiceTest, AskTellReportFlow) {
  StudyConfig c = Config("flow");
  Create(c);
  const Trial t0 = MustAsk("flow");
  EXPECT_EQ(t0.number, 0);
  EXPECT_EQ(t0.state, TrialState::kRunning);
  ExpectFeasible(c.space, t0);
  // Durable before Ask returned.
  EXPECT_EQ(StoredCount("SELECT COUNT(*) FROM tuning_trials WHERE state = 'RUNNING'"), 1);

  ASSERT_TRUE(service_->Report("flow", 0, 0, 2.0).ok());
  ASSERT_TRUE(service_->Report("flow", 0, 5, 1.5).ok());
  ASSERT_TRUE(service_->Report("flow", 0, 5, 99.0).ok());  // repeated step: the first value stays
  ASSERT_TRUE(service_->Report("flow", 0, 1, 1.75).ok());
  auto ongoing = service_->GetTrial("flow", 0);
  ASSERT_TRUE(ongoing.ok());
  EXPECT_EQ(ongoing->intermediate, (std::map<std::int64_t, double>{{0, 2.0}, {1, 1.75}, {5, 1.5}}));
  auto prune = service_->ShouldPrune("flow", 0);
  ASSERT_TRUE(prune.ok()) << prune.status().ToString();
  EXPECT_FALSE(*prune);  // pruner "none"

  auto told = service_->Tell("flow", 0, TrialState::kComplete, 1.25);
  ASSERT_TRUE(told.ok()) << told.status().ToString();
  EXPECT_EQ(told->state, TrialState::kComplete);
  EXPECT_EQ(told->value, 1.25);

  // Pruned: takes its last finite intermediate value, as Optuna records it.
  EXPECT_EQ(MustAsk("flow").number, 1);
  ASSERT_TRUE(service_->Report("flow", 1, 0, 4.0).ok());
  ASSERT_TRUE(service_->Report("flow", 1, 3, 3.0).ok());
  auto pruned = service_->Tell("flow", 1, TrialState::kPruned);
  ASSERT_TRUE(pruned.ok()) << pruned.status().ToString();
  EXPECT_EQ(pruned->value, 3.0);

  // A NaN intermediate value is kept (as NaN), and a pruned trial then has no value.
  EXPECT_EQ(MustAsk("flow").number, 2);
  ASSERT_TRUE(service_->Report("flow", 2, 0, std::numeric_limits<double>::quiet_NaN()).ok());
  ASSERT_TRUE(service_->Report("flow", 2, 1, std::numeric_limits<double>::infinity()).ok());
  MustTell("flow", 2, TrialState::kPruned);
  EXPECT_EQ(MustAsk("flow").number, 3);
  MustTell("flow", 3, TrialState::kFailed);
  EXPECT_EQ(MustAsk("flow").number, 4);

  auto check = [&](const std::string& when) {
    SCOPED_TRACE(when);
    auto trials = service_->Trials("flow");
    ASSERT_TRUE(trials.ok()) << trials.status().ToString();
    ASSERT_EQ(trials->size(), 5u);
    EXPECT_EQ((*trials)[0].params, t0.params);
    EXPECT_EQ((*trials)[0].intermediate.size(), 3u);
    EXPECT_EQ((*trials)[1].state, TrialState::kPruned);
    EXPECT_EQ((*trials)[1].value, 3.0);
    EXPECT_TRUE(std::isnan((*trials)[2].intermediate.at(0)));
    EXPECT_EQ((*trials)[2].intermediate.at(1), std::numeric_limits<double>::infinity());
    EXPECT_FALSE((*trials)[2].value.has_value());
    EXPECT_EQ((*trials)[3].state, TrialState::kFailed);
    EXPECT_EQ((*trials)[4].state, TrialState::kRunning);
    for (const Trial& t : *trials) ExpectFeasible(c.space, t);
    auto info = service_->GetStudy("flow");
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->counts.complete, 1);
    EXPECT_EQ(info->counts.pruned, 2);
    EXPECT_EQ(info->counts.failed, 1);
    EXPECT_EQ(info->counts.running, 1);
    EXPECT_EQ(info->best_trial->number, 0);
  };
  check("in memory");
  Restart();
  check("after a restart");
}

TEST_P(StudyServiceTest, ShouldPruneUsesTheStudysPruner) {
  StudyConfig c = Config("pruned");
  c.pruner = "medianstop";
  c.pruner_settings = {{"min_trials_required", "1"}, {"start_step", "1"}};
  Create(c);
  MustAsk("pruned");
  ASSERT_TRUE(service_->Report("pruned", 0, 0, 1.0).ok());
  MustTell("pruned", 0, TrialState::kComplete, 1.0);
  MustAsk("pruned");
  MustAsk("pruned");
  ASSERT_TRUE(service_->Report("pruned", 1, 0, 10.0).ok());
  ASSERT_TRUE(service_->Report("pruned", 2, 0, 0.5).ok());
  EXPECT_EQ(service_->ShouldPrune("pruned", 1).ValueOr(false), true);
  EXPECT_EQ(service_->ShouldPrune("pruned", 2).ValueOr(true), false);
  Restart();
  EXPECT_EQ(service_->ShouldPrune("pruned", 1).ValueOr(false), true);
  EXPECT_EQ(service_->ShouldPrune("pruned", 0).status().code(), StatusCode::kFailedPrecondition);
}

TEST_P(StudyServiceTest, Errors) {
  Create(Config("s"));
  const StatusCode kNotFound = StatusCode::kNotFound;
  EXPECT_EQ(service_->Ask("nope").status().code(), kNotFound);
  EXPECT_EQ(service_->Tell("nope", 0, TrialState::kComplete, 1.0).status().code(), kNotFound);
  EXPECT_EQ(service_->Report("nope", 0, 0, 1.0).code(), kNotFound);
  EXPECT_EQ(service_->ShouldPrune("nope", 0).status().code(), kNotFound);
  EXPECT_EQ(service_->Trials("nope").status().code(), kNotFound);
  EXPECT_EQ(service_->GetTrial("nope", 0).status().code(), kNotFound);
  EXPECT_EQ(service_->BestTrial("nope").status().code(), kNotFound);
  EXPECT_EQ(service_->DeleteStudy("nope").code(), kNotFound);

  EXPECT_EQ(service_->BestTrial("s").status().code(), kNotFound);  // nothing complete yet
  MustAsk("s");
  for (std::int64_t n : {std::int64_t{1}, std::int64_t{-1}, std::int64_t{1} << 40}) {
    EXPECT_EQ(service_->Tell("s", n, TrialState::kComplete, 1.0).status().code(), kNotFound) << n;
    EXPECT_EQ(service_->Report("s", n, 0, 1.0).code(), kNotFound) << n;
    EXPECT_EQ(service_->ShouldPrune("s", n).status().code(), kNotFound) << n;
    EXPECT_EQ(service_->GetTrial("s", n).status().code(), kNotFound) << n;
  }

  auto field_of = [](const Result<Trial>& r) { return r.ok() ? std::string("<ok>") : r.status().field(); };
  EXPECT_EQ(field_of(service_->Tell("s", 0, TrialState::kComplete)), "value");
  EXPECT_EQ(field_of(service_->Tell("s", 0, TrialState::kComplete, std::nan(""))), "value");
  EXPECT_EQ(field_of(service_->Tell("s", 0, TrialState::kComplete, -std::numeric_limits<double>::infinity())),
            "value");
  EXPECT_EQ(field_of(service_->Tell("s", 0, TrialState::kFailed, 1.0)), "value");
  EXPECT_EQ(field_of(service_->Tell("s", 0, TrialState::kPruned, 1.0)), "value");
  EXPECT_EQ(field_of(service_->Tell("s", 0, TrialState::kRunning)), "state");
  EXPECT_EQ(service_->Report("s", 0, -1, 1.0).field(), "step");
  // None of that touched the trial.
  EXPECT_EQ(service_->GetTrial("s", 0)->state, TrialState::kRunning);

  MustTell("s", 0, TrialState::kComplete, 2.0);
  auto twice = service_->Tell("s", 0, TrialState::kComplete, 1.0);
  EXPECT_EQ(twice.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(twice.status().message(), HasSubstr("COMPLETE"));
  EXPECT_EQ(service_->Tell("s", 0, TrialState::kFailed).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(service_->Report("s", 0, 1, 1.0).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(service_->ShouldPrune("s", 0).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(service_->GetTrial("s", 0)->value, 2.0);

  // Fixed parameters outside the space name the parameter.
  struct Case {
    FixedParams fixed;
    std::string field;
  };
  const std::vector<Case> cases = {
      {{{"nope", 1.0}}, "params.nope"},          {{{"x", 5.5}}, "params.x"},
      {{{"x", std::nan("")}}, "params.x"},       {{{"lr", 0.5}}, "params.lr"},
      {{{"layers", 2.5}}, "params.layers"},      {{{"batch", 20}}, "params.batch"},
      {{{"dropout", 0.3}}, "params.dropout"},    {{{"optimizer", 3}}, "params.optimizer"},
      {{{"optimizer", -1}}, "params.optimizer"}, {{{"x", 0.0}, {"optimizer", 0.5}}, "params.optimizer"},
  };
  for (const Case& k : cases) {
    auto r = service_->Ask("s", k.fixed);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << k.field;
    EXPECT_EQ(r.status().field(), k.field) << r.status().ToString();
  }
  // Refused asks take no number.
  EXPECT_EQ(MustAsk("s").number, 1);
  EXPECT_EQ(StoredCount("SELECT COUNT(*) FROM tuning_trials"), 2);
}

TEST_P(StudyServiceTest, FixedParams) {
  const SearchSpace space = MixedSpace();
  Create(Config("fixed", "hash"));
  const Trial some = MustAsk("fixed", {{"x", 0.25}, {"optimizer", 2}, {"batch", 64}});
  ExpectFeasible(space, some);
  EXPECT_EQ(some.params[0], 0.25);
  EXPECT_EQ(some.params[3], 64);
  EXPECT_EQ(some.params[5], 2);
  EXPECT_EQ(some.attrs.count("history"), 1u);  // the sampler chose the rest

  const FixedParams all = {{"x", -1.5},   {"lr", 0.003},     {"layers", 4},
                           {"batch", 32}, {"dropout", 0.25}, {"optimizer", 1}};
  const Trial full = MustAsk("fixed", all);
  EXPECT_EQ(full.params, (std::vector<double>{-1.5, 0.003, 4, 32, 0.25, 1}));
  EXPECT_TRUE(full.attrs.empty());  // every value given: no sampler

  Restart();
  auto trials = service_->Trials("fixed");
  ASSERT_TRUE(trials.ok());
  ASSERT_EQ(trials->size(), 2u);
  EXPECT_EQ((*trials)[0].params, some.params);
  EXPECT_EQ((*trials)[1].params, full.params);
}

TEST_P(StudyServiceTest, BestTrialForMinimiseAndMaximise) {
  for (Direction direction : {Direction::kMinimize, Direction::kMaximize}) {
    const bool max = direction == Direction::kMaximize;
    const std::string name = max ? "max" : "min";
    SCOPED_TRACE(name);
    StudyConfig c = Config(name);
    c.direction = direction;
    Create(c);
    // Trial 3 ties trial 1 but finishes first; the lower number wins either way.
    const std::vector<double> values = {5, -2, 7, -2, 0};
    for (std::size_t i = 0; i < values.size(); ++i) MustAsk(name);
    MustTell(name, 3, TrialState::kComplete, values[3]);
    for (std::int64_t n : {0, 1, 2, 4})
      MustTell(name, n, TrialState::kComplete, values[static_cast<std::size_t>(n)]);
    MustAsk(name);
    MustTell(name, 5, TrialState::kPruned);
    auto best = service_->BestTrial(name);
    ASSERT_TRUE(best.ok()) << best.status().ToString();
    EXPECT_EQ(best->number, max ? 2 : 1);
    EXPECT_EQ(best->value, max ? 7 : -2);
    EXPECT_EQ(service_->GetStudy(name)->best_trial->number, best->number);
  }
  auto check = [&](const std::string& when) {
    SCOPED_TRACE(when);
    auto page = service_->ListStudies(10, "");
    ASSERT_TRUE(page.ok());
    ASSERT_EQ(page->studies.size(), 2u);
    EXPECT_EQ(page->studies[0].best_trial->number, 2);  // "max"
    EXPECT_EQ(page->studies[1].best_trial->number, 1);  // "min"
  };
  check("from memory");
  Restart();
  check("from the store");
  EXPECT_EQ(service_->BestTrial("min")->number, 1);
  EXPECT_EQ(service_->BestTrial("max")->number, 2);
}

TEST_P(StudyServiceTest, SamplerErrorsPassThrough) {
  std::vector<Status> script = {Unavailable("waiting for rung 0 of bracket 1 to finish"),
                                FailedPrecondition("grid search has tried all 3 combinations"), Status::OK()};
  Restart(TestOptions(&script));
  Create(Config("scripted", "scripted"));
  auto waiting = service_->Ask("scripted");
  EXPECT_EQ(waiting.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(waiting.status().message(), "waiting for rung 0 of bracket 1 to finish");
  auto done = service_->Ask("scripted");
  EXPECT_EQ(done.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(done.status().message(), "grid search has tried all 3 combinations");
  EXPECT_EQ(MustAsk("scripted").number, 0);

  // The real grid sampler, exhausted.
  StudyConfig grid = Config("grid", "grid");
  grid.space.params = {Int("n", 1, 3)};
  Create(grid);
  std::set<double> seen;
  for (int i = 0; i < 3; ++i) seen.insert(MustAsk("grid").params[0]);
  EXPECT_EQ(seen, (std::set<double>{1, 2, 3}));
  EXPECT_EQ(service_->Ask("grid").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(service_->GetStudy("grid")->counts.total(), 3);
}

// Many workers asking and telling one study at once get distinct, dense
// numbers, and every tell lands.
TEST_P(StudyServiceTest, ConcurrentAskTell) {
  const SearchSpace space = MixedSpace();
  Create(Config("busy"));
  Create(Config("other"));
  constexpr int kThreads = 8;
  constexpr int kPairs = 50;
  std::vector<std::vector<std::int64_t>> numbers(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  const int writes_before = db_->writes.load();
  const auto start = std::chrono::steady_clock::now();
  for (int w = 0; w < kThreads; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kPairs; ++i) {
        auto t = service_->Ask("busy");
        if (!t.ok()) {
          ++failures;
          continue;
        }
        numbers[static_cast<std::size_t>(w)].push_back(t->number);
        if (!service_->Tell("busy", t->number, TrialState::kComplete, Objective(t->params)).ok()) ++failures;
        // Another study in between: studies do not block one another.
        if (i % 10 == 0 && !service_->GetStudy("other").ok()) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::printf("[ %s ] %d threads x %d ask/tell: %.0f ms, %d transactions for %d calls\n",
              BackendName({GetParam(), 0}).c_str(), kThreads, kPairs,
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count(),
              db_->writes.load() - writes_before, kThreads * kPairs * 2);
  EXPECT_EQ(failures.load(), 0);
  std::vector<std::int64_t> all;
  for (const auto& v : numbers) {
    for (std::size_t i = 1; i < v.size(); ++i) EXPECT_LT(v[i - 1], v[i]);  // each worker's asks are ordered
    all.insert(all.end(), v.begin(), v.end());
  }
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), static_cast<std::size_t>(kThreads * kPairs));
  for (std::size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i], static_cast<std::int64_t>(i));

  Restart();
  auto info = service_->GetStudy("busy");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->counts.complete, kThreads * kPairs);
  EXPECT_EQ(info->counts.running, 0);
  auto trials = service_->Trials("busy");
  ASSERT_TRUE(trials.ok());
  for (const Trial& t : *trials) {
    ExpectFeasible(space, t);
    EXPECT_EQ(t.value, Objective(t.params));
  }
}

// Drives a study through a fixed script of asks, reports and tells, with
// two trials running at any time as two parallel workers would have them,
// calling `restart` before the asks numbered in `restart_at`; returns
// every trial.
std::vector<Trial> RunScript(std::unique_ptr<StudyService>& service, const std::function<void()>& restart,
                             const std::string& study, const std::set<int>& restart_at) {
  std::vector<Trial> asked;
  std::vector<std::int64_t> open;
  for (int step = 0; step < 16; ++step) {
    if (restart_at.count(step)) restart();
    auto t = service->Ask(study);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    if (!t.ok()) return asked;
    asked.push_back(*t);
    open.push_back(t->number);
    if (open.size() > 2) {
      const std::int64_t n = open.front();
      open.erase(open.begin());
      const double v = Objective(asked[static_cast<std::size_t>(n)].params);
      if (n % 2 == 0) {
        EXPECT_TRUE(service->Report(study, n, 1, v * 2).ok());
      }
      const TrialState state = n % 7 == 3   ? TrialState::kFailed
                               : n % 5 == 4 ? TrialState::kPruned
                                            : TrialState::kComplete;
      auto told = service->Tell(study, n, state,
                                state == TrialState::kComplete ? std::optional<double>(v) : std::nullopt);
      EXPECT_TRUE(told.ok()) << told.status().ToString();
    }
  }
  auto trials = service->Trials(study);
  EXPECT_TRUE(trials.ok());
  return trials.ok() ? *trials : std::vector<Trial>{};
}

TEST_P(StudyServiceTest, RestartEquivalence) {
  // "hash" sees every bit of the history (params, values, intermediate
  // values, attrs); TPE, past its start-up trials, is a real sampler that
  // models the values.
  for (const std::string sampler : {"hash", "tpe"}) {
    SCOPED_TRACE(sampler);
    StudyConfig a = Config("straight-" + sampler, sampler);
    StudyConfig b = Config("resumed-" + sampler, sampler);
    a.seed = b.seed = 1234;  // same seed, different names
    if (sampler == "tpe") a.sampler_settings = b.sampler_settings = {{"n_startup_trials", "5"}};
    Create(a);
    Create(b);
    const std::vector<Trial> want = RunScript(service_, [] {}, a.name, {});
    const std::vector<Trial> got = RunScript(service_, [&] { Restart(); }, b.name, {4, 9, 13});
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(got[i].params, want[i].params) << "trial " << i;
      EXPECT_EQ(got[i].attrs, want[i].attrs) << "trial " << i;
      EXPECT_EQ(got[i].state, want[i].state) << "trial " << i;
      EXPECT_EQ(got[i].value, want[i].value) << "trial " << i;
      EXPECT_EQ(got[i].intermediate, want[i].intermediate) << "trial " << i;
    }
    // Not a constant sequence: the comparison above has something to compare.
    EXPECT_NE(want[0].params, want[15].params);
  }
}

// A failed commit loses exactly the writes it held; a lost acknowledgement
// (committed, but the caller got an error) loses nothing. Either way the
// study's memory and the store agree afterwards and numbers stay dense.
TEST_P(StudyServiceTest, FailedCommits) {
  Create(Config("flaky", "hash"));
  EXPECT_EQ(MustAsk("flaky").number, 0);

  db_->fail_before = 1;
  auto lost = service_->Ask("flaky");
  EXPECT_EQ(lost.status().code(), StatusCode::kUnavailable);
  const Trial t1 = MustAsk("flaky");
  EXPECT_EQ(t1.number, 1);  // the lost ask took no number

  db_->fail_before = 1;
  EXPECT_EQ(service_->Tell("flaky", 1, TrialState::kComplete, 1.0).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(service_->GetTrial("flaky", 1)->state, TrialState::kRunning);
  db_->fail_before = 1;
  EXPECT_EQ(service_->Report("flaky", 1, 0, 5.0).code(), StatusCode::kUnavailable);
  EXPECT_TRUE(service_->GetTrial("flaky", 1)->intermediate.empty());
  ASSERT_TRUE(service_->Report("flaky", 1, 0, 6.0).ok());
  MustTell("flaky", 1, TrialState::kComplete, 2.0);

  db_->fail_after = 1;
  EXPECT_EQ(service_->Ask("flaky").status().code(), StatusCode::kUnavailable);
  auto trials = service_->Trials("flaky");
  ASSERT_TRUE(trials.ok());
  ASSERT_EQ(trials->size(), 3u);  // the ask did land: trial 2 runs
  EXPECT_EQ((*trials)[2].state, TrialState::kRunning);
  EXPECT_EQ(MustAsk("flaky").number, 3);
  EXPECT_EQ((*trials)[1].intermediate, (std::map<std::int64_t, double>{{0, 6.0}}));

  // Many workers with commits failing now and then: whatever was
  // acknowledged is in the store, and the store is what memory says.
  constexpr int kThreads = 6;
  std::atomic<int> acknowledged_tells{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kThreads; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < 12; ++i) {
        if ((w + i) % 5 == 0) db_->fail_before = 1;
        auto t = service_->Ask("flaky");
        if (!t.ok()) continue;
        if (service_->Tell("flaky", t->number, TrialState::kComplete, t->number).ok()) ++acknowledged_tells;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  db_->fail_before = 0;
  auto before = service_->Trials("flaky");
  ASSERT_TRUE(before.ok());
  Restart();
  auto after = service_->Trials("flaky");
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(before->size(), after->size());
  int complete = 0;
  for (std::size_t i = 0; i < after->size(); ++i) {
    EXPECT_EQ((*after)[i].number, static_cast<std::int64_t>(i));
    EXPECT_EQ((*after)[i].state, (*before)[i].state) << i;
    EXPECT_EQ((*after)[i].params, (*before)[i].params) << i;
    EXPECT_EQ((*after)[i].value, (*before)[i].value) << i;
    if ((*after)[i].state == TrialState::kComplete && i > 3) ++complete;
  }
  EXPECT_EQ(complete, acknowledged_tells.load());
  EXPECT_GT(acknowledged_tells.load(), 0);
}

// A loaded study is served from memory: asks, tells and reads issue no
// SELECT, and each write is one statement.
TEST_P(StudyServiceTest, LoadedStudyIsNotReadAgain) {
  Create(Config("big", "constant"));
  for (int i = 0; i < 15; ++i) {
    const Trial t = MustAsk("big");
    MustTell("big", t.number, TrialState::kComplete, i);
  }
  Restart();
  ASSERT_TRUE(service_->GetStudy("big").ok());  // loads it
  const int reads = db_->reads.load();
  const int writes = db_->writes.load();
  for (int i = 0; i < 10; ++i) {
    const Trial t = MustAsk("big");
    ASSERT_TRUE(service_->Report("big", t.number, 0, 1.0).ok());
    ASSERT_TRUE(service_->ShouldPrune("big", t.number).ok());
    MustTell("big", t.number, TrialState::kComplete, -i);
  }
  ASSERT_TRUE(service_->Trials("big").ok());
  ASSERT_TRUE(service_->BestTrial("big").ok());
  EXPECT_EQ(db_->reads.load(), reads);
  EXPECT_EQ(db_->writes.load(), writes + 30);  // one transaction per call
  EXPECT_EQ(service_->GetStudy("big")->counts.complete, 25);
}

// Prints what an ask/tell pair costs: on the fixture's database (disk
// flushes included) for a few pairs, and on SQLite in /dev/shm, where a
// flush is free, for 1,000 pairs (the service's own overhead, with a
// constant sampler and with the random one). Never asserted.
double MicrosPerPair(StudyService& service, const std::string& study, int pairs, double* cpu_micros) {
  timespec cpu0{}, cpu1{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu0);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < pairs; ++i) {
    auto t = service.Ask(study);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    if (!t.ok()) break;
    EXPECT_TRUE(service.Tell(study, t->number, TrialState::kComplete, Objective(t->params)).ok());
  }
  const double wall =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu1);
  *cpu_micros = ((cpu1.tv_sec - cpu0.tv_sec) * 1e6 + (cpu1.tv_nsec - cpu0.tv_nsec) / 1e3) / pairs;
  return wall / pairs;
}

TEST_P(StudyServiceTest, AskTellLatency) {
  Create(Config("timed", "constant"));
  double cpu = 0;
  const double wall = MicrosPerPair(*service_, "timed", 20, &cpu);
  std::printf("[ %s ] ask/tell pair, durable: %.0f us wall, %.0f us CPU\n",
              BackendName({GetParam(), 0}).c_str(), wall, cpu);
}

TEST(StudyServiceOverheadTest, ThousandAskTellPairsWithoutFlushCost) {
  const char* shm = "/dev/shm";
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(access(shm, W_OK) == 0 ? shm : (tmp != nullptr ? tmp : "/tmp")) + "/ferry_t_XXXXXX";
  ASSERT_NE(mkdtemp(pattern.data()), nullptr);
  const std::string dir = pattern;
  {
    auto db = store::OpenDatabase("sqlite://" + dir + "/test.db");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    ASSERT_TRUE(store::Migrate(**db, store::AllMigrations()).ok());
    FakeEnv env;
    auto service = StudyService::Open(db->get(), &env, TestOptions());
    ASSERT_TRUE(service.ok());
    for (const std::string sampler : {"constant", "random"}) {
      ASSERT_TRUE((*service)->CreateStudy(Config(sampler, sampler)).ok());
      // In chunks of 100, to show the cost does not grow with the history.
      double wall = 0, cpu = 0, first = 0, last = 0;
      for (int chunk = 0; chunk < 10; ++chunk) {
        double chunk_cpu = 0;
        const double chunk_wall = MicrosPerPair(**service, sampler, 100, &chunk_cpu);
        wall += chunk_wall / 10;
        cpu += chunk_cpu / 10;
        if (chunk == 0) first = chunk_cpu;
        last = chunk_cpu;
      }
      std::printf(
          "[ SQLite in %s ] 1000 ask/tell pairs, %s sampler: %.1f us wall, %.1f us CPU per pair (pairs 1-100 "
          "%.1f, 901-1000 %.1f)\n",
          dir.c_str(), sampler.c_str(), wall, cpu, first, last);
    }
    EXPECT_EQ((*service)->GetStudy("constant")->counts.complete, 1000);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

INSTANTIATE_TEST_SUITE_P(Backends, StudyServiceTest, AllBackends(), BackendName);

}  // namespace
}  // namespace ferry::tuning
