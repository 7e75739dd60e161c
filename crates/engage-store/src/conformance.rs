//! The conformance suite: what every backend must do, as generic async tests.
//!
//! Each test takes `open`, an async function from a directory to a store: called twice
//! with the same directory it must open the same data (the reopen test relies on it).
//! [`store_conformance_tests!`](crate::store_conformance_tests) expands the whole suite
//! into `#[tokio::test]`s for one backend:
//!
//! ```ignore
//! async fn open(dir: std::path::PathBuf) -> std::sync::Arc<dyn engage_store::Store> {
//!     std::sync::Arc::new(engage_store::sqlite::SqliteStore::open(&dir.join("engage.db")).await.unwrap())
//! }
//! engage_store::store_conformance_tests!(open);
//! ```
//!
//! The suite is behind the `conformance` feature: a backend's crate turns it on for its
//! tests only, with `engage-store = { workspace = true, features = ["conformance"] }`
//! under `[dev-dependencies]`.
//!
//! Quickwit's metastore test suite is the pattern: one list of tests, one macro, one
//! expansion per backend.

// A test suite: a panic is a failed test, with the message saying which expectation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use engage_model::{FieldError, Sde, SdeType, Stamps, VisitSdes};
use serde_json::{json, Value};

use crate::sample::{self, page_sde};
use crate::{
    ExportKind, Exposure, IngestBatch, IngestOutcome, NewAccount, NewQuarantine, OAuthKey,
    QuarantineKind, QuarantineQuery, QuarantineUsage, RawJson, SessionLookup, Store, StoreError,
};

/// Expands the conformance suite into one `#[tokio::test]` per test for a backend.
/// `$open` is the path of an `async fn(std::path::PathBuf) -> Arc<dyn Store>`.
#[macro_export]
macro_rules! store_conformance_tests {
    ($open:path) => {
        $crate::store_conformance_tests!(@expand $open;
            account_is_created_read_back_by_id_and_key_and_unknown_ones_are_none,
            account_api_key_is_unique,
            oauth_keys_are_created_found_listed_and_revoked,
            allowed_origins_are_replaced_and_read_back,
            ingest_stores_events_and_attributes_and_exports_them,
            ingest_into_an_unknown_account_is_refused,
            same_client_id_twice_in_one_batch_is_stored_once,
            same_batch_sent_twice_is_stored_once,
            same_batch_sent_concurrently_is_stored_once,
            client_ids_are_compared_and_exported_exactly_as_sent,
            concurrent_ingests_are_all_durable_and_counted,
            visit_state_merges_appends_and_replaces_across_batches,
            duplicate_attribute_is_not_folded_twice,
            new_session_is_reported_by_the_batch_that_creates_it,
            lookup_session_tells_unknown_visitor_unknown_session_and_found,
            an_identity_keeps_the_first_visitor_linked_to_it_within_its_account,
            exposures_are_found_by_session_and_context_and_by_engagement,
            visit_of_an_unknown_session_is_none,
            quarantine_keeps_raw_context_and_errors_and_pages,
            quarantine_without_a_visit_is_kept,
            mark_replayed_hides_entries_from_the_default_listing,
            quarantine_usage_counts_pending_entries_and_their_bytes,
            export_pages_follow_cursors_and_match_counts,
            accounts_do_not_see_each_others_data,
            data_survives_close_and_reopen,
            writes_after_close_are_refused,
            admin_writes_through_one_handle_reach_another_handles_change_feed,
            a_nonce_is_claimed_once_per_account_until_it_expires,
        );
        $crate::campaign_conformance_tests!($open);
        $crate::history_conformance_tests!($open);
        $crate::webhook_conformance_tests!($open);
        $crate::console_conformance_tests!($open);
        $crate::privacy_conformance_tests!($open);
        $crate::analytics_conformance_tests!($open);
    };
    (@expand $open:path; $($test:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                $crate::conformance::$test($open).await;
            }
        )*
    };
}

/// What a backend whose data lives outside the test directory (a PostgreSQL database)
/// runs when a directory is removed, see [`on_directory_removed`].
static CLEANUP: std::sync::OnceLock<fn(&Path)> = std::sync::OnceLock::new();

/// Has `cleanup` run with each test directory just before it is removed, also when the
/// test failed (the directory is removed while the panic unwinds). A backend whose `open`
/// keeps its data elsewhere removes it there. The first registration stays.
pub fn on_directory_removed(cleanup: fn(&Path)) {
    let _ = CLEANUP.set(cleanup);
}

/// A directory under the system temp dir, removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new() -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "engage-conformance-{}-{}-{}",
            std::process::id(),
            crate::ids::now_ms(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("creating a temporary directory");
        TempDir(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Some(cleanup) = CLEANUP.get() {
            cleanup(&self.0);
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh store in a fresh directory; keep the directory alive as long as the store.
pub(crate) async fn fresh<F, Fut>(open: &F) -> (TempDir, Arc<dyn Store>)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let dir = TempDir::new();
    let store = open(dir.path().to_owned()).await;
    (dir, store)
}

/// A new account in `store`, by id.
pub(crate) async fn account(store: &Arc<dyn Store>) -> String {
    store
        .create_account(NewAccount {
            name: "Shop".into(),
            api_key_hash: format!("{:0>64}", sample::client_id().replace('-', "")),
        })
        .await
        .expect("creating an account")
        .id
}

pub(crate) const RECEIVED_MS: i64 = 1_750_000_000_000;

pub(crate) fn batch(account_id: &str, visitor: &str, session: &str, page: &str) -> IngestBatch {
    IngestBatch {
        account_id: account_id.to_owned(),
        received_ms: RECEIVED_MS,
        visit: Some(sample::visit_context(visitor, session, page)),
        events: Vec::new(),
        sdes: Vec::new(),
        rejected: Vec::new(),
    }
}

pub(crate) fn with_events(mut b: IngestBatch, n: usize) -> IngestBatch {
    for i in 0..n {
        let name = ["START", "OFFER_DISPLAY", "OFFER_IMPRESSION", "OFFER_CLICK"][i % 4];
        b.events.push(sample::new_event(
            sample::event(name, &format!("ctx-{i}"), "page-ctx"),
            Some(RECEIVED_MS - 100 + i as i64),
        ));
    }
    b
}

pub(crate) fn with_sdes(mut b: IngestBatch, sdes: impl IntoIterator<Item = Sde>) -> IngestBatch {
    for sde in sdes {
        b.sdes.push(sample::new_sde(sde, Some(RECEIVED_MS - 50)));
    }
    b
}

async fn ingest(store: &Arc<dyn Store>, b: IngestBatch) -> IngestOutcome {
    store.ingest(b).await.expect("ingest")
}

async fn export_all(store: &Arc<dyn Store>, account_id: &str, kind: ExportKind) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .export_page(account_id, kind, cursor, 7)
            .await
            .expect("export page");
        if page.items.is_empty() {
            assert_eq!(page.cursor, None, "an empty page has no cursor");
            return out;
        }
        cursor = page.cursor;
        assert!(cursor.is_some(), "a page with items has a cursor");
        out.extend(page.items.iter().map(tree));
    }
}

