//! The conformance suite's part for [`Store::search_interactions`]: how events become
//! interactions, and every filter, sort and page of the Engagement History API's search.
//!
//! [`store_conformance_tests!`](crate::store_conformance_tests) expands these with the
//! rest of the suite.

// A test suite: a panic is a failed test, with the message saying which expectation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use engage_model::{
    AgentState, ConfKey, EngagementType, OfferData, OfferEvent, OfferEventName, SdeType,
};

use crate::campaign_conformance::{campaign, definition};
use crate::conformance::{account, fresh};
use crate::sample;
use crate::{
    ClientProperties, IngestBatch, InteractionFilters, InteractionPage, InteractionQuery, NewEvent,
    Outcome, SortField, SortKey, Store, TextSearch,
};

/// Expands the history tests into one `#[tokio::test]` each for a backend.
#[macro_export]
macro_rules! history_conformance_tests {
    ($open:path) => {
        $crate::history_conformance_tests!(@expand $open;
            interaction_is_one_contexts_events_in_client_time_order_with_late_arrivals,
            interaction_outcome_is_its_furthest_event,
            event_ids_read_back_as_sent_in_the_timeline_and_the_export,
            interaction_carries_its_visit_page_campaign_and_attributes_oldest_first,
            what_an_apps_impressions_do_not_say_comes_from_the_engagements_definition,
            search_filters_by_start_range_and_combines_filters,
            search_by_visitor_and_by_interaction_id,
            search_sorts_by_every_field_and_pages_with_a_total_count,
            keyword_search_finds_an_order_id_only_in_the_chosen_types,
            sde_search_finds_a_customer_id_and_an_email_in_their_types,
            searches_do_not_see_another_accounts_interactions,
            search_by_interactive_ended_and_duration_in_seconds,
            a_filter_on_what_no_interaction_records_matches_nothing,
            equal_context_ids_of_two_visitors_are_two_interactions,
            a_batch_naming_another_visitors_session_is_refused_and_changes_nothing,
            a_batch_naming_another_visitors_context_does_not_touch_its_interaction,
            a_page_id_named_in_another_session_is_another_page_view,
            bots_interactions_are_kept_and_searched_only_when_asked,
            an_offer_answered_faster_than_a_person_reads_is_flagged_for_behaviour,
        );
    };
    (@expand $open:path; $($test:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                $crate::history_conformance::$test($open).await;
            }
        )*
    };
}

const T0: i64 = 1_750_000_000_000;

/// A batch of one page view of `visitor` in `session`, received at `received_ms`.
fn page_batch(account: &str, visitor: &str, session: &str, received_ms: i64) -> IngestBatch {
    IngestBatch {
        account_id: account.to_owned(),
        received_ms,
        visit: Some(sample::visit_context(
            visitor,
            session,
            &format!("{session}-page"),
        )),
        events: Vec::new(),
        sdes: Vec::new(),
        rejected: Vec::new(),
    }
}

/// An event of `context` for engagement `(campaign, engagement, type)` at client time `at`.
fn event(name: &str, context: &str, engagement: (u64, u64, u8), at: i64) -> NewEvent {
    sample::new_event(
        sample::parse_event(&sample::engagement_event_text(
            name, context, "page-ctx", engagement,
        )),
        Some(at),
    )
}

const SPRING: (u64, u64, u8) = (1234, 5678, 5);
const SUMMER: (u64, u64, u8) = (2222, 3333, 1);

/// Every interaction that started in `[from, to]`, newest first.
pub(crate) fn query(from: i64, to: i64) -> InteractionQuery {
    InteractionQuery {
        filters: InteractionFilters {
            start_from_ms: from,
            start_to_ms: to,
            visitor: None,
            interaction_id: None,
            campaign_ids: Vec::new(),
            engagement_ids: Vec::new(),
            engagement_types: Vec::new(),
            outcomes: Vec::new(),
            keyword: None,
            sde_search: Vec::new(),
            interactive: None,
            ended: None,
            duration_s: None,
            include_bots: false,
            matches_nothing: false,
        },
        sort: vec![SortKey {
            field: SortField::Start,
            descending: true,
        }],
        offset: 0,
        limit: 100,
    }
}

fn all() -> InteractionQuery {
    query(T0 - 86_400_000, T0 + 86_400_000)
}

async fn search(store: &Arc<dyn Store>, account: &str, q: InteractionQuery) -> InteractionPage {
    store
        .search_interactions(account, q)
        .await
        .expect("search_interactions")
}

fn ids(page: &InteractionPage) -> Vec<&str> {
    page.records
        .iter()
        .map(|r| r.interaction_id.as_str())
        .collect()
}

/// `(visitor, session, context, engagement, start, last event)`.
type Row<'a> = (&'a str, &'a str, &'a str, (u64, u64, u8), i64, &'a str);

