#include "ferry/registry/registry_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "ferry/common/json.h"
#include "ferry/registry/registry_internal.h"
#include "ferry/store/testing/test_database.h"

namespace ferry::registry {
namespace {

using ::ferry::store::Rows;
using ::ferry::store::testing::AllBackends;
using ::ferry::store::testing::Backend;
using ::ferry::store::testing::BackendName;
using ::ferry::store::testing::TestDatabase;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Only GetRun is used by the registry; the rest answers Unimplemented.
class FakeTracking : public tracking::TrackingStore {
 public:
  void AddRun(const std::string& run_id, const std::string& experiment_id, const std::string& artifact_uri,
              std::vector<tracking::Tag> tags = {}) {
    tracking::Run run;
    run.info.run_id = run_id;
    run.info.experiment_id = experiment_id;
    run.info.artifact_uri = artifact_uri;
    run.tags = std::move(tags);
    runs_[run_id] = run;
  }
  Result<tracking::Run> GetRun(std::string_view run_id) override {
    auto it = runs_.find(std::string(run_id));
    if (it == runs_.end()) return NotFound("Run with id=" + std::string(run_id) + " not found");
    return it->second;
  }

  Result<std::string> CreateExperiment(std::string_view, std::string_view, const std::vector<Tag>&) override {
    return No();
  }
  Result<tracking::Experiment> GetExperiment(std::string_view) override { return No(); }
  Result<tracking::Experiment> GetExperimentByName(std::string_view) override { return No(); }
  Result<tracking::PageOf<tracking::Experiment>> SearchExperiments(
      const tracking::ExperimentSearch&) override {
    return No();
  }
  Status RenameExperiment(std::string_view, std::string_view) override { return No(); }
  Status DeleteExperiment(std::string_view) override { return No(); }
  Status RestoreExperiment(std::string_view) override { return No(); }
  Status SetExperimentTag(std::string_view, const Tag&) override { return No(); }
  Status DeleteExperimentTag(std::string_view, std::string_view) override { return No(); }
  Result<tracking::Run> CreateRun(const tracking::CreateRunRequest&) override { return No(); }
  Result<tracking::RunInfo> UpdateRun(const tracking::UpdateRunRequest&) override { return No(); }
  Status DeleteRun(std::string_view) override { return No(); }
  Status RestoreRun(std::string_view) override { return No(); }
  Result<tracking::PageOf<tracking::Run>> SearchRuns(const tracking::RunSearch&) override { return No(); }
  Status LogMetric(std::string_view, const tracking::Metric&) override { return No(); }
  Status LogParam(std::string_view, const tracking::Param&) override { return No(); }
  Status SetTag(std::string_view, const Tag&) override { return No(); }
  Status DeleteTag(std::string_view, std::string_view) override { return No(); }
  Status LogBatch(std::string_view, const std::vector<tracking::Metric>&, const std::vector<tracking::Param>&,
                  const std::vector<Tag>&) override {
    return No();
  }
  Status LogInputs(std::string_view, const std::vector<tracking::DatasetInput>&,
                   const std::vector<tracking::ModelInput>&) override {
    return No();
  }
  Status LogOutputs(std::string_view, const std::vector<tracking::ModelOutput>&) override { return No(); }
  Result<tracking::PageOf<tracking::Metric>> GetMetricHistory(
      const tracking::MetricHistoryRequest&) override {
    return No();
  }
  Result<std::vector<tracking::Metric>> GetMetricHistoryBulkInterval(
      const tracking::BulkIntervalRequest&) override {
    return No();
  }
  Result<std::vector<tracking::Metric>> GetModelMetrics(std::string_view) override { return No(); }

 private:
  static Status No() { return Unimplemented("fake"); }
  std::map<std::string, tracking::Run> runs_;
};

// Get and SetTags are what the registry uses.
class FakeLoggedModels : public tracking::LoggedModelStore {
 public:
  void Add(const std::string& model_id, const std::string& artifact_location,
           const std::string& source_run_id) {
    tracking::LoggedModel m;
    m.model_id = model_id;
    m.artifact_location = artifact_location;
    m.source_run_id = source_run_id;
    std::lock_guard lock(mu_);
    models_[model_id] = m;
  }
  Result<tracking::LoggedModel> Get(std::string_view model_id) override {
    std::lock_guard lock(mu_);
    auto it = models_.find(std::string(model_id));
    if (it == models_.end())
      return NotFound("Logged model with ID '" + std::string(model_id) + "' not found.");
    return it->second;
  }
  Status SetTags(std::string_view model_id, const std::vector<Tag>& tags) override {
    std::lock_guard lock(mu_);
    auto it = models_.find(std::string(model_id));
    if (it == models_.end()) return NotFound("no model");
    for (const Tag& tag : tags) {
      auto& existing = it->second.tags;
      existing.erase(
          std::remove_if(existing.begin(), existing.end(), [&](const Tag& t) { return t.key == tag.key; }),
          existing.end());
      existing.push_back(tag);
    }
    return Status::OK();
  }
  Result<tracking::LoggedModel> Create(const tracking::CreateLoggedModelRequest&) override { return No(); }
  Status Delete(std::string_view) override { return No(); }
  Result<tracking::LoggedModel> Finalize(std::string_view, std::string_view) override { return No(); }
  Status DeleteTag(std::string_view, std::string_view) override { return No(); }
  Status LogParams(std::string_view, const std::vector<tracking::Param>&) override { return No(); }
  Result<tracking::PageOf<tracking::LoggedModel>> Search(const tracking::LoggedModelSearch&) override {
    return No();
  }

 private:
  static Status No() { return Unimplemented("fake"); }
  std::mutex mu_;
  std::map<std::string, tracking::LoggedModel> models_;
};

constexpr char kRun[] = "0123456789abcdef0123456789abcdef";
constexpr char kRunRoot[] = "mlflow-artifacts:/1/0123456789abcdef0123456789abcdef/artifacts";

class RegistryStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    tdb_ = TestDatabase::Create(GetParam());
    ASSERT_NE(tdb_, nullptr);
    tracking_.AddRun(kRun, "1", kRunRoot, {{"ferry.pipeline_run_id", "pr-7"}, {"mlflow.user", "ann"}});
    logged_.Add("m-abc", "mlflow-artifacts:/1/models/m-abc/artifacts", kRun);
    logged_.Add("m-norun", "mlflow-artifacts:/1/models/m-norun/artifacts", "");
    auto store = RegistryStore::Open(&tdb_->db(), &env_, {&tracking_, &logged_});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }

