//! The Monitoring API (docs/vocabulary.md, Monitoring API): `engagement` and `report`
//! for apps and servers that have no web tag. Same store and validation as the collect
//! endpoint; errors keep the API's documented body `{time, message, internalCode}`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use engage_model::{Invalid, Node, Tape};
use engage_store::ids::{new_id, now_ms};
use engage_store::{Exposure, IngestBatch, NewEvent, PageView, SessionLookup, VisitContext};
use serde::Serialize;

use super::collect::quarantine_body;
use crate::body::{read_body, Accept};
use crate::decision::AccountSnapshot;
use crate::error::ApiError;
use crate::rate_limit::{charge_items, Charged};
use crate::request::collect::{StoredContext, MAX_ID_CHARS};
use crate::request::monitoring::{named_identity, Call, MonitoringBody};
use crate::AppState;

/// A Monitoring API error: `{time, message, internalCode}` with its status.
#[derive(Debug)]
pub struct MonitoringError {
    status: StatusCode,
    internal_code: u16,
    message: String,
    /// `Retry-After` seconds, for a 503 or 429.
    retry_after: Option<axum::http::HeaderValue>,
}

impl MonitoringError {
    fn new(status: StatusCode, internal_code: u16, message: impl Into<String>) -> Self {
        MonitoringError {
            status,
            internal_code,
            message: message.into(),
            retry_after: None,
        }
    }

    fn invalid(message: impl Into<String>) -> Self {
        MonitoringError::new(StatusCode::BAD_REQUEST, 5, message)
    }
}

impl From<ApiError> for MonitoringError {
    fn from(error: ApiError) -> Self {
        let status = error.status();
        let internal_code = match &error {
            ApiError::UnknownAccount(_) | ApiError::NotFound => 18,
            // Not the caller's data at fault: the server's side, as internal errors.
            ApiError::StorageUnavailable | ApiError::Unavailable => 18,
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                18
            }
            _ => 5,
        };
        let message = match &error {
            ApiError::Internal(_) => "internal error".to_owned(),
            other => other.to_string(),
        };
        let mut monitoring = MonitoringError::new(status, internal_code, message);
        monitoring.retry_after = error.retry_after();
        monitoring
    }
}

impl From<engage_store::StoreError> for MonitoringError {
    fn from(error: engage_store::StoreError) -> Self {
        MonitoringError::from(ApiError::from(error))
    }
}

/// A Monitoring API error's body, as LivePerson documents it: 400/33 illegal version,
/// 400/5 invalid or missing data, 404/37 unknown visitor, 404/39 unknown session, 404/18
/// unknown account or app installation, 403/5 an origin the account does not allow,
/// 429/5 over a rate limit, 500/18 internal, 503/5 or 503/18 busy or unable to write.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"time": 1_795_281_605_983_u64, "message": "unknown app installation `android-app`", "internalCode": 18}))]
pub(crate) struct MonitoringErrorBody {
    /// When, in epoch milliseconds.
    time: i64,
    message: String,
    internal_code: u16,
}

impl IntoResponse for MonitoringError {
    fn into_response(self) -> Response {
        let body = MonitoringErrorBody {
            time: now_ms(),
            message: self.message,
            internal_code: self.internal_code,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(value) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, value);
        }
        response
    }
}

/// The visit a call was recorded in; `engagementDetails` only from `engagement`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"sessionId": "01a1fed14ced74ad8c0c86d46ea4d7d3", "visitorId": "01a1fed14ced74ad8c0c86d360bbfb21", "pageId": "01a1fed14ced74ad8c0c86d5a180a8c9"}))]
pub(crate) struct VisitIds {
    session_id: String,
    visitor_id: String,
    page_id: String,
    /// What the `engagement` call found eligible; left out when nothing is.
    #[serde(skip_serializing_if = "Option::is_none")]
    engagement_details: Option<Vec<EngagementDetail>>,
}

/// One eligible engagement in the `engagement` call's answer (docs/api.md, Monitoring
/// API).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EngagementDetail {
    campaign_id: u64,
    engagement_id: u64,
    engagement_revision: u64,
    context_id: String,
    /// Engage has no connectors: always [`NO_CONNECTOR`].
    connector_id: i64,
    /// The call's `lang://` entry point, or `"NA"` as LivePerson writes "none".
    language: String,
    /// Always `expose`.
    status: &'static str,
}

