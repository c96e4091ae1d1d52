//! The settings that shape what every replica computes, shared by the deployment. Replicas
//! apply one history ([`crate::history`]) and agree only if they apply it alike: a replica
//! with another finding half-life would serve other scores and could store them as the
//! deployment's (risk history, blacklist), one with other identifier keys would match
//! other identifiers, one with another rate table would compare other values.
//!
//! So the first replica records its settings in the database (`shared_settings`, and their
//! SHA-256 in the `effects_cursor` row); every later replica compares its own at start-up
//! and refuses to start on a difference, naming each setting. An operator changes one on
//! purpose by starting a replica with `ACX_SCORING_ADOPT_SETTINGS=true`: its settings
//! replace the recorded ones, under the history's append lock and the effects cursor's row
//! lock. Every running replica with the old ones stops (exit code 1) at its next append
//! (the append checks the fingerprint under the same lock, so nothing it computed is
//! recorded after the adoption), at its next effects write ([`crate::effects`] checks it
//! under the cursor's lock), or within [`CHECK_EVERY`] when idle.
//!
//! Settings that do not change what is computed (snapshot cadence, addresses, tokens, log
//! format) are not shared.

use std::{fmt, time::Duration};

use acx_domain::{identifiers::IdentifierKeys, rates::ReferenceRates};
use acx_runtime::{Database, on_backend, on_tx};
use sha2::{Digest, Sha256};

use crate::Error;

/// How often an idle replica checks that the recorded settings are still its own.
pub const CHECK_EVERY: Duration = Duration::from_secs(5);

/// The shared settings of one replica: (environment variable, value as a person reads
/// it), sorted by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedSettings(Vec<(String, String)>);

impl SharedSettings {
    /// The shared settings of a replica with these parameters. Identifier keys are
    /// recorded by id and [check value](acx_domain::identifiers::IdentifierKey::check_value),
    /// never their secrets; the rate table by the SHA-256 of its content (not its text: line endings, order and
    /// number format do not count) and its date range.
    pub fn new(
        half_life_days: f64,
        random_inspection_share: f64,
        keys: Option<&IdentifierKeys>,
        rates: &ReferenceRates,
    ) -> Self {
        let keys = match keys {
            None => "none (entity checks match names only)".to_owned(),
            Some(keys) => keys
                .all()
                .iter()
                .map(|key| format!("{} (check value {})", key.id(), key.check_value()))
                .collect::<Vec<_>>()
                .join(", "),
        };
        let (first, last) = rates.date_range();
        let rates = format!(
            "table with SHA-256 {}, {first} to {last}",
            hex::encode(&rates.digest()[..8])
        );
        let mut values = vec![
            ("ACX_IDENTIFIER_KEYS_FILE".to_owned(), keys),
            ("ACX_REFERENCE_RATES_FILE".to_owned(), rates),
            (
                "ACX_SCORING_HALF_LIFE_DAYS".to_owned(),
                half_life_days.to_string(),
            ),
            (
                "ACX_SCORING_RANDOM_INSPECTION_SHARE".to_owned(),
                // + 0.0: -0 is 0.
                (random_inspection_share + 0.0).to_string(),
            ),
        ];
        values.sort();
        Self(values)
    }

    /// SHA-256 of the settings (each `name=value` and a newline, in name order).
    pub fn fingerprint(&self) -> Vec<u8> {
        let mut hash = Sha256::new();
        for (name, value) in &self.0 {
            hash.update(format!("{name}={value}\n").as_bytes());
        }
        hash.finalize().to_vec()
    }

    /// How these settings (here) differ from `recorded`.
    pub fn differences(&self, recorded: &SharedSettings) -> Differences {
        let value = |settings: &SharedSettings, name: &str| {
            settings
                .0
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        let mut names: Vec<&String> = self.0.iter().chain(&recorded.0).map(|(n, _)| n).collect();
        names.sort();
        names.dedup();
        Differences(
            names
                .into_iter()
                .filter_map(|name| {
                    let (here, there) = (value(self, name), value(recorded, name));
                    (here != there).then(|| Difference {
                        name: name.clone(),
                        here,
                        recorded: there,
                    })
                })
                .collect(),
        )
    }
}

/// One setting whose value here is not the recorded one (`None`: not set on that side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The environment variable.
    pub name: String,
    /// Its value on this replica.
    pub here: Option<String>,
    /// Its value recorded for the deployment.
    pub recorded: Option<String>,
}

/// The settings that differ, in name order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Differences(pub Vec<Difference>);

impl fmt::Display for Differences {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |value: &Option<String>| match value {
            Some(value) => format!("{value:?}"),
            None => "not recorded".to_owned(),
        };
        if self.0.is_empty() {
            return f.write_str("the recorded settings cannot be read");
        }
        for (i, difference) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(
                f,
                "{} is {} here but {} for the deployment",
                difference.name,
                shown(&difference.here),
                shown(&difference.recorded)
            )?;
        }
        Ok(())
    }
}

