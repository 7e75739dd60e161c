//! The conformance suite's part for [`WebhookStore`](crate::WebhookStore): endpoints, the
//! outbox's bounds and exactly-once queueing, claims (order per visitor, one claimer per
//! delivery, also between two handles on the same data), retries, disabling and
//! redelivery.
//!
//! [`store_conformance_tests!`](crate::store_conformance_tests) expands these with the rest
//! of the suite.

// A test suite: a panic is a failed test, with the message saying which expectation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use crate::conformance::{account, fresh};
use crate::{
    ids, AttemptResult, DeliveryStatus, NewDelivery, NewWebhook, Store, StoreError, Webhook,
};

/// Expands the webhook tests into one `#[tokio::test]` each for a backend.
#[macro_export]
macro_rules! webhook_conformance_tests {
    ($open:path) => {
        $crate::webhook_conformance_tests!(@expand $open;
            webhooks_are_created_listed_rotated_and_deleted_within_the_accounts_limit,
            deliveries_are_queued_once_per_source_and_bounded_per_account,
            claims_keep_each_visitors_order_and_lease_each_delivery_to_one_claimer,
            two_handles_claiming_at_once_never_claim_the_same_delivery,
            retries_then_failures_disable_the_endpoint_and_a_redelivery_enables_it,
            finished_deliveries_are_pruned_and_pending_ones_kept,
        );
    };
    (@expand $open:path; $($test:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                $crate::webhook_conformance::$test($open).await;
            }
        )*
    };
}

const NOW: i64 = 1_750_000_000_000;

fn new_webhook(url: &str) -> NewWebhook {
    NewWebhook {
        url: url.into(),
        events: vec!["offer.clicked".into(), "OFFER_IMPRESSION".into()],
        secret: "whsec_first".into(),
    }
}

async fn webhook(store: &Arc<dyn Store>, account: &str) -> Webhook {
    store
        .create_webhook(account, new_webhook("https://hooks.example/in"), 10)
        .await
        .unwrap()
        .expect("under the limit")
}

fn delivery(webhook: &Webhook, source: &str, visitor: &str) -> NewDelivery {
    let id = ids::new_id();
    NewDelivery {
        body: format!(r#"{{"id":"{id}","source":"{source}"}}"#),
        id,
        webhook_id: webhook.id.clone(),
        source_id: source.into(),
        order_key: visitor.into(),
        event: "offer.clicked".into(),
    }
}

fn source_of(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    v["source"].as_str().unwrap().to_owned()
}

pub async fn webhooks_are_created_listed_rotated_and_deleted_within_the_accounts_limit<F, Fut>(
    open: F,
) where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    let other = account(&store).await;
    let first = store
        .create_webhook(&acc, new_webhook("https://a.example/"), 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.account, acc);
    assert_eq!(first.url, "https://a.example/");
    assert_eq!(first.events, ["offer.clicked", "OFFER_IMPRESSION"]);
    assert_eq!(first.secret, "whsec_first");
    assert_eq!(
        (first.consecutive_failures, first.disabled.clone()),
        (0, None)
    );
    let second = store
        .create_webhook(&acc, new_webhook("https://b.example/"), 2)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(first.id, second.id);
    assert_eq!(
        store
            .create_webhook(&acc, new_webhook("https://c.example/"), 2)
            .await
            .unwrap(),
        None,
        "the account's limit is reached"
    );
    assert!(matches!(
        store
            .create_webhook("404404", new_webhook("https://c.example/"), 2)
            .await,
        Err(StoreError::UnknownAccount(_))
    ));
    let listed = store.webhooks(&acc).await.unwrap();
    assert_eq!(listed, vec![first.clone(), second.clone()]);
    assert!(store.webhooks(&other).await.unwrap().is_empty());
    assert_eq!(store.webhook(&other, &first.id).await.unwrap(), None);

    let rotated = store
        .rotate_webhook_secret(&acc, &first.id, "whsec_second".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rotated.secret, "whsec_second");
    assert_eq!(
        store
            .webhook(&acc, &first.id)
            .await
            .unwrap()
            .unwrap()
            .secret,
        "whsec_second"
    );
    assert_eq!(
        store
            .rotate_webhook_secret(&other, &first.id, "x".into())
            .await
            .unwrap(),
        None
    );

    assert!(!store.delete_webhook(&other, &first.id).await.unwrap());
    assert!(store.delete_webhook(&acc, &first.id).await.unwrap());
    assert!(!store.delete_webhook(&acc, &first.id).await.unwrap());
    assert_eq!(store.webhooks(&acc).await.unwrap(), vec![second]);
}