/// One interaction per row, of one page each.
async fn fill(store: &Arc<dyn Store>, account: &str, rows: &[Row<'_>]) {
    for (visitor, session, context, engagement, start, last) in rows {
        let mut b = page_batch(account, visitor, session, *start);
        b.events.push(event("START", context, *engagement, *start));
        b.events
            .push(event("OFFER_DISPLAY", context, *engagement, start + 10));
        b.events
            .push(event(last, context, *engagement, start + 500));
        store.ingest(b).await.expect("ingest");
    }
}

pub async fn interaction_is_one_contexts_events_in_client_time_order_with_late_arrivals<F, Fut>(
    open: F,
) where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let a = account(&store).await;
    // The impression and display come first; START and the click arrive later, and the
    // first batch is then retried.
    let mut first = page_batch(&a, "v1", "s1", T0 + 5_000);
    first
        .events
        .push(event("OFFER_IMPRESSION", "ctx-1", SPRING, T0 + 2_000));
    first
        .events
        .push(event("OFFER_DISPLAY", "ctx-1", SPRING, T0 + 1_500));
    // Another context in the same batch is another interaction.
    first
        .events
        .push(event("START", "ctx-2", SPRING, T0 + 1_700));
    let retry = first.clone();
    store.ingest(first).await.unwrap();
    let mut late = page_batch(&a, "v1", "s1", T0 + 9_000);
    late.events
        .push(event("OFFER_CLICK", "ctx-1", SPRING, T0 + 3_000));
    late.events
        .push(event("START", "ctx-1", SPRING, T0 + 1_000));
    // At the same time as the click: lifecycle order breaks the tie.
    late.events
        .push(event("OFFER_REMOVE", "ctx-1", SPRING, T0 + 3_000));
    store.ingest(late).await.unwrap();
    let outcome = store.ingest(retry).await.unwrap();
    assert_eq!(outcome.duplicates, 3);

    let page = search(&store, &a, all()).await;
    assert_eq!(page.count, 2);
    let mut q = all();
    q.filters.interaction_id = Some("ctx-1".into());
    let page = search(&store, &a, q).await;
    assert_eq!(page.count, 1);
    let r = &page.records[0];
    assert_eq!(r.interaction_id, "ctx-1");
    assert_eq!((r.start_ms, r.end_ms), (T0 + 1_000, T0 + 3_000));
    let names: Vec<OfferEventName> = r.events.iter().map(|e| e.event.name).collect();
    assert_eq!(
        names,
        [
            OfferEventName::Start,
            OfferEventName::OfferDisplay,
            OfferEventName::OfferImpression,
            OfferEventName::OfferClick,
            OfferEventName::OfferRemove,
        ],
        "ordered by client time then lifecycle, the retry stored nothing twice"
    );
    assert_eq!(r.events[0].client_time_ms, Some(T0 + 1_000));
    assert_eq!(r.events[0].server_ms, T0 + 9_000);
    assert!(r.events.iter().all(|e| e.event.data.context_id == "ctx-1"));
    assert_eq!(r.outcome, Outcome::Clicked);
}

pub async fn event_ids_read_back_as_sent_in_the_timeline_and_the_export<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let a = account(&store).await;
    // UUIDs as the tag makes them, and ids that are not UUIDs.
    let cases = [
        (
            "0190f0e2-7b1c-7a00-8000-00000000002a",
            "0190f0e2-7b1c-7a00-8000-0000000000ff",
        ),
        ("ctx-plain", "0190F0E2-7B1C-7A00-8000-0000000000FF"),
    ];
    for (context, page_context) in cases {
        let mut b = page_batch(&a, "v1", "s1", T0);
        let text = sample::engagement_event_text("START", context, page_context, SPRING);
        b.events
            .push(sample::new_event(sample::parse_event(&text), Some(T0)));
        store.ingest(b).await.unwrap();
    }
    for (context, page_context) in cases {
        let mut q = all();
        q.filters.interaction_id = Some(context.into());
        let page = search(&store, &a, q).await;
        let data = &page.records[0].events[0].event.data;
        assert_eq!(
            (data.context_id.as_str(), data.page_context_id.as_str()),
            (context, page_context)
        );
    }
    let exported = store
        .export_page(&a, crate::ExportKind::Events, None, 10)
        .await
        .unwrap()
        .items;
    let exported: Vec<serde_json::Value> = exported.iter().map(crate::conformance::tree).collect();
    let ids: Vec<(&str, &str)> = exported
        .iter()
        .map(|e| {
            (
                e["data"]["contextId"].as_str().unwrap(),
                e["data"]["contexts"][1]["pageContext"]["id"]
                    .as_str()
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(ids, cases);
}

pub async fn interaction_outcome_is_its_furthest_event<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let a = account(&store).await;
    let cases: [(&[&str], Outcome); 7] = [
        (&["START"], Outcome::Started),
        (&["START", "OFFER_DISPLAY"], Outcome::Displayed),
        (
            &["START", "OFFER_DISPLAY", "OFFER_IMPRESSION"],
            Outcome::Displayed,
        ),
        (&["OFFER_IMPRESSION", "OFFER_REMOVE"], Outcome::Removed),
        (&["OFFER_TIMEOUT", "OFFER_REMOVE"], Outcome::TimedOut),
        (
            &["OFFER_DECLINED", "OFFER_REMOVE", "START"],
            Outcome::Declined,
        ),
        (&["OFFER_CLICK", "OFFER_TIMEOUT"], Outcome::Clicked),
    ];
    for (i, (names, _)) in cases.iter().enumerate() {
        // Each event in its own batch: the outcome is folded across batches.
        for (j, name) in names.iter().enumerate() {
            let mut b = page_batch(&a, "v1", "s1", T0);
            b.events
                .push(event(name, &format!("ctx-{i}"), SPRING, T0 + j as i64));
            store.ingest(b).await.unwrap();
        }
    }
    for (i, (names, expected)) in cases.iter().enumerate() {
        let mut q = all();
        q.filters.interaction_id = Some(format!("ctx-{i}"));
        let page = search(&store, &a, q).await;
        assert_eq!(page.records[0].outcome, *expected, "{names:?}");
    }
    let mut q = all();
    q.filters.outcomes = vec![Outcome::Displayed, Outcome::Clicked];
    let mut found = ids(&search(&store, &a, q).await)
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    found.sort();
    assert_eq!(found, ["ctx-1", "ctx-2", "ctx-6"]);
}

pub async fn interaction_carries_its_visit_page_campaign_and_attributes_oldest_first<F, Fut>(
    open: F,
) where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let a = account(&store).await;
    let mut b = page_batch(&a, "visitor-7", "session-7", T0 + 100);
    b.events.push(event("START", "ctx-7", SPRING, T0));
    b.sdes.push(sample::new_sde(
        sample::sde(SdeType::CustomerInfo),
        Some(T0 + 50),
    ));
    b.sdes
        .push(sample::new_sde(sample::sde(SdeType::Cart), Some(T0 + 20)));
    store.ingest(b).await.unwrap();
    // An attribute reported later in the visit, from another page, belongs to it too.
    let mut later = page_batch(&a, "visitor-7", "session-7", T0 + 900);
    later.visit.as_mut().unwrap().page_id = "another-page".into();
    later
        .sdes
        .push(sample::new_sde(sample::sde(SdeType::Purchase), None));
    store.ingest(later).await.unwrap();

    let page = search(&store, &a, all()).await;
    assert_eq!(page.count, 1);
    let r = &page.records[0];
    assert_eq!(r.visitor_id.as_deref(), Some("visitor-7"));
    assert_eq!(r.session_id.as_deref(), Some("session-7"));
    assert_eq!(r.page_id.as_deref(), Some("session-7-page"));
    assert_eq!(r.page_url.as_deref(), Some("https://shop.example/shoes"));
    assert_eq!(
        r.referrer.as_deref(),
        Some("https://search.example/?q=shoes")
    );
    assert!(r.user_agent.as_deref().unwrap().contains("Linux x86_64"));
    let c = &r.campaign;
    assert_eq!(
        (c.campaign_id, c.engagement_id, c.engagement_revision),
        (1234, 5678, 3)
    );
    assert_eq!(c.engagement_type, Some(EngagementType::Embedded));
    assert_eq!(c.tgl_name.as_deref(), Some("embedded"));
    assert_eq!(c.engagement_name.as_deref(), Some("Spring sale"));
    assert_eq!(c.zone_id, Some(42));
    assert_eq!(c.campaign_name, None, "no campaign of that id is defined");
    assert_eq!(r.client, None, "a page says nothing of the kind");
    assert_eq!(r.outcome, Outcome::Started);
    assert_eq!((r.start_ms, r.end_ms), (T0, T0));

    let sdes: Vec<serde_json::Value> = r.sdes.iter().map(crate::conformance::tree).collect();
    let keys: Vec<&str> = sdes
        .iter()
        .map(|s| s.as_object().unwrap().keys().next().unwrap().as_str())
        .collect();
    assert_eq!(
        keys,
        ["cartStatus", "customerInfo", "purchase"],
        "oldest first"
    );
    assert_eq!(sdes[0]["cartStatus"]["originalTimeStamp"], "1750000000020");
    assert_eq!(sdes[0]["cartStatus"]["serverTimeStamp"], "1750000000100");
    assert_eq!(
        sdes[1]["customerInfo"]["customerInfo"]["customerId"],
        "138766AC"
    );
    assert_eq!(sdes[2]["purchase"]["serverTimeStamp"], "1750000000900");
    assert!(sdes[2]["purchase"].get("originalTimeStamp").is_none());
}

