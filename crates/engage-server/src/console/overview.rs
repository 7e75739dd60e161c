//! Overview and Results: the two screens whose figures come from the analytics API. Both
//! call `routes::analytics::report_rows` and `funnel_rows`, the functions the JSON routes
//! answer with, so the console shows exactly what the API would (docs/analytics.md).

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Query, State};
use axum::response::Response;
use engage_model::{OfferEventName, SdeType};
use engage_store::analytics::funnel::FunnelGroup;
use engage_store::analytics::report::{micros_to_units, rate, ReportRow};
use engage_store::analytics::{Step, DAY_MS};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use maud::{html, Markup};

use super::chart;
use super::page::{count, number, Page, Screen};
use super::period::{chooser, Period};
use super::session::ConsoleUser;
use crate::error::ApiError;
use crate::request::analytics::{FunnelBody, GroupBy, ReportBody};
use crate::routes::analytics::{funnel_rows, report_rows};
use crate::AppState;

fn report_body(
    period: &Period,
    group_by: GroupBy,
    campaign: Option<u64>,
    engagement: Option<u64>,
) -> ReportBody {
    ReportBody {
        from_ms: period.from_ms,
        to_ms: period.to_ms,
        timezone: period.tz.clone(),
        group_by,
        campaign_ids: campaign.into_iter().collect(),
        engagement_ids: engagement.into_iter().collect(),
        include_bots: false,
    }
}

/// The account's totals over a period: the report's single ungrouped row.
async fn totals(
    state: &AppState,
    account: &str,
    period: &Period,
) -> Result<Option<ReportRow>, ApiError> {
    let rows = report_rows(
        state,
        account,
        &report_body(period, GroupBy::default(), None, None),
    )
    .await?;
    Ok(rows.into_iter().next())
}

/// Each campaign's report row over the last 7 days of `tz`, today included (the
/// Campaigns list's figures).
pub async fn last_week_by_campaign(
    state: &AppState,
    account: &str,
    tz: &TimeZone,
) -> Result<HashMap<u64, ReportRow>, ApiError> {
    let week = Period::chosen(&HashMap::new(), Timestamp::now().as_millisecond(), tz);
    let by_campaign = GroupBy {
        campaign: true,
        ..GroupBy::default()
    };
    let body = report_body(&week, by_campaign, None, None);
    let rows = report_rows(state, account, &body).await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.key.campaign_id.map(|c| (c, r)))
        .collect())
}

/// Revenue summed over its currencies, and the text naming each currency.
fn revenue(row: Option<&ReportRow>) -> (f64, String) {
    let Some(row) = row else {
        return (0.0, String::new());
    };
    // A fold from +0: an empty `sum()` of f64 is -0, which the browser writes as "-0".
    let total = row
        .revenue
        .values()
        .fold(0.0, |sum, m| sum + micros_to_units(*m));
    let text = row
        .revenue
        .iter()
        .map(|(c, m)| format!("{} {c}", micros_to_units(*m)))
        .collect::<Vec<_>>()
        .join(", ");
    (total, text)
}

/// One figure card: the value, and its relative change against the previous period
/// (none when the previous period had nothing to compare with).
fn figure_card(
    name: &str,
    value: Option<f64>,
    previous: Option<f64>,
    text: Option<String>,
) -> Markup {
    let change = match (value, previous) {
        (Some(v), Some(p)) if p != 0.0 => Some(v / p - 1.0),
        _ => None,
    };
    html! {
        div.figure data-figure=(name) {
            h3 { (name) }
            p.value {
                @match (value, text) {
                    (Some(_), Some(t)) if !t.is_empty() => { (t) },
                    (Some(v), _) => { data.num value=(v) { (v) } },
                    (None, _) => { span.none { "—" } },
                }
            }
            p.change {
                @match change {
                    Some(c) => { data.num.pct value=(c) { (c) } " vs previous period" },
                    None => { "no previous figure" },
                }
            }
        }
    }
}

