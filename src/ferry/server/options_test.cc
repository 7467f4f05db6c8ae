#include "ferry/server/options.h"

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

namespace ferry::server {
namespace {

ParsedOptions Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "server");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return ParseServerOptions(static_cast<int>(argv.size()), argv.data());
}

std::string WriteConfig(const std::string& text) {
  std::string tmpl = ::testing::TempDir() + "ferry_cfg_XXXXXX";
  int fd = ::mkstemp(tmpl.data());
  ::close(fd);
  std::ofstream(tmpl) << text;
  return tmpl;
}

class OptionsTest : public ::testing::Test {
 protected:
  void TearDown() override { ::unsetenv("FERRY_LISTEN"); ::unsetenv("FERRY_LOG_LEVEL"); }
};

TEST_F(OptionsTest, Defaults) {
  auto p = Parse({});
  ASSERT_FALSE(p.exit_now);
  EXPECT_EQ(p.options.listen, "127.0.0.1:8080");
  ASSERT_TRUE(ResolveDefaults(p.options).ok());
  EXPECT_EQ(p.options.db, "sqlite://" + p.options.data_dir + "/ferry.db");
  EXPECT_EQ(p.options.artifact_root, "file://" + p.options.data_dir + "/artifacts");
}

TEST_F(OptionsTest, FlagBeatsEnvBeatsConfigFile) {
  std::string cfg = WriteConfig("listen: 127.0.0.1:7001\nlog-level: debug\nmax-body-bytes: 4096\n");
  ::setenv("FERRY_LISTEN", "127.0.0.1:7002", 1);
  auto from_env = Parse({"--config", cfg});
  ASSERT_FALSE(from_env.exit_now);
  EXPECT_EQ(from_env.options.listen, "127.0.0.1:7002");
  EXPECT_EQ(from_env.options.log_level, "debug");  // only the file sets it
  EXPECT_EQ(from_env.options.max_body_bytes, 4096u);

  auto from_flag = Parse({"--config", cfg, "--listen", "127.0.0.1:7003"});
  EXPECT_EQ(from_flag.options.listen, "127.0.0.1:7003");

  ::unsetenv("FERRY_LISTEN");
  auto from_file = Parse({"--config", cfg});
  EXPECT_EQ(from_file.options.listen, "127.0.0.1:7001");
}

TEST_F(OptionsTest, PipelineOptions) {
  auto defaults = Parse({});
  EXPECT_EQ(defaults.options.task_python, "python3");
  EXPECT_TRUE(defaults.options.pipeline_cache);
  EXPECT_EQ(defaults.options.max_concurrent_tasks, 0);

  std::string cfg = WriteConfig("pipeline-cache: off\nmax-concurrent-tasks: 3\n");
  ::setenv("FERRY_TASK_PYTHON", "/opt/py/bin/python", 1);
  auto p = Parse({"--config", cfg});
  ::unsetenv("FERRY_TASK_PYTHON");
  ASSERT_FALSE(p.exit_now);
  EXPECT_EQ(p.options.task_python, "/opt/py/bin/python");
  EXPECT_FALSE(p.options.pipeline_cache);
  EXPECT_EQ(p.options.max_concurrent_tasks, 3);
  EXPECT_TRUE(Parse({"--pipeline-cache", "on", "--config", cfg}).options.pipeline_cache);

  auto bad = Parse({"--pipeline-cache", "maybe"});
  EXPECT_TRUE(bad.exit_now);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(Parse({"--max-concurrent-tasks", "-1"}).exit_code, 2);
}

TEST_F(OptionsTest, BadConfigFilesAreUsageErrors) {
  for (const std::string text : {"listen: [1, 2]\n", "no-such-option: 1\n", "- a\n- b\n", "log-level: loud\n",
                                 "{{{{\n"}) {
    auto p = Parse({"--config", WriteConfig(text)});
    EXPECT_TRUE(p.exit_now) << text;
    EXPECT_EQ(p.exit_code, 2) << text;
  }
  auto missing = Parse({"--config", "/nonexistent/ferry.yaml"});
  EXPECT_TRUE(missing.exit_now);
  EXPECT_NE(missing.exit_code, 0);
}

TEST_F(OptionsTest, InvalidFlagValuesAreUsageErrors) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--log-format", "xml"}, {"--max-body-bytes", "-5"}, {"--threads", "many"}, {"--no-such-flag"}}) {
    auto p = Parse(args);
    EXPECT_TRUE(p.exit_now) << args[0];
    EXPECT_EQ(p.exit_code, 2) << args[0];
  }
  auto help = Parse({"--help"});
  EXPECT_TRUE(help.exit_now);
  EXPECT_EQ(help.exit_code, 0);
}

TEST_F(OptionsTest, HomeIsExpandedAndRelativeDirsMadeAbsolute) {
  auto p = Parse({"--data-dir", "~/x"});
  ASSERT_TRUE(ResolveDefaults(p.options).ok());
  EXPECT_EQ(p.options.data_dir, std::string(std::getenv("HOME")) + "/x");
  auto rel = Parse({"--data-dir", "rel/dir/"});
  ASSERT_TRUE(ResolveDefaults(rel.options).ok());
  EXPECT_EQ(rel.options.data_dir.front(), '/');
  EXPECT_NE(rel.options.data_dir.back(), '/');
}

}  // namespace
}  // namespace ferry::server
