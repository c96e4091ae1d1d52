-- The current risk of every seller account scoring knows, as served by GetSellerRisk.
CREATE TABLE seller_risk (
    platform     TEXT    NOT NULL,
    seller_id    TEXT    NOT NULL,
    cluster_id   TEXT    NOT NULL,
    -- acx.scoring.v1.SellerRisk, protobuf-encoded
    risk         BYTEA   NOT NULL,
    compute_time_us BIGINT NOT NULL,
    PRIMARY KEY (platform, seller_id)
);
CREATE INDEX seller_risk_by_cluster ON seller_risk (cluster_id);
