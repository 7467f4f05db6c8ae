#include "ferry/executors/executor.h"

namespace ferry::executors {

std::string_view TaskStateName(TaskState state) {
  switch (state) {
    case TaskState::kQueued:
      return "Queued";
    case TaskState::kRunning:
      return "Running";
    case TaskState::kSucceeded:
      return "Succeeded";
    case TaskState::kFailed:
      return "Failed";
    case TaskState::kCancelled:
      return "Cancelled";
    case TaskState::kTimedOut:
      return "TimedOut";
    case TaskState::kLost:
      return "Lost";
  }
  return "Unknown";
}

}  // namespace ferry::executors
