//! The webhook admin API's body as the OpenAPI description states it (`crate::openapi`).
#![allow(dead_code)] // a description of a shape: nothing builds this value

use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::ToSchema;

/// `POST .../webhooks`: where to deliver and what. The URL must be public (no loopback,
/// private or link-local address, also once resolved) unless the server allows it.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "https://hooks.shop.example/engage", "events": ["offer.clicked", "lead.submitted"]}))]
pub struct WebhookRequest {
    /// An http(s) URL of a public host, 1-2,048 characters, without user or password.
    /// (A server started with `--allow-private-webhooks` also takes private addresses.)
    #[schema(schema_with = url)]
    url: String,
    /// 1-16 event names (each kept once).
    #[schema(schema_with = events)]
    events: Vec<String>,
}

fn url() -> Schema {
    let port = crate::request::admin::schema::digits_pattern(0, 65_535);
    let port = port.trim_start_matches('^').trim_end_matches('$');
    let host = r"[a-zA-Z][a-zA-Z0-9-]*(\.[a-zA-Z0-9-]+)*\.[a-zA-Z][a-zA-Z0-9-]*";
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(super::MAX_WEBHOOK_URL_CHARS))
        .pattern(Some(format!(
            r"^\s*[hH][tT][tT][pP][sS]?://{host}(:{port})?([/?#][^\s\x00-\x1f\x7f-\x9f]*)?\s*$"
        )))
        .into()
}

fn events() -> Schema {
    let names: Vec<&str> = crate::webhooks::NAMED_EVENTS
        .into_iter()
        .chain(engage_model::OfferEventName::ALL.map(engage_model::OfferEventName::as_str))
        .collect();
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(names)),
        )
        .min_items(Some(1))
        .max_items(Some(super::MAX_EVENTS))
        .into()
}