/// `GET /console/?period=&from=&to=`: the first screen.
pub async fn overview(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let account = user.account_id();
    let period = Period::chosen(&query, Timestamp::now().as_millisecond(), &user.zone.tz);
    let now = totals(&state, account, &period).await?;
    let before = totals(&state, account, &period.previous()).await?;
    let total_of = |row: &Option<ReportRow>, f: fn(&ReportRow) -> u64| {
        Some(row.as_ref().map_or(0.0, |r| f(r) as f64))
    };
    let lift = |row: &Option<ReportRow>| row.as_ref().and_then(ReportRow::lift).map(|l| l.value);
    let (revenue_now, revenue_text) = revenue(now.as_ref());
    let (revenue_before, _) = revenue(before.as_ref());

    // Hours of a one-day period, else days, of the browser's zone.
    let buckets = period.buckets();
    let by_time = report_rows(
        &state,
        account,
        &report_body(
            &period,
            GroupBy {
                day: !buckets.hourly,
                hour: buckets.hourly,
                ..GroupBy::default()
            },
            None,
            None,
        ),
    )
    .await?;
    let of_day = |f: fn(&ReportRow) -> u64| -> Vec<f64> {
        buckets
            .starts
            .iter()
            .map(|d| {
                by_time
                    .iter()
                    .find(|r| r.key.time_ms == Some(*d))
                    .map_or(0.0, |r| f(r) as f64)
            })
            .collect()
    };
    let chart_title = format!(
        "Visitors, impressions and clicks by {} ({})",
        if buckets.hourly { "hour" } else { "day" },
        user.zone.name
    );
    let series = [
        ("Visitors", of_day(|r| r.visitors)),
        ("Impressions", of_day(|r| r.impressions)),
        ("Clicks", of_day(|r| r.clicks)),
    ];

    let mut top = report_rows(
        &state,
        account,
        &report_body(
            &period,
            GroupBy {
                engagement: true,
                ..GroupBy::default()
            },
            None,
            None,
        ),
    )
    .await?;
    top.sort_by(|a, b| {
        b.impressions
            .cmp(&a.impressions)
            .then(b.clicks.cmp(&a.clicks))
    });
    let names: HashMap<u64, String> = state
        .store
        .engagements(account, None)
        .await?
        .into_iter()
        .map(|e| (e.id, e.definition.name))
        .collect();

    let main = html! {
        h1 { "Overview" }
        (chooser("/console/", &query, &period, html! {}))
        section aria-labelledby="figures" {
            h2.visually-hidden id="figures" { "Figures" }
            div.figures {
                (figure_card("Visitors", total_of(&now, |r| r.visitors), total_of(&before, |r| r.visitors), None))
                (figure_card("Impressions", total_of(&now, |r| r.impressions), total_of(&before, |r| r.impressions), None))
                (figure_card("Clicks", total_of(&now, |r| r.clicks), total_of(&before, |r| r.clicks), None))
                (figure_card("Conversions", total_of(&now, |r| r.conversions), total_of(&before, |r| r.conversions), None))
                (figure_card("Revenue", Some(revenue_now), Some(revenue_before), Some(revenue_text)))
                (figure_card("Lift", lift(&now), lift(&before), None))
            }
        }
        section.card aria-labelledby="over-time" {
            h2 id="over-time" { "Over time" }
            div.chart data-chart="overview" { (chart::lines(&chart_title, &buckets.labels, &series)) }
        }
        section aria-labelledby="top" {
            h2 id="top" { "Top engagements" }
            div.table-wrap tabindex="0" role="region" aria-label="Top engagements table" {
                table {
                    thead { tr { th scope="col" { "Engagement" } th scope="col" { "Impressions" } th scope="col" { "Clicks" } th scope="col" { "Conversions" } } }
                    tbody {
                        @for r in top.iter().take(10) {
                            @let (c, e) = (r.key.campaign_id.unwrap_or(0), r.key.engagement_id.unwrap_or(0));
                            tr {
                                th scope="row" { a href=(format!("/console/results?campaign={c}&engagement={e}")) { (names.get(&e).map_or_else(|| format!("Engagement {e}"), Clone::clone)) } }
                                td { (number(r.impressions as f64)) } td { (number(r.clicks as f64)) } td { (number(r.conversions as f64)) }
                            }
                        }
                    }
                }
                @if top.is_empty() { p.none { "No engagement was shown in this period." } }
            }
        }
    };
    Ok(Page {
        user: &user,
        screen: Screen::Overview,
        title: "Overview",
        scripts: &[],
    }
    .render(main))
}

/// The funnel's steps unless the user edits them.
const DEFAULT_FUNNEL: [&str; 4] = ["impression", "click", "cart", "purchase"];

/// A funnel step as the console writes it: an event's short name (`impression`,
/// `click`, ...), an LP_OFFERS event name, or an SDE type (`cart`, `purchase`, ...).
fn step_of(text: &str) -> Option<Step> {
    let short = match text {
        "start" => Some(OfferEventName::Start),
        "display" => Some(OfferEventName::OfferDisplay),
        "impression" => Some(OfferEventName::OfferImpression),
        "click" => Some(OfferEventName::OfferClick),
        "decline" => Some(OfferEventName::OfferDeclined),
        "timeout" => Some(OfferEventName::OfferTimeout),
        "remove" => Some(OfferEventName::OfferRemove),
        _ => OfferEventName::from_name(text),
    };
    short
        .map(Step::Event)
        .or_else(|| SdeType::from_page_type(text).map(Step::Sde))
}

