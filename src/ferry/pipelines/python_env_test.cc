// Tests of python_env.h: the recogniser against every command shape the
// real kfp compiler emits (testdata/lightweight_commands.json, written by
// testdata/gen_lightweight_commands.py, whose expectations come from running
// the compiled script through the real sh), look-alikes it must refuse, and
// real environments built with the pinned kfp SDK's interpreter
// (.venv/bin/python, or FERRY_TEST_PYTHON) and pip from the configured index.
#include "ferry/pipelines/python_env.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "ferry/common/json.h"
#include "ferry/pipelines/python_env_internal.h"

namespace ferry::pipelines {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::vector<std::string> Strings(const Json& array) {
  std::vector<std::string> out;
  for (const Json& s : array) out.push_back(s.get<std::string>());
  return out;
}

const Json& Cases() {
  static const Json cases = [] {
    Result<Json> parsed = ParseJson(ReadFile("src/ferry/pipelines/testdata/lightweight_commands.json"));
    EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
    return parsed.ok() ? *parsed : Json::array();
  }();
  return cases;
}

const Json& Case(const std::string& name) {
  for (const Json& c : Cases()) {
    if (c["name"] == name) return c;
  }
  ADD_FAILURE() << "no case " << name;
  static const Json none = Json::object();
  return none;
}

// command + args with the executor-input placeholder replaced.
std::vector<std::string> Argv(const Json& c, const std::string& executor_input = "{}") {
  std::vector<std::string> argv = Strings(c["command"]);
  for (std::string arg : Strings(c["args"])) {
    argv.push_back(arg == "{{$}}" ? executor_input : arg);
  }
  return argv;
}

std::string ReplaceOnce(std::string text, std::string_view from, std::string_view to) {
  const std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "ferry-python-env-XXXXXX").string();
    path_ = mkdtemp(pattern.data()) ? fs::path(pattern) : fs::path();
    EXPECT_FALSE(path_.empty());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string BasePython() {
  if (const char* python = getenv("FERRY_TEST_PYTHON")) return python;
  return (fs::current_path() / ".venv" / "bin" / "python").string();
}

// ---------------------------------------------------------------- recogniser

TEST(ParseLightweightCommandTest, EveryCompilerShape) {
  ASSERT_GE(Cases().size(), 15u);
  for (const Json& c : Cases()) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const std::vector<std::string> argv = Argv(c);
    std::optional<LightweightComponent> parsed = ParseLightweightCommand(argv);
    ASSERT_EQ(parsed.has_value(), c["lightweight"].get<bool>());
    if (!parsed) continue;
    EXPECT_EQ(parsed->packages, Strings(c["packages"]));
    EXPECT_EQ(parsed->pip_options, Strings(c["pip_options"]));
    EXPECT_EQ(parsed->executor_args, Strings(c["executor_args"]));
    EXPECT_NE(parsed->source.find("def add(a: float, b: float) -> float:"), std::string::npos);
    EXPECT_EQ(parsed->source, argv[argv.size() - 5]);
  }
}

// Every lightweight component of the shared pipeline fixtures is recognised;
// the container components there are not.
TEST(ParseLightweightCommandTest, PipelineFixtures) {
  int lightweight = 0;
  int others = 0;
  bool saw_six = false;
  for (const auto& entry : fs::directory_iterator("src/ferry/pipelines/testdata")) {
    if (entry.path().extension() != ".yaml") continue;
    SCOPED_TRACE(entry.path().string());
    Result<Json> spec = ParseYaml(ReadFile(entry.path()));
    ASSERT_TRUE(spec.ok()) << spec.status().ToString();
    const Json* executors = nullptr;
    if (spec->contains("deploymentSpec") && (*spec)["deploymentSpec"].contains("executors")) {
      executors = &(*spec)["deploymentSpec"]["executors"];
    }
    if (executors == nullptr) continue;
    for (const auto& [name, executor] : executors->items()) {
      if (!executor.contains("container")) continue;
      const Json& container = executor["container"];
      std::vector<std::string> argv;
      if (container.contains("command")) argv = Strings(container["command"]);
      bool compiled_python = false;
      for (const auto& word : argv) {
        compiled_python = compiled_python || word.find("kfp.dsl.executor_main") != std::string::npos;
      }
      if (container.contains("args")) {
        for (const auto& arg : Strings(container["args"])) argv.push_back(arg);
      }
      std::optional<LightweightComponent> parsed = ParseLightweightCommand(argv);
      EXPECT_EQ(parsed.has_value(), compiled_python) << name;
      if (parsed) {
        ++lightweight;
        saw_six = saw_six || parsed->packages == std::vector<std::string>{"six==1.16.0"};
        EXPECT_EQ(parsed->executor_args.size(), 4u);
      } else {
        ++others;
      }
    }
  }
  EXPECT_GT(lightweight, 10);
  EXPECT_GT(others, 0);
  EXPECT_TRUE(saw_six) << "packages.yaml's use_six component";
}

