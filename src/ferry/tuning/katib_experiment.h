#pragma once
// Katib's Experiment (kubeflow.org/v1beta1) as Ferry runs it.
//
// ParseExperiment reads an Experiment object the way Katib's defaulting and
// validating webhooks do (same field names, defaults and error conditions)
// into an ExperimentSpec: the search space, algorithm, early stopping,
// trial counts, the trial template with its primary container, and the
// metrics collector. RenderTrialSpec makes one trial's worker object from
// the template and the trial's parameter assignments, with Katib's
// ${trialParameters.x} substitution; PrimaryProcess gives what to run.
//
// Everything Katib accepts and Ferry can run is accepted. What needs a
// cluster Ferry does not have (configMap trial templates, TensorFlowEvent,
// PrometheusMetric and Custom collectors, NAS, env valueFrom/envFrom) and
// every unknown field outside the trial spec are refused: InvalidArgument
// naming the field, e.g. "spec.parameters[2].feasibleSpace.min".
//
// Thread-safety: plain values and pure functions.
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/common/json.h"
#include "ferry/common/status.h"
#include "ferry/tuning/metrics_collector.h"
#include "ferry/tuning/space.h"

namespace ferry::tuning {

// spec.resumePolicy. Katib's default is Never (DefaultResumePolicy in
// pkg/apis/controller/experiments/v1beta1/constants.go).
enum class ResumePolicy { kNever, kLongRunning, kFromVolume };
std::string_view ResumePolicyName(ResumePolicy p);  // "Never", "LongRunning", "FromVolume"

struct ObjectiveSpec {
  Direction type = Direction::kMinimize;  // "minimize" / "maximize"
  std::optional<double> goal;
  std::string objective_metric_name;
  std::vector<std::string> additional_metric_names;
  // A strategy for every metric, Katib's defaults filled in: the listed
  // ones, then min (minimize) or max (maximize) for the objective and for
  // each additional metric not listed (Katib's setDefaultObjective).
  std::map<std::string, MetricStrategy> metric_strategies;

  // What collectors look for: the objective, then the additional metrics.
  std::vector<std::string> MetricNames() const;
  MetricStrategy StrategyOf(const std::string& metric) const;
};

// spec.algorithm and spec.earlyStopping: a name and its settings.
struct AlgorithmSpec {
  std::string name;
  std::map<std::string, std::string> settings;
};

struct TrialParameterSpec {
  std::string name;  // used as ${trialParameters.<name>} in the trial spec
  std::string description;
  std::string reference;  // a spec.parameters name, or a ${trialSpec.X} metadata key
};

struct EnvVar {
  std::string name;
  std::string value;
};

// The primary container of the trial spec, as written (placeholders not
// yet substituted).
struct ContainerSpec {
  std::string name;
  std::string image;
  std::vector<std::string> command;
  std::vector<std::string> args;
  std::vector<EnvVar> env;
  std::string working_dir;
  // resources.requests / resources.limits: resource name -> quantity text
  // ("cpu" -> "500m", "memory" -> "1Gi", "nvidia.com/gpu" -> "1").
  std::map<std::string, std::string> requests;
  std::map<std::string, std::string> limits;
  // Where it sits in the trial spec (a JSON pointer, "/spec/template/spec/containers/0").
  std::string pointer;
};

struct TrialTemplateSpec {
  std::string primary_container_name;
  std::map<std::string, std::string> primary_pod_labels;
  // GJSON conditions on the worker's status, kept as text; Katib's defaults
  // for batch/v1 Job and the Kubeflow training jobs when not given.
  std::string success_condition;
  std::string failure_condition;
  bool retain = false;
  std::vector<TrialParameterSpec> trial_parameters;
  Json trial_spec;  // the worker object, any kind, with its placeholders
  ContainerSpec primary_container;
};

// The collectors Ferry runs. Katib's TensorFlowEvent, PrometheusMetric and
// Custom kinds are refused.
enum class CollectorKind { kStdOut, kFile, kNone, kPush };
std::string_view CollectorKindName(CollectorKind k);  // "StdOut", "File", "None", "Push"

struct MetricsCollectorSpec {
  CollectorKind kind = CollectorKind::kStdOut;
  // File: the absolute path the trial writes its metrics to (in the
  // trial's container; a local executor maps it into the trial's sandbox).
  std::string file_path;
  MetricsFormat format = MetricsFormat::kText;
  // source.filter.metricsFormat (TEXT); empty means Katib's default filter.
  std::vector<std::string> filters;
};

struct ExperimentSpec {
  ObjectiveSpec objective;
  AlgorithmSpec algorithm;
  std::optional<AlgorithmSpec> early_stopping;
  SearchSpace space;  // spec.parameters, in order
  std::int64_t parallel_trial_count = 3;
  std::optional<std::int64_t> max_trial_count;         // none: until the goal
  std::optional<std::int64_t> max_failed_trial_count;  // none: never fails on trial failures
  ResumePolicy resume_policy = ResumePolicy::kNever;
  TrialTemplateSpec trial_template;
  MetricsCollectorSpec metrics_collector;