fn pct(value: Option<f64>) -> Markup {
    match value {
        Some(v) => html! { data.num.pct value=(v) { (v) } },
        None => html! { span.none { "—" } },
    }
}

/// `GET /console/results?campaign=&engagement=&period=&steps=`.
pub async fn results(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let account = user.account_id();
    let period = Period::chosen(&query, Timestamp::now().as_millisecond(), &user.zone.tz);
    let campaigns = state.store.campaigns(account).await?;
    let engagements = state.store.engagements(account, None).await?;
    let chosen_campaign = query.get("campaign").and_then(|c| c.parse::<u64>().ok());
    let chosen_engagement = query.get("engagement").and_then(|e| e.parse::<u64>().ok());
    let steps_text = query
        .get("steps")
        .filter(|s| !s.trim().is_empty())
        .cloned()
        .unwrap_or_else(|| DEFAULT_FUNNEL.join(", "));
    let step_names: Vec<&str> = steps_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let unknown: Vec<&str> = step_names
        .iter()
        .copied()
        .filter(|s| step_of(s).is_none())
        .collect();
    let steps_error = if !unknown.is_empty() {
        Some(format!("unknown steps: {}; use impression, click, decline, cart, purchase, prodView, lead, ... or an LP_OFFERS event name", unknown.join(", ")))
    } else if step_names.len() > crate::request::analytics::MAX_STEPS {
        Some(format!(
            "{} steps, at most {} are allowed",
            step_names.len(),
            crate::request::analytics::MAX_STEPS
        ))
    } else {
        None
    };

    let report = report_rows(
        &state,
        account,
        &report_body(
            &period,
            GroupBy {
                campaign: true,
                ..GroupBy::default()
            },
            chosen_campaign,
            chosen_engagement,
        ),
    )
    .await?;
    let split = report_rows(
        &state,
        account,
        &report_body(
            &period,
            GroupBy {
                engagement: true,
                ..GroupBy::default()
            },
            chosen_campaign,
            chosen_engagement,
        ),
    )
    .await?;
    let funnel = match steps_error {
        Some(_) => None,
        None => {
            let body = FunnelBody {
                from_ms: period.from_ms,
                to_ms: period.to_ms,
                steps: step_names.iter().filter_map(|s| step_of(s)).collect(),
                window_ms: DAY_MS,
                campaign_ids: chosen_campaign.into_iter().collect(),
                engagement_ids: chosen_engagement.into_iter().collect(),
                group: FunnelGroup::None,
                include_bots: false,
            };
            funnel_rows(&state, account, &body)
                .await?
                .into_iter()
                .next()
        }
    };
    let campaign_names: BTreeMap<u64, &str> = campaigns
        .iter()
        .map(|c| (c.id, c.fields.name.as_str()))
        .collect();
    let engagement_names: BTreeMap<u64, &str> = engagements
        .iter()
        .map(|e| (e.id, e.definition.name.as_str()))
        .collect();

    let selectors = html! {
        div.grid {
            div.field {
                label for="r-campaign" { "Campaign" }
                select #r-campaign name="campaign" {
                    option value="" { "Every campaign" }
                    @for c in &campaigns { option value=(c.id) selected[Some(c.id) == chosen_campaign] { (c.fields.name) } }
                }
            }
            div.field {
                label for="r-engagement" { "Engagement" }
                select #r-engagement name="engagement" {
                    option value="" { "Every engagement" }
                    @for e in &engagements { option value=(e.id) selected[Some(e.id) == chosen_engagement] { (e.definition.name) } }
                }
            }
            div.field {
                label for="r-steps" { "Funnel steps" }
                input #r-steps name="steps" type="text" value=(steps_text)
                    aria-invalid=[steps_error.as_ref().map(|_| "true")]
                    aria-describedby=[steps_error.as_ref().map(|_| "r-steps-error")];
                @if let Some(message) = &steps_error { p.field-error id="r-steps-error" { (message) } }
            }
        }
    };
    let main = html! {
        h1 { "Results" }
        (chooser("/console/results", &query, &period, selectors))
        section.card aria-labelledby="exposed" {
            h2 id="exposed" { "Exposed against control" }
            @if report.is_empty() { p.none { "Nothing was recorded for this choice in this period." } }
            @for r in &report {
                @let c = r.key.campaign_id.unwrap_or(0);
                h3 { (campaign_names.get(&c).copied().unwrap_or("Campaign")) }
                div.table-wrap tabindex="0" role="region" aria-label=(format!("{}: exposed against control", campaign_names.get(&c).copied().unwrap_or("Campaign"))) {
                    table data-campaign=(c) {
                        thead { tr { th scope="col" { "Group" } th scope="col" { "Visitors" } th scope="col" { "Impressions" } th scope="col" { "Clicks" } th scope="col" { "Conversions" } th scope="col" { "Rate" } } }
                        tbody {
                            tr { th scope="row" { "Exposed" } td { (number(r.exposed_visitors as f64)) } td data-figure="impressions" { (number(r.impressions as f64)) } td data-figure="clicks" { (number(r.clicks as f64)) } td { (number(r.conversions as f64)) } td { (pct(r.conversion_rate())) } }
                            tr { th scope="row" { "Control" } td { (number(r.control_visitors as f64)) } td { "—" } td { "—" } td { (number(r.control_conversions as f64)) } td { (pct(r.control_conversion_rate())) } }
                        }
                    }
                }
                @if r.coupon_reveals + r.coupon_copies > 0 {
                    p.coupons {
                        "Coupons revealed: " span data-figure="coupon-reveals" { (number(r.coupon_reveals as f64)) }
                        " · copied: " span data-figure="coupon-copies" { (number(r.coupon_copies as f64)) }
                    }
                }
                p.lift {
                    "Lift: " (pct(r.lift().map(|l| l.value)))
                    " · 95% interval: " @match r.lift() { Some(l) => { (pct(Some(l.low))) " to " (pct(Some(l.high))) }, None => { span.none { "—" } } }
                    " · significant: " @match r.significance() { Some(s) => { (if s.significant { "yes" } else { "not yet" }) " (p = " (format!("{:.3}", s.p_value)) ")" }, None => { span.none { "—" } } }
                }
            }
        }
        section.card aria-labelledby="funnel" {
            h2 id="funnel" { "Funnel" }
            @match &funnel {
                Some(row) => {
                    ol.funnel {
                        @for (name, step) in step_names.iter().zip(&row.steps) {
                            li data-step=(name) { (name) ": " (count(step.visitors, "visitor", "visitors")) }
                        }
                    }
                    div.chart data-chart="funnel" {
                        (chart::bars("Visitors reaching each funnel step", &step_names.iter().zip(&row.steps).map(|(n, s)| ((*n).to_owned(), s.visitors as f64)).collect::<Vec<_>>()))
                    }
                }
                None => { p.none { "No funnel: correct its steps above." } }
            }
        }
        section.card aria-labelledby="ab" {
            h2 id="ab" { "A/B comparison" }
            @let splits: Vec<&ReportRow> = split.iter().filter(|r| r.rest_of_campaign.is_some()).collect();
            @if splits.is_empty() {
                p.none { "No campaign here has engagements in a split with exposed visitors." }
            } @else {
                div.table-wrap tabindex="0" role="region" aria-label="A/B comparison table" {
                    table {
                        thead { tr { th scope="col" { "Engagement" } th scope="col" { "Exposed" } th scope="col" { "Conversions" } th scope="col" { "Rate" } th scope="col" { "Others' rate" } th scope="col" { "Significant" } } }
                        tbody {
                            @for r in &splits {
                                @let (n, x) = r.rest_of_campaign.unwrap_or((0, 0));
                                tr {
                                    th scope="row" { (engagement_names.get(&r.key.engagement_id.unwrap_or(0)).copied().unwrap_or("Engagement")) }
                                    td { (number(r.exposed_visitors as f64)) } td { (number(r.conversions as f64)) } td { (pct(r.conversion_rate())) } td { (pct(rate(x, n))) }
                                    td { @match r.split_significance() { Some(s) => (if s.significant { "yes" } else { "not yet" }), None => span.none { "—" } } }
                                }
                            }
                        }
                    }
                }
                div.chart data-chart="ab" {
                    (chart::bars("Conversion rate of each split engagement, in %", &splits.iter().map(|r| (engagement_names.get(&r.key.engagement_id.unwrap_or(0)).copied().unwrap_or("?").to_owned(), r.conversion_rate().unwrap_or(0.0) * 100.0)).collect::<Vec<_>>()))
                }
            }
        }
    };
    Ok(Page {
        user: &user,
        screen: Screen::Results,
        title: "Results",
        scripts: &[],
    }
    .render(main))
}
