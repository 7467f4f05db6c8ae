#pragma once
// Private to python_env.cc and its test: running a child process and
// capturing its output, the pieces of the environment key, and reading
// shell words the way sh does.
//
// Thread-safety: pure functions; RunProcess may be called from any thread
// (the pipe it reads is close-on-exec, so concurrent spawns do not inherit
// it).
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/common/status.h"

namespace ferry::pipelines::internal {

struct ProcessResult {
  int exit_code = 0;   // 128 + signal when killed by one
  std::string output;  // stdout and stderr interleaved, the last max_output bytes
};

// Runs `argv` (argv[0] looked up in PATH) with the server's environment plus
// `extra_env`, stdin from /dev/null, no shell. Fails only when the process
// cannot be started; a non-zero exit is a ProcessResult.
Result<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                 const std::map<std::string, std::string>& extra_env = {},
                                 std::size_t max_output = 256 * 1024);

// The last `n` lines of `text`.
std::string LastLines(std::string_view text, std::size_t n);

// True for a plain requirement on the `kfp` project (`kfp`, `kfp==2.16.1`,
// `KFP >= 2`, `kfp; python_version>"3"`, `kfp @ url`), false for extras
// (`kfp[kubernetes]`) and other projects (`kfp-kubernetes`).
bool IsKfpRequirement(std::string_view spec);

// The environment key's input: packages (sorted unless one is a pip option,
// whose position matters), pip options in order, and the base interpreter.
// Each part is length-prefixed so no two inputs share a key text.
std::string EnvKeyText(const std::vector<std::string>& packages, const std::vector<std::string>& pip_options,
                       std::string_view base_identity);

}  // namespace ferry::pipelines::internal
