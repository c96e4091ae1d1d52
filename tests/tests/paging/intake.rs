//! SubmitDeclarations against a brute-force model: random batches of new declarations,
//! repeats within a batch and of stored ones (with the same or other content) and invalid
//! ones, each answered and stored as the model says (the first copy of an id wins, a batch
//! is stored whole), on both backends; and overlapping batches sent at once.

use std::collections::HashMap;

use acx_proto::liaison::{
    AssessmentState, Declaration, DeclarationOutcome, SubmitDeclarationsRequest,
};
use acx_tests::{Backend, authorized, fixtures::get_shipment};
use rand::Rng;

use crate::{LiaisonHarness, declaration, now_seconds, seeded};

/// Declaration `id` declared at `time` in one of two contents (`variant` 0 or 1: its
/// importer).
fn variant(id: &str, variant: u8, time: i64) -> Declaration {
    declaration(id, "OFF-1", &format!("IMP-{variant}"), "640399", time)
}

async fn every_batch_is_stored_as_the_model_says(backend: Backend, batches: usize) {
    let Some(liaison) = LiaisonHarness::start(backend).await else {
        return;
    };
    let (seed, mut rng) = seeded();
    let token = &liaison.customs[0];
    let mut client = liaison.client().await;
    // The model: the content stored under each id.
    let mut stored: HashMap<String, u8> = HashMap::new();
    let time = now_seconds();
    for batch_no in 0..batches {
        let size = rng.random_range(1..=40);
        let mut batch = Vec::with_capacity(size);
        let mut expected = Vec::with_capacity(size);
        // In the order the batch is read: what each declaration must get.
        let mut model = stored.clone();
        for _ in 0..size {
            let id = format!("D-{}", rng.random_range(0..60));
            let content: u8 = rng.random_range(0..2);
            let mut declaration = variant(&id, content, time);
            if rng.random_bool(0.1) {
                declaration.lines[0].hs_code = "12".to_owned();
                expected.push(DeclarationOutcome::Rejected);
            } else {
                expected.push(match model.get(&id) {
                    None => {
                        model.insert(id.clone(), content);
                        DeclarationOutcome::Accepted
                    }
                    Some(&held) if held == content => DeclarationOutcome::Duplicate,
                    Some(_) => DeclarationOutcome::AlreadyExists,
                });
            }
            batch.push(declaration);
        }
        let ids: Vec<String> = batch.iter().map(|d| d.declaration_id.clone()).collect();
        let results = client
            .submit_declarations(authorized(
                SubmitDeclarationsRequest {
                    declarations: batch,
                },
                token,
            ))
            .await
            .unwrap()
            .into_inner()
            .results;
        let outcomes: Vec<DeclarationOutcome> = results.iter().map(|r| r.outcome()).collect();
        assert_eq!(
            outcomes, expected,
            "batch {batch_no} of seed {seed} ({backend:?}): {ids:?}"
        );
        for (result, id) in results.iter().zip(&ids) {
            assert_eq!(&result.declaration_id, id, "seed {seed}");
            if result.outcome() != DeclarationOutcome::Rejected {
                // The fake assesses every declaration.
                assert_eq!(
                    result.assessment_state(),
                    AssessmentState::Assessed,
                    "{id} in batch {batch_no} of seed {seed}: {result:?}"
                );
            }
        }
        stored = model;
        // Stored as the model says: the first content of each id.
        for id in ids.iter().filter(|id| stored.contains_key(*id)) {
            let shipment = get_shipment(&mut client, token, id).await;
            assert_eq!(shipment.assessment_state(), AssessmentState::Assessed);
            assert_eq!(
                shipment.declaration.unwrap().importer_id,
                format!("IMP-{}", stored[id]),
                "{id} after batch {batch_no} of seed {seed} ({backend:?})"
            );
        }
    }
}

#[tokio::test]
async fn every_batch_is_stored_as_the_model_says_on_sqlite() {
    every_batch_is_stored_as_the_model_says(Backend::Sqlite, 25).await;
}

#[tokio::test]
async fn every_batch_is_stored_as_the_model_says_on_postgres() {
    every_batch_is_stored_as_the_model_says(Backend::Postgres, 25).await;
}

/// The same declarations sent at once by two callers in opposite orders: every call is
/// answered, and each id is ACCEPTED by exactly one of them (found by a tester: on
/// PostgreSQL the two inserts deadlocked and one call failed with INTERNAL).
async fn overlapping_batches_are_answered_once_each(backend: Backend) {
    let Some(liaison) = LiaisonHarness::start(backend).await else {
        return;
    };
    let token = liaison.customs[0].clone();
    let time = now_seconds();
    for round in 0..4 {
        let forward: Vec<Declaration> = (0..300)
            .map(|i| variant(&format!("R{round}-{i:03}"), 0, time))
            .collect();
        let mut backward = forward.clone();
        backward.reverse();
        let client = liaison.client().await;
        let calls = [forward, backward].map(|declarations| {
            let mut client = client.clone();
            let token = token.clone();
            tokio::spawn(async move {
                client
                    .submit_declarations(authorized(
                        SubmitDeclarationsRequest { declarations },
                        &token,
                    ))
                    .await
            })
        });
        let mut accepted: HashMap<String, usize> = HashMap::new();
        for call in calls {
            let results = call
                .await
                .unwrap()
                .unwrap_or_else(|status| panic!("round {round} ({backend:?}): {status:?}"))
                .into_inner()
                .results;
            for result in results {
                if result.outcome() == DeclarationOutcome::Accepted {
                    *accepted.entry(result.declaration_id).or_default() += 1;
                } else {
                    assert_eq!(result.outcome(), DeclarationOutcome::Duplicate);
                }
            }
        }
        assert_eq!(accepted.len(), 300, "round {round} ({backend:?})");
        assert!(
            accepted.values().all(|n| *n == 1),
            "round {round} ({backend:?})"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_batches_are_answered_once_each_on_sqlite() {
    overlapping_batches_are_answered_once_each(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_batches_are_answered_once_each_on_postgres() {
    overlapping_batches_are_answered_once_each(Backend::Postgres).await;
}
