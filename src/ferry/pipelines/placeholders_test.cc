// Tests of KFP placeholder resolution, ExecutorInput and executor outputs.
// Expected texts come from the reference implementations: number formats
// from Go's strconv/encoding/json (printed by a Go program), ExecutorInput
// and argv from kfp.local (kfp 2.16.1's executor_input_utils and
// placeholder_utils run on the same inputs), and real compiled components
// from testdata/.
#include "ferry/pipelines/placeholders.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "ferry/pipelines/placeholders_internal.h"

namespace ferry::pipelines {
namespace {

namespace fs = std::filesystem;

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The container of `executor` in a compiled fixture, read straight from the
// YAML so these tests do not depend on the IR parser.
ContainerSpec FixtureContainer(const std::string& fixture, const std::string& executor) {
  Result<std::vector<Json>> docs =
      ParseYamlDocuments(ReadText("src/ferry/pipelines/testdata/" + fixture + ".yaml"));
  EXPECT_TRUE(docs.ok()) << docs.status().ToString();
  ContainerSpec c;
  if (!docs.ok() || docs->empty()) return c;
  const Json& j = (*docs)[0]["deploymentSpec"]["executors"][executor]["container"];
  c.image = j.value("image", "");
  if (j.contains("command")) c.command = j["command"].get<std::vector<std::string>>();
  if (j.contains("args")) c.args = j["args"].get<std::vector<std::string>>();
  return c;
}

ContainerSpec Args(std::vector<std::string> args) {
  ContainerSpec c;
  c.command = {"prog"};
  c.args = std::move(args);
  return c;
}

ExecutionContext SampleContext() {
  ExecutionContext ctx;
  ctx.parameters["text"] = "hi there";
  ctx.parameters["count"] = 3;
  ctx.parameters["ratio"] = 0.5;
  ctx.parameters["whole"] = 5.0;
  ctx.parameters["flag"] = true;
  ctx.parameters["items"] = Json::parse(R"([1, "two", 3.5])");
  ctx.parameters["config"] = Json::parse(R"({"b": 1.0, "a": [true, null], "h": "<&>"})");
  ctx.parameters["absent"] = nullptr;
  RuntimeArtifact data{"data",
                       {"system.Dataset", "0.0.1"},
                       "/root/run/produce/data",
                       Json::parse(R"({"rows": 3, "note": "n"})")};
  ctx.artifacts["data"] = {data};
  ctx.artifacts["none"] = {};
  ctx.output_parameter_files["Output"] = "/root/run/train/Output";
  ctx.output_artifacts["model"] = {
      "model", {"system.Model", "0.0.1"}, "/root/run/train/model", Json::object()};
  ctx.executor_output_file = "/root/run/train/executor_output.json";
  ctx.pipeline_job_name = "job-1";
  ctx.pipeline_job_uuid = "uuid-1";
  ctx.pipeline_task_name = "train";
  ctx.pipeline_task_uuid = "task-uuid-1";
  ctx.pipeline_root = "/root";
  return ctx;
}

std::string ResolveOne(const std::string& arg, const ExecutionContext& ctx) {
  Result<std::vector<std::string>> argv = ResolveCommand(Args({arg}), ctx);
  EXPECT_TRUE(argv.ok()) << arg << ": " << argv.status().ToString();
  if (!argv.ok()) return "<error>";
  EXPECT_EQ(argv->size(), 2u) << arg;
  return argv->size() == 2 ? (*argv)[1] : "<not one arg>";
}

TEST(GoFormatting, FloatsAsStrconvAndEncodingJsonPrintThem) {
  struct Case {
    double v;
    const char* f;
    const char* g;
    const char* json;
  };
  // Printed by Go 1.x: strconv.FormatFloat(v,'f',-1,64), (v,'g',-1,64), json.Marshal(v).
  const Case cases[] = {
      {0, "0", "0", "0"},
      {5, "5", "5", "5"},
      {-2.5, "-2.5", "-2.5", "-2.5"},
      {0.1, "0.1", "0.1", "0.1"},
      {1e21, "1000000000000000000000", "1e+21", "1e+21"},
      {1e20, "100000000000000000000", "1e+20", "100000000000000000000"},
      {1.5e-7, "0.00000015", "1.5e-07", "1.5e-7"},
      {1e-7, "0.0000001", "1e-07", "1e-7"},
      {1e-6, "0.000001", "1e-06", "0.000001"},
      {123456789.125, "123456789.125", "1.23456789125e+08", "123456789.125"},
      {1e6, "1000000", "1e+06", "1000000"},
      {123456, "123456", "123456", "123456"},
      {1234567, "1234567", "1.234567e+06", "1234567"},
      {0.0001, "0.0001", "0.0001", "0.0001"},
      {0.00001, "0.00001", "1e-05", "0.00001"},
      {2.5e-5, "0.000025", "2.5e-05", "0.000025"},
      {1e100, nullptr, "1e+100", "1e+100"},
  };
  for (const Case& c : cases) {
    if (c.f) {
      EXPECT_EQ(internal::FormatFloatF(c.v), c.f) << c.v;
    }
    EXPECT_EQ(internal::FormatFloatG(c.v), c.g) << c.v;
    EXPECT_EQ(internal::FormatJsonDouble(c.v), c.json) << c.v;
  }
  EXPECT_EQ(internal::FormatFloatF(1e100), "1" + std::string(100, '0'));
  // json.Marshal of map[string]interface{}{"k": "<a&b>\u2028", "b": 1.0, "a": []interface{}{true, nil, 2.5}}
  Json m = {{"k", "<a&b>\u2028"}, {"b", 1.0}, {"a", Json::array({true, nullptr, 2.5})}};
  EXPECT_EQ(internal::GoJson(m, true), R"({"a":[true,null,2.5],"b":1,"k":"\u003ca\u0026b\u003e\u2028"})");
}

TEST(Placeholders, EveryFormResolves) {
  ExecutionContext ctx = SampleContext();
  struct Case {
    std::string arg;
    std::string want;
  };
  const Case cases[] = {
      {"{{$.inputs.parameters['text']}}", "hi there"},
      {"{{$.inputs.parameters['count']}}", "3"},
      {"{{$.inputs.parameters['ratio']}}", "0.5"},
      {"{{$.inputs.parameters['whole']}}", "5"},
      {"{{$.inputs.parameters['flag']}}", "true"},
      {"{{$.inputs.parameters['items']}}", R"([1,"two",3.5])"},
      {"{{$.inputs.parameters['config']}}", R"({"a":[true,null],"b":1,"h":"\u003c\u0026\u003e"})"},
      {"{{$.inputs.parameters['absent']}}", ""},
      {"{{$.inputs.parameters[\"text\"]}}", "hi there"},
      {"{{$.inputs.artifacts['data'].path}}", "/root/run/produce/data"},
      {"{{$.inputs.artifacts['data'].uri}}", "/root/run/produce/data"},
      {"{{$.inputs.artifacts['data'].metadata}}", R"({"note":"n","rows":3})"},
      {"{{$.inputs.artifacts['data'].metadata['rows']}}", "3"},
      {"{{$.inputs.artifacts['data'].metadata['note']}}", "n"},
      {"{{$.inputs.artifacts['data'].metadata['missing']}}", ""},
      {"{{$.inputs.artifacts['none'].uri}}", ""},
      {"{{$.outputs.parameters['Output'].output_file}}", "/root/run/train/Output"},
      {"{{$.outputs.artifacts['model'].path}}", "/root/run/train/model"},
      {"{{$.outputs.artifacts['model'].uri}}", "/root/run/train/model"},
      {"{{$.outputs.artifacts['model'].metadata}}", "{}"},
      {"{{$.outputs.output_file}}", "/root/run/train/executor_output.json"},
      {"{{$.outputMetadataUri}}", "/root/run/train/executor_output.json"},
      {"{{$.pipeline_job_name}}", "job-1"},
      {"{{$.pipeline_job_uuid}}", "uuid-1"},
      {"{{$.pipeline_task_name}}", "train"},
      {"{{$.pipeline_task_uuid}}", "task-uuid-1"},
      {"{{$.pipeline_job_resource_name}}", "job-1"},
      {"{{$.pipeline_root}}", "/root"},
      // Embedded, several in one, and text that only looks like one.
      {"--n={{$.inputs.parameters['count']}}", "--n=3"},
      {"{{$.inputs.parameters['count']}}x{{$.inputs.parameters['flag']}}/{{$.pipeline_task_name}}",
       "3xtrue/train"},
      {"plain {{ text }} {{$abc}} ${x} }}", "plain {{ text }} {{$abc}} ${x} }}"},
      {"", ""},
  };
  for (const Case& c : cases) EXPECT_EQ(ResolveOne(c.arg, ctx), c.want) << c.arg;
}

TEST(Placeholders, FileUriGivesPlainPath) {
  ExecutionContext ctx;
  ctx.artifacts["a"] = {RuntimeArtifact{"a", {}, "file:///data/x", Json::object()}};
  EXPECT_EQ(ResolveOne("{{$.inputs.artifacts['a'].path}}", ctx), "/data/x");
  EXPECT_EQ(ResolveOne("{{$.inputs.artifacts['a'].uri}}", ctx), "file:///data/x");
}

TEST(Placeholders, InsertedTextIsNotResolvedAgain) {
  ExecutionContext ctx;
  ctx.parameters["a"] = "{{$}}";                            // would embed the executor input if re-read
  ctx.parameters["b"] = "{{$.inputs.parameters['nope']}}";  // does not resolve: kept as written
  EXPECT_EQ(ResolveOne("{{$.inputs.parameters['a']}}", ctx), "{{$}}");
  EXPECT_EQ(ResolveOne("<{{$.inputs.parameters['b']}}>", ctx), "<{{$.inputs.parameters['nope']}}>");
}

TEST(Placeholders, SelfReferencesInStringInputsResolve) {
  // What the compiler writes for f-strings and dsl.PIPELINE_*_PLACEHOLDER
  // arguments; kfp.local and the driver resolve them before use.
  ExecutionContext ctx;
  ctx.parameters["pipelinechannel--identity-Output"] = "foo";
  ctx.parameters["string"] = "{{$.inputs.parameters['pipelinechannel--identity-Output']}}-bar";
  ctx.parameters["job"] = "{{$.pipeline_job_name}}/{{$.pipeline_task_name}}";
  ctx.pipeline_job_name = "my-job";
  ctx.pipeline_task_name = "t1";
  EXPECT_EQ(ResolveOne("{{$.inputs.parameters['string']}}", ctx), "foo-bar");
  EXPECT_EQ(ResolveOne("{{$.inputs.parameters['job']}}", ctx), "my-job/t1");
  Json ei = BuildExecutorInput(ctx);
  EXPECT_EQ(ei["inputs"]["parameterValues"]["string"], "foo-bar");
  EXPECT_EQ(ei["inputs"]["parameterValues"]["job"], "my-job/t1");
}

TEST(Placeholders, ConcatAndIfPresent) {
  ExecutionContext ctx;
  ctx.parameters["a"] = "A";
  ctx.parameters["n"] = 2;
  ctx.parameters["opt"] = nullptr;  // optional, not given
  ctx.artifacts["art"] = {RuntimeArtifact{"art", {}, "/x/art", Json::object()}};
  ctx.artifacts["noart"] = {};
  struct Case {
    std::string arg;
    std::vector<std::string> want;
  };
  const Case cases[] = {
      {R"({"Concat": ["x-", "{{$.inputs.parameters['a']}}", "-", "{{$.inputs.parameters['n']}}"]})",
       {"x-A-2"}},
      {R"({"Concat": ["<", {"Concat": ["{{$.inputs.parameters['a']}}", {"Concat": ["!"]}]}, ">"]})",
       {"<A!>"}},
      {R"({"Concat": []})", {""}},
      {R"({"IfPresent": {"InputName": "a", "Then": ["--a", "{{$.inputs.parameters['a']}}"]}})", {"--a", "A"}},
      {R"({"IfPresent": {"InputName": "opt", "Then": ["--opt", "{{$.inputs.parameters['opt']}}"]}})", {}},
      {R"({"IfPresent": {"InputName": "opt", "Then": ["--opt"], "Else": ["--no-opt", "x"]}})",
       {"--no-opt", "x"}},
      {R"({"IfPresent": {"InputName": "missing", "Then": "t", "Else": "e"}})", {"e"}},
      {R"({"IfPresent": {"InputName": "a", "Then": "t", "Else": "e"}})", {"t"}},
      {R"({"IfPresent": {"InputName": "art", "Then": ["{{$.inputs.artifacts['art'].path}}"]}})", {"/x/art"}},
      {R"({"IfPresent": {"InputName": "noart", "Then": ["{{$.inputs.artifacts['noart'].path}}"], "Else": []}})",
       {}},
      {R"({"IfPresent": {"InputName": "a", "Then": {"Concat": ["--a=", "{{$.inputs.parameters['a']}}"]}}})",
       {"--a=A"}},
      {R"({"IfPresent": {"InputName": "a", "Then": [{"Concat": ["--a=", "{{$.inputs.parameters['a']}}"]}, "z"]}})",
       {"--a=A", "z"}},
      {R"({"Concat": ["p", {"IfPresent": {"InputName": "opt", "Then": "-o", "Else": "-d"}}, {"IfPresent": {"InputName": "opt", "Then": "-o"}}]})",
       {"p-d"}},
      // Not a structured placeholder: a JSON object arg stays as it is.
      {R"({"key": "{{$.inputs.parameters['a']}}"})", {R"({"key": "A"})"}},
  };
  for (const Case& c : cases) {
    Result<std::vector<std::string>> argv = ResolveCommand(Args({"before", c.arg, "after"}), ctx);
    ASSERT_TRUE(argv.ok()) << c.arg << ": " << argv.status().ToString();
    std::vector<std::string> want = {"prog", "before"};
    want.insert(want.end(), c.want.begin(), c.want.end());
    want.push_back("after");
    EXPECT_EQ(*argv, want) << c.arg;
  }
}

TEST(Placeholders, ErrorsNameTheArgument) {
  ExecutionContext ctx = SampleContext();
  struct Case {
    std::vector<std::string> args;
    std::string field;
    std::string message_part;
  };
  const Case cases[] = {
      {{"ok", "{{$.inputs.foo}}"}, "args[1]", "unknown placeholder '{{$.inputs.foo}}'"},
      {{"{{$.inputs.parameters['zzz']}}"}, "args[0]", "input parameter 'zzz'"},
      {{"a", "b", "x{{$.inputs.artifacts['zzz'].uri}}"}, "args[2]", "input artifact 'zzz'"},
      {{"{{$.outputs.parameters['zzz'].output_file}}"}, "args[0]", "output parameter 'zzz'"},
      {{"{{$.outputs.artifacts['zzz'].path}}"}, "args[0]", "output artifact 'zzz'"},
      {{"{{$.inputs.artifacts['data'].size}}"}, "args[0]", "unknown placeholder"},
      {{"{{$.inputs.parameters['text'].x}}"}, "args[0]", "unknown placeholder"},
      {{"{{$.outputs.parameters['Output']}}"}, "args[0]", "unknown placeholder"},
      {{"{{$.pipeline_job_create_time_utc}}"}, "args[0]", "unknown placeholder"},
      {{"{{$.inputs.parameters['text']"}, "args[0]", "no closing"},
      {{"{{$.inputs.parameters['text}}"}, "args[0]", "unterminated key"},
      {{"{{$.inputs.parameters[text]}}"}, "args[0]", "quoted key"},
      {{"{{$.}}"}, "args[0]", "expected a name"},
      {{"{{$.inputs parameters}}"}, "args[0]", "unexpected"},
      {{R"({"Concat": ["a", )"}, "args[0]", "malformed Concat/IfPresent"},
      {{R"({"Concat": "a"})"}, "args[0]", "Concat takes a list"},
      {{R"({"Concat": [1]})"}, "args[0]", "expected a string"},
      {{R"({"IfPresent": {"Then": ["a"]}})"}, "args[0]", "InputName"},
      {{R"({"IfPresent": {"InputName": "a", "Than": ["a"]}})"}, "args[0]", "unknown field 'Than'"},
      {{R"({"IfPresent": ["a"]})"}, "args[0]", "IfPresent takes an object"},
      {{R"({"Concat": ["{{$.inputs.parameters['zzz']}}"]})"}, "args[0]", "input parameter 'zzz'"},
  };
  for (const Case& c : cases) {
    Result<std::vector<std::string>> argv = ResolveCommand(Args(c.args), ctx);
    ASSERT_FALSE(argv.ok()) << c.args.back();
    EXPECT_EQ(argv.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(argv.status().field(), c.field) << c.args.back();
    EXPECT_NE(argv.status().message().find(c.message_part), std::string::npos)
        << c.args.back() << " -> " << argv.status().message();
    EXPECT_EQ(argv.status().message().rfind(c.field + ": ", 0), 0u) << argv.status().message();
  }
  ContainerSpec bad_command;
  bad_command.command = {"sh", "{{$.nope}}"};
  Result<std::vector<std::string>> argv = ResolveCommand(bad_command, ctx);
  ASSERT_FALSE(argv.ok());
  EXPECT_EQ(argv.status().field(), "command[1]");
}

TEST(Placeholders, DeeplyNestedStructIsRefused) {
  std::string arg;
  for (int i = 0; i < 200; ++i) arg += R"({"Concat": [)";
  arg += R"("x")";
  for (int i = 0; i < 200; ++i) arg += "]}";
  Result<std::vector<std::string>> argv = ResolveCommand(Args({arg}), ExecutionContext{});
  ASSERT_FALSE(argv.ok());
  EXPECT_EQ(argv.status().field(), "args[0]");
}

TEST(Placeholders, ExecutorInputMatchesKfpLocal) {
  // kfp.local.executor_input_utils.construct_executor_input +
  // executor_input_to_dict for the same component and arguments
  // (json.dumps(sort_keys=True)).
  const char* kfp_local =
      R"({"inputs": {"artifacts": {"data": {"artifacts": [{"metadata": {"note": "a<b", "rows": 3.0}, "name": "data", "type": {"schemaTitle": "system.Dataset", "schemaVersion": "0.0.1"}, "uri": "/root/run/produce/data"}]}}, "parameterValues": {"config": {"a": [true, "x"], "b": 1.0}, "count": 3, "flag": true, "items": [1.0, "two", 3.5], "ratio": 0.5, "text": "hi"}}, "outputs": {"artifacts": {"model": {"artifacts": [{"metadata": {}, "name": "model", "type": {"schemaTitle": "system.Model", "schemaVersion": "0.0.1"}, "uri": "/root/run/train/model"}]}}, "outputFile": "/root/run/train/executor_output.json", "parameters": {"Output": {"outputFile": "/root/run/train/Output"}}}})";
  ExecutionContext ctx;
  ctx.parameters = {{"text", "hi"},
                    {"count", 3},
                    {"ratio", 0.5},
                    {"flag", true},
                    {"items", Json::parse(R"([1, "two", 3.5])")},
                    {"config", Json::parse(R"({"b": 1, "a": [true, "x"]})")}};
  ctx.artifacts["data"] = {RuntimeArtifact{"data",
                                           {"system.Dataset", "0.0.1"},
                                           "/root/run/produce/data",
                                           Json::parse(R"({"rows": 3, "note": "a<b"})")}};
  ctx.output_parameter_files["Output"] = "/root/run/train/Output";
  ctx.output_artifacts["model"] = {
      "model", {"system.Model", "0.0.1"}, "/root/run/train/model", Json::object()};
  ctx.executor_output_file = "/root/run/train/executor_output.json";
  EXPECT_EQ(BuildExecutorInput(ctx), Json::parse(kfp_local));

  // {{$}} is that JSON, compact, with Go's number format (1.0 is 1).
  std::string text = ResolveOne("{{$}}", ctx);
  EXPECT_EQ(Json::parse(text), Json::parse(kfp_local));
  EXPECT_EQ(text.find(' '), std::string::npos) << text;
  EXPECT_NE(text.find(R"("items":[1,"two",3.5])"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("note":"a<b")"), std::string::npos) << text;

  // A component with nothing: kfp.local gives {"inputs": {}, "outputs": {"outputFile": ...}}.
  ExecutionContext empty;
  empty.executor_output_file = "/t/executor_output.json";
  EXPECT_EQ(BuildExecutorInput(empty),
            Json::parse(R"({"inputs": {}, "outputs": {"outputFile": "/t/executor_output.json"}})"));
}

TEST(Placeholders, ExecutorInputCarriesArtifactListsAndOmitsAbsentInputs) {
  ExecutionContext ctx;
  ctx.parameters["given"] = "x";
  ctx.parameters["absent"] = nullptr;
  for (int i = 0; i < 3; ++i) {
    ctx.artifacts["models"].push_back(RuntimeArtifact{
        "m" + std::to_string(i), {"system.Model", "0.0.1"}, "/m/" + std::to_string(i), Json::object()});
  }
  ctx.artifacts["optional_art"] = {};
  Json ei = BuildExecutorInput(ctx);
  ASSERT_EQ(ei["inputs"]["artifacts"]["models"]["artifacts"].size(), 3u);
  EXPECT_EQ(ei["inputs"]["artifacts"]["models"]["artifacts"][2]["uri"], "/m/2");
  EXPECT_FALSE(ei["inputs"]["artifacts"].contains("optional_art"));
  EXPECT_FALSE(ei["inputs"]["parameterValues"].contains("absent"));
  EXPECT_EQ(ei["inputs"]["parameterValues"]["given"], "x");
  // A placeholder on a list input reads the first artifact, as the launcher does.
  EXPECT_EQ(ResolveOne("{{$.inputs.artifacts['models'].uri}}", ctx), "/m/0");
}

TEST(Placeholders, RealContainerComponentMatchesKfpLocal) {
  ContainerSpec c = FixtureContainer("container", "exec-echo-container");
  ASSERT_FALSE(c.args.empty());
  ExecutionContext ctx;
  ctx.parameters = {{"message", "hi"}, {"greeting", "hello"}, {"suffix", "?"}};
  ctx.output_parameter_files["out_file"] = "/r/echo/out_file";
  ctx.executor_output_file = "/r/echo/executor_output.json";
  // kfp.local.placeholder_utils.replace_placeholders on the same command.
  std::vector<std::string> want = {
      "sh",
      "-c",
      "mkdir -p \"$(dirname \"$1\")\" && echo \"$0 hello $GREETING_TARGET\" > \"$1\"",
      "hi",
      "/r/echo/out_file",
      "--suffix",
      "?"};
  Result<std::vector<std::string>> argv = ResolveCommand(c, ctx);
  ASSERT_TRUE(argv.ok()) << argv.status().ToString();
  EXPECT_EQ(*argv, want);

  ctx.parameters["suffix"] = nullptr;
  want.resize(5);
  want.push_back("--no-suffix");
  argv = ResolveCommand(c, ctx);
  ASSERT_TRUE(argv.ok()) << argv.status().ToString();
  EXPECT_EQ(*argv, want);
}

TEST(Placeholders, RealPythonComponentGetsExecutorInput) {
  ContainerSpec c = FixtureContainer("hello_world", "exec-say-hello");
  ASSERT_GE(c.command.size(), 3u);
  ExecutionContext ctx;
  ctx.parameters["name"] = "World";
  ctx.output_parameter_files["Output"] = "/r/say-hello/Output";
  ctx.executor_output_file = "/r/say-hello/executor_output.json";
  Result<std::vector<std::string>> argv = ResolveCommand(c, ctx);
  ASSERT_TRUE(argv.ok()) << argv.status().ToString();
  ASSERT_EQ(argv->size(), c.command.size() + c.args.size());
  EXPECT_EQ((*argv)[c.command.size()], "--executor_input");
  Json ei = Json::parse((*argv)[c.command.size() + 1]);
  EXPECT_EQ(ei, BuildExecutorInput(ctx));
  EXPECT_EQ(ei["inputs"]["parameterValues"]["name"], "World");
  // The Python source in the command passes through untouched.
  EXPECT_EQ(std::vector<std::string>(argv->begin(), argv->begin() + static_cast<long>(c.command.size())),
            c.command);
}

ComponentSpec EchoComponent() {
  ComponentSpec comp;
  comp.name = "comp-echo-container";
  comp.inputs.parameters["message"] = {};
  comp.inputs.parameters["greeting"] = {};
  comp.inputs.parameters["suffix"] = {};
  comp.outputs.parameters["out_file"] = {};
  return comp;
}

TEST(CheckPlaceholders, AcceptsRealComponentsAndNamesWhatIsUndeclared) {
  ContainerSpec c = FixtureContainer("container", "exec-echo-container");
  ComponentSpec comp = EchoComponent();
  const std::string field = "deploymentSpec.executors.exec-echo-container.container";
  EXPECT_TRUE(CheckPlaceholders(c, comp, field).ok());

  ComponentSpec missing_suffix = comp;
  missing_suffix.inputs.parameters.erase("suffix");
  Status st = CheckPlaceholders(c, missing_suffix, field);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.field(), field + ".args[3]");
  EXPECT_NE(st.message().find("'suffix'"), std::string::npos) << st.message();

  ComponentSpec missing_out = comp;
  missing_out.outputs.parameters.clear();
  st = CheckPlaceholders(c, missing_out, field);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.field(), field + ".args[2]");
  EXPECT_NE(st.message().find("output parameter 'out_file'"), std::string::npos) << st.message();

  // Both IfPresent branches are checked, whatever the runtime would take.
  ContainerSpec else_branch = Args(
      {R"({"IfPresent": {"InputName": "message", "Then": [], "Else": ["{{$.inputs.artifacts['x'].path}}"]}})"});
  st = CheckPlaceholders(else_branch, comp, "");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.field(), "args[0]");
  EXPECT_NE(st.message().find("input artifact 'x'"), std::string::npos) << st.message();

  // A parameter is not an artifact.
  st = CheckPlaceholders(Args({"{{$.inputs.artifacts['message'].path}}"}), comp, "c");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.field(), "c.args[0]");

