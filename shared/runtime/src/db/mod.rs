//! Database plumbing: a pool chosen by URL (`sqlite://...`, the default, or
//! `postgres://...`), each service's migrations run at start-up, and a liveness ping for
//! the health service.
//!
//! Migrations live with the service that owns them, one directory per backend
//! (`migrations/sqlite`, `migrations/postgres`). On PostgreSQL sqlx takes an advisory lock
//! while migrating, so several replicas starting at once are safe.
//!
//! Writes that must not interleave go through one helper, [`Database::begin_write`] and
//! [`WriteTx`], with [`on_tx!`](crate::on_tx) to run the same statement on either backend.

mod limits;

use std::{path::PathBuf, str::FromStr, time::Duration};

pub use limits::{CutOff, STATEMENT_LIMIT, bounded, bounded_by, note_cut_off};

use sqlx::{
    Postgres, Sqlite, Transaction,
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPool, PgPoolOptions},
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
    },
};

/// Runs the same sqlx code on whichever backend `$database` is: the statement text is shared
/// (both backends take `$1` placeholders), only the pool's type differs.
///
/// `on_backend!(database, pool => sqlx::query(SQL).execute(pool).await)`
#[macro_export]
macro_rules! on_backend {
    ($database:expr, $pool:ident => $body:expr) => {
        match $database {
            $crate::Database::Sqlite($pool) => $body,
            $crate::Database::Postgres($pool) => $body,
        }
    };
}

/// Runs the same statement on whichever backend a [`WriteTx`] is, with `$conn` the
/// transaction's connection; the body's value is dropped (assign what it reads to a
/// variable declared before):
///
/// `on_tx!(&mut tx, conn => sqlx::query(SQL).bind(x).execute(conn).await?)`
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::db::WriteTx::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body;
            }
            $crate::db::WriteTx::Postgres(tx) => {
                let $conn = &mut **tx;
                $body;
            }
        }
    };
}

/// An SQLite statement whose `$N` parameters appear once each, numbered in the order they
/// appear (`$1`, `$2`, ...), with each made an anonymous `?`, which SQLite numbers the
/// same way; None when they do not (a repeat, a gap, another order).
///
/// Why: SQLite keeps `$N` parameters as names in a list that it scans for every one
/// bound, so binding a statement of n such parameters costs n² steps (sqlx asks each one's
/// name); a multi-row statement of 1,200 parameters spent more time there than in
/// storing its rows. Anonymous ones need no look-up. Only `$` outside quoted text counts.
fn anonymous_parameters(sql: &str) -> Option<String> {
    let mut out = String::with_capacity(sql.len());
    let mut next = 1u64;
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
        }
        if c != '$' || quoted {
            out.push(c);
            continue;
        }
        let mut number = String::new();
        while let Some(&digit) = chars.peek().filter(|d| d.is_ascii_digit()) {
            number.push(digit);
            chars.next();
        }
        if number.parse::<u64>().ok()? != next {
            return None;
        }
        next += 1;
        out.push('?');
    }
    Some(out)
}

/// A multi-row statement for both backends: `head`, then `rows` groups of `columns`
/// numbered parameters after the first `skip` (`($2, $3), ($4, $5)`), then `tail`. Fixed
/// text and parameter numbers only (nothing a caller sent goes into the SQL), so it may be
/// passed as `sqlx::AssertSqlSafe`. Keep `rows × columns + skip` under SQLite's 32,766
/// and PostgreSQL's 65,535 parameters.
pub fn rows_statement(head: &str, skip: usize, rows: usize, columns: usize, tail: &str) -> String {
    let mut sql = String::from(head);
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..columns {
            if column > 0 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&(skip + row * columns + column + 1).to_string());
        }
        sql.push(')');
    }
    sql.push_str(tail);
    sql
}

/// `sql` for SQLite (`sqlite`) with anonymous parameters where [`anonymous_parameters`]
/// can, else as it is.
fn fitted(sqlite: bool, sql: String) -> String {
    match sqlite {
        true => anonymous_parameters(&sql).unwrap_or(sql),
        false => sql,
    }
}

