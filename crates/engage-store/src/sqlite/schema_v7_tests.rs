//! A store written at schema version 7 answers after its migration exactly as a store
//! that took the same batches at the current version.
//!
//! The version 7 store is written by [`V7Writer`], which stores batches the way the
//! version 7 writer did (its rows, its text index, its chains), into tables made by the
//! migrations up to 7. The same batches go through the current [`SqliteStore`]; then the
//! version 7 file is opened by the current build, which migrates it, and every answer
//! that reads what ingest wrote is compared: the exports of events, attributes and
//! quarantine, interaction searches (all, by visitor, by keyword, by attribute, by id,
//! ended, interactive) and the visit state.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::Path;

use engage_model::{SdeType, Stamps};
use rusqlite::{params, Connection};

use super::*;
use crate::sqlite::batch::{prepare, ClientKey};
use crate::sqlite::history::{search_text, SdeText};
use crate::sqlite::{SqlU64, SqliteStore};
use crate::{
    sample, ExportKind, IngestBatch, InteractionFilters, InteractionQuery, NewAccount,
    NewQuarantine, Outcome, QuarantineKind, RawJson, SortField, SortKey, Store, TextSearch,
};

const UUIDS: [&str; 12] = [
    "0190f0e2-7b1c-7a00-8000-000000000001",
    "0190f0e2-7b1c-7a00-8000-000000000002",
    "0190f0e2-7b1d-7a00-8000-000000000003",
    "0190f0e2-7b1e-7a00-8000-000000000004",
    "0190f0e2-7b1f-7a00-8000-000000000005",
    "0190f0e2-7b20-7a00-8000-000000000006",
    "0190f0e2-7b21-7a00-8000-000000000007",
    "0190f0e2-7b22-7a00-8000-000000000008",
    "0190f0e2-7b23-7a00-8000-000000000009",
    "0190f0e2-7b24-7a00-8000-00000000000a",
    "0190f0e2-7b25-7a00-8000-00000000000b",
    "0190f0e2-7b26-7a00-8000-00000000000c",
];
const PAGE_1: &str = "0190f0e2-7000-7a00-8000-0000000000a1";
const PAGE_2: &str = "page-two";
const CONTEXT_A: &str = "0190f0e2-7100-7a00-8000-0000000000c1";
const CONTEXT_B: &str = "2";

