-- The targeting model (docs/targeting.md). What the exchange knew of the seller behind a
-- declaration when it was assessed, so the training replay sees it as it was.
ALTER TABLE shipments ADD COLUMN seller_risk REAL;
ALTER TABLE shipments ADD COLUMN seller_listed INTEGER NOT NULL DEFAULT 0;

-- Every trained version: its facts (JSON: training window, features, backtest, baseline),
-- whether it was promoted and why, and the trees (forust-ml JSON) of promoted ones.
CREATE TABLE targeting_models (
    version     INTEGER PRIMARY KEY,
    trained_us  INTEGER NOT NULL,
    promoted    INTEGER NOT NULL,
    decision    TEXT NOT NULL,
    facts       TEXT NOT NULL,
    space       TEXT NOT NULL,
    trees       TEXT
);

-- Lane policies per authority and customs office ('' = the authority's default), as
-- acx.scoring.v1.LanePolicy, encoded.
CREATE TABLE lane_policies (
    authority      TEXT NOT NULL,
    customs_office TEXT NOT NULL,
    policy         BLOB NOT NULL,
    PRIMARY KEY (authority, customs_office)
);
