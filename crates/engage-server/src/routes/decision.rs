//! `POST /api/account/{accountId}/decision`: which engagements the tag shows on a page
//! view. Public like the collect route (same CORS rules, `text/plain` bodies so that a
//! page on another origin needs no preflight). It records only eligibility (which
//! campaigns the visitor was eligible for, shown or held out in a control group; at most
//! one record per visitor, campaign and UTC day: docs/analytics.md), since `START` comes
//! from the tag once it shows an engagement.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use engage_model::{Tape, VisitSdes};

use crate::body::{read_body, Accept};
use engage_store::analytics::EligibilityRecord;
use engage_store::{ids, StoreError};

use crate::decision::{decision_answer, AccountSnapshot, Audience, PageView, RecentShows};
use crate::error::ApiError;
use crate::extract::TagAccount;
use crate::request::DecisionBody;
use crate::AppState;

/// `POST /api/account/{accountId}/decision`.
///
/// Which engagements the tag shows on a page view, from the account's campaigns: at most
/// one per zone, in rank order, each in a new engagement context. Records the visitor's
/// eligibility for each campaign (at most once a UTC day). `Cache-Control: no-store`.
#[utoipa::path(post, path = "/api/account/{account_id}/decision", summary = "Which engagements to show on a page view", tag = "Decision",
    params(
        ("account_id" = String, Path, description = "The account."),
        ("Origin" = Option<String>, Header, description = "A page's origin: one the account does not allow is refused.")),
    request_body(content = crate::openapi::bodies::DecisionRequest, content_type = "application/json",
        description = "Also accepted as `text/plain`, so that a page on another origin needs no preflight."),
    responses(
        (status = 200, description = "The engagements to show (`[]` for none).", body = crate::openapi::bodies::DecisionAnswer),
        (status = 400, description = "Not JSON, or not a decision request (`errors` lists every problem).", body = crate::openapi::schema::Error,
         example = json!({"code": "invalid_request", "message": "invalid decision request: /referrer: unknown field `referrer`, expected `visitorId`, `sessionId`, `pageId`, `url`, `sections`, `sdes`",
             "errors": [{"path": "/referrer", "message": "unknown field `referrer`, expected `visitorId`, `sessionId`, `pageId`, `url`, `sections`, `sdes`"},
                        {"path": "/visitorId", "message": "missing"},
                        {"path": "/sections", "message": "expected an array of at most 100 section names"}]})),
        (status = 403, description = "A page on an origin the account does not allow.", body = crate::openapi::schema::Error),
        (status = 404, description = "Unknown account.", body = crate::openapi::schema::Error),
        (status = 408, description = "The body did not arrive in time.", body = crate::openapi::schema::Error),
        (status = 413, description = "Over the body size or the item limit.", body = crate::openapi::schema::Error),
        (status = 415, description = "Not JSON or text, or not gzip.", body = crate::openapi::schema::Error),
        (status = 429, description = "Over a rate limit (`Retry-After`).", body = crate::openapi::schema::Error),
        (status = 503, description = "Every decision slot is taken, the store cannot write, or shutting down (`Retry-After`).", body = crate::openapi::schema::Error)))]
#[tracing::instrument(skip_all, fields(account = %tag.account.id))]
pub async fn decide(
    State(state): State<AppState>,
    tag: TagAccount,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut response = match answer(&state, &tag.account.id, &headers, body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    };
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    tag.add_cors_headers(h);
    response
}

/// `OPTIONS /api/account/{accountId}/decision`: the preflight of a page on another
/// origin, answered as the collect route's.
#[utoipa::path(options, path = "/api/account/{account_id}/decision", summary = "The decision route's CORS preflight", tag = "Decision",
    operation_id = "decision_preflight",
    params(
        ("account_id" = String, Path, description = "The account."),
        ("Origin" = Option<String>, Header, description = "The page's origin.")),
    responses(
        (status = 204, description = "The page may post: `Access-Control-Allow-*` headers for its origin."),
        (status = 403, description = "A page on an origin the account does not allow.", body = crate::openapi::schema::Error),
        (status = 404, description = "Unknown account.", body = crate::openapi::schema::Error),
        (status = 429, description = "Over a rate limit (`Retry-After`).", body = crate::openapi::schema::Error)))]
pub async fn preflight(tag: TagAccount) -> Response {
    super::collect::preflight(tag).await
}

