#include "ferry/pipelines/pipeline_spec.h"

namespace ferry::pipelines {

std::string_view ParameterTypeName(ParameterType) { return "STRING"; }
Result<PipelineSpec> ParsePipelineSpec(const Json&, const Json&) { return Unimplemented("stub"); }
Result<PipelineSpec> ParsePipelineText(std::string_view) { return Unimplemented("stub"); }
Status CheckParameterValue(ParameterType, const Json&, std::string_view) { return Unimplemented("stub"); }
Result<std::map<std::string, Json>> ResolveRunParameters(const PipelineSpec&,
                                                         const std::map<std::string, Json>&) {
  return Unimplemented("stub");
}

}  // namespace ferry::pipelines
