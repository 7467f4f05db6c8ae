#pragma once
// RegistryStore: MLflow's model registry — registered models, their numbered
// versions, tags, aliases and stages — kept in the Store (SQLite or
// PostgreSQL, migration 0004_registry*.sql) and durable when a call returns.
// The routes in api/routes/mlflow/registry.cc serve it as
// /api/2.0/mlflow/registered-models|model-versions/... to the stock `mlflow`
// client.
//
// Semantics are MLflow's server (mlflow/store/model_registry/
// sqlalchemy_store.py of the pinned release):
// - Model names: not blank, no '/' or ':', and not changed by POSIX path
//   normalisation ("a/../b", "./a", ".." are refused). Names are unique.
// - Versions are numbered 1, 2, ... per model (one past the highest ever
//   created, deleted ones included); status READY; stage "None" at first.
//   Stages are read case-insensitively ("production" -> "Production").
// - Deleting a version keeps its number taken, redacts its row and drops
//   the aliases that pointed to it; deleting a model deletes its versions,
//   tags and aliases. Renaming a model carries its versions along.
// - Aliases: [A-Za-z0-9_-]{1,255}; "latest" (any case) and "v<digits>" are
//   reserved. Setting an alias moves it to the named version.
// - Tags: keys as MLflow's tag names (≤ 250 chars, [\w\-. /], no path
//   tricks), values ≤ 100,000 chars.
// - Models (and their versions) carrying the tag
//   mlflow.prompt.is_prompt = "true" are prompts and are hidden from the
//   searches unless the filter asks for them, as MLflow does.
// - A version created from a `models:/<model_id>` source, or with a
//   model_id, is linked to that MLflow 3 logged model: its storage location
//   (the download URI) is the logged model's artifact location and its
//   run_id defaults to the logged model's source run. A `models:/name/N`
//   or `models:/name@alias` source resolves to that version's location.
//
// Lineage (DESIGN.md §7): each version records the run that produced it,
// the logged model, that run's experiment and — when the run carries the tag
// `ferry.pipeline_run_id` — the pipeline run, so `ferry describe model` can
// show version -> run -> pipeline run without further lookups.
//
// Error codes (the routes map them to MLflow's error_code):
//   NotFound         RESOURCE_DOES_NOT_EXIST   unknown model / version
//   AlreadyExists    RESOURCE_ALREADY_EXISTS   model name taken (create, rename)
//   InvalidArgument  INVALID_PARAMETER_VALUE   validation, bad filter / order_by / token,
//                                              unknown alias (as MLflow answers it)
//
// Thread-safety: thread-safe; each call is one store transaction (or one
// read). Concurrent CreateModelVersion calls get distinct numbers.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/common/env.h"
#include "ferry/common/status.h"
#include "ferry/store/database.h"
#include "ferry/tracking/logged_model_store.h"
#include "ferry/tracking/tracking_store.h"

namespace ferry::registry {

using Tag = tracking::Tag;
using tracking::Page;
template <typename T>
using PageOf = tracking::PageOf<T>;

// MLflow's limits (utils/validation.py, store/model_registry/__init__.py).
inline constexpr std::size_t kMaxTagKeyLength = 250;
inline constexpr std::size_t kMaxTagValueLength = 100'000;
inline constexpr std::size_t kMaxAliasLength = 255;
inline constexpr std::int64_t kSearchRegisteredModelsDefault = 100;
inline constexpr std::int64_t kSearchRegisteredModelsMax = 1000;
inline constexpr std::int64_t kSearchModelVersionsDefault = 10'000;
inline constexpr std::int64_t kSearchModelVersionsMax = 200'000;

// The stages, canonical spelling.
inline constexpr std::string_view kStageNone = "None";
inline constexpr std::string_view kStageStaging = "Staging";
inline constexpr std::string_view kStageProduction = "Production";
inline constexpr std::string_view kStageArchived = "Archived";

// The tag on a run that names the pipeline run it belongs to.
inline constexpr std::string_view kPipelineRunIdTag = "ferry.pipeline_run_id";

// Canonical stage for any capitalisation; InvalidArgument "Invalid Model
// Version stage: x. Value must be one of None, Staging, Production, Archived."
Result<std::string> CanonicalStage(std::string_view stage);

// Where a version came from, beyond what MLflow returns (DESIGN.md §7).
struct Lineage {
  std::string experiment_id;    // of run_id, when the run is known
  std::string pipeline_run_id;  // the run's ferry.pipeline_run_id tag, when present
};

struct ModelVersion {
  std::string name;
  std::int64_t version = 0;
  std::int64_t creation_timestamp = 0;  // ms since the epoch
  std::int64_t last_updated_timestamp = 0;
  std::optional<std::string> description;
  std::optional<std::string> user_id;
  std::string current_stage{kStageNone};
  std::optional<std::string> source;
  std::optional<std::string> run_id;
  std::string status = "READY";
  std::optional<std::string> status_message;
  std::vector<Tag> tags;  // sorted by key
  std::optional<std::string> run_link;
  std::vector<std::string> aliases;     // sorted
  std::optional<std::string> model_id;  // MLflow 3 logged model
  std::string storage_location;         // what get-download-uri answers
  Lineage lineage;
};

struct RegisteredModelAlias {
  std::string alias;
  std::int64_t version = 0;
  bool operator==(const RegisteredModelAlias&) const = default;
};

struct RegisteredModel {
  std::string name;
  std::int64_t creation_timestamp = 0;
  std::int64_t last_updated_timestamp = 0;
  std::optional<std::string> description;
  std::vector<ModelVersion> latest_versions;  // the newest version of each stage, by stage
  std::vector<Tag> tags;                      // sorted by key
  std::vector<RegisteredModelAlias> aliases;  // sorted by alias
};

// Unset and empty differ as in MLflow's proto (HasField): a models:/name/N
// source inherits run_id and model_id only when they are unset.
struct CreateModelVersionRequest {
  std::string name;
  std::string source;
  std::optional<std::string> run_id;  // unset or empty: the logged model's source run, else ""
  std::vector<Tag> tags;
  std::optional<std::string> run_link;
  std::optional<std::string> description;
  std::optional<std::string> model_id;  // MLflow 3 logged model
};

struct RegistrySearch {
  std::string filter;
  std::vector<std::string> order_by;
  Page page;  // max_results: see the limits above
};

struct RegistryDeps {
  // Source checks (a run's artifact location) and lineage (the run's
  // experiment and ferry.pipeline_run_id tag). May be null: then sources
  // that need a run are refused and no lineage is recorded.
  tracking::TrackingStore* tracking = nullptr;
  // Resolves models:/<model_id> sources and model_id, and records on the
  // logged model the versions made from it (its mlflow.modelVersions tag,
  // as MLflow does). May be null: then such sources are refused.
  tracking::LoggedModelStore* logged_models = nullptr;
};

class RegistryStore {
 public:
  // Opens the store over a migrated database.
  static Result<std::unique_ptr<RegistryStore>> Open(store::Database* db, Env* env, RegistryDeps deps = {});
  virtual ~RegistryStore() = default;

