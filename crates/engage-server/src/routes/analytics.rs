//! `POST /api/account/{accountId}/analytics/report`: what each campaign and engagement
//! achieved, and `POST .../analytics/funnel`: how far visitors got through a sequence of
//! steps (docs/analytics.md defines every figure, docs/api.md the routes). Both read the
//! rollups the write path keeps (`Store::analytics_facts`, `Store::funnel_steps`), never
//! the raw events; the arithmetic is engage-store's `analytics::report` and
//! `analytics::funnel`, shared with the tests.

use std::collections::{BTreeMap, HashMap};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use engage_store::analytics::funnel::{funnel, FunnelError, FunnelQuery, FunnelRow};
use engage_store::analytics::report::{
    micros_to_units, report, Grouping, Lift, ReportError, ReportRow, Significance, Windows,
};
use engage_store::analytics::{AnalyticsScope, Step, StepScope, DAY_MS};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Unit, Zoned, ZonedRound};
use serde::Serialize;
use utoipa::ToSchema;

use crate::body::read_json;
use crate::error::ApiError;
use crate::extract::AuthorizedAccount;
use crate::request::analytics::{FunnelBody, GroupBy, ReportBody};
use crate::AppState;

use super::admin::schema::{AccountPath, BodyErrors, KeyErrors};

/// The most rows a report answers; a grouping that would give more is refused.
pub const MAX_ROWS: usize = 10_000;

/// `POST /api/account/{accountId}/analytics/report`.
#[tracing::instrument(skip_all, fields(account = %account_id, rows))]
#[utoipa::path(
    post,
    path = "/api/account/{account_id}/analytics/report",
    tag = "Analytics",
    operation_id = "analyticsReport",
    params(AccountPath),
    request_body(content = crate::request::analytics::schema::ReportRequest, content_type = "application/json"),
    security(("bearer" = []), ("oauth1" = [])),
    responses(
        (status = 200, description = "The report's rows (docs/analytics.md)", body = ReportAnswer),
        BodyErrors,
        KeyErrors,
    )
)]
pub async fn report_route(
    State(state): State<AppState>,
    _: AuthorizedAccount,
    Path(account_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let request = read_json(
        &headers,
        body,
        &state.limits,
        "report request",
        ReportBody::read,
    )
    .await?;
    let rows = report_rows(&state, &account_id, &request).await?;
    tracing::Span::current().record("rows", rows.len());
    let answer = ReportAnswer {
        from: request.from_ms,
        to: request.to_ms,
        timezone: request.timezone.iana_name().unwrap_or("UTC").to_owned(),
        rows: rows
            .iter()
            .map(|r| RowBody::of(r, &request.timezone, request.group_by))
            .collect(),
    };
    Ok(axum::Json(answer).into_response())
}

/// `POST /api/account/{accountId}/analytics/funnel`.
#[tracing::instrument(skip_all, fields(account = %account_id, rows))]
#[utoipa::path(
    post,
    path = "/api/account/{account_id}/analytics/funnel",
    tag = "Analytics",
    operation_id = "analyticsFunnel",
    params(AccountPath),
    request_body(content = crate::request::analytics::schema::FunnelRequest, content_type = "application/json"),
    security(("bearer" = []), ("oauth1" = [])),
    responses(
        (status = 200, description = "The funnel's rows, one per group (docs/analytics.md)", body = FunnelAnswer),
        BodyErrors,
        KeyErrors,
    )
)]
pub async fn funnel_route(
    State(state): State<AppState>,
    _: AuthorizedAccount,
    Path(account_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let request = read_json(
        &headers,
        body,
        &state.limits,
        "funnel request",
        FunnelBody::read,
    )
    .await?;
    let rows = funnel_rows(&state, &account_id, &request).await?;
    tracing::Span::current().record("rows", rows.len());
    Ok(axum::Json(FunnelAnswer {
        from: request.from_ms,
        to: request.to_ms,
        window_seconds: request.window_ms / 1_000,
        rows: rows
            .iter()
            .map(|r| FunnelRowBody::of(r, &request.steps))
            .collect(),
    })
    .into_response())
}

/// The report's rows for a checked request: what `report_route` answers and what the
/// console's Overview and Results show.
pub async fn report_rows(
    state: &AppState,
    account_id: &str,
    request: &ReportBody,
) -> Result<Vec<ReportRow>, ApiError> {
    // Reports share the history searches' permits: both are the account's heavy reads.
    let _permit = state
        .history_searches
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::TooManyRequests)?;

    let windows: HashMap<u64, i64> = state
        .store
        .campaigns(account_id)
        .await?
        .iter()
        .map(|c| (c.id, i64::from(c.fields.attribution_window_days) * DAY_MS))
        .collect();
    let default_window =
        i64::from(engage_store::CampaignFields::DEFAULT_ATTRIBUTION_WINDOW_DAYS) * DAY_MS;
    let attribution_ms = windows
        .iter()
        .filter(|(id, _)| request.campaign_ids.is_empty() || request.campaign_ids.contains(id))
        .map(|(_, w)| *w)
        .chain([default_window])
        .max()
        .unwrap_or(default_window);
    let scope = AnalyticsScope {
        from_ms: request.from_ms,
        to_ms: request.to_ms,
        campaign_ids: request.campaign_ids.clone(),
        engagement_ids: request.engagement_ids.clone(),
        attribution_ms,
        include_bots: request.include_bots,
    };
    let (facts, source) = state
        .analytics_cache
        .facts(&state.store, account_id, scope)
        .await?;
    state
        .metrics
        .record_analytics_cache(source.label(), state.analytics_cache.stats().bytes);
    let tz = request.timezone.clone();
    let group_by = request.group_by;
    let rows = tokio::task::spawn_blocking(move || {
        let bucket = |ms: i64| time_bucket(ms, &tz, group_by);
        let grouping = Grouping {
            campaign: group_by.campaign,
            engagement: group_by.engagement,
            time: (group_by.day || group_by.hour).then_some(&bucket as &(dyn Fn(i64) -> i64 + Sync)),
        };
        let windows = Windows {
            by_campaign: &windows,
            default_ms: default_window,
        };
        report(&facts, grouping, &windows, MAX_ROWS)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("report task failed: {e}")))?
    .map_err(|ReportError::TooManyRows { rows, max }| {
        ApiError::invalid_field(
            "/groupBy",
            format!("this grouping gives {rows} rows, at most {max} are allowed: group by less or narrow the range"),
        )
    })?;
    Ok(rows)
}

