//! The webhook admin API (Bearer key or OAuth; docs/api.md, Webhooks): endpoints, their
//! secrets, pings, the delivery log and redelivery. What is delivered and how is in
//! `crate::webhooks`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use engage_store::{ids, Delivery, DeliveryStatus, NewWebhook, Webhook};
use serde::Serialize;

use super::admin::parse_body;
use crate::error::ApiError;
use crate::extract::AuthorizedAccount;
use crate::request::webhook::{WebhookBody, MAX_WEBHOOK_URL_CHARS};
use crate::webhooks::{guard, new_secret};
use crate::AppState;

/// The delivery log answers at most this many, newest first.
const MAX_LOG: usize = 100;
const DEFAULT_LOG: usize = 50;
/// How long registering an endpoint waits for its name to resolve.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WebhookView<'a> {
    webhook_id: &'a str,
    url: &'a str,
    events: &'a [String],
    created_ms: i64,
    enabled: bool,
    consecutive_failures: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    disabled_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    disabled_reason: Option<&'a str>,
}

impl<'a> From<&'a Webhook> for WebhookView<'a> {
    fn from(w: &'a Webhook) -> Self {
        WebhookView {
            webhook_id: &w.id,
            url: &w.url,
            events: &w.events,
            created_ms: w.created_ms,
            enabled: w.disabled.is_none(),
            consecutive_failures: w.consecutive_failures,
            disabled_ms: w.disabled.as_ref().map(|d| d.at_ms),
            disabled_reason: w.disabled.as_ref().map(|d| d.reason.as_str()),
        }
    }
}

/// The endpoint with its secret: only the create and rotate answers show it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WithSecret<'a> {
    secret: &'a str,
    #[serde(flatten)]
    webhook: WebhookView<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeliveryView<'a> {
    delivery_id: &'a str,
    event: &'a str,
    status: DeliveryStatus,
    attempts: u32,
    created_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_attempt_ms: Option<i64>,
    last_attempt_ms: Option<i64>,
    last_status: Option<u16>,
    last_error: Option<&'a str>,
    delivered_ms: Option<i64>,
}

impl<'a> From<&'a Delivery> for DeliveryView<'a> {
    fn from(d: &'a Delivery) -> Self {
        DeliveryView {
            delivery_id: &d.id,
            event: &d.event,
            status: d.status,
            attempts: d.attempts,
            created_ms: d.created_ms,
            next_attempt_ms: (d.status == DeliveryStatus::Pending).then_some(d.next_attempt_ms),
            last_attempt_ms: d.last_attempt_ms,
            last_status: d.last_status,
            last_error: d.last_error.as_deref(),
            delivered_ms: d.delivered_ms,
        }
    }
}

fn unknown_webhook(webhook_id: &str) -> ApiError {
    ApiError::UnknownResource(format!("unknown webhook `{webhook_id}`"))
}

/// The SSRF guard on a URL as written and, for a name, on what it resolves to now (it
/// is checked again at every delivery).
async fn check_url(state: &AppState, url: &str) -> Result<(), ApiError> {
    let allow_private = state.webhooks.config.allow_private;
    let parsed = guard::check_url(url, allow_private, MAX_WEBHOOK_URL_CHARS)
        .map_err(|why| ApiError::invalid_field("/url", why))?;
    if allow_private {
        return Ok(());
    }
    if let Some(url::Host::Domain(name)) = parsed.host() {
        let port = parsed.port_or_known_default().unwrap_or(443);
        let found = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((name, port)))
            .await
            .ok()
            .and_then(Result::ok)
            .map(|addrs| addrs.map(|a| a.ip()).collect::<Vec<IpAddr>>())
            .unwrap_or_default();
        // A name that does not resolve yet is taken; one that resolves only to private
        // addresses is not.
        if !found.is_empty() && !found.iter().any(|ip| guard::is_public(*ip)) {
            return Err(ApiError::invalid_field(
                "/url",
                format!(
                    "`{name}` resolves to a loopback, private or link-local address; webhooks go to public addresses (a server started with --allow-private-webhooks allows it)"
                ),
            ));
        }
    }
    Ok(())
}

/// `POST /api/account/{accountId}/webhooks` `{"url", "events"}` → 201 with
/// `webhookId` and `secret`.
#[tracing::instrument(skip_all, fields(account = %account_id))]
pub async fn create_webhook(
    State(state): State<AppState>,
    _: AuthorizedAccount,
    Path(account_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let WebhookBody { url, events } = parse_body(&state, &headers, body, WebhookBody::read).await?;
    check_url(&state, &url).await?;
    let secret = new_secret()?;
    let stored = sealed(&state, &account_id, &secret)?;
    let max = state.webhooks.config.max_per_account;
    let created = state
        .store
        .create_webhook(
            &account_id,
            NewWebhook {
                url,
                events,
                secret: stored,
            },
            max,
        )
        .await?
        .ok_or_else(|| {
            ApiError::LimitReached(format!(
                "the account has {max} webhooks, as many as it may; delete one first"
            ))
        })?;
    state.webhooks.forget(&account_id);
    Ok((
        StatusCode::CREATED,
        axum::Json(WithSecret {
            secret: &secret,
            webhook: WebhookView::from(&created),
        }),
    )
        .into_response())
}

/// `GET /api/account/{accountId}/webhooks`: every endpoint, without its secret.
pub async fn list_webhooks(
    State(state): State<AppState>,
    _: AuthorizedAccount,
    Path(account_id): Path<String>,
) -> Result<Response, ApiError> {
    #[derive(Serialize)]
    struct List<'a> {
        webhooks: Vec<WebhookView<'a>>,
    }
    let webhooks = state.store.webhooks(&account_id).await?;
    Ok(axum::Json(List {
        webhooks: webhooks.iter().map(WebhookView::from).collect(),
    })
    .into_response())
}