  st = CheckPlaceholders(Args({"{{$.what}}"}), comp, "c");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("unknown placeholder"), std::string::npos);

  ContainerSpec hello = FixtureContainer("hello_world", "exec-say-hello");
  ComponentSpec hello_comp;
  hello_comp.inputs.parameters["name"] = {};
  hello_comp.outputs.parameters["Output"] = {};
  EXPECT_TRUE(CheckPlaceholders(hello, hello_comp, "x").ok());
}

class OutputsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ferry-placeholders-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    ctx_.executor_output_file = (dir_ / "executor_output.json").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const std::string& name, const std::string& content) {
    std::ofstream(dir_ / name, std::ios::binary) << content;
  }
  void Declare(const std::string& name, ParameterType type) {
    ParameterSpec p;
    p.type = type;
    comp_.outputs.parameters[name] = p;
    ctx_.output_parameter_files[name] = (dir_ / name).string();
  }

  fs::path dir_;
  ComponentSpec comp_;
  ExecutionContext ctx_;
};

TEST_F(OutputsTest, ReadsEachTypeFromItsFile) {
  Declare("s", ParameterType::kString);
  Declare("i", ParameterType::kNumberInteger);
  Declare("d", ParameterType::kNumberDouble);
  Declare("b", ParameterType::kBoolean);
  Declare("l", ParameterType::kList);
  Declare("m", ParameterType::kStruct);
  Write("s", "  text with spaces\n");
  Write("i", " 42\n");
  Write("d", "2.5");
  Write("b", "True");
  Write("l", R"([1, "a"])");
  Write("m", R"({"k": {"n": null}})");
  Result<ExecutionOutputs> out = ReadExecutionOutputs(comp_, ctx_);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->parameters["s"], "  text with spaces\n");
  EXPECT_TRUE(out->parameters["i"].is_number_integer());
  EXPECT_EQ(out->parameters["i"], 42);
  EXPECT_TRUE(out->parameters["d"].is_number_float());
  EXPECT_EQ(out->parameters["d"], 2.5);
  EXPECT_EQ(out->parameters["b"], true);
  EXPECT_EQ(out->parameters["l"], Json::parse(R"([1, "a"])"));
  EXPECT_EQ(out->parameters["m"], Json::parse(R"({"k": {"n": null}})"));
}

