#include "ferry/pipelines/catalog_store.h"

#include "ferry/common/json.h"
#include "ferry/common/strings.h"

namespace ferry::pipelines {
namespace {

using store::Row;
using store::Rows;
using store::Tx;
using store::Value;

bool IsBlank(std::string_view s) { return s.find_first_not_of(" \t\r\n") == std::string_view::npos; }

Status CheckText(std::string_view text, std::string_view field) {
  if (!IsStorableText(text))
    return InvalidArgument(std::string(field) + " must be valid UTF-8 without NUL bytes", std::string(field));
  return Status::OK();
}

Status CheckName(std::string_view name, std::string_view what, std::string_view field) {
  if (IsBlank(name))
    return InvalidArgument(std::string(what) + " name must not be empty", std::string(field));
  if (name.size() > kMaxNameLength)
    return InvalidArgument(
        std::string(what) + " name is longer than " + std::to_string(kMaxNameLength) + " bytes",
        std::string(field));
  return CheckText(name, field);
}

Status CheckTags(const std::map<std::string, std::string>& tags) {
  for (const auto& [k, v] : tags) {
    RETURN_IF_ERROR(CheckText(k, "tags"));
    RETURN_IF_ERROR(CheckText(v, "tags[" + k + "]"));
  }
  return Status::OK();
}

std::string TagsText(const std::map<std::string, std::string>& tags) {
  Json j = Json::object();
  for (const auto& [k, v] : tags) j[k] = v;
  return j.dump();
}

std::map<std::string, std::string> ParseTags(const std::string& text) {
  std::map<std::string, std::string> tags;
  auto parsed = ParseJson(text);
  if (!parsed.ok() || !parsed->is_object()) return tags;
  for (const auto& [k, v] : parsed->items())
    if (v.is_string()) tags[k] = v.get<std::string>();
  return tags;
}

constexpr char kExperimentColumns[] =
    "experiment_id, display_name, description, namespace, created_micros, archived, "
    "last_run_created_micros";

Experiment ExperimentFrom(const Row& r) {
  return Experiment{r.Text(0), r.Text(1), r.Text(2), r.Text(3), r.Int(4), r.Int(5) != 0, r.Int(6)};
}

constexpr char kPipelineColumns[] =
    "pipeline_id, name, display_name, description, namespace, created_micros, tags";

Pipeline PipelineFrom(const Row& r) {
  return Pipeline{r.Text(0), r.Text(1), r.Text(2), r.Text(3), r.Text(4), r.Int(5), ParseTags(r.Text(6))};
}

constexpr char kVersionColumns[] =
    "pipeline_version_id, pipeline_id, name, display_name, description, created_micros, "
    "code_source_url, tags";

PipelineVersion VersionFrom(const Row& r, std::string text) {
  return PipelineVersion{r.Text(0),      r.Text(1), r.Text(2), r.Text(3),
                         r.Text(4),      r.Int(5),  r.Text(6), ParseTags(r.Text(7)),
                         std::move(text)};
}

Status ValidatePipeline(const Pipeline& p) {
  RETURN_IF_ERROR(CheckName(p.name, "pipeline", "pipeline.name"));
  if (!p.display_name.empty())
    RETURN_IF_ERROR(CheckName(p.display_name, "pipeline display", "pipeline.display_name"));
  RETURN_IF_ERROR(CheckText(p.description, "pipeline.description"));
  RETURN_IF_ERROR(CheckText(p.namespace_, "pipeline.namespace"));
  return CheckTags(p.tags);
}

Status ValidateVersion(const PipelineVersion& v) {
  RETURN_IF_ERROR(CheckName(v.name, "pipeline version", "pipeline_version.name"));
  if (!v.display_name.empty())
    RETURN_IF_ERROR(CheckName(v.display_name, "pipeline version display", "pipeline_version.display_name"));
  RETURN_IF_ERROR(CheckText(v.description, "pipeline_version.description"));
  RETURN_IF_ERROR(CheckText(v.code_source_url, "pipeline_version.code_source_url"));
  RETURN_IF_ERROR(CheckText(v.pipeline_text, "pipeline_version.pipeline_spec"));
  if (IsBlank(v.pipeline_text))
    return InvalidArgument("pipeline version has no pipeline spec", "pipeline_version.pipeline_spec");
  return CheckTags(v.tags);
}

Status InsertPipeline(Tx& tx, const Pipeline& p) {
  auto n = tx.Exec(
      "INSERT INTO kfp_pipelines (pipeline_id, name, display_name, description, namespace, "
      "created_micros, tags) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
      {p.pipeline_id, p.name, p.display_name, p.description, p.namespace_, p.created_micros,
       TagsText(p.tags)});
  if (!n.ok()) return n.status();
  if (*n == 0)
    return AlreadyExists("Pipeline with name " + QuoteForMessage(p.name) + " already exists" +
                         (p.namespace_.empty() ? "" : " in namespace " + QuoteForMessage(p.namespace_)));
  return Status::OK();
}

Status InsertVersion(Tx& tx, const PipelineVersion& v) {
  auto n = tx.Exec(
      "INSERT INTO kfp_pipeline_versions (pipeline_version_id, pipeline_id, name, display_name, "
      "description, created_micros, code_source_url, tags, pipeline_text) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
      {v.pipeline_version_id, v.pipeline_id, v.name, v.display_name, v.description, v.created_micros,
       v.code_source_url, TagsText(v.tags), v.pipeline_text});
  if (!n.ok()) return n.status();
  if (*n == 0)
    return AlreadyExists("Pipeline version with name " + QuoteForMessage(v.name) +
                         " already exists in pipeline " + v.pipeline_id);
  return Status::OK();
}

Status PipelineExists(Tx& tx, const std::string& pipeline_id) {
  ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT 1 FROM kfp_pipelines WHERE pipeline_id = $1", {pipeline_id}));
  if (rows.empty()) return NotFound("Pipeline " + QuoteForMessage(pipeline_id) + " not found");
  return Status::OK();
}

}  // namespace

Result<std::unique_ptr<CatalogStore>> CatalogStore::Open(store::Database* db, Env* env) {
  if (db == nullptr || env == nullptr) return InvalidArgument("CatalogStore::Open: db and env are required");
  std::unique_ptr<CatalogStore> store(new CatalogStore(db, env));
  RETURN_IF_ERROR(store->DefaultExperimentId().status());
  return store;
}

Result<Experiment> CatalogStore::CreateExperiment(const Experiment& given) {
  RETURN_IF_ERROR(CheckName(given.display_name, "experiment", "experiment.display_name"));
  RETURN_IF_ERROR(CheckText(given.description, "experiment.description"));
  RETURN_IF_ERROR(CheckText(given.namespace_, "experiment.namespace"));
  Experiment e = given;
  e.experiment_id = env_->NewUuid();
  e.created_micros = env_->NowMicros();
  e.archived = false;
  e.last_run_created_micros = 0;
  ASSIGN_OR_RETURN(
      std::int64_t n,
      db_->Exec("INSERT INTO kfp_experiments (experiment_id, display_name, description, namespace, "
                "created_micros, archived, last_run_created_micros) "
                "VALUES ($1, $2, $3, $4, $5, 0, 0) ON CONFLICT DO NOTHING",
                {e.experiment_id, e.display_name, e.description, e.namespace_, e.created_micros}));
  if (n == 0)
    return AlreadyExists("Experiment with name " + QuoteForMessage(e.display_name) + " already exists" +
                         (e.namespace_.empty() ? "" : " in namespace " + QuoteForMessage(e.namespace_)));
  return e;
}

Result<Experiment> CatalogStore::GetExperiment(std::string_view experiment_id) {
  ASSIGN_OR_RETURN(Rows rows, db_->Query(std::string("SELECT ") + kExperimentColumns +
                                             " FROM kfp_experiments WHERE experiment_id = $1",
                                         {std::string(experiment_id)}));
  if (rows.empty()) return NotFound("Experiment " + QuoteForMessage(experiment_id) + " not found");
  return ExperimentFrom(rows[0]);
}

Result<std::vector<Experiment>> CatalogStore::ListExperiments() {
  ASSIGN_OR_RETURN(Rows rows, db_->Query(std::string("SELECT ") + kExperimentColumns +
                                         " FROM kfp_experiments ORDER BY created_micros, experiment_id"));
  std::vector<Experiment> out;
  out.reserve(rows.size());
  for (const Row& r : rows) out.push_back(ExperimentFrom(r));
  return out;
}

Status CatalogStore::DeleteExperiment(std::string_view experiment_id) {
  ASSIGN_OR_RETURN(std::int64_t n, db_->Exec("DELETE FROM kfp_experiments WHERE experiment_id = $1",
                                             {std::string(experiment_id)}));
  if (n == 0) return NotFound("Experiment " + QuoteForMessage(experiment_id) + " not found");
  return Status::OK();
}

Status CatalogStore::SetExperimentArchived(std::string_view experiment_id, bool archived) {
  ASSIGN_OR_RETURN(std::int64_t n,
                   db_->Exec("UPDATE kfp_experiments SET archived = $1 WHERE experiment_id = $2",
                             {std::int64_t{archived ? 1 : 0}, std::string(experiment_id)}));
  if (n == 0) return NotFound("Experiment " + QuoteForMessage(experiment_id) + " not found");
  return Status::OK();
}

Status CatalogStore::TouchExperiment(std::string_view experiment_id, std::int64_t micros) {
  ASSIGN_OR_RETURN(
      std::int64_t n,
      db_->Exec("UPDATE kfp_experiments SET last_run_created_micros = $1 WHERE experiment_id = $2 "
                "AND last_run_created_micros < $1",
                {micros, std::string(experiment_id)}));
  if (n == 0) RETURN_IF_ERROR(GetExperiment(experiment_id).status());
  return Status::OK();
}

Result<std::string> CatalogStore::DefaultExperimentId() {
  const std::string name(kDefaultExperimentName);
  ASSIGN_OR_RETURN(
      Rows rows,
      db_->Query("SELECT experiment_id FROM kfp_experiments WHERE namespace = '' AND display_name = $1",
                 {name}));
  if (!rows.empty()) return rows[0].Text(0);
  // ON CONFLICT: a concurrent caller may have made it first; read it back.
  ASSIGN_OR_RETURN(
      std::int64_t n,
      db_->Exec("INSERT INTO kfp_experiments (experiment_id, display_name, description, namespace, "
                "created_micros, archived, last_run_created_micros) "
                "VALUES ($1, $2, $3, '', $4, 0, 0) ON CONFLICT DO NOTHING",
                {env_->NewUuid(), name,
                 std::string("All runs created without specifying an experiment will be grouped here."),
                 env_->NowMicros()}));
  (void)n;
  ASSIGN_OR_RETURN(
      rows, db_->Query("SELECT experiment_id FROM kfp_experiments WHERE namespace = '' AND display_name = $1",
                       {name}));
  if (rows.empty()) return Internal("the default experiment vanished while it was created");
  return rows[0].Text(0);
}

Result<std::pair<Pipeline, PipelineVersion>> CatalogStore::CreatePipelineAndVersion(
    const Pipeline& given_pipeline, const PipelineVersion& given_version) {
  Pipeline p = given_pipeline;
  if (p.display_name.empty()) p.display_name = p.name;
  PipelineVersion v = given_version;
  if (v.name.empty()) v.name = p.name;
  if (v.display_name.empty()) v.display_name = v.name;
  RETURN_IF_ERROR(ValidatePipeline(p));
  RETURN_IF_ERROR(ValidateVersion(v));
  p.pipeline_id = env_->NewUuid();
  p.created_micros = env_->NowMicros();
  v.pipeline_version_id = env_->NewUuid();
  v.pipeline_id = p.pipeline_id;
  v.created_micros = p.created_micros;
  RETURN_IF_ERROR(db_->Transact([&](Tx& tx) -> Status {
    RETURN_IF_ERROR(InsertPipeline(tx, p));
    return InsertVersion(tx, v);
  }));
  return std::make_pair(std::move(p), std::move(v));
}

Result<Pipeline> CatalogStore::CreatePipeline(const Pipeline& given) {
  Pipeline p = given;
  if (p.display_name.empty()) p.display_name = p.name;
  RETURN_IF_ERROR(ValidatePipeline(p));
  p.pipeline_id = env_->NewUuid();
  p.created_micros = env_->NowMicros();
  RETURN_IF_ERROR(db_->Transact([&](Tx& tx) { return InsertPipeline(tx, p); }));
  return p;
}

Result<PipelineVersion> CatalogStore::CreatePipelineVersion(const PipelineVersion& given) {
  PipelineVersion v = given;
  if (v.display_name.empty()) v.display_name = v.name;
  RETURN_IF_ERROR(ValidateVersion(v));
  v.pipeline_version_id = env_->NewUuid();
  v.created_micros = env_->NowMicros();
  RETURN_IF_ERROR(db_->Transact([&](Tx& tx) -> Status {
    RETURN_IF_ERROR(PipelineExists(tx, v.pipeline_id));
    return InsertVersion(tx, v);
  }));
  return v;
}

Result<Pipeline> CatalogStore::GetPipeline(std::string_view pipeline_id) {
  ASSIGN_OR_RETURN(Rows rows, db_->Query(std::string("SELECT ") + kPipelineColumns +
                                             " FROM kfp_pipelines WHERE pipeline_id = $1",
                                         {std::string(pipeline_id)}));
  if (rows.empty()) return NotFound("Pipeline " + QuoteForMessage(pipeline_id) + " not found");
  return PipelineFrom(rows[0]);
}

Result<Pipeline> CatalogStore::GetPipelineByName(std::string_view namespace_, std::string_view name) {
  ASSIGN_OR_RETURN(Rows rows, db_->Query(std::string("SELECT ") + kPipelineColumns +
                                             " FROM kfp_pipelines WHERE namespace = $1 AND name = $2",
                                         {std::string(namespace_), std::string(name)}));
  if (rows.empty()) return NotFound("Pipeline with name " + QuoteForMessage(name) + " not found");
  return PipelineFrom(rows[0]);
}

Result<std::vector<Pipeline>> CatalogStore::ListPipelines() {
  ASSIGN_OR_RETURN(Rows rows, db_->Query(std::string("SELECT ") + kPipelineColumns +
                                         " FROM kfp_pipelines ORDER BY created_micros, pipeline_id"));
  std::vector<Pipeline> out;
  out.reserve(rows.size());
  for (const Row& r : rows) out.push_back(PipelineFrom(r));
  return out;
}

Status CatalogStore::DeletePipeline(std::string_view pipeline_id, bool cascade) {
  const std::string id(pipeline_id);
  return db_->Transact([&](Tx& tx) -> Status {
    RETURN_IF_ERROR(PipelineExists(tx, id));
    if (cascade) {
      RETURN_IF_ERROR(tx.Exec("DELETE FROM kfp_pipeline_versions WHERE pipeline_id = $1", {id}).status());
    } else {
      ASSIGN_OR_RETURN(Rows rows,
                       tx.Query("SELECT COUNT(*) FROM kfp_pipeline_versions WHERE pipeline_id = $1", {id}));
      if (!rows.empty() && rows[0].Int(0) > 0)
        return FailedPrecondition("Pipeline " + id + " has " + std::to_string(rows[0].Int(0)) +
                                  " pipeline version(s); delete them first or pass cascade=true");
    }
    return tx.Exec("DELETE FROM kfp_pipelines WHERE pipeline_id = $1", {id}).status();
  });
}

Result<PipelineVersion> CatalogStore::GetPipelineVersion(std::string_view pipeline_id,
                                                         std::string_view version_id) {
  ASSIGN_OR_RETURN(Rows rows,
                   db_->Query(std::string("SELECT ") + kVersionColumns +
                                  ", pipeline_text FROM kfp_pipeline_versions WHERE pipeline_version_id = $1",
                              {std::string(version_id)}));
  if (rows.empty() || (!pipeline_id.empty() && rows[0].Text(1) != pipeline_id))
    return NotFound("Pipeline version " + QuoteForMessage(version_id) + " not found");
  return VersionFrom(rows[0], rows[0].Text(8));
}

Result<PipelineVersion> CatalogStore::LatestPipelineVersion(std::string_view pipeline_id) {
  ASSIGN_OR_RETURN(Rows rows,
                   db_->Query(std::string("SELECT ") + kVersionColumns +
                                  ", pipeline_text FROM kfp_pipeline_versions WHERE pipeline_id = $1 "
                                  "ORDER BY created_micros DESC, pipeline_version_id DESC LIMIT 1",
                              {std::string(pipeline_id)}));
  if (rows.empty()) {
    RETURN_IF_ERROR(GetPipeline(pipeline_id).status());
    return NotFound("Pipeline " + QuoteForMessage(pipeline_id) + " has no versions");
  }
  return VersionFrom(rows[0], rows[0].Text(8));
}

Result<std::vector<PipelineVersion>> CatalogStore::ListPipelineVersions(std::string_view pipeline_id) {
  const std::string id(pipeline_id);
  std::vector<PipelineVersion> out;
  RETURN_IF_ERROR(db_->Transact([&](Tx& tx) -> Status {
    out.clear();
    RETURN_IF_ERROR(PipelineExists(tx, id));
    ASSIGN_OR_RETURN(Rows rows, tx.Query(std::string("SELECT ") + kVersionColumns +
                                             " FROM kfp_pipeline_versions WHERE pipeline_id = $1 "
                                             "ORDER BY created_micros, pipeline_version_id",
                                         {id}));
    for (const Row& r : rows) out.push_back(VersionFrom(r, ""));
    return Status::OK();
  }));
  return out;
}

Status CatalogStore::DeletePipelineVersion(std::string_view pipeline_id, std::string_view version_id) {
  ASSIGN_OR_RETURN(
      std::int64_t n,
      db_->Exec("DELETE FROM kfp_pipeline_versions WHERE pipeline_version_id = $1 AND pipeline_id = $2",
                {std::string(version_id), std::string(pipeline_id)}));
  if (n == 0) return NotFound("Pipeline version " + QuoteForMessage(version_id) + " not found");
  return Status::OK();
}

}  // namespace ferry::pipelines
