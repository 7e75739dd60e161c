//! The conformance suite's part for erasure and access (`Store::erase`,
//! `Store::visitor_data`, `Store::erasure_log`), expanded by
//! [`store_conformance_tests!`](crate::store_conformance_tests).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use engage_model::{FieldError, SdeType};

use crate::conformance::{account, batch, fresh, with_events, with_sdes, RECEIVED_MS};
use crate::history_conformance::query;
use crate::sample::{self, page_sde};
use crate::{
    ErasureCounts, ErasureTarget, ExportKind, Exposure, NewQuarantine, QuarantineKind, RawJson,
    SessionLookup, Store, StoreError, TextSearch,
};

#[macro_export]
macro_rules! privacy_conformance_tests {
    ($open:path) => {
        $crate::privacy_conformance_tests!(@expand $open;
            access_answers_everything_held_about_a_visitor,
            erasing_a_visitor_removes_every_trace_and_keeps_the_others,
            erasing_a_customer_removes_every_visitor_who_reported_the_id,
            erasing_in_an_unknown_account_is_refused,
            retention_is_set_read_and_cleared_per_account,
            retention_sweep_removes_expired_visits_and_quarantine_in_small_steps,
        );
    };
    (@expand $open:path; $($test:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                $crate::privacy_conformance::$test($open).await;
            }
        )*
    };
}

fn customer(id: &str) -> engage_model::Sde {
    page_sde(&format!(
        r#"{{"type":"ctmrinfo","info":{{"customerId":"{id}","userName":"user-{id}"}}}}"#
    ))
}

fn personal(email: &str) -> engage_model::Sde {
    page_sde(&format!(
        r#"{{"type":"personal","personal":{{"firstname":"Zelda","contacts":[{{"email":"{email}"}}]}}}}"#
    ))
}

fn rejected(visitor: &str, session: &str) -> NewQuarantine {
    NewQuarantine {
        kind: QuarantineKind::Sde,
        index: Some(0),
        client_id: Some(sample::client_id()),
        raw: r#"{"id":"x","sde":{"type":"nonsense"}}"#.into(),
        context: RawJson::to_json(&serde_json::json!({
            "visitorId": visitor, "sessionId": session, "pageId": "p"
        }))
        .unwrap(),
        errors: vec![FieldError::new("/sdes/0/sde/type", "unknown type")],
    }
}

/// Two visits of `visitor` (events, attributes, a rejected item, an identity, an
/// exposure) and one visit of `other`. Answers the second visit's batch.
async fn two_visitors(
    store: &Arc<dyn Store>,
    a: &str,
    visitor: &str,
    other: &str,
) -> crate::IngestBatch {
    let mut first = with_sdes(
        with_events(batch(a, visitor, &format!("{visitor}-s1"), "page-1"), 3),
        [customer("cust-7"), personal("zelda@erase.example")],
    );
    first
        .rejected
        .push(rejected(visitor, &format!("{visitor}-s1")));
    store.ingest(first).await.unwrap();
    let second = with_sdes(
        with_events(batch(a, visitor, &format!("{visitor}-s2"), "page-2"), 2),
        [sample::sde(SdeType::Cart)],
    );
    store.ingest(second.clone()).await.unwrap();
    store
        .ingest(with_sdes(
            with_events(batch(a, other, &format!("{other}-s1"), "page-3"), 2),
            [customer("cust-70"), personal("kept@erase.example")],
        ))
        .await
        .unwrap();
    store
        .link_identity(a, &format!("identity-of-{visitor}"), visitor)
        .await
        .unwrap();
    store
        .record_exposures(
            a,
            &format!("{visitor}-s1"),
            &[Exposure {
                context_id: "exposed-ctx".into(),
                campaign_id: 1,
                engagement_id: 2,
            }],
        )
        .await
        .unwrap();
    second
}

async fn found_by_keyword(store: &Arc<dyn Store>, a: &str, text: &str) -> u64 {
    let mut q = query(0, i64::MAX / 2);
    q.filters.keyword = Some(TextSearch {
        text: text.into(),
        types: Vec::new(),
    });
    store.search_interactions(a, q).await.unwrap().count
}

