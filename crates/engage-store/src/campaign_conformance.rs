//! The conformance suite's part for [`CampaignStore`](crate::CampaignStore): apps, campaigns, revisioned
//! engagements and the impression counts of the frequency cap.
//!
//! [`store_conformance_tests!`](crate::store_conformance_tests) expands these too, with the
//! rest of the suite; [`campaign_conformance_tests!`](crate::campaign_conformance_tests)
//! expands only these.

// A test suite: a panic is a failed test, with the message saying which expectation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use engage_model::{AgentState, EngagementType, OfferEvent, Tape};
use serde_json::json;

use crate::conformance::{account, fresh, TempDir};
use crate::sample;
use crate::{
    CampaignFields, EngagementContent, EngagementDefinition, IngestBatch, NewEvent, Store,
    StoreError,
};

/// Expands the campaign tests into one `#[tokio::test]` each for a backend.
/// `$open` is the path of an `async fn(std::path::PathBuf) -> Arc<dyn Store>`.
#[macro_export]
macro_rules! campaign_conformance_tests {
    ($open:path) => {
        $crate::campaign_conformance_tests!(@expand $open;
            apps_get_uuid_ids_and_are_listed_per_account,
            campaigns_get_nine_digit_ids_and_are_read_listed_and_replaced,
            campaign_and_app_writes_into_an_unknown_account_are_refused,
            engagement_starts_at_revision_1_and_each_revision_stays_readable,
            engagement_state_changes_without_a_new_revision,
            engagements_are_listed_at_their_latest_revision_per_campaign_and_account,
            engagements_are_not_found_through_another_campaign_or_account,
            impression_counts_are_distinct_contexts_per_engagement_over_a_visitors_sessions,
            recent_interactions_tell_session_time_impression_and_decline_newest_first,
            campaigns_and_engagements_survive_close_and_reopen,
            campaign_writes_after_close_are_refused,
        );
    };
    (@expand $open:path; $($test:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                $crate::campaign_conformance::$test($open).await;
            }
        )*
    };
}

pub(crate) fn campaign(name: &str, priority: u32) -> CampaignFields {
    CampaignFields {
        name: name.into(),
        goal: Some("Increase sales".into()),
        priority,
        enabled: true,
        control_group_percent: 0,
        attribution_window_days: 7,
    }
}

pub(crate) fn definition(name: &str) -> EngagementDefinition {
    EngagementDefinition {
        name: name.into(),
        engagement_type: EngagementType::SlideOut,
        tgl_name: "slider".into(),
        zone_id: Some(471288710),
        timeout_seconds: Some(30),
        targeting: crate::conformance::raw_json(&json!({"sections": {"include": ["cart"]}})),
        content: EngagementContent {
            title: Some("Need help?".into()),
            body: None,
            accept_label: Some("Chat now".into()),
            close_label: None,
        },
        hide_when_offline: true,
        action: None,
        weight: None,
    }
}

pub async fn apps_get_uuid_ids_and_are_listed_per_account<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    let other = account(&store).await;
    let first = store.create_app(&acc, "Android app").await.unwrap();
    let second = store.create_app(&acc, "iOS app").await.unwrap();
    assert_eq!(first.name, "Android app");
    assert_eq!(first.id.len(), 36, "a UUID, got {}", first.id);
    assert_eq!(first.id.matches('-').count(), 4, "{}", first.id);
    assert_ne!(first.id, second.id);
    assert!(first.created_ms > 1_600_000_000_000);
    assert_eq!(store.apps(&acc).await.unwrap(), vec![first, second]);
    assert!(store.apps(&other).await.unwrap().is_empty());
    store.close().await.unwrap();
}