TEST(ParseLightweightCommandTest, OlderCompilersWhitespace) {
  // kfp 2.0-2.6 broke the pip line as `--quiet \` + indented continuation,
  // which Python's string folds into a run of blanks.
  std::vector<std::string> argv = Argv(Case("packages"));
  argv[2] = ReplaceOnce(argv[2], "--quiet --no-warn-script-location 'six",
                        "--quiet     --no-warn-script-location 'six");
  argv[5] = ReplaceOnce(argv[5], "executor_main                         --component_module_path",
                        "executor_main --component_module_path");
  std::optional<LightweightComponent> parsed = ParseLightweightCommand(argv);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->packages, (std::vector<std::string>{"six==1.17.0", "tomli>=2,<3"}));
}

// Commands that look like the compiler's but are not run as written by it:
// each must be left to sh.
TEST(ParseLightweightCommandTest, RefusesLookAlikes) {
  const std::vector<std::string> base = Argv(Case("packages"));
  ASSERT_TRUE(ParseLightweightCommand(base));
  struct Mutation {
    std::string name;
    std::size_t index;
    std::string from;
    std::string to;
  };
  const std::vector<Mutation> mutations = {
      {"command after exec", 2, "\"$0\" \"$@\"", "\"$0\" \"$@\"; rm -rf /tmp/x"},
      {"command before pip", 2, "PIP_DISABLE_PIP_VERSION_CHECK=1 ",
       "echo hi; PIP_DISABLE_PIP_VERSION_CHECK=1 "},
      {"extra pip flag", 2, "--no-warn-script-location 'six", "--no-warn-script-location --user 'six"},
      {"unquoted package", 2, "'six==1.17.0'", "six==1.17.0"},
      {"command substitution", 2, "'six==1.17.0'", "'six==1.17.0' $(touch /tmp/x)"},
      {"expanding double quotes", 2, "'six==1.17.0'", "\"six$HOME\""},
      {"backquote", 2, "'six==1.17.0'", "\"six`id`\""},
      {"newline between packages", 2, "'six==1.17.0' 'tomli", "'six==1.17.0'\n'tomli"},
      {"unterminated quote", 2, "'six==1.17.0'", "'six==1.17.0"},
      {"or instead of and", 2, "&& \"$0\"", "|| \"$0\""},
      {"other interpreter", 2, "python3 -m pip install --quiet --no-warn-script-location 'six",
       "python2 -m pip install --quiet --no-warn-script-location 'six"},
      {"no ensurepip", 2, "python3 -m ensurepip --user", "python3 -m ensurepip --usr"},
      {"other $0", 3, "sh", "bash"},
      {"-c for -ec", 4, "-ec", "-c"},
      {"program writes elsewhere", 5, "ephemeral_component.py\"\n", "other.py\"\n"},
      {"program runs other module", 5, "kfp.dsl.executor_main", "kfp.dsl.other_main"},
      {"program does more", 5, "\"$@\"\n", "\"$@\"\nrm -rf /\n"},
      {"other flag", 7, "--executor_input", "--executor-input"},
      {"other flag 2", 9, "--function_to_execute", "--function"},
  };
  for (const auto& m : mutations) {
    std::vector<std::string> argv = base;
    ASSERT_LT(m.index, argv.size()) << m.name;
    argv[m.index] = ReplaceOnce(argv[m.index], m.from, m.to);
    EXPECT_FALSE(ParseLightweightCommand(argv)) << m.name;
  }
  std::vector<std::string> extra_arg = base;
  extra_arg.push_back("--extra");
  EXPECT_FALSE(ParseLightweightCommand(extra_arg));
  std::vector<std::string> missing_arg(base.begin(), base.end() - 1);
  EXPECT_FALSE(ParseLightweightCommand(missing_arg));
  std::vector<std::string> three_lines = base;
  three_lines[2] = ReplaceOnce(three_lines[2], " && \"$0\"",
                               " && python3 -m pip install --quiet --no-warn-script-location 'x' && \"$0\"");
  EXPECT_FALSE(ParseLightweightCommand(three_lines));

  std::vector<std::string> bad_index = Argv(Case("index_urls"));
  bad_index[2] = ReplaceOnce(bad_index[2], "--index-url https://a.example/simple",
                             "--index-url https://a.example/$(id)");
  EXPECT_FALSE(ParseLightweightCommand(bad_index));
  std::vector<std::string> index_order = Argv(Case("index_urls"));
  index_order[2] = ReplaceOnce(index_order[2], "--index-url https://a.example/simple --extra-index-url",
                               "--extra-index-url https://a.example/simple --index-url");
  EXPECT_FALSE(ParseLightweightCommand(index_order));

  EXPECT_FALSE(ParseLightweightCommand({}));
  EXPECT_FALSE(ParseLightweightCommand({"sh"}));
  EXPECT_FALSE(ParseLightweightCommand({"sh", "-c"}));
  EXPECT_FALSE(ParseLightweightCommand({"sh", "-c", "echo hi", "sh"}));
  EXPECT_FALSE(ParseLightweightCommand(
      {"python3", "-m", "kfp.dsl.executor_main", "--executor_input", "{}", "--function_to_execute", "add"}));
}

