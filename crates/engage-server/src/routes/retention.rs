//! The account's retention (account API key): `GET|PUT /api/account/{accountId}/retention`
//! with `{"days": N}` (`null`: kept for ever). The sweep itself is `crate::retention`.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::body::read_json;
use crate::error::ApiError;
use crate::extract::AuthorizedAccount;
use crate::request::admin::RetentionBody;
use crate::AppState;

use super::admin::schema::{AccountPath, BodyErrors, KeyErrors};

/// How long the account's data is kept: `days` days, or for ever (`null`).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"days": 30}))]
struct Retention {
    #[schema(required = true, minimum = 1, maximum = 36500)]
    days: Option<u32>,
}

/// `GET /api/account/{accountId}/retention`.
#[utoipa::path(
    get,
    path = "/api/account/{account_id}/retention",
    tag = "Privacy",
    operation_id = "getRetention",
    params(AccountPath),
    security(("bearer" = []), ("oauth1" = [])),
    responses(
        (status = 200, description = "The account's retention", body = Retention),
        KeyErrors,
    )
)]
pub async fn get_retention(
    State(state): State<AppState>,
    AuthorizedAccount(account): AuthorizedAccount,
) -> Result<Response, ApiError> {
    let days = state.store.retention(&account.id).await?;
    Ok(axum::Json(Retention { days }).into_response())
}

/// `PUT /api/account/{accountId}/retention` `{"days": 30}`.
#[tracing::instrument(skip_all, fields(account = %account.id))]
#[utoipa::path(
    put,
    path = "/api/account/{account_id}/retention",
    tag = "Privacy",
    operation_id = "putRetention",
    params(AccountPath),
    request_body(content = crate::request::admin::schema::RetentionRequest, content_type = "application/json"),
    security(("bearer" = []), ("oauth1" = [])),
    responses(
        (status = 200, description = "The retention as kept; the next sweep applies it", body = Retention),
        BodyErrors,
        KeyErrors,
    )
)]
pub async fn put_retention(
    State(state): State<AppState>,
    AuthorizedAccount(account): AuthorizedAccount,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let RetentionBody { days } = read_json(
        &headers,
        body,
        &state.limits,
        "retention",
        RetentionBody::read,
    )
    .await?;
    state.store.set_retention(&account.id, days).await?;
    Ok(axum::Json(Retention { days }).into_response())
}
