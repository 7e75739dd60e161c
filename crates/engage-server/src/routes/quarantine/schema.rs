//! The quarantine's answers as the OpenAPI description states them (`crate::openapi`):
//! the store's entries (`engage_store::QuarantineEntry`, which the routes serialize) and
//! the listing's parameters.
#![allow(dead_code)] // descriptions: nothing builds these values

use utoipa::{IntoParams, ToSchema};

use crate::openapi::schema::FieldError;

/// One quarantined input: what failed validation, as it came, with every problem found.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = QuarantineEntry)]
pub struct QuarantineEntryDoc {
    /// Pass as `after` to list what follows.
    id: i64,
    kind: QuarantineKind,
    /// The item's place in its batch; null for a whole body.
    #[schema(required = true, minimum = 0)]
    index: Option<u64>,
    /// The item's `id`, when it had one.
    #[schema(required = true)]
    client_id: Option<String>,
    received_ms: i64,
    /// The input as received.
    raw: String,
    /// The batch's visit context (`visitorId`, `sessionId`, `pageId`, `page`, ...).
    #[schema(value_type = Option<Object>, required = true)]
    context: Option<serde_json::Value>,
    errors: Vec<FieldError>,
    /// When a replay stored it; null while it is pending.
    #[schema(required = true)]
    replayed_ms: Option<i64>,
}

/// What a quarantined input was.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuarantineKind {
    Event,
    Sde,
    Body,
}

/// `?after=&limit=&includeReplayed=`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(non_snake_case)]
pub struct ListQuery {
    /// An entry id: list what follows it (a listing's `next`).
    after: Option<i64>,
    /// 1-1000 entries (100 when left out); a page also ends at 4 MiB of entries.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// `true` (or `1`) lists replayed entries too; any other value, or none, leaves
    /// them out.
    includeReplayed: Option<String>,
}
