//! What the Engagement History API says about a visitor's device, browser and operating
//! system, read from the `User-Agent` the visit arrived with.
//!
//! A deliberately small reader: it knows the browsers and systems that make up nearly all
//! traffic and answers `OTHER` for the rest, rather than guessing. Order matters below
//! because user agents lie by inclusion: Edge, Opera and Samsung Internet all say
//! `Chrome/`, and every Chromium browser says `Safari/`, so the more specific tokens are
//! looked for first. Pure and total: any string (the visitor controls it) gives an
//! answer without panicking.

use std::fmt;

/// The kind of device, as the history API's `visitorInfo.device` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    Desktop,
    Tablet,
    Mobile,
    /// Crawlers, and visits without a user agent.
    Other,
}

impl Device {
    pub fn as_str(self) -> &'static str {
        match self {
            Device::Desktop => "DESKTOP",
            Device::Tablet => "TABLET",
            Device::Mobile => "MOBILE",
            Device::Other => "OTHER",
        }
    }
}

/// The operating system, as `visitorInfo.operatingSystem` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatingSystem {
    Windows,
    MacOsx,
    Linux,
    Android,
    Ios,
    ChromeOs,
    Other,
}

impl OperatingSystem {
    pub fn as_str(self) -> &'static str {
        match self {
            OperatingSystem::Windows => "WINDOWS",
            OperatingSystem::MacOsx => "MAC_OSX",
            OperatingSystem::Linux => "LINUX",
            OperatingSystem::Android => "ANDROID",
            OperatingSystem::Ios => "IOS",
            OperatingSystem::ChromeOs => "CHROME_OS",
            OperatingSystem::Other => "OTHER",
        }
    }
}

/// A browser family and its major version, when the user agent gives one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Browser {
    pub name: &'static str,
    pub major: Option<u32>,
}

impl fmt::Display for Browser {
    /// `Chrome 120`, or just the name when the version is unknown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.major {
            Some(major) => write!(f, "{} {major}", self.name),
            None => f.write_str(self.name),
        }
    }
}

/// Everything read from one user agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitorAgent {
    pub device: Device,
    /// `None` when the browser is not one this reader knows.
    pub browser: Option<Browser>,
    pub operating_system: OperatingSystem,
}

impl VisitorAgent {
    /// `visitorInfo.browser`: `Chrome 120`, or `OTHER`.
    pub fn browser_label(&self) -> String {
        match &self.browser {
            Some(browser) => browser.to_string(),
            None => "OTHER".to_owned(),
        }
    }
}

/// Substrings (lowercase) that mark crawlers and monitoring robots: their visits are
/// not a person's, whatever browser they imitate.
const ROBOT_MARKS: [&str; 7] = [
    "bot",
    "crawl",
    "spider",
    "slurp",
    "mediapartners",
    "facebookexternalhit",
    "lighthouse",
];

/// Reads a `User-Agent` header value.
pub fn parse(user_agent: &str) -> VisitorAgent {
    let ua = user_agent.trim();
    let lower = ua.to_ascii_lowercase();
    if ua.is_empty() || ROBOT_MARKS.iter().any(|m| lower.contains(m)) {
        return VisitorAgent {
            device: Device::Other,
            browser: None,
            operating_system: OperatingSystem::Other,
        };
    }
    let operating_system = operating_system(ua);
    let browser = browser(ua);
    VisitorAgent {
        device: device(ua, operating_system, browser.is_some()),
        browser,
        operating_system,
    }
}

fn operating_system(ua: &str) -> OperatingSystem {
    // Windows Phone says `Android` and `iPhone` too; it is neither, and gone.
    if ua.contains("Windows Phone") {
        OperatingSystem::Other
    } else if ua.contains("iPhone") || ua.contains("iPad") || ua.contains("iPod") {
        OperatingSystem::Ios
    } else if ua.contains("Android") {
        OperatingSystem::Android
    } else if ua.contains("CrOS") {
        OperatingSystem::ChromeOs
    } else if ua.contains("Windows") {
        OperatingSystem::Windows
    } else if ua.contains("Macintosh") || ua.contains("Mac OS X") {
        OperatingSystem::MacOsx
    } else if ua.contains("Linux") || ua.contains("X11") {
        OperatingSystem::Linux
    } else {
        OperatingSystem::Other
    }
}

