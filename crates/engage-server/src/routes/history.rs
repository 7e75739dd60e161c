//! The Engagement History API (docs/vocabulary.md, Engagement History API):
//! `POST /interaction_history/api/account/{accountId}/interactions/search`.
//!
//! A record is one engagement context's life as the store keeps it, written in the
//! documented shape: `info`, `campaign`, `visitorInfo`, `sdes`, with the documented names,
//! types and "not known" values; what only Engage knows (the outcome, the `LP_OFFERS`
//! timeline) is under `engage`.

use std::str::FromStr;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::uri::Authority;
use axum::http::{header, HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use engage_model::{EngagementType, OfferData, OfferEventName};
use engage_store::{Interaction, InteractionPage, RawJson, StoredEvent};
use serde::Serialize;

use crate::body::{read_body, Accept};
use crate::error::ApiError;
use crate::extract::AuthorizedAccount;
use crate::request::history::{HistorySearchBody, SearchParams};
use crate::user_agent;
use crate::AppState;

/// `POST /interaction_history/api/account/{accountId}/interactions/search?offset=&limit=&sort=&source=`.
///
/// Finds interactions (one engagement context's life each) in LivePerson's record shape.
/// At most 16 searches run at once.
#[utoipa::path(post, path = "/interaction_history/api/account/{account_id}/interactions/search", summary = "Search interactions",
    tag = "Engagement History API", operation_id = "history_search",
    params(
        ("account_id" = String, Path, description = "The account."),
        ("offset" = Option<u64>, Query, description = "How many matching interactions to skip (default 0)."),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100, description = "Interactions per page, 1-100 (default 50)."),
        ("sort" = Option<String>, Query, description = "Fields in order of significance, each `field`, `field:asc` or `field:desc` (`field:des`), separated by `,`: `start`, `end`, `duration`, `visitor`, `engagementId`, `interactive` (`agentId` and `skillId` order nothing). Default `start:desc`.", example = "duration:des"),
        ("source" = Option<String>, Query, max_length = 256, description = "The caller's name; only carried into the links.", example = "LP_AgentUI_History")),
    request_body(content = crate::openapi::bodies::HistorySearch, content_type = "application/json"),
    security(("bearer" = []), ("oauth1" = [])),
    responses(
        (status = 200, description = "A page of matching interactions and how many match.", body = SearchResponse),
        (status = 400, description = "Not JSON (`malformed_json`), or a filter or parameter that is not valid (`invalid_request`, `errors` lists every problem).", body = crate::openapi::schema::Error),
        (status = 401, description = "No key, an unknown key or a refused OAuth 1.0a signature.", body = crate::openapi::schema::Error),
        (status = 403, description = "Another account's key.", body = crate::openapi::schema::Error),
        (status = 404, description = "Unknown account.", body = crate::openapi::schema::Error),
        (status = 408, description = "The body did not arrive in time.", body = crate::openapi::schema::Error),
        (status = 413, description = "Over the body size.", body = crate::openapi::schema::Error),
        (status = 415, description = "Not JSON, or not gzip.", body = crate::openapi::schema::Error),
        (status = 429, description = "Too many searches running (`Retry-After: 1`).", body = crate::openapi::schema::Error),
        (status = 503, description = "Shutting down (`Retry-After`).", body = crate::openapi::schema::Error)))]
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
    let page = run_search(&state, &account_id, &search).await?;
    let span = tracing::Span::current();
    span.record("count", page.count);
    span.record("returned", page.records.len());
    let links = match state
        .public_host
        .as_ref()
        .and_then(|h| h.configured_origin())
    {
        Some(origin) => Links::at(&origin, &uri),
        None => Links::new(&headers, &uri),
    };
    Ok(axum::Json(answer(&page, &search.params, &links, &account_id)).into_response())
}

/// Runs a validated search under the search permits (the API's and the console's).
/// Taken after validation: a bad request is answered even when the server is busy, and a
/// client slow to send its body holds no permit.
pub(crate) async fn run_search(
    state: &AppState,
    account_id: &str,
    search: &HistorySearchBody,
) -> Result<InteractionPage, ApiError> {
    let _permit = state
        .history_searches
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::TooManyRequests)?;
    Ok(state
        .store
        .search_interactions(account_id, search.query())
        .await?)
}

