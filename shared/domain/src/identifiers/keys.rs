//! The exchange's secret keys for hashing identifiers, and the keyed hash itself.

use std::fmt;
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sha2::Sha256;

use super::IdentifierKind;

/// One secret key for hashing identifiers. `Debug` shows the key id, never the secret.
#[derive(Clone)]
pub struct IdentifierKey {
    id: String,
    secret: Vec<u8>,
}

impl IdentifierKey {
    /// The key's id, stored next to each hash so that the right key is used to check it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Keyed hash of a normalised identifier: hex(HMAC-SHA256(secret, kind tag, 0x00,
    /// normalised)). The kind tag keeps equal strings of different kinds apart; the key keeps
    /// hashes from being reversed by trying candidate values.
    pub fn hash_identifier(&self, kind: IdentifierKind, normalized: &str) -> String {
        let mut mac = self.hmac();
        mac.update(kind.tag().as_bytes());
        mac.update(&[0]);
        mac.update(normalized.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// HMAC-SHA256(secret, bytes), for keyed content hashes (e.g. of evidence files) that must
    /// not be confirmable by anyone who only guesses the content.
    pub fn mac(&self, bytes: &[u8]) -> [u8; 32] {
        let mut mac = self.hmac();
        mac.update(bytes);
        mac.finalize().into_bytes().into()
    }

    /// HMAC-SHA256(secret, the parts one after the other), as [`mac`](Self::mac) of their
    /// concatenation, without building it.
    pub fn mac_parts(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.hmac();
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// A key check value: the first 6 bytes of HMAC-SHA256(secret, "acx key check value"),
    /// 12 hex digits. Two processes with equal check values for a key id hold the same
    /// secret (to a chance of 2^-48); the secret cannot be found from it.
    pub fn check_value(&self) -> String {
        hex::encode(&self.mac(b"acx key check value")[..6])
    }

    fn hmac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as KeyInit>::new_from_slice(&self.secret)
            .expect("HMAC accepts keys of any length")
    }
}

impl fmt::Debug for IdentifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentifierKey")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// The exchange's identifier keys: the first is current (used for new hashes); older ones are
/// kept so that earlier hashes can be checked after a rotation.
#[derive(Clone)]
pub struct IdentifierKeys {
    /// Never empty; the first is current.
    keys: Vec<IdentifierKey>,
}

/// Shortest secret accepted, in bytes (64 hex digits).
const MIN_SECRET_BYTES: usize = 32;
/// Longest key id accepted, in characters.
const MAX_KEY_ID_CHARS: usize = 32;

fn key_id_ok(id: &str) -> bool {
    (1..=MAX_KEY_ID_CHARS).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl IdentifierKeys {
    /// Parses a key file: one `<key-id> <hex secret>` per line, the current key first. Text from
    /// a '#' to the end of its line is a comment; blank lines are ignored. Key ids are 1 to 32
    /// characters of `[A-Za-z0-9._-]` and unique; secrets are at least 32 bytes (64 hex
    /// digits); there must be at least one key. Errors name the line but never show a secret.
    pub fn parse(text: &str) -> Result<Self, KeyFileError> {
        let mut keys: Vec<IdentifierKey> = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line_no = index + 1;
            let content = line.split_once('#').map_or(line, |(before, _)| before);
            let fields: Vec<&str> = content.split_whitespace().collect();
            let (id, secret_hex) = match fields.as_slice() {
                [] => continue,
                [id, secret] => (*id, *secret),
                _ => return Err(KeyFileError::Malformed { line: line_no }),
            };
            if !key_id_ok(id) {
                return Err(KeyFileError::InvalidKeyId { line: line_no });
            }
            if keys.iter().any(|k| k.id == id) {
                return Err(KeyFileError::DuplicateKeyId {
                    line: line_no,
                    id: id.to_owned(),
                });
            }
            let secret = hex::decode(secret_hex)
                .map_err(|_| KeyFileError::SecretNotHex { line: line_no })?;
            if secret.len() < MIN_SECRET_BYTES {
                return Err(KeyFileError::SecretTooShort { line: line_no });
            }
            keys.push(IdentifierKey {
                id: id.to_owned(),
                secret,
            });
        }
        if keys.is_empty() {
            return Err(KeyFileError::NoKeys);
        }
        Ok(IdentifierKeys { keys })
    }

    /// Reads and parses a key file (see [`parse`](Self::parse)).
    pub fn load(path: &Path) -> Result<Self, KeyFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyFileError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text)
    }

    /// Text of a new key file holding one fresh random 32-byte key with id `key_id`, with
    /// comment lines on top explaining the format. `key_id` should follow the key id rules of
    /// [`parse`](Self::parse); otherwise the file will not parse.
    pub fn generate_file(key_id: &str) -> String {
        let mut secret = [0u8; MIN_SECRET_BYTES];
        rand::rng().fill_bytes(&mut secret);
        format!(
            "# ACX identifier keys: one \"<key-id> <hex secret>\" per line, secrets of at least 64 hex digits.\n\
             # The first key is current and hashes new identifiers; keep older keys below it after a\n\
             # rotation so that earlier hashes can still be checked. Keep this file secret.\n\
             {key_id} {}\n",
            hex::encode(secret)
        )
    }

