//! Pages bounded by bytes: issue 12 found the default SearchShipments page of eight
//! sea-freight declarations of 999 lines under one importer to be 4.68 MB, over the 4 MiB
//! that grpcurl, grpcio, tonic and acxctl accept by default. A page now stops at about
//! 1 MiB (an item larger than that alone), with a token to go on.

use acx_proto::{
    common::{ConsignmentNumbers, Money},
    liaison::{
        DeclarationLine, DeclarationOutcome, SearchShipmentsRequest, SubmitDeclarationsRequest,
        TransportMode, ValuationBasis, liaison_service_client::LiaisonServiceClient,
    },
};
use acx_tests::{TestSuite, authorized, channel};
use prost::Message;

use crate::{declaration, now_seconds};

/// Goods of a container of mixed consumer goods, by HS code.
const GOODS: &[(&str, &str)] = &[
    (
        "8518302000",
        "wireless earphones with charging case, retail packed",
    ),
    (
        "6403990000",
        "men's leather footwear, assorted sizes, boxed in pairs",
    ),
    (
        "9503000090",
        "plastic construction toy sets, 300 pieces, age 6 and up",
    ),
    (
        "4202920000",
        "travel bags with outer surface of textile materials",
    ),
    (
        "8517620000",
        "wireless network adapters for desktop computers",
    ),
];

#[tokio::test]
async fn the_default_search_page_fits_a_default_client_however_large_the_declarations() {
    let suite = TestSuite::start().await;
    let token = suite.token("customs:demo-customs");
    // tonic's default client limits: 4 MiB to receive, as grpcurl and grpcio.
    let mut client = LiaisonServiceClient::new(channel(suite.liaison).await);
    let time = now_seconds() - 86_400;
    for i in 0..8 {
        let id = format!("SEA-{i}");
        let mut sea = declaration(&id, "USLGB", "IMP-SEA", GOODS[0].0, time + i);
        sea.transport_mode = TransportMode::Sea as i32;
        sea.carrier_id = "MAEU".to_owned();
        sea.consignment = Some(ConsignmentNumbers {
            bills_of_lading: vec![format!("MAEU2400{i:05}")],
            ..Default::default()
        });
        sea.lines = (0..999)
            .map(|n| {
                let (hs_code, description) = GOODS[n % GOODS.len()];
                DeclarationLine {
                    line_number: n as i32 + 1,
                    hs_code: hs_code.to_owned(),
                    // Sea-freight manifests describe goods at length (up to 500 characters).
                    description: format!(
                        "{description}, lot {n}; {}",
                        "packed in export cartons on pallets, marks and numbers as per \
                         commercial invoice and packing list, shipper's load, stow and count, \
                         said to contain goods of the description above, origin as declared, \
                         no wood packaging material, no dangerous goods, no batteries shipped \
                         loose, consignee notified on arrival at the port of discharge, cargo \
                         insured under open cover, ambient temperature, seal intact"
                    ),
                    quantity: 120.0 + n as f64,
                    quantity_unit: "PCE".to_owned(),
                    net_mass_kg: 35.5,
                    gross_mass_kg: 41.0,
                    declared_value: Some(Money {
                        currency_code: "USD".to_owned(),
                        amount: format!("{}.50", 900 + n),
                    }),
                    valuation_basis: ValuationBasis::Fob as i32,
                    duty_rate: 0.049,
                    declared_duty: None,
                    national_codes: Vec::new(),
                }
            })
            .collect();
        let results = client
            .submit_declarations(authorized(
                SubmitDeclarationsRequest {
                    declarations: vec![sea],
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner()
            .results;
        assert_eq!(
            results[0].outcome(),
            DeclarationOutcome::Accepted,
            "{results:?}"
        );
    }
    let mut request = SearchShipmentsRequest {
        importer_id: "IMP-SEA".to_owned(),
        ..Default::default()
    };
    let mut names = Vec::new();
    let mut pages = Vec::new();
    loop {
        let page = client
            .search_shipments(authorized(request.clone(), &token))
            .await
            .expect("a page a default client can read")
            .into_inner();
        let largest = page
            .shipments
            .iter()
            .map(Message::encoded_len)
            .max()
            .unwrap_or(0);
        let bytes = page.encoded_len();
        assert!(
            bytes <= (1024 * 1024).max(largest) + 1024,
            "{bytes} bytes, largest shipment {largest}"
        );
        pages.push(bytes);
        names.extend(page.shipments.into_iter().map(|s| s.name));
        if page.next_page_token.is_empty() {
            break;
        }
        request.page_token = page.next_page_token;
    }
    let total: usize = pages.iter().sum();
    assert!(
        total > 4 * 1024 * 1024,
        "the case of the issue: {total} bytes in all"
    );
    assert!(pages.len() >= 5, "{pages:?}");
    names.sort();
    assert_eq!(
        names,
        (0..8)
            .map(|i| format!("shipments/SEA-{i}"))
            .collect::<Vec<_>>()
    );
}