// ---------------------------------------------------------------- the answer

/// A page of the search's answer.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SearchResponse<'a> {
    #[serde(rename = "_metadata")]
    metadata: Metadata,
    #[serde(rename = "interactionHistoryRecords")]
    #[schema(value_type = Vec<crate::openapi::bodies::HistoryRecord>)]
    records: Vec<Record<'a>>,
}

/// How many interactions match over all pages, and the links to pages: `next` while
/// pages follow, `prev` when `offset` is above 0, `last` when anything matched.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Metadata {
    count: u64,
    #[serde(rename = "self")]
    self_link: Link,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<Link>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prev: Option<Link>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last: Option<Link>,
    #[serde(rename = "shardsStatusResult")]
    shards_status_result: ShardsStatus,
}

/// Always `{0, 1, false}`: one store, never a partial result.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ShardsStatus {
    failure_shards: u32,
    total_shards: u32,
    partial_result: bool,
}

/// A link to a page of the answer.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Link {
    rel: &'static str,
    href: String,
}

/// One record in LivePerson's documented shape (retrieve-engagement-list-by-criteria.md,
/// "Elements in the Response" and its example response). Members Engage has no notion of
/// (agents, skills, chat reasons, geography) carry the documented "none" values: `"NA"`
/// for names, `-1` for ids, `null` for scores. What only Engage knows sits under `engage`,
/// a name the documentation does not use, so that no documented member changes meaning.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    info: Info<'a>,
    /// Engage has no chats: no lines, no line scores, no co-browsing.
    transcript: Transcript,
    line_scores: [(); 0],
    campaign: CampaignBody<'a>,
    co_browse_sessions: CoBrowseSessions,
    visitor_info: VisitorInfo<'a>,
    sdes: Sdes<'a>,
    engage: Extras<'a>,
}

/// Not documented values are written with the types of the documentation's example
/// (ids such as `agentId` as strings, `skillId` as a number).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Info<'a> {
    /// The interaction's id.
    engagement_id: &'a str,
    account_id: &'a str,
    /// `yyyy-MM-dd HH:mm:ss.SSS+0000`, as the documented examples print it.
    start_time: String,
    start_time_l: i64,
    end_time: String,
    end_time_l: i64,
    /// Whole seconds from the first event to the last, rounded down.
    duration: i64,
    /// `"NA"` when the page gave no visitor id.
    visitor_id: &'a str,
    visitor_name: &'static str,
    /// The visitor clicked or accepted the engagement (an `OFFER_CLICK`).
    is_interactive: bool,
    interactive: bool,
    /// The engagement left the page (an `OFFER_DECLINED`, `OFFER_TIMEOUT` or
    /// `OFFER_REMOVE`), whatever happened before. The member table
    /// says `isEnded`, the examples `ended`: both are written.
    ended: bool,
    is_ended: bool,
    is_partial: bool,
    /// The member table says `isChatDataEnriched`, the examples `chatDataEnriched`.
    chat_data_enriched: bool,
    is_chat_data_enriched: bool,
    agent_id: &'static str,
    agent_name: &'static str,
    agent_nick_name: &'static str,
    agent_login_name: &'static str,
    agent_full_name: &'static str,
    agent_deleted: bool,
    skill_id: i64,
    skill_name: &'static str,
    agent_group_id: i64,
    agent_group_name: &'static str,
    /// 1: web, the only channel the tag reports.
    channel: i64,
    start_reason: &'static str,
    start_reason_desc: &'static str,
    end_reason: &'static str,
    end_reason_desc: &'static str,
    engagement_set: i64,
    engagement_sequence: i64,
    mcs: Option<i64>,
    #[serde(rename = "alertedMCS")]
    alerted_mcs: Option<i64>,
    #[serde(rename = "chatMCS")]
    chat_mcs: Option<i64>,
    is_agent_survey: bool,
    is_post_chat_survey: bool,
    is_pre_chat_survey: bool,
    /// The page the engagement was shown on; `"NA"` when unknown.
    chat_start_url: &'a str,
    /// The page's title, which Engage does not keep: `"NA"`.
    chat_start_page: &'static str,
}