TEST_F(OutputsTest, TextForms) {
  struct Case {
    ParameterType type;
    std::string text;
    std::optional<Json> want;  // nullopt: refused
  };
  const Case cases[] = {
      {ParameterType::kNumberInteger, "-7", Json(-7)},
      {ParameterType::kNumberInteger, "+7", Json(7)},
      {ParameterType::kNumberInteger, "9223372036854775807", Json(INT64_MAX)},
      {ParameterType::kNumberInteger, "9223372036854775808", std::nullopt},
      {ParameterType::kNumberInteger, "3.0", std::nullopt},
      {ParameterType::kNumberInteger, "abc", std::nullopt},
      {ParameterType::kNumberInteger, "", std::nullopt},
      {ParameterType::kNumberDouble, "1e3", Json(1000.0)},
      {ParameterType::kNumberDouble, "\t-0.25\n", Json(-0.25)},
      {ParameterType::kNumberDouble, "3", Json(3.0)},
      {ParameterType::kNumberDouble, "nan", std::nullopt},
      {ParameterType::kNumberDouble, "1.5x", std::nullopt},
      {ParameterType::kBoolean, "1", Json(true)},
      {ParameterType::kBoolean, "f", Json(false)},
      {ParameterType::kBoolean, "FALSE\n", Json(false)},
      {ParameterType::kBoolean, "yes", std::nullopt},
      {ParameterType::kList, "{}", std::nullopt},
      {ParameterType::kList, "[1,", std::nullopt},
      {ParameterType::kStruct, "[]", std::nullopt},
      {ParameterType::kString, "", Json("")},
  };
  for (const Case& c : cases) {
    comp_ = {};
    Declare("x", c.type);
    Write("x", c.text);
    Result<ExecutionOutputs> out = ReadExecutionOutputs(comp_, ctx_);
    if (c.want) {
      ASSERT_TRUE(out.ok()) << c.text << ": " << out.status().ToString();
      EXPECT_EQ(out->parameters["x"], *c.want) << c.text;
      EXPECT_EQ(out->parameters["x"].type(), c.want->type()) << c.text;
    } else {
      ASSERT_FALSE(out.ok()) << c.text;
      EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
      EXPECT_NE(out.status().message().find("output parameter 'x'"), std::string::npos)
          << out.status().message();
    }
  }
}

