-- Audit rows are never changed or removed by Gatehouse; refuse it in the database too, so a bug or a
-- careless hand cannot do it by accident. (The tables' owner can disable these triggers: that is
-- what the hash chain and the signed checkpoints catch.) Grant the gateway's role INSERT and SELECT
-- only, and keep ownership with another role, to make the triggers binding.
CREATE FUNCTION gatehouse_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit rows are append-only: % on % refused', TG_OP, TG_TABLE_NAME;
END
$$;

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION gatehouse_audit_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_audit_append_only();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
  FOR EACH ROW EXECUTE FUNCTION gatehouse_audit_append_only();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_audit_append_only();