fn device(ua: &str, os: OperatingSystem, is_browser: bool) -> Device {
    match os {
        OperatingSystem::Ios if ua.contains("iPad") => Device::Tablet,
        OperatingSystem::Ios => Device::Mobile,
        // Android phones' browsers say `Mobile`; tablets' do not (Firefox says `Tablet`).
        OperatingSystem::Android if ua.contains("Mobile") && !ua.contains("Tablet") => {
            Device::Mobile
        }
        OperatingSystem::Android if ua.contains("Tablet") => Device::Tablet,
        // That is a browsers' convention: an app's HTTP library (`Dalvik/2.1.0 (Linux; U;
        // Android 14; Pixel 8)`) says neither on a phone.
        OperatingSystem::Android if !is_browser => Device::Other,
        OperatingSystem::Android => Device::Tablet,
        OperatingSystem::Windows
        | OperatingSystem::MacOsx
        | OperatingSystem::Linux
        | OperatingSystem::ChromeOs => Device::Desktop,
        // A system we do not know (Windows Phone, KaiOS, an app's HTTP library): only
        // what it says about itself.
        OperatingSystem::Other => {
            if ua.contains("Tablet") {
                Device::Tablet
            } else if ua.contains("Mobile") || ua.contains("Phone") {
                Device::Mobile
            } else {
                Device::Other
            }
        }
    }
}

