#include "ferry/tracking/tracking_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ferry/store/testing/test_database.h"
#include "ferry/tracking/tracking_internal.h"

namespace ferry::tracking {
namespace {

using ::ferry::store::testing::AllBackends;
using ::ferry::store::testing::Backend;
using ::ferry::store::testing::BackendName;
using ::ferry::store::testing::TestDatabase;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

Metric M(std::string key, double value, std::int64_t timestamp, std::int64_t step) {
  Metric m;
  m.key = std::move(key);
  m.value = value;
  m.timestamp = timestamp;
  m.step = step;
  return m;
}

class TrackingStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    tdb_ = TestDatabase::Create(GetParam());
    ASSERT_NE(tdb_, nullptr);
    auto store = TrackingStore::Open(&tdb_->db(), &env_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }

  std::string NewExperiment(const std::string& name) {
    auto id = store_->CreateExperiment(name, "", {});
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : "";
  }

  tracking::Run NewRun(const std::string& experiment_id = "0", std::vector<Tag> tags = {},
                       std::string name = "") {
    CreateRunRequest req;
    req.experiment_id = experiment_id;
    req.user_id = "alice";
    req.run_name = std::move(name);
    req.tags = std::move(tags);
    auto run = store_->CreateRun(req);
    EXPECT_TRUE(run.ok()) << run.status().ToString();
    return run.ok() ? *run : tracking::Run{};
  }

  std::map<std::string, Metric> Latest(const std::string& run_id) {
    auto run = store_->GetRun(run_id);
    EXPECT_TRUE(run.ok()) << run.status().ToString();
    std::map<std::string, Metric> out;
    if (run.ok())
      for (const Metric& m : run->metrics) out[m.key] = m;
    return out;
  }

  std::vector<Metric> History(const std::string& run_id, const std::string& key) {
    MetricHistoryRequest req;
    req.run_id = run_id;
    req.metric_key = key;
    req.page.max_results = 25000;
    std::vector<Metric> out;
    for (;;) {
      auto page = store_->GetMetricHistory(req);
      EXPECT_TRUE(page.ok()) << page.status().ToString();
      if (!page.ok()) break;
      out.insert(out.end(), page->items.begin(), page->items.end());
      if (page->next_page_token.empty()) break;
      req.page.page_token = page->next_page_token;
    }
    return out;
  }

  FakeEnv env_;
  std::unique_ptr<TestDatabase> tdb_;
  std::unique_ptr<TrackingStore> store_;
};

// ---------------------------------------------------------------------------
// Experiments

TEST_P(TrackingStoreTest, DefaultExperimentExistsAndOpenIsIdempotent) {
  auto e = store_->GetExperiment("0");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->name, "Default");
  EXPECT_EQ(e->artifact_location, "mlflow-artifacts:/0");
  EXPECT_EQ(e->lifecycle_stage, LifecycleStage::kActive);
  EXPECT_EQ(e->creation_time, env_.NowMicros() / 1000);
  auto again = TrackingStore::Open(&tdb_->db(), &env_);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  auto page = (*again)->SearchExperiments({});
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->items.size(), 1u);
  EXPECT_EQ(store_->GetExperiment("").ValueOr(Experiment{}).name, "Default");
}

