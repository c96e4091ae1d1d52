//! Liaison calls scoring through the shared client stack (`acx-client`, as `acxctl` does):
//! what is safe to repeat is tried again when scoring answers UNAVAILABLE, and nothing
//! else is.

use acx_proto::liaison::{GetModelCardRequest, SetLanePolicyRequest};
use acx_tests::{Backend, authorized};
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
