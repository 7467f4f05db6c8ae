-- MLflow 3 logged models (tracking/logged_model_store.h): one row a model,
-- its tags and its params. Metrics of a model are not here: they are the
-- rows of `metrics` (0002) logged with its model_id. Deletion is soft
-- (lifecycle_stage), as in MLflow, so no cascade is needed.
-- The PostgreSQL text differs only in binary ("C") collation for the text
-- columns that searches order by or page over, SQLite's default, so that
-- both backends order the same way.

CREATE TABLE logged_models (
  model_id TEXT PRIMARY KEY,
  experiment_id BIGINT NOT NULL,
  name TEXT NOT NULL,
  artifact_location TEXT NOT NULL,
  creation_timestamp_ms BIGINT NOT NULL,
  last_updated_timestamp_ms BIGINT NOT NULL,
  status TEXT NOT NULL,
  lifecycle_stage TEXT NOT NULL,
  model_type TEXT,
  source_run_id TEXT,
  status_message TEXT
);
CREATE INDEX logged_models_experiment ON logged_models (experiment_id, creation_timestamp_ms);

CREATE TABLE logged_model_tags (
  model_id TEXT NOT NULL,
  tag_key TEXT NOT NULL,
  tag_value TEXT NOT NULL,
  PRIMARY KEY (model_id, tag_key)
);

CREATE TABLE logged_model_params (
  model_id TEXT NOT NULL,
  param_key TEXT NOT NULL,
  param_value TEXT NOT NULL,
  PRIMARY KEY (model_id, param_key)
);
