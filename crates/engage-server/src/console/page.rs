//! The layout every console page shares, the headers every console answer carries, and
//! the small pieces pages are made of (numbers and times the browser formats for its
//! locale, errors beside their fields).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::session::ConsoleUser;

/// Scripts and styles only from the console's own files: no inline script, no inline
/// style, no other origin; the page cannot be framed, and forms post only here.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// The six screens, in the navigation's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Overview,
    Campaigns,
    Results,
    History,
    Quarantine,
    Settings,
}

impl Screen {
    pub const ALL: [Screen; 6] = [
        Screen::Overview,
        Screen::Campaigns,
        Screen::Results,
        Screen::History,
        Screen::Quarantine,
        Screen::Settings,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Screen::Overview => "Overview",
            Screen::Campaigns => "Campaigns",
            Screen::Results => "Results",
            Screen::History => "History",
            Screen::Quarantine => "Quarantine",
            Screen::Settings => "Settings",
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            Screen::Overview => "/console/",
            Screen::Campaigns => "/console/campaigns",
            Screen::Results => "/console/results",
            Screen::History => "/console/history",
            Screen::Quarantine => "/console/quarantine",
            Screen::Settings => "/console/settings",
        }
    }
}

/// Headers of every console answer: the CSP, no caching of account data, no sniffing,
/// no referrer leaving the console.
pub fn secure_headers(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
}

fn document(title: &str, body: Markup, scripts: &[&str]) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Engage" }
                // No icon to fetch: the browser would ask for /favicon.ico and log its 404.
                link rel="icon" href="data:,";
                link rel="stylesheet" href="/console/assets/console.css";
                script src="/console/assets/console.js" defer {}
                @for script in scripts {
                    script src=(script) defer {}
                }
            }
            body { (body) }
        }
    }
}

fn html_response(markup: Markup, status: StatusCode) -> Response {
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        markup.into_string(),
    )
        .into_response();
    secure_headers(&mut response);
    response
}

/// A page outside the session (the sign-in form).
pub fn bare(title: &str, body: Markup, status: StatusCode) -> Response {
    html_response(document(title, body, &[]), status)
}

/// A screen of the console: the header with the navigation (the current screen marked),
/// the account, sign-out, and `main`.
pub struct Page<'a> {
    pub user: &'a ConsoleUser,
    pub screen: Screen,
    pub title: &'a str,
    /// More scripts of our own (the editor's preview).
    pub scripts: &'a [&'a str],
}

impl Page<'_> {
    pub fn render(&self, main: Markup) -> Response {
        self.render_with_status(main, StatusCode::OK)
    }

    pub fn render_with_status(&self, main: Markup, status: StatusCode) -> Response {
        let user = self.user;
        let body = html! {
            a.skip href="#main" { "Skip to content" }
            header.top {
                a.brand href="/console/" { "Engage" }
                nav aria-label="Console" {
                    ul {
                        @for screen in Screen::ALL {
                            li {
                                a href=(screen.path())
                                    aria-current=[(screen == self.screen).then_some("page")] { (screen.name()) }
                            }
                        }
                    }
                }
                div.who {
                    span.account title=(format!("Account {}", user.account.id)) {
                        (user.account.name) " · " (user.account.id)
                    }
                    form.sign-out method="post" action="/console/sign-out" {
                        input type="hidden" name="csrf" value=(user.session.csrf_token);
                        button type="submit" { "Sign out" }
                    }
                }
            }
            main id="main" data-csrf=(user.session.csrf_token) { (main) }
        };
        html_response(document(self.title, body, self.scripts), status)
    }
}

/// 303 to `path` (after a POST, the browser GETs it).
pub fn redirect(path: &str) -> Response {
    let mut response =
        (StatusCode::SEE_OTHER, [(header::LOCATION, path.to_owned())]).into_response();
    secure_headers(&mut response);
    response
}

/// A number the browser writes in its locale (`console.js` formats `data.num`).
pub fn number(n: impl Into<f64> + Copy + std::fmt::Display) -> Markup {
    html! { data.num value=(n) { (n) } }
}

/// A time the browser writes in its locale and zone (`console.js` formats
/// `time[data-ms]`); the text until then is UTC.
pub fn time(ms: i64) -> Markup {
    let iso = crate::routes::iso_utc(ms);
    html! { time datetime=(iso) data-ms=(ms) { (iso) } }
}

/// A count with its noun, singular for one: `1 entry`, `2 entries` (the number written
/// for the browser's locale).
pub fn count(n: u64, one: &str, many: &str) -> Markup {
    html! { (number(n as f64)) " " (if n == 1 { one } else { many }) }
}

/// JSON text indented for reading (what cannot be parsed is shown as it is).
pub fn pretty_json(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_owned())
}

/// An engagement type's name.
pub fn type_name(engagement_type: engage_model::EngagementType) -> &'static str {
    use engage_model::EngagementType as T;
    match engagement_type {
        T::PeelingCorner => "Peeling corner",
        T::Overlay => "Overlay",
        T::Toaster => "Toaster",
        T::SlideOut => "Slide-out",
        T::Embedded => "Embedded",
        T::Sticky => "Sticky",
    }
}

/// Marks raw HTML that is known safe (only constant strings of ours).
pub fn trusted(text: &'static str) -> PreEscaped<&'static str> {
    PreEscaped(text)
}