pub async fn what_an_apps_impressions_do_not_say_comes_from_the_engagements_definition<F, Fut>(
    open: F,
) where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let a = account(&store).await;
    let c = store
        .create_campaign(&a, campaign("Spring sale", 10))
        .await
        .unwrap();
    let e = store
        .create_engagement(&a, c.id, definition("Chat with us"), AgentState::Online)
        .await
        .unwrap()
        .unwrap();
    // What the Monitoring API's impression attributes become: ids, no renderer or name.
    let bare = |name| OfferEvent {
        name,
        data: OfferData {
            context_id: "app-ctx".into(),
            page_context_id: "app-page".into(),
            conf_key: ConfKey {
                campaign_id: c.id,
                engagement_id: e.id,
                engagement_revision: 1,
            },
            engagement_type: None,
            zone_id: None,
            state: None,
            tgl_name: None,
            done: None,
            engagement_name: None,
        },
    };
    let mut b = page_batch(&a, "app-visitor", "app-session", T0);
    let client = ClientProperties {
        app_version: Some("4.2.0".into()),
        device_family: Some("MOBILE".into()),
        os: Some("ANDROID".into()),
        os_version: Some("14".into()),
        language: None,
    };
    b.visit.as_mut().unwrap().client = Some(client.clone());
    b.events.push(sample::new_event(
        bare(OfferEventName::OfferImpression),
        None,
    ));
    b.events
        .push(sample::new_event(bare(OfferEventName::OfferClick), None));
    store.ingest(b).await.unwrap();

    let page = search(&store, &a, all()).await;
    let r = &page.records[0];
    assert_eq!(r.outcome, Outcome::Clicked);
    assert_eq!(
        (r.start_ms, r.end_ms),
        (T0, T0),
        "server time without a client time"
    );
    assert_eq!(
        r.client,
        Some(client),
        "the app's device, kept with its visit"
    );
    let got = &r.campaign;
    assert_eq!(got.campaign_name.as_deref(), Some("Spring sale"));
    assert_eq!(got.engagement_name.as_deref(), Some("Chat with us"));
    assert_eq!(got.engagement_type, Some(EngagementType::SlideOut));
    assert_eq!(got.tgl_name.as_deref(), Some("slider"));
    assert_eq!(got.zone_id, Some(471288710));
    // The events themselves stay as they were sent.
    assert!(r.events.iter().all(|e| e.event.data.tgl_name.is_none()));
    // A search by type finds it by the definition's type, as the record shows it.
    let mut q = all();
    q.filters.engagement_types = vec![EngagementType::SlideOut];
    assert_eq!(ids(&search(&store, &a, q.clone()).await), ["app-ctx"]);
    q.filters.engagement_types = vec![EngagementType::Overlay];
    assert_eq!(search(&store, &a, q).await.count, 0);
}