/// The `connectorId` of every exposure: LivePerson's "none" for an id.
const NO_CONNECTOR: i64 = -1;

/// What [`record_call`] stored and answers.
struct Recorded {
    status: StatusCode,
    ids: VisitIds,
    /// The page the call's entry points describe.
    page: Option<PageView>,
    /// The language its `lang://` entry point names.
    language: Option<String>,
}

/// 404/18 unless the account registered the app installation (`POST .../apps`).
async fn require_app(
    state: &AppState,
    account_id: &str,
    app_id: &str,
) -> Result<Arc<AccountSnapshot>, MonitoringError> {
    let snapshot = state
        .decisions
        .snapshot(state.store.as_ref(), account_id)
        .await?;
    if snapshot.has_app(app_id) {
        Ok(snapshot)
    } else {
        Err(MonitoringError::new(
            StatusCode::NOT_FOUND,
            18,
            format!("unknown app installation `{app_id}`"),
        ))
    }
}

fn check_version(query: &HashMap<String, String>) -> Result<(), MonitoringError> {
    match query.get("v").map(String::as_str) {
        Some("1.0" | "1.1") => Ok(()),
        Some(other) => Err(MonitoringError::new(
            StatusCode::BAD_REQUEST,
            33,
            format!("illegal version `{other}`: use v=1.0 or v=1.1"),
        )),
        None => Err(MonitoringError::new(
            StatusCode::BAD_REQUEST,
            33,
            "missing version: add v=1.1 to the query",
        )),
    }
}

fn query_id(
    query: &HashMap<String, String>,
    name: &str,
) -> Result<Option<String>, MonitoringError> {
    match query.get(name).map(|v| v.trim()) {
        None | Some("") => Ok(None),
        Some(v) if v.chars().count() <= MAX_ID_CHARS => Ok(Some(v.to_owned())),
        Some(_) => Err(MonitoringError::invalid(format!(
            "`{name}` is longer than {MAX_ID_CHARS} characters"
        ))),
    }
}

/// What every Monitoring API call needs before its body is read, checked in this order:
/// the API version (`v=1.0` or `v=1.1`, else 400/33), the account (404/18) and the app
/// installation the account registered (404/18).
pub struct MonitoringApp {
    account_id: String,
    app_id: String,
    /// The account's decision snapshot, which knows its app installations.
    snapshot: Arc<AccountSnapshot>,
    query: HashMap<String, String>,
    /// The rate-limit buckets the call was counted in.
    charged: Option<Charged>,
}

impl FromRequestParts<AppState> for MonitoringApp {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Path((account_id, app_id)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let Query(query) = Query::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let snapshot = async {
            check_version(&query)?;
            let account = state
                .accounts
                .get(state.store.as_ref(), &account_id)
                .await?;
            // The account's allowed origins hold here as on the tag's routes: apps and
            // servers send no `Origin`, but a page can call this API too (a body
            // without a content type is a simple request, sent cross-origin without a
            // preflight), and it must not write into an account that did not list it.
            crate::extract::allowed_origin(&parts.headers, &account)?;
            require_app(state, &account_id, &app_id).await
        }
        .await
        .map_err(IntoResponse::into_response)?;
        Ok(MonitoringApp {
            account_id,
            app_id,
            snapshot,
            query,
            charged: parts.extensions.get().cloned(),
        })
    }
}

/// `X-HTTP-Method-Override: PUT` on a `POST`, for clients that cannot send `PUT`;
/// 405/5 without it.
pub struct PutOverride;

impl<S: Sync> FromRequestParts<S> for PutOverride {
    type Rejection = MonitoringError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, MonitoringError> {
        let overridden = parts
            .headers
            .get("x-http-method-override")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("PUT"));
        if overridden {
            Ok(PutOverride)
        } else {
            Err(MonitoringError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                5,
                "report is a PUT; a POST needs `X-HTTP-Method-Override: PUT`",
            ))
        }
    }
}

