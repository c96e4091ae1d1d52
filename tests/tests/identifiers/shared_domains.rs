//! A shop page on a shared platform is not the seller's own web domain (found by a tester:
//! two Trendyol shops with similar names gave their `trendyol.com/magaza/...` pages, were
//! linked as "shared web domain, with similar names", and the second scored 0.666 ELEVATED
//! from the other's finding; `smartstore.naver.com`, `noon.com`, `sites.google.com`, `bit.ly`
//! and `weidian.com` pages were taken as well).

use super::*;

#[tokio::test]
async fn shop_pages_on_a_shared_platform_link_no_one() {
    let suite = TestSuite::start().await;
    let page = |url: &str| Identifiers {
        web_domains: vec![url.to_owned()],
        ..Default::default()
    };
    let pages = [
        (
            "https://www.trendyol.com/magaza/anka-ev-tekstil-m-104512",
            "https://www.trendyol.com/magaza/anka-tekstil-m-209981",
        ),
        (
            "https://smartstore.naver.com/hanbit_trade",
            "https://smartstore.naver.com/hanbit_trading",
        ),
        (
            "sites.google.com/view/bright-deals",
            "sites.google.com/view/bright-deals-uk",
        ),
        // A second tester's: the mobile store pages of two Naver shops.
        (
            "https://m.smartstore.naver.com/seoulbeauty",
            "https://m.smartstore.naver.com/gangnam-cosmetics",
        ),
    ];
    for (i, (listed_page, other_page)) in pages.into_iter().enumerate() {
        let (listed_id, other_id) = (format!("SH-{i}"), format!("SO-{i}"));
        let results = submit(
            &suite,
            PLATFORM_A,
            vec![
                profile(
                    &format!("P-{listed_id}"),
                    &listed_id,
                    "Anka Ev Tekstil",
                    "TR",
                    page(listed_page),
                ),
                confirmed(&format!("F-{listed_id}"), &listed_id),
            ],
        )
        .await;
        let warnings = &results[0].warnings;
        assert_eq!(warnings.len(), 1, "{listed_page}: {results:#?}");
        assert_eq!(
            warnings[0].field,
            "reports[0].seller_profile.identifiers.web_domains[0]"
        );
        assert!(warnings[0].description.contains("shared"), "{warnings:?}");
        submit(
            &suite,
            PLATFORM_B,
            vec![profile(
                &format!("P-{other_id}"),
                &other_id,
                "Anka Tekstil",
                "TR",
                page(other_page),
            )],
        )
        .await;
        let listed = risk(&suite, account("demo-platform", &listed_id)).await;
        let other = risk(&suite, account("demo-marketplace", &other_id)).await;
        assert_eq!(listed.tier(), acx_proto::common::RiskTier::Blacklisted);
        assert_ne!(
            other.cluster_id, listed.cluster_id,
            "{other_page}: {other:#?}"
        );
        assert_eq!(
            other.tier(),
            acx_proto::common::RiskTier::Low,
            "{other_page}"
        );
    }
}
