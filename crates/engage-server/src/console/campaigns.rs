//! Campaigns: the list with status and priority; create, edit, enable and disable a
//! campaign; its engagements, each with its revision history; the engagement editor for
//! all six types (targeting, availability, content) with a live preview drawn by the
//! tag's own renderer. Every save goes through `console/api` (the JSON routes' handlers);
//! the pages only read the store.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use engage_model::{AgentState, EngagementType};
use engage_store::{Campaign, CampaignFields, Engagement};
use maud::{html, Markup};
use serde_json::Value;

use super::page::{self, Page, Screen};
use super::session::ConsoleUser;
use crate::error::ApiError;
use crate::AppState;

/// Revisions listed on an engagement's page, newest first.
const REVISIONS_SHOWN: u64 = 50;

fn page<'a>(user: &'a ConsoleUser, title: &'a str, scripts: &'a [&'a str]) -> Page<'a> {
    Page {
        user,
        screen: Screen::Campaigns,
        title,
        scripts,
    }
}

fn not_found(user: &ConsoleUser, what: &str) -> Response {
    page(user, "Not found", &[]).render_with_status(
        html! {
            h1 { "Not found" }
            p { (what) " " a href="/console/campaigns" { "Back to Campaigns" } }
        },
        StatusCode::NOT_FOUND,
    )
}

fn status(enabled: bool) -> Markup {
    if enabled {
        html! { span.badge.on { "Enabled" } }
    } else {
        html! { span.badge.off { "Disabled" } }
    }
}

/// The campaign's fields as a form of the API's members (`/name`, `/goal`, ...).
fn campaign_fields(campaign: Option<&Campaign>) -> Markup {
    let fields = campaign.map(|c| &c.fields);
    html! {
        div.field {
            label for="campaign-name" { "Name" }
            input #campaign-name name="/name" type="text" required maxlength="256"
                value=[fields.map(|f| f.name.as_str())];
        }
        div.field {
            label for="campaign-goal" { "Goal" }
            input #campaign-goal name="/goal" type="text" maxlength="256"
                value=[fields.and_then(|f| f.goal.as_deref())];
        }
        div.field {
            label for="campaign-priority" { "Priority" }
            input #campaign-priority name="/priority" type="number" data-type="number" min="0"
                value=(fields.map_or(100, |f| f.priority)) aria-describedby="priority-help";
            p.help id="priority-help" { "Lower comes first when two engagements compete for a place." }
        }
        div.field {
            label for="campaign-control" { "Control group %" }
            input #campaign-control name="/controlGroupPercent" type="number" data-type="number"
                value=(fields.map_or(CampaignFields::DEFAULT_CONTROL_GROUP_PERCENT, |f| f.control_group_percent))
                aria-describedby="control-help";
            p.help id="control-help" { "0 to 50: this share of visitors is held out and sees none of the campaign, to measure its lift." }
        }
        div.field {
            label for="campaign-window" { "Attribution window (days)" }
            input #campaign-window name="/attributionWindowDays" type="number" data-type="number"
                value=(fields.map_or(CampaignFields::DEFAULT_ATTRIBUTION_WINDOW_DAYS, |f| f.attribution_window_days))
                aria-describedby="window-help";
            p.help id="window-help" { "1 to 31: a purchase this many days after a visitor's first eligibility counts as a conversion." }
        }
        div.field.check {
            input #campaign-enabled name="/enabled" type="checkbox" data-type="bool"
                checked[fields.is_none_or(|f| f.enabled)];
            label for="campaign-enabled" { "Enabled" }
        }
    }
}

/// A button that enables or disables a campaign: its fields as they are, `enabled` changed.
fn toggle(campaign: &Campaign, next: &str) -> Markup {
    let f = &campaign.fields;
    let enable = !f.enabled;
    html! {
        form.inline data-api=(format!("PUT /console/api/campaigns/{}", campaign.id)) data-next=(next) {
            input type="hidden" name="/name" value=(f.name);
            @if let Some(goal) = &f.goal { input type="hidden" name="/goal" value=(goal); }
            input type="hidden" name="/priority" data-type="number" value=(f.priority);
            // A PUT replaces the campaign: what is left out would take its default.
            input type="hidden" name="/controlGroupPercent" data-type="number" value=(f.control_group_percent);
            input type="hidden" name="/attributionWindowDays" data-type="number" value=(f.attribution_window_days);
            input type="hidden" name="/enabled" data-type="bool" value=(enable);
            button type="submit" aria-label=(format!("{} {}", if enable { "Enable" } else { "Disable" }, f.name)) {
                @if enable { "Enable" } @else { "Disable" }
            }
            p.form-error role="alert" hidden {}
        }
    }
}

/// `GET /console/campaigns`.
pub async fn list(State(state): State<AppState>, user: ConsoleUser) -> Result<Response, ApiError> {
    let campaigns = state.store.campaigns(user.account_id()).await?;
    let engagements = state.store.engagements(user.account_id(), None).await?;
    let mut per_campaign: HashMap<u64, usize> = HashMap::new();
    for e in &engagements {
        *per_campaign.entry(e.campaign_id).or_default() += 1;
    }
    let week =
        super::overview::last_week_by_campaign(&state, user.account_id(), &user.zone.tz).await?;
    let main = html! {
        h1 { "Campaigns" }
        @if campaigns.is_empty() {
            p.empty { "No campaigns yet. Create the first one below." }
        } @else {
            // The 7 days' figures are the browser's days (`data-zoned`, see `zone`).
            div.table-wrap tabindex="0" role="region" aria-label="Campaigns table" data-zoned {
                table {
                    caption.visually-hidden { "Campaigns of the account" }
                    thead { tr { th scope="col" { "Name" } th scope="col" { "Status" } th scope="col" { "Priority" } th scope="col" { "Engagements" } th scope="col" { "Control group" } th scope="col" { "Impressions, 7 days" } th scope="col" { "Clicks, 7 days" } th scope="col" { "Conversions, 7 days" } th scope="col" { "Updated" } th scope="col" { "Action" } } }
                    tbody {
                        @for c in &campaigns {
                            tr {
                                th scope="row" { a href=(format!("/console/campaigns/{}", c.id)) { (c.fields.name) } }
                                td { (status(c.fields.enabled)) }
                                td { (page::number(c.fields.priority)) }
                                td { (page::number(per_campaign.get(&c.id).copied().unwrap_or(0) as u32)) }
                                td { (page::number(c.fields.control_group_percent)) " %" }
                                @let figures = week.get(&c.id);
                                td { (page::number(figures.map_or(0, |r| r.impressions) as f64)) }
                                td { (page::number(figures.map_or(0, |r| r.clicks) as f64)) }
                                td { (page::number(figures.map_or(0, |r| r.conversions) as f64)) }
                                td { (page::time(c.updated_ms)) }
                                td { (toggle(c, "/console/campaigns")) }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="new-campaign" {
            h2 id="new-campaign" { "New campaign" }
            form.card data-api="POST /console/api/campaigns" data-next="/console/campaigns/{campaignId}" {
                (campaign_fields(None))
                p.form-error role="alert" hidden {}
                button.primary type="submit" { "Create campaign" }
            }
        }
    };
    Ok(page(&user, "Campaigns", &[]).render(main))
}

fn parse_id(text: &str) -> Option<u64> {
    text.parse().ok()
}

/// `GET /console/campaigns/{campaign_id}`.
pub async fn campaign(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(campaign_id): Path<String>,
) -> Result<Response, ApiError> {
    let Some(id) = parse_id(&campaign_id) else {
        return Ok(not_found(&user, "There is no such campaign."));
    };
    let Some(campaign) = state.store.campaign(user.account_id(), id).await? else {
        return Ok(not_found(&user, "There is no such campaign."));
    };
    let engagements = state.store.engagements(user.account_id(), Some(id)).await?;
    let here = format!("/console/campaigns/{id}");
    let main = html! {
        nav.crumbs aria-label="Breadcrumb" { a href="/console/campaigns" { "Campaigns" } " / " span { (campaign.fields.name) } }
        h1 { (campaign.fields.name) " " (status(campaign.fields.enabled)) }
        p.meta { "Campaign " (campaign.id) " · created " (page::time(campaign.created_ms)) " · updated " (page::time(campaign.updated_ms)) }
        div.actions { (toggle(&campaign, &here)) }
        section aria-labelledby="engagements" {
            h2 id="engagements" { "Engagements" }
            @if engagements.is_empty() {
                p.empty { "No engagements yet." }
            } @else {
                div.table-wrap {
                    table {
                        thead { tr { th scope="col" { "Name" } th scope="col" { "Type" } th scope="col" { "Revision" } th scope="col" { "Availability" } th scope="col" { "Revised" } } }
                        tbody {
                            @for e in &engagements {
                                tr {
                                    th scope="row" { a href=(format!("{here}/engagements/{}", e.id)) { (e.definition.name) } }
                                    td { (page::type_name(e.definition.engagement_type)) }
                                    td { (page::number(e.revision as f64)) }
                                    td { (state_name(e.state)) }
                                    td { (page::time(e.revised_ms)) }
                                }
                            }
                        }
                    }
                }
            }
            p { a.button href=(format!("{here}/engagements/new")) { "New engagement" } }
        }
        section aria-labelledby="edit-campaign" {
            h2 id="edit-campaign" { "Edit campaign" }
            form.card data-api=(format!("PUT /console/api/campaigns/{id}")) data-next=(here) {
                (campaign_fields(Some(&campaign)))
                p.form-error role="alert" hidden {}
                button.primary type="submit" { "Save campaign" }
            }
        }
    };
    Ok(page(&user, &campaign.fields.name, &[]).render(main))
}

fn state_name(state: AgentState) -> &'static str {
    match state {
        AgentState::Online => "Online",
        AgentState::Offline => "Offline",
        AgentState::Busy => "Busy",
    }
}

/// `GET /console/campaigns/{campaign_id}/engagements/new`.
pub async fn new_engagement(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(campaign_id): Path<String>,
) -> Result<Response, ApiError> {
    let Some(id) = parse_id(&campaign_id) else {
        return Ok(not_found(&user, "There is no such campaign."));
    };
    let Some(campaign) = state.store.campaign(user.account_id(), id).await? else {
        return Ok(not_found(&user, "There is no such campaign."));
    };
    let main = html! {
        nav.crumbs aria-label="Breadcrumb" {
            a href="/console/campaigns" { "Campaigns" } " / "
            a href=(format!("/console/campaigns/{id}")) { (campaign.fields.name) } " / " span { "New engagement" }
        }
        h1 { "New engagement" }
        (editor(&campaign, None, &format!("POST /console/api/campaigns/{id}/engagements")))
    };
    Ok(page(&user, "New engagement", &[super::assets::PREVIEW_PATH]).render(main))
}

/// `GET /console/campaigns/{campaign_id}/engagements/{engagement_id}?revision=&saved=`:
/// the engagement (at a revision, or its latest), its editor, availability and revisions.
pub async fn engagement(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((campaign_id, engagement_id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let (Some(cid), Some(eid)) = (parse_id(&campaign_id), parse_id(&engagement_id)) else {
        return Ok(not_found(&user, "There is no such engagement."));
    };
    let Some(campaign) = state.store.campaign(user.account_id(), cid).await? else {
        return Ok(not_found(&user, "There is no such campaign."));
    };
    let revision = query.get("revision").and_then(|r| r.parse::<u64>().ok());
    let Some(shown) = state
        .store
        .engagement(user.account_id(), cid, eid, revision)
        .await?
    else {
        return Ok(not_found(&user, "There is no such engagement or revision."));
    };
    let saved = query.get("saved").and_then(|r| r.parse::<u64>().ok());
    let latest = shown.latest_revision;
    let mut revisions = Vec::new();
    for r in (latest.saturating_sub(REVISIONS_SHOWN - 1).max(1)..=latest).rev() {
        if let Some(e) = state
            .store
            .engagement(user.account_id(), cid, eid, Some(r))
            .await?
        {
            revisions.push(e);
        }
    }
    let base = format!("/console/campaigns/{cid}/engagements/{eid}");
    let main = html! {
        nav.crumbs aria-label="Breadcrumb" {
            a href="/console/campaigns" { "Campaigns" } " / "
            a href=(format!("/console/campaigns/{cid}")) { (campaign.fields.name) } " / " span { (shown.definition.name) }
        }
        h1 { (shown.definition.name) }
        p.meta {
            (page::type_name(shown.definition.engagement_type)) " · engagement " (eid)
            " · revision " (page::number(shown.revision as f64)) " of " (page::number(latest as f64))
            " · conf key " code { (shown.conf_key().to_string()) }
        }
        @if let Some(saved) = saved {
            p.notice role="status" { "Saved: revision " (page::number(saved as f64)) " is live." }
        }
        @if shown.revision != latest {
            p.notice role="status" { "You are looking at revision " (shown.revision) ". Saving makes it the new latest revision." }
        }
        section aria-labelledby="availability" {
            h2 id="availability" { "Availability" }
            form.card.inline-form data-api=(format!("PUT /console/api/campaigns/{cid}/engagements/{eid}/availability")) data-next=(base) {
                div.field {
                    label for="agent-state" { "Agent state" }
                    select #agent-state name="/state" data-type="number" {
                        @for s in [AgentState::Online, AgentState::Offline, AgentState::Busy] {
                            option value=(s.code()) selected[s == shown.state] { (state_name(s)) }
                        }
                    }
                }
                p.form-error role="alert" hidden {}
                button type="submit" { "Set availability" }
            }
        }
        section aria-labelledby="edit" {
            h2 id="edit" { "Edit" }
            (editor(&campaign, Some(&shown), &format!("PUT /console/api/campaigns/{cid}/engagements/{eid}")))
        }
        section aria-labelledby="revisions" {
            h2 id="revisions" { "Revision history" }
            div.table-wrap {
                table {
                    thead { tr { th scope="col" { "Revision" } th scope="col" { "Saved" } th scope="col" { "Name" } th scope="col" { "Type" } th scope="col" { "Title" } } }
                    tbody {
                        @for r in &revisions {
                            tr aria-current=[(r.revision == shown.revision).then_some("true")] {
                                th scope="row" { a href=(format!("{base}?revision={}", r.revision)) { "Revision " (r.revision) } }
                                td { (page::time(r.revised_ms)) }
                                td { (r.definition.name) }
                                td { (page::type_name(r.definition.engagement_type)) }
                                td { (r.definition.content.title.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page(
        &user,
        &shown.definition.name,
        &[super::assets::PREVIEW_PATH],
    )
    .render(main))
}

const URL_KINDS: [(&str, &str); 3] = [
    ("contains", "contains"),
    ("prefix", "starts with"),
    ("regex", "matches the regular expression"),
];
const SDE_OPS: [&str; 12] = [
    "eq",
    "ne",
    "gt",
    "gte",
    "lt",
    "lte",
    "contains",
    "startsWith",
    "in",
    "notIn",
    "exists",
    "matches",
];

fn url_row(kind: &str, value: &str) -> Markup {
    html! {
        div.row data-row {
            select data-key aria-label="How the URL is matched" {
                @for (k, label) in URL_KINDS { option value=(k) selected[k == kind] { (label) } }
            }
            input data-value type="text" aria-label="URL text" value=(value);
            button.remove type="button" data-remove aria-label="Remove this URL rule" { "Remove" }
        }
    }
}

fn sde_row(path: &str, op: &str, value: &str) -> Markup {
    html! {
        div.row data-row {
            input data-field="path" type="text" aria-label="Attribute path, e.g. cartStatus.total" placeholder="cartStatus.total" value=(path);
            select data-field="op" aria-label="Operator" {
                @for o in SDE_OPS { option value=(o) selected[o == op] { (o) } }
            }
            input data-field="value" data-type="auto" type="text" aria-label="Value" value=(value);
            button.remove type="button" data-remove aria-label="Remove this condition" { "Remove" }
        }
    }
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(text_of).collect::<Vec<_>>().join(", "),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn strings(value: &Value) -> String {
    value
        .as_array()
        .map(|items| items.iter().map(text_of).collect::<Vec<_>>().join(", "))
        .unwrap_or_default()
}

/// The URL rules of `list` (`include` or `exclude`) as rows.
fn url_rows(targeting: &Value, list: &str) -> Markup {
    let rules = targeting["url"][list]
        .as_array()
        .cloned()
        .unwrap_or_default();
    html! {
        @for rule in &rules {
            @if let Some((kind, value)) = rule.as_object().and_then(|o| o.iter().next()) {
                (url_row(kind, &text_of(value)))
            }
        }
    }
}

/// The engagement editor: every member of the definition as a field named by its JSON
/// pointer, so the server's errors land beside the field they name; the preview beside.
/// The traffic-split weight and the accept button's `action` (docs/api.md, Engagement
/// actions). Each action type's members are in their own group; `console.js` sends only
/// the chosen type's, so the server's errors land beside them by pointer.
fn split_and_action(weight: Option<u32>, action: &Value) -> Markup {
    let kind = action["type"].as_str().unwrap_or("");
    let text = |member: &str| action[member].as_str().map(str::to_owned);
    let fields = match &action["fields"] {
        Value::Null => String::new(),
        fields => serde_json::to_string(fields).unwrap_or_default(),
    };
    html! {
        fieldset {
            legend { "Split and action" }
            div.field {
                label for="e-weight" { "Split weight" }
                input #e-weight name="/weight" type="number" data-type="number" value=[weight] aria-describedby="weight-help";
                p.help id="weight-help" { "Engagements of this campaign and zone with a weight share its visitors by weight; empty: not in a split." }
            }
            div.field {
                label for="a-type" { "Accept button" }
                select #a-type name="/action/type" data-action-type {
                    option value="" selected[kind.is_empty()] { "Click only (no action)" }
                    @for (value, label) in [("link", "Open a link"), ("form", "Show a lead form"), ("coupon", "Reveal a coupon"), ("chat", "Open the site's chat")] {
                        option value=(value) selected[kind == value] { (label) }
                    }
                }
            }
            div data-action-for="link" hidden[kind != "link"] {
                div.field { label for="a-url" { "Link URL" } input #a-url name="/action/url" type="url" value=[text("url")]; }
                div.field.check { input #a-new-tab name="/action/newTab" type="checkbox" data-type="bool" checked[action["newTab"] == true]; label for="a-new-tab" { "Open in a new tab" } }
            }
            div data-action-for="form" hidden[kind != "form"] {
                div.field {
                    label for="a-fields" { "Form fields (JSON)" }
                    textarea #a-fields name="/action/fields" data-type="json" rows="3" aria-describedby="a-fields-help" { (fields) }
                    p.help id="a-fields-help" { r#"[{"name":"email","required":true}]: name, email, phone, company, topic (with "choices") or message."# }
                }
                div.field { label for="a-submit" { "Submit label" } input #a-submit name="/action/submitLabel" type="text" value=[text("submitLabel")]; }
                div.field { label for="a-thanks" { "Thanks" } input #a-thanks name="/action/thanks" type="text" value=[text("thanks")]; }
            }
            div data-action-for="coupon" hidden[kind != "coupon"] {
                div.field { label for="a-code" { "Coupon code" } input #a-code name="/action/code" type="text" value=[text("code")]; }
                div.field { label for="a-copy" { "Copy label" } input #a-copy name="/action/copyLabel" type="text" value=[text("copyLabel")]; }
            }
            div data-action-for="chat" hidden[kind != "chat"] {
                div.field {
                    label for="a-provider" { "Chat provider" }
                    select #a-provider name="/action/provider" {
                        option value="" { "Any (the page's hook)" }
                        @for p in ["intercom", "zendesk", "crisp", "tawk", "livechat"] { option value=(p) selected[text("provider").as_deref() == Some(p)] { (p) } }
                    }
                }
            }
        }
    }
}

fn editor(campaign: &Campaign, shown: Option<&Engagement>, api: &str) -> Markup {
    let d = shown.map(|e| &e.definition);
    let targeting: Value = d
        .and_then(|d| serde_json::from_str(d.targeting.as_str()).ok())
        .unwrap_or(Value::Null);
    let action: Value = d
        .and_then(|d| d.action.as_ref())
        .and_then(|a| serde_json::from_str(a.as_str()).ok())
        .unwrap_or(Value::Null);
    let chosen = d.map_or(EngagementType::SlideOut, |d| d.engagement_type);
    let next = format!(
        "/console/campaigns/{}/engagements/{{engagementId}}?saved={{engagementRevision}}",
        campaign.id
    );
    let content = d.map(|d| &d.content);
    html! {
        div.editor {
            form.card #engagement-form data-api=(api) data-next=(next) data-preview {
                fieldset {
                    legend { "Engagement" }
                    div.field {
                        label for="e-name" { "Name" }
                        input #e-name name="/name" type="text" required maxlength="256" value=[d.map(|d| d.name.as_str())];
                    }
                    div.field {
                        label for="e-type" { "Type" }
                        select #e-type name="/engagementType" data-type="number" {
                            @for t in EngagementType::ALL {
                                option value=(t.code()) selected[t == chosen] { (page::type_name(t)) }
                            }
                        }
                    }
                    div.field {
                        label for="e-tgl" { "Renderer (tglName)" }
                        input #e-tgl name="/tglName" type="text" maxlength="64" placeholder="the type's default" value=[d.map(|d| d.tgl_name.as_str()).filter(|t| *t != chosen.default_tgl_name())];
                    }
                    div.field {
                        label for="e-zone" { "Zone ID" }
                        input #e-zone name="/zoneId" type="number" data-type="number" min="0" aria-describedby="zone-help" value=[d.and_then(|d| d.zone_id)];
                        p.help id="zone-help" { "Embedded engagements go into the page element with data-engage-zone set to this number." }
                    }
                    div.field {
                        label for="e-timeout" { "Display time (seconds)" }
                        input #e-timeout name="/timeoutSeconds" type="number" data-type="number" min="1" value=[d.and_then(|d| d.timeout_seconds)];
                    }
                }
                fieldset {
                    legend { "Content" }
                    div.field {
                        label for="c-title" { "Title" }
                        input #c-title name="/content/title" type="text" maxlength="256" value=[content.and_then(|c| c.title.as_deref())];
                    }
                    div.field {
                        label for="c-body" { "Text" }
                        textarea #c-body name="/content/body" rows="3" maxlength="10000" { (content.and_then(|c| c.body.as_deref()).unwrap_or("")) }
                    }
                    div.field {
                        label for="c-accept" { "Button label" }
                        input #c-accept name="/content/acceptLabel" type="text" maxlength="256" value=[content.and_then(|c| c.accept_label.as_deref())];
                    }
                    div.field {
                        label for="c-close" { "Close label" }
                        input #c-close name="/content/closeLabel" type="text" maxlength="256" value=[content.and_then(|c| c.close_label.as_deref())];
                    }
                }
                fieldset {
                    legend { "Targeting" }
                    div.field {
                        label for="t-sections" { "Page sections (any of)" }
                        input #t-sections name="/targeting/sections/include" data-type="list" type="text" placeholder="cart, checkout" value=(strings(&targeting["sections"]["include"]));
                    }
                    div.field {
                        label for="t-sections-not" { "Not on sections" }
                        input #t-sections-not name="/targeting/sections/exclude" data-type="list" type="text" value=(strings(&targeting["sections"]["exclude"]));
                    }
                    div.field {
                        span.label id="url-in" { "Show on URLs that" }
                        div.rows data-list="/targeting/url/include" data-template="url-row" aria-labelledby="url-in" { (url_rows(&targeting, "include")) }
                        button type="button" data-add="/targeting/url/include" { "Add URL rule" }
                    }
                    div.field {
                        span.label id="url-out" { "Not on URLs that" }
                        div.rows data-list="/targeting/url/exclude" data-template="url-row" aria-labelledby="url-out" { (url_rows(&targeting, "exclude")) }
                        button type="button" data-add="/targeting/url/exclude" { "Add URL exclusion" }
                    }
                    div.field {
                        span.label id="sde-conditions" { "Engagement attribute (SDE) conditions, all of" }
                        div.rows data-list="/targeting/sdes" data-template="sde-row" aria-labelledby="sde-conditions" {
                            @for c in targeting["sdes"].as_array().cloned().unwrap_or_default() {
                                (sde_row(c["path"].as_str().unwrap_or(""), c["op"].as_str().unwrap_or("eq"), &text_of(&c["value"])))
                            }
                        }
                        button type="button" data-add="/targeting/sdes" { "Add condition" }
                    }
                    div.field {
                        label for="t-frequency" { "Frequency cap (impressions per visitor)" }
                        input #t-frequency name="/targeting/frequency/maxImpressions" type="number" data-type="number" min="1" value=[targeting["frequency"]["maxImpressions"].as_u64()];
                    }
                }
                (split_and_action(d.and_then(|d| d.weight), &action))
                fieldset {
                    legend { "Availability" }
                    div.field.check {
                        input #e-hide name="/hideWhenOffline" type="checkbox" data-type="bool" checked[d.is_some_and(|d| d.hide_when_offline)];
                        label for="e-hide" { "Hide while agents are offline" }
                    }
                }
                p.form-error role="alert" hidden {}
                button.primary type="submit" { @if shown.is_some() { "Save new revision" } @else { "Create engagement" } }
            }
            aside.preview-pane aria-labelledby="preview-heading" {
                h2 id="preview-heading" { "Live preview" }
                p.help { "Drawn by the tag's own renderer, as a visitor sees it." }
                div.preview #preview data-state=(shown.map_or(1, |e| e.state.code())) {
                    div.preview-page { div data-engage-zone="preview" {} }
                }
            }
        }
        template id="url-row" { (url_row("contains", "")) }
        template id="sde-row" { (sde_row("", "eq", "")) }
    }
}
