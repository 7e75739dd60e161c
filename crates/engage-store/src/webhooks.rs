//! Webhooks: an account's endpoints and the durable outbox of their deliveries
//! ([`WebhookStore`], which every [`Store`](crate::Store) is).
//!
//! A delivery is written (with its final body, its id and its signing inputs) before
//! anyone attempts it, and leaves the outbox only by being delivered or by failing for
//! good: a restart loses none. Workers take deliveries by *claiming* them: a claim sets a
//! lease in the same statement that picks them, so on a database shared by several
//! servers each delivery is attempted by one server at a time (PostgreSQL:
//! `FOR UPDATE SKIP LOCKED`; SQLite: the one write transaction). A lease that runs out
//! (the server died mid-attempt) makes the delivery claimable again: receivers drop the
//! repeat by its `Engage-Delivery` id.
//!
//! Order per visitor: a delivery is claimable only when no older delivery of the same
//! endpoint and `order_key` (the visitor) is still pending, so a visitor's happenings
//! reach the receiver in the order they were stored, retries included.

use async_trait::async_trait;

use crate::StoreError;

/// An endpoint as an account registers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhook {
    /// The server checked it (http or https, not a private address unless allowed).
    pub url: String,
    /// What it receives: `offer.clicked`, `lead.submitted`, `purchase`,
    /// `coupon.revealed` or an `LP_OFFERS` event name; checked by the server.
    pub events: Vec<String>,
    /// The HMAC-SHA256 key its deliveries are signed with.
    pub secret: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: String,
    pub account: String,
    pub url: String,
    pub events: Vec<String>,
    pub secret: String,
    pub created_ms: i64,
    /// Deliveries in a row that failed for good; a delivered one resets it.
    pub consecutive_failures: u32,
    /// Set when the endpoint was disabled after repeated permanent failures: nothing is
    /// attempted until a redelivery enables it again.
    pub disabled: Option<Disabled>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disabled {
    pub at_ms: i64,
    pub reason: String,
}

/// A delivery to put in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// A new UUIDv7; kept across retries (the `Engage-Delivery` header).
    pub id: String,
    pub webhook_id: String,
    /// What caused it (an event's or attribute's client id): a second delivery of the
    /// same source to the same endpoint is not stored (the collect route's retries).
    pub source_id: String,
    /// Deliveries of one order key reach the endpoint in the order they were stored.
    pub order_key: String,
    /// The happening's name (`offer.clicked`, `ping`, ...), for the delivery log.
    pub event: String,
    /// The request body, exactly as it will be signed and sent.
    pub body: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryStatus {
    pub(crate) fn code(self) -> i64 {
        match self {
            DeliveryStatus::Pending => 0,
            DeliveryStatus::Delivered => 1,
            DeliveryStatus::Failed => 2,
        }
    }

    pub(crate) fn from_code(code: i64) -> Result<DeliveryStatus, StoreError> {
        match code {
            0 => Ok(DeliveryStatus::Pending),
            1 => Ok(DeliveryStatus::Delivered),
            2 => Ok(DeliveryStatus::Failed),
            other => Err(StoreError::Backend(format!(
                "unknown webhook delivery status {other}"
            ))),
        }
    }
}

/// One delivery as the log shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: String,
    pub webhook_id: String,
    pub event: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub created_ms: i64,
    /// When the retries began (creation, or the last manual redelivery): retries stop
    /// a configured time after it.
    pub retry_from_ms: i64,
    /// When it is next attempted, while pending.
    pub next_attempt_ms: i64,
    pub last_attempt_ms: Option<i64>,
    /// The receiver's last HTTP status, when it answered.
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub delivered_ms: Option<i64>,
}

/// A delivery a worker claimed, with what it needs to make the attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedDelivery {
    pub delivery: Delivery,
    pub account: String,
    pub url: String,
    pub secret: String,
    pub body: String,
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptResult {
    Delivered {
        status: u16,
    },
    /// Tried again at `next_attempt_ms`.
    Retry {
        status: Option<u16>,
        error: String,
        next_attempt_ms: i64,
    },
    /// Given up: counts towards disabling the endpoint.
    Failed {
        status: Option<u16>,
        error: String,
    },
}

/// What [`WebhookStore::enqueue_deliveries`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EnqueueOutcome {
    pub queued: usize,
    /// Already in the outbox (the same source for the same endpoint).
    pub duplicates: usize,
    /// Not stored: the account's outbox was full.
    pub refused: usize,
}

#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Registers an endpoint with a new id; `None` when the account has
    /// `max_per_account` already. `UnknownAccount` for no such account.
    async fn create_webhook(
        &self,
        account_id: &str,
        new: NewWebhook,
        max_per_account: usize,
    ) -> Result<Option<Webhook>, StoreError>;

    /// The account's endpoints, oldest first.
    async fn webhooks(&self, account_id: &str) -> Result<Vec<Webhook>, StoreError>;

    async fn webhook(
        &self,
        account_id: &str,
        webhook_id: &str,
    ) -> Result<Option<Webhook>, StoreError>;

    /// Deletes an endpoint and its deliveries; `false` when the account has no such one.
    async fn delete_webhook(&self, account_id: &str, webhook_id: &str) -> Result<bool, StoreError>;

    /// Replaces an endpoint's secret; deliveries not yet made are signed with the new one.
    async fn rotate_webhook_secret(
        &self,
        account_id: &str,
        webhook_id: &str,
        secret: String,
    ) -> Result<Option<Webhook>, StoreError>;

    /// Puts deliveries in the outbox, due at `now_ms`, in the order given: at most
    /// `max_pending` pending per account (the rest are refused), none twice for the same
    /// `(webhook, source_id)`. Deliveries of an endpoint that no longer exists are
    /// dropped (counted as refused).
    async fn enqueue_deliveries(
        &self,
        account_id: &str,
        deliveries: Vec<NewDelivery>,
        max_pending: u64,
        now_ms: i64,
    ) -> Result<EnqueueOutcome, StoreError>;

    /// Claims up to `limit` deliveries that are due, of enabled endpoints, not leased,
    /// each the oldest pending one of its endpoint and order key; leases them until
    /// `lease_until_ms`. Of any account: the workers serve them all.
    async fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;

    /// Records an attempt and ends the lease. A delivery that failed for good adds one
    /// to its endpoint's failures in a row; at `disable_after` the endpoint is disabled
    /// with the reason. A delivered one resets the count.
    async fn finish_attempt(
        &self,
        delivery_id: &str,
        attempt_ms: i64,
        result: AttemptResult,
        disable_after: u32,
    ) -> Result<(), StoreError>;

    /// An endpoint's deliveries, newest first, at most `limit`; `None` for no such
    /// endpoint in the account.
    async fn deliveries(
        &self,
        account_id: &str,
        webhook_id: &str,
        limit: usize,
    ) -> Result<Option<Vec<Delivery>>, StoreError>;

    /// Makes a delivery pending again, due now, with a fresh retry period, and enables
    /// its endpoint if it was disabled; `None` for no such delivery of the endpoint.
    async fn redeliver(
        &self,
        account_id: &str,
        webhook_id: &str,
        delivery_id: &str,
        now_ms: i64,
    ) -> Result<Option<Delivery>, StoreError>;

    /// How many deliveries of the account are pending.
    async fn pending_deliveries(&self, account_id: &str) -> Result<u64, StoreError>;

    /// Deletes finished (delivered or failed) deliveries finished before `before_ms`;
    /// answers how many.
    async fn prune_deliveries(&self, before_ms: i64) -> Result<u64, StoreError>;
}
