//! Leases: at most one replica at a time holds a named lease (`feed`: follows ingest's feed
//! and appends its reports; `snapshot`: writes snapshots; `trainer`: trains the targeting
//! model). A replica takes or renews a
//! lease with one conditional upsert; a holder that cannot renew before [`TTL`] stops
//! doing the leased work at once, and anyone may take an expired lease. Holders compare
//! their own clocks with the stored expiry, so clock skew between replicas shortens or
//! lengthens a hand-over by the skew; the work is safe under a brief overlap (the feed
//! append drops reports already appended, a snapshot is keyed by its position).

use std::time::Duration;

use acx_runtime::{Database, db::bounded_by, on_backend, time::now_micros};

/// How long a lease lasts without renewal.
pub const TTL: Duration = Duration::from_secs(10);
/// How often a holder renews (and a non-holder tries to take it).
pub const RENEW: Duration = Duration::from_secs(3);

/// The lease following ingest's feed.
pub const FEED: &str = "feed";
/// The lease writing snapshots.
pub const SNAPSHOT: &str = "snapshot";
/// The lease training the targeting model (held only while a training runs).
pub const TRAINER: &str = "trainer";

/// Takes or renews `name` for `holder` for [`TTL`]; true when `holder` holds it now. A
/// database that does not answer within half the TTL is an error (I/O `TimedOut`).
pub async fn acquire(database: &Database, name: &str, holder: &str) -> Result<bool, sqlx::Error> {
    const SQL: &str = "INSERT INTO leases (name, holder, expires_us) VALUES ($1, $2, $3) \
                       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_us = excluded.expires_us \
                       WHERE leases.holder = excluded.holder OR leases.expires_us < $4";
    let now = now_micros();
    let expires = now + TTL.as_micros() as i64;
    // A holder gives the lease up before it expires when a renewal goes unanswered.
    let taken = bounded_by(TTL / 2, async {
        on_backend!(database, pool => sqlx::query(SQL)
            .bind(name).bind(holder).bind(expires).bind(now).execute(pool).await
            .map(|done| done.rows_affected()))
    })
    .await?;
    Ok(taken == 1)
}

/// Gives `name` up if `holder` holds it, so another replica takes it at once.
pub async fn release(database: &Database, name: &str, holder: &str) -> Result<(), sqlx::Error> {
    const SQL: &str = "UPDATE leases SET expires_us = 0 WHERE name = $1 AND holder = $2";
    bounded_by(TTL / 2, async {
        on_backend!(database, pool => sqlx::query(SQL).bind(name).bind(holder).execute(pool).await.map(drop))
    })
    .await
}

/// Holds `name` for `holder` while it can: resolves when the lease is lost (a renewal
/// failed or another replica took it).
pub async fn keep(database: &Database, name: &str, holder: &str) {
    loop {
        tokio::time::sleep(RENEW).await;
        match acquire(database, name, holder).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(lease = name, "lease taken by another replica");
                return;
            }
            Err(error) => {
                tracing::warn!(lease = name, %error, "lease could not be renewed, giving it up");
                return;
            }
        }
    }
}
