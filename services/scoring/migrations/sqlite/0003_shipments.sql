-- Declarations recorded for the comparable statistics (acx.scoring.v1.DeclaredShipment,
-- encoded), replayed at start-up. Once per declaration.
CREATE TABLE shipments (
    authority      TEXT NOT NULL,
    declaration_id TEXT NOT NULL,
    payload        BLOB NOT NULL,
    PRIMARY KEY (authority, declaration_id)
);
