//! The admin API (Bearer key): app installations, campaigns, engagements and their
//! availability. Every write drops the account's decision snapshot once it committed, so
//! the next decision sees it.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use engage_model::{AgentState, EngagementType, Node, Tape, View};
use engage_store::{
    AppInstallation, Campaign, CampaignFields, Engagement, EngagementContent, EngagementDefinition,
    RawJson,
};
use serde::Serialize;

use crate::body::{read_body, Accept};
use crate::decision::input::{describe, engagement_type, object, Problems};
use crate::decision::Targeting;
use crate::error::ApiError;
use crate::AppState;

/// Longest campaign, engagement or app name.
const MAX_NAME_CHARS: usize = 256;
const MAX_GOAL_CHARS: usize = 256;
const MAX_TGL_NAME_CHARS: usize = 64;
/// Longest title or button label, and longest body text.
const MAX_LABEL_CHARS: usize = 256;
const MAX_BODY_CHARS: usize = 10_000;
/// Priorities run from 0 (first) to this; a campaign without one gets the default.
const MAX_PRIORITY: u64 = 1_000_000;
const DEFAULT_PRIORITY: u32 = 100;
/// Longest display duration, one day.
const MAX_TIMEOUT_SECONDS: u64 = 86_400;

/// The account, once the request's key is its own.
async fn authorized(
    state: &AppState,
    account_id: &str,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    state.authorized_account(account_id, headers).await?;
    Ok(())
}

/// Reads a JSON body and hands it to `parse`; malformed JSON and every problem `parse`
/// finds are answered 400 in the standard shape.
async fn parse_body<T>(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    parse: impl FnOnce(Node<'_, '_>, &mut Problems) -> Option<T>,
) -> Result<T, ApiError> {
    let bytes = read_body(headers, body, &state.limits, Accept::Json).await?;
    let tape = Tape::parse(&bytes).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    let mut problems = Problems::default();
    let parsed = parse(tape.root(), &mut problems);
    match parsed {
        Some(value) if problems.is_empty() => Ok(value),
        _ => Err(ApiError::invalid_all("request", problems.errors)),
    }
}

fn id(text: &str, what: &str) -> Result<u64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::UnknownResource(format!("unknown {what} `{text}`")))
}

fn unknown_campaign(campaign_id: u64) -> ApiError {
    ApiError::UnknownResource(format!("unknown campaign `{campaign_id}`"))
}

fn unknown_engagement(campaign_id: u64, engagement_id: u64) -> ApiError {
    ApiError::UnknownResource(format!(
        "unknown engagement `{engagement_id}` in campaign `{campaign_id}`"
    ))
}

/// A listing: `{"apps": [...]}`, `{"campaigns": [...]}` or `{"engagements": [...]}`,
/// each item as its own route answers it.
#[derive(Serialize)]
#[serde(untagged)]
enum List<'a> {
    Apps {
        apps: Vec<AppBody<'a>>,
    },
    Campaigns {
        campaigns: Vec<CampaignBody<'a>>,
    },
    Engagements {
        engagements: Vec<EngagementBody<'a>>,
    },
}

// ---------------------------------------------------------------- app installations

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AppBody<'a> {
    app_installation_id: &'a str,
    name: &'a str,
    created_ms: i64,
}

impl<'a> From<&'a AppInstallation> for AppBody<'a> {
    fn from(app: &'a AppInstallation) -> Self {
        AppBody {
            app_installation_id: &app.id,
            name: &app.name,
            created_ms: app.created_ms,
        }
    }
}

/// `POST /api/account/{accountId}/apps` `{"name"}`.
#[tracing::instrument(skip_all, fields(account = %account_id))]
pub async fn create_app(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    authorized(&state, &account_id, &headers).await?;
    let name = parse_body(&state, &headers, body, |json, problems| {
        object(json, "", &["name"], problems)?.required_string("name", MAX_NAME_CHARS, problems)
    })
    .await?;
    let app = state.store.create_app(&account_id, &name).await?;
    state.decisions.invalidate(&account_id);
    Ok((StatusCode::CREATED, axum::Json(AppBody::from(&app))).into_response())
}