  // Registered models.
  virtual Result<RegisteredModel> CreateRegisteredModel(std::string_view name, const std::vector<Tag>& tags,
                                                        const std::optional<std::string>& description) = 0;
  virtual Result<RegisteredModel> GetRegisteredModel(std::string_view name) = 0;
  virtual Result<RegisteredModel> RenameRegisteredModel(std::string_view name, std::string_view new_name) = 0;
  // Sets the description (unset clears it) and bumps last_updated_timestamp.
  virtual Result<RegisteredModel> UpdateRegisteredModel(std::string_view name,
                                                        const std::optional<std::string>& description) = 0;
  virtual Status DeleteRegisteredModel(std::string_view name) = 0;
  // Filter: name (=, !=, LIKE, ILIKE, IN, NOT IN), tags.<key> (=, !=, LIKE,
  // ILIKE). Order: name, timestamp or last_updated_timestamp (both the last
  // update, as MLflow's SQL store orders them), and creation_timestamp (a
  // Ferry addition); name ASC breaks ties.
  virtual Result<PageOf<RegisteredModel>> SearchRegisteredModels(const RegistrySearch& search) = 0;
  // The newest version in each of `stages` (all stages when empty).
  virtual Result<std::vector<ModelVersion>> GetLatestVersions(std::string_view name,
                                                              const std::vector<std::string>& stages) = 0;
  virtual Status SetRegisteredModelTag(std::string_view name, const Tag& tag) = 0;
  virtual Status DeleteRegisteredModelTag(std::string_view name, std::string_view key) = 0;

  // Aliases. Versions are given as text, as MLflow's API carries them.
  virtual Status SetRegisteredModelAlias(std::string_view name, std::string_view alias,
                                         std::string_view version) = 0;
  virtual Status DeleteRegisteredModelAlias(std::string_view name, std::string_view alias) = 0;
  // "latest" (any case) is the highest live version.
  virtual Result<ModelVersion> GetModelVersionByAlias(std::string_view name, std::string_view alias) = 0;

  // Model versions.
  virtual Result<ModelVersion> CreateModelVersion(const CreateModelVersionRequest& request) = 0;
  virtual Result<ModelVersion> GetModelVersion(std::string_view name, std::string_view version) = 0;
  virtual Result<ModelVersion> UpdateModelVersion(std::string_view name, std::string_view version,
                                                  const std::optional<std::string>& description) = 0;
  virtual Status DeleteModelVersion(std::string_view name, std::string_view version) = 0;
  // Filter: name and run_id (=, !=, LIKE, ILIKE, IN, NOT IN), source_path
  // (=, !=, LIKE, ILIKE), version_number (=, !=, <, <=, >, >=), tags.<key>
  // (=, !=, LIKE, ILIKE). Order: name, version_number, creation_timestamp,
  // last_updated_timestamp; default last_updated_timestamp DESC, name ASC,
  // version_number DESC; name ASC and version_number DESC break ties.
  virtual Result<PageOf<ModelVersion>> SearchModelVersions(const RegistrySearch& search) = 0;
  virtual Result<ModelVersion> TransitionModelVersionStage(std::string_view name, std::string_view version,
                                                           std::string_view stage,
                                                           bool archive_existing_versions) = 0;
  virtual Result<std::string> GetModelVersionDownloadUri(std::string_view name, std::string_view version) = 0;
  virtual Status SetModelVersionTag(std::string_view name, std::string_view version, const Tag& tag) = 0;
  virtual Status DeleteModelVersionTag(std::string_view name, std::string_view version,
                                       std::string_view key) = 0;
};

}  // namespace ferry::registry
