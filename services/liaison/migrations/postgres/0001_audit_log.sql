-- Append-only record of every call to liaison: who asked what, when, with what outcome.
CREATE TABLE audit_log (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_time_us BIGINT NOT NULL,
    principal    TEXT   NOT NULL,
    rpc          TEXT   NOT NULL,
    -- the parameters that identify what was asked, never credentials
    parameters   TEXT   NOT NULL,
    -- gRPC status code name of the answer, e.g. OK, NOT_FOUND
    outcome      TEXT   NOT NULL
);
CREATE INDEX audit_log_by_principal ON audit_log (principal, id);
-- Append-only: the table refuses updates and deletes.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
