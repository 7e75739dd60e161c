//! What `engage migrate` carries from a SQLite store to a PostgreSQL one: the admin
//! rows copied as they are, and the visits replayed as the batches that made them.
//!
//! The source side is `sqlite::source`, the target side `postgres::import`. Admin rows
//! keep their ids (accounts, campaigns, engagements, revisions, apps, keys, quarantine
//! entries are named by id in the API); visits, pages, interactions, events and
//! attributes are written by the target's own ingest, so they land in its layout and
//! exactly-once makes a chunk written twice (an interrupted run) harmless.

use serde::Serialize;

use crate::{IngestBatch, OAuthKey};

/// One app installation row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRow {
    pub app_id: String,
    pub name: String,
    pub created_ms: i64,
}

/// One campaign row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignRow {
    pub campaign_id: u64,
    pub name: String,
    pub goal: Option<String>,
    pub priority: i64,
    pub enabled: bool,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// One engagement row (its newest revision's number and its state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngagementRow {
    pub engagement_id: u64,
    pub campaign_id: u64,
    pub revision: i64,
    pub state: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// One engagement revision: the definition's JSON text as stored (both backends store
/// the same text, `sqlite::campaigns::StoredDefinition`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevisionRow {
    pub engagement_id: u64,
    pub revision: i64,
    pub created_ms: i64,
    pub definition: String,
}

/// A consumer identity linked to a visitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityRow {
    pub identity: String,
    pub visitor_id: String,
    pub created_ms: i64,
}

/// An engagement context shown to a session by the Monitoring API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExposureRow {
    pub session_id: String,
    pub context_id: String,
    pub campaign_id: u64,
    pub engagement_id: u64,
    pub shown_ms: i64,
}

/// A claimed OAuth nonce, kept until it expires so a replay stays refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonceRow {
    pub nonce_key: String,
    pub expires_s: i64,
}

/// One quarantine entry with its stored columns as they are (its id is the one the
/// replay API names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineRow {
    pub id: i64,
    pub received_ms: i64,
    pub kind: String,
    pub idx: Option<i64>,
    pub client_id: Option<String>,
    pub raw: String,
    pub context: String,
    pub errors: String,
    pub replayed_ms: Option<i64>,
}

/// Everything of one account that is not visit data: small, copied in one transaction.
/// OAuth secrets stay sealed as they are, so the target's servers need the source's
/// secret key file.
#[derive(Debug, Clone, Default)]
pub struct AdminRows {
    pub apps: Vec<AppRow>,
    pub campaigns: Vec<CampaignRow>,
    pub engagements: Vec<EngagementRow>,
    pub revisions: Vec<RevisionRow>,
    pub oauth_keys: Vec<OAuthKey>,
    pub identities: Vec<IdentityRow>,
    pub exposures: Vec<ExposureRow>,
    pub nonces: Vec<NonceRow>,
}

/// A run of an account's visits as the batches that made them, oldest visit first;
/// each visit's batches in the order they arrived.
#[derive(Debug, Clone, Default)]
pub struct VisitChunk {
    pub batches: Vec<IngestBatch>,
    /// How many visits the chunk holds.
    pub visits: u64,
    /// The source id of its last visit: where the next chunk starts (the checkpoint).
    pub last_visit: Option<i64>,
}

/// How many of each thing an account holds, compared between source and target at the
/// end of a migration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AccountCounts {
    pub apps: u64,
    pub campaigns: u64,
    pub engagements: u64,
    pub revisions: u64,
    pub oauth_keys: u64,
    pub identities: u64,
    pub exposures: u64,
    pub visits: u64,
    pub pages: u64,
    pub interactions: u64,
    pub events: u64,
    pub sdes: u64,
    pub quarantine: u64,
}

impl AccountCounts {
    /// `(name, source, target)` of every count that differs.
    pub fn differences(&self, target: &AccountCounts) -> Vec<(&'static str, u64, u64)> {
        let pairs = [
            ("apps", self.apps, target.apps),
            ("campaigns", self.campaigns, target.campaigns),
            ("engagements", self.engagements, target.engagements),
            ("revisions", self.revisions, target.revisions),
            ("oauth_keys", self.oauth_keys, target.oauth_keys),
            ("identities", self.identities, target.identities),
            ("exposures", self.exposures, target.exposures),
            ("visits", self.visits, target.visits),
            ("pages", self.pages, target.pages),
            ("interactions", self.interactions, target.interactions),
            ("events", self.events, target.events),
            ("sdes", self.sdes, target.sdes),
            ("quarantine", self.quarantine, target.quarantine),
        ];
        pairs.into_iter().filter(|(_, s, t)| s != t).collect()
    }
}
