// Tests of the Katib Experiment parser and trial rendering: every Katib
// example under testdata/katib parses into the expected spec (or, for the
// three that need a cluster, is refused naming the field); a table of
// invalid experiments, each refused with the exact field; Katib's
// defaults; substitution of every placeholder kind; the primary process
// (argv, env, resources); and random mutations never crash the parser.
#include "ferry/tuning/katib_experiment.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <random>
#include <sstream>

namespace ferry::tuning {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const char* const kAccepted[] = {
    "random",
    "grid",
    "tpe",
    "multivariate-tpe",
    "sobol",
    "cma-es",
    "bayesian-optimization",
    "hyperopt-distribution",
    "optuna-distribution",
    "median-stop",
    "median-stop-with-json-format",
    "file-metrics-collector",
    "file-metrics-collector-with-json-format",
    "metrics-collection-strategy",
    "trial-metadata-substitution",
    "pytorchjob-mnist",
};

Json Example(const std::string& name) {
  std::ifstream in("src/ferry/tuning/testdata/katib/" + name + ".yaml", std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << name;
  std::stringstream ss;
  ss << in.rdbuf();
  Result<Json> doc = ParseYaml(ss.str());
  EXPECT_TRUE(doc.ok()) << name << ": " << doc.status().ToString();
  return doc.ok() ? std::move(doc).value() : Json();
}

ExperimentSpec Parsed(const Json& object) {
  Result<ExperimentSpec> spec = ParseExperiment(object);
  EXPECT_TRUE(spec.ok()) << spec.status().ToString();
  return spec.ok() ? std::move(spec).value() : ExperimentSpec{};
}

ExperimentSpec ParsedYaml(std::string_view yaml) {
  Result<Json> doc = ParseYaml(yaml);
  EXPECT_TRUE(doc.ok()) << doc.status().ToString();
  return Parsed(doc.ValueOr(Json()));
}

Json& Container(Json& experiment) {
  return experiment["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]["containers"][0];
}

constexpr std::string_view kContainer = "spec.trialTemplate.trialSpec.spec.template.spec.containers[0]";

// ------------------------------------------------------------ the examples

TEST(KatibExperimentTest, EveryBundledKatibExampleParses) {
  for (const char* name : kAccepted) {
    const Json object = Example(name);
    Result<ExperimentSpec> spec = ParseExperiment(object);
    EXPECT_TRUE(spec.ok()) << name << ": " << spec.status().ToString();
    EXPECT_TRUE(ValidateExperimentObject(object).ok()) << name;
    if (!spec.ok()) continue;
    // Every example's trial renders and runs the container it names.
    std::map<std::string, std::string> assignments;
    for (std::size_t i = 0; i < spec->space.params.size(); ++i) {
      const ParamSpec& p = spec->space.params[i];
      assignments[p.name] =
          spec->space.Format(i, p.type == ParamType::kDouble || p.type == ParamType::kInt ? p.min : 0);
    }
    Result<Json> rendered = RenderTrialSpec(*spec, assignments, std::string(name) + "-trial-1", "kubeflow");
    ASSERT_TRUE(rendered.ok()) << name << ": " << rendered.status().ToString();
    EXPECT_EQ(rendered->dump().find("${trialParameters."), std::string::npos) << name;
    Result<TrialProcess> process = PrimaryProcess(*spec, *rendered);
    ASSERT_TRUE(process.ok()) << name << ": " << process.status().ToString();
    EXPECT_EQ(process->argv.at(0), "python3") << name;
  }
}

TEST(KatibExperimentTest, ExamplesThatNeedAClusterAreRefusedNamingTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {"custom-metrics-collector", "spec.metricsCollectorSpec.collector.kind"},
      {"tfevent-metrics-collector", "spec.metricsCollectorSpec.collector.kind"},
      {"trial-configmap-source", "spec.trialTemplate.configMap"},
  };
  for (const auto& [name, field] : cases) {
    Status s = ValidateExperimentObject(Example(name));
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << name;
    EXPECT_EQ(s.field(), field) << name << ": " << s.ToString();
    EXPECT_THAT(s.message(), HasSubstr("not supported")) << name;
  }
}

TEST(KatibExperimentTest, RandomExample) {
  const ExperimentSpec spec = Parsed(Example("random"));
  EXPECT_EQ(spec.objective.type, Direction::kMaximize);
  EXPECT_EQ(spec.objective.goal, 0.99);
  EXPECT_EQ(spec.objective.objective_metric_name, "Validation-accuracy");
  EXPECT_THAT(spec.objective.MetricNames(), ElementsAre("Validation-accuracy", "Train-accuracy"));
  // Katib's defaulter: both follow the objective type.
  EXPECT_EQ(spec.objective.metric_strategies,
            (std::map<std::string, MetricStrategy>{{"Validation-accuracy", MetricStrategy::kMax},
                                                   {"Train-accuracy", MetricStrategy::kMax}}));
  EXPECT_EQ(spec.algorithm.name, "random");
  EXPECT_TRUE(spec.algorithm.settings.empty());
  EXPECT_FALSE(spec.early_stopping.has_value());
  EXPECT_EQ(spec.parallel_trial_count, 3);
  EXPECT_EQ(spec.max_trial_count, 12);
  EXPECT_EQ(spec.max_failed_trial_count, 3);
  EXPECT_EQ(spec.resume_policy, ResumePolicy::kNever);

  ASSERT_EQ(spec.space.params.size(), 3u);
  const ParamSpec& lr = spec.space.params[0];
  EXPECT_EQ(lr.name, "lr");
  EXPECT_EQ(lr.type, ParamType::kDouble);
  EXPECT_EQ(lr.min, 0.01);
  EXPECT_EQ(lr.max, 0.03);
  EXPECT_EQ(lr.step, 0);
  EXPECT_EQ(lr.distribution, Distribution::kUniform);
  const ParamSpec& layers = spec.space.params[1];
  EXPECT_EQ(layers.type, ParamType::kInt);
  EXPECT_EQ(layers.min, 2);
  EXPECT_EQ(layers.max, 5);
  const ParamSpec& opt = spec.space.params[2];
  EXPECT_EQ(opt.type, ParamType::kCategorical);
  EXPECT_THAT(opt.choices, ElementsAre("sgd", "adam", "ftrl"));

  const TrialTemplateSpec& tt = spec.trial_template;
  EXPECT_EQ(tt.primary_container_name, "training-container");
  EXPECT_EQ(tt.success_condition, R"(status.conditions.#(type=="Complete")#|#(status=="True")#)");
  EXPECT_EQ(tt.failure_condition, R"(status.conditions.#(type=="Failed")#|#(status=="True")#)");
  EXPECT_FALSE(tt.retain);
  ASSERT_EQ(tt.trial_parameters.size(), 3u);
  EXPECT_EQ(tt.trial_parameters[1].name, "numberLayers");
  EXPECT_EQ(tt.trial_parameters[1].reference, "num-layers");
  EXPECT_EQ(tt.trial_parameters[1].description, "Number of training model layers");
  EXPECT_EQ(tt.trial_spec["kind"], "Job");
  const ContainerSpec& c = tt.primary_container;
  EXPECT_EQ(c.name, "training-container");
  EXPECT_EQ(c.image, "docker.io/kubeflowkatib/mxnet-mnist:latest");
  EXPECT_THAT(c.command, ElementsAre("python3", "/opt/mxnet-mnist/mnist.py", "--batch-size=64",
                                     "--lr=${trialParameters.learningRate}",
                                     "--num-layers=${trialParameters.numberLayers}",
                                     "--optimizer=${trialParameters.optimizer}"));
  EXPECT_TRUE(c.args.empty());
  EXPECT_EQ(c.limits, (std::map<std::string, std::string>{{"cpu", "0.5"}, {"memory", "1Gi"}}));
  EXPECT_EQ(c.pointer, "/spec/template/spec/containers/0");

  EXPECT_EQ(spec.metrics_collector.kind, CollectorKind::kStdOut);
  EXPECT_TRUE(spec.metrics_collector.filters.empty());
  const MetricsParserOptions o = spec.ParserOptions();
  EXPECT_THAT(o.metric_names, ElementsAre("Validation-accuracy", "Train-accuracy"));
  EXPECT_EQ(o.format, MetricsFormat::kText);
}

TEST(KatibExperimentTest, SearchSpacesOfTheExamples) {
  const ExperimentSpec grid = Parsed(Example("grid"));
  EXPECT_EQ(grid.space.params[0].step, 0.001);
  EXPECT_EQ(grid.space.params[0].Cardinality(), 10);

  const ExperimentSpec hyperopt = Parsed(Example("hyperopt-distribution"));
  EXPECT_EQ(hyperopt.objective.type, Direction::kMinimize);
  EXPECT_EQ(hyperopt.objective.metric_strategies.at("loss"), MetricStrategy::kMin);
  std::vector<Distribution> d;
  for (const ParamSpec& p : hyperopt.space.params) d.push_back(p.distribution);
  EXPECT_THAT(d, ElementsAre(Distribution::kNormal, Distribution::kUniform, Distribution::kLogUniform,
                             Distribution::kLogNormal));
  EXPECT_EQ(hyperopt.space.params[0].step, 0.01);

  const ExperimentSpec cmaes = Parsed(Example("cma-es"));
  EXPECT_EQ(cmaes.algorithm.name, "cmaes");
  EXPECT_EQ(cmaes.algorithm.settings.at("restart_strategy"), "ipop");
}

// Katib's hyperband example: the resource parameter num-epochs has
// min = max = 1 while r_l = 2. Katib accepts it: its hyperband service
// checks only that resource_name is a parameter and parallelTrialCount >=
// eta^s_max, and overwrites the resource's value with r_i itself.
TEST(KatibExperimentTest, HyperbandExampleParses) {
  Result<ExperimentSpec> parsed = ParseExperiment(Example("hyperband"));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const ExperimentSpec& hyperband = *parsed;
  EXPECT_EQ(hyperband.algorithm.name, "hyperband");
  EXPECT_EQ(hyperband.algorithm.settings, (std::map<std::string, std::string>{
                                              {"resource_name", "num-epochs"}, {"eta", "2"}, {"r_l", "2"}}));
  EXPECT_EQ(hyperband.parallel_trial_count, 2);
  EXPECT_EQ(hyperband.max_trial_count, 2);
  ASSERT_EQ(hyperband.space.params.size(), 4u);
  EXPECT_EQ(hyperband.space.params[3].name, "num-epochs");
}

TEST(KatibExperimentTest, EarlyStoppingAndCollectorsOfTheExamples) {
  const ExperimentSpec median = Parsed(Example("median-stop"));
  ASSERT_TRUE(median.early_stopping.has_value());
  EXPECT_EQ(median.early_stopping->name, "medianstop");
  EXPECT_EQ(median.early_stopping->settings,
            (std::map<std::string, std::string>{{"min_trials_required", "1"}, {"start_step", "2"}}));
  EXPECT_TRUE(median.trial_template.retain);

  const ExperimentSpec file = Parsed(Example("file-metrics-collector"));
  EXPECT_EQ(file.metrics_collector.kind, CollectorKind::kFile);
  EXPECT_EQ(file.metrics_collector.file_path, "/katib/mnist.log");
  EXPECT_EQ(file.metrics_collector.format, MetricsFormat::kText);
  EXPECT_THAT(file.metrics_collector.filters,
              ElementsAre(R"({metricName: ([\w|-]+), metricValue: ((-?\d+)(\.\d+)?)})"));

  const ExperimentSpec json = Parsed(Example("file-metrics-collector-with-json-format"));
  EXPECT_EQ(json.metrics_collector.kind, CollectorKind::kFile);
  EXPECT_EQ(json.metrics_collector.file_path, "/katib/mnist.json");
  EXPECT_EQ(json.metrics_collector.format, MetricsFormat::kJson);
  EXPECT_EQ(json.ParserOptions().format, MetricsFormat::kJson);

  const ExperimentSpec strategy = Parsed(Example("metrics-collection-strategy"));
  EXPECT_EQ(strategy.objective.metric_strategies,
            (std::map<std::string, MetricStrategy>{{"Validation-accuracy", MetricStrategy::kMax},
                                                   {"Train-accuracy", MetricStrategy::kLatest}}));
}

TEST(KatibExperimentTest, KubeflowTrainingJobTemplate) {
  const ExperimentSpec spec = Parsed(Example("pytorchjob-mnist"));
  const TrialTemplateSpec& tt = spec.trial_template;
  EXPECT_EQ(tt.primary_container.pointer, "/spec/pytorchReplicaSpecs/Master/template/spec/containers/0");
  EXPECT_EQ(tt.success_condition, R"(status.conditions.#(type=="Succeeded")#|#(status=="True")#)");
  EXPECT_EQ(tt.primary_pod_labels,
            (std::map<std::string, std::string>{{"training.kubeflow.org/job-role", "master"}}));
  EXPECT_EQ(tt.primary_container.command.back(), "--momentum=${trialParameters.momentum}");
}

// ------------------------------------------------------------ invalid

struct InvalidCase {
  std::string what;
  std::function<void(Json&)> mutate;
  std::string field;
  std::string words;
};

TEST(KatibExperimentTest, InvalidExperimentsAreRefusedWithTheExactField) {
  const std::string c(kContainer);
  const std::vector<InvalidCase> cases = {
      {"no spec", [](Json& j) { j.erase("spec"); }, "spec", "required"},
      {"unknown spec field", [](Json& j) { j["spec"]["maxTrials"] = 3; }, "spec.maxTrials", "unknown field"},
      {"nas",
       [](Json& j) {
         j["spec"]["nasConfig"] = Json::object({{"graphConfig", Json::object()}});
       },
       "spec.nasConfig", "not supported"},
      // trial counts
      {"maxFailed > max", [](Json& j) { j["spec"]["maxFailedTrialCount"] = 20; }, "spec.maxFailedTrialCount",
       "must not exceed spec.maxTrialCount"},
      {"parallel > max", [](Json& j) { j["spec"]["parallelTrialCount"] = 13; }, "spec.parallelTrialCount",
       "must not exceed spec.maxTrialCount"},
      {"max 0", [](Json& j) { j["spec"]["maxTrialCount"] = 0; }, "spec.maxTrialCount", "greater than 0"},
      {"parallel 0", [](Json& j) { j["spec"]["parallelTrialCount"] = 0; }, "spec.parallelTrialCount",
       "greater than 0"},
      {"maxFailed -1", [](Json& j) { j["spec"]["maxFailedTrialCount"] = -1; }, "spec.maxFailedTrialCount",
       "negative"},
      {"max as string", [](Json& j) { j["spec"]["maxTrialCount"] = "12"; }, "spec.maxTrialCount",
       "must be an integer, not string"},
      {"max fractional", [](Json& j) { j["spec"]["maxTrialCount"] = 12.5; }, "spec.maxTrialCount",
       "must be an integer"},
      {"max too big", [](Json& j) { j["spec"]["maxTrialCount"] = 1LL << 40; }, "spec.maxTrialCount", "int32"},
      {"resume policy", [](Json& j) { j["spec"]["resumePolicy"] = "Always"; }, "spec.resumePolicy",
       "Never, LongRunning or FromVolume"},
      // objective
      {"no objective", [](Json& j) { j["spec"].erase("objective"); }, "spec.objective", "required"},
      {"objective not object", [](Json& j) { j["spec"]["objective"] = "max"; }, "spec.objective",
       "must be an object"},
      {"no metric name", [](Json& j) { j["spec"]["objective"].erase("objectiveMetricName"); },
       "spec.objective.objectiveMetricName", "required"},
      {"empty metric name", [](Json& j) { j["spec"]["objective"]["objectiveMetricName"] = ""; },
       "spec.objective.objectiveMetricName", "must not be empty"},
      {"objective type", [](Json& j) { j["spec"]["objective"]["type"] = "max"; }, "spec.objective.type",
       "minimize or maximize"},
      {"goal as string", [](Json& j) { j["spec"]["objective"]["goal"] = "0.99"; }, "spec.objective.goal",
       "must be a number"},
      {"additional repeats objective",
       [](Json& j) {
         j["spec"]["objective"]["additionalMetricNames"] = {"Train-accuracy", "Validation-accuracy"};
       },
       "spec.objective.additionalMetricNames[1]", "repeats spec.objective.objectiveMetricName"},
      {"additional not a list", [](Json& j) { j["spec"]["objective"]["additionalMetricNames"] = "loss"; },
       "spec.objective.additionalMetricNames", "must be a list"},
      {"strategy value",
       [](Json& j) {
         j["spec"]["objective"]["metricStrategies"] =
             Json::array({{{"name", "Train-accuracy"}, {"value", "avg"}}});
       },
       "spec.objective.metricStrategies[0].value", "min, max or latest"},
      {"strategy twice",
       [](Json& j) {
         j["spec"]["objective"]["metricStrategies"] =
             Json::array({{{"name", "loss"}, {"value", "min"}}, {{"name", "loss"}, {"value", "max"}}});
       },
       "spec.objective.metricStrategies[1].name", "two strategies"},
      {"unknown objective field", [](Json& j) { j["spec"]["objective"]["metric"] = "x"; },
       "spec.objective.metric", "unknown field"},
      // parameters
      {"no parameters", [](Json& j) { j["spec"]["parameters"] = Json::array(); }, "spec.parameters",
       "parameters to tune"},
      {"parameters not a list", [](Json& j) { j["spec"]["parameters"] = "lr"; }, "spec.parameters",
       "must be a list"},
      {"int min > max", [](Json& j) { j["spec"]["parameters"][1]["feasibleSpace"]["min"] = "6"; },
       "spec.parameters[1].feasibleSpace.min", "greater than max"},
      {"min on categorical", [](Json& j) { j["spec"]["parameters"][2]["feasibleSpace"]["min"] = "1"; },
       "spec.parameters[2].feasibleSpace.min", "not supported for parameterType categorical"},
      {"min not a number", [](Json& j) { j["spec"]["parameters"][0]["feasibleSpace"]["min"] = "abc"; },
       "spec.parameters[0].feasibleSpace.min", "is not a number"},
      {"min a bool", [](Json& j) { j["spec"]["parameters"][0]["feasibleSpace"]["min"] = true; },
       "spec.parameters[0].feasibleSpace.min", "must be a string, not boolean"},
      {"no max", [](Json& j) { j["spec"]["parameters"][0]["feasibleSpace"].erase("max"); },
       "spec.parameters[0].feasibleSpace.max", "required"},
      {"list on double", [](Json& j) { j["spec"]["parameters"][0]["feasibleSpace"]["list"] = {"1"}; },
       "spec.parameters[0].feasibleSpace.list", "not supported for parameterType double"},
      {"empty categorical list",
       [](Json& j) { j["spec"]["parameters"][2]["feasibleSpace"]["list"] = Json::array(); },
       "spec.parameters[2].feasibleSpace.list", "empty"},
      {"categorical without list",
       [](Json& j) {
         j["spec"]["parameters"][2]["feasibleSpace"] = {{"distribution", "uniform"}};
       },
       "spec.parameters[2].feasibleSpace.list", "required"},
      {"empty feasible space", [](Json& j) { j["spec"]["parameters"][0]["feasibleSpace"] = Json::object(); },
       "spec.parameters[0].feasibleSpace", "must not be empty"},
      {"parameter type", [](Json& j) { j["spec"]["parameters"][0]["parameterType"] = "float"; },
       "spec.parameters[0].parameterType", "double, int, discrete or categorical"},
      {"distribution",
       [](Json& j) { j["spec"]["parameters"][0]["feasibleSpace"]["distribution"] = "gaussian"; },
       "spec.parameters[0].feasibleSpace.distribution", "uniform, logUniform, normal or logNormal"},
      {"log from zero",
       [](Json& j) {
         j["spec"]["parameters"][0]["feasibleSpace"]["min"] = "0";
         j["spec"]["parameters"][0]["feasibleSpace"]["distribution"] = "logUniform";
       },
       "spec.parameters[0].feasibleSpace.min", "positive"},
      {"step larger than range", [](Json& j) { j["spec"]["parameters"][0]["feasibleSpace"]["step"] = "1"; },
       "spec.parameters[0].feasibleSpace.step", "larger than the range"},
      {"duplicate parameter", [](Json& j) { j["spec"]["parameters"][1]["name"] = "lr"; },
       "spec.parameters[1].name", "appears twice"},
      {"discrete value",
       [](Json& j) {
         j["spec"]["parameters"][1] = {{"name", "num-layers"},
                                       {"parameterType", "discrete"},
                                       {"feasibleSpace", {{"list", {"2", "x"}}}}};
       },
       "spec.parameters[1].feasibleSpace.list[1]", "is not a number"},
      {"unknown parameter field", [](Json& j) { j["spec"]["parameters"][0]["type"] = "double"; },
       "spec.parameters[0].type", "unknown field"},
      // algorithm and early stopping
      {"no algorithm", [](Json& j) { j["spec"].erase("algorithm"); }, "spec.algorithm", "required"},
      {"no algorithm name", [](Json& j) { j["spec"]["algorithm"].erase("algorithmName"); },
       "spec.algorithm.algorithmName", "required"},
      {"unknown algorithm", [](Json& j) { j["spec"]["algorithm"]["algorithmName"] = "pbt"; },
       "spec.algorithm.algorithmName", "unknown algorithm"},
      {"unknown setting",
       [](Json& j) {
         j["spec"]["algorithm"]["algorithmSettings"] = Json::array({{{"name", "foo"}, {"value", "1"}}});
       },
       "spec.algorithm.algorithmSettings[foo]", "unknown setting"},
      {"bad setting",
       [](Json& j) {
         j["spec"]["algorithm"]["algorithmSettings"] =
             Json::array({{{"name", "random_state"}, {"value", "x"}}});
       },
       "spec.algorithm.algorithmSettings[random_state]", "integer"},
      {"setting twice",
       [](Json& j) {
         j["spec"]["algorithm"]["algorithmSettings"] = Json::array(
             {{{"name", "random_state"}, {"value", "1"}}, {{"name", "random_state"}, {"value", "2"}}});
       },
       "spec.algorithm.algorithmSettings[1].name", "given twice"},
      {"early stopping without name",
       [](Json& j) {
         j["spec"]["earlyStopping"] = {{"algorithmSettings", Json::array()}};
       },
       "spec.earlyStopping.algorithmName", "required"},
      // trial template
      {"no trial template", [](Json& j) { j["spec"].erase("trialTemplate"); }, "spec.trialTemplate",
       "required"},
      {"no trial spec", [](Json& j) { j["spec"]["trialTemplate"].erase("trialSpec"); },
       "spec.trialTemplate.trialSpec", "required"},
      {"no trial parameters", [](Json& j) { j["spec"]["trialTemplate"].erase("trialParameters"); },
       "spec.trialTemplate.trialParameters", "required"},
      {"no primary container name", [](Json& j) { j["spec"]["trialTemplate"].erase("primaryContainerName"); },
       "spec.trialTemplate.primaryContainerName", "required"},
      {"primary container missing",
       [](Json& j) { j["spec"]["trialTemplate"]["primaryContainerName"] = "trainer"; },
       "spec.trialTemplate.primaryContainerName", "no container named 'trainer'"},
      {"retain not bool", [](Json& j) { j["spec"]["trialTemplate"]["retain"] = "yes"; },
       "spec.trialTemplate.retain", "true or false"},
      {"reference to no parameter",
       [](Json& j) { j["spec"]["trialTemplate"]["trialParameters"][0]["reference"] = "learning_rate"; },
       "spec.trialTemplate.trialParameters[0].reference", "names no parameter in spec.parameters"},
      {"undefined placeholder",
       [](Json& j) { Container(j)["command"][5] = "--optimizer=${trialParameters.opt}"; }, c + ".command[5]",
       "${trialParameters.opt} names no entry of spec.trialTemplate.trialParameters"},
      {"unused trial parameter",
       [](Json& j) {
         j["spec"]["trialTemplate"]["trialParameters"].push_back(
             {{"name", "trialName"}, {"reference", "${trialSpec.Name}"}});
       },
       "spec.trialTemplate.trialParameters[3].name", "is not used"},
      {"trial parameter twice",
       [](Json& j) { j["spec"]["trialTemplate"]["trialParameters"][1]["name"] = "learningRate"; },
       "spec.trialTemplate.trialParameters[1].name", "appears twice"},
      {"reference twice",
       [](Json& j) { j["spec"]["trialTemplate"]["trialParameters"][1]["reference"] = "lr"; },
       "spec.trialTemplate.trialParameters[1].reference", "appears twice"},
      {"brace in name",
       [](Json& j) { j["spec"]["trialTemplate"]["trialParameters"][0]["name"] = "learning{Rate"; },
       "spec.trialTemplate.trialParameters[0].name", "must not contain '{' or '}'"},
      {"label the spec lacks",
       [](Json& j) {
         j["spec"]["trialTemplate"]["trialParameters"].push_back(
             {{"name", "team"}, {"reference", "${trialSpec.Labels[team]}"}});
       },
       "spec.trialTemplate.trialParameters[3].reference", "no label 'team'"},
      {"unknown metadata key",
       [](Json& j) {
         j["spec"]["trialTemplate"]["trialParameters"].push_back(
             {{"name", "uid"}, {"reference", "${trialSpec.UID}"}});
       },
       "spec.trialTemplate.trialParameters[3].reference", "unknown trial metadata key"},
      {"parameter no trial receives",
       [](Json& j) {
         j["spec"]["trialTemplate"]["trialParameters"].erase(2);
         Container(j)["command"].erase(5);
       },
       "spec.trialTemplate.trialParameters", "'optimizer' (spec.parameters[2]) is not referenced"},
      {"trial spec names itself",
       [](Json& j) {
         j["spec"]["trialTemplate"]["trialSpec"]["metadata"] = {{"name", "job"}};
       },
       "spec.trialTemplate.trialSpec.metadata.name", "must not set metadata.name"},
      {"trial spec without kind", [](Json& j) { j["spec"]["trialTemplate"]["trialSpec"].erase("kind"); },
       "spec.trialTemplate.trialSpec.kind", "required"},
      {"other kind without conditions",
       [](Json& j) {
         j["spec"]["trialTemplate"]["trialSpec"]["kind"] = "Deployment";
         j["spec"]["trialTemplate"]["trialSpec"]["apiVersion"] = "apps/v1";
       },
       "spec.trialTemplate.successCondition", "required for kind 'Deployment'"},
      {"config map",
       [](Json& j) {
         j["spec"]["trialTemplate"]["configMap"] = {{"configMapName", "t"}};
       },
       "spec.trialTemplate.configMap", "not supported"},
      // the primary container
      {"env valueFrom",
       [](Json& j) {
         Container(j)["env"] = Json::array(
             {{{"name", "POD"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.name"}}}}}}});
       },
       c + ".env[0].valueFrom", "valueFrom is not supported"},
      {"envFrom",
       [](Json& j) {
         Container(j)["envFrom"] = Json::array({{{"configMapRef", {{"name", "x"}}}}});
       },
       c + ".envFrom", "not supported"},
      {"env value a number",
       [](Json& j) {
         Container(j)["env"] = Json::array({{{"name", "A"}, {"value", 1}}});
       },
       c + ".env[0].value", "must be a string, not integer"},
      {"cpu quantity", [](Json& j) { Container(j)["resources"]["limits"]["cpu"] = "lots"; },
       c + ".resources.limits.cpu", "not a Kubernetes quantity"},
      {"negative memory", [](Json& j) { Container(j)["resources"]["limits"]["memory"] = "-1Gi"; },
       c + ".resources.limits.memory", "negative"},
      {"gpu fraction", [](Json& j) { Container(j)["resources"]["limits"]["nvidia.com/gpu"] = "0.5"; },
       c + ".resources.limits[nvidia.com/gpu]", "whole number"},
      {"command a string",
       [](Json& j) {
         Container(j)["args"] = Container(j)["command"];
         Container(j)["command"] = "python3";
       },
       c + ".command", "must be a list"},
      {"command item a number", [](Json& j) { Container(j)["command"][0] = 3; }, c + ".command[0]",
       "must be a string"},
      // metrics collector
      {"collector kind",
       [](Json& j) {
         j["spec"]["metricsCollectorSpec"] = {{"collector", {{"kind", "Foo"}}}};
       },
       "spec.metricsCollectorSpec.collector.kind", "invalid metrics collector kind"},
      {"collector without kind",
       [](Json& j) {
         j["spec"]["metricsCollectorSpec"] = {{"collector", Json::object()}};
       },
       "spec.metricsCollectorSpec.collector.kind", "required"},
      {"prometheus",
       [](Json& j) {
         j["spec"]["metricsCollectorSpec"] = {{"collector", {{"kind", "PrometheusMetric"}}}};
       },
       "spec.metricsCollectorSpec.collector.kind", "not supported"},
      {"relative metrics file",
       [](Json& j) {
         j["spec"]["metricsCollectorSpec"] = {
             {"collector", {{"kind", "File"}}},
             {"source", {{"fileSystemPath", {{"path", "metrics.log"}, {"kind", "File"}}}}}};
       },
       "spec.metricsCollectorSpec.source.fileSystemPath.path", "absolute"},
      {"directory for file collector",
       [](Json& j) {
         j["spec"]["metricsCollectorSpec"] = {
             {"collector", {{"kind", "File"}}},
             {"source", {{"fileSystemPath", {{"path", "/m"}, {"kind", "Directory"}}}}}};
       },
       "spec.metricsCollectorSpec.source.fileSystemPath.kind", "must be File"},
      {"json with filter",
       [](Json& j) {
         j["spec"]["metricsCollectorSpec"] = {
             {"collector", {{"kind", "File"}}},
             {"source",
              {{"fileSystemPath", {{"path", "/m.json"}, {"format", "JSON"}}},
               {"filter", {{"metricsFormat", Json::array({"(\\w+)=(\\d+)"})}}}}}};
       },
       "spec.metricsCollectorSpec.source.filter", "JSON"},
      {"format",
       [](Json& j) {
         j["spec"]["metricsCollectorSpec"] = {
             {"collector", {{"kind", "File"}}},
             {"source", {{"fileSystemPath", {{"path", "/m"}, {"format", "YAML"}}}}}};
       },
       "spec.metricsCollectorSpec.source.fileSystemPath.format", "TEXT or JSON"},
      {"filter with one group",
       [](Json& j) {
         j["spec"]["metricsCollectorSpec"] = {
             {"source", {{"filter", {{"metricsFormat", Json::array({"loss=(\\d+)"})}}}}}};
       },
       "spec.metricsCollectorSpec.source.filter.metricsFormat[0]", "two capture groups"},
      {"filter not a regexp",
       [](Json& j) {
         j["spec"]["metricsCollectorSpec"] = {
             {"source", {{"filter", {{"metricsFormat", {"(\\w+)=(\\d+)", "(a)(b"}}}}}}};
       },
       "spec.metricsCollectorSpec.source.filter.metricsFormat[1]", "missing closing )"},
  };
  const Json base = Example("random");
  ASSERT_TRUE(ParseExperiment(base).ok());
  for (const InvalidCase& k : cases) {
    Json j = base;
    k.mutate(j);
    Result<ExperimentSpec> r = ParseExperiment(j);
    ASSERT_FALSE(r.ok()) << k.what << ": accepted";
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << k.what;
    EXPECT_EQ(r.status().field(), k.field) << k.what << ": " << r.status().ToString();
    EXPECT_THAT(r.status().message(), HasSubstr(k.words)) << k.what << ": " << r.status().ToString();
    EXPECT_EQ(ValidateExperimentObject(j).field(), k.field) << k.what;
  }
  EXPECT_EQ(ParseExperiment(Json::array()).status().code(), StatusCode::kInvalidArgument);
}

// ------------------------------------------------------------ defaults

TEST(KatibExperimentTest, KatibDefaultsAndLenientNumbers) {
  const ExperimentSpec spec = ParsedYaml(R"(
apiVersion: kubeflow.org/v1beta1
kind: Experiment
metadata: {name: defaults}
spec:
  objective:
    type: minimize
    objectiveMetricName: loss
    additionalMetricNames: [acc, acc]
  algorithm:
    algorithmName: random
    algorithmSettings:
      - {name: random_state, value: 10}
  parameters:
    - {name: x, parameterType: int, feasibleSpace: {min: 1, max: 10, step: 3}}
    - {name: bs, parameterType: discrete, feasibleSpace: {list: [16, 32, 64]}}
    - {name: lr, parameterType: double, feasibleSpace: {min: 1e-4, max: "1e-1", distribution: logUniform}}
  trialTemplate:
    primaryContainerName: c
    trialParameters:
      - {name: x, reference: x}
      - {name: bs, reference: bs}
      - {name: lr, reference: lr}
    trialSpec:
      apiVersion: batch/v1
      kind: Job
      spec:
        template:
          spec:
            containers:
              - name: c
                image: busybox
                args: ["--x=${trialParameters.x}", "--bs=${trialParameters.bs}", "--lr=${trialParameters.lr}"]
  metricsCollectorSpec:
    collector: {kind: File}
)");
  EXPECT_EQ(spec.parallel_trial_count, 3);
  EXPECT_FALSE(spec.max_trial_count.has_value());
  EXPECT_FALSE(spec.max_failed_trial_count.has_value());
  EXPECT_EQ(spec.resume_policy, ResumePolicy::kNever);
  EXPECT_FALSE(spec.objective.goal.has_value());
  EXPECT_THAT(spec.objective.additional_metric_names, ElementsAre("acc"));
  EXPECT_EQ(
      spec.objective.metric_strategies,
      (std::map<std::string, MetricStrategy>{{"loss", MetricStrategy::kMin}, {"acc", MetricStrategy::kMin}}));
  EXPECT_EQ(spec.algorithm.settings.at("random_state"), "10");
  EXPECT_EQ(spec.space.params[0].min, 1);
  EXPECT_EQ(spec.space.params[0].step, 3);
  EXPECT_THAT(spec.space.params[1].values, ElementsAre(16, 32, 64));
  EXPECT_EQ(spec.space.params[2].min, 1e-4);
  EXPECT_EQ(spec.space.params[2].max, 0.1);
  EXPECT_EQ(spec.metrics_collector.kind, CollectorKind::kFile);
  EXPECT_EQ(spec.metrics_collector.file_path, "/var/log/katib/metrics.log");
  EXPECT_EQ(spec.metrics_collector.format, MetricsFormat::kText);
  EXPECT_TRUE(spec.trial_template.primary_container.command.empty());

  for (const char* policy : {"Never", "LongRunning", "FromVolume"}) {
    Json j = Example("random");
    j["spec"]["resumePolicy"] = policy;
    EXPECT_EQ(ResumePolicyName(Parsed(j).resume_policy), policy);
  }
  for (const char* kind : {"StdOut", "None", "Push"}) {
    Json j = Example("random");
    j["spec"]["metricsCollectorSpec"] = {{"collector", {{"kind", kind}}}};
    EXPECT_EQ(CollectorKindName(Parsed(j).metrics_collector.kind), kind);
  }
}

// ------------------------------------------------------------ rendering

TEST(KatibRenderTest, SubstitutesTheAssignments) {
  const Json object = Example("random");
  const ExperimentSpec spec = Parsed(object);
  Result<Json> r = RenderTrialSpec(spec, {{"lr", "0.015"}, {"num-layers", "3"}, {"optimizer", "adam"}},
                                   "random-7x2k9", "kubeflow");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const Json& c = (*r)["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(c["command"], Json({"python3", "/opt/mxnet-mnist/mnist.py", "--batch-size=64", "--lr=0.015",
                                "--num-layers=3", "--optimizer=adam"}));
  EXPECT_EQ((*r)["metadata"]["name"], "random-7x2k9");
  EXPECT_EQ((*r)["metadata"]["namespace"], "kubeflow");
  EXPECT_EQ((*r)["apiVersion"], "batch/v1");
  EXPECT_EQ((*r)["spec"]["template"]["spec"]["restartPolicy"], "Never");
  // The template itself is untouched.
  EXPECT_EQ(spec.trial_template.trial_spec, object["spec"]["trialTemplate"]["trialSpec"]);

  Result<TrialProcess> p = PrimaryProcess(spec, *r);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->image, "docker.io/kubeflowkatib/mxnet-mnist:latest");
  EXPECT_THAT(p->argv, ElementsAre("python3", "/opt/mxnet-mnist/mnist.py", "--batch-size=64", "--lr=0.015",
                                   "--num-layers=3", "--optimizer=adam"));
  EXPECT_EQ(p->limits.cpu, 0.5);
  EXPECT_EQ(p->limits.memory_bytes, std::int64_t{1} << 30);
  EXPECT_FALSE(p->requests.cpu.has_value());

  // Assignments must cover the referenced parameters and nothing else.
  Result<Json> missing = RenderTrialSpec(spec, {{"lr", "0.015"}, {"num-layers", "3"}}, "t", "ns");
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(missing.status().message(), HasSubstr("no assignment for parameter 'optimizer'"));
  Result<Json> unknown = RenderTrialSpec(
      spec, {{"lr", "0.015"}, {"num-layers", "3"}, {"optimizer", "sgd"}, {"momentum", "0.9"}}, "t", "ns");
  EXPECT_THAT(unknown.status().message(), HasSubstr("'momentum', which is not in spec.parameters"));
}

TEST(KatibRenderTest, TrialMetadataReferences) {
  const ExperimentSpec spec = Parsed(Example("trial-metadata-substitution"));
  Result<Json> r = RenderTrialSpec(spec, {{"lr", "0.02"}}, "trial-metadata-substitution-abc", "team-a");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  Result<TrialProcess> p = PrimaryProcess(spec, *r);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  std::vector<std::pair<std::string, std::string>> env;
  for (const EnvVar& e : p->env) env.emplace_back(e.name, e.value);
  EXPECT_THAT(
      env, ElementsAre(std::pair<std::string, std::string>{"TRIAL_NAME", "trial-metadata-substitution-abc"},
                       std::pair<std::string, std::string>{"TRIAL_NAMESPACE", "team-a"},
                       std::pair<std::string, std::string>{"TRIAL_KIND", "Job"},
                       std::pair<std::string, std::string>{"TRIAL_API_VERSION", "batch/v1"},
                       std::pair<std::string, std::string>{"TRIAL_LABEL_CUSTOM", "custom-label"},
                       std::pair<std::string, std::string>{"TRIAL_ANNOTATION_CUSTOM", "custom-annotation"}));
  EXPECT_EQ(p->argv.back(), "--lr=0.02");
  // The template's own labels stay, next to the trial's name.
  EXPECT_EQ((*r)["metadata"]["labels"]["custom-key"], "custom-label");
  EXPECT_EQ((*r)["metadata"]["name"], "trial-metadata-substitution-abc");
}

constexpr std::string_view kSubstitution = R"yaml(
apiVersion: kubeflow.org/v1beta1
kind: Experiment
metadata: {name: subst}
spec:
  objective: {type: minimize, objectiveMetricName: loss}
  algorithm: {algorithmName: random}
  parameters:
    - {name: lr, parameterType: double, feasibleSpace: {min: "0.001", max: "0.1", distribution: logUniform}}
    - {name: opt, parameterType: categorical, feasibleSpace: {list: [sgd, 'a"b']}}
    - {name: cpus, parameterType: discrete, feasibleSpace: {list: ["0.5", "1", "2"]}}
  trialTemplate:
    primaryContainerName: main
    trialParameters:
      - {name: lr, reference: lr}
      - {name: opt, reference: opt}
      - {name: cpus, reference: cpus}
      - {name: trial, reference: "${trialSpec.Name}"}
    trialSpec:
      apiVersion: batch/v1
      kind: Job
      metadata:
        labels:
          "tuned-${trialParameters.opt}": "yes"
      spec:
        template:
          spec:
            containers:
              - name: sidecar
                image: busybox
              - name: main
                image: python:3.12
                command: [python, train.py]
                args:
                  - "--lr=${trialParameters.lr}"
                  - "--opt=${trialParameters.opt}"
                  - "--out=$(OUT_DIR)/model"
                  - "--cost=$$(not-a-var) $(UNDEFINED) $(unclosed"
                  - "${trialParameters.lr}${trialParameters.lr}"
                  - "${trialParameters.unterminated"
                env:
                  - {name: OUT_DIR, value: "/runs/${trialParameters.trial}"}
                  - {name: LOG, value: "$(OUT_DIR)/log.txt"}
                  - {name: EARLY, value: "$(LATER)"}
                  - {name: LATER, value: "x"}
                workingDir: /work
                resources:
                  requests: {cpu: "${trialParameters.cpus}", memory: 512Mi}
                  limits: {cpu: 2, nvidia.com/gpu: 1, ephemeral-storage: 10Gi}
)yaml";

TEST(KatibRenderTest, PlaceholdersInKeysValuesAndResources) {
  const ExperimentSpec spec = ParsedYaml(kSubstitution);
  EXPECT_EQ(spec.trial_template.primary_container.pointer, "/spec/template/spec/containers/1");
  EXPECT_EQ(spec.trial_template.primary_container.requests.at("cpu"), "${trialParameters.cpus}");
  Result<Json> r =
      RenderTrialSpec(spec, {{"lr", "0.01"}, {"opt", "a\"b"}, {"cpus", "0.5"}}, "subst-1", "default");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["metadata"]["labels"]["tuned-a\"b"], "yes");
  Result<TrialProcess> p = PrimaryProcess(spec, *r);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_THAT(p->argv, ElementsAre("python", "train.py", "--lr=0.01", "--opt=a\"b",
                                   "--out=/runs/subst-1/model", "--cost=$(not-a-var) $(UNDEFINED) $(unclosed",
                                   "0.010.01", "${trialParameters.unterminated"));
  std::vector<std::pair<std::string, std::string>> env;
  for (const EnvVar& e : p->env) env.emplace_back(e.name, e.value);
  EXPECT_THAT(env, ElementsAre(std::pair<std::string, std::string>{"OUT_DIR", "/runs/subst-1"},
                               std::pair<std::string, std::string>{"LOG", "/runs/subst-1/log.txt"},
                               std::pair<std::string, std::string>{"EARLY", "$(LATER)"},
                               std::pair<std::string, std::string>{"LATER", "x"}));
  EXPECT_EQ(p->working_dir, "/work");
  EXPECT_EQ(p->requests.cpu, 0.5);
  EXPECT_EQ(p->requests.memory_bytes, 512 * 1024 * 1024);
  EXPECT_EQ(p->limits.cpu, 2);
  EXPECT_EQ(p->limits.gpu, 1);

  // A value that looks like a placeholder is not substituted again.
  Result<Json> again = RenderTrialSpec(
      spec, {{"lr", "${trialParameters.opt}"}, {"opt", "sgd"}, {"cpus", "1"}}, "subst-2", "default");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)["spec"]["template"]["spec"]["containers"][1]["args"][0], "--lr=${trialParameters.opt}");

  // A resource that only becomes a quantity once rendered is checked then.
  Result<Json> bad =
      RenderTrialSpec(spec, {{"lr", "0.01"}, {"opt", "sgd"}, {"cpus", "lots"}}, "subst-3", "default");
  ASSERT_TRUE(bad.ok());
  Result<TrialProcess> badp = PrimaryProcess(spec, *bad);
  EXPECT_EQ(badp.status().field(),
            "spec.trialTemplate.trialSpec.spec.template.spec.containers[1].resources.requests.cpu");
}

