//! `POST /api/account/{accountId}/events`: the tag's batches of `LP_OFFERS` events and
//! SDEs, answered once the accepted items are durable.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use engage_model::bot::{BotReason, Pace};
use engage_model::OfferEventName;
use engage_store::ids::now_ms;
use engage_store::{IngestBatch, NewQuarantine, QuarantineKind, RawJson};
use serde::Serialize;

use crate::body::{read_body, Accept};
use crate::error::ApiError;
use crate::extract::TagAccount;
use crate::request::collect::{BodyError, CollectBody, Rejection};
use crate::AppState;

/// What a batch stored: accepted items are durable; duplicates (ids already stored)
/// stored nothing again; rejected ones are kept in the quarantine.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"accepted": 2, "duplicates": 0, "rejected": [{"kind": "event", "index": 1,
    "errors": [{"path": "/events/1/data/engagementType",
                "message": "expected an engagement type 0, 1, 2, 3, 5 or 6 (peeling corner, overlay, toaster, slide-out, embedded, sticky), found 4"}]}]}))]
pub(crate) struct CollectResponse {
    accepted: usize,
    duplicates: usize,
    #[schema(value_type = Vec<crate::openapi::bodies::Rejected>)]
    rejected: Vec<Rejection>,
}

/// The tag's batch of `LP_OFFERS` events and SDEs for one page view, answered once the
/// accepted items are durable. Any origin may post unless the account restricts them.
#[utoipa::path(post, path = "/api/account/{account_id}/events", tag = "Collect",
    params(
        ("account_id" = String, Path, description = "The account."),
        ("Origin" = Option<String>, Header, description = "A page's origin: one the account does not allow is refused.")),
    request_body(content = crate::openapi::bodies::CollectBatch, content_type = "application/json",
        description = "Also accepted as `text/plain` (what `navigator.sendBeacon` sends) and with `Content-Encoding: gzip`."),
    responses(
        (status = 200, description = "Stored: each item is validated on its own.", body = CollectResponse),
        (status = 400, description = "Not JSON (`malformed_json`) or a wrong envelope (`invalid_request`); kept in the quarantine.", body = crate::openapi::schema::Error,
         example = json!({"code": "malformed_json", "message": "malformed JSON: EOF while parsing a value at line 1 column 14"})),
        (status = 403, description = "A page on an origin the account does not allow.", body = crate::openapi::schema::Error),
        (status = 404, description = "Unknown account.", body = crate::openapi::schema::Error,
         example = json!({"code": "unknown_account", "message": "unknown account `1`"})),
        (status = 408, description = "The body did not arrive in time.", body = crate::openapi::schema::Error),
        (status = 409, description = "The session belongs to another visitor: nothing is stored.", body = crate::openapi::schema::Error),
        (status = 413, description = "Over the body size or the batch's item limit.", body = crate::openapi::schema::Error),
        (status = 415, description = "Not JSON or text, or not gzip.", body = crate::openapi::schema::Error),
        (status = 429, description = "Over a rate limit (`Retry-After`).", body = crate::openapi::schema::Error),
        (status = 503, description = "Shutting down or the store cannot write (`Retry-After`).", body = crate::openapi::schema::Error)))]
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
    let mut batch = match CollectBody::read(&bytes, user_agent, state.limits.max_batch_items) {
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
    let refused_forms = check_forms(state, account_id, &mut batch).await?;
    let rejected = batch.rejections();
    let flagged = flagged_interactions(
        engage_model::bot::classify_user_agent(batch.visit.user_agent.as_deref()),
        &batch.events,
    );
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
    // A batch sent again (its items all duplicates) counts nothing twice.
    if let (Some((reason, count)), 0) = (flagged, outcome.duplicates) {
        state.metrics.record_bot_interactions(reason, count);
    }
    tracing::debug!(
        accepted = outcome.accepted,
        duplicates = outcome.duplicates,
        rejected = rejected.len(),
        "batch stored"
    );
    if !refused_forms.is_empty() {
        // The rest of the batch is stored: the body says so beside the form's problems.
        let errors: Vec<_> = refused_forms.into_iter().flat_map(|r| r.errors).collect();
        let body = RefusedFormBody {
            code: "invalid_form_submission",
            message: format!(
                "invalid form submission: {}",
                errors.first().map(ToString::to_string).unwrap_or_default()
            ),
            errors,
            accepted: outcome.accepted,
            duplicates: outcome.duplicates,
            rejected,
        };
        return Ok((StatusCode::BAD_REQUEST, axum::Json(body)).into_response());
    }
    Ok(axum::Json(CollectResponse {
        accepted: outcome.accepted,
        duplicates: outcome.duplicates,
        rejected,
    })
    .into_response())
}

