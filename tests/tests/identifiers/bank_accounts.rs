//! Bank accounts as banks number them (see `main.rs`): an IBAN names one account anywhere;
//! a national account number is its country's, and without its bank's code (a sort code, a
//! routing number) names an account only together with a similar name.

use super::*;

use acx_proto::{
    common::RiskTier,
    liaison::{
        CheckPartyRequest, PartyDescription, check_party_request::Party,
        liaison_service_client::LiaisonServiceClient,
    },
    scoring::EntityMatch,
};
use acx_tests::TestSuite;

fn bank(account: &str) -> Identifiers {
    Identifiers {
        bank_accounts: vec![account.to_owned()],
        ..Default::default()
    }
}

fn clusters(matches: &[EntityMatch]) -> Vec<&str> {
    matches.iter().map(|m| m.cluster_id.as_str()).collect()
}

/// Found by a tester (severity high): a British seller with a confirmed finding and an
/// American seller (`Ohio Garden Supply LLC`) gave the same account number `40178362`, as did
/// a British seller of another bank; both innocent sellers were blacklisted
/// (BLACKLISTED_STRONG_LINK), and an entity check with the American number found the listed
/// cluster. A UK account number is unique only with its sort code, a US one only with its
/// routing number, and payout systems often send the number alone.
#[tokio::test]
async fn a_national_account_number_alone_links_no_other_country_and_no_other_name() {
    let suite = TestSuite::start().await;
    accept(
        &suite,
        PLATFORM_A,
        vec![
            profile(
                "P-BA-A",
                "BA-A",
                "Bright Lantern Ltd",
                "GB",
                bank("40178362"),
            ),
            confirmed("F-BA-A", "BA-A"),
        ],
    )
    .await;
    accept(
        &suite,
        PLATFORM_B,
        vec![
            profile(
                "P-BA-C",
                "BA-C",
                "Ohio Garden Supply LLC",
                "US",
                bank("40178362"),
            ),
            // A British seller of another bank, with the same 8 digits.
            profile(
                "P-BA-D",
                "BA-D",
                "Kentish Pottery Works",
                "GB",
                bank("4017 8362"),
            ),
            // The listed seller itself on another platform: same number, same name.
            profile(
                "P-BA-E",
                "BA-E",
                "Bright Lantern Ltd",
                "GB",
                bank("40178362"),
            ),
        ],
    )
    .await;
    let same = risk(&suite, account("demo-marketplace", "BA-E")).await;
    let american = risk(&suite, account("demo-marketplace", "BA-C")).await;
    let other_bank = risk(&suite, account("demo-marketplace", "BA-D")).await;
    let listed = risk(&suite, account("demo-platform", "BA-A")).await;
    assert_eq!(listed.tier(), RiskTier::Blacklisted);
    for innocent in [&american, &other_bank] {
        assert_ne!(innocent.cluster_id, listed.cluster_id, "{innocent:#?}");
        assert_ne!(innocent.tier(), RiskTier::Blacklisted, "{innocent:#?}");
        assert!(
            innocent
                .reasons
                .iter()
                .all(|r| r.code != "BLACKLISTED_STRONG_LINK"),
            "{innocent:#?}"
        );
    }
    assert_eq!(same.cluster_id, listed.cluster_id, "{same:#?}");

    // Customs asking about the American number: not the British cluster. About the British
    // one: the British holders (a weak match, no strong bank-account feature); not knowing the
    // country, every holder.
    let us = check_entity(&suite, "", "US", bank("40178362")).await;
    assert!(
        !clusters(&us).contains(&listed.cluster_id.as_str()),
        "{us:#?}"
    );
    assert!(
        clusters(&us).contains(&american.cluster_id.as_str()),
        "{us:#?}"
    );
    let gb = check_entity(&suite, "", "GB", bank("40178362")).await;
    assert!(
        clusters(&gb).contains(&listed.cluster_id.as_str()),
        "{gb:#?}"
    );
    assert!(
        !clusters(&gb).contains(&american.cluster_id.as_str()),
        "{gb:#?}"
    );
    assert!(
        gb.iter()
            .all(|m| m.match_score < 0.9 && !m.matched_features.contains(&"bank_account".into())),
        "{gb:#?}"
    );
    let anywhere = check_entity(&suite, "", "", bank("40178362")).await;
    for cluster in [&listed, &american, &other_bank] {
        assert!(
            clusters(&anywhere).contains(&cluster.cluster_id.as_str()),
            "{anywhere:#?}"
        );
    }

    // Customs asking through liaison (CheckParty) gets the same answers.
    let check_party = |country: &'static str| {
        let token = suite.token("customs:demo-customs");
        let liaison = suite.liaison;
        async move {
            LiaisonServiceClient::new(channel(liaison).await)
                .check_party(authorized(
                    CheckPartyRequest {
                        party: Some(Party::Entity(PartyDescription {
                            name: String::new(),
                            country: country.to_owned(),
                            identifiers: Some(bank("40178362")),
                        })),
                    },
                    &token,
                ))
                .await
                .unwrap()
                .into_inner()
                .matches
        }
    };
    let us = check_party("US").await;
    assert!(
        !clusters(&us).contains(&listed.cluster_id.as_str()),
        "{us:#?}"
    );
    assert!(
        clusters(&us).contains(&american.cluster_id.as_str()),
        "{us:#?}"
    );
    assert!(us.iter().all(|m| !m.blacklisted), "{us:#?}");
    let anywhere = check_party("").await;
    assert!(
        clusters(&anywhere).contains(&listed.cluster_id.as_str()),
        "{anywhere:#?}"
    );
}

