#include "ferry/pipelines/placeholders.h"

namespace ferry::pipelines {

Json BuildExecutorInput(const ExecutionContext&) { return Json::object(); }
Result<std::vector<std::string>> ResolveCommand(const ContainerSpec&, const ExecutionContext&) {
  return Unimplemented("stub");
}
Status CheckPlaceholders(const ContainerSpec&, const ComponentSpec&, std::string_view) {
  return Status::OK();
}
Result<ExecutionOutputs> ReadExecutionOutputs(const ComponentSpec&, const ExecutionContext&) {
  return Unimplemented("stub");
}

}  // namespace ferry::pipelines
