#include "ferry/server/options.h"

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include <unistd.h>

#include <CLI/CLI.hpp>

#include "ferry/common/json.h"
#include "ferry/server/process.h"

namespace ferry::server {
namespace {

std::string ExpandHome(const std::string& path) {
  if (path == "~" || path.rfind("~/", 0) == 0) {
    const char* home = std::getenv("HOME");
    return std::string(home ? home : "") + path.substr(1);
  }
  return path;
}

// Applies `key: value` pairs of a YAML config file to options that neither a
// flag nor an environment variable set.
Status ApplyConfigFile(CLI::App& app, const std::string& path) {
  std::ifstream in(path);
  if (!in) return InvalidArgument("cannot read config file '" + path + "'", "config");
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = ParseYaml(text.str());
  if (!parsed.ok()) return parsed.status().WithContext("config file '" + path + "'");
  Json doc = std::move(parsed).value();
  if (doc.is_null()) return Status::OK();
  if (!doc.is_object())
    return InvalidArgument("config file '" + path + "' must be a mapping of option names to values");
  for (const auto& [key, value] : doc.items()) {
    CLI::Option* opt = nullptr;
    try {
      opt = app.get_option("--" + key);
    } catch (const CLI::OptionNotFound&) {
    }
    if (opt == nullptr || key == "config")
      return InvalidArgument("config file '" + path + "': unknown option '" + key + "'", key);
    if (value.is_object() || value.is_array() || value.is_null())
      return InvalidArgument("config file '" + path + "': option '" + key + "' must be a scalar", key);
    if (opt->count() > 0) continue;  // a flag or FERRY_* variable wins
    try {
      opt->add_result(value.is_string() ? value.get<std::string>() : value.dump());
      opt->run_callback();
    } catch (const CLI::ParseError& e) {
      return InvalidArgument("config file '" + path + "': option '" + key + "': " + e.what(), key);
    }
  }
  return Status::OK();
}

}  // namespace

ParsedOptions ParseServerOptions(int argc, char** argv) {
  ParsedOptions parsed;
  ServerOptions& o = parsed.options;
  CLI::App app{"Run the Ferry control plane: REST API, store, scheduler and controllers.", "ferry server"};
  app.get_formatter()->column_width(34);
  app.add_option("--listen", o.listen, "Address to serve HTTP on, host:port (port 0 picks a free port)")
      ->envname("FERRY_LISTEN")
      ->capture_default_str();
  app.add_option("--data-dir", o.data_dir, "Directory for the embedded store, artifacts and the lock file [~/.ferry]")
      ->envname("FERRY_DATA_DIR");
  app.add_option("--db", o.db,
                 "Store URL: sqlite:///path/ferry.db or postgresql://user:pass@host:port/db "
                 "[sqlite in the data dir]")
      ->envname("FERRY_DB");
  app.add_option("--artifact-root", o.artifact_root, "Artifact store URI [file://<data-dir>/artifacts]")
      ->envname("FERRY_ARTIFACT_ROOT");
  app.add_option("--max-body-bytes", o.max_body_bytes, "Largest request body accepted")
      ->envname("FERRY_MAX_BODY_BYTES")
      ->check(CLI::Range(std::size_t{1024}, std::size_t{1} << 34))
      ->capture_default_str();
  app.add_option("--max-upload-bytes", o.max_upload_bytes,
                 "Largest artifact upload in one request (MLflow's artifact proxy; the client's "
                 "multipart upload has no such limit)")
      ->envname("FERRY_MAX_UPLOAD_BYTES")
      ->check(CLI::Range(std::size_t{1024}, std::size_t{1} << 40))
      ->capture_default_str();
  app.add_option("--threads", o.threads, "HTTP worker threads (0: one per core, at least 2)")
      ->envname("FERRY_THREADS")
      ->check(CLI::Range(0, 256))
      ->capture_default_str();
  app.add_option("--drain-timeout", o.drain_timeout_seconds,
                 "Seconds to let in-flight requests finish on SIGTERM")
      ->envname("FERRY_DRAIN_TIMEOUT")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  app.add_option("--web-root", o.web_root,
                 "Serve the dashboard from this folder (a `vite build` of web/) instead of the copy "
                 "embedded in the binary; for work on the dashboard")
      ->envname("FERRY_WEB_ROOT")
      ->check(CLI::ExistingDirectory);
  app.add_option("--task-python", o.task_python,
                 "Python that runs KFP lightweight components (must import kfp); environments with "
                 "their packages_to_install are made from it under <data-dir>/pipelines/envs")
      ->envname("FERRY_TASK_PYTHON")
      ->capture_default_str();
  app.add_option_function<std::string>(
         "--pipeline-cache",
         [&o](const std::string& v) { o.pipeline_cache = v == "on"; },
         "Reuse outputs of earlier identical pipeline tasks (KFP caching): on or off [on]")
      ->envname("FERRY_PIPELINE_CACHE")
      ->check(CLI::IsMember({"on", "off"}));
  app.add_option("--max-concurrent-tasks", o.max_concurrent_tasks,
                 "Pipeline tasks running at once on this machine (0: as many as cpu and memory allow)")
      ->envname("FERRY_MAX_CONCURRENT_TASKS")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  AddLoggingOptions(app, o.log_level, o.log_format);
  app.add_option("--config", o.config_file,
                 "YAML file of option: value pairs (flags and FERRY_* variables take precedence)")
      ->envname("FERRY_CONFIG");
  try {
    app.parse(argc, argv);
    if (!o.config_file.empty()) {
      Status st = ApplyConfigFile(app, ExpandHome(o.config_file));
      if (!st.ok()) {
        std::cerr << "ferry server: " << st.message() << "\n";
        parsed.exit_now = true;
        parsed.exit_code = 2;
      }
    }
  } catch (const CLI::ParseError& e) {
    parsed.exit_now = true;
    parsed.exit_code = UsageExitCode(app, e);
  }
  return parsed;
}

Status ResolveDefaults(ServerOptions& o) {
  if (o.data_dir.empty()) o.data_dir = "~/.ferry";
  o.data_dir = ExpandHome(o.data_dir);
  if (o.data_dir.empty()) return InvalidArgument("--data-dir must not be empty", "data-dir");
  if (o.data_dir.front() != '/') {
    char* cwd = ::getcwd(nullptr, 0);
    if (cwd) {
      o.data_dir = std::string(cwd) + "/" + o.data_dir;
      std::free(cwd);
    }
  }
  while (o.data_dir.size() > 1 && o.data_dir.back() == '/') o.data_dir.pop_back();
  if (o.db.empty()) o.db = "sqlite://" + o.data_dir + "/ferry.db";
  if (o.artifact_root.empty()) o.artifact_root = "file://" + o.data_dir + "/artifacts";
  return Status::OK();
}

}  // namespace ferry::server
