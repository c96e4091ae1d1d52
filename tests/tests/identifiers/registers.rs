//! Strong identifiers as their registers issue them (see `main.rs`): placeholders link no
//! one; registration and tax numbers link within their register, in its own format,
//! whatever country a platform records.

use super::*;

use acx_proto::common::Identifiers;
use acx_tests::TestSuite;

/// Placeholders given as strong identifiers link no one: found by a tester, `NONE`,
/// `0000000000` and `000000` linked an unrelated seller of another platform to a
/// counterfeiter, and one confirmed finding listed it (BLACKLISTED_STRONG_LINK).
#[tokio::test]
async fn placeholders_are_left_out_with_a_warning_and_link_no_one() {
    let suite = TestSuite::start().await;
    let fillers = || Identifiers {
        tax_numbers: vec!["N/A N/A".to_owned()],
        business_registration_numbers: vec!["not provided".to_owned()],
        bank_accounts: vec!["0000 0000 0000".to_owned()],
        ..Default::default()
    };
    let counterfeiter = submit(
        &suite,
        PLATFORM_A,
        vec![
            profile("P-BAD", "BAD-1", "Quick Deals", "CN", fillers()),
            confirmed("F-BAD", "BAD-1"),
        ],
    )
    .await;
    let innocent = submit(
        &suite,
        PLATFORM_B,
        vec![profile(
            "P-OK",
            "INNOCENT-1",
            "Garden Tools Ltd",
            "GB",
            fillers(),
        )],
    )
    .await;
    for results in [&counterfeiter, &innocent] {
        let warned: Vec<&str> = results[0]
            .warnings
            .iter()
            .map(|w| w.description.as_str())
            .collect();
        assert_eq!(warned.len(), 3, "{results:#?}");
        assert!(
            warned.iter().all(|w| w.contains("is a placeholder")),
            "{warned:?}"
        );
    }
    let listed = risk(&suite, account("demo-platform", "BAD-1")).await;
    let other = risk(&suite, account("demo-marketplace", "INNOCENT-1")).await;
    assert_eq!(listed.tier(), acx_proto::common::RiskTier::Blacklisted);
    assert_ne!(other.cluster_id, listed.cluster_id, "{other:#?}");
    assert_ne!(other.tier(), acx_proto::common::RiskTier::Blacklisted);
}

/// A company number is its register's: the same digits from two countries' registers are two
/// companies (found by a tester: a British and an Irish firm with company number 04732918
/// were linked, and a confirmed finding against one listed the other); from one register,
/// one company, whatever the names.
#[tokio::test]
async fn registration_numbers_link_within_their_country_s_register_only() {
    let suite = TestSuite::start().await;
    let number = |n: &str| Identifiers {
        business_registration_numbers: vec![n.to_owned()],
        ..Default::default()
    };
    accept(
        &suite,
        PLATFORM_A,
        vec![
            profile("P-GB", "GB-1", "Harbour Tea Ltd", "GB", number("04732918")),
            confirmed("F-GB", "GB-1"),
        ],
    )
    .await;
    accept(
        &suite,
        PLATFORM_B,
        vec![
            profile(
                "P-IE",
                "IE-1",
                "Celtic Shoes Limited",
                "IE",
                number("04732918"),
            ),
            // The same British company under another shop name, its number written otherwise.
            profile("P-GB2", "GB-2", "Teatime Direct", "GB", number("0473 2918")),
        ],
    )
    .await;
    let listed = risk(&suite, account("demo-platform", "GB-1")).await;
    let irish = risk(&suite, account("demo-marketplace", "IE-1")).await;
    let same = risk(&suite, account("demo-marketplace", "GB-2")).await;
    assert_eq!(listed.tier(), acx_proto::common::RiskTier::Blacklisted);
    assert_ne!(irish.cluster_id, listed.cluster_id, "{irish:#?}");
    assert_ne!(irish.tier(), acx_proto::common::RiskTier::Blacklisted);
    assert_eq!(same.cluster_id, listed.cluster_id, "{same:#?}");
    assert_eq!(same.tier(), acx_proto::common::RiskTier::Blacklisted);

    // Customs asking about the number: in the British register, the British company; not
    // knowing the country, the holders in every register.
    let clusters = |matches: Vec<acx_proto::scoring::EntityMatch>| {
        let mut ids: Vec<String> = matches.into_iter().map(|m| m.cluster_id).collect();
        ids.sort();
        ids
    };
    let british = check_entity(&suite, "", "GB", number("04732918")).await;
    assert_eq!(clusters(british), std::slice::from_ref(&listed.cluster_id));
    let anywhere = check_entity(&suite, "", "", number("04732918")).await;
    let mut both = vec![listed.cluster_id.clone(), irish.cluster_id.clone()];
    both.sort();
    assert_eq!(clusters(anywhere), both);
}

