-- The settings that shape what every replica computes (services/scoring/src/settings.rs):
-- recorded by the first replica, compared by every replica at start-up, replaced only on
-- purpose (ACX_SCORING_ADOPT_SETTINGS). One row per setting, as a person reads it.
CREATE TABLE shared_settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- SHA-256 of the shared settings (NULL until the first replica records them). It lives in
-- the effects cursor's row because every effects write reads that row under its lock: a
-- replica whose settings were replaced is stopped before it stores an effect, and an
-- adoption (which locks the row too) is ordered with every effects write.
ALTER TABLE effects_cursor ADD COLUMN settings_fingerprint BLOB;

-- The shared settings' fingerprint a snapshot was computed with: a replica restores only
-- snapshots of its own (after a deliberate change, those of the old ones are skipped).
-- Snapshots from before this column get the first recorded settings.
ALTER TABLE snapshots ADD COLUMN settings_fingerprint BLOB;
