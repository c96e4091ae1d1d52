//! `acxctl declarations ...`: customs declarations submitted to liaison from JSON Lines or
//! CSV (read by [`crate::declarations`]).

use std::path::{Path, PathBuf};

use acx_proto::liaison::{
    AssessmentState, DeclarationOutcome, DeclarationResult, SubmitDeclarationsRequest,
};
use clap::{Subcommand, ValueEnum};

use super::value;
use crate::{
    Context,
    declarations::{self, CSV_COLUMNS},
    error::CliError,
    output::{print, print_json, short, table, within_item},
    rejected_or_ok,
};

/// `acxctl declarations ...`
#[derive(Debug, Subcommand)]
pub enum DeclarationsCommand {
    /// Submits declarations from JSON Lines (one acx.liaison.v1.Declaration per line), CSV
    /// or a file of the KCS data sets (--format kcs), in batches; prints each declaration's outcome, lane and risk, or its
    /// violations. Resubmitting is safe: a declaration already stored answers DUPLICATE.
    #[command(after_help = CSV_COLUMNS)]
    Submit {
        /// The file: .csv is read as CSV, anything else as JSON Lines (see --format).
        file: PathBuf,
        /// The file's format, when its name does not say.
        #[arg(long, value_enum)]
        format: Option<InputFormat>,
        /// Declarations per call (liaison takes up to 500).
        #[arg(long, default_value_t = 100)]
        batch_size: usize,
        /// How the CSV file is written.
        #[command(flatten)]
        csv: crate::dialect::CsvArgs,
    },
}

/// The format of a declarations file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    /// One JSON object per line.
    Jsonl,
    /// A header row and one row per declaration line.
    Csv,
    /// The columns of the Korea Customs Service's declaration data sets (the development
    /// data, docs/customs.md): one declaration per row; its outcome columns are not sent.
    Kcs,
}

/// Runs a `declarations` subcommand.
pub async fn run(context: &Context, command: DeclarationsCommand) -> Result<u8, CliError> {
    match command {
        DeclarationsCommand::Submit {
            file,
            format,
            batch_size,
            csv,
        } => declarations_submit(context, &file, format, batch_size, &csv).await,
    }
}

/// Most bytes of declarations in one call: under the services' 4 MiB message limit with
/// room for the message's own framing (found by a tester: 100 declarations of 50 KiB made
/// a request liaison refused as a whole, which acxctl called "retry later").
const MAX_CALL_BYTES: usize = 3 << 20;

/// `declarations` in calls of at most `batch_size` declarations and about
/// [`MAX_CALL_BYTES`] (each declaration is at most 1 MiB, so every one fits in a call).
fn batches<T: prost::Message>(declarations: &[(u64, T)], batch_size: usize) -> Vec<&[(u64, T)]> {
    // Each declaration's tag and length in the request add at most 8 bytes.
    acx_domain::customs::calls(declarations, batch_size, MAX_CALL_BYTES, |(_, d)| {
        d.encoded_len() + 8
    })
}

/// The answer liaison would give a declaration over its size bound, given without sending
/// it: one that large could make the whole call too large to be taken.
fn oversized(declaration: &acx_proto::liaison::Declaration) -> Option<DeclarationResult> {
    let why = acx_domain::customs::oversize_problem(prost::Message::encoded_len(declaration))?;
    Some(DeclarationResult {
        declaration_id: declaration.declaration_id.clone(),
        outcome: DeclarationOutcome::Rejected as i32,
        violations: vec![acx_proto::liaison::DeclarationViolation {
            field: String::new(),
            description: why,
        }],
        ..Default::default()
    })
}

/// A declaration's outcome as answered, or its id as read and why it is unreadable.
type Outcome = Result<DeclarationResult, (String, String)>;

/// The declarations of a file in the KCS data sets' columns ([`crate::kcs`]), one per row.
fn read_kcs(file: &Path) -> Result<Vec<declarations::Item>, CliError> {
    let text = std::fs::read_to_string(file).map_err(CliError::io(file))?;
    let rows = crate::kcs::declarations(&text)
        .map_err(|e| CliError::Usage(format!("{}: {e}", file.display())))?;
    Ok(rows
        .into_iter()
        .map(|(line, declaration)| declarations::Item {
            line,
            declaration_id: declaration
                .as_ref()
                .map_or_else(|_| String::new(), |d| d.declaration_id.clone()),
            declaration,
        })
        .collect())
}