  RegisteredModel MustCreate(const std::string& name, std::vector<Tag> tags = {}) {
    auto m = store_->CreateRegisteredModel(name, tags, std::nullopt);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return m.ok() ? *m : RegisteredModel{};
  }

  ModelVersion MustVersion(const std::string& name, const std::string& source = "s3://bucket/model",
                           std::vector<Tag> tags = {}) {
    CreateModelVersionRequest r;
    r.name = name;
    r.source = source;
    r.tags = std::move(tags);
    auto mv = store_->CreateModelVersion(r);
    EXPECT_TRUE(mv.ok()) << mv.status().ToString();
    return mv.ok() ? *mv : ModelVersion{};
  }

  Status VersionFrom(const std::string& source, std::optional<std::string> run_id = std::nullopt,
                     std::optional<std::string> model_id = std::nullopt, ModelVersion* out = nullptr) {
    CreateModelVersionRequest r;
    r.name = "src";
    r.source = source;
    r.run_id = std::move(run_id);
    r.model_id = std::move(model_id);
    auto mv = store_->CreateModelVersion(r);
    if (mv.ok() && out != nullptr) *out = *mv;
    return mv.status();
  }

  FakeEnv env_;
  FakeTracking tracking_;
  FakeLoggedModels logged_;
  std::unique_ptr<TestDatabase> tdb_;
  std::unique_ptr<RegistryStore> store_;
};

void ExpectCode(const Status& st, StatusCode code, const std::string& message_part) {
  EXPECT_EQ(st.code(), code) << st.ToString();
  EXPECT_THAT(st.message(), HasSubstr(message_part));
}

TEST_P(RegistryStoreTest, CreateAndGetRegisteredModel) {
  const std::int64_t t0 = env_.NowMicros() / 1000;
  auto m = store_->CreateRegisteredModel("iris", {{"team", "a"}, {"team", "b"}, {"owner", "x"}}, "flowers");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->name, "iris");
  EXPECT_EQ(m->creation_timestamp, t0);
  EXPECT_EQ(m->last_updated_timestamp, t0);
  EXPECT_EQ(m->description, "flowers");
  // The last value of a repeated key wins; tags come sorted.
  EXPECT_THAT(m->tags, ElementsAre(Tag{"owner", "x"}, Tag{"team", "b"}));
  EXPECT_TRUE(m->latest_versions.empty());

  auto got = store_->GetRegisteredModel("iris");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->tags, m->tags);

  ExpectCode(store_->CreateRegisteredModel("iris", {}, std::nullopt).status(), StatusCode::kAlreadyExists,
             "Registered Model (name=iris) already exists.");
  ExpectCode(store_->GetRegisteredModel("nope").status(), StatusCode::kNotFound,
             "Registered Model with name=nope not found");
  // Names are case-sensitive.
  EXPECT_TRUE(store_->CreateRegisteredModel("Iris", {}, std::nullopt).ok());
}

TEST_P(RegistryStoreTest, PromptNameConflictMessage) {
  MustCreate("p", {{"mlflow.prompt.is_prompt", "true"}});
  ExpectCode(store_->CreateRegisteredModel("p", {}, std::nullopt).status(), StatusCode::kAlreadyExists,
             "Tried to create a registered model with name 'p', but the name is already taken by a prompt.");
}

TEST_P(RegistryStoreTest, NameValidation) {
  ExpectCode(store_->CreateRegisteredModel("", {}, std::nullopt).status(), StatusCode::kInvalidArgument,
             "Missing value for required parameter 'name'.");
  ExpectCode(store_->CreateRegisteredModel("  ", {}, std::nullopt).status(), StatusCode::kInvalidArgument,
             "Missing value for required parameter 'name'.");
  ExpectCode(store_->CreateRegisteredModel("a/b", {}, std::nullopt).status(), StatusCode::kInvalidArgument,
             "Invalid model name 'a/b'. Names cannot contain '/' or ':'.");
  ExpectCode(store_->CreateRegisteredModel("a:b", {}, std::nullopt).status(), StatusCode::kInvalidArgument,
             "Names cannot contain '/' or ':'.");
  ExpectCode(
      store_->CreateRegisteredModel("..", {}, std::nullopt).status(), StatusCode::kInvalidArgument,
      "Invalid value \"..\" for parameter 'name' supplied: Names may be treated as files in certain cases, "
      "and must not resolve to other names when treated as such. This name would resolve to '..'");
  ExpectCode(store_->CreateRegisteredModel(".", {}, std::nullopt).status(), StatusCode::kInvalidArgument,
             "This name would resolve to '.'");
  EXPECT_TRUE(store_->CreateRegisteredModel("a b-c_d.e", {}, std::nullopt).ok());
  EXPECT_TRUE(store_->CreateRegisteredModel("modèle", {}, std::nullopt).ok());
  ExpectCode(store_->GetRegisteredModel("x/y").status(), StatusCode::kInvalidArgument, "cannot contain");
}

TEST_P(RegistryStoreTest, TagValidation) {
  MustCreate("m");
  ExpectCode(store_->SetRegisteredModelTag("m", {std::string(251, 'k'), "v"}), StatusCode::kInvalidArgument,
             "'key' exceeds the maximum length of 250 characters");
  EXPECT_TRUE(store_->SetRegisteredModelTag("m", {std::string(250, 'k'), "v"}).ok());
  ExpectCode(store_->SetRegisteredModelTag("m", {"k", std::string(100001, 'v')}),
             StatusCode::kInvalidArgument, "'value' exceeds the maximum length of 100000 characters");
  EXPECT_TRUE(store_->SetRegisteredModelTag("m", {"k", std::string(100000, 'v')}).ok());
  ExpectCode(store_->SetRegisteredModelTag("m", {"a*b", "v"}), StatusCode::kInvalidArgument,
             "Invalid value \"a*b\" for parameter 'key' supplied: Names may only contain alphanumerics");
  ExpectCode(store_->SetRegisteredModelTag("m", {"../x", "v"}), StatusCode::kInvalidArgument,
             "This name would resolve to '../x'");
  ExpectCode(store_->SetRegisteredModelTag("m", {"", "v"}), StatusCode::kInvalidArgument,
             "This name would resolve to '.'");
  ExpectCode(store_->SetRegisteredModelTag("nope", {"k", "v"}), StatusCode::kNotFound, "not found");
  ExpectCode(store_->CreateRegisteredModel("t", {{"bad key!", "v"}}, std::nullopt).status(),
             StatusCode::kInvalidArgument, "Names may only contain");
  EXPECT_EQ(store_->GetRegisteredModel("t").status().code(), StatusCode::kNotFound);
}

