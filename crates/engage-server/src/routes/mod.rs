//! The router, built from one table of routes ([`route_table`] lists it, with who may
//! call each): one module per API.

mod account;
mod admin;
mod analytics;
mod assets;
mod collect;
mod decision;
mod discovery;
mod history;
mod monitoring;
mod ops;
mod quarantine;

use axum::extract::{MatchedPath, Request, State};
use axum::handler::Handler;
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::MethodRouter;
use axum::Router;

use crate::error::ApiError;
use crate::AppState;

/// Who may call a route, as the route table declares it. The security test calls every
/// route of the table with no key, a wrong key and another account's key and ids, and
/// holds each route to its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Auth {
    /// Anyone; the route names no account (health, metrics, the tag, the demo).
    Public,
    /// Anyone, for the account in the path: what pages and apps call (collect, decision,
    /// the Monitoring API, service discovery). It writes or decides, and never answers
    /// with what the account has stored.
    PublicAccount,
    /// The account's own API key (`Authorization: Bearer`, or an OAuth 1.0a signature):
    /// 404 for an unknown account, 401 without a valid key, 403 with another account's.
    AccountKey,
}

/// One method of one route of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    pub method: Method,
    /// The path template, as axum matches it (`/api/account/{account_id}/events`).
    pub path: &'static str,
    pub auth: Auth,
}

/// A path with its handlers, each method declared with who may call it; the router is
/// built from these and nothing else, so [`route_table`] cannot miss a route.
struct Endpoint {
    path: &'static str,
    router: MethodRouter<AppState>,
    methods: Vec<(Method, Auth)>,
    /// Behind the public routes' rate limits (checked before anything is read).
    rate_limited: bool,
}

impl Endpoint {
    fn new(path: &'static str) -> Self {
        Endpoint {
            path,
            router: MethodRouter::new(),
            methods: Vec::new(),
            rate_limited: false,
        }
    }

    /// Puts every method of the path behind the rate limits (`--rate-limit-per-ip`,
    /// `--rate-limit-per-account`).
    fn rate_limited(mut self) -> Self {
        self.rate_limited = true;
        self
    }

    fn get<H: Handler<T, AppState>, T: 'static>(mut self, auth: Auth, handler: H) -> Self {
        self.router = self.router.get(handler);
        self.methods.push((Method::GET, auth));
        self
    }

    fn post<H: Handler<T, AppState>, T: 'static>(mut self, auth: Auth, handler: H) -> Self {
        self.router = self.router.post(handler);
        self.methods.push((Method::POST, auth));
        self
    }

    fn put<H: Handler<T, AppState>, T: 'static>(mut self, auth: Auth, handler: H) -> Self {
        self.router = self.router.put(handler);
        self.methods.push((Method::PUT, auth));
        self
    }

    fn delete<H: Handler<T, AppState>, T: 'static>(mut self, auth: Auth, handler: H) -> Self {
        self.router = self.router.delete(handler);
        self.methods.push((Method::DELETE, auth));
        self
    }

    fn options<H: Handler<T, AppState>, T: 'static>(mut self, auth: Auth, handler: H) -> Self {
        self.router = self.router.options(handler);
        self.methods.push((Method::OPTIONS, auth));
        self
    }
}

