-- Tracking (MLflow's tracking API; tracking/tracking_store.h): experiments,
-- runs, params, tags, metric time series, datasets and run inputs/outputs.
-- Laid out for volume: metric points are clustered by (run, key, step) so a
-- history or a step range is one index range; latest_metrics keeps one row
-- per (run, key) so run searches and listings never touch the points; the
-- (key, value) indexes let metric/param/tag predicates pick runs directly.
-- Text values are indexed by their first 200 characters (PostgreSQL's
-- B-tree refuses entries over ~2.7 kB, and tag values reach 8000
-- characters); equality searches add the matching substr() term.
-- PostgreSQL version of 0002_tracking.sql: the same tables with binary ("C")
-- collation of text, SQLite's default, and without WITHOUT ROWID, so that
-- ordering and LIKE compare the same way on both backends.

-- experiment_id 0 is "Default"; new ids are MAX + 1. Names stay unique
-- across deleted experiments too, as in MLflow.
CREATE TABLE experiments (
  experiment_id BIGINT PRIMARY KEY,
  name TEXT COLLATE "C" NOT NULL UNIQUE,
  artifact_location TEXT COLLATE "C" NOT NULL,
  lifecycle_stage TEXT COLLATE "C" NOT NULL,
  creation_time BIGINT NOT NULL,
  last_update_time BIGINT NOT NULL
);
CREATE INDEX experiments_stage_creation ON experiments (lifecycle_stage, creation_time);

CREATE TABLE experiment_tags (
  experiment_id BIGINT NOT NULL,
  key TEXT COLLATE "C" NOT NULL,
  value TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (experiment_id, key)
);
CREATE INDEX experiment_tags_key_value ON experiment_tags (key, substr(value, 1, 200));

-- status is MLflow's RunStatus name; end_time and deleted_time are NULL
-- until set.
CREATE TABLE runs (
  run_uuid TEXT COLLATE "C" PRIMARY KEY,
  experiment_id BIGINT NOT NULL,
  name TEXT COLLATE "C" NOT NULL,
  user_id TEXT COLLATE "C" NOT NULL,
  status TEXT COLLATE "C" NOT NULL,
  start_time BIGINT NOT NULL,
  end_time BIGINT,
  deleted_time BIGINT,
  lifecycle_stage TEXT COLLATE "C" NOT NULL,
  artifact_uri TEXT COLLATE "C" NOT NULL
);
CREATE INDEX runs_experiment_stage_start ON runs (experiment_id, lifecycle_stage, start_time, run_uuid);

CREATE TABLE params (
  run_uuid TEXT COLLATE "C" NOT NULL,
  key TEXT COLLATE "C" NOT NULL,
  value TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (run_uuid, key)
);
CREATE INDEX params_key_value ON params (key, substr(value, 1, 200));

CREATE TABLE tags (
  run_uuid TEXT COLLATE "C" NOT NULL,
  key TEXT COLLATE "C" NOT NULL,
  value TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (run_uuid, key)
);
CREATE INDEX tags_key_value ON tags (key, substr(value, 1, 200));

-- Every point. NaN is stored as value 0 with is_nan = 1 (as MLflow does);
-- ±Inf are stored as such. An identical point (key, step, timestamp, value)
-- is stored once. model_id, dataset_name and dataset_digest are NULL unless
-- the point was logged for a LoggedModel / dataset (MLflow 3).
CREATE TABLE metrics (
  run_uuid TEXT COLLATE "C" NOT NULL,
  key TEXT COLLATE "C" NOT NULL,
  step BIGINT NOT NULL,
  timestamp BIGINT NOT NULL,
  value DOUBLE PRECISION NOT NULL,
  is_nan INTEGER NOT NULL,
  model_id TEXT COLLATE "C",
  dataset_name TEXT COLLATE "C",
  dataset_digest TEXT COLLATE "C",
  PRIMARY KEY (run_uuid, key, step, timestamp, value, is_nan)
);
-- get-history's order (MLflow's): timestamp, step, value.
CREATE INDEX metrics_run_key_time ON metrics (run_uuid, key, timestamp, step, value, is_nan);
CREATE INDEX metrics_model_id ON metrics (model_id) WHERE model_id IS NOT NULL;

-- The latest point per (run, key): greatest (step, timestamp, value), NaN
-- counting as 0 as in MLflow.
CREATE TABLE latest_metrics (
  run_uuid TEXT COLLATE "C" NOT NULL,
  key TEXT COLLATE "C" NOT NULL,
  value DOUBLE PRECISION NOT NULL,
  timestamp BIGINT NOT NULL,
  step BIGINT NOT NULL,
  is_nan INTEGER NOT NULL,
  PRIMARY KEY (run_uuid, key)
);
CREATE INDEX latest_metrics_key_value ON latest_metrics (key, value);

-- Datasets are per experiment, identified by (name, digest).
CREATE TABLE datasets (
  dataset_uuid TEXT COLLATE "C" NOT NULL UNIQUE,
  experiment_id BIGINT NOT NULL,
  name TEXT COLLATE "C" NOT NULL,
  digest TEXT COLLATE "C" NOT NULL,
  source_type TEXT COLLATE "C" NOT NULL,
  source TEXT COLLATE "C" NOT NULL,
  dataset_schema TEXT COLLATE "C",
  profile TEXT COLLATE "C",
  PRIMARY KEY (experiment_id, name, digest)
);

-- A dataset used by a run, with its input tags (e.g. mlflow.data.context).
CREATE TABLE run_dataset_inputs (
  input_uuid TEXT COLLATE "C" NOT NULL UNIQUE,
  run_uuid TEXT COLLATE "C" NOT NULL,
  dataset_uuid TEXT COLLATE "C" NOT NULL,
  position BIGINT NOT NULL,
  PRIMARY KEY (run_uuid, dataset_uuid)
);
CREATE INDEX run_dataset_inputs_dataset ON run_dataset_inputs (dataset_uuid);

CREATE TABLE input_tags (
  input_uuid TEXT COLLATE "C" NOT NULL,
  name TEXT COLLATE "C" NOT NULL,
  value TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (input_uuid, name)
);

-- LoggedModels a run used (model inputs) and produced (model outputs).
CREATE TABLE run_model_inputs (
  run_uuid TEXT COLLATE "C" NOT NULL,
  model_id TEXT COLLATE "C" NOT NULL,
  position BIGINT NOT NULL,
  PRIMARY KEY (run_uuid, model_id)
);

CREATE TABLE run_model_outputs (
  run_uuid TEXT COLLATE "C" NOT NULL,
  model_id TEXT COLLATE "C" NOT NULL,
  step BIGINT NOT NULL,
  position BIGINT NOT NULL,
  PRIMARY KEY (run_uuid, model_id)
);