// No damage to the compiler's scripts crashes the recogniser or changes
// what it reads: a script cut short, or missing a byte outside the quoted
// package names, is refused unless only whitespace went missing.
TEST(ParseLightweightCommandTest, SurvivesEveryTruncationAndDeletion) {
  const std::vector<std::string> base = Argv(Case("quoting"));
  const std::vector<std::string> want = Strings(Case("quoting")["packages"]);
  auto is_ws = [](char c) { return c == ' ' || c == '\n'; };
  const std::size_t words_begin = base[2].find("\"odd'name\"");
  const std::size_t words_end = base[2].find("  &&  ");
  // The compiler's kfp line: its words may be anything (kfp_package_path)
  // and are dropped.
  const std::size_t kfp_begin = base[2].find("'kfp==2.16.1'");
  const std::size_t kfp_end = base[2].find(" && \"$0\"");
  ASSERT_NE(words_begin, std::string::npos);
  ASSERT_NE(words_end, std::string::npos);
  ASSERT_NE(kfp_begin, std::string::npos);
  ASSERT_NE(kfp_end, std::string::npos);
  for (std::size_t index : {std::size_t{2}, std::size_t{5}}) {
    const std::string& text = base[index];
    for (std::size_t i = 0; i < text.size(); ++i) {
      std::vector<std::string> argv = base;
      argv[index] = text.substr(0, i);
      const bool rest_blank = text.find_first_not_of(" \n", i) == std::string::npos;
      EXPECT_EQ(ParseLightweightCommand(argv).has_value(), rest_blank) << index << " cut at " << i;

      argv[index] = text.substr(0, i) + text.substr(i + 1);
      std::optional<LightweightComponent> parsed = ParseLightweightCommand(argv);
      const bool in_words = index == 2 && i >= words_begin && i < words_end;
      const bool in_kfp_line = index == 2 && i > kfp_begin && i + 1 < kfp_end;
      if (!parsed || in_words) continue;
      if (!in_kfp_line) {
        EXPECT_TRUE(is_ws(text[i])) << index << " parsed without byte " << i;
      }
      EXPECT_EQ(parsed->packages, want) << index << " without byte " << i;
    }
  }
}

TEST(IsKfpRequirementTest, Cases) {
  using internal::IsKfpRequirement;
  for (const char* yes : {"kfp", "kfp==2.16.1", "KFP>=2", "kfp >= 2, <3", "kfp; python_version>'3'",
                          "kfp @ git+https://x", "  kfp", "kfp~=2.0", "kfp!=2.1"}) {
    EXPECT_TRUE(IsKfpRequirement(yes)) << yes;
  }
  for (const char* no : {"kfp-kubernetes", "kfp_server_api", "kfp[kubernetes]", "kfp[all]==2", "kfpx", "six",
                         "", "--no-deps", "git+https://github.com/kubeflow/kfp"}) {
    EXPECT_FALSE(IsKfpRequirement(no)) << no;
  }
}

TEST(PythonEnvLastLinesTest, Cases) {
  using internal::LastLines;
  EXPECT_EQ(LastLines("a\nb\nc\n", 2), "b\nc");
  EXPECT_EQ(LastLines("a\nb\nc", 1), "c");
  EXPECT_EQ(LastLines("a\nb", 5), "a\nb");
  EXPECT_EQ(LastLines("", 3), "");
  EXPECT_EQ(LastLines("abc", 0), "");
}

