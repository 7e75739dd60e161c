//! Which visits are not a person's: crawlers, headless browsers, monitoring agents and
//! command-line HTTP clients, told by their `User-Agent`; and interactions answered
//! faster than a person can read ([`Pace`]).
//!
//! Their interactions are kept and flagged, never dropped (docs/operations.md, Bots): the
//! history search leaves them out unless asked (`includeBots`), and the metrics count
//! them. The list is small and documented rather than a crawler database: it names the
//! agents that make up nearly all automated traffic on a shop's pages. Matching is on
//! lowercase substrings, so `Googlebot/2.1` and `bingbot/2.0` are both `bot`.

use crate::OfferEventName;

/// Why an interaction is flagged as not a person's. Stored as [`BotReason::code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BotReason {
    /// The visit's `User-Agent` names a crawler, headless browser or robot.
    UserAgent,
    /// The offer was answered (clicked or declined) less than [`FASTEST_ANSWER_MS`] after
    /// it was shown, by the page's clock ([`Pace`]).
    Behaviour,
}

impl BotReason {
    pub const ALL: [BotReason; 2] = [BotReason::UserAgent, BotReason::Behaviour];

    /// The stored code; 0 is kept for a person's interaction.
    pub const fn code(self) -> u8 {
        match self {
            BotReason::UserAgent => 1,
            BotReason::Behaviour => 2,
        }
    }

    pub fn from_code(code: u8) -> Option<BotReason> {
        BotReason::ALL.into_iter().find(|r| r.code() == code)
    }

    /// The name the metrics' `reason` label uses.
    pub fn as_str(self) -> &'static str {
        match self {
            BotReason::UserAgent => "user_agent",
            BotReason::Behaviour => "behaviour",
        }
    }
}

/// Lowercase substrings that mark an automated agent. `bot` covers Googlebot, bingbot,
/// YandexBot, DuckDuckBot, Applebot, AhrefsBot, UptimeRobot and most others, which name
/// themselves so.
const AUTOMATED_MARKS: [&str; 17] = [
    "bot",
    "crawl",
    "spider",
    "slurp",
    "mediapartners",
    "facebookexternalhit",
    // Browsers driven by programs: Chromium says so in its headless mode.
    "headlesschrome",
    "phantomjs",
    "lighthouse",
    // Uptime and performance monitors.
    "pingdom",
    "statuscake",
    "site24x7",
    // Command-line tools and scripting libraries.
    "curl/",
    "wget/",
    "python-requests",
    "python-urllib",
    "go-http-client",
];

/// Phones whose model name contains a mark (the CUBOT brand says `bot`).
const PEOPLE_DESPITE_MARKS: [&str; 1] = ["cubot"];

/// Whether a `User-Agent` is an automated agent's. An empty or missing one is not: apps'
/// HTTP libraries may send none, and absence is no evidence.
pub fn is_automated_user_agent(user_agent: &str) -> bool {
    let lower = user_agent.to_ascii_lowercase();
    AUTOMATED_MARKS.iter().any(|mark| {
        lower.match_indices(mark).any(|(at, _)| {
            !PEOPLE_DESPITE_MARKS.iter().any(|person| {
                lower[..at + mark.len()].ends_with(person) || lower[at..].starts_with(person)
            })
        })
    })
}

/// The reason to flag an interaction written from a visit with this `User-Agent`.
pub fn classify_user_agent(user_agent: Option<&str>) -> Option<BotReason> {
    user_agent
        .filter(|ua| is_automated_user_agent(ua))
        .map(|_| BotReason::UserAgent)
}

/// No person reads an offer and answers it this soon after it appeared: a page's
/// `OFFER_CLICK` or `OFFER_DECLINED` less than this many ms after the `OFFER_DISPLAY` or
/// `OFFER_IMPRESSION` of the same interaction is a program's.
pub const FASTEST_ANSWER_MS: i64 = 100;

/// The behaviour rule over the events of one interaction in one batch: the first answer
/// (`OFFER_CLICK`, `OFFER_DECLINED`) came less than [`FASTEST_ANSWER_MS`] after the first
/// showing (`OFFER_DISPLAY`, `OFFER_IMPRESSION`), both with the page's time (events without
/// one, like the Monitoring API's, say nothing about pace). Folded event by event, in any
/// order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pace {
    shown_ms: Option<i64>,
    answered_ms: Option<i64>,
}