TEST_P(RegistryStoreTest, RegisteredModelTagsSetOverwriteDelete) {
  MustCreate("m");
  ASSERT_TRUE(store_->SetRegisteredModelTag("m", {"a", "1"}).ok());
  ASSERT_TRUE(store_->SetRegisteredModelTag("m", {"a", "2"}).ok());
  ASSERT_TRUE(store_->SetRegisteredModelTag("m", {"b", ""}).ok());
  EXPECT_THAT(store_->GetRegisteredModel("m")->tags, ElementsAre(Tag{"a", "2"}, Tag{"b", ""}));
  ASSERT_TRUE(store_->DeleteRegisteredModelTag("m", "a").ok());
  EXPECT_TRUE(store_->DeleteRegisteredModelTag("m", "missing").ok());  // as MLflow: no error
  EXPECT_THAT(store_->GetRegisteredModel("m")->tags, ElementsAre(Tag{"b", ""}));
  ExpectCode(store_->DeleteRegisteredModelTag("nope", "b"), StatusCode::kNotFound, "not found");
}

TEST_P(RegistryStoreTest, UpdateDescriptionBumpsLastUpdated) {
  MustCreate("m");
  env_.AdvanceMicros(5000);
  auto m = store_->UpdateRegisteredModel("m", "new");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->description, "new");
  EXPECT_EQ(m->last_updated_timestamp, m->creation_timestamp + 5);
  m = store_->UpdateRegisteredModel("m", std::nullopt);
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(m->description.has_value());
  ExpectCode(store_->UpdateRegisteredModel("nope", "x").status(), StatusCode::kNotFound, "not found");
}

TEST_P(RegistryStoreTest, VersionsAreNumberedAndNeverReused) {
  MustCreate("m");
  EXPECT_EQ(MustVersion("m").version, 1);
  EXPECT_EQ(MustVersion("m").version, 2);
  EXPECT_EQ(MustVersion("m").version, 3);
  ASSERT_TRUE(store_->DeleteModelVersion("m", "3").ok());
  ExpectCode(store_->GetModelVersion("m", "3").status(), StatusCode::kNotFound,
             "Model Version (name=m, version=3) not found");
  EXPECT_EQ(MustVersion("m").version, 4);
  ExpectCode(store_->DeleteModelVersion("m", "3"), StatusCode::kNotFound, "not found");

  CreateModelVersionRequest r;
  r.name = "nope";
  r.source = "s3://b/m";
  ExpectCode(store_->CreateModelVersion(r).status(), StatusCode::kNotFound,
             "Registered Model with name=nope not found");

  ModelVersion mv = *store_->GetModelVersion("m", "1");
  EXPECT_EQ(mv.status, "READY");
  EXPECT_EQ(mv.current_stage, "None");
  EXPECT_EQ(mv.source, "s3://bucket/model");
  EXPECT_EQ(*store_->GetModelVersionDownloadUri("m", "1"), "s3://bucket/model");
  ExpectCode(store_->GetModelVersion("m", "one").status(), StatusCode::kInvalidArgument,
             "Parameter 'version' must be an integer, got 'one'.");
  EXPECT_TRUE(store_->GetModelVersion("m", " 1 ").ok());  // Python's int() strips
}

TEST_P(RegistryStoreTest, ConcurrentVersionCreationGivesDistinctNumbers) {
  MustCreate("m");
  constexpr int kThreads = 6, kEach = 8;
  std::vector<std::thread> threads;
  std::mutex mu;
  std::vector<std::int64_t> versions;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        CreateModelVersionRequest r;
        r.name = "m";
        r.source = "s3://b/m";
        auto mv = store_->CreateModelVersion(r);
        if (!mv.ok()) {
          ++failures;
          ADD_FAILURE() << mv.status().ToString();
          continue;
        }
        std::lock_guard lock(mu);
        versions.push_back(mv->version);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  std::sort(versions.begin(), versions.end());
  std::vector<std::int64_t> expected(kThreads * kEach);
  for (std::size_t i = 0; i < expected.size(); ++i) expected[i] = static_cast<std::int64_t>(i) + 1;
  EXPECT_EQ(versions, expected);
}

TEST_P(RegistryStoreTest, DeleteVersionRedactsAndDropsItsAliases) {
  MustCreate("m");
  MustVersion("m");
  MustVersion("m");
  ASSERT_TRUE(store_->SetRegisteredModelAlias("m", "champ", "1").ok());
  ASSERT_TRUE(store_->SetRegisteredModelAlias("m", "other", "2").ok());
  ASSERT_TRUE(store_->DeleteModelVersion("m", "1").ok());
  auto m = store_->GetRegisteredModel("m");
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->aliases.size(), 1u);
  EXPECT_EQ(m->aliases[0], (RegisteredModelAlias{"other", 2}));
  ExpectCode(store_->GetModelVersionByAlias("m", "champ").status(), StatusCode::kInvalidArgument,
             "Registered model alias champ not found.");
  Rows rows = *tdb_->db().Query("SELECT source, run_id, current_stage FROM model_versions WHERE version = 1");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].Text(0), "REDACTED-SOURCE-PATH");
  EXPECT_EQ(rows[0].Text(1), "REDACTED-RUN-ID");
  EXPECT_EQ(rows[0].Text(2), "Deleted_Internal");
  // Deleted versions are hidden from search and latest versions.
  auto page = store_->SearchModelVersions({});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].version, 2);
}