/// A record's JSON text as a tree, to look into.
pub(crate) fn tree(raw: &RawJson) -> Value {
    serde_json::from_str(raw.as_str()).unwrap()
}

/// A tree as a record's JSON text.
pub(crate) fn raw_json(value: &Value) -> RawJson {
    RawJson::to_json(value).unwrap()
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| {
            i["id"]
                .as_str()
                .expect("an export item has a string id")
                .to_owned()
        })
        .collect()
}

pub async fn account_is_created_read_back_by_id_and_key_and_unknown_ones_are_none<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let created = store
        .create_account(NewAccount {
            name: "Shoe shop".into(),
            api_key_hash: "a".repeat(64),
        })
        .await
        .unwrap();
    assert!(
        !created.id.is_empty() && created.id.chars().all(|c| c.is_ascii_digit()),
        "decimal id, got {}",
        created.id
    );
    assert_eq!(created.name, "Shoe shop");
    assert_eq!(created.api_key_hash, "a".repeat(64));
    assert!(created.created_ms > 1_600_000_000_000);
    assert!(created.allowed_origins.is_empty());
    assert_eq!(
        store.account(&created.id).await.unwrap(),
        Some(created.clone())
    );
    assert_eq!(store.account("1").await.unwrap(), None);
    assert_eq!(store.account("not-a-number").await.unwrap(), None);
    let other = store
        .create_account(NewAccount {
            name: "Shoe shop".into(),
            api_key_hash: "b".repeat(64),
        })
        .await
        .unwrap();
    assert_ne!(other.id, created.id);
    assert_eq!(
        store.account_by_key_hash(&"b".repeat(64)).await.unwrap(),
        Some(other)
    );
    assert_eq!(
        store.account_by_key_hash(&"c".repeat(64)).await.unwrap(),
        None
    );
    store.close().await.unwrap();
}

pub async fn allowed_origins_are_replaced_and_read_back<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let a = account(&store).await;
    let origins = vec![
        "https://shop.example".to_owned(),
        "http://localhost:3000".to_owned(),
    ];
    let updated = store
        .set_allowed_origins(&a, origins.clone())
        .await
        .unwrap();
    assert_eq!(updated.allowed_origins, origins);
    assert_eq!(
        store.account(&a).await.unwrap().unwrap().allowed_origins,
        origins
    );
    let cleared = store.set_allowed_origins(&a, Vec::new()).await.unwrap();
    assert!(cleared.allowed_origins.is_empty());
    assert!(matches!(
        store.set_allowed_origins("1", origins).await,
        Err(StoreError::UnknownAccount(_))
    ));
    store.close().await.unwrap();
}

pub async fn account_api_key_is_unique<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let new = || NewAccount {
        name: "Shop".into(),
        api_key_hash: "c".repeat(64),
    };
    store.create_account(new()).await.unwrap();
    let second = store.create_account(new()).await;
    assert!(matches!(second, Err(StoreError::Conflict(_))), "{second:?}");
    store.close().await.unwrap();
}

pub async fn oauth_keys_are_created_found_listed_and_revoked<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let a = account(&store).await;
    let b = store
        .create_account(NewAccount {
            name: "Other".into(),
            api_key_hash: "e".repeat(64),
        })
        .await
        .unwrap()
        .id;
    let key = |account: &str, app_key: &str, created_ms: i64| OAuthKey {
        account: account.to_owned(),
        app_key: app_key.to_owned(),
        app_secret: format!("{app_key}-secret"),
        access_token: "token".to_owned(),
        access_token_secret: "token-secret".to_owned(),
        created_ms,
    };
    let first = store.create_oauth_key(key(&a, "app1", 1)).await.unwrap();
    assert_eq!(first, key(&a, "app1", 1));
    store.create_oauth_key(key(&a, "app2", 2)).await.unwrap();
    // The same app key is unique per account, not across accounts.
    store.create_oauth_key(key(&b, "app1", 3)).await.unwrap();
    let again = store.create_oauth_key(key(&a, "app1", 4)).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let unknown = store.create_oauth_key(key("1", "app9", 5)).await;
    assert!(
        matches!(unknown, Err(StoreError::UnknownAccount(_))),
        "{unknown:?}"
    );

    let listed = store.oauth_keys(&a).await.unwrap();
    assert_eq!(listed, vec![key(&a, "app1", 1), key(&a, "app2", 2)]);
    let mut found = store.oauth_keys_by_token("app1", "token").await.unwrap();
    found.sort_by_key(|k| k.created_ms);
    assert_eq!(found, vec![key(&a, "app1", 1), key(&b, "app1", 3)]);
    assert!(store
        .oauth_keys_by_token("app1", "other-token")
        .await
        .unwrap()
        .is_empty());

    assert!(store.revoke_oauth_key(&a, "app1").await.unwrap());
    assert!(!store.revoke_oauth_key(&a, "app1").await.unwrap());
    assert_eq!(
        store.oauth_keys(&a).await.unwrap(),
        vec![key(&a, "app2", 2)]
    );
    assert_eq!(
        store.oauth_keys_by_token("app1", "token").await.unwrap(),
        vec![key(&b, "app1", 3)]
    );
    store.close().await.unwrap();
}

