//! Signing in and out of the console, and who a console request is for.
//!
//! A sign-in proves the account's API key once; the answer is a session cookie
//! (`engage_console`, `HttpOnly`, `SameSite=Strict`, `Secure` when the public URL is
//! https, expiring after [`SESSION_TTL_MS`]) whose value is the account id and a random
//! token. The store keeps the token's SHA-256 only, with the session's CSRF token; the key
//! is never kept, in the store or the page. Every change must send the CSRF token back
//! (a header for the console's scripts, a form field for sign-out): a page of another
//! site can make the browser send the cookie (not with `SameSite=Strict`, but older
//! browsers ignore it) but cannot read the token.
//!
//! The sign-in form itself is protected by a token in a short-lived cookie and a hidden
//! field (double submit), and the attempts are rate-limited per client address and per
//! account id, so a stranger cannot try keys quickly nor make us hash and store without
//! bound.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use engage_store::{Account, ConsoleSession};
use governor::{DefaultKeyedRateLimiter, Quota};
use maud::html;
use sha2::{Digest, Sha256};

use super::page::{self, redirect};
use super::zone::BrowserZone;
use crate::error::ApiError;
use crate::AppState;

/// The session cookie.
pub const SESSION_COOKIE: &str = "engage_console";
/// The sign-in form's own token (double submit), before there is a session.
pub const SIGN_IN_COOKIE: &str = "engage_console_sign_in";
/// The header the console's scripts send the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// A session lasts a working day; then the user signs in again.
pub const SESSION_TTL_MS: i64 = 8 * 3_600_000;
/// How long the sign-in form may stay open before it must be loaded again.
const SIGN_IN_FORM_TTL_S: i64 = 3_600;
/// The most bytes a sign-in form may send: an account id, a key, a token.
const MAX_SIGN_IN_BYTES: usize = 2_048;
const MAX_ACCOUNT_ID_CHARS: usize = 64;
const MAX_API_KEY_CHARS: usize = 256;

/// The sign-in attempts allowed: per client address and per account id named, each a
/// bucket of `burst` refilled at `per_minute`; each table keeps at most `max_keys`
/// clients, and when it is full of active ones a new client is refused (a flood from many
/// addresses cannot grow it).
#[derive(Debug, Clone, Copy)]
pub struct ConsoleLimits {
    pub per_minute: u32,
    pub burst: u32,
    pub max_keys: usize,
}

impl Default for ConsoleLimits {
    fn default() -> Self {
        ConsoleLimits {
            per_minute: 10,
            burst: 10,
            max_keys: 10_000,
        }
    }
}

/// The console's state on one server: the sign-in rate limits.
pub struct ConsoleState {
    per_client: DefaultKeyedRateLimiter<IpAddr>,
    per_account: DefaultKeyedRateLimiter<String>,
    max_keys: usize,
}

impl ConsoleState {
    pub fn new(limits: ConsoleLimits) -> ConsoleState {
        let per_minute = NonZeroU32::new(limits.per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(limits.burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_minute(per_minute).allow_burst(burst);
        ConsoleState {
            per_client: DefaultKeyedRateLimiter::keyed(quota),
            per_account: DefaultKeyedRateLimiter::keyed(quota),
            max_keys: limits.max_keys.max(1),
        }
    }

    /// Whether a sign-in attempt from `client` naming `account_id` may go on.
    fn admit(&self, client: IpAddr, account_id: &str) -> bool {
        fn check<K: std::hash::Hash + Eq + Clone>(
            limiter: &DefaultKeyedRateLimiter<K>,
            key: &K,
            max_keys: usize,
        ) -> bool {
            if limiter.len() >= max_keys {
                limiter.retain_recent();
                if limiter.len() >= max_keys {
                    return false;
                }
            }
            limiter.check_key(key).is_ok()
        }
        check(&self.per_client, &client, self.max_keys)
            && check(&self.per_account, &account_id.to_owned(), self.max_keys)
    }
}

impl Default for ConsoleState {
    fn default() -> Self {
        ConsoleState::new(ConsoleLimits::default())
    }
}

/// Who a console request is for: a live session and its account, and the browser's time
/// zone. A page without a session sends the browser to the sign-in form; a script's call
/// is answered 401.
pub struct ConsoleUser {
    pub account: Arc<Account>,
    pub session: ConsoleSession,
    pub zone: BrowserZone,
}

impl ConsoleUser {
    /// The account's id.
    pub fn account_id(&self) -> &str {
        &self.account.id
    }
}

/// The reason a request has no console user.
pub enum NotSignedIn {
    /// A page: to the sign-in form.
    Page,
    /// A script's call: 401 in the API's error shape.
    Api,
    Failed(ApiError),
}

impl IntoResponse for NotSignedIn {
    fn into_response(self) -> Response {
        match self {
            NotSignedIn::Page => redirect("/console/sign-in"),
            NotSignedIn::Api => ApiError::Unauthorized.into_response(),
            NotSignedIn::Failed(error) => error.into_response(),
        }
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Equal without telling by its timing how much of `a` matched.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |diff, (x, y)| diff | (x ^ y))
        == 0
}

fn random_token() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| ApiError::Internal(format!("no randomness for a session token: {e}")))?;
    Ok(hex::encode(bytes))
}

