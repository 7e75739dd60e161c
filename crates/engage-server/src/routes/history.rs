//! The Engagement History API (docs/vocabulary.md, Engagement History API):
//! `POST /interaction_history/api/account/{accountId}/interactions/search`.
//!
//! A record is one engagement context's life as the store keeps it, written in the
//! platform's shape: `info`, `campaign`, `events`, `visitorInfo`, `sdes`. Members whose
//! value is unknown are left out rather than written as `null` (the attributes in
//! `sdes.events` keep their own `null`s: they are the page's data).

use std::str::FromStr;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::uri::Authority;
use axum::http::{header, HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use engage_model::{EngagementType, OfferData, LP_OFFERS};
use engage_store::{Interaction, InteractionPage, RawJson, StoredEvent};
use serde::Serialize;

use crate::body::{read_body, Accept};
use crate::error::ApiError;
use crate::extract::AuthorizedAccount;
use crate::request::history::{HistorySearchBody, SearchParams};
use crate::user_agent;
use crate::AppState;

/// `POST /interaction_history/api/account/{accountId}/interactions/search?offset=&limit=&sort=&source=`.
#[tracing::instrument(skip_all, fields(account = %account_id, count, returned))]
pub async fn search(
    State(state): State<AppState>,
    _: AuthorizedAccount,
    Path(account_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(&headers, body, &state.limits, Accept::Json).await?;
    let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(&uri)
        .map_err(|e| ApiError::invalid_field("?", e.body_text()))?;
    let search = HistorySearchBody::read(&pairs, &bytes)?;
    // Taken after validation: a bad request is answered even when the server is busy,
    // and a client slow to send its body holds no permit.
    let _permit = state
        .history_searches
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::TooManyRequests)?;
    let page = state
        .store
        .search_interactions(&account_id, search.query())
        .await?;
    let span = tracing::Span::current();
    span.record("count", page.count);
    span.record("returned", page.records.len());
    let links = Links::new(&headers, &uri);
    Ok(axum::Json(answer(&page, &search.params, &links)).into_response())
}

// ---------------------------------------------------------------- the answer

#[derive(Serialize)]
struct SearchResponse<'a> {
    #[serde(rename = "_metadata")]
    metadata: Metadata,
    #[serde(rename = "interactionHistoryRecords")]
    records: Vec<Record<'a>>,
}

#[derive(Serialize)]
struct Metadata {
    count: u64,
    #[serde(rename = "self")]
    self_link: Link,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<Link>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prev: Option<Link>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last: Option<Link>,
}

#[derive(Serialize)]
struct Link {
    rel: &'static str,
    href: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    info: Info<'a>,
    campaign: CampaignBody<'a>,
    events: Vec<EventBody<'a>>,
    visitor_info: VisitorInfo<'a>,
    sdes: Sdes<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Info<'a> {
    interaction_id: &'a str,
    start_time: String,
    start_time_l: i64,
    end_time: String,
    end_time_l: i64,
    /// Milliseconds from the first event to the last.
    duration: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    visitor_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    page_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    page_url: Option<&'a str>,
    outcome: &'static str,
}

/// Ids as JSON numbers (docs/vocabulary.md, Events: ids in, ids out).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CampaignBody<'a> {
    campaign_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    campaign_name: Option<&'a str>,
    engagement_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    engagement_name: Option<&'a str>,
    engagement_revision: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    engagement_type: Option<EngagementType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tgl_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    zone_id: Option<u64>,
}

/// One `LP_OFFERS` event as the export writes it, without the visit's ids (the record's
/// `info` has them).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EventBody<'a> {
    id: &'a str,
    /// The page's clock; absent when the event came without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    time: Option<i64>,
    server_time: i64,
    app_name: &'static str,
    event_name: &'static str,
    data: &'a OfferData,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VisitorInfo<'a> {
    /// The app's `deviceFamily` when it gave one, else read from the user agent.
    device: &'a str,
    browser: String,
    /// The app's `os` when it gave one, else read from the user agent.
    operating_system: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    operating_system_version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    app_version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_agent: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    referrer: Option<&'a str>,
}

#[derive(Serialize)]
struct Sdes<'a> {
    events: &'a [RawJson],
}

fn answer<'a>(
    page: &'a InteractionPage,
    params: &SearchParams,
    links: &Links,
) -> SearchResponse<'a> {
    SearchResponse {
        metadata: metadata(page.count, params, links),
        records: page.records.iter().map(record).collect(),
    }
}

