//! Weak links (a shared phone, e-mail, address or web domain with names of one party) and
//! what must not make one: generic shop names, placeholder and fictional phone numbers.

use super::*;

/// A generic shop name names no one: two "Official Store"s sharing a phone are not one
/// party (found by a tester, with a marketplace's placeholder phone: the innocent one was
/// LINKED_TO_BLACKLISTED, HIGH 0.93).
#[tokio::test]
async fn generic_shop_names_carry_no_weak_link() {
    let suite = TestSuite::start().await;
    let phone = || phones(&["+86 755 2345 9876"]);
    accept(
        &suite,
        PLATFORM_A,
        vec![
            profile("P-OS1", "OS-1", "Official Store", "CN", phone()),
            confirmed("F-OS1", "OS-1"),
        ],
    )
    .await;
    accept(
        &suite,
        PLATFORM_B,
        vec![profile("P-OS2", "OS-2", "Official Store", "CN", phone())],
    )
    .await;
    let listed = risk(&suite, account("demo-platform", "OS-1")).await;
    let other = risk(&suite, account("demo-marketplace", "OS-2")).await;
    assert_eq!(listed.tier(), acx_proto::common::RiskTier::Blacklisted);
    assert_ne!(other.cluster_id, listed.cluster_id, "{other:#?}");
}

/// Placeholder and fictional phone numbers are left out with a warning and link no one, even
/// between sellers of one common name (found by a tester: two "LI WEI" accounts giving China
/// Mobile's service number 13800138000 were linked, and the one with no findings was HIGH).
#[tokio::test]
async fn placeholder_phones_are_left_out_and_link_no_one() {
    let suite = TestSuite::start().await;
    for (i, number) in [
        "13800138000",
        "+1 (650) 555-0134",
        "+44 20 7946 0958",
        "+49 176 12345678",
    ]
    .into_iter()
    .enumerate()
    {
        let listed_id = format!("LW-{i}");
        let other_id = format!("LI-{i}");
        let results = submit(
            &suite,
            PLATFORM_A,
            vec![
                profile(
                    &format!("P-{listed_id}"),
                    &listed_id,
                    "Li Wei",
                    "CN",
                    phones(&[number]),
                ),
                confirmed(&format!("F-{listed_id}"), &listed_id),
            ],
        )
        .await;
        let warning = &results[0].warnings;
        assert_eq!(warning.len(), 1, "{number}: {results:#?}");
        assert_eq!(
            warning[0].field,
            "reports[0].seller_profile.identifiers.phones[0]"
        );
        assert!(
            warning[0].description.contains("placeholder"),
            "{number}: {warning:?}"
        );
        let other = submit(
            &suite,
            PLATFORM_B,
            vec![profile(
                &format!("P-{other_id}"),
                &other_id,
                "LI WEI",
                "CN",
                phones(&[number]),
            )],
        )
        .await;
        assert_eq!(other[0].warnings.len(), 1, "{number}: {other:#?}");
        let listed = risk(&suite, account("demo-platform", &listed_id)).await;
        let other = risk(&suite, account("demo-marketplace", &other_id)).await;
        assert_eq!(listed.tier(), acx_proto::common::RiskTier::Blacklisted);
        assert_ne!(other.cluster_id, listed.cluster_id, "{number}: {other:#?}");
        assert_eq!(other.tier(), acx_proto::common::RiskTier::Low, "{number}");
    }
}
