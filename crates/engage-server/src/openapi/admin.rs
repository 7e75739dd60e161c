//! The admin part of the description: what an account's key administers (Account,
//! Campaigns, Analytics, Quarantine, Privacy, Webhooks). The operations are the
//! handlers' `#[utoipa::path]` annotations; the request bodies' schemas sit beside their
//! readers (`crate::request::{admin, analytics, webhook}::schema`), the answers' are the
//! routes' own types.

use utoipa::OpenApi;

use crate::routes::{account, admin, analytics, privacy, quarantine, retention, webhooks};

#[derive(OpenApi)]
#[openapi(
    paths(
        account::get_origins,
        account::put_origins,
        admin::create_app,
        admin::list_apps,
        admin::create_campaign,
        admin::list_campaigns,
        admin::get_campaign,
        admin::update_campaign,
        admin::delete_campaign,
        admin::create_engagement,
        admin::list_engagements,
        admin::get_engagement,
        admin::update_engagement,
        admin::set_availability,
        analytics::report_route,
        analytics::funnel_route,
        quarantine::list,
        quarantine::replay,
        privacy::get_visitor,
        privacy::erase_visitor,
        privacy::erase_customer,
        privacy::erasure_log,
        retention::get_retention,
        retention::put_retention,
        webhooks::create_webhook,
        webhooks::list_webhooks,
        webhooks::delete_webhook,
        webhooks::rotate_secret,
        webhooks::ping,
        webhooks::deliveries,
        webhooks::redeliver,
    ),
    tags(
        (name = "Account", description = "The account's own settings (docs/api.md, Accounts)."),
        (name = "Campaigns", description = "App installations, campaigns, engagements and their availability (docs/api.md, App installations, Campaigns, Engagements)."),
        (name = "Analytics", description = "Results: the report and the funnel (docs/api.md, Results; docs/analytics.md)."),
        (name = "Quarantine", description = "What failed validation, listed and replayed (docs/api.md, Quarantine)."),
        (name = "Privacy", description = "Access, erasure, the erasure log and retention (docs/api.md, Privacy)."),
        (name = "Webhooks", description = "Endpoints, their secrets, pings and deliveries (docs/api.md, Webhooks)."),
    )
)]
pub(super) struct AdminApi;

#[cfg(test)]
#[path = "admin_tests.rs"]
mod tests;
