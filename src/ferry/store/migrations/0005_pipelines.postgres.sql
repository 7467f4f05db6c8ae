-- Pipelines (KFP v2 runs; pipelines/engine.h): runs, their task executions
-- and the execution cache. Each engine step is one transaction that rewrites
-- the rows it changed and bumps the run's revision.
-- PostgreSQL version of 0005_pipelines.sql: the same tables with binary ("C")
-- collation of text, SQLite's default, and without WITHOUT ROWID.

-- state is KFP's runtime state name (PENDING, RUNNING, ...). parameters is
-- the JSON object of the resolved run parameters; enable_caching is NULL
-- when the run leaves caching to the tasks, else 0/1. finished_at is 0 until
-- the run ends. Times are microseconds since the epoch.
CREATE TABLE pipeline_runs (
  run_id TEXT COLLATE "C" PRIMARY KEY,
  display_name TEXT COLLATE "C" NOT NULL,
  description TEXT COLLATE "C" NOT NULL,
  experiment_id TEXT COLLATE "C" NOT NULL,
  pipeline_id TEXT COLLATE "C" NOT NULL,
  pipeline_version_id TEXT COLLATE "C" NOT NULL,
  recurring_run_id TEXT COLLATE "C" NOT NULL,
  pipeline_name TEXT COLLATE "C" NOT NULL,
  pipeline_text TEXT COLLATE "C" NOT NULL,
  parameters TEXT COLLATE "C" NOT NULL,
  pipeline_root TEXT COLLATE "C" NOT NULL,
  enable_caching INTEGER,
  state TEXT COLLATE "C" NOT NULL,
  error TEXT COLLATE "C" NOT NULL,
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
  run_id TEXT COLLATE "C" NOT NULL,
  path TEXT COLLATE "C" NOT NULL,
  parent_path TEXT COLLATE "C" NOT NULL,
  name TEXT COLLATE "C" NOT NULL,
  display_name TEXT COLLATE "C" NOT NULL,
  kind TEXT COLLATE "C" NOT NULL,
  state TEXT COLLATE "C" NOT NULL,
  cached INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  inputs TEXT COLLATE "C" NOT NULL,
  outputs TEXT COLLATE "C" NOT NULL,
  input_artifacts TEXT COLLATE "C" NOT NULL,
  output_artifacts TEXT COLLATE "C" NOT NULL,
  attach_token TEXT COLLATE "C" NOT NULL,
  executor_task_id TEXT COLLATE "C" NOT NULL,
  log_path TEXT COLLATE "C" NOT NULL,
  cache_key TEXT COLLATE "C" NOT NULL,
  error TEXT COLLATE "C" NOT NULL,
  created_at BIGINT NOT NULL,
  started_at BIGINT NOT NULL,
  finished_at BIGINT NOT NULL,
  PRIMARY KEY (run_id, path)
);

-- Execution cache: key (SHA-256, engine.h) -> outputs JSON
-- {"parameters": {...}, "artifacts": {name: [...]}} of the execution that
-- produced it.
CREATE TABLE pipeline_cache (
  cache_key TEXT COLLATE "C" PRIMARY KEY,
  outputs TEXT COLLATE "C" NOT NULL,
  run_id TEXT COLLATE "C" NOT NULL,
  task_path TEXT COLLATE "C" NOT NULL,
  created_at BIGINT NOT NULL
);
