//! The browser's time zone, so that the console's days and hours are the user's own.
//!
//! `console.js` writes the zone the browser reports (`Intl.DateTimeFormat()
//! .resolvedOptions().timeZone`, an IANA name) into the cookie [`ZONE_COOKIE`], under
//! `/console` only; a page whose figures are grouped by day reloads once when the cookie
//! was missing or named another zone. The cookie is no secret and no inline script is
//! needed. A missing, malformed or unknown zone is UTC.

use axum::http::HeaderMap;
use jiff::tz::TimeZone;

use super::session::cookie_value;

/// The cookie `console.js` writes the browser's zone into.
pub const ZONE_COOKIE: &str = "engage_tz";
/// The longest IANA name (`America/Argentina/ComodRivadavia` is 32 characters).
const MAX_ZONE_CHARS: usize = 64;

/// The zone a console page's days and hours are in.
#[derive(Debug, Clone)]
pub struct BrowserZone {
    /// The IANA name (`Europe/Berlin`), `UTC` when the browser named none we know.
    pub name: String,
    pub tz: TimeZone,
}

impl BrowserZone {
    pub fn utc() -> BrowserZone {
        BrowserZone {
            name: "UTC".into(),
            tz: TimeZone::UTC,
        }
    }

    /// The zone the request's cookie names, when it is a well-formed, known IANA name.
    pub fn of(headers: &HeaderMap) -> BrowserZone {
        cookie_value(headers, ZONE_COOKIE)
            .and_then(BrowserZone::named)
            .unwrap_or_else(BrowserZone::utc)
    }

    fn named(name: &str) -> Option<BrowserZone> {
        let well_formed = !name.is_empty()
            && name.len() <= MAX_ZONE_CHARS
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/_+-".contains(&b));
        if !well_formed {
            return None;
        }
        let tz = TimeZone::get(name).ok()?;
        Some(BrowserZone {
            name: name.to_owned(),
            tz,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{header, HeaderValue};

    fn with_cookie(cookie: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(cookie).unwrap());
        headers
    }

    #[test]
    fn the_cookie_names_the_zone() {
        let zone = BrowserZone::of(&with_cookie("engage_console=a.b; engage_tz=Europe/Berlin"));
        assert_eq!(zone.name, "Europe/Berlin");
        assert_eq!(zone.tz.iana_name(), Some("Europe/Berlin"));
        let zone = BrowserZone::of(&with_cookie("engage_tz=America/Argentina/Buenos_Aires"));
        assert_eq!(zone.name, "America/Argentina/Buenos_Aires");
    }

    #[test]
    fn a_missing_malformed_or_unknown_zone_is_utc() {
        for cookie in [
            "other=1",
            "engage_tz=",
            "engage_tz=Mars/Olympus_Mons",
            "engage_tz=../../etc/passwd",
            "engage_tz=Europe/Berlin%00",
        ] {
            let zone = BrowserZone::of(&with_cookie(cookie));
            assert_eq!(zone.name, "UTC", "{cookie}");
            assert_eq!(zone.tz, TimeZone::UTC, "{cookie}");
        }
        assert_eq!(BrowserZone::of(&HeaderMap::new()).name, "UTC");
        let long = format!("engage_tz={}", "A".repeat(65));
        assert_eq!(BrowserZone::of(&with_cookie(&long)).name, "UTC");
    }
}
