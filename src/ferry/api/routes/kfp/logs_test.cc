// The pipeline-run log route over TCP with the real engine and the local
// executor, on the engine's kfp-compiled shell pipelines
// (src/ferry/pipelines/testdata/engine/): one task, every task, the byte
// limit, following a finished and a running task, and bad input.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "ferry/api/api_server.h"
#include "ferry/api/testing/test_client.h"
#include "ferry/executors/local/local_executor.h"
#include "ferry/pipelines/catalog_store.h"
#include "ferry/pipelines/engine.h"
#include "ferry/store/resource_store.h"
#include "ferry/store/resource_types.h"
#include "ferry/store/testing/test_database.h"

namespace ferry::api {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::Response;

std::string Fixture(const std::string& name) {
  std::ifstream in("src/ferry/pipelines/testdata/engine/" + name + ".yaml");
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_FALSE(text.str().empty()) << "missing testdata " << name << " (run from the source root)";
  return text.str();
}

class LogRouteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ferry-logs-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    tdb_ = store::testing::TestDatabase::Create(store::testing::Backend::kSqlite);
    ASSERT_TRUE(tdb_);
    resources_ = std::make_unique<store::ResourceStore>(&tdb_->db(), Env::Default());
    store::RegisterCoreTypes(types_);
    auto catalog = pipelines::CatalogStore::Open(&tdb_->db(), Env::Default());
    ASSERT_TRUE(catalog.ok()) << catalog.status().ToString();
    catalog_ = std::move(catalog).value();
    executors::LocalExecutorOptions eo;
    eo.state_dir = dir_ + "/executor";
    eo.kill_grace = 500ms;
    auto executor = executors::LocalExecutor::Create(eo);
    ASSERT_TRUE(executor.ok()) << executor.status().ToString();
    executor_ = std::move(executor).value();
    pipelines::EngineOptions o;
    o.data_dir = dir_ + "/data";
    const char* path = getenv("PATH");
    o.base_env = {{"PATH", path ? path : "/usr/bin:/bin"}, {"HOME", dir_}};
    auto engine = pipelines::PipelineEngine::Open(&tdb_->db(), Env::Default(), executor_.get(), o);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(engine).value();

    ApiServices services{&tdb_->db(), resources_.get(), &types_, &metrics_, Env::Default()};
    services.pipelines = engine_.get();
    services.pipeline_catalog = catalog_.get();
    ApiOptions options;
    options.listen = "127.0.0.1:0";
    options.threads = 2;
    options.handler_threads = 2;
    auto server = ApiServer::Start(options, services);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }

  void TearDown() override {
    server_.reset();
    if (engine_) engine_->Shutdown();
    engine_.reset();
    if (executor_) executor_->Shutdown();
    executor_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string Submit(const std::string& fixture, std::map<std::string, Json> params) {
    pipelines::RunRequest r;
    r.pipeline_text = Fixture(fixture);
    r.parameters = std::move(params);
    auto run = engine_->SubmitRun(r);
    EXPECT_TRUE(run.ok()) << run.status().ToString();
    return run.ok() ? run->run_id : "";
  }

  // Waits (bounded by the engine's own progress, not by a clock assertion)
  // until `done` holds for the run.
  pipelines::RunDetail WaitFor(const std::string& run_id,
                               const std::function<bool(const pipelines::RunDetail&)>& done) {
    std::int64_t revision = -1;
    for (int i = 0; i < 6000; ++i) {
      auto detail = engine_->GetRun(run_id);
      EXPECT_TRUE(detail.ok());
      if (!detail.ok() || done(*detail)) return detail.ok() ? *detail : pipelines::RunDetail();
      auto run = engine_->WaitForChange(run_id, revision, 100ms);
      if (run.ok()) revision = run->revision;
    }
    ADD_FAILURE() << "run " << run_id << " never reached the awaited state";
    return {};
  }

  Response Get(const std::string& target) {
    testing::TestConnection conn(server_->url());
    auto response = conn.Request("GET", target);
    EXPECT_TRUE(response) << target;
    return response ? *response : Response();
  }

  static std::string LogPath(const std::string& run_id, const std::string& query = "") {
    return "/api/v1/namespaces/default/pipelineruns/" + run_id + "/log" + query;
  }

  std::string dir_;
  std::unique_ptr<store::testing::TestDatabase> tdb_;
  std::unique_ptr<store::ResourceStore> resources_;
  store::ResourceTypes types_;
  MetricsRegistry metrics_;
  std::unique_ptr<pipelines::CatalogStore> catalog_;
  std::unique_ptr<executors::LocalExecutor> executor_;
  std::unique_ptr<pipelines::PipelineEngine> engine_;
  std::unique_ptr<ApiServer> server_;
};

bool Final(const pipelines::RunDetail& d) { return pipelines::IsFinal(d.run.state); }

