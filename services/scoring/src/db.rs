//! A write transaction on either backend. On SQLite it begins IMMEDIATE, so writers take
//! the database's one write lock up front instead of failing to upgrade a read lock.

use acx_runtime::Database;
use sqlx::{Postgres, Sqlite, Transaction};

/// A write transaction on either backend.
pub enum Tx {
    /// SQLite.
    Sqlite(Transaction<'static, Sqlite>),
    /// PostgreSQL.
    Postgres(Transaction<'static, Postgres>),
}

/// Runs the same statement on whichever backend a [`Tx`] is:
/// `on_tx!(&mut tx, conn => sqlx::query(SQL).execute(conn).await?)`.
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::db::Tx::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body;
            }
            $crate::db::Tx::Postgres(tx) => {
                let $conn = &mut **tx;
                $body;
            }
        }
    };
}
pub(crate) use on_tx;

impl Tx {
    /// Begins a write transaction.
    pub async fn begin(database: &Database) -> Result<Self, sqlx::Error> {
        Ok(match database {
            Database::Sqlite(pool) => Self::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Database::Postgres(pool) => Self::Postgres(pool.begin().await?),
        })
    }

    /// Commits.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Self::Sqlite(tx) => tx.commit().await,
            Self::Postgres(tx) => tx.commit().await,
        }
    }

    /// Rolls back.
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Self::Sqlite(tx) => tx.rollback().await,
            Self::Postgres(tx) => tx.rollback().await,
        }
    }
}
