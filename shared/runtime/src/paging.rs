//! Paging, one set of rules for every list RPC: how many items a page holds (by count and
//! by bytes) and what a page token is.
//!
//! - **Page size**: `page_size` 0 means [`DEFAULT_PAGE_SIZE`], anything above
//!   [`MAX_PAGE_SIZE`] is read as the maximum, a negative one is `INVALID_ARGUMENT`.
//! - **Bytes**: a page also stops before its items would pass [`PAGE_BYTES`] (encoded), so an
//!   answer stays well under the 4 MiB that gRPC clients accept by default (grpcurl, grpcio,
//!   tonic, acxctl). A single item larger than that still comes alone on its page. A short
//!   page with a `next_page_token` is normal: follow the token, never the count.
//! - **Tokens**: opaque, URL-safe text that carries where the listing stands (its keyset
//!   position and snapshot bound), sealed with an HMAC-SHA256 under the service's key and
//!   bound to the caller (principal), the RPC and the request's filters (every field but
//!   `page_size` and `page_token`, as the protobuf encoding of the request with those two
//!   cleared). A token of another caller or another list, an altered one, one made for
//!   other filters, or one of an earlier release is `INVALID_ARGUMENT` (field `page_token`)
//!   saying to start again from the first page. Tokens are not encrypted: they say nothing
//!   a caller cannot list anyway, and sealing them is about integrity, not authorisation
//!   (every query is still limited to the caller's own data).
//! - **Key**: made at random on a service's first start and kept in its own database (table
//!   `page_token_key`), so every replica over that database shares it, restarts keep it, and
//!   there is nothing to configure; deleting the row and restarting makes a new one (tokens
//!   in flight are then refused). The table is created here rather than in each service's
//!   migrations so that this module stays the one place that knows about tokens.

use std::sync::Arc;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::{Database, FieldViolation, Principal, WriteLock, on_tx};

/// Items per page when the caller asks for none (`page_size` 0).
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// Most items per page; larger requests are read as this.
pub const MAX_PAGE_SIZE: usize = 1000;
/// Most bytes of items per page (their encoded size). A quarter of the 4 MiB default
/// receive limit of gRPC clients leaves room for one item far above the usual size.
pub const PAGE_BYTES: usize = 1024 * 1024;

/// The page size a request asks for, by the rules of the module documentation.
pub fn page_size(requested: i32) -> Result<usize, FieldViolation> {
    match requested {
        0 => Ok(DEFAULT_PAGE_SIZE),
        size if size < 0 => Err(FieldViolation::new(
            "page_size",
            format!("must not be negative (0 means {DEFAULT_PAGE_SIZE}, at most {MAX_PAGE_SIZE})"),
        )),
        size => Ok((size as usize).min(MAX_PAGE_SIZE)),
    }
}

/// A page being filled, in listing order, until it holds `size` items or the next one would
/// pass the byte budget. Each item comes with its position in the listing (the keyset
/// position a token continues after). Items are read in chunks, so a page of large items
/// never holds more than a chunk of them beyond what it keeps:
///
/// ```text
/// let mut page = Page::new(size, after);
/// while let Some(count) = page.wanted(FIRST_CHUNK) {
///     let rows = read(page.after(), count).await?;   // up to `count` (item, position)s
///     page.take(rows, count);
/// }
/// let (items, next) = page.finish();                 // next: Some(position) if more
/// ```
#[derive(Debug)]
pub struct Page<T, P> {
    items: Vec<T>,
    start: Option<P>,
    last: Option<P>,
    size: usize,
    budget: usize,
    bytes: usize,
    /// An item was refused: the listing goes on after this page.
    full: bool,
    /// A read came back short: the listing ends on this page.
    exhausted: bool,
}

impl<T: prost::Message, P: Clone> Page<T, P> {
    /// A page of at most `size` items and [`PAGE_BYTES`], after `start` (None: from the
    /// beginning of the listing).
    pub fn new(size: usize, start: Option<P>) -> Self {
        Self::with_budget(size, PAGE_BYTES, start)
    }

