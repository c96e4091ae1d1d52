-- Inspection outcomes (acx.scoring.v1.RecordOutcomeRequest, encoded), once per declaration,
-- with the seller they were attributed to; replayed at start-up.
CREATE TABLE outcomes (
    authority        TEXT NOT NULL,
    declaration_id   TEXT NOT NULL,
    seller_platform  TEXT,
    seller_id        TEXT,
    payload          BYTEA NOT NULL,
    PRIMARY KEY (authority, declaration_id)
);
