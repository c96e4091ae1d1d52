//! Values that must not link unrelated sellers: generic shop names, placeholder and fictional
//! phone numbers (weak identifiers), and words or printed examples in the place of a
//! registration number, tax number or bank account (strong ones, which list on their own).

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

/// Words and printed examples in a strong identifier's place are left out with a warning and
/// link no one (found by a tester: three unrelated sellers who typed `PayPal` as their bank
/// account, or the textbook IBAN `GB82 WEST 1234 5698 7654 32`, were all listed by one
/// confirmed finding against one of them).
#[tokio::test]
async fn words_and_printed_examples_are_no_strong_identifiers() {
    let suite = TestSuite::start().await;
    /// Puts a value in one kind of identifier.
    type Put = fn(&mut Identifiers, String);
    let cases: [(&str, Put); 17] = [
        ("PayPal", |i, v| i.bank_accounts.push(v)),
        ("GB82 WEST 1234 5698 7654 32", |i, v| {
            i.bank_accounts.push(v)
        }),
        ("4111 1111 1111 1111", |i, v| i.bank_accounts.push(v)),
        ("see website", |i, v| i.tax_numbers.push(v)),
        ("DE999999999", |i, v| i.tax_numbers.push(v)),
        ("Kleinunternehmer", |i, v| {
            i.business_registration_numbers.push(v)
        }),
        // A tester's fourth round: VAT forms' examples, the law a small business invokes,
        // an account shown by its last digits, numbers many sellers copy, a spreadsheet's
        // scientific notation, letters and digits in runs.
        ("DE 123 456 789", |i, v| i.tax_numbers.push(v)),
        ("NL123456789B01", |i, v| i.tax_numbers.push(v)),
        ("Kleinunternehmer gem. § 19 UStG", |i, v| {
            i.tax_numbers.push(v)
        }),
        ("ending in 4821", |i, v| i.bank_accounts.push(v)),
        ("GB999999973", |i, v| i.tax_numbers.push(v)),
        ("LU20260743", |i, v| i.tax_numbers.push(v)),
        ("1.0E+10", |i, v| i.business_registration_numbers.push(v)),
        ("ABC123", |i, v| i.business_registration_numbers.push(v)),
        ("DE02 1203 0000 0000 2020 51", |i, v| {
            i.bank_accounts.push(v)
        }),
        // A fifth round: the import VAT numbers marketplaces print on their sellers' orders.
        ("IOSS: IM2760000742", |i, v| i.tax_numbers.push(v)),
        ("EU372000041", |i, v| i.tax_numbers.push(v)),
    ];
    for (i, (value, put)) in cases.into_iter().enumerate() {
        let mut identifiers = Identifiers::default();
        put(&mut identifiers, value.to_owned());
        let listed_id = format!("SP-{i}");
        let other_id = format!("SO-{i}");
        let listed = submit(
            &suite,
            PLATFORM_A,
            vec![
                profile(
                    &format!("P-{listed_id}"),
                    &listed_id,
                    "Kestrel Audio",
                    "DE",
                    identifiers.clone(),
                ),
                confirmed(&format!("F-{listed_id}"), &listed_id),
            ],
        )
        .await;
        let other = submit(
            &suite,
            PLATFORM_B,
            vec![profile(
                &format!("P-{other_id}"),
                &other_id,
                "Sakura Kimono House",
                "DE",
                identifiers,
            )],
        )
        .await;
        for results in [&listed, &other] {
            assert_eq!(results[0].warnings.len(), 1, "{value}: {results:#?}");
        }
        let listed = risk(&suite, account("demo-platform", &listed_id)).await;
        let other = risk(&suite, account("demo-marketplace", &other_id)).await;
        assert_eq!(listed.tier(), acx_proto::common::RiskTier::Blacklisted);
        assert_ne!(other.cluster_id, listed.cluster_id, "{value}: {other:#?}");
        assert_eq!(other.tier(), acx_proto::common::RiskTier::Low, "{value}");
    }
}
