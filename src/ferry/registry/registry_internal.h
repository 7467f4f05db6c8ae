#pragma once
// Private to the registry module: MLflow's name, tag, alias and version
// validation (utils/validation.py), the URI parsing MLflow's registry relies
// on (Python's urllib.parse.urlparse and posixpath.normpath, models:/ and
// runs:/ URIs), and the model-version source checks of MLflow's server
// (server/handlers.py _validate_source_run / _validate_source_model). Kept
// apart so tests can reach them. Thread-safety: pure functions.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ferry/common/status.h"

namespace ferry::registry::internal {

// Python's json.dumps(text) (ASCII-escaped, double-quoted), for messages.
std::string JsonQuote(std::string_view text);
// Python's repr(text) for a str: single quotes unless the text has one and
// no double quote.
std::string PyRepr(std::string_view text);
// Python's len() of a UTF-8 string: code points.
std::size_t CodePoints(std::string_view text);

// posixpath.normpath.
std::string NormPath(std::string_view path);
// utils/validation.py path_not_unique.
bool PathNotUnique(std::string_view name);

// The validations, with MLflow's messages; all InvalidArgument.
Status ValidateModelName(std::string_view name);
Status ValidateNewModelName(std::string_view new_name);
Status ValidateTagKey(std::string_view key);
Status ValidateTag(std::string_view key, std::string_view value);
Status ValidateAlias(std::string_view alias);
Status ValidateAliasNotReserved(std::string_view alias);
// Python's int(text) for a version: optional sign, digits, surrounding
// whitespace. InvalidArgument "Parameter 'version' must be an integer, got 'x'."
Result<std::int64_t> ParseVersion(std::string_view version);

// urllib.parse.urlparse: scheme (lower case; empty when there is none),
// netloc (after "//"), path, query, fragment.
struct Uri {
  std::string scheme, netloc, path, query, fragment;
};
Uri ParseUri(std::string_view uri, bool allow_fragments = true);

// A models:/ URI (store/artifact/utils/models.py _parse_model_uri): exactly
// one of model_id, version, stage, alias is set, or none of them ("latest").
struct ModelUri {
  std::string model_id;
  std::string name;
  std::string version;
  std::string stage;
  std::string alias;
};
// InvalidArgument "Not a proper models:/ URI: ..." when malformed.
Result<ModelUri> ParseModelUri(std::string_view uri);

// The run id of a runs:/<run_id>/path URI; InvalidArgument when malformed.
Result<std::string> RunIdOfRunsUri(std::string_view uri);

// The checks on a source URI that need no lookup: hosts the server must not
// contact (MLflow's host policy), relative-path tricks. InvalidArgument.
Status ValidateSourceScheme(std::string_view source);
Status ValidateNoRelativePaths(std::string_view source);
// True for a local path or file: URI (utils/uri.py is_local_uri).
bool IsLocalUri(std::string_view uri);
// mlflow-artifacts: URIs and http(s) URIs through the artifact proxy route.
bool IsMlflowArtifactSource(std::string_view source);
// The source lies under `root` (same scheme and authority, path prefix by
// components, %-decoded).
bool IsUriWithinRoot(std::string_view source, std::string_view root);
// The filesystem path of a local URI (file:///a/b -> /a/b).
std::string LocalPath(std::string_view uri);

// "Invalid model version source: '<source>'. The <id_name> request
// parameter must identify the resource that contains the source."
Status InvalidSourceFor(std::string_view source, std::string_view id_name);

}  // namespace ferry::registry::internal
