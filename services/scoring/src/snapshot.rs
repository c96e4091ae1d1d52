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
//!
//! Memory: the bytes are never held whole. Writing, the state is serialised straight into
//! chunks that are stored as they fill (at most two chunks in memory); reading, chunks are
//! fetched one by one and deserialised as they arrive. A replica's peak is its state plus
//! a few chunks, not its state plus the snapshot (at a million accounts the snapshot is
//! about 450 MiB). The price: the snapshot writer holds the state's read lock until the
//! last chunk is stored, not only while serialising (docs/performance.md, "Scoring
//! memory"); the chunks are stored one statement each, and the snapshot counts only once
//! its `snapshots` row is written, in a short transaction of its own.

use std::io;

use postcard::{de_flavors, ser_flavors};
use serde::Deserialize;

use acx_runtime::{Database, on_backend, on_tx, time::now_micros};
use sha2::{Digest, Sha256};
use tokio::sync::{OwnedRwLockReadGuard, mpsc};

use crate::{model::ModelParams, state::State};

/// Version of the byte format; bump it whenever a serialised type changes shape, or what
/// the state holds would be computed otherwise (9: risk model `acx-risk-3`, where
/// repetition by one source adds at most half of what its strongest finding leaves to 1; a
/// reason keeps at most 20 evidence names and counts all its reports and sources, a listing
/// at most 20 names; 8: an unlisted party's findings keep their
/// own reasons beside a listed party instead of counting as `LINKED_TO_BLACKLISTED`; scores
/// are unchanged, but a replica that kept a format-7 snapshot would serve other reasons.
/// 7: risk model `acx-risk-2`, where findings
/// across a weak link count three quarters and no flat link component is added; a replica
/// that kept a format-6 snapshot would serve the scores of `acx-risk-1`. 6: clusters no
/// longer link on a weak value that many accounts give or on names of a legal form or
/// fillers alone, and link reasons are bounded).
pub const FORMAT_VERSION: i32 = 9;
/// Bytes per stored chunk: at most three are in memory while writing (about 6 MiB), and a
/// million accounts take under 200.
const CHUNK: usize = 2 << 20;
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

/// What a serialisation wrote: the SHA-256 of all its bytes and their number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// SHA-256 of the bytes.
    pub checksum: Vec<u8>,
    /// Their number.
    pub size: usize,
}

/// Cuts the serialisation into chunks of [`CHUNK`] bytes, handing each to `store` when
/// full (a postcard output flavor).
struct ChunkWriter<F> {
    chunk: Vec<u8>,
    chunk_size: usize,
    store: F,
    hasher: Sha256,
    size: usize,
}

impl<F: FnMut(Vec<u8>) -> io::Result<()>> ChunkWriter<F> {
    fn hand_over(&mut self) -> postcard::Result<()> {
        let full = std::mem::replace(&mut self.chunk, Vec::with_capacity(self.chunk_size));
        self.hasher.update(&full);
        self.size += full.len();
        (self.store)(full).map_err(|_| postcard::Error::SerializeBufferFull)
    }
}

impl<F: FnMut(Vec<u8>) -> io::Result<()>> ser_flavors::Flavor for ChunkWriter<F> {
    type Output = Written;

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.chunk.push(byte);
        if self.chunk.len() == self.chunk_size {
            self.hand_over()?;
        }
        Ok(())
    }

    fn try_extend(&mut self, mut bytes: &[u8]) -> postcard::Result<()> {
        while !bytes.is_empty() {
            let taken = bytes.len().min(self.chunk_size - self.chunk.len());
            self.chunk.extend_from_slice(&bytes[..taken]);
            bytes = &bytes[taken..];
            if self.chunk.len() == self.chunk_size {
                self.hand_over()?;
            }
        }
        Ok(())
    }

    fn finalize(mut self) -> postcard::Result<Written> {
        if !self.chunk.is_empty() {
            self.hand_over()?;
        }
        Ok(Written {
            checksum: self.hasher.finalize().to_vec(),
            size: self.size,
        })
    }
}

/// Serialises `state` into chunks of [`CHUNK`] bytes (the last one shorter), handing each
/// to `store` as it fills; an error of `store` stops the serialisation.
pub fn encode(
    state: &State,
    params: ModelParams,
    store: impl FnMut(Vec<u8>) -> io::Result<()>,
) -> Result<Written, postcard::Error> {
    encode_in_chunks_of(CHUNK, state, params, store)
}