/// `POST /api/account/{accountId}/app/{appInstallationId}/engagement?v=&vid=&sid=`.
///
/// Records the app's visit and attributes, then decides its engagements as for a page
/// view (the entry points' URL and sections, the visit's attributes).
#[utoipa::path(post, path = "/api/account/{account_id}/app/{app_id}/engagement", summary = "An app's visit, and its engagements", tag = "Monitoring API", operation_id = "monitoring_engagement",
    params(
        ("account_id" = String, Path, description = "The account."),
        ("app_id" = String, Path, description = "An app installation of the account (`POST /api/account/{accountId}/apps`)."),
        ("v" = String, Query, description = "The API version: `1.0` or `1.1` (else 400/33).", example = "1.1"),
        ("vid" = Option<String>, Query, description = "The visitor (at most 128 characters): unknown is 404/37."),
        ("sid" = Option<String>, Query, description = "The visitor's session (needs `vid`): unknown is 404/39."),
        ("Origin" = Option<String>, Header, description = "A page's origin: one the account does not allow is 403/5.")),
    request_body(content = crate::openapi::bodies::EngagementCall, content_type = "application/json"),
    responses(
        (status = 200, description = "Recorded in the existing visit (`vid` and `sid`); the eligible engagements in `engagementDetails`.", body = VisitIds),
        (status = 201, description = "Recorded in a new session; the eligible engagements in `engagementDetails`.", body = VisitIds,
         example = json!({"sessionId": "01a1ff1f554e705b94a290aa1336c7b2", "visitorId": "01a1ff1f554e705b94a290a9904bbb7e", "pageId": "01a1ff1f554f75a2aa168274e263c4a6",
             "engagementDetails": [{"campaignId": 513_998_792, "engagementId": 522_596_859, "engagementRevision": 1, "contextId": "01a1ff1f55517002ae0251c21eb9025d", "connectorId": -1, "language": "en-US", "status": "expose"}]})),
        (status = 400, description = "Illegal version (33), or invalid or missing data (5): nothing is stored, an invalid body is quarantined.", body = MonitoringErrorBody,
         example = json!({"time": 1_795_276_492_992_u64, "message": "illegal version `2`: use v=1.0 or v=1.1", "internalCode": 33})),
        (status = 403, description = "A page on an origin the account does not allow (5).", body = MonitoringErrorBody),
        (status = 404, description = "Unknown account or app installation (18), visitor (37) or session (39).", body = MonitoringErrorBody,
         example = json!({"time": 1_795_281_605_983_u64, "message": "unknown app installation `android-app`", "internalCode": 18})),
        (status = 408, description = "The body did not arrive in time (5).", body = MonitoringErrorBody),
        (status = 409, description = "The session was taken by another visitor meanwhile (5).", body = MonitoringErrorBody),
        (status = 413, description = "Over the body size or the item limit (5).", body = MonitoringErrorBody),
        (status = 415, description = "Not JSON, or not gzip (5).", body = MonitoringErrorBody),
        (status = 429, description = "Over a rate limit (5, `Retry-After`).", body = MonitoringErrorBody),
        (status = 503, description = "No decision slot free (5), or the store cannot write or the server shuts down (18; `Retry-After`).", body = MonitoringErrorBody)))]
