#pragma once
// CatalogStore: KFP's catalog — experiments, uploaded pipelines and their
// versions — kept in the Store (SQLite or PostgreSQL, migration
// 0006_pipeline_catalog*.sql), durable when a call returns. Runs are the
// engine's (engine.h); the KFP REST routes (api/routes/kfp/) join the two.
//
// Semantics are the KFP API server's (backend/src/apiserver/resource):
// - Experiments: display names are unique per namespace (AlreadyExists).
//   The experiment "Default" (namespace "") exists from Open() on, as in a
//   single-user KFP; DefaultExperimentId() creates it again if it was
//   deleted. Archiving only flips the experiment's storage state; the
//   routes archive its runs.
// - Pipelines: names are unique per namespace; a pipeline is created with
//   its first version (CreatePipelineAndVersion, the upload) or bare
//   (CreatePipeline). Deleting a pipeline that still has versions is
//   FailedPrecondition unless `cascade` is set.
// - Versions: names are unique per pipeline; they carry the pipeline text
//   exactly as uploaded. The latest version is the most recently created.
// - Ids are UUIDs from the Env; times are microseconds since the epoch.
// - Text fields must be valid UTF-8; display names must not be blank and at
//   most kMaxNameLength bytes (InvalidArgument naming the field).
//
// The catalog is small (people upload pipelines by hand), so the List calls
// return everything; filtering, sorting and paging are the routes' job.
//
// Thread-safety: thread-safe; each call is one transaction or one read.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ferry/common/env.h"
#include "ferry/common/status.h"
#include "ferry/store/database.h"

namespace ferry::pipelines {

inline constexpr std::size_t kMaxNameLength = 255;  // KFP's VARCHAR(255) name columns
inline constexpr std::string_view kDefaultExperimentName = "Default";

struct Experiment {
  std::string experiment_id;
  std::string display_name;
  std::string description;
  std::string namespace_;
  std::int64_t created_micros = 0;
  bool archived = false;
  std::int64_t last_run_created_micros = 0;  // 0 = no run yet
};

struct Pipeline {
  std::string pipeline_id;
  std::string name;          // unique per namespace
  std::string display_name;  // defaults to name
  std::string description;
  std::string namespace_;
  std::int64_t created_micros = 0;
  std::map<std::string, std::string> tags;
};

struct PipelineVersion {
  std::string pipeline_version_id;
  std::string pipeline_id;
  std::string name;          // unique per pipeline
  std::string display_name;  // defaults to name
  std::string description;
  std::int64_t created_micros = 0;
  std::string code_source_url;
  std::map<std::string, std::string> tags;
  std::string pipeline_text;  // as uploaded (YAML or JSON)
};

class CatalogStore {
 public:
  // Opens over a migrated database and makes sure the default experiment
  // exists.
  static Result<std::unique_ptr<CatalogStore>> Open(store::Database* db, Env* env);

  // Experiments. Create fills id and times (the fields given are display
  // name, description, namespace).
  Result<Experiment> CreateExperiment(const Experiment& experiment);
  Result<Experiment> GetExperiment(std::string_view experiment_id);
  Result<std::vector<Experiment>> ListExperiments();
  Status DeleteExperiment(std::string_view experiment_id);
  Status SetExperimentArchived(std::string_view experiment_id, bool archived);
  // Records that a run was created in the experiment at `micros`.
  Status TouchExperiment(std::string_view experiment_id, std::int64_t micros);
  // The id of "Default" in namespace "", created if missing.
  Result<std::string> DefaultExperimentId();

  // Pipelines and versions. Creates fill ids and times; an empty display
  // name becomes the name.
  Result<std::pair<Pipeline, PipelineVersion>> CreatePipelineAndVersion(const Pipeline& pipeline,
                                                                        const PipelineVersion& version);
  Result<Pipeline> CreatePipeline(const Pipeline& pipeline);
  Result<PipelineVersion> CreatePipelineVersion(const PipelineVersion& version);  // NotFound: pipeline
  Result<Pipeline> GetPipeline(std::string_view pipeline_id);
  Result<Pipeline> GetPipelineByName(std::string_view namespace_, std::string_view name);
  Result<std::vector<Pipeline>> ListPipelines();
  Status DeletePipeline(std::string_view pipeline_id, bool cascade);
  Result<PipelineVersion> GetPipelineVersion(std::string_view pipeline_id, std::string_view version_id);
  // NotFound when the pipeline has no version.
  Result<PipelineVersion> LatestPipelineVersion(std::string_view pipeline_id);
  // Without pipeline_text (empty), for listings; NotFound: pipeline.
  Result<std::vector<PipelineVersion>> ListPipelineVersions(std::string_view pipeline_id);
  Status DeletePipelineVersion(std::string_view pipeline_id, std::string_view version_id);

 private:
  CatalogStore(store::Database* db, Env* env) : db_(db), env_(env) {}
  store::Database* db_;
  Env* env_;
};

}  // namespace ferry::pipelines
