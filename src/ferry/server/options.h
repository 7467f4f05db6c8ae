#pragma once
// ServerOptions: everything `ferry server` can be told, from flags, FERRY_*
// environment variables and an optional YAML config file, in that order of
// precedence.

#include <cstddef>
#include <string>
#include <vector>

#include "ferry/common/status.h"

namespace ferry::server {

struct ServerOptions {
  std::string listen = "127.0.0.1:8080";
  std::string data_dir;       // default ~/.ferry
  std::string db;             // default sqlite://<data_dir>/ferry.db
  std::string artifact_root;  // default file://<data_dir>/artifacts
  std::size_t max_body_bytes = 32u << 20;
  std::size_t max_upload_bytes = std::size_t{1} << 30;
  int threads = 0;
  double drain_timeout_seconds = 10;
  // Pipelines (KFP): the interpreter lightweight components run with (must
  // import kfp), the engine-wide cache switch, and the local executor's cap
  // on concurrently running tasks (0: only cpu and memory limit them).
  std::string task_python = "python3";
  bool pipeline_cache = true;
  int max_concurrent_tasks = 0;
  std::string log_level = "info";
  std::string log_format = "text";
  std::string config_file;
  std::string web_root;  // empty: the dashboard embedded in the binary
};

// Parses `ferry server` arguments (argv[0] is "server"). On --help or a usage
// error, prints to stdout/stderr and returns the exit code in `exit_code`
// with an empty optional-like failure: ok() is false and the code is set.
struct ParsedOptions {
  ServerOptions options;
  bool exit_now = false;
  int exit_code = 0;
};
ParsedOptions ParseServerOptions(int argc, char** argv);

// Fills defaults that depend on other options (data dir, db, artifact root)
// and expands a leading "~/".
Status ResolveDefaults(ServerOptions& options);

}  // namespace ferry::server
