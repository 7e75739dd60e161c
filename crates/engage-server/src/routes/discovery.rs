//! LivePerson's Domain API, which clients call first to learn the host of each API
//! (developer-center, `pages/documents/GettingStarted/retrieve_API_Domains.md`):
//!
//! - `GET /api/account/{accountId}/service/{serviceName}/baseURI.json?version=1.0`
//!   answers `{"service","account","baseURI"}`;
//! - `GET /api/account/{accountId}/service/baseURI.json?version=1.0` answers every
//!   service Engage implements as `{"baseURIs":[...]}`.
//!
//! Public, as in LivePerson: it needs no key and says only where this server is (the
//! `--public-url` host), so it reads nothing but the account cache and writes nothing.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::ApiError;
use crate::AppState;

/// The service names LivePerson's documentation tells clients to look up for the APIs
/// Engage implements: the Engagement History API's overview names `engHistDomain`, the
/// Monitoring API's getting-started page `smt`. Names are case sensitive, as documented.
pub const SERVICES: [&str; 2] = ["engHistDomain", "smt"];

/// The one version LivePerson documents.
const VERSION: &str = "1.0";

/// Where one service is.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"service": "smt", "account": "94220599", "baseURI": "engage.example"}))]
pub(crate) struct BaseUri<'a> {
    /// `engHistDomain` or `smt`.
    service: &'a str,
    account: &'a str,
    /// `host[:port]` of `engage serve --public-url`, without a scheme.
    #[serde(rename = "baseURI")]
    base_uri: &'a str,
}

/// Where every service is.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"baseURIs": [
    {"service": "engHistDomain", "account": "94220599", "baseURI": "engage.example"},
    {"service": "smt", "account": "94220599", "baseURI": "engage.example"}]}))]
pub(crate) struct BaseUris<'a> {
    #[serde(rename = "baseURIs")]
    base_uris: Vec<BaseUri<'a>>,
}

/// `GET /api/account/{accountId}/service/{serviceName}/baseURI.json?version=1.0`.
///
/// LivePerson's Domain API for one service: where this server is. No key; any page may
/// read it (`Access-Control-Allow-Origin: *`).
#[utoipa::path(get, path = "/api/account/{account_id}/service/{service}/baseURI.json", summary = "Where one service is",
    tag = "Service discovery (CSDS)", operation_id = "service_base_uri",
    params(
        ("account_id" = String, Path, description = "The account."),
        ("service" = String, Path, description = "`engHistDomain` (the Engagement History API) or `smt` (the Monitoring API); case sensitive.", example = "smt"),
        ("version" = String, Query, description = "Must be `1.0`.", example = "1.0")),
    responses(
        (status = 200, description = "Where the service is.", body = BaseUri),
        (status = 400, description = "`version` missing, repeated or not `1.0`, or another parameter (`errors` names it).", body = crate::openapi::schema::Error),
        (status = 404, description = "Unknown account, or a service this server does not implement.", body = crate::openapi::schema::Error)))]
pub async fn service(
    State(state): State<AppState>,
    Path((account_id, service)): Path<(String, String)>,
    uri: Uri,
) -> Response {
    public(one_service(&state, &account_id, &service, &uri).await)
}

async fn one_service(
    state: &AppState,
    account_id: &str,
    service: &str,
    uri: &Uri,
) -> Result<Response, ApiError> {
    check_query(uri)?;
    state.accounts.get(state.store.as_ref(), account_id).await?;
    let service = SERVICES
        .into_iter()
        .find(|known| *known == service)
        .ok_or_else(|| {
            ApiError::UnknownResource(format!(
                "unknown service `{}`: this server implements {}",
                truncate(service),
                SERVICES.join(", ")
            ))
        })?;
    let host = state.public_host.clone().unwrap_or_default();
    Ok(axum::Json(BaseUri {
        service,
        account: account_id,
        base_uri: host.as_str(),
    })
    .into_response())
}

/// `GET /api/account/{accountId}/service/baseURI.json?version=1.0`: every service.
///
/// LivePerson's Domain API for every service Engage implements.
#[utoipa::path(get, path = "/api/account/{account_id}/service/baseURI.json", summary = "Where every service is",
    tag = "Service discovery (CSDS)", operation_id = "all_base_uris",
    params(
        ("account_id" = String, Path, description = "The account."),
        ("version" = String, Query, description = "Must be `1.0`.", example = "1.0")),
    responses(
        (status = 200, description = "Where every service is.", body = BaseUris),
        (status = 400, description = "`version` missing, repeated or not `1.0`, or another parameter (`errors` names it).", body = crate::openapi::schema::Error),
        (status = 404, description = "Unknown account.", body = crate::openapi::schema::Error)))]
pub async fn all_services(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    uri: Uri,
) -> Response {
    public(every_service(&state, &account_id, &uri).await)
}

async fn every_service(
    state: &AppState,
    account_id: &str,
    uri: &Uri,
) -> Result<Response, ApiError> {
    check_query(uri)?;
    state.accounts.get(state.store.as_ref(), account_id).await?;
    let host = state.public_host.clone().unwrap_or_default();
    let base_uris = SERVICES
        .into_iter()
        .map(|service| BaseUri {
            service,
            account: account_id,
            base_uri: host.as_str(),
        })
        .collect();
    Ok(axum::Json(BaseUris { base_uris }).into_response())
}

/// `version=1.0` and nothing else: a missing, repeated or other version, or a parameter
/// LivePerson does not document, is a 400 naming it.
fn check_query(uri: &Uri) -> Result<(), ApiError> {
    let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map_err(|e| ApiError::invalid_field("?", e.body_text()))?;
    let mut version = None;
    for (name, value) in &pairs {
        if name != "version" {
            return Err(ApiError::invalid_field(
                &format!("?{}", truncate(name)),
                "unknown parameter: the Domain API takes only `version=1.0`",
            ));
        }
        if version.replace(value).is_some() {
            return Err(ApiError::invalid_field(
                "?version",
                "given more than once: send `version=1.0` once",
            ));
        }
    }
    match version {
        Some(value) if value == VERSION => Ok(()),
        Some(value) => Err(ApiError::invalid_field(
            "?version",
            format!("unsupported version `{}`: use version=1.0", truncate(value)),
        )),
        None => Err(ApiError::invalid_field(
            "?version",
            "missing version: add version=1.0 to the query",
        )),
    }
}

/// The answer is the same for every caller and carries no secret, so any page may read
/// it (and its errors), as a browser client of LivePerson's does.
fn public(answer: Result<Response, ApiError>) -> Response {
    let mut response = answer.unwrap_or_else(IntoResponse::into_response);
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// A caller's text echoed in an error, cut so that a long URL does not make a long answer.
fn truncate(text: &str) -> &str {
    const MAX: usize = 64;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}
