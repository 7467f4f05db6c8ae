#pragma once
// The `ferry` command line: a client of the REST API (DESIGN.md §4).
//
//   ferry version
//   ferry apply -f FILE|-            create or update, multi-document YAML/JSON
//   ferry get KIND [NAME] [-o table|json|yaml] [-n NS | -A] [-l SELECTOR]
//   ferry describe KIND NAME
//   ferry delete KIND NAME
//   ferry run PIPELINE.yaml [-p name=value]... [--experiment E] [--watch]
//   ferry get pipelineruns | pipelinerun ID | run ID   (pipeline_views.h)
//   ferry get|describe experiment NAME   Katib's when it exists, else MLflow's (tuning_views.h)
//   ferry get trials [--experiment NAME]
//   ferry logs run/ID [TASK] [--follow]
//   ferry cancel run/ID...   ferry retry run/ID...
//   --server URL / FERRY_SERVER (default http://127.0.0.1:8080)
//
// Exit codes: 0 success, 1 the server refused or failed the request,
// 2 usage error, 3 the server could not be reached.

#include <functional>
#include <string>
#include <vector>

namespace ferry::cli {

// A verb implemented outside the CLI (e.g. `server`), dispatched by name with
// the arguments after it (argv[0] is the verb).
struct ExternalCommand {
  std::string name;
  std::string description;
  std::function<int(int argc, char** argv)> run;
};

int Main(int argc, char** argv, const std::vector<ExternalCommand>& external = {});

}  // namespace ferry::cli
