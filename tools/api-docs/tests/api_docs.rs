//! The API reference: `docs/api.md` must be what the generator makes of the contracts as
//! compiled now (so CI fails when a proto changes and the document does not), and the
//! generator must cover every service and RPC and carry the proto comments.

use acx_api_docs as api_docs;
use acx_proto::FILE_DESCRIPTOR_SET;
use prost::Message as _;
use prost_types::FileDescriptorSet;

fn rendered() -> String {
    match api_docs::render_acx() {
        Ok(document) => document,
        Err(error) => panic!("the embedded descriptor set does not decode: {error}"),
    }
}

fn descriptors() -> FileDescriptorSet {
    match FileDescriptorSet::decode(FILE_DESCRIPTOR_SET) {
        Ok(set) => set,
        Err(error) => panic!("the embedded descriptor set does not decode: {error}"),
    }
}

#[test]
fn the_committed_reference_is_up_to_date() {
    let path = api_docs::default_output_path();
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let expected = rendered();
    if committed != expected {
        // Point at the first line that differs, so the failure says what went stale.
        let line = committed
            .lines()
            .zip(expected.lines())
            .position(|(old, new)| old != new)
            .unwrap_or_else(|| committed.lines().count().min(expected.lines().count()));
        panic!(
            "{} is out of date with proto/ (first difference at line {}).\n\
             Regenerate it with:\n\n    {}\n",
            path.display(),
            line + 1,
            api_docs::REGENERATE_COMMAND,
        );
    }
}

#[test]
fn every_service_and_rpc_is_documented_with_its_types() {
    let document = rendered();
    let set = descriptors();
    let mut rpcs = 0;
    for file in set
        .file
        .iter()
        .filter(|file| file.package().starts_with("acx."))
    {
        for service in &file.service {
            let service_name = format!("{}.{}", file.package(), service.name());
            assert!(
                document.contains(&format!("<a name=\"{service_name}\"></a>")),
                "no section for {service_name}"
            );
            for method in &service.method {
                rpcs += 1;
                let method_name = format!("{service_name}/{}", method.name());
                assert!(
                    document.contains(&format!("- **Method:** `{method_name}`")),
                    "no section for {method_name}"
                );
                for type_name in [method.input_type(), method.output_type()] {
                    let anchor = type_name.trim_start_matches('.');
                    assert!(
                        document.contains(&format!("<a name=\"{anchor}\"></a>")),
                        "{method_name}: no section for {anchor}"
                    );
                }
            }
        }
    }
    // ingest, scoring, liaison and diagnostics: a set without services would pass vacuously.
    assert!(rpcs >= 20, "only {rpcs} RPCs in the descriptor set");
}

#[test]
fn comments_callers_and_json_names_come_through() {
    let document = rendered();
    // A service comment, an RPC comment and a field comment from liaison.proto.
    assert!(document.contains("Lets customs authorities share declarations and ask how risky"));
    assert!(document.contains("Returns the risk of one marketplace seller account."));
    assert!(document.contains("The authority's own reference of the declaration (e.g. the MRN)."));
    // An enum value's comment.
    assert!(document.contains("| `VALUATION_BASIS_FOB` | 1 | Free On Board:"));
    // The "Callers:" paragraph is lifted out into its own line.
    assert!(document.contains("- **Callers:** auditor principals only."));
    // A field with its proto and JSON names, and a link to its message type.
    assert!(
        document
            .contains("| `declaration_time` | `declarationTime` | `google.protobuf.Timestamp` |"),
        "well-known types are named without a link"
    );
    assert!(
        document.contains(
            "| `seller` | `seller` | [`acx.common.v1.SellerAccountRef`](#acx.common.v1.SellerAccountRef) |"
        ),
        "types of other packages link to their section"
    );
    // Streaming is marked, and a oneof is named with its members.
    assert!(document.contains(
        "- **Response:** a stream of [`WatchAlertsResponse`](#acx.liaison.v1.WatchAlertsResponse)"
    ));
    assert!(document.contains("**oneof `kind`** (`counterfeit_finding`, `seller_profile`"));
    // Imports get no section of their own.
    assert!(!document.contains("<a name=\"google.protobuf"));
}

#[test]
fn every_link_has_a_target() {
    let document = rendered();
    let mut links = 0;
    for (at, _) in document.match_indices("](#") {
        let rest = &document[at + 3..];
        let Some(end) = rest.find(')') else {
            panic!("unclosed link at byte {at}");
        };
        let anchor = &rest[..end];
        links += 1;
        assert!(
            document.contains(&format!("<a name=\"{anchor}\"></a>")),
            "link to #{anchor} has no target"
        );
    }
    assert!(links > 100, "only {links} links");
}

#[test]
fn rendering_is_deterministic() {
    assert_eq!(rendered(), rendered());
}
