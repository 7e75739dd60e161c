//! History: the Engagement History search with its filters (time range, visitor,
//! campaigns, engagements, outcomes, keyword in attribute types), paged results, and an
//! interaction's detail: its `LP_OFFERS` timeline and the visit's attributes, readable (a
//! cart as a table of products).
//!
//! The filters are written as the History API's body and read by the API's own reader
//! (`HistorySearchBody::read`), and the search runs through the API's `run_search`, so the
//! console finds exactly what the API finds; the reader's errors are shown beside the
//! filter their pointer names.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use engage_model::SdeType;
use engage_store::{Interaction, Outcome};
use maud::{html, Markup};
use serde_json::{json, Map, Value};

use super::page::{self, Page, Screen};
use super::session::ConsoleUser;
use super::zone::BrowserZone;
use crate::error::ApiError;
use crate::request::history::HistorySearchBody;
use crate::routes::history::run_search;
use crate::AppState;

/// Results on one page of the console's search.
const PAGE_SIZE: u64 = 20;
const DAY_MS: i64 = 86_400_000;
/// The range searched when the form gives none: the last week.
const DEFAULT_RANGE_MS: i64 = 7 * DAY_MS;

fn page<'a>(user: &'a ConsoleUser, title: &'a str) -> Page<'a> {
    Page {
        user,
        screen: Screen::History,
        title,
        scripts: &[],
    }
}

/// The form's fields as the query string sent them (a list field may repeat).
struct Fields(Vec<(String, String)>);

impl Fields {
    fn parse(query: Option<&str>) -> Fields {
        Fields(
            form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .into_owned()
                .take(200)
                .collect(),
        )
    }

    fn one(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.trim())
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(n, v)| n == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
            .collect()
    }
}

/// Days from 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A `datetime-local` value (`2026-12-07T09:30`) in the browser's zone, `offset_min`
/// minutes behind UTC (JavaScript's `getTimezoneOffset`), as epoch ms.
fn local_time_ms(text: &str, offset_min: i64) -> Option<i64> {
    let (date, time) = text.split_once('T')?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.splitn(3, ':');
    let hour = t.next()?.parse::<i64>().ok()?;
    let minute = t.next()?.parse::<i64>().ok()?;
    let second = t.next().map_or(Some(0.0), |s| s.parse::<f64>().ok())?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    let local = days_from_civil(year, month, day) * DAY_MS
        + hour * 3_600_000
        + minute * 60_000
        + (second * 1000.0) as i64;
    Some(local + offset_min * 60_000)
}

/// A `datetime-local` value in the zone `tz`, as epoch ms: right on both sides of a change
/// of clocks, which one offset is not (an hour skipped is read as the hour after it).
fn zoned_time_ms(text: &str, tz: &jiff::tz::TimeZone) -> Option<i64> {
    let civil = text.parse::<jiff::civil::DateTime>().ok()?;
    let zoned = civil.to_zoned(tz.clone()).ok()?;
    Some(zoned.timestamp().as_millisecond())
}