/// Two page views of one visit and a page view of another visitor: contexts whose events
/// span both batches, an event without a client time, an event whose page context is
/// not its page, a non-UUID client id, attributes of several types (one without a client
/// time, one merged, one appended), a quarantined item, and a retried event.
fn batches(account: &str) -> Vec<IngestBatch> {
    let t0 = 1_750_000_000_000;
    let event = |id: &str, name: &str, context: &str, page: &str, time: Option<i64>| {
        let mut e = sample::new_event(sample::event(name, context, page), time);
        e.client_id = id.to_owned();
        e
    };
    let sde = |id: &str, t: SdeType, time: Option<i64>| {
        let mut s = sample::new_sde(sample::sde(t), time);
        s.client_id = id.to_owned();
        s
    };
    let mut first = IngestBatch {
        account_id: account.to_owned(),
        received_ms: t0 + 500,
        visit: Some(sample::visit_context("visitor-1", "session-1", PAGE_1)),
        events: vec![
            event(UUIDS[0], "START", CONTEXT_A, PAGE_1, Some(t0)),
            event(UUIDS[1], "OFFER_DISPLAY", CONTEXT_A, PAGE_1, Some(t0 + 20)),
            event(UUIDS[2], "START", CONTEXT_B, PAGE_1, None),
            event(
                "evt-text-id",
                "OFFER_IMPRESSION",
                CONTEXT_A,
                "elsewhere",
                Some(t0 + 40),
            ),
        ],
        sdes: vec![
            sde(UUIDS[3], SdeType::Purchase, Some(t0 + 10)),
            sde(UUIDS[4], SdeType::CustomerInfo, None),
        ],
        rejected: vec![NewQuarantine {
            kind: QuarantineKind::Event,
            index: Some(4),
            client_id: Some("bad-1".into()),
            raw: r#"{"id":"bad-1","eventName":"NOPE"}"#.into(),
            context: RawJson::from_text(r#"{"visitorId":"visitor-1"}"#.into()).unwrap(),
            errors: vec![engage_model::FieldError::new("/eventName", "unknown event")],
        }],
    };
    let mut second = IngestBatch {
        account_id: account.to_owned(),
        received_ms: t0 + 60_000,
        visit: Some(sample::visit_context("visitor-1", "session-1", PAGE_2)),
        events: vec![
            event(
                UUIDS[5],
                "OFFER_CLICK",
                CONTEXT_A,
                PAGE_1,
                Some(t0 + 59_000),
            ),
            event(
                UUIDS[6],
                "OFFER_TIMEOUT",
                CONTEXT_B,
                PAGE_1,
                Some(t0 + 59_500),
            ),
            // A retry of the first batch's first event.
            event(UUIDS[0], "START", CONTEXT_A, PAGE_1, Some(t0)),
            event(UUIDS[7], "START", "ctx-3", PAGE_2, Some(t0 + 59_900)),
        ],
        sdes: vec![
            sde(UUIDS[8], SdeType::CustomerInfo, Some(t0 + 59_000)),
            sde(UUIDS[9], SdeType::ViewedProduct, Some(t0 + 59_100)),
        ],
        rejected: vec![],
    };
    if let Some(v) = &mut second.visit {
        v.user_agent = Some("another agent".into());
    }
    let mut third = IngestBatch {
        account_id: account.to_owned(),
        received_ms: t0 + 70_000,
        visit: Some(sample::visit_context("visitor-2", "session-2", PAGE_1)),
        events: vec![event(
            UUIDS[10],
            "START",
            CONTEXT_B,
            PAGE_1,
            Some(t0 + 69_000),
        )],
        sdes: vec![sde(UUIDS[11], SdeType::SearchContent, Some(t0 + 69_000))],
        rejected: vec![],
    };
    if let Some(v) = &mut third.visit {
        v.page = None;
    }
    first.rejected[0].index = Some(4);
    vec![first, second, third]
}

/// What the version 7 writer kept per interaction row.
struct V7Interaction {
    row: i64,
    start_ms: i64,
    end_ms: i64,
    outcome: u8,
}

/// Writes batches the way the version 7 writer did.
struct V7Writer {
    conn: Connection,
    sessions: HashMap<String, (i64, Option<i64>)>,
    pages: HashMap<(i64, String), i64>,
    interactions: HashMap<(i64, String), V7Interaction>,
    seen: std::collections::HashSet<Vec<u8>>,
}

impl V7Writer {
    fn new(path: &Path) -> V7Writer {
        let mut conn = Connection::open(path).unwrap();
        configure_writer(&conn).unwrap();
        migrate_to(&mut conn, 7).unwrap();
        V7Writer {
            conn,
            sessions: HashMap::new(),
            pages: HashMap::new(),
            interactions: HashMap::new(),
            seen: Default::default(),
        }
    }

    fn key_bytes(key: &ClientKey) -> Vec<u8> {
        match key {
            ClientKey::Uuid(b) => b.to_vec(),
            ClientKey::Text(t) => t.as_bytes().to_vec(),
        }
    }

    fn write(&mut self, batch: IngestBatch) {
        let account = batch.account_id.clone();
        let received = batch.received_ms;
        let histories: Vec<String> = batch
            .sdes
            .iter()
            .map(|s| s.sde.to_history(Stamps::default()).to_json())
            .collect();
        let p = prepare(batch).unwrap();
        let c = &self.conn;
        let (visit_id, page_row) = match &p.visit {
            None => (None, None),
            Some(v) => {
                let visit_id = match self.sessions.get(&v.session_id) {
                    Some((id, _)) => *id,
                    None => {
                        c.execute(
                            "INSERT INTO visits (account, visitor_id, session_id, first_seen_ms,
                                 user_agent, referrer, client_properties)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                            params![
                                account,
                                v.visitor_id,
                                v.session_id,
                                received,
                                v.user_agent,
                                v.referrer,
                                v.client
                            ],
                        )
                        .unwrap();
                        let id = c.last_insert_rowid();
                        c.execute(
                            "INSERT INTO visit_heads VALUES (?1, ?2, NULL)",
                            params![id, received],
                        )
                        .unwrap();
                        self.sessions.insert(v.session_id.clone(), (id, None));
                        id
                    }
                };
                let page_row = match self.pages.get(&(visit_id, v.page_id.clone())) {
                    Some(row) => *row,
                    None => {
                        c.execute(
                            "INSERT INTO pages (account, page_id, visit_id, url, referrer, title,
                                 sections, user_agent, received_ms)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                            params![
                                account,
                                v.page_id,
                                visit_id,
                                v.url,
                                v.referrer,
                                v.title,
                                v.sections,
                                v.user_agent,
                                received
                            ],
                        )
                        .unwrap();
                        let row = c.last_insert_rowid();
                        self.pages.insert((visit_id, v.page_id.clone()), row);
                        row
                    }
                };
                c.execute(
                    "UPDATE visit_heads SET last_seen_ms = max(last_seen_ms, ?2) WHERE visit_id = ?1",
                    params![visit_id, received],
                )
                .unwrap();
                (Some(visit_id), Some(page_row))
            }
        };
        for e in &p.events {
            let d = &e.event.data;
            let at = e.client_time_ms.unwrap_or(received);
            let rank = Outcome::of_event(e.event.name).rank();
            let k = (visit_id.unwrap_or(0), d.context_id.clone());
            let row = match self.interactions.get_mut(&k) {
                Some(i) => {
                    i.start_ms = i.start_ms.min(at);
                    i.end_ms = i.end_ms.max(at);
                    i.outcome = i.outcome.max(rank);
                    c.execute(
                        "UPDATE interactions SET start_ms = ?2, end_ms = ?3, outcome = ?4 WHERE id = ?1",
                        params![i.row, i.start_ms, i.end_ms, i.outcome],
                    )
                    .unwrap();
                    i.row
                }
                None => {
                    c.execute(
                        "INSERT INTO interactions (account, context_id, visit_id, page_row,
                             campaign_id, engagement_id, engagement_revision, engagement_type,
                             zone_id, tgl_name, engagement_name, start_ms, end_ms, outcome)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13)",
                        params![
                            account,
                            d.context_id,
                            visit_id,
                            page_row,
                            SqlU64(d.conf_key.campaign_id),
                            SqlU64(d.conf_key.engagement_id),
                            SqlU64(d.conf_key.engagement_revision),
                            d.engagement_type.map(|t| t.code()),
                            d.zone_id.map(SqlU64),
                            d.tgl_name,
                            d.engagement_name,
                            at,
                            rank
                        ],
                    )
                    .unwrap();
                    let row = c.last_insert_rowid();
                    self.interactions.insert(
                        k,
                        V7Interaction {
                            row,
                            start_ms: at,
                            end_ms: at,
                            outcome: rank,
                        },
                    );
                    row
                }
            };
            if !self.seen.insert(Self::key_bytes(&e.client_id)) {
                continue;
            }
            c.execute(
                "INSERT INTO events (account, client_id, server_ms, client_ms, visit_id, page_row,
                     event_name, context_id, page_context_id, campaign_id, engagement_id,
                     engagement_revision, engagement_type, zone_id, state, tgl_name, done,
                     engagement_name, interaction_row)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, '', ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                     ?16, ?17, ?18)",
                params![
                    account,
                    e.client_id,
                    received,
                    e.client_time_ms,
                    visit_id,
                    page_row,
                    e.event.name.as_str(),
                    e.page_context,
                    SqlU64(d.conf_key.campaign_id),
                    SqlU64(d.conf_key.engagement_id),
                    SqlU64(d.conf_key.engagement_revision),
                    d.engagement_type.map(|t| t.code()),
                    d.zone_id.map(SqlU64),
                    d.state.map(|s| s.code()),
                    d.tgl_name,
                    d.done,
                    d.engagement_name,
                    row
                ],
            )
            .unwrap();
        }
        let mut text = SdeText::default();
        for (s, history) in p.sdes.iter().zip(&histories) {
            if !self.seen.insert(Self::key_bytes(&s.client_id)) {
                continue;
            }
            let session = p.visit.as_ref().map(|v| v.session_id.clone());
            let head = session
                .as_ref()
                .and_then(|k| self.sessions.get(k))
                .and_then(|(_, h)| *h);
            c.execute(
                "INSERT INTO sdes (account, client_id, server_ms, client_ms, visit_id, page_row,
                     sde_type, prev_in_visit, history)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    account,
                    s.client_id,
                    received,
                    s.client_time_ms,
                    visit_id,
                    page_row,
                    s.sde.sde_type().history_key(),
                    head,
                    history
                ],
            )
            .unwrap();
            let row = c.last_insert_rowid();
            text.add(row, s.sde.sde_type(), &search_text(history));
            if let Some(k) = session {
                if let Some(slot) = self.sessions.get_mut(&k) {
                    slot.1 = Some(row);
                    c.execute(
                        "UPDATE visit_heads SET sde_head = ?2 WHERE visit_id = ?1",
                        params![slot.0, row],
                    )
                    .unwrap();
                }
            }
        }
        text.write(c).unwrap();
        for q in &p.rejected {
            c.execute(
                "INSERT INTO quarantine (account, received_ms, kind, idx, client_id, raw, context, errors)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![account, received, q.kind.as_str(), q.index, q.client_id, q.raw, q.context, q.errors],
            )
            .unwrap();
        }
    }
}