impl FromRequestParts<AppState> for ConsoleUser {
    type Rejection = NotSignedIn;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, NotSignedIn> {
        let not_signed_in = if parts.uri.path().starts_with("/console/api/") {
            NotSignedIn::Api
        } else {
            NotSignedIn::Page
        };
        let Some((account_id, token)) =
            cookie_value(&parts.headers, SESSION_COOKIE).and_then(|v| v.split_once('.'))
        else {
            return Err(not_signed_in);
        };
        if account_id.len() > MAX_ACCOUNT_ID_CHARS || token.len() > 128 {
            return Err(not_signed_in);
        }
        let now = engage_store::ids::now_ms();
        let session = state
            .store
            .console_session(account_id, &token_hash(token), now)
            .await
            .map_err(|e| NotSignedIn::Failed(e.into()))?;
        let Some(session) = session else {
            return Err(not_signed_in);
        };
        let account = match state.accounts.get(state.store.as_ref(), account_id).await {
            Ok(account) => account,
            Err(ApiError::UnknownAccount(_)) => return Err(not_signed_in),
            Err(e) => return Err(NotSignedIn::Failed(e)),
        };
        Ok(ConsoleUser {
            account,
            session,
            zone: BrowserZone::of(&parts.headers),
        })
    }
}

/// 403 unless a change carries the session's CSRF token (`sent`), and, when the browser
/// says where the request comes from, it comes from this site.
pub fn check_csrf(
    user: &ConsoleUser,
    headers: &HeaderMap,
    sent: Option<&str>,
) -> Result<(), ApiError> {
    let cross_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|site| site != "same-origin" && site != "none");
    let token_ok = sent.is_some_and(|sent| same_secret(sent, &user.session.csrf_token));
    if cross_site || !token_ok {
        return Err(ApiError::Forbidden);
    }
    Ok(())
}

/// The `Set-Cookie` value of a console cookie: `HttpOnly`, `SameSite=Strict`, only under
/// `/console`, `Secure` when the console is served over https.
fn set_cookie(state: &AppState, name: &str, value: &str, max_age_s: i64) -> HeaderValue {
    let mut cookie = cookie::Cookie::build((name, value))
        .path("/console")
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .max_age(cookie::time::Duration::seconds(max_age_s));
    if state.public_host.as_ref().is_some_and(|h| h.is_https()) {
        cookie = cookie.secure(true);
    }
    HeaderValue::from_str(&cookie.build().to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("engage_console=; Max-Age=0; Path=/console"))
}

/// What the sign-in form says after a failed attempt.
#[derive(Default)]
struct SignInForm<'a> {
    account_id: &'a str,
    problem: Option<&'a str>,
}

fn sign_in_page(state: &AppState, form: SignInForm<'_>, status: StatusCode) -> Response {
    let token = match random_token() {
        Ok(token) => token,
        Err(e) => return e.into_response(),
    };
    let body = html! {
        main.sign-in id="main" {
            h1 { "Sign in to Engage" }
            p.lead { "Use your account ID and an API key of the account (" code { "engage account create" } " prints both)." }
            @if let Some(problem) = form.problem {
                p.alert role="alert" id="sign-in-problem" { (problem) }
            }
            form method="post" action="/console/sign-in" {
                input type="hidden" name="csrf" value=(token);
                label for="account" { "Account ID" }
                input #account name="account" type="text" autocomplete="username" required
                    maxlength=(MAX_ACCOUNT_ID_CHARS) value=(form.account_id)
                    aria-describedby=[form.problem.map(|_| "sign-in-problem")];
                label for="key" { "API key" }
                input #key name="key" type="password" autocomplete="current-password" required
                    maxlength=(MAX_API_KEY_CHARS);
                button.primary type="submit" { "Sign in" }
            }
        }
    };
    let mut response = page::bare("Sign in", body, status);
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(state, SIGN_IN_COOKIE, &token, SIGN_IN_FORM_TTL_S),
    );
    response
}

/// `GET /console/sign-in`: the form (or the console, for someone signed in).
pub async fn sign_in_form(State(state): State<AppState>, request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    if ConsoleUser::from_request_parts(&mut parts, &state)
        .await
        .is_ok()
    {
        return redirect("/console/");
    }
    sign_in_page(&state, SignInForm::default(), StatusCode::OK)
}

/// The client a sign-in attempt is counted against.
fn client_of(
    state: &AppState,
    connect: Option<&ConnectInfo<SocketAddr>>,
    headers: &HeaderMap,
) -> IpAddr {
    let peer = connect.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    state.rate_limits.client_address(peer, headers)
}

