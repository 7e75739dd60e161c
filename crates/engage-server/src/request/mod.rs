//! Every request body the server reads, one module per API, each read by `XBody::read`
//! into a typed value or every problem at its JSON pointer. Pure functions of the bytes
//! (the routes, the benchmarks and the fuzz targets share them); the reading toolkit is
//! `engage_model::body`.
//!
//! - [`collect`]: [`CollectBody`], a tag's `POST .../events` batch, item by item.
//! - [`monitoring`]: [`MonitoringBody`], an app's `engagement` or `report` call.
//! - [`decision`]: [`DecisionBody`], the page view a decision is asked for.
//! - [`history`]: [`HistorySearchBody`], an Engagement History search (query and body).
//! - [`analytics`]: [`ReportBody`] and [`FunnelBody`], the results routes.
//! - [`admin`]: the admin API's apps, campaigns, engagements, availability and the
//!   account's allowed origins.

pub mod admin;
pub mod analytics;
pub mod collect;
pub mod decision;
pub mod history;
pub mod monitoring;

pub use admin::{
    AllowedOriginsBody, AppNameBody, AvailabilityBody, CampaignFieldsBody, EngagementDefinitionBody,
};
pub use analytics::{FunnelBody, ReportBody};
pub use collect::CollectBody;
pub use decision::DecisionBody;
pub use history::HistorySearchBody;
pub use monitoring::MonitoringBody;