pub async fn ingest_stores_events_and_attributes_and_exports_them<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    let b = with_sdes(
        with_events(batch(&acc, "visitor-1", "session-1", "page-1"), 2),
        [
            sample::sde(SdeType::Cart),
            sample::sde(SdeType::PersonalInfo),
            sample::sde(SdeType::SearchContent),
        ],
    );
    let sent = b.clone();
    let outcome = ingest(&store, b).await;
    assert_eq!(
        outcome,
        IngestOutcome {
            accepted: 5,
            duplicates: 0,
            quarantined: 0,
            new_session: true
        }
    );
    assert_eq!(store.count(&acc, ExportKind::Events).await.unwrap(), 2);
    assert_eq!(store.count(&acc, ExportKind::Sdes).await.unwrap(), 3);
    assert_eq!(store.count(&acc, ExportKind::Quarantine).await.unwrap(), 0);

    let events = export_all(&store, &acc, ExportKind::Events).await;
    assert_eq!(events.len(), 2);
    for (item, sent) in events.iter().zip(&sent.events) {
        let event = serde_json::to_value(&sent.event).unwrap();
        assert_eq!(
            item,
            &json!({
                "id": sent.client_id,
                "time": sent.client_time_ms,
                "serverTime": RECEIVED_MS,
                "visitorId": "visitor-1",
                "sessionId": "session-1",
                "pageId": "page-1",
                "appName": "LP_OFFERS",
                "eventName": event["eventName"],
                "data": event["data"],
            })
        );
    }

    let sdes = export_all(&store, &acc, ExportKind::Sdes).await;
    assert_eq!(sdes.len(), 3);
    for (item, sent) in sdes.iter().zip(&sent.sdes) {
        let stamps = Stamps {
            server_ms: Some(RECEIVED_MS as u64),
            original_ms: sent.client_time_ms.map(|t| t as u64),
        };
        assert_eq!(
            item,
            &json!({
                "id": sent.client_id,
                "time": sent.client_time_ms,
                "serverTime": RECEIVED_MS,
                "visitorId": "visitor-1",
                "sessionId": "session-1",
                "pageId": "page-1",
                "sde": serde_json::to_value(sent.sde.to_history(stamps)).unwrap(),
            })
        );
    }
    let first = &sdes[0]["sde"]["cartStatus"];
    assert_eq!(first["serverTimeStamp"], json!(RECEIVED_MS.to_string()));
    assert_eq!(
        first["originalTimeStamp"],
        json!((RECEIVED_MS - 50).to_string())
    );

    // An event without a page clock exports `time: null`.
    let mut b = batch(&acc, "visitor-1", "session-1", "page-1");
    b.events.push(sample::new_event(
        sample::event("OFFER_CLICK", "ctx-x", "page-ctx"),
        None,
    ));
    ingest(&store, b).await;
    let events = export_all(&store, &acc, ExportKind::Events).await;
    assert_eq!(events[2]["time"], Value::Null);
    assert_eq!(events[2]["eventName"], json!("OFFER_CLICK"));
    store.close().await.unwrap();
}

pub async fn ingest_into_an_unknown_account_is_refused<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    let result = store
        .ingest(with_events(batch("99999999999", "v", "s", "p"), 1))
        .await;
    assert!(
        matches!(result, Err(StoreError::UnknownAccount(ref id)) if id == "99999999999"),
        "{result:?}"
    );
    // The failed batch does not disturb the next one.
    let outcome = ingest(&store, with_events(batch(&acc, "v", "s", "p"), 1)).await;
    assert_eq!(outcome.accepted, 1);
    assert_eq!(
        store
            .count("99999999999", ExportKind::Events)
            .await
            .unwrap(),
        0
    );
    store.close().await.unwrap();
}

pub async fn same_client_id_twice_in_one_batch_is_stored_once<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    let mut b = with_sdes(
        with_events(batch(&acc, "v", "s", "p"), 1),
        [sample::sde(SdeType::Lead)],
    );
    b.events.push(b.events[0].clone());
    b.sdes.push(b.sdes[0].clone());
    let outcome = ingest(&store, b).await;
    assert_eq!((outcome.accepted, outcome.duplicates), (2, 2));
    assert_eq!(store.count(&acc, ExportKind::Events).await.unwrap(), 1);
    assert_eq!(store.count(&acc, ExportKind::Sdes).await.unwrap(), 1);
    store.close().await.unwrap();
}

pub async fn same_batch_sent_twice_is_stored_once<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    let b = with_sdes(
        with_events(batch(&acc, "v", "s", "p"), 3),
        [
            sample::sde(SdeType::ViewedProduct),
            sample::sde(SdeType::Cart),
        ],
    );
    let first = ingest(&store, b.clone()).await;
    let retry = ingest(&store, b).await;
    assert_eq!(
        first,
        IngestOutcome {
            accepted: 5,
            duplicates: 0,
            quarantined: 0,
            new_session: true
        }
    );
    assert_eq!(
        retry,
        IngestOutcome {
            accepted: 0,
            duplicates: 5,
            quarantined: 0,
            new_session: false
        }
    );
    assert_eq!(store.count(&acc, ExportKind::Events).await.unwrap(), 3);
    assert_eq!(store.count(&acc, ExportKind::Sdes).await.unwrap(), 2);
    store.close().await.unwrap();
}

pub async fn same_batch_sent_concurrently_is_stored_once<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    let rounds = 20;
    for round in 0..rounds {
        let b = with_sdes(
            with_events(batch(&acc, "v", &format!("s-{round}"), "p"), 4),
            [
                sample::sde(SdeType::ServiceActivity),
                sample::sde(SdeType::PersonalInfo),
            ],
        );
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let store = Arc::clone(&store);
                let b = b.clone();
                tokio::spawn(async move { store.ingest(b).await })
            })
            .collect();
        let mut accepted = 0;
        let mut duplicates = 0;
        let mut created = 0;
        for t in tasks {
            let o = t.await.unwrap().unwrap();
            accepted += o.accepted;
            duplicates += o.duplicates;
            created += usize::from(o.new_session);
        }
        assert_eq!((accepted, duplicates, created), (6, 18, 1), "round {round}");
    }
    assert_eq!(
        store.count(&acc, ExportKind::Events).await.unwrap(),
        4 * rounds
    );
    assert_eq!(
        store.count(&acc, ExportKind::Sdes).await.unwrap(),
        2 * rounds
    );
    let visit = store.visit(&acc, "s-0").await.unwrap().unwrap();
    assert_eq!(visit.sdes.count(SdeType::ServiceActivity), 1, "folded once");
    store.close().await.unwrap();
}

