//! The admin API (Bearer key): app installations, campaigns, engagements and their
//! availability. Every write drops the account's decision snapshot once it committed, so
//! the next decision sees it.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use engage_model::{AgentState, EngagementType};
use engage_store::{AppInstallation, Campaign, CampaignFields, Engagement, RawJson};
use serde::Serialize;
use utoipa::ToSchema;

use crate::body::read_json;
use crate::decision::targeting::check_account_regex_weight;
use crate::decision::Targeting;
use crate::error::ApiError;
use crate::extract::AuthorizedAccount;
use crate::request::admin::{
    AppNameBody, AvailabilityBody, CampaignFieldsBody, EngagementDefinitionBody,
};
use crate::AppState;
use schema::{
    AccountPath, BodyErrors, CampaignPath, EngagementPath, KeyErrors, ParamErrors, RevisionQuery,
};

/// The path parameters and errors the admin routes' description shares.
pub(crate) mod schema;

/// 400 at the regular expression that takes the account's total over
/// `MAX_ACCOUNT_REGEX_WEIGHT`: every decision evaluates the account's URL regexes together,
/// so their sum bounds its CPU time. `replacing` is the engagement a revision replaces
/// (its latest revision no longer counts).
async fn check_regex_budget(
    state: &AppState,
    account_id: &str,
    replacing: Option<(u64, u64)>,
    targeting: &RawJson,
) -> Result<(), ApiError> {
    let engagements = state.store.engagements(account_id, None).await?;
    let targeting = targeting.clone();
    // Weighing means compiling every regex of the account: CPU work, off the workers.
    let checked = tokio::task::spawn_blocking(move || {
        let others: usize = engagements
            .iter()
            .filter(|e| replacing != Some((e.campaign_id, e.id)))
            .filter_map(|e| Targeting::from_stored(&e.definition.targeting).ok())
            .flat_map(|t| t.regex_weights(""))
            .map(|(_, weight)| weight)
            .sum();
        let new = Targeting::from_stored(&targeting)
            .map(|t| t.regex_weights("/targeting"))
            .unwrap_or_default();
        check_account_regex_weight(others, &new)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("weighing regular expressions: {e}")))?;
    checked.map_err(|(at, message)| ApiError::invalid_field(&at, message))
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

/// `{"apps": [...]}`, each as `POST .../apps` answers it.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AppList<'a> {
    apps: Vec<AppBody<'a>>,
}

/// `{"campaigns": [...]}`, each as `GET .../campaigns/{campaign_id}` answers it.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CampaignList<'a> {
    campaigns: Vec<CampaignBody<'a>>,
}

/// `{"engagements": [...]}`: the latest revision of each, as `GET
/// .../engagements/{engagement_id}` answers it.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct EngagementList<'a> {
    engagements: Vec<EngagementBody<'a>>,
}

// ---------------------------------------------------------------- app installations

/// An app installation.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"appInstallationId": "fbc9b6ca-b59c-4ccf-b00f-ed4b36b2486e", "name": "Android app", "createdMs": 1795281596719_i64}))]
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
#[utoipa::path(
    post,
    path = "/api/account/{account_id}/apps",
    tag = "Campaigns",
    operation_id = "createApp",
    params(AccountPath),
    request_body(content = crate::request::admin::schema::AppRequest, content_type = "application/json"),
    security(("bearer" = []), ("oauth1" = [])),
    responses(
        (status = 201, description = "The app installation, with the id the Monitoring API takes", body = AppBody),
        BodyErrors,
        KeyErrors,
    )
)]
pub async fn create_app(
    State(state): State<AppState>,
    _: AuthorizedAccount,
    Path(account_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let AppNameBody { name } =
        read_json(&headers, body, &state.limits, "request", AppNameBody::read).await?;
    let app = state.store.create_app(&account_id, &name).await?;
    state.decisions.invalidate(&account_id);
    Ok((StatusCode::CREATED, axum::Json(AppBody::from(&app))).into_response())
}

/// `GET /api/account/{accountId}/apps`.
#[utoipa::path(
    get,
    path = "/api/account/{account_id}/apps",
    tag = "Campaigns",
    operation_id = "listApps",
    params(AccountPath),
    security(("bearer" = []), ("oauth1" = [])),
    responses(
        (status = 200, description = "Every app installation of the account", body = AppList),
        KeyErrors,
    )
)]
pub async fn list_apps(
    State(state): State<AppState>,
    _: AuthorizedAccount,
    Path(account_id): Path<String>,
) -> Result<Response, ApiError> {
    let apps = state.store.apps(&account_id).await?;
    let apps: Vec<AppBody<'_>> = apps.iter().map(AppBody::from).collect();
    Ok(axum::Json(AppList { apps }).into_response())
}