pub async fn search_filters_by_start_range_and_combines_filters<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let a = account(&store).await;
    fill(
        &store,
        &a,
        &[
            ("v1", "s1", "a", SPRING, T0, "OFFER_CLICK"),
            ("v1", "s1", "b", SUMMER, T0 + 1_000, "OFFER_DECLINED"),
            ("v2", "s2", "c", SPRING, T0 + 2_000, "OFFER_TIMEOUT"),
            ("v3", "s3", "d", SUMMER, T0 + 3_000, "OFFER_CLICK"),
        ],
    )
    .await;
    let page = search(&store, &a, query(T0 + 1_000, T0 + 2_000)).await;
    assert_eq!(ids(&page), ["c", "b"], "both ends included, newest first");
    assert_eq!(page.count, 2);

    let mut q = all();
    q.filters.campaign_ids = vec![2222];
    assert_eq!(ids(&search(&store, &a, q.clone()).await), ["d", "b"]);
    q.filters.outcomes = vec![Outcome::Clicked];
    assert_eq!(ids(&search(&store, &a, q).await), ["d"]);

    let mut q = all();
    q.filters.engagement_ids = vec![5678, 9999];
    assert_eq!(ids(&search(&store, &a, q.clone()).await), ["c", "a"]);
    q.filters.engagement_types = vec![EngagementType::Overlay];
    assert_eq!(search(&store, &a, q).await.count, 0, "SPRING is embedded");

    let mut q = all();
    q.filters.engagement_types = vec![EngagementType::Overlay, EngagementType::Embedded];
    q.filters.start_from_ms = T0 + 500;
    assert_eq!(ids(&search(&store, &a, q).await), ["d", "c", "b"]);
}

pub async fn search_by_visitor_and_by_interaction_id<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let a = account(&store).await;
    fill(
        &store,
        &a,
        &[
            ("v1", "s1", "a", SPRING, T0, "OFFER_CLICK"),
            ("v1", "s1b", "b", SUMMER, T0 + 1_000, "OFFER_DECLINED"),
            ("v2", "s2", "c", SPRING, T0 + 2_000, "OFFER_TIMEOUT"),
        ],
    )
    .await;
    let mut q = all();
    q.filters.visitor = Some("v1".into());
    assert_eq!(
        ids(&search(&store, &a, q.clone()).await),
        ["b", "a"],
        "over both of v1's sessions"
    );
    q.filters.start_to_ms = T0 + 500;
    assert_eq!(ids(&search(&store, &a, q).await), ["a"], "and in the range");
    let mut q = all();
    q.filters.visitor = Some("nobody".into());
    assert_eq!(search(&store, &a, q).await.count, 0);

    let mut q = all();
    q.filters.interaction_id = Some("c".into());
    assert_eq!(ids(&search(&store, &a, q.clone()).await), ["c"]);
    q.filters.visitor = Some("v1".into());
    assert_eq!(search(&store, &a, q).await.count, 0, "c is v2's");
}

pub async fn search_sorts_by_every_field_and_pages_with_a_total_count<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let a = account(&store).await;
    // start, end - start: a 0/600, b 100/100, c 200/300, d 300/100 (ties broken by row)
    let rows = [
        ("vc", "s1", "a", 0, 600),
        ("va", "s2", "b", 100, 100),
        ("vd", "s3", "c", 200, 300),
        ("vb", "s4", "d", 300, 100),
    ];
    for (visitor, session, context, start, duration) in rows {
        let mut b = page_batch(&a, visitor, session, T0);
        b.events.push(event("START", context, SPRING, T0 + start));
        b.events.push(event(
            "OFFER_TIMEOUT",
            context,
            SPRING,
            T0 + start + duration,
        ));
        store.ingest(b).await.unwrap();
    }
    let sorted = |field, descending, then: Option<SortKey>| {
        let mut q = all();
        q.sort = vec![SortKey { field, descending }];
        q.sort.extend(then);
        q
    };
    let cases = [
        (
            sorted(SortField::Start, false, None),
            vec!["a", "b", "c", "d"],
        ),
        (
            sorted(SortField::Start, true, None),
            vec!["d", "c", "b", "a"],
        ),
        (sorted(SortField::End, true, None), vec!["a", "c", "d", "b"]),
        (
            sorted(SortField::Duration, false, None),
            vec!["b", "d", "c", "a"],
        ),
        (
            sorted(
                SortField::Duration,
                false,
                Some(SortKey {
                    field: SortField::Start,
                    descending: true,
                }),
            ),
            vec!["d", "b", "c", "a"],
        ),
        (
            sorted(SortField::Visitor, false, None),
            vec!["b", "d", "a", "c"],
        ),
        (
            sorted(SortField::EngagementId, true, None),
            vec!["d", "c", "b", "a"],
        ),
    ];
    for (q, expected) in cases {
        let page = search(&store, &a, q.clone()).await;
        assert_eq!(ids(&page), expected, "{:?}", q.sort);
    }

    let mut q = sorted(SortField::Start, false, None);
    q.limit = 3;
    let first = search(&store, &a, q.clone()).await;
    assert_eq!((first.count, ids(&first)), (4, vec!["a", "b", "c"]));
    q.offset = 3;
    let second = search(&store, &a, q.clone()).await;
    assert_eq!((second.count, ids(&second)), (4, vec!["d"]));
    q.offset = 4;
    let past = search(&store, &a, q).await;
    assert_eq!(past.count, 4, "the count does not depend on the page");
    assert!(past.records.is_empty());
}

