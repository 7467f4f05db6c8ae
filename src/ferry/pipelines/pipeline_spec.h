#pragma once
// The KFP v2 pipeline IR (PipelineSpec, schemaVersion 2.1.0), as the `kfp`
// compiler writes it, parsed into typed values. This is Ferry's pipeline
// format (DESIGN.md §1); the engine runs nothing else.
//
// ParsePipelineSpec accepts the parsed YAML/JSON document (the first document
// of the compiler's output; a second `platforms:` document is passed as
// `platform_spec` and refused when it asks for anything), validates it
// completely and refuses anything outside what Ferry runs with an
// InvalidArgument whose field() is the path in the spec, e.g.
// `root.dag.tasks.train.inputs.parameters.lr.taskOutputParameter.producerTask`
// or `deploymentSpec.executors.exec-add.container.args[3]`:
//   - schemaVersion other than 2.0.0/2.1.0; a missing or unknown component,
//     executor or producer task; a task reading the output of a task that is
//     not upstream in the same DAG (KFP resolves `producerTask` within the
//     task's own DAG);
//   - cycles in a DAG (the message lists the tasks on the cycle);
//   - a placeholder naming an input or output the component does not declare;
//   - unknown fields anywhere in the spec (KFP proto field names in camelCase,
//     as the compiler writes them; snake_case is accepted too since the
//     proto's JSON parser accepts both);
//   - features Ferry does not run: the message names the feature, e.g.
//     "`dsl.importer` with `downloadToWorkspace` is not supported".
//
// Thread-safety: values; immutable once parsed.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/common/json.h"
#include "ferry/common/status.h"