// ---------------------------------------------------------------- campaigns

/// A campaign.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"campaignId": 802034605, "name": "Spring sale", "goal": "Increase sales", "priority": 10, "enabled": true, "controlGroupPercent": 0, "attributionWindowDays": 7, "createdMs": 1795281596760_i64, "updatedMs": 1795281596760_i64}))]
struct CampaignBody<'a> {
    campaign_id: u64,
    name: &'a str,
    #[schema(required = true)]
    goal: Option<&'a str>,
    priority: u32,
    enabled: bool,
    control_group_percent: u8,
    attribution_window_days: u8,
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
            control_group_percent: c.fields.control_group_percent,
            attribution_window_days: c.fields.attribution_window_days,
            created_ms: c.created_ms,
            updated_ms: c.updated_ms,
        }
    }
}

/// `POST /api/account/{accountId}/campaigns`.
#[tracing::instrument(skip_all, fields(account = %account_id))]
#[utoipa::path(
    post,
    path = "/api/account/{account_id}/campaigns",
    tag = "Campaigns",
    operation_id = "createCampaign",
    params(AccountPath),
    request_body(content = crate::request::admin::schema::CampaignRequest, content_type = "application/json"),
    security(("bearer" = []), ("oauth1" = [])),
    responses(
        (status = 201, description = "The campaign", body = CampaignBody),
        BodyErrors,
        KeyErrors,
    )
)]
pub async fn create_campaign(
    State(state): State<AppState>,
    _: AuthorizedAccount,
    Path(account_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let CampaignFieldsBody(fields) = read_json(
        &headers,
        body,
        &state.limits,
        "request",
        CampaignFieldsBody::read,
    )
    .await?;
    let campaign = state.store.create_campaign(&account_id, fields).await?;
    state.decisions.invalidate(&account_id);
    Ok((
        StatusCode::CREATED,
        axum::Json(CampaignBody::from(&campaign)),
    )
        .into_response())
}

/// `GET /api/account/{accountId}/campaigns`: every campaign, disabled ones too.
#[utoipa::path(
    get,
    path = "/api/account/{account_id}/campaigns",
    tag = "Campaigns",
    operation_id = "listCampaigns",
    params(AccountPath),
    security(("bearer" = []), ("oauth1" = [])),
    responses(
        (status = 200, description = "Every campaign, disabled ones too, by id", body = CampaignList),
        KeyErrors,
    )
)]
pub async fn list_campaigns(
    State(state): State<AppState>,
    _: AuthorizedAccount,
    Path(account_id): Path<String>,
) -> Result<Response, ApiError> {
    let campaigns = state.store.campaigns(&account_id).await?;
    let campaigns: Vec<CampaignBody<'_>> = campaigns.iter().map(CampaignBody::from).collect();
    Ok(axum::Json(CampaignList { campaigns }).into_response())
}

