//! Acceptance test of issue 16: every row of the development data (37,385 real-looking
//! customs declarations of the Korea Customs Service, 2020) loads through liaison's
//! `SubmitDeclarations` into the real suite with zero rejections, each stored and assessed;
//! and the inspection outcomes of a sample go through `RecordInspectionResult`.
//!
//! The data lies beside the repository (`shared/data/kcs-2020/`, or `ACX_KCS_2020_CSV`);
//! without it the test says so and skips.

#![allow(clippy::unwrap_used)]

use std::time::Instant;

use acx_cli::kcs;
use acx_proto::liaison::{
    AssessmentState, DeclarationOutcome, GetShipmentRequest, RecordInspectionResultRequest,
    SubmitDeclarationsRequest, liaison_service_client::LiaisonServiceClient,
};
use acx_tests::{TestSuite, authorized, channel};

/// Declarations per call: the most liaison takes.
const BATCH: usize = 500;
/// Calls in flight at once.
const CALLERS: usize = 4;

fn data_file() -> Option<std::path::PathBuf> {
    if let Some(path) = std::env::var_os("ACX_KCS_2020_CSV") {
        return Some(path.into());
    }
    let found = kcs::find_data_file(std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
    if found.is_none() {
        eprintln!(
            "skipping: {} not found above the repository (set ACX_KCS_2020_CSV)",
            kcs::DATA_FILE
        );
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_row_of_the_development_data_loads_with_zero_rejections() {
    let Some(path) = data_file() else {
        return;
    };
    let records = kcs::read(&path).unwrap();
    assert_eq!(records.len(), 37_385, "the 2020 file has 37,385 rows");
    let suite = TestSuite::start().await;
    let token = suite.token("customs:demo-customs");
    let mut liaison =
        LiaisonServiceClient::new(channel(suite.liaison).await).max_decoding_message_size(64 << 20);

    // Batches go in from a few callers at once, as a customs system's workers would send
    // them; each answer says what happened to each declaration.
    let started = Instant::now();
    let chunks: Vec<Vec<kcs::Record>> = records.chunks(BATCH).map(<[_]>::to_vec).collect();
    let queue = std::sync::Arc::new(std::sync::Mutex::new(chunks));
    let mut callers = Vec::new();
    for _ in 0..CALLERS {
        let (queue, token, mut liaison) = (queue.clone(), token.clone(), liaison.clone());
        callers.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            loop {
                let Some(chunk) = queue.lock().unwrap().pop() else {
                    return answers;
                };
                let request = SubmitDeclarationsRequest {
                    declarations: chunk.iter().map(|r| r.declaration.clone()).collect(),
                };
                let results = liaison
                    .submit_declarations(authorized(request, &token))
                    .await
                    .unwrap()
                    .into_inner()
                    .results;
                assert_eq!(results.len(), chunk.len());
                answers.extend(chunk.into_iter().map(|r| r.line).zip(results));
            }
        }));
    }
    let mut rejected = Vec::new();
    let mut pending = 0;
    let mut answered = 0;
    for caller in callers {
        for (line, result) in caller.await.unwrap() {
            answered += 1;
            if result.outcome() != DeclarationOutcome::Accepted {
                rejected.push((line, result));
            } else if result.assessment_state() != AssessmentState::Assessed {
                pending += 1;
            }
        }
    }
    assert_eq!(answered, records.len());
    let elapsed = started.elapsed();
    eprintln!(
        "loaded {} declarations in {:.1} s ({:.0}/s), {} rejected, {pending} pending",
        records.len(),
        elapsed.as_secs_f64(),
        records.len() as f64 / elapsed.as_secs_f64(),
        rejected.len()
    );
    assert!(
        rejected.is_empty(),
        "{} rejected, the first: {:#?}",
        rejected.len(),
        rejected.iter().take(5).collect::<Vec<_>>()
    );
    assert_eq!(pending, 0, "scoring assessed every declaration");

    // A row as stored: the national codes and the rounded value, unchanged otherwise.
    let noisy = records
        .iter()
        .find(|r| {
            r.declaration.lines[0]
                .declared_value
                .as_ref()
                .is_some_and(|v| v.amount.len() > 15)
        })
        .unwrap();
    let stored = liaison
        .get_shipment(authorized(
            GetShipmentRequest {
                name: format!("shipments/{}", noisy.declaration.declaration_id),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .shipment
        .unwrap();
    let declaration = stored.declaration.unwrap();
    assert_eq!(declaration.national_codes.len(), 5);
    assert_eq!(declaration.lines[0].national_codes.len(), 2);
    let amount = &declaration.lines[0].declared_value.as_ref().unwrap().amount;
    let sent = &noisy.declaration.lines[0]
        .declared_value
        .as_ref()
        .unwrap()
        .amount;
    assert!(amount.len() < sent.len(), "{sent} rounded to {amount}");
    assert!(
        (amount.parse::<f64>().unwrap() - sent.parse::<f64>().unwrap()).abs() < 1e-6,
        "{sent} vs {amount}"
    );

    // Inspection outcomes of a sample, frauds among them, recorded and forwarded.
    let sample: Vec<&kcs::Record> = records
        .iter()
        .filter(|r| r.fraud)
        .take(20)
        .chain(records.iter().filter(|r| !r.fraud).take(20))
        .collect();
    for record in sample {
        let answer = liaison
            .record_inspection_result(authorized(
                RecordInspectionResultRequest {
                    name: format!("shipments/{}", record.declaration.declaration_id),
                    result: Some(record.result.clone()),
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner();
        let result = answer.shipment.unwrap().inspection_result.unwrap();
        assert_eq!(result.kind, record.result.kind);
    }
}