fn encode_in_chunks_of(
    chunk_size: usize,
    state: &State,
    params: ModelParams,
    store: impl FnMut(Vec<u8>) -> io::Result<()>,
) -> Result<Written, postcard::Error> {
    let writer = ChunkWriter {
        chunk: Vec::with_capacity(chunk_size),
        chunk_size,
        store,
        hasher: Sha256::new(),
        size: 0,
    };
    postcard::serialize_with_flavor(&Body { params, state }, writer)
}

/// Reads the chunks `next` gives as one byte stream, hashing them (a postcard input
/// flavor). Bytes are read in place; only a string split across two chunks is copied.
struct ChunkReader<F> {
    next: F,
    chunk: Vec<u8>,
    at: usize,
    /// A string split across chunks, put together.
    joined: Vec<u8>,
    hasher: Sha256,
    size: usize,
}

impl<F: FnMut() -> Option<Vec<u8>>> ChunkReader<F> {
    /// Moves to the next chunk with bytes left; false after the last.
    fn refill(&mut self) -> bool {
        while self.at == self.chunk.len() {
            match (self.next)() {
                Some(chunk) => {
                    self.hasher.update(&chunk);
                    self.size += chunk.len();
                    self.chunk = chunk;
                    self.at = 0;
                }
                None => return false,
            }
        }
        true
    }
}

impl<'de, F: FnMut() -> Option<Vec<u8>> + 'de> de_flavors::Flavor<'de> for ChunkReader<F> {
    type Remainder = Self;
    type Source = ();

    fn pop(&mut self) -> postcard::Result<u8> {
        if !self.refill() {
            return Err(postcard::Error::DeserializeUnexpectedEnd);
        }
        let byte = self.chunk[self.at];
        self.at += 1;
        Ok(byte)
    }

    /// Borrowing from the input is not possible (chunks are dropped once read); the
    /// state's types own their strings, so nothing asks for it.
    fn try_take_n(&mut self, _: usize) -> postcard::Result<&'de [u8]> {
        Err(postcard::Error::DeserializeBadEncoding)
    }

    fn try_take_n_temp<'a>(&'a mut self, count: usize) -> postcard::Result<&'a [u8]>
    where
        'de: 'a,
    {
        if !self.refill() && count > 0 {
            return Err(postcard::Error::DeserializeUnexpectedEnd);
        }
        if self.chunk.len() - self.at >= count {
            let start = self.at;
            self.at += count;
            return Ok(&self.chunk[start..self.at]);
        }
        self.joined.clear();
        while self.joined.len() < count {
            if !self.refill() {
                return Err(postcard::Error::DeserializeUnexpectedEnd);
            }
            let taken = (count - self.joined.len()).min(self.chunk.len() - self.at);
            self.joined
                .extend_from_slice(&self.chunk[self.at..self.at + taken]);
            self.at += taken;
        }
        Ok(&self.joined)
    }

    /// The reader back, to read what the decoding left.
    fn finalize(self) -> postcard::Result<Self> {
        Ok(self)
    }
}

/// Deserialises a state from the chunks `next` gives, in order (None after the last);
/// with what the chunks were, whole: the state is only to be used when that matches the
/// snapshot's [`Written`]. The state is None when it was computed with other parameters.
pub fn decode(
    next: impl FnMut() -> Option<Vec<u8>>,
    params: ModelParams,
) -> (Result<Option<State>, postcard::Error>, Written) {
    let reader = ChunkReader {
        next,
        chunk: Vec::new(),
        at: 0,
        joined: Vec::new(),
        hasher: Sha256::new(),
        size: 0,
    };
    let mut deserializer = postcard::Deserializer::from_flavor(reader);
    let body = OwnedBody::deserialize(&mut deserializer)
        .map(|body| (body.params == params).then_some(body.state));
    let mut reader = match deserializer.finalize() {
        Ok(reader) => reader,
        Err(error) => return (Err(error), Written::default()),
    };
    // Whatever the decoding left (nothing, unless the bytes are damaged) still counts for
    // the checksum.
    reader.at = reader.chunk.len();
    while reader.refill() {
        reader.at = reader.chunk.len();
    }
    let written = Written {
        checksum: reader.hasher.finalize().to_vec(),
        size: reader.size,
    };
    (body, written)
}

