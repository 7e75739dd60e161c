//! Overview and Results: the two screens whose figures come from the analytics API.
//! Until it is wired in, each page has its heading, its period chooser and its layout,
//! with every figure slot present and empty ([`Figures`] is what it will fill).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::Response;
use maud::{html, Markup};

use super::page::{Page, Screen};
use super::session::ConsoleUser;
use crate::error::ApiError;
use crate::AppState;

/// The periods the chooser offers.
const PERIODS: [(&str, &str); 4] = [
    ("today", "Today"),
    ("7d", "7 days"),
    ("30d", "30 days"),
    ("custom", "Custom"),
];

/// The figures of one period with their change against the previous one; `None` until
/// the analytics API gives them.
#[derive(Debug, Default, Clone, Copy)]
pub struct Figure {
    pub value: Option<f64>,
    pub change: Option<f64>,
}

/// The six figures Overview shows, in its order.
pub const OVERVIEW_FIGURES: [&str; 6] = [
    "Visitors",
    "Impressions",
    "Clicks",
    "Conversions",
    "Revenue",
    "Lift",
];

fn period_chooser(action: &str, query: &HashMap<String, String>, extra: Markup) -> Markup {
    let chosen = query.get("period").map_or("7d", String::as_str);
    html! {
        form.card.period method="get" action=(action) aria-label="Period" {
            (extra)
            fieldset.choices {
                legend { "Period" }
                @for (value, label) in PERIODS {
                    label.choice { input type="radio" name="period" value=(value) checked[value == chosen]; " " (label) }
                }
            }
            div.field {
                label for="p-from" { "From" }
                input #p-from name="from" type="date" value=[query.get("from")];
            }
            div.field {
                label for="p-to" { "To" }
                input #p-to name="to" type="date" value=[query.get("to")];
            }
            button type="submit" { "Show" }
        }
    }
}

fn figure_card(name: &str, figure: Figure) -> Markup {
    html! {
        div.figure {
            h3 { (name) }
            p.value { @match figure.value { Some(v) => data.num value=(v) { (v) }, None => span.none { "—" } } }
            p.change { @match figure.change { Some(c) => { data.num.pct value=(c) { (c) } " vs previous period" }, None => "" } }
        }
    }
}

/// `GET /console/?period=&from=&to=`: the first screen.
pub async fn overview(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let engagements = state.store.engagements(user.account_id(), None).await?;
    let main = html! {
        h1 { "Overview" }
        (period_chooser("/console/", &query, html! {}))
        section aria-labelledby="figures" {
            h2.visually-hidden id="figures" { "Figures" }
            div.figures { @for name in OVERVIEW_FIGURES { (figure_card(name, Figure::default())) } }
        }
        section.card aria-labelledby="over-time" {
            h2 id="over-time" { "Over time" }
            div.chart data-chart="overview" {}
        }
        section aria-labelledby="top" {
            h2 id="top" { "Top engagements" }
            div.table-wrap {
                table {
                    thead { tr { th scope="col" { "Engagement" } th scope="col" { "Impressions" } th scope="col" { "Clicks" } th scope="col" { "Conversions" } } }
                    tbody {
                        @for e in engagements.iter().take(10) {
                            tr {
                                th scope="row" { a href=(format!("/console/campaigns/{}/engagements/{}", e.campaign_id, e.id)) { (e.definition.name) } }
                                td { span.none { "—" } } td { span.none { "—" } } td { span.none { "—" } }
                            }
                        }
                    }
                }
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

/// `GET /console/results?campaign=&engagement=&period=&steps=`.
pub async fn results(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let campaigns = state.store.campaigns(user.account_id()).await?;
    let engagements = state.store.engagements(user.account_id(), None).await?;
    let chosen_campaign = query.get("campaign").map_or("", String::as_str);
    let chosen_engagement = query.get("engagement").map_or("", String::as_str);
    let steps = query
        .get("steps")
        .filter(|s| !s.trim().is_empty())
        .cloned()
        .unwrap_or_else(|| DEFAULT_FUNNEL.join(", "));
    let selectors = html! {
        div.grid {
            div.field {
                label for="r-campaign" { "Campaign" }
                select #r-campaign name="campaign" {
                    option value="" { "Every campaign" }
                    @for c in &campaigns { option value=(c.id) selected[c.id.to_string() == chosen_campaign] { (c.fields.name) } }
                }
            }
            div.field {
                label for="r-engagement" { "Engagement" }
                select #r-engagement name="engagement" {
                    option value="" { "Every engagement" }
                    @for e in &engagements { option value=(e.id) selected[e.id.to_string() == chosen_engagement] { (e.definition.name) } }
                }
            }
            div.field {
                label for="r-steps" { "Funnel steps" }
                input #r-steps name="steps" type="text" value=(steps);
            }
        }
    };
    let main = html! {
        h1 { "Results" }
        (period_chooser("/console/results", &query, selectors))
        section.card aria-labelledby="exposed" {
            h2 id="exposed" { "Exposed against control" }
            div.table-wrap {
                table {
                    thead { tr { th scope="col" { "Group" } th scope="col" { "Visitors" } th scope="col" { "Conversions" } th scope="col" { "Rate" } } }
                    tbody {
                        tr { th scope="row" { "Exposed" } td { span.none { "—" } } td { span.none { "—" } } td { span.none { "—" } } }
                        tr { th scope="row" { "Control" } td { span.none { "—" } } td { span.none { "—" } } td { span.none { "—" } } }
                    }
                }
            }
            p { "Lift: " span.none { "—" } " · interval: " span.none { "—" } " · significant: " span.none { "—" } }
        }
        section.card aria-labelledby="funnel" {
            h2 id="funnel" { "Funnel" }
            ol.funnel { @for step in steps.split(',').map(str::trim).filter(|s| !s.is_empty()).take(8) { li { (step) ": " span.none { "—" } } } }
            div.chart data-chart="funnel" {}
        }
        section.card aria-labelledby="ab" {
            h2 id="ab" { "A/B comparison" }
            div.chart data-chart="ab" {}
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