pub async fn deliveries_are_queued_once_per_source_and_bounded_per_account<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    let hook = webhook(&store, &acc).await;
    let batch = vec![
        delivery(&hook, "s1", "v1"),
        delivery(&hook, "s2", "v1"),
        delivery(&hook, "s1", "v1"),
    ];
    let outcome = store.enqueue_deliveries(&acc, batch, 3, NOW).await.unwrap();
    assert_eq!(
        (outcome.queued, outcome.duplicates, outcome.refused),
        (2, 1, 0)
    );
    // The same sources again (a retried collect batch): nothing new.
    let again = store
        .enqueue_deliveries(&acc, vec![delivery(&hook, "s1", "v1")], 3, NOW)
        .await
        .unwrap();
    assert_eq!((again.queued, again.duplicates), (0, 1));
    // The bound: 3 pending at most.
    let full = store
        .enqueue_deliveries(
            &acc,
            vec![delivery(&hook, "s3", "v2"), delivery(&hook, "s4", "v2")],
            3,
            NOW,
        )
        .await
        .unwrap();
    assert_eq!((full.queued, full.refused), (1, 1));
    assert_eq!(store.pending_deliveries(&acc).await.unwrap(), 3);
    // An endpoint of another account, or none, takes nothing from this account.
    let other = account(&store).await;
    let theirs = webhook(&store, &other).await;
    let foreign = store
        .enqueue_deliveries(&acc, vec![delivery(&theirs, "s9", "v1")], 10, NOW)
        .await
        .unwrap();
    assert_eq!((foreign.queued, foreign.refused), (0, 1));
    assert_eq!(store.pending_deliveries(&other).await.unwrap(), 0);

    let log = store.deliveries(&acc, &hook.id, 10).await.unwrap().unwrap();
    assert_eq!(log.len(), 3);
    assert!(log.iter().all(|d| d.status == DeliveryStatus::Pending
        && d.attempts == 0
        && d.created_ms == NOW
        && d.next_attempt_ms == NOW));
    assert_eq!(store.deliveries(&other, &hook.id, 10).await.unwrap(), None);
}

