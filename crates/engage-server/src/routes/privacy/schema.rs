//! The privacy routes' answers as the OpenAPI description states them
//! (`crate::openapi`): the store's records (`engage_store::VisitorData`,
//! `ErasureCounts`, `ErasureLogEntry`), which the routes serialize as they are.
#![allow(dead_code)] // descriptions: nothing builds these values

use utoipa::{IntoParams, ToSchema};

use crate::routes::quarantine::schema::QuarantineEntryDoc;

/// Everything the account holds about one visitor.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = VisitorData)]
pub struct VisitorDataDoc {
    visitor_id: String,
    /// Oldest first.
    visits: Vec<VisitorVisitDoc>,
    /// Every event, as `engage export` writes it.
    #[schema(value_type = Vec<Object>)]
    events: Vec<serde_json::Value>,
    /// Every attribute (SDE), as `engage export` writes it.
    #[schema(value_type = Vec<Object>)]
    attributes: Vec<serde_json::Value>,
    /// Consumer identities (Monitoring API) linked to the visitor.
    identities: Vec<String>,
    /// Quarantined inputs that name the visitor.
    quarantined: Vec<QuarantineEntryDoc>,
}

/// One visit (session).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = VisitorVisit)]
pub struct VisitorVisitDoc {
    session_id: String,
    first_seen_ms: i64,
    last_seen_ms: i64,
    #[schema(required = true)]
    user_agent: Option<String>,
    #[schema(required = true)]
    referrer: Option<String>,
    /// What an app said about its device (Monitoring API `clientProperties`).
    #[schema(value_type = Option<Object>, required = true)]
    client_properties: Option<serde_json::Value>,
    /// Oldest first.
    pages: Vec<VisitorPageDoc>,
    /// Engagement contexts the Monitoring API exposed to the session.
    exposures: Vec<String>,
}

/// One page view.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = VisitorPage)]
pub struct VisitorPageDoc {
    page_id: String,
    #[schema(required = true)]
    url: Option<String>,
    #[schema(required = true)]
    referrer: Option<String>,
    #[schema(required = true)]
    title: Option<String>,
    sections: Vec<String>,
    #[schema(required = true)]
    user_agent: Option<String>,
    received_ms: i64,
}

/// What an erasure removed, by kind.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = ErasureCounts)]
pub struct ErasureCountsDoc {
    /// Distinct visitor ids whose data was removed.
    visitors: u64,
    /// Visits (sessions) with their attribute state.
    visits: u64,
    pages: u64,
    /// Interactions (engagement contexts) of those visits.
    interactions: u64,
    /// `LP_OFFERS` events.
    events: u64,
    /// Attributes (SDEs).
    attributes: u64,
    /// Consumer identities linked to the visitors.
    identities: u64,
    /// Engagement contexts the Monitoring API exposed to their sessions.
    exposures: u64,
    /// Quarantined inputs that named them.
    quarantined: u64,
    /// Webhook deliveries about them, sent or waiting.
    webhook_deliveries: u64,
    /// Rows of the results rollups that named them.
    rollups: u64,
}

/// One line of the erasure log; never the ids or values erased.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = ErasureLogEntry)]
pub struct ErasureLogEntryDoc {
    id: i64,
    erased_ms: i64,
    target: ErasureKind,
    removed: ErasureCountsDoc,
}

/// Whether a visitor or a customer was erased.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ErasureKind {
    Visitor,
    Customer,
}

/// `?limit=` (the only parameter).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// 1-1000 entries, newest first (100 when left out).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}
