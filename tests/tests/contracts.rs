//! The contract checks CI relies on, checked themselves: `buf breaking` must reject a field
//! removed from a message (stubs generated from the old contract would silently lose data),
//! and must accept the contracts unchanged, so that its verdict in CI means something.

#![allow(clippy::unwrap_used)]

use std::{
    path::{Path, PathBuf},
    process::Command,
};

/// The buf binary: `ACX_BUF`, set by scripts/test.sh (which installs buf from npm).
fn buf() -> Option<PathBuf> {
    acx_tests::tool_from_env("ACX_BUF", "the contract checks")
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A buf workspace like the repository's: `buf.yaml` and `proto/`.
fn copy_contracts() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(repository().join("buf.yaml"), dir.path().join("buf.yaml")).unwrap();
    copy_dir(&repository().join("proto"), &dir.path().join("proto"));
    dir
}

/// Runs buf with `args`; returns whether it succeeded and its stdout + stderr.
fn run(buf: &Path, args: &[&Path]) -> (bool, String) {
    let output = Command::new(buf).args(args).output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

/// Deletes the first field of `message` (with the comment lines right above it) from
/// `source`; returns the new text and the field's name. Only fields of the message itself
/// count, not those of a nested message or oneof.
fn remove_first_field(source: &str, message: &str) -> Option<(String, String)> {
    let lines: Vec<&str> = source.lines().collect();
    let start = lines
        .iter()
        .position(|line| line.trim() == format!("message {message} {{"))?;
    let mut depth = 0;
    for (index, line) in lines.iter().enumerate().skip(start) {
        let code = line.split("//").next().unwrap_or_default().trim();
        let before = depth;
        depth += code.matches('{').count();
        depth -= code.matches('}').count().min(depth);
        if index > start && before == 0 {
            return None; // past the end of the message
        }
        let tokens: Vec<&str> = code.split_whitespace().collect();
        let is_field = before == 1
            && code.ends_with(';')
            && tokens.len() >= 4
            && tokens[tokens.len() - 2] == "="
            && !matches!(tokens[0], "reserved" | "option");
        if is_field {
            let name = tokens[tokens.len() - 3].to_owned();
            let mut first = index;
            while first > 0 && lines[first - 1].trim_start().starts_with("//") {
                first -= 1;
            }
            let kept: Vec<&str> = lines[..first]
                .iter()
                .chain(&lines[index + 1..])
                .copied()
                .collect();
            return Some((kept.join("\n") + "\n", name));
        }
    }
    None
}

#[test]
fn buf_breaking_catches_a_removed_field_and_passes_unchanged_contracts() {
    let Some(buf) = buf() else { return };
    let original = copy_contracts();
    let changed = copy_contracts();

    // The unchanged copy passes lint and compares clean, so the failure below is the removal.
    let (ok, out) = run(&buf, &[Path::new("lint"), original.path()]);
    assert!(ok, "buf lint of the unchanged contracts failed:\n{out}");
    let (ok, out) = run(
        &buf,
        &[
            Path::new("breaking"),
            changed.path(),
            Path::new("--against"),
            original.path(),
        ],
    );
    assert!(ok, "buf breaking flags unchanged contracts:\n{out}");

    let file = changed.path().join("proto/acx/liaison/v1/liaison.proto");
    let source = std::fs::read_to_string(&file).unwrap();
    let (edited, field) = remove_first_field(&source, "Declaration")
        .expect("liaison.proto has a message Declaration with a field");
    let declaration = format!(" {field} = ");
    assert_eq!(
        edited.matches(&declaration).count() + 1,
        source.matches(&declaration).count(),
        "the edit did not remove exactly the field {field}"
    );
    std::fs::write(&file, edited).unwrap();

    let (ok, out) = run(
        &buf,
        &[
            Path::new("breaking"),
            changed.path(),
            Path::new("--against"),
            original.path(),
        ],
    );
    assert!(!ok, "buf breaking accepted the removal of {field}:\n{out}");
    assert!(
        out.contains(&format!("\"{field}\"")) && out.contains("\"Declaration\""),
        "buf breaking failed without naming Declaration.{field}:\n{out}"
    );
}

#[test]
fn the_field_remover_removes_one_field_of_the_right_message() {
    let source = "\
message Other {
  string x = 1;
}

// A message.
message Declaration {
  // Nested first: its field is not the message's own.
  message Inner {
    string inner = 1;
  }
  // The id,
  // on two lines.
  string declaration_id = 1; // trailing
  repeated string tags = 2;
}
";
    let (edited, field) = remove_first_field(source, "Declaration").unwrap();
    assert_eq!(field, "declaration_id");
    assert!(!edited.contains("declaration_id") && !edited.contains("The id"));
    assert!(edited.contains("string inner = 1;") && edited.contains("repeated string tags = 2;"));
    assert!(edited.contains("string x = 1;"));
    assert_eq!(remove_first_field(source, "Missing"), None);
    assert_eq!(
        remove_first_field("message Declaration {\n}\n", "Declaration"),
        None
    );
}