/// `POST /console/sign-in` (`account`, `key`, `csrf`, form-encoded): a session for a
/// right key; the same answer for an unknown account and a wrong key.
#[tracing::instrument(skip_all)]
pub async fn sign_in(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let connect = parts.extensions.get::<ConnectInfo<SocketAddr>>().cloned();
    let headers = parts.headers;
    let Ok(bytes) = axum::body::to_bytes(body, MAX_SIGN_IN_BYTES).await else {
        return ApiError::BodyTooLarge {
            limit: MAX_SIGN_IN_BYTES,
        }
        .into_response();
    };
    let (mut account_id, mut key, mut csrf) = (String::new(), String::new(), String::new());
    for (name, value) in form_urlencoded::parse(&bytes) {
        match &*name {
            "account" => account_id = value.trim().to_owned(),
            "key" => key = value.trim().to_owned(),
            "csrf" => csrf = value.into_owned(),
            _ => {}
        }
    }
    let form_token = cookie_value(&headers, SIGN_IN_COOKIE).unwrap_or("");
    if form_token.is_empty() || !same_secret(form_token, &csrf) {
        let form = SignInForm {
            account_id: "",
            problem: Some("The sign-in form expired. Please sign in again."),
        };
        return sign_in_page(&state, form, StatusCode::FORBIDDEN);
    }
    let shown_id = if account_id.chars().count() <= MAX_ACCOUNT_ID_CHARS {
        account_id.as_str()
    } else {
        ""
    };
    if account_id.is_empty()
        || key.is_empty()
        || account_id.chars().count() > MAX_ACCOUNT_ID_CHARS
        || key.chars().count() > MAX_API_KEY_CHARS
    {
        let form = SignInForm {
            account_id: shown_id,
            problem: Some("Enter an account ID and an API key."),
        };
        return sign_in_page(&state, form, StatusCode::BAD_REQUEST);
    }
    let client = client_of(&state, connect.as_ref(), &headers);
    if !state.console.admit(client, &account_id) {
        let form = SignInForm {
            account_id: shown_id,
            problem: Some("Too many sign-in attempts. Wait a minute and try again."),
        };
        let mut response = sign_in_page(&state, form, StatusCode::TOO_MANY_REQUESTS);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        return response;
    }
    let account = match state.accounts.get(state.store.as_ref(), &account_id).await {
        Ok(account) => Some(account),
        Err(ApiError::UnknownAccount(_)) => None,
        Err(e) => return e.into_response(),
    };
    let right_key = account
        .as_ref()
        .is_some_and(|a| same_secret(&crate::accounts::hash_api_key(&key), &a.api_key_hash));
    let Some(account) = account.filter(|_| right_key) else {
        tracing::info!(%client, "console sign-in refused");
        let form = SignInForm {
            account_id: shown_id,
            problem: Some("That account ID and API key do not match. Check both and try again."),
        };
        return sign_in_page(&state, form, StatusCode::UNAUTHORIZED);
    };
    match start_session(&state, &account).await {
        Ok(cookie) => {
            let mut response = redirect("/console/");
            response.headers_mut().append(header::SET_COOKIE, cookie);
            response.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(&state, SIGN_IN_COOKIE, "", 0),
            );
            response
        }
        Err(e) => e.into_response(),
    }
}

/// Stores a new session of `account` and answers its cookie.
async fn start_session(state: &AppState, account: &Account) -> Result<HeaderValue, ApiError> {
    let token = random_token()?;
    let now = engage_store::ids::now_ms();
    state
        .store
        .create_console_session(ConsoleSession {
            account: account.id.clone(),
            token_hash: token_hash(&token),
            csrf_token: random_token()?,
            created_ms: now,
            expires_ms: now + SESSION_TTL_MS,
        })
        .await?;
    Ok(set_cookie(
        state,
        SESSION_COOKIE,
        &format!("{}.{token}", account.id),
        SESSION_TTL_MS / 1000,
    ))
}

/// `POST /console/sign-out` (`csrf`, form-encoded): ends the session in the store, so its
/// cookie signs nobody in on any server, and clears the cookie.
#[tracing::instrument(skip_all, fields(account = %user.account_id()))]
pub async fn sign_out(
    State(state): State<AppState>,
    user: ConsoleUser,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = axum::body::to_bytes(body, MAX_SIGN_IN_BYTES)
        .await
        .map_err(|_| ApiError::BodyTooLarge {
            limit: MAX_SIGN_IN_BYTES,
        })?;
    let csrf = form_urlencoded::parse(&bytes)
        .find(|(name, _)| name == "csrf")
        .map(|(_, v)| v.into_owned());
    check_csrf(&user, &headers, csrf.as_deref())?;
    state
        .store
        .end_console_session(user.account_id(), &user.session.token_hash)
        .await?;
    let mut response = redirect("/console/sign-in");
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, SESSION_COOKIE, "", 0),
    );
    Ok(response)
}