pub async fn client_ids_are_compared_and_exported_exactly_as_sent<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    // A canonical UUIDv7, the same in capitals (a different id), and ids of other shapes.
    let sent = [
        "0190f0e2-7b1c-7a00-8000-00000000002a",
        "0190F0E2-7B1C-7A00-8000-00000000002A",
        "0190f0e27b1c7a00800000000000002a",
        "evt-1",
        "\u{e9}v\u{e9}nement \u{2603}",
    ];
    let mut b = with_sdes(
        with_events(batch(&acc, "v", "s", "p"), sent.len()),
        (0..sent.len()).map(|_| sample::sde(SdeType::Lead)),
    );
    for (i, id) in sent.iter().enumerate() {
        b.events[i].client_id = (*id).to_owned();
        b.sdes[i].client_id = (*id).to_owned();
    }
    let first = ingest(&store, b.clone()).await;
    assert_eq!((first.accepted, first.duplicates), (2 * sent.len(), 0));
    let retry = ingest(&store, b).await;
    assert_eq!((retry.accepted, retry.duplicates), (0, 2 * sent.len()));
    assert_eq!(
        ids(&export_all(&store, &acc, ExportKind::Events).await),
        sent
    );
    assert_eq!(ids(&export_all(&store, &acc, ExportKind::Sdes).await), sent);
    store.close().await.unwrap();
}

pub async fn concurrent_ingests_are_all_durable_and_counted<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    let (tasks, batches, per_batch) = (32usize, 10usize, 10usize);
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let store = Arc::clone(&store);
            let acc = acc.clone();
            tokio::spawn(async move {
                let mut accepted = 0;
                for n in 0..batches {
                    let session = format!("s-{}", (t + n) % 8);
                    let b = with_sdes(
                        with_events(
                            batch(&acc, "v", &session, &format!("p-{t}-{n}")),
                            per_batch / 2,
                        ),
                        (0..per_batch / 2).map(|i| sample::sde(SdeType::ALL[i % 10])),
                    );
                    accepted += store.ingest(b).await.unwrap().accepted;
                }
                accepted
            })
        })
        .collect();
    let mut accepted = 0;
    for h in handles {
        accepted += h.await.unwrap();
    }
    let total = tasks * batches * per_batch;
    assert_eq!(accepted, total);
    let events = (tasks * batches * per_batch / 2) as u64;
    assert_eq!(store.count(&acc, ExportKind::Events).await.unwrap(), events);
    assert_eq!(store.count(&acc, ExportKind::Sdes).await.unwrap(), events);
    store.close().await.unwrap();
    drop(store);
    let store = open(dir.path().to_owned()).await;
    assert_eq!(store.count(&acc, ExportKind::Events).await.unwrap(), events);
    assert_eq!(store.count(&acc, ExportKind::Sdes).await.unwrap(), events);
    let exported = export_all(&store, &acc, ExportKind::Sdes).await;
    let mut unique = ids(&exported);
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len() as u64, events);
    store.close().await.unwrap();
}

