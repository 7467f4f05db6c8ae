// LoggedModelStore on both backends, over a real TrackingStore (experiments
// and the metrics logged with a model_id). Expected behaviour is MLflow's
// sqlalchemy store for the same calls.
#include "ferry/tracking/logged_model_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>

#include "ferry/store/testing/test_database.h"

namespace ferry::tracking {
namespace {

using store::testing::AllBackends;
using store::testing::Backend;
using store::testing::BackendName;
using store::testing::TestDatabase;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

class LoggedModelStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    tdb_ = TestDatabase::Create(GetParam());
    ASSERT_TRUE(tdb_);
    auto tracking = TrackingStore::Open(&tdb_->db(), &env_);
    ASSERT_TRUE(tracking.ok()) << tracking.status().ToString();
    tracking_ = std::move(tracking).value();
    auto models = LoggedModelStore::Open(&tdb_->db(), tracking_.get(), &env_);
    ASSERT_TRUE(models.ok()) << models.status().ToString();
    models_ = std::move(models).value();
    auto exp = tracking_->CreateExperiment("exp", "", {});
    ASSERT_TRUE(exp.ok()) << exp.status().ToString();
    experiment_id_ = *exp;
  }

  LoggedModel MustCreate(CreateLoggedModelRequest request) {
    if (request.experiment_id.empty()) request.experiment_id = experiment_id_;
    auto m = models_->Create(request);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    env_.AdvanceMicros(1000);
    return m.ok() ? *m : LoggedModel();
  }

  LoggedModel MustCreate(const std::string& name) {
    CreateLoggedModelRequest r;
    r.name = name;
    return MustCreate(r);
  }

  std::string MustRun() {
    CreateRunRequest r;
    r.experiment_id = experiment_id_;
    auto run = tracking_->CreateRun(r);
    EXPECT_TRUE(run.ok()) << run.status().ToString();
    return run.ok() ? run->info.run_id : "";
  }

  void LogModelMetric(const std::string& run_id, const std::string& model_id, const std::string& key,
                      double value, std::int64_t step = 0, const std::string& dataset = "",
                      const std::string& digest = "") {
    Metric m;
    m.key = key;
    m.value = value;
    m.timestamp = env_.NowMicros() / 1000;
    m.step = step;
    m.model_id = model_id;
    m.dataset_name = dataset;
    m.dataset_digest = digest;
    Status st = tracking_->LogMetric(run_id, m);
    ASSERT_TRUE(st.ok()) << st.ToString();
    env_.AdvanceMicros(1000);
  }

  std::vector<std::string> SearchNames(LoggedModelSearch search) {
    if (search.experiment_ids.empty()) search.experiment_ids = {experiment_id_};
    auto page = models_->Search(search);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    std::vector<std::string> names;
    if (page.ok())
      for (const LoggedModel& m : page->items) names.push_back(m.name);
    return names;
  }

  std::vector<std::string> SearchNames(const std::string& filter) {
    LoggedModelSearch s;
    s.filter = filter;
    return SearchNames(s);
  }

  Status SearchError(LoggedModelSearch search) {
    if (search.experiment_ids.empty()) search.experiment_ids = {experiment_id_};
    return models_->Search(search).status();
  }

  FakeEnv env_;
  std::unique_ptr<TestDatabase> tdb_;
  std::unique_ptr<TrackingStore> tracking_;
  std::unique_ptr<LoggedModelStore> models_;
  std::string experiment_id_;
};

TEST_P(LoggedModelStoreTest, CreateFillsMlflowDefaults) {
  CreateLoggedModelRequest r;
  r.experiment_id = experiment_id_;
  r.model_type = "Classifier";
  r.source_run_id = "0123456789abcdef0123456789abcdef";
  r.tags = {{"b", "2"}, {"a", "1"}, {"a", "3"}};  // repeated key: last wins
  r.params = {{"lr", "0.1"}};
  auto m = models_->Create(r);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_THAT(m->model_id, MatchesRegex("m-[0-9a-f]{32}"));
  EXPECT_THAT(m->name, MatchesRegex("[a-z]+-[a-z]+-[0-9]+"));
  EXPECT_EQ(m->status, kLoggedModelPending);
  EXPECT_EQ(m->experiment_id, experiment_id_);
  auto exp = tracking_->GetExperiment(experiment_id_);
  ASSERT_TRUE(exp.ok());
  EXPECT_EQ(m->artifact_location, exp->artifact_location + "/models/" + m->model_id + "/artifacts");
  EXPECT_EQ(m->creation_timestamp_ms, env_.NowMicros() / 1000);
  EXPECT_EQ(m->last_updated_timestamp_ms, m->creation_timestamp_ms);

  auto got = models_->Get(m->model_id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->name, m->name);
  EXPECT_EQ(got->model_type, "Classifier");
  EXPECT_EQ(got->source_run_id, r.source_run_id);
  EXPECT_EQ(got->artifact_location, m->artifact_location);
  EXPECT_THAT(got->tags, ElementsAre(Tag{"a", "3"}, Tag{"b", "2"}));
  EXPECT_THAT(got->params, ElementsAre(Param{"lr", "0.1"}));
  EXPECT_TRUE(got->metrics.empty());
}

