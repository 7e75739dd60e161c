//! A SQLite store read as the source of `engage migrate` (see `crate::migration`).
//!
//! Visits are read back as the batches that made them: for each visit, its pages, its
//! interactions' event runs and its attribute chain, grouped by page view and server
//! time (what one request wrote shares both), each group one [`IngestBatch`] at its
//! server time. A page view that stored no item is a batch without items, and so is
//! the visit's last contact when no item was stored then, so the target's visit starts
//! and ends when the source's did.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension};

use super::batch::ClientKey;
use super::reader::{corrupt, history_sde};
use super::{events, read_u64, sql_err};
use crate::migration::{
    AccountCounts, AdminRows, AppRow, CampaignRow, EngagementRow, ExposureRow, IdentityRow,
    NonceRow, QuarantineRow, RevisionRow, VisitChunk,
};
use crate::{
    Account, ClientProperties, IngestBatch, NewEvent, NewSde, OAuthKey, PageView, StoreError,
    VisitContext,
};

/// The source store: one connection, reading only.
pub struct SqliteSource {
    conn: Connection,
}

impl std::fmt::Debug for SqliteSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteSource").finish_non_exhaustive()
    }
}

/// One stored page view.
struct PageRow {
    page_id: String,
    page: PageView,
    user_agent: Option<String>,
    received_ms: i64,
}

/// One batch being put together: its items in storage order.
struct Pending {
    page_row: i64,
    events: Vec<(i64, NewEvent)>,
    sdes: Vec<(i64, NewSde)>,
}

impl SqliteSource {
    /// Opens the store's file and brings it to this build's schema, as `engage serve`
    /// would; refuses a path with no store.
    pub fn open(path: &Path) -> Result<SqliteSource, StoreError> {
        if !path.is_file() {
            return Err(StoreError::InvalidLocation(format!(
                "{} is not a SQLite store (no such file)",
                path.display()
            )));
        }
        let mut conn = Connection::open(path).map_err(|e| {
            StoreError::InvalidLocation(format!("cannot open {}: {e}", path.display()))
        })?;
        super::schema::configure_writer(&conn)?;
        super::schema::migrate(&mut conn).map_err(|e| match e {
            super::schema::MigrateError::Db(e) => sql_err(e),
            super::schema::MigrateError::Newer(v) => StoreError::InvalidLocation(format!(
                "{} has schema version {v}, newer than this build's",
                path.display()
            )),
            super::schema::MigrateError::Unknown(v) => StoreError::InvalidLocation(format!(
                "{} has an unknown schema version {v}",
                path.display()
            )),
        })?;
        conn.execute_batch(
            // Pages have no index by visit; reading a chunk of visits needs one, and the
            // source file is not ours to change.
            "CREATE TEMP TABLE page_visits AS SELECT visit_id, id FROM pages;
             CREATE INDEX temp.page_visits_visit ON page_visits (visit_id, id);",
        )
        .map_err(sql_err)?;
        Ok(SqliteSource { conn })
    }

    /// Every account, oldest id first.
    pub fn accounts(&mut self) -> Result<Vec<Account>, StoreError> {
        let ids: Vec<String> = self
            .conn
            .prepare("SELECT id FROM accounts ORDER BY id")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(sql_err)?;
        let mut accounts = Vec::with_capacity(ids.len());
        for id in ids {
            let account =
                super::reader::account(&mut self.conn, super::reader::AccountBy::Id(&id))?
                    .ok_or_else(|| corrupt(format!("account {id} vanished")))?;
            accounts.push(account);
        }
        Ok(accounts)
    }