pub async fn keyword_search_finds_an_order_id_only_in_the_chosen_types<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let a = account(&store).await;
    fill(
        &store,
        &a,
        &[
            ("v1", "s1", "buyer", SPRING, T0, "OFFER_CLICK"),
            ("v2", "s2", "browser", SPRING, T0 + 10, "OFFER_CLICK"),
        ],
    )
    .await;
    // The purchase (orderId DRV1534XC) arrives after the interaction, in the same visit.
    let mut b = page_batch(&a, "v1", "s1", T0 + 60_000);
    b.sdes
        .push(sample::new_sde(sample::sde(SdeType::Purchase), None));
    store.ingest(b).await.unwrap();
    let mut b = page_batch(&a, "v2", "s2", T0 + 60_000);
    b.sdes
        .push(sample::new_sde(sample::sde(SdeType::Cart), None));
    store.ingest(b).await.unwrap();

    let keyword = |text: &str, types: &[SdeType]| {
        let mut q = all();
        q.filters.keyword = Some(TextSearch {
            text: text.into(),
            types: types.to_vec(),
        });
        q
    };
    let in_purchase = keyword("DRV1534XC", &[SdeType::Purchase]);
    assert_eq!(ids(&search(&store, &a, in_purchase).await), ["buyer"]);
    assert_eq!(
        ids(&search(&store, &a, keyword("drv1534xc", &[])).await),
        ["buyer"],
        "any type, any case"
    );
    let elsewhere = keyword("DRV1534XC", &[SdeType::Cart, SdeType::CustomerInfo]);
    assert_eq!(search(&store, &a, elsewhere).await.count, 0);
    // "prod1" is in both the purchase's and the cart's products.
    let both_page = search(&store, &a, keyword("prod1", &[])).await;
    let mut both = ids(&both_page);
    both.sort_unstable();
    assert_eq!(both, ["browser", "buyer"]);
    assert_eq!(
        ids(&search(&store, &a, keyword("prod1", &[SdeType::Cart])).await),
        ["browser"]
    );
    assert_eq!(search(&store, &a, keyword("DRV9999", &[])).await.count, 0);
    assert_eq!(
        search(&store, &a, keyword(" -- ", &[])).await.count,
        0,
        "no word to look for matches nothing"
    );
    assert_eq!(
        search(&store, &a, keyword("\"DRV1534XC", &[])).await.count,
        1,
        "quotes in the text are words' edges, not syntax"
    );
}

pub async fn sde_search_finds_a_customer_id_and_an_email_in_their_types<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let a = account(&store).await;
    fill(
        &store,
        &a,
        &[
            ("v1", "s1", "known", SPRING, T0, "OFFER_CLICK"),
            ("v2", "s2", "anonymous", SPRING, T0 + 10, "OFFER_CLICK"),
        ],
    )
    .await;
    let mut b = page_batch(&a, "v1", "s1", T0 + 5);
    b.sdes.push(sample::new_sde(
        sample::sde(SdeType::CustomerInfo),
        Some(T0 + 5),
    ));
    b.sdes.push(sample::new_sde(
        sample::sde(SdeType::PersonalInfo),
        Some(T0 + 6),
    ));
    store.ingest(b).await.unwrap();

    let sde_search = |searches: &[(SdeType, &str)]| {
        let mut q = all();
        q.filters.sde_search = searches
            .iter()
            .map(|(t, text)| TextSearch {
                text: (*text).into(),
                types: vec![*t],
            })
            .collect();
        q
    };
    let customer = sde_search(&[(SdeType::CustomerInfo, "138766AC")]);
    assert_eq!(ids(&search(&store, &a, customer).await), ["known"]);
    let email = sde_search(&[(SdeType::PersonalInfo, "john@example.com")]);
    assert_eq!(ids(&search(&store, &a, email).await), ["known"]);
    let both = sde_search(&[
        (SdeType::CustomerInfo, "138766AC"),
        (SdeType::PersonalInfo, "john@example.com"),
    ]);
    assert_eq!(ids(&search(&store, &a, both).await), ["known"]);
    let wrong_type = sde_search(&[(SdeType::PersonalInfo, "138766AC")]);
    assert_eq!(search(&store, &a, wrong_type).await.count, 0);
    let one_fails = sde_search(&[
        (SdeType::CustomerInfo, "138766AC"),
        (SdeType::PersonalInfo, "jane@example.com"),
    ]);
    assert_eq!(search(&store, &a, one_fails).await.count, 0, "searches AND");
}

pub async fn searches_do_not_see_another_accounts_interactions<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let a = account(&store).await;
    let b = account(&store).await;
    fill(
        &store,
        &a,
        &[("v1", "s1", "ctx", SPRING, T0, "OFFER_CLICK")],
    )
    .await;
    let mut batch = page_batch(&a, "v1", "s1", T0);
    batch
        .sdes
        .push(sample::new_sde(sample::sde(SdeType::Purchase), None));
    store.ingest(batch).await.unwrap();
    // The same ids in another account are another interaction.
    fill(
        &store,
        &b,
        &[("v1", "s1", "ctx", SUMMER, T0 + 1, "OFFER_DECLINED")],
    )
    .await;

    let page = search(&store, &b, all()).await;
    assert_eq!(page.count, 1);
    assert_eq!(page.records[0].campaign.campaign_id, 2222);
    assert_eq!(page.records[0].outcome, Outcome::Declined);
    assert!(page.records[0].sdes.is_empty());
    let mut q = all();
    q.filters.keyword = Some(TextSearch {
        text: "DRV1534XC".into(),
        types: Vec::new(),
    });
    assert_eq!(search(&store, &b, q.clone()).await.count, 0);
    assert_eq!(search(&store, &a, q).await.count, 1);
}