TEST_P(LoggedModelStoreTest, IdsAreUnique) {
  std::set<std::string> ids;
  for (int i = 0; i < 20; ++i) ids.insert(MustCreate("m" + std::to_string(i)).model_id);
  EXPECT_EQ(ids.size(), 20u);
}

TEST_P(LoggedModelStoreTest, CreateValidates) {
  CreateLoggedModelRequest r;
  EXPECT_EQ(models_->Create(r).status().code(), StatusCode::kInvalidArgument);  // no experiment
  r.experiment_id = "abc";
  EXPECT_EQ(models_->Create(r).status().code(), StatusCode::kInvalidArgument);
  r.experiment_id = "987654";
  EXPECT_EQ(models_->Create(r).status().code(), StatusCode::kNotFound);
  r.experiment_id = experiment_id_;
  for (const std::string& bad :
       std::vector<std::string>{"a/b", "a:b", "a.b", "a%b", "a\"b", "a'b", std::string(501, 'x')}) {
    r.name = bad;
    Status st = models_->Create(r).status();
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(st.message(), HasSubstr("Invalid model name"));
  }
  r.name = "ok";
  r.params = {{"", "v"}};
  EXPECT_EQ(models_->Create(r).status().code(), StatusCode::kInvalidArgument);
  r.params = {{"k", "1"}, {"k", "2"}};
  EXPECT_EQ(models_->Create(r).status().code(), StatusCode::kInvalidArgument);
  r.params = {};
  r.tags = {{std::string(251, 'k'), "v"}};
  EXPECT_EQ(models_->Create(r).status().code(), StatusCode::kInvalidArgument);
  r.tags = {{"k", std::string("bad\0utf8", 8)}};
  EXPECT_EQ(models_->Create(r).status().code(), StatusCode::kInvalidArgument);
  // Nothing half-written by the failures.
  LoggedModelSearch s;
  EXPECT_TRUE(SearchNames(s).empty());
}

TEST_P(LoggedModelStoreTest, CreateInDeletedExperimentFails) {
  ASSERT_TRUE(tracking_->DeleteExperiment(experiment_id_).ok());
  CreateLoggedModelRequest r;
  r.experiment_id = experiment_id_;
  Status st = models_->Create(r).status();
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(st.message(), HasSubstr("must be in the 'active' state"));
}

TEST_P(LoggedModelStoreTest, GetUnknownIsNotFound) {
  Status st = models_->Get("m-0000").status();
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_EQ(st.message(), "Logged model with ID 'm-0000' not found.");
  EXPECT_EQ(models_->Get("").status().code(), StatusCode::kInvalidArgument);
}