/// The file of a `sqlite:` URL, for code that opens its own connection to it; None for
/// in-memory SQLite (`sqlite::memory:`, `mode=memory`) and for other databases.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    if !url.starts_with("sqlite:") || url.contains(":memory:") || url.contains("mode=memory") {
        return None;
    }
    let options = SqliteConnectOptions::from_str(url).ok()?;
    Some(options.get_filename().to_owned())
}

/// Why the database could not be opened or migrated.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL is neither `sqlite:` nor `postgres:`.
    #[error("unsupported database url scheme {0:?}: use sqlite://PATH or postgres://...")]
    UnsupportedScheme(String),
    /// The database could not be reached or opened.
    #[error("cannot connect to the database {target}")]
    Connect {
        /// Which database: a SQLite file, or PostgreSQL's `user@host:port/database` (never
        /// the password).
        target: String,
        /// Why.
        #[source]
        source: sqlx::Error,
    },
    /// A migration failed.
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The directory for a SQLite file could not be created.
    #[error("cannot create the directory of the sqlite file")]
    CreateDir(#[from] std::io::Error),
}

/// Longest a call waits for a PostgreSQL connection before it fails UNAVAILABLE ("the
/// database is unavailable or busy"): a server that is down refuses at once, and the pool
/// keeps trying until this passes. Well under callers' deadlines (acx-client's default is
/// 10 s), so that they get the answer they retry rather than DEADLINE_EXCEEDED, which they
/// do not. Found by a tester: with 10 s, every call during an outage ended
/// DEADLINE_EXCEEDED. A load far past what the pool's 16 connections serve reaches it too
/// (300 concurrent loads of 1,000 reports: 16 of them).
pub const PG_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a service starting waits for PostgreSQL before it exits with the reason.
const PG_START_PATIENCE: Duration = Duration::from_secs(10);

/// Creates `dir` and its missing parents readable by this user only (mode 0700 on Unix):
/// they hold customs declarations, the audit trail and secrets (found by a security tester:
/// with the usual umask the suite's data directory and database files were readable by
/// every local user). An existing directory is left as it is.
pub fn create_private_dir_all(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates the SQLite file `path`, if missing, readable by this user only (0600): SQLite
/// gives its `-wal` and `-shm` files the database file's mode. An existing file is left as
/// it is.
fn create_private_file(path: &std::path::Path) -> std::io::Result<()> {
    if path.as_os_str().is_empty() || path.exists() {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        // Another process of the suite created it meanwhile.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

/// A service's database: one of the two supported backends.
#[derive(Debug, Clone)]
pub enum Database {
    /// Embedded SQLite (the default).
    Sqlite(SqlitePool),
    /// PostgreSQL (production, and the way past one machine).
    Postgres(PgPool),
}

/// A service's migrations, one set per backend (`sqlx::migrate!` of each directory).
#[derive(Debug)]
pub struct Migrations {
    /// Migrations for SQLite.
    pub sqlite: Migrator,
    /// Migrations for PostgreSQL.
    pub postgres: Migrator,
}

/// The URL without its password, for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            let user = credentials.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// A PostgreSQL advisory lock key: write transactions begun with the same key run one at
/// a time. Each kind of writer that numbers rows from what it reads (feed sequences,
/// history positions, per-authority alert order) has its own key, so the numbers become
/// visible in order and a reader following them never skips one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteLock(pub i64);

/// An open write transaction on either backend, from [`Database::begin_write`]. Dropped
/// without [`WriteTx::commit`], it rolls back.
pub enum WriteTx {
    /// SQLite, holding the database's write lock.
    Sqlite(Transaction<'static, Sqlite>),
    /// PostgreSQL (READ COMMITTED), holding the advisory lock it was begun with, if any.
    Postgres(Transaction<'static, Postgres>),
}

impl std::fmt::Debug for WriteTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Sqlite(_) => "WriteTx::Sqlite",
            Self::Postgres(_) => "WriteTx::Postgres",
        })
    }
}

impl WriteTx {
    /// [`rows_statement`] as this backend binds it fastest: on SQLite, parameters numbered
    /// in order become anonymous ones, bound the same way without a look-up each.
    pub fn rows_statement(
        &self,
        head: &str,
        skip: usize,
        rows: usize,
        columns: usize,
        tail: &str,
    ) -> String {
        fitted(
            matches!(self, Self::Sqlite(_)),
            rows_statement(head, skip, rows, columns, tail),
        )
    }

    /// Makes the writes durable and visible, and releases the locks.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Self::Sqlite(tx) => tx.commit().await,
            Self::Postgres(tx) => tx.commit().await,
        }
    }

    /// Undoes the writes and releases the locks.
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Self::Sqlite(tx) => tx.rollback().await,
            Self::Postgres(tx) => tx.rollback().await,
        }
    }
}

