-- See 0007_metrics_history_order.sql: the primary key takes get-history's
-- order and the second index goes.
ALTER TABLE metrics DROP CONSTRAINT metrics_pkey;
ALTER TABLE metrics ADD PRIMARY KEY (run_uuid, key, timestamp, step, value, is_nan);
DROP INDEX metrics_run_key_time;
