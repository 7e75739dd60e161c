//! The change feed on PostgreSQL: the admin tables' triggers (schema version 2) send
//! `pg_notify('engage_changes', account)` in the writing transaction; each store keeps
//! one connection of its own outside the pool that `LISTEN`s and forwards what it hears.
//!
//! The first `LISTEN` is done before the store is opened, so every change committed
//! after `open` returned is heard. When the connection is lost, notifications sent
//! meanwhile are lost with it: the listener reconnects with a growing backoff and, once
//! it listens again, publishes `Change::Everything` so that subscribers drop all they
//! cached.

use std::future::poll_fn;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, Client, Config, NoTls};

use super::schema::CHANGES_CHANNEL;
use crate::changes::ChangeFeed;
use crate::{Change, StoreError};

const FIRST_RETRY: Duration = Duration::from_millis(100);
const LONGEST_RETRY: Duration = Duration::from_secs(10);

/// A listening connection: the client (dropping it closes the connection) and the task
/// that drives the connection and forwards notifications (it ends with the connection).
struct Listening {
    _client: Client,
    driver: JoinHandle<()>,
}

/// Listens once, then keeps listening in a task of its own (abort it to stop).
pub(crate) async fn start(config: Config, feed: ChangeFeed) -> Result<JoinHandle<()>, StoreError> {
    let first = listen(&config, &feed).await.map_err(|e| {
        StoreError::InvalidLocation(format!("cannot LISTEN for changes: {}", super::pg_err(e)))
    })?;
    Ok(tokio::spawn(keep_listening(config, feed, first)))
}

async fn keep_listening(config: Config, feed: ChangeFeed, mut current: Listening) {
    loop {
        // The driver ends only when the connection does.
        let _ = (&mut current.driver).await;
        tracing::warn!("lost the connection that listens for admin changes; reconnecting");
        let mut wait = FIRST_RETRY;
        current = loop {
            tokio::time::sleep(wait).await;
            match listen(&config, &feed).await {
                Ok(listening) => break listening,
                Err(e) => {
                    tracing::warn!(error = %super::pg_err(e), retry_in_ms = wait.as_millis() as u64,
                        "cannot listen for admin changes");
                    wait = (wait * 2).min(LONGEST_RETRY);
                }
            }
        };
        tracing::info!("listening for admin changes again");
        feed.publish(Change::Everything);
    }
}

/// Connects, starts forwarding notifications and runs `LISTEN`.
async fn listen(config: &Config, feed: &ChangeFeed) -> Result<Listening, tokio_postgres::Error> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let forward = feed.clone();
    let driver = tokio::spawn(async move {
        loop {
            match poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(n))) if n.channel() == CHANGES_CHANNEL => {
                    forward.publish(Change::Account(n.payload().to_owned()));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "the listening connection failed");
                    return;
                }
                None => return,
            }
        }
    });
    match client
        .batch_execute(&format!("LISTEN {CHANGES_CHANNEL}"))
        .await
    {
        Ok(()) => Ok(Listening {
            _client: client,
            driver,
        }),
        Err(e) => {
            driver.abort();
            Err(e)
        }
    }
}