/// `GET /api/account/{accountId}/apps`.
pub async fn list_apps(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorized(&state, &account_id, &headers).await?;
    let apps = state.store.apps(&account_id).await?;
    let apps: Vec<AppBody<'_>> = apps.iter().map(AppBody::from).collect();
    Ok(axum::Json(List::Apps { apps }).into_response())
}

// ---------------------------------------------------------------- campaigns

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CampaignBody<'a> {
    campaign_id: u64,
    name: &'a str,
    goal: Option<&'a str>,
    priority: u32,
    enabled: bool,
    created_ms: i64,
    updated_ms: i64,
}

impl<'a> From<&'a Campaign> for CampaignBody<'a> {
    fn from(c: &'a Campaign) -> Self {
        CampaignBody {
            campaign_id: c.id,
            name: &c.fields.name,
            goal: c.fields.goal.as_deref(),
            priority: c.fields.priority,
            enabled: c.fields.enabled,
            created_ms: c.created_ms,
            updated_ms: c.updated_ms,
        }
    }
}

/// `{"name", "goal"?, "priority"?, "enabled"?}`: what is left out takes its default.
fn campaign_fields(json: Node<'_, '_>, problems: &mut Problems) -> Option<CampaignFields> {
    let members = object(json, "", &["name", "goal", "priority", "enabled"], problems)?;
    let name = members.required_string("name", MAX_NAME_CHARS, problems);
    let goal = members.optional_string("goal", MAX_GOAL_CHARS, problems);
    let priority = members
        .optional_uint("priority", 0..=MAX_PRIORITY, problems)
        .map_or(DEFAULT_PRIORITY, |p| u32::try_from(p).unwrap_or(u32::MAX));
    let enabled = members.optional_bool("enabled", problems).unwrap_or(true);
    Some(CampaignFields {
        name: name?,
        goal,
        priority,
        enabled,
    })
}

/// `POST /api/account/{accountId}/campaigns`.
#[tracing::instrument(skip_all, fields(account = %account_id))]
pub async fn create_campaign(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    authorized(&state, &account_id, &headers).await?;
    let fields = parse_body(&state, &headers, body, campaign_fields).await?;
    let campaign = state.store.create_campaign(&account_id, fields).await?;
    state.decisions.invalidate(&account_id);
    Ok((
        StatusCode::CREATED,
        axum::Json(CampaignBody::from(&campaign)),
    )
        .into_response())
}

/// `GET /api/account/{accountId}/campaigns`: every campaign, disabled ones too.
pub async fn list_campaigns(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorized(&state, &account_id, &headers).await?;
    let campaigns = state.store.campaigns(&account_id).await?;
    let campaigns: Vec<CampaignBody<'_>> = campaigns.iter().map(CampaignBody::from).collect();
    Ok(axum::Json(List::Campaigns { campaigns }).into_response())
}

