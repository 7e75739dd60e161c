//! `POST /api/account/{accountId}/events`: the tag's batches of `LP_OFFERS` events and
//! SDEs, answered once the accepted items are durable.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use engage_store::ids::now_ms;
use engage_store::{IngestBatch, NewQuarantine, QuarantineKind, RawJson};
use serde::Serialize;

use crate::body::{read_body, Accept};
use crate::error::ApiError;
use crate::extract::TagAccount;
use crate::request::collect::{BodyError, CollectBody, Rejection};
use crate::AppState;

#[derive(Serialize)]
struct CollectResponse {
    accepted: usize,
    duplicates: usize,
    rejected: Vec<Rejection>,
}

#[tracing::instrument(skip_all, fields(account = %tag.account.id))]
pub async fn collect(
    State(state): State<AppState>,
    tag: TagAccount,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = receive(&state, &tag, &headers, body).await;
    let mut response = match result {
        Ok(response) => response,
        Err(error) => error.into_response(),
    };
    tag.add_cors_headers(response.headers_mut());
    response
}

async fn receive(
    state: &AppState,
    tag: &TagAccount,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let account_id = tag.account.id.as_str();
    let bytes = read_body(headers, body, &state.limits, Accept::JsonOrText).await?;
    let received_ms = now_ms();
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let batch = match CollectBody::read(&bytes, user_agent, state.limits.max_batch_items) {
        Ok(batch) => batch,
        Err(BodyError::TooManyItems { found, limit }) => {
            return Err(ApiError::BatchTooLarge { found, limit })
        }
        Err(BodyError::Malformed(reason)) => {
            quarantine_body(
                state,
                account_id,
                received_ms,
                &bytes,
                RawJson::null(),
                vec![engage_model::FieldError::new(
                    "",
                    format!("malformed JSON: {reason}"),
                )],
            )
            .await?;
            return Err(ApiError::MalformedJson(reason));
        }
        Err(BodyError::Invalid(invalid)) => {
            quarantine_body(
                state,
                account_id,
                received_ms,
                &bytes,
                RawJson::null(),
                invalid.errors.clone(),
            )
            .await?;
            let message = format!(
                "invalid batch: {}",
                invalid
                    .errors
                    .first()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            );
            return Err(ApiError::invalid(message, invalid.errors));
        }
    };
    crate::rate_limit::charge_items(state, tag.charged.as_ref(), batch.item_count())?;
    let rejected = batch.rejections();
    let bot = engage_model::bot::classify_user_agent(batch.visit.user_agent.as_deref());
    let begun = interactions_begun(&batch.events);
    let outcome = state
        .ingest(IngestBatch {
            account_id: account_id.to_owned(),
            received_ms,
            visit: Some(batch.visit),
            events: batch.events,
            sdes: batch.sdes,
            rejected: batch.rejected,
        })
        .await?;
    if let Some(reason) = bot {
        // A batch sent again (its items all duplicates) begins nothing twice.
        if outcome.duplicates == 0 {
            state.metrics.record_bot_interactions(reason, begun);
        }
    }
    tracing::debug!(
        accepted = outcome.accepted,
        duplicates = outcome.duplicates,
        rejected = rejected.len(),
        "batch stored"
    );
    Ok(axum::Json(CollectResponse {
        accepted: outcome.accepted,
        duplicates: outcome.duplicates,
        rejected,
    })
    .into_response())
}

/// How many interactions a batch begins: its distinct contexts with a `START` event.
fn interactions_begun(events: &[engage_store::NewEvent]) -> u64 {
    let begun: std::collections::HashSet<&str> = events
        .iter()
        .filter(|e| e.event.name == engage_model::OfferEventName::Start)
        .map(|e| e.event.data.context_id.as_str())
        .collect();
    begun.len() as u64
}

/// Keeps a body that could not be read as a batch, so that nothing is dropped silently.
pub(crate) async fn quarantine_body(
    state: &AppState,
    account_id: &str,
    received_ms: i64,
    bytes: &[u8],
    context: RawJson,
    errors: Vec<engage_model::FieldError>,
) -> Result<(), ApiError> {
    state
        .ingest(IngestBatch {
            account_id: account_id.to_owned(),
            received_ms,
            visit: None,
            events: vec![],
            sdes: vec![],
            rejected: vec![NewQuarantine {
                kind: QuarantineKind::Body,
                index: None,
                client_id: None,
                raw: String::from_utf8_lossy(bytes).into_owned(),
                context,
                errors,
            }],
        })
        .await?;
    Ok(())
}

/// `OPTIONS` for the tag on another origin (the collect and decision routes).
pub async fn preflight(tag: TagAccount) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    if tag.origin.is_some() {
        let h = response.headers_mut();
        tag.add_cors_headers(h);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("content-type, content-encoding"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("86400"),
        );
    }
    response
}
