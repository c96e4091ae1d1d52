//! The checkpoint of a bulk load: how far into the input the server has acknowledged
//! (stored and answered for) every report, so that an interrupted load resumes there.
//!
//! It names a line count and the SHA-256 of those lines' bytes, so a rerun against an
//! input that changed in the meantime is refused instead of skipping the wrong lines, and
//! the length of the rejects file at that point, so a resumed load writes the same rejects
//! file an uninterrupted one would. It is written atomically (a temporary file, synced,
//! then renamed) and removed when the load completes.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use crate::error::CliError;

/// Counts of a load, carried across reruns so the final summary covers the whole file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    /// Reports sent and answered for.
    pub reports: u64,
    /// Stored now.
    pub accepted: u64,
    /// Stored before (by an earlier run, or another load): nothing changed.
    pub duplicates: u64,
    /// Invalid (the server named the fields) or not a report at all (not JSON, unknown
    /// fields): see the rejects file.
    pub rejected: u64,
    /// Of `rejected`: lines that could not be read as a report.
    pub unparseable: u64,
    /// The id is used by a different report.
    pub already_exists: u64,
    /// Stored, with values left out (identifiers not valid for their kind): in the rejects
    /// file, so they can be corrected and sent again.
    #[serde(default)]
    pub warned: u64,
}

/// The state of an interrupted load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    /// Format version.
    pub version: u32,
    /// Lines of the input fully dealt with.
    pub lines_done: u64,
    /// SHA-256 (hex) of the input's first `lines_done` lines, newlines included.
    pub prefix_sha256: String,
    /// Length of the rejects file after those lines.
    pub rejects_bytes: u64,
    /// Counts up to there.
    pub totals: Totals,
}

/// Where a load keeps its checkpoint unless told: next to the input.
pub fn default_path(input: &Path) -> PathBuf {
    sibling(input, "checkpoint")
}

/// `input` with `.suffix` appended to its file name.
pub fn sibling(input: &Path, suffix: &str) -> PathBuf {
    let mut name = input.file_name().unwrap_or_default().to_owned();
    name.push(format!(".{suffix}"));
    input.with_file_name(name)
}

impl Checkpoint {
    /// The format version written now.
    pub const VERSION: u32 = 1;

    /// Reads the checkpoint at `path`; `None` when there is none.
    pub fn read(path: &Path) -> Result<Option<Self>, CliError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(CliError::io(path)(error)),
        };
        let checkpoint: Self = serde_json::from_str(&text).map_err(|e| {
            CliError::Usage(format!(
                "{}: not a checkpoint of acxctl ({e}); delete it or pass --restart",
                path.display()
            ))
        })?;
        if checkpoint.version != Self::VERSION {
            return Err(CliError::Usage(format!(
                "{}: checkpoint version {} is not {}; pass --restart",
                path.display(),
                checkpoint.version,
                Self::VERSION
            )));
        }
        Ok(Some(checkpoint))
    }

    /// Writes the checkpoint to `path` atomically and durably.
    pub fn write(&self, path: &Path) -> Result<(), CliError> {
        let temporary = sibling(path, "tmp");
        let text = serde_json::to_vec_pretty(self)
            .map_err(|e| CliError::Failed(format!("checkpoint: {e}")))?;
        let mut file = std::fs::File::create(&temporary).map_err(CliError::io(&temporary))?;
        file.write_all(&text).map_err(CliError::io(&temporary))?;
        file.sync_all().map_err(CliError::io(&temporary))?;
        std::fs::rename(&temporary, path).map_err(CliError::io(path))
    }

    /// Removes the checkpoint at `path`, if any.
    pub fn remove(path: &Path) -> Result<(), CliError> {
        match std::fs::remove_file(path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                Err(CliError::io(path)(error))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_round_trips_and_is_removed() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = default_path(&dir.path().join("reports.jsonl"));
        assert!(path.ends_with("reports.jsonl.checkpoint"));
        assert_eq!(Checkpoint::read(&path).ok(), Some(None));
        let checkpoint = Checkpoint {
            version: Checkpoint::VERSION,
            lines_done: 1500,
            prefix_sha256: "ab".repeat(32),
            rejects_bytes: 812,
            totals: Totals {
                reports: 1490,
                accepted: 1400,
                duplicates: 80,
                rejected: 19,
                unparseable: 9,
                already_exists: 1,
                warned: 3,
            },
        };
        checkpoint.write(&path).expect("written");
        assert_eq!(Checkpoint::read(&path).ok(), Some(Some(checkpoint)));
        Checkpoint::remove(&path).expect("removed");
        Checkpoint::remove(&path).expect("removing nothing is fine");
        assert_eq!(Checkpoint::read(&path).ok(), Some(None));
    }

    #[test]
    fn a_foreign_file_is_a_usage_error() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("x.checkpoint");
        std::fs::write(&path, "hello").expect("written");
        assert!(matches!(Checkpoint::read(&path), Err(CliError::Usage(_))));
    }
}