/// `GET /api/account/{accountId}/campaigns/{campaignId}`.
pub async fn get_campaign(
    State(state): State<AppState>,
    Path((account_id, campaign_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorized(&state, &account_id, &headers).await?;
    let campaign_id = id(&campaign_id, "campaign")?;
    let campaign = state
        .store
        .campaign(&account_id, campaign_id)
        .await?
        .ok_or_else(|| unknown_campaign(campaign_id))?;
    Ok(axum::Json(CampaignBody::from(&campaign)).into_response())
}

/// `PUT /api/account/{accountId}/campaigns/{campaignId}`: replaces the campaign's fields.
#[tracing::instrument(skip_all, fields(account = %account_id, campaign = %campaign_id))]
pub async fn update_campaign(
    State(state): State<AppState>,
    Path((account_id, campaign_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    authorized(&state, &account_id, &headers).await?;
    let campaign_id = id(&campaign_id, "campaign")?;
    let fields = parse_body(&state, &headers, body, campaign_fields).await?;
    let campaign = state
        .store
        .update_campaign(&account_id, campaign_id, fields)
        .await?
        .ok_or_else(|| unknown_campaign(campaign_id))?;
    state.decisions.invalidate(&account_id);
    Ok(axum::Json(CampaignBody::from(&campaign)).into_response())
}

/// `DELETE /api/account/{accountId}/campaigns/{campaignId}`: disables the campaign. It
/// stays readable (history keeps showing its name) and a `PUT` can enable it again.
#[tracing::instrument(skip_all, fields(account = %account_id, campaign = %campaign_id))]
pub async fn delete_campaign(
    State(state): State<AppState>,
    Path((account_id, campaign_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorized(&state, &account_id, &headers).await?;
    let campaign_id = id(&campaign_id, "campaign")?;
    let current = state
        .store
        .campaign(&account_id, campaign_id)
        .await?
        .ok_or_else(|| unknown_campaign(campaign_id))?;
    let fields = CampaignFields {
        enabled: false,
        ..current.fields
    };
    let campaign = state
        .store
        .update_campaign(&account_id, campaign_id, fields)
        .await?
        .ok_or_else(|| unknown_campaign(campaign_id))?;
    state.decisions.invalidate(&account_id);
    Ok(axum::Json(CampaignBody::from(&campaign)).into_response())
}

// ---------------------------------------------------------------- engagements

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EngagementBody<'a> {
    campaign_id: u64,
    engagement_id: u64,
    engagement_revision: u64,
    latest_revision: u64,
    conf_key: String,
    name: &'a str,
    engagement_type: EngagementType,
    tgl_name: &'a str,
    zone_id: Option<u64>,
    timeout_seconds: Option<u32>,
    targeting: &'a RawJson,
    content: ContentBody<'a>,
    hide_when_offline: bool,
    state: AgentState,
    created_ms: i64,
    revised_ms: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ContentBody<'a> {
    title: Option<&'a str>,
    body: Option<&'a str>,
    accept_label: Option<&'a str>,
    close_label: Option<&'a str>,
}

impl<'a> From<&'a Engagement> for EngagementBody<'a> {
    fn from(e: &'a Engagement) -> Self {
        let d = &e.definition;
        EngagementBody {
            campaign_id: e.campaign_id,
            engagement_id: e.id,
            engagement_revision: e.revision,
            latest_revision: e.latest_revision,
            conf_key: e.conf_key().to_string(),
            name: &d.name,
            engagement_type: d.engagement_type,
            tgl_name: &d.tgl_name,
            zone_id: d.zone_id,
            timeout_seconds: d.timeout_seconds,
            targeting: &d.targeting,
            content: ContentBody {
                title: d.content.title.as_deref(),
                body: d.content.body.as_deref(),
                accept_label: d.content.accept_label.as_deref(),
                close_label: d.content.close_label.as_deref(),
            },
            hide_when_offline: d.hide_when_offline,
            state: e.state,
            created_ms: e.created_ms,
            revised_ms: e.revised_ms,
        }
    }
}

const ENGAGEMENT_FIELDS: [&str; 8] = [
    "name",
    "engagementType",
    "tglName",
    "zoneId",
    "timeoutSeconds",
    "targeting",
    "content",
    "hideWhenOffline",
];

fn agent_state(json: Node<'_, '_>, path: &str, problems: &mut Problems) -> Option<AgentState> {
    let found = match json.view() {
        View::Number(n) => n.as_u64().and_then(AgentState::from_code),
        View::String(s) if s.len() == 1 => s.parse().ok().and_then(AgentState::from_code),
        _ => None,
    };
    if found.is_none() {
        problems.add(
            path,
            format!(
                "expected an agent state 1 (online), 2 (offline) or 4 (busy), found {}",
                describe(json)
            ),
        );
    }
    found
}

fn content(json: Node<'_, '_>, path: &str, problems: &mut Problems) -> Option<EngagementContent> {
    let members = object(
        json,
        path,
        &["title", "body", "acceptLabel", "closeLabel"],
        problems,
    )?;
    Some(EngagementContent {
        title: members.optional_string("title", MAX_LABEL_CHARS, problems),
        body: members.optional_string("body", MAX_BODY_CHARS, problems),
        accept_label: members.optional_string("acceptLabel", MAX_LABEL_CHARS, problems),
        close_label: members.optional_string("closeLabel", MAX_LABEL_CHARS, problems),
    })
}

/// An engagement's definition: `name` and `engagementType` are required, the rest has
/// defaults (`tglName` the type's renderer, no zone, no timeout, no targeting, no
/// content, shown when offline).
fn engagement_definition(
    json: Node<'_, '_>,
    problems: &mut Problems,
) -> Option<EngagementDefinition> {
    let members = object(json, "", &ENGAGEMENT_FIELDS, problems)?;
    let name = members.required_string("name", MAX_NAME_CHARS, problems);
    let engagement_type = match members.get("engagementType") {
        None => {
            problems.add(&members.path("engagementType"), "missing");
            None
        }
        Some(v) => engagement_type(v, &members.path("engagementType"), problems),
    };
    let tgl_name = members.optional_string("tglName", MAX_TGL_NAME_CHARS, problems);
    let zone_id = members.optional_uint("zoneId", 0..=u64::MAX, problems);
    let timeout_seconds = members
        .optional_uint("timeoutSeconds", 1..=MAX_TIMEOUT_SECONDS, problems)
        .and_then(|t| u32::try_from(t).ok());
    let targeting = match members.get("targeting") {
        None => Some(Targeting::default()),
        Some(t) => Targeting::parse(t, &members.path("targeting"), problems),
    };
    let content = match members.get("content") {
        None => Some(EngagementContent::default()),
        Some(c) => content(c, &members.path("content"), problems),
    };
    let hide_when_offline = members
        .optional_bool("hideWhenOffline", problems)
        .unwrap_or(false);
    let engagement_type = engagement_type?;
    Some(EngagementDefinition {
        name: name?,
        engagement_type,
        tgl_name: tgl_name.unwrap_or_else(|| engagement_type.default_tgl_name().to_owned()),
        zone_id,
        timeout_seconds,
        targeting: targeting?.to_stored(),
        content: content?,
        hide_when_offline,
    })
}

/// `POST /api/account/{accountId}/campaigns/{campaignId}/engagements`: revision 1, online.
#[tracing::instrument(skip_all, fields(account = %account_id, campaign = %campaign_id))]
pub async fn create_engagement(
    State(state): State<AppState>,
    Path((account_id, campaign_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    authorized(&state, &account_id, &headers).await?;
    let campaign_id = id(&campaign_id, "campaign")?;
    let definition = parse_body(&state, &headers, body, engagement_definition).await?;
    let engagement = state
        .store
        .create_engagement(&account_id, campaign_id, definition, AgentState::Online)
        .await?
        .ok_or_else(|| unknown_campaign(campaign_id))?;
    state.decisions.invalidate(&account_id);
    Ok((
        StatusCode::CREATED,
        axum::Json(EngagementBody::from(&engagement)),
    )
        .into_response())
}

/// `GET /api/account/{accountId}/campaigns/{campaignId}/engagements`: latest revisions.
pub async fn list_engagements(
    State(state): State<AppState>,
    Path((account_id, campaign_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorized(&state, &account_id, &headers).await?;
    let campaign_id = id(&campaign_id, "campaign")?;
    if state
        .store
        .campaign(&account_id, campaign_id)
        .await?
        .is_none()
    {
        return Err(unknown_campaign(campaign_id));
    }
    let engagements = state
        .store
        .engagements(&account_id, Some(campaign_id))
        .await?;
    let engagements: Vec<EngagementBody<'_>> =
        engagements.iter().map(EngagementBody::from).collect();
    Ok(axum::Json(List::Engagements { engagements }).into_response())
}

/// `GET /api/account/{accountId}/campaigns/{campaignId}/engagements/{engagementId}?revision=N`.
pub async fn get_engagement(
    State(state): State<AppState>,
    Path((account_id, campaign_id, engagement_id)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorized(&state, &account_id, &headers).await?;
    let campaign_id = id(&campaign_id, "campaign")?;
    let engagement_id = id(&engagement_id, "engagement")?;
    let revision = match query.get("revision") {
        None => None,
        Some(text) => match text.parse::<u64>() {
            Ok(n) if n >= 1 => Some(n),
            _ => {
                return Err(ApiError::invalid_field(
                    "/revision",
                    format!("expected a revision number 1 or more, found `{text}`"),
                ))
            }
        },
    };
    let engagement = state
        .store
        .engagement(&account_id, campaign_id, engagement_id, revision)
        .await?;
    match (engagement, revision) {
        (Some(e), _) => Ok(axum::Json(EngagementBody::from(&e)).into_response()),
        (None, Some(r))
            if state
                .store
                .engagement(&account_id, campaign_id, engagement_id, None)
                .await?
                .is_some() =>
        {
            Err(ApiError::UnknownResource(format!(
                "engagement `{engagement_id}` has no revision {r}"
            )))
        }
        (None, _) => Err(unknown_engagement(campaign_id, engagement_id)),
    }
}

/// `PUT /api/account/{accountId}/campaigns/{campaignId}/engagements/{engagementId}`: a new
/// definition, so a new revision (and conf key).
#[tracing::instrument(skip_all, fields(account = %account_id, engagement = %engagement_id))]
pub async fn update_engagement(
    State(state): State<AppState>,
    Path((account_id, campaign_id, engagement_id)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    authorized(&state, &account_id, &headers).await?;
    let campaign_id = id(&campaign_id, "campaign")?;
    let engagement_id = id(&engagement_id, "engagement")?;
    let definition = parse_body(&state, &headers, body, engagement_definition).await?;
    let engagement = state
        .store
        .revise_engagement(&account_id, campaign_id, engagement_id, definition)
        .await?
        .ok_or_else(|| unknown_engagement(campaign_id, engagement_id))?;
    state.decisions.invalidate(&account_id);
    Ok(axum::Json(EngagementBody::from(&engagement)).into_response())
}

/// `PUT .../engagements/{engagementId}/availability` `{"state": 1|2|4}`: the agent state
/// the engagement shows; not part of the definition, so the revision stays.
#[tracing::instrument(skip_all, fields(account = %account_id, engagement = %engagement_id))]
pub async fn set_availability(
    State(state): State<AppState>,
    Path((account_id, campaign_id, engagement_id)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    authorized(&state, &account_id, &headers).await?;
    let campaign_id = id(&campaign_id, "campaign")?;
    let engagement_id = id(&engagement_id, "engagement")?;
    let agent_state = parse_body(&state, &headers, body, |json, problems| {
        let members = object(json, "", &["state"], problems)?;
        match members.get("state") {
            None => {
                problems.add(&members.path("state"), "missing");
                None
            }
            Some(v) => agent_state(v, &members.path("state"), problems),
        }
    })
    .await?;
    let engagement = state
        .store
        .set_engagement_state(&account_id, campaign_id, engagement_id, agent_state)
        .await?
        .ok_or_else(|| unknown_engagement(campaign_id, engagement_id))?;
    state.decisions.invalidate(&account_id);
    Ok(axum::Json(EngagementBody::from(&engagement)).into_response())
}
