//! Snapshots: the whole in-memory state at a history position, so a replica starts from
//! the latest one plus the history's tail instead of replaying everything.
//!
//! Format: [`FORMAT_VERSION`], then the state serialised with `postcard` (serde, compact
//! varints; faster and smaller than a protobuf mirror of the state, which would first copy
//! every map into messages). The bytes are stored in chunks of [`CHUNK`] bytes with their
//! SHA-256 and size. A snapshot of an unknown version, with a bad checksum, or of other
//! model parameters is skipped (logged) in favour of the one before, or of a full replay.
//! The two newest are kept. A snapshot is only taken at a position whose stored effects
//! are written (the follower's `applied`), so a replica starting from it never needs
//! effects from before it.

use acx_runtime::{Database, on_backend, on_tx, time::now_micros};
use sha2::{Digest, Sha256};
use tokio::sync::OwnedRwLockReadGuard;

use crate::{model::ModelParams, state::State};

/// Version of the byte format; bump it whenever a serialised type changes shape.
pub const FORMAT_VERSION: i32 = 4;
/// Bytes per stored chunk.
const CHUNK: usize = 8 << 20;
/// Snapshots kept.
const KEEP: i64 = 2;

/// Why a snapshot could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The database failed.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// The state could not be serialised or deserialised.
    #[error("snapshot encoding")]
    Encoding(#[from] postcard::Error),
    /// The blocking task failed.
    #[error("snapshot task failed")]
    Task(#[from] tokio::task::JoinError),
}

/// The state's bytes with the parameters it was computed with.
#[derive(serde::Serialize)]
struct Body<'a> {
    params: ModelParams,
    state: &'a State,
}

#[derive(serde::Deserialize)]
struct OwnedBody {
    params: ModelParams,
    state: State,
}

/// Serialises `state` (the state at `position`).
pub fn encode(state: &State, params: ModelParams) -> Result<Vec<u8>, postcard::Error> {
    postcard::to_stdvec(&Body { params, state })
}

/// Deserialises a state; None when it was computed with other parameters.
pub fn decode(bytes: &[u8], params: ModelParams) -> Result<Option<State>, postcard::Error> {
    let body: OwnedBody = postcard::from_bytes(bytes)?;
    Ok((body.params == params).then_some(body.state))
}