#[tracing::instrument(skip_all, fields(account = %call.account_id, app = %call.app_id))]
pub async fn engagement(
    State(state): State<AppState>,
    call: MonitoringApp,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, MonitoringError> {
    let MonitoringApp {
        account_id,
        app_id,
        snapshot,
        query,
        charged,
    } = call;
    let bytes = read_body(&headers, body, &state.limits, Accept::Json).await?;
    let identity = Tape::parse(&bytes)
        .ok()
        .and_then(|tape| named_identity(tape.root()));
    let (visitor_id, session_id) =
        resolve_visit(&state, &account_id, &query, identity.as_deref()).await?;
    let visit = VisitContext {
        visitor_id,
        session_id,
        page_id: new_id(),
        page: None,
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        client: None,
    };
    let Recorded {
        status,
        mut ids,
        page,
        language,
    } = record_call(
        &state,
        &account_id,
        &app_id,
        Call::Engagement,
        &bytes,
        visit,
        charged.as_ref(),
    )
    .await?;
    link_identity(&state, &account_id, identity.as_deref(), &ids).await?;
    ids.engagement_details = engagement_details(
        &state,
        &snapshot,
        &account_id,
        &ids,
        page.as_ref(),
        language.as_deref(),
    )
    .await?;
    // Remembered so that the session's impressions can name these contexts (and only
    // these: report.md, Limitations).
    if let Some(details) = &ids.engagement_details {
        let exposures: Vec<Exposure> = details
            .iter()
            .map(|d| Exposure {
                context_id: d.context_id.clone(),
                campaign_id: d.campaign_id,
                engagement_id: d.engagement_id,
            })
            .collect();
        state
            .store
            .record_exposures(&account_id, &ids.session_id, &exposures)
            .await?;
    }
    Ok((status, axum::Json(ids)).into_response())
}

/// The decision for the app's visit: its entry points as the page (the `http(s)` one as
/// the URL, the `sec://` ones as sections), its stored attributes (this call's included,
/// they were just stored); `None` when nothing is eligible. Nothing is recorded: the app
/// reports impressions itself.
async fn engagement_details(
    state: &AppState,
    snapshot: &Arc<AccountSnapshot>,
    account_id: &str,
    ids: &VisitIds,
    page: Option<&PageView>,
    language: Option<&str>,
) -> Result<Option<Vec<EngagementDetail>>, MonitoringError> {
    if snapshot.is_empty() {
        return Ok(None);
    }
    let sdes = if snapshot.needs_sdes() {
        super::decision::visit_sdes(state, account_id, &ids.visitor_id, &ids.session_id).await?
    } else {
        engage_model::VisitSdes::default()
    };
    let impressions =
        super::decision::impressions(state, snapshot, account_id, &ids.visitor_id).await?;
    let recent = super::decision::recent_shows(
        state,
        snapshot,
        account_id,
        &ids.visitor_id,
        &ids.session_id,
    )
    .await?;
    let url = page.and_then(|p| p.url.clone()).unwrap_or_default();
    let language = language.unwrap_or("NA").to_owned();
    let sections = page.map(|p| p.sections.clone()).unwrap_or_default();
    let snapshot = Arc::clone(snapshot);
    let (account, visitor) = (account_id.to_owned(), ids.visitor_id.clone());
    let (details, eligibility): (Vec<EngagementDetail>, _) = state
        .decision_pool
        .run(move || {
            let page = crate::decision::PageView {
                url: &url,
                sections: &sections,
                sdes: &sdes,
                impressions: &impressions,
                recent: &recent,
            };
            let audience = crate::decision::Audience {
                account_id: &account,
                visitor_id: &visitor,
            };
            let (shown, eligibility) =
                snapshot.show_for(&page, audience, engage_store::ids::now_ms());
            let details = shown
                .into_iter()
                .map(|shown| EngagementDetail {
                    campaign_id: shown.offer.campaign_id,
                    engagement_id: shown.offer.engagement_id,
                    engagement_revision: shown.offer.engagement_revision,
                    context_id: shown.context_id,
                    connector_id: NO_CONNECTOR,
                    language: language.clone(),
                    status: "expose",
                })
                .collect();
            (details, eligibility)
        })
        .await?;
    super::decision::record_eligibility(state, account_id, eligibility).await?;
    Ok((!details.is_empty()).then_some(details))
}

/// `PUT /api/account/{accountId}/app/{appInstallationId}/report?v=&vid=&sid=`.
///
/// Records the app's attributes and impressions (`LP_OFFERS` events of the contexts an
/// `engagement` call exposed to the session). A first report names `consumerId` or
/// `identities`.
#[utoipa::path(put, path = "/api/account/{account_id}/app/{app_id}/report", summary = "An app's attributes and impressions", tag = "Monitoring API", operation_id = "monitoring_report",
    params(
        ("account_id" = String, Path, description = "The account."),
        ("app_id" = String, Path, description = "An app installation of the account (`POST /api/account/{accountId}/apps`)."),
        ("v" = String, Query, description = "The API version: `1.0` or `1.1` (else 400/33).", example = "1.1"),
        ("vid" = Option<String>, Query, description = "The visitor (at most 128 characters): unknown is 404/37."),
        ("sid" = Option<String>, Query, description = "The visitor's session (needs `vid`): unknown is 404/39."),
        ("Origin" = Option<String>, Header, description = "A page's origin: one the account does not allow is 403/5.")),
    request_body(content = crate::openapi::bodies::ReportCall, content_type = "application/json"),
    responses(
        (status = 200, description = "Recorded in the existing visit (`vid` and `sid`).", body = VisitIds),
        (status = 201, description = "Recorded in a new session.", body = VisitIds),
        (status = 400, description = "Illegal version (33), or invalid or missing data (5): nothing is stored, an invalid body is quarantined.", body = MonitoringErrorBody,
         example = json!({"time": 1_795_276_492_992_u64, "message": "illegal version `2`: use v=1.0 or v=1.1", "internalCode": 33})),
        (status = 403, description = "A page on an origin the account does not allow (5).", body = MonitoringErrorBody),
        (status = 404, description = "Unknown account or app installation (18), visitor (37) or session (39).", body = MonitoringErrorBody,
         example = json!({"time": 1_795_281_605_983_u64, "message": "unknown app installation `android-app`", "internalCode": 18})),
        (status = 408, description = "The body did not arrive in time (5).", body = MonitoringErrorBody),
        (status = 409, description = "The session was taken by another visitor meanwhile (5).", body = MonitoringErrorBody),
        (status = 413, description = "Over the body size or the item limit (5).", body = MonitoringErrorBody),
        (status = 415, description = "Not JSON, or not gzip (5).", body = MonitoringErrorBody),
        (status = 429, description = "Over a rate limit (5, `Retry-After`).", body = MonitoringErrorBody),
        (status = 503, description = "No decision slot free (5), or the store cannot write or the server shuts down (18; `Retry-After`).", body = MonitoringErrorBody)))]
