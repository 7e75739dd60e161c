//! The console's writes, for its scripts: `/console/api/...`, the session's cookie and
//! its CSRF token (`X-CSRF-Token`) instead of the API key. Each calls the JSON route's
//! own handler with the session's account, so a change made in the console is checked,
//! stored and answered exactly as the same change through the API (errors included: the
//! console shows each beside the field its JSON pointer names).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use engage_store::OAuthKey;
use serde_json::json;

use super::session::{check_csrf, ConsoleUser, CSRF_HEADER};
use crate::error::ApiError;
use crate::extract::AuthorizedAccount;
use crate::routes::{account, admin, quarantine, retention};
use crate::AppState;

/// The session's CSRF check, then the API handler's answer as it is.
fn checked(user: &ConsoleUser, headers: &HeaderMap) -> Result<AuthorizedAccount, ApiError> {
    let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    check_csrf(user, headers, sent)?;
    Ok(AuthorizedAccount(user.account.clone()))
}

/// `POST /console/api/campaigns`: `POST /api/account/{id}/campaigns`.
pub async fn create_campaign(
    State(state): State<AppState>,
    user: ConsoleUser,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let authorized = checked(&user, &headers)?;
    let account = Path(user.account_id().to_owned());
    admin::create_campaign(State(state), authorized, account, headers, body).await
}

/// `PUT /console/api/campaigns/{campaign_id}`.
pub async fn update_campaign(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(campaign_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let authorized = checked(&user, &headers)?;
    let path = Path((user.account_id().to_owned(), campaign_id));
    admin::update_campaign(State(state), authorized, path, headers, body).await
}

/// `POST /console/api/campaigns/{campaign_id}/engagements`.
pub async fn create_engagement(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(campaign_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let authorized = checked(&user, &headers)?;
    let path = Path((user.account_id().to_owned(), campaign_id));
    admin::create_engagement(State(state), authorized, path, headers, body).await
}

/// `PUT /console/api/campaigns/{campaign_id}/engagements/{engagement_id}`: a new revision.
pub async fn update_engagement(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((campaign_id, engagement_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let authorized = checked(&user, &headers)?;
    let path = Path((user.account_id().to_owned(), campaign_id, engagement_id));
    admin::update_engagement(State(state), authorized, path, headers, body).await
}

/// `PUT /console/api/campaigns/{campaign_id}/engagements/{engagement_id}/availability`.
pub async fn set_availability(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((campaign_id, engagement_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let authorized = checked(&user, &headers)?;
    let path = Path((user.account_id().to_owned(), campaign_id, engagement_id));
    admin::set_availability(State(state), authorized, path, headers, body).await
}

/// `PUT /console/api/origins`.
pub async fn put_origins(
    State(state): State<AppState>,
    user: ConsoleUser,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let authorized = checked(&user, &headers)?;
    let account = Path(user.account_id().to_owned());
    account::put_origins(State(state), authorized, account, headers, body).await
}

/// `PUT /console/api/retention`: `PUT /api/account/{id}/retention`.
pub async fn put_retention(
    State(state): State<AppState>,
    user: ConsoleUser,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let authorized = checked(&user, &headers)?;
    retention::put_retention(State(state), authorized, headers, body).await
}

/// `POST /console/api/quarantine/replay`.
pub async fn replay_quarantine(
    State(state): State<AppState>,
    user: ConsoleUser,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let authorized = checked(&user, &headers)?;
    let account = Path(user.account_id().to_owned());
    Ok(quarantine::replay(State(state), authorized, account)
        .await?
        .into_response())
}

/// `POST /console/api/keys`: a new OAuth 1.0a key, sealed as `engage account keys create`
/// seals it; its secrets are answered this once and never shown again.
#[tracing::instrument(skip_all, fields(account = %user.account_id()))]
pub async fn create_key(
    State(state): State<AppState>,
    user: ConsoleUser,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    checked(&user, &headers)?;
    let secrets = state.secrets.as_deref().ok_or_else(|| {
        ApiError::invalid_field(
            "",
            "this server has no secret key file to seal keys with (--secret-key-file)",
        )
    })?;
    let key = crate::secrets::new_oauth_key(user.account_id())
        .map_err(|e| ApiError::Internal(format!("no randomness for a key: {e}")))?;
    let sealed = secrets
        .seal_oauth_key(&key)
        .map_err(|e| ApiError::Internal(format!("sealing a key: {e}")))?;
    state.store.create_oauth_key(sealed).await?;
    let OAuthKey {
        app_key,
        app_secret,
        access_token,
        access_token_secret,
        ..
    } = key;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({
            "appKey": app_key,
            "appSecret": app_secret,
            "accessToken": access_token,
            "accessTokenSecret": access_token_secret,
        })),
    )
        .into_response())
}

/// `DELETE /console/api/keys/{app_key}`: the key stops working at once, on every server.
#[tracing::instrument(skip_all, fields(account = %user.account_id()))]
pub async fn revoke_key(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(app_key): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    checked(&user, &headers)?;
    if !state
        .store
        .revoke_oauth_key(user.account_id(), &app_key)
        .await?
    {
        return Err(ApiError::UnknownResource(format!(
            "unknown key `{app_key}`"
        )));
    }
    Ok(axum::Json(json!({ "revoked": app_key })).into_response())
}