/// The History API's body for the form's filters, and the problems of the fields that
/// could not be written into it (a time that is no time). The times are the browser's:
/// in the zone its cookie names ([`BrowserZone`]), else at the offset the form sent.
fn search_body(fields: &Fields, now: i64, zone: &BrowserZone) -> (Value, Vec<(String, String)>) {
    let mut problems = Vec::new();
    let offset_min = fields
        .one("tz")
        .parse::<i64>()
        .unwrap_or(0)
        .clamp(-900, 900);
    let named = zone.name != "UTC";
    let mut time = |name: &str, default: i64| match fields.one(name) {
        "" => json!(default),
        text => match if named {
            zoned_time_ms(text, &zone.tz)
        } else {
            local_time_ms(text, offset_min)
        } {
            Some(ms) => json!(ms),
            None => {
                problems.push((
                    format!("/start/{name}"),
                    format!("`{text}` is not a date and time"),
                ));
                json!(default)
            }
        },
    };
    let from = time("from", now - DEFAULT_RANGE_MS);
    let to = time("to", now);
    let mut body = Map::new();
    body.insert("start".into(), json!({"from": from, "to": to}));
    let visitor = fields.one("visitor");
    if !visitor.is_empty() {
        body.insert("visitor".into(), json!(visitor));
    }
    let ids = |name: &str| -> Vec<Value> {
        fields
            .all(name)
            .into_iter()
            .map(|v| v.parse::<u64>().map_or_else(|_| json!(v), |n| json!(n)))
            .collect()
    };
    let campaigns = ids("campaign");
    if !campaigns.is_empty() {
        body.insert("campaignIds".into(), Value::Array(campaigns));
    }
    let engagements = ids("engagement");
    if !engagements.is_empty() {
        body.insert("engagementIds".into(), Value::Array(engagements));
    }
    let outcomes = fields.all("outcome");
    if !outcomes.is_empty() {
        body.insert("outcomes".into(), json!(outcomes));
    }
    // Bots' interactions are left out unless asked for, as in the API (docs/operations.md).
    if fields.one("bots") == "include" {
        body.insert("includeBots".into(), json!(true));
    }
    let keyword = fields.one("keyword");
    if !keyword.is_empty() {
        body.insert("keyword".into(), json!(keyword));
        let areas: Vec<String> = fields
            .all("area")
            .iter()
            .map(|a| format!("ea.{a}"))
            .collect();
        if !areas.is_empty() {
            body.insert("keyword_search_area".into(), json!({ "types": areas }));
        }
    }
    (Value::Object(body), problems)
}

/// Which form field a problem of the API's body belongs beside.
fn field_of(pointer: &str) -> &'static str {
    let top = pointer
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("");
    match top {
        "start" if pointer.ends_with("/to") => "to",
        "start" => "from",
        "visitor" => "visitor",
        "campaignIds" => "campaign",
        "engagementIds" => "engagement",
        "outcomes" => "outcome",
        "keyword" | "keyword_search_area" => "keyword",
        _ => "",
    }
}

fn outcome_label(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Clicked => "Clicked",
        Outcome::Declined => "Declined",
        Outcome::TimedOut => "Timed out",
        Outcome::Removed => "Removed",
        Outcome::Displayed => "Displayed",
        Outcome::Started => "Started",
    }
}

fn sde_label(t: SdeType) -> &'static str {
    match t.history_key() {
        "cartStatus" => "Cart",
        "purchase" => "Purchase",
        "viewedProduct" => "Viewed product",
        "customerInfo" => "Customer info",
        "marketingCampaignInfo" => "Marketing source",
        "personalInfo" => "Personal info",
        "lead" => "Lead",
        "serviceActivity" => "Service activity",
        "visitorError" => "Visitor error",
        "searchContent" => "Search",
        _ => "Attribute",
    }
}

fn errors_for<'a>(errors: &'a [(String, String)], field: &str) -> Vec<&'a (String, String)> {
    errors
        .iter()
        .filter(|(p, _)| field_of(p) == field)
        .collect()
}

fn field_errors(errors: &[(String, String)], field: &str) -> Markup {
    let mine = errors_for(errors, field);
    html! {
        @if !mine.is_empty() {
            p.field-error id=(format!("{field}-error")) {
                @for (pointer, message) in mine { code { (pointer) } ": " (message) br; }
            }
        }
    }
}

