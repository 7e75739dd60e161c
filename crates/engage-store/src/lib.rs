//! Engage's storage: the [`Store`] trait every backend implements, the records that
//! cross it, and [`StoreError`].
//!
//! - [`sqlite`]: the embedded default (one file, WAL, group commit on a writer thread).
//! - `postgres`: PostgreSQL, for several servers sharing one database (cargo feature
//!   `postgres`, on by default).
//! - `conformance`: the suite that defines a correct backend; each backend's tests
//!   expand it with `store_conformance_tests!`.
//! - `campaigns`: apps, campaigns and revisioned engagements ([`CampaignStore`], which
//!   every [`Store`] is); `campaign_conformance` is its part of the suite.
//! - `webhooks`: an account's webhook endpoints and the durable outbox of their
//!   deliveries ([`WebhookStore`], which every [`Store`] is); `webhook_conformance` is
//!   its part of the suite.
//! - `history`: the Engagement History API's query and its interaction records;
//!   `history_conformance` is its part of the suite.
//! - `console_conformance`: the suite's part for console sessions
//!   ([`Store::create_console_session`] and its neighbours).
//! - [`analytics`]: the rollups reports read, kept by the write path, and the report's
//!   arithmetic; `analytics_conformance` is its part of the suite.
//! - `sample`: one valid event and attribute of each type, for the suite and the tests.
//! - [`open`]: picks a backend from a database URL.
//! - [`changes`](Change): the change feed admin writes publish, so every server drops
//!   what it cached of a changed account.
//! - [`ids`]: the clock and every id Engage makes (visitors, contexts, accounts, keys).
//! - `privacy`: erasure and access ([`ErasureTarget`], [`ErasureCounts`], the erasure
//!   log, [`VisitorData`]).
//! - `records` and [`RawJson`]: the records that cross the trait; the parts of them that
//!   are JSON documents of their own are kept as their text.
//!
//! The suite and its samples are compiled only with the `conformance` feature (which this
//! crate's own tests and a backend's tests turn on) and in unit tests, so the product's
//! binary carries none of them.
//!
//! Nothing here knows about HTTP; nothing above the trait knows which database is below.

pub mod analytics;
#[cfg(feature = "conformance")]
pub mod analytics_conformance;
#[cfg(feature = "conformance")]
pub mod campaign_conformance;
mod campaigns;
mod changes;
#[cfg(feature = "conformance")]
pub mod conformance;
#[cfg(feature = "conformance")]
pub mod console_conformance;
mod history;
#[cfg(feature = "conformance")]
pub mod history_conformance;
pub mod ids;
pub mod migration;
mod open;
#[cfg(feature = "postgres")]
pub mod postgres;
mod privacy;
#[cfg(feature = "conformance")]
pub mod privacy_conformance;
mod records;
#[cfg(any(test, feature = "conformance"))]
mod sample;
pub mod sqlite;
#[cfg(feature = "conformance")]
pub mod webhook_conformance;
mod webhooks;

use async_trait::async_trait;

pub use campaigns::*;
pub use changes::Change;
pub use history::*;
pub use open::{open, StoreUrl};
pub use privacy::*;
pub use records::*;
pub use webhooks::*;

/// What can go wrong below the trait. Driver errors are translated inside the backend.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL names a backend this build does not have.
    #[error("unsupported backend `{0}`: use sqlite://PATH or postgres://USER@HOST/DATABASE")]
    UnsupportedBackend(String),
    /// The database URL or data directory cannot be used.
    #[error("invalid database location: {0}")]
    InvalidLocation(String),
    /// The account does not exist.
    #[error("unknown account `{0}`")]
    UnknownAccount(String),
    /// A name or key that must be unique is taken.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The batch names a session or page that belongs to another visitor or session
    /// (`pointer` is the batch member at fault, e.g. `/sessionId`). Nothing was written.
    #[error("{message}")]
    IdentityConflict {
        pointer: &'static str,
        message: String,
    },
    /// The store is shutting down and takes no more writes.
    #[error("the store is closed")]
    Closed,
    /// The storage cannot take writes for now (SQLite: the disk is full). Nothing of the
    /// failed write was kept; the same write succeeds once space returns. Reads go on.
    #[error("storage temporarily unavailable: {0}")]
    Unavailable(String),
    /// The database failed; the detail is for the log, not for clients.
    #[error("database error: {0}")]
    Backend(String),
}