/// Four interactions of distinct shapes: `(context, [(event, ms after start)])`.
async fn fill_lifecycles(store: &Arc<dyn Store>, account: &str) {
    let shapes: [(&str, &[(&str, i64)]); 4] = [
        // Clicked, then the engagement left the page: interactive and ended, 2.5 s.
        (
            "clicked-removed",
            &[
                ("OFFER_DISPLAY", 10),
                ("OFFER_CLICK", 1_000),
                ("OFFER_REMOVE", 2_500),
            ],
        ),
        // Clicked and still on the page: interactive, not ended, 0.5 s.
        ("clicked", &[("OFFER_DISPLAY", 10), ("OFFER_CLICK", 500)]),
        // Its time ran out: ended, not interactive, 61 s.
        (
            "timed-out",
            &[("OFFER_DISPLAY", 10), ("OFFER_TIMEOUT", 61_000)],
        ),
        // Shown only: neither, 1.999 s.
        ("shown", &[("OFFER_DISPLAY", 1_999)]),
    ];
    for (i, (context, events)) in shapes.iter().enumerate() {
        let start = T0 + i64::try_from(i).unwrap() * 100_000;
        let mut b = page_batch(account, "v1", &format!("s-{context}"), start);
        b.events.push(event("START", context, SPRING, start));
        for (name, after) in *events {
            b.events.push(event(name, context, SPRING, start + after));
        }
        store.ingest(b).await.unwrap();
    }
}

pub async fn search_by_interactive_ended_and_duration_in_seconds<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let a = account(&store).await;
    fill_lifecycles(&store, &a).await;
    let sorted = |q: InteractionQuery| {
        let store = store.clone();
        let a = a.clone();
        async move {
            let page = search(&store, &a, q).await;
            let mut found: Vec<String> = ids(&page).into_iter().map(str::to_owned).collect();
            found.sort_unstable();
            assert_eq!(page.count, found.len() as u64);
            found
        }
    };
    let with = |f: &dyn Fn(&mut InteractionFilters)| {
        let mut q = all();
        f(&mut q.filters);
        q
    };
    assert_eq!(
        sorted(with(&|f| f.interactive = Some(true))).await,
        ["clicked", "clicked-removed"]
    );
    assert_eq!(
        sorted(with(&|f| f.interactive = Some(false))).await,
        ["shown", "timed-out"]
    );
    assert_eq!(
        sorted(with(&|f| f.ended = Some(true))).await,
        ["clicked-removed", "timed-out"]
    );
    assert_eq!(
        sorted(with(&|f| f.ended = Some(false))).await,
        ["clicked", "shown"]
    );
    assert_eq!(
        sorted(with(&|f| {
            f.interactive = Some(true);
            f.ended = Some(true);
        }))
        .await,
        ["clicked-removed"]
    );
    // Whole seconds, rounded down, both bounds included.
    assert_eq!(
        sorted(with(&|f| f.duration_s = Some((0, 1)))).await,
        ["clicked", "shown"]
    );
    assert_eq!(
        sorted(with(&|f| f.duration_s = Some((2, 2)))).await,
        ["clicked-removed"]
    );
    assert_eq!(
        sorted(with(&|f| f.duration_s = Some((61, 180)))).await,
        ["timed-out"]
    );
    assert!(sorted(with(&|f| f.duration_s = Some((62, u64::MAX))))
        .await
        .is_empty());

    // Sorted by whether the visitor clicked, then by start.
    let mut q = all();
    q.sort = vec![
        SortKey {
            field: SortField::Interactive,
            descending: true,
        },
        SortKey {
            field: SortField::Start,
            descending: false,
        },
    ];
    let page = search(&store, &a, q).await;
    assert_eq!(
        ids(&page),
        ["clicked-removed", "clicked", "timed-out", "shown"]
    );
}

pub async fn a_filter_on_what_no_interaction_records_matches_nothing<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let a = account(&store).await;
    fill_lifecycles(&store, &a).await;
    assert_eq!(search(&store, &a, all()).await.count, 4);
    let mut q = all();
    q.filters.matches_nothing = true;
    let page = search(&store, &a, q).await;
    assert_eq!((page.count, page.records.len()), (0, 0));
}

/// The interactions with context id `context`, ordered by visitor.
async fn by_context(
    store: &Arc<dyn Store>,
    account: &str,
    context: &str,
) -> Vec<crate::Interaction> {
    let mut q = all();
    q.filters.interaction_id = Some(context.into());
    let mut records = search(store, account, q).await.records;
    records.sort_by(|a, b| a.visitor_id.cmp(&b.visitor_id));
    records
}

fn names(r: &crate::Interaction) -> Vec<OfferEventName> {
    r.events.iter().map(|e| e.event.name).collect()
}

