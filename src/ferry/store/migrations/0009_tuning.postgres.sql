-- PostgreSQL text of 0009_tuning.sql: the same tables with binary ("C")
-- collation of the study name, SQLite's default, and without WITHOUT ROWID.

-- direction is 'minimize' or 'maximize'. space is the JSON array of the
-- parameters ({name, type, distribution, min, max, step, values, choices});
-- sampler_settings and pruner_settings JSON objects name -> string;
-- metric_names a JSON array of strings. seed is the 64-bit study seed's bit
-- pattern (signed). Times are microseconds since the epoch.
CREATE TABLE tuning_studies (
  name TEXT COLLATE "C" NOT NULL PRIMARY KEY,
  study_id BIGINT NOT NULL UNIQUE,
  direction TEXT NOT NULL,
  space TEXT NOT NULL,
  sampler TEXT NOT NULL,
  sampler_settings TEXT NOT NULL,
  pruner TEXT NOT NULL,
  pruner_settings TEXT NOT NULL,
  seed BIGINT NOT NULL,
  metric_names TEXT NOT NULL,
  created_micros BIGINT NOT NULL
);

-- state is Optuna's name: RUNNING, COMPLETE, PRUNED or FAIL. params is the
-- JSON object parameter name -> value (a categorical's value is its
-- choice's index); value is NULL unless told (a pruned trial keeps its last
-- finite intermediate value, as Optuna does); attrs is the JSON object the
-- sampler attached (Suggestion::attrs). finished_micros is 0 while running.
CREATE TABLE tuning_trials (
  study_id BIGINT NOT NULL,
  number BIGINT NOT NULL,
  state TEXT NOT NULL,
  params TEXT NOT NULL,
  value DOUBLE PRECISION,
  attrs TEXT NOT NULL,
  created_micros BIGINT NOT NULL,
  finished_micros BIGINT NOT NULL,
  PRIMARY KEY (study_id, number)
);

-- Intermediate values (Report); the first value reported for a step stays.
-- value is NULL for NaN, which SQLite cannot store as a REAL.
CREATE TABLE tuning_trial_values (
  study_id BIGINT NOT NULL,
  number BIGINT NOT NULL,
  step BIGINT NOT NULL,
  value DOUBLE PRECISION,
  PRIMARY KEY (study_id, number, step)
);