TEST_P(LoggedModelStoreTest, DeleteIsSoft) {
  LoggedModel m = MustCreate("gone");
  ASSERT_TRUE(models_->Delete(m.model_id).ok());
  EXPECT_EQ(models_->Get(m.model_id).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(SearchNames(LoggedModelSearch{}).empty());
  EXPECT_EQ(models_->Delete("m-unknown").code(), StatusCode::kNotFound);
  // Like MLflow, tags still reach the deleted row.
  EXPECT_TRUE(models_->SetTags(m.model_id, {{"k", "v"}}).ok());
}

TEST_P(LoggedModelStoreTest, FinalizeSetsStatusAndTime) {
  LoggedModel m = MustCreate("fin");
  env_.AdvanceMicros(5'000'000);
  auto done = models_->Finalize(m.model_id, kLoggedModelReady);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->status, kLoggedModelReady);
  EXPECT_EQ(done->last_updated_timestamp_ms, env_.NowMicros() / 1000);
  EXPECT_EQ(done->creation_timestamp_ms, m.creation_timestamp_ms);
  EXPECT_EQ(models_->Finalize(m.model_id, "DONE").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(models_->Finalize("m-nope", kLoggedModelReady).status().code(), StatusCode::kNotFound);
  auto failed = models_->Finalize(m.model_id, kLoggedModelUploadFailed);
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(failed->status, kLoggedModelUploadFailed);
}

TEST_P(LoggedModelStoreTest, TagsOverwriteAndDelete) {
  LoggedModel m = MustCreate("tags");
  ASSERT_TRUE(models_->SetTags(m.model_id, {{"a", "1"}, {"b", "2"}}).ok());
  ASSERT_TRUE(models_->SetTags(m.model_id, {{"a", "x"}, {"a", "y"}}).ok());
  EXPECT_THAT(models_->Get(m.model_id)->tags, ElementsAre(Tag{"a", "y"}, Tag{"b", "2"}));
  ASSERT_TRUE(models_->DeleteTag(m.model_id, "a").ok());
  EXPECT_THAT(models_->Get(m.model_id)->tags, ElementsAre(Tag{"b", "2"}));
  Status st = models_->DeleteTag(m.model_id, "a");
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_THAT(st.message(), HasSubstr("No tag with key 'a' found for model with ID '" + m.model_id + "'"));
  EXPECT_EQ(models_->SetTags("m-nope", {{"a", "1"}}).code(), StatusCode::kNotFound);
  EXPECT_EQ(models_->DeleteTag("m-nope", "a").code(), StatusCode::kNotFound);
  EXPECT_EQ(models_->SetTags(m.model_id, {{"", "1"}}).code(), StatusCode::kInvalidArgument);
}

TEST_P(LoggedModelStoreTest, ParamsAreImmutable) {
  LoggedModel m = MustCreate("params");
  ASSERT_TRUE(models_->LogParams(m.model_id, {{"a", "1"}, {"b", "2"}}).ok());
  EXPECT_TRUE(models_->LogParams(m.model_id, {{"a", "1"}}).ok());  // same value again
  Status st = models_->LogParams(m.model_id, {{"c", "3"}, {"a", "9"}});
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("Changing param values is not allowed"));
  // All or nothing: "c" was not kept.
  EXPECT_THAT(models_->Get(m.model_id)->params, ElementsAre(Param{"a", "1"}, Param{"b", "2"}));
  EXPECT_EQ(models_->LogParams("m-nope", {{"a", "1"}}).code(), StatusCode::kNotFound);
}

TEST_P(LoggedModelStoreTest, MetricsComeFromTheTrackingStore) {
  LoggedModel m = MustCreate("metrics");
  LoggedModel other = MustCreate("other");
  std::string run = MustRun();
  LogModelMetric(run, m.model_id, "acc", 0.5, 0);
  LogModelMetric(run, m.model_id, "acc", 0.75, 1);
  LogModelMetric(run, other.model_id, "acc", 0.1, 0);
  auto got = models_->Get(m.model_id);
  ASSERT_TRUE(got.ok());
  ASSERT_FALSE(got->metrics.empty());
  for (const Metric& metric : got->metrics) {
    EXPECT_EQ(metric.model_id, m.model_id);
    EXPECT_EQ(metric.key, "acc");
  }
  EXPECT_EQ(got->metrics.back().value, 0.75);
}