/// `GET /console/history?from=&to=&tz=&visitor=&campaign=&engagement=&outcome=&keyword=&area=&offset=`.
pub async fn search(
    State(state): State<AppState>,
    user: ConsoleUser,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let fields = Fields::parse(query.as_deref());
    let now = engage_store::ids::now_ms();
    let (body, mut errors) = search_body(&fields, now, &user.zone);
    let offset = fields
        .one("offset")
        .parse::<u64>()
        .unwrap_or(0)
        .min(1_000_000);
    let pairs = vec![
        ("offset".to_owned(), offset.to_string()),
        ("limit".to_owned(), PAGE_SIZE.to_string()),
        ("sort".to_owned(), "start:desc".to_owned()),
        ("source".to_owned(), "console".to_owned()),
    ];
    let mut found = None;
    if errors.is_empty() {
        match HistorySearchBody::read(&pairs, body.to_string().as_bytes()) {
            Ok(search) => found = Some(run_search(&state, user.account_id(), &search).await?),
            Err(ApiError::Invalid {
                errors: problems, ..
            }) => {
                errors.extend(
                    problems
                        .into_iter()
                        .map(|e| (e.path.clone(), e.message.clone())),
                );
            }
            Err(other) => return Err(other),
        }
    }
    let campaigns = state.store.campaigns(user.account_id()).await?;
    let engagements = state.store.engagements(user.account_id(), None).await?;
    let chosen_campaigns = fields.all("campaign");
    let chosen_engagements = fields.all("engagement");
    let chosen_outcomes = fields.all("outcome");
    let chosen_areas = fields.all("area");
    let described = |f: &str| (!errors_for(&errors, f).is_empty()).then(|| format!("{f}-error"));
    let invalid = |f: &str| (!errors_for(&errors, f).is_empty()).then_some("true");
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let main = html! {
        h1 { "History" }
        form.card.filters method="get" action="/console/history" aria-label="Search interactions" {
            input type="hidden" name="tz" data-timezone-offset value=(fields.one("tz"));
            div.grid {
                div.field {
                    label for="h-from" { "From" }
                    input #h-from name="from" type="datetime-local" value=(fields.one("from"))
                        aria-describedby=[described("from")] aria-invalid=[invalid("from")];
                    (field_errors(&errors, "from"))
                }
                div.field {
                    label for="h-to" { "To" }
                    input #h-to name="to" type="datetime-local" value=(fields.one("to"))
                        aria-describedby=[described("to")] aria-invalid=[invalid("to")];
                    (field_errors(&errors, "to"))
                }
                div.field {
                    label for="h-visitor" { "Visitor ID" }
                    input #h-visitor name="visitor" type="text" value=(fields.one("visitor"))
                        aria-describedby=[described("visitor")] aria-invalid=[invalid("visitor")];
                    (field_errors(&errors, "visitor"))
                }
                div.field {
                    label for="h-campaign" { "Campaign" }
                    select #h-campaign name="campaign" {
                        option value="" { "Any campaign" }
                        @for c in &campaigns {
                            option value=(c.id) selected[chosen_campaigns.contains(&c.id.to_string().as_str())] { (c.fields.name) }
                        }
                    }
                    (field_errors(&errors, "campaign"))
                }
                div.field {
                    label for="h-engagement" { "Engagement" }
                    select #h-engagement name="engagement" {
                        option value="" { "Any engagement" }
                        @for e in &engagements {
                            option value=(e.id) selected[chosen_engagements.contains(&e.id.to_string().as_str())] { (e.definition.name) }
                        }
                    }
                    (field_errors(&errors, "engagement"))
                }
                div.field {
                    label for="h-keyword" { "Keyword in attributes" }
                    input #h-keyword name="keyword" type="search" value=(fields.one("keyword"))
                        aria-describedby=[described("keyword")] aria-invalid=[invalid("keyword")];
                    (field_errors(&errors, "keyword"))
                }
            }
            fieldset.choices {
                legend { "Outcomes" }
                @for o in Outcome::ALL {
                    label.choice { input type="checkbox" name="outcome" value=(o.as_str()) checked[chosen_outcomes.contains(&o.as_str())]; " " (outcome_label(o)) }
                }
            }
            fieldset.choices {
                legend { "Search the keyword in" }
                @for t in SdeType::ALL {
                    label.choice { input type="checkbox" name="area" value=(t.history_key()) checked[chosen_areas.contains(&t.history_key())]; " " (sde_label(t)) }
                }
            }
            label.choice {
                input type="checkbox" name="bots" value="include" checked[fields.one("bots") == "include"];
                " Include bots (crawlers, headless browsers, monitors)"
            }
            p.help { "Without a time range, the last 7 days are searched." }
            button.primary type="submit" { "Search" }
        }
        @if let Some(found) = &found {
            section aria-labelledby="results" {
                h2 id="results" { (page::count(found.count, "interaction", "interactions")) }
                @if found.records.is_empty() {
                    p.empty { "No interaction matches these filters." }
                } @else {
                    div.table-wrap {
                        table {
                            thead { tr { th scope="col" { "Started" } th scope="col" { "Visitor" } th scope="col" { "Campaign" } th scope="col" { "Engagement" } th scope="col" { "Outcome" } th scope="col" { "Duration (s)" } th scope="col" { "Detail" } } }
                            tbody {
                                @for r in &found.records {
                                    tr {
                                        td { (page::time(r.start_ms)) }
                                        td { code { (r.visitor_id.as_deref().unwrap_or("—")) } }
                                        td { (r.campaign.campaign_name.as_deref().unwrap_or("")) }
                                        td { (r.campaign.engagement_name.as_deref().unwrap_or("")) }
                                        td { span.badge { (outcome_label(r.outcome)) } }
                                        td { (page::number(((r.end_ms - r.start_ms).max(0) / 1000) as f64)) }
                                        td { a href=(detail_link(r)) aria-label=(format!("Details of the interaction of {}", r.visitor_id.as_deref().unwrap_or("an unknown visitor"))) { "Details" } }
                                    }
                                }
                            }
                        }
                    }
                    (pager(&fields, offset, found.count))
                }
            }
        }
    };
    Ok(page(&user, "History").render_with_status(main, status))
}