pub async fn report_put(
    state: State<AppState>,
    call: MonitoringApp,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, MonitoringError> {
    report(state, call, headers, body).await
}

/// `POST` with `X-HTTP-Method-Override: PUT`, for clients that cannot send `PUT`.
///
/// The `report` call for clients that cannot send `PUT`.
#[utoipa::path(post, path = "/api/account/{account_id}/app/{app_id}/report", summary = "`report`, for clients that cannot send PUT", tag = "Monitoring API", operation_id = "monitoring_report_override",
    params(
        ("account_id" = String, Path, description = "The account."),
        ("app_id" = String, Path, description = "An app installation of the account (`POST /api/account/{accountId}/apps`)."),
        ("v" = String, Query, description = "The API version: `1.0` or `1.1` (else 400/33).", example = "1.1"),
        ("vid" = Option<String>, Query, description = "The visitor (at most 128 characters): unknown is 404/37."),
        ("sid" = Option<String>, Query, description = "The visitor's session (needs `vid`): unknown is 404/39."),
        ("Origin" = Option<String>, Header, description = "A page's origin: one the account does not allow is 403/5."),
        ("X-HTTP-Method-Override" = String, Header, description = "Must be `PUT` (else 405/5).", example = "PUT")),
    request_body(content = crate::openapi::bodies::ReportCall, content_type = "application/json"),
    responses(
        (status = 200, description = "Recorded in the existing visit (`vid` and `sid`).", body = VisitIds),
        (status = 201, description = "Recorded in a new session.", body = VisitIds),
        (status = 405, description = "Without `X-HTTP-Method-Override: PUT` (5).", body = MonitoringErrorBody),
        (status = 400, description = "Illegal version (33), or invalid or missing data (5): nothing is stored, an invalid body is quarantined.", body = MonitoringErrorBody,
         example = json!({"time": 1_795_276_492_992_u64, "message": "illegal version `2`: use v=1.0 or v=1.1", "internalCode": 33})),
        (status = 403, description = "A page on an origin the account does not allow (5).", body = MonitoringErrorBody),
        (status = 404, description = "Unknown account or app installation (18), visitor (37) or session (39).", body = MonitoringErrorBody,
         example = json!({"time": 1_795_281_605_983_u64, "message": "unknown app installation `android-app`", "internalCode": 18})),
        (status = 408, description = "The body did not arrive in time (5).", body = MonitoringErrorBody),
        (status = 409, description = "The session was taken by another visitor meanwhile (5).", body = MonitoringErrorBody),
        (status = 413, description = "Over the body size or the item limit (5).", body = MonitoringErrorBody),
        (status = 415, description = "Not JSON, or not gzip (5).", body = MonitoringErrorBody),
        (status = 429, description = "Over a rate limit (5, `Retry-After`).", body = MonitoringErrorBody),
        (status = 503, description = "No decision slot free (5), or the store cannot write or the server shuts down (18; `Retry-After`).", body = MonitoringErrorBody)))]