/// The funnel's rows for a checked request: what `funnel_route` answers and what the
/// console's Results shows.
pub async fn funnel_rows(
    state: &AppState,
    account_id: &str,
    request: &FunnelBody,
) -> Result<Vec<FunnelRow>, ApiError> {
    let _permit = state
        .history_searches
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::TooManyRequests)?;
    let mut kinds = request.steps.clone();
    kinds.sort_unstable();
    kinds.dedup();
    let occurrences = state
        .store
        .funnel_steps(
            account_id,
            StepScope {
                from_ms: request.from_ms,
                // Inclusive of the last attempt's whole window.
                to_ms: request
                    .to_ms
                    .saturating_add(request.window_ms)
                    .saturating_add(1),
                steps: kinds,
                campaign_ids: request.campaign_ids.clone(),
                engagement_ids: request.engagement_ids.clone(),
                include_bots: request.include_bots,
            },
        )
        .await?;
    let query_steps = request.steps.clone();
    let (from_ms, to_ms, window_ms, group) = (
        request.from_ms,
        request.to_ms,
        request.window_ms,
        request.group,
    );
    let rows = tokio::task::spawn_blocking(move || {
        funnel(
            &occurrences,
            &FunnelQuery {
                from_ms,
                to_ms,
                steps: &query_steps,
                window_ms,
                group,
            },
            MAX_ROWS,
        )
    })
    .await
    .map_err(|e| ApiError::Internal(format!("funnel task failed: {e}")))?
    .map_err(|FunnelError::TooManyRows { rows, max }| {
        ApiError::invalid_field(
            "/groupBy",
            format!("this grouping gives {rows} rows, at most {max} are allowed: group by less or narrow the range"),
        )
    })?;
    Ok(rows)
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FunnelAnswer {
    from: i64,
    to: i64,
    window_seconds: i64,
    rows: Vec<FunnelRowBody>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FunnelRowBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    campaign_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    engagement_id: Option<u64>,
    steps: Vec<StepBody>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StepBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sde: Option<&'static str>,
    visitors: u64,
    conversion_from_previous: Option<f64>,
    conversion_from_first: Option<f64>,
    median_seconds_from_previous: Option<f64>,
}

impl FunnelRowBody {
    fn of(row: &FunnelRow, steps: &[Step]) -> FunnelRowBody {
        let first = row.steps.first().map_or(0, |s| s.visitors);
        FunnelRowBody {
            campaign_id: row.campaign_id,
            engagement_id: row.engagement_id,
            steps: row
                .steps
                .iter()
                .zip(steps)
                .enumerate()
                .map(|(k, (result, step))| {
                    let previous = k
                        .checked_sub(1)
                        .and_then(|p| row.steps.get(p))
                        .map(|p| p.visitors);
                    StepBody {
                        event: match step {
                            Step::Event(name) => Some(name.as_str()),
                            Step::Sde(_) => None,
                        },
                        sde: match step {
                            Step::Sde(t) => Some(t.page_type()),
                            Step::Event(_) => None,
                        },
                        visitors: result.visitors,
                        conversion_from_previous: previous.and_then(|p| {
                            engage_store::analytics::report::rate(result.visitors, p)
                        }),
                        conversion_from_first: engage_store::analytics::report::rate(
                            result.visitors,
                            first,
                        ),
                        median_seconds_from_previous: result
                            .median_ms_from_previous
                            .map(|ms| ms / 1_000.0),
                    }
                })
                .collect(),
        }
    }
}