    /// A page of at most `size` items and `budget` bytes of items, after `start`.
    pub fn with_budget(size: usize, budget: usize, start: Option<P>) -> Self {
        Self {
            items: Vec::new(),
            start,
            last: None,
            size: size.max(1),
            budget,
            bytes: 0,
            full: false,
            exhausted: false,
        }
    }

    /// How many items to read next: the room left plus one (to learn whether the listing goes
    /// on), but on the first read at most `first_chunk`, and later at most what the bytes left
    /// hold at the items' average size so far (plus one). A page of small items takes two
    /// reads at most; one of large items never reads many more than it can keep. None once
    /// the page is done.
    pub fn wanted(&self, first_chunk: usize) -> Option<usize> {
        if self.full || self.exhausted {
            return None;
        }
        let room = self.size - self.items.len() + 1;
        let fit = match self.items.len() {
            0 => first_chunk,
            taken => self.budget.saturating_sub(self.bytes) / (self.bytes / taken).max(1) + 1,
        };
        Some(room.min(fit).max(1))
    }

    /// The position to read after: the last item taken, or where the page started.
    pub fn after(&self) -> Option<P> {
        self.last.clone().or_else(|| self.start.clone())
    }

    /// Offers the items of one read of `asked` items; fewer than asked means the listing
    /// ends there.
    pub fn take(&mut self, items: impl IntoIterator<Item = (T, P)>, asked: usize) {
        let mut count = 0;
        for (item, position) in items {
            count += 1;
            if !self.offer(item, position) {
                return;
            }
        }
        if count < asked {
            self.exhausted = true;
        }
    }

    /// Takes the next item of the listing if it fits; false (and the item dropped) when the
    /// page is full: that item is where the next page starts.
    pub fn offer(&mut self, item: T, position: P) -> bool {
        if self.full {
            return false;
        }
        let length = item.encoded_len();
        // As a field of the response: one tag byte (field numbers below 16), the length, the item.
        let bytes = 1 + prost::length_delimiter_len(length) + length;
        let over_budget = !self.items.is_empty() && self.bytes + bytes > self.budget;
        if self.items.len() == self.size || over_budget {
            self.full = true;
            return false;
        }
        self.bytes += bytes;
        self.items.push(item);
        self.last = Some(position);
        true
    }

    /// The items, and the position to continue after when the listing goes on.
    pub fn finish(self) -> (Vec<T>, Option<P>) {
        let next = if self.full { self.last } else { None };
        (self.items, next)
    }
}

/// What a position in a listing is made of, written into and read back from a token.
/// Implemented for `i64`, `String` and tuples of them.
pub trait Position: Sized {
    /// Appends this position.
    fn write(&self, out: &mut Vec<u8>);
    /// Reads a position from the front of `input`, advancing it; None if malformed.
    fn read(input: &mut &[u8]) -> Option<Self>;
}

impl Position for i64 {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }

    fn read(input: &mut &[u8]) -> Option<Self> {
        let (bytes, rest) = input.split_first_chunk::<8>()?;
        *input = rest;
        Some(i64::from_be_bytes(*bytes))
    }
}

impl Position for String {
    fn write(&self, out: &mut Vec<u8>) {
        (self.len() as i64).write(out);
        out.extend_from_slice(self.as_bytes());
    }

    fn read(input: &mut &[u8]) -> Option<Self> {
        let length = usize::try_from(i64::read(input)?).ok()?;
        if length > input.len() {
            return None;
        }
        let (text, rest) = input.split_at(length);
        *input = rest;
        String::from_utf8(text.to_vec()).ok()
    }
}

macro_rules! tuple_position {
    ($($name:ident),+) => {
        impl<$($name: Position),+> Position for ($($name,)+) {
            #[allow(non_snake_case)]
            fn write(&self, out: &mut Vec<u8>) {
                let ($($name,)+) = self;
                $($name.write(out);)+
            }

            fn read(input: &mut &[u8]) -> Option<Self> {
                Some(($($name::read(input)?,)+))
            }
        }
    };
}

tuple_position!(A, B);
tuple_position!(A, B, C);
tuple_position!(A, B, C, D);
tuple_position!(A, B, C, D, E);

