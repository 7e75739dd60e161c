//! The quarantine: what failed validation, kept with its raw input and errors, listed
//! for the account's owner and replayed through today's validation on request.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use engage_model::{Invalid, Node, Tape, View};
use engage_store::ids::now_ms;
use engage_store::{
    ClientProperties, IngestBatch, PageView, QuarantineEntry, QuarantineKind, QuarantineQuery,
    VisitContext,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::extract::AuthorizedAccount;
use crate::request::collect::{parse_event_item, parse_sde_item, CollectBody};
use crate::request::monitoring::{Call, MonitoringBody};
use crate::AppState;
use schema::ListQuery;

use super::admin::schema::{AccountPath, KeyErrors, ParamErrors};

/// The quarantine's answers as the OpenAPI description states them.
pub(crate) mod schema;

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;
/// Most bytes of entries (their raw text, context and errors) in one listing; the entry
/// that crosses it ends the page, and `next` continues after it.
pub const MAX_LIST_BYTES: usize = 4 * 1024 * 1024;
/// Entries read from the store at a time while a listing fills its budget.
const READ_CHUNK: usize = 100;

/// A page of the quarantine, oldest first.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ListResponse {
    #[schema(value_type = Vec<schema::QuarantineEntryDoc>)]
    entries: Vec<QuarantineEntry>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<i64>,
}

/// `GET /api/account/{accountId}/quarantine?after=&limit=&includeReplayed=`.
#[utoipa::path(
    get,
    path = "/api/account/{account_id}/quarantine",
    tag = "Quarantine",
    operation_id = "listQuarantine",
    params(AccountPath, ListQuery),
    security(("bearer" = []), ("oauth1" = [])),
    responses(
        (status = 200, description = "Quarantined inputs, oldest first; `next` continues after the last", body = ListResponse),
        ParamErrors,
        KeyErrors,
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _: AuthorizedAccount,
    Path(account_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<impl IntoResponse, ApiError> {
    let after_id = match query.get("after") {
        None => None,
        Some(v) => Some(
            v.parse::<i64>()
                .map_err(|_| ApiError::invalid_field("/after", "expected an entry id"))?,
        ),
    };
    let limit = match query.get("limit") {
        None => DEFAULT_LIMIT,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(ApiError::invalid_field(
                    "/limit",
                    format!("expected 1-{MAX_LIMIT}"),
                ))
            }
        },
    };
    let include_replayed = matches!(
        query.get("includeReplayed").map(String::as_str),
        Some("true" | "1")
    );
    // Read in chunks until the count or the byte budget is reached, so that neither the
    // answer nor the server's memory holds more than about the budget.
    let mut entries: Vec<QuarantineEntry> = Vec::new();
    let mut bytes = 0usize;
    let mut cursor = after_id;
    let full = loop {
        let want = READ_CHUNK.min(limit - entries.len());
        let chunk = state
            .store
            .quarantine(
                &account_id,
                QuarantineQuery {
                    after_id: cursor,
                    limit: want,
                    include_replayed,
                },
            )
            .await?;
        let read = chunk.len();
        let mut over_budget = false;
        for entry in chunk {
            bytes = bytes.saturating_add(listed_size(&entry));
            cursor = Some(entry.id);
            entries.push(entry);
            if bytes >= MAX_LIST_BYTES {
                over_budget = true;
                break;
            }
        }
        if over_budget || entries.len() == limit {
            break true;
        }
        if read < want {
            break false;
        }
    };
    let next = if full {
        entries.last().map(|e| e.id)
    } else {
        None
    };
    Ok(axum::Json(ListResponse { entries, next }))
}

/// About what an entry takes in the listing: its texts as JSON strings (escapes
/// counted) and a little for the rest.
fn listed_size(entry: &QuarantineEntry) -> usize {
    let errors: usize = entry
        .errors
        .iter()
        .map(|e| escaped_len(&e.path) + escaped_len(&e.message) + 32)
        .sum();
    escaped_len(&entry.raw) + entry.context.as_str().len() + errors + 200
}

/// The length of `text` written as a JSON string's content.
fn escaped_len(text: &str) -> usize {
    text.bytes()
        .map(|b| match b {
            b'"' | b'\\' => 2,
            0..=0x1f => 6,
            _ => 1,
        })
        .sum()
}

/// What a replay did.
#[derive(Serialize, Default, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"examined": 3, "replayed": 2, "stillInvalid": 1, "accepted": 2, "duplicates": 0}))]
struct ReplayResponse {
    /// Entries looked at.
    examined: usize,
    /// Entries that now pass and were moved into the store.
    replayed: usize,
    /// Entries that still fail; they stay in the quarantine.
    still_invalid: usize,
    /// Items stored by the replay.
    accepted: usize,
    /// Items that were already stored.
    duplicates: usize,
}