    /// The account's rows other than visits and the quarantine.
    pub fn admin(&self, account: &str) -> Result<AdminRows, StoreError> {
        let c = &self.conn;
        let u64_of = |v: ValueRef<'_>| read_u64(v).ok_or(rusqlite::Error::InvalidQuery);
        let apps = c
            .prepare("SELECT id, name, created_ms FROM apps WHERE account = ?1 ORDER BY id")
            .and_then(|mut s| {
                s.query_map([account], |r| {
                    Ok(AppRow {
                        app_id: r.get(0)?,
                        name: r.get(1)?,
                        created_ms: r.get(2)?,
                    })
                })?
                .collect()
            })
            .map_err(sql_err)?;
        let campaigns = c
            .prepare(
                "SELECT id, name, goal, priority, enabled, created_ms, updated_ms
                 FROM campaigns WHERE account = ?1 ORDER BY id",
            )
            .and_then(|mut s| {
                s.query_map([account], |r| {
                    Ok(CampaignRow {
                        campaign_id: u64_of(r.get_ref(0)?)?,
                        name: r.get(1)?,
                        goal: r.get(2)?,
                        priority: r.get(3)?,
                        enabled: r.get(4)?,
                        created_ms: r.get(5)?,
                        updated_ms: r.get(6)?,
                    })
                })?
                .collect()
            })
            .map_err(sql_err)?;
        let engagements = c
            .prepare(
                "SELECT id, campaign_id, revision, state, created_ms, updated_ms
                 FROM engagements WHERE account = ?1 ORDER BY id",
            )
            .and_then(|mut s| {
                s.query_map([account], |r| {
                    Ok(EngagementRow {
                        engagement_id: u64_of(r.get_ref(0)?)?,
                        campaign_id: u64_of(r.get_ref(1)?)?,
                        revision: r.get(2)?,
                        state: r.get(3)?,
                        created_ms: r.get(4)?,
                        updated_ms: r.get(5)?,
                    })
                })?
                .collect()
            })
            .map_err(sql_err)?;
        let revisions = c
            .prepare(
                "SELECT r.engagement_id, r.revision, r.created_ms, r.definition
                 FROM engagement_revisions r JOIN engagements e ON e.id = r.engagement_id
                 WHERE e.account = ?1 ORDER BY r.engagement_id, r.revision",
            )
            .and_then(|mut s| {
                s.query_map([account], |r| {
                    Ok(RevisionRow {
                        engagement_id: u64_of(r.get_ref(0)?)?,
                        revision: r.get(1)?,
                        created_ms: r.get(2)?,
                        definition: r.get(3)?,
                    })
                })?
                .collect()
            })
            .map_err(sql_err)?;
        let oauth_keys = c
            .prepare(
                "SELECT account, app_key, app_secret, access_token, access_token_secret,
                        created_ms
                 FROM oauth_keys WHERE account = ?1 ORDER BY created_ms, app_key",
            )
            .and_then(|mut s| {
                s.query_map([account], |r| {
                    Ok(OAuthKey {
                        account: r.get(0)?,
                        app_key: r.get(1)?,
                        app_secret: r.get(2)?,
                        access_token: r.get(3)?,
                        access_token_secret: r.get(4)?,
                        created_ms: r.get(5)?,
                    })
                })?
                .collect()
            })
            .map_err(sql_err)?;
        let identities = c
            .prepare(
                "SELECT identity, visitor_id, created_ms FROM consumer_identities
                 WHERE account = ?1 ORDER BY identity",
            )
            .and_then(|mut s| {
                s.query_map([account], |r| {
                    Ok(IdentityRow {
                        identity: r.get(0)?,
                        visitor_id: r.get(1)?,
                        created_ms: r.get(2)?,
                    })
                })?
                .collect()
            })
            .map_err(sql_err)?;
        let exposures = c
            .prepare(
                "SELECT session_id, context_id, campaign_id, engagement_id, shown_ms
                 FROM exposures WHERE account = ?1 ORDER BY session_id, context_id",
            )
            .and_then(|mut s| {
                s.query_map([account], |r| {
                    Ok(ExposureRow {
                        session_id: r.get(0)?,
                        context_id: r.get(1)?,
                        campaign_id: u64_of(r.get_ref(2)?)?,
                        engagement_id: u64_of(r.get_ref(3)?)?,
                        shown_ms: r.get(4)?,
                    })
                })?
                .collect()
            })
            .map_err(sql_err)?;
        let nonces = c
            .prepare(
                "SELECT nonce_key, expires_s FROM oauth_nonces WHERE account = ?1
                 ORDER BY nonce_key",
            )
            .and_then(|mut s| {
                s.query_map([account], |r| {
                    Ok(NonceRow {
                        nonce_key: r.get(0)?,
                        expires_s: r.get(1)?,
                    })
                })?
                .collect()
            })
            .map_err(sql_err)?;
        Ok(AdminRows {
            apps,
            campaigns,
            engagements,
            revisions,
            oauth_keys,
            identities,
            exposures,
            nonces,
        })
    }