pub async fn access_answers_everything_held_about_a_visitor<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let a = account(&store).await;
    two_visitors(&store, &a, "ann", "bob").await;
    let data = store.visitor_data(&a, "ann").await.unwrap().unwrap();
    assert_eq!(data.visitor_id, "ann");
    let sessions: Vec<&str> = data.visits.iter().map(|v| v.session_id.as_str()).collect();
    assert_eq!(sessions, ["ann-s1", "ann-s2"]);
    assert_eq!(data.visits[0].pages.len(), 1);
    assert_eq!(data.visits[0].pages[0].page_id, "page-1");
    assert_eq!(data.visits[0].exposures, ["exposed-ctx"]);
    assert_eq!(data.events.len(), 5);
    assert_eq!(data.attributes.len(), 3);
    let text = serde_json::to_string(&data).unwrap();
    assert!(text.contains("zelda@erase.example"), "{text}");
    assert!(text.contains("cust-7"));
    assert!(!text.contains("bob"), "another visitor's data: {text}");
    for event in &data.events {
        let e: serde_json::Value = serde_json::from_str(event.as_str()).unwrap();
        assert_eq!(e["visitorId"], "ann");
        assert_eq!(e["appName"], "LP_OFFERS");
    }
    assert_eq!(data.identities, ["identity-of-ann"]);
    assert_eq!(data.quarantined.len(), 1);
    assert_eq!(store.visitor_data(&a, "nobody").await.unwrap(), None);
    let b = account(&store).await;
    assert_eq!(
        store.visitor_data(&b, "ann").await.unwrap(),
        None,
        "another account's visitor"
    );
    store.close().await.unwrap();
}

pub async fn erasing_a_visitor_removes_every_trace_and_keeps_the_others<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let a = account(&store).await;
    let second = two_visitors(&store, &a, "ann", "bob").await;
    assert_eq!(found_by_keyword(&store, &a, "zelda@erase.example").await, 3);
    let before_events = store.count(&a, ExportKind::Events).await.unwrap();
    let before_sdes = store.count(&a, ExportKind::Sdes).await.unwrap();

    let counts = store
        .erase(&a, ErasureTarget::Visitor("ann".into()))
        .await
        .unwrap();
    assert_eq!(
        counts,
        ErasureCounts {
            visitors: 1,
            visits: 2,
            pages: 2,
            interactions: 5,
            events: 5,
            attributes: 3,
            identities: 1,
            exposures: 1,
            quarantined: 1,
            webhook_deliveries: 0,
            // The monitored hour and one packed step row per batch time.
            rollups: 3,
        }
    );
    assert_eq!(store.visitor_data(&a, "ann").await.unwrap(), None);
    assert_eq!(
        store.lookup_session(&a, "ann", "ann-s1").await.unwrap(),
        SessionLookup::UnknownVisitor
    );
    assert_eq!(store.visit(&a, "ann-s1").await.unwrap(), None);
    assert_eq!(
        store.identity_visitor(&a, "identity-of-ann").await.unwrap(),
        None
    );
    assert_eq!(
        store.exposure(&a, "ann-s1", "exposed-ctx").await.unwrap(),
        None
    );
    assert_eq!(found_by_keyword(&store, &a, "zelda@erase.example").await, 0);
    assert_eq!(found_by_keyword(&store, &a, "kept@erase.example").await, 2);
    assert_eq!(
        store.count(&a, ExportKind::Events).await.unwrap(),
        before_events - 5
    );
    assert_eq!(
        store.count(&a, ExportKind::Sdes).await.unwrap(),
        before_sdes - 3
    );
    assert_eq!(store.count(&a, ExportKind::Quarantine).await.unwrap(), 0);
    let bob = store.visitor_data(&a, "bob").await.unwrap().unwrap();
    assert_eq!((bob.events.len(), bob.attributes.len()), (2, 2));

    // The exactly-once keys went with the rows: the same items sent again are new.
    let again = store.ingest(second).await.unwrap();
    assert_eq!((again.accepted, again.duplicates), (3, 0));

    let log = store.erasure_log(&a, 10).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].target, "visitor");
    assert_eq!(log[0].removed, counts);
    assert!(log[0].erased_ms > 1_600_000_000_000);
    let nothing = store
        .erase(&a, ErasureTarget::Visitor("nobody".into()))
        .await
        .unwrap();
    assert!(nothing.is_empty());
    assert_eq!(store.erasure_log(&a, 10).await.unwrap().len(), 2);
    store.close().await.unwrap();
}

pub async fn erasing_a_customer_removes_every_visitor_who_reported_the_id<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let a = account(&store).await;
    // ann and carl both said they are customer cust-7; bob is cust-70.
    two_visitors(&store, &a, "ann", "bob").await;
    store
        .ingest(with_sdes(
            batch(&a, "carl", "carl-s1", "page-c"),
            [sample::sde(SdeType::Cart), customer("cust-7")],
        ))
        .await
        .unwrap();
    let counts = store
        .erase(&a, ErasureTarget::Customer("cust-7".into()))
        .await
        .unwrap();
    assert_eq!(counts.visitors, 2);
    assert_eq!(counts.visits, 3);
    assert_eq!(counts.attributes, 5);
    assert_eq!(store.visitor_data(&a, "ann").await.unwrap(), None);
    assert_eq!(store.visitor_data(&a, "carl").await.unwrap(), None);
    assert!(store.visitor_data(&a, "bob").await.unwrap().is_some());
    assert_eq!(found_by_keyword(&store, &a, "user-cust-70").await, 2);
    let log = store.erasure_log(&a, 10).await.unwrap();
    assert_eq!(log[0].target, "customer");
    let text = serde_json::to_string(&log).unwrap();
    assert!(!text.contains("cust-7") && !text.contains("ann"), "{text}");
    store.close().await.unwrap();
}

