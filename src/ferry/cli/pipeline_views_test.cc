#include "ferry/cli/pipeline_views.h"

#include <gtest/gtest.h>

#include "ferry/common/time.h"

namespace ferry::cli {
namespace {

constexpr char kRunId[] = "0b5c3f0e-4d7a-4c1e-9a57-3e1f2b6c8d90";

std::int64_t At(const char* rfc3339) { return ParseRfc3339(rfc3339).value(); }

// A V2beta1Run as GET /apis/v2beta1/runs/{id} returns it (fields Ferry fills).
Json SampleRun() {
  return Json::parse(R"({
    "run_id": "0b5c3f0e-4d7a-4c1e-9a57-3e1f2b6c8d90", "display_name": "demo", "experiment_id": "e1",
    "state": "FAILED", "created_at": "2026-01-01T10:00:00Z", "finished_at": "2026-01-01T10:01:05Z",
    "error": {"code": 2, "message": "task train failed"},
    "runtime_config": {"parameters": {"n": 3, "who": "ferry"}},
    "run_details": {"task_details": [
      {"task_id": "root", "kind": "dag", "state": "FAILED", "start_time": "2026-01-01T10:00:00Z"},
      {"task_id": "root/prep", "kind": "container", "state": "SUCCEEDED", "cached": true, "attempt": 0,
       "start_time": "1970-01-01T00:00:00Z"},
      {"task_id": "root/train", "kind": "container", "state": "FAILED", "attempt": 2,
       "start_time": "2026-01-01T10:00:02Z", "end_time": "2026-01-01T10:01:04Z"},
      {"task_id": "root/eval", "kind": "container", "state": "RUNNING", "attempt": 1,
       "start_time": "2026-01-01T10:01:00Z"}]}})");
}

TEST(PipelineRunKindTest, NamesAndIds) {
  EXPECT_TRUE(IsPipelineRunKind("pipelineruns"));
  EXPECT_TRUE(IsPipelineRunKind("PipelineRun/abc"));
  EXPECT_TRUE(IsPipelineRunKind("pr"));
  EXPECT_FALSE(IsPipelineRunKind("runs"));
  EXPECT_TRUE(IsPipelineRunId(kRunId));
  EXPECT_FALSE(IsPipelineRunId("0b5c3f0e4d7a4c1e9a573e1f2b6c8d90"));  // a tracking run id
  EXPECT_FALSE(IsPipelineRunId("0b5c3f0e-4d7a-4c1e-9a57-3e1f2b6c8d9g"));
}

TEST(PipelineRunKindTest, RunIdOfTargets) {
  EXPECT_EQ(PipelineRunIdOf(kRunId).value(), kRunId);
  EXPECT_EQ(PipelineRunIdOf(std::string("run/") + kRunId).value(), kRunId);
  EXPECT_EQ(PipelineRunIdOf(std::string("pr/") + kRunId).value(), kRunId);
  EXPECT_EQ(PipelineRunIdOf(std::string("configmap/") + kRunId).status().code(),
            StatusCode::kInvalidArgument);
  auto bad = PipelineRunIdOf("run/42");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("\"42\" is not a pipeline run id"), std::string::npos);
}

TEST(ParseParameterTest, SplitsAtTheFirstEquals) {
  auto p = ParseParameter("expr=a=b");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->first, "expr");
  EXPECT_EQ(p->second, "a=b");
  EXPECT_EQ(ParseParameter("empty=").value().second, "");
  EXPECT_FALSE(ParseParameter("novalue").ok());
  EXPECT_FALSE(ParseParameter("=x").ok());
}

TEST(PipelineRunTablesTest, TaskTableShowsStatesDurationsCacheHitsAndAttempts) {
  auto rows = TaskTable(SampleRun(), At("2026-01-01T10:01:30Z"));
  ASSERT_EQ(rows.size(), 4u);  // root left out
  EXPECT_EQ(rows[0], (TableRow{"TASK", "KIND", "STATE", "DURATION", "CACHED", "ATTEMPT"}));
  EXPECT_EQ(rows[1], (TableRow{"prep", "container", "SUCCEEDED", "-", "yes", ""}));
  EXPECT_EQ(rows[2], (TableRow{"train", "container", "FAILED", "62s", "", "2"}));
  EXPECT_EQ(rows[3], (TableRow{"eval", "container", "RUNNING", "30s", "", "1"}));  // until now
}

TEST(PipelineRunTablesTest, RunTableNamesExperiments) {
  Json running = {{"run_id", "r2"},
                  {"display_name", "b"},
                  {"experiment_id", "e2"},
                  {"state", "RUNNING"},
                  {"created_at", "2026-01-01T10:00:00Z"},
                  {"finished_at", "1970-01-01T00:00:00Z"}};
  auto rows = PipelineRunTable({SampleRun(), running}, {{"e1", "nightly"}}, At("2026-01-01T10:02:00Z"));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0], (TableRow{"RUN ID", "NAME", "EXPERIMENT", "STATE", "DURATION", "AGE"}));
  EXPECT_EQ(rows[1], (TableRow{kRunId, "demo", "nightly", "FAILED", "65s", "2m"}));
  EXPECT_EQ(rows[2], (TableRow{"r2", "b", "e2", "RUNNING", "2m", "2m"}));  // until now
}

TEST(PipelineRunTextTest, ShowsRunFieldsParametersAndTasks) {
  std::string text = PipelineRunText(SampleRun(), "nightly", At("2026-01-01T10:01:30Z"));
  EXPECT_NE(text.find("Run ID:      0b5c3f0e-4d7a-4c1e-9a57-3e1f2b6c8d90\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Experiment:  nightly (e1)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("State:       FAILED\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Error:       task train failed\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  n=3\n  who=ferry\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Tasks:\n  TASK "), std::string::npos) << text;
  EXPECT_NE(text.find("\n  train   container   FAILED      62s                 2\n"), std::string::npos)
      << text;
  EXPECT_NE(PipelineRunText(Json::object(), "", 0).find("Tasks:\n  <none>\n"), std::string::npos);
}

TEST(TaskStatesTest, MarksCacheHits) {
  auto states = TaskStates(SampleRun());
  EXPECT_EQ(states.size(), 3u);
  EXPECT_EQ(states["root/prep"], "SUCCEEDED (cached)");
  EXPECT_EQ(states["root/train"], "FAILED");
  EXPECT_FALSE(states.contains("root"));
}

}  // namespace
}  // namespace ferry::cli
