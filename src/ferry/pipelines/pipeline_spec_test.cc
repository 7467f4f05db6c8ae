// Tests of the KFP IR parser: every pipeline under testdata/ (compiled by the
// real kfp compiler, see testdata/gen_pipelines.py) parses into the expected
// model; hand-made bad specs (testdata/bad/ and mutations of compiled ones)
// are refused with the field path and a message naming the problem; run
// parameters resolve against the root's inputs; and truncated or mutated
// specs never crash the parser.
#include "ferry/pipelines/pipeline_spec.h"

#include <algorithm>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ferry/pipelines/pipeline_spec_internal.h"

namespace ferry::pipelines {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const char* const kFixtures[] = {
    "hello_world", "params_and_artifacts", "condition", "parallel_for", "exit_handler",
    "retry",       "caching",              "packages",  "container",    "nested_dag",
    "importer",    "oneof",                "chain10",   "fanout200",    "demo",
    "loop_items",
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string FixtureText(const std::string& name) {
  return ReadFile("src/ferry/pipelines/testdata/" + name + ".yaml");
}

PipelineSpec Fixture(const std::string& name) {
  Result<PipelineSpec> spec = ParsePipelineText(FixtureText(name));
  EXPECT_TRUE(spec.ok()) << name << ": " << spec.status().ToString();
  return spec.ok() ? std::move(spec).value() : PipelineSpec{};
}

Json FixtureJson(const std::string& name) {
  Result<Json> doc = ParseYaml(FixtureText(name));
  EXPECT_TRUE(doc.ok()) << doc.status().ToString();
  return doc.ok() ? std::move(doc).value() : Json();
}

const TaskSpec& Task(const DagSpec& dag, const std::string& name) {
  static const TaskSpec kNone;
  auto it = dag.tasks.find(name);
  EXPECT_NE(it, dag.tasks.end()) << "no task " << name;
  return it == dag.tasks.end() ? kNone : it->second;
}

const DagSpec& Dag(const PipelineSpec& spec, const std::string& component) {
  static const DagSpec kNone;
  if (component == "root") return spec.root.dag ? *spec.root.dag : kNone;
  auto it = spec.components.find(component);
  EXPECT_NE(it, spec.components.end()) << "no component " << component;
  if (it == spec.components.end() || !it->second.dag) return kNone;
  return *it->second.dag;
}

void ExpectInvalid(const Status& s, const std::string& field, const std::string& message) {
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_EQ(s.field(), field) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr(message)) << s.ToString();
}

void ExpectSpecInvalid(const Json& spec, const std::string& field, const std::string& message) {
  Result<PipelineSpec> r = ParsePipelineSpec(spec);
  ASSERT_FALSE(r.ok()) << "accepted a bad spec; wanted " << message;
  ExpectInvalid(r.status(), field, message);
}

// ------------------------------------------------------------ the fixtures

TEST(PipelineSpecTest, EveryFixtureParsesAndEveryDagIsOrdered) {
  for (const char* name : kFixtures) {
    SCOPED_TRACE(name);
    PipelineSpec spec = Fixture(name);
    EXPECT_EQ(spec.schema_version, "2.1.0");
    EXPECT_EQ(spec.sdk_version, "kfp-2.16.1");
    ASSERT_TRUE(spec.root.dag.has_value());
    std::vector<const ComponentSpec*> all = {&spec.root};
    for (const auto& [n, c] : spec.components) all.push_back(&c);
    for (const ComponentSpec* c : all) {
      EXPECT_TRUE(c->dag.has_value() != !c->executor_label.empty()) << c->name;
      if (!c->dag) {
        EXPECT_EQ(spec.executors.count(c->executor_label), 1u) << c->name;
        continue;
      }
      // Each task appears once, after everything it depends on.
      const DagSpec& dag = *c->dag;
      ASSERT_EQ(dag.topological_order.size(), dag.tasks.size()) << c->name;
      std::map<std::string, std::size_t> pos;
      for (std::size_t i = 0; i < dag.topological_order.size(); ++i) pos[dag.topological_order[i]] = i;
      for (const auto& [tname, task] : dag.tasks) {
        ASSERT_EQ(pos.count(tname), 1u);
        for (const std::string& d : task.dependent_tasks) EXPECT_LT(pos[d], pos[tname]) << tname;
        for (const auto& [in, src] : task.parameter_inputs) {
          if (!src.producer_task.empty()) {
            EXPECT_LT(pos[src.producer_task], pos[tname]) << tname;
          }
        }
        for (const auto& [in, src] : task.artifact_inputs) {
          if (!src.producer_task.empty()) {
            EXPECT_LT(pos[src.producer_task], pos[tname]) << tname;
          }
        }
      }
    }
  }
}

TEST(PipelineSpecTest, HelloWorld) {
  PipelineSpec spec = Fixture("hello_world");
  EXPECT_EQ(spec.name, "hello-world");
  EXPECT_EQ(spec.description, "One lightweight component.");
  const ParameterSpec& recipient = spec.root.inputs.parameters.at("recipient");
  EXPECT_EQ(recipient.type, ParameterType::kString);
  EXPECT_TRUE(recipient.is_optional);
  EXPECT_EQ(recipient.default_value, Json("World"));
  const TaskSpec& task = Task(Dag(spec, "root"), "say-hello");
  EXPECT_EQ(task.component, "comp-say-hello");
  EXPECT_EQ(task.display_name, "say-hello");
  EXPECT_TRUE(task.enable_cache);
  EXPECT_EQ(task.strategy, TriggerStrategy::kAllUpstreamTasksSucceeded);
  const ParameterSource& name = task.parameter_inputs.at("name");
  EXPECT_EQ(name.kind, ParameterSource::Kind::kComponentInput);
  EXPECT_EQ(name.name, "recipient");
  const ComponentSpec& comp = spec.components.at("comp-say-hello");
  EXPECT_EQ(comp.executor_label, "exec-say-hello");
  EXPECT_EQ(comp.outputs.parameters.at("Output").type, ParameterType::kString);
  const ExecutorSpec& exec = spec.executors.at("exec-say-hello");
  ASSERT_TRUE(exec.container.has_value());
  EXPECT_FALSE(exec.importer.has_value());
  EXPECT_EQ(exec.container->image, "python:3.11");
  EXPECT_EQ(exec.container->command.front(), "sh");
  EXPECT_THAT(exec.container->args, ::testing::Contains("--executor_input"));
  const auto& out = Dag(spec, "root").output_parameters.at("Output");
  ASSERT_EQ(out.selectors.size(), 1u);
  EXPECT_EQ(out.selectors[0].producer_subtask, "say-hello");
  EXPECT_EQ(out.selectors[0].output_key, "Output");
  EXPECT_EQ(spec.root.outputs.parameters.at("Output").type, ParameterType::kString);
}

TEST(PipelineSpecTest, ParamsAndArtifacts) {
  PipelineSpec spec = Fixture("params_and_artifacts");
  const auto& params = spec.root.inputs.parameters;
  EXPECT_EQ(params.at("label").type, ParameterType::kString);
  EXPECT_FALSE(params.at("label").is_optional);
  EXPECT_FALSE(params.at("label").default_value.has_value());
  EXPECT_EQ(params.at("count").type, ParameterType::kNumberInteger);
  // The compiler writes `defaultValue: 3.0`; the model holds the integer.
  ASSERT_TRUE(params.at("count").default_value.has_value());
  EXPECT_TRUE(params.at("count").default_value->is_number_integer());
  EXPECT_EQ(*params.at("count").default_value, Json(3));
  EXPECT_EQ(params.at("ratio").type, ParameterType::kNumberDouble);
  EXPECT_EQ(*params.at("ratio").default_value, Json(0.5));
  EXPECT_EQ(params.at("flag").type, ParameterType::kBoolean);
  EXPECT_EQ(*params.at("flag").default_value, Json(true));
  EXPECT_EQ(params.at("items").type, ParameterType::kList);
  EXPECT_EQ(*params.at("items").default_value, Json::parse("[1, 2, 3]"));
  EXPECT_EQ(params.at("config").type, ParameterType::kStruct);
  EXPECT_EQ(*params.at("config").default_value, Json::parse(R"({"a": 1, "b": "two"})"));
  EXPECT_EQ(*params.at("note").default_value, Json(""));

  const ComponentSpec& produce = spec.components.at("comp-produce");
  EXPECT_EQ(produce.outputs.artifacts.at("dataset").type.schema_title, "system.Dataset");
  EXPECT_EQ(produce.outputs.artifacts.at("dataset").type.schema_version, "0.0.1");
  EXPECT_EQ(produce.outputs.parameters.at("Output").type, ParameterType::kNumberInteger);
  EXPECT_TRUE(produce.inputs.parameters.at("suffix").is_optional);
  EXPECT_EQ(*produce.inputs.parameters.at("scale").default_value, Json(2.5));

  const DagSpec& dag = Dag(spec, "root");
  const TaskSpec& consume = Task(dag, "consume");
  const ArtifactSource& ds = consume.artifact_inputs.at("dataset");
  EXPECT_EQ(ds.kind, ArtifactSource::Kind::kTaskOutput);
  EXPECT_EQ(ds.producer_task, "produce");
  EXPECT_EQ(ds.name, "dataset");
  const ParameterSource& total = consume.parameter_inputs.at("total");
  EXPECT_EQ(total.kind, ParameterSource::Kind::kTaskOutput);
  EXPECT_EQ(total.producer_task, "produce");
  EXPECT_EQ(total.name, "Output");
  EXPECT_EQ(spec.components.at("comp-consume").inputs.artifacts.at("dataset").type.schema_title,
            "system.Dataset");
  EXPECT_THAT(dag.topological_order, ElementsAre("produce", "consume", "say-hello"));
}

TEST(PipelineSpecTest, Condition) {
  PipelineSpec spec = Fixture("condition");
  const DagSpec& branches = Dag(spec, "comp-condition-branches-1");
  ASSERT_EQ(branches.tasks.size(), 3u);
  for (const auto& [name, task] : branches.tasks) {
    EXPECT_THAT(task.condition, HasSubstr("pipelinechannel--flip-coin-Output")) << name;
  }
  EXPECT_THAT(Task(branches, "condition-2").condition, HasSubstr("'heads'"));
  const DagSpec& root = Dag(spec, "root");
  EXPECT_THAT(Task(root, "condition-5").condition, HasSubstr("int(inputs.parameter_values"));
  const ParameterSource& coin = Task(root, "condition-branches-1").parameter_inputs.at(
      "pipelinechannel--flip-coin-Output");
  EXPECT_EQ(coin.kind, ParameterSource::Kind::kTaskOutput);
  EXPECT_EQ(coin.producer_task, "flip-coin");
  EXPECT_THAT(root.topological_order,
              ElementsAre("flip-coin", "condition-branches-1", "random-number", "condition-5", "condition-6"));
}

TEST(PipelineSpecTest, ParallelFor) {
  PipelineSpec spec = Fixture("parallel_for");
  const DagSpec& root = Dag(spec, "root");
  const TaskSpec& outer = Task(root, "for-loop-2");
  ASSERT_TRUE(outer.iterator.has_value());
  EXPECT_EQ(outer.iterator->kind, Iterator::Kind::kRaw);
  EXPECT_EQ(outer.iterator->raw_items, Json::parse("[1, 2, 3]"));
  EXPECT_EQ(outer.iterator->parallelism_limit, 2);
  EXPECT_EQ(outer.iterator->item_input, "pipelinechannel--loop-item-param-1");

  const TaskSpec& inner = Task(Dag(spec, "comp-for-loop-2"), "for-loop-4");
  ASSERT_TRUE(inner.iterator.has_value());
  EXPECT_EQ(inner.iterator->raw_items, Json::parse("[10, 20]"));
  EXPECT_EQ(inner.iterator->parallelism_limit, 0);

  const TaskSpec& numbers = Task(root, "for-loop-5");
  ASSERT_TRUE(numbers.iterator.has_value());
  EXPECT_EQ(numbers.iterator->kind, Iterator::Kind::kInputParameter);
  EXPECT_EQ(numbers.iterator->items_input, "pipelinechannel--numbers");
  EXPECT_EQ(numbers.iterator->item_input, "pipelinechannel--numbers-loop-item");
  EXPECT_EQ(numbers.parameter_inputs.at("pipelinechannel--numbers").name, "numbers");

  // dsl.Collected: the loop DAG's output, consumed after the loop.
  const auto& collected = Dag(spec, "comp-for-loop-5").output_parameters.at("pipelinechannel--square-Output");
  ASSERT_EQ(collected.selectors.size(), 1u);
  EXPECT_EQ(collected.selectors[0].producer_subtask, "square");
  const ParameterSource& values = Task(root, "sum-all").parameter_inputs.at("values");
  EXPECT_EQ(values.producer_task, "for-loop-5");
  EXPECT_EQ(values.name, "pipelinechannel--square-Output");
  EXPECT_EQ(spec.components.at("comp-for-loop-5").outputs.parameters.at("pipelinechannel--square-Output").type,
            ParameterType::kList);
  // dsl.Collected of artifacts: an artifact list out of the loop.
  const ComponentSpec& loop = spec.components.at("comp-for-loop-5");
  EXPECT_TRUE(loop.outputs.artifacts.at("pipelinechannel--write-number-out").is_artifact_list);
  EXPECT_EQ(loop.dag->output_artifacts.at("pipelinechannel--write-number-out").selectors.at(0).producer_subtask,
            "write-number");
  EXPECT_TRUE(spec.components.at("comp-concat-files").inputs.artifacts.at("files").is_artifact_list);
  EXPECT_EQ(Task(root, "concat-files").artifact_inputs.at("files").producer_task, "for-loop-5");
  EXPECT_THAT(root.topological_order, ElementsAre("for-loop-2", "for-loop-5", "concat-files", "sum-all"));
}

TEST(PipelineSpecTest, LoopItemFieldsUseExpressionSelectors) {
  PipelineSpec spec = Fixture("loop_items");
  const TaskSpec& describe = Task(Dag(spec, "comp-for-loop-2"), "describe");
  const ParameterSource& label = describe.parameter_inputs.at("label");
  EXPECT_EQ(label.kind, ParameterSource::Kind::kComponentInput);
  EXPECT_EQ(label.name, "pipelinechannel--loop-item-param-1");
  EXPECT_EQ(label.expression_selector, "parseJson(string_value)[\"label\"]");
  EXPECT_EQ(spec.components.at("comp-for-loop-2").inputs.parameters.at("pipelinechannel--loop-item-param-1").type,
            ParameterType::kStruct);
  const TaskSpec& rows = Task(Dag(spec, "root"), "for-loop-3");
  ASSERT_TRUE(rows.iterator.has_value());
  EXPECT_EQ(rows.iterator->kind, Iterator::Kind::kInputParameter);
  EXPECT_EQ(rows.iterator->parallelism_limit, 1);
  EXPECT_EQ(spec.root.inputs.parameters.at("rows").default_value->at(1).at("size"), Json("M"));
}

TEST(PipelineSpecTest, Accelerators) {
  // As set_accelerator_type('nvidia.com/gpu').set_accelerator_limit(1) compiles.
  Json spec = FixtureJson("container");
  spec["deploymentSpec"]["executors"]["exec-cat-container"]["container"]["resources"] = Json::parse(
      R"({"accelerator": {"count": "1", "resourceCount": "2", "resourceType": "nvidia.com/gpu", "type": "old"}})");
  Result<PipelineSpec> r = ParsePipelineSpec(spec);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const ResourceSpec& res = r->executors.at("exec-cat-container").container->resources;
  EXPECT_EQ(res.accelerator_type, "nvidia.com/gpu");
  EXPECT_EQ(res.accelerator_count, 2);
  spec["deploymentSpec"]["executors"]["exec-cat-container"]["container"]["resources"]["accelerator"]
      ["resourceCount"] = "many";
  ExpectSpecInvalid(spec, "deploymentSpec.executors.exec-cat-container.container.resources.accelerator.resourceCount",
                    "accelerator count");
}

TEST(PipelineSpecTest, ExitHandler) {
  PipelineSpec spec = Fixture("exit_handler");
  const DagSpec& root = Dag(spec, "root");
  const TaskSpec& exit = Task(root, "exit-op");
  EXPECT_EQ(exit.strategy, TriggerStrategy::kAllUpstreamTasksCompleted);
  const ParameterSource& status = exit.parameter_inputs.at("status");
  EXPECT_EQ(status.kind, ParameterSource::Kind::kTaskFinalStatus);
  EXPECT_EQ(status.producer_task, "exit-handler-1");
  EXPECT_EQ(exit.parameter_inputs.at("user_input").constant, Json("cleaning up"));
  EXPECT_EQ(spec.components.at("comp-exit-op").inputs.parameters.at("status").type,
            ParameterType::kTaskFinalStatus);
  EXPECT_EQ(Task(root, "exit-handler-1").display_name, "guarded");
  EXPECT_EQ(Dag(spec, "comp-exit-handler-1").tasks.size(), 2u);
  EXPECT_THAT(root.topological_order, ElementsAre("exit-handler-1", "exit-op"));
}

TEST(PipelineSpecTest, Retry) {
  PipelineSpec spec = Fixture("retry");
  const TaskSpec& flaky = Task(Dag(spec, "root"), "flaky");
  EXPECT_EQ(flaky.retry.max_retry_count, 3);
  EXPECT_EQ(flaky.retry.backoff_seconds, 0);
  EXPECT_EQ(flaky.retry.backoff_factor, 2.0);
  EXPECT_EQ(flaky.retry.backoff_max_seconds, 3600);
  EXPECT_EQ(Task(Dag(Fixture("hello_world"), "root"), "say-hello").retry.max_retry_count, 0);
}

TEST(PipelineSpecTest, Caching) {
  PipelineSpec spec = Fixture("caching");
  const DagSpec& root = Dag(spec, "root");
  EXPECT_TRUE(Task(root, "slow-add").enable_cache);
  // set_caching_options(False) compiles to `cachingOptions: {}`.
  EXPECT_FALSE(Task(root, "slow-add-2").enable_cache);
  EXPECT_EQ(Task(root, "slow-add-2").display_name, "uncached-add");
}

TEST(PipelineSpecTest, Container) {
  PipelineSpec spec = Fixture("container");
  const ContainerSpec& c = *spec.executors.at("exec-echo-container").container;
  EXPECT_EQ(c.image, "alpine:3.19");
  EXPECT_THAT(c.command, ElementsAre("sh", "-c"));
  ASSERT_EQ(c.args.size(), 4u);
  EXPECT_THAT(c.args[0], HasSubstr("\"Concat\""));
  EXPECT_EQ(c.args[2], "{{$.outputs.parameters['out_file'].output_file}}");
  EXPECT_THAT(c.args[3], HasSubstr("\"IfPresent\""));
  EXPECT_EQ(c.env.at("GREETING_TARGET"), "world");
  EXPECT_DOUBLE_EQ(c.resources.cpu_request, 0.5);
  EXPECT_DOUBLE_EQ(c.resources.cpu_limit, 1.0);
  EXPECT_EQ(c.resources.memory_request, 512LL * 1024 * 1024);
  EXPECT_EQ(c.resources.memory_limit, 1'000'000'000LL);
  const DagSpec& root = Dag(spec, "root");
  EXPECT_FALSE(Task(root, "echo-container").enable_cache);
  EXPECT_EQ(Task(root, "echo-container").parameter_inputs.at("suffix").constant, Json("?"));
  EXPECT_THAT(root.topological_order, ElementsAre("echo-container", "cat-container"));
}

TEST(PipelineSpecTest, NestedDag) {
  PipelineSpec spec = Fixture("nested_dag");
  const ComponentSpec& inner = spec.components.at("comp-inner");
  ASSERT_TRUE(inner.dag.has_value());
  EXPECT_EQ(inner.dag->output_artifacts.at("data").selectors.at(0).producer_subtask, "make-dataset");
  EXPECT_EQ(inner.dag->output_parameters.at("total").selectors.at(0).output_key, "Output");
  EXPECT_EQ(inner.outputs.artifacts.at("data").type.schema_title, "system.Dataset");
  const DagSpec& root = Dag(spec, "root");
  EXPECT_EQ(Task(root, "count-lines").artifact_inputs.at("data").producer_task, "inner");
  // Ties broken by name once dependencies are met.
  EXPECT_THAT(root.topological_order, ElementsAre("inner", "add-pair", "announce", "count-lines"));
}

TEST(PipelineSpecTest, Importer) {
  PipelineSpec spec = Fixture("importer");
  const ImporterSpec& fixed = *spec.executors.at("exec-importer").importer;
  EXPECT_EQ(fixed.uri_constant, "file:///tmp/ferry-importer/fixed.txt");
  EXPECT_TRUE(fixed.uri_parameter.empty());
  EXPECT_FALSE(fixed.reimport);
  EXPECT_EQ(fixed.type.schema_title, "system.Dataset");
  EXPECT_EQ(fixed.metadata, Json::parse(R"({"source": "constant"})"));
  const ImporterSpec& dynamic = *spec.executors.at("exec-importer-2").importer;
  EXPECT_EQ(dynamic.uri_parameter, "uri");
  EXPECT_TRUE(dynamic.reimport);
  EXPECT_EQ(Task(Dag(spec, "root"), "importer-2").parameter_inputs.at("uri").name, "uri");
}

TEST(PipelineSpecTest, OneOf) {
  PipelineSpec spec = Fixture("oneof");
  const DagSpec& branches = Dag(spec, "comp-condition-branches-1");
  ASSERT_EQ(branches.output_parameters.size(), 1u);
  const DagOutputParameter& out = branches.output_parameters.begin()->second;
  ASSERT_EQ(out.selectors.size(), 2u);
  EXPECT_EQ(out.selectors[0].producer_subtask, "condition-2");
  EXPECT_EQ(out.selectors[1].producer_subtask, "condition-3");
}

TEST(PipelineSpecTest, Chain10IsOrderedByDependencyNotName) {
  PipelineSpec spec = Fixture("chain10");
  std::vector<std::string> want = {"increment"};
  for (int i = 2; i <= 10; ++i) want.push_back("increment-" + std::to_string(i));
  EXPECT_EQ(Dag(spec, "root").topological_order, want);
  EXPECT_EQ(Task(Dag(spec, "root"), "increment").parameter_inputs.at("x").name, "start");
  EXPECT_EQ(*spec.root.inputs.parameters.at("start").default_value, Json(0));
}

TEST(PipelineSpecTest, Fanout200) {
  PipelineSpec spec = Fixture("fanout200");
  const TaskSpec& loop = Task(Dag(spec, "root"), "for-loop-2");
  ASSERT_TRUE(loop.iterator.has_value());
  ASSERT_EQ(loop.iterator->raw_items.size(), 200u);
  EXPECT_EQ(loop.iterator->raw_items[199], Json(199));
}

TEST(PipelineSpecTest, Demo) {
  PipelineSpec spec = Fixture("demo");
  EXPECT_EQ(spec.name, "wine-demo");
  EXPECT_THAT(Dag(spec, "root").topological_order,
              ElementsAre("load-wine", "preprocess", "train-model", "evaluate"));
  EXPECT_EQ(spec.components.at("comp-evaluate").outputs.artifacts.at("metrics").type.schema_title,
            "system.Metrics");
  EXPECT_EQ(spec.components.at("comp-train-model").outputs.artifacts.at("model").type.schema_title,
            "system.Model");
  EXPECT_EQ(*spec.root.inputs.parameters.at("test_size").default_value, Json(0.25));
}

TEST(PipelineSpecTest, AcceptsJsonSnakeCaseAndPipelineJob) {
  Json spec = FixtureJson("hello_world");
  Result<PipelineSpec> json = ParsePipelineText(spec.dump());
  ASSERT_TRUE(json.ok()) << json.status().ToString();
  EXPECT_EQ(json->name, "hello-world");

  Json snake = spec;
  snake["pipeline_info"] = snake["pipelineInfo"];
  snake.erase("pipelineInfo");
  snake["root"]["dag"]["tasks"]["say-hello"]["component_ref"] = snake["root"]["dag"]["tasks"]["say-hello"]["componentRef"];
  snake["root"]["dag"]["tasks"]["say-hello"].erase("componentRef");
  Result<PipelineSpec> s = ParsePipelineSpec(snake);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(Task(*s->root.dag, "say-hello").component, "comp-say-hello");

  Json both = snake;
  both["pipelineInfo"] = both["pipeline_info"];
  ExpectSpecInvalid(both, "pipeline_info", "given twice");

  Json job = {{"displayName", "run"}, {"pipelineSpec", spec}, {"runtimeConfig", {{"parameterValues", {}}}}};
  Result<PipelineSpec> j = ParsePipelineText(job.dump());
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  EXPECT_EQ(j->name, "hello-world");
  job["pipelineSpec"]["schemaVersion"] = "3.0.0";
  Result<PipelineSpec> bad = ParsePipelineText(job.dump());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().field(), "pipelineSpec.schemaVersion");
}

TEST(PipelineSpecTest, PlatformSpecIsRefused) {
  std::string text = FixtureText("hello_world");
  EXPECT_TRUE(ParsePipelineText(text + "\n---\nplatforms: {}\n").ok());
  Result<PipelineSpec> r = ParsePipelineText(
      text + "\n---\nplatforms:\n  kubernetes:\n    deploymentSpec:\n      executors:\n        exec-say-hello:\n"
             "          secretAsEnv:\n          - secretName: s\n");
  ASSERT_FALSE(r.ok());
  ExpectInvalid(r.status(), "platforms.kubernetes.deploymentSpec.executors.exec-say-hello.secretAsEnv",
                "platform config");
}

// ------------------------------------------------------------- bad specs

struct BadFile {
  const char* file;
  const char* field;
  const char* message;
};

TEST(PipelineSpecTest, BadFixturesAreRefused) {
  const BadFile cases[] = {
      {"malformed.yaml", "", ""},
      {"schema_version.yaml", "schemaVersion", "unsupported schemaVersion `9.9.9`"},
      {"missing_component.yaml", "root.dag.tasks.say-hello.componentRef.name", "unknown component `comp-missing`"},
      {"cyclic.yaml", "root.dag.tasks.first", "cycle: first -> second -> first"},
      {"unknown_placeholder.yaml", "deploymentSpec.executors.exec-echo.container.args[0]", "nope"},
      {"unsupported_feature.yaml", "deploymentSpec.executors.exec-importer.importer.downloadToWorkspace",
       "`dsl.importer` with `downloadToWorkspace` is not supported"},
      {"unknown_field.yaml", "root.dag.tasks.say-hello.retryPolicyy", "unknown field `retryPolicyy`"},
  };
  for (const BadFile& c : cases) {
    SCOPED_TRACE(c.file);
    Result<PipelineSpec> r = ParsePipelineText(ReadFile(std::string("src/ferry/pipelines/testdata/bad/") + c.file));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
    if (std::string(c.field).empty()) continue;  // YAML syntax: position in the message
    ExpectInvalid(r.status(), c.field, c.message);
  }
}

TEST(PipelineSpecTest, ReferencesAreChecked) {
  const Json base = FixtureJson("params_and_artifacts");
  const std::string consume = "/root/dag/tasks/consume";
  auto mutate = [&](const std::string& pointer, const Json& value) {
    Json spec = base;
    spec[Json::json_pointer(pointer)] = value;
    return spec;
  };
  ExpectSpecInvalid(mutate(consume + "/inputs/parameters/total/taskOutputParameter/producerTask", "nobody"),
                    "root.dag.tasks.consume.inputs.parameters.total.taskOutputParameter.producerTask",
                    "producer task `nobody` is not a task of the same DAG");
  ExpectSpecInvalid(mutate(consume + "/inputs/parameters/total/taskOutputParameter/outputParameterKey", "nope"),
                    "root.dag.tasks.consume.inputs.parameters.total.taskOutputParameter.outputParameterKey",
                    "has no output parameter `nope`");
  ExpectSpecInvalid(mutate(consume + "/inputs/artifacts/dataset/taskOutputArtifact/outputArtifactKey", "x"),
                    "root.dag.tasks.consume.inputs.artifacts.dataset.taskOutputArtifact.outputArtifactKey",
                    "has no output artifact `x`");
  ExpectSpecInvalid(mutate("/root/dag/tasks/produce/inputs/parameters/text/componentInputParameter", "nope"),
                    "root.dag.tasks.produce.inputs.parameters.text.componentInputParameter",
                    "`nope` is not an input parameter of the enclosing component `root`");
  ExpectSpecInvalid(mutate(consume + "/dependentTasks", Json::array({"ghost"})),
                    "root.dag.tasks.consume.dependentTasks[0]", "dependent task `ghost`");
  ExpectSpecInvalid(mutate(consume + "/inputs/parameters/extra", {{"runtimeValue", {{"constant", 1}}}}),
                    "root.dag.tasks.consume.inputs.parameters.extra", "has no input parameter `extra`");
  ExpectSpecInvalid(mutate("/components/comp-consume/executorLabel", "exec-gone"),
                    "components.comp-consume.executorLabel", "unknown executor `exec-gone`");
  {
    Json spec = base;
    spec["root"]["dag"]["tasks"]["consume"]["inputs"]["parameters"].erase("total");
    ExpectSpecInvalid(spec, "root.dag.tasks.consume.inputs.parameters", "required input parameter `total`");
  }
  // A constant of the wrong type for the component's input.
  ExpectSpecInvalid(mutate("/root/dag/tasks/produce/inputs/parameters/count",
                           {{"runtimeValue", {{"constant", "three"}}}}),
                    "root.dag.tasks.produce.inputs.parameters.count.runtimeValue.constant",
                    "must be NUMBER_INTEGER, got string");
  ExpectSpecInvalid(mutate("/root/inputDefinitions/parameters/count/defaultValue", 2.5),
                    "root.inputDefinitions.parameters.count.defaultValue", "must be NUMBER_INTEGER");
  ExpectSpecInvalid(mutate("/root/inputDefinitions/parameters/count/parameterType", "NUMBER"),
                    "root.inputDefinitions.parameters.count.parameterType", "unknown parameter type `NUMBER`");
  ExpectSpecInvalid(mutate("/pipelineInfo/name", ""), "pipelineInfo.name", "needs a name");
  ExpectSpecInvalid(mutate("/root/dag/tasks/consume/taskInfo", "x"), "root.dag.tasks.consume.taskInfo",
                    "must be an object");
  ExpectSpecInvalid(mutate("/root/dag/tasks/consume/triggerPolicy", {{"strategy", "SOMETIMES"}}),
                    "root.dag.tasks.consume.triggerPolicy.strategy", "unknown trigger strategy");
  ExpectSpecInvalid(mutate("/root/dag/tasks/consume/retryPolicy", {{"maxRetryCount", 1}, {"backoffDuration", "5m"}}),
                    "root.dag.tasks.consume.retryPolicy.backoffDuration", "invalid duration `5m`");
  ExpectSpecInvalid(mutate("/root/dag/tasks/consume/cachingOptions", {{"cacheKey", "k"}}),
                    "root.dag.tasks.consume.cachingOptions.cacheKey", "cache_key");
  ExpectSpecInvalid(mutate("/deploymentSpec/executors/exec-consume/container/lifecycle",
                           {{"preCacheCheck", {{"command", {"true"}}}}}),
                    "deploymentSpec.executors.exec-consume.container.lifecycle", "`lifecycle`");
  ExpectSpecInvalid(mutate("/components/comp-consume/singlePlatformSpecs", Json::array({{{"platform", "x"}}})),
                    "components.comp-consume.singlePlatformSpecs", "`singlePlatformSpecs`");
  ExpectSpecInvalid(mutate("/deploymentSpec/executors/exec-consume/resolver", {{"outputArtifactQueries", {}}}),
                    "deploymentSpec.executors.exec-consume.resolver", "`resolver`");
  ExpectSpecInvalid(mutate("/deploymentSpec/executors/exec-consume/container/resources",
                           {{"resourceMemoryRequest", "lots"}}),
                    "deploymentSpec.executors.exec-consume.container.resources.resourceMemoryRequest",
                    "invalid memory quantity `lots`");
  ExpectSpecInvalid(mutate("/components/comp-produce/outputDefinitions/artifacts/dataset/artifactType",
                           {{"instanceSchema", "title: x"}}),
                    "components.comp-produce.outputDefinitions.artifacts.dataset.artifactType.instanceSchema",
                    "`instanceSchema`");
  ExpectSpecInvalid(mutate("/root/dag/tasks/consume/iteratorPolicy", {{"parallelismLimit", 2}}),
                    "root.dag.tasks.consume.iteratorPolicy", "only valid on a ParallelFor task");
  ExpectSpecInvalid(Json::array(), "", "must be an object");
  ExpectSpecInvalid(Json(), "", "must be an object");
}

TEST(PipelineSpecTest, TaskOutputMustComeFromTheSameDag) {
  // comp-consume's producer `produce` lives in root, not in a nested DAG.
  Json spec = FixtureJson("nested_dag");
  spec["components"]["comp-inner"]["dag"]["tasks"]["make-dataset"]["inputs"]["parameters"]["n"] = {
      {"taskOutputParameter", {{"producerTask", "inner"}, {"outputParameterKey", "total"}}}};
  ExpectSpecInvalid(spec, "components.comp-inner.dag.tasks.make-dataset.inputs.parameters.n.taskOutputParameter.producerTask",
                    "producer task `inner` is not a task of the same DAG as `make-dataset`");
}

TEST(PipelineSpecTest, DagOutputsAndIteratorsAreChecked) {
  Json spec = FixtureJson("parallel_for");
  Json bad = spec;
  bad["components"]["comp-for-loop-5"]["dag"]["outputs"]["parameters"]["pipelinechannel--square-Output"]
     ["valueFromParameter"]["producerSubtask"] = "cube";
  ExpectSpecInvalid(bad,
                    "components.comp-for-loop-5.dag.outputs.parameters.pipelinechannel--square-Output.producerSubtask",
                    "producer subtask `cube`");
  bad = spec;
  bad["root"]["dag"]["tasks"]["for-loop-5"]["parameterIterator"]["items"]["inputParameter"] = "nope";
  ExpectSpecInvalid(bad, "root.dag.tasks.for-loop-5.parameterIterator.items.inputParameter",
                    "`nope`, which is not an input parameter of the task");
  bad = spec;
  bad["root"]["dag"]["tasks"]["for-loop-2"]["parameterIterator"]["items"]["raw"] = "{\"a\": 1}";
  ExpectSpecInvalid(bad, "root.dag.tasks.for-loop-2.parameterIterator.items.raw", "must be a JSON list");
  bad = spec;
  bad["root"]["dag"]["tasks"]["for-loop-2"]["parameterIterator"]["itemInput"] = "nope";
  ExpectSpecInvalid(bad, "root.dag.tasks.for-loop-2.parameterIterator.itemInput", "`itemInput` names `nope`");
  bad = spec;
  bad["components"]["comp-for-loop-5"]["dag"].erase("outputs");
  ExpectSpecInvalid(bad, "components.comp-for-loop-5.outputDefinitions.parameters.pipelinechannel--square-Output",
                    "`dag.outputs` does not produce it");
}

TEST(PipelineSpecTest, ConditionsAreParsed) {
  Json spec = FixtureJson("condition");
  spec["root"]["dag"]["tasks"]["condition-5"]["triggerPolicy"]["condition"] =
      "int(inputs.parameter_values['pipelinechannel--random-number-Output']) >";
  Result<PipelineSpec> r = ParsePipelineSpec(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().field(), "root.dag.tasks.condition-5.triggerPolicy.condition");
  EXPECT_THAT(r.status().message(), HasSubstr("condition"));
}

TEST(PipelineSpecTest, ExitTaskNeedsFinalStatusType) {
  Json spec = FixtureJson("exit_handler");
  spec["root"]["dag"]["tasks"]["exit-op"].erase("triggerPolicy");
  ExpectSpecInvalid(spec, "root.dag.tasks.exit-op.triggerPolicy.strategy", "ALL_UPSTREAM_TASKS_COMPLETED");
}

TEST(PipelineSpecTest, SelfContainingAndTooDeepDagsAreRefused) {
  Json spec = FixtureJson("nested_dag");
  spec["components"]["comp-inner"]["dag"]["tasks"]["again"] = {
      {"componentRef", {{"name", "comp-inner"}}},
      {"inputs", {{"parameters", {{"n", {{"componentInputParameter", "n"}}}}}}},
      {"taskInfo", {{"name", "again"}}}};
  Result<PipelineSpec> r = ParsePipelineSpec(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("`comp-inner` contains itself"));

  // A chain of DAG components 40 deep.
  Json deep = FixtureJson("hello_world");
  Json leaf_task = deep["root"]["dag"]["tasks"]["say-hello"];
  leaf_task["inputs"]["parameters"]["name"] = {{"runtimeValue", {{"constant", "x"}}}};
  for (int i = 0; i < 40; ++i) {
    Json task = i == 0 ? leaf_task
                       : Json{{"componentRef", {{"name", "comp-d" + std::to_string(i - 1)}}},
                              {"taskInfo", {{"name", "t"}}}};
    deep["components"]["comp-d" + std::to_string(i)] = {{"dag", {{"tasks", {{"t", task}}}}}};
  }
  deep["root"]["dag"]["tasks"]["deep"] = {{"componentRef", {{"name", "comp-d39"}}}};
  Result<PipelineSpec> d = ParsePipelineSpec(deep);
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(d.status().message(), HasSubstr("nest more than 32"));
}

TEST(PipelineSpecTest, TooManyTasksAreRefused) {
  Json spec = FixtureJson("hello_world");
  Json task = spec["root"]["dag"]["tasks"]["say-hello"];
  for (int i = 0; i < internal::kMaxTasks; ++i) spec["root"]["dag"]["tasks"]["t" + std::to_string(i)] = task;
  ExpectSpecInvalid(spec, "root.dag.tasks", "at most 10000");
}

// ----------------------------------------------------------- value syntax

TEST(PipelineSpecTest, Quantities) {
  EXPECT_DOUBLE_EQ(*internal::ParseCpuQuantity("500m", "f"), 0.5);
  EXPECT_DOUBLE_EQ(*internal::ParseCpuQuantity("1", "f"), 1);
  EXPECT_DOUBLE_EQ(*internal::ParseCpuQuantity("1.5", "f"), 1.5);
  EXPECT_FALSE(internal::ParseCpuQuantity("", "f").ok());
  EXPECT_FALSE(internal::ParseCpuQuantity("1.5.1", "f").ok());
  EXPECT_FALSE(internal::ParseCpuQuantity("-1", "f").ok());
  ExpectInvalid(internal::ParseCpuQuantity("2 cores", "cpu").status(), "cpu", "invalid CPU quantity");
  EXPECT_EQ(*internal::ParseMemoryQuantity("1G", "f"), 1'000'000'000);
  EXPECT_EQ(*internal::ParseMemoryQuantity("512Mi", "f"), 512LL << 20);
  EXPECT_EQ(*internal::ParseMemoryQuantity("1Gi", "f"), 1LL << 30);
  EXPECT_EQ(*internal::ParseMemoryQuantity("1.5Gi", "f"), 3LL << 29);
  EXPECT_EQ(*internal::ParseMemoryQuantity("1000000", "f"), 1'000'000);
  EXPECT_EQ(*internal::ParseMemoryQuantity("100k", "f"), 100'000);
  EXPECT_EQ(*internal::ParseMemoryQuantity("1e9", "f"), 1'000'000'000);
  EXPECT_FALSE(internal::ParseMemoryQuantity("1GB", "f").ok());
  EXPECT_FALSE(internal::ParseMemoryQuantity("100Ei", "f").ok());
  EXPECT_FALSE(internal::ParseMemoryQuantity("Mi", "f").ok());
  EXPECT_DOUBLE_EQ(*internal::ParseDurationSeconds("0s", "f"), 0);
  EXPECT_DOUBLE_EQ(*internal::ParseDurationSeconds("1s", "f"), 1);
  EXPECT_DOUBLE_EQ(*internal::ParseDurationSeconds("1.5s", "f"), 1.5);
  EXPECT_DOUBLE_EQ(*internal::ParseDurationSeconds("3600s", "f"), 3600);
  EXPECT_FALSE(internal::ParseDurationSeconds("1m", "f").ok());
  EXPECT_FALSE(internal::ParseDurationSeconds("1", "f").ok());
  EXPECT_FALSE(internal::ParseDurationSeconds("s", "f").ok());
}

TEST(PipelineSpecTest, CheckParameterValue) {
  EXPECT_TRUE(CheckParameterValue(ParameterType::kString, "x", "p").ok());
  EXPECT_TRUE(CheckParameterValue(ParameterType::kNumberInteger, 3, "p").ok());
  EXPECT_TRUE(CheckParameterValue(ParameterType::kNumberInteger, 3.0, "p").ok());
  ExpectInvalid(CheckParameterValue(ParameterType::kNumberInteger, 3.5, "p.q"), "p.q",
                "must be NUMBER_INTEGER, got a non-integral number");
  EXPECT_FALSE(CheckParameterValue(ParameterType::kNumberInteger, "3", "p").ok());
  EXPECT_FALSE(CheckParameterValue(ParameterType::kNumberInteger, true, "p").ok());
  EXPECT_TRUE(CheckParameterValue(ParameterType::kNumberDouble, 3, "p").ok());
  EXPECT_TRUE(CheckParameterValue(ParameterType::kNumberDouble, 3.5, "p").ok());
  EXPECT_FALSE(CheckParameterValue(ParameterType::kNumberDouble, "3.5", "p").ok());
  EXPECT_TRUE(CheckParameterValue(ParameterType::kBoolean, false, "p").ok());
  EXPECT_FALSE(CheckParameterValue(ParameterType::kBoolean, 0, "p").ok());
  EXPECT_TRUE(CheckParameterValue(ParameterType::kList, Json::array(), "p").ok());
  EXPECT_FALSE(CheckParameterValue(ParameterType::kList, Json::object(), "p").ok());
  EXPECT_TRUE(CheckParameterValue(ParameterType::kStruct, Json::object(), "p").ok());
  ExpectInvalid(CheckParameterValue(ParameterType::kStruct, Json::array(), "p"), "p", "must be STRUCT, got array");
  EXPECT_EQ(ParameterTypeName(ParameterType::kTaskFinalStatus), "TASK_FINAL_STATUS");
  EXPECT_EQ(ParameterTypeName(ParameterType::kNumberDouble), "NUMBER_DOUBLE");
}

TEST(PipelineSpecTest, ResolveRunParameters) {
  PipelineSpec spec = Fixture("params_and_artifacts");
  // Defaults fill in; the required `label` must be given.
  Result<std::map<std::string, Json>> r = ResolveRunParameters(spec, {{"label", "L"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->at("label"), Json("L"));
  EXPECT_EQ(r->at("count"), Json(3));
  EXPECT_TRUE(r->at("count").is_number_integer());
  EXPECT_EQ(r->at("items"), Json::parse("[1,2,3]"));
  EXPECT_EQ(r->size(), spec.root.inputs.parameters.size());

  ExpectInvalid(ResolveRunParameters(spec, {}).status(), "label", "missing required pipeline parameter `label`");
  ExpectInvalid(ResolveRunParameters(spec, {{"label", "L"}, {"lable", "x"}}).status(), "lable",
                "unknown pipeline parameter `lable`");

  // Command-line text converts to the declared type.
  r = ResolveRunParameters(spec, {{"label", "L"},
                                  {"count", "3"},
                                  {"ratio", "1.5"},
                                  {"flag", "false"},
                                  {"items", "[\"a\", 2]"},
                                  {"config", "{\"k\": [1]}"},
                                  {"text", "42"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->at("count"), Json(3));
  EXPECT_TRUE(r->at("count").is_number_integer());
  EXPECT_EQ(r->at("ratio"), Json(1.5));
  EXPECT_EQ(r->at("flag"), Json(false));
  EXPECT_EQ(r->at("items"), Json::parse("[\"a\", 2]"));
  EXPECT_EQ(r->at("config"), Json::parse("{\"k\": [1]}"));
  EXPECT_EQ(r->at("text"), Json("42"));  // STRING stays text

  r = ResolveRunParameters(spec, {{"label", "L"}, {"count", 4.0}, {"ratio", 2}, {"flag", "True"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->at("count").is_number_integer());
  EXPECT_EQ(r->at("ratio"), Json(2));
  EXPECT_EQ(r->at("flag"), Json(true));

  ExpectInvalid(ResolveRunParameters(spec, {{"label", "L"}, {"count", "3.5"}}).status(), "count",
                "must be NUMBER_INTEGER");
  ExpectInvalid(ResolveRunParameters(spec, {{"label", "L"}, {"count", 3.5}}).status(), "count",
                "must be NUMBER_INTEGER");
  ExpectInvalid(ResolveRunParameters(spec, {{"label", "L"}, {"ratio", "fast"}}).status(), "ratio",
                "must be NUMBER_DOUBLE");
  ExpectInvalid(ResolveRunParameters(spec, {{"label", "L"}, {"flag", "yes"}}).status(), "flag",
                "must be BOOLEAN");
  ExpectInvalid(ResolveRunParameters(spec, {{"label", "L"}, {"items", "{\"a\": 1}"}}).status(), "items",
                "must be LIST");
  ExpectInvalid(ResolveRunParameters(spec, {{"label", "L"}, {"items", "[1,"}}).status(), "items",
                "must be LIST as JSON text");
  ExpectInvalid(ResolveRunParameters(spec, {{"label", "L"}, {"config", "[]"}}).status(), "config",
                "must be STRUCT");
  ExpectInvalid(ResolveRunParameters(spec, {{"label", 7}}).status(), "label", "must be STRING, got integer");
}

// --------------------------------------------------------------- robustness

// Truncations and random byte and structure mutations of real specs: every
// result is a value or a Status, never a crash or an exception.
TEST(PipelineSpecTest, TruncatedAndMutatedSpecsNeverCrash) {
  std::mt19937 rng(12345);
  for (const char* name : {"parallel_for", "container", "exit_handler", "importer"}) {
    SCOPED_TRACE(name);
    const std::string text = FixtureText(name);
    for (std::size_t cut = 0; cut < text.size(); cut += 1 + text.size() / 40) {
      Result<PipelineSpec> r = ParsePipelineText(text.substr(0, cut));
      if (!r.ok()) {
        EXPECT_NE(r.status().code(), StatusCode::kOk);
      }
    }
    const char alphabet[] = "{}[]:-'\" \n\t#&*!|>%@`,0aZ\x01\xff";
    for (int i = 0; i < 50; ++i) {
      std::string m = text;
      int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits; ++e) {
        std::size_t at = rng() % m.size();
        char c = alphabet[rng() % (sizeof(alphabet) - 1)];
        switch (rng() % 3) {
          case 0: m[at] = c; break;
          case 1: m.insert(m.begin() + static_cast<std::ptrdiff_t>(at), c); break;
          default: m.erase(at, 1 + rng() % 8); break;
        }
        if (m.empty()) m = "x";
      }
      (void)ParsePipelineText(m);
    }
    // Structural mutations: replace random nodes of the parsed document
    // with values of other types.
    const Json doc = FixtureJson(name);
    std::vector<Json::json_pointer> pointers;
    std::function<void(const Json&, const Json::json_pointer&)> collect = [&](const Json& v,
                                                                             const Json::json_pointer& p) {
      pointers.push_back(p);
      if (v.is_object()) {
        for (const auto& [k, c] : v.items()) collect(c, p / k);
      } else if (v.is_array()) {
        for (std::size_t j = 0; j < v.size(); ++j) collect(v[j], p / j);
      }
    };
    collect(doc, Json::json_pointer());
    const Json replacements[] = {Json(), Json(1), Json(-1.5), Json("x"), Json(true), Json::array(),
                                 Json::object(), Json::array({1, "a"}), Json{{"k", "v"}}};
    std::shuffle(pointers.begin(), pointers.end(), rng);
    if (pointers.size() > 120) pointers.resize(120);
    for (const Json::json_pointer& p : pointers) {
      Json m = doc;
      m[p] = replacements[rng() % std::size(replacements)];
      (void)ParsePipelineSpec(m);
      if (!p.empty()) {
        Json erased = doc;
        erased[p.parent_pointer()].is_object() ? (void)erased[p.parent_pointer()].erase(p.back())
                                               : (void)0;
        (void)ParsePipelineSpec(erased);
      }
    }
  }
}

}  // namespace
}  // namespace ferry::pipelines