pub async fn equal_context_ids_of_two_visitors_are_two_interactions<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let a = account(&store).await;
    // LivePerson's context ids are small per-session numbers: both pages say "1".
    let mut x = page_batch(&a, "vx", "sx", T0);
    x.events.push(event("START", "1", SPRING, T0));
    x.events.push(event("OFFER_CLICK", "1", SPRING, T0 + 100));
    store.ingest(x).await.unwrap();
    let mut y = page_batch(&a, "vy", "sy", T0 + 1_000);
    y.events.push(event("START", "1", SUMMER, T0 + 1_000));
    y.events
        .push(event("OFFER_DECLINED", "1", SUMMER, T0 + 1_200));
    store.ingest(y).await.unwrap();
    // The same visitor's next session starts over at "1" too.
    let mut x2 = page_batch(&a, "vx", "sx2", T0 + 5_000);
    x2.events.push(event("START", "1", SPRING, T0 + 5_000));
    store.ingest(x2).await.unwrap();

    let records = by_context(&store, &a, "1").await;
    assert_eq!(records.len(), 3, "one interaction per session");
    let of = |session: &str| {
        records
            .iter()
            .find(|r| r.session_id.as_deref() == Some(session))
            .expect("the session's interaction")
    };
    let x = of("sx");
    assert_eq!(x.visitor_id.as_deref(), Some("vx"));
    assert_eq!(
        names(x),
        [OfferEventName::Start, OfferEventName::OfferClick]
    );
    assert_eq!(x.outcome, Outcome::Clicked);
    assert_eq!((x.start_ms, x.end_ms), (T0, T0 + 100));
    let y = of("sy");
    assert_eq!(y.visitor_id.as_deref(), Some("vy"));
    assert_eq!(
        names(y),
        [OfferEventName::Start, OfferEventName::OfferDeclined]
    );
    assert_eq!(y.outcome, Outcome::Declined);
    assert_eq!(y.campaign.engagement_id, SUMMER.1);
    let x2 = of("sx2");
    assert_eq!(names(x2), [OfferEventName::Start]);
    assert_eq!(x2.outcome, Outcome::Started);
}

pub async fn a_batch_naming_another_visitors_session_is_refused_and_changes_nothing<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let a = account(&store).await;
    let mut y = page_batch(&a, "vy", "sy", T0);
    y.events.push(event("START", "1", SPRING, T0));
    store.ingest(y).await.unwrap();
    let before = store.visit(&a, "sy").await.unwrap().expect("y's visit");

    // Visitor X names Y's session, on Y's page and on a page of its own.
    for page in ["sy-page", "x-page"] {
        let mut x = page_batch(&a, "vx", "sy", T0 + 1_000);
        if let Some(v) = &mut x.visit {
            v.page_id = page.into();
        }
        x.sdes.push(sample::new_sde(
            sample::sde(SdeType::Purchase),
            Some(T0 + 900),
        ));
        x.events.push(event("OFFER_CLICK", "1", SPRING, T0 + 900));
        let err = store
            .ingest(x)
            .await
            .expect_err("another visitor's session");
        match err {
            crate::StoreError::IdentityConflict { pointer, .. } => {
                assert_eq!(pointer, "/sessionId")
            }
            other => panic!("expected an identity conflict, got {other:?}"),
        }
    }

    let after = store.visit(&a, "sy").await.unwrap().expect("y's visit");
    assert_eq!(after.visitor_id, "vy");
    assert_eq!(
        after.sdes, before.sdes,
        "X's attributes did not reach Y's visit"
    );
    assert_eq!(after.sdes.count(SdeType::Purchase), 0);
    let records = by_context(&store, &a, "1").await;
    assert_eq!(records.len(), 1);
    assert_eq!(names(&records[0]), [OfferEventName::Start]);
    assert_eq!(records[0].outcome, Outcome::Started);
    // Y's own next batch still joins its visit.
    let mut y2 = page_batch(&a, "vy", "sy", T0 + 2_000);
    y2.events
        .push(event("OFFER_DISPLAY", "1", SPRING, T0 + 2_000));
    let outcome = store.ingest(y2).await.unwrap();
    assert!(!outcome.new_session);
}

pub async fn a_batch_naming_another_visitors_context_does_not_touch_its_interaction<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let a = account(&store).await;
    let mut y = page_batch(&a, "vy", "sy", T0);
    y.events.push(event("START", "ctx-y", SPRING, T0));
    y.events
        .push(event("OFFER_DISPLAY", "ctx-y", SPRING, T0 + 10));
    store.ingest(y).await.unwrap();

    // X, in its own session, sends events for Y's context id.
    let mut x = page_batch(&a, "vx", "sx", T0 + 1_000);
    x.events
        .push(event("OFFER_CLICK", "ctx-y", SPRING, T0 - 5_000));
    store.ingest(x).await.unwrap();

    let records = by_context(&store, &a, "ctx-y").await;
    assert_eq!(records.len(), 2, "X's events are an interaction of X's");
    let (x, y) = (&records[0], &records[1]);
    assert_eq!(y.visitor_id.as_deref(), Some("vy"));
    assert_eq!(
        names(y),
        [OfferEventName::Start, OfferEventName::OfferDisplay]
    );
    assert_eq!(y.outcome, Outcome::Displayed);
    assert_eq!((y.start_ms, y.end_ms), (T0, T0 + 10));
    assert_eq!(x.visitor_id.as_deref(), Some("vx"));
    assert_eq!(names(x), [OfferEventName::OfferClick]);
}

