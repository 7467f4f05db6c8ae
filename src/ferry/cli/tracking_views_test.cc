#include "ferry/cli/tracking_views.h"

#include <gtest/gtest.h>

namespace ferry::cli {
namespace {

constexpr std::int64_t kNowMs = 1'700'000'100'000;

TEST(TrackingKindTest, RecognisesTrackingKindsOnly) {
  EXPECT_EQ(TrackingKindOf("experiments"), TrackingKind::kExperiment);
  EXPECT_EQ(TrackingKindOf("Experiment/demo"), TrackingKind::kExperiment);
  EXPECT_EQ(TrackingKindOf("runs"), TrackingKind::kRun);
  EXPECT_EQ(TrackingKindOf("model"), TrackingKind::kModel);
  EXPECT_EQ(TrackingKindOf("registeredmodels"), TrackingKind::kModel);
  EXPECT_EQ(TrackingKindOf("configmaps"), TrackingKind::kNone);
  EXPECT_EQ(TrackingKindOf(""), TrackingKind::kNone);
}

TEST(TrackingTablesTest, RunTableShowsStatusDurationAndMetrics) {
  Json run = Json::parse(R"({
    "info": {"run_id": "abc", "run_name": "bold-fox-1", "experiment_id": "3", "status": "FINISHED",
             "start_time": 1700000000000, "end_time": 1700000002500},
    "data": {"metrics": [{"key": "acc", "value": 0.93125, "step": 1},
                         {"key": "loss", "value": "NaN", "step": 1}]}})");
  auto rows = RunTable({run}, kNowMs);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], (TableRow{"RUN ID", "NAME", "EXPERIMENT", "STATUS", "DURATION", "METRICS", "AGE"}));
  EXPECT_EQ(rows[1], (TableRow{"abc", "bold-fox-1", "3", "FINISHED", "2.5s", "acc=0.9313 loss=NaN", "100s"}));
}

