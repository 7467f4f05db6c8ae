-- Model registry, PostgreSQL text of 0004_registry.sql (MLflow's registered models, model versions, tags and
-- aliases; registry/registry_store.h). Rows are keyed by model name, as in
-- MLflow's schema; a rename rewrites the name in every table inside one
-- transaction. Deleted versions stay, with stage 'Deleted_Internal', so
-- their numbers are never reused. The PostgreSQL text differs only in
-- binary ("C") collation for the name columns, SQLite's default, so that
-- ordering by name and paging compare the same way on both backends.

CREATE TABLE registered_models (
  name TEXT COLLATE "C" NOT NULL PRIMARY KEY,
  creation_time BIGINT NOT NULL,
  last_updated_time BIGINT NOT NULL,
  description TEXT
);
CREATE INDEX registered_models_last_updated ON registered_models (last_updated_time);

-- Lineage (DESIGN.md section 7): model_id is the MLflow 3 logged model the
-- version was made from; experiment_id and pipeline_run_id are those of
-- run_id when the version was created (the run's ferry.pipeline_run_id tag).
CREATE TABLE model_versions (
  name TEXT COLLATE "C" NOT NULL,
  version BIGINT NOT NULL,
  creation_time BIGINT NOT NULL,
  last_updated_time BIGINT NOT NULL,
  description TEXT,
  user_id TEXT,
  current_stage TEXT NOT NULL,
  source TEXT,
  storage_location TEXT,
  run_id TEXT,
  run_link TEXT,
  status TEXT NOT NULL,
  status_message TEXT,
  model_id TEXT,
  experiment_id TEXT,
  pipeline_run_id TEXT,
  PRIMARY KEY (name, version)
);
CREATE INDEX model_versions_run_id ON model_versions (run_id);
CREATE INDEX model_versions_model_id ON model_versions (model_id);
CREATE INDEX model_versions_last_updated ON model_versions (last_updated_time);

CREATE TABLE registered_model_tags (
  name TEXT COLLATE "C" NOT NULL,
  key TEXT COLLATE "C" NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (name, key)
);
CREATE INDEX registered_model_tags_key ON registered_model_tags (key, value);

CREATE TABLE model_version_tags (
  name TEXT COLLATE "C" NOT NULL,
  version BIGINT NOT NULL,
  key TEXT COLLATE "C" NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (name, version, key)
);
CREATE INDEX model_version_tags_key ON model_version_tags (key, value);

CREATE TABLE registered_model_aliases (
  name TEXT COLLATE "C" NOT NULL,
  alias TEXT COLLATE "C" NOT NULL,
  version BIGINT NOT NULL,
  PRIMARY KEY (name, alias)
);