TEST_P(RegistryStoreTest, AliasesMoveAndValidate) {
  MustCreate("m");
  MustVersion("m");
  MustVersion("m");
  ASSERT_TRUE(store_->SetRegisteredModelAlias("m", "champion", "1").ok());
  EXPECT_THAT(store_->GetModelVersion("m", "1")->aliases, ElementsAre("champion"));
  ASSERT_TRUE(store_->SetRegisteredModelAlias("m", "champion", "2").ok());
  EXPECT_TRUE(store_->GetModelVersion("m", "1")->aliases.empty());
  EXPECT_THAT(store_->GetModelVersion("m", "2")->aliases, ElementsAre("champion"));
  auto by_alias = store_->GetModelVersionByAlias("m", "champion");
  ASSERT_TRUE(by_alias.ok());
  EXPECT_EQ(by_alias->version, 2);
  EXPECT_EQ(store_->GetModelVersionByAlias("m", "LATEST")->version, 2);

  ExpectCode(store_->SetRegisteredModelAlias("m", "latest", "1"), StatusCode::kInvalidArgument,
             "'latest' alias name (case insensitive) is reserved.");
  ExpectCode(store_->SetRegisteredModelAlias("m", "V12", "1"), StatusCode::kInvalidArgument,
             "Version alias name 'V12' is reserved.");
  EXPECT_TRUE(store_->SetRegisteredModelAlias("m", "v1x", "1").ok());
  ExpectCode(
      store_->SetRegisteredModelAlias("m", "a.b", "1"), StatusCode::kInvalidArgument,
      "Invalid alias name: 'a.b'. Names may only contain alphanumerics, underscores (_), and dashes (-).");
  ExpectCode(store_->SetRegisteredModelAlias("m", "", "1"), StatusCode::kInvalidArgument,
             "Registered model alias name cannot be empty.");
  ExpectCode(store_->SetRegisteredModelAlias("m", std::string(256, 'a'), "1"), StatusCode::kInvalidArgument,
             "'Registered model alias name' exceeds the maximum length of 255 characters");
  EXPECT_TRUE(store_->SetRegisteredModelAlias("m", std::string(255, 'a'), "1").ok());
  ExpectCode(store_->SetRegisteredModelAlias("m", "x", "9"), StatusCode::kNotFound,
             "Model Version (name=m, version=9) not found");
  ExpectCode(store_->SetRegisteredModelAlias("m", "x", "nine"), StatusCode::kInvalidArgument,
             "must be an integer");
  ExpectCode(store_->SetRegisteredModelAlias("nope", "x", "1"), StatusCode::kNotFound, "not found");

  ASSERT_TRUE(store_->DeleteRegisteredModelAlias("m", "champion").ok());
  EXPECT_TRUE(store_->DeleteRegisteredModelAlias("m", "champion").ok());
  ExpectCode(store_->GetModelVersionByAlias("m", "champion").status(), StatusCode::kInvalidArgument,
             "Registered model alias champion not found.");
  ExpectCode(store_->DeleteRegisteredModelAlias("nope", "x"), StatusCode::kNotFound, "not found");

  MustCreate("empty");
  ExpectCode(store_->GetModelVersionByAlias("empty", "latest").status(), StatusCode::kNotFound,
             "Latest version not found for model empty.");
}

TEST_P(RegistryStoreTest, StagesAndLatestVersions) {
  MustCreate("m");
  for (int i = 0; i < 4; ++i) MustVersion("m");
  auto mv = store_->TransitionModelVersionStage("m", "1", "production", false);
  ASSERT_TRUE(mv.ok()) << mv.status().ToString();
  EXPECT_EQ(mv->current_stage, "Production");
  ASSERT_TRUE(store_->TransitionModelVersionStage("m", "2", "Production", false).ok());
  ASSERT_TRUE(store_->TransitionModelVersionStage("m", "3", "STAGING", false).ok());

  auto latest = store_->GetLatestVersions("m", {});
  ASSERT_TRUE(latest.ok());
  std::map<std::string, std::int64_t> by_stage;
  for (const auto& v : *latest) by_stage[v.current_stage] = v.version;
  EXPECT_EQ(by_stage, (std::map<std::string, std::int64_t>{{"None", 4}, {"Production", 2}, {"Staging", 3}}));
  latest = store_->GetLatestVersions("m", {"production"});
  ASSERT_TRUE(latest.ok());
  ASSERT_EQ(latest->size(), 1u);
  EXPECT_EQ((*latest)[0].version, 2);
  ExpectCode(store_->GetLatestVersions("m", {"prod"}).status(), StatusCode::kInvalidArgument,
             "Invalid Model Version stage: prod. Value must be one of None, Staging, Production, Archived.");
  EXPECT_EQ(store_->GetRegisteredModel("m")->latest_versions.size(), 3u);

  // Archiving the others in the target stage.
  ASSERT_TRUE(store_->TransitionModelVersionStage("m", "4", "Production", true).ok());
  EXPECT_EQ(store_->GetModelVersion("m", "1")->current_stage, "Archived");
  EXPECT_EQ(store_->GetModelVersion("m", "2")->current_stage, "Archived");
  EXPECT_EQ(store_->GetModelVersion("m", "3")->current_stage, "Staging");
  ExpectCode(store_->TransitionModelVersionStage("m", "1", "None", true).status(),
             StatusCode::kInvalidArgument,
             "Model version transition cannot archive existing model versions because 'None' is not an "
             "Active stage.");
  ExpectCode(store_->TransitionModelVersionStage("m", "1", "bogus", false).status(),
             StatusCode::kInvalidArgument, "Invalid Model Version stage: bogus");
  ExpectCode(store_->TransitionModelVersionStage("m", "9", "None", false).status(), StatusCode::kNotFound,
             "not found");
}

TEST_P(RegistryStoreTest, ModelVersionUpdateAndTags) {
  MustCreate("m");
  ModelVersion mv = MustVersion("m", "s3://b/m", {{"k", "1"}, {"k", "2"}});
  EXPECT_THAT(mv.tags, ElementsAre(Tag{"k", "2"}));
  env_.AdvanceMicros(7000);
  auto updated = store_->UpdateModelVersion("m", "1", "desc");
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(updated->description, "desc");
  EXPECT_EQ(updated->last_updated_timestamp, mv.creation_timestamp + 7);
  ASSERT_TRUE(store_->SetModelVersionTag("m", "1", {"a", "x"}).ok());
  ASSERT_TRUE(store_->SetModelVersionTag("m", "1", {"a", "y"}).ok());
  EXPECT_THAT(store_->GetModelVersion("m", "1")->tags, ElementsAre(Tag{"a", "y"}, Tag{"k", "2"}));
  ASSERT_TRUE(store_->DeleteModelVersionTag("m", "1", "a").ok());
  EXPECT_THAT(store_->GetModelVersion("m", "1")->tags, ElementsAre(Tag{"k", "2"}));
  ExpectCode(store_->SetModelVersionTag("m", "2", {"a", "x"}), StatusCode::kNotFound, "version=2");
  ExpectCode(store_->SetModelVersionTag("m", "1", {"a", std::string(100001, 'x')}),
             StatusCode::kInvalidArgument, "'value' exceeds the maximum length of 100000 characters");
  ExpectCode(store_->DeleteModelVersionTag("m", "x", "a"), StatusCode::kInvalidArgument,
             "must be an integer");
  ExpectCode(store_->UpdateModelVersion("m", "5", "d").status(), StatusCode::kNotFound, "not found");
}

