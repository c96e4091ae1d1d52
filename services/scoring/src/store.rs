//! Reads of scoring's stored effects (risk history, the blacklist's change feed), which
//! the replicas write once each ([`crate::effects`]).

use acx_proto::{
    common::SellerAccountRef,
    scoring::{BlacklistChange, SellerRiskChange},
};
use acx_runtime::{Database, on_backend};
use prost::Message;

/// A page of an account's risk history, newest first, before history id `before`.
pub async fn history(
    database: &Database,
    seller: &SellerAccountRef,
    before: i64,
    limit: usize,
) -> Result<Vec<(i64, SellerRiskChange)>, crate::Error> {
    const SQL: &str = "SELECT id, change FROM risk_history WHERE platform = $1 AND seller_id = $2 AND id < $3 \
                       ORDER BY id DESC LIMIT $4";
    let rows: Vec<(i64, Vec<u8>)> = on_backend!(database, pool => sqlx::query_as(SQL)
        .bind(&seller.platform).bind(&seller.seller_id).bind(before).bind(limit as i64).fetch_all(pool).await?);
    rows.into_iter()
        .map(|(id, bytes)| Ok((id, SellerRiskChange::decode(bytes.as_slice())?)))
        .collect()
}

/// Blacklist changes after `after`, oldest first.
pub async fn blacklist_changes(
    database: &Database,
    after: i64,
    limit: usize,
) -> Result<Vec<BlacklistChange>, crate::Error> {
    const SQL: &str =
        "SELECT cursor, change FROM blacklist_changes WHERE cursor > $1 ORDER BY cursor LIMIT $2";
    let rows: Vec<(i64, Vec<u8>)> = on_backend!(database, pool => sqlx::query_as(SQL).bind(after).bind(limit as i64).fetch_all(pool).await?);
    rows.into_iter()
        .map(|(cursor, bytes)| {
            let mut change = BlacklistChange::decode(bytes.as_slice())?;
            change.cursor = cursor;
            Ok(change)
        })
        .collect()
}

/// The newest blacklist change cursor, 0 when none.
pub async fn blacklist_head(database: &Database) -> Result<i64, sqlx::Error> {
    const SQL: &str = "SELECT COALESCE(MAX(cursor), 0) FROM blacklist_changes";
    let (head,): (i64,) = on_backend!(database, pool => sqlx::query_as(SQL).fetch_one(pool).await?);
    Ok(head)
}