TEST_P(LoggedModelStoreTest, SearchOrdersNewestFirstAndPages) {
  for (int i = 0; i < 5; ++i) MustCreate("m" + std::to_string(i));
  EXPECT_THAT(SearchNames(LoggedModelSearch{}), ElementsAre("m4", "m3", "m2", "m1", "m0"));

  LoggedModelSearch s;
  s.experiment_ids = {experiment_id_};
  s.max_results = 2;
  std::vector<std::string> all;
  for (int pages = 0; pages < 10; ++pages) {
    auto page = models_->Search(s);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    for (const LoggedModel& m : page->items) all.push_back(m.name);
    if (page->next_page_token.empty()) break;
    s.page_token = page->next_page_token;
  }
  EXPECT_THAT(all, ElementsAre("m4", "m3", "m2", "m1", "m0"));

  // A token belongs to its query.
  LoggedModelSearch first;
  first.experiment_ids = {experiment_id_};
  first.max_results = 2;
  auto page = models_->Search(first);
  ASSERT_TRUE(page.ok());
  LoggedModelSearch other = first;
  other.filter = "name = 'm1'";
  other.page_token = page->next_page_token;
  EXPECT_EQ(models_->Search(other).status().code(), StatusCode::kInvalidArgument);
  other = first;
  other.page_token = "garbage!";
  EXPECT_EQ(models_->Search(other).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(LoggedModelStoreTest, SearchScopesToExperiments) {
  MustCreate("here");
  auto exp2 = tracking_->CreateExperiment("exp2", "", {});
  ASSERT_TRUE(exp2.ok());
  CreateLoggedModelRequest r;
  r.experiment_id = *exp2;
  r.name = "there";
  MustCreate(r);
  LoggedModelSearch s;
  s.experiment_ids = {*exp2};
  EXPECT_THAT(SearchNames(s), ElementsAre("there"));
  s.experiment_ids = {experiment_id_, *exp2};
  EXPECT_EQ(SearchNames(s).size(), 2u);
  s.experiment_ids = {"x"};
  EXPECT_EQ(SearchError(s).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(models_->Search(LoggedModelSearch{}).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(LoggedModelStoreTest, SearchFiltersAttributesParamsTags) {
  CreateLoggedModelRequest a;
  a.name = "alpha";
  a.model_type = "Agent";
  a.params = {{"lr", "0.1"}};
  a.tags = {{"team", "Red"}};
  LoggedModel ma = MustCreate(a);
  CreateLoggedModelRequest b;
  b.name = "beta";
  b.params = {{"lr", "0.2"}};
  b.tags = {{"team", "blue"}};
  MustCreate(b);
  ASSERT_TRUE(models_->Finalize(ma.model_id, kLoggedModelReady).ok());

  EXPECT_THAT(SearchNames("name = 'alpha'"), ElementsAre("alpha"));
  EXPECT_THAT(SearchNames("name != 'alpha'"), ElementsAre("beta"));
  EXPECT_THAT(SearchNames("name LIKE 'al%'"), ElementsAre("alpha"));
  EXPECT_TRUE(SearchNames("name LIKE 'AL%'").empty());  // LIKE is case-sensitive on both backends
  EXPECT_THAT(SearchNames("name ILIKE 'AL%'"), ElementsAre("alpha"));
  EXPECT_THAT(SearchNames("name LIKE 'b_ta'"), ElementsAre("beta"));
  EXPECT_THAT(SearchNames("name IN ('beta', 'gamma')"), ElementsAre("beta"));
  EXPECT_THAT(SearchNames("name NOT IN ('beta')"), ElementsAre("alpha"));
  EXPECT_THAT(SearchNames("model_type = 'Agent'"), ElementsAre("alpha"));
  EXPECT_THAT(SearchNames("status = 'LOGGED_MODEL_READY'"), ElementsAre("alpha"));
  EXPECT_THAT(SearchNames("model_id = '" + ma.model_id + "'"), ElementsAre("alpha"));
  EXPECT_THAT(SearchNames("params.lr = '0.2'"), ElementsAre("beta"));
  EXPECT_THAT(SearchNames("tags.team = 'Red'"), ElementsAre("alpha"));
  EXPECT_THAT(SearchNames("tags.team ILIKE 'red' AND params.lr = '0.1'"), ElementsAre("alpha"));
  EXPECT_TRUE(SearchNames("tags.team = 'Red' AND params.lr = '0.2'").empty());
  EXPECT_THAT(SearchNames("creation_timestamp >= " + std::to_string(ma.creation_timestamp_ms + 1)),
              ElementsAre("beta"));
  EXPECT_THAT(SearchNames("creation_time < " + std::to_string(ma.creation_timestamp_ms + 1)),
              ElementsAre("alpha"));
}

TEST_P(LoggedModelStoreTest, SearchFiltersAndOrdersByMetrics) {
  LoggedModel a = MustCreate("a");
  LoggedModel b = MustCreate("b");
  LoggedModel c = MustCreate("c");  // no metrics
  std::string run = MustRun();
  LogModelMetric(run, a.model_id, "acc", 0.9, 0, "train", "d1");
  LogModelMetric(run, a.model_id, "acc", 0.7, 1, "eval", "d2");
  LogModelMetric(run, b.model_id, "acc", 0.8, 0, "eval", "d2");
  LogModelMetric(run, b.model_id, "loss", std::numeric_limits<double>::quiet_NaN(), 0);

  // Any point of the metric matches, as MLflow.
  EXPECT_THAT(SearchNames("metrics.acc > 0.85"), ElementsAre("a"));
  EXPECT_THAT(SearchNames("metrics.acc >= 0.8"), ElementsAre("b", "a"));
  EXPECT_TRUE(SearchNames("metrics.loss < 1").empty());  // NaN matches nothing
  LoggedModelSearch s;
  s.filter = "metrics.acc > 0.75";
  s.datasets = {{"eval", ""}};
  EXPECT_THAT(SearchNames(s), ElementsAre("b"));
  s.datasets = {{"eval", "other-digest"}};
  EXPECT_TRUE(SearchNames(s).empty());
  // Datasets alone: models with any metric on them.
  s.filter = "";
  s.datasets = {{"train", ""}};
  EXPECT_THAT(SearchNames(s), ElementsAre("a"));
  s.datasets = {{"", "d1"}};
  EXPECT_EQ(SearchError(s).code(), StatusCode::kInvalidArgument);

  // Order by the latest point; models without the metric last either way.
  LoggedModelSearch o;
  o.order_by = {{"metrics.acc", true, "", ""}};
  EXPECT_THAT(SearchNames(o), ElementsAre("a", "b", "c"));  // a's latest is 0.7
  o.order_by = {{"metrics.acc", false, "", ""}};
  EXPECT_THAT(SearchNames(o), ElementsAre("b", "a", "c"));
  o.order_by = {{"metrics.acc", false, "train", ""}};
  EXPECT_THAT(SearchNames(o), ElementsAre("a", "c", "b"));  // b: no point on train; c before b by time
  o.order_by = {{"name", false, "", ""}};
  EXPECT_THAT(SearchNames(o), ElementsAre("c", "b", "a"));
  o.order_by = {{"creation_timestamp", true, "", ""}};
  EXPECT_THAT(SearchNames(o), ElementsAre("a", "b", "c"));
  o.order_by = {{"params.lr", true, "", ""}};
  Status st = SearchError(o);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("Only metrics are supported"));
  o.order_by = {{"bogus", true, "", ""}};
  EXPECT_THAT(SearchError(o).message(), HasSubstr("Invalid order by field name: bogus"));
}

TEST_P(LoggedModelStoreTest, SearchRejectsBadInput) {
  MustCreate("x");
  for (const char* bad :
       {"name = ", "name ~ 'x'", "nosuchattr = 'x'", "metrics.acc = 'high'", "name > 'x'",
        "(name = 'x') OR (name = 'y')", "tags.t = 'a' OR tags.t = 'b'", "datasets.name = 'x'"}) {
    LoggedModelSearch s;
    s.filter = bad;
    EXPECT_EQ(SearchError(s).code(), StatusCode::kInvalidArgument) << bad;
  }
  LoggedModelSearch s;
  s.max_results = -1;
  EXPECT_EQ(SearchError(s).code(), StatusCode::kInvalidArgument);
  s.max_results = 50001;
  EXPECT_EQ(SearchError(s).code(), StatusCode::kInvalidArgument);
  // Hostile values are data, never SQL.
  EXPECT_TRUE(SearchNames("name = 'x''; DROP TABLE logged_models; --'").empty());
  EXPECT_THAT(SearchNames("name LIKE '%'"), ElementsAre("x"));
}

TEST_P(LoggedModelStoreTest, SurvivesReopen) {
  LoggedModel m = MustCreate("durable");
  ASSERT_TRUE(models_->SetTags(m.model_id, {{"k", "v"}}).ok());
  models_.reset();
  tracking_.reset();
  ASSERT_TRUE(tdb_->Reopen().ok());
  auto tracking = TrackingStore::Open(&tdb_->db(), &env_);
  ASSERT_TRUE(tracking.ok());
  tracking_ = std::move(tracking).value();
  auto models = LoggedModelStore::Open(&tdb_->db(), tracking_.get(), &env_);
  ASSERT_TRUE(models.ok());
  models_ = std::move(models).value();
  auto got = models_->Get(m.model_id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_THAT(got->tags, ElementsAre(Tag{"k", "v"}));
}

INSTANTIATE_TEST_SUITE_P(Backends, LoggedModelStoreTest, AllBackends(), BackendName);

}  // namespace
}  // namespace ferry::tracking
