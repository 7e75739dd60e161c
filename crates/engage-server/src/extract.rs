//! What a route needs to know about a request before its handler runs, as extractors,
//! so that no handler checks a key or an origin by hand.
//!
//! - [`AuthorizedAccount`]: the account of a route that needs the account's own key.
//! - [`TagAccount`]: the account of a public route the tag calls (collect, decision and
//!   their preflight), with the `Origin` it lets post.
//!
//! The Monitoring API's calls have their own, `MonitoringApp` (in `routes/monitoring.rs`):
//! they answer errors in that API's shape.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use engage_store::Account;
use serde::Deserialize;

use crate::error::ApiError;
use crate::AppState;

/// The `{account_id}` every account route has; the route's other parameters are its
/// handler's.
#[derive(Deserialize)]
struct AccountPath {
    account_id: String,
}

/// The account named by the path, from the cache: 404 `unknown_account` if there is none.
async fn path_account(parts: &mut Parts, state: &AppState) -> Result<Arc<Account>, Response> {
    let Path(AccountPath { account_id }) = Path::from_request_parts(parts, state)
        .await
        .map_err(IntoResponse::into_response)?;
    state
        .accounts
        .get(state.store.as_ref(), &account_id)
        .await
        .map_err(IntoResponse::into_response)
}

/// The account of a route that needs its key: 404 for an unknown account, then 401
/// without a key (or with a key of no account) and 403 with another account's key.
///
/// Every such route takes this, so a new way to prove a key (OAuth 1.0a) is added once,
/// in [`crate::accounts::AccountCache::authorize`].
pub struct AuthorizedAccount(pub Arc<Account>);

impl FromRequestParts<AppState> for AuthorizedAccount {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let account = path_account(parts, state).await?;
        state
            .accounts
            .authorize(
                state.store.as_ref(),
                state.secrets.as_deref(),
                parts,
                &account,
            )
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(AuthorizedAccount(account))
    }
}

/// The account of a public tag route, once the request's `Origin` may post to it: 404 for
/// an unknown account, 403 `origin_not_allowed` for an origin the account did not list.
pub struct TagAccount {
    pub account: Arc<Account>,
    /// The request's `Origin`, to be echoed in the CORS headers; `None` for same-origin
    /// and non-browser requests, which send none.
    pub origin: Option<HeaderValue>,
    /// The rate-limit buckets the request was counted in (`None` without limits).
    pub charged: Option<crate::rate_limit::Charged>,
}

impl FromRequestParts<AppState> for TagAccount {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let account = path_account(parts, state).await?;
        let origin =
            allowed_origin(&parts.headers, &account).map_err(IntoResponse::into_response)?;
        let charged = parts.extensions.get().cloned();
        Ok(TagAccount {
            account,
            origin,
            charged,
        })
    }
}

impl TagAccount {
    /// Lets the page's origin read the answer (errors included, so the tag sees why).
    pub fn add_cors_headers(&self, headers: &mut HeaderMap) {
        if let Some(origin) = &self.origin {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            headers.insert(header::VARY, HeaderValue::from_static("Origin"));
            // The tag waits as long as a 429 or 503 says (it cannot read it otherwise).
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("Retry-After"),
            );
        }
    }
}

/// The request's `Origin` when the account lets it post; `None` when it sends none.
pub(crate) fn allowed_origin(
    headers: &HeaderMap,
    account: &Account,
) -> Result<Option<HeaderValue>, ApiError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(None);
    };
    let text = origin.to_str().unwrap_or("");
    let allowed = account.allowed_origins.is_empty()
        || account
            .allowed_origins
            .iter()
            .any(|o| o == "*" || o == text);
    if allowed {
        Ok(Some(origin.clone()))
    } else {
        Err(ApiError::OriginNotAllowed(text.to_owned()))
    }
}
