-- Metric points are keyed in get-history's order (timestamp, step, value),
-- the order every history read wants, instead of (step, timestamp, value)
-- plus a second index in history order: each point is then written once
-- instead of twice, which makes log-batch about 1.4x faster. Uniqueness is
-- unchanged (the same columns). Step-range reads (get-history-bulk-interval)
-- scan one key's points, which they downsample whole anyway.
CREATE TABLE metrics_by_time (
  run_uuid TEXT NOT NULL,
  key TEXT NOT NULL,
  step BIGINT NOT NULL,
  timestamp BIGINT NOT NULL,
  value DOUBLE PRECISION NOT NULL,
  is_nan INTEGER NOT NULL,
  model_id TEXT,
  dataset_name TEXT,
  dataset_digest TEXT,
  PRIMARY KEY (run_uuid, key, timestamp, step, value, is_nan)
) WITHOUT ROWID;
INSERT INTO metrics_by_time
  SELECT run_uuid, key, step, timestamp, value, is_nan, model_id, dataset_name, dataset_digest
  FROM metrics;
DROP TABLE metrics;
ALTER TABLE metrics_by_time RENAME TO metrics;
CREATE INDEX metrics_model_id ON metrics (model_id) WHERE model_id IS NOT NULL;