TEST(TrackingTablesTest, RunningRunsMeasureDurationUntilNow) {
  Json run = {{"info", {{"run_id", "r"}, {"status", "RUNNING"}, {"start_time", kNowMs - 30'000}}}};
  auto rows = RunTable({run}, kNowMs);
  EXPECT_EQ(rows[1][4], "30s");
}

TEST(TrackingTablesTest, ModelTableShowsLatestVersionAndAliases) {
  Json model = Json::parse(R"({"name": "iris", "creation_timestamp": 1700000000000,
    "latest_versions": [{"version": "2"}, {"version": "5"}],
    "aliases": [{"alias": "champion", "version": "5"}, {"alias": "old", "version": "2"}]})");
  auto rows = ModelTable({model}, kNowMs);
  EXPECT_EQ(rows[1], (TableRow{"iris", "v5", "champion=5,old=2", "", "100s"}));
}

TEST(TrackingTablesTest, ExperimentTable) {
  Json e = {{"experiment_id", "0"}, {"name", "Default"}, {"lifecycle_stage", "active"},
            {"artifact_location", "mlflow-artifacts:/0"}, {"creation_time", kNowMs - 5000}};
  auto rows = ExperimentTable({e}, kNowMs);
  EXPECT_EQ(rows[1], (TableRow{"0", "Default", "active", "mlflow-artifacts:/0", "5s"}));
}

TEST(DescribeModelTest, ShowsVersionsAliasesAndLineage) {
  Json model = Json::parse(R"({"name": "iris", "aliases": [{"alias": "champion", "version": "2"}]})");
  std::vector<Json> versions = {
      Json::parse(R"({"version": "1", "current_stage": "None", "status": "READY", "run_id": "r1",
                      "source": "models:/m-1"})"),
      Json::parse(R"({"version": "2", "current_stage": "Production", "status": "READY", "run_id": "r2",
                      "source": "models:/m-2"})"),
      Json::parse(R"({"version": "3", "status": "READY"})")};
  std::map<std::string, Json> runs;
  runs["r2"] = Json::parse(R"({
    "info": {"run_id": "r2", "run_name": "train", "experiment_id": "7"},
    "data": {"tags": [{"key": "ferry.pipeline_run_id", "value": "pr-42"}]},
    "inputs": {"dataset_inputs": [{"dataset": {"name": "iris", "digest": "d1", "source_type": "code"}}]}})");
  std::string text = DescribeModelText(model, versions, runs, {}, kNowMs);
  EXPECT_NE(text.find("Name:           iris\n"), std::string::npos) << text;
  EXPECT_NE(text.find("champion -> version 2"), std::string::npos) << text;
  // Newest version first, in the table and in the lineage.
  EXPECT_LT(text.find("  3 "), text.find("  2 ")) << text;
  EXPECT_NE(text.find("version 3 <- (no run recorded)"), std::string::npos) << text;
  EXPECT_NE(text.find("version 2 <- run r2 \"train\" in experiment 7\n"
                      "      part of pipeline run pr-42\n"
                      "      <- dataset iris@d1 (code)\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("version 1 <- run r1 (not found)"), std::string::npos) << text;
}

TEST(DescribeModelTest, LineageFollowsThePipelineRunToTheTasksInputArtifacts) {
  Json model = {{"name", "wine"}};
  std::vector<Json> versions = {Json::parse(R"({"version": "1", "run_id": "r1"})")};
  std::map<std::string, Json> runs;
  runs["r1"] = Json::parse(R"({
    "info": {"run_id": "r1", "experiment_id": "2"},
    "data": {"tags": [{"key": "ferry.pipeline_run_id", "value": "pr-7"},
                      {"key": "ferry.pipeline_task", "value": "root/train"}]}})");
  std::map<std::string, Json> pipeline_runs;
  pipeline_runs["pr-7"] = Json::parse(R"({
    "run_id": "pr-7", "display_name": "wine-pipeline", "state": "SUCCEEDED",
    "run_details": {"task_details": [
      {"task_id": "root/preprocess", "inputs": {"raw": {"artifact_ids": ["/a/raw"]}}},
      {"task_id": "root/train", "inputs": {"test_data": {"artifact_ids": ["/a/test"]},
                                           "train_data": {"artifact_ids": ["/a/train"]},
                                           "odd": {"artifact_ids": [7]}, "bad": 3}}]}})");
  std::string text = DescribeModelText(model, versions, runs, pipeline_runs, kNowMs);
  EXPECT_NE(text.find("version 1 <- run r1 in experiment 2\n"
                      "      part of pipeline run pr-7 \"wine-pipeline\" (SUCCEEDED), task root/train\n"
                      "      <- artifact test_data /a/test\n"
                      "      <- artifact train_data /a/train\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("/a/raw"), std::string::npos) << text;

  // A pipeline run the KFP API no longer knows: the lineage still names it.
  text = DescribeModelText(model, versions, runs, {}, kNowMs);
  EXPECT_NE(text.find("      part of pipeline run pr-7, task root/train\n"), std::string::npos) << text;
}

TEST(DescribeRunTest, HidesSystemTagsAndShowsInputsAndOutputs) {
  Json run = Json::parse(R"({
    "info": {"run_id": "r", "run_name": "n", "experiment_id": "1", "status": "FINISHED",
             "start_time": 1700000000000, "end_time": 1700000001000},
    "data": {"params": [{"key": "lr", "value": "0.1"}],
             "tags": [{"key": "mlflow.user", "value": "me"}, {"key": "team", "value": "a"}]},
    "inputs": {"dataset_inputs": [{"dataset": {"name": "d", "digest": "x"},
                                   "tags": [{"key": "mlflow.data.context", "value": "training"}]}]},
    "outputs": {"model_outputs": [{"model_id": "m-1", "step": 0}]}})");
  std::string text = DescribeRunText(run, {{"name", "exp"}}, kNowMs);
  EXPECT_NE(text.find("Experiment:     1 (exp)"), std::string::npos) << text;
  EXPECT_NE(text.find("  lr=0.1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  team=a\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("mlflow.user"), std::string::npos) << text;
  EXPECT_EQ(DescribeRunText({{"data", {{"tags", Json::array({{{"key", "mlflow.user"}, {"value", "me"}}})}}}},
                            Json(), kNowMs)
                .find("Tags:"),
            std::string::npos);
  EXPECT_NE(text.find("dataset d@x (training)"), std::string::npos) << text;
  EXPECT_NE(text.find("model m-1"), std::string::npos) << text;
}

}  // namespace
}  // namespace ferry::cli
