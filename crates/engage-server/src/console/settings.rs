//! Settings: the origins whose pages may post to the account, its API keys (OAuth 1.0a
//! keys: create, list, revoke; the Bearer key is the one `engage account create` printed),
//! how long its data is kept, and the tag snippet to copy, with the account and this
//! server filled in.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::Response;
use maud::html;

use super::page::{self, Page, Screen};
use super::session::ConsoleUser;
use crate::error::ApiError;
use crate::AppState;

/// The documented snippet (`tag/snippet.js`), as the tag's README publishes it.
const SNIPPET: &str = include_str!("../../../../tag/snippet.js");

/// `scheme://host[:port]` pages load the tag from: the public URL when one was given,
/// else the host this page was asked of.
fn server_origin(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(origin) = state
        .public_host
        .as_ref()
        .and_then(|h| h.configured_origin())
    {
        return origin;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .map(str::to_owned)
        .or_else(|| state.public_host.as_ref().map(|h| h.as_str().to_owned()))
        .unwrap_or_else(|| "ENGAGE_HOST".into());
    format!("http://{host}")
}

/// The snippet with the account and the server filled in, in its `<script>` element,
/// ready to paste into a page's head.
pub fn snippet(account_id: &str, origin: &str) -> String {
    let filled = SNIPPET
        .replace("https://ENGAGE_HOST", origin)
        .replace("ACCOUNT_ID", account_id);
    format!("<script>\n{}\n</script>", filled.trim_end())
}

/// `GET /console/settings`.
pub async fn settings(
    State(state): State<AppState>,
    user: ConsoleUser,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let keys = state.store.oauth_keys(user.account_id()).await?;
    let retention = state.store.retention(user.account_id()).await?;
    let origins = user.account.allowed_origins.join("\n");
    let snippet = snippet(user.account_id(), &server_origin(&state, &headers));
    let main = html! {
        h1 { "Settings" }
        section.card aria-labelledby="origins" {
            h2 id="origins" { "Allowed origins" }
            p.help id="origins-help" { "Pages of these origins may send events to the account, one a line (like https://shop.example). Leave empty to allow every origin." }
            form data-api="PUT /console/api/origins" data-next="/console/settings?saved=origins" {
                div.field {
                    label for="allowed-origins" { "Origins" }
                    textarea #allowed-origins name="/allowedOrigins" data-type="lines" rows="4" aria-describedby="origins-help" { (origins) }
                }
                p.form-error role="alert" hidden {}
                button.primary type="submit" { "Save origins" }
            }
        }
        section.card aria-labelledby="keys" {
            h2 id="keys" { "API keys" }
            p.help { "OAuth 1.0a keys for the Engagement History and admin APIs, as LivePerson's clients sign requests. Each key's secrets are shown once, when it is made." }
            @if keys.is_empty() {
                p.empty { "No keys yet." }
            } @else {
                div.table-wrap {
                    table {
                        thead { tr { th scope="col" { "App key" } th scope="col" { "Created" } th scope="col" { "Action" } } }
                        tbody {
                            @for key in &keys {
                                tr {
                                    th scope="row" { code { (key.app_key) } }
                                    td { (page::time(key.created_ms)) }
                                    td {
                                        form.inline data-api=(format!("DELETE /console/api/keys/{}", key.app_key)) data-next="/console/settings" data-confirm="Revoke this key? Requests signed with it stop working at once." {
                                            button.danger type="submit" aria-label=(format!("Revoke key {}", key.app_key)) { "Revoke" }
                                            p.form-error role="alert" hidden {}
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            form data-api="POST /console/api/keys" data-result="new-key" {
                button type="submit" { "Create a key" }
                p.form-error role="alert" hidden {}
            }
            div.notice #new-key role="status" hidden {}
        }
        section.card aria-labelledby="retention" {
            h2 id="retention" { "Retention" }
            p.help id="retention-help" {
                "Events, attributes, interactions and results older than this many days are removed by the server's sweep. Leave empty to keep everything. "
                @match retention {
                    Some(days) => { "Now: " data.num value=(days) { (days) } " days." }
                    None => { "Now: kept for ever." }
                }
            }
            form data-api="PUT /console/api/retention" data-next="/console/settings?saved=retention" {
                div.field {
                    label for="retention-days" { "Days kept" }
                    input #retention-days name="/days" type="number" min="1" max=(engage_store::MAX_RETENTION_DAYS) inputmode="numeric" data-type="number-or-null" value=[retention] aria-describedby="retention-help";
                }
                p.form-error role="alert" hidden {}
                button.primary type="submit" { "Save retention" }
            }
        }
        section.card aria-labelledby="snippet" {
            h2 id="snippet" { "Tag snippet" }
            p.help { "Put this in every page's head; it loads the tag for this account from this server." }
            pre #snippet-code tabindex="0" aria-label="The tag snippet" { code { (snippet) } }
            button type="button" data-copy="snippet-code" { "Copy snippet" }
            span.copied role="status" {}
        }
    };
    Ok(Page {
        user: &user,
        screen: Screen::Settings,
        title: "Settings",
        scripts: &[],
    }
    .render(main))
}