/// Ids as strings, as the documented example writes them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CampaignBody<'a> {
    campaign_engagement_id: String,
    campaign_engagement_name: &'a str,
    campaign_id: String,
    campaign_name: &'a str,
    goal_id: &'static str,
    goal_name: &'static str,
    visitor_behavior_id: &'static str,
    visitor_behavior_name: &'static str,
    visitor_profile_id: &'static str,
    visitor_profile_name: &'static str,
    lob_id: &'static str,
    lob_name: &'static str,
    /// The engagement's application (alphanumeric in the Messaging Interactions API's
    /// campaign table, the same container): Engage engagements have none.
    engagement_application_id: &'static str,
    engagement_application_name: &'static str,
    engagement_application_type_id: &'static str,
    engagement_application_type_name: &'static str,
}

#[derive(Serialize)]
struct Transcript {
    lines: [(); 0],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CoBrowseSessions {
    co_browse_sessions_list: [(); 0],
}

/// What Engage knows of an interaction beyond the documented members.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Extras<'a> {
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    page_id: Option<&'a str>,
    /// Milliseconds from the first event to the last (`info.duration` is whole seconds).
    duration_ms: i64,
    campaign: EngageCampaign<'a>,
    /// The interaction's `LP_OFFERS` events, oldest first.
    events: Vec<EventBody<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    operating_system_version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    app_version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_agent: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    referrer: Option<&'a str>,
}

/// The campaign as Engage's admin API names it, ids as numbers (docs/vocabulary.md,
/// Events: ids in, ids out).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EngageCampaign<'a> {
    campaign_id: u64,
    engagement_id: u64,
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

/// Geography and the IP address are not kept by Engage: `"NA"`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VisitorInfo<'a> {
    country: &'static str,
    country_code: &'static str,
    state: &'static str,
    city: &'static str,
    isp: &'static str,
    org: &'static str,
    /// The app's `deviceFamily` when it gave one, else read from the user agent.
    device: &'a str,
    ip_address: &'static str,
    browser: String,
    /// The app's `os` when it gave one, else read from the user agent.
    operating_system: &'a str,
    /// The browser's family in capitals, `_` for spaces (`CHROME`, `SAMSUNG_INTERNET`),
    /// `"NA"` when not known.
    browser_type: String,
}

/// `sdes.events`: each stored attribute (`{"purchase": {...}}`) with the members the
/// documented example puts beside it: `serverTimeStamp` (the attribute's, a string),
/// `sdeType` (its type in capitals, `PURCHASE`) and `isAuthenticated` (the tag's
/// attributes are the page's word: `false`).
struct Sdes<'a> {
    events: &'a [RawJson],
}

impl Serialize for Sdes<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let events: Vec<serde_json::Value> = self.events.iter().map(sde_entry).collect();
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry("events", &events)?;
        map.end()
    }
}

fn sde_entry(stored: &RawJson) -> serde_json::Value {
    use serde_json::Value;
    // The store wrote these from validated attributes; one it cannot read back is passed
    // through as it is rather than failing the whole answer.
    let Ok(Value::Object(mut entry)) = serde_json::from_str::<Value>(stored.as_str()) else {
        return serde_json::from_str(stored.as_str()).unwrap_or(Value::Null);
    };
    let Some((key, inner)) = entry.iter().next() else {
        return Value::Object(entry);
    };
    let server = inner.get("serverTimeStamp").cloned().unwrap_or(Value::Null);
    let sde_type = sde_type(key);
    entry.insert("serverTimeStamp".into(), server);
    entry.insert("sdeType".into(), Value::String(sde_type));
    entry.insert("isAuthenticated".into(), Value::Bool(false));
    Value::Object(entry)
}

