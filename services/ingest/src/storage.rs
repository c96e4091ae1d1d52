//! The storage path under the gRPC API, for measuring it: reports prepared as `SubmitReports`
//! prepares them (checked, normalised, identifiers hashed) and written as a bulk load writes
//! them (binary `COPY` on PostgreSQL), without authentication, duplicate checks or gRPC. The
//! ingest benchmark (`tools/bench`) reports the bulk-load rate as a ratio of this one.

use std::time::SystemTime;

use acx_domain::identifiers::IdentifierKey;
use acx_proto::ingest::Report;
use acx_runtime::Database;

use crate::{prepare, store};

/// A report checked and in its stored form, ready for [`store`].
#[derive(Debug)]
pub struct PreparedReport(prepare::Prepared);

/// Checks `report` from `platform` and builds its stored form, hashing with `key`; on
/// refusal, the paths of the fields at fault.
pub fn prepare(
    report: Report,
    platform: &str,
    key: &IdentifierKey,
    now: SystemTime,
) -> Result<PreparedReport, Vec<String>> {
    prepare::prepare(report, platform, key, now)
        .map(PreparedReport)
        .map_err(|rejection| {
            rejection
                .violations
                .into_iter()
                .map(|violation| violation.field)
                .collect()
        })
}

/// Stores `reports` of `platform` (new ids) in one transaction on a migrated `database`: on
/// PostgreSQL with one binary `COPY`, on SQLite with the multi-row statements of a bulk load.
pub async fn store(
    database: &Database,
    platform: &str,
    reports: &[PreparedReport],
) -> Result<(), sqlx::Error> {
    let rows: Vec<_> = reports.iter().map(|report| &report.0).collect();
    match database {
        Database::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            store::copy_rows(&mut tx, platform, &rows, None, 0, None).await?;
            tx.commit().await
        }
        Database::Sqlite(_) => {
            let mut tx = store::begin_write(database).await?;
            tx.insert_new(platform, &rows, 0, None).await?;
            tx.commit().await
        }
    }
}