pub async fn claims_keep_each_visitors_order_and_lease_each_delivery_to_one_claimer<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    let hook = webhook(&store, &acc).await;
    let queued = vec![
        delivery(&hook, "a1", "alice"),
        delivery(&hook, "b1", "bob"),
        delivery(&hook, "a2", "alice"),
        delivery(&hook, "b2", "bob"),
    ];
    store
        .enqueue_deliveries(&acc, queued.clone(), 100, NOW)
        .await
        .unwrap();
    // Only the oldest of each visitor is due.
    let first = store.claim_deliveries(NOW, NOW + 60_000, 10).await.unwrap();
    let mut sources: Vec<String> = first.iter().map(|c| source_of(&c.body)).collect();
    sources.sort();
    assert_eq!(sources, ["a1", "b1"]);
    let a1 = first.iter().find(|c| source_of(&c.body) == "a1").unwrap();
    assert_eq!(a1.url, "https://hooks.example/in");
    assert_eq!(a1.secret, "whsec_first");
    assert_eq!(a1.account, acc);
    assert_eq!(a1.delivery.id, queued[0].id);
    assert_eq!(a1.body, queued[0].body);
    // Leased: nobody claims them again, and the next of each visitor waits.
    assert!(store
        .claim_deliveries(NOW + 1, NOW + 60_000, 10)
        .await
        .unwrap()
        .is_empty());

    // a1 is retried later: alice's a2 still waits behind it; bob's b1 delivered, b2 due.
    let b1 = first.iter().find(|c| source_of(&c.body) == "b1").unwrap();
    store
        .finish_attempt(
            &a1.delivery.id,
            NOW + 5,
            AttemptResult::Retry {
                status: Some(503),
                error: "503 Service Unavailable".into(),
                next_attempt_ms: NOW + 10_000,
            },
            3,
        )
        .await
        .unwrap();
    store
        .finish_attempt(
            &b1.delivery.id,
            NOW + 5,
            AttemptResult::Delivered { status: 200 },
            3,
        )
        .await
        .unwrap();
    let second = store
        .claim_deliveries(NOW + 6, NOW + 60_000, 10)
        .await
        .unwrap();
    assert_eq!(
        second
            .iter()
            .map(|c| source_of(&c.body))
            .collect::<Vec<_>>(),
        ["b2"]
    );
    // Once due again, a1 comes before a2.
    let third = store
        .claim_deliveries(NOW + 10_000, NOW + 70_000, 10)
        .await
        .unwrap();
    assert_eq!(
        third.iter().map(|c| source_of(&c.body)).collect::<Vec<_>>(),
        ["a1"]
    );
    assert_eq!(third[0].delivery.attempts, 1);
    assert_eq!(third[0].delivery.last_status, Some(503));
    // A lease that ran out (the claimer died) makes it claimable again.
    let again = store
        .claim_deliveries(NOW + 70_001, NOW + 130_000, 10)
        .await
        .unwrap();
    assert!(again.iter().any(|c| c.delivery.id == a1.delivery.id));
    assert!(again.iter().any(|c| c.delivery.id == second[0].delivery.id));

    let log = store.deliveries(&acc, &hook.id, 10).await.unwrap().unwrap();
    let b1_log = log.iter().find(|d| d.id == b1.delivery.id).unwrap();
    assert_eq!(b1_log.status, DeliveryStatus::Delivered);
    assert_eq!(b1_log.attempts, 1);
    assert_eq!(b1_log.delivered_ms, Some(NOW + 5));
    assert_eq!(b1_log.last_status, Some(200));
    assert_eq!(
        log.iter().map(|d| d.id.clone()).collect::<Vec<_>>(),
        queued
            .iter()
            .rev()
            .map(|d| d.id.clone())
            .collect::<Vec<_>>(),
        "the log is newest first"
    );
}

pub async fn two_handles_claiming_at_once_never_claim_the_same_delivery<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (dir, store) = fresh(&open).await;
    let second = open(dir.path().to_owned()).await;
    let acc = account(&store).await;
    let hook = webhook(&store, &acc).await;
    let all: Vec<NewDelivery> = (0..60)
        .map(|i| delivery(&hook, &format!("s{i}"), &format!("v{i}")))
        .collect();
    store
        .enqueue_deliveries(&acc, all.clone(), 1_000, NOW)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for handle in [store.clone(), second.clone(), store.clone(), second.clone()] {
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            for _ in 0..10 {
                for c in handle.claim_deliveries(NOW, NOW + 60_000, 4).await.unwrap() {
                    mine.push(c.delivery.id);
                }
            }
            mine
        }));
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for t in tasks {
        for id in t.await.unwrap() {
            total += 1;
            assert!(seen.insert(id.clone()), "{id} was claimed twice");
        }
    }
    assert_eq!(total, 60, "every delivery was claimed once");
    second.close().await.unwrap();
}

