//! The account's own settings (Bearer key): which origins' pages may post to it.
//!
//! `GET|PUT /api/account/{accountId}/origins` with `{"allowedOrigins": [...]}`. An empty
//! list lets every origin post (the default); `"*"` says the same explicitly. The collect
//! and decision routes answer other origins 403 `origin_not_allowed`, preflight included.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::body::read_json;
use crate::error::ApiError;
use crate::extract::AuthorizedAccount;
use crate::request::admin::AllowedOriginsBody;
use crate::AppState;

use super::admin::schema::{AccountPath, BodyErrors, KeyErrors};

/// The origins whose pages may post to the account; empty: every origin.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"allowedOrigins": ["https://shop.example", "http://localhost:3000"]}))]
struct OriginsBody<'a> {
    allowed_origins: &'a [String],
}

/// `GET /api/account/{accountId}/origins`.
#[utoipa::path(
    get,
    path = "/api/account/{account_id}/origins",
    tag = "Account",
    operation_id = "getOrigins",
    params(AccountPath),
    security(("bearer" = []), ("oauth1" = [])),
    responses(
        (status = 200, description = "The account's allowed origins", body = OriginsBody),
        KeyErrors,
    )
)]
pub async fn get_origins(AuthorizedAccount(account): AuthorizedAccount) -> Response {
    axum::Json(OriginsBody {
        allowed_origins: &account.allowed_origins,
    })
    .into_response()
}

/// `PUT /api/account/{accountId}/origins` `{"allowedOrigins": ["https://shop.example"]}`.
#[tracing::instrument(skip_all, fields(account = %account_id))]
#[utoipa::path(
    put,
    path = "/api/account/{account_id}/origins",
    tag = "Account",
    operation_id = "putOrigins",
    params(AccountPath),
    request_body(content = crate::request::admin::schema::OriginsRequest, content_type = "application/json"),
    security(("bearer" = []), ("oauth1" = [])),
    responses(
        (status = 200, description = "The allowed origins as kept (duplicates dropped)", body = OriginsBody),
        BodyErrors,
        KeyErrors,
    )
)]
pub async fn put_origins(
    State(state): State<AppState>,
    _: AuthorizedAccount,
    Path(account_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let AllowedOriginsBody {
        allowed_origins: origins,
    } = read_json(
        &headers,
        body,
        &state.limits,
        "origins",
        AllowedOriginsBody::read,
    )
    .await?;
    let account = state
        .store
        .set_allowed_origins(&account_id, origins)
        .await?;
    let account = state.accounts.replace(account);
    Ok(axum::Json(OriginsBody {
        allowed_origins: &account.allowed_origins,
    })
    .into_response())
}
