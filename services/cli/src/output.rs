//! Printing: human-readable text by default, JSON for scripts. One JSON document per
//! command (pretty-printed), or one compact JSON object per line for commands that stream
//! (`alerts watch`), so `jq` and `serde_json` read either.

use std::io::Write;

use crate::error::CliError;

/// What standard output carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Text and tables for people.
    Human,
    /// JSON (the proto3 JSON mapping for messages) for scripts.
    Json,
}

/// Writes `text` to standard output.
pub fn print(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| {
            if text.ends_with('\n') {
                Ok(())
            } else {
                out.write_all(b"\n")
            }
        })
        .and_then(|()| out.flush())
        .map_err(CliError::io("standard output"))
}

/// Writes one JSON document to standard output.
pub fn print_json(value: &serde_json::Value) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::Failed(format!("JSON output: {e}")))?;
    print(&text)
}

/// Writes one JSON object as one line (for streams).
pub fn print_json_line(value: &serde_json::Value) -> Result<(), CliError> {
    print(&value.to_string())
}

/// A plain-text table: columns as wide as their widest cell, two spaces apart.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut out = String::new();
        for (i, (cell, width)) in cells.zip(&widths).enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            out.push_str(cell);
            out.extend(std::iter::repeat_n(
                ' ',
                width.saturating_sub(cell.chars().count()),
            ));
        }
        text.push_str(out.trim_end());
        text.push('\n');
    };
    line(&mut headers.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    text
}

/// An enum value's name without its prefix, lower case: `LANE_RED` as `red`.
pub fn short(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix)
        .unwrap_or(name)
        .to_ascii_lowercase()
}

/// A timestamp as RFC 3339 (UTC, seconds), or `-`.
pub fn time(timestamp: Option<&prost_types::Timestamp>) -> String {
    timestamp.map_or_else(
        || "-".to_owned(),
        |t| {
            prost_types::Timestamp {
                seconds: t.seconds,
                nanos: 0,
            }
            .to_string()
        },
    )
}

/// `declarations[3].lines[0].hs_code` as `lines[0].hs_code`: the position of an item in
/// one request (a batch the tool made up) means nothing to someone reading the file; the
/// tool names the file's line instead. `declarations[3]` alone, the whole item, is "".
pub fn within_item<'a>(field: &'a str, collection: &str) -> &'a str {
    let Some(rest) = field
        .strip_prefix(collection)
        .and_then(|rest| rest.strip_prefix('['))
    else {
        return field;
    };
    // "declarations[3]" is the whole item: "".
    let (index, inside) = match rest.split_once("].") {
        Some(split) => split,
        None => match rest.strip_suffix(']') {
            Some(index) => (index, ""),
            None => return field,
        },
    };
    if !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()) {
        inside
    } else {
        field
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_their_columns() {
        let text = table(
            &["ID", "LANE"],
            &[
                vec!["DEMO-1001".to_owned(), "red".to_owned()],
                vec!["D".to_owned(), "green".to_owned()],
            ],
        );
        assert_eq!(text, "ID         LANE\nDEMO-1001  red\nD          green\n");
    }

    #[test]
    fn violation_paths_are_made_relative_to_their_item() {
        assert_eq!(
            within_item("declarations[12].lines[0].hs_code", "declarations"),
            "lines[0].hs_code"
        );
        assert_eq!(
            within_item("reports[5].price_observation.product.gtin", "reports"),
            "price_observation.product.gtin"
        );
        assert_eq!(
            within_item("lines[0].hs_code", "declarations"),
            "lines[0].hs_code"
        );
        assert_eq!(within_item("reports[x].a", "reports"), "reports[x].a");
        assert_eq!(within_item("declarations[3]", "declarations"), "");
        assert_eq!(
            within_item("reports[4].identifiers.phones[0]", "reports"),
            "identifiers.phones[0]"
        );
        assert_eq!(
            within_item("declarations[]", "declarations"),
            "declarations[]"
        );
        assert_eq!(
            within_item("declarations[3]x", "declarations"),
            "declarations[3]x"
        );
    }

    #[test]
    fn names_and_times_read_short() {
        assert_eq!(short("LANE_RED", "LANE_"), "red");
        assert_eq!(time(None), "-");
        let t = prost_types::Timestamp {
            seconds: 1_767_323_045,
            nanos: 5,
        };
        assert_eq!(time(Some(&t)), "2026-01-02T03:04:05Z");
    }
}
