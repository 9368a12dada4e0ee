-- Audit rows are never changed or removed by Gatehouse; refuse it in the database too, so a bug or a
-- careless hand cannot do it by accident. (Someone who can drop these triggers can tamper: that is
-- what the hash chain and the signed checkpoints catch.)
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
  SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
  SELECT RAISE(ABORT, 'audit events are append-only: DELETE refused');
END;

CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN
  SELECT RAISE(ABORT, 'audit checkpoints are append-only: UPDATE refused');
END;

CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
  SELECT RAISE(ABORT, 'audit checkpoints are append-only: DELETE refused');
END;
