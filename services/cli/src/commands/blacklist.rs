//! `acxctl blacklist ...`: a full copy of the shared blacklist, or what changed since a
//! cursor, to JSON Lines files.

use std::path::{Path, PathBuf};

use acx_proto::scoring::{ListBlacklistChangesRequest, ListBlacklistRequest};
use clap::Subcommand;

use super::value;
use crate::{
    Context, checkpoint,
    error::{CliError, exit},
    output::{print, print_json},
};

/// `acxctl blacklist ...`
#[derive(Debug, Subcommand)]
pub enum BlacklistCommand {
    /// Writes every listed account to a file (JSON Lines of acx.scoring.v1.BlacklistEntry)
    /// and the change cursor to follow from (to --state, if given).
    Pull {
        /// The file to write (replaced atomically).
        #[arg(long)]
        out: PathBuf,
        /// A file to keep the change cursor in, for `blacklist delta --state`.
        #[arg(long)]
        state: Option<PathBuf>,
        /// Entries per call.
        #[arg(long, default_value_t = 1000)]
        page_size: i32,
    },
    /// Writes what changed since a cursor to a file (JSON Lines of
    /// acx.scoring.v1.BlacklistChange, oldest first) and moves the cursor on.
    Delta {
        /// The file to write (replaced atomically).
        #[arg(long)]
        out: PathBuf,
        /// Changes after this cursor (0: all).
        #[arg(long, required_unless_present = "state")]
        since: Option<i64>,
        /// The cursor file `blacklist pull --state` wrote: read, and updated afterwards.
        #[arg(long)]
        state: Option<PathBuf>,
        /// Changes per call.
        #[arg(long, default_value_t = 1000)]
        page_size: i32,
    },
}

/// Runs a `blacklist` subcommand.
pub async fn run(context: &Context, command: BlacklistCommand) -> Result<u8, CliError> {
    match command {
        BlacklistCommand::Pull {
            out,
            state,
            page_size,
        } => blacklist_pull(context, &out, state.as_deref(), page_size).await,
        BlacklistCommand::Delta {
            out,
            since,
            state,
            page_size,
        } => blacklist_delta(context, &out, since, state.as_deref(), page_size).await,
    }
}

/// Writes `lines` to `path` through a temporary file and a rename, so a reader never sees
/// half a file and a failed run leaves the old one.
fn write_atomically(path: &Path, lines: &[serde_json::Value]) -> Result<(), CliError> {
    let temporary = checkpoint::sibling(path, "tmp");
    let mut text = String::new();
    for line in lines {
        text.push_str(&line.to_string());
        text.push('\n');
    }
    std::fs::write(&temporary, text).map_err(CliError::io(&temporary))?;
    std::fs::rename(&temporary, path).map_err(CliError::io(path))
}

fn read_cursor(path: &Path) -> Result<i64, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("--state {}: {e}", path.display())))?;
    text.trim().parse().map_err(|_| {
        CliError::Usage(format!(
            "--state {}: expected a cursor (a whole number), found {:?}",
            path.display(),
            text.trim()
        ))
    })
}

fn write_cursor(path: &Path, cursor: i64) -> Result<(), CliError> {
    std::fs::write(path, format!("{cursor}\n")).map_err(CliError::io(path))
}

async fn blacklist_pull(
    context: &Context,
    out: &Path,
    state: Option<&Path>,
    page_size: i32,
) -> Result<u8, CliError> {
    let scoring = context.scoring().await?;
    let mut entries = Vec::new();
    let mut page_token = String::new();
    let mut cursor = None;
    loop {
        let page = scoring
            .list_blacklist(ListBlacklistRequest {
                page_size,
                page_token,
            })
            .await?;
        // The cursor as of the first page: changes from there on are not in this copy.
        cursor.get_or_insert(page.changes_cursor);
        for entry in &page.entries {
            entries.push(value(entry)?);
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let cursor = cursor.unwrap_or(0);
    write_atomically(out, &entries)?;
    if let Some(state) = state {
        write_cursor(state, cursor)?;
    }
    file_summary(context, out, entries.len(), "entries", cursor, state)
}

async fn blacklist_delta(
    context: &Context,
    out: &Path,
    since: Option<i64>,
    state: Option<&Path>,
    page_size: i32,
) -> Result<u8, CliError> {
    let mut cursor = match (since, state) {
        (Some(since), _) => since,
        (None, Some(state)) => read_cursor(state)?,
        (None, None) => return Err(CliError::Usage("give --since or --state".to_owned())),
    };
    let scoring = context.scoring().await?;
    let mut changes = Vec::new();
    loop {
        let page = scoring
            .list_blacklist_changes(ListBlacklistChangesRequest {
                after_cursor: cursor,
                page_size,
            })
            .await?;
        for change in &page.changes {
            changes.push(value(change)?);
        }
        let advanced = page.next_cursor > cursor;
        cursor = page.next_cursor.max(cursor);
        if page.changes.is_empty() || !advanced {
            break;
        }
    }
    write_atomically(out, &changes)?;
    if let Some(state) = state {
        write_cursor(state, cursor)?;
    }
    file_summary(context, out, changes.len(), "changes", cursor, state)
}

fn file_summary(
    context: &Context,
    out: &Path,
    count: usize,
    what: &str,
    cursor: i64,
    state: Option<&Path>,
) -> Result<u8, CliError> {
    if context.json() {
        print_json(&serde_json::json!({
            "file": out,
            what: count,
            "cursor": cursor,
            "stateFile": state,
        }))?;
    } else {
        let saved = state.map_or(String::new(), |s| format!(" (saved to {})", s.display()));
        print(&format!(
            "wrote {count} {what} to {}; next cursor {cursor}{saved}",
            out.display()
        ))?;
    }
    Ok(exit::OK)
}