/// The start of the local day or hour of `ms`, epoch ms.
fn time_bucket(ms: i64, tz: &TimeZone, group_by: GroupBy) -> i64 {
    let Ok(at) = Timestamp::from_millisecond(ms) else {
        return ms;
    };
    let zoned = at.to_zoned(tz.clone());
    let start = if group_by.hour {
        zoned.round(
            ZonedRound::new()
                .smallest(Unit::Hour)
                .mode(jiff::RoundMode::Trunc),
        )
    } else {
        zoned.start_of_day()
    };
    start.map_or(ms, |z: Zoned| z.timestamp().as_millisecond())
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReportAnswer {
    from: i64,
    to: i64,
    timezone: String,
    rows: Vec<RowBody>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RowBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    campaign_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    engagement_id: Option<u64>,
    /// The local day (`2026-12-01`), when grouped by day or hour.
    #[serde(skip_serializing_if = "Option::is_none")]
    day: Option<String>,
    /// The local hour's start (`2026-12-01T13:00:00+01:00`), when grouped by hour.
    #[serde(skip_serializing_if = "Option::is_none")]
    hour: Option<String>,
    visitors: u64,
    eligible: u64,
    control_visitors: u64,
    exposed_visitors: u64,
    impressions: u64,
    clicks: u64,
    declines: u64,
    timeouts: u64,
    coupon_reveals: u64,
    coupon_copies: u64,
    ctr: Option<f64>,
    conversions: u64,
    conversions_after_impression: u64,
    conversions_after_click: u64,
    conversion_rate: Option<f64>,
    revenue: BTreeMap<String, f64>,
    control_conversions: u64,
    control_conversion_rate: Option<f64>,
    control_revenue: BTreeMap<String, f64>,
    lift: Option<LiftBody>,
    significance: Option<SignificanceBody>,
    incremental_conversions: Option<f64>,
    incremental_revenue: Option<BTreeMap<String, f64>>,
    /// For an engagement of a split: this engagement against the others of its campaign.
    #[serde(skip_serializing_if = "Option::is_none")]
    split: Option<SplitBody>,
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LiftBody {
    value: f64,
    low: f64,
    high: f64,
}

impl From<Lift> for LiftBody {
    fn from(l: Lift) -> Self {
        LiftBody {
            value: l.value,
            low: l.low,
            high: l.high,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SignificanceBody {
    z: f64,
    p_value: f64,
    significant: bool,
    visitors_needed: Option<u64>,
}

impl From<Significance> for SignificanceBody {
    fn from(s: Significance) -> Self {
        SignificanceBody {
            z: s.z,
            p_value: s.p_value,
            significant: s.significant,
            visitors_needed: s.visitors_needed,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SplitBody {
    others_exposed_visitors: u64,
    others_conversions: u64,
    others_conversion_rate: Option<f64>,
    significance: Option<SignificanceBody>,
}

fn units(revenue: &BTreeMap<String, i64>) -> BTreeMap<String, f64> {
    revenue
        .iter()
        .map(|(c, m)| (c.clone(), micros_to_units(*m)))
        .collect()
}

impl RowBody {
    fn of(r: &ReportRow, tz: &TimeZone, group_by: GroupBy) -> RowBody {
        let local = r
            .key
            .time_ms
            .and_then(|ms| Timestamp::from_millisecond(ms).ok())
            .map(|t| t.to_zoned(tz.clone()));
        RowBody {
            campaign_id: r.key.campaign_id,
            engagement_id: r.key.engagement_id,
            day: local.as_ref().map(|z| z.date().to_string()),
            hour: local
                .as_ref()
                .filter(|_| group_by.hour)
                .map(|z| z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()),
            visitors: r.visitors,
            eligible: r.eligible,
            control_visitors: r.control_visitors,
            exposed_visitors: r.exposed_visitors,
            impressions: r.impressions,
            clicks: r.clicks,
            declines: r.declines,
            timeouts: r.timeouts,
            coupon_reveals: r.coupon_reveals,
            coupon_copies: r.coupon_copies,
            ctr: r.ctr(),
            conversions: r.conversions,
            conversions_after_impression: r.conversions_after_impression,
            conversions_after_click: r.conversions_after_click,
            conversion_rate: r.conversion_rate(),
            revenue: units(&r.revenue),
            control_conversions: r.control_conversions,
            control_conversion_rate: r.control_conversion_rate(),
            control_revenue: units(&r.control_revenue),
            lift: r.lift().map(LiftBody::from),
            significance: r.significance().map(SignificanceBody::from),
            incremental_conversions: r.incremental_conversions(),
            incremental_revenue: r.incremental_revenue(),
            split: r.rest_of_campaign.map(|(n, x)| SplitBody {
                others_exposed_visitors: n,
                others_conversions: x,
                others_conversion_rate: engage_store::analytics::report::rate(x, n),
                significance: r.split_significance().map(SignificanceBody::from),
            }),
        }
    }
}
