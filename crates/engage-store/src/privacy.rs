//! The records of erasure and access: whose data an erasure removes, what it removed,
//! the erasure log, and everything held about one visitor.

use serde::{Deserialize, Serialize};

use crate::{QuarantineEntry, RawJson};

/// Whose data [`crate::Store::erase`] removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErasureTarget {
    /// One visitor id of the account.
    Visitor(String),
    /// Every visitor who reported this `customerId` in a `ctmrinfo` (customerInfo)
    /// attribute.
    Customer(String),
}

impl ErasureTarget {
    /// `visitor` or `customer`, for the erasure log (which keeps never the id itself).
    pub fn kind(&self) -> &'static str {
        match self {
            ErasureTarget::Visitor(_) => "visitor",
            ErasureTarget::Customer(_) => "customer",
        }
    }
}

/// The results rollups that name a visitor (`account`, `visitor_id`): erasure removes
/// their rows, people's and bots' (`analytics::rollup_table`); `analytics_offer_counts`
/// and its bots' twin hold counts only.
pub const VISITOR_ROLLUPS: [&str; 12] = [
    "analytics_visitors",
    "analytics_eligibility",
    "analytics_cohort",
    "analytics_offer_visitors",
    "analytics_purchases",
    "analytics_steps",
    "analytics_bot_visitors",
    "analytics_bot_eligibility",
    "analytics_bot_cohort",
    "analytics_bot_offer_visitors",
    "analytics_bot_purchases",
    "analytics_bot_steps",
];

/// What an erasure removed, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErasureCounts {
    /// Distinct visitor ids whose data was removed.
    pub visitors: u64,
    /// Visits (sessions) with their attribute state.
    pub visits: u64,
    /// Page views.
    pub pages: u64,
    /// Interactions (engagement contexts) of those visits.
    pub interactions: u64,
    /// `LP_OFFERS` events, with their exactly-once keys.
    pub events: u64,
    /// Attributes (SDEs), with their exactly-once keys and their text index entries.
    pub attributes: u64,
    /// Consumer identities linked to the visitors (Monitoring API).
    pub identities: u64,
    /// Engagement contexts the Monitoring API exposed to their sessions.
    pub exposures: u64,
    /// Quarantined inputs that named them.
    pub quarantined: u64,
    /// Webhook deliveries about them, sent or waiting (their bodies carry what they did).
    pub webhook_deliveries: u64,
    /// Rows of the results rollups that name them (docs/analytics.md).
    pub rollups: u64,
}

impl ErasureCounts {
    /// Adds what `other` removed.
    pub fn add(&mut self, other: &ErasureCounts) {
        self.visitors += other.visitors;
        self.visits += other.visits;
        self.pages += other.pages;
        self.interactions += other.interactions;
        self.events += other.events;
        self.attributes += other.attributes;
        self.identities += other.identities;
        self.exposures += other.exposures;
        self.quarantined += other.quarantined;
        self.webhook_deliveries += other.webhook_deliveries;
        self.rollups += other.rollups;
    }

    /// Whether nothing was found to remove.
    pub fn is_empty(&self) -> bool {
        *self == ErasureCounts::default()
    }
}

/// One line of an account's erasure log: when, what kind of request and how much was
/// removed; never the ids or values erased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErasureLogEntry {
    pub id: i64,
    pub erased_ms: i64,
    /// `visitor` or `customer` ([`ErasureTarget::kind`]).
    pub target: String,
    pub removed: ErasureCounts,
}

/// Everything held about one visitor ([`crate::Store::visitor_data`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VisitorData {
    pub visitor_id: String,
    /// Oldest first.
    pub visits: Vec<VisitorVisit>,
    /// Every event, as the export writes it, in storage order.
    pub events: Vec<RawJson>,
    /// Every attribute, as the export writes it, in storage order.
    pub attributes: Vec<RawJson>,
    /// Consumer identities (Monitoring API) linked to the visitor.
    pub identities: Vec<String>,
    /// Quarantined inputs that name the visitor.
    pub quarantined: Vec<QuarantineEntry>,
}

/// One visit of [`VisitorData`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VisitorVisit {
    pub session_id: String,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    pub user_agent: Option<String>,
    pub referrer: Option<String>,
    /// What an app said about its device (Monitoring API `clientProperties`).
    pub client_properties: Option<RawJson>,
    /// Oldest first.
    pub pages: Vec<VisitorPage>,
    /// Engagement contexts the Monitoring API exposed to the session.
    pub exposures: Vec<String>,
}

/// One page view of a [`VisitorVisit`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VisitorPage {
    pub page_id: String,
    pub url: Option<String>,
    pub referrer: Option<String>,
    pub title: Option<String>,
    pub sections: Vec<String>,
    pub user_agent: Option<String>,
    pub received_ms: i64,
}

/// Whether a quarantined input names `id` (a visitor or customer id): its stored
/// context's `visitorId` is `id`, or its raw text holds `id` as a JSON string. The raw
/// text is matched as text because a rejected input may not be JSON at all.
pub(crate) fn quarantine_names(raw: &str, context: &str, id: &str) -> bool {
    let Ok(quoted) = serde_json::to_string(id) else {
        return false;
    };
    let context_visitor = engage_model::Tape::parse_str(context)
        .ok()
        .and_then(|tape| {
            tape.root()
                .get("visitorId")
                .and_then(|v| v.as_str().map(str::to_owned))
        });
    context_visitor.as_deref() == Some(id) || raw.contains(&quoted)
}

/// `id` as it appears inside a JSON string (escaped, without the quotes): what the
/// stores search the quarantine's text for before [`quarantine_names`] decides, since
/// both the stored context and any raw text that names the id as a JSON string hold it
/// in this form.
pub(crate) fn json_escaped(id: &str) -> String {
    let quoted = serde_json::to_string(id).unwrap_or_default();
    quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or(id)
        .to_owned()
}

/// Counts as the erasure log stores them (JSON), `None` when they are not.
pub(crate) fn counts_from_json(text: &str) -> Option<ErasureCounts> {
    serde_json::from_str(text).ok()
}

/// One step of the retention sweep ([`crate::Store::sweep_retention`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetentionStep {
    /// What the step removed (`visitors` stays 0: a visit expires, not a visitor).
    pub removed: ErasureCounts,
    /// Whether expired data remains for the next step.
    pub more: bool,
}

/// Retention settings are whole days, at most about a hundred years.
pub const MAX_RETENTION_DAYS: u32 = 36_500;

/// The first instant kept under a retention of `days` at `now_ms`.
pub fn retention_horizon_ms(now_ms: i64, days: u32) -> i64 {
    now_ms.saturating_sub(i64::from(days) * 86_400_000)
}