/// `GET /api/account/{accountId}/campaigns/{campaignId}`.
#[utoipa::path(
    get,
    path = "/api/account/{account_id}/campaigns/{campaign_id}",
    tag = "Campaigns",
    operation_id = "getCampaign",
    params(CampaignPath),
    security(("bearer" = []), ("oauth1" = [])),
    responses(
        (status = 200, description = "The campaign", body = CampaignBody),
        KeyErrors,
    )
)]
pub async fn get_campaign(
    State(state): State<AppState>,
    _: AuthorizedAccount,
    Path((account_id, campaign_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
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
#[utoipa::path(
    put,
    path = "/api/account/{account_id}/campaigns/{campaign_id}",
    tag = "Campaigns",
    operation_id = "updateCampaign",
    params(CampaignPath),
    request_body(content = crate::request::admin::schema::CampaignRequest, content_type = "application/json"),
    security(("bearer" = []), ("oauth1" = [])),
    responses(
        (status = 200, description = "The campaign with its new fields", body = CampaignBody),
        BodyErrors,
        KeyErrors,
    )
)]
pub async fn update_campaign(
    State(state): State<AppState>,
    _: AuthorizedAccount,
    Path((account_id, campaign_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let campaign_id = id(&campaign_id, "campaign")?;
    let CampaignFieldsBody(fields) = read_json(
        &headers,
        body,
        &state.limits,
        "request",
        CampaignFieldsBody::read,
    )
    .await?;
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
#[utoipa::path(
    delete,
    path = "/api/account/{account_id}/campaigns/{campaign_id}",
    tag = "Campaigns",
    operation_id = "disableCampaign",
    params(CampaignPath),
    security(("bearer" = []), ("oauth1" = [])),
    responses(
        (status = 200, description = "The campaign, disabled (it stays readable)", body = CampaignBody),
        KeyErrors,
    )
)]
pub async fn delete_campaign(
    State(state): State<AppState>,
    _: AuthorizedAccount,
    Path((account_id, campaign_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
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

/// One revision of an engagement, with the state it shows now.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"campaignId": 802034605, "engagementId": 449374570, "engagementRevision": 1, "latestRevision": 1, "confKey": "802034605_449374570_1", "name": "Slide-out chat button", "engagementType": 3, "tglName": "slider", "zoneId": 471288710, "timeoutSeconds": 30, "targeting": {"frequency": {"maxImpressions": 3}, "sdes": [{"op": "gt", "path": "cartStatus.total", "value": 100}], "sections": {"include": ["cart", "checkout"]}, "url": {"exclude": [{"contains": "preview=1"}]}}, "content": {"title": "Questions about your order?", "body": null, "acceptLabel": "Chat now", "closeLabel": "No thanks"}, "hideWhenOffline": true, "state": 1, "createdMs": 1795281599184_i64, "revisedMs": 1795281599184_i64}))]
struct EngagementBody<'a> {
    campaign_id: u64,
    engagement_id: u64,
    engagement_revision: u64,
    latest_revision: u64,
    /// `<campaignId>_<engagementId>_<engagementRevision>`.
    conf_key: String,
    name: &'a str,
    #[schema(schema_with = schema::engagement_type)]
    engagement_type: EngagementType,
    tgl_name: &'a str,
    #[schema(required = true)]
    zone_id: Option<u64>,
    #[schema(required = true)]
    timeout_seconds: Option<u32>,
    /// The rules as stored: the members given, in canonical form.
    #[schema(value_type = crate::request::admin::schema::TargetingRequest)]
    targeting: &'a RawJson,
    content: ContentBody<'a>,
    hide_when_offline: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::request::admin::schema::ActionRequest>)]
    action: Option<&'a RawJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    weight: Option<u32>,
    /// 1 online, 2 offline, 4 busy.
    #[schema(schema_with = schema::agent_state)]
    state: AgentState,
    created_ms: i64,
    revised_ms: i64,
}

/// What the engagement shows: each null when not given.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ContentBody<'a> {
    #[schema(required = true)]
    title: Option<&'a str>,
    #[schema(required = true)]
    body: Option<&'a str>,
    #[schema(required = true)]
    accept_label: Option<&'a str>,
    #[schema(required = true)]
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
            action: d.action.as_ref(),
            weight: d.weight,
            state: e.state,
            created_ms: e.created_ms,
            revised_ms: e.revised_ms,
        }
    }
}