    /// What the account holds, as [`AccountCounts`].
    pub fn counts(&self, account: &str) -> Result<AccountCounts, StoreError> {
        let count = |sql: &str| -> Result<u64, StoreError> {
            let n: i64 = self
                .conn
                .prepare_cached(sql)
                .and_then(|mut s| s.query_row([account], |r| r.get(0)))
                .map_err(sql_err)?;
            Ok(u64::try_from(n).unwrap_or(0))
        };
        Ok(AccountCounts {
            apps: count("SELECT count(*) FROM apps WHERE account = ?1")?,
            campaigns: count("SELECT count(*) FROM campaigns WHERE account = ?1")?,
            engagements: count("SELECT count(*) FROM engagements WHERE account = ?1")?,
            revisions: count(
                "SELECT count(*) FROM engagement_revisions r
                 JOIN engagements e ON e.id = r.engagement_id WHERE e.account = ?1",
            )?,
            oauth_keys: count("SELECT count(*) FROM oauth_keys WHERE account = ?1")?,
            identities: count("SELECT count(*) FROM consumer_identities WHERE account = ?1")?,
            exposures: count("SELECT count(*) FROM exposures WHERE account = ?1")?,
            visits: count("SELECT count(*) FROM visits WHERE account = ?1")?,
            pages: count("SELECT count(*) FROM pages WHERE account = ?1")?,
            interactions: count("SELECT count(*) FROM interactions WHERE account = ?1")?,
            events: count("SELECT count(*) FROM event_ids WHERE account = ?1")?,
            sdes: count("SELECT count(*) FROM sdes WHERE account = ?1")?,
            quarantine: count("SELECT count(*) FROM quarantine WHERE account = ?1")?,
        })
    }

