-- Resources (DESIGN.md sections 4 and 5): every native kind as one JSON row, the global
-- revision that orders all writes, and the event log that watches replay.
-- The PostgreSQL text differs only in binary ("C") collation for the key
-- columns, which SQLite's TEXT has by default, so that paging order and
-- continue tokens compare the same way on both backends.

-- One row. `revision` is bumped first in every write transaction, which also
-- serialises writers. Events at or below `compacted_revision` were pruned.
CREATE TABLE resource_revision (
  id BIGINT PRIMARY KEY CHECK (id = 1),
  revision BIGINT NOT NULL,
  compacted_revision BIGINT NOT NULL
);
INSERT INTO resource_revision (id, revision, compacted_revision) VALUES (1, 0, 0);

CREATE TABLE resources (
  type TEXT NOT NULL,
  namespace TEXT NOT NULL,
  name TEXT NOT NULL,
  uid TEXT NOT NULL UNIQUE,
  resource_version BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  object TEXT NOT NULL,
  PRIMARY KEY (type, namespace, name)
);

-- `prev_labels` holds the labels before a MODIFIED change, so that a watch
-- with a label selector can report objects entering or leaving its set.
CREATE TABLE resource_events (
  revision BIGINT PRIMARY KEY,
  type TEXT NOT NULL,
  namespace TEXT NOT NULL,
  name TEXT NOT NULL,
  event_type TEXT NOT NULL,
  object TEXT NOT NULL,
  prev_labels TEXT
);
CREATE INDEX resource_events_type_revision ON resource_events (type, revision);
