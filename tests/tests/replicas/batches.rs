//! `AssessShipments` with `record`: each declaration of a batch is recorded once, whether
//! it is new, recorded before, sent twice in the batch, or sent again with other content,
//! and the answer says which; a second replica reads what the first recorded.

use acx_proto::scoring::{AssessShipmentRequest, AssessShipmentsRequest, DeclaredShipment, Lane};

use super::{Backend, Replica, authorized, declaration, scalar};

/// A scoring database on `backend`: a SQLite file in `dir`, or a fresh PostgreSQL database
/// (None without a PostgreSQL server to test against).
pub(super) async fn database_url(backend: Backend, dir: &std::path::Path) -> Option<String> {
    match backend {
        Backend::Sqlite => Some(format!("sqlite://{}", dir.join("scoring.db").display())),
        Backend::Postgres => {
            let server = acx_tests::postgres_server_url()?;
            Some(acx_tests::fresh_postgres_database(&server).await)
        }
    }
}

async fn batch_records_each_declaration_once(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(url) = database_url(backend, dir.path()).await else {
        return;
    };
    let token = acx_runtime::credentials::generate_token();
    let a = Replica::start(None, &token, &url, &dir.path().join("a"), 1_000_000).await;
    let b = Replica::start(None, &token, &url, &dir.path().join("b"), 1_000_000).await;
    let mut client = a.client().await;

    // Recorded before: B with this content, C with other content.
    let mut recorded = Vec::new();
    for shipment in [declaration("B", 1), declaration("C", 2)] {
        let assessment = client
            .assess_shipment(authorized(
                AssessShipmentRequest {
                    shipment: Some(shipment),
                    record: true,
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner()
            .assessment
            .unwrap();
        recorded.push(assessment);
    }
    let mut other_a = declaration("A", 3);
    other_a.importer_id = "IMP-OTHER".to_owned();
    let mut other_c = declaration("C", 2);
    other_c.importer_id = "IMP-OTHER".to_owned();
    let batch = vec![
        declaration("A", 3),
        declaration("B", 1),
        declaration("A", 3),
        other_a,
        other_c,
        declaration("D", 4),
    ];
    let results = client
        .assess_shipments(authorized(
            AssessShipmentsRequest {
                shipments: batch,
                record: true,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .results;
    let conflicts: Vec<bool> = results.iter().map(|r| r.conflict).collect();
    assert_eq!(conflicts, [false, false, false, true, true, false]);
    assert_eq!(
        results[1].assessment.as_ref(),
        Some(&recorded[0]),
        "recorded before with the same content: the answer then"
    );
    assert_eq!(
        results[2].assessment, results[0].assessment,
        "sent twice in one batch: the first one's answer"
    );
    assert!(results[3].assessment.is_none() && results[4].assessment.is_none());
    for result in [&results[0], &results[5]] {
        let assessment = result.assessment.as_ref().unwrap();
        assert_ne!(assessment.lane, Lane::Unspecified as i32);
    }
    // B, C, then A and D: four declarations, four history entries of declarations.
    assert_eq!(scalar(&url, "SELECT COUNT(*) FROM declarations").await, 4);
    assert_eq!(
        scalar(&url, "SELECT COUNT(*) FROM history WHERE kind = 2").await,
        4
    );
    assert_eq!(
        scalar(
            &url,
            "SELECT COUNT(DISTINCT position) FROM declarations WHERE declaration_id IN ('A', 'D')"
        )
        .await,
        2
    );

    // The same batch again, through the other replica: nothing new, the same answers.
    let again = b
        .client()
        .await
        .assess_shipments(authorized(
            AssessShipmentsRequest {
                shipments: vec![declaration("A", 3), declaration("D", 4)],
                record: true,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(again[0].assessment, results[0].assessment);
    assert_eq!(again[1].assessment, results[5].assessment);
    assert_eq!(scalar(&url, "SELECT COUNT(*) FROM declarations").await, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_records_each_declaration_once_on_sqlite() {
    batch_records_each_declaration_once(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_records_each_declaration_once_on_postgres() {
    batch_records_each_declaration_once(Backend::Postgres).await;
}

/// A declaration recorded while consignment numbers and units were kept as sent (before they
/// were canonical) is the same declaration when sent again, on any replica: its stored
/// assessment, not a conflict (which would leave it pending in liaison for ever).
async fn recorded_with_codes_as_sent_is_the_same_declaration(backend: Backend) {
    use prost::Message;
    let dir = tempfile::tempdir().unwrap();
    let Some(url) = database_url(backend, dir.path()).await else {
        return;
    };
    let token = acx_runtime::credentials::generate_token();
    let a = Replica::start(None, &token, &url, &dir.path().join("a"), 1_000_000).await;
    let b = Replica::start(None, &token, &url, &dir.path().join("b"), 1_000_000).await;
    // One time for every copy: taken in each, a copy made a second later was another
    // declaration (a conflict) on a loaded machine.
    let declared = acx_tests::fixtures::seconds_ago(3600);
    let as_sent = |waybill: &str| {
        let mut shipment = declaration("OLD", 1);
        shipment.declaration_time = Some(declared);
        let consignment = shipment.consignment.as_mut().unwrap();
        consignment.tracking_numbers = vec!["1z 999 aa1 01 2345 6784".to_owned()];
        consignment.air_waybills = vec![waybill.to_owned()];
        shipment.lines[0].quantity_unit = "pce".to_owned();
        shipment
    };
    let assess = |shipments: Vec<DeclaredShipment>| {
        let request = authorized(
            AssessShipmentsRequest {
                shipments,
                record: true,
            },
            &token,
        );
        async {
            b.client()
                .await
                .assess_shipments(request)
                .await
                .unwrap()
                .into_inner()
                .results
        }
    };
    let recorded = a
        .client()
        .await
        .assess_shipment(authorized(
            AssessShipmentRequest {
                shipment: Some(as_sent("176-12345675")),
                record: true,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .assessment
        .unwrap();
    // As an earlier version recorded it: the codes as sent, the hash over them.
    let before = as_sent("176-12345675");
    let bytes = before.encode_to_vec();
    let database = acx_runtime::Database::connect(&url).await.unwrap();
    let sql =
        "UPDATE declarations SET shipment = $1, content_hash = $2 WHERE declaration_id = 'OLD'";
    let hash = acx_scoring::history::content_hash(&before);
    let rows = match &database {
        acx_runtime::Database::Sqlite(pool) => {
            let done = sqlx::query(sql).bind(&bytes).bind(&hash).execute(pool);
            done.await.unwrap().rows_affected()
        }
        acx_runtime::Database::Postgres(pool) => {
            let done = sqlx::query(sql).bind(&bytes).bind(&hash).execute(pool);
            done.await.unwrap().rows_affected()
        }
    };
    assert_eq!(rows, 1);
    database.close().await;

    let results = assess(vec![
        as_sent("176-12345675"),
        as_sent("176 1234 5675"),
        as_sent("176-12345686"),
    ])
    .await;
    let conflicts: Vec<bool> = results.iter().map(|r| r.conflict).collect();
    assert_eq!(conflicts, [false, false, true], "{results:#?}");
    assert_eq!(results[0].assessment.as_ref(), Some(&recorded));
    assert_eq!(results[1].assessment.as_ref(), Some(&recorded));
    assert_eq!(scalar(&url, "SELECT COUNT(*) FROM declarations").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_with_codes_as_sent_is_the_same_declaration_on_sqlite() {
    recorded_with_codes_as_sent_is_the_same_declaration(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_with_codes_as_sent_is_the_same_declaration_on_postgres() {
    recorded_with_codes_as_sent_is_the_same_declaration(Backend::Postgres).await;
}