/// `POST /api/account/{accountId}/campaigns/{campaignId}/engagements`: revision 1, online.
#[tracing::instrument(skip_all, fields(account = %account_id, campaign = %campaign_id))]
#[utoipa::path(
    post,
    path = "/api/account/{account_id}/campaigns/{campaign_id}/engagements",
    tag = "Campaigns",
    operation_id = "createEngagement",
    params(CampaignPath),
    request_body(content = crate::request::admin::schema::EngagementRequest, content_type = "application/json"),
    security(("bearer" = []), ("oauth1" = [])),
    responses(
        (status = 201, description = "Revision 1 of the engagement, online", body = EngagementBody),
        BodyErrors,
        KeyErrors,
    )
)]
pub async fn create_engagement(
    State(state): State<AppState>,
    _: AuthorizedAccount,
    Path((account_id, campaign_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let campaign_id = id(&campaign_id, "campaign")?;
    let EngagementDefinitionBody(definition) = read_json(
        &headers,
        body,
        &state.limits,
        "request",
        EngagementDefinitionBody::read,
    )
    .await?;
    check_regex_budget(&state, &account_id, None, &definition.targeting).await?;
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
#[utoipa::path(
    get,
    path = "/api/account/{account_id}/campaigns/{campaign_id}/engagements",
    tag = "Campaigns",
    operation_id = "listEngagements",
    params(CampaignPath),
    security(("bearer" = []), ("oauth1" = [])),
    responses(
        (status = 200, description = "The latest revision of each engagement of the campaign", body = EngagementList),
        KeyErrors,
    )
)]
pub async fn list_engagements(
    State(state): State<AppState>,
    _: AuthorizedAccount,
    Path((account_id, campaign_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
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
    Ok(axum::Json(EngagementList { engagements }).into_response())
}

/// `GET /api/account/{accountId}/campaigns/{campaignId}/engagements/{engagementId}?revision=N`.
#[utoipa::path(
    get,
    path = "/api/account/{account_id}/campaigns/{campaign_id}/engagements/{engagement_id}",
    tag = "Campaigns",
    operation_id = "getEngagement",
    params(EngagementPath, RevisionQuery),
    security(("bearer" = []), ("oauth1" = [])),
    responses(
        (status = 200, description = "The revision asked for, or the latest", body = EngagementBody),
        ParamErrors,
        KeyErrors,
    )
)]
pub async fn get_engagement(
    State(state): State<AppState>,
    _: AuthorizedAccount,
    Path((account_id, campaign_id, engagement_id)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
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
#[utoipa::path(
    put,
    path = "/api/account/{account_id}/campaigns/{campaign_id}/engagements/{engagement_id}",
    tag = "Campaigns",
    operation_id = "reviseEngagement",
    params(EngagementPath),
    request_body(content = crate::request::admin::schema::EngagementRequest, content_type = "application/json"),
    security(("bearer" = []), ("oauth1" = [])),
    responses(
        (status = 200, description = "The engagement's next revision (a new conf key)", body = EngagementBody),
        BodyErrors,
        KeyErrors,
    )
)]
pub async fn update_engagement(
    State(state): State<AppState>,
    _: AuthorizedAccount,
    Path((account_id, campaign_id, engagement_id)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let campaign_id = id(&campaign_id, "campaign")?;
    let engagement_id = id(&engagement_id, "engagement")?;
    let EngagementDefinitionBody(definition) = read_json(
        &headers,
        body,
        &state.limits,
        "request",
        EngagementDefinitionBody::read,
    )
    .await?;
    check_regex_budget(
        &state,
        &account_id,
        Some((campaign_id, engagement_id)),
        &definition.targeting,
    )
    .await?;
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
#[utoipa::path(
    put,
    path = "/api/account/{account_id}/campaigns/{campaign_id}/engagements/{engagement_id}/availability",
    tag = "Campaigns",
    operation_id = "setAvailability",
    params(EngagementPath),
    request_body(content = crate::request::admin::schema::AvailabilityRequest, content_type = "application/json"),
    security(("bearer" = []), ("oauth1" = [])),
    responses(
        (status = 200, description = "The engagement with its new state (same revision)", body = EngagementBody),
        BodyErrors,
        KeyErrors,
    )
)]
pub async fn set_availability(
    State(state): State<AppState>,
    _: AuthorizedAccount,
    Path((account_id, campaign_id, engagement_id)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let campaign_id = id(&campaign_id, "campaign")?;
    let engagement_id = id(&engagement_id, "engagement")?;
    let AvailabilityBody { state: agent_state } = read_json(
        &headers,
        body,
        &state.limits,
        "request",
        AvailabilityBody::read,
    )
    .await?;
    let engagement = state
        .store
        .set_engagement_state(&account_id, campaign_id, engagement_id, agent_state)
        .await?
        .ok_or_else(|| unknown_engagement(campaign_id, engagement_id))?;
    state.decisions.invalidate(&account_id);
    Ok(axum::Json(EngagementBody::from(&engagement)).into_response())
}
