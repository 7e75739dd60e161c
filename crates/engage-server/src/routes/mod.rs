//! The router: one module per API.

mod account;
mod admin;
mod assets;
mod collect;
mod decision;
mod discovery;
mod history;
mod monitoring;
mod ops;
mod quarantine;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::Router;

use crate::error::ApiError;
use crate::AppState;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route("/tag/tag.js", get(assets::tag_js))
        .route("/demo", get(assets::demo_redirect))
        .route("/demo/", get(assets::demo_index))
        .route("/demo/{file}", get(assets::demo_file))
        .route(
            "/api/account/{account_id}/service/baseURI.json",
            get(discovery::all_services),
        )
        .route(
            "/api/account/{account_id}/service/{service}/baseURI.json",
            get(discovery::service),
        )
        .merge(public_routes(&state))
        .route(
            "/api/account/{account_id}/origins",
            get(account::get_origins).put(account::put_origins),
        )
        .route(
            "/api/account/{account_id}/apps",
            post(admin::create_app).get(admin::list_apps),
        )
        .route(
            "/api/account/{account_id}/campaigns",
            post(admin::create_campaign).get(admin::list_campaigns),
        )
        .route(
            "/api/account/{account_id}/campaigns/{campaign_id}",
            get(admin::get_campaign)
                .put(admin::update_campaign)
                .delete(admin::delete_campaign),
        )
        .route(
            "/api/account/{account_id}/campaigns/{campaign_id}/engagements",
            post(admin::create_engagement).get(admin::list_engagements),
        )
        .route(
            "/api/account/{account_id}/campaigns/{campaign_id}/engagements/{engagement_id}",
            get(admin::get_engagement).put(admin::update_engagement),
        )
        .route(
            "/api/account/{account_id}/campaigns/{campaign_id}/engagements/{engagement_id}/availability",
            put(admin::set_availability),
        )
        .route(
            "/interaction_history/api/account/{account_id}/interactions/search",
            post(history::search),
        )
        .route(
            "/api/account/{account_id}/quarantine",
            get(quarantine::list),
        )
        .route(
            "/api/account/{account_id}/quarantine/replay",
            post(quarantine::replay),
        )
        .fallback(|| async { ApiError::NotFound })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .with_state(state)
}

/// The routes anyone may call, behind the rate limits (checked before anything is read).
fn public_routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/api/account/{account_id}/events",
            post(collect::collect).options(collect::preflight),
        )
        .route(
            "/api/account/{account_id}/app/{app_id}/engagement",
            post(monitoring::engagement),
        )
        .route(
            "/api/account/{account_id}/app/{app_id}/report",
            post(monitoring::report_post).put(monitoring::report_put),
        )
        .route(
            "/api/account/{account_id}/decision",
            post(decision::decide).options(collect::preflight),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::rate_limit::limit_public_routes,
        ))
}

/// An error of a Monitoring API route answered in that API's shape.
pub(crate) fn monitoring_error(error: ApiError) -> Response {
    use axum::response::IntoResponse;
    monitoring::MonitoringError::from(error).into_response()
}

/// Counts every answer by route pattern and status, and logs it.
async fn count_requests(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| route_label(p.as_str()))
        .unwrap_or("unmatched");
    let method = request.method().clone();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    state.metrics.record_request(route, status);
    tracing::debug!(%method, route, status, micros = started.elapsed().as_micros() as u64, "request");
    response
}

/// Route patterns as static labels (the set is fixed, so metrics stay bounded).
fn route_label(pattern: &str) -> &'static str {
    match pattern {
        "/healthz" => "healthz",
        "/metrics" => "metrics",
        "/tag/tag.js" => "tag_js",
        "/demo" | "/demo/" | "/demo/{file}" => "demo",
        "/api/account/{account_id}/service/baseURI.json"
        | "/api/account/{account_id}/service/{service}/baseURI.json" => "domain",
        "/api/account/{account_id}/events" => "collect",
        "/api/account/{account_id}/app/{app_id}/engagement" => "monitoring_engagement",
        "/api/account/{account_id}/app/{app_id}/report" => "monitoring_report",
        "/api/account/{account_id}/decision" => "decision",
        "/api/account/{account_id}/origins" => "account_origins",
        "/api/account/{account_id}/apps" => "admin_apps",
        "/api/account/{account_id}/campaigns" => "admin_campaigns",
        "/api/account/{account_id}/campaigns/{campaign_id}" => "admin_campaign",
        "/api/account/{account_id}/campaigns/{campaign_id}/engagements" => "admin_engagements",
        "/api/account/{account_id}/campaigns/{campaign_id}/engagements/{engagement_id}" => {
            "admin_engagement"
        }
        "/api/account/{account_id}/campaigns/{campaign_id}/engagements/{engagement_id}/availability" => {
            "admin_availability"
        }
        "/interaction_history/api/account/{account_id}/interactions/search" => "history_search",
        "/api/account/{account_id}/quarantine" => "quarantine_list",
        "/api/account/{account_id}/quarantine/replay" => "quarantine_replay",
        _ => "other",
    }
}