fn ctmrinfo(info: &str) -> Sde {
    page_sde(&format!(r#"{{"type":"ctmrinfo","info":{info}}}"#))
}

fn cart(total: &str) -> Sde {
    page_sde(&format!(
        r#"{{"type":"cart","total":"{total}","currency":"USD"}}"#
    ))
}

fn prod_view(sku: &str) -> Sde {
    page_sde(&format!(
        r#"{{"type":"prodView","products":[{{"product":{{"sku":"{sku}"}}}}]}}"#
    ))
}

pub async fn visit_state_merges_appends_and_replaces_across_batches<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    let reports = [
        vec![
            ctmrinfo(r#"{"cstatus":"gold","customerId":"c-1"}"#),
            cart("10"),
            prod_view("a"),
        ],
        vec![
            ctmrinfo(r#"{"ctype":"vip","customerId":"c-2"}"#),
            cart("20"),
            prod_view("b"),
        ],
        vec![
            prod_view("c"),
            sample::sde(SdeType::MarketingInfo),
            sample::sde(SdeType::VisitorError),
        ],
    ];
    let mut expected = VisitSdes::default();
    for (i, sdes) in reports.iter().enumerate() {
        for sde in sdes {
            expected.record(sde.clone());
        }
        let b = with_sdes(batch(&acc, "v", "s", &format!("p-{i}")), sdes.clone());
        ingest(&store, b).await;
        let visit = store
            .visit(&acc, "s")
            .await
            .unwrap()
            .expect("the visit exists");
        assert_eq!(visit.sdes, expected, "after batch {i}");
    }
    let visit = store.visit(&acc, "s").await.unwrap().unwrap();
    // docs/vocabulary.md, Visit rule: merged, replaced, appended.
    let info = visit.sdes.customer_info.as_ref().unwrap();
    assert_eq!(info.customer_status.text_value(), Some("gold"));
    assert_eq!(info.customer_type.text_value(), Some("vip"));
    assert_eq!(info.customer_id.text_value(), Some("c-2"));
    assert_eq!(
        visit.sdes.cart.as_ref().unwrap().total.text_value(),
        Some("20")
    );
    assert_eq!(visit.sdes.count(SdeType::ViewedProduct), 3);
    let skus: Vec<_> = visit
        .sdes
        .viewed_products
        .iter()
        .map(|p| {
            let line = &p.products.as_set().unwrap()[0];
            line.product.as_set().unwrap().sku.text_value()
        })
        .collect();
    assert_eq!(
        skus,
        [Some("a"), Some("b"), Some("c")],
        "appended in report order"
    );
    assert_eq!(visit.visitor_id, "v");
    assert_eq!(visit.session_id, "s");
    assert_eq!(visit.first_seen_ms, RECEIVED_MS);
    assert_eq!(
        visit.user_agent.as_deref(),
        Some("Mozilla/5.0 (X11; Linux x86_64) engage-test")
    );
    assert_eq!(
        visit.referrer.as_deref(),
        Some("https://search.example/?q=shoes")
    );

    // A later batch moves last_seen; another session's state is its own.
    let mut b = with_sdes(batch(&acc, "v", "s", "p-9"), [prod_view("d")]);
    b.received_ms = RECEIVED_MS + 60_000;
    ingest(&store, b).await;
    ingest(
        &store,
        with_sdes(batch(&acc, "v", "other", "p-o"), [cart("99")]),
    )
    .await;
    let visit = store.visit(&acc, "s").await.unwrap().unwrap();
    assert_eq!(visit.last_seen_ms, RECEIVED_MS + 60_000);
    assert_eq!(visit.first_seen_ms, RECEIVED_MS);
    assert_eq!(visit.sdes.count(SdeType::ViewedProduct), 4);
    let other = store.visit(&acc, "other").await.unwrap().unwrap();
    assert_eq!(other.sdes, VisitSdes::default().with(cart("99")));
    store.close().await.unwrap();
}

pub async fn duplicate_attribute_is_not_folded_twice<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    let b = with_sdes(
        batch(&acc, "v", "s", "p"),
        [prod_view("a"), sample::sde(SdeType::Purchase)],
    );
    ingest(&store, b.clone()).await;
    ingest(&store, b.clone()).await;
    let mut same_batch = b.clone();
    same_batch.sdes.extend(b.sdes.clone());
    ingest(&store, same_batch).await;
    let visit = store.visit(&acc, "s").await.unwrap().unwrap();
    assert_eq!(visit.sdes.count(SdeType::ViewedProduct), 1);
    assert_eq!(visit.sdes.count(SdeType::Purchase), 1);
    store.close().await.unwrap();
}

pub async fn new_session_is_reported_by_the_batch_that_creates_it<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    assert!(
        ingest(&store, batch(&acc, "v", "s1", "p1"))
            .await
            .new_session,
        "a page view alone opens the session"
    );
    assert!(
        !ingest(&store, with_events(batch(&acc, "v", "s1", "p2"), 1))
            .await
            .new_session
    );
    assert!(
        ingest(&store, with_events(batch(&acc, "v", "s2", "p3"), 1))
            .await
            .new_session
    );
    assert!(
        !ingest(&store, batch(&acc, "v", "s2", "p3"))
            .await
            .new_session
    );
    store.close().await.unwrap();
}

pub async fn lookup_session_tells_unknown_visitor_unknown_session_and_found<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    ingest(&store, batch(&acc, "visitor-a", "session-a", "p")).await;
    let look = |v: &'static str, s: &'static str| {
        let store = Arc::clone(&store);
        let acc = acc.clone();
        async move { store.lookup_session(&acc, v, s).await.unwrap() }
    };
    assert_eq!(look("visitor-a", "session-a").await, SessionLookup::Found);
    assert_eq!(
        look("visitor-a", "session-b").await,
        SessionLookup::UnknownSession
    );
    assert_eq!(
        look("visitor-b", "session-a").await,
        SessionLookup::UnknownVisitor
    );
    assert_eq!(
        look("visitor-b", "session-b").await,
        SessionLookup::UnknownVisitor
    );
    assert_eq!(
        store
            .lookup_session("12345", "visitor-a", "session-a")
            .await
            .unwrap(),
        SessionLookup::UnknownVisitor,
        "sessions belong to their account"
    );
    store.close().await.unwrap();
}

pub async fn an_identity_keeps_the_first_visitor_linked_to_it_within_its_account<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    let other = account(&store).await;
    assert_eq!(store.identity_visitor(&acc, "sub-1").await.unwrap(), None);
    assert_eq!(
        store
            .link_identity(&acc, "sub-1", "visitor-a")
            .await
            .unwrap(),
        "visitor-a"
    );
    assert_eq!(
        store
            .link_identity(&acc, "sub-1", "visitor-b")
            .await
            .unwrap(),
        "visitor-a",
        "the first visitor linked keeps the identity"
    );
    assert_eq!(
        store
            .identity_visitor(&acc, "sub-1")
            .await
            .unwrap()
            .as_deref(),
        Some("visitor-a")
    );
    assert_eq!(store.identity_visitor(&acc, "SUB-1").await.unwrap(), None);
    assert_eq!(
        store.identity_visitor(&other, "sub-1").await.unwrap(),
        None,
        "identities belong to their account"
    );
    assert_eq!(
        store
            .link_identity(&other, "sub-1", "visitor-c")
            .await
            .unwrap(),
        "visitor-c"
    );
    store.close().await.unwrap();
    let store = open(dir.path().to_owned()).await;
    assert_eq!(
        store
            .identity_visitor(&acc, "sub-1")
            .await
            .unwrap()
            .as_deref(),
        Some("visitor-a"),
        "links are durable"
    );
    store.close().await.unwrap();
}

pub async fn exposures_are_found_by_session_and_context_and_by_engagement<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    let other = account(&store).await;
    let exposure = |context: &str, engagement: u64| Exposure {
        context_id: context.to_owned(),
        campaign_id: u64::MAX,
        engagement_id: engagement,
    };
    store
        .record_exposures(&acc, "s-1", &[exposure("1", 7), exposure("2", 8)])
        .await
        .unwrap();
    store.record_exposures(&acc, "s-1", &[]).await.unwrap();
    assert_eq!(
        store.exposure(&acc, "s-1", "1").await.unwrap(),
        Some(exposure("1", 7))
    );
    assert_eq!(store.exposure(&acc, "s-2", "1").await.unwrap(), None);
    assert_eq!(store.exposure(&other, "s-1", "1").await.unwrap(), None);
    assert_eq!(
        store
            .latest_exposure(&acc, "s-1", u64::MAX, 8)
            .await
            .unwrap(),
        Some(exposure("2", 8))
    );
    assert_eq!(
        store.latest_exposure(&acc, "s-1", 1, 8).await.unwrap(),
        None
    );
    store.close().await.unwrap();
}