TEST(EnvKeyTextTest, PackageOrderDoesNotMatterButOptionsDo) {
  using internal::EnvKeyText;
  EXPECT_EQ(EnvKeyText({"a", "b"}, {}, "py"), EnvKeyText({"b", "a"}, {}, "py"));
  EXPECT_NE(EnvKeyText({"a", "b"}, {}, "py"), EnvKeyText({"a", "b"}, {}, "py2"));
  EXPECT_NE(EnvKeyText({"a"}, {"--index-url", "x"}, "py"), EnvKeyText({"a"}, {}, "py"));
  EXPECT_NE(EnvKeyText({"-e", "a", "b"}, {}, "py"), EnvKeyText({"-e", "b", "a"}, {}, "py"));
  // Length prefixes keep boundaries: no two lists share a text.
  EXPECT_NE(EnvKeyText({"a b"}, {}, "py"), EnvKeyText({"a", "b"}, {}, "py"));
  EXPECT_NE(EnvKeyText({"a"}, {"b"}, "py"), EnvKeyText({"a", "b"}, {}, "py"));
}

TEST(PythonEnvRunProcessTest, CapturesOutputAndExitCode) {
  Result<internal::ProcessResult> run = internal::RunProcess(
      {"sh", "-c", "echo out; echo err >&2; echo $FERRY_X; exit 3"}, {{"FERRY_X", "from-extra-env"}});
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->exit_code, 3);
  EXPECT_NE(run->output.find("out\n"), std::string::npos);
  EXPECT_NE(run->output.find("err\n"), std::string::npos);
  EXPECT_NE(run->output.find("from-extra-env"), std::string::npos);

  Result<internal::ProcessResult> big =
      internal::RunProcess({"sh", "-c", "yes 0123456789 | head -c 1000000; echo; echo tail"}, {}, 4096);
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->output.size(), 4096u);
  EXPECT_EQ(internal::LastLines(big->output, 1), "tail");

  Result<internal::ProcessResult> killed = internal::RunProcess({"sh", "-c", "kill -9 $$"});
  ASSERT_TRUE(killed.ok());
  EXPECT_EQ(killed->exit_code, 128 + 9);

  EXPECT_FALSE(internal::RunProcess({"/nonexistent/ferry-no-such-binary"}).ok());
  EXPECT_FALSE(internal::RunProcess({}).ok());
}

// ---------------------------------------------------------- environments

TEST(PythonEnvsTest, NoPackagesIsTheBaseInterpreter) {
  TempDir dir;
  PythonEnvs envs({BasePython(), (dir.path() / "envs").string()});
  Result<std::string> python = envs.EnsureEnv({}, {});
  ASSERT_TRUE(python.ok()) << python.status().ToString();
  EXPECT_EQ(*python, BasePython());
  EXPECT_FALSE(fs::exists(dir.path() / "envs"));  // nothing built

  // A wrapper that talks on both sides of the probe's answer.
  const fs::path noisy = dir.path() / "noisy-python";
  std::ofstream(noisy) << "#!/bin/sh\necho 'before {' >&2\n\"" << BasePython()
                       << "\" \"$@\"\nstatus=$?\necho 'after' >&2\nexit $status\n";
  fs::permissions(noisy, fs::perms::owner_all);
  PythonEnvs noisy_envs({noisy.string(), (dir.path() / "envs").string()});
  Result<std::string> wrapped = noisy_envs.EnsureEnv({}, {});
  ASSERT_TRUE(wrapped.ok()) << wrapped.status().ToString();
  EXPECT_EQ(*wrapped, noisy.string());
}