    /// The current key, used for every new hash.
    pub fn current(&self) -> &IdentifierKey {
        &self.keys[0]
    }

    /// The key with this id, current or older, for checking a stored hash.
    pub fn get(&self, id: &str) -> Option<&IdentifierKey> {
        self.keys.iter().find(|k| k.id == id)
    }

    /// Every key, the current one first.
    pub fn all(&self) -> &[IdentifierKey] {
        &self.keys
    }

    /// How many keys there are (more than one during a rotation).
    #[allow(clippy::len_without_is_empty)] // never empty, by construction
    pub fn len(&self) -> usize {
        self.keys.len()
    }
}

impl fmt::Debug for IdentifierKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("IdentifierKeys").field("ids", &ids).finish()
    }
}

/// Why a key file could not be used. Messages name the line (counted from 1) and never
/// contain a secret.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file could not be read.
    #[error("cannot read key file {}: {source}", path.display())]
    Io {
        /// The file that was being read.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// A line is neither blank, a comment, nor `<key-id> <hex secret>`.
    #[error("line {line}: expected \"<key-id> <hex secret>\"")]
    Malformed {
        /// Line number, from 1.
        line: usize,
    },
    /// A key id is empty, too long or has characters outside `[A-Za-z0-9._-]`.
    #[error("line {line}: key id must be 1 to 32 characters of A-Z, a-z, 0-9, '.', '_' or '-'")]
    InvalidKeyId {
        /// Line number, from 1.
        line: usize,
    },
    /// Two keys share an id, so a stored hash could not say which key made it.
    #[error("line {line}: key id {id:?} is used more than once")]
    DuplicateKeyId {
        /// Line number of the second use, from 1.
        line: usize,
        /// The repeated id.
        id: String,
    },
    /// A secret is not an even number of hex digits.
    #[error("line {line}: secret must be hex digits (an even number of them)")]
    SecretNotHex {
        /// Line number, from 1.
        line: usize,
    },
    /// A secret is shorter than 32 bytes.
    #[error("line {line}: secret must be at least 64 hex digits")]
    SecretTooShort {
        /// Line number, from 1.
        line: usize,
    },
    /// The file holds no key at all.
    #[error("key file holds no keys")]
    NoKeys,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    use IdentifierKind::*;

    // --- keys and hashing ---

    fn test_key(id: &str, secret: &[u8]) -> IdentifierKey {
        IdentifierKey {
            id: id.to_owned(),
            secret: secret.to_vec(),
        }
    }

    const SECRET_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn hash_identifier_matches_reference_hmac() {
        let key = test_key("k1", &hex::decode(SECRET_HEX).unwrap());
        // Python: hmac.new(bytes(range(32)), b"email\0johndoe@gmail.com", sha256).hexdigest()
        assert_eq!(
            key.hash_identifier(Email, "johndoe@gmail.com"),
            "2a25903b5bea85055db646cf9ccd03ea1d31262d281a5d81ee9e54b153e2e87e"
        );
    }

    #[test]
    fn check_value_is_the_reference_hmac_prefix_and_differs_by_secret() {
        let key = test_key("k1", &hex::decode(SECRET_HEX).unwrap());
        // Python: hmac.new(bytes(range(32)), b"acx key check value", sha256).hexdigest()[:12]
        assert_eq!(key.check_value(), "cd1d393728cc");
        assert_ne!(key.check_value(), test_key("k1", &[1; 32]).check_value());
    }

    #[test]
    fn hash_depends_on_kind_value_and_key() {
        let k1 = test_key("k1", &[1; 32]);
        let k2 = test_key("k2", &[2; 32]);
        let h = k1.hash_identifier(TaxNumber, "DE123456789");
        assert_eq!(h.len(), 64);
        assert_eq!(h, k1.hash_identifier(TaxNumber, "DE123456789"));
        assert_ne!(h, k1.hash_identifier(BusinessRegistration, "DE123456789"));
        assert_ne!(h, k1.hash_identifier(TaxNumber, "DE123456780"));
        assert_ne!(h, k2.hash_identifier(TaxNumber, "DE123456789"));
    }

    #[test]
    fn mac_matches_rfc_4231() {
        // RFC 4231 test case 2.
        let key = test_key("jefe", b"Jefe");
        assert_eq!(
            hex::encode(key.mac(b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let key = test_key("k1", &hex::decode(SECRET_HEX).unwrap());
        assert_eq!(
            hex::encode(key.mac(b"abc")),
            "f0133729c4163dede81e21cd47839256da58171238c8a0d874397c73b14e1e47"
        );
    }

    #[test]
    fn mac_of_parts_is_mac_of_their_concatenation() {
        let key = test_key("k1", &hex::decode(SECRET_HEX).unwrap());
        assert_eq!(key.mac_parts(&[b"a", b"", b"bc"]), key.mac(b"abc"));
    }

    #[test]
    fn debug_never_shows_secrets() {
        let keys =
            IdentifierKeys::parse(&format!("k2 {SECRET_HEX}\nk1 {}\n", "ab".repeat(32))).unwrap();
        let all = format!("{keys:?} {:?} {:#?}", keys.current(), keys.get("k1"));
        assert!(all.contains("k2") && all.contains("k1"), "{all}");
        assert!(!all.contains(SECRET_HEX) && !all.contains("abab"), "{all}");
        assert!(!all.contains("[0, 1, 2"), "{all}");
        assert_eq!(
            format!("{keys:?}"),
            r#"IdentifierKeys { ids: ["k2", "k1"] }"#
        );
    }

    #[test]
    fn parse_reads_keys_in_order_with_comments() {
        let text = format!(
            "# ACX keys\n\n  2025-06.b   {}  # current\r\nk1 {SECRET_HEX}\n   \n# old\n",
            "AB".repeat(40)
        );
        let keys = IdentifierKeys::parse(&text).unwrap();
        assert_eq!(keys.current().id(), "2025-06.b");
        assert_eq!(keys.get("k1").unwrap().id(), "k1");
        assert!(keys.get("k3").is_none());
        assert_eq!(
            keys.get("k1")
                .unwrap()
                .hash_identifier(Email, "johndoe@gmail.com"),
            "2a25903b5bea85055db646cf9ccd03ea1d31262d281a5d81ee9e54b153e2e87e"
        );
        assert_eq!(keys.current().secret, vec![0xab; 40]);
    }

    #[test]
    fn parse_errors_name_the_line() {
        let good = format!("k1 {SECRET_HEX}");
        let cases = [
            (
                format!("{good}\nk2\n"),
                "line 2: expected \"<key-id> <hex secret>\"",
            ),
            (
                format!("{good}\nk2 {SECRET_HEX} extra\n"),
                "line 2: expected \"<key-id> <hex secret>\"",
            ),
            (
                format!("# c\n\nk/1 {SECRET_HEX}"),
                "line 3: key id must be 1 to 32 characters of A-Z, a-z, 0-9, '.', '_' or '-'",
            ),
            (
                format!("{} {SECRET_HEX}", "k".repeat(33)),
                "line 1: key id must be 1 to 32 characters of A-Z, a-z, 0-9, '.', '_' or '-'",
            ),
            (
                format!("{good}\n{good}"),
                "line 2: key id \"k1\" is used more than once",
            ),
            (
                format!("k1 {}", "zz".repeat(32)),
                "line 1: secret must be hex digits (an even number of them)",
            ),
            (
                format!("k1 {SECRET_HEX}0"),
                "line 1: secret must be hex digits (an even number of them)",
            ),
            (
                format!("\n#\nk1 {}", &SECRET_HEX[..62]),
                "line 3: secret must be at least 64 hex digits",
            ),
            ("".to_owned(), "key file holds no keys"),
            ("# only a comment\n\n".to_owned(), "key file holds no keys"),
        ];
        for (text, expected) in cases {
            let err = IdentifierKeys::parse(&text).expect_err(&text);
            assert_eq!(err.to_string(), expected);
            assert!(!err.to_string().contains(SECRET_HEX));
        }
        assert!(matches!(
            IdentifierKeys::parse(""),
            Err(KeyFileError::NoKeys)
        ));
        assert!(matches!(
            IdentifierKeys::parse(&format!("{good}\nk2 {}", "00".repeat(31))),
            Err(KeyFileError::SecretTooShort { line: 2 })
        ));
    }

    #[test]
    fn generated_file_parses_and_is_random() {
        let a = IdentifierKeys::generate_file("2025-01");
        let b = IdentifierKeys::generate_file("2025-01");
        assert_ne!(a, b);
        assert!(a.starts_with('#'));
        let keys = IdentifierKeys::parse(&a).unwrap();
        assert_eq!(keys.current().id(), "2025-01");
        assert_eq!(keys.current().secret.len(), 32);
        let key_line = a.lines().last().unwrap();
        assert_eq!(key_line.len(), "2025-01 ".len() + 64);
        // A bad id gives a file that parse rejects rather than a silently different id.
        assert!(IdentifierKeys::parse(&IdentifierKeys::generate_file("bad id")).is_err());
    }

    #[test]
    fn load_reads_a_file_and_names_the_path_on_error() {
        let dir = std::env::temp_dir().join(format!("acx-domain-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("keys.txt");
        std::fs::write(&path, IdentifierKeys::generate_file("k1")).unwrap();
        assert_eq!(IdentifierKeys::load(&path).unwrap().current().id(), "k1");
        let missing = dir.join("missing.txt");
        let err = IdentifierKeys::load(&missing).unwrap_err();
        assert!(matches!(err, KeyFileError::Io { .. }));
        assert!(err.to_string().contains("missing.txt"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn keys_are_clone() {
        let keys = IdentifierKeys::parse(&format!("k1 {SECRET_HEX}")).unwrap();
        let copy = keys.clone();
        assert_eq!(
            copy.current().hash_identifier(Phone, "+442079460958"),
            keys.current().hash_identifier(Phone, "+442079460958")
        );
    }
}