/// `self` always; `next` while pages follow, `prev` after the first, `last` when
/// anything matched. Each carries the same sort, limit and source.
fn metadata(count: u64, params: &SearchParams, links: &Links) -> Metadata {
    let limit = params.limit as u64;
    let offset = params.offset;
    let link = |rel: &'static str, offset: u64| Link {
        rel,
        href: links.href(params, offset),
    };
    Metadata {
        count,
        self_link: link("self", offset),
        next: (offset.saturating_add(limit) < count)
            .then(|| link("next", offset.saturating_add(limit))),
        prev: (offset > 0).then(|| link("prev", offset.saturating_sub(limit))),
        last: (count > 0).then(|| link("last", (count - 1) / limit * limit)),
    }
}

fn record(interaction: &Interaction) -> Record<'_> {
    let campaign = &interaction.campaign;
    let agent = user_agent::parse(interaction.user_agent.as_deref().unwrap_or(""));
    let client = interaction.client.as_ref();
    Record {
        info: Info {
            interaction_id: &interaction.interaction_id,
            start_time: iso_utc(interaction.start_ms),
            start_time_l: interaction.start_ms,
            end_time: iso_utc(interaction.end_ms),
            end_time_l: interaction.end_ms,
            duration: interaction
                .end_ms
                .saturating_sub(interaction.start_ms)
                .max(0),
            visitor_id: interaction.visitor_id.as_deref(),
            session_id: interaction.session_id.as_deref(),
            page_id: interaction.page_id.as_deref(),
            page_url: interaction.page_url.as_deref(),
            outcome: interaction.outcome.as_str(),
        },
        campaign: CampaignBody {
            campaign_id: campaign.campaign_id,
            campaign_name: campaign.campaign_name.as_deref(),
            engagement_id: campaign.engagement_id,
            engagement_name: campaign.engagement_name.as_deref(),
            engagement_revision: campaign.engagement_revision,
            engagement_type: campaign.engagement_type,
            tgl_name: campaign.tgl_name.as_deref(),
            zone_id: campaign.zone_id,
        },
        events: interaction.events.iter().map(event).collect(),
        visitor_info: VisitorInfo {
            device: client
                .and_then(|c| c.device_family.as_deref())
                .unwrap_or(agent.device.as_str()),
            browser: agent.browser_label(),
            operating_system: client
                .and_then(|c| c.os.as_deref())
                .unwrap_or(agent.operating_system.as_str()),
            operating_system_version: client.and_then(|c| c.os_version.as_deref()),
            app_version: client.and_then(|c| c.app_version.as_deref()),
            user_agent: interaction
                .user_agent
                .as_deref()
                .filter(|ua| !ua.is_empty()),
            referrer: interaction.referrer.as_deref().filter(|r| !r.is_empty()),
        },
        sdes: Sdes {
            events: &interaction.sdes,
        },
    }
}

fn event(stored: &StoredEvent) -> EventBody<'_> {
    EventBody {
        id: &stored.client_id,
        time: stored.client_time_ms,
        server_time: stored.server_ms,
        app_name: LP_OFFERS,
        event_name: stored.event.name.as_str(),
        data: &stored.event.data,
    }
}

const MS_PER_DAY: i64 = 86_400_000;