TEST_P(RegistryStoreTest, RenameCarriesVersionsTagsAndAliases) {
  MustCreate("old", {{"t", "1"}});
  MustVersion("old", "s3://b/m", {{"vt", "x"}});
  ASSERT_TRUE(store_->SetRegisteredModelAlias("old", "champ", "1").ok());
  MustCreate("taken");
  ExpectCode(store_->RenameRegisteredModel("old", "taken").status(), StatusCode::kAlreadyExists,
             "Registered Model (name=taken) already exists.");
  ExpectCode(store_->RenameRegisteredModel("old", "").status(), StatusCode::kInvalidArgument,
             "Missing value for required parameter 'new_name'.");
  ExpectCode(store_->RenameRegisteredModel("old", "a/b").status(), StatusCode::kInvalidArgument,
             "cannot contain");
  ExpectCode(store_->RenameRegisteredModel("nope", "x").status(), StatusCode::kNotFound, "not found");

  auto renamed = store_->RenameRegisteredModel("old", "new");
  ASSERT_TRUE(renamed.ok()) << renamed.status().ToString();
  EXPECT_EQ(renamed->name, "new");
  EXPECT_THAT(renamed->tags, ElementsAre(Tag{"t", "1"}));
  ASSERT_EQ(renamed->latest_versions.size(), 1u);
  EXPECT_EQ(renamed->latest_versions[0].name, "new");
  auto mv = store_->GetModelVersionByAlias("new", "champ");
  ASSERT_TRUE(mv.ok());
  EXPECT_THAT(mv->tags, ElementsAre(Tag{"vt", "x"}));
  EXPECT_EQ(store_->GetRegisteredModel("old").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(MustVersion("new").version, 2);
}

TEST_P(RegistryStoreTest, DeleteModelDeletesEverything) {
  MustCreate("m", {{"t", "1"}});
  MustVersion("m", "s3://b/m", {{"vt", "x"}});
  MustVersion("m");
  ASSERT_TRUE(store_->SetRegisteredModelAlias("m", "a", "1").ok());
  ASSERT_TRUE(store_->DeleteRegisteredModel("m").ok());
  EXPECT_EQ(store_->GetRegisteredModel("m").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->DeleteRegisteredModel("m").code(), StatusCode::kNotFound);
  for (const char* table :
       {"model_versions", "model_version_tags", "registered_model_tags", "registered_model_aliases"}) {
    Rows rows = *tdb_->db().Query(std::string("SELECT COUNT(*) FROM ") + table);
    EXPECT_EQ(rows[0].Int(0), 0) << table;
  }
  MustCreate("m");
  EXPECT_EQ(MustVersion("m").version, 1);
}

TEST_P(RegistryStoreTest, LoggedModelSourceAndLineage) {
  MustCreate("src");
  ModelVersion mv;
  ASSERT_TRUE(VersionFrom("models:/m-abc", std::nullopt, "m-abc", &mv).ok());
  EXPECT_EQ(mv.source, "models:/m-abc");
  EXPECT_EQ(mv.run_id, kRun);  // the logged model's source run
  EXPECT_EQ(mv.model_id, "m-abc");
  EXPECT_EQ(mv.storage_location, "mlflow-artifacts:/1/models/m-abc/artifacts");
  EXPECT_EQ(mv.lineage.experiment_id, "1");
  EXPECT_EQ(mv.lineage.pipeline_run_id, "pr-7");
  EXPECT_EQ(*store_->GetModelVersionDownloadUri("src", "1"), "mlflow-artifacts:/1/models/m-abc/artifacts");
  // The logged model records the version.
  auto logged = logged_.Get("m-abc");
  ASSERT_TRUE(logged.ok());
  ASSERT_EQ(logged->tags.size(), 1u);
  EXPECT_EQ(logged->tags[0].key, "mlflow.modelVersions");
  EXPECT_EQ(*ParseJson(logged->tags[0].value), Json::parse(R"([{"name":"src","version":1}])"));
  ASSERT_TRUE(VersionFrom("models:/m-abc", std::nullopt, "m-abc").ok());
  EXPECT_EQ(*ParseJson(logged_.Get("m-abc")->tags[0].value),
            Json::parse(R"([{"name":"src","version":1},{"name":"src","version":2}])"));

  // A models:/<model_id> source without model_id, or with another one.
  ExpectCode(
      VersionFrom("models:/m-abc"), StatusCode::kInvalidArgument,
      "Invalid model version source: 'models:/m-abc'. The model_id request parameter must identify the "
      "resource that contains the source.");
  ExpectCode(VersionFrom("models:/m-abc", std::nullopt, "m-norun"), StatusCode::kInvalidArgument,
             "The model_id request parameter must identify");
  ExpectCode(VersionFrom("models:/m-missing", std::nullopt, "m-missing"), StatusCode::kInvalidArgument,
             "Unable to fetch model from model URI source artifact location 'models:/m-missing'");
  // An artifact source inside the logged model's location.
  ASSERT_TRUE(
      VersionFrom("mlflow-artifacts:/1/models/m-norun/artifacts/model", std::nullopt, "m-norun", &mv).ok());
  EXPECT_EQ(mv.run_id, "");
  EXPECT_TRUE(mv.lineage.pipeline_run_id.empty());
  ExpectCode(VersionFrom("mlflow-artifacts:/1/models/m-abc/artifacts", std::nullopt, "m-norun"),
             StatusCode::kInvalidArgument, "The model_id request parameter must identify");
}

TEST_P(RegistryStoreTest, RunSourcesAreChecked) {
  MustCreate("src");
  ModelVersion mv;
  ASSERT_TRUE(VersionFrom(std::string(kRunRoot) + "/model", std::string(kRun), std::nullopt, &mv).ok());
  EXPECT_EQ(mv.lineage.pipeline_run_id, "pr-7");
  EXPECT_EQ(mv.lineage.experiment_id, "1");
  ExpectCode(VersionFrom("mlflow-artifacts:/2/other/artifacts/model", std::string(kRun)),
             StatusCode::kInvalidArgument,
             "Invalid model version source: 'mlflow-artifacts:/2/other/artifacts/model'. The run_id request "
             "parameter must identify the resource that contains the source.");
  ExpectCode(VersionFrom(std::string(kRunRoot) + "/model"), StatusCode::kInvalidArgument,
             "The run_id request parameter must identify");
  ExpectCode(VersionFrom(std::string(kRunRoot) + "/model", std::string("ffffffffffffffffffffffffffffffff")),
             StatusCode::kInvalidArgument, "The run_id request parameter must identify");
  ASSERT_TRUE(VersionFrom(std::string("runs:/") + kRun + "/model", std::string(kRun)).ok());
  ExpectCode(VersionFrom(std::string("runs:/") + kRun + "/model", std::string("other")),
             StatusCode::kInvalidArgument, "The run_id request parameter must identify");
  ExpectCode(
      VersionFrom("/tmp/model", std::string(kRun)), StatusCode::kInvalidArgument,
      "To use a local path as a model version source, the run_id request parameter has to be specified");
  ExpectCode(VersionFrom("file:///tmp/model"), StatusCode::kInvalidArgument, "To use a local path");
  ExpectCode(VersionFrom("s3://bucket/a/../../etc"), StatusCode::kInvalidArgument,
             "an absolute path must be provided without relative path references present");
  ExpectCode(VersionFrom("s3://bucket/a/%2e%2e/b"), StatusCode::kInvalidArgument, "relative path references");
  ExpectCode(VersionFrom("http://evil.example/model"), StatusCode::kInvalidArgument,
             "'source' cannot use the 'http' scheme");
  ExpectCode(VersionFrom("mlflow-artifacts://host:80/x"), StatusCode::kInvalidArgument,
             "'source' cannot use the 'mlflow-artifacts' scheme");
  EXPECT_TRUE(VersionFrom("s3://bucket/path/model").ok());
  EXPECT_TRUE(VersionFrom("gs://bucket/path/model", std::string("no-such-run")).ok());
}

TEST_P(RegistryStoreTest, RegistryUriSources) {
  MustCreate("src");
  MustCreate("base");
  CreateModelVersionRequest r;
  r.name = "base";
  r.source = std::string(kRunRoot) + "/model";
  r.run_id = kRun;
  ASSERT_TRUE(store_->CreateModelVersion(r).ok());
  ASSERT_TRUE(store_->SetRegisteredModelAlias("base", "champ", "1").ok());

  for (std::string source :
       {"models:/base/1", "models:/base@champ", "models:/base/latest", "models:/base/None"}) {
    ModelVersion mv;
    ASSERT_TRUE(VersionFrom(source, std::nullopt, std::nullopt, &mv).ok()) << source;
    EXPECT_EQ(mv.source, "models:/base/1") << source;
    EXPECT_EQ(mv.run_id, kRun) << source;
    EXPECT_EQ(mv.storage_location, std::string(kRunRoot) + "/model") << source;
  }
  ExpectCode(VersionFrom("models:/base/1", std::string("other")), StatusCode::kInvalidArgument,
             "The run_id and model_id request parameters must match the referenced model version.");
  ExpectCode(VersionFrom("models:/nope/1"), StatusCode::kNotFound,
             "Registered Model with name=nope not found");
  ExpectCode(VersionFrom("models://host/base/1"), StatusCode::kInvalidArgument,
             "Registered model sources must use the active model registry.");
  ExpectCode(VersionFrom("models:/base/Production"), StatusCode::kNotFound,
             "No versions of model with name 'base' and stage 'Production' found");
}

// ---- search ----

TEST_P(RegistryStoreTest, SearchRegisteredModelsFiltersAndOrders) {
  for (const char* name : {"alpha", "Alpha2", "beta", "gamma_1", "gammaX1"}) {
    MustCreate(name, {{"team", name[0] == 'g' ? "vision" : "nlp"}});
    env_.AdvanceMicros(1000);
  }
  MustCreate("prompt", {{"mlflow.prompt.is_prompt", "true"}});
  auto names = [&](RegistrySearch s) {
    std::vector<std::string> out;
    auto page = store_->SearchRegisteredModels(s);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    if (page.ok())
      for (const auto& m : page->items) out.push_back(m.name);
    return out;
  };
  EXPECT_THAT(names({}), ElementsAre("Alpha2", "alpha", "beta", "gammaX1", "gamma_1"));
  EXPECT_THAT(names({"name LIKE 'a%'", {}, {}}), ElementsAre("alpha"));  // case-sensitive
  EXPECT_THAT(names({"name ILIKE 'a%'", {}, {}}), ElementsAre("Alpha2", "alpha"));
  EXPECT_THAT(names({"name LIKE 'gamma_1'", {}, {}}), ElementsAre("gammaX1", "gamma_1"));  // '_' is any one
  EXPECT_THAT(names({"name LIKE 'gamma[_]1'", {}, {}}), ElementsAre());                    // no GLOB classes
  EXPECT_THAT(names({"name LIKE 'gamma%1'", {}, {}}), ElementsAre("gammaX1", "gamma_1"));
  EXPECT_THAT(names({"name = 'beta'", {}, {}}), ElementsAre("beta"));
  EXPECT_THAT(names({"name != 'beta'", {}, {}}), ElementsAre("Alpha2", "alpha", "gammaX1", "gamma_1"));
  EXPECT_THAT(names({"name IN ('beta', 'alpha')", {}, {}}), ElementsAre("alpha", "beta"));
  EXPECT_THAT(names({"tags.team = 'vision'", {}, {}}), ElementsAre("gammaX1", "gamma_1"));
  EXPECT_THAT(names({"tags.team = 'vision' AND name LIKE '%X%'", {}, {}}), ElementsAre("gammaX1"));
  EXPECT_THAT(names({"tags.`mlflow.prompt.is_prompt` = 'true'", {}, {}}), ElementsAre("prompt"));
  EXPECT_THAT(names({"", {"timestamp DESC"}, {}}),
              ElementsAre("gammaX1", "gamma_1", "beta", "Alpha2", "alpha"));
  EXPECT_THAT(names({"", {"creation_timestamp ASC"}, {}}),
              ElementsAre("alpha", "Alpha2", "beta", "gamma_1", "gammaX1"));
  EXPECT_THAT(names({"", {"name DESC"}, {}}), ElementsAre("gamma_1", "gammaX1", "beta", "alpha", "Alpha2"));

  ExpectCode(store_->SearchRegisteredModels({"", {"name", "name DESC"}, {}}).status(),
             StatusCode::kInvalidArgument, "duplicate");
  ExpectCode(store_->SearchRegisteredModels({"", {"bogus"}, {}}).status(), StatusCode::kInvalidArgument,
             "bogus");
  ExpectCode(store_->SearchRegisteredModels({"name ~ 'x'", {}, {}}).status(), StatusCode::kInvalidArgument,
             "");
  ExpectCode(store_->SearchRegisteredModels({"run_id = 'x'", {}, {}}).status(), StatusCode::kInvalidArgument,
             "run_id");
  ExpectCode(store_->SearchRegisteredModels({"", {}, {1001, ""}}).status(), StatusCode::kInvalidArgument,
             "It must be at most 1000, but got value 1001");
  ExpectCode(store_->SearchRegisteredModels({"", {}, {10, "garbage!"}}).status(),
             StatusCode::kInvalidArgument, "page token");
}

TEST_P(RegistryStoreTest, SearchRegisteredModelsPages) {
  std::vector<std::string> all;
  for (int i = 0; i < 23; ++i) {
    std::string name = "m" + std::to_string(100 + i);
    MustCreate(name);
    all.push_back(name);
  }
  std::vector<std::string> seen;
  RegistrySearch s;
  s.page.max_results = 5;
  int pages = 0;
  do {
    auto page = store_->SearchRegisteredModels(s);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    for (const auto& m : page->items) seen.push_back(m.name);
    s.page.page_token = page->next_page_token;
    ++pages;
  } while (!s.page.page_token.empty() && pages < 100);
  EXPECT_EQ(pages, 5);
  EXPECT_EQ(seen, all);
  // A token of one query is refused by another.
  s = {};
  s.page.max_results = 5;
  auto first = store_->SearchRegisteredModels(s);
  ASSERT_TRUE(first.ok());
  ASSERT_FALSE(first->next_page_token.empty());
  RegistrySearch other{"name LIKE 'm%'", {}, {5, first->next_page_token}};
  EXPECT_EQ(store_->SearchRegisteredModels(other).status().code(), StatusCode::kInvalidArgument);
}

// Model versions over several models, searched with filters, orders and
// page sizes and compared with a brute-force evaluation.
TEST_P(RegistryStoreTest, SearchModelVersionsMatchesBruteForce) {
  constexpr int kModels = 6, kVersions = 350;  // 2,100 versions
  struct Expected {
    std::string name;
    std::int64_t version;
    std::string run_id;
    std::string source;
    std::string tag;  // "" when untagged
    std::int64_t created;
    std::int64_t updated;
  };
  std::vector<Expected> expected;
  std::mt19937 rng(7);
  for (int m = 0; m < kModels; ++m) {
    const std::string name = (m % 2 == 0 ? "Model" : "model") + std::to_string(m);
    MustCreate(name);
    // Batched straight into the table: the store's own create is tested
    // above; this test is about search.
    ASSERT_TRUE(
        tdb_->db()
            .Transact([&](store::Tx& tx) -> Status {
              for (int v = 1; v <= kVersions; ++v) {
                Expected e{name,
                           v,
                           "run" + std::to_string(rng() % 7),
                           "s3://b/" + name + "/" + std::to_string(v),
                           v % 3 == 0 ? "even" : (v % 3 == 1 ? "odd" : ""),
                           static_cast<std::int64_t>(rng() % 50),
                           static_cast<std::int64_t>(rng() % 50)};
                RETURN_IF_ERROR(tx.Exec(
                    "INSERT INTO model_versions (name, version, creation_time, last_updated_time, "
                    "current_stage, source, storage_location, run_id, status) VALUES ($1, $2, $3, $4, "
                    "'None', $5, $5, $6, 'READY')",
                    {e.name, e.version, e.created, e.updated, e.source, e.run_id}));
                if (!e.tag.empty())
                  RETURN_IF_ERROR(
                      tx.Exec("INSERT INTO model_version_tags (name, version, key, value) VALUES ($1, $2, "
                              "'parity', $3)",
                              {e.name, e.version, e.tag}));
                expected.push_back(e);
              }
              return Status::OK();
            })
            .ok());
  }
  ASSERT_TRUE(store_->DeleteModelVersion("model1", "5").ok());
  expected.erase(std::remove_if(expected.begin(), expected.end(),
                                [](const Expected& e) { return e.name == "model1" && e.version == 5; }),
                 expected.end());

  struct Case {
    std::string filter;
    std::function<bool(const Expected&)> match;
    std::vector<std::string> order_by;
  };
  const std::vector<Case> cases = {
      {"", [](const Expected&) { return true; }, {}},
      {"name = 'model1'", [](const Expected& e) { return e.name == "model1"; }, {"version_number ASC"}},
      {"name LIKE 'model%'",
       [](const Expected& e) { return e.name.starts_with("model"); },
       {"creation_timestamp"}},
      {"name ILIKE 'MODEL%' AND version_number > 300",
       [](const Expected& e) { return e.version > 300; },
       {"last_updated_timestamp ASC", "name DESC"}},
      {"run_id IN ('run1', 'run3') AND version_number <= 100",
       [](const Expected& e) { return (e.run_id == "run1" || e.run_id == "run3") && e.version <= 100; },
       {}},
      {"run_id NOT IN ('run1') AND tags.parity = 'even'",
       [](const Expected& e) { return e.run_id != "run1" && e.tag == "even"; },
       {"name", "version_number DESC"}},
      {"tags.parity != 'even'", [](const Expected& e) { return e.tag == "odd"; }, {"version_number"}},
      {"source_path LIKE '%/Model2/1%'",
       [](const Expected& e) { return e.source.find("/Model2/1") != std::string::npos; },
       {}},
      {"version_number = 7", [](const Expected& e) { return e.version == 7; }, {}},
  };
  for (const Case& c : cases) {
    std::vector<Expected> want;
    for (const Expected& e : expected)
      if (c.match(e)) want.push_back(e);
    // The order the store must give.
    std::vector<std::pair<std::string, bool>> keys;
    for (const std::string& clause :
         c.order_by.empty()
             ? std::vector<std::string>{"last_updated_timestamp DESC", "name ASC", "version_number DESC"}
             : c.order_by) {
      std::string key = clause.substr(0, clause.find(' '));
      keys.push_back({key, clause.find("DESC") == std::string::npos});
    }
    if (std::none_of(keys.begin(), keys.end(), [](auto& k) { return k.first == "name"; }))
      keys.push_back({"name", true});
    if (std::none_of(keys.begin(), keys.end(), [](auto& k) { return k.first == "version_number"; }))
      keys.push_back({"version_number", false});
    std::stable_sort(want.begin(), want.end(), [&](const Expected& a, const Expected& b) {
      for (const auto& [key, asc] : keys) {
        std::tuple<std::string, std::int64_t> ka, kb;
        if (key == "name") {
          ka = {a.name, 0};
          kb = {b.name, 0};
        } else {
          auto num = [&](const Expected& e) {
            return key == "version_number" ? e.version : key == "creation_timestamp" ? e.created : e.updated;
          };
          ka = {"", num(a)};
          kb = {"", num(b)};
        }
        if (ka != kb) return asc ? ka < kb : ka > kb;
      }
      return false;
    });
    for (std::int64_t page_size : {std::int64_t{97}, std::int64_t{10000}}) {
      RegistrySearch s{c.filter, c.order_by, {page_size, ""}};
      std::vector<std::pair<std::string, std::int64_t>> got;
      int pages = 0;
      do {
        auto page = store_->SearchModelVersions(s);
        ASSERT_TRUE(page.ok()) << c.filter << ": " << page.status().ToString();
        ASSERT_LE(static_cast<std::int64_t>(page->items.size()), page_size);
        for (const auto& mv : page->items) got.push_back({mv.name, mv.version});
        s.page.page_token = page->next_page_token;
      } while (!s.page.page_token.empty() && ++pages < 1000);
      std::vector<std::pair<std::string, std::int64_t>> want_ids;
      for (const Expected& e : want) want_ids.push_back({e.name, e.version});
      EXPECT_EQ(got, want_ids) << "filter: " << c.filter << " page size " << page_size;
    }
  }
}

TEST_P(RegistryStoreTest, SearchModelVersionsErrors) {
  MustCreate("m");
  MustVersion("m", "s3://b/m", {{"k", "v"}});
  auto search = [&](std::string filter, std::vector<std::string> order = {}, std::int64_t max = 100) {
    return store_->SearchModelVersions({std::move(filter), std::move(order), {max, ""}}).status();
  };
  EXPECT_TRUE(search("tags.k = 'v'").ok());
  ExpectCode(search("source_path IN ('a')"), StatusCode::kInvalidArgument, "");
  ExpectCode(search("version_number LIKE '1'"), StatusCode::kInvalidArgument, "");
  ExpectCode(search("version_number = 1.5"), StatusCode::kInvalidArgument, "");
  ExpectCode(search("tags.k > 'v'"), StatusCode::kInvalidArgument, "");
  ExpectCode(search("metrics.x > 1"), StatusCode::kInvalidArgument, "");
  ExpectCode(search("name = 'm' OR name = 'n'"), StatusCode::kInvalidArgument, "");
  ExpectCode(search("", {"run_id"}), StatusCode::kInvalidArgument, "run_id");
  ExpectCode(search("", {"name", "name"}), StatusCode::kInvalidArgument, "duplicate");
  ExpectCode(search("", {"name sideways"}), StatusCode::kInvalidArgument, "");
  ExpectCode(search("", {}, 0), StatusCode::kInvalidArgument,
             "Invalid value for max_results. It must be a positive integer, but got 0");
  ExpectCode(search("", {}, 200001), StatusCode::kInvalidArgument, "It must be at most 200000");
  // Prompt versions are hidden unless asked for.
  MustCreate("p");
  MustVersion("p", "s3://b/p", {{"mlflow.prompt.is_prompt", "true"}});
  auto all = store_->SearchModelVersions({});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->items.size(), 1u);
  EXPECT_EQ(all->items[0].name, "m");
  auto prompts = store_->SearchModelVersions({"tags.`mlflow.prompt.is_prompt` = 'true'", {}, {}});
  ASSERT_TRUE(prompts.ok());
  ASSERT_EQ(prompts->items.size(), 1u);
  EXPECT_EQ(prompts->items[0].name, "p");
}

