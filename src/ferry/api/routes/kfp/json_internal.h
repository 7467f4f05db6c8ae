#pragma once
// The KFP API objects (backend/api/v2beta1/*.proto) as JSON, from Ferry's
// catalog and engine values: snake_case proto names, enums by name,
// timestamps RFC 3339, as the KFP API server's grpc-gateway emits them.
//
// Thread-safety: pure functions.
#include <string>
#include <string_view>

#include "ferry/common/json.h"
#include "ferry/common/status.h"
#include "ferry/pipelines/catalog_store.h"
#include "ferry/pipelines/engine.h"

namespace ferry::api::kfp {

Json ExperimentJson(const pipelines::Experiment& e);
Json PipelineJson(const pipelines::Pipeline& p);
// With `pipeline_spec` when the version carries its text.
Json PipelineVersionJson(const pipelines::PipelineVersion& v);

// The uploaded text of a pipeline as the object KFP returns for
// pipeline_spec: the first document, or {pipeline_spec, platform_spec}
// when a platform document follows. Null when the text does not parse.
Json PipelineSpecJson(std::string_view text);

// The text to store and run for a pipeline_spec given as a JSON object in
// a request: the object itself, or the client's {pipeline_spec,
// platform_spec} wrapper as two YAML documents. InvalidArgument naming
// `field` when it is not an object.
Result<std::string> PipelineTextFromJson(const Json& spec, std::string_view field);

// Checks that `text` is a pipeline Ferry runs (ParsePipelineText); the
// parser's message and field, InvalidArgument. Returns the parsed
// pipelineInfo name and description.
struct PipelineInfo {
  std::string name;
  std::string description;
};
Result<PipelineInfo> CheckPipelineText(std::string_view text, std::string_view field_prefix);

// A V2beta1Run. `detail` adds run_details.task_details and pipeline_spec
// (for runs not started from an uploaded version).
Json RunJson(const pipelines::RunStatus& run, const pipelines::RunDetail* detail = nullptr);
// A V2beta1PipelineTaskDetail, with the children's ids.
Json TaskJson(const std::string& run_id, const pipelines::TaskStatus& task,
              const std::vector<std::string>& child_ids);

}  // namespace ferry::api::kfp
