//! The console's writes, for its scripts: `/console/api/...`, the session's cookie and
//! its CSRF token (`X-CSRF-Token`) instead of the API key. Each calls the JSON route's
//! own handler with the session's account, so a change made in the console is checked,
//! stored and answered exactly as the same change through the API (errors included: the
//! console shows each beside the field its JSON pointer names).

use axum::body::Body;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use engage_store::OAuthKey;
use serde_json::json;

use super::session::{check_csrf, ConsoleUser, CSRF_HEADER};
use crate::error::ApiError;
use crate::extract::AuthorizedAccount;
use crate::routes::{account, admin, quarantine, retention};
use crate::AppState;

/// A console user whose request passed the session's CSRF check (the token in
/// `X-CSRF-Token`, and not sent from another site): its account, authorized as an API
/// key would authorize it, for the JSON route's handler.
pub struct Checked {
    user: ConsoleUser,
}

impl Checked {
    /// The session's account id.
    fn account_id(&self) -> &str {
        self.user.account_id()
    }

    fn authorized(&self) -> AuthorizedAccount {
        AuthorizedAccount(self.user.account.clone())
    }
}

impl FromRequestParts<AppState> for Checked {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let user = ConsoleUser::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        check_csrf(&user, &parts.headers, sent).map_err(IntoResponse::into_response)?;
        Ok(Checked { user })
    }
}

/// `POST /console/api/campaigns`: `POST /api/account/{id}/campaigns`.
pub async fn create_campaign(
    State(state): State<AppState>,
    user: Checked,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let account = Path(user.account_id().to_owned());
    admin::create_campaign(State(state), user.authorized(), account, headers, body).await
}

/// `PUT /console/api/campaigns/{campaign_id}`.
pub async fn update_campaign(
    State(state): State<AppState>,
    user: Checked,
    Path(campaign_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let path = Path((user.account_id().to_owned(), campaign_id));
    admin::update_campaign(State(state), user.authorized(), path, headers, body).await
}

/// `POST /console/api/campaigns/{campaign_id}/engagements`.
pub async fn create_engagement(
    State(state): State<AppState>,
    user: Checked,
    Path(campaign_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let path = Path((user.account_id().to_owned(), campaign_id));
    admin::create_engagement(State(state), user.authorized(), path, headers, body).await
}

/// `PUT /console/api/campaigns/{campaign_id}/engagements/{engagement_id}`: a new revision.
pub async fn update_engagement(
    State(state): State<AppState>,
    user: Checked,
    Path((campaign_id, engagement_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let path = Path((user.account_id().to_owned(), campaign_id, engagement_id));
    admin::update_engagement(State(state), user.authorized(), path, headers, body).await
}

/// `PUT /console/api/campaigns/{campaign_id}/engagements/{engagement_id}/availability`.
pub async fn set_availability(
    State(state): State<AppState>,
    user: Checked,
    Path((campaign_id, engagement_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let path = Path((user.account_id().to_owned(), campaign_id, engagement_id));
    admin::set_availability(State(state), user.authorized(), path, headers, body).await
}

/// `PUT /console/api/origins`.
pub async fn put_origins(
    State(state): State<AppState>,
    user: Checked,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let account = Path(user.account_id().to_owned());
    account::put_origins(State(state), user.authorized(), account, headers, body).await
}

/// `PUT /console/api/retention`: `PUT /api/account/{id}/retention`.
pub async fn put_retention(
    State(state): State<AppState>,
    user: Checked,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    retention::put_retention(State(state), user.authorized(), headers, body).await
}

/// `POST /console/api/quarantine/replay`.
pub async fn replay_quarantine(
    State(state): State<AppState>,
    user: Checked,
) -> Result<Response, ApiError> {
    let account = Path(user.account_id().to_owned());
    Ok(quarantine::replay(State(state), user.authorized(), account)
        .await?
        .into_response())
}

/// `POST /console/api/keys`: a new OAuth 1.0a key, sealed as `engage account keys create`
/// seals it; its secrets are answered this once and never shown again.
#[tracing::instrument(skip_all, fields(account = %user.account_id()))]
pub async fn create_key(
    State(state): State<AppState>,
    user: Checked,
) -> Result<Response, ApiError> {
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
    user: Checked,
    Path(app_key): Path<String>,
) -> Result<Response, ApiError> {
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
