//! The results routes' bodies as the OpenAPI description states them (`crate::openapi`).
//! `from` must be before `to`, at most 400 days apart.
#![allow(dead_code)] // descriptions of shapes: nothing builds these values

use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::ToSchema;

use crate::openapi::bodies::OfferEventName;
use crate::request::admin::schema::whole_number;

/// The latest epoch ms a time may be: 9999-12-30T00:00:00Z (the time library's range
/// ends that day).
const MAX_EPOCH_MS: usize = 253_402_128_000_000;

/// `from` or `to`: epoch milliseconds, an RFC 3339 time (`2026-12-01T00:00:00Z`) or a
/// date (`2026-12-01`, the start of that day in the report's time zone).
pub fn instant() -> Schema {
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .maximum(Some(MAX_EPOCH_MS)),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}")),
        )
        .description(Some(
            "epoch milliseconds, an RFC 3339 time or a date (YYYY-MM-DD)",
        ))
        .into()
}

/// An IANA time zone name of the server's bundled database.
fn timezone() -> Schema {
    let names: Vec<String> = jiff::tz::db()
        .available()
        .map(|name| name.as_str().to_owned())
        .filter(|name| name.len() <= super::MAX_TIMEZONE_CHARS)
        .collect();
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(names)),
        )
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .into()
}

/// Campaign or engagement ids to keep (none: all), at most 1,000.
pub fn ids() -> Schema {
    OneOfBuilder::new()
        .item(
            ArrayBuilder::new()
                .items(RefOr::T(whole_number(0, None, false)))
                .max_items(Some(super::MAX_IDS)),
        )
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .into()
}

/// `POST .../analytics/report`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"from": "2026-12-01", "to": "2026-12-08", "timezone": "Europe/Paris", "groupBy": ["campaign", "day"]}))]
pub struct ReportRequest {
    /// Included.
    #[schema(schema_with = instant)]
    from: String,
    /// Excluded.
    #[schema(schema_with = instant)]
    to: String,
    /// An IANA time zone name (`Europe/Paris`, `UTC`): days and hours are local to it,
    /// and dates in `from` and `to` too. UTC when left out.
    #[schema(schema_with = timezone)]
    timezone: Option<String>,
    /// Each at most once; no grouping gives one row.
    group_by: Option<Vec<ReportGroup>>,
    #[schema(schema_with = ids)]
    campaign_ids: Option<Vec<u64>>,
    #[schema(schema_with = ids)]
    engagement_ids: Option<Vec<u64>>,
    /// Accepted; no interaction is flagged as a bot's yet, so it changes nothing.
    include_bots: Option<bool>,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum ReportGroup {
    Campaign,
    Engagement,
    Day,
    Hour,
}

/// `POST .../analytics/funnel`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"from": "2026-12-01", "to": "2026-12-08", "steps": [{"event": "OFFER_IMPRESSION"}, {"event": "OFFER_CLICK"}, {"sde": "purchase"}], "groupBy": ["campaign"]}))]
pub struct FunnelRequest {
    /// Attempts that start from `from` (included, UTC for a date)...
    #[schema(schema_with = instant)]
    from: String,
    /// ...to `to` (excluded).
    #[schema(schema_with = instant)]
    to: String,
    /// 1-10 steps, in order.
    #[schema(min_items = 1, max_items = 10)]
    steps: Vec<FunnelStep>,
    /// How long a visitor has from the first step to the last: 1 s to 31 days; a day
    /// when left out.
    #[schema(schema_with = window_seconds)]
    window_seconds: Option<u64>,
    #[schema(schema_with = ids)]
    campaign_ids: Option<Vec<u64>>,
    #[schema(schema_with = ids)]
    engagement_ids: Option<Vec<u64>>,
    /// Grouping needs a first step that is an `event`.
    group_by: Option<Vec<FunnelGroup>>,
}

fn window_seconds() -> Schema {
    whole_number(1, Some(super::MAX_WINDOW_SECONDS), true)
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum FunnelGroup {
    Campaign,
    Engagement,
}

/// `{"event": ...}` (an `LP_OFFERS` event) or `{"sde": ...}` (an attribute's page type).
#[derive(ToSchema)]
#[serde(untagged)]
pub enum FunnelStep {
    Event(EventStep),
    Sde(SdeStep),
}

#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventStep {
    /// A lifecycle event, or a coupon action's.
    event: OfferEventName,
}

#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SdeStep {
    sde: SdeKind,
}

#[derive(ToSchema)]
pub enum SdeKind {
    #[serde(rename = "cart")]
    Cart,
    #[serde(rename = "purchase")]
    Purchase,
    #[serde(rename = "prodView")]
    ProdView,
    #[serde(rename = "ctmrinfo")]
    Ctmrinfo,
    #[serde(rename = "mrktInfo")]
    MrktInfo,
    #[serde(rename = "personal")]
    Personal,
    #[serde(rename = "lead")]
    Lead,
    #[serde(rename = "service")]
    Service,
    #[serde(rename = "error")]
    Error,
    #[serde(rename = "searchInfo")]
    SearchInfo,
}
