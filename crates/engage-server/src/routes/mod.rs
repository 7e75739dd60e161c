//! The router, built from one table of routes ([`route_table`] lists it, with who may
//! call each): one module per API.

pub(crate) mod account;
pub(crate) mod admin;
pub(crate) mod analytics;
pub(crate) mod assets;
pub(crate) mod collect;
pub(crate) mod decision;
pub(crate) mod discovery;
pub(crate) mod history;
pub(crate) mod monitoring;
pub(crate) mod ops;
pub(crate) mod privacy;
pub(crate) mod quarantine;
pub(crate) mod retention;
pub(crate) mod webhooks;

pub(crate) use history::iso_utc;

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
    /// A console session (its cookie; a change also its CSRF token): the account is the
    /// session's, never one in the path. A page without one goes to the sign-in form
    /// (303), a script's call is answered 401, a change without the token 403.
    ConsoleSession,
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
    use crate::console::{
        api, assets as console_assets, campaigns, history as console_history, overview,
        quarantine as console_quarantine, session, settings,
    };
    use Auth::{AccountKey, ConsoleSession, Public, PublicAccount};
    vec![
        Endpoint::new("/healthz").get(Public, ops::healthz),
        Endpoint::new("/metrics").get(Public, ops::metrics),
        Endpoint::new("/api/openapi.json").get(Public, crate::openapi::routes::openapi_json),
        Endpoint::new("/api/docs").get(Public, crate::openapi::routes::docs_page),
        Endpoint::new("/tag/tag.js").get(Public, assets::tag_js),
        Endpoint::new("/tag/actions.js").get(Public, assets::actions_js),
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
            .options(PublicAccount, decision::preflight)
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
        Endpoint::new("/api/account/{account_id}/webhooks")
            .post(AccountKey, webhooks::create_webhook)
            .get(AccountKey, webhooks::list_webhooks),
        Endpoint::new("/api/account/{account_id}/webhooks/{webhook_id}")
            .delete(AccountKey, webhooks::delete_webhook),
        Endpoint::new("/api/account/{account_id}/webhooks/{webhook_id}/ping")
            .post(AccountKey, webhooks::ping),
        Endpoint::new("/api/account/{account_id}/webhooks/{webhook_id}/rotate-secret")
            .post(AccountKey, webhooks::rotate_secret),
        Endpoint::new("/api/account/{account_id}/webhooks/{webhook_id}/deliveries")
            .get(AccountKey, webhooks::deliveries),
        Endpoint::new(
            "/api/account/{account_id}/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
        )
        .post(AccountKey, webhooks::redeliver),
        Endpoint::new("/api/account/{account_id}/analytics/report")
            .post(AccountKey, analytics::report_route),
        Endpoint::new("/api/account/{account_id}/analytics/funnel")
            .post(AccountKey, analytics::funnel_route),
        Endpoint::new("/api/account/{account_id}/quarantine").get(AccountKey, quarantine::list),
        Endpoint::new("/api/account/{account_id}/quarantine/replay")
            .post(AccountKey, quarantine::replay),
        // The console (docs/console.md): pages, then its scripts' writes.
        Endpoint::new("/favicon.ico").get(Public, crate::console::assets::no_icon),
        Endpoint::new("/console").get(Public, console_redirect),
        Endpoint::new("/console/sign-in")
            .get(Public, session::sign_in_form)
            .post(Public, session::sign_in),
        Endpoint::new("/console/sign-out").post(ConsoleSession, session::sign_out),
        Endpoint::new("/console/assets/{file}").get(Public, console_assets::asset),
        Endpoint::new("/console/").get(ConsoleSession, overview::overview),
        Endpoint::new("/console/results").get(ConsoleSession, overview::results),
        Endpoint::new("/console/campaigns").get(ConsoleSession, campaigns::list),
        Endpoint::new("/console/campaigns/{campaign_id}").get(ConsoleSession, campaigns::campaign),
        Endpoint::new("/console/campaigns/{campaign_id}/engagements/new")
            .get(ConsoleSession, campaigns::new_engagement),
        Endpoint::new("/console/campaigns/{campaign_id}/engagements/{engagement_id}")
            .get(ConsoleSession, campaigns::engagement),
        Endpoint::new("/console/history").get(ConsoleSession, console_history::search),
        Endpoint::new("/console/history/interaction")
            .get(ConsoleSession, console_history::interaction),
        Endpoint::new("/console/quarantine").get(ConsoleSession, console_quarantine::list),
        Endpoint::new("/console/settings").get(ConsoleSession, settings::settings),
        Endpoint::new("/console/api/campaigns").post(ConsoleSession, api::create_campaign),
        Endpoint::new("/console/api/campaigns/{campaign_id}")
            .put(ConsoleSession, api::update_campaign),
        Endpoint::new("/console/api/campaigns/{campaign_id}/engagements")
            .post(ConsoleSession, api::create_engagement),
        Endpoint::new("/console/api/campaigns/{campaign_id}/engagements/{engagement_id}")
            .put(ConsoleSession, api::update_engagement),
        Endpoint::new(
            "/console/api/campaigns/{campaign_id}/engagements/{engagement_id}/availability",
        )
        .put(ConsoleSession, api::set_availability),
        Endpoint::new("/console/api/origins").put(ConsoleSession, api::put_origins),
        Endpoint::new("/console/api/retention").put(ConsoleSession, api::put_retention),
        Endpoint::new("/console/api/quarantine/replay")
            .post(ConsoleSession, api::replay_quarantine),
        Endpoint::new("/console/api/keys").post(ConsoleSession, api::create_key),
        Endpoint::new("/console/api/keys/{app_key}").delete(ConsoleSession, api::revoke_key),
        Endpoint::new("/api/account/{account_id}/visitors/{visitor_id}")
            .get(AccountKey, privacy::get_visitor)
            .delete(AccountKey, privacy::erase_visitor),
        Endpoint::new("/api/account/{account_id}/customers/{customer_id}")
            .delete(AccountKey, privacy::erase_customer),
        Endpoint::new("/api/account/{account_id}/erasures").get(AccountKey, privacy::erasure_log),
        Endpoint::new("/api/account/{account_id}/retention")
            .get(AccountKey, retention::get_retention)
            .put(AccountKey, retention::put_retention),
    ]
}

/// `/console` without its slash: to the console.
async fn console_redirect() -> Response {
    crate::console::page::redirect("/console/")
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
        "/api/openapi.json" | "/api/docs" => "openapi",
        "/tag/tag.js" => "tag_js",
        "/tag/actions.js" => "actions_js",
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
        "/api/account/{account_id}/webhooks" => "webhooks",
        "/api/account/{account_id}/webhooks/{webhook_id}" => "webhook",
        "/api/account/{account_id}/webhooks/{webhook_id}/ping" => "webhook_ping",
        "/api/account/{account_id}/webhooks/{webhook_id}/rotate-secret" => "webhook_rotate",
        "/api/account/{account_id}/webhooks/{webhook_id}/deliveries" => "webhook_deliveries",
        "/api/account/{account_id}/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver" => {
            "webhook_redeliver"
        }
        "/console/assets/{file}" | "/favicon.ico" => "console_asset",
        p if p.starts_with("/console/api/") => "console_api",
        p if p == "/console" || p.starts_with("/console/") => "console_page",
        "/api/account/{account_id}/visitors/{visitor_id}" => "privacy_visitor",
        "/api/account/{account_id}/customers/{customer_id}" => "privacy_customer",
        "/api/account/{account_id}/erasures" => "privacy_erasures",
        "/api/account/{account_id}/retention" => "retention",
        _ => "other",
    }
}
