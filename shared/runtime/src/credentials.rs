//! Bearer tokens: how they are made and how they are hashed. Servers keep only the hash
//! (SHA-256 of the whole token, hex); tokens are 256 random bits, so a fast hash is safe.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// Prefix of every token ACX makes, so a leaked one is easy to recognise in a scanner.
pub const TOKEN_PREFIX: &str = "acx_";

/// A new random token: `acx_` and 64 hex digits.
pub fn generate_token() -> String {
    let mut bytes = [0_u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", hex::encode(bytes))
}

/// The hash kept in configuration for `token`.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hash_to_64_hex_digits() {
        let a = generate_token();
        let b = generate_token();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == 68);
        let hash = hash_token(&a);
        assert_eq!(hash.len(), 64);
        assert_ne!(hash, hash_token(&b));
        assert_eq!(hash, hash_token(&a));
    }
}