/// Writes a snapshot of `state` at `position` (unless one exists), computed under the shared
/// settings whose fingerprint is `settings` ([`crate::settings`]), and drops all but the
/// newest [`KEEP`]; returns its size in bytes.
pub async fn write(
    database: &Database,
    position: i64,
    state: OwnedRwLockReadGuard<State>,
    params: ModelParams,
    settings: &[u8],
) -> Result<usize, SnapshotError> {
    const EXISTS: &str = "SELECT COUNT(*) FROM snapshots WHERE position = $1";
    let (exists,): (i64,) = on_backend!(database, pool =>
        sqlx::query_as(EXISTS).bind(position).fetch_one(pool).await?);
    if exists > 0 {
        return Ok(0);
    }
    // Chunks of an attempt that did not finish (no `snapshots` row) are written again.
    const STALE: &str = "DELETE FROM snapshot_chunks WHERE position = $1 \
                         AND NOT EXISTS (SELECT 1 FROM snapshots WHERE position = $1)";
    on_backend!(database, pool => {
        sqlx::query(STALE).bind(position).execute(pool).await?;
    });
    let (chunks, mut filled) = mpsc::channel::<Vec<u8>>(1);
    let encoder = tokio::task::spawn_blocking(move || {
        encode(&state, params, |chunk| {
            chunks
                .blocking_send(chunk)
                .map_err(|_| io::Error::other("the snapshot's chunks are no longer stored"))
        })
    });
    const CHUNK_SQL: &str = "INSERT INTO snapshot_chunks (position, chunk, bytes) VALUES ($1, $2, $3) \
                             ON CONFLICT DO NOTHING";
    let mut index = 0i32;
    while let Some(chunk) = filled.recv().await {
        on_backend!(database, pool => {
            sqlx::query(CHUNK_SQL).bind(position).bind(index).bind(chunk).execute(pool).await?;
        });
        index += 1;
    }
    let written = encoder.await??;
    let mut tx = database.begin_write(None).await?;
    on_tx!(&mut tx, conn => sqlx::query(
        "INSERT INTO snapshots (position, format_version, checksum, size_bytes, create_time_us, \
         settings_fingerprint) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING")
        .bind(position).bind(FORMAT_VERSION).bind(&written.checksum).bind(written.size as i64)
        .bind(now_micros()).bind(settings).execute(conn).await?);
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
    Ok(written.size)
}

/// Reads the snapshot at `position` chunk by chunk and deserialises it as the chunks
/// arrive; None when damaged (checksum or size) or computed with other parameters.
async fn read(
    database: &Database,
    position: i64,
    expected: Written,
    params: ModelParams,
) -> Result<Option<State>, SnapshotError> {
    const SQL: &str = "SELECT bytes FROM snapshot_chunks WHERE position = $1 AND chunk = $2";
    let (chunks, mut fetched) = mpsc::channel::<Vec<u8>>(1);
    let decoder = tokio::task::spawn_blocking(move || decode(|| fetched.blocking_recv(), params));
    let mut index = 0i32;
    loop {
        let chunk: Option<(Vec<u8>,)> = on_backend!(database, pool =>
            sqlx::query_as(SQL).bind(position).bind(index).fetch_optional(pool).await?);
        let Some((chunk,)) = chunk else { break };
        if chunks.send(chunk).await.is_err() {
            break;
        }
        index += 1;
    }
    drop(chunks);
    let (state, written) = decoder.await?;
    if written != expected {
        tracing::warn!(position, "snapshot fails its checksum, skipped");
        return Ok(None);
    }
    match state {
        Ok(Some(state)) => Ok(Some(state)),
        Ok(None) => {
            tracing::warn!(position, "snapshot of other model parameters, skipped");
            Ok(None)
        }
        Err(error) => {
            tracing::warn!(position, %error, "snapshot undecodable, skipped");
            Ok(None)
        }
    }
}

/// A `snapshots` row: position, format version, checksum, size in bytes, settings' fingerprint.
type SnapshotRow = (i64, i32, Vec<u8>, i64, Option<Vec<u8>>);