TEST(KatibRenderTest, ObjectiveValueFollowsTheStrategy) {
  const ExperimentSpec spec = Parsed(Example("metrics-collection-strategy"));
  const std::vector<MetricLog> logs = {
      {"Validation-accuracy", 0.90, 1, std::nullopt}, {"Train-accuracy", 0.95, 2, std::nullopt},
      {"Validation-accuracy", 0.93, 3, std::nullopt}, {"Validation-accuracy", 0.91, 4, std::nullopt},
      {"Train-accuracy", 0.97, 5, std::nullopt},      {"Train-accuracy", 0.96, 6, std::nullopt},
  };
  EXPECT_EQ(ObjectiveValue(spec.objective, logs), 0.93);  // max
  EXPECT_EQ(Summarise("Train-accuracy", spec.objective.StrategyOf("Train-accuracy"), logs).value,
            0.96);  // latest
  EXPECT_FALSE(ObjectiveValue(spec.objective, std::vector<MetricLog>{}).has_value());
}

// Whatever an Experiment holds, the parser answers with a status.
TEST(KatibExperimentTest, MutatedExamplesNeverCrashTheParser) {
  std::mt19937_64 rng(5);
  const std::vector<Json> replacements = {Json(),
                                          Json(true),
                                          Json(7),
                                          Json(-1.5),
                                          Json("x"),
                                          Json("${trialParameters.x}"),
                                          Json::array(),
                                          Json::object(),
                                          Json::array({1, "a"}),
                                          Json::object({{"name", 1}})};
  int refused = 0;
  for (int iter = 0; iter < 400; ++iter) {
    Json j = Example(kAccepted[rng() % std::size(kAccepted)]);
    // Walk to a random node and replace or delete it.
    Json* node = &j;
    for (int depth = 0; depth < 12 && (node->is_object() || node->is_array()) && !node->empty(); ++depth) {
      Json* child = nullptr;
      if (node->is_object()) {
        auto it = node->begin();
        std::advance(it, static_cast<long>(rng() % node->size()));
        child = &it.value();
      } else {
        child = &(*node)[rng() % node->size()];
      }
      node = child;
      if (rng() % 4 == 0) break;
    }
    *node = replacements[rng() % replacements.size()];
    Result<ExperimentSpec> r = ParseExperiment(j);
    if (!r.ok()) {
      ++refused;
      EXPECT_FALSE(r.status().message().empty());
      continue;
    }
    std::map<std::string, std::string> assignments;
    for (std::size_t i = 0; i < r->space.params.size(); ++i) assignments[r->space.params[i].name] = "1";
    Result<Json> rendered = RenderTrialSpec(*r, assignments, "t", "ns");
    if (rendered.ok()) (void)PrimaryProcess(*r, *rendered);
  }
  EXPECT_GT(refused, 50);
}

}  // namespace
}  // namespace ferry::tuning
