-- Sampled payloads of the serving gateway (serving/payload_log.h): one row
-- a logged request, with what was asked and what was answered, which
-- monitoring and drift detection read back by endpoint and time. The
-- PostgreSQL text differs only in how the id counts up (an identity column
-- instead of AUTOINCREMENT).

-- endpoint is "namespace/name"; revision the InferenceService revision that
-- answered; request_id the V2 request's id, else the HTTP request id.
-- ts_micros is when the gateway received the request (microseconds since the
-- epoch); status the HTTP status answered. request and response are JSON
-- text ("" when the logger mode leaves one out); truncated is 1 when either
-- was cut at the logger's size limit. Readers page by (ts_micros, id).
CREATE TABLE prediction_logs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  endpoint TEXT NOT NULL,
  revision TEXT NOT NULL,
  request_id TEXT NOT NULL,
  ts_micros BIGINT NOT NULL,
  status INTEGER NOT NULL,
  request TEXT NOT NULL,
  response TEXT NOT NULL,
  truncated INTEGER NOT NULL
);

CREATE INDEX prediction_logs_by_endpoint_time ON prediction_logs (endpoint, ts_micros, id);