pub async fn retries_then_failures_disable_the_endpoint_and_a_redelivery_enables_it<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    let hook = webhook(&store, &acc).await;
    let queued: Vec<NewDelivery> = (0..3)
        .map(|i| delivery(&hook, &format!("s{i}"), &format!("v{i}")))
        .collect();
    store
        .enqueue_deliveries(&acc, queued.clone(), 100, NOW)
        .await
        .unwrap();
    let claimed = store.claim_deliveries(NOW, NOW + 1_000, 10).await.unwrap();
    assert_eq!(claimed.len(), 3);
    for (i, c) in claimed.iter().enumerate() {
        store
            .finish_attempt(
                &c.delivery.id,
                NOW + 10,
                AttemptResult::Failed {
                    status: Some(410),
                    error: format!("410 Gone ({i})"),
                },
                2,
            )
            .await
            .unwrap();
    }
    let disabled = store.webhook(&acc, &hook.id).await.unwrap().unwrap();
    let why = disabled
        .disabled
        .expect("disabled after 2 failures in a row");
    assert_eq!(why.at_ms, NOW + 10);
    assert!(why.reason.contains("2 deliveries"), "{}", why.reason);
    assert!(why.reason.contains("410 Gone"), "{}", why.reason);
    assert_eq!(disabled.consecutive_failures, 3);

    // A disabled endpoint gets nothing, though its deliveries are due.
    store
        .enqueue_deliveries(&acc, vec![delivery(&hook, "later", "v9")], 100, NOW)
        .await
        .unwrap();
    assert!(store
        .claim_deliveries(NOW + 20, NOW + 1_000, 10)
        .await
        .unwrap()
        .is_empty());

    // A redelivery makes one pending again and enables the endpoint.
    let failed = &queued[0];
    let redelivered = store
        .redeliver(&acc, &hook.id, &failed.id, NOW + 30)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(redelivered.status, DeliveryStatus::Pending);
    assert_eq!(redelivered.attempts, 1);
    assert_eq!(redelivered.retry_from_ms, NOW + 30);
    assert_eq!(redelivered.last_error.as_deref(), Some("410 Gone (0)"));
    let enabled = store.webhook(&acc, &hook.id).await.unwrap().unwrap();
    assert_eq!((enabled.disabled, enabled.consecutive_failures), (None, 0));
    let mut due: Vec<String> = store
        .claim_deliveries(NOW + 30, NOW + 1_000, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|c| source_of(&c.body))
        .collect();
    due.sort();
    assert_eq!(due, ["later", "s0"]);
    assert_eq!(
        store
            .redeliver(&acc, &hook.id, "no-such-delivery", NOW)
            .await
            .unwrap(),
        None
    );
    let other = account(&store).await;
    assert_eq!(
        store
            .redeliver(&other, &hook.id, &failed.id, NOW)
            .await
            .unwrap(),
        None
    );
}

pub async fn finished_deliveries_are_pruned_and_pending_ones_kept<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    let hook = webhook(&store, &acc).await;
    store
        .enqueue_deliveries(
            &acc,
            vec![delivery(&hook, "done", "v1"), delivery(&hook, "open", "v2")],
            100,
            NOW,
        )
        .await
        .unwrap();
    let claimed = store.claim_deliveries(NOW, NOW + 1_000, 10).await.unwrap();
    let done = claimed
        .iter()
        .find(|c| source_of(&c.body) == "done")
        .unwrap();
    store
        .finish_attempt(
            &done.delivery.id,
            NOW + 1,
            AttemptResult::Delivered { status: 204 },
            3,
        )
        .await
        .unwrap();
    assert_eq!(store.prune_deliveries(NOW + 1).await.unwrap(), 0);
    assert_eq!(store.prune_deliveries(NOW + 2).await.unwrap(), 1);
    let left = store.deliveries(&acc, &hook.id, 10).await.unwrap().unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].status, DeliveryStatus::Pending);
}
