-- Scoring's durable state. The feed cursor is committed in the same transaction as the
-- effects of the reports before it, so a restart loses and doubles nothing.
CREATE TABLE feed_cursor (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    sequence INTEGER NOT NULL
);
INSERT INTO feed_cursor (id, sequence) VALUES (1, 0);

-- The reports taken from ingest's feed (hashed identifiers only), replayed at start-up to
-- rebuild the model in memory.
CREATE TABLE inputs (
    sequence INTEGER PRIMARY KEY,
    platform TEXT    NOT NULL,
    -- acx.ingest.v1.Report, protobuf-encoded
    payload  BLOB    NOT NULL
);

-- Every change of a seller account's risk (acx.scoring.v1.SellerRiskChange, encoded).
CREATE TABLE risk_history (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    platform  TEXT    NOT NULL,
    seller_id TEXT    NOT NULL,
    change    BLOB    NOT NULL
);
CREATE INDEX risk_history_by_account ON risk_history (platform, seller_id, id);

-- The blacklist as it stands (acx.scoring.v1.BlacklistEntry, encoded).
CREATE TABLE blacklist (
    platform  TEXT NOT NULL,
    seller_id TEXT NOT NULL,
    entry     BLOB NOT NULL,
    PRIMARY KEY (platform, seller_id)
);

-- Every change of the blacklist, in order: the delta feed platforms sync from
-- (acx.scoring.v1.BlacklistChange without its cursor, encoded).
CREATE TABLE blacklist_changes (
    cursor INTEGER PRIMARY KEY AUTOINCREMENT,
    change BLOB    NOT NULL
);

-- Cluster ids that were merged into another.
CREATE TABLE cluster_merges (
    from_cluster TEXT    NOT NULL,
    into_cluster TEXT    NOT NULL,
    merge_time_us INTEGER NOT NULL
);