/// Every answer the comparison covers, from one store.
async fn answers(store: &SqliteStore, account: &str) -> Vec<String> {
    let mut out = Vec::new();
    for kind in [ExportKind::Events, ExportKind::Sdes, ExportKind::Quarantine] {
        out.push(format!(
            "count {:?}: {}",
            kind,
            store.count(account, kind).await.unwrap()
        ));
        // Pages of two, so the cursors are used.
        let mut cursor = None;
        loop {
            let page = store.export_page(account, kind, cursor, 2).await.unwrap();
            for item in &page.items {
                out.push(format!("{kind:?}: {}", item.as_str()));
            }
            if page.items.is_empty() {
                break;
            }
            cursor = page.cursor;
        }
    }
    let base = InteractionFilters {
        start_from_ms: 0,
        start_to_ms: i64::MAX,
        visitor: None,
        interaction_id: None,
        campaign_ids: vec![],
        engagement_ids: vec![],
        engagement_types: vec![],
        outcomes: vec![],
        keyword: None,
        sde_search: vec![],
        interactive: None,
        ended: None,
        duration_s: None,
        include_bots: false,
        matches_nothing: false,
    };
    let searches = [
        base.clone(),
        InteractionFilters {
            visitor: Some("visitor-1".into()),
            ..base.clone()
        },
        InteractionFilters {
            keyword: Some(TextSearch {
                text: "DRV1534XC".into(),
                types: vec![SdeType::Purchase],
            }),
            ..base.clone()
        },
        InteractionFilters {
            sde_search: vec![TextSearch {
                text: "138766AC".into(),
                types: vec![SdeType::CustomerInfo],
            }],
            ..base.clone()
        },
        InteractionFilters {
            interaction_id: Some(CONTEXT_A.into()),
            ..base.clone()
        },
        InteractionFilters {
            interaction_id: Some(CONTEXT_B.into()),
            ..base.clone()
        },
        InteractionFilters {
            ended: Some(true),
            ..base.clone()
        },
        InteractionFilters {
            interactive: Some(false),
            ..base.clone()
        },
    ];
    for filters in searches {
        let page = store
            .search_interactions(
                account,
                InteractionQuery {
                    filters,
                    sort: vec![SortKey {
                        field: SortField::EngagementId,
                        descending: false,
                    }],
                    offset: 0,
                    limit: 100,
                },
            )
            .await
            .unwrap();
        out.push(format!("{page:?}"));
    }
    for session in ["session-1", "session-2"] {
        out.push(format!(
            "{:?}",
            store.visit(account, session).await.unwrap()
        ));
    }
    out.push(format!(
        "{:?}",
        crate::CampaignStore::impression_counts(store, account, "visitor-1")
            .await
            .unwrap()
    ));
    out
}

