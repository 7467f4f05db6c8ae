#include "ferry/pipelines/engine.h"

namespace ferry::pipelines {

std::string_view RunStateName(RunState) { return "PENDING"; }
Result<RunState> ParseRunState(std::string_view) { return Unimplemented("stub"); }
bool IsFinal(RunState) { return false; }
Result<std::unique_ptr<PipelineEngine>> PipelineEngine::Open(store::Database*, Env*,
                                                             executors::Executor*, EngineOptions) {
  return Unimplemented("stub");
}

}  // namespace ferry::pipelines
