-- Append-only record of every call to liaison: who asked what, when, with what outcome.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    call_time_us INTEGER NOT NULL,
    principal   TEXT    NOT NULL,
    rpc         TEXT    NOT NULL,
    -- the parameters that identify what was asked, never credentials
    parameters  TEXT    NOT NULL,
    -- gRPC status code name of the answer, e.g. OK, NOT_FOUND
    outcome     TEXT    NOT NULL
);
CREATE INDEX audit_log_by_principal ON audit_log (principal, id);
-- Append-only: the table refuses updates and deletes.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