/// A batch with a form submission that its engagement's form refuses: 400, the
/// submission's problems as `errors`, and what became of the rest of the batch.
#[derive(Serialize)]
struct RefusedFormBody {
    code: &'static str,
    message: String,
    errors: Vec<engage_model::FieldError>,
    accepted: usize,
    duplicates: usize,
    rejected: Vec<Rejection>,
}

/// Most distinct engagement revisions one batch's form submissions are checked against;
/// the others are refused, so a body cannot make the route read the store at will.
const MAX_FORMS_CHECKED: usize = 8;

/// Checks each form submission of `batch` against the form of the engagement revision it
/// answers (request/form.rs): a valid one becomes SDEs, a refused one a quarantine
/// entry. Answers the refused ones.
async fn check_forms(
    state: &AppState,
    account_id: &str,
    batch: &mut CollectBody,
) -> Result<Vec<Rejection>, ApiError> {
    let mut engagements: HashMap<(u64, u64, u64), Option<engage_store::Engagement>> =
        HashMap::new();
    let mut refused = Vec::new();
    for form in std::mem::take(&mut batch.forms) {
        let s = &form.submission;
        let key = (s.campaign_id, s.engagement_id, s.engagement_revision);
        let full = engagements.len() >= MAX_FORMS_CHECKED;
        let engagement = match engagements.entry(key) {
            Entry::Occupied(known) => Some(known.into_mut()),
            Entry::Vacant(_) if full => None,
            Entry::Vacant(slot) => {
                let found = state
                    .store
                    .engagement(account_id, key.0, key.1, Some(key.2))
                    .await?
                    .filter(|e| e.revision == key.2);
                Some(slot.insert(found))
            }
        };
        let checked = match engagement {
            None => Err(engage_model::Invalid::single(
                "/form",
                format!(
                    "at most {MAX_FORMS_CHECKED} engagement revisions are checked in one batch"
                ),
            )),
            Some(None) => Err(s.unknown_engagement()),
            Some(Some(e)) => s.check(e.definition.action.as_ref(), &e.definition.name),
        };
        if let Some(rejection) = batch.settle_form(form, checked) {
            refused.push(rejection);
        }
    }
    Ok(refused)
}

/// What a batch adds to `engage_bot_interactions_total`: from a bot's user agent, the
/// interactions it begins (its contexts with a `START`); from a person's, those its
/// events answer too fast (`Pace`, the rule the store flags them by).
fn flagged_interactions(
    user_agent: Option<BotReason>,
    events: &[engage_store::NewEvent],
) -> Option<(BotReason, u64)> {
    let count = |contexts: HashSet<&str>| contexts.len() as u64;
    let flagged = match user_agent {
        Some(reason) => (
            reason,
            count(
                events
                    .iter()
                    .filter(|e| e.event.name == OfferEventName::Start)
                    .map(|e| e.event.data.context_id.as_str())
                    .collect(),
            ),
        ),
        None => {
            let mut paces: HashMap<&str, Pace> = HashMap::new();
            for e in events {
                paces
                    .entry(e.event.data.context_id.as_str())
                    .or_default()
                    .observe(e.event.name, e.client_time_ms);
            }
            let too_fast = paces
                .into_iter()
                .filter(|(_, pace)| pace.too_fast())
                .map(|(context, _)| context)
                .collect();
            (BotReason::Behaviour, count(too_fast))
        }
    };
    (flagged.1 > 0).then_some(flagged)
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
#[utoipa::path(options, path = "/api/account/{account_id}/events", summary = "The collect route's CORS preflight", tag = "Collect",
    operation_id = "collect_preflight",
    params(
        ("account_id" = String, Path, description = "The account."),
        ("Origin" = Option<String>, Header, description = "The page's origin.")),
    responses(
        (status = 204, description = "The page may post: `Access-Control-Allow-*` headers for its origin."),
        (status = 403, description = "A page on an origin the account does not allow.", body = crate::openapi::schema::Error),
        (status = 404, description = "Unknown account.", body = crate::openapi::schema::Error),
        (status = 429, description = "Over a rate limit (`Retry-After`).", body = crate::openapi::schema::Error)))]
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
