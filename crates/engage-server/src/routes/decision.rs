//! `POST /api/account/{accountId}/decision`: which engagements the tag shows on a page
//! view. Public like the collect route (same CORS rules, `text/plain` bodies so that a
//! page on another origin needs no preflight); records nothing, since `START` comes from
//! the tag once it shows an engagement.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use engage_model::json::Json;
use engage_model::{Sde, VisitSdes};
use serde::Serialize;

use super::collect::{add_cors_headers, allowed_origin};
use crate::body::{read_body, Accept};
use crate::collect_body::{MAX_ID_CHARS, MAX_SECTIONS};
use crate::decision::input::{index, object, string, Problems};
use crate::decision::{AccountSnapshot, PageView, Shown};
use crate::error::ApiError;
use crate::ids::new_id;
use crate::AppState;

/// Longest page URL read.
const MAX_URL_CHARS: usize = 8192;
/// Longest section name.
const MAX_SECTION_CHARS: usize = 256;

/// A decision request: `{"visitorId", "sessionId", "pageId"?, "url"?, "sections"?, "sdes"?}`.
#[derive(Debug)]
pub struct DecisionRequest {
    pub visitor_id: String,
    pub session_id: String,
    pub url: String,
    pub sections: Vec<String>,
    /// The page-shape attributes this page pushed; invalid ones are left out (the collect
    /// route reports and quarantines them when the tag sends them).
    pub sdes: Vec<Sde>,
}

/// Reads a decision body. Envelope problems are errors; an attribute that does not
/// validate is skipped, so one bad push does not hide every engagement.
pub fn parse_decision_body(json: &Json<'_>, max_sdes: usize) -> Result<DecisionRequest, Problems> {
    let mut problems = Problems::default();
    let members = object(
        json,
        "",
        &[
            "visitorId",
            "sessionId",
            "pageId",
            "url",
            "sections",
            "sdes",
        ],
        &mut problems,
    )
    .ok_or_else(|| std::mem::take(&mut problems))?;
    let visitor_id = members.required_string("visitorId", MAX_ID_CHARS, &mut problems);
    let session_id = members.required_string("sessionId", MAX_ID_CHARS, &mut problems);
    members.optional_string("pageId", MAX_ID_CHARS, &mut problems);
    let url = match members.get("url") {
        None => String::new(),
        Some(Json::String(s)) if s.chars().count() <= MAX_URL_CHARS => s.to_string(),
        Some(Json::String(_)) => {
            problems.add(
                &members.path("url"),
                format!("longer than {MAX_URL_CHARS} characters"),
            );
            String::new()
        }
        Some(other) => {
            problems.add(
                &members.path("url"),
                format!("expected a string, found {}", other.kind()),
            );
            String::new()
        }
    };
    let mut sections = Vec::new();
    match members.get("sections") {
        None => {}
        Some(Json::Array(items)) if items.len() > MAX_SECTIONS => problems.add(
            &members.path("sections"),
            format!(
                "{} sections, at most {MAX_SECTIONS} are allowed",
                items.len()
            ),
        ),
        Some(Json::Array(items)) => {
            let path = members.path("sections");
            for (i, item) in items.iter().enumerate() {
                if let Some(s) = string(item, &index(&path, i), MAX_SECTION_CHARS, &mut problems) {
                    sections.push(s);
                }
            }
        }
        Some(other) => problems.add(
            &members.path("sections"),
            format!("expected an array, found {}", other.kind()),
        ),
    }
    let mut sdes = Vec::new();
    match members.get("sdes") {
        None => {}
        Some(Json::Array(items)) if items.len() > max_sdes => problems.add(
            &members.path("sdes"),
            format!("{} attributes, at most {max_sdes} are allowed", items.len()),
        ),
        Some(Json::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                match Sde::from_page(item) {
                    Ok(sde) => sdes.push(sde),
                    Err(invalid) => {
                        tracing::debug!(index = i, errors = %invalid, "decision: attribute skipped")
                    }
                }
            }
        }
        Some(other) => problems.add(
            &members.path("sdes"),
            format!("expected an array, found {}", other.kind()),
        ),
    }
    match (visitor_id, session_id) {
        (Some(visitor_id), Some(session_id)) if problems.is_empty() => Ok(DecisionRequest {
            visitor_id,
            session_id,
            url,
            sections,
            sdes,
        }),
        _ => Err(problems),
    }
}

#[derive(Serialize)]
struct DecisionResponse<'a> {
    engagements: Vec<Shown<'a>>,
}

/// `POST /api/account/{accountId}/decision`.
#[tracing::instrument(skip_all, fields(account = %account_id))]
pub async fn decide(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let account = state
        .accounts
        .get(state.store.as_ref(), &account_id)
        .await?;
    let cors = allowed_origin(&headers, &account)?;
    let mut response = match answer(&state, &account_id, &headers, body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    };
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(origin) = cors {
        add_cors_headers(h, origin);
    }
    Ok(response)
}

async fn answer(
    state: &AppState,
    account_id: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(headers, body, &state.limits, Accept::JsonOrText).await?;
    let json = Json::parse(&bytes).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    let request = parse_decision_body(&json, state.limits.max_batch_items).map_err(|problems| {
        let message = problems
            .errors
            .first()
            .map(|e| format!("invalid decision request: {e}"))
            .unwrap_or_else(|| "invalid decision request".to_owned());
        ApiError::invalid(message, problems.errors)
    })?;
    let snapshot = state
        .decisions
        .snapshot(state.store.as_ref(), account_id)
        .await?;
    let sdes = if snapshot.needs_sdes() {
        visit_sdes(state, account_id, &request.visitor_id, &request.session_id).await?
    } else {
        VisitSdes::default()
    };
    let sdes = request.sdes.into_iter().fold(sdes, VisitSdes::with);
    let impressions = impressions(state, &snapshot, account_id, &request.visitor_id).await?;
    let page = PageView {
        url: &request.url,
        sections: &request.sections,
        sdes: &sdes,
        impressions: &impressions,
    };
    let engagements = shown(&snapshot, &page);
    Ok(axum::Json(DecisionResponse { engagements }).into_response())
}

/// The decision with a new engagement context for each engagement shown.
pub fn shown<'s>(snapshot: &'s AccountSnapshot, page: &PageView<'_>) -> Vec<Shown<'s>> {
    snapshot
        .decide(page)
        .into_iter()
        .map(|offer| Shown {
            offer,
            context_id: new_id(),
        })
        .collect()
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