pub async fn visit_of_an_unknown_session_is_none<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    assert_eq!(store.visit(&acc, "nobody").await.unwrap(), None);
    ingest(&store, batch(&acc, "v", "s", "p")).await;
    let visit = store.visit(&acc, "s").await.unwrap().unwrap();
    assert!(visit.sdes.is_empty());
    assert_eq!(store.visit("12345", "s").await.unwrap(), None);
    store.close().await.unwrap();
}

fn rejected(kind: QuarantineKind, index: usize, raw: &str) -> NewQuarantine {
    NewQuarantine {
        kind,
        index: Some(index),
        client_id: Some(format!("bad-{index}")),
        raw: raw.to_owned(),
        context: raw_json(&json!({"visitorId": "v", "sessionId": "s", "pageId": "p"})),
        errors: vec![
            FieldError::new(
                format!("/events/{index}/data/engagementType"),
                "expected an engagement type 0, 1, 2, 3, 5 or 6",
            ),
            FieldError::new("/a~1b", "second problem"),
        ],
    }
}

pub async fn quarantine_keeps_raw_context_and_errors_and_pages<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    let mut b = with_events(batch(&acc, "v", "s", "p"), 1);
    for i in 0..5 {
        b.rejected.push(rejected(
            QuarantineKind::Event,
            i,
            &format!(r#"{{"id":"bad-{i}","engagementType":4}}"#),
        ));
    }
    let outcome = ingest(&store, b.clone()).await;
    assert_eq!((outcome.accepted, outcome.quarantined), (1, 5));
    let all = QuarantineQuery {
        after_id: None,
        limit: 100,
        include_replayed: false,
    };
    let entries = store.quarantine(&acc, all).await.unwrap();
    assert_eq!(entries.len(), 5);
    for (i, e) in entries.iter().enumerate() {
        let sent = &b.rejected[i];
        assert_eq!(e.kind, QuarantineKind::Event);
        assert_eq!(e.index, Some(i));
        assert_eq!(e.client_id.as_deref(), Some(format!("bad-{i}").as_str()));
        assert_eq!(e.raw, sent.raw, "raw bytes kept as sent");
        assert_eq!(e.context, sent.context);
        assert_eq!(e.errors, sent.errors);
        assert_eq!(e.received_ms, RECEIVED_MS);
        assert_eq!(e.replayed_ms, None);
    }
    assert!(
        entries.windows(2).all(|w| w[0].id < w[1].id),
        "oldest first"
    );
    // Paging.
    let first = store
        .quarantine(&acc, QuarantineQuery { limit: 2, ..all })
        .await
        .unwrap();
    assert_eq!(first, entries[..2]);
    let next = store
        .quarantine(
            &acc,
            QuarantineQuery {
                after_id: Some(first[1].id),
                limit: 2,
                ..all
            },
        )
        .await
        .unwrap();
    assert_eq!(next, entries[2..4]);
    let last = store
        .quarantine(
            &acc,
            QuarantineQuery {
                after_id: Some(entries[4].id),
                ..all
            },
        )
        .await
        .unwrap();
    assert!(last.is_empty());
    assert_eq!(store.count(&acc, ExportKind::Quarantine).await.unwrap(), 5);
    let exported = export_all(&store, &acc, ExportKind::Quarantine).await;
    let expected: Vec<Value> = entries
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect();
    assert_eq!(exported, expected);
    store.close().await.unwrap();
}

pub async fn quarantine_without_a_visit_is_kept<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    let body = IngestBatch {
        account_id: acc.clone(),
        received_ms: RECEIVED_MS,
        visit: None,
        events: Vec::new(),
        sdes: Vec::new(),
        rejected: vec![NewQuarantine {
            kind: QuarantineKind::Body,
            index: None,
            client_id: None,
            raw: "{not json".into(),
            context: RawJson::null(),
            errors: vec![FieldError::new("", "expected a JSON object")],
        }],
    };
    let outcome = ingest(&store, body).await;
    assert_eq!(
        outcome,
        IngestOutcome {
            accepted: 0,
            duplicates: 0,
            quarantined: 1,
            new_session: false
        }
    );
    let entries = store
        .quarantine(
            &acc,
            QuarantineQuery {
                after_id: None,
                limit: 10,
                include_replayed: true,
            },
        )
        .await
        .unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].kind, QuarantineKind::Body);
    assert_eq!(entries[0].raw, "{not json");
    assert_eq!(entries[0].context, RawJson::null());
    assert_eq!(entries[0].index, None);
    assert_eq!(entries[0].client_id, None);
    store.close().await.unwrap();
}

pub async fn mark_replayed_hides_entries_from_the_default_listing<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    let mut b = batch(&acc, "v", "s", "p");
    for i in 0..3 {
        b.rejected.push(rejected(QuarantineKind::Sde, i, "{}"));
    }
    ingest(&store, b).await;
    let query = QuarantineQuery {
        after_id: None,
        limit: 10,
        include_replayed: false,
    };
    let entries = store.quarantine(&acc, query).await.unwrap();
    store
        .mark_replayed(&acc, &[entries[0].id, entries[2].id], RECEIVED_MS + 1)
        .await
        .unwrap();
    // Another account cannot mark these.
    store
        .mark_replayed("12345", &[entries[1].id], RECEIVED_MS + 2)
        .await
        .unwrap();
    let open_entries = store.quarantine(&acc, query).await.unwrap();
    assert_eq!(open_entries.len(), 1);
    assert_eq!(open_entries[0].id, entries[1].id);
    let everything = store
        .quarantine(
            &acc,
            QuarantineQuery {
                include_replayed: true,
                ..query
            },
        )
        .await
        .unwrap();
    assert_eq!(everything.len(), 3);
    assert_eq!(everything[0].replayed_ms, Some(RECEIVED_MS + 1));
    assert_eq!(everything[1].replayed_ms, None);
    assert_eq!(everything[2].replayed_ms, Some(RECEIVED_MS + 1));
    store.close().await.unwrap();
}