/// The recorded settings.
pub async fn recorded(database: &Database) -> Result<SharedSettings, sqlx::Error> {
    let rows: Vec<(String, String)> = on_backend!(database, pool =>
        sqlx::query_as("SELECT name, value FROM shared_settings ORDER BY name").fetch_all(pool).await?);
    Ok(SharedSettings(rows))
}

/// The recorded settings' fingerprint (`None` before the first replica recorded them).
pub async fn recorded_fingerprint(database: &Database) -> Result<Option<Vec<u8>>, sqlx::Error> {
    let (fingerprint,): (Option<Vec<u8>>,) = on_backend!(database, pool =>
        sqlx::query_as("SELECT settings_fingerprint FROM effects_cursor WHERE id = 1").fetch_one(pool).await?);
    Ok(fingerprint)
}

/// At start-up: records `ours` when nothing is recorded, or with `adopt` when they differ;
/// otherwise fails with [`Error::SettingsDiffer`] naming each difference.
pub async fn agree(database: &Database, ours: &SharedSettings, adopt: bool) -> Result<(), Error> {
    let fingerprint = ours.fingerprint();
    // The append lock orders an adoption with every append: an append after it finds the
    // new fingerprint (and a replica with the old settings stops instead of appending).
    let mut tx = database
        .begin_write(Some(crate::history::APPEND_LOCK))
        .await?;
    let (_, stored) = crate::effects::lock_cursor(&mut tx).await?;
    if stored.as_deref() == Some(fingerprint.as_slice()) {
        tx.rollback().await?;
        return Ok(());
    }
    if stored.is_some() {
        let recorded = recorded(database).await?;
        let differences = ours.differences(&recorded);
        if !adopt {
            tx.rollback().await?;
            return Err(Error::SettingsDiffer(differences));
        }
        tracing::warn!(%differences,
            "ACX_SCORING_ADOPT_SETTINGS: this replica's settings replace the deployment's; \
             replicas with the old ones stop");
    } else {
        // Replicas before shared settings were checked had to share them anyway: their
        // snapshots are taken as these settings'.
        let relabelled: u64;
        on_tx!(&mut tx, conn => {
            relabelled = sqlx::query(
                "UPDATE snapshots SET settings_fingerprint = $1 WHERE settings_fingerprint IS NULL")
                .bind(&fingerprint).execute(conn).await?.rows_affected();
        });
        let recorded: Vec<String> = ours.0.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
        if relabelled > 0 {
            tracing::warn!(settings = %recorded.join(", "), snapshots = relabelled,
                "shared settings recorded for the deployment from this replica's: the \
                 snapshots of the release before are taken as computed with them (if they were \
                 not, restart every replica with the earlier values and \
                 ACX_SCORING_ADOPT_SETTINGS=true)");
        } else {
            tracing::info!(settings = %recorded.join(", "),
                "shared settings recorded for the deployment");
        }
    }
    on_tx!(&mut tx, conn => sqlx::query("DELETE FROM shared_settings").execute(conn).await?);
    for (name, value) in &ours.0 {
        on_tx!(&mut tx, conn => sqlx::query("INSERT INTO shared_settings (name, value) VALUES ($1, $2)")
            .bind(name).bind(value).execute(conn).await?);
    }
    on_tx!(&mut tx, conn => sqlx::query("UPDATE effects_cursor SET settings_fingerprint = $1 WHERE id = 1")
        .bind(&fingerprint).execute(conn).await?);
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(half_life: f64, keys: Option<&IdentifierKeys>) -> SharedSettings {
        SharedSettings::new(half_life, 0.02, keys, &ReferenceRates::builtin())
    }

    #[test]
    fn equal_settings_have_equal_fingerprints_and_no_differences() {
        assert_eq!(
            settings(180.0, None).fingerprint(),
            settings(180.0, None).fingerprint()
        );
        assert!(
            settings(180.0, None)
                .differences(&settings(180.0, None))
                .0
                .is_empty()
        );
    }

    #[test]
    fn a_difference_names_the_setting_and_both_values_but_no_secret() {
        let file = IdentifierKeys::generate_file("k1");
        let keys = IdentifierKeys::parse(&file).expect("keys");
        let here = settings(90.0, Some(&keys));
        let recorded = settings(180.0, None);
        assert_ne!(here.fingerprint(), recorded.fingerprint());
        let differences = here.differences(&recorded);
        let names: Vec<&str> = differences.0.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(
            names,
            ["ACX_IDENTIFIER_KEYS_FILE", "ACX_SCORING_HALF_LIFE_DAYS"]
        );
        let text = differences.to_string();
        assert!(
            text.contains(
                "ACX_SCORING_HALF_LIFE_DAYS is \"90\" here but \"180\" for the deployment"
            ),
            "{text}"
        );
        assert!(text.contains(&keys.current().check_value()), "{text}");
        let secret = file
            .lines()
            .find_map(|line| line.strip_prefix("k1 "))
            .expect("the key line");
        assert!(
            !text.contains(secret) && !text.contains(&secret[..12]),
            "{text}"
        );
    }
}