TEST(PythonEnvsTest, BaseWithoutKfpIsRefused) {
  TempDir dir;
  // A venv of the same interpreter without the base's site-packages: no kfp.
  Result<internal::ProcessResult> made =
      internal::RunProcess({BasePython(), "-m", "venv", "--without-pip", (dir.path() / "bare").string()});
  ASSERT_TRUE(made.ok() && made->exit_code == 0) << (made.ok() ? made->output : "");
  const std::string bare = (dir.path() / "bare" / "bin" / "python").string();
  PythonEnvs envs({bare, (dir.path() / "envs").string()});
  Result<std::string> python = envs.EnsureEnv({}, {});
  ASSERT_FALSE(python.ok());
  EXPECT_EQ(python.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(python.status().message().find("cannot import kfp.dsl"), std::string::npos);
  EXPECT_NE(python.status().message().find("No module named 'kfp'"), std::string::npos)
      << python.status().message();

  PythonEnvs missing({(dir.path() / "no-python").string(), (dir.path() / "envs").string()});
  EXPECT_FALSE(missing.EnsureEnv({}, {}).ok());
}

TEST(PythonEnvsTest, BadPackageSpecsAreInvalid) {
  TempDir dir;
  PythonEnvs envs({BasePython(), (dir.path() / "envs").string()});
  Result<std::string> empty = envs.EnsureEnv({"six", ""}, {});
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(empty.status().field(), "packages_to_install[1]");
  EXPECT_EQ(envs.EnsureEnv({std::string("si\0x", 4)}, {}).status().code(), StatusCode::kInvalidArgument);
}

// Real pip from the configured index: tomli is not in the base interpreter.
TEST(PythonEnvsTest, BuildsOnceAndReuses) {
  TempDir dir;
  const fs::path envs_dir = dir.path() / "envs";
  PythonEnvs envs({BasePython(), envs_dir.string()});
  Result<std::string> python = envs.EnsureEnv({"tomli==2.2.1"}, {});
  ASSERT_TRUE(python.ok()) << python.status().ToString();
  const fs::path env_dir = fs::path(*python).parent_path().parent_path();
  EXPECT_EQ(env_dir.parent_path(), envs_dir);
  EXPECT_EQ(env_dir.filename().string().size(), 64u);  // sha256 hex
  EXPECT_TRUE(fs::exists(env_dir / ".ferry-env-ready"));

  Result<internal::ProcessResult> check = internal::RunProcess(
      {*python, "-c", "import tomli, kfp.dsl, sys; print(tomli.loads('a = 1')['a'], sys.prefix)"});
  ASSERT_TRUE(check.ok());
  EXPECT_EQ(check->exit_code, 0) << check->output;
  EXPECT_EQ(internal::LastLines(check->output, 1), "1 " + env_dir.string());
  // The base interpreter itself is untouched.
  Result<internal::ProcessResult> base = internal::RunProcess({BasePython(), "-c", "import tomli"});
  ASSERT_TRUE(base.ok());
  EXPECT_NE(base->exit_code, 0);

  // A hit builds nothing: a file dropped into the env survives, in this
  // instance and in a fresh one (another process's view).
  std::ofstream(env_dir / "sentinel") << "x";
  const auto start = std::chrono::steady_clock::now();
  Result<std::string> again = envs.EnsureEnv({"tomli==2.2.1"}, {});
  const auto hit = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *python);
  PythonEnvs other({BasePython(), envs_dir.string()});
  Result<std::string> third = other.EnsureEnv({"tomli==2.2.1"}, {});
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(*third, *python);
  EXPECT_TRUE(fs::exists(env_dir / "sentinel"));
  std::cout << "[ cache hit ] " << std::chrono::duration_cast<std::chrono::microseconds>(hit).count()
            << " us\n";

  // A half-made env (crash before the marker) is rebuilt, not used.
  fs::remove(env_dir / ".ferry-env-ready");
  PythonEnvs after_crash({BasePython(), envs_dir.string()});
  Result<std::string> rebuilt = after_crash.EnsureEnv({"tomli==2.2.1"}, {});
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status().ToString();
  EXPECT_EQ(*rebuilt, *python);
  EXPECT_FALSE(fs::exists(env_dir / "sentinel"));
  EXPECT_TRUE(fs::exists(env_dir / ".ferry-env-ready"));
}

// Three callers at once, two sharing an instance (the per-key mutex) and
// one with its own (only the lock file serialises it): one pip run.
TEST(PythonEnvsTest, ConcurrentCallersBuildOnce) {
  TempDir dir;
  const fs::path envs_dir = dir.path() / "envs";
  const fs::path pip_log = dir.path() / "pip.log";
  // pip appends to --log: one "Successfully installed" per build.
  const std::vector<std::string> options = {"--log", pip_log.string()};
  PythonEnvs shared({BasePython(), envs_dir.string()});
  PythonEnvs separate({BasePython(), envs_dir.string()});
  Result<std::string> results[3] = {Status(), Status(), Status()};
  std::vector<std::thread> threads;
  threads.emplace_back([&] { results[0] = shared.EnsureEnv({"tomli==2.2.1"}, options); });
  threads.emplace_back([&] { results[1] = shared.EnsureEnv({"tomli==2.2.1"}, options); });
  threads.emplace_back([&] { results[2] = separate.EnsureEnv({"tomli==2.2.1"}, options); });
  for (auto& t : threads) t.join();
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(*r, *results[0]);
  }
  const std::string log = ReadFile(pip_log);
  std::size_t installs = 0;
  for (std::size_t at = log.find("Successfully installed tomli"); at != std::string::npos;
       at = log.find("Successfully installed tomli", at + 1)) {
    ++installs;
  }
  EXPECT_EQ(installs, 1u) << log.size();
}

