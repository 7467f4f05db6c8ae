#pragma once
// Private to model_preparer.cc and its test: the child-process runner that
// runs the converter script (embedded as kConvertScript in the generated
// ferry/serving/deployments/convert_script.h).
//
// Thread-safety: pure functions; RunWithTimeout may be called from any
// thread (its pipe is close-on-exec, so concurrent spawns do not inherit it).

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/common/status.h"

namespace ferry::serving::deployments::internal {

struct ChildResult {
  int exit_code = 0;       // 128 + signal when killed by one
  bool timed_out = false;  // killed (with its process group) at the deadline
  std::string output;      // stdout and stderr interleaved, the last max_output bytes
};

// Runs `argv` (argv[0] looked up in PATH; no shell) with the server's
// environment, stdin from /dev/null, in its own process group, which is
// killed when `timeout` passes. Fails only when the process cannot start.
Result<ChildResult> RunWithTimeout(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                                   std::size_t max_output = 64 * 1024);

// The last `n` lines of `text`, without trailing newlines.
std::string LastLines(std::string_view text, std::size_t n);

}  // namespace ferry::serving::deployments::internal