impl Pace {
    pub fn observe(&mut self, name: OfferEventName, client_time_ms: Option<i64>) {
        let Some(at) = client_time_ms else { return };
        let slot = match name {
            OfferEventName::OfferDisplay | OfferEventName::OfferImpression => &mut self.shown_ms,
            OfferEventName::OfferClick | OfferEventName::OfferDeclined => &mut self.answered_ms,
            OfferEventName::Start
            | OfferEventName::OfferTimeout
            | OfferEventName::OfferRemove
            | OfferEventName::CouponRevealed
            | OfferEventName::CouponCopied => return,
        };
        *slot = Some(slot.map_or(at, |old| old.min(at)));
    }

    /// Whether the answer came too soon after the showing for a person.
    pub fn too_fast(&self) -> bool {
        match (self.shown_ms, self.answered_ms) {
            (Some(shown), Some(answered)) => {
                let after = answered.saturating_sub(shown);
                (0..FASTEST_ANSWER_MS).contains(&after)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pace(events: &[(OfferEventName, Option<i64>)]) -> bool {
        let mut pace = Pace::default();
        for (name, at) in events {
            pace.observe(*name, *at);
        }
        pace.too_fast()
    }

    #[test]
    fn an_answer_sooner_than_a_person_can_read_is_too_fast() {
        use OfferEventName::*;
        assert!(pace(&[
            (Start, Some(0)),
            (OfferDisplay, Some(0)),
            (OfferClick, Some(0))
        ]));
        assert!(pace(&[
            (OfferImpression, Some(1_000)),
            (OfferDeclined, Some(1_099))
        ]));
        // In any order.
        assert!(pace(&[(OfferClick, Some(50)), (OfferDisplay, Some(10))]));
        // Slow enough, or nothing to compare.
        assert!(!pace(&[
            (OfferDisplay, Some(1_000)),
            (OfferClick, Some(1_100))
        ]));
        assert!(!pace(&[(OfferDisplay, Some(0)), (OfferClick, Some(3_000))]));
        assert!(!pace(&[(OfferDisplay, Some(0)), (OfferTimeout, Some(0))]));
        assert!(
            !pace(&[(OfferClick, Some(0))]),
            "an answer without a showing"
        );
        assert!(
            !pace(&[(OfferDisplay, None), (OfferClick, None)]),
            "no page times"
        );
        assert!(
            !pace(&[(OfferDisplay, Some(500)), (OfferClick, Some(0))]),
            "an answer before the showing is a clock's problem, not a pace"
        );
        assert!(!pace(&[
            (OfferDisplay, Some(i64::MIN)),
            (OfferClick, Some(i64::MAX))
        ]));
        assert!(!pace(&[
            (OfferDisplay, Some(i64::MAX)),
            (OfferClick, Some(i64::MIN))
        ]));
    }

    #[test]
    fn crawlers_headless_browsers_monitors_and_tools_are_automated() {
        for ua in [
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.129 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
            "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
            "Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)",
            "Baiduspider+(+http://www.baidu.com/search/spider.htm)",
            "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.28 Safari/537.36",
            "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1",
            "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse",
            "Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)",
            "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
            "curl/8.5.0",
            "Wget/1.21.4",
            "python-requests/2.31.0",
            "Python-urllib/3.11",
            "Go-http-client/1.1",
        ] {
            assert!(is_automated_user_agent(ua), "{ua}");
            assert_eq!(classify_user_agent(Some(ua)), Some(BotReason::UserAgent));
        }
    }

    #[test]
    fn browsers_apps_and_no_agent_are_people() {
        for ua in [
            "",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.2; rv:121.0) Gecko/20100101 Firefox/121.0",
            "Mozilla/5.0 (Linux; Android 9; CUBOT X19) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36",
            "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/UQ1A.240205.004)",
            "okhttp/4.12.0",
        ] {
            assert!(!is_automated_user_agent(ua), "{ua}");
        }
        assert_eq!(classify_user_agent(None), None);
    }

    #[test]
    fn a_cubot_phone_driven_by_a_crawler_is_still_a_crawler() {
        let ua = "Mozilla/5.0 (Linux; Android 9; CUBOT X19) Chrome/120.0 Mobile (compatible; Googlebot/2.1)";
        assert!(is_automated_user_agent(ua));
    }

    #[test]
    fn codes_round_trip_and_zero_is_a_person() {
        for reason in BotReason::ALL {
            assert_eq!(BotReason::from_code(reason.code()), Some(reason));
            assert_ne!(reason.code(), 0);
        }
        assert_eq!(BotReason::from_code(0), None);
    }

    #[test]
    fn hostile_agents_do_not_panic() {
        for ua in ["\u{1F600}bot", "BOT\u{0130}", "cubo", "t", "\u{0}"] {
            let _ = is_automated_user_agent(ua);
        }
    }
}
