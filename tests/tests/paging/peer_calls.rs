//! Liaison calls scoring through the shared client stack (`acx-client`, as `acxctl` does):
//! what is safe to repeat is tried again when scoring answers UNAVAILABLE, and nothing
//! else is; a call to scoring never outlives the liaison call it serves.

use acx_proto::liaison::{GetModelCardRequest, SetLanePolicyRequest};
use acx_tests::{Backend, authorized};
use std::time::Duration;
use tonic::Code;

use crate::LiaisonHarness;

#[tokio::test]
async fn liaison_retries_what_is_safe_to_repeat_and_nothing_else() {
    let liaison = LiaisonHarness::start(Backend::Sqlite).await.unwrap();
    let token = &liaison.customs[0];
    let mut client = liaison.client().await;

    // A read: scoring fails twice, the third attempt answers.
    liaison.fake.fail_next("GetModelCard", 2);
    client
        .get_model_card(authorized(GetModelCardRequest {}, token))
        .await
        .expect("answered after two retries");
    assert_eq!(liaison.fake.calls("GetModelCard"), 3);

    // Past the policy's four attempts the caller hears UNAVAILABLE.
    liaison.fake.fail_next("GetModelCard", 4);
    let refused = client
        .get_model_card(authorized(GetModelCardRequest {}, token))
        .await
        .expect_err("scoring down for every attempt");
    assert_eq!(refused.code(), Code::Unavailable);
    assert_eq!(liaison.fake.calls("GetModelCard"), 4);

    // A failure that retrying cannot mend (an answer too large to read is OUT_OF_RANGE
    // in the client) is not "unavailable; retry later", and is not retried.
    liaison
        .fake
        .fail_next_with("GetModelCard", 1, Code::OutOfRange);
    let refused = client
        .get_model_card(authorized(GetModelCardRequest {}, token))
        .await
        .expect_err("scoring failed");
    assert_eq!(refused.code(), Code::Internal, "{refused:?}");
    assert_eq!(liaison.fake.calls("GetModelCard"), 1);

    // A repeat of SetLanePolicy would append the policy to scoring's history again.
    liaison.fake.fail_next("SetLanePolicy", 1);
    let policy = SetLanePolicyRequest {
        customs_office: "USLAX".to_owned(),
        red_share: 0.05,
        yellow_share: 0.1,
        random_share: 0.01,
        exploration_share: 0.0,
    };
    let refused = client
        .set_lane_policy(authorized(policy, token))
        .await
        .expect_err("not repeated");
    assert_eq!(refused.code(), Code::Unavailable);
    assert_eq!(liaison.fake.calls("SetLanePolicy"), 1);
}

/// A `grpc-timeout` value (`299m`, `299999u`, `10S`, ...).
fn grpc_timeout(value: &str) -> Duration {
    let (digits, unit) = value.split_at(value.len() - 1);
    let amount: u64 = digits.parse().unwrap();
    match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => panic!("not a grpc-timeout: {value}"),
    }
}

#[tokio::test]
async fn a_call_to_scoring_gets_no_more_than_what_is_left_of_the_callers_deadline() {
    let liaison = LiaisonHarness::start(Backend::Sqlite).await.unwrap();
    let token = &liaison.customs[0];
    let mut client = liaison.client().await;
    // Liaison's own look at start-up (its settings checked, 3 s): the calls counted follow.
    let started = liaison.fake.model_card_timeouts();
    assert_eq!(started.len(), 1, "{started:?}");
    let asked_since = || liaison.fake.model_card_timeouts().split_off(started.len());

    // No deadline from the caller: scoring is asked with liaison's own (10 s per attempt).
    client
        .get_model_card(authorized(GetModelCardRequest {}, token))
        .await
        .unwrap();
    let asked = asked_since();
    let own = grpc_timeout(asked[0].as_deref().expect("a deadline is always sent"));
    assert!(
        own > Duration::from_secs(9) && own <= Duration::from_secs(10),
        "{asked:?}"
    );

    // A caller that waits 300 ms for a scoring that never answers: scoring is asked
    // within those 300 ms, once, the caller hears DEADLINE_EXCEEDED, and liaison gives the
    // call to scoring up (scoring sees it go).
    liaison.fake.hang_model_card(true);
    let mut request = authorized(GetModelCardRequest {}, token);
    request.set_timeout(Duration::from_millis(300));
    let status = client
        .get_model_card(request)
        .await
        .expect_err("scoring never answers");
    // Liaison answers DEADLINE_EXCEEDED a hair before the deadline; tonic's client may
    // still report its own timer first, as CANCELLED "Timeout expired".
    assert!(
        status.code() == Code::DeadlineExceeded
            || (status.code() == Code::Cancelled && status.message() == "Timeout expired"),
        "{status:?}"
    );
    liaison.fake.model_cards_abandoned(1).await;
    let asked = asked_since();
    assert_eq!(asked.len(), 2, "one attempt, not retried: {asked:?}");
    let bounded = grpc_timeout(asked[1].as_deref().expect("a deadline is always sent"));
    assert!(bounded <= Duration::from_millis(300), "{asked:?}");

    // The caller's deadline bounds its own call only: the next one is as before.
    liaison.fake.hang_model_card(false);
    client
        .get_model_card(authorized(GetModelCardRequest {}, token))
        .await
        .unwrap();
    let asked = asked_since();
    assert!(grpc_timeout(asked[2].as_deref().unwrap()) > Duration::from_secs(9));
}