/// Found by a tester in a second round: placeholder tax numbers (`VAT exempt`,
/// `GB000000000`, Mexico's generic RFC) linked unrelated sellers to a listed one; national
/// tax numbers of the same digits (an INN, a VKN) linked a Russian and a Turkish seller; a
/// tax number in Arabic-Indic digits was another value than its ASCII form.
#[tokio::test]
async fn tax_numbers_link_as_their_register_issued_them_and_placeholders_link_no_one() {
    let suite = TestSuite::start().await;
    let tax = |numbers: &[&str]| Identifiers {
        tax_numbers: numbers.iter().map(|n| (*n).to_owned()).collect(),
        ..Default::default()
    };
    let fillers = ["VAT exempt", "GB000000000", "XAXX010101000"];
    let listed = submit(
        &suite,
        PLATFORM_A,
        vec![
            profile("P-RU", "RU-1", "Romashka LLC", "RU", tax(&fillers)),
            profile(
                "P-RU2",
                "RU-2",
                "Vostok Trade",
                "RU",
                tax(&["ИНН 7707083893"]),
            ),
            profile(
                "P-AE",
                "AE-1",
                "Gulf Gadgets",
                "AE",
                tax(&["300123456700003"]),
            ),
            confirmed("F-RU", "RU-1"),
            confirmed("F-RU2", "RU-2"),
            confirmed("F-AE", "AE-1"),
        ],
    )
    .await;
    assert_eq!(listed[0].warnings.len(), 3, "{:#?}", listed[0]);
    submit(
        &suite,
        PLATFORM_B,
        vec![
            profile("P-GB", "GB-9", "Garden Tools Ltd", "GB", tax(&fillers)),
            profile(
                "P-TR",
                "TR-1",
                "Anadolu Tekstil",
                "TR",
                tax(&["VKN 7707083893"]),
            ),
            // The same Emirati VAT number, in Arabic-Indic digits.
            profile(
                "P-AE2",
                "AE-2",
                "Desert Deals",
                "AE",
                tax(&["٣٠٠١٢٣٤٥٦٧٠٠٠٠٣"]),
            ),
        ],
    )
    .await;
    let not_listed =
        |r: &acx_proto::scoring::SellerRisk| r.tier() != acx_proto::common::RiskTier::Blacklisted;
    let gardener = risk(&suite, account("demo-marketplace", "GB-9")).await;
    let turkish = risk(&suite, account("demo-marketplace", "TR-1")).await;
    let emirati = risk(&suite, account("demo-marketplace", "AE-2")).await;
    assert!(not_listed(&gardener), "{gardener:#?}");
    assert!(not_listed(&turkish), "{turkish:#?}");
    assert_eq!(
        emirati.tier(),
        acx_proto::common::RiskTier::Blacklisted,
        "{emirati:#?}"
    );
}

/// A number written in its register's own format names its party whatever country a
/// platform records: a Chinese seller's USCC given under HK still links (found by a tester:
/// scoping every registration number by country let a seller dodge linking that way).
#[tokio::test]
async fn a_uscc_links_whatever_country_a_platform_records() {
    let suite = TestSuite::start().await;
    let uscc = || Identifiers {
        business_registration_numbers: vec!["91440300MA5FXL2X3K".to_owned()],
        ..Default::default()
    };
    accept(
        &suite,
        PLATFORM_A,
        vec![
            profile(
                "P-CN",
                "CN-1",
                "Shenzhen Bright Trading Co., Ltd.",
                "CN",
                uscc(),
            ),
            confirmed("F-CN", "CN-1"),
        ],
    )
    .await;
    accept(
        &suite,
        PLATFORM_B,
        vec![profile("P-HK", "HK-1", "Bright Deals HK", "HK", uscc())],
    )
    .await;
    let listed = risk(&suite, account("demo-platform", "CN-1")).await;
    let dodger = risk(&suite, account("demo-marketplace", "HK-1")).await;
    assert_eq!(dodger.cluster_id, listed.cluster_id, "{dodger:#?}");
    assert_eq!(dodger.tier(), acx_proto::common::RiskTier::Blacklisted);
}