pub async fn campaigns_get_nine_digit_ids_and_are_read_listed_and_replaced<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    let created = store
        .create_campaign(&acc, campaign("Spring sale", 10))
        .await
        .unwrap();
    assert!(
        (100_000_000..1_000_000_000).contains(&created.id),
        "{}",
        created.id
    );
    assert_eq!(created.fields, campaign("Spring sale", 10));
    assert_eq!(created.created_ms, created.updated_ms);
    assert_eq!(
        store.campaign(&acc, created.id).await.unwrap(),
        Some(created.clone())
    );
    let second = store
        .create_campaign(
            &acc,
            CampaignFields {
                goal: None,
                ..campaign("Support", 1)
            },
        )
        .await
        .unwrap();
    let mut listed = store.campaigns(&acc).await.unwrap();
    let mut expected = vec![created.clone(), second.clone()];
    expected.sort_by_key(|c| c.id);
    listed.sort_by_key(|c| c.id);
    assert_eq!(listed, expected);

    let disabled = CampaignFields {
        enabled: false,
        ..campaign("Spring sale (ended)", 20)
    };
    let updated = store
        .update_campaign(&acc, created.id, disabled.clone())
        .await
        .unwrap()
        .expect("the campaign exists");
    assert_eq!(updated.id, created.id);
    assert_eq!(updated.fields, disabled);
    assert_eq!(updated.created_ms, created.created_ms);
    assert!(updated.updated_ms >= created.updated_ms);
    assert_eq!(
        store.campaign(&acc, created.id).await.unwrap(),
        Some(updated)
    );
    assert_eq!(
        store
            .update_campaign(&acc, 999_999_999_999, campaign("x", 1))
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.campaign(&acc, 1).await.unwrap(), None);
    store.close().await.unwrap();
}

pub async fn campaign_and_app_writes_into_an_unknown_account_are_refused<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let result = store.create_campaign("1", campaign("x", 1)).await;
    assert!(
        matches!(result, Err(StoreError::UnknownAccount(ref a)) if a == "1"),
        "{result:?}"
    );
    let result = store.create_app("1", "app").await;
    assert!(
        matches!(result, Err(StoreError::UnknownAccount(_))),
        "{result:?}"
    );
    assert!(store.campaigns("1").await.unwrap().is_empty());
    store.close().await.unwrap();
}