impl Database {
    /// Begins a write transaction whose reads and writes see one state.
    ///
    /// - SQLite: `BEGIN IMMEDIATE`, so the database's one write lock is taken up front
    ///   (waiting up to the pool's busy timeout, 10 s) instead of failing `SQLITE_BUSY`
    ///   half way when a read lock cannot be upgraded. Every SQLite writer is serialised;
    ///   `lock` changes nothing there.
    /// - PostgreSQL: a READ COMMITTED transaction that first takes the transaction-scoped
    ///   advisory lock `lock` (`pg_advisory_xact_lock`), so writers with the same key run
    ///   one at a time. Without a key, writers rely on row locks (`SELECT ... FOR UPDATE`)
    ///   and constraints.
    ///
    /// Nothing is retried: a lock wait replaces the retry a serialisation failure would
    /// need, and an error (a lost connection, a busy timeout) goes to the caller.
    pub async fn begin_write(&self, lock: Option<WriteLock>) -> Result<WriteTx, sqlx::Error> {
        match self {
            Self::Sqlite(pool) => Ok(WriteTx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?)),
            Self::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                if let Some(WriteLock(key)) = lock {
                    sqlx::query("SELECT pg_advisory_xact_lock($1)")
                        .bind(key)
                        .execute(&mut *tx)
                        .await?;
                }
                Ok(WriteTx::Postgres(tx))
            }
        }
    }

    /// Opens a pool for `url`. SQLite files (and their directory) are created if missing,
    /// in WAL mode with `synchronous=NORMAL`.
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|source| DbError::Connect {
                    target: url.to_owned(),
                    source,
                })?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            if let Some(dir) = options.get_filename().parent()
                && !dir.as_os_str().is_empty()
            {
                create_private_dir_all(dir)?;
            }
            if let Some(file) = sqlite_file(url) {
                create_private_file(&file)?;
            }
            let target = options.get_filename().display().to_string();
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(options)
                .await
                .map_err(|source| DbError::Connect { target, source })?;
            Ok(Self::Sqlite(pool))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url).map_err(|source| DbError::Connect {
                target: "(an unreadable postgres URL)".to_owned(),
                source,
            })?;
            // Named without the password, for errors.
            let target = format!(
                "{}@{}:{}/{}",
                options.get_username(),
                options.get_host(),
                options.get_port(),
                options.get_database().unwrap_or(options.get_username())
            );
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(PG_ACQUIRE_TIMEOUT)
                .after_release(|connection, _| Box::pin(limits::ready_on_release(connection)))
                .connect_lazy_with(options);
            // At start-up the server may still be coming up: wait for it a while longer
            // than one call would.
            let patience = std::time::Instant::now() + PG_START_PATIENCE;
            loop {
                match pool.acquire().await {
                    Ok(_) => break,
                    // Refused, reset (a proxy with no server behind it, found by a tester:
                    // it exited at once), or no connection within the pool's timeout.
                    Err(error)
                        if crate::error::is_database_unreachable(&error)
                            && std::time::Instant::now() < patience =>
                    {
                        tokio::time::sleep(Duration::from_millis(250)).await;
                    }
                    // The pool retries until its timeout and then hides why it could not
                    // connect (refused, no route...): one direct attempt tells.
                    Err(sqlx::Error::PoolTimedOut) => {
                        use sqlx::Connection;
                        let attempt = sqlx::PgConnection::connect(url);
                        let source =
                            match tokio::time::timeout(Duration::from_secs(5), attempt).await {
                                Ok(Err(cause)) => cause,
                                Ok(Ok(_)) => sqlx::Error::PoolTimedOut,
                                Err(_) => sqlx::Error::Io(std::io::Error::new(
                                    std::io::ErrorKind::TimedOut,
                                    "the server did not answer within 5 s",
                                )),
                            };
                        return Err(DbError::Connect { target, source });
                    }
                    Err(source) => return Err(DbError::Connect { target, source }),
                }
            }
            Ok(Self::Postgres(pool))
        } else {
            let scheme = url.split(':').next().unwrap_or(url).to_owned();
            Err(DbError::UnsupportedScheme(scheme))
        }
    }

    /// Opens `url` and runs this service's migrations on it: what every service does first.
    pub async fn open(url: &str, migrations: &Migrations) -> Result<Self, DbError> {
        let database = Self::connect(url).await?;
        database.migrate(migrations).await?;
        Ok(database)
    }

    /// Runs the migrations of this backend.
    pub async fn migrate(&self, migrations: &Migrations) -> Result<(), DbError> {
        match self {
            Self::Sqlite(pool) => migrations.sqlite.run(pool).await?,
            Self::Postgres(pool) => migrations.postgres.run(pool).await?,
        }
        Ok(())
    }

    /// A handle for one busy task that runs one statement at a time (a writer that groups
    /// its commits): on SQLite a connection of its own with a 64 MiB page cache (each SQLite
    /// connection caches pages apart, so a task that hops between pool connections keeps
    /// finding its pages cold); on PostgreSQL, where the server holds the cache, the pool.
    pub async fn dedicated_connection(&self) -> Result<Self, DbError> {
        match self {
            Self::Sqlite(pool) => {
                let options = (*pool.connect_options())
                    .clone()
                    .pragma("cache_size", "-65536");
                let target = options.get_filename().display().to_string();
                let single = SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(options)
                    .await
                    .map_err(|source| DbError::Connect { target, source })?;
                Ok(Self::Sqlite(single))
            }
            Self::Postgres(_) => Ok(self.clone()),
        }
    }

    /// Whether the database answers a trivial query within two seconds.
    pub async fn ping(&self) -> bool {
        let query = async {
            on_backend!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(drop))
        };
        matches!(bounded_by(Duration::from_secs(2), query).await, Ok(()))
    }

    /// A statement of `$N` parameters as this backend binds it fastest: on SQLite, when
    /// they appear once each in order, as anonymous ones (a statement of many parameters
    /// binds in linear time instead of quadratic).
    pub fn fit(&self, sql: String) -> String {
        fitted(matches!(self, Self::Sqlite(_)), sql)
    }

    /// Which backend this is, for logs.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        on_backend!(self, pool => pool.close().await)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_rows_statement_numbers_its_parameters_after_the_skipped() {
        assert_eq!(
            super::rows_statement(
                "INSERT INTO t (a, b) VALUES ",
                1,
                2,
                2,
                " ON CONFLICT DO NOTHING"
            ),
            "INSERT INTO t (a, b) VALUES ($2, $3), ($4, $5) ON CONFLICT DO NOTHING"
        );
        assert_eq!(super::rows_statement("X ", 0, 1, 1, ""), "X ($1)");
    }

    use super::*;

    #[test]
    fn sqlite_gets_anonymous_parameters_only_when_they_are_in_order() {
        let update = rows_statement("UPDATE t SET s = $1 FROM (VALUES ", 1, 2, 2, ") AS v");
        assert_eq!(
            anonymous_parameters(&update).as_deref(),
            Some("UPDATE t SET s = ? FROM (VALUES (?, ?), (?, ?)) AS v")
        );
        // A repeat, a gap or another order keeps the numbers.
        for sql in ["SELECT $1 WHERE a = $1", "SELECT $2, $1", "SELECT $1, $3"] {
            assert_eq!(anonymous_parameters(sql), None, "{sql}");
        }
        // Quoted text is not a parameter.
        assert_eq!(
            anonymous_parameters("SELECT '$5', $1").as_deref(),
            Some("SELECT '$5', ?")
        );
        assert_eq!(fitted(false, update.clone()), update);
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://acx:secret@db:5432/acx"),
            "postgres://acx:***@db:5432/acx"
        );
        assert_eq!(
            redact_url("sqlite://data/ingest.db"),
            "sqlite://data/ingest.db"
        );
    }

    #[tokio::test]
    async fn sqlite_files_are_created_with_their_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested/test.db");
        let db = Database::connect(&format!("sqlite://{}", path.display()))
            .await
            .expect("connect");
        assert!(db.ping().await);
        assert!(path.exists());
        // Readable by this user only, the WAL too (found by a security tester: 0644).
        on_backend!(&db, pool => sqlx::query("CREATE TABLE t (x INTEGER)").execute(pool).await.map(drop))
            .expect("a write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &std::path::Path| {
                std::fs::metadata(p).expect("exists").permissions().mode() & 0o777
            };
            assert_eq!(mode(&dir.path().join("nested")), 0o700);
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(&dir.path().join("nested/test.db-wal")), 0o600);
        }
    }

    #[test]
    fn finds_the_file_of_sqlite_urls_only() {
        assert_eq!(
            sqlite_file("sqlite:///var/lib/acx/liaison.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/acx/liaison.db"))
        );
        assert_eq!(
            sqlite_file("sqlite://data/liaison.db"),
            Some(PathBuf::from("data/liaison.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("sqlite://shared?mode=memory"), None);
        assert_eq!(sqlite_file("postgres://acx@db/acx"), None);
    }

    /// Concurrent writers that number rows from what they read (as ingest's feed, scoring's
    /// history and liaison's alerts do) each get the next number: none is lost, doubled or
    /// refused.
    async fn writers_number_rows_in_turn(database: &Database, table: &str) {
        let create = format!("CREATE TABLE {table} (n BIGINT NOT NULL)");
        on_backend!(database, pool => sqlx::query(sqlx::AssertSqlSafe(create)).execute(pool).await.map(drop))
            .expect("create table");
        let writers = (0..12).map(|_| {
            let database = database.clone();
            let select = format!("SELECT COALESCE(MAX(n), 0) FROM {table}");
            let insert = format!("INSERT INTO {table} (n) VALUES ($1)");
            tokio::spawn(async move {
                let mut tx = database.begin_write(Some(WriteLock(0x0AC5_7E57))).await?;
                let last: i64;
                on_tx!(&mut tx, conn => {
                    (last,) = sqlx::query_as(sqlx::AssertSqlSafe(select)).fetch_one(&mut *conn).await?;
                    // Let the other writers run between the read and the write.
                    tokio::task::yield_now().await;
                    sqlx::query(sqlx::AssertSqlSafe(insert)).bind(last + 1).execute(conn).await?;
                });
                tx.commit().await
            })
        });
        for writer in writers.collect::<Vec<_>>() {
            writer.await.expect("writer task").expect("write");
        }
        let select = format!("SELECT n FROM {table} ORDER BY n");
        let numbers: Vec<(i64,)> = on_backend!(database, pool =>
            sqlx::query_as(sqlx::AssertSqlSafe(select)).fetch_all(pool).await)
        .expect("read back");
        let numbers: Vec<i64> = numbers.into_iter().map(|(n,)| n).collect();
        assert_eq!(numbers, (1..=12).collect::<Vec<i64>>());
    }

    #[tokio::test]
    async fn sqlite_write_transactions_run_one_at_a_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("tx.db").display());
        let database = Database::connect(&url).await.expect("connect");
        writers_number_rows_in_turn(&database, "numbers").await;
    }

    #[tokio::test]
    async fn postgres_write_transactions_with_one_lock_run_one_at_a_time() {
        let Some(url) = std::env::var("ACX_TEST_POSTGRES_URL")
            .ok()
            .filter(|url| !url.is_empty())
        else {
            assert!(
                std::env::var("ACX_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "ACX_REQUIRE_POSTGRES=1 but ACX_TEST_POSTGRES_URL is not set"
            );
            eprintln!("skipping: ACX_TEST_POSTGRES_URL is not set (scripts/test.sh sets it)");
            return;
        };
        let database = Database::connect(&url).await.expect("connect");
        let table = format!("acx_test_numbers_{:016x}", rand::random::<u64>());
        writers_number_rows_in_turn(&database, &table).await;
        let statement = format!("DROP TABLE {table}");
        on_backend!(&database, pool => sqlx::query(sqlx::AssertSqlSafe(statement)).execute(pool).await.map(drop))
            .expect("drop table");
    }

    #[tokio::test]
    async fn refuses_unknown_schemes() {
        let error = Database::connect("mysql://x")
            .await
            .expect_err("unsupported");
        assert!(matches!(error, DbError::UnsupportedScheme(s) if s == "mysql"));
    }
}