/// `POST /api/account/{accountId}/quarantine/replay`: re-validates every pending entry.
#[tracing::instrument(skip_all, fields(account = %account_id))]
#[utoipa::path(
    post,
    path = "/api/account/{account_id}/quarantine/replay",
    tag = "Quarantine",
    operation_id = "replayQuarantine",
    params(AccountPath),
    security(("bearer" = []), ("oauth1" = [])),
    responses(
        (status = 200, description = "Every pending entry re-validated; those that pass are stored", body = ReplayResponse),
        KeyErrors,
    )
)]
pub async fn replay(
    State(state): State<AppState>,
    _: AuthorizedAccount,
    Path(account_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let mut response = ReplayResponse::default();
    let mut after_id = None;
    loop {
        let page = state
            .store
            .quarantine(
                &account_id,
                QuarantineQuery {
                    after_id,
                    limit: DEFAULT_LIMIT,
                    include_replayed: false,
                },
            )
            .await?;
        let Some(last) = page.last() else { break };
        after_id = Some(last.id);
        let mut replayed_ids = Vec::new();
        for entry in &page {
            response.examined += 1;
            match revalidate(entry, state.limits.max_batch_items) {
                Some(mut batch) => {
                    batch.account_id.clone_from(&account_id);
                    let outcome = state.ingest_replayed(batch).await?;
                    response.accepted += outcome.accepted;
                    response.duplicates += outcome.duplicates;
                    response.replayed += 1;
                    replayed_ids.push(entry.id);
                }
                None => response.still_invalid += 1,
            }
        }
        if !replayed_ids.is_empty() {
            state
                .store
                .mark_replayed(&account_id, &replayed_ids, now_ms())
                .await?;
            state.quarantine_quota.forget(&account_id);
        }
    }
    Ok(axum::Json(response))
}

/// The batch an entry becomes under today's rules, or `None` if it still fails.
fn revalidate(entry: &QuarantineEntry, max_items: usize) -> Option<IngestBatch> {
    let empty = |visit| IngestBatch {
        account_id: String::new(),
        received_ms: entry.received_ms,
        visit,
        events: vec![],
        sdes: vec![],
        rejected: vec![],
    };
    // The context's text is read once, onto a tape.
    let context = Tape::parse_str(entry.context.as_str()).ok()?;
    let context = context.root();
    let text = |key: &str| last(context, key).and_then(Node::as_str);
    match entry.kind {
        QuarantineKind::Event | QuarantineKind::Sde => {
            let visit = visit_from_context(context)?;
            let tape = Tape::parse(entry.raw.as_bytes()).ok()?;
            let mut batch = empty(Some(visit));
            if entry.kind == QuarantineKind::Event {
                batch.events.push(parse_event_item(tape.root()).ok()?);
            } else {
                batch.sdes.push(parse_sde_item(tape.root()).ok()?);
            }
            Some(batch)
        }
        QuarantineKind::Body if text("api") == Some("monitoring") => {
            let call = match text("call") {
                Some("report") => Call::Report,
                _ => Call::Engagement,
            };
            let visit = visit_from_context(context)?;
            let tape = Tape::parse(entry.raw.as_bytes()).ok()?;
            let items = MonitoringBody::read(tape.root(), call, &visit.page_id).ok()?;
            let mut batch = empty(Some(VisitContext {
                page: items.page,
                client: items.client.or(visit.client),
                ..visit
            }));
            batch.events = items.events;
            batch.sdes = items.sdes;
            Some(batch)
        }
        QuarantineKind::Body => {
            let user_agent = text("userAgent");
            let mut parsed = CollectBody::read(entry.raw.as_bytes(), user_agent, max_items).ok()?;
            // A form submission is checked against the form its visitor was shown when it
            // arrives; a replay cannot, so it stays in the quarantine.
            for form in std::mem::take(&mut parsed.forms) {
                parsed.settle_form(
                    form,
                    Err(Invalid::single(
                        "",
                        "a form submission is checked when it arrives and is not replayed",
                    )),
                );
            }
            let mut batch = empty(Some(parsed.visit));
            batch.events = parsed.events;
            batch.sdes = parsed.sdes;
            // Items of the body that still fail go back to the quarantine on their own.
            batch.rejected = parsed.rejected;
            Some(batch)
        }
    }
}

/// The last member named `key`, if `node` is an object: the one a JSON map keeps, as the
/// context was written through one.
fn last<'t, 'a>(node: Node<'t, 'a>, key: &str) -> Option<Node<'t, 'a>> {
    node.members()?
        .filter(|(k, _)| *k == key)
        .last()
        .map(|(_, v)| v)
}

fn visit_from_context(context: Node<'_, '_>) -> Option<VisitContext> {
    let text =
        |node: Node<'_, '_>, key: &str| last(node, key).and_then(Node::as_str).map(str::to_owned);
    let page = last(context, "page")
        .filter(|p| p.members().is_some())
        .map(|p| PageView {
            url: text(p, "url"),
            referrer: text(p, "referrer"),
            title: text(p, "title"),
            sections: last(p, "sections")
                .and_then(Node::items)
                .map(|items| {
                    items
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        });
    Some(VisitContext {
        visitor_id: text(context, "visitorId")?,
        session_id: text(context, "sessionId")?,
        page_id: text(context, "pageId")?,
        page,
        user_agent: text(context, "userAgent"),
        client: last(context, "clientProperties").and_then(client_properties),
    })
}

/// The client properties as they were stored: an object whose known members are text or
/// null (anything else, like a tree that does not deserialize, is no properties at all).
fn client_properties(node: Node<'_, '_>) -> Option<ClientProperties> {
    let mut client = ClientProperties::default();
    let mut seen = Vec::new();
    for (key, value) in node.members()? {
        let field = match key {
            "appVersion" => &mut client.app_version,
            "deviceFamily" => &mut client.device_family,
            "os" => &mut client.os,
            "osVersion" => &mut client.os_version,
            "language" => &mut client.language,
            _ => continue,
        };
        // serde refuses a field given twice.
        if seen.contains(&key) {
            return None;
        }
        seen.push(key);
        *field = match value.view() {
            View::Null => None,
            View::String(s) => Some(s.to_owned()),
            _ => return None,
        };
    }
    Some(client)
}