pub async fn report_post(
    state: State<AppState>,
    _: PutOverride,
    call: MonitoringApp,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, MonitoringError> {
    report(state, call, headers, body).await
}

#[tracing::instrument(skip_all, fields(account = %call.account_id, app = %call.app_id))]
async fn report(
    State(state): State<AppState>,
    call: MonitoringApp,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, MonitoringError> {
    let MonitoringApp {
        account_id,
        app_id,
        query,
        charged,
        ..
    } = call;
    let bytes = read_body(&headers, body, &state.limits, Accept::Json).await?;
    let tape = Tape::parse(&bytes).ok();
    let root = tape.as_ref().map(Tape::root);
    let member = |key: &str| root.and_then(|r| r.get(key));
    // "At least one form of identification is required (consumerId / an identities.sub
    // or vid)" (report.md): a first report names its consumer.
    if query_id(&query, "vid")?.is_none()
        && member("consumerId").is_none()
        && member("identities").is_none()
    {
        return Err(MonitoringError::invalid(
            "report needs `vid`, or `consumerId` or `identities` on a first call",
        ));
    }
    let identity = root.and_then(named_identity);
    let (visitor_id, session_id) =
        resolve_visit(&state, &account_id, &query, identity.as_deref()).await?;
    let page_id = member("pageId")
        .and_then(Node::as_str)
        .map(str::to_owned)
        .filter(|p| !p.is_empty() && p.chars().count() <= MAX_ID_CHARS)
        .unwrap_or_else(new_id);
    let visit = VisitContext {
        visitor_id,
        session_id,
        page_id,
        page: None,
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        client: None,
    };
    let Recorded { status, ids, .. } = record_call(
        &state,
        &account_id,
        &app_id,
        Call::Report,
        &bytes,
        visit,
        charged.as_ref(),
    )
    .await?;
    link_identity(&state, &account_id, identity.as_deref(), &ids).await?;
    Ok((status, axum::Json(ids)).into_response())
}

/// The visitor and session a call names: both known, the existing visit (404/37 or
/// 404/39 otherwise); a known `vid` alone, a new session for it; neither, a new session
/// of the visitor the body's identity is linked to, or else of a new visitor; a `sid`
/// alone is 400/5.
async fn resolve_visit(
    state: &AppState,
    account_id: &str,
    query: &HashMap<String, String>,
    identity: Option<&str>,
) -> Result<(String, String), MonitoringError> {
    let vid = query_id(query, "vid")?;
    let sid = query_id(query, "sid")?;
    Ok(match (vid, sid) {
        (Some(vid), Some(sid)) => {
            require_session(state, account_id, &vid, &sid).await?;
            (vid, sid)
        }
        (Some(vid), None) => {
            if state.store.lookup_session(account_id, &vid, "").await?
                == SessionLookup::UnknownVisitor
            {
                return Err(unknown_visitor(&vid));
            }
            (vid, new_id())
        }
        (None, Some(_)) => {
            return Err(MonitoringError::invalid(
                "`sid` needs the `vid` it belongs to",
            ))
        }
        (None, None) => {
            let known = match identity {
                Some(identity) => state.store.identity_visitor(account_id, identity).await?,
                None => None,
            };
            (known.unwrap_or_else(new_id), new_id())
        }
    })
}

/// After a call was stored: its identity, if it named one, is linked to its visitor
/// unless it is linked already (the first visitor keeps it; a call that names its `vid`
/// keeps that visitor either way).
async fn link_identity(
    state: &AppState,
    account_id: &str,
    identity: Option<&str>,
    ids: &VisitIds,
) -> Result<(), MonitoringError> {
    let Some(identity) = identity else {
        return Ok(());
    };
    // A read first: a link is written once, while most calls name a linked identity.
    if state
        .store
        .identity_visitor(account_id, identity)
        .await?
        .is_none()
    {
        state
            .store
            .link_identity(account_id, identity, &ids.visitor_id)
            .await?;
    }
    Ok(())
}

async fn require_session(
    state: &AppState,
    account_id: &str,
    vid: &str,
    sid: &str,
) -> Result<(), MonitoringError> {
    match state.store.lookup_session(account_id, vid, sid).await? {
        SessionLookup::Found => Ok(()),
        SessionLookup::UnknownVisitor => Err(unknown_visitor(vid)),
        SessionLookup::UnknownSession => Err(MonitoringError::new(
            StatusCode::NOT_FOUND,
            39,
            format!("unknown session `{sid}` for visitor `{vid}`"),
        )),
    }
}

fn unknown_visitor(vid: &str) -> MonitoringError {
    MonitoringError::new(
        StatusCode::NOT_FOUND,
        37,
        format!("unknown visitor `{vid}`"),
    )
}

/// Validates a call's body and stores its attributes; an invalid body is kept in the
/// quarantine (with where it was going) and answered 400/5, storing nothing of it.
/// Answers the status, the ids and the page view the entry points describe.
async fn record_call(
    state: &AppState,
    account_id: &str,
    app_id: &str,
    call: Call,
    bytes: &[u8],
    visit: VisitContext,
    charged: Option<&Charged>,
) -> Result<Recorded, MonitoringError> {
    let received_ms = now_ms();
    let parsed = Tape::parse(bytes)
        .map_err(|e| Invalid::single("", format!("malformed JSON: {e}")))
        .and_then(|tape| MonitoringBody::read(tape.root(), call, &visit.page_id));
    let MonitoringBody {
        page,
        client,
        events,
        sdes,
        ..
    } = match parsed {
        Ok(items) => items,
        Err(invalid) => {
            let context = StoredContext {
                api: Some("monitoring"),
                call: Some(call.name()),
                app_installation_id: Some(app_id),
                ..StoredContext::of(&visit)
            }
            .to_stored();
            quarantine_body(
                state,
                account_id,
                received_ms,
                bytes,
                context,
                invalid.errors.clone(),
            )
            .await?;
            let shown: Vec<String> = invalid
                .errors
                .iter()
                .take(5)
                .map(ToString::to_string)
                .collect();
            return Err(MonitoringError::invalid(format!(
                "invalid data: {}",
                shown.join("; ")
            )));
        }
    };
    charge_items(state, charged, events.len() + sdes.len())?;
    let events = bind_impressions(state, account_id, &visit, events).await?;
    let language = client.as_ref().and_then(|c| c.language.clone());
    let visit = VisitContext {
        page: page.clone(),
        client,
        ..visit
    };
    let ids = VisitIds {
        session_id: visit.session_id.clone(),
        visitor_id: visit.visitor_id.clone(),
        page_id: visit.page_id.clone(),
        engagement_details: None,
    };
    let outcome = state
        .ingest(IngestBatch {
            account_id: account_id.to_owned(),
            received_ms,
            visit: Some(visit),
            events,
            sdes,
            rejected: vec![],
        })
        .await?;
    let status = if outcome.new_session {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(Recorded {
        status,
        ids,
        page,
        language,
    })
}

/// Each impression must name an engagement context that the `engagement` call exposed to
/// this session, for the engagement it names ("All impression events could be reported
/// only within same session where engagement has been created", report.md); one without
/// `eContext` takes the session's latest context for its engagement. Any other is refused
/// with 400/5 and nothing of the call is stored. Not quarantined: the body is valid, and
/// no replay could make the session have been shown the engagement.
async fn bind_impressions(
    state: &AppState,
    account_id: &str,
    visit: &VisitContext,
    mut events: Vec<NewEvent>,
) -> Result<Vec<NewEvent>, MonitoringError> {
    for event in &mut events {
        let data = &mut event.event.data;
        let key = data.conf_key;
        // What `Impression::context_on` names an impression without `eContext`.
        let without_context = data.context_id == format!("{}:{key}", visit.page_id);
        let exposure = if without_context {
            state
                .store
                .latest_exposure(
                    account_id,
                    &visit.session_id,
                    key.campaign_id,
                    key.engagement_id,
                )
                .await?
        } else {
            state
                .store
                .exposure(account_id, &visit.session_id, &data.context_id)
                .await?
                .filter(|x| {
                    x.campaign_id == key.campaign_id && x.engagement_id == key.engagement_id
                })
        };
        match exposure {
            Some(exposure) => data.context_id = exposure.context_id,
            None if without_context => {
                return Err(MonitoringError::invalid(format!(
                    "impression of engagement {}_{}: this session was never shown it; \
                     report impressions in the session whose engagement call exposed them",
                    key.campaign_id, key.engagement_id
                )))
            }
            None => {
                return Err(MonitoringError::invalid(format!(
                    "impression in engagement context `{}` of engagement {}_{}: this session \
                     was never shown it; report impressions in the session whose engagement \
                     call exposed them",
                    data.context_id, key.campaign_id, key.engagement_id
                )))
            }
        }
    }
    Ok(events)
}

#[cfg(test)]
mod storage_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn a_full_store_answers_the_monitoring_api_503_18_with_retry_after() {
        let response =
            MonitoringError::from(engage_store::StoreError::Unavailable("disk full".into()))
                .into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(response
            .headers()
            .contains_key(axum::http::header::RETRY_AFTER));
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["internalCode"], 18, "{body}");
    }
}