/// What a token is bound to: the RPC, the caller and the request's filters.
#[derive(Debug, Clone)]
pub struct Scope {
    rpc: &'static str,
    principal: String,
    filters: Vec<u8>,
}

impl Scope {
    /// The scope of a listing of `rpc` (its full method name,
    /// `acx.ingest.v1.IngestService/ListReports`) by `principal`, with `filters`: the request
    /// with `page_size` and `page_token` cleared (prost encodes fields in number order and
    /// leaves out defaults, so equal filters encode equally).
    pub fn new(rpc: &'static str, principal: &Principal, filters: &impl prost::Message) -> Self {
        Self {
            rpc,
            principal: principal.to_string(),
            filters: filters.encode_to_vec(),
        }
    }
}

/// The binary layout's version, the first byte of every token.
const TOKEN_VERSION: u8 = 1;
/// Bytes of the filters' tag, which tells "other filters" from "not yours".
const FILTERS_TAG: usize = 8;
/// Bytes of the seal (a truncated HMAC-SHA256).
const SEAL: usize = 16;
/// Advisory lock key serialising the key's creation on PostgreSQL.
const KEY_LOCK: WriteLock = WriteLock(0x0AC5_0010);

/// Seals and opens page tokens with a service's key. Cheap to clone.
#[derive(Clone)]
pub struct PageTokens {
    key: Arc<[u8]>,
}

impl std::fmt::Debug for PageTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PageTokens(..)")
    }
}

/// Why a token was refused, as the violation of field `page_token`.
fn refused(why: &str) -> FieldViolation {
    FieldViolation::new(
        "page_token",
        format!("{why}: start again from the first page with an empty page_token"),
    )
}

impl PageTokens {
    /// Tokens under `key` (any length; the stored one is 32 random bytes).
    pub fn new(key: &[u8]) -> Self {
        Self { key: key.into() }
    }

    /// The key of `database`'s service, made and stored on first use (see the module
    /// documentation); concurrent first starts of several replicas agree on one.
    pub async fn load_or_create(database: &Database) -> Result<Self, sqlx::Error> {
        const INSERT: &str =
            "INSERT INTO page_token_key (id, secret) VALUES (1, $1) ON CONFLICT (id) DO NOTHING";
        const SELECT: &str = "SELECT secret FROM page_token_key WHERE id = 1";
        let mut fresh = [0u8; 32];
        rand::rng().fill_bytes(&mut fresh);
        let create = match database {
            Database::Sqlite(_) => {
                "CREATE TABLE IF NOT EXISTS page_token_key \
                 (id INTEGER PRIMARY KEY CHECK (id = 1), secret BLOB NOT NULL)"
            }
            Database::Postgres(_) => {
                "CREATE TABLE IF NOT EXISTS page_token_key \
                 (id INTEGER PRIMARY KEY CHECK (id = 1), secret BYTEA NOT NULL)"
            }
        };
        let mut tx = database.begin_write(Some(KEY_LOCK)).await?;
        let secret: Vec<u8>;
        on_tx!(&mut tx, conn => {
            sqlx::query(create).execute(&mut *conn).await?;
            sqlx::query(INSERT).bind(&fresh[..]).execute(&mut *conn).await?;
            (secret,) = sqlx::query_as(SELECT).fetch_one(conn).await?;
        });
        tx.commit().await?;
        Ok(Self::new(&secret))
    }

    /// A 32-byte secret for `purpose` derived from the key: like the key, one per
    /// deployment and the same on every replica (scoring keys its opaque evidence
    /// references with it when it has no identifier keys).
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac = self.mac(b"acx derived secret\0");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn mac(&self, domain: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(domain);
        mac
    }

    /// The keyed tag of `scope`'s RPC and filters.
    fn filters_tag(&self, scope: &Scope) -> [u8; FILTERS_TAG] {
        let mut mac = self.mac(b"acx page token filters\0");
        for part in [scope.rpc.as_bytes(), &scope.filters] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        let mut tag = [0u8; FILTERS_TAG];
        tag.copy_from_slice(&mac.finalize().into_bytes()[..FILTERS_TAG]);
        tag
    }