pub async fn engagement_starts_at_revision_1_and_each_revision_stays_readable<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    let c = store.create_campaign(&acc, campaign("c", 1)).await.unwrap();
    let first = store
        .create_engagement(&acc, c.id, definition("Chat v1"), AgentState::Online)
        .await
        .unwrap()
        .expect("the campaign exists");
    assert_eq!(
        (first.campaign_id, first.revision, first.latest_revision),
        (c.id, 1, 1)
    );
    assert!((100_000_000..1_000_000_000).contains(&first.id));
    assert_eq!(first.definition, definition("Chat v1"));
    assert_eq!(first.state, AgentState::Online);
    assert_eq!(
        first.conf_key().to_string(),
        format!("{}_{}_1", c.id, first.id)
    );
    assert_eq!(
        store.engagement(&acc, c.id, first.id, None).await.unwrap(),
        Some(first.clone())
    );

    let mut v2 = definition("Chat v2");
    v2.engagement_type = EngagementType::Sticky;
    v2.tgl_name = "overlay".into();
    v2.zone_id = None;
    v2.timeout_seconds = None;
    v2.targeting = crate::conformance::raw_json(&json!({}));
    v2.content = EngagementContent::default();
    v2.hide_when_offline = false;
    // The action belongs to the revision: revision 1 keeps having none.
    v2.action = Some(crate::conformance::raw_json(
        &json!({"type": "coupon", "code": "SAVE10", "copyLabel": "Copy"}),
    ));
    let second = store
        .revise_engagement(&acc, c.id, first.id, v2.clone())
        .await
        .unwrap()
        .expect("the engagement exists");
    assert_eq!((second.revision, second.latest_revision), (2, 2));
    assert_eq!(second.definition, v2);
    assert_eq!(second.created_ms, first.created_ms);
    let third = store
        .revise_engagement(&acc, c.id, first.id, definition("Chat v3"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(third.revision, 3);

    for (revision, name) in [(1, "Chat v1"), (2, "Chat v2"), (3, "Chat v3")] {
        let read = store
            .engagement(&acc, c.id, first.id, Some(revision))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("revision {revision} is readable"));
        assert_eq!(read.revision, revision);
        assert_eq!(read.latest_revision, 3);
        assert_eq!(read.definition.name, name);
        assert_eq!(read.definition.action.is_some(), revision == 2);
    }
    assert_eq!(
        store
            .engagement(&acc, c.id, first.id, None)
            .await
            .unwrap()
            .unwrap()
            .revision,
        3
    );
    assert_eq!(
        store
            .engagement(&acc, c.id, first.id, Some(4))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .engagement(&acc, c.id, first.id, Some(0))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .revise_engagement(&acc, c.id, 1, definition("x"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .create_engagement(&acc, 1, definition("x"), AgentState::Online)
            .await
            .unwrap(),
        None,
        "no such campaign"
    );
    store.close().await.unwrap();
}

pub async fn engagement_state_changes_without_a_new_revision<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    let c = store.create_campaign(&acc, campaign("c", 1)).await.unwrap();
    let e = store
        .create_engagement(&acc, c.id, definition("Chat"), AgentState::Online)
        .await
        .unwrap()
        .unwrap();
    let revised = store
        .revise_engagement(&acc, c.id, e.id, definition("Chat 2"))
        .await
        .unwrap()
        .unwrap();
    for state in [AgentState::Busy, AgentState::Offline, AgentState::Online] {
        let set = store
            .set_engagement_state(&acc, c.id, e.id, state)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((set.state, set.revision), (state, 2));
        assert_eq!(set.definition, revised.definition);
    }
    store
        .set_engagement_state(&acc, c.id, e.id, AgentState::Busy)
        .await
        .unwrap();
    // The state is the engagement's, so an old revision shows today's state.
    let old = store
        .engagement(&acc, c.id, e.id, Some(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((old.revision, old.state), (1, AgentState::Busy));
    assert_eq!(
        store
            .set_engagement_state(&acc, c.id, 1, AgentState::Busy)
            .await
            .unwrap(),
        None
    );
    store.close().await.unwrap();
}

pub async fn engagements_are_listed_at_their_latest_revision_per_campaign_and_account<F, Fut>(
    open: F,
) where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    let a = store.create_campaign(&acc, campaign("a", 1)).await.unwrap();
    let b = store.create_campaign(&acc, campaign("b", 2)).await.unwrap();
    let mut made = Vec::new();
    for (c, name) in [(&a, "a1"), (&a, "a2"), (&b, "b1")] {
        made.push(
            store
                .create_engagement(&acc, c.id, definition(name), AgentState::Online)
                .await
                .unwrap()
                .unwrap(),
        );
    }
    store
        .revise_engagement(&acc, a.id, made[1].id, definition("a2 revised"))
        .await
        .unwrap();
    let in_a = store.engagements(&acc, Some(a.id)).await.unwrap();
    let mut names: Vec<_> = in_a
        .iter()
        .map(|e| (e.definition.name.clone(), e.revision))
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![("a1".to_owned(), 1), ("a2 revised".to_owned(), 2)]
    );
    assert!(in_a
        .windows(2)
        .all(|w| (w[0].campaign_id, w[0].id) < (w[1].campaign_id, w[1].id)));
    let all = store.engagements(&acc, None).await.unwrap();
    assert_eq!(all.len(), 3);
    assert!(all
        .windows(2)
        .all(|w| (w[0].campaign_id, w[0].id) < (w[1].campaign_id, w[1].id)));
    assert_eq!(store.engagements(&acc, Some(1)).await.unwrap(), vec![]);
    store.close().await.unwrap();
}

pub async fn engagements_are_not_found_through_another_campaign_or_account<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    let other = account(&store).await;
    let a = store.create_campaign(&acc, campaign("a", 1)).await.unwrap();
    let b = store.create_campaign(&acc, campaign("b", 1)).await.unwrap();
    let e = store
        .create_engagement(&acc, a.id, definition("e"), AgentState::Online)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store.engagement(&acc, b.id, e.id, None).await.unwrap(),
        None
    );
    assert_eq!(
        store.engagement(&other, a.id, e.id, None).await.unwrap(),
        None
    );
    assert_eq!(store.campaign(&other, a.id).await.unwrap(), None);
    assert!(store.campaigns(&other).await.unwrap().is_empty());
    assert!(store.engagements(&other, None).await.unwrap().is_empty());
    assert_eq!(
        store
            .update_campaign(&other, a.id, campaign("stolen", 1))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .revise_engagement(&other, a.id, e.id, definition("stolen"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .set_engagement_state(&other, a.id, e.id, AgentState::Offline)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .create_engagement(&other, a.id, definition("x"), AgentState::Online)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.engagement(&acc, a.id, e.id, None).await.unwrap(),
        Some(e)
    );
    store.close().await.unwrap();
}

fn impression(name: &str, engagement_id: u64, context_id: &str) -> NewEvent {
    let text = format!(
        r#"{{"appName":"LP_OFFERS","eventName":"{name}","data":{{"contexts":[{{"EngagementContext":{{"id":"{context_id}"}}}},{{"pageContext":{{"id":"page"}}}}],"campaignId":1234,"engagementId":{engagement_id},"engagementRevision":1,"engagementType":5,"contextId":"{context_id}","confKey":"1234_{engagement_id}_1"}}}}"#
    );
    let tape = Tape::parse_str(&text).unwrap();
    sample::new_event(OfferEvent::read(tape.root(), &[]).unwrap(), None)
}

fn batch(account_id: &str, visitor: &str, session: &str, events: Vec<NewEvent>) -> IngestBatch {
    IngestBatch {
        account_id: account_id.to_owned(),
        received_ms: crate::ids::now_ms(),
        visit: Some(sample::visit_context(visitor, session, "page")),
        events,
        sdes: Vec::new(),
        rejected: Vec::new(),
    }
}

pub async fn impression_counts_are_distinct_contexts_per_engagement_over_a_visitors_sessions<
    F,
    Fut,
>(
    open: F,
) where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    let other = account(&store).await;
    assert!(store
        .impression_counts(&acc, "v1")
        .await
        .unwrap()
        .is_empty());
    // Session 1: engagement 7 seen in two contexts (one reported twice), engagement 9
    // displayed and clicked but never an impression.
    let first = vec![
        impression("START", 7, "c1"),
        impression("OFFER_IMPRESSION", 7, "c1"),
        impression("OFFER_IMPRESSION", 7, "c1"),
        impression("OFFER_IMPRESSION", 7, "c2"),
        impression("OFFER_DISPLAY", 9, "c3"),
        impression("OFFER_CLICK", 9, "c3"),
    ];
    store.ingest(batch(&acc, "v1", "s1", first)).await.unwrap();
    // Session 2 of the same visitor, and another visitor, and another account.
    store
        .ingest(batch(
            &acc,
            "v1",
            "s2",
            vec![
                impression("OFFER_IMPRESSION", 7, "c4"),
                impression("OFFER_IMPRESSION", 9, "c5"),
            ],
        ))
        .await
        .unwrap();
    store
        .ingest(batch(
            &acc,
            "v2",
            "s3",
            vec![impression("OFFER_IMPRESSION", 7, "c6")],
        ))
        .await
        .unwrap();
    store
        .ingest(batch(
            &other,
            "v1",
            "s4",
            vec![impression("OFFER_IMPRESSION", 7, "c7")],
        ))
        .await
        .unwrap();
    assert_eq!(
        store.impression_counts(&acc, "v1").await.unwrap(),
        vec![(7, 3), (9, 1)]
    );
    assert_eq!(
        store.impression_counts(&acc, "v2").await.unwrap(),
        vec![(7, 1)]
    );
    assert_eq!(
        store.impression_counts(&other, "v1").await.unwrap(),
        vec![(7, 1)]
    );
    assert!(store
        .impression_counts(&acc, "nobody")
        .await
        .unwrap()
        .is_empty());
    store.close().await.unwrap();
}

