//! Privacy requests (account API key): access to everything held about a visitor,
//! erasure of a visitor or of every visitor who reported a customer id, and the erasure
//! log (docs/api.md, Privacy; docs/operations.md, Erasure).
//!
//! - `GET /api/account/{accountId}/visitors/{visitorId}`: one JSON document.
//! - `DELETE /api/account/{accountId}/visitors/{visitorId}` and
//!   `DELETE /api/account/{accountId}/customers/{customerId}`: `{"removed": {...}}`,
//!   counts by kind.
//! - `GET /api/account/{accountId}/erasures?limit=N`: when and how much, newest first.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use engage_store::{ErasureCounts, ErasureTarget};
use std::collections::HashMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::extract::AuthorizedAccount;
use crate::request::collect::MAX_ID_CHARS;
use crate::AppState;
use schema::LogQuery;

use super::admin::schema::{AccountPath, CustomerPath, KeyErrors, ParamErrors, VisitorPath};

/// The privacy routes' answers as the OpenAPI description states them.
pub(crate) mod schema;

/// The most erasure log entries one request answers.
const MAX_LOG_ENTRIES: usize = 1000;

/// An id from the path: what collect would have accepted (1 to [`MAX_ID_CHARS`]
/// characters), or 400 at `pointer`.
fn path_id(id: String, pointer: &str) -> Result<String, ApiError> {
    if id.is_empty() || id.chars().count() > MAX_ID_CHARS {
        return Err(ApiError::invalid_field(
            pointer,
            format!(
                "expected 1-{MAX_ID_CHARS} characters, found {}",
                id.chars().count()
            ),
        ));
    }
    Ok(id)
}

/// `GET /api/account/{accountId}/visitors/{visitorId}`.
#[tracing::instrument(skip_all, fields(account = %account.id))]
#[utoipa::path(
    get,
    path = "/api/account/{account_id}/visitors/{visitor_id}",
    tag = "Privacy",
    operation_id = "getVisitorData",
    params(VisitorPath),
    security(("bearer" = []), ("oauth1" = [])),
    responses(
        (status = 200, description = "Everything the account holds about the visitor", body = schema::VisitorDataDoc),
        ParamErrors,
        KeyErrors,
    )
)]
pub async fn get_visitor(
    State(state): State<AppState>,
    AuthorizedAccount(account): AuthorizedAccount,
    Path((_, visitor_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let visitor_id = path_id(visitor_id, "/visitorId")?;
    match state.store.visitor_data(&account.id, &visitor_id).await? {
        Some(data) => Ok(axum::Json(data).into_response()),
        None => Err(ApiError::UnknownResource(
            "this account holds nothing about that visitor".into(),
        )),
    }
}

/// What an erasure removed, by kind (zeros for an id the account does not know).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"removed": {"visitors": 1, "visits": 2, "pages": 5, "interactions": 3, "events": 14, "attributes": 6, "identities": 0, "exposures": 0, "quarantined": 1, "webhookDeliveries": 2, "rollups": 9}}))]
struct Erased {
    #[schema(value_type = schema::ErasureCountsDoc)]
    removed: ErasureCounts,
}

/// `DELETE /api/account/{accountId}/visitors/{visitorId}`.
#[tracing::instrument(skip_all, fields(account = %account.id))]
#[utoipa::path(
    delete,
    path = "/api/account/{account_id}/visitors/{visitor_id}",
    tag = "Privacy",
    operation_id = "eraseVisitor",
    params(VisitorPath),
    security(("bearer" = []), ("oauth1" = [])),
    responses(
        (status = 200, description = "What was removed", body = Erased),
        ParamErrors,
        KeyErrors,
    )
)]
pub async fn erase_visitor(
    State(state): State<AppState>,
    AuthorizedAccount(account): AuthorizedAccount,
    Path((_, visitor_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let visitor_id = path_id(visitor_id, "/visitorId")?;
    erase(&state, &account.id, ErasureTarget::Visitor(visitor_id)).await
}

/// `DELETE /api/account/{accountId}/customers/{customerId}`.
#[tracing::instrument(skip_all, fields(account = %account.id))]
#[utoipa::path(
    delete,
    path = "/api/account/{account_id}/customers/{customer_id}",
    tag = "Privacy",
    operation_id = "eraseCustomer",
    params(CustomerPath),
    security(("bearer" = []), ("oauth1" = [])),
    responses(
        (status = 200, description = "What was removed, every visitor who reported the customer id", body = Erased),
        ParamErrors,
        KeyErrors,
    )
)]
pub async fn erase_customer(
    State(state): State<AppState>,
    AuthorizedAccount(account): AuthorizedAccount,
    Path((_, customer_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let customer_id = path_id(customer_id, "/customerId")?;
    erase(&state, &account.id, ErasureTarget::Customer(customer_id)).await
}

async fn erase(
    state: &AppState,
    account: &str,
    target: ErasureTarget,
) -> Result<Response, ApiError> {
    let removed = state.store.erase(account, target).await?;
    state.metrics.record_erasure(&removed);
    tracing::info!(?removed, "erased");
    Ok(axum::Json(Erased { removed }).into_response())
}

/// The erasure log, newest first.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Log {
    #[schema(value_type = Vec<schema::ErasureLogEntryDoc>)]
    erasures: Vec<engage_store::ErasureLogEntry>,
}

/// `GET /api/account/{accountId}/erasures?limit=N` (default 100, at most 1000).
#[utoipa::path(
    get,
    path = "/api/account/{account_id}/erasures",
    tag = "Privacy",
    operation_id = "listErasures",
    params(AccountPath, LogQuery),
    security(("bearer" = []), ("oauth1" = [])),
    responses(
        (status = 200, description = "The erasure log, newest first", body = Log),
        ParamErrors,
        KeyErrors,
    )
)]
pub async fn erasure_log(
    State(state): State<AppState>,
    AuthorizedAccount(account): AuthorizedAccount,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    if let Some(unknown) = query.keys().find(|k| k.as_str() != "limit") {
        return Err(ApiError::invalid_field(
            &format!("/{}", unknown.replace('~', "~0").replace('/', "~1")),
            "unknown parameter, expected `limit`",
        ));
    }
    let limit = match query.get("limit").map(String::as_str) {
        None => 100,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_LOG_ENTRIES).contains(&n) => n,
            _ => {
                return Err(ApiError::invalid_field(
                    "/limit",
                    format!("expected an integer from 1 to {MAX_LOG_ENTRIES}, found `{text}`"),
                ))
            }
        },
    };
    let erasures = state.store.erasure_log(&account.id, limit).await?;
    Ok(axum::Json(Log { erasures }).into_response())
}