async fn declarations_submit(
    context: &Context,
    file: &Path,
    format: Option<InputFormat>,
    batch_size: usize,
    csv_args: &crate::dialect::CsvArgs,
) -> Result<u8, CliError> {
    if batch_size == 0 {
        return Err(CliError::Usage(
            "--batch-size must be at least 1".to_owned(),
        ));
    }
    let csv = match format {
        Some(format) => format == InputFormat::Csv,
        None => file
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv")),
    };
    let (items, dialect) = if format == Some(InputFormat::Kcs) {
        (read_kcs(file)?, None)
    } else {
        let options = csv_args.options();
        declarations::read(file, csv.then_some(&options)).map_err(|error| {
            // Found by a tester: the data set's own file was refused for its `Date` column.
            let header = std::fs::read_to_string(file)
                .ok()
                .and_then(|text| text.lines().next().map(str::to_owned));
            match error {
                CliError::Usage(message)
                    if csv && header.as_deref().is_some_and(crate::kcs::is_header) =>
                {
                    CliError::Usage(format!(
                        "{message}\n  the file has the columns of the KCS declaration data sets: \
                         add --format kcs"
                    ))
                }
                other => other,
            }
        })?
    };
    let liaison = context.liaison().await?;

    let mut rows: Vec<(u64, Outcome)> = Vec::new();
    let mut valid = Vec::new();
    for item in items {
        match item.declaration {
            Ok(declaration) => match oversized(&declaration) {
                Some(refused) => rows.push((item.line, Ok(refused))),
                None => valid.push((item.line, declaration)),
            },
            Err(error) => rows.push((item.line, Err((item.declaration_id, error)))),
        }
    }
    for chunk in batches(&valid, batch_size) {
        let answer = liaison
            .submit_declarations(SubmitDeclarationsRequest {
                declarations: chunk.iter().map(|(_, d)| d.clone()).collect(),
            })
            .await?;
        for mut result in answer.results {
            let Some((line, _)) = usize::try_from(result.index)
                .ok()
                .and_then(|i| chunk.get(i))
            else {
                return Err(CliError::Failed(format!(
                    "the server answered for declaration {} of a batch of {}",
                    result.index,
                    chunk.len()
                )));
            };
            for violation in &mut result.violations {
                violation.field = within_item(&violation.field, "declarations").to_owned();
            }
            rows.push((*line, Ok(result)));
        }
    }
    rows.sort_by_key(|(line, _)| *line);

    let mut counts = [0u64; 5]; // accepted, duplicate, rejected, conflicting, unreadable
    for (_, row) in &rows {
        let slot = match row {
            Ok(result) => match result.outcome() {
                DeclarationOutcome::Accepted => 0,
                DeclarationOutcome::Duplicate => 1,
                DeclarationOutcome::AlreadyExists => 3,
                _ => 2,
            },
            Err(_) => 4,
        };
        counts[slot] += 1;
    }
    let [accepted, duplicates, rejected, conflicting, unreadable] = counts;
    if context.json() {
        let mut results = Vec::new();
        for (line, row) in &rows {
            let mut entry = match row {
                Ok(result) => {
                    let mut entry = value(result)?;
                    if let Some(object) = entry.as_object_mut() {
                        object.remove("index");
                    }
                    entry
                }
                Err((id, error)) if id.is_empty() => {
                    serde_json::json!({"outcome": "UNPARSEABLE", "error": error})
                }
                Err((id, error)) => serde_json::json!({
                    "declarationId": id,
                    "outcome": "UNPARSEABLE",
                    "error": error,
                }),
            };
            entry["line"] = (*line).into();
            results.push(entry);
        }
        let csv = dialect.as_ref().map(|d| {
            serde_json::json!({
                "delimiter": char::from(d.delimiter).to_string(),
                "delimiterDetected": d.delimiter_detected,
                "decimal": d.decimal.map(|s| s.name()),
                "decimalDetected": d.decimal_detected,
                "timezone": d.timezone,
            })
        });
        print_json(&serde_json::json!({
            "file": file,
            "csv": csv,
            "accepted": accepted,
            "duplicates": duplicates,
            "rejected": rejected + unreadable,
            "unparseable": unreadable,
            "alreadyExists": conflicting,
            "results": results,
        }))?;
    } else {
        let mut table_rows = Vec::new();
        for (line, row) in &rows {
            table_rows.push(match row {
                Ok(result) => {
                    let assessed = result.assessment_state() == AssessmentState::Assessed;
                    let problems: Vec<String> = result
                        .violations
                        .iter()
                        .map(|v| match v.field.as_str() {
                            "" => v.description.clone(), // the whole declaration
                            field => format!("{field}: {}", v.description),
                        })
                        .collect();
                    vec![
                        line.to_string(),
                        result.declaration_id.clone(),
                        short(result.outcome().as_str_name(), "DECLARATION_OUTCOME_"),
                        // A rejected declaration has no state (found by a newcomer:
                        // "unspecified" read as a state it was in).
                        if result.assessment_state() == AssessmentState::Unspecified {
                            "-".to_owned()
                        } else {
                            short(result.assessment_state().as_str_name(), "ASSESSMENT_STATE_")
                        },
                        if assessed {
                            short(result.lane().as_str_name(), "LANE_")
                        } else {
                            "-".to_owned()
                        },
                        if assessed {
                            format!("{:.2}", result.risk)
                        } else {
                            "-".to_owned()
                        },
                        problems.join("; "),
                    ]
                }
                Err((id, error)) => vec![
                    line.to_string(),
                    if id.is_empty() {
                        "-".to_owned()
                    } else {
                        id.clone()
                    },
                    "unparseable".to_owned(),
                    "-".to_owned(),
                    "-".to_owned(),
                    "-".to_owned(),
                    error.clone(),
                ],
            });
        }
        let mut text = table(
            &[
                "LINE",
                "DECLARATION",
                "OUTCOME",
                "STATE",
                "LANE",
                "RISK",
                "PROBLEMS",
            ],
            &table_rows,
        );
        if let Some(dialect) = &dialect {
            text.push_str(&format!("read as CSV: {dialect}\n"));
        }
        text.push_str(&format!(
            "{accepted} accepted, {duplicates} duplicate, {} rejected, {conflicting} conflicting\n",
            rejected + unreadable
        ));
        print(&text)?;
    }
    Ok(rejected_or_ok(rejected + unreadable + conflicting))
}