async fn answer(
    state: &AppState,
    account_id: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(headers, body, &state.limits, Accept::JsonOrText).await?;
    let tape = Tape::parse(&bytes).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    let request =
        DecisionBody::read(tape.root(), state.limits.max_batch_items).map_err(|invalid| {
            let message = invalid
                .errors
                .first()
                .map(|e| format!("invalid decision request: {e}"))
                .unwrap_or_else(|| "invalid decision request".to_owned());
            ApiError::invalid(message, invalid.errors)
        })?;
    let snapshot = state
        .decisions
        .snapshot(state.store.as_ref(), account_id)
        .await?;
    // The reads are independent: run them side by side.
    let (sdes, impressions, recent) = tokio::try_join!(
        async {
            if snapshot.needs_sdes() {
                visit_sdes(state, account_id, &request.visitor_id, &request.session_id).await
            } else {
                Ok(VisitSdes::default())
            }
        },
        impressions(state, &snapshot, account_id, &request.visitor_id),
        recent_shows(
            state,
            &snapshot,
            account_id,
            &request.visitor_id,
            &request.session_id
        ),
    )?;
    let sdes = request.sdes.into_iter().fold(sdes, VisitSdes::with);
    let (url, sections, visitor) = (request.url, request.sections, request.visitor_id);
    let account = account_id.to_owned();
    let (body, eligibility) = state
        .decision_pool
        .run(move || {
            let page = PageView {
                url: &url,
                sections: &sections,
                sdes: &sdes,
                impressions: &impressions,
                recent: &recent,
            };
            let audience = Audience {
                account_id: &account,
                visitor_id: &visitor,
            };
            let (shown, eligibility) = snapshot.show_for(&page, audience, ids::now_ms());
            (decision_answer(&shown), eligibility)
        })
        .await?;
    let body = body.map_err(|e| ApiError::Internal(format!("writing a decision: {e}")))?;
    // A decision asked for by an automated agent is kept in the bots' rollups.
    let bot = engage_model::bot::classify_user_agent(
        headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok()),
    )
    .is_some();
    let eligibility = eligibility
        .into_iter()
        .map(|r| EligibilityRecord { bot, ..r })
        .collect();
    record_eligibility(state, account_id, eligibility).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
}

/// Stores a decision's eligibility records that this server has not stored already
/// today (the store keeps one per visitor, campaign and UTC day whatever it is sent).
pub async fn record_eligibility(
    state: &AppState,
    account_id: &str,
    records: Vec<EligibilityRecord>,
) -> Result<(), StoreError> {
    let records = state.decisions.unseen_eligibility(account_id, records);
    if records.is_empty() {
        return Ok(());
    }
    let kept = records.clone();
    if let Err(e) = state.store.record_eligibility(account_id, records).await {
        state.decisions.forget_eligibility(account_id, &kept);
        return Err(e);
    }
    Ok(())
}

/// The visit's stored attribute state; nothing when the session is unknown or belongs to
/// another visitor (its attributes are not this visitor's).
pub async fn visit_sdes(
    state: &AppState,
    account_id: &str,
    visitor_id: &str,
    session_id: &str,
) -> Result<VisitSdes, ApiError> {
    Ok(state
        .store
        .visit(account_id, session_id)
        .await?
        .filter(|v| v.visitor_id == visitor_id)
        .map(|v| v.sdes)
        .unwrap_or_default())
}

/// The visitor's impressions per engagement, read only when some engagement is capped.
pub async fn impressions(
    state: &AppState,
    snapshot: &AccountSnapshot,
    account_id: &str,
    visitor_id: &str,
) -> Result<Vec<(u64, u64)>, ApiError> {
    if !snapshot.needs_impressions() {
        return Ok(Vec::new());
    }
    Ok(state
        .store
        .impression_counts(account_id, visitor_id)
        .await?)
}

/// Engagement contexts of the visitor the caps with a time window look at; a bounded
/// read, only when an engagement has such a cap.
const MAX_RECENT: usize = 1_000;

/// The visitor's recent engagement contexts, read only when some engagement has a cap
/// with a time window (or a pause after a decline), as far back as the longest needs.
pub async fn recent_shows(
    state: &AppState,
    snapshot: &AccountSnapshot,
    account_id: &str,
    visitor_id: &str,
    session_id: &str,
) -> Result<RecentShows, ApiError> {
    let days = snapshot.recent_days();
    let now_ms = engage_store::ids::now_ms();
    if days == 0 {
        return Ok(RecentShows::default());
    }
    let since = now_ms - i64::from(days) * 86_400_000;
    let shows = state
        .store
        .recent_interactions(account_id, visitor_id, since, MAX_RECENT)
        .await?;
    Ok(RecentShows {
        now_ms,
        session_id: session_id.to_owned(),
        shows,
    })
}