INSTANTIATE_TEST_SUITE_P(Backends, RegistryStoreTest, AllBackends(), BackendName);

// ---- internal helpers ----

TEST(RegistryInternalTest, NormPathMatchesPython) {
  using internal::NormPath;
  EXPECT_EQ(NormPath(""), ".");
  EXPECT_EQ(NormPath("a/./b"), "a/b");
  EXPECT_EQ(NormPath("a/../.."), "..");
  EXPECT_EQ(NormPath("/../a"), "/a");
  EXPECT_EQ(NormPath("//a//b/"), "//a/b");
  EXPECT_EQ(NormPath("///a"), "/a");
  EXPECT_EQ(NormPath("a/b/../c"), "a/c");
  EXPECT_TRUE(internal::PathNotUnique("a/"));
  EXPECT_FALSE(internal::PathNotUnique("a b"));
}

TEST(RegistryInternalTest, ModelUris) {
  auto v = internal::ParseModelUri("models:/iris/3");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->name, "iris");
  EXPECT_EQ(v->version, "3");
  auto a = internal::ParseModelUri("models:/iris@champ");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->alias, "champ");
  auto id = internal::ParseModelUri("models:/m-123");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->model_id, "m-123");
  auto latest = internal::ParseModelUri("models:/iris/Latest");
  ASSERT_TRUE(latest.ok());
  EXPECT_TRUE(latest->version.empty() && latest->stage.empty());
  EXPECT_EQ(internal::ParseModelUri("models:/iris/Staging")->stage, "Staging");
  for (const char* bad : {"models:/", "models:/a/b/c", "models:/a/ ", "runs:/a/b", "models:/a@"})
    EXPECT_FALSE(internal::ParseModelUri(bad).ok()) << bad;
  EXPECT_EQ(*internal::RunIdOfRunsUri("runs:/abc/model"), "abc");
  EXPECT_FALSE(internal::RunIdOfRunsUri("runs:/").ok());
}

TEST(RegistryInternalTest, VersionsParseLikePythonInt) {
  EXPECT_EQ(*internal::ParseVersion("12"), 12);
  EXPECT_EQ(*internal::ParseVersion(" +3 "), 3);
  EXPECT_EQ(*internal::ParseVersion("1_0"), 10);
  for (const char* bad : {"", "1.0", "x", "1__0", "_1", "99999999999999999999999"})
    EXPECT_FALSE(internal::ParseVersion(bad).ok()) << bad;
}

TEST(RegistryInternalTest, JsonQuoteEscapesLikePython) {
  EXPECT_EQ(internal::JsonQuote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
  EXPECT_EQ(internal::JsonQuote("é"), "\"\\u00e9\"");
  EXPECT_EQ(internal::PyRepr("it's"), "\"it's\"");
  EXPECT_EQ(internal::PyRepr("ab"), "'ab'");
}

}  // namespace
}  // namespace ferry::registry