/// Every route: path, methods, handlers and who may call each.
fn endpoints() -> Vec<Endpoint> {
    use Auth::{AccountKey, Public, PublicAccount};
    vec![
        Endpoint::new("/healthz").get(Public, ops::healthz),
        Endpoint::new("/metrics").get(Public, ops::metrics),
        Endpoint::new("/tag/tag.js").get(Public, assets::tag_js),
        Endpoint::new("/demo").get(Public, assets::demo_redirect),
        Endpoint::new("/demo/").get(Public, assets::demo_index),
        Endpoint::new("/demo/{file}").get(Public, assets::demo_file),
        Endpoint::new("/api/account/{account_id}/service/baseURI.json")
            .get(PublicAccount, discovery::all_services),
        Endpoint::new("/api/account/{account_id}/service/{service}/baseURI.json")
            .get(PublicAccount, discovery::service),
        Endpoint::new("/api/account/{account_id}/events")
            .post(PublicAccount, collect::collect)
            .options(PublicAccount, collect::preflight)
            .rate_limited(),
        Endpoint::new("/api/account/{account_id}/app/{app_id}/engagement")
            .post(PublicAccount, monitoring::engagement)
            .rate_limited(),
        Endpoint::new("/api/account/{account_id}/app/{app_id}/report")
            .post(PublicAccount, monitoring::report_post)
            .put(PublicAccount, monitoring::report_put)
            .rate_limited(),
        Endpoint::new("/api/account/{account_id}/decision")
            .post(PublicAccount, decision::decide)
            .options(PublicAccount, collect::preflight)
            .rate_limited(),
        Endpoint::new("/api/account/{account_id}/origins")
            .get(AccountKey, account::get_origins)
            .put(AccountKey, account::put_origins),
        Endpoint::new("/api/account/{account_id}/apps")
            .post(AccountKey, admin::create_app)
            .get(AccountKey, admin::list_apps),
        Endpoint::new("/api/account/{account_id}/campaigns")
            .post(AccountKey, admin::create_campaign)
            .get(AccountKey, admin::list_campaigns),
        Endpoint::new("/api/account/{account_id}/campaigns/{campaign_id}")
            .get(AccountKey, admin::get_campaign)
            .put(AccountKey, admin::update_campaign)
            .delete(AccountKey, admin::delete_campaign),
        Endpoint::new("/api/account/{account_id}/campaigns/{campaign_id}/engagements")
            .post(AccountKey, admin::create_engagement)
            .get(AccountKey, admin::list_engagements),
        Endpoint::new(
            "/api/account/{account_id}/campaigns/{campaign_id}/engagements/{engagement_id}",
        )
        .get(AccountKey, admin::get_engagement)
        .put(AccountKey, admin::update_engagement),
        Endpoint::new(
            "/api/account/{account_id}/campaigns/{campaign_id}/engagements/{engagement_id}/availability",
        )
        .put(AccountKey, admin::set_availability),
        Endpoint::new("/interaction_history/api/account/{account_id}/interactions/search")
            .post(AccountKey, history::search),
        Endpoint::new("/api/account/{account_id}/analytics/report")
            .post(AccountKey, analytics::report_route),
        Endpoint::new("/api/account/{account_id}/analytics/funnel")
            .post(AccountKey, analytics::funnel_route),
        Endpoint::new("/api/account/{account_id}/quarantine").get(AccountKey, quarantine::list),
        Endpoint::new("/api/account/{account_id}/quarantine/replay")
            .post(AccountKey, quarantine::replay),
    ]
}

/// Every method of every route the router serves, with who may call it.
pub fn route_table() -> Vec<RouteInfo> {
    endpoints()
        .into_iter()
        .flat_map(|e| {
            let path = e.path;
            e.methods
                .into_iter()
                .map(move |(method, auth)| RouteInfo { method, path, auth })
        })
        .collect()
}

pub fn router(state: AppState) -> Router {
    endpoints()
        .into_iter()
        .fold(Router::new(), |router, e| {
            let methods = if e.rate_limited {
                e.router.route_layer(middleware::from_fn_with_state(
                    state.clone(),
                    crate::rate_limit::limit_public_routes,
                ))
            } else {
                e.router
            };
            router.route(e.path, methods)
        })
        .fallback(|| async { ApiError::NotFound })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .with_state(state)
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
        "/api/account/{account_id}/analytics/report" => "analytics_report",
        "/api/account/{account_id}/analytics/funnel" => "analytics_funnel",
        "/api/account/{account_id}/quarantine" => "quarantine_list",
        "/api/account/{account_id}/quarantine/replay" => "quarantine_replay",
        _ => "other",
    }
}