/// A long US account number whose first nine digits happen to pass the ABA routing check is
/// no routing number and account (found by a second tester: `63100251678008` given by a
/// listed seller and an innocent one blacklisted the innocent, BLACKLISTED_STRONG_LINK).
#[tokio::test]
async fn a_us_account_number_is_weak_whatever_its_first_digits() {
    let suite = TestSuite::start().await;
    accept(
        &suite,
        PLATFORM_A,
        vec![
            profile(
                "P-US-A",
                "US-A",
                "Desert Sun Imports LLC",
                "US",
                bank("63100251678008"),
            ),
            confirmed("F-US-A", "US-A"),
        ],
    )
    .await;
    accept(
        &suite,
        PLATFORM_B,
        vec![profile(
            "P-US-B",
            "US-B",
            "Maple Leaf Quilting Co",
            "US",
            bank("63100251678008"),
        )],
    )
    .await;
    let listed = risk(&suite, account("demo-platform", "US-A")).await;
    let innocent = risk(&suite, account("demo-marketplace", "US-B")).await;
    assert_eq!(listed.tier(), RiskTier::Blacklisted);
    assert_ne!(innocent.cluster_id, listed.cluster_id, "{innocent:#?}");
    assert_ne!(innocent.tier(), RiskTier::Blacklisted, "{innocent:#?}");
}

/// What names one account still links on its own, whatever the names: an IBAN (whatever
/// country a platform records), a UK sort code with its account number.
#[tokio::test]
async fn ibans_and_account_numbers_with_their_bank_s_code_stay_strong() {
    let suite = TestSuite::start().await;
    let cases = [
        (
            ("DE", "DE93 3704 0044 0817 2635 44"),
            ("US", "de93370400440817263544"),
        ),
        (("GB", "20-00-00 40178362"), ("GB", "200000 4017 8362")),
        // Labelled, in either order (found by a second tester: the words stayed in the
        // number, and `S/C ...` was read as a Seychelles IBAN and left out).
        (
            ("GB", "Sort code 40-47-84, account 71234567"),
            ("GB", "71234567 (40-47-84)"),
        ),
        (
            ("GB", "S/C 40-47-85 A/C 71234568"),
            ("GB", "404785 71234568"),
        ),
    ];
    for (i, ((country_a, a), (country_b, b))) in cases.into_iter().enumerate() {
        let (listed_id, other_id) = (format!("BS-{i}"), format!("BO-{i}"));
        accept(
            &suite,
            PLATFORM_A,
            vec![
                profile(
                    &format!("P-{listed_id}"),
                    &listed_id,
                    "Kestrel Audio",
                    country_a,
                    bank(a),
                ),
                confirmed(&format!("F-{listed_id}"), &listed_id),
            ],
        )
        .await;
        accept(
            &suite,
            PLATFORM_B,
            vec![profile(
                &format!("P-{other_id}"),
                &other_id,
                "Meadowbrook Home Goods",
                country_b,
                bank(b),
            )],
        )
        .await;
        let other = risk(&suite, account("demo-marketplace", &other_id)).await;
        let listed = risk(&suite, account("demo-platform", &listed_id)).await;
        assert_eq!(other.cluster_id, listed.cluster_id, "{a} / {b}: {other:#?}");
        assert_eq!(other.tier(), RiskTier::Blacklisted, "{a} / {b}");
    }
}
