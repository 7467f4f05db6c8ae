#include "ferry/pipelines/conditions.h"

namespace ferry::pipelines {

Status CheckCelExpression(std::string_view) { return Status::OK(); }
Result<bool> EvaluateCondition(std::string_view, const std::map<std::string, Json>&) {
  return Unimplemented("stub");
}
Result<Json> EvaluateSelector(std::string_view, const Json&) { return Unimplemented("stub"); }

}  // namespace ferry::pipelines