/// `DELETE /api/account/{accountId}/webhooks/{webhookId}` → 204; its pending deliveries
/// go with it.
#[tracing::instrument(skip_all, fields(account = %account_id))]
pub async fn delete_webhook(
    State(state): State<AppState>,
    _: AuthorizedAccount,
    Path((account_id, webhook_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    if !state.store.delete_webhook(&account_id, &webhook_id).await? {
        return Err(unknown_webhook(&webhook_id));
    }
    state.webhooks.forget(&account_id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/account/{accountId}/webhooks/{webhookId}/rotate-secret` → the new secret;
/// deliveries not yet attempted are signed with it.
#[tracing::instrument(skip_all, fields(account = %account_id))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    _: AuthorizedAccount,
    Path((account_id, webhook_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let secret = new_secret()?;
    let stored = sealed(&state, &account_id, &secret)?;
    let rotated = state
        .store
        .rotate_webhook_secret(&account_id, &webhook_id, stored)
        .await?
        .ok_or_else(|| unknown_webhook(&webhook_id))?;
    Ok(axum::Json(WithSecret {
        secret: &secret,
        webhook: WebhookView::from(&rotated),
    })
    .into_response())
}

/// `POST /api/account/{accountId}/webhooks/{webhookId}/ping` → 202 with the queued
/// `ping` delivery's id.
#[tracing::instrument(skip_all, fields(account = %account_id))]
pub async fn ping(
    State(state): State<AppState>,
    _: AuthorizedAccount,
    Path((account_id, webhook_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    if state
        .store
        .webhook(&account_id, &webhook_id)
        .await?
        .is_none()
    {
        return Err(unknown_webhook(&webhook_id));
    }
    let ping = state.webhooks.ping(&account_id, &webhook_id);
    let delivery_id = ping.id.clone();
    let queued = state
        .store
        .enqueue_deliveries(
            &account_id,
            vec![ping],
            state.webhooks.config.max_pending_per_account,
            ids::now_ms(),
        )
        .await?;
    state
        .metrics
        .record_webhook_queued(queued.queued as u64, queued.refused as u64);
    if queued.queued == 0 {
        return Err(ApiError::LimitReached(
            "the account's webhook outbox is full: nothing more is queued until deliveries go out"
                .into(),
        ));
    }
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Queued {
        delivery_id: String,
    }
    Ok((StatusCode::ACCEPTED, axum::Json(Queued { delivery_id })).into_response())
}

/// `GET /api/account/{accountId}/webhooks/{webhookId}/deliveries?limit=`: the delivery
/// log, newest first (at most 100, 50 unless `limit` says).
pub async fn deliveries(
    State(state): State<AppState>,
    _: AuthorizedAccount,
    Path((account_id, webhook_id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let limit = match query.get("limit") {
        None => DEFAULT_LOG,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_LOG).contains(&n) => n,
            _ => {
                return Err(ApiError::invalid_field(
                    "/limit",
                    format!("expected a number from 1 to {MAX_LOG}, found `{text}`"),
                ))
            }
        },
    };
    let log = state
        .store
        .deliveries(&account_id, &webhook_id, limit)
        .await?
        .ok_or_else(|| unknown_webhook(&webhook_id))?;
    #[derive(Serialize)]
    struct Log<'a> {
        deliveries: Vec<DeliveryView<'a>>,
    }
    Ok(axum::Json(Log {
        deliveries: log.iter().map(DeliveryView::from).collect(),
    })
    .into_response())
}

/// `POST /api/account/{accountId}/webhooks/{webhookId}/deliveries/{deliveryId}/redeliver`
/// → 202: pending again, due now, with a new retry period; a disabled endpoint is
/// enabled again.
#[tracing::instrument(skip_all, fields(account = %account_id))]
pub async fn redeliver(
    State(state): State<AppState>,
    _: AuthorizedAccount,
    Path((account_id, webhook_id, delivery_id)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let delivery = state
        .store
        .redeliver(&account_id, &webhook_id, &delivery_id, ids::now_ms())
        .await?
        .ok_or_else(|| {
            ApiError::UnknownResource(format!(
                "unknown delivery `{delivery_id}` of webhook `{webhook_id}`"
            ))
        })?;
    state.webhooks.forget(&account_id);
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(DeliveryView::from(&delivery)),
    )
        .into_response())
}

/// The secret as stored: sealed with the server's key file (`--secret-key-file`), so a
/// copy of the database alone cannot sign deliveries.
fn sealed(state: &AppState, account_id: &str, secret: &str) -> Result<String, ApiError> {
    crate::secrets::seal_webhook_secret(state.secrets.as_deref(), account_id, secret)
        .map_err(|e| ApiError::Internal(format!("sealing a webhook secret: {e}")))
}