pub async fn erasing_in_an_unknown_account_is_refused<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let erased = store.erase("1", ErasureTarget::Visitor("ann".into())).await;
    assert!(
        matches!(erased, Err(StoreError::UnknownAccount(_))),
        "{erased:?}"
    );
    store.close().await.unwrap();
}

pub async fn retention_is_set_read_and_cleared_per_account<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let a = account(&store).await;
    let b = account(&store).await;
    assert_eq!(store.retention(&a).await.unwrap(), None);
    store.set_retention(&a, Some(30)).await.unwrap();
    store.set_retention(&a, Some(90)).await.unwrap();
    assert_eq!(store.retention(&a).await.unwrap(), Some(90));
    assert_eq!(store.retention(&b).await.unwrap(), None);
    store.set_retention(&a, None).await.unwrap();
    assert_eq!(store.retention(&a).await.unwrap(), None);
    let unknown = store.set_retention("1", Some(3)).await;
    assert!(
        matches!(unknown, Err(StoreError::UnknownAccount(_))),
        "{unknown:?}"
    );
    store.close().await.unwrap();
}

const DAY_MS: i64 = 86_400_000;

pub async fn retention_sweep_removes_expired_visits_and_quarantine_in_small_steps<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let a = account(&store).await;
    let b = account(&store).await;
    store.set_retention(&a, Some(30)).await.unwrap();
    // Three visits of a last seen at RECEIVED_MS, one 20 days later; b keeps everything.
    for n in 0..3 {
        let mut old = with_sdes(
            with_events(
                batch(&a, &format!("old-{n}"), &format!("old-{n}-s"), "p"),
                2,
            ),
            [personal(&format!("old{n}@expired.example"))],
        );
        old.rejected
            .push(rejected(&format!("old-{n}"), &format!("old-{n}-s")));
        store.ingest(old).await.unwrap();
    }
    let mut fresh_batch = with_events(batch(&a, "new", "new-s", "p"), 1);
    fresh_batch.received_ms = RECEIVED_MS + 20 * DAY_MS;
    store.ingest(fresh_batch).await.unwrap();
    store
        .ingest(with_events(batch(&b, "old-0", "b-old-s", "p"), 1))
        .await
        .unwrap();
    // Linked now: younger than the horizon, it outlives its visitor's visits.
    store
        .link_identity(&a, "identity-of-old-2", "old-2")
        .await
        .unwrap();

    let now = RECEIVED_MS + 31 * DAY_MS;
    let first = store.sweep_retention(now, 1).await.unwrap();
    assert_eq!(first.removed.visits, 1, "{first:?}");
    assert!(first.more, "{first:?}");
    let mut removed = first.removed;
    let mut steps = 1;
    loop {
        let step = store.sweep_retention(now, 1).await.unwrap();
        steps += 1;
        removed.add(&step.removed);
        if !step.more {
            break;
        }
        assert!(steps < 20, "the sweep does not end");
    }
    assert_eq!(removed.visits, 3, "{removed:?}");
    assert_eq!(removed.events, 6, "{removed:?}");
    assert_eq!(removed.attributes, 3, "{removed:?}");
    assert_eq!(removed.quarantined, 3, "{removed:?}");
    for n in 0..2 {
        assert_eq!(
            store.visitor_data(&a, &format!("old-{n}")).await.unwrap(),
            None
        );
    }
    let kept = store.visitor_data(&a, "old-2").await.unwrap().unwrap();
    assert!(kept.visits.is_empty() && kept.events.is_empty() && kept.attributes.is_empty());
    assert_eq!(kept.identities, ["identity-of-old-2"]);
    assert_eq!(
        found_by_keyword(&store, &a, "old1@expired.example").await,
        0
    );
    assert!(store.visitor_data(&a, "new").await.unwrap().is_some());
    assert!(
        store.visitor_data(&b, "old-0").await.unwrap().is_some(),
        "b keeps everything"
    );
    // Once older than the horizon itself, the identity goes too.
    let later = store
        .sweep_retention(crate::ids::now_ms() + 31 * DAY_MS, 100)
        .await
        .unwrap();
    assert_eq!(later.removed.identities, 1, "{later:?}");
    assert_eq!(
        store
            .identity_visitor(&a, "identity-of-old-2")
            .await
            .unwrap(),
        None
    );
    let idle = store.sweep_retention(now, 100).await.unwrap();
    assert_eq!(idle, crate::RetentionStep::default());
    assert!(
        store.visitor_data(&b, "old-0").await.unwrap().is_some(),
        "b keeps everything"
    );
    store.close().await.unwrap();
}