pub async fn recent_interactions_tell_session_time_impression_and_decline_newest_first<F, Fut>(
    open: F,
) where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    let other = account(&store).await;
    const DAY: i64 = 86_400_000;
    let now = crate::ids::now_ms();
    let at = |name: &str, engagement: u64, context: &str, ms: i64| {
        let mut e = impression(name, engagement, context);
        e.client_time_ms = Some(ms);
        e
    };
    // Ten days ago: engagement 7 declined. Two days ago: 7 seen. Now, another session: 7
    // seen, 9 only displayed.
    store
        .ingest(batch(
            &acc,
            "v1",
            "old",
            vec![
                at("OFFER_IMPRESSION", 7, "c1", now - 10 * DAY),
                at("OFFER_DECLINED", 7, "c1", now - 10 * DAY + 5),
                at("OFFER_IMPRESSION", 7, "c2", now - 2 * DAY),
            ],
        ))
        .await
        .unwrap();
    store
        .ingest(batch(
            &acc,
            "v1",
            "new",
            vec![
                at("OFFER_IMPRESSION", 7, "c3", now - 1000),
                at("OFFER_DISPLAY", 9, "c4", now - 500),
            ],
        ))
        .await
        .unwrap();
    store
        .ingest(batch(
            &other,
            "v1",
            "elsewhere",
            vec![at("OFFER_IMPRESSION", 7, "c5", now)],
        ))
        .await
        .unwrap();
    let all = store
        .recent_interactions(&acc, "v1", now - 30 * DAY, 100)
        .await
        .unwrap();
    let seen: Vec<(u64, &str, i64, bool, bool)> = all
        .iter()
        .map(|r| {
            (
                r.engagement_id,
                r.session_id.as_str(),
                r.start_ms,
                r.impressed,
                r.declined,
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (9, "new", now - 500, false, false),
            (7, "new", now - 1000, true, false),
            (7, "old", now - 2 * DAY, true, false),
            (7, "old", now - 10 * DAY, true, true),
        ]
    );
    let week = store
        .recent_interactions(&acc, "v1", now - 7 * DAY, 100)
        .await
        .unwrap();
    assert_eq!(week.len(), 3);
    assert_eq!(
        store
            .recent_interactions(&acc, "v1", now - 30 * DAY, 2)
            .await
            .unwrap(),
        all[..2].to_vec()
    );
    assert!(store
        .recent_interactions(&acc, "v2", 0, 100)
        .await
        .unwrap()
        .is_empty());
    store.close().await.unwrap();
}