/// Previous and next pages: the same query at another offset.
fn pager(fields: &Fields, offset: u64, count: u64) -> Markup {
    let at = |offset: u64| {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (n, v) in fields.0.iter().filter(|(n, _)| n != "offset") {
            query.append_pair(n, v);
        }
        query.append_pair("offset", &offset.to_string());
        format!("/console/history?{}", query.finish())
    };
    let last = offset + PAGE_SIZE >= count;
    html! {
        nav.pager aria-label="Result pages" {
            @if offset > 0 { a href=(at(offset.saturating_sub(PAGE_SIZE))) rel="prev" { "Previous" } }
            span { "Showing " (page::number((offset + 1) as f64)) "–" (page::number(count.min(offset + PAGE_SIZE) as f64)) " of " (page::number(count as f64)) }
            @if !last { a href=(at(offset + PAGE_SIZE)) rel="next" { "Next" } }
        }
    }
}

fn detail_link(r: &Interaction) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("visitor", r.visitor_id.as_deref().unwrap_or(""));
    query.append_pair("session", r.session_id.as_deref().unwrap_or(""));
    query.append_pair("context", &r.interaction_id);
    format!("/console/history/interaction?{}", query.finish())
}

/// `GET /console/history/interaction?visitor=&session=&context=`: one interaction.
pub async fn interaction(
    State(state): State<AppState>,
    user: ConsoleUser,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let fields = Fields::parse(query.as_deref());
    let (visitor, session, context) = (
        fields.one("visitor"),
        fields.one("session"),
        fields.one("context"),
    );
    let body = json!({
        "start": {"from": 0, "to": engage_store::ids::now_ms() + DAY_MS},
        "visitor": visitor,
        "engagementId": context,
        // The interaction asked for by its ids, a bot's or not.
        "includeBots": true,
    });
    let pairs = vec![("limit".to_owned(), "100".to_owned())];
    let found = match HistorySearchBody::read(&pairs, body.to_string().as_bytes()) {
        Ok(search) => {
            run_search(&state, user.account_id(), &search)
                .await?
                .records
        }
        Err(_) => Vec::new(),
    };
    let Some(r) = found
        .into_iter()
        .find(|r| r.session_id.as_deref().unwrap_or("") == session && r.interaction_id == context)
    else {
        return Ok(page(&user, "Not found").render_with_status(
            html! { h1 { "Not found" } p { "There is no such interaction. " a href="/console/history" { "Back to History" } } },
            StatusCode::NOT_FOUND,
        ));
    };
    let sdes: Vec<Value> = r
        .sdes
        .iter()
        .filter_map(|s| serde_json::from_str(s.as_str()).ok())
        .collect();
    let main = html! {
        nav.crumbs aria-label="Breadcrumb" { a href="/console/history" { "History" } " / " span { "Interaction" } }
        h1 { "Interaction " code { (r.interaction_id) } }
        dl.facts {
            dt { "Visitor" } dd { a href=(format!("/console/history?visitor={}", urlencode(visitor))) { code { (visitor) } } }
            dt { "Session" } dd { code { (session) } }
            dt { "Campaign" } dd { (r.campaign.campaign_name.as_deref().unwrap_or("")) " (" (r.campaign.campaign_id) ")" }
            dt { "Engagement" } dd { (r.campaign.engagement_name.as_deref().unwrap_or("")) " (" (r.campaign.engagement_id) ", revision " (r.campaign.engagement_revision) ")" }
            dt { "Outcome" } dd { span.badge { (outcome_label(r.outcome)) } }
            dt { "Started" } dd { (page::time(r.start_ms)) }
            dt { "Duration (s)" } dd { (page::number(((r.end_ms - r.start_ms).max(0) / 1000) as f64)) }
            @if let Some(url) = &r.page_url { dt { "Page" } dd.wrap { (url) } }
            @if let Some(ua) = &r.user_agent { dt { "Browser" } dd.wrap { (ua) } }
        }
        section aria-labelledby="timeline" {
            h2 id="timeline" { "LP_OFFERS timeline" }
            ol.timeline {
                @for e in &r.events {
                    li {
                        strong { (e.event.name.as_str()) }
                        " at " (page::time(e.client_time_ms.unwrap_or(e.server_ms)))
                        span.meta { " (received " (page::time(e.server_ms)) ")" }
                    }
                }
            }
        }
        section aria-labelledby="attributes" {
            h2 id="attributes" { "The visit's engagement attributes" }
            @if sdes.is_empty() { p.empty { "The visit reported no attributes." } }
            @for sde in &sdes { (readable_sde(sde)) }
        }
    };
    Ok(page(&user, "Interaction").render(main))
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// One attribute in history shape, for reading: its type and time as a heading, its
/// products as a table, its other values as a list of names and values.
fn readable_sde(sde: &Value) -> Markup {
    let Some((key, outer)) = sde.as_object().and_then(|o| o.iter().next()) else {
        return html! {};
    };
    let label = SdeType::ALL
        .into_iter()
        .find(|t| t.history_key() == key)
        .map_or(key.as_str(), |t| sde_label(t));
    // Nested types keep an inner object of the same name beside the time stamps.
    let inner = outer
        .get(key.as_str())
        .filter(|v| v.is_object())
        .unwrap_or(outer);
    let time = outer["serverTimeStamp"]
        .as_str()
        .and_then(|t| t.parse::<i64>().ok());
    let products = inner
        .get("products")
        .or_else(|| inner.get("cart").and_then(|c| c.get("products")))
        .and_then(Value::as_array);
    let mut facts = Vec::new();
    flatten("", inner, &mut facts);
    html! {
        article.sde {
            h3 { (label) @if let Some(ms) = time { " · " (page::time(ms)) } }
            @if !facts.is_empty() {
                dl.facts { @for (name, value) in &facts { dt { (name) } dd { (value) } } }
            }
            @if let Some(products) = products {
                div.table-wrap {
                    table {
                        caption { "Products" }
                        thead { tr { th scope="col" { "Product" } th scope="col" { "SKU" } th scope="col" { "Category" } th scope="col" { "Price" } th scope="col" { "Quantity" } } }
                        tbody {
                            @for p in products {
                                @let product = p.get("product").unwrap_or(p);
                                tr {
                                    th scope="row" { (scalar(&product["name"])) }
                                    td { (scalar(&product["sku"])) }
                                    td { (scalar(&product["category"])) }
                                    td { (money(&product["price"])) }
                                    td { (money(&p["quantity"])) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A number written by the browser for its locale when it is one, else the text.
fn money(value: &Value) -> Markup {
    let text = scalar(value);
    match text.parse::<f64>() {
        Ok(n) if n.is_finite() => html! { data.num value=(text) { (text) } },
        _ => html! { (text) },
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Every scalar below `value` as `(dotted name, text)`, but the time stamps and products.
fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    const SKIPPED: [&str; 3] = ["serverTimeStamp", "originalTimeStamp", "products"];
    match value {
        Value::Object(members) => {
            for (name, v) in members {
                if SKIPPED.contains(&name.as_str()) {
                    continue;
                }
                let at = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}.{name}")
                };
                flatten(&at, v, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{}]", i + 1), v, out);
            }
        }
        Value::Null => {}
        other => out.push((prefix.to_owned(), scalar(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_time_is_read_in_the_browsers_zone() {
        assert_eq!(local_time_ms("1970-01-01T00:00", 0), Some(0));
        // UTC+1 (offset -60): midnight local is 23:00 UTC the day before.
        assert_eq!(
            local_time_ms("1970-01-02T00:00", -60),
            Some(DAY_MS - 3_600_000)
        );
        assert_eq!(
            local_time_ms("2026-12-07T09:30", 0),
            Some(1_796_635_800_000)
        );
        assert_eq!(local_time_ms("2026-13-07T09:30", 0), None);
        assert_eq!(local_time_ms("soon", 0), None);
    }

    #[test]
    fn a_named_zone_reads_local_times_on_both_sides_of_a_change_of_clocks() {
        let berlin = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
        // Summer (UTC+2) and winter (UTC+1) noon.
        assert_eq!(
            zoned_time_ms("2026-07-01T12:00", &berlin),
            Some(1_782_900_000_000)
        );
        assert_eq!(
            zoned_time_ms("2026-12-07T12:00", &berlin),
            Some(1_796_641_200_000)
        );
        // A date alone is its midnight; what is no time is none.
        assert_eq!(
            zoned_time_ms("2026-12-07", &berlin),
            Some(1_796_598_000_000)
        );
        assert_eq!(zoned_time_ms("soon", &berlin), None);
        assert_eq!(zoned_time_ms("2026-13-07T09:30", &berlin), None);
        let zone = BrowserZone {
            name: "Europe/Berlin".into(),
            tz: berlin,
        };
        // The zone wins over the offset the form sent (a winter offset on a summer date).
        let fields = Fields::parse(Some("from=2026-07-01T12:00&to=2026-12-07T12:00&tz=-60"));
        let (body, problems) = search_body(&fields, 0, &zone);
        assert!(problems.is_empty());
        assert_eq!(
            body["start"],
            json!({"from": 1_782_900_000_000u64, "to": 1_796_641_200_000u64})
        );
    }

    #[test]
    fn filters_become_the_history_apis_body() {
        let fields = Fields::parse(Some("visitor=v1&campaign=12&outcome=clicked&outcome=declined&keyword=kettle&area=cartStatus"));
        let (body, problems) = search_body(&fields, 10 * DAY_MS, &BrowserZone::utc());
        assert!(problems.is_empty());
        assert_eq!(
            body,
            json!({"start": {"from": 3 * DAY_MS, "to": 10 * DAY_MS}, "visitor": "v1", "campaignIds": [12],
                   "outcomes": ["clicked", "declined"], "keyword": "kettle",
                   "keyword_search_area": {"types": ["ea.cartStatus"]}})
        );
    }
}