#[cfg(test)]
mod tests {
    use acx_proto::liaison::Declaration;

    use super::*;

    fn of_size(description_bytes: usize) -> Declaration {
        Declaration {
            declaration_id: "D".to_owned(),
            importer_id: "x".repeat(description_bytes),
            ..Default::default()
        }
    }

    /// Calls keep the file's order, hold every declaration once, stay within the batch size
    /// and within the byte bound unless a call holds one declaration.
    #[test]
    fn batches_cover_the_file_within_both_bounds() {
        let sizes = [
            10, 900_000, 1_000_000, 5, 1_048_000, 1_048_000, 1_048_000, 3, 4, 5, 6, 700_000,
        ];
        let declarations: Vec<(u64, Declaration)> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| (i as u64, of_size(n)))
            .collect();
        for batch_size in [1, 2, 3, 5, 100] {
            let calls = batches(&declarations, batch_size);
            let lines: Vec<u64> = calls.iter().flat_map(|c| c.iter().map(|d| d.0)).collect();
            assert_eq!(lines, (0..sizes.len() as u64).collect::<Vec<_>>());
            for call in &calls {
                assert!(!call.is_empty() && call.len() <= batch_size);
                let request = SubmitDeclarationsRequest {
                    declarations: call.iter().map(|(_, d)| d.clone()).collect(),
                };
                assert!(
                    prost::Message::encoded_len(&request) <= MAX_CALL_BYTES,
                    "{batch_size}: {} declarations",
                    call.len()
                );
            }
        }
        assert!(batches::<Declaration>(&[], 10).is_empty());
    }

    #[test]
    fn a_declaration_over_1_mib_is_answered_without_sending_it() {
        assert!(oversized(&of_size(1_000_000)).is_none());
        let refused = oversized(&of_size(1 << 20)).expect("refused");
        assert_eq!(refused.outcome(), DeclarationOutcome::Rejected);
        assert_eq!(refused.declaration_id, "D");
        assert!(
            refused.violations[0]
                .description
                .ends_with("at most 1048576 (1 MiB) per declaration"),
            "{refused:?}"
        );
    }
}