/// The newest usable snapshot (this format, computed with `params` under the shared settings
/// whose fingerprint is `settings`): its position and state.
pub async fn restore_latest(
    database: &Database,
    params: ModelParams,
    settings: &[u8],
) -> Result<Option<(i64, State)>, SnapshotError> {
    const SQL: &str = "SELECT position, format_version, checksum, size_bytes, settings_fingerprint \
                       FROM snapshots ORDER BY position DESC";
    let snapshots: Vec<SnapshotRow> =
        on_backend!(database, pool => sqlx::query_as(SQL).fetch_all(pool).await?);
    for (position, version, checksum, size, fingerprint) in snapshots {
        if fingerprint.as_deref() != Some(settings) {
            tracing::warn!(position, "snapshot of other shared settings, skipped");
            continue;
        }
        if version != FORMAT_VERSION {
            tracing::warn!(
                position,
                version,
                "snapshot of another format version, skipped"
            );
            continue;
        }
        let expected = Written {
            checksum,
            size: usize::try_from(size).unwrap_or(usize::MAX),
        };
        if let Some(state) = read(database, position, expected, params).await? {
            return Ok(Some((position, state)));
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use acx_proto::{
        common::{HashedIdentifier, IdentifierKind},
        ingest::{Report, SellerProfile, report::Kind},
    };

    use super::*;
    use crate::history::{Entry, FeedBatch, FeedReport};

    const PARAMS: ModelParams = ModelParams {
        half_life_days: 180.0,
    };

    fn state() -> State {
        let mut state = State::new(PARAMS, acx_domain::rates::ReferenceRates::builtin());
        let reports = (0..40)
            .map(|n| FeedReport {
                sequence: n + 1,
                platform: "mkt-a".to_owned(),
                report: Some(Report {
                    report_id: format!("P{n}"),
                    kind: Some(Kind::SellerProfile(SellerProfile {
                        seller_id: format!("S{}", n % 25),
                        display_name: format!("Ünïcode Trading {n} 深圳市明亮贸易有限公司"),
                        hashed_identifiers: vec![HashedIdentifier {
                            kind: IdentifierKind::Phone as i32,
                            key_id: "k1".to_owned(),
                            hash: format!("{:064x}", n % 7),
                            normalization_version: 2,
                        }],
                        ..Default::default()
                    })),
                }),
                traceparent: String::new(),
            })
            .collect();
        state.apply(&Entry::Feed(FeedBatch { reports }), 1_760_000_000_000_000);
        state
    }

    fn chunks_of(chunk_size: usize, state: &State) -> (Vec<Vec<u8>>, Written) {
        let mut chunks = Vec::new();
        let written = encode_in_chunks_of(chunk_size, state, PARAMS, |chunk| {
            chunks.push(chunk);
            Ok(())
        })
        .unwrap();
        (chunks, written)
    }

    /// What the state answers for each seller (its serialisation is not a fingerprint:
    /// hash maps serialise in their own order).
    fn answers(state: &State) -> Vec<Option<acx_proto::scoring::SellerRisk>> {
        (0..26)
            .map(|n| state.model.risk(&("mkt-a".to_owned(), format!("S{n}"))))
            .collect()
    }

    /// Any chunk size, strings split across chunks included, reads back the same state.
    #[test]
    fn a_state_reads_back_from_chunks_of_any_size() {
        let state = state();
        let (whole, expected) = chunks_of(CHUNK, &state);
        assert_eq!(whole.len(), 1);
        assert!(answers(&state).iter().flatten().count() == 25);
        for size in [1, 2, 7, 64, 1000] {
            let (chunks, written) = chunks_of(size, &state);
            assert_eq!(written, expected, "chunks of {size}");
            assert!(chunks.iter().all(|c| c.len() <= size));
            let mut chunks = chunks.into_iter();
            let (restored, read) = decode(|| chunks.next(), PARAMS);
            assert_eq!(read, expected);
            let restored = restored.unwrap().expect("same parameters");
            assert!(answers(&restored) == answers(&state), "chunks of {size}");
        }
    }

    /// Damaged or missing bytes never pass: the checksum or the size differs, or the bytes
    /// do not decode.
    #[test]
    fn damaged_chunks_are_told() {
        let (chunks, expected) = chunks_of(64, &state());
        let mut damaged = chunks.clone();
        damaged[1][10] ^= 0x40;
        let mut next = damaged.into_iter();
        assert_ne!(decode(|| next.next(), PARAMS).1, expected);
        let mut short = chunks[..chunks.len() - 1].iter().cloned();
        let (state, read) = decode(|| short.next(), PARAMS);
        assert!(state.is_err() || read != expected);
        assert_ne!(read, expected);
        let other = ModelParams {
            half_life_days: 90.0,
        };
        let mut next = chunks.into_iter();
        let (state, read) = decode(|| next.next(), other);
        assert!(state.unwrap().is_none(), "other parameters");
        assert_eq!(read, expected);
    }
}
