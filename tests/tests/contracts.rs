//! The contract checks CI relies on, checked themselves: `buf breaking` must reject a field
//! removed from a message (stubs generated from the old contract would silently lose data),
//! and must accept the contracts unchanged, so that its verdict in CI means something. And
//! `acx.liaison.v2` must mean on the wire what `acx.liaison.v1` means, since liaison answers
//! v2 with v1's handlers by re-encoding each message.

#![allow(clippy::unwrap_used)]

use std::{
    collections::HashSet,
    path::{Path, PathBuf},
    process::Command,
};

use prost_reflect::{DescriptorPool, EnumDescriptor, Kind, MessageDescriptor};

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

/// Walks a v1 message and its v2 twin together, field by field.
#[derive(Default)]
struct Twins {
    seen: HashSet<(String, String)>,
}

impl Twins {
    fn messages(&mut self, v1: &MessageDescriptor, v2: &MessageDescriptor) {
        if !self
            .seen
            .insert((v1.full_name().to_owned(), v2.full_name().to_owned()))
        {
            return;
        }
        let pair = format!("{} / {}", v1.full_name(), v2.full_name());
        assert!(
            !v2.full_name().starts_with("acx.scoring."),
            "v2 still reads a scoring type: {pair}"
        );
        let renamed = (v1.name(), v2.name()) == ("DeclarationViolation", "FieldViolation");
        assert!(v1.name() == v2.name() || renamed, "{pair}");
        let mut fields1: Vec<_> = v1.fields().collect();
        let mut fields2: Vec<_> = v2.fields().collect();
        fields1.sort_by_key(prost_reflect::FieldDescriptor::number);
        fields2.sort_by_key(prost_reflect::FieldDescriptor::number);
        assert_eq!(fields1.len(), fields2.len(), "{pair}: field count");
        for (a, b) in fields1.iter().zip(&fields2) {
            let what = format!("{pair}: field {}", a.name());
            assert_eq!(a.number(), b.number(), "{what}");
            assert_eq!(a.name(), b.name(), "{what}");
            assert_eq!(a.json_name(), b.json_name(), "{what}");
            assert_eq!(a.cardinality(), b.cardinality(), "{what}");
            assert_eq!(a.is_packed(), b.is_packed(), "{what}");
            assert_eq!(
                a.containing_oneof().map(|o| o.name().to_owned()),
                b.containing_oneof().map(|o| o.name().to_owned()),
                "{what}"
            );
            match (a.kind(), b.kind()) {
                (Kind::Message(m1), Kind::Message(m2)) => self.messages(&m1, &m2),
                (Kind::Enum(e1), Kind::Enum(e2)) => self.enums(&e1, &e2),
                (k1, k2) => assert_eq!(k1, k2, "{what}"),
            }
        }
    }

    fn enums(&mut self, v1: &EnumDescriptor, v2: &EnumDescriptor) {
        if !self
            .seen
            .insert((v1.full_name().to_owned(), v2.full_name().to_owned()))
        {
            return;
        }
        let pair = format!("{} / {}", v1.full_name(), v2.full_name());
        assert!(
            !v2.full_name().starts_with("acx.scoring."),
            "v2 still reads a scoring type: {pair}"
        );
        assert_eq!(v1.name(), v2.name(), "{pair}");
        let values = |e: &EnumDescriptor| -> Vec<(i32, String)> {
            e.values()
                .map(|v| (v.number(), v.name().to_owned()))
                .collect()
        };
        assert_eq!(values(v1), values(v2), "{pair}");
    }
}

/// Every method of liaison v2 is v1's, and every message either reaches (its requests,
/// answers and streamed alerts, down to the last nested field) has v1's fields: numbers,
/// names, JSON names, cardinality, oneofs and kinds, with message and enum fields naming
/// twins of the same shape, and no type taken from `acx.scoring.v1`. Fails on a field added
/// to one version only, a renumbered field or enum value, or a type moved back to scoring.
#[test]
fn liaison_v2_means_on_the_wire_what_liaison_v1_means() {
    let pool = DescriptorPool::decode(acx_proto::FILE_DESCRIPTOR_SET).unwrap();
    let v1 = pool
        .get_service_by_name("acx.liaison.v1.LiaisonService")
        .unwrap();
    let v2 = pool
        .get_service_by_name("acx.liaison.v2.LiaisonService")
        .unwrap();
    let methods = |service: &prost_reflect::ServiceDescriptor| -> Vec<(String, bool, bool)> {
        service
            .methods()
            .map(|m| {
                (
                    m.name().to_owned(),
                    m.is_client_streaming(),
                    m.is_server_streaming(),
                )
            })
            .collect()
    };
    assert_eq!(methods(&v1), methods(&v2));
    let mut twins = Twins::default();
    for (a, b) in v1.methods().zip(v2.methods()) {
        twins.messages(&a.input(), &b.input());
        twins.messages(&a.output(), &b.output());
    }
    // The walk reached the assessment's and the model card's insides, not only the requests.
    for reached in [
        "acx.common.v1.ValueAnomaly",
        "acx.common.v1.PrecisionAt",
        "acx.common.v1.EntityMatch",
        "acx.common.v1.OutcomeKind",
        "acx.common.v1.FieldViolation",
    ] {
        assert!(
            twins.seen.iter().any(|(_, v2)| v2 == reached),
            "{reached} not reached"
        );
    }
}