#[tokio::test]
async fn a_version_7_store_migrates_and_answers_as_a_store_written_now() {
    let dir = tempfile::tempdir().unwrap();
    let now = SqliteStore::open(&dir.path().join("now.db")).await.unwrap();
    let account = now
        .create_account(NewAccount {
            name: "Shop".into(),
            api_key_hash: "h".into(),
        })
        .await
        .unwrap();
    for batch in batches(&account.id) {
        now.ingest(batch).await.unwrap();
    }
    let expected = answers(&now, &account.id).await;

    let old_path = dir.path().join("v7.db");
    {
        let mut old = V7Writer::new(&old_path);
        old.conn
            .execute(
                "INSERT INTO accounts VALUES (?1, ?2, ?3, ?4, '[]')",
                params![
                    account.id,
                    account.name,
                    account.api_key_hash,
                    account.created_ms
                ],
            )
            .unwrap();
        for batch in batches(&account.id) {
            old.write(batch);
        }
        let version: i64 = old
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, 7);
    }
    let migrated = SqliteStore::open(&old_path).await.unwrap();
    let got = answers(&migrated, &account.id).await;
    assert_eq!(got.len(), expected.len(), "{got:#?}\n{expected:#?}");
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(g, e);
    }
    // The answers hold what was written.
    let all = expected.join("\n");
    for needle in [
        UUIDS[0],
        "evt-text-id",
        "elsewhere",
        "DRV1534XC",
        "bad-1",
        "ctx-3",
    ] {
        assert!(all.contains(needle), "{needle}");
    }
    assert!(expected.contains(&"count Events: 8".to_owned()), "{all}");

    // The migrated store keeps taking batches, and a retry is still a duplicate.
    let retry = batches(&account.id).remove(0);
    let outcome = migrated.ingest(retry).await.unwrap();
    assert_eq!((outcome.accepted, outcome.duplicates), (0, 6));
}
