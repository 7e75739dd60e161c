//! Quarantine: what was rejected, with why (each error's JSON pointer and message beside
//! the raw input), and the replay button, which calls the API's replay handler.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::Response;
use engage_store::QuarantineQuery;
use maud::html;

use super::page::{self, Page, Screen};
use super::session::ConsoleUser;
use crate::error::ApiError;
use crate::AppState;

/// Entries on one page.
const PAGE_SIZE: usize = 25;
/// The longest raw input shown whole; longer ones are cut (the API lists them whole).
const SHOWN_CHARS: usize = 4_000;

/// `GET /console/quarantine?after=`: pending entries, oldest first.
pub async fn list(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let after_id = query.get("after").and_then(|a| a.parse::<i64>().ok());
    let entries = state
        .store
        .quarantine(
            user.account_id(),
            QuarantineQuery {
                after_id,
                limit: PAGE_SIZE + 1,
                include_replayed: false,
            },
        )
        .await?;
    let more = entries.len() > PAGE_SIZE;
    let entries = &entries[..entries.len().min(PAGE_SIZE)];
    let usage = state.store.quarantine_usage(user.account_id()).await?;
    let main = html! {
        h1 { "Quarantine" }
        p.lead {
            "Input that failed validation is kept here with why, so nothing is lost. "
            "Replay runs every pending entry through today's validation; what passes is stored and leaves the quarantine."
        }
        div.actions {
            form.inline data-api="POST /console/api/quarantine/replay" data-result="replay-result" {
                button.primary type="submit" { "Replay pending entries" }
                p.form-error role="alert" hidden {}
            }
            p.notice #replay-result role="status" hidden {}
        }
        p.meta { (page::count(usage.entries, "pending entry", "pending entries")) ", " (page::count(usage.bytes, "byte", "bytes")) }
        @if entries.is_empty() {
            p.empty { "Nothing is waiting in the quarantine." }
        }
        @for entry in entries {
            @let raw: String = page::pretty_json(&entry.raw).chars().take(SHOWN_CHARS).collect();
            article.card.quarantined aria-labelledby=(format!("q-{}", entry.id)) {
                h2 id=(format!("q-{}", entry.id)) {
                    "Entry " (entry.id) " · " (entry.kind.as_str())
                    @if let Some(index) = entry.index { " " (index) }
                }
                p.meta {
                    "Received " (page::time(entry.received_ms))
                    @if let Some(id) = &entry.client_id { " · client id " code { (id) } }
                }
                div.side-by-side {
                    div {
                        h3 { "Input" }
                        pre tabindex="0" aria-label=(format!("Input of entry {}", entry.id)) { code { (raw) } }
                    }
                    div {
                        h3 { "Why it was rejected" }
                        ul.errors {
                            @for error in &entry.errors {
                                li { code.pointer { (error.path) } " " (error.message) }
                            }
                        }
                    }
                }
            }
        }
        @if more {
            @if let Some(last) = entries.last() {
                nav.pager aria-label="Quarantine pages" { a href=(format!("/console/quarantine?after={}", last.id)) rel="next" { "Next entries" } }
            }
        }
    };
    Ok(Page {
        user: &user,
        screen: Screen::Quarantine,
        title: "Quarantine",
        scripts: &[],
    }
    .render(main))
}