TEST_F(OutputsTest, ExecutorOutputHasPriorityAndMergesArtifacts) {
  Declare("Output", ParameterType::kNumberInteger);
  Declare("path_out", ParameterType::kString);
  Declare("f", ParameterType::kNumberDouble);
  Write("Output", "1");  // overridden by the executor output
  Write("path_out", "from file");
  comp_.outputs.artifacts["model"] = {};
  comp_.outputs.artifacts["metrics"] = {};
  ctx_.output_artifacts["model"] = {
      "model", {"system.Model", "0.0.1"}, "/r/model", Json::parse(R"({"keep": 1})")};
  ctx_.output_artifacts["metrics"] = {"metrics", {"system.Metrics", "0.0.1"}, "/r/metrics", Json::object()};
  // What kfp.dsl.executor writes: parameterValues as Python json.dumps
  // them, artifacts with name/uri/metadata (and custom_path, ignored).
  Write("executor_output.json",
        R"({"parameterValues": {"Output": 6.0, "f": 3, "undeclared": "x"},
            "artifacts": {"model": {"artifacts": [{"name": "model", "uri": "/elsewhere/model",
                                                    "metadata": {"accuracy": 0.9}, "custom_path": "/c"}]}}})");
  Result<ExecutionOutputs> out = ReadExecutionOutputs(comp_, ctx_);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->parameters["Output"], 6);
  EXPECT_TRUE(out->parameters["Output"].is_number_integer());
  EXPECT_EQ(out->parameters["f"], 3.0);
  EXPECT_TRUE(out->parameters["f"].is_number_float());
  EXPECT_EQ(out->parameters["path_out"], "from file");
  EXPECT_FALSE(out->parameters.count("undeclared"));
  EXPECT_EQ(out->artifacts["model"].uri, "/elsewhere/model");
  EXPECT_EQ(out->artifacts["model"].metadata, Json::parse(R"({"keep": 1, "accuracy": 0.9})"));
  EXPECT_EQ(out->artifacts["model"].type.schema_title, "system.Model");
  EXPECT_EQ(out->artifacts["metrics"].uri, "/r/metrics");
  EXPECT_EQ(out->artifacts["metrics"].metadata, Json::object());
}

