#pragma once
// The CLI's verbs, each a function from parsed options to an exit code, so
// that cli.cc only parses flags. Output goes to the Context's streams:
// results to `out`, errors and notices to `err`.
//
// Exit codes: 0 success, 1 the server refused or failed (or a manifest
// document was bad), 2 usage error, 3 the server could not be reached.
//
// Thread-safety: one Context per invocation; not thread-safe.

#include <cstdint>
#include <istream>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/cli/resource_client.h"
#include "ferry/common/env.h"
#include "ferry/common/json.h"

namespace ferry::cli {

enum ExitCode : int { kExitOk = 0, kExitFailed = 1, kExitUsage = 2, kExitUnreachable = 3 };

// What every verb needs: the server, the namespace and the streams.
struct Context {
  ResourceClient* client = nullptr;
  std::string ns = "default";
  bool ns_explicit = false;  // -n was given, so it must agree with manifests
  std::istream* in = nullptr;
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  Env* env = nullptr;
};

struct ApplyOptions {
  std::vector<std::string> files{};
};

struct GetOptions {
  std::string kind{};  // also "kind/name"
  std::vector<std::string> names{};
  std::string output = "table";  // table, json, yaml or name
  std::string selector{};
  bool all_namespaces = false;
  bool watch = false;
  // Tracking kinds (experiments, runs, models), and --experiment for Katib trials.
  std::string experiment{};  // runs of this experiment (name or id); trials of this Katib experiment
  std::string filter{};      // MLflow search filter, e.g. "metrics.acc > 0.9"
  std::int64_t limit = 0;    // at most this many (runs default to 100)
};

struct DescribeOptions {
  std::string kind{};  // also "kind/name"
  std::vector<std::string> names{};
};

struct DeleteOptions {
  std::string kind{};  // also "kind/name"; empty with files
  std::vector<std::string> names{};
  std::vector<std::string> files{};
  bool ignore_not_found = false;
};

// Prints the client version and, when the server answers, its version.
int RunVersion(Context& ctx, std::string_view client_version);
// Creates or replaces every object of the manifests.
int RunApply(Context& ctx, const ApplyOptions& options);
// Prints objects as a table, JSON, YAML or names; optionally keeps watching.
int RunGet(Context& ctx, const GetOptions& options);
// Prints the multi-section view of each named object.
int RunDescribe(Context& ctx, const DescribeOptions& options);
// Deletes the named objects or those of the manifests.
int RunDelete(Context& ctx, const DeleteOptions& options);

// True when `live` already holds what `applied` asks for in the fields a
// user manages (labels, annotations, and every top-level field but
// apiVersion, kind, metadata and status); absent, null and empty values are
// alike. Apply then reports "unchanged" instead of replacing.
bool SameUserFields(const Json& applied, const Json& live);

}  // namespace ferry::cli