pub async fn export_pages_follow_cursors_and_match_counts<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    let mut sent = Vec::new();
    for n in 0..5 {
        let b = with_events(batch(&acc, "v", "s", &format!("p-{n}")), 5);
        sent.extend(b.events.iter().map(|e| e.client_id.clone()));
        ingest(&store, b).await;
    }
    let p1 = store
        .export_page(&acc, ExportKind::Events, None, 10)
        .await
        .unwrap();
    let p2 = store
        .export_page(&acc, ExportKind::Events, p1.cursor, 10)
        .await
        .unwrap();
    let p3 = store
        .export_page(&acc, ExportKind::Events, p2.cursor, 10)
        .await
        .unwrap();
    let p4 = store
        .export_page(&acc, ExportKind::Events, p3.cursor, 10)
        .await
        .unwrap();
    assert_eq!(
        (
            p1.items.len(),
            p2.items.len(),
            p3.items.len(),
            p4.items.len()
        ),
        (10, 10, 5, 0)
    );
    assert!(p1.cursor < p2.cursor && p2.cursor < p3.cursor);
    assert_eq!(p4.cursor, None);
    let all: Vec<Value> = [p1.items, p2.items, p3.items]
        .concat()
        .iter()
        .map(tree)
        .collect();
    assert_eq!(ids(&all), sent, "storage order is arrival order");
    let pages: Vec<_> = all
        .iter()
        .map(|i| i["pageId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(pages[0], "p-0");
    assert_eq!(pages[24], "p-4");
    assert_eq!(store.count(&acc, ExportKind::Events).await.unwrap(), 25);
    let empty = store
        .export_page(&acc, ExportKind::Sdes, None, 10)
        .await
        .unwrap();
    assert!(empty.items.is_empty());
    assert_eq!(empty.cursor, None);
    store.close().await.unwrap();
}

pub async fn accounts_do_not_see_each_others_data<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let a = account(&store).await;
    let b = account(&store).await;
    // Same client ids, sessions and pages in both accounts: each stores its own.
    let batch_a = with_sdes(with_events(batch(&a, "v", "s", "p"), 3), [cart("1")]);
    let mut batch_b = batch_a.clone();
    batch_b.account_id = b.clone();
    batch_b.sdes[0].sde = cart("2");
    assert_eq!(ingest(&store, batch_a).await.accepted, 4);
    let outcome_b = ingest(&store, batch_b).await;
    assert_eq!((outcome_b.accepted, outcome_b.new_session), (4, true));
    for acc in [&a, &b] {
        assert_eq!(store.count(acc, ExportKind::Events).await.unwrap(), 3);
        assert_eq!(export_all(&store, acc, ExportKind::Events).await.len(), 3);
        assert_eq!(export_all(&store, acc, ExportKind::Sdes).await.len(), 1);
    }
    assert_eq!(
        store.visit(&a, "s").await.unwrap().unwrap().sdes,
        VisitSdes::default().with(cart("1"))
    );
    assert_eq!(
        store.visit(&b, "s").await.unwrap().unwrap().sdes,
        VisitSdes::default().with(cart("2"))
    );
    store.close().await.unwrap();
}

