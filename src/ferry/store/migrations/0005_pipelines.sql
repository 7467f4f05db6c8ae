-- Pipelines (KFP v2 runs; pipelines/engine.h): runs, their task executions
-- and the execution cache. Each engine step is one transaction that rewrites
-- the rows it changed and bumps the run's revision.
-- The PostgreSQL text differs only in binary ("C") collation of text, which
-- SQLite's TEXT has by default, and in having no WITHOUT ROWID.

-- state is KFP's runtime state name (PENDING, RUNNING, ...). parameters is
-- the JSON object of the resolved run parameters; enable_caching is NULL
-- when the run leaves caching to the tasks, else 0/1. finished_at is 0 until
-- the run ends. Times are microseconds since the epoch.
CREATE TABLE pipeline_runs (
  run_id TEXT PRIMARY KEY,
  display_name TEXT NOT NULL,
  description TEXT NOT NULL,
  experiment_id TEXT NOT NULL,
  pipeline_id TEXT NOT NULL,
  pipeline_version_id TEXT NOT NULL,
  recurring_run_id TEXT NOT NULL,
  pipeline_name TEXT NOT NULL,
  pipeline_text TEXT NOT NULL,
  parameters TEXT NOT NULL,
  pipeline_root TEXT NOT NULL,
  enable_caching INTEGER,
  state TEXT NOT NULL,
  error TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  finished_at BIGINT NOT NULL,
  archived INTEGER NOT NULL,
  revision BIGINT NOT NULL
);
CREATE INDEX pipeline_runs_created ON pipeline_runs (created_at, run_id);
CREATE INDEX pipeline_runs_experiment_created ON pipeline_runs (experiment_id, created_at, run_id);
CREATE INDEX pipeline_runs_recurring_created ON pipeline_runs (recurring_run_id, created_at, run_id);
CREATE INDEX pipeline_runs_state ON pipeline_runs (state, created_at);
CREATE INDEX pipeline_runs_name ON pipeline_runs (display_name, run_id);

-- One row per task execution path ("root", "root/for-loop-2[3]/add").
-- inputs/outputs are JSON objects of parameter values; input_artifacts and
-- output_artifacts JSON objects name -> [{name, uri, type, metadata}].
-- attach_token and executor_task_id identify the latest attempt's process
-- to the executor (Reattach after a restart); cache_key is set for leaf
-- tasks whose caching is enabled.
CREATE TABLE pipeline_tasks (
  run_id TEXT NOT NULL,
  path TEXT NOT NULL,
  parent_path TEXT NOT NULL,
  name TEXT NOT NULL,
  display_name TEXT NOT NULL,
  kind TEXT NOT NULL,
  state TEXT NOT NULL,
  cached INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  inputs TEXT NOT NULL,
  outputs TEXT NOT NULL,
  input_artifacts TEXT NOT NULL,
  output_artifacts TEXT NOT NULL,
  attach_token TEXT NOT NULL,
  executor_task_id TEXT NOT NULL,
  log_path TEXT NOT NULL,
  cache_key TEXT NOT NULL,
  error TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  started_at BIGINT NOT NULL,
  finished_at BIGINT NOT NULL,
  PRIMARY KEY (run_id, path)
) WITHOUT ROWID;

-- Execution cache: key (SHA-256, engine.h) -> outputs JSON
-- {"parameters": {...}, "artifacts": {name: [...]}} of the execution that
-- produced it.
CREATE TABLE pipeline_cache (
  cache_key TEXT PRIMARY KEY,
  outputs TEXT NOT NULL,
  run_id TEXT NOT NULL,
  task_path TEXT NOT NULL,
  created_at BIGINT NOT NULL
) WITHOUT ROWID;