/// Durable storage for accounts, visits, events, attributes and the quarantine.
///
/// Contract for writes: [`Store::ingest`] returns only after the batch is durable
/// (committed with a synced log); concurrent calls may share one transaction.
#[async_trait]
pub trait Store: CampaignStore + WebhookStore + Send + Sync + 'static {
    /// A short name of the backend, for logs and `/metrics`.
    fn backend(&self) -> &'static str;

    /// Creates an account; `api_key_hash` is the hex SHA-256 of its key.
    async fn create_account(&self, new: NewAccount) -> Result<Account, StoreError>;

    /// The account with this id, if any.
    async fn account(&self, account_id: &str) -> Result<Option<Account>, StoreError>;

    /// Replaces the origins whose pages may post to the account (empty: every origin) and
    /// returns the account as it now is.
    async fn set_allowed_origins(
        &self,
        account_id: &str,
        origins: Vec<String>,
    ) -> Result<Account, StoreError>;

    /// The account whose API key has this hash, if any: tells a key of another account
    /// (403) from a key of none (401).
    async fn account_by_key_hash(&self, api_key_hash: &str) -> Result<Option<Account>, StoreError>;

    /// Writes one collect or Monitoring API batch. Items whose `(account, client_id)` is
    /// already stored are not written again and are counted as duplicates. Rejected items
    /// go to the quarantine. The visit and its page are created or updated, and every
    /// accepted SDE is folded into the visit's attribute state (docs/vocabulary.md,
    /// Visit rule).
    async fn ingest(&self, batch: IngestBatch) -> Result<IngestOutcome, StoreError>;

    /// Whether a visitor and a session are known, for the Monitoring API's 404s.
    async fn lookup_session(
        &self,
        account_id: &str,
        visitor_id: &str,
        session_id: &str,
    ) -> Result<SessionLookup, StoreError>;

    /// The visitor a consumer identity (the Monitoring API's `identities[].sub` or
    /// `consumerId`) is linked to in this account, if any.
    async fn identity_visitor(
        &self,
        account_id: &str,
        identity: &str,
    ) -> Result<Option<String>, StoreError>;

    /// Links a consumer identity to `visitor_id` unless it is linked already; answers the
    /// visitor it is linked to (the first one linked keeps it).
    async fn link_identity(
        &self,
        account_id: &str,
        identity: &str,
        visitor_id: &str,
    ) -> Result<String, StoreError>;

    /// Records the engagement contexts the Monitoring API's `engagement` call exposed to
    /// a session (a context already recorded is kept as it was).
    async fn record_exposures(
        &self,
        account_id: &str,
        session_id: &str,
        exposures: &[Exposure],
    ) -> Result<(), StoreError>;

    /// The exposure of `context_id` to a session, if there was one.
    async fn exposure(
        &self,
        account_id: &str,
        session_id: &str,
        context_id: &str,
    ) -> Result<Option<Exposure>, StoreError>;

    /// The latest context a session was exposed to for one engagement, if any.
    async fn latest_exposure(
        &self,
        account_id: &str,
        session_id: &str,
        campaign_id: u64,
        engagement_id: u64,
    ) -> Result<Option<Exposure>, StoreError>;

    /// A visit's merged attribute state, if the session exists.
    async fn visit(&self, account_id: &str, session_id: &str) -> Result<Option<Visit>, StoreError>;

    /// Quarantined inputs of an account, oldest first, after `after_id`, at most `limit`.
    async fn quarantine(
        &self,
        account_id: &str,
        query: QuarantineQuery,
    ) -> Result<Vec<QuarantineEntry>, StoreError>;

    /// What the account's pending (not replayed) quarantine entries take: how many, and
    /// the bytes of their raw text. The server's per-account quarantine quota reads it.
    async fn quarantine_usage(&self, account_id: &str) -> Result<QuarantineUsage, StoreError>;

    /// Marks quarantine entries as replayed (their good items were ingested again).
    async fn mark_replayed(
        &self,
        account_id: &str,
        ids: &[i64],
        replayed_ms: i64,
    ) -> Result<(), StoreError>;

    /// One page of the account's interactions that match `query`, with the number that
    /// match over all pages (docs/vocabulary.md, Engagement History API).
    async fn search_interactions(
        &self,
        account_id: &str,
        query: InteractionQuery,
    ) -> Result<InteractionPage, StoreError>;

    /// How many items of a kind an account has, for progress reporting.
    async fn count(&self, account_id: &str, kind: ExportKind) -> Result<u64, StoreError>;

    /// One page of an account's stored items in storage order, as NDJSON-ready JSON
    /// objects, after `cursor` (`None` for the start). Returns the items and the cursor
    /// of the last one.
    async fn export_page(
        &self,
        account_id: &str,
        kind: ExportKind,
        cursor: Option<i64>,
        limit: usize,
    ) -> Result<ExportPage, StoreError>;

    /// Stores a new OAuth 1.0a key: `UnknownAccount` for no such account, `Conflict` when
    /// the account already has a key with this app key.
    async fn create_oauth_key(&self, key: OAuthKey) -> Result<OAuthKey, StoreError>;

    /// The keys with this app key and access token, of any account (at most a few:
    /// both are random), to tell another account's key (403) from none (401).
    async fn oauth_keys_by_token(
        &self,
        app_key: &str,
        access_token: &str,
    ) -> Result<Vec<OAuthKey>, StoreError>;

    /// The account's OAuth keys, oldest first.
    async fn oauth_keys(&self, account_id: &str) -> Result<Vec<OAuthKey>, StoreError>;

    /// Deletes the account's key with this app key; `false` when it had none.
    async fn revoke_oauth_key(&self, account_id: &str, app_key: &str) -> Result<bool, StoreError>;

    /// The change feed: a [`Change`] after each committed admin write made through any
    /// handle on the same data (on PostgreSQL, any server), and `Change::Everything` when
    /// changes may have been missed. A receiver that lags must treat the lag as
    /// `Change::Everything` too.
    fn changes(&self) -> tokio::sync::broadcast::Receiver<Change>;

    /// Claims an OAuth 1.0a nonce for the account until `expires_s` (seconds): `true` the
    /// first time, `false` while an earlier claim of the same key has not expired (a
    /// replay, whichever server saw it first). Expired claims are pruned.
    async fn claim_nonce(
        &self,
        account_id: &str,
        nonce_key: &str,
        expires_s: i64,
        now_s: i64,
    ) -> Result<bool, StoreError>;

    /// Stores a console session (`UnknownAccount` for no such account). Expired sessions
    /// are pruned, and past [`MAX_CONSOLE_SESSIONS_PER_ACCOUNT`] the account's oldest ones
    /// end.
    async fn create_console_session(&self, session: ConsoleSession) -> Result<(), StoreError>;

    /// The account's session with this token hash, unless it ended or expired by `now_ms`.
    async fn console_session(
        &self,
        account_id: &str,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<Option<ConsoleSession>, StoreError>;

    /// Ends a console session (sign-out); `false` when there was none.
    async fn end_console_session(
        &self,
        account_id: &str,
        token_hash: &str,
    ) -> Result<bool, StoreError>;
    /// Everything held about one visitor of the account (visits, page views, events,
    /// attributes, linked identities, quarantined inputs naming them); `None` when
    /// nothing is.
    async fn visitor_data(
        &self,
        account_id: &str,
        visitor_id: &str,
    ) -> Result<Option<VisitorData>, StoreError>;

    /// Removes every trace of a visitor, or of every visitor who reported a customer id
    /// (docs/operations.md, Erasure), in one transaction, and adds a line to the
    /// account's erasure log (when and how much, never whose). `UnknownAccount` for no
    /// such account.
    async fn erase(
        &self,
        account_id: &str,
        target: ErasureTarget,
    ) -> Result<ErasureCounts, StoreError>;

    /// The account's erasure log, newest first, at most `limit` entries.
    async fn erasure_log(
        &self,
        account_id: &str,
        limit: usize,
    ) -> Result<Vec<ErasureLogEntry>, StoreError>;

    /// The account's retention in days (`None`: its data is kept for ever).
    async fn retention(&self, account_id: &str) -> Result<Option<u32>, StoreError>;

    /// Sets the account's retention in days (`None`: keep for ever); `UnknownAccount`
    /// for no such account.
    async fn set_retention(&self, account_id: &str, days: Option<u32>) -> Result<(), StoreError>;

    /// One step of the retention sweep, in one small transaction: removes at most
    /// `max_visits` visits whose last activity is older than their account's retention
    /// (with everything of them), the quarantined inputs received before it and the
    /// identities left without a visit (docs/operations.md, Retention). Call again while
    /// the answer says `more`.
    async fn sweep_retention(
        &self,
        now_ms: i64,
        max_visits: usize,
    ) -> Result<RetentionStep, StoreError>;

    /// Records that visitors were found eligible for campaigns (exposed or held out):
    /// at most one row per (campaign, visitor, UTC day), the first of the day, and the
    /// visitor's first eligibility ever per campaign (docs/analytics.md). Answers how
    /// many per-day rows were new. Durable when it returns.
    async fn record_eligibility(
        &self,
        account_id: &str,
        records: Vec<analytics::EligibilityRecord>,
    ) -> Result<usize, StoreError>;

    /// What a report over `scope` reads from the rollups (see [`analytics::AnalyticsFacts`]).
    async fn analytics_facts(
        &self,
        account_id: &str,
        scope: analytics::AnalyticsScope,
    ) -> Result<analytics::AnalyticsFacts, StoreError>;

    /// One side's rollup rows (people's, or bots' with `bot`) whose own times are at or
    /// after `since_ms`, whatever their campaign, read in one snapshot: what a copy of
    /// the account's facts in memory loads (`since_ms` = `i64::MIN`) and catches up with.
    /// Visitor hours and offer counts of the hours from `hour_of(since_ms)`, eligibility
    /// and first eligibility rows by their time, offer visitors whose first impression
    /// or first click is at or after `since_ms`, purchases by their time; offer counts
    /// are the hour's whole counts. No cohort filter: the reader keeps what a report
    /// keeps (see [`analytics::AnalyticsFacts`]).
    async fn analytics_side_since(
        &self,
        account_id: &str,
        bot: bool,
        since_ms: i64,
    ) -> Result<analytics::AnalyticsFacts, StoreError>;

    /// The account's analytics generation: bumped in the transaction of each erasure or
    /// retention step that removed rollup rows (0 before any), so a copy of the facts
    /// made at another generation is known to hold rows the store no longer has.
    async fn analytics_generation(&self, account_id: &str) -> Result<u64, StoreError>;

    /// The step occurrences a funnel over `scope` reads, from the step rollup (see
    /// [`analytics::StepOccurrence`]), in no particular order.
    async fn funnel_steps(
        &self,
        account_id: &str,
        scope: analytics::StepScope,
    ) -> Result<Vec<analytics::StepOccurrence>, StoreError>;

    /// Finishes pending writes and stops taking new ones.
    async fn close(&self) -> Result<(), StoreError>;
}