pub async fn data_survives_close_and_reopen<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let dir = TempDir::new();
    let store = open(dir.path().to_owned()).await;
    let acc = account(&store).await;
    let before = store.account(&acc).await.unwrap();
    let mut b = with_sdes(
        with_events(batch(&acc, "v", "s", "p"), 4),
        [
            ctmrinfo(r#"{"cstatus":"gold"}"#),
            prod_view("a"),
            cart("10"),
        ],
    );
    b.rejected.push(rejected(QuarantineKind::Event, 9, "{}"));
    let sent = b.clone();
    ingest(&store, b).await;
    let events_before = export_all(&store, &acc, ExportKind::Events).await;
    let visit_before = store.visit(&acc, "s").await.unwrap().unwrap();
    store.close().await.unwrap();
    drop(store);

    let store = open(dir.path().to_owned()).await;
    assert_eq!(store.account(&acc).await.unwrap(), before);
    assert_eq!(
        export_all(&store, &acc, ExportKind::Events).await,
        events_before
    );
    assert_eq!(store.count(&acc, ExportKind::Sdes).await.unwrap(), 3);
    assert_eq!(store.count(&acc, ExportKind::Quarantine).await.unwrap(), 1);
    assert_eq!(store.visit(&acc, "s").await.unwrap().unwrap(), visit_before);
    // The reopened store dedups against what the first one stored, and keeps folding
    // into the stored visit state.
    let retry = ingest(&store, sent).await;
    assert_eq!(
        (retry.accepted, retry.duplicates, retry.new_session),
        (0, 7, false)
    );
    ingest(
        &store,
        with_sdes(
            batch(&acc, "v", "s", "p2"),
            [ctmrinfo(r#"{"ctype":"vip"}"#), prod_view("b"), cart("20")],
        ),
    )
    .await;
    let visit = store.visit(&acc, "s").await.unwrap().unwrap();
    let expected = VisitSdes::default()
        .with(ctmrinfo(r#"{"cstatus":"gold"}"#))
        .with(prod_view("a"))
        .with(cart("10"))
        .with(ctmrinfo(r#"{"ctype":"vip"}"#))
        .with(prod_view("b"))
        .with(cart("20"));
    assert_eq!(visit.sdes, expected);
    store.close().await.unwrap();
}

pub async fn writes_after_close_are_refused<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    // Writes in flight when close is called are finished, not dropped.
    let in_flight: Vec<_> = (0..8)
        .map(|i| {
            let store = Arc::clone(&store);
            let b = with_events(batch(&acc, "v", &format!("s-{i}"), "p"), 2);
            tokio::spawn(async move { store.ingest(b).await })
        })
        .collect();
    tokio::task::yield_now().await;
    store.close().await.unwrap();
    let mut finished = 0;
    for t in in_flight {
        match t.await.unwrap() {
            Ok(o) => finished += o.accepted,
            Err(StoreError::Closed) => {}
            Err(e) => panic!("a write in flight at close failed: {e}"),
        }
    }
    let after = store
        .ingest(with_events(batch(&acc, "v", "s", "p"), 1))
        .await;
    assert!(matches!(after, Err(StoreError::Closed)), "{after:?}");
    let account = store
        .create_account(NewAccount {
            name: "late".into(),
            api_key_hash: "d".repeat(64),
        })
        .await;
    assert!(matches!(account, Err(StoreError::Closed)), "{account:?}");
    assert!(matches!(
        store.mark_replayed(&acc, &[1], 1).await,
        Err(StoreError::Closed)
    ));
    store.close().await.expect("closing twice is fine");
    // Whatever was answered Ok is stored.
    assert_eq!(
        store.count(&acc, ExportKind::Events).await.unwrap() as usize,
        finished
    );
}

pub async fn quarantine_usage_counts_pending_entries_and_their_bytes<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    let other = account(&store).await;
    assert_eq!(
        store.quarantine_usage(&acc).await.unwrap(),
        QuarantineUsage::default()
    );
    let mut b = batch(&acc, "v", "s", "p");
    // Bytes, not characters: "é" is two.
    for raw in ["{}", "{\"a\":\"é\"}", "[1,2,3]"] {
        b.rejected.push(rejected(QuarantineKind::Sde, 0, raw));
    }
    ingest(&store, b).await;
    let mut b = batch(&other, "v", "s", "p");
    b.rejected.push(rejected(QuarantineKind::Sde, 0, "{}"));
    ingest(&store, b).await;
    assert_eq!(
        store.quarantine_usage(&acc).await.unwrap(),
        QuarantineUsage {
            entries: 3,
            bytes: 2 + 10 + 7
        }
    );
    let entries = store
        .quarantine(
            &acc,
            QuarantineQuery {
                after_id: None,
                limit: 10,
                include_replayed: false,
            },
        )
        .await
        .unwrap();
    store
        .mark_replayed(&acc, &[entries[1].id], RECEIVED_MS + 1)
        .await
        .unwrap();
    assert_eq!(
        store.quarantine_usage(&acc).await.unwrap(),
        QuarantineUsage {
            entries: 2,
            bytes: 2 + 7
        }
    );
    assert_eq!(store.quarantine_usage(&other).await.unwrap().entries, 1);
    store.close().await.unwrap();
}

/// The next change on a feed, or a failure after 5 s.
async fn next_change(feed: &mut tokio::sync::broadcast::Receiver<crate::Change>) -> crate::Change {
    tokio::time::timeout(std::time::Duration::from_secs(5), feed.recv())
        .await
        .expect("a change within 5 s")
        .expect("the feed is open and not lagging")
}

pub async fn admin_writes_through_one_handle_reach_another_handles_change_feed<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    use crate::campaign_conformance::{campaign, definition};
    use crate::Change;
    use engage_model::AgentState;

    let (dir, writer) = fresh(&open).await;
    let acc = account(&writer).await;
    let other = open(dir.path().to_owned()).await;
    let mut feed = other.changes();
    let mut own = writer.changes();

    writer
        .set_allowed_origins(&acc, vec!["https://shop.example".into()])
        .await
        .unwrap();
    assert_eq!(next_change(&mut feed).await, Change::Account(acc.clone()));
    assert_eq!(next_change(&mut own).await, Change::Account(acc.clone()));

    let created = writer
        .create_campaign(&acc, campaign("Spring", 1))
        .await
        .unwrap();
    assert_eq!(next_change(&mut feed).await, Change::Account(acc.clone()));
    writer
        .create_engagement(&acc, created.id, definition("Help"), AgentState::Online)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next_change(&mut feed).await, Change::Account(acc.clone()));

    // Reads and ingest are not admin writes: nothing is published for them.
    writer.campaigns(&acc).await.unwrap();
    ingest(&writer, with_events(batch(&acc, "v", "s", "p"), 2)).await;
    let b = writer
        .create_account(NewAccount {
            name: "Other".into(),
            api_key_hash: "d".repeat(64),
        })
        .await
        .unwrap()
        .id;
    assert_eq!(next_change(&mut feed).await, Change::Account(b));
    assert!(feed.try_recv().is_err(), "nothing else was published");
    writer.close().await.unwrap();
    other.close().await.unwrap();
}

pub async fn a_nonce_is_claimed_once_per_account_until_it_expires<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (dir, store) = fresh(&open).await;
    let a = account(&store).await;
    let other = open(dir.path().to_owned()).await;
    let now = 1_750_000_000;
    assert!(store.claim_nonce(&a, "k\n1", now + 300, now).await.unwrap());
    // Another handle (on PostgreSQL, another server) sees the claim.
    assert!(!other
        .claim_nonce(&a, "k\n1", now + 300, now + 10)
        .await
        .unwrap());
    assert!(!store
        .claim_nonce(&a, "k\n1", now + 310, now + 299)
        .await
        .unwrap());
    // Keyed by account: another account's identical key is its own.
    assert!(store
        .claim_nonce("other-account", "k\n1", now + 300, now)
        .await
        .unwrap());
    assert!(other.claim_nonce(&a, "k\n2", now + 300, now).await.unwrap());
    // Expired: claimable again.
    assert!(other
        .claim_nonce(&a, "k\n1", now + 700, now + 400)
        .await
        .unwrap());
    assert!(!store
        .claim_nonce(&a, "k\n1", now + 700, now + 401)
        .await
        .unwrap());

    // Concurrent claims of one key: exactly one wins.
    let claims = (0..8).map(|i| {
        let s = if i % 2 == 0 {
            store.clone()
        } else {
            other.clone()
        };
        let a = a.clone();
        async move { s.claim_nonce(&a, "race", now + 300, now).await.unwrap() }
    });
    let won = futures_join_all(claims).await;
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    store.close().await.unwrap();
    other.close().await.unwrap();
}

/// Runs the futures concurrently on the runtime's threads; their answers in order.
async fn futures_join_all<T: Send + 'static>(
    futures: impl Iterator<Item = impl Future<Output = T> + Send + 'static>,
) -> Vec<T> {
    let tasks: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}