namespace ferry::pipelines {

// parameterType of the IR. kTaskFinalStatus is the input of exit tasks that
// take `dsl.PipelineTaskFinalStatus`.
enum class ParameterType {
  kString,
  kNumberInteger,
  kNumberDouble,
  kBoolean,
  kList,
  kStruct,
  kTaskFinalStatus,
};
std::string_view ParameterTypeName(ParameterType type);  // "STRING", ...

struct ParameterSpec {
  ParameterType type = ParameterType::kString;
  std::optional<Json> default_value;  // already checked against `type`
  bool is_optional = false;
  std::string description;
};

struct ArtifactTypeSpec {
  std::string schema_title = "system.Artifact";  // system.Dataset, system.Model, ...
  std::string schema_version = "0.0.1";
};

struct ArtifactSpec {
  ArtifactTypeSpec type;
  bool is_artifact_list = false;  // Input[List[Artifact]] / dsl.Collected
  bool is_optional = false;
  std::string description;
};

// inputDefinitions / outputDefinitions. std::map: iteration in name order
// keeps executor input, fingerprints and error messages deterministic.
struct InterfaceSpec {
  std::map<std::string, ParameterSpec> parameters;
  std::map<std::string, ArtifactSpec> artifacts;
};

// Where a task input parameter's value comes from (exactly one source).
struct ParameterSource {
  enum class Kind {
    kConstant,             // runtimeValue.constant
    kComponentInput,       // componentInputParameter: the parent DAG's input
    kTaskOutput,           // taskOutputParameter {producerTask, outputParameterKey}
    kTaskFinalStatus,      // taskFinalStatus {producerTask}
  };
  Kind kind = Kind::kConstant;
  Json constant;             // kConstant
  std::string name;          // kComponentInput: parent input; kTaskOutput: outputParameterKey
  std::string producer_task; // kTaskOutput, kTaskFinalStatus
  // parameterExpressionSelector: a CEL expression applied to the value, e.g.
  // `parseJson(string_value)["key"]`; empty when absent.
  std::string expression_selector;
};

struct ArtifactSource {
  enum class Kind {
    kComponentInput,  // componentInputArtifact: the parent DAG's input artifact
    kTaskOutput,      // taskOutputArtifact {producerTask, outputArtifactKey}
  };
  Kind kind = Kind::kTaskOutput;
  std::string name;           // parent input name, or outputArtifactKey
  std::string producer_task;  // kTaskOutput
};

struct RetryPolicy {
  int max_retry_count = 0;
  double backoff_seconds = 0;         // backoffDuration, e.g. "1s"
  double backoff_factor = 2.0;
  double backoff_max_seconds = 3600;  // backoffMaxDuration
};

enum class TriggerStrategy {
  kAllUpstreamTasksSucceeded,  // the default
  kAllUpstreamTasksCompleted,  // exit handlers
};

// A ParallelFor: the task's component (a DAG) runs once per item.
struct Iterator {
  enum class Kind {
    kRaw,             // parameterIterator.items.raw: a JSON list literal
    kInputParameter,  // parameterIterator.items.inputParameter: a task input holding a list
    kInputArtifact,   // artifactIterator.items.inputArtifact: a task input artifact list
  };
  Kind kind = Kind::kRaw;
  Json raw_items;           // kRaw: the parsed list
  std::string items_input;  // kInputParameter / kInputArtifact: name of the task input
  std::string item_input;   // itemInput: the DAG input that receives one item
  int parallelism_limit = 0;  // iteratorPolicy.parallelismLimit; 0 = unlimited
};

struct TaskSpec {
  std::string name;            // key in dag.tasks
  std::string display_name;    // taskInfo.name
  std::string component;       // componentRef.name
  std::map<std::string, ParameterSource> parameter_inputs;
  std::map<std::string, ArtifactSource> artifact_inputs;
  std::vector<std::string> dependent_tasks;  // dependentTasks, as written
  bool enable_cache = true;    // cachingOptions.enableCache (absent = true)
  RetryPolicy retry;
  std::string condition;       // triggerPolicy.condition (CEL); empty = always
  TriggerStrategy strategy = TriggerStrategy::kAllUpstreamTasksSucceeded;
  std::optional<Iterator> iterator;
};

// dag.outputs: how a DAG component's outputs are produced by its tasks.
struct DagOutputParameter {
  // valueFromParameter {producerSubtask, outputParameterKey}, or
  // valueFromOneof.parameterSelectors (dsl.OneOf): the first selector whose
  // producer ran. Inside a ParallelFor DAG the value is collected into a
  // list over the iterations (dsl.Collected).
  struct Selector {
    std::string producer_subtask;
    std::string output_key;
  };
  std::vector<Selector> selectors;  // one for valueFromParameter
};
struct DagOutputArtifact {
  struct Selector {
    std::string producer_subtask;
    std::string output_key;
  };
  std::vector<Selector> selectors;  // artifactSelectors
};

struct DagSpec {
  std::map<std::string, TaskSpec> tasks;
  std::map<std::string, DagOutputParameter> output_parameters;
  std::map<std::string, DagOutputArtifact> output_artifacts;
  // Task names in a topological order (dependencies first, ties by name):
  // computed by the parser, which has also checked for cycles.
  std::vector<std::string> topological_order;
};

struct ResourceSpec {
  double cpu_request = 0;       // cores; resourceCpuRequest/cpuRequest
  double cpu_limit = 0;
  std::int64_t memory_request = 0;  // bytes; "1G", "512Mi", ... parsed
  std::int64_t memory_limit = 0;
  std::string accelerator_type;
  int accelerator_count = 0;
};

struct ContainerSpec {
  std::string image;                 // recorded, not pulled (DESIGN.md §1)
  std::vector<std::string> command;  // raw strings, placeholders unresolved
  std::vector<std::string> args;     // raw strings; Concat/IfPresent stay JSON text
  std::map<std::string, std::string> env;
  ResourceSpec resources;
};

struct ImporterSpec {
  // artifactUri: a constant URI, or the name of a component input parameter
  // (runtimeParameter) holding it.
  std::string uri_constant;
  std::string uri_parameter;
  ArtifactTypeSpec type;
  bool reimport = false;
  Json metadata = Json::object();
};

struct ExecutorSpec {
  std::optional<ContainerSpec> container;
  std::optional<ImporterSpec> importer;  // exactly one of the two is set
};

struct ComponentSpec {
  std::string name;  // key in `components`, e.g. "comp-add"
  InterfaceSpec inputs;
  InterfaceSpec outputs;
  std::string executor_label;  // set for leaf components
  std::optional<DagSpec> dag;  // set for DAG components; exactly one of the two
};

struct PipelineSpec {
  std::string name;         // pipelineInfo.name
  std::string display_name; // pipelineInfo.displayName, may be empty
  std::string description;  // pipelineInfo.description
  std::string schema_version;
  std::string sdk_version;
  std::string default_pipeline_root;  // defaultPipelineRoot, may be empty
  std::map<std::string, ComponentSpec> components;
  std::map<std::string, ExecutorSpec> executors;  // deploymentSpec.executors
  ComponentSpec root;  // root: always a DAG component, named "root"
};

// Parses and validates the IR (see the file comment). `platform_spec` is the
// optional second YAML document (`platforms: {kubernetes: ...}`); anything in
// it is refused, naming the field, since Ferry has no Kubernetes platform
// config yet.
Result<PipelineSpec> ParsePipelineSpec(const Json& spec,
                                       const Json& platform_spec = nullptr);

// Parses the text of a compiled pipeline (YAML or JSON, one or two
// documents), then ParsePipelineSpec. Also accepts a PipelineJob wrapper
// (`{"pipelineSpec": {...}, "runtimeConfig": ...}`) by taking its
// pipelineSpec.
Result<PipelineSpec> ParsePipelineText(std::string_view text);

// Checks `value` against a parameter type (integers must be integral; a
// NUMBER_DOUBLE accepts integers; STRUCT is an object; LIST an array).
// `field` names the value in the error.
Status CheckParameterValue(ParameterType type, const Json& value, std::string_view field);

// Resolves the run's parameters against root.inputDefinitions: fills in
// defaults, refuses unknown names and missing required ones, checks types,
// and converts the forms a user types on the command line (`-p n=3` gives
// the string "3") when the declared type is not STRING.
Result<std::map<std::string, Json>> ResolveRunParameters(
    const PipelineSpec& spec, const std::map<std::string, Json>& given);

}  // namespace ferry::pipelines
