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
use utoipa::ToSchema;

use crate::body::read_json;
use crate::error::ApiError;
use crate::extract::AuthorizedAccount;
use crate::request::webhook::{WebhookBody, MAX_WEBHOOK_URL_CHARS};
use crate::webhooks::{guard, new_secret};
use crate::AppState;

use super::admin::schema::{
    AccountPath, BodyErrors, DeliveryPath, KeyErrors, ParamErrors, WebhookPath,
};

/// The delivery log answers at most this many, newest first.
const MAX_LOG: usize = 100;
const DEFAULT_LOG: usize = 50;
/// How long registering an endpoint waits for its name to resolve.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(3);

/// A webhook endpoint (without its secret).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct WebhookView<'a> {
    webhook_id: &'a str,
    url: &'a str,
    events: &'a [String],
    created_ms: i64,
    enabled: bool,
    consecutive_failures: u32,
    /// When deliveries stopped after failing, if they did.
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
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"secret": "whsec_5c1f0e0b9a7d4c2e8f3a6b1d0c9e8f7a", "webhookId": "wh_01J9Z8", "url": "https://hooks.shop.example/engage", "events": ["offer.clicked", "lead.submitted"], "createdMs": 1795281596719_i64, "enabled": true, "consecutiveFailures": 0}))]
struct WithSecret<'a> {
    /// Signs every delivery (`X-Engage-Signature`); shown only here.
    secret: &'a str,
    #[serde(flatten)]
    webhook: WebhookView<'a>,
}

/// One delivery of an endpoint and how it went.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DeliveryView<'a> {
    delivery_id: &'a str,
    event: &'a str,
    #[schema(value_type = DeliveryState)]
    status: DeliveryStatus,
    attempts: u32,
    created_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_attempt_ms: Option<i64>,
    #[schema(required = true)]
    last_attempt_ms: Option<i64>,
    /// The endpoint's HTTP status at the last attempt.
    #[schema(required = true)]
    last_status: Option<u16>,
    #[schema(required = true)]
    last_error: Option<&'a str>,
    #[schema(required = true)]
    delivered_ms: Option<i64>,
}

/// Where a delivery is (`engage_store::DeliveryStatus` as it serializes).
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // a description of a shape
enum DeliveryState {
    Pending,
    Delivered,
    Failed,
}

/// Every endpoint of the account.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct WebhookList<'a> {
    webhooks: Vec<WebhookView<'a>>,
}

/// The queued `ping` delivery.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Queued {
    delivery_id: String,
}

/// The endpoint's deliveries, newest first.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DeliveryLog<'a> {
    deliveries: Vec<DeliveryView<'a>>,
}

/// `?limit=` of the delivery log.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // a description of the query the route reads by hand
struct LogQuery {
    /// 1-100 deliveries, newest first (50 when left out).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
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
#[utoipa::path(
    post,
    path = "/api/account/{account_id}/webhooks",
    tag = "Webhooks",
    operation_id = "createWebhook",
    params(AccountPath),
    request_body(content = crate::request::webhook::schema::WebhookRequest, content_type = "application/json"),
    security(("bearer" = []), ("oauth1" = [])),
    responses(
        (status = 201, description = "The endpoint, with its secret (shown only here and on rotation)", body = WithSecret),
        BodyErrors,
        (status = 409, description = "The account has as many endpoints as it may (`limit_reached`)", body = crate::openapi::schema::Error),
        KeyErrors,
    )
)]
pub async fn create_webhook(
    State(state): State<AppState>,
    _: AuthorizedAccount,
    Path(account_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let WebhookBody { url, events } =
        read_json(&headers, body, &state.limits, "request", WebhookBody::read).await?;
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
#[utoipa::path(
    get,
    path = "/api/account/{account_id}/webhooks",
    tag = "Webhooks",
    operation_id = "listWebhooks",
    params(AccountPath),
    security(("bearer" = []), ("oauth1" = [])),
    responses(
        (status = 200, description = "Every endpoint, without its secret", body = WebhookList),
        KeyErrors,
    )
)]
pub async fn list_webhooks(
    State(state): State<AppState>,
    _: AuthorizedAccount,
    Path(account_id): Path<String>,
) -> Result<Response, ApiError> {
    let webhooks = state.store.webhooks(&account_id).await?;
    Ok(axum::Json(WebhookList {
        webhooks: webhooks.iter().map(WebhookView::from).collect(),
    })
    .into_response())
}

/// `DELETE /api/account/{accountId}/webhooks/{webhookId}` → 204; its pending deliveries
/// go with it.
#[tracing::instrument(skip_all, fields(account = %account_id))]
#[utoipa::path(
    delete,
    path = "/api/account/{account_id}/webhooks/{webhook_id}",
    tag = "Webhooks",
    operation_id = "deleteWebhook",
    params(WebhookPath),
    security(("bearer" = []), ("oauth1" = [])),
    responses(
        (status = 204, description = "Deleted, with its pending deliveries"),
        KeyErrors,
    )
)]
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
#[utoipa::path(
    post,
    path = "/api/account/{account_id}/webhooks/{webhook_id}/rotate-secret",
    tag = "Webhooks",
    operation_id = "rotateWebhookSecret",
    params(WebhookPath),
    security(("bearer" = []), ("oauth1" = [])),
    responses(
        (status = 200, description = "The endpoint with its new secret", body = WithSecret),
        KeyErrors,
    )
)]
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
#[utoipa::path(
    post,
    path = "/api/account/{account_id}/webhooks/{webhook_id}/ping",
    tag = "Webhooks",
    operation_id = "pingWebhook",
    params(WebhookPath),
    security(("bearer" = []), ("oauth1" = [])),
    responses(
        (status = 202, description = "A `ping` delivery is queued", body = Queued),
        (status = 409, description = "The account's outbox is full (`limit_reached`)", body = crate::openapi::schema::Error),
        KeyErrors,
    )
)]
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
    Ok((StatusCode::ACCEPTED, axum::Json(Queued { delivery_id })).into_response())
}

/// `GET /api/account/{accountId}/webhooks/{webhookId}/deliveries?limit=`: the delivery
/// log, newest first (at most 100, 50 unless `limit` says).
#[utoipa::path(
    get,
    path = "/api/account/{account_id}/webhooks/{webhook_id}/deliveries",
    tag = "Webhooks",
    operation_id = "listWebhookDeliveries",
    params(WebhookPath, LogQuery),
    security(("bearer" = []), ("oauth1" = [])),
    responses(
        (status = 200, description = "The endpoint's deliveries, newest first", body = DeliveryLog),
        ParamErrors,
        KeyErrors,
    )
)]
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
    Ok(axum::Json(DeliveryLog {
        deliveries: log.iter().map(DeliveryView::from).collect(),
    })
    .into_response())
}

/// `POST /api/account/{accountId}/webhooks/{webhookId}/deliveries/{deliveryId}/redeliver`
/// → 202: pending again, due now, with a new retry period; a disabled endpoint is
/// enabled again.
#[tracing::instrument(skip_all, fields(account = %account_id))]
#[utoipa::path(
    post,
    path = "/api/account/{account_id}/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    tag = "Webhooks",
    operation_id = "redeliverWebhookDelivery",
    params(DeliveryPath),
    security(("bearer" = []), ("oauth1" = [])),
    responses(
        (status = 202, description = "The delivery, queued again", body = DeliveryView),
        KeyErrors,
    )
)]
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
