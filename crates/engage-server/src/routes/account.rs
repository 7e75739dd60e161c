//! The account's own settings (Bearer key): which origins' pages may post to it.
//!
//! `GET|PUT /api/account/{accountId}/origins` with `{"allowedOrigins": [...]}`. An empty
//! list lets every origin post (the default); `"*"` says the same explicitly. The collect
//! and decision routes answer other origins 403 `origin_not_allowed`, preflight included.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use engage_model::Tape;
use serde::Serialize;

use crate::body::{read_body, Accept};
use crate::error::ApiError;
use crate::extract::AuthorizedAccount;
use crate::request::admin::AllowedOriginsBody;
use crate::AppState;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OriginsBody<'a> {
    allowed_origins: &'a [String],
}

/// `GET /api/account/{accountId}/origins`.
pub async fn get_origins(AuthorizedAccount(account): AuthorizedAccount) -> Response {
    axum::Json(OriginsBody {
        allowed_origins: &account.allowed_origins,
    })
    .into_response()
}

/// `PUT /api/account/{accountId}/origins` `{"allowedOrigins": ["https://shop.example"]}`.
#[tracing::instrument(skip_all, fields(account = %account_id))]
pub async fn put_origins(
    State(state): State<AppState>,
    _: AuthorizedAccount,
    Path(account_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(&headers, body, &state.limits, Accept::Json).await?;
    let tape = Tape::parse(&bytes).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    let AllowedOriginsBody {
        allowed_origins: origins,
    } = AllowedOriginsBody::read(tape.root())
        .map_err(|invalid| ApiError::invalid_all("origins", invalid.errors))?;
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