/// Writes a snapshot of `state` at `position` (unless one exists) and drops all but the
/// newest [`KEEP`]; returns its size in bytes.
pub async fn write(
    database: &Database,
    position: i64,
    state: OwnedRwLockReadGuard<State>,
    params: ModelParams,
) -> Result<usize, SnapshotError> {
    const EXISTS: &str = "SELECT COUNT(*) FROM snapshots WHERE position = $1";
    let (exists,): (i64,) = on_backend!(database, pool =>
        sqlx::query_as(EXISTS).bind(position).fetch_one(pool).await?);
    if exists > 0 {
        return Ok(0);
    }
    let bytes = tokio::task::spawn_blocking(move || encode(&state, params)).await??;
    let checksum = Sha256::digest(&bytes).to_vec();
    let mut tx = database.begin_write(None).await?;
    for (i, chunk) in bytes.chunks(CHUNK).enumerate() {
        on_tx!(&mut tx, conn => sqlx::query(
            "INSERT INTO snapshot_chunks (position, chunk, bytes) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(position).bind(i as i32).bind(chunk).execute(conn).await?);
    }
    on_tx!(&mut tx, conn => sqlx::query(
        "INSERT INTO snapshots (position, format_version, checksum, size_bytes, create_time_us) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING")
        .bind(position).bind(FORMAT_VERSION).bind(checksum).bind(bytes.len() as i64)
        .bind(now_micros()).execute(conn).await?);
    // Keep the newest KEEP.
    const OLDER: &str = "SELECT position FROM snapshots ORDER BY position DESC LIMIT 1 OFFSET $1";
    let oldest_kept: Option<(i64,)>;
    on_tx!(&mut tx, conn => {
        oldest_kept = sqlx::query_as(OLDER).bind(KEEP - 1).fetch_optional(conn).await?;
    });
    if let Some((oldest,)) = oldest_kept {
        on_tx!(&mut tx, conn => sqlx::query("DELETE FROM snapshot_chunks WHERE position < $1")
            .bind(oldest).execute(conn).await?);
        on_tx!(&mut tx, conn => sqlx::query("DELETE FROM snapshots WHERE position < $1")
            .bind(oldest).execute(conn).await?);
    }
    tx.commit().await?;
    Ok(bytes.len())
}

/// Reads a snapshot's bytes, checked against its checksum; None when damaged.
async fn read(
    database: &Database,
    position: i64,
    checksum: &[u8],
) -> Result<Option<Vec<u8>>, SnapshotError> {
    const SQL: &str = "SELECT bytes FROM snapshot_chunks WHERE position = $1 ORDER BY chunk";
    let chunks: Vec<(Vec<u8>,)> = on_backend!(database, pool =>
        sqlx::query_as(SQL).bind(position).fetch_all(pool).await?);
    let bytes: Vec<u8> = chunks.into_iter().flat_map(|(chunk,)| chunk).collect();
    Ok((Sha256::digest(&bytes).as_slice() == checksum).then_some(bytes))
}

/// The newest usable snapshot: its position and state.
pub async fn restore_latest(
    database: &Database,
    params: ModelParams,
) -> Result<Option<(i64, State)>, SnapshotError> {
    const SQL: &str =
        "SELECT position, format_version, checksum FROM snapshots ORDER BY position DESC";
    let snapshots: Vec<(i64, i32, Vec<u8>)> =
        on_backend!(database, pool => sqlx::query_as(SQL).fetch_all(pool).await?);
    for (position, version, checksum) in snapshots {
        if version != FORMAT_VERSION {
            tracing::warn!(
                position,
                version,
                "snapshot of another format version, skipped"
            );
            continue;
        }
        let Some(bytes) = read(database, position, &checksum).await? else {
            tracing::warn!(position, "snapshot fails its checksum, skipped");
            continue;
        };
        match tokio::task::spawn_blocking(move || decode(&bytes, params)).await? {
            Ok(Some(state)) => return Ok(Some((position, state))),
            Ok(None) => {
                tracing::warn!(position, "snapshot of other model parameters, skipped")
            }
            Err(error) => tracing::warn!(position, %error, "snapshot undecodable, skipped"),
        }
    }
    Ok(None)
}

/// Serialises a map whose values are protobuf messages as (key, encoded message) pairs.
pub mod prost_values {
    use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error};

    /// Serialises `map` (whose iterator knows its length).
    pub fn serialize<'a, M, K, V, S>(map: &'a M, serializer: S) -> Result<S::Ok, S::Error>
    where
        &'a M: IntoIterator<Item = (&'a K, &'a V)>,
        K: Serialize + 'a,
        V: prost::Message + 'a,
        S: Serializer,
    {
        // One message encoded at a time: no second copy of the map.
        serializer.collect_seq(
            map.into_iter()
                .map(|(key, value)| (key, value.encode_to_vec())),
        )
    }

    /// Deserialises a map.
    pub fn deserialize<'de, M, K, V, D>(deserializer: D) -> Result<M, D::Error>
    where
        M: FromIterator<(K, V)>,
        K: Deserialize<'de>,
        V: prost::Message + Default,
        D: Deserializer<'de>,
    {
        let pairs: Vec<(K, Vec<u8>)> = Vec::deserialize(deserializer)?;
        pairs
            .into_iter()
            .map(|(key, bytes)| {
                V::decode(bytes.as_slice())
                    .map(|value| (key, value))
                    .map_err(D::Error::custom)
            })
            .collect()
    }
}
