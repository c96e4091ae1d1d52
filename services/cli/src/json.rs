//! The proto3 JSON mapping for the generated messages, in both directions.
//!
//! prost's generated types do not implement serde, so every conversion goes through
//! prost-reflect: the descriptor set `acx-proto` exports describes every message, a
//! `DynamicMessage` reads or writes the standard JSON mapping (lowerCamelCase names, enum
//! value names, RFC 3339 timestamps, 64-bit integers as strings), and its binary encoding
//! is decoded into the prost type. One path covers every field of every message, so a
//! field added to a contract needs no change here.

use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, DeserializeOptions, DynamicMessage, SerializeOptions};

/// Why a JSON text is not the message it should be.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct JsonError(String);

/// A generated message and its full protobuf name.
pub trait Named: prost::Message + Default {
    /// E.g. `acx.ingest.v1.Report`.
    const FULL_NAME: &'static str;
}

macro_rules! named {
    ($($ty:ty => $name:literal),* $(,)?) => {
        $(impl Named for $ty { const FULL_NAME: &'static str = $name; })*
    };
}

named! {
    acx_proto::ingest::Report => "acx.ingest.v1.Report",
    acx_proto::ingest::StoredReport => "acx.ingest.v1.StoredReport",
    acx_proto::scoring::SellerRisk => "acx.scoring.v1.SellerRisk",
    acx_proto::scoring::BlacklistEntry => "acx.scoring.v1.BlacklistEntry",
    acx_proto::scoring::BlacklistChange => "acx.scoring.v1.BlacklistChange",
    acx_proto::liaison::PartyRisk => "acx.liaison.v1.PartyRisk",
    acx_proto::liaison::Declaration => "acx.liaison.v1.Declaration",
    acx_proto::liaison::DeclarationResult => "acx.liaison.v1.DeclarationResult",
    acx_proto::liaison::Shipment => "acx.liaison.v1.Shipment",
    acx_proto::liaison::WatchAlertsResponse => "acx.liaison.v1.WatchAlertsResponse",
    acx_proto::scoring::ModelCard => "acx.scoring.v1.ModelCard",
    acx_proto::scoring::LaneThresholds => "acx.scoring.v1.LaneThresholds",
    acx_proto::scoring::TrainModelResponse => "acx.scoring.v1.TrainModelResponse",
}

fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        // Build-time data of acx-proto, checked by the tests: not reachable from input.
        DescriptorPool::decode(acx_proto::FILE_DESCRIPTOR_SET)
            .expect("acx-proto's descriptor set decodes")
    })
}

fn descriptor<M: Named>() -> Result<prost_reflect::MessageDescriptor, JsonError> {
    pool()
        .get_message_by_name(M::FULL_NAME)
        .ok_or_else(|| JsonError(format!("{} is not in the descriptor set", M::FULL_NAME)))
}

/// Reads one message from its proto3 JSON text; unknown fields are errors, so a typo in a
/// field name is caught here instead of being silently dropped.
pub fn parse<M: Named>(text: &str) -> Result<M, JsonError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let message = DynamicMessage::deserialize_with_options(
        descriptor::<M>()?,
        &mut deserializer,
        &DeserializeOptions::new(),
    )
    .map_err(|e| JsonError(e.to_string()))?;
    deserializer.end().map_err(|e| JsonError(e.to_string()))?;
    message
        .transcode_to::<M>()
        .map_err(|e| JsonError(e.to_string()))
}

/// A message as a JSON value in the proto3 mapping (fields at their default omitted, as
/// grpcurl and every other proto3 JSON printer do).
pub fn to_value<M: Named>(message: &M) -> Result<serde_json::Value, JsonError> {
    let dynamic = DynamicMessage::decode(descriptor::<M>()?, message.encode_to_vec().as_slice())
        .map_err(|e| JsonError(e.to_string()))?;
    dynamic
        .serialize_with_options(serde_json::value::Serializer, &SerializeOptions::new())
        .map_err(|e| JsonError(e.to_string()))
}

/// Several messages as a JSON array.
pub fn to_array<M: Named>(messages: &[M]) -> Result<serde_json::Value, JsonError> {
    messages
        .iter()
        .map(to_value)
        .collect::<Result<Vec<_>, _>>()
        .map(serde_json::Value::Array)
}

#[cfg(test)]
mod tests {
    use acx_proto::ingest::{Report, report::Kind};

    use super::*;

    #[test]
    fn a_report_round_trips_through_the_json_mapping() {
        let report: Report = parse(
            r#"{"reportId": "P-1", "sellerProfile": {"sellerId": "S-1", "country": "CN",
                "identifiers": {"phones": ["+86 755 1"]}, "observeTime": "2026-01-02T03:04:05Z"}}"#,
        )
        .expect("valid report");
        assert_eq!(report.report_id, "P-1");
        let Some(Kind::SellerProfile(profile)) = &report.kind else {
            panic!("a seller profile: {report:?}");
        };
        assert_eq!(profile.observe_time.map(|t| t.seconds), Some(1_767_323_045));
        let value = to_value(&report).expect("serialises");
        assert_eq!(
            value["sellerProfile"]["observeTime"],
            "2026-01-02T03:04:05Z"
        );
        assert_eq!(parse::<Report>(&value.to_string()).ok(), Some(report));
    }

    #[test]
    fn enums_read_as_names_and_unknown_fields_and_trailing_text_are_errors() {
        let finding: Report =
            parse(r#"{"reportId": "F", "counterfeitFinding": {"verdict": "VERDICT_CONFIRMED"}}"#)
                .expect("valid");
        let Some(Kind::CounterfeitFinding(finding)) = finding.kind else {
            panic!("a finding");
        };
        assert_eq!(finding.verdict, 2);
        for bad in [
            r#"{"reportId": "F", "sellerProfil": {}}"#,
            r#"{"reportId": "F"} x"#,
            r#"{"reportId": 7"#,
            r#"{"counterfeitFinding": {"verdict": "MAYBE"}}"#,
        ] {
            assert!(parse::<Report>(bad).is_err(), "{bad}");
        }
    }
}
