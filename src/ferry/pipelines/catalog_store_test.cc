// CatalogStore on both backends: experiments (default, names, archive),
// pipelines and versions (upload, names, latest, cascade delete), bad input.

#include "ferry/pipelines/catalog_store.h"

#include <gtest/gtest.h>

#include "ferry/store/testing/test_database.h"

namespace ferry::pipelines {
namespace {

using store::testing::AllBackends;
using store::testing::Backend;
using store::testing::BackendName;
using store::testing::TestDatabase;

class CatalogStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    tdb_ = TestDatabase::Create(GetParam());
    ASSERT_TRUE(tdb_);
    auto opened = CatalogStore::Open(&tdb_->db(), &env_);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    catalog_ = std::move(opened).value();
  }

  Pipeline NewPipeline(std::string name) {
    Pipeline p;
    p.name = std::move(name);
    p.description = "d";
    return p;
  }
  PipelineVersion NewVersion(std::string name, std::string pipeline_id = "") {
    PipelineVersion v;
    v.name = std::move(name);
    v.pipeline_id = std::move(pipeline_id);
    v.pipeline_text = "pipelineInfo: {name: x}\n";
    return v;
  }

  FakeEnv env_;
  std::unique_ptr<TestDatabase> tdb_;
  std::unique_ptr<CatalogStore> catalog_;
};

TEST_P(CatalogStoreTest, DefaultExperimentExistsAndComesBack) {
  auto list = catalog_->ListExperiments();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].display_name, "Default");
  auto id = catalog_->DefaultExperimentId();
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, (*list)[0].experiment_id);

  // Opening again keeps the one default.
  ASSERT_TRUE(CatalogStore::Open(&tdb_->db(), &env_).ok());
  EXPECT_EQ(catalog_->ListExperiments()->size(), 1u);

  ASSERT_TRUE(catalog_->DeleteExperiment(*id).ok());
  EXPECT_TRUE(catalog_->ListExperiments()->empty());
  auto again = catalog_->DefaultExperimentId();
  ASSERT_TRUE(again.ok());
  EXPECT_NE(*again, *id);
  EXPECT_EQ(catalog_->GetExperiment(*again)->display_name, "Default");
}

TEST_P(CatalogStoreTest, ExperimentLifecycle) {
  Experiment e;
  e.display_name = "exp";
  e.description = "desc";
  env_.AdvanceMicros(5);
  auto created = catalog_->CreateExperiment(e);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_FALSE(created->experiment_id.empty());
  EXPECT_EQ(created->created_micros, env_.NowMicros());

  auto dup = catalog_->CreateExperiment(e);
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists);
  // Another namespace may reuse the name.
  e.namespace_ = "team";
  EXPECT_TRUE(catalog_->CreateExperiment(e).ok());

  auto got = catalog_->GetExperiment(created->experiment_id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->description, "desc");
  EXPECT_FALSE(got->archived);

  ASSERT_TRUE(catalog_->SetExperimentArchived(created->experiment_id, true).ok());
  EXPECT_TRUE(catalog_->GetExperiment(created->experiment_id)->archived);
  ASSERT_TRUE(catalog_->SetExperimentArchived(created->experiment_id, false).ok());
  EXPECT_FALSE(catalog_->GetExperiment(created->experiment_id)->archived);

  ASSERT_TRUE(catalog_->TouchExperiment(created->experiment_id, 99).ok());
  ASSERT_TRUE(catalog_->TouchExperiment(created->experiment_id, 50).ok());  // never moves back
  EXPECT_EQ(catalog_->GetExperiment(created->experiment_id)->last_run_created_micros, 99);

  EXPECT_EQ(catalog_->ListExperiments()->size(), 3u);
  ASSERT_TRUE(catalog_->DeleteExperiment(created->experiment_id).ok());
  EXPECT_EQ(catalog_->GetExperiment(created->experiment_id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(catalog_->DeleteExperiment(created->experiment_id).code(), StatusCode::kNotFound);
  EXPECT_EQ(catalog_->SetExperimentArchived("nope", true).code(), StatusCode::kNotFound);
  EXPECT_EQ(catalog_->TouchExperiment("nope", 1).code(), StatusCode::kNotFound);
}

TEST_P(CatalogStoreTest, ExperimentBadInput) {
  Experiment e;
  auto st = catalog_->CreateExperiment(e).status();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.field(), "experiment.display_name");
  e.display_name = "   ";
  EXPECT_EQ(catalog_->CreateExperiment(e).status().code(), StatusCode::kInvalidArgument);
  e.display_name = std::string(300, 'x');
  EXPECT_EQ(catalog_->CreateExperiment(e).status().code(), StatusCode::kInvalidArgument);
  e.display_name = "bad\xff";
  EXPECT_EQ(catalog_->CreateExperiment(e).status().code(), StatusCode::kInvalidArgument);
  e.display_name = "ok";
  e.description = std::string("a\0b", 3);
  st = catalog_->CreateExperiment(e).status();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.field(), "experiment.description");
}