    /// The seal over everything before it in the token, bound to `scope`'s RPC and caller.
    fn seal(&self, scope: &Scope, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.mac(b"acx page token\0");
        for part in [scope.rpc.as_bytes(), scope.principal.as_bytes(), body] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac
    }

    /// A token continuing after `position` within `scope`.
    pub fn issue(&self, scope: &Scope, position: &impl Position) -> String {
        let mut body = vec![TOKEN_VERSION];
        body.extend_from_slice(&self.filters_tag(scope));
        position.write(&mut body);
        let seal = self.seal(scope, &body).finalize().into_bytes();
        body.extend_from_slice(&seal[..SEAL]);
        URL_SAFE_NO_PAD.encode(body)
    }

    /// The position `token` continues after, or None for the empty token (the first page).
    pub fn open<P: Position>(
        &self,
        scope: &Scope,
        token: &str,
    ) -> Result<Option<P>, FieldViolation> {
        if token.is_empty() {
            return Ok(None);
        }
        let not_ours = || {
            refused(
                "is not a page token of this service (tokens of earlier ACX releases are no longer read)",
            )
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(token.trim())
            .map_err(|_| not_ours())?;
        if bytes.len() < 1 + FILTERS_TAG + SEAL || bytes[0] != TOKEN_VERSION {
            return Err(not_ours());
        }
        let (body, seal) = bytes.split_at(bytes.len() - SEAL);
        self.seal(scope, body)
            .verify_truncated_left(seal)
            .map_err(|_| {
                refused("was issued to another caller or for another list, or was altered")
            })?;
        if body[1..1 + FILTERS_TAG] != self.filters_tag(scope) {
            return Err(refused(
                "was issued for other filters: repeat the first page's request with only \
                 page_token (and page_size, if you like) changed, or",
            ));
        }
        let mut rest = &body[1 + FILTERS_TAG..];
        match P::read(&mut rest) {
            Some(position) if rest.is_empty() => Ok(Some(position)),
            _ => Err(not_ours()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Role;

    fn principal(id: &str) -> Principal {
        Principal {
            role: Role::Platform,
            id: id.to_owned(),
        }
    }

    fn filters(seconds: i64) -> prost_types::Timestamp {
        prost_types::Timestamp { seconds, nanos: 0 }
    }

    #[test]
    fn page_sizes_follow_one_rule() {
        assert_eq!(page_size(0), Ok(DEFAULT_PAGE_SIZE));
        assert_eq!(page_size(1), Ok(1));
        assert_eq!(page_size(1000), Ok(1000));
        assert_eq!(page_size(i32::MAX), Ok(MAX_PAGE_SIZE));
        assert_eq!(page_size(-1).expect_err("negative").field, "page_size");
    }

    #[test]
    fn a_page_stops_at_its_size_or_its_bytes_and_says_where_to_go_on() {
        let item = |n: i64| filters(n);
        let mut page: Page<prost_types::Timestamp, i64> = Page::new(2, Some(0));
        assert_eq!(page.wanted(100), Some(3));
        assert_eq!(page.wanted(2), Some(2), "at most a chunk at first");
        assert_eq!(page.after(), Some(0));
        page.take([(item(1), 1)], 1);
        assert_eq!(page.after(), Some(1));
        assert_eq!(page.wanted(100), Some(2));
        page.take([(item(2), 2), (item(3), 3)], 2);
        assert_eq!(page.wanted(100), None);
        let (items, next) = page.finish();
        assert_eq!((items.len(), next), (2, Some(2)));

        let mut page: Page<prost_types::Timestamp, i64> = Page::new(5, None);
        page.take([(item(1), 1)], 6);
        assert_eq!(page.wanted(100), None, "a short read is the end");
        let (items, next) = page.finish();
        assert_eq!((items.len(), next), (1, None), "the end: no token");

        let mut page: Page<prost_types::Timestamp, i64> = Page::new(2, None);
        page.take([(item(1), 1), (item(2), 2)], 3);
        assert_eq!(page.finish().1, None, "exactly full at the end: no token");

        // Each item is 4 bytes in the response (tag, length, a 2-byte timestamp).
        let mut page: Page<prost_types::Timestamp, i64> = Page::with_budget(100, 9, None);
        assert!(page.offer(item(1), 1));
        assert!(page.offer(item(2), 2));
        assert!(!page.offer(item(3), 3), "a third would pass 9 bytes");
        assert_eq!(page.finish(), (vec![item(1), item(2)], Some(2)));

        let mut page: Page<prost_types::Timestamp, i64> = Page::with_budget(100, 1, None);
        assert!(
            page.offer(item(1), 1),
            "one item always fits, however large"
        );
        assert!(!page.offer(item(2), 2));

        // After the first read, reads are sized by the bytes left at the average item size.
        let mut page: Page<prost_types::Timestamp, i64> = Page::with_budget(1000, 40, None);
        assert_eq!(page.wanted(3), Some(3));
        page.take((1..=3).map(|n| (item(n), n)), 3);
        assert_eq!(page.wanted(3), Some(28 / 4 + 1), "28 bytes left, 4 an item");
        let mut small: Page<prost_types::Timestamp, i64> = Page::new(1000, None);
        small.take((1..=3).map(|n| (item(n), n)), 3);
        assert_eq!(small.wanted(3), Some(998), "the room left, plus one");
    }

    #[test]
    fn tokens_come_back_only_to_their_caller_list_and_filters() {
        let tokens = PageTokens::new(b"a key");
        let scope = Scope::new("acx.x.v1.X/List", &principal("a"), &filters(7));
        let position = (42_i64, "seller \u{1f} \u{e9}".to_owned());
        let token = tokens.issue(&scope, &position);
        assert!(
            token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(tokens.open(&scope, &token), Ok(Some(position)));
        assert_eq!(tokens.open::<(i64, String)>(&scope, ""), Ok(None));

        let refusal = |scope: &Scope, token: &str| {
            tokens
                .open::<(i64, String)>(scope, token)
                .expect_err("refused")
                .description
        };
        let foreign = Scope::new("acx.x.v1.X/List", &principal("b"), &filters(7));
        assert!(refusal(&foreign, &token).contains("another caller"));
        let other_list = Scope::new("acx.x.v1.X/Other", &principal("a"), &filters(7));
        assert!(refusal(&other_list, &token).contains("another caller"));
        let other_filters = Scope::new("acx.x.v1.X/List", &principal("a"), &filters(8));
        assert!(refusal(&other_filters, &token).contains("other filters"));
        let other_key = PageTokens::new(b"another key");
        assert!(
            other_key
                .open::<(i64, String)>(&scope, &token)
                .expect_err("another key")
                .description
                .contains("altered")
        );

        let mut bytes = URL_SAFE_NO_PAD.decode(&token).expect("base64");
        for index in 0..bytes.len() {
            bytes[index] ^= 0x01;
            let tampered = URL_SAFE_NO_PAD.encode(&bytes);
            assert!(tokens.open::<(i64, String)>(&scope, &tampered).is_err());
            bytes[index] ^= 0x01;
        }
        for garbage in [
            "zz",
            "%%%",
            "AAAA",
            &token[..token.len() - 2],
            "76313a303a2d39",
        ] {
            let why = refusal(&scope, garbage);
            assert!(why.contains("first page"), "{why}");
        }
        // A position of another shape under a valid seal is still refused, not misread.
        let short = tokens.issue(&scope, &5_i64);
        assert!(tokens.open::<(i64, String)>(&scope, &short).is_err());
    }

    #[tokio::test]
    async fn the_key_is_made_once_per_database_and_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("keys.db").display());
        let database = Database::connect(&url).await.expect("database");
        let first = PageTokens::load_or_create(&database).await.expect("made");
        let again = PageTokens::load_or_create(&database).await.expect("read");
        assert_eq!(first.key, again.key);
        assert_eq!(first.key.len(), 32);
        let other_dir = tempfile::tempdir().expect("tempdir");
        let other_url = format!("sqlite://{}", other_dir.path().join("keys.db").display());
        let other = Database::connect(&other_url).await.expect("database");
        let elsewhere = PageTokens::load_or_create(&other).await.expect("made");
        assert_ne!(first.key, elsewhere.key, "a key per deployment");
    }
}
