#pragma once
// Python environments for KFP lightweight components (`@dsl.component`).
//
// The compiler turns a lightweight component into
//   sh -c "<ensure pip>; pip install <packages_to_install...> 'kfp==X' && \"$0\" \"$@\""
//      sh -ec 'program_path=$(mktemp -d); printf "%s" "$0" > .../ephemeral_component.py;
//              _KFP_RUNTIME=true python3 -m kfp.dsl.executor_main --component_module_path ... "$@"'
//      <source> --executor_input '{{$}}' --function_to_execute <fn>
// which pip-installs on every execution. Ferry recognises this shape (and
// only this shape: anything else runs as written), writes the source to the
// execution's work dir, and runs
//   <python of the environment> -m kfp.dsl.executor_main
//       --component_module_path <workdir>/ephemeral_component.py
//       --executor_input <json> --function_to_execute <fn>
// with _KFP_RUNTIME=true, where the environment is created once per set of
// packages_to_install (the kfp install line itself is not part of the key:
// the base interpreter must already import kfp) and reused:
//   - no extra packages: the base interpreter itself;
//   - otherwise `<envs_dir>/<sha256 of the sorted package specs and pip
//     index options>/`, a venv made with --system-site-packages from the base
//     interpreter, then `pip install <packages>`; built under a lock file
//     into a temp dir and renamed, so concurrent tasks and a crash mid-build
//     never see a half-made environment. A failed build is an error naming
//     the packages and carrying pip's last output lines; it is not cached.
// `--index-url`/`--extra-index-url`/`--trusted-host` options of the pip
// line are passed on to pip.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ferry/common/status.h"

namespace ferry::pipelines {

// What ParseLightweightCommand found in a resolved argv.
struct LightweightComponent {
  std::vector<std::string> packages;      // packages_to_install, without kfp
  std::vector<std::string> pip_options;   // --index-url X, --trusted-host Y, ...
  std::string source;                     // the component's Python source
  std::vector<std::string> executor_args; // "--executor_input", "...", "--function_to_execute", "fn"
};

// nullopt when `argv` is not the compiler's lightweight-component shape.
std::optional<LightweightComponent> ParseLightweightCommand(const std::vector<std::string>& argv);

struct PythonEnvsOptions {
  std::string base_python = "python3";  // must import kfp
  std::string envs_dir;                 // e.g. <data_dir>/pipelines/envs
};

class PythonEnvs {
 public:
  explicit PythonEnvs(PythonEnvsOptions options);
  // Path of the python of the environment for `packages` (building it on
  // first use; blocks meanwhile; thread-safe, one build per key at a time).
  Result<std::string> EnsureEnv(const std::vector<std::string>& packages,
                                const std::vector<std::string>& pip_options);
  // The full local command for a lightweight component: writes the source
  // to `<work_dir>/ephemeral_component.py` and returns the argv.
  Result<std::vector<std::string>> LocalCommand(const LightweightComponent& component,
                                                const std::string& work_dir);

 private:
  PythonEnvsOptions options_;
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace ferry::pipelines