pub async fn a_page_id_named_in_another_session_is_another_page_view<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let a = account(&store).await;
    let mut y = page_batch(&a, "vy", "sy", T0);
    if let Some(v) = &mut y.visit {
        v.page = Some(crate::PageView {
            url: Some("https://y.example/".into()),
            ..Default::default()
        });
    }
    y.events.push(event("START", "1", SPRING, T0));
    store.ingest(y).await.unwrap();

    // X, in a session of its own, names Y's page id (and context id).
    let mut x = page_batch(&a, "vx", "sx", T0 + 1_000);
    if let Some(v) = &mut x.visit {
        v.page_id = "sy-page".into();
        v.page = Some(crate::PageView {
            url: Some("https://x.example/".into()),
            ..Default::default()
        });
    }
    x.events.push(event("OFFER_CLICK", "1", SPRING, T0 + 900));
    assert!(store.ingest(x).await.unwrap().new_session);

    let records = by_context(&store, &a, "1").await;
    assert_eq!(records.len(), 2);
    let (x, y) = (&records[0], &records[1]);
    assert_eq!(y.session_id.as_deref(), Some("sy"));
    assert_eq!(y.page_url.as_deref(), Some("https://y.example/"));
    assert_eq!(names(y), [OfferEventName::Start]);
    assert_eq!(x.session_id.as_deref(), Some("sx"));
    assert_eq!(x.page_id.as_deref(), Some("sy-page"));
    assert_eq!(x.page_url.as_deref(), Some("https://x.example/"));
    assert_eq!(names(x), [OfferEventName::OfferClick]);
}

/// The flag is decided by the batch that creates an interaction: a later batch of the same
/// context with another user agent changes nothing.
pub async fn bots_interactions_are_kept_and_searched_only_when_asked<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let a = account(&store).await;
    let googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
    let headless = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.28 Safari/537.36";
    let visits = [
        ("person", None),
        ("crawler", Some(googlebot)),
        ("headless", Some(headless)),
    ];
    for (n, (context, agent)) in (0..).zip(visits) {
        let start = T0 + n * 1_000;
        let mut b = page_batch(&a, context, context, start);
        if let Some(agent) = agent {
            b.visit.as_mut().expect("a visit").user_agent = Some(agent.to_owned());
        }
        b.events.push(event("START", context, SPRING, start));
        b.events
            .push(event("OFFER_DISPLAY", context, SPRING, start + 10));
        store.ingest(b).await.expect("ingest");
    }
    // Later batches of the same visits, from the other kind of agent.
    let mut later = page_batch(&a, "person", "person", T0 + 5_000);
    later.visit.as_mut().expect("a visit").user_agent = Some(googlebot.to_owned());
    later
        .events
        .push(event("OFFER_CLICK", "person", SPRING, T0 + 5_000));
    store.ingest(later).await.expect("ingest");
    let mut later = page_batch(&a, "crawler", "crawler", T0 + 6_000);
    later
        .events
        .push(event("OFFER_CLICK", "crawler", SPRING, T0 + 6_000));
    store.ingest(later).await.expect("ingest");

    let page = search(&store, &a, all()).await;
    assert_eq!(ids(&page), ["person"], "bots are left out by default");
    assert_eq!(page.count, 1);
    let mut q = all();
    q.filters.include_bots = true;
    let page = search(&store, &a, q.clone()).await;
    assert_eq!(ids(&page), ["headless", "crawler", "person"], "and kept");
    assert_eq!(page.count, 3);
    q.filters.interactive = Some(true);
    assert_eq!(
        ids(&search(&store, &a, q).await),
        ["crawler", "person"],
        "combined with the other filters"
    );
}

/// `engage_model::bot::Pace`: an answer less than 100 ms after the showing, by the page's
/// clock and in one batch, flags a person's interaction; a slower one, or one split over
/// two batches, does not.
pub async fn an_offer_answered_faster_than_a_person_reads_is_flagged_for_behaviour<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let a = account(&store).await;
    let answered = |context: &str, shown: i64, answer: &str, after: i64| {
        let mut b = page_batch(&a, context, context, shown);
        b.events.push(event("START", context, SPRING, shown));
        b.events
            .push(event("OFFER_DISPLAY", context, SPRING, shown));
        b.events.push(event(answer, context, SUMMER, shown + after));
        b
    };
    for b in [
        answered("instant", T0, "OFFER_CLICK", 0),
        answered("quick", T0 + 1_000, "OFFER_DECLINED", 99),
        answered("person", T0 + 2_000, "OFFER_CLICK", 100),
    ] {
        store.ingest(b).await.expect("ingest");
    }
    // Shown in one batch, answered 10 ms later in another: one batch's events only.
    let mut shown = page_batch(&a, "split", "split", T0 + 3_000);
    shown
        .events
        .push(event("START", "split", SPRING, T0 + 3_000));
    shown
        .events
        .push(event("OFFER_DISPLAY", "split", SPRING, T0 + 3_000));
    store.ingest(shown).await.expect("ingest");
    let mut clicked = page_batch(&a, "split", "split", T0 + 3_010);
    clicked
        .events
        .push(event("OFFER_CLICK", "split", SPRING, T0 + 3_010));
    store.ingest(clicked).await.expect("ingest");
    // A row stored as a person's, then a batch that shows and answers it at once.
    let mut later = page_batch(&a, "person", "person", T0 + 9_000);
    later
        .events
        .push(event("OFFER_IMPRESSION", "later", SPRING, T0 + 9_000));
    store.ingest(later).await.expect("ingest");
    assert_eq!(
        ids(&search(&store, &a, all()).await),
        ["later", "split", "person"]
    );
    let mut again = page_batch(&a, "person", "person", T0 + 9_500);
    again
        .events
        .push(event("OFFER_IMPRESSION", "later", SPRING, T0 + 9_500));
    again
        .events
        .push(event("OFFER_CLICK", "later", SPRING, T0 + 9_520));
    store.ingest(again).await.expect("ingest");

    assert_eq!(
        ids(&search(&store, &a, all()).await),
        ["split", "person"],
        "people only by default"
    );
    let mut q = all();
    q.filters.include_bots = true;
    assert_eq!(
        ids(&search(&store, &a, q).await),
        ["later", "split", "person", "quick", "instant"],
        "kept"
    );
}
