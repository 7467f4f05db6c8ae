#pragma once
// How the MLflow routes reach proxied artifacts ("mlflow-artifacts:" URIs)
// in Ferry's ArtifactStore: `mlflow-artifacts:/X` (or
// `mlflow-artifacts://host:port/X`) is the store path `mlflow/X`. Shared by
// the artifact proxy (artifacts.cc), the logged-model routes (listing a
// model's artifacts) and the tracking routes (listing a run's artifacts).
//
// Thread-safety: stateless functions; the ArtifactStore is thread-safe.

#include <string>
#include <string_view>

#include "ferry/artifacts/artifact_store.h"
#include "ferry/common/json.h"
#include "ferry/common/status.h"

namespace ferry::api::mlflow {

// The store prefix of everything the MLflow surface keeps.
inline constexpr std::string_view kMlflowArtifactPrefix = "mlflow";

// Checks a client-supplied relative artifact path as MLflow's
// validate_path_is_safe does, and more strictly: ValidateArtifactPath on the
// path and on every further percent-decoding of it (so "..%2F" smuggled
// through one decoding layer is refused too). InvalidArgument "Invalid path
// '<path>': <reason>".
Status ValidateClientPath(std::string_view path);

// The store path of a proxied artifact URI plus an optional relative path
// below it; InvalidArgument for any other scheme or a hostile path.
Result<std::string> ProxiedStorePath(std::string_view artifact_uri, std::string_view relative = {});

// MLflow's ListArtifacts files of the store directory `store_dir`: its
// children as [{path, is_dir, file_size (files only)}], sorted by path, where
// path is `path_prefix` + "/" + the child's name (just the name when the
// prefix is empty). A missing directory or a file lists as empty, as
// MLflow's local repository does.
Result<Json> ListFilesJson(artifacts::ArtifactStore& store, std::string_view store_dir,
                           std::string_view path_prefix);

}  // namespace ferry::api::mlflow