TEST_P(TrackingStoreTest, CreateAndGetExperiments) {
  auto a = store_->CreateExperiment("a", "", {{"z", "1"}, {"b", "2"}});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(*a, "1");
  auto b = store_->CreateExperiment("b", "s3://bucket/x", {});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, "2");
  auto got = store_->GetExperiment("1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->name, "a");
  EXPECT_EQ(got->artifact_location, "mlflow-artifacts:/1");
  EXPECT_THAT(got->tags, ElementsAre(Tag{"b", "2"}, Tag{"z", "1"}));
  EXPECT_EQ(store_->GetExperiment("2")->artifact_location, "s3://bucket/x");
  auto by_name = store_->GetExperimentByName("b");
  ASSERT_TRUE(by_name.ok());
  EXPECT_EQ(by_name->experiment_id, "2");

  EXPECT_EQ(store_->CreateExperiment("a", "", {}).status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->CreateExperiment("", "", {}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->CreateExperiment(std::string(501, 'x'), "", {}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(store_->CreateExperiment(std::string(500, 'x'), "", {}).ok());
  EXPECT_EQ(store_->CreateExperiment("c", std::string(2049, 'x'), {}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->CreateExperiment("c", "", {{"../x", "v"}}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->CreateExperiment("c", "", {{"k", std::string(20001, 'v')}}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->CreateExperiment("bad\xff", "", {}).status().code(), StatusCode::kInvalidArgument);
  // A failed create leaves nothing behind.
  EXPECT_EQ(store_->GetExperimentByName("c").status().code(), StatusCode::kNotFound);

  EXPECT_EQ(store_->GetExperiment("999").status().code(), StatusCode::kNotFound);
  auto bad = store_->GetExperiment("abc");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("Experiment ID must be a valid integer"));
  EXPECT_EQ(store_->GetExperimentByName("nope").status().code(), StatusCode::kNotFound);
}

TEST_P(TrackingStoreTest, RenameExperiment) {
  const std::string id = NewExperiment("old");
  NewExperiment("taken");
  env_.AdvanceMicros(5000);
  ASSERT_TRUE(store_->RenameExperiment(id, "new").ok());
  auto e = store_->GetExperiment(id);
  EXPECT_EQ(e->name, "new");
  EXPECT_EQ(e->last_update_time, e->creation_time + 5);
  EXPECT_EQ(store_->GetExperimentByName("old").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->RenameExperiment(id, "taken").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->RenameExperiment(id, "").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->RenameExperiment("77", "x").code(), StatusCode::kNotFound);
  ASSERT_TRUE(store_->DeleteExperiment(id).ok());
  EXPECT_EQ(store_->RenameExperiment(id, "again").code(), StatusCode::kFailedPrecondition);
}

TEST_P(TrackingStoreTest, DeleteAndRestoreExperimentCascadeToRuns) {
  const std::string id = NewExperiment("exp");
  tracking::Run r1 = NewRun(id);
  tracking::Run r2 = NewRun(id);
  tracking::Run other = NewRun("0");
  ASSERT_TRUE(store_->DeleteRun(r2.info.run_id).ok());
  ASSERT_TRUE(store_->DeleteExperiment(id).ok());
  EXPECT_EQ(store_->GetExperiment(id)->lifecycle_stage, LifecycleStage::kDeleted);
  EXPECT_EQ(store_->GetRun(r1.info.run_id)->info.lifecycle_stage, LifecycleStage::kDeleted);
  EXPECT_EQ(store_->GetRun(other.info.run_id)->info.lifecycle_stage, LifecycleStage::kActive);
  EXPECT_EQ(store_->DeleteExperiment(id).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->LogMetric(r1.info.run_id, M("m", 1, 1, 0)).code(), StatusCode::kFailedPrecondition);
  CreateRunRequest req;
  req.experiment_id = id;
  EXPECT_EQ(store_->CreateRun(req).status().code(), StatusCode::kFailedPrecondition);
  // Names stay taken by deleted experiments.
  EXPECT_EQ(store_->CreateExperiment("exp", "", {}).status().code(), StatusCode::kAlreadyExists);

  ExperimentSearch deleted;
  deleted.view = ViewType::kDeletedOnly;
  auto page = store_->SearchExperiments(deleted);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].experiment_id, id);

  ASSERT_TRUE(store_->RestoreExperiment(id).ok());
  EXPECT_EQ(store_->RestoreExperiment(id).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->GetExperiment(id)->lifecycle_stage, LifecycleStage::kActive);
  // As MLflow: restoring the experiment restores all its runs.
  EXPECT_EQ(store_->GetRun(r1.info.run_id)->info.lifecycle_stage, LifecycleStage::kActive);
  EXPECT_EQ(store_->GetRun(r2.info.run_id)->info.lifecycle_stage, LifecycleStage::kActive);
  EXPECT_TRUE(store_->LogMetric(r1.info.run_id, M("m", 1, 1, 0)).ok());
  EXPECT_EQ(store_->DeleteExperiment("12345").code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->DeleteExperiment("x").code(), StatusCode::kInvalidArgument);
}

TEST_P(TrackingStoreTest, ExperimentTags) {
  const std::string id = NewExperiment("exp");
  ASSERT_TRUE(store_->SetExperimentTag(id, {"k", "v1"}).ok());
  ASSERT_TRUE(store_->SetExperimentTag(id, {"k", "v2"}).ok());
  ASSERT_TRUE(store_->SetExperimentTag(id, {"a", std::string(20000, 'x')}).ok());
  EXPECT_THAT(store_->GetExperiment(id)->tags,
              ElementsAre(Tag{"a", std::string(20000, 'x')}, Tag{"k", "v2"}));
  EXPECT_EQ(store_->SetExperimentTag(id, {"b", std::string(20001, 'x')}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->SetExperimentTag(id, {"", "v"}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->SetExperimentTag("404", {"k", "v"}).code(), StatusCode::kNotFound);
  ASSERT_TRUE(store_->DeleteExperimentTag(id, "k").ok());
  auto missing = store_->DeleteExperimentTag(id, "k");
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
  EXPECT_THAT(missing.message(), HasSubstr("No tag with name: k in experiment with id " + id));
  ASSERT_TRUE(store_->DeleteExperiment(id).ok());
  EXPECT_EQ(store_->SetExperimentTag(id, {"k", "v"}).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->DeleteExperimentTag(id, "a").code(), StatusCode::kFailedPrecondition);
}

TEST_P(TrackingStoreTest, SearchExperimentsFiltersOrdersAndPages) {
  for (int i = 1; i <= 30; ++i) {
    env_.AdvanceMicros(1000);
    auto id = store_->CreateExperiment("exp-" + std::to_string(i) + (i % 2 ? "-Odd" : "-even"), "",
                                       {{"parity", i % 2 ? "odd" : "even"}});
    ASSERT_TRUE(id.ok());
  }
  ExperimentSearch s;
  s.page.max_results = 7;
  std::vector<std::string> ids;
  for (;;) {
    auto page = store_->SearchExperiments(s);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    for (const Experiment& e : page->items) ids.push_back(e.experiment_id);
    if (page->next_page_token.empty()) break;
    s.page.page_token = page->next_page_token;
  }
  // Default order: creation_time DESC, experiment_id ASC.
  ASSERT_EQ(ids.size(), 31u);
  EXPECT_EQ(ids.front(), "30");
  EXPECT_EQ(ids[29], "1");
  EXPECT_EQ(ids.back(), "0");

  ExperimentSearch f;
  f.filter = "name LIKE '%-Odd' AND tags.parity = 'odd'";
  f.order_by = {"name ASC"};
  auto odd = store_->SearchExperiments(f);
  ASSERT_TRUE(odd.ok()) << odd.status().ToString();
  ASSERT_EQ(odd->items.size(), 15u);
  EXPECT_EQ(odd->items[0].name, "exp-1-Odd");
  EXPECT_EQ(odd->items[1].name, "exp-11-Odd");
  EXPECT_THAT(odd->items[0].tags, ElementsAre(Tag{"parity", "odd"}));

  auto count = [&](const std::string& filter) -> int {
    f.filter = filter;
    auto page = store_->SearchExperiments(f);
    EXPECT_TRUE(page.ok()) << filter << ": " << page.status().ToString();
    return page.ok() ? static_cast<int>(page->items.size()) : -1;
  };
  EXPECT_EQ(count("name LIKE '%-odd'"), 0);  // LIKE is case-sensitive
  EXPECT_EQ(count("name ILIKE '%-odd'"), 15);
  EXPECT_EQ(count("tags.parity IS NULL"), 1);
  EXPECT_EQ(count("tags.parity != 'odd'"), 15);
  EXPECT_EQ(count("attribute.experiment_id IN ('1', '2', '3')"), 3);
  EXPECT_EQ(count("experiment_id = '0'"), 1);
  EXPECT_EQ(count("creation_time > " + std::to_string(env_.NowMicros() / 1000 - 3)), 3);

  ExperimentSearch bad;
  bad.page.page_token = "not a token";
  EXPECT_EQ(store_->SearchExperiments(bad).status().code(), StatusCode::kInvalidArgument);
  bad.page.page_token.clear();
  bad.page.max_results = 0;
  EXPECT_EQ(store_->SearchExperiments(bad).status().code(), StatusCode::kInvalidArgument);
  bad.page.max_results = 50001;
  EXPECT_EQ(store_->SearchExperiments(bad).status().code(), StatusCode::kInvalidArgument);
  bad.page.max_results = 10;
  bad.filter = "metrics.x > 1";
  EXPECT_EQ(store_->SearchExperiments(bad).status().code(), StatusCode::kInvalidArgument);
  bad.filter = "experiment_id = 'abc'";
  EXPECT_EQ(store_->SearchExperiments(bad).status().code(), StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------
// Runs

TEST_P(TrackingStoreTest, CreateRunDefaults) {
  const std::string exp = NewExperiment("exp");
  tracking::Run run = NewRun(exp);
  EXPECT_TRUE(std::regex_match(run.info.run_id, std::regex("[0-9a-f]{32}"))) << run.info.run_id;
  EXPECT_TRUE(std::regex_match(run.info.run_name, std::regex("[a-z]+-[a-z]+-[0-9]{1,4}")))
      << run.info.run_name;
  EXPECT_LE(run.info.run_name.size(), 20u);
  EXPECT_EQ(run.info.experiment_id, exp);
  EXPECT_EQ(run.info.status, RunStatus::kRunning);
  EXPECT_EQ(run.info.start_time, env_.NowMicros() / 1000);
  EXPECT_FALSE(run.info.end_time.has_value());
  EXPECT_EQ(run.info.artifact_uri, "mlflow-artifacts:/" + exp + "/" + run.info.run_id + "/artifacts");
  EXPECT_THAT(run.tags, ElementsAre(Tag{"mlflow.runName", run.info.run_name}));

  auto got = store_->GetRun(run.info.run_id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->info.run_name, run.info.run_name);
  EXPECT_EQ(got->info.user_id, "alice");
  EXPECT_EQ(got->info.artifact_uri, run.info.artifact_uri);
  EXPECT_THAT(got->tags, ElementsAre(Tag{"mlflow.runName", run.info.run_name}));

  // An empty experiment id is the Default experiment; names come from the tag when not given.
  tracking::Run tagged = NewRun("", {{"mlflow.user", "bob"}, {"mlflow.runName", "from-tag"}});
  EXPECT_EQ(tagged.info.experiment_id, "0");
  EXPECT_EQ(tagged.info.run_name, "from-tag");
  EXPECT_THAT(tagged.tags, ElementsAre(Tag{"mlflow.runName", "from-tag"}, Tag{"mlflow.user", "bob"}));
  tracking::Run named = NewRun("0", {}, "given");
  EXPECT_EQ(named.info.run_name, "given");
  EXPECT_EQ(store_->GetRun(named.info.run_id)->tags, std::vector<Tag>{Tag({"mlflow.runName", "given"})});

  CreateRunRequest conflict;
  conflict.run_name = "a";
  conflict.tags = {{"mlflow.runName", "b"}};
  auto st = store_->CreateRun(conflict);
  EXPECT_EQ(st.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(st.status().message(), HasSubstr("different values"));
  CreateRunRequest start;
  start.start_time = 42;
  EXPECT_EQ(store_->CreateRun(start)->info.start_time, 42);
  CreateRunRequest missing;
  missing.experiment_id = "4040";
  EXPECT_EQ(store_->CreateRun(missing).status().code(), StatusCode::kNotFound);
  missing.experiment_id = "x1";
  EXPECT_EQ(store_->CreateRun(missing).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->GetRun("0123456789abcdef0123456789abcdef").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->GetRun("\xff").status().code(), StatusCode::kInvalidArgument);
}

TEST_P(TrackingStoreTest, UpdateDeleteRestoreRun) {
  tracking::Run run = NewRun();
  const std::string id = run.info.run_id;
  UpdateRunRequest up;
  up.run_id = id;
  up.status = RunStatus::kFinished;
  up.end_time = 1234;
  up.run_name = "renamed";
  auto info = store_->UpdateRun(up);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->status, RunStatus::kFinished);
  EXPECT_EQ(info->end_time, 1234);
  EXPECT_EQ(info->run_name, "renamed");
  auto got = store_->GetRun(id);
  EXPECT_EQ(got->info.run_name, "renamed");
  EXPECT_THAT(got->tags, ElementsAre(Tag{"mlflow.runName", "renamed"}));
  // An empty name changes nothing, as in MLflow.
  UpdateRunRequest empty;
  empty.run_id = id;
  empty.run_name = "";
  EXPECT_EQ(store_->UpdateRun(empty)->run_name, "renamed");

  ASSERT_TRUE(store_->DeleteRun(id).ok());
  EXPECT_EQ(store_->GetRun(id)->info.lifecycle_stage, LifecycleStage::kDeleted);
  auto denied = store_->UpdateRun(up);
  EXPECT_EQ(denied.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(denied.status().message(), HasSubstr("must be in the 'active' state"));
  EXPECT_EQ(store_->LogMetric(id, M("m", 1, 1, 1)).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->LogParam(id, {"p", "1"}).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->SetTag(id, {"t", "1"}).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->DeleteTag(id, "mlflow.runName").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->LogBatch(id, {M("m", 1, 1, 1)}, {}, {}).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->LogInputs(id, {}, {{"model-1"}}).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->LogOutputs(id, {{"model-1", 1}}).code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(store_->GetRun(id)->metrics.empty());
  ASSERT_TRUE(store_->RestoreRun(id).ok());
  EXPECT_TRUE(store_->LogMetric(id, M("m", 1, 1, 1)).ok());

  const std::string ghost = "0123456789abcdef0123456789abcdef";
  EXPECT_EQ(store_->DeleteRun(ghost).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->RestoreRun(ghost).code(), StatusCode::kNotFound);
  up.run_id = ghost;
  EXPECT_EQ(store_->UpdateRun(up).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->LogParam(ghost, {"p", "1"}).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->LogBatch(ghost, {}, {}, {}).code(), StatusCode::kNotFound);
}

// ---------------------------------------------------------------------------
// Params and tags

TEST_P(TrackingStoreTest, ParamsCannotChange) {
  const std::string id = NewRun().info.run_id;
  ASSERT_TRUE(store_->LogParam(id, {"lr", "0.1"}).ok());
  ASSERT_TRUE(store_->LogParam(id, {"lr", "0.1"}).ok());
  auto changed = store_->LogParam(id, {"lr", "0.2"});
  EXPECT_EQ(changed.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(changed.message(), HasSubstr("Changing param values is not allowed"));
  auto batch = store_->LogBatch(id, {M("m", 1, 1, 0)}, {{"a", "1"}, {"lr", "0.3"}}, {{"t", "v"}});
  EXPECT_EQ(batch.code(), StatusCode::kInvalidArgument);
  // All or nothing: nothing of the failed batch was written.
  auto run = store_->GetRun(id);
  EXPECT_THAT(run->params, ElementsAre(Param{"lr", "0.1"}));
  EXPECT_TRUE(run->metrics.empty());
  EXPECT_EQ(run->tags.size(), 1u);
  ASSERT_TRUE(store_->LogBatch(id, {}, {{"a", "1"}, {"lr", "0.1"}}, {}).ok());
  EXPECT_THAT(store_->GetRun(id)->params, ElementsAre(Param{"a", "1"}, Param{"lr", "0.1"}));

  // Long values are truncated as MLflow's server does (6000 characters, not bytes).
  std::string long_value;
  for (int i = 0; i < 7000; ++i) long_value += "\xc3\xa9";  // é
  ASSERT_TRUE(store_->LogParam(id, {"long", long_value}).ok());
  auto params = store_->GetRun(id)->params;
  ASSERT_EQ(params.size(), 3u);
  EXPECT_EQ(params[1].key, "long");
  EXPECT_EQ(params[1].value.size(), 12000u);
  EXPECT_TRUE(store_->LogParam(id, {"long", long_value}).ok());  // same after truncation
}

TEST_P(TrackingStoreTest, KeyValidation) {
  const std::string id = NewRun().info.run_id;
  for (const std::string& bad :
       std::vector<std::string>{"", "a//b", "a/./b", "a/../b", "/abs", "../up", "..x", "trail/", ".", "a\tb",
                                "a*b", "a\"b", std::string(251, 'k')}) {
    EXPECT_EQ(store_->LogParam(id, {bad, "v"}).code(), StatusCode::kInvalidArgument) << "param " << bad;
    EXPECT_EQ(store_->SetTag(id, {bad, "v"}).code(), StatusCode::kInvalidArgument) << "tag " << bad;
    EXPECT_EQ(store_->LogMetric(id, M(bad, 1, 1, 0)).code(), StatusCode::kInvalidArgument)
        << "metric " << bad;
  }
  for (const std::string& good :
       std::vector<std::string>{"a", "a/b", "a.b", "a-b_c d:e", "x..y", std::string(250, 'k'),
                                "\xc3\xa9t\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac"}) {
    EXPECT_TRUE(store_->LogParam(id, {good, "v"}).ok()) << "param " << good;
    EXPECT_TRUE(store_->SetTag(id, {good, "v"}).ok()) << "tag " << good;
    EXPECT_TRUE(store_->LogMetric(id, M(good, 1, 1, 0)).ok()) << "metric " << good;
  }
  auto msg = store_->LogParam(id, {"a//b", "v"});
  EXPECT_THAT(msg.message(), HasSubstr("Invalid value \"a//b\" for parameter 'key' supplied"));
  EXPECT_THAT(msg.message(), HasSubstr("This name would resolve to 'a/b'"));
  auto batch = store_->LogBatch(id, {M("ok", 1, 1, 0), M("bad*", 1, 1, 0)}, {}, {});
  EXPECT_THAT(batch.message(), HasSubstr("'metrics[1].name'"));
  auto negative = store_->LogMetric(id, M("m", 1, -1, 0));
  EXPECT_EQ(negative.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(negative.message(), HasSubstr("Timestamp must be a nonnegative long"));
  EXPECT_EQ(store_->SetTag(id, {"t", "bad\xc0\x80"}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->LogParam(id, {"p", std::string("nul\0x", 5)}).code(), StatusCode::kInvalidArgument);
}

TEST_P(TrackingStoreTest, TagsOverwriteDeleteAndRename) {
  const std::string id = NewRun().info.run_id;
  ASSERT_TRUE(store_->SetTag(id, {"t", "1"}).ok());
  ASSERT_TRUE(store_->SetTag(id, {"t", "2"}).ok());
  ASSERT_TRUE(store_->LogBatch(id, {}, {}, {{"u", "1"}, {"u", "3"}, {"t", "4"}}).ok());
  auto run = store_->GetRun(id);
  EXPECT_EQ(run->tags.size(), 3u);
  EXPECT_EQ(run->tags[1], (Tag{"t", "4"}));
  EXPECT_EQ(run->tags[2], (Tag{"u", "3"}));
  ASSERT_TRUE(store_->SetTag(id, {"mlflow.runName", "via-tag"}).ok());
  EXPECT_EQ(store_->GetRun(id)->info.run_name, "via-tag");
  ASSERT_TRUE(store_->LogBatch(id, {}, {}, {{"mlflow.runName", "via-batch"}}).ok());
  EXPECT_EQ(store_->GetRun(id)->info.run_name, "via-batch");
  ASSERT_TRUE(store_->DeleteTag(id, "t").ok());
  auto missing = store_->DeleteTag(id, "t");
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
  EXPECT_THAT(missing.message(), HasSubstr("No tag with name: t in run with id " + id));
  // Tag values are truncated at 8000 characters.
  ASSERT_TRUE(store_->SetTag(id, {"long", std::string(9000, 'x')}).ok());
  auto with_long = store_->GetRun(id);
  ASSERT_TRUE(with_long.ok());
  for (const Tag& t : with_long->tags) {
    if (t.key == "long") {
      EXPECT_EQ(t.value.size(), 8000u);
    }
  }
}

// ---------------------------------------------------------------------------
// Metrics

TEST_P(TrackingStoreTest, LatestMetricFollowsStepTimestampValue) {
  const std::string id = NewRun().info.run_id;
  ASSERT_TRUE(store_->LogMetric(id, M("m", 5, 100, 2)).ok());
  ASSERT_TRUE(store_->LogMetric(id, M("m", 1, 200, 1)).ok());  // lower step: not latest
  EXPECT_EQ(Latest(id)["m"].value, 5);
  ASSERT_TRUE(store_->LogMetric(id, M("m", 3, 50, 2)).ok());  // same step, older
  EXPECT_EQ(Latest(id)["m"].value, 5);
  ASSERT_TRUE(store_->LogMetric(id, M("m", 7, 100, 2)).ok());  // same step and time, greater value
  EXPECT_EQ(Latest(id)["m"].value, 7);
  ASSERT_TRUE(store_->LogMetric(id, M("m", -1, 101, 2)).ok());  // newer
  EXPECT_EQ(Latest(id)["m"].value, -1);
  EXPECT_EQ(Latest(id)["m"].timestamp, 101);
  // In a batch, the latest of the batch competes once with the stored one.
  ASSERT_TRUE(
      store_->LogBatch(id, {M("m", 9, 1, 3), M("m", 8, 2, 3), M("n", 1, 1, 0), M("n", 2, 1, 0)}, {}, {})
          .ok());
  EXPECT_EQ(Latest(id)["m"].value, 8);
  EXPECT_EQ(Latest(id)["n"].value, 2);
  // NaN counts as 0 (MLflow's sanitised value) when picking the latest point.
  ASSERT_TRUE(store_->LogMetric(id, M("n", kNaN, 1, 0)).ok());
  EXPECT_EQ(Latest(id)["n"].value, 2);
  ASSERT_TRUE(store_->LogMetric(id, M("z", -1, 1, 0)).ok());
  ASSERT_TRUE(store_->LogMetric(id, M("z", kNaN, 1, 0)).ok());
  EXPECT_TRUE(std::isnan(Latest(id)["z"].value));
  EXPECT_EQ(History(id, "m").size(), 7u);
}

TEST_P(TrackingStoreTest, NaNRoundTripsAndInfinityIsClampedAsInMlflow) {
  const std::string id = NewRun().info.run_id;
  ASSERT_TRUE(store_
                  ->LogBatch(id,
                             {M("nan", kNaN, 1, 0), M("pinf", kInf, 1, 0), M("ninf", -kInf, 1, 0),
                              M("zero", 0, 1, 0), M("big", 1.7976931348623157e308, 1, 0)},
                             {}, {})
                  .ok());
  auto latest = Latest(id);
  EXPECT_TRUE(std::isnan(latest["nan"].value));
  EXPECT_EQ(latest["pinf"].value, std::numeric_limits<double>::max());
  EXPECT_EQ(latest["ninf"].value, std::numeric_limits<double>::lowest());
  EXPECT_EQ(latest["zero"].value, 0);
  EXPECT_FALSE(std::signbit(latest["zero"].value));
  EXPECT_EQ(latest["big"].value, 1.7976931348623157e308);
  auto h = History(id, "nan");
  ASSERT_EQ(h.size(), 1u);
  EXPECT_TRUE(std::isnan(h[0].value));
  EXPECT_EQ(History(id, "pinf")[0].value, std::numeric_limits<double>::max());
  // NaN and 0 at the same step and time are different points; a repeated NaN is one.
  ASSERT_TRUE(store_->LogMetric(id, M("nan", 0, 1, 0)).ok());
  ASSERT_TRUE(store_->LogMetric(id, M("nan", kNaN, 1, 0)).ok());
  EXPECT_EQ(History(id, "nan").size(), 2u);
}

TEST_P(TrackingStoreTest, IdenticalPointsAreStoredOnce) {
  const std::string id = NewRun().info.run_id;
  ASSERT_TRUE(store_->LogMetric(id, M("m", 1, 10, 0)).ok());
  ASSERT_TRUE(store_->LogMetric(id, M("m", 1, 10, 0)).ok());
  ASSERT_TRUE(store_->LogBatch(id, {M("m", 1, 10, 0), M("m", 1, 10, 0), M("m", 2, 10, 0)}, {}, {}).ok());
  auto h = History(id, "m");
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0].value, 1);
  EXPECT_EQ(h[1].value, 2);
  EXPECT_EQ(h[0].run_id, id);
}

TEST_P(TrackingStoreTest, LogBatchLimits) {
  const std::string id = NewRun().info.run_id;
  std::vector<Metric> metrics;
  for (int i = 0; i < 1000; ++i) metrics.push_back(M("k" + std::to_string(i % 37), i, i, i));
  ASSERT_TRUE(store_->LogBatch(id, metrics, {}, {}).ok());
  auto latest = Latest(id);
  EXPECT_EQ(latest.size(), 37u);
  EXPECT_EQ(latest["k0"].value, 999);
  EXPECT_EQ(latest["k1"].value, 963);
  EXPECT_EQ(History(id, "k0").size(), 28u);
  metrics.push_back(M("x", 1, 1, 1));
  auto too_many = store_->LogBatch(id, metrics, {}, {});
  EXPECT_EQ(too_many.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(too_many.message(), HasSubstr("at most 1000 metrics"));
  std::vector<Param> params;
  std::vector<Tag> tags;
  for (int i = 0; i < 101; ++i) {
    params.push_back({"p" + std::to_string(i), "v"});
    tags.push_back({"t" + std::to_string(i), "v"});
  }
  EXPECT_THAT(store_->LogBatch(id, {}, params, {}).message(), HasSubstr("at most 100 params"));
  EXPECT_THAT(store_->LogBatch(id, {}, {}, tags).message(), HasSubstr("at most 100 tags"));
  params.pop_back();
  tags.pop_back();
  metrics.resize(801);
  EXPECT_THAT(store_->LogBatch(id, metrics, params, tags).message(),
              HasSubstr("at most 1000 metrics, params, and tags"));
  metrics.resize(800);
  ASSERT_TRUE(store_->LogBatch(id, metrics, params, tags).ok());
  auto run = store_->GetRun(id);
  EXPECT_EQ(run->params.size(), 100u);
  EXPECT_EQ(run->tags.size(), 101u);
  auto dup = store_->LogBatch(id, {}, {{"d", "1"}, {"d", "1"}}, {});
  EXPECT_THAT(dup.message(), HasSubstr("Duplicate parameter keys have been submitted: ['d']"));
  EXPECT_EQ(store_->LogBatch("bad id!", {}, {}, {}).code(), StatusCode::kInvalidArgument);
}

TEST_P(TrackingStoreTest, HistoryOf200kPointsInPages) {
  const std::string id = NewRun().info.run_id;
  constexpr int kPoints = 200000;
  std::vector<Metric> batch;
  for (int i = 0; i < kPoints; ++i) {
    // Timestamps run backwards in blocks, so (timestamp, step) order differs from step order.
    batch.push_back(M("loss", 1.0 / (i + 1), 1000000 + (i / 1000) * 10 - (i % 3), i));
    if (batch.size() == 1000) {
      ASSERT_TRUE(store_->LogBatch(id, batch, {}, {}).ok());
      batch.clear();
    }
  }
  MetricHistoryRequest req;
  req.run_id = id;
  req.metric_key = "loss";
  req.page.max_results = 25000;
  std::vector<Metric> all;
  int pages = 0;
  for (;;) {
    auto page = store_->GetMetricHistory(req);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    ++pages;
    all.insert(all.end(), page->items.begin(), page->items.end());
    if (page->next_page_token.empty()) break;
    EXPECT_EQ(page->items.size(), 25000u);
    req.page.page_token = page->next_page_token;
  }
  EXPECT_EQ(pages, 8);
  ASSERT_EQ(all.size(), static_cast<std::size_t>(kPoints));
  std::set<std::int64_t> steps;
  for (std::size_t i = 0; i < all.size(); ++i) {
    steps.insert(all[i].step);
    EXPECT_DOUBLE_EQ(all[i].value, 1.0 / (all[i].step + 1));
    if (i > 0) {
      ASSERT_TRUE(std::tie(all[i - 1].timestamp, all[i - 1].step) < std::tie(all[i].timestamp, all[i].step))
          << i;
    }
  }
  EXPECT_EQ(steps.size(), static_cast<std::size_t>(kPoints));
  EXPECT_EQ(Latest(id)["loss"].step, kPoints - 1);

  // A token belongs to its query.
  MetricHistoryRequest other = req;
  other.metric_key = "acc";
  EXPECT_EQ(store_->GetMetricHistory(other).status().code(), StatusCode::kInvalidArgument);
  req.page.page_token.clear();
  req.page.max_results = 0;
  EXPECT_EQ(store_->GetMetricHistory(req).status().code(), StatusCode::kInvalidArgument);
  // As MLflow, an unknown run or key has an empty history.
  MetricHistoryRequest unknown;
  unknown.run_id = "0123456789abcdef0123456789abcdef";
  unknown.metric_key = "loss";
  auto empty = store_->GetMetricHistory(unknown);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->items.empty());
}

// MLflow's sampling, computed naively: sort, NTILE buckets, first of each,
// then the last point.
std::vector<std::pair<std::int64_t, double>> ExpectedSample(std::vector<Metric> points,
                                                            std::int64_t max_results,
                                                            std::optional<std::int64_t> start,
                                                            std::optional<std::int64_t> end) {
  std::erase_if(points, [&](const Metric& m) { return start && (m.step < *start || m.step > *end); });
  std::sort(points.begin(), points.end(), [](const Metric& a, const Metric& b) {
    return std::tie(a.step, a.timestamp, a.value) < std::tie(b.step, b.timestamp, b.value);
  });
  std::vector<std::pair<std::int64_t, double>> out;
  const std::int64_t n = points.size();
  if (n == 0) return out;
  const std::int64_t buckets = std::min(n, max_results);
  const std::int64_t q = n / buckets, r = n % buckets;
  for (std::int64_t b = 0; b < buckets; ++b) {
    const std::int64_t first = b * q + std::min(b, r);
    out.emplace_back(points[first].step, points[first].value);
  }
  std::pair<std::int64_t, double> last{points.back().step, points.back().value};
  if (out.back() != last) {
    if (static_cast<std::int64_t>(out.size()) >= max_results) {
      out.back() = last;
    } else {
      out.push_back(last);
    }
  }
  return out;
}

TEST_P(TrackingStoreTest, BulkIntervalSamplingMatchesMlflow) {
  std::mt19937 rng(7);
  std::vector<std::string> runs;
  std::map<std::string, std::vector<Metric>> logged;
  for (int size : {0, 1, 2, 5, 99, 1000, 2345}) {
    const std::string id = NewRun().info.run_id;
    runs.push_back(id);
    std::vector<Metric> batch;
    for (int i = 0; i < size; ++i) {
      // Steps repeat (several points a step) and arrive out of order.
      Metric m = M("acc", static_cast<double>(rng() % 1000) / 7, 1000 + rng() % 50, rng() % (size / 3 + 1));
      logged[id].push_back(m);
      batch.push_back(m);
      if (batch.size() == 1000 || i + 1 == size) {
        ASSERT_TRUE(store_->LogBatch(id, batch, {}, {}).ok());
        batch.clear();
      }
    }
    // Duplicates were stored once; mirror that in the expectation.
    std::sort(logged[id].begin(), logged[id].end(), [](const Metric& a, const Metric& b) {
      return std::tie(a.step, a.timestamp, a.value) < std::tie(b.step, b.timestamp, b.value);
    });
    logged[id].erase(std::unique(logged[id].begin(), logged[id].end(),
                                 [](const Metric& a, const Metric& b) {
                                   return a.step == b.step && a.timestamp == b.timestamp &&
                                          a.value == b.value;
                                 }),
                     logged[id].end());
  }
  struct Case {
    std::int64_t max_results;
    std::optional<std::int64_t> start, end;
  };
  for (const Case& c : {Case{1, {}, {}}, Case{3, {}, {}}, Case{320, {}, {}}, Case{2500, {}, {}},
                        Case{10, 5, 100}, Case{50, 0, 0}, Case{7, 200, 10000}}) {
    BulkIntervalRequest req;
    req.run_ids = runs;
    req.metric_key = "acc";
    req.max_results = c.max_results;
    req.start_step = c.start;
    req.end_step = c.end;
    auto got = store_->GetMetricHistoryBulkInterval(req);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    std::vector<std::pair<std::int64_t, double>> expected;
    std::vector<std::string> expected_runs;
    for (const std::string& id : runs) {
      for (auto& p : ExpectedSample(logged[id], c.max_results, c.start, c.end)) {
        expected.push_back(p);
        expected_runs.push_back(id);
      }
    }
    std::vector<std::pair<std::int64_t, double>> actual;
    std::vector<std::string> actual_runs;
    for (const Metric& m : *got) {
      actual.emplace_back(m.step, m.value);
      actual_runs.push_back(m.run_id);
    }
    EXPECT_EQ(actual, expected) << "max_results=" << c.max_results;
    EXPECT_EQ(actual_runs, expected_runs);
  }
  BulkIntervalRequest bad;
  bad.metric_key = "acc";
  EXPECT_EQ(store_->GetMetricHistoryBulkInterval(bad).status().code(), StatusCode::kInvalidArgument);
  bad.run_ids = std::vector<std::string>(101, runs[0]);
  EXPECT_EQ(store_->GetMetricHistoryBulkInterval(bad).status().code(), StatusCode::kInvalidArgument);
  bad.run_ids = {runs[0]};
  bad.max_results = 0;
  EXPECT_EQ(store_->GetMetricHistoryBulkInterval(bad).status().code(), StatusCode::kInvalidArgument);
  bad.max_results = 2501;
  EXPECT_EQ(store_->GetMetricHistoryBulkInterval(bad).status().code(), StatusCode::kInvalidArgument);
  bad.max_results = 10;
  bad.start_step = 1;
  EXPECT_EQ(store_->GetMetricHistoryBulkInterval(bad).status().code(), StatusCode::kInvalidArgument);
  bad.end_step = 0;
  EXPECT_EQ(store_->GetMetricHistoryBulkInterval(bad).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(TrackingStoreTest, BulkIntervalKeepsNaNPoints) {
  const std::string id = NewRun().info.run_id;
  ASSERT_TRUE(store_->LogBatch(id, {M("m", 1, 1, 0), M("m", kNaN, 1, 1), M("m", 3, 1, 2)}, {}, {}).ok());
  BulkIntervalRequest req;
  req.run_ids = {id};
  req.metric_key = "m";
  req.max_results = 10;
  auto got = store_->GetMetricHistoryBulkInterval(req);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 3u);
  EXPECT_TRUE(std::isnan((*got)[1].value));
  EXPECT_EQ((*got)[2].value, 3);
}

TEST_P(TrackingStoreTest, ConcurrentWritersToOneRunLoseNothing) {
  const std::string id = NewRun().info.run_id;
  constexpr int kThreads = 6;
  constexpr int kBatches = 20;
  constexpr int kPerBatch = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int b = 0; b < kBatches; ++b) {
        std::vector<Metric> metrics;
        for (int i = 0; i < kPerBatch; ++i) {
          const int step = (b * kPerBatch + i) * kThreads + t;
          metrics.push_back(M("shared", step, step, step));
          metrics.push_back(M("own" + std::to_string(t), step, step, step));
        }
        Status st = store_->LogBatch(id, metrics, {{"p" + std::to_string(t) + "_" + std::to_string(b), "v"}},
                                     {{"last", std::to_string(t)}});
        if (!st.ok()) {
          ++failures;
          ADD_FAILURE() << st.ToString();
        }
        if (!store_->LogParam(id, {"common", "same"}).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(History(id, "shared").size(), static_cast<std::size_t>(kThreads * kBatches * kPerBatch));
  for (int t = 0; t < kThreads; ++t)
    EXPECT_EQ(History(id, "own" + std::to_string(t)).size(), static_cast<std::size_t>(kBatches * kPerBatch));
  auto latest = Latest(id);
  EXPECT_EQ(latest["shared"].step, kThreads * kBatches * kPerBatch - 1);
  EXPECT_EQ(store_->GetRun(id)->params.size(), static_cast<std::size_t>(kThreads * kBatches + 1));
}

// ---------------------------------------------------------------------------
// Inputs, outputs, logged-model metrics

TEST_P(TrackingStoreTest, InputsAndOutputs) {
  const std::string exp = NewExperiment("exp");
  tracking::Run r1 = NewRun(exp);
  tracking::Run r2 = NewRun(exp);
  DatasetInput train{{"iris", "abc123", "local", "{\"uri\": \"/tmp/iris\"}", "{\"cols\": 4}", ""},
                     {{"mlflow.data.context", "training"}}};
  DatasetInput eval{{"iris", "def456", "local", "{}", "", "{\"rows\": 50}"},
                    {{"mlflow.data.context", "eval"}}};
  DatasetInput train_again = train;
  train_again.tags = {{"mlflow.data.context", "ignored"}};
  ASSERT_TRUE(store_->LogInputs(r1.info.run_id, {train, eval, train_again}, {{"m-1"}}).ok());
  ASSERT_TRUE(store_->LogInputs(r1.info.run_id, {train}, {{"m-1"}, {"m-2"}}).ok());
  ASSERT_TRUE(store_->LogInputs(r2.info.run_id, {train}, {}).ok());
  ASSERT_TRUE(store_->LogOutputs(r1.info.run_id, {{"m-3", 7}}).ok());
  auto got = store_->GetRun(r1.info.run_id);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->dataset_inputs.size(), 2u);
  EXPECT_EQ(got->dataset_inputs[0].dataset.digest, "abc123");
  EXPECT_EQ(got->dataset_inputs[0].dataset.schema, "{\"cols\": 4}");
  EXPECT_EQ(got->dataset_inputs[0].dataset.profile, "");
  EXPECT_THAT(got->dataset_inputs[0].tags, ElementsAre(Tag{"mlflow.data.context", "training"}));
  EXPECT_EQ(got->dataset_inputs[1].dataset.profile, "{\"rows\": 50}");
  ASSERT_EQ(got->model_inputs.size(), 2u);
  EXPECT_EQ(got->model_inputs[0].model_id, "m-1");
  EXPECT_EQ(got->model_inputs[1].model_id, "m-2");
  ASSERT_EQ(got->model_outputs.size(), 1u);
  EXPECT_EQ(got->model_outputs[0].model_id, "m-3");
  EXPECT_EQ(got->model_outputs[0].step, 7);
  EXPECT_EQ(store_->GetRun(r2.info.run_id)->dataset_inputs.size(), 1u);

  RunSearch s;
  s.experiment_ids = {exp};
  s.filter = "datasets.context = 'eval'";
  auto page = store_->SearchRuns(s);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].info.run_id, r1.info.run_id);
  EXPECT_EQ(page->items[0].dataset_inputs.size(), 2u);
  EXPECT_EQ(page->items[0].model_outputs.size(), 1u);
  s.filter = "datasets.digest = 'abc123'";
  EXPECT_EQ(store_->SearchRuns(s)->items.size(), 2u);

  DatasetInput too_long = train;
  too_long.dataset.digest = std::string(37, 'd');
  EXPECT_EQ(store_->LogInputs(r1.info.run_id, {too_long}, {}).code(), StatusCode::kInvalidArgument);
  too_long = train;
  too_long.tags = {{"k", std::string(501, 'v')}};
  EXPECT_EQ(store_->LogInputs(r1.info.run_id, {too_long}, {}).code(), StatusCode::kInvalidArgument);
}

TEST_P(TrackingStoreTest, ModelMetricsAreTheLatestPerKeyAndDataset) {
  const std::string id = NewRun().info.run_id;
  Metric a = M("acc", 0.5, 10, 1);
  a.model_id = "m-1";
  Metric b = M("acc", 0.7, 20, 2);
  b.model_id = "m-1";
  Metric c = M("acc", 0.9, 5, 1);
  c.model_id = "m-1";
  c.dataset_name = "test";
  c.dataset_digest = "d1";
  Metric other = M("acc", 0.1, 30, 3);
  other.model_id = "m-2";
  ASSERT_TRUE(store_->LogBatch(id, {a, b, c, other}, {}, {}).ok());
  ASSERT_TRUE(store_->LogMetric(id, M("acc", 1, 99, 99)).ok());
  auto got = store_->GetModelMetrics("m-1");
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].value, 0.7);
  EXPECT_EQ((*got)[0].dataset_name, "");
  EXPECT_EQ((*got)[0].run_id, id);
  EXPECT_EQ((*got)[1].value, 0.9);
  EXPECT_EQ((*got)[1].dataset_digest, "d1");
  EXPECT_EQ((*got)[1].model_id, "m-1");
  EXPECT_TRUE(store_->GetModelMetrics("nope")->empty());
  // The model's points are points of the run too.
  EXPECT_EQ(History(id, "acc").size(), 5u);
  EXPECT_EQ(History(id, "acc")[0].model_id, "m-1");
}

TEST_P(TrackingStoreTest, EnumNames) {
  EXPECT_EQ(ParseRunStatus("KILLED").ValueOr(RunStatus::kRunning), RunStatus::kKilled);
  EXPECT_EQ(ParseRunStatus("killed").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(RunStatusName(RunStatus::kScheduled), "SCHEDULED");
  EXPECT_EQ(ParseViewType("ALL").ValueOr(ViewType::kActiveOnly), ViewType::kAll);
  EXPECT_EQ(ParseViewType("all").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(LifecycleStageName(LifecycleStage::kDeleted), "deleted");
}

INSTANTIATE_TEST_SUITE_P(Backends, TrackingStoreTest, AllBackends(), BackendName);

// ---------------------------------------------------------------------------
// Internal pieces

TEST(TrackingInternalTest, CodePointsAndTruncation) {
  using internal::CodePointCount;
  using internal::TruncateCodePoints;
  EXPECT_EQ(CodePointCount("abc"), 3u);
  EXPECT_EQ(CodePointCount("\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80"), 3u);
  EXPECT_EQ(TruncateCodePoints("\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80", 2), "\xc3\xa9\xe6\x97\xa5");
  EXPECT_EQ(TruncateCodePoints("abc", 5), "abc");
  EXPECT_EQ(TruncateCodePoints("abc", 0), "");
}

TEST(TrackingInternalTest, RunNamesLookLikeMlflows) {
  FakeEnv env;
  std::set<std::string> names;
  for (int i = 0; i < 200; ++i) {
    std::string name = internal::GenerateRunName(&env);
    EXPECT_LE(name.size(), 20u);
    EXPECT_TRUE(std::regex_match(name, std::regex("[a-z]+-[a-z]+-[0-9]{1,4}"))) << name;
    names.insert(name);
  }
  EXPECT_GT(names.size(), 190u);
}

TEST(TrackingInternalTest, AppendToUri) {
  EXPECT_EQ(internal::AppendToUri("mlflow-artifacts:", "3"), "mlflow-artifacts:/3");
  EXPECT_EQ(internal::AppendToUri("mlflow-artifacts:/3", "abc"), "mlflow-artifacts:/3/abc");
  EXPECT_EQ(internal::AppendToUri("s3://b/x/", "abc"), "s3://b/x/abc");
  EXPECT_EQ(internal::AppendToUri("/tmp/root", "/abc"), "/tmp/root/abc");
}

TEST(TrackingInternalTest, ParseExperimentId) {
  EXPECT_EQ(internal::ParseExperimentId("12").ValueOr(-1), 12);
  EXPECT_EQ(internal::ParseExperimentId(" 7 ").ValueOr(-1), 7);
  for (const char* bad : {"", "x", "1.5", "12a", "99999999999999999999"})
    EXPECT_EQ(internal::ParseExperimentId(bad).status().code(), StatusCode::kInvalidArgument) << bad;
}

TEST(TrackingInternalTest, RunIds) {
  EXPECT_TRUE(internal::IsValidRunId("0123456789abcdef0123456789abcdef"));
  EXPECT_TRUE(internal::IsValidRunId("a-b_c"));
  EXPECT_FALSE(internal::IsValidRunId(""));
  EXPECT_FALSE(internal::IsValidRunId("-a"));
  EXPECT_FALSE(internal::IsValidRunId("a b"));
  EXPECT_FALSE(internal::IsValidRunId(std::string(257, 'a')));
}

}  // namespace
}  // namespace ferry::tracking