/// ISO 8601 in UTC with milliseconds: `2026-11-21T10:00:00.000Z`.
pub(crate) fn iso_utc(ms: i64) -> String {
    let days = ms.div_euclid(MS_PER_DAY);
    let in_day = ms.rem_euclid(MS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

/// The proleptic Gregorian date of a day count from 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, exact for every `i64` day an epoch-ms `i64` can name).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

// ---------------------------------------------------------------- links

/// Where this search was asked, to write absolute links back to it.
struct Links {
    /// `http://host:port/path`, or just the path when the request named no host.
    base: String,
}

impl Links {
    /// The scheme is `https` only when a proxy says so in `X-Forwarded-Proto`; the host
    /// is the request's `Host` (or HTTP/2 authority), used only when it is a valid one,
    /// so that a client cannot make the answer link elsewhere with a crafted header.
    fn new(headers: &HeaderMap, uri: &Uri) -> Links {
        let scheme = headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .filter(|v| v == "https")
            .map_or("http", |_| "https");
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| Authority::from_str(v).ok())
            .filter(|a| !a.as_str().contains('@'))
            .or_else(|| uri.authority().cloned());
        let base = match host {
            Some(host) => format!("{scheme}://{host}{}", uri.path()),
            None => uri.path().to_owned(),
        };
        Links { base }
    }

    fn href(&self, params: &SearchParams, offset: u64) -> String {
        format!("{}?{}", self.base, params.query_string(offset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engage_store::{SortField, SortKey};

    #[test]
    fn iso_times_are_utc_with_milliseconds() {
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_utc(1_795_255_200_000), "2026-11-21T10:00:00.000Z");
        assert_eq!(iso_utc(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(iso_utc(1_709_251_199_999), "2024-02-29T23:59:59.999Z");
        assert_eq!(iso_utc(253_402_300_799_999), "9999-12-31T23:59:59.999Z");
        assert_eq!(iso_utc(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn iso_days_agree_with_counting_days() {
        // Every day from 1970 to 2100, counted one by one.
        let mut date = (1970, 1, 1);
        for days in 0..47_482 {
            assert_eq!(civil_from_days(days), date, "day {days}");
            let (y, m, d) = date;
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let month_days = [
                31,
                if leap { 29 } else { 28 },
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ];
            date = if d < month_days[(m - 1) as usize] {
                (y, m, d + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
        }
    }

    fn params(offset: u64, limit: usize) -> SearchParams {
        SearchParams {
            offset,
            limit,
            sort: vec![SortKey {
                field: SortField::Start,
                descending: true,
            }],
            source: None,
        }
    }

    fn hrefs(count: u64, offset: u64, limit: usize) -> [Option<String>; 4] {
        let links = Links {
            base: "http://h/p".into(),
        };
        let m = metadata(count, &params(offset, limit), &links);
        let offset_of = |l: Option<Link>| {
            l.map(|l| {
                l.href
                    .split("offset=")
                    .nth(1)
                    .and_then(|rest| rest.split('&').next())
                    .unwrap_or_default()
                    .to_owned()
            })
        };
        [
            offset_of(Some(m.self_link)),
            offset_of(m.next),
            offset_of(m.prev),
            offset_of(m.last),
        ]
    }

    fn some(offsets: [Option<&str>; 4]) -> [Option<String>; 4] {
        offsets.map(|o| o.map(str::to_owned))
    }

    #[test]
    fn paging_links_appear_only_where_a_page_is() {
        assert_eq!(hrefs(0, 0, 50), some([Some("0"), None, None, None]));
        assert_eq!(
            hrefs(5, 0, 2),
            some([Some("0"), Some("2"), None, Some("4")])
        );
        assert_eq!(
            hrefs(5, 2, 2),
            some([Some("2"), Some("4"), Some("0"), Some("4")])
        );
        assert_eq!(
            hrefs(5, 4, 2),
            some([Some("4"), None, Some("2"), Some("4")])
        );
        assert_eq!(
            hrefs(4, 2, 2),
            some([Some("2"), None, Some("0"), Some("2")])
        );
        // An offset between pages steps back a whole page, not below 0.
        assert_eq!(
            hrefs(5, 1, 2),
            some([Some("1"), Some("3"), Some("0"), Some("4")])
        );
        // Past the end: nothing next, but the way back is there.
        assert_eq!(
            hrefs(5, 10, 2),
            some([Some("10"), None, Some("8"), Some("4")])
        );
    }

    #[test]
    fn links_use_the_host_and_a_proxys_scheme() {
        let uri: Uri = "/interaction_history/api/account/1/interactions/search?limit=2"
            .parse()
            .unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "engage.example:8080".parse().unwrap());
        assert_eq!(
            Links::new(&headers, &uri).base,
            "http://engage.example:8080/interaction_history/api/account/1/interactions/search"
        );
        headers.insert("x-forwarded-proto", "https, http".parse().unwrap());
        assert!(Links::new(&headers, &uri)
            .base
            .starts_with("https://engage.example:8080/"));
        headers.insert("x-forwarded-proto", "gopher".parse().unwrap());
        assert!(Links::new(&headers, &uri).base.starts_with("http://"));
        headers.insert(header::HOST, "evil.example/x?".parse().unwrap());
        assert_eq!(
            Links::new(&headers, &uri).base,
            "/interaction_history/api/account/1/interactions/search",
            "an invalid host is not written into links"
        );
    }
}
