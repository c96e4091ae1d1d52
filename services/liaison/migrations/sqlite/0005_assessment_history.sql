-- Every assessment a shipment got, in order: the first on arrival, then each re-assessment
-- that changed its risk, lane or model (a new model promoted, new outcomes about its
-- parties). Read by GetShipment (Shipment.assessment_history).
CREATE TABLE assessment_history (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    authority      TEXT    NOT NULL,
    declaration_id TEXT    NOT NULL,
    assess_time_us INTEGER NOT NULL,
    model_version  TEXT    NOT NULL,
    risk           REAL    NOT NULL,
    lane           INTEGER NOT NULL,
    cause          TEXT    NOT NULL
);
CREATE INDEX assessment_history_by_shipment ON assessment_history (authority, declaration_id, seq);
