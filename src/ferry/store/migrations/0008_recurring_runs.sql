-- KFP recurring runs (pipelines/schedules.h): one row a schedule, with the
-- snapshot of the pipeline it runs and where its trigger stands. The
-- scheduler fires a run, then advances last_triggered_epoch/last_index in
-- the same row, so a restart resumes (and catches up) from what is stored.
--
-- trigger_kind is 'cron', 'periodic' or 'once' (no trigger: one run at
-- creation, as KFP's one-off schedules). Epochs are Unix seconds, as KFP's
-- ScheduledWorkflow keeps them; start_epoch, end_epoch and
-- last_triggered_epoch are NULL when unset. parameters is the JSON object
-- of runtime_config.parameters. error is the last firing failure, or ''.

CREATE TABLE kfp_recurring_runs (
  recurring_run_id TEXT NOT NULL PRIMARY KEY,
  namespace TEXT NOT NULL,
  display_name TEXT NOT NULL,
  description TEXT NOT NULL,
  experiment_id TEXT NOT NULL,
  pipeline_id TEXT NOT NULL,
  pipeline_version_id TEXT NOT NULL,
  pipeline_text TEXT NOT NULL,
  parameters TEXT NOT NULL,
  pipeline_root TEXT NOT NULL,
  service_account TEXT NOT NULL,
  trigger_kind TEXT NOT NULL,
  cron TEXT NOT NULL,
  interval_second BIGINT NOT NULL,
  start_epoch BIGINT,
  end_epoch BIGINT,
  max_concurrency BIGINT NOT NULL,
  no_catchup INTEGER NOT NULL,
  enabled INTEGER NOT NULL,
  created_micros BIGINT NOT NULL,
  updated_micros BIGINT NOT NULL,
  last_triggered_epoch BIGINT,
  last_index BIGINT NOT NULL,
  error TEXT NOT NULL
);
CREATE INDEX kfp_recurring_runs_created ON kfp_recurring_runs (created_micros, recurring_run_id);