TEST_F(OutputsTest, RefusesWhatIsMissingOrWrong) {
  Declare("x", ParameterType::kNumberInteger);
  Result<ExecutionOutputs> out = ReadExecutionOutputs(comp_, ctx_);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("output parameter 'x' was not produced"), std::string::npos)
      << out.status().message();

  struct Case {
    std::string executor_output;
    std::string message_part;
  };
  const Case cases[] = {
      {R"({"parameterValues": {"x": 2.5}})", "output parameter 'x' is declared NUMBER_INTEGER"},
      {R"({"parameterValues": {"x": "3"}})", "output parameter 'x' is declared NUMBER_INTEGER"},
      {R"({"parameterValues": [1]})", "parameterValues is not an object"},
      {R"([1, 2])", "is not a JSON object"},
      {R"({"parameterValues": )", "is not valid JSON"},
      {R"({"parameterValues": {"x": 1}, "artifacts": {"a": 1}})", "artifacts.a is not an object"},
  };
  for (const Case& c : cases) {
    Write("executor_output.json", c.executor_output);
    if (c.message_part.find("artifacts.a") != std::string::npos) comp_.outputs.artifacts["a"] = {};
    out = ReadExecutionOutputs(comp_, ctx_);
    ASSERT_FALSE(out.ok()) << c.executor_output;
    EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(out.status().message().find(c.message_part), std::string::npos)
        << c.executor_output << " -> " << out.status().message();
  }

  // A declared artifact the task has no slot for and the executor output does not name.
  comp_ = {};
  comp_.outputs.artifacts["ghost"] = {};
  fs::remove(dir_ / "executor_output.json");
  out = ReadExecutionOutputs(comp_, ctx_);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("output artifact 'ghost'"), std::string::npos);

  // An output file that is a directory.
  comp_ = {};
  Declare("d", ParameterType::kString);
  fs::create_directories(dir_ / "d");
  out = ReadExecutionOutputs(comp_, ctx_);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("not a regular file"), std::string::npos) << out.status().message();
}