  // The options a MetricsParser needs for this experiment's collector.
  MetricsParserOptions ParserOptions() const;
};

// The Experiment object (apiVersion/kind/metadata are checked by the
// resource registry; this reads `spec`). InvalidArgument naming the field.
// The algorithm and early-stopping settings are checked by MakeSampler and
// MakePruner; an algorithm that reports Unimplemented is accepted.
Result<ExperimentSpec> ParseExperiment(const Json& object);

// ParseExperiment's status: the ResourceType::validate hook for Experiment.
Status ValidateExperimentObject(const Json& object);

// One trial's worker object: the trial spec with every
// ${trialParameters.<name>} in its strings (values and keys) replaced by
// the parameter's value — the assignment of the spec.parameters entry it
// references, or the trial's metadata for a ${trialSpec.Name},
// ${trialSpec.Namespace}, ${trialSpec.Kind}, ${trialSpec.APIVersion},
// ${trialSpec.Labels[key]} or ${trialSpec.Annotations[key]} reference —
// and metadata.name/namespace set to the trial's, as Katib's
// GetRunSpecWithHyperParameters does. `assignments` maps each parameter
// name to its formatted value (SearchSpace::Format); InvalidArgument when
// one is missing or unknown.
Result<Json> RenderTrialSpec(const ExperimentSpec& spec,
                             const std::map<std::string, std::string>& assignments,
                             std::string_view trial_name, std::string_view trial_namespace);

// Kubernetes resource amounts of a container.
struct ResourceAmounts {
  std::optional<double> cpu;  // cores
  std::optional<std::int64_t> memory_bytes;
  std::optional<std::int64_t> gpu;  // nvidia.com/gpu, amd.com/gpu
};

// What the primary container of a rendered trial runs.
struct TrialProcess {
  std::string image;
  // command + args, with $(VAR) references to the container's env expanded
  // as Kubernetes does ($$ escapes a '$'; unknown references stay as they
  // are). Empty when the container relies on its image's entrypoint.
  std::vector<std::string> argv;
  std::vector<EnvVar> env;  // in order, each expanded against those before it
  std::string working_dir;
  ResourceAmounts requests;
  ResourceAmounts limits;
};

// The primary container of `rendered` (a RenderTrialSpec result of `spec`).
Result<TrialProcess> PrimaryProcess(const ExperimentSpec& spec, const Json& rendered);

// The objective value of a trial from its observations: the objective
// metric summarised by its strategy; nullopt when it was never reported
// (Katib's "unavailable").
std::optional<double> ObjectiveValue(const ObjectiveSpec& objective, std::span<const MetricLog> logs);

}  // namespace ferry::tuning
