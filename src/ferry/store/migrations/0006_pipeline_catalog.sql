-- KFP's catalog (pipelines/catalog_store.h): experiments, uploaded pipelines
-- and their versions. Runs live in the engine's tables (0005). Names are
-- unique per namespace (experiments, pipelines) and per pipeline (versions),
-- as in KFP. The PostgreSQL text differs only in binary ("C") collation of
-- the name columns, SQLite's default, so that sorting by name compares the
-- same way on both backends.

CREATE TABLE kfp_experiments (
  experiment_id TEXT NOT NULL PRIMARY KEY,
  namespace TEXT NOT NULL,
  display_name TEXT NOT NULL,
  description TEXT NOT NULL,
  created_micros BIGINT NOT NULL,
  archived INTEGER NOT NULL,
  last_run_created_micros BIGINT NOT NULL,
  UNIQUE (namespace, display_name)
);

CREATE TABLE kfp_pipelines (
  pipeline_id TEXT NOT NULL PRIMARY KEY,
  namespace TEXT NOT NULL,
  name TEXT NOT NULL,
  display_name TEXT NOT NULL,
  description TEXT NOT NULL,
  created_micros BIGINT NOT NULL,
  tags TEXT NOT NULL,
  UNIQUE (namespace, name)
);

CREATE TABLE kfp_pipeline_versions (
  pipeline_version_id TEXT NOT NULL PRIMARY KEY,
  pipeline_id TEXT NOT NULL,
  name TEXT NOT NULL,
  display_name TEXT NOT NULL,
  description TEXT NOT NULL,
  created_micros BIGINT NOT NULL,
  code_source_url TEXT NOT NULL,
  tags TEXT NOT NULL,
  pipeline_text TEXT NOT NULL,
  UNIQUE (pipeline_id, name)
);
CREATE INDEX kfp_pipeline_versions_created ON kfp_pipeline_versions (pipeline_id, created_micros);
