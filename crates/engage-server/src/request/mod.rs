//! Every request body the server reads, one module per API, each read by `XBody::read`
//! into a typed value or every problem at its JSON pointer. Pure functions of the bytes
//! (the routes, the benchmarks and the fuzz targets share them); the reading toolkit is
//! `engage_model::body`.
//!
//! - [`collect`]: [`CollectBody`], a tag's `POST .../events` batch, item by item.
//! - [`monitoring`]: [`MonitoringBody`], an app's `engagement` or `report` call.
//! - [`decision`]: [`DecisionBody`], the page view a decision is asked for.
//! - [`history`]: [`HistorySearchBody`], an Engagement History search (query and body).
//! - [`action`]: [`Action`], an engagement's `action` member (part of the admin
//!   API's engagement definition).
//! - [`analytics`]: [`ReportBody`] and [`FunnelBody`], the results routes.
//! - [`admin`]: the admin API's apps, campaigns, engagements, availability and the
//!   account's allowed origins.
//! - [`webhook`]: [`WebhookBody`], a webhook endpoint's `{"url", "events"}`.

pub mod action;
pub mod admin;
pub mod analytics;
pub mod collect;
pub mod decision;
pub mod form;
pub mod history;
pub mod monitoring;
pub mod webhook;

pub use action::Action;
pub use admin::{
    AllowedOriginsBody, AppNameBody, AvailabilityBody, CampaignFieldsBody,
    EngagementDefinitionBody, RetentionBody,
};
pub use analytics::{FunnelBody, ReportBody};
pub use collect::CollectBody;
pub use decision::DecisionBody;
pub use history::HistorySearchBody;
pub use monitoring::MonitoringBody;
pub use webhook::WebhookBody;