/// Browser tokens, most specific first; the first present wins.
const BROWSERS: [(&str, &str); 17] = [
    ("SamsungBrowser/", "Samsung Internet"),
    ("EdgA/", "Edge"),
    ("EdgiOS/", "Edge"),
    ("Edg/", "Edge"),
    ("Edge/", "Edge"),
    ("OPR/", "Opera"),
    ("OPiOS/", "Opera"),
    ("OPT/", "Opera"),
    ("Opera/", "Opera"),
    ("YaBrowser/", "Yandex"),
    ("FxiOS/", "Firefox"),
    ("Firefox/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("HeadlessChrome/", "Chrome"),
    ("Chromium/", "Chrome"),
    ("Chrome/", "Chrome"),
    ("MSIE ", "Internet Explorer"),
];

fn browser(ua: &str) -> Option<Browser> {
    for (token, name) in BROWSERS {
        if let Some(at) = ua.find(token) {
            // Opera 12 and older wrote `Opera/9.80 ... Version/12.16`: the real version.
            let major = if token == "Opera/" {
                version_after(ua, "Version/").or_else(|| major_at(&ua[at + token.len()..]))
            } else {
                major_at(&ua[at + token.len()..])
            };
            return Some(Browser { name, major });
        }
    }
    if ua.contains("Trident/") {
        // Internet Explorer 11 dropped `MSIE` and writes `rv:11.0`.
        return Some(Browser {
            name: "Internet Explorer",
            major: version_after(ua, "rv:"),
        });
    }
    if ua.contains("Safari/") || (ua.contains("AppleWebKit/") && ua.contains("Mobile/")) {
        // Safari's own version is in `Version/`; an app's web view on iOS has none.
        return Some(Browser {
            name: "Safari",
            major: version_after(ua, "Version/"),
        });
    }
    None
}

fn version_after(ua: &str, token: &str) -> Option<u32> {
    ua.find(token)
        .and_then(|at| major_at(&ua[at + token.len()..]))
}

/// The leading digits of `text`, as a number.
fn major_at(text: &str) -> Option<u32> {
    let digits = text
        .bytes()
        .take_while(u8::is_ascii_digit)
        .take(9)
        .map(char::from)
        .collect::<String>();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(ua: &str) -> (&'static str, String, &'static str) {
        let agent = parse(ua);
        (
            agent.device.as_str(),
            agent.browser_label(),
            agent.operating_system.as_str(),
        )
    }

    #[test]
    fn desktop_browsers_on_windows_mac_and_linux() {
        let cases = [
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
                ("DESKTOP", "Chrome 120", "WINDOWS"),
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
                ("DESKTOP", "Edge 120", "WINDOWS"),
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
                ("DESKTOP", "Firefox 121", "WINDOWS"),
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36 OPR/105.0.0.0",
                ("DESKTOP", "Opera 105", "WINDOWS"),
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/52.0.2743.116 Safari/537.36 Edge/15.15063",
                ("DESKTOP", "Edge 15", "WINDOWS"),
            ),
            (
                "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
                ("DESKTOP", "Internet Explorer 11", "WINDOWS"),
            ),
            (
                "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.2; Trident/6.0)",
                ("DESKTOP", "Internet Explorer 10", "WINDOWS"),
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
                ("DESKTOP", "Safari 17", "MAC_OSX"),
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
                ("DESKTOP", "Chrome 120", "MAC_OSX"),
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.2; rv:121.0) Gecko/20100101 Firefox/121.0",
                ("DESKTOP", "Firefox 121", "MAC_OSX"),
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
                ("DESKTOP", "Chrome 120", "LINUX"),
            ),
            (
                "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
                ("DESKTOP", "Firefox 121", "LINUX"),
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Ubuntu Chromium/37.0.2062.94 Chrome/37.0.2062.94 Safari/537.36",
                ("DESKTOP", "Chrome 37", "LINUX"),
            ),
            (
                "Opera/9.80 (X11; Linux i686; Ubuntu/14.10) Presto/2.12.388 Version/12.16",
                ("DESKTOP", "Opera 12", "LINUX"),
            ),
            (
                "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
                ("DESKTOP", "Chrome 120", "CHROME_OS"),
            ),
        ];
        for (ua, expected) in cases {
            let (device, browser, os) = read(ua);
            assert_eq!((device, browser.as_str(), os), expected, "{ua}");
        }
    }

    #[test]
    fn android_phones_and_tablets() {
        let cases = [
            (
                "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36",
                ("MOBILE", "Chrome 120", "ANDROID"),
            ),
            (
                "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
                ("MOBILE", "Samsung Internet 23", "ANDROID"),
            ),
            (
                "Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0",
                ("MOBILE", "Firefox 121", "ANDROID"),
            ),
            (
                "Mozilla/5.0 (Linux; Android 10; HD1913) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36 EdgA/120.0.2210.115",
                ("MOBILE", "Edge 120", "ANDROID"),
            ),
            (
                "Mozilla/5.0 (Linux; Android 10; VOG-L29) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36 OPR/79.4.4195.76535",
                ("MOBILE", "Opera 79", "ANDROID"),
            ),
            (
                // An app's web view: Chrome underneath.
                "Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230901.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.193 Mobile Safari/537.36",
                ("MOBILE", "Chrome 120", "ANDROID"),
            ),
            (
                "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Safari/537.36",
                ("TABLET", "Chrome 120", "ANDROID"),
            ),
            (
                "Mozilla/5.0 (Linux; Android 12; SM-T870) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/22.0 Chrome/111.0.5563.116 Safari/537.36",
                ("TABLET", "Samsung Internet 22", "ANDROID"),
            ),
            (
                "Mozilla/5.0 (Android 14; Tablet; rv:121.0) Gecko/121.0 Firefox/121.0",
                ("TABLET", "Firefox 121", "ANDROID"),
            ),
        ];
        for (ua, expected) in cases {
            let (device, browser, os) = read(ua);
            assert_eq!((device, browser.as_str(), os), expected, "{ua}");
        }
    }

    #[test]
    fn iphones_and_ipads() {
        let cases = [
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
                ("MOBILE", "Safari 17", "IOS"),
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1",
                ("MOBILE", "Chrome 120", "IOS"),
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/121.0 Mobile/15E148 Safari/605.1.15",
                ("MOBILE", "Firefox 121", "IOS"),
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 EdgiOS/120.2210.126 Mobile/15E148 Safari/605.1.15",
                ("MOBILE", "Edge 120", "IOS"),
            ),
            (
                // An app's web view: WebKit without a Safari version.
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
                ("MOBILE", "Safari", "IOS"),
            ),
            (
                "Mozilla/5.0 (iPad; CPU OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
                ("TABLET", "Safari 17", "IOS"),
            ),
            (
                "Mozilla/5.0 (iPad; CPU OS 16_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1",
                ("TABLET", "Chrome 120", "IOS"),
            ),
        ];
        for (ua, expected) in cases {
            let (device, browser, os) = read(ua);
            assert_eq!((device, browser.as_str(), os), expected, "{ua}");
        }
    }

    #[test]
    fn robots_empty_and_unknown_agents_are_other() {
        for ua in [
            "",
            "   ",
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.129 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
            "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
            "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        ] {
            assert_eq!(read(ua), ("OTHER", "OTHER".to_owned(), "OTHER"), "{ua:?}");
        }
        // Not robots we know, and not browsers: nothing to say about them either.
        for ua in ["curl/8.5.0", "okhttp/4.12.0", "Dalvik/2.1.0"] {
            assert_eq!(read(ua), ("OTHER", "OTHER".to_owned(), "OTHER"), "{ua:?}");
        }
    }

    #[test]
    fn an_android_apps_http_library_is_android_on_an_unknown_device() {
        let ua = "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/UQ1A.240205.004)";
        assert_eq!(read(ua), ("OTHER", "OTHER".to_owned(), "ANDROID"));
    }

    #[test]
    fn windows_phone_is_a_phone_of_no_listed_system() {
        let ua = "Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/52.0.2743.116 Mobile Safari/537.36 Edge/15.15063";
        assert_eq!(read(ua), ("MOBILE", "Edge 15".to_owned(), "OTHER"));
    }

    #[test]
    fn odd_versions_do_not_panic() {
        for ua in [
            "Chrome/",
            "Chrome/99999999999999999999",
            "Firefox/x",
            "Opera/",
            "Trident/ rv:",
            "Version/ Safari/",
            "\u{1F600} Chrome/1\u{1F600}",
        ] {
            let _ = parse(ua);
        }
        assert_eq!(parse("Chrome/").browser_label(), "Chrome");
        assert_eq!(
            parse("Chrome/99999999999999999999").browser_label(),
            "Chrome 999999999"
        );
    }
}
