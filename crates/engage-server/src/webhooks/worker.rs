//! The delivery loop [`serve`](crate::serve) runs beside the listener: claim what is due
//! (leased to this server for `lease`), post each with its signature, record how it went.
//!
//! A claim holds at most one delivery per endpoint and visitor (the store's order rule),
//! so the claimed ones are posted concurrently without reordering anyone's. A full claim
//! is followed at once by the next; otherwise the loop waits `poll`. Stopping it (the
//! server shuts down, or dies) mid-attempt leaves the lease to run out: another server,
//! or this one restarted, attempts the delivery again with the same `Engage-Delivery`.

use std::time::Duration;

use engage_store::{ids, AttemptResult, ClaimedDelivery};

use super::signature;
use crate::AppState;

/// How often finished deliveries older than `keep_finished` are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// How much of a refusing receiver's answer the log keeps.
const MAX_ERROR_BODY: usize = 200;

/// Runs until the task is dropped.
pub async fn run(state: AppState) {
    let webhooks = state.webhooks.clone();
    let config = &webhooks.config;
    let mut last_prune = tokio::time::Instant::now()
        .checked_sub(PRUNE_EVERY)
        .unwrap_or_else(tokio::time::Instant::now);
    loop {
        if last_prune.elapsed() >= PRUNE_EVERY {
            last_prune = tokio::time::Instant::now();
            let before = ids::now_ms() - millis(config.keep_finished);
            if let Err(error) = state.store.prune_deliveries(before).await {
                tracing::warn!(%error, "pruning the webhook delivery log failed");
            }
        }
        let now = ids::now_ms();
        let claimed = match state
            .store
            .claim_deliveries(now, now + millis(config.lease), config.concurrency)
            .await
        {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(%error, "claiming webhook deliveries failed");
                Vec::new()
            }
        };
        let full = claimed.len() >= config.concurrency;
        let attempts: Vec<_> = claimed
            .into_iter()
            .map(|delivery| {
                let state = state.clone();
                tokio::spawn(async move { attempt(&state, delivery).await })
            })
            .collect();
        for a in attempts {
            if let Err(error) = a.await {
                tracing::warn!(%error, "a webhook delivery task failed");
            }
        }
        if !full {
            tokio::time::sleep(config.poll).await;
        }
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Posts one delivery and records the outcome.
#[tracing::instrument(skip_all, fields(account = %claimed.account, delivery = %claimed.delivery.id))]
async fn attempt(state: &AppState, claimed: ClaimedDelivery) {
    let config = &state.webhooks.config;
    let started_ms = ids::now_ms();
    let timestamp_s = started_ms / 1000;
    let d = &claimed.delivery;
    let secret =
        crate::secrets::webhook_secret(state.secrets.as_deref(), &claimed.account, &claimed.secret);
    let ready = match (state.webhooks.client(), secret) {
        (Ok(client), Ok(secret)) => Ok((client, secret)),
        (Err(why), _) => Err(why.to_owned()),
        (_, Err(_)) => Err(
            "the endpoint's secret does not open with this server's secret \
                            key file (--secret-key-file)"
                .to_owned(),
        ),
    };
    let (client, secret) = match ready {
        Ok(ready) => ready,
        Err(error) => {
            let next_attempt_ms = started_ms + millis(config.retry_delay(d.attempts + 1));
            let result = AttemptResult::Retry {
                status: None,
                error,
                next_attempt_ms,
            };
            state.metrics.record_webhook_attempt("retry");
            let _ = state
                .store
                .finish_attempt(&d.id, started_ms, result, config.disable_after)
                .await;
            return;
        }
    };
    let sent = client
        .post(&claimed.url)
        .header("content-type", "application/json")
        .header("engage-delivery", &d.id)
        .header("engage-event", &d.event)
        .header(
            "engage-signature",
            signature(&secret, timestamp_s, &claimed.body),
        )
        .body(claimed.body.clone())
        .send()
        .await;
    let (status, error) = match sent {
        Ok(response) if response.status().is_success() => (Some(response.status().as_u16()), None),
        Ok(response) => {
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            let mut said: String = text.chars().take(MAX_ERROR_BODY).collect();
            if said.len() < text.len() {
                said.push('…');
            }
            (
                Some(status.as_u16()),
                Some(if said.trim().is_empty() {
                    format!("answered {status}")
                } else {
                    format!("answered {status}: {}", said.trim())
                }),
            )
        }
        Err(e) => (None, Some(describe(&e))),
    };
    let finished_ms = ids::now_ms();
    let result = match (status, error) {
        (Some(status), None) => AttemptResult::Delivered { status },
        // The receiver says the endpoint is gone for good.
        (Some(410), Some(error)) => AttemptResult::Failed {
            status: Some(410),
            error,
        },
        (status, Some(error)) => {
            let given_up = finished_ms - d.retry_from_ms >= millis(config.give_up_after);
            if given_up {
                AttemptResult::Failed {
                    status,
                    error: format!(
                        "{error} (retried for {} hours)",
                        config.give_up_after.as_secs() / 3600
                    ),
                }
            } else {
                AttemptResult::Retry {
                    status,
                    error,
                    next_attempt_ms: finished_ms + millis(config.retry_delay(d.attempts + 1)),
                }
            }
        }
        (None, None) => AttemptResult::Retry {
            status: None,
            error: "no answer".into(),
            next_attempt_ms: finished_ms + millis(config.retry_delay(d.attempts + 1)),
        },
    };
    let outcome = match &result {
        AttemptResult::Delivered { .. } => "delivered",
        AttemptResult::Retry { error, .. } => {
            tracing::debug!(%error, "webhook delivery failed; retrying later");
            "retry"
        }
        AttemptResult::Failed { error, .. } => {
            tracing::warn!(%error, "webhook delivery failed for good");
            "failed"
        }
    };
    state.metrics.record_webhook_attempt(outcome);
    if let Err(error) = state
        .store
        .finish_attempt(&d.id, finished_ms, result, config.disable_after)
        .await
    {
        // The lease runs out and the delivery is attempted again.
        tracing::warn!(%error, "recording a webhook attempt failed");
    }
}

/// A transport error with its causes (reqwest's own message says little).
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