TEST_F(LogRouteTest, OneTaskEveryTaskAndTheByteLimit) {
  const std::string id = Submit("exit", {{"counter", dir_ + "/counter"}});
  ASSERT_EQ(WaitFor(id, Final).run.state, pipelines::RunState::kFailed);

  Response one = Get(LogPath(id, "?task=fail-step"));
  EXPECT_EQ(one.result_int(), 200) << one.body();
  EXPECT_EQ(one[boost::beast::http::field::content_type], "text/plain; charset=utf-8");
  EXPECT_EQ(one.body(), "about to fail\n");
  // By path too.
  EXPECT_EQ(Get(LogPath(id, "?task=root/exit-handler-1/fail-step")).body(), "about to fail\n");

  Response every = Get(LogPath(id));
  EXPECT_EQ(every.result_int(), 200);
  const std::string& text = every.body();
  const auto echo = text.find("==> root/exit-handler-1/echo-step <==\n");
  const auto fail = text.find("==> root/exit-handler-1/fail-step <==\nabout to fail\n");
  const auto status = text.find("\n==> root/status-step <==\n");
  ASSERT_NE(echo, std::string::npos) << text;
  ASSERT_NE(fail, std::string::npos) << text;
  ASSERT_NE(status, std::string::npos) << text;
  EXPECT_LT(echo, fail);
  EXPECT_LT(fail, status);
  EXPECT_EQ(text.find("echo-step-2"), std::string::npos) << "never started: no log";

  EXPECT_EQ(Get(LogPath(id, "?task=fail-step&limitBytes=5")).body(), "fail\n");
}

TEST_F(LogRouteTest, BadInputIsNamed) {
  const std::string id = Submit("exit", {{"counter", dir_ + "/counter"}});
  WaitFor(id, Final);
  Response never = Get(LogPath(id, "?task=echo-step-2"));
  EXPECT_EQ(never.result_int(), 404);
  EXPECT_NE(never.body().find("echo-step-2"), std::string::npos) << never.body();
  Response unknown = Get(LogPath(id, "?task=nope"));
  EXPECT_EQ(unknown.result_int(), 404);
  EXPECT_NE(unknown.body().find("nope"), std::string::npos);
  Response limit = Get(LogPath(id, "?limitBytes=x"));
  EXPECT_EQ(limit.result_int(), 400);
  EXPECT_EQ(testing::BodyOf(limit)["error"]["field"], "limitBytes");
  Response follow = Get(LogPath(id, "?follow=maybe"));
  EXPECT_EQ(follow.result_int(), 400);
  EXPECT_EQ(testing::BodyOf(follow)["error"]["field"], "follow");
  Response param = Get(LogPath(id, "?tail=1"));
  EXPECT_EQ(param.result_int(), 400);
  EXPECT_NE(param.body().find("tail"), std::string::npos);
  EXPECT_EQ(Get(LogPath("00000000-0000-0000-0000-000000000000")).result_int(), 404);
  EXPECT_EQ(Get("/api/v1/namespaces/other/pipelineruns/" + id + "/log").result_int(), 404);
}

TEST_F(LogRouteTest, FollowingAFinishedTaskSendsItsLogAndEnds) {
  const std::string id = Submit("exit", {{"counter", dir_ + "/counter"}});
  WaitFor(id, Final);
  testing::TestConnection conn(server_->url());
  conn.Send("GET", LogPath(id, "?task=fail-step&follow=true"));
  ASSERT_TRUE(conn.ReadHeader());
  EXPECT_EQ(conn.StreamHeader()[boost::beast::http::field::content_type], "text/plain; charset=utf-8");
  EXPECT_TRUE(conn.ReadBodyUntil([&](const std::string&) { return conn.StreamComplete(); }));
  EXPECT_EQ(conn.StreamBody(), "about to fail\n");
}

TEST_F(LogRouteTest, FollowingARunningTaskEndsWhenItIsCanceled) {
  const std::string log = dir_ + "/sleep.log";
  const std::string id =
      Submit("sleeper", {{"log", log}, {"counter", dir_ + "/counter"}, {"seconds", 120.0}});
  WaitFor(id, [](const pipelines::RunDetail& d) {
    for (const auto& t : d.tasks)
      if (t.name == "sleep-step" && t.state == pipelines::RunState::kRunning && !t.log_path.empty())
        return true;
    return false;
  });
  testing::TestConnection conn(server_->url());
  conn.Send("GET", LogPath(id, "?task=sleep-step&follow=true"));
  ASSERT_TRUE(conn.ReadHeader());
  EXPECT_EQ(conn.StreamHeader().result_int(), 200);
  EXPECT_FALSE(conn.StreamComplete());
  ASSERT_TRUE(engine_->CancelRun(id).ok());
  EXPECT_TRUE(conn.ReadBodyUntil([&](const std::string&) { return conn.StreamComplete(); }));
  EXPECT_EQ(WaitFor(id, Final).run.state, pipelines::RunState::kCanceled);
}

}  // namespace
}  // namespace ferry::api