/// `cartStatus` → `CART_STATUS`, `purchase` → `PURCHASE` (the documented example's form).
fn sde_type(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() && !out.is_empty() {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

fn answer<'a>(
    page: &'a InteractionPage,
    params: &SearchParams,
    links: &Links,
    account_id: &'a str,
) -> SearchResponse<'a> {
    SearchResponse {
        metadata: metadata(page.count, params, links),
        records: page
            .records
            .iter()
            .map(|interaction| record(interaction, account_id))
            .collect(),
    }
}

/// `self` always; `next` while pages follow, `prev` after the first, `last` when
/// anything matched. Each carries the same sort, limit and source. One store answers
/// every search, so `shardsStatusResult` always says one shard, none failed.
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
        shards_status_result: ShardsStatus {
            failure_shards: 0,
            total_shards: 1,
            partial_result: false,
        },
    }
}

/// The documented "not known" value for a device, system or browser Engage could not
/// name (its reader says `OTHER`).
fn or_na(value: &str) -> &str {
    if value == "OTHER" {
        NA
    } else {
        value
    }
}

const NA: &str = "NA";

fn record<'a>(interaction: &'a Interaction, account_id: &'a str) -> Record<'a> {
    let campaign = &interaction.campaign;
    let agent = user_agent::parse(interaction.user_agent.as_deref().unwrap_or(""));
    let client = interaction.client.as_ref();
    let duration_ms = interaction
        .end_ms
        .saturating_sub(interaction.start_ms)
        .max(0);
    // The same readings as the search's `interactive` and `ended` filters, so that a
    // record found by `"ended": true` says `ended`: a click followed by a removal is both.
    let has = |names: &[OfferEventName]| {
        interaction
            .events
            .iter()
            .any(|e| names.contains(&e.event.name))
    };
    let interactive = has(&[OfferEventName::OfferClick]);
    let ended = has(&[
        OfferEventName::OfferDeclined,
        OfferEventName::OfferTimeout,
        OfferEventName::OfferRemove,
    ]);
    Record {
        info: Info {
            engagement_id: &interaction.interaction_id,
            account_id,
            start_time: lp_time(interaction.start_ms),
            start_time_l: interaction.start_ms,
            end_time: lp_time(interaction.end_ms),
            end_time_l: interaction.end_ms,
            duration: duration_ms / 1000,
            visitor_id: interaction.visitor_id.as_deref().unwrap_or(NA),
            visitor_name: NA,
            is_interactive: interactive,
            interactive,
            ended,
            is_ended: ended,
            is_partial: false,
            chat_data_enriched: false,
            is_chat_data_enriched: false,
            agent_id: "-1",
            agent_name: NA,
            agent_nick_name: NA,
            agent_login_name: NA,
            agent_full_name: NA,
            agent_deleted: false,
            skill_id: -1,
            skill_name: NA,
            agent_group_id: -1,
            agent_group_name: NA,
            channel: 1,
            start_reason: NA,
            start_reason_desc: NA,
            end_reason: NA,
            end_reason_desc: NA,
            engagement_set: 0,
            engagement_sequence: 0,
            mcs: None,
            alerted_mcs: None,
            chat_mcs: None,
            is_agent_survey: false,
            is_post_chat_survey: false,
            is_pre_chat_survey: false,
            chat_start_page: NA,
            chat_start_url: interaction
                .page_url
                .as_deref()
                .filter(|u| !u.is_empty())
                .unwrap_or(NA),
        },
        transcript: Transcript { lines: [] },
        line_scores: [],
        co_browse_sessions: CoBrowseSessions {
            co_browse_sessions_list: [],
        },
        campaign: CampaignBody {
            campaign_engagement_id: campaign.engagement_id.to_string(),
            campaign_engagement_name: campaign.engagement_name.as_deref().unwrap_or(NA),
            campaign_id: campaign.campaign_id.to_string(),
            campaign_name: campaign.campaign_name.as_deref().unwrap_or(NA),
            goal_id: "-1",
            goal_name: NA,
            visitor_behavior_id: "-1",
            visitor_behavior_name: NA,
            visitor_profile_id: "-1",
            visitor_profile_name: NA,
            lob_id: "-1",
            lob_name: NA,
            engagement_application_id: NA,
            engagement_application_name: NA,
            engagement_application_type_id: NA,
            engagement_application_type_name: NA,
        },
        visitor_info: VisitorInfo {
            country: NA,
            country_code: NA,
            state: NA,
            city: NA,
            isp: NA,
            org: NA,
            device: or_na(
                client
                    .and_then(|c| c.device_family.as_deref())
                    .unwrap_or(agent.device.as_str()),
            ),
            ip_address: NA,
            browser: match agent.browser_label().as_str() {
                "OTHER" => NA.to_owned(),
                label => label.to_owned(),
            },
            operating_system: or_na(
                client
                    .and_then(|c| c.os.as_deref())
                    .unwrap_or(agent.operating_system.as_str()),
            ),
            browser_type: agent.browser.as_ref().map_or_else(
                || NA.to_owned(),
                |b| b.name.to_ascii_uppercase().replace(' ', "_"),
            ),
        },
        sdes: Sdes {
            events: &interaction.sdes,
        },
        engage: Extras {
            outcome: interaction.outcome.as_str(),
            session_id: interaction.session_id.as_deref(),
            page_id: interaction.page_id.as_deref(),
            duration_ms,
            campaign: EngageCampaign {
                campaign_id: campaign.campaign_id,
                engagement_id: campaign.engagement_id,
                engagement_revision: campaign.engagement_revision,
                engagement_type: campaign.engagement_type,
                tgl_name: campaign.tgl_name.as_deref(),
                zone_id: campaign.zone_id,
            },
            events: interaction.events.iter().map(event).collect(),
            operating_system_version: client.and_then(|c| c.os_version.as_deref()),
            app_version: client.and_then(|c| c.app_version.as_deref()),
            user_agent: interaction
                .user_agent
                .as_deref()
                .filter(|ua| !ua.is_empty()),
            referrer: interaction.referrer.as_deref().filter(|r| !r.is_empty()),
        },
    }
}