TEST_P(CatalogStoreTest, PipelineAndVersions) {
  Pipeline p = NewPipeline("hello");
  p.tags = {{"team", "ml"}};
  auto created = catalog_->CreatePipelineAndVersion(p, NewVersion(""));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  const auto& [pipeline, v1] = *created;
  EXPECT_EQ(pipeline.display_name, "hello");
  EXPECT_EQ(v1.name, "hello");  // the first version takes the pipeline's name
  EXPECT_EQ(v1.pipeline_id, pipeline.pipeline_id);

  auto got = catalog_->GetPipeline(pipeline.pipeline_id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->tags.at("team"), "ml");
  EXPECT_EQ(catalog_->GetPipelineByName("", "hello")->pipeline_id, pipeline.pipeline_id);
  EXPECT_EQ(catalog_->GetPipelineByName("other", "hello").status().code(), StatusCode::kNotFound);

  // Names are unique, and a failed upload leaves nothing behind.
  EXPECT_EQ(catalog_->CreatePipelineAndVersion(p, NewVersion("")).status().code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(catalog_->ListPipelines()->size(), 1u);

  env_.AdvanceMicros(10);
  auto v2 = catalog_->CreatePipelineVersion(NewVersion("v2", pipeline.pipeline_id));
  ASSERT_TRUE(v2.ok()) << v2.status().ToString();
  EXPECT_EQ(catalog_->CreatePipelineVersion(NewVersion("v2", pipeline.pipeline_id)).status().code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(catalog_->CreatePipelineVersion(NewVersion("v3", "missing")).status().code(),
            StatusCode::kNotFound);

  auto latest = catalog_->LatestPipelineVersion(pipeline.pipeline_id);
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->pipeline_version_id, v2->pipeline_version_id);
  EXPECT_EQ(latest->pipeline_text, "pipelineInfo: {name: x}\n");

  auto versions = catalog_->ListPipelineVersions(pipeline.pipeline_id);
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 2u);
  EXPECT_EQ((*versions)[0].pipeline_version_id, v1.pipeline_version_id);
  EXPECT_TRUE((*versions)[0].pipeline_text.empty());
  EXPECT_EQ(catalog_->ListPipelineVersions("missing").status().code(), StatusCode::kNotFound);

  auto full = catalog_->GetPipelineVersion(pipeline.pipeline_id, v1.pipeline_version_id);
  ASSERT_TRUE(full.ok());
  EXPECT_FALSE(full->pipeline_text.empty());
  EXPECT_EQ(catalog_->GetPipelineVersion("other", v1.pipeline_version_id).status().code(),
            StatusCode::kNotFound);

  // Versions block a plain delete; cascade removes them.
  EXPECT_EQ(catalog_->DeletePipeline(pipeline.pipeline_id, false).code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(catalog_->DeletePipelineVersion(pipeline.pipeline_id, v2->pipeline_version_id).ok());
  EXPECT_EQ(catalog_->DeletePipelineVersion(pipeline.pipeline_id, v2->pipeline_version_id).code(),
            StatusCode::kNotFound);
  ASSERT_TRUE(catalog_->DeletePipeline(pipeline.pipeline_id, true).ok());
  EXPECT_EQ(catalog_->GetPipeline(pipeline.pipeline_id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(catalog_->GetPipelineVersion("", v1.pipeline_version_id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(catalog_->DeletePipeline(pipeline.pipeline_id, true).code(), StatusCode::kNotFound);
}

TEST_P(CatalogStoreTest, BarePipelineHasNoLatestVersion) {
  auto p = catalog_->CreatePipeline(NewPipeline("bare"));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(catalog_->LatestPipelineVersion(p->pipeline_id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(catalog_->LatestPipelineVersion("missing").status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(catalog_->DeletePipeline(p->pipeline_id, false).ok());
}

TEST_P(CatalogStoreTest, PipelineBadInput) {
  auto st = catalog_->CreatePipeline(NewPipeline("")).status();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.field(), "pipeline.name");
  PipelineVersion v = NewVersion("v");
  v.pipeline_text = "  ";
  st = catalog_->CreatePipelineAndVersion(NewPipeline("p"), v).status();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.field(), "pipeline_version.pipeline_spec");
  v.pipeline_text = "bad \xc3";
  EXPECT_EQ(catalog_->CreatePipelineAndVersion(NewPipeline("p"), v).status().code(),
            StatusCode::kInvalidArgument);
  Pipeline p = NewPipeline("p");
  p.tags = {{"k", std::string("\0", 1)}};
  EXPECT_EQ(catalog_->CreatePipeline(p).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(catalog_->ListPipelines()->empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, CatalogStoreTest, AllBackends(), BackendName);

}  // namespace
}  // namespace ferry::pipelines
