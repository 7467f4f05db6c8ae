#pragma once
// KFP placeholders: turns a container executor's command and args into the
// argv of one task execution, and builds the ExecutorInput (`{{$}}`) the KFP
// Python executor (`kfp.dsl.executor_main`) reads.
//
// Supported, exactly as the KFP v2 backend (driver/launcher) resolves them:
//   {{$}}                                         the ExecutorInput JSON
//   {{$.inputs.parameters['x']}}                  the value as text (strings
//                                                 raw; numbers, bools, lists
//                                                 and structs as JSON)
//   {{$.inputs.artifacts['x'].path|uri|metadata}} the first artifact of input x
//   {{$.inputs.artifacts['x'].metadata['k']}}
//   {{$.outputs.parameters['y'].output_file}}
//   {{$.outputs.artifacts['y'].path|uri|metadata}}
//   {{$.outputs.output_file}}                     executor output JSON path
//   {{$.pipeline_job_name}} {{$.pipeline_job_uuid}}
//   {{$.pipeline_task_name}} {{$.pipeline_task_uuid}}
//   {{$.pipeline_job_resource_name}} {{$.pipeline_root}}
// A placeholder may be embedded in a longer string; several may appear in
// one. An arg that is a JSON object `{"Concat": [...]}` or
// `{"IfPresent": {"InputName": "x", "Then": [...], "Else": [...]}}` (the
// compiler writes them as JSON text) is expanded recursively; IfPresent
// expands to zero or more args.
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/common/json.h"
#include "ferry/common/status.h"
#include "ferry/pipelines/pipeline_spec.h"

namespace ferry::pipelines {

// One artifact as the executor sees it. `uri` is a local absolute path for
// the local executor (kfp's Artifact.path is the uri itself then).
struct RuntimeArtifact {
  std::string name;
  ArtifactTypeSpec type;
  std::string uri;
  Json metadata = Json::object();
};

// Everything one execution of a leaf component needs to resolve placeholders.
struct ExecutionContext {
  // Resolved input parameter values. An optional input the task was not
  // given is null (or left out): IfPresent takes its Else branch, the
  // ExecutorInput omits it, and a plain placeholder of it resolves to ""
  // when null (an error when left out, as for any unknown input).
  std::map<std::string, Json> parameters;
  // Input artifacts; a list input may hold several, others exactly one; an
  // absent optional input holds none.
  std::map<std::string, std::vector<RuntimeArtifact>> artifacts;
  // Output parameter name -> file the task writes the value to.
  std::map<std::string, std::string> output_parameter_files;
  std::map<std::string, RuntimeArtifact> output_artifacts;
  std::string executor_output_file;  // {{$.outputs.output_file}}
  std::string pipeline_job_name;
  std::string pipeline_job_uuid;
  std::string pipeline_task_name;
  std::string pipeline_task_uuid;
  std::string pipeline_root;
};

// The ExecutorInput proto as JSON (camelCase field names, as the KFP
// launcher writes it): inputs.parameterValues, inputs.artifacts[x].artifacts[],
// outputs.parameters[y].outputFile, outputs.artifacts[y].artifacts[],
// outputs.outputFile.
Json BuildExecutorInput(const ExecutionContext& ctx);

// Resolves every placeholder in command + args of `container` for `ctx`;
// returns the argv (command first). An unknown placeholder or one naming an
// input the context lacks is an InvalidArgument naming it and the arg index.
// Optional inputs that are absent make IfPresent take its Else branch; a
// plain placeholder of an absent optional parameter resolves to "".
Result<std::vector<std::string>> ResolveCommand(const ContainerSpec& container,
                                                const ExecutionContext& ctx);

// Static check used by ParsePipelineSpec: every placeholder in `container`
// is well formed and names an input/output that `component` declares.
// `field` is the path of the container in the spec, for the error.
Status CheckPlaceholders(const ContainerSpec& container, const ComponentSpec& component,
                         std::string_view field);

// Reads what a finished execution produced: each declared output parameter
// from its output file (parsed per its type; a STRING file is taken
// verbatim), overridden by the executor output JSON when the task wrote one
// (`parameterValues`, and `artifacts` whose metadata/uri replace the
// defaults). A declared output with neither is an InvalidArgument naming it.
struct ExecutionOutputs {
  std::map<std::string, Json> parameters;
  std::map<std::string, RuntimeArtifact> artifacts;
};
Result<ExecutionOutputs> ReadExecutionOutputs(const ComponentSpec& component,
                                              const ExecutionContext& ctx);

}  // namespace ferry::pipelines
