-- The audit log: events of every chain, and the signed checkpoints anchoring them.
-- The same tables on SQLite and PostgreSQL; ${identity} is the dialect's auto-increment key.
-- Lists and maps are stored as netstrings ("<length>:<text>," per element, key and value alternating).
-- Times are microseconds since the epoch (UTC), the precision the event hash covers.
-- An event's id is "<chain_id>:<seq>"; (chain_id, seq) is its key. Every index costs each insert on
-- the audit path, so there are only those the searches need.

CREATE TABLE audit_events (
  pos                 ${identity},
  chain_id            TEXT    NOT NULL,
  seq                 BIGINT  NOT NULL,
  time_us             BIGINT  NOT NULL,
  type                TEXT    NOT NULL,
  session_id          TEXT,
  principal_subject   TEXT,
  principal_issuer    TEXT,
  principal_name      TEXT,
  principal_kind      TEXT,
  principal_groups    TEXT,
  resource_name       TEXT,
  client_address      TEXT,
  client_user         TEXT,
  client_application  TEXT,
  command_protocol    TEXT,
  command_text        TEXT,
  command_kinds       TEXT,
  command_objects     TEXT,
  command_functions   TEXT,
  command_flags       TEXT,
  command_details     TEXT,
  decision_effect     TEXT,
  decision_rule       TEXT,
  decision_reason     TEXT,
  outcome_status      TEXT,
  outcome_rows        BIGINT,
  outcome_error       TEXT,
  outcome_duration_ms BIGINT,
  ref_event_id        TEXT,
  attributes          TEXT    NOT NULL,
  prev_hash           TEXT    NOT NULL,
  hash                TEXT    NOT NULL
);

CREATE UNIQUE INDEX audit_events_chain_seq ON audit_events (chain_id, seq);
CREATE INDEX audit_events_time ON audit_events (time_us);
CREATE INDEX audit_events_subject ON audit_events (principal_subject, time_us);
CREATE INDEX audit_events_principal_name ON audit_events (principal_name, time_us);
CREATE INDEX audit_events_resource ON audit_events (resource_name, time_us);

CREATE TABLE audit_checkpoints (
  chain_id   TEXT   NOT NULL,
  seq        BIGINT NOT NULL,
  hash       TEXT   NOT NULL,
  time_us    BIGINT NOT NULL,
  key_id     TEXT   NOT NULL,
  signature  TEXT   NOT NULL,
  PRIMARY KEY (chain_id, seq)
);