    /// How many of the account's visits have a source id at most `through`.
    pub fn visits_through(&self, account: &str, through: i64) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM visits WHERE id <= ?2 AND account = ?1",
                params![account, through],
                |r| r.get(0),
            )
            .map_err(sql_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The earliest and latest server time of the account's stored items, if any: the
    /// months the target needs partitions for.
    pub fn time_span(&self, account: &str) -> Result<Option<(i64, i64)>, StoreError> {
        let span = |sql: &str| -> Result<(Option<i64>, Option<i64>), StoreError> {
            self.conn
                .query_row(sql, [account], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(sql_err)
        };
        let (a, b) =
            span("SELECT min(server_ms), max(server_ms) FROM event_runs WHERE account = ?1")?;
        let (c, d) = span("SELECT min(server_ms), max(server_ms) FROM sdes WHERE account = ?1")?;
        let low = [a, c].into_iter().flatten().min();
        let high = [b, d].into_iter().flatten().max();
        Ok(low.zip(high))
    }

    /// Up to `max_visits` of the account's visits after source id `after`, as batches.
    pub fn visit_chunk(
        &mut self,
        account: &str,
        after: i64,
        max_visits: usize,
    ) -> Result<VisitChunk, StoreError> {
        let visits: Vec<VisitHead> = self
            .conn
            .prepare_cached(
                "SELECT v.id, v.visitor_id, v.session_id, v.user_agent, v.client_properties,
                        h.last_seen_ms, h.sde_head
                 FROM visits v JOIN visit_heads h ON h.visit_id = v.id
                 WHERE v.id > ?2 AND v.account = ?1 ORDER BY v.id LIMIT ?3",
            )
            .and_then(|mut s| {
                s.query_map(
                    params![
                        account,
                        after,
                        i64::try_from(max_visits).unwrap_or(i64::MAX)
                    ],
                    |r| {
                        Ok(VisitHead {
                            id: r.get(0)?,
                            visitor_id: r.get(1)?,
                            session_id: r.get(2)?,
                            user_agent: r.get(3)?,
                            client: r.get(4)?,
                            last_seen_ms: r.get(5)?,
                            sde_head: r.get(6)?,
                        })
                    },
                )?
                .collect()
            })
            .map_err(sql_err)?;
        let mut chunk = VisitChunk::default();
        for visit in &visits {
            chunk.batches.extend(self.visit_batches(account, visit)?);
            chunk.visits += 1;
            chunk.last_visit = Some(visit.id);
        }
        Ok(chunk)
    }

    /// One visit's batches, in the order they arrived.
    fn visit_batches(
        &mut self,
        account: &str,
        visit: &VisitHead,
    ) -> Result<Vec<IngestBatch>, StoreError> {
        let pages = self.pages(visit.id)?;
        let Some(&first_page) = pages.keys().next() else {
            return Err(corrupt(format!("visit {} has no page", visit.id)));
        };
        // (server_ms, page_row) -> items; BTreeMap keeps arrival order.
        let mut groups: BTreeMap<(i64, i64), Pending> = BTreeMap::new();
        let mut groups_events: Vec<(i64, i64, i64, NewEvent)> = Vec::new();
        self.visit_events(visit.id, first_page, &pages, &mut groups_events)?;
        let mut groups_sdes: Vec<(i64, i64, i64, NewSde)> = Vec::new();
        self.visit_sdes(visit, first_page, &mut groups_sdes)?;
        for (server_ms, page_row, row, event) in groups_events {
            groups
                .entry((server_ms, page_row))
                .or_insert_with(|| Pending::new(page_row))
                .events
                .push((row, event));
        }
        for (server_ms, page_row, row, sde) in groups_sdes {
            groups
                .entry((server_ms, page_row))
                .or_insert_with(|| Pending::new(page_row))
                .sdes
                .push((row, sde));
        }
        for (&row, page) in &pages {
            if !groups
                .keys()
                .any(|&(ms, p)| p == row && ms <= page.received_ms)
            {
                groups
                    .entry((page.received_ms, row))
                    .or_insert_with(|| Pending::new(row));
            }
        }
        let last_page = groups
            .iter()
            .next_back()
            .map_or(first_page, |(_, g)| g.page_row);
        if groups.keys().all(|&(ms, _)| ms < visit.last_seen_ms) {
            groups
                .entry((visit.last_seen_ms, last_page))
                .or_insert_with(|| Pending::new(last_page));
        }
        let client: Option<ClientProperties> = visit
            .client
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| corrupt(format!("visit {} client properties: {e}", visit.id)))?;
        let mut batches = Vec::with_capacity(groups.len());
        for ((server_ms, page_row), mut pending) in groups {
            let page = pages
                .get(&page_row)
                .ok_or_else(|| corrupt(format!("page {page_row} vanished")))?;
            pending.events.sort_by_key(|(row, _)| *row);
            pending.sdes.sort_by_key(|(row, _)| *row);
            batches.push(IngestBatch {
                account_id: account.to_owned(),
                received_ms: server_ms,
                visit: Some(VisitContext {
                    visitor_id: visit.visitor_id.clone(),
                    session_id: visit.session_id.clone(),
                    page_id: page.page_id.clone(),
                    page: Some(page.page.clone()),
                    user_agent: page.user_agent.clone().or_else(|| visit.user_agent.clone()),
                    client: client.clone(),
                }),
                events: pending.events.into_iter().map(|(_, e)| e).collect(),
                sdes: pending.sdes.into_iter().map(|(_, s)| s).collect(),
                rejected: Vec::new(),
            });
        }
        Ok(batches)
    }

    /// The visit's page views by row id.
    fn pages(&self, visit_id: i64) -> Result<BTreeMap<i64, PageRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT p.id, p.page_id, p.url, p.referrer, p.title, p.sections, p.user_agent,
                        p.received_ms
                 FROM temp.page_visits t JOIN pages p ON p.id = t.id
                 WHERE t.visit_id = ?1 ORDER BY p.id",
            )
            .map_err(sql_err)?;
        let mut rows = stmt.query([visit_id]).map_err(sql_err)?;
        let mut pages = BTreeMap::new();
        while let Some(r) = rows.next().map_err(sql_err)? {
            let id: i64 = r.get(0).map_err(sql_err)?;
            let page_id = ClientKey::read(r.get_ref(1).map_err(sql_err)?)
                .ok_or_else(|| corrupt(format!("page {id}: its id")))?;
            let sections: String = r.get(5).map_err(sql_err)?;
            let sections: Vec<String> = serde_json::from_str(&sections)
                .map_err(|e| corrupt(format!("page {id} sections: {e}")))?;
            pages.insert(
                id,
                PageRow {
                    page_id,
                    page: PageView {
                        url: r.get(2).map_err(sql_err)?,
                        referrer: r.get(3).map_err(sql_err)?,
                        title: r.get(4).map_err(sql_err)?,
                        sections,
                    },
                    user_agent: r.get(6).map_err(sql_err)?,
                    received_ms: r.get(7).map_err(sql_err)?,
                },
            );
        }
        Ok(pages)
    }

    /// The visit's events as `(server_ms, page_row, storage position, event)`.
    fn visit_events(
        &self,
        visit_id: i64,
        first_page: i64,
        pages: &BTreeMap<i64, PageRow>,
        out: &mut Vec<(i64, i64, i64, NewEvent)>,
    ) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT r.id, r.server_ms, r.page_row, r.events, i.context_id, i.page_row
                 FROM interactions i JOIN event_runs r ON r.interaction_row = i.id
                 WHERE i.visit_id = ?1 ORDER BY r.id",
            )
            .map_err(sql_err)?;
        let mut rows = stmt.query([visit_id]).map_err(sql_err)?;
        let mut shapes = events::ShapeReader::default();
        let run_size = i64::try_from(events::MAX_RUN).unwrap_or(256);
        while let Some(r) = rows.next().map_err(sql_err)? {
            let run: i64 = r.get(0).map_err(sql_err)?;
            let server_ms: i64 = r.get(1).map_err(sql_err)?;
            let page_row = r
                .get::<_, Option<i64>>(2)
                .map_err(sql_err)?
                .or(r.get::<_, Option<i64>>(5).map_err(sql_err)?)
                .filter(|p| pages.contains_key(p))
                .unwrap_or(first_page);
            let blob = r
                .get_ref(3)
                .map_err(sql_err)?
                .as_blob()
                .map_err(|e| sql_err(e.into()))?;
            let stored = events::decode_run(blob, server_ms)
                .ok_or_else(|| corrupt(format!("event run {run}")))?;
            let context_id = ClientKey::read(r.get_ref(4).map_err(sql_err)?)
                .ok_or_else(|| corrupt(format!("event run {run}: its context id")))?;
            let page_id = pages.get(&page_row).map(|p| p.page_id.as_str());
            for (pos, e) in stored.into_iter().enumerate() {
                let event = events::offer_event(&mut shapes, &self.conn, &e, &context_id, page_id)?;
                let at = run * run_size + i64::try_from(pos).unwrap_or(0);
                out.push((
                    server_ms,
                    page_row,
                    at,
                    NewEvent {
                        client_id: e.client_id,
                        client_time_ms: e.client_time_ms,
                        event,
                    },
                ));
            }
        }
        Ok(())
    }

    /// The visit's attributes as `(server_ms, page_row, row id, attribute)`, walking its
    /// chain from the newest (as reading a visit does).
    fn visit_sdes(
        &self,
        visit: &VisitHead,
        first_page: i64,
        out: &mut Vec<(i64, i64, i64, NewSde)>,
    ) -> Result<(), StoreError> {
        let mut step = self
            .conn
            .prepare_cached(
                "SELECT client_id, server_ms, server_ms - client_lag_ms, page_row, history,
                        prev_in_visit
                 FROM sdes WHERE id = ?1",
            )
            .map_err(sql_err)?;
        let mut next = visit.sde_head;
        while let Some(id) = next {
            let link = step
                .query_row([id], |r| {
                    Ok((
                        ClientKey::read(r.get_ref(0)?),
                        r.get::<_, i64>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                        r.get::<_, Option<i64>>(3)?,
                        super::compact::unpack_history(r.get_ref(4)?),
                        r.get::<_, Option<i64>>(5)?,
                    ))
                })
                .optional()
                .map_err(sql_err)?;
            let Some((client_id, server_ms, client_ms, page_row, history, prev)) = link else {
                break;
            };
            let client_id = client_id.ok_or_else(|| corrupt(format!("attribute {id}")))?;
            let history = history.ok_or_else(|| corrupt(format!("attribute {id}")))?;
            out.push((
                server_ms,
                page_row.unwrap_or(first_page),
                id,
                NewSde {
                    client_id,
                    client_time_ms: client_ms,
                    sde: history_sde(&history)?,
                },
            ));
            next = prev.filter(|p| *p < id);
        }
        Ok(())
    }

    /// Up to `limit` of the account's quarantine entries after id `after`, as stored.
    pub fn quarantine_chunk(
        &self,
        account: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<QuarantineRow>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT id, received_ms, kind, idx, client_id, raw, context, errors, replayed_ms
                 FROM quarantine WHERE account = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
            )
            .and_then(|mut s| {
                s.query_map(
                    params![account, after, i64::try_from(limit).unwrap_or(i64::MAX)],
                    |r| {
                        Ok(QuarantineRow {
                            id: r.get(0)?,
                            received_ms: r.get(1)?,
                            kind: r.get(2)?,
                            idx: r.get(3)?,
                            client_id: r.get(4)?,
                            raw: r.get(5)?,
                            context: r.get(6)?,
                            errors: r.get(7)?,
                            replayed_ms: r.get(8)?,
                        })
                    },
                )?
                .collect()
            })
            .map_err(sql_err)
    }
}

impl Pending {
    fn new(page_row: i64) -> Pending {
        Pending {
            page_row,
            events: Vec::new(),
            sdes: Vec::new(),
        }
    }
}

/// A visit row with its head.
struct VisitHead {
    id: i64,
    visitor_id: String,
    session_id: String,
    user_agent: Option<String>,
    client: Option<String>,
    last_seen_ms: i64,
    sde_head: Option<i64>,
}