pub async fn campaigns_and_engagements_survive_close_and_reopen<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let dir = TempDir::new();
    let store = open(dir.path().to_owned()).await;
    let acc = account(&store).await;
    let app = store.create_app(&acc, "app").await.unwrap();
    let c = store.create_campaign(&acc, campaign("c", 5)).await.unwrap();
    let e = store
        .create_engagement(&acc, c.id, definition("e1"), AgentState::Busy)
        .await
        .unwrap()
        .unwrap();
    let e2 = store
        .revise_engagement(&acc, c.id, e.id, definition("e2"))
        .await
        .unwrap()
        .unwrap();
    store.close().await.unwrap();
    drop(store);

    let store = open(dir.path().to_owned()).await;
    assert_eq!(store.apps(&acc).await.unwrap(), vec![app]);
    assert_eq!(store.campaign(&acc, c.id).await.unwrap(), Some(c.clone()));
    assert_eq!(
        store.engagement(&acc, c.id, e.id, None).await.unwrap(),
        Some(e2)
    );
    let first = store
        .engagement(&acc, c.id, e.id, Some(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.definition, e.definition);
    assert_eq!(first.state, AgentState::Busy);
    store.close().await.unwrap();
}

pub async fn campaign_writes_after_close_are_refused<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    let c = store.create_campaign(&acc, campaign("c", 5)).await.unwrap();
    store.close().await.unwrap();
    assert!(matches!(
        store.create_campaign(&acc, campaign("late", 1)).await,
        Err(StoreError::Closed)
    ));
    assert!(matches!(
        store.create_app(&acc, "late").await,
        Err(StoreError::Closed)
    ));
    assert!(matches!(
        store
            .create_engagement(&acc, c.id, definition("late"), AgentState::Online)
            .await,
        Err(StoreError::Closed)
    ));
}