TEST(PythonEnvsTest, FailedInstallLeavesNothing) {
  TempDir dir;
  const fs::path envs_dir = dir.path() / "envs";
  PythonEnvs envs({BasePython(), envs_dir.string()});
  Result<std::string> python = envs.EnsureEnv({"ferry-no-such-package-xyz==1.0"}, {});
  ASSERT_FALSE(python.ok());
  EXPECT_EQ(python.status().code(), StatusCode::kFailedPrecondition);
  const std::string message = python.status().message();
  EXPECT_NE(message.find("ferry-no-such-package-xyz==1.0"), std::string::npos) << message;
  EXPECT_NE(message.find("No matching distribution found"), std::string::npos) << message;
  for (const auto& entry : fs::directory_iterator(envs_dir)) {
    EXPECT_EQ(entry.path().extension(), ".lock") << entry.path();  // no env dir
  }
}

// ---------------------------------------------------------- end to end

// Runs a real compiled component: the `plain` fixture (base interpreter) and
// one with packages_to_install=['six'] (a built env, where kfp comes from
// the base through the .pth).
TEST(PythonEnvsTest, RunsCompiledComponent) {
  for (const char* name : {"plain", "no_kfp_install_packages"}) {
    SCOPED_TRACE(name);
    TempDir dir;
    const fs::path work = dir.path() / "work";
    fs::create_directories(work);
    const Json executor_input = {{"inputs", {{"parameterValues", {{"a", 1}, {"b", 2}}}}},
                                 {"outputs",
                                  {{"parameters", {{"Output", {{"outputFile", (work / "out").string()}}}}},
                                   {"outputFile", (work / "executor_output.json").string()}}}};
    const std::vector<std::string> argv = Argv(Case(name), executor_input.dump());
    PythonEnvs envs({BasePython(), (dir.path() / "envs").string()});
    Result<LocalInvocation> local = envs.Prepare(argv, work.string());
    ASSERT_TRUE(local.ok()) << local.status().ToString();
    EXPECT_EQ(local->extra_env, LocalCommandEnv());
    ASSERT_GE(local->argv.size(), 5u);
    EXPECT_EQ(local->argv[1], "-m");
    EXPECT_EQ(local->argv[2], "kfp.dsl.executor_main");
    EXPECT_EQ(local->argv[4], (work / "ephemeral_component.py").string());
    EXPECT_EQ(ReadFile(work / "ephemeral_component.py"), argv[argv.size() - 5]);

    const auto start = std::chrono::steady_clock::now();
    Result<internal::ProcessResult> run = internal::RunProcess(local->argv, local->extra_env);
    const auto took = std::chrono::steady_clock::now() - start;
    ASSERT_TRUE(run.ok()) << run.status().ToString();
    ASSERT_EQ(run->exit_code, 0) << run->output;
    std::cout << "[ execution ] " << name << ": "
              << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";
    Result<Json> output = ParseJson(ReadFile(work / "executor_output.json"));
    ASSERT_TRUE(output.ok()) << output.status().ToString();
    ASSERT_TRUE((*output)["parameterValues"]["Output"].is_number()) << output->dump();
    EXPECT_DOUBLE_EQ((*output)["parameterValues"]["Output"].get<double>(), 3.0);
  }
}

TEST(PythonEnvsTest, PrepareLeavesOtherCommandsAlone) {
  TempDir dir;
  PythonEnvs envs({BasePython(), (dir.path() / "envs").string()});
  const std::vector<std::string> argv = {"sh", "-c", "echo hi"};
  Result<LocalInvocation> local = envs.Prepare(argv, dir.path().string());
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->argv, argv);
  EXPECT_TRUE(local->extra_env.empty());
  EXPECT_FALSE(fs::exists(dir.path() / "ephemeral_component.py"));
}

}  // namespace
}  // namespace ferry::pipelines
