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
//   - otherwise `<envs_dir>/<sha256 of the sorted package specs, pip
//     index options and the base interpreter>/`, a venv made with
//     --system-site-packages from the base interpreter that also sees the
//     base interpreter's own site-packages (so kfp imports when the base is
//     itself a venv), then `python -m pip install <packages>`. It is built
//     in place under its final name (console-script shebangs and
//     bin/activate hold absolute paths, so a venv cannot be renamed) while
//     holding `<envs_dir>/<key>.lock` (flock; and a mutex per key within the
//     process), and it counts as made only once its marker file, written
//     last, exists; a half-made one (a crash mid-build) is removed and
//     rebuilt. So concurrent tasks and a crash mid-build never see a
//     half-made environment. A failed build is an error naming the packages
//     and carrying pip's last output lines; it is not cached.
// `--index-url`/`--extra-index-url`/`--trusted-host` options of the pip
// line are passed on to pip.
//
// Recognised shapes (kfp 2.x compiler): with or without the install
// script (install_kfp_package=False), use_venv, kfp_package_path,
// pip_index_urls / pip_trusted_hosts; whitespace may differ from 2.16.1's.
// Packages are taken as sh would pass them to pip (the compiler quotes each
// with Python's repr); a double-quoted word sh would expand (`$`, a
// backquote) or a quoting sh cannot parse makes the command run as written.
// Dropped: plain `kfp` requirements (`kfp`, `kfp==X`, not `kfp[extra]`) and
// the compiler's own kfp install line. When the compiler emits a single
// install line holding only a kfp_package_path (no packages_to_install, no
// use_venv), it reads exactly like packages_to_install=[that path] with
// install_kfp_package=False; it is then taken as a package to install.
// Containerized components (target_image: `python3 -m
// kfp.dsl.executor_main` without the source) are not recognised.
//
// Thread-safety: PythonEnvs is thread-safe; ParseLightweightCommand is a
// pure function.
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

// The variables a LocalCommand needs on top of the task's env:
// {"_KFP_RUNTIME": "true"}, as the compiler's script sets it.
std::map<std::string, std::string> LocalCommandEnv();

struct LocalInvocation {
  std::vector<std::string> argv;
  std::map<std::string, std::string> extra_env;
};

struct PythonEnvsOptions {
  std::string base_python = "python3";  // must import kfp
  std::string envs_dir;                 // e.g. <data_dir>/pipelines/envs; created if missing
};

class PythonEnvs {
 public:
  explicit PythonEnvs(PythonEnvsOptions options);
  // Path of the python of the environment for `packages` (building it on
  // first use; blocks meanwhile; thread-safe, one build per key at a time).
  Result<std::string> EnsureEnv(const std::vector<std::string>& packages,
                                const std::vector<std::string>& pip_options);
  // The full local command for a lightweight component: writes the source
  // to `<work_dir>/ephemeral_component.py` and returns the argv. The caller
  // runs it with LocalCommandEnv() added to the task's environment.
  Result<std::vector<std::string>> LocalCommand(const LightweightComponent& component,
                                                const std::string& work_dir);
  // What to run locally for a task's resolved argv: LocalCommand and
  // LocalCommandEnv() for a lightweight component, else `argv` unchanged
  // with no extra env. Shaped for the engine's CommandPreparer.
  Result<LocalInvocation> Prepare(const std::vector<std::string>& argv,
                                  const std::string& work_dir);

 private:
  PythonEnvsOptions options_;
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace ferry::pipelines
