#include "ferry/executors/executor.h"

#include <gtest/gtest.h>

#include <set>

namespace ferry::executors {
namespace {

TEST(TaskStateTest, NamesAreDistinctAndTerminalityIsRight) {
  const TaskState all[] = {TaskState::kQueued, TaskState::kRunning,   TaskState::kSucceeded,
                           TaskState::kFailed, TaskState::kCancelled, TaskState::kTimedOut,
                           TaskState::kLost};
  std::set<std::string_view> names;
  for (TaskState s : all) names.insert(TaskStateName(s));
  EXPECT_EQ(names.size(), 7u);
  EXPECT_EQ(TaskStateName(TaskState::kQueued), "Queued");
  EXPECT_EQ(TaskStateName(TaskState::kRunning), "Running");
  EXPECT_EQ(TaskStateName(TaskState::kSucceeded), "Succeeded");
  EXPECT_EQ(TaskStateName(TaskState::kFailed), "Failed");
  EXPECT_EQ(TaskStateName(TaskState::kCancelled), "Cancelled");
  EXPECT_EQ(TaskStateName(TaskState::kTimedOut), "TimedOut");
  EXPECT_EQ(TaskStateName(TaskState::kLost), "Lost");
  EXPECT_FALSE(IsTerminal(TaskState::kQueued));
  EXPECT_FALSE(IsTerminal(TaskState::kRunning));
  for (TaskState s : {TaskState::kSucceeded, TaskState::kFailed, TaskState::kCancelled, TaskState::kTimedOut,
                      TaskState::kLost}) {
    EXPECT_TRUE(IsTerminal(s)) << TaskStateName(s);
  }
}

}  // namespace
}  // namespace ferry::executors
