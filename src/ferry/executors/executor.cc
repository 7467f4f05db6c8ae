#include "ferry/executors/executor.h"

namespace ferry::executors {

std::string_view TaskStateName(TaskState) { return "Queued"; }

}  // namespace ferry::executors
