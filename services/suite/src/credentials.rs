//! First-run credentials of the suite. Tokens are random, made on this machine, never
//! hard-coded: `credentials` (mode 0600) keeps each principal's token for the user, and
//! `tokens` keeps only their hashes, which is what the servers read; `identifier-keys`
//! (mode 0600) holds the secret that hashes sellers' identifiers.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use acx_domain::identifiers::IdentifierKeys;
use acx_runtime::credentials::{generate_token, hash_token};

/// The principals the suite creates on first run.
pub const PRINCIPALS: &[&str] = &[
    "platform:demo-platform",
    "platform:demo-marketplace",
    "customs:demo-customs",
    "auditor:demo-auditor",
    "service:scoring",
    "service:liaison",
];

/// Why credentials could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A line of the credentials file is not `<principal> <token>`.
    #[error("{path}:{line}: expected '<role>:<id> <token>'")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
    },
    /// A principal the suite needs has no token in the file.
    #[error("no token for {0} in the credentials file; delete it to make a new one")]
    Missing(String),
}

/// The suite's principals and their tokens.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The file holding the tokens.
    pub path: PathBuf,
    /// The file holding only their hashes, for the servers.
    pub tokens_file: PathBuf,
    /// The exchange's keys for hashing identifiers (made on first run, like the tokens).
    pub identifier_keys_file: PathBuf,
    entries: Vec<(String, String)>,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> CredentialsError + '_ {
    move |source| CredentialsError::Io {
        path: path.to_owned(),
        source,
    }
}

fn write_private(path: &Path, text: &str) -> Result<(), CredentialsError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io_error(path))?;
    file.write_all(text.as_bytes()).map_err(io_error(path))
}

impl Credentials {
    /// Reads `<data_dir>/credentials`, creating it (and the hash file) on first run.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, CredentialsError> {
        acx_runtime::db::create_private_dir_all(data_dir).map_err(io_error(data_dir))?;
        let path = data_dir.join("credentials");
        let tokens_file = data_dir.join("tokens");
        let entries = if path.exists() {
            Self::parse(&path)?
        } else {
            let entries: Vec<(String, String)> = PRINCIPALS
                .iter()
                .map(|principal| ((*principal).to_owned(), generate_token()))
                .collect();
            let mut text = String::from(
                "# ACX suite credentials: '<principal> <bearer token>'. Keep this file private.\n",
            );
            for (principal, token) in &entries {
                text.push_str(&format!("{principal} {token}\n"));
            }
            write_private(&path, &text)?;
            tracing::info!(path = %path.display(), "created demo credentials");
            entries
        };
        let mut hashes =
            String::from("# token hashes (sha256) of the principals in 'credentials'\n");
        for (principal, token) in &entries {
            hashes.push_str(&format!("{} {principal}\n", hash_token(token)));
        }
        write_private(&tokens_file, &hashes)?;
        let identifier_keys_file = data_dir.join("identifier-keys");
        if !identifier_keys_file.exists() {
            write_private(&identifier_keys_file, &IdentifierKeys::generate_file("k1"))?;
        }
        let credentials = Self {
            path,
            tokens_file,
            identifier_keys_file,
            entries,
        };
        for principal in PRINCIPALS {
            credentials.token_of(principal)?;
        }
        Ok(credentials)
    }

    fn parse(path: &Path) -> Result<Vec<(String, String)>, CredentialsError> {
        let text = std::fs::read_to_string(path).map_err(io_error(path))?;
        let mut entries = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.split_whitespace();
            match (parts.next(), parts.next(), parts.next()) {
                (Some(principal), Some(token), None) => {
                    entries.push((principal.to_owned(), token.to_owned()));
                }
                _ => {
                    return Err(CredentialsError::Malformed {
                        path: path.to_owned(),
                        line: index + 1,
                    });
                }
            }
        }
        Ok(entries)
    }

    /// The token of `principal` (`customs:demo-customs`).
    pub fn token_of(&self, principal: &str) -> Result<&str, CredentialsError> {
        self.entries
            .iter()
            .find(|(p, _)| p == principal)
            .map(|(_, token)| token.as_str())
            .ok_or_else(|| CredentialsError::Missing(principal.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_run_creates_private_tokens_and_later_runs_keep_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = Credentials::load_or_create(dir.path()).expect("created");
        let token = first
            .token_of("customs:demo-customs")
            .expect("token")
            .to_owned();
        assert!(token.starts_with("acx_"));

        let hashes = std::fs::read_to_string(&first.tokens_file).expect("tokens file");
        assert!(
            !hashes.contains(&token),
            "the servers' file holds no raw token"
        );
        assert!(hashes.contains(&hash_token(&token)));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&first.path)
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }

        let second = Credentials::load_or_create(dir.path()).expect("loaded");
        assert_eq!(
            second.token_of("customs:demo-customs").expect("token"),
            token
        );
    }
}