fn event(stored: &StoredEvent) -> EventBody<'_> {
    EventBody {
        id: &stored.client_id,
        time: stored.client_time_ms,
        server_time: stored.server_ms,
        app_name: stored.event.name.app_name(),
        event_name: stored.event.name.as_str(),
        data: &stored.event.data,
    }
}

/// The documented text form of a time: `2015-05-28 04:46:23.209+0000` (UTC).
fn lp_time(ms: i64) -> String {
    let iso = iso_utc(ms);
    // `iso_utc` ends in `Z` and has a `T` between date and time.
    format!("{}+0000", iso.trim_end_matches('Z').replacen('T', " ", 1))
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
    /// Links under the operator's `--public-url` origin (`scheme://host[:port]`).
    fn at(origin: &str, uri: &Uri) -> Links {
        Links {
            base: format!("{origin}{}", uri.path()),
        }
    }

    /// Without a `--public-url`: the scheme is `https` only when a proxy says so in `X-Forwarded-Proto`; the host
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
    fn record_times_are_in_the_documented_text_form() {
        // retrieve-engagement-list-by-criteria.md, example response: "startTime":
        // "2015-05-28 04:46:23.209+0000", "startTimeL": 1432788383209.
        assert_eq!(lp_time(1_432_788_383_209), "2015-05-28 04:46:23.209+0000");
        assert_eq!(lp_time(0), "1970-01-01 00:00:00.000+0000");
    }

    #[test]
    fn sde_types_are_the_type_in_capitals() {
        assert_eq!(sde_type("purchase"), "PURCHASE");
        assert_eq!(sde_type("cartStatus"), "CART_STATUS");
        assert_eq!(sde_type("marketingCampaignInfo"), "MARKETING_CAMPAIGN_INFO");
        let entry = sde_entry(
            &RawJson::from_text(
                r#"{"purchase":{"total":"77.0","serverTimeStamp":"1485969113673"}}"#.into(),
            )
            .unwrap(),
        );
        assert_eq!(
            entry,
            serde_json::json!({
                "purchase": {"total": "77.0", "serverTimeStamp": "1485969113673"},
                "serverTimeStamp": "1485969113673",
                "sdeType": "PURCHASE",
                "isAuthenticated": false
            })
        );
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