TEST(Placeholders, NeverCrashOnGarbage) {
  // Mutations of real arguments: every result is a value or an
  // InvalidArgument, never a crash.
  ContainerSpec real = FixtureContainer("container", "exec-echo-container");
  ComponentSpec comp = EchoComponent();
  ExecutionContext ctx = SampleContext();
  std::mt19937 rng(7);
  const std::string alphabet = "{}[]\"'$.:, \\abcIfPresentConcat";
  for (int round = 0; round < 3000; ++round) {
    ContainerSpec c = real;
    for (std::string& arg : c.args) {
      int edits = static_cast<int>(rng() % 4);
      for (int e = 0; e < edits && !arg.empty(); ++e) {
        std::size_t at = rng() % arg.size();
        switch (rng() % 3) {
          case 0:
            arg.erase(at, 1 + rng() % 3);
            break;
          case 1:
            arg.insert(at, 1, alphabet[rng() % alphabet.size()]);
            break;
          default:
            arg[at] = alphabet[rng() % alphabet.size()];
            break;
        }
      }
    }
    Result<std::vector<std::string>> argv = ResolveCommand(c, ctx);
    if (!argv.ok()) {
      EXPECT_EQ(argv.status().code(), StatusCode::kInvalidArgument);
    }
    Status st = CheckPlaceholders(c, comp, "c");
    if (!st.ok()) {
      EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    }
  }
}

}  // namespace
}  // namespace ferry::pipelines
