-- Declarations recorded for the comparable statistics (acx.scoring.v1.DeclaredShipment,
-- encoded), with the seller they were attributed to and the strength of their strongest
-- value anomaly (which weighs on that seller); replayed at start-up. Once per declaration.
CREATE TABLE shipments (
    authority       TEXT NOT NULL,
    declaration_id  TEXT NOT NULL,
    seller_platform TEXT,
    seller_id       TEXT,
    anomaly         DOUBLE PRECISION NOT NULL,
    payload         BYTEA NOT NULL,
    PRIMARY KEY (authority, declaration_id)
);
