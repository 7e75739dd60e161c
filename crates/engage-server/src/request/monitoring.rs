//! The Monitoring API's bodies (docs/vocabulary.md, Monitoring API): what an app sends
//! to `engagement` and `report` instead of tag events. The attributes are the model's
//! [`EngagementAttribute`]s; this reads the envelope around them. Sees raw network bytes
//! once parsed: it must never panic (a fuzz target runs it).

use engage_model::body::{string, Errors};
use engage_model::{EngagementAttribute, Invalid, Node, View};
use engage_store::{ClientProperties, NewEvent, NewSde, PageView};

use engage_store::ids::new_id;

/// Longest `consumerId`, `identities[].sub`, `iss` or `acr` accepted.
pub const MAX_IDENTITY_CHARS: usize = 256;
/// Most `identities` one body may name.
pub const MAX_IDENTITIES: usize = 8;
/// Most `entryPoints` one body may name.
pub const MAX_ENTRY_POINTS: usize = 64;
/// Longest entry point accepted (a URL).
pub const MAX_ENTRY_POINT_CHARS: usize = 8192;
/// Longest section (`sec://`) or language (`lang://`) an entry point may name.
const MAX_NAME_CHARS: usize = 256;

/// Which call a body was sent to, kept with quarantined bodies for replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    Engagement,
    Report,
}

impl Call {
    pub fn name(self) -> &'static str {
        match self {
            Call::Engagement => "engagement",
            Call::Report => "report",
        }
    }

    /// The members a body of this call may have: those LivePerson documents for it, and
    /// `clientProperties` on `report` too, as its getting-started example sends it.
    fn members(self) -> &'static [&'static str] {
        match self {
            Call::Engagement => &[
                "consumerId",
                "identities",
                "clientProperties",
                "entryPoints",
                "engagementAttributes",
            ],
            Call::Report => &[
                "consumerId",
                "identities",
                "clientProperties",
                "pageId",
                "entryPoints",
                "engagementAttributes",
            ],
        }
    }
}

/// One entry of `identities`: who identified the consumer (`iss`), how (`acr`) and as
/// whom (`sub`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub iss: Option<String>,
    pub acr: String,
    pub sub: String,
}

/// What a valid Monitoring API body holds: the page view it names, what the app says
/// about its device, who the consumer is, and its items.
#[derive(Debug, Clone)]
pub struct MonitoringBody {
    pub page: Option<PageView>,
    pub client: Option<ClientProperties>,
    /// `consumerId` (deprecated by LivePerson in favour of `identities`).
    pub consumer_id: Option<String>,
    pub identities: Vec<Identity>,
    pub events: Vec<NewEvent>,
    pub sdes: Vec<NewSde>,
}

impl MonitoringBody {
    /// The page view and items of a body sent to `call` on page view `page_id`, or every
    /// problem in it.
    pub fn read(json: Node<'_, '_>, call: Call, page_id: &str) -> Result<MonitoringBody, Invalid> {
        let Some(members) = json.members() else {
            return Err(Invalid::single(
                "",
                format!("expected an object, found {}", json.kind()),
            ));
        };
        let mut errors = Errors::new();
        let known = call.members();
        for (key, _) in members {
            if !known.contains(&key) {
                errors.at(
                    format!("/{key}"),
                    format!(
                        "unknown field `{key}`, expected one of {}",
                        known.join(", ")
                    ),
                );
            }
        }
        let entry = json
            .get("entryPoints")
            .map(|points| entry_points(points, &mut errors))
            .unwrap_or_default();
        let consumer_id = json
            .get("consumerId")
            .and_then(|id| string(id, "/consumerId", MAX_IDENTITY_CHARS, &mut errors));
        let identities = json
            .get("identities")
            .map(|list| identities(list, &mut errors))
            .unwrap_or_default();
        let mut client = json
            .get("clientProperties")
            .and_then(|props| client_properties(props, &mut errors));
        if let Some(language) = entry.language {
            client
                .get_or_insert_with(ClientProperties::default)
                .language = Some(language);
        }
        let mut events = Vec::new();
        let mut sdes = Vec::new();
        match json.get("engagementAttributes").map(|v| (v, v.view())) {
            None | Some((_, View::Null)) => {}
            Some((_, View::Array(items))) => {
                for (i, item) in items.enumerate() {
                    match EngagementAttribute::read(item) {
                        Ok(EngagementAttribute::Impression(impression)) => events.push(NewEvent {
                            client_id: new_id(),
                            client_time_ms: None,
                            event: impression.to_event(page_id),
                        }),
                        Ok(EngagementAttribute::Sde(sde)) => sdes.push(NewSde {
                            client_id: new_id(),
                            client_time_ms: None,
                            sde,
                        }),
                        Err(invalid) => {
                            errors.absorb(invalid.within(&format!("/engagementAttributes/{i}")))
                        }
                    }
                }
            }
            Some((other, _)) => errors.at(
                "/engagementAttributes",
                format!("expected an array, found {}", other.kind()),
            ),
        }
        errors.finish(Some(MonitoringBody {
            page: entry.page,
            client,
            consumer_id,
            identities,
            events,
            sdes,
        }))
    }

    /// The identity a consumer is known by: the first `identities[].sub`, else
    /// `consumerId`.
    pub fn identity(&self) -> Option<&str> {
        self.identities
            .first()
            .map(|i| i.sub.as_str())
            .or(self.consumer_id.as_deref())
    }
}

/// The identity a body names, read before the body is validated (to find the visitor
/// of a call without `vid`): the first `identities[].sub`, else `consumerId`, trimmed,
/// as [`MonitoringBody::identity`] will read it if the body is valid.
pub fn named_identity(json: Node<'_, '_>) -> Option<String> {
    let usable = |node: Option<Node<'_, '_>>| {
        let s = node?.as_str()?.trim();
        (!s.is_empty() && s.chars().count() <= MAX_IDENTITY_CHARS).then(|| s.to_owned())
    };
    let first_sub = match json.get("identities").map(|list| list.view()) {
        Some(View::Array(mut items)) => items.next().and_then(|item| item.get("sub")),
        _ => None,
    };
    usable(first_sub).or_else(|| usable(json.get("consumerId")))
}

/// What `entryPoints` say about the page view.
#[derive(Default)]
struct EntryPoints {
    page: Option<PageView>,
    language: Option<String>,
}

/// `entryPoints`: `http(s)://` the page URL (the first one), `sec://NAME` a section,
/// `lang://NAME` the language (the first one); any other scheme (`tel://`, ...) is
/// accepted and means nothing to Engage.
fn entry_points(points: Node<'_, '_>, errors: &mut Errors) -> EntryPoints {
    let mut found = EntryPoints::default();
    let View::Array(items) = points.view() else {
        errors.at(
            "/entryPoints",
            format!("expected an array, found {}", points.kind()),
        );
        return found;
    };
    for (i, item) in items.enumerate() {
        let path = format!("/entryPoints/{i}");
        if i >= MAX_ENTRY_POINTS {
            errors.at(
                path,
                format!("at most {MAX_ENTRY_POINTS} entry points are allowed"),
            );
            break;
        }
        let Some(point) = string(item, &path, MAX_ENTRY_POINT_CHARS, errors) else {
            continue;
        };
        if let Some(name) = scheme_rest(&point, "sec://") {
            if let Some(name) = named(name, &path, errors) {
                let page = found.page.get_or_insert_with(PageView::default);
                if !page.sections.contains(&name) {
                    page.sections.push(name);
                }
            }
        } else if let Some(name) = scheme_rest(&point, "lang://") {
            if let Some(name) = named(name, &path, errors) {
                found.language.get_or_insert(name);
            }
        } else if scheme_rest(&point, "http://").is_some()
            || scheme_rest(&point, "https://").is_some()
        {
            found
                .page
                .get_or_insert_with(PageView::default)
                .url
                .get_or_insert(point);
        }
    }
    found
}

/// What follows `scheme` (compared without case) at the start of `point`.
fn scheme_rest<'a>(point: &'a str, scheme: &str) -> Option<&'a str> {
    let head = point.get(..scheme.len())?;
    head.eq_ignore_ascii_case(scheme)
        .then(|| &point[scheme.len()..])
}

/// A section or language name: 1 to [`MAX_NAME_CHARS`] characters.
fn named(name: &str, path: &str, errors: &mut Errors) -> Option<String> {
    let name = name.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        errors.at(
            path,
            format!("expected a name of 1-{MAX_NAME_CHARS} characters after the scheme"),
        );
        return None;
    }
    Some(name.to_owned())
}

/// `identities`: at most [`MAX_IDENTITIES`] objects `{iss?, acr, sub}`.
fn identities(list: Node<'_, '_>, errors: &mut Errors) -> Vec<Identity> {
    let View::Array(items) = list.view() else {
        errors.at(
            "/identities",
            format!("expected an array, found {}", list.kind()),
        );
        return Vec::new();
    };
    let mut found = Vec::new();
    for (i, item) in items.enumerate() {
        let path = format!("/identities/{i}");
        if i >= MAX_IDENTITIES {
            errors.at(
                path,
                format!("at most {MAX_IDENTITIES} identities are allowed"),
            );
            break;
        }
        let Some(members) = item.members() else {
            errors.at(path, format!("expected an object, found {}", item.kind()));
            continue;
        };
        let (mut iss, mut acr, mut sub) = (None, None, None);
        for (key, value) in members {
            let at = format!("{path}/{key}");
            match key {
                "iss" => iss = string(value, &at, MAX_IDENTITY_CHARS, errors),
                "acr" => acr = string(value, &at, MAX_IDENTITY_CHARS, errors),
                "sub" => sub = string(value, &at, MAX_IDENTITY_CHARS, errors),
                _ => errors.at(
                    at,
                    format!("unknown field `{key}`, expected iss, acr or sub"),
                ),
            }
        }
        for (key, value) in [("acr", &acr), ("sub", &sub)] {
            if value.is_none() && item.get(key).is_none() {
                errors.at(format!("{path}/{key}"), "missing");
            }
        }
        if let (Some(acr), Some(sub)) = (acr, sub) {
            found.push(Identity { iss, acr, sub });
        }
    }
    found
}

/// `clientProperties`, checked; the IP address is checked but not kept. `osName`, which
/// LivePerson's examples send, is the same member as the documented `os`.
fn client_properties(props: Node<'_, '_>, errors: &mut Errors) -> Option<ClientProperties> {
    let Some(members) = props.members() else {
        errors.at(
            "/clientProperties",
            format!("expected an object, found {}", props.kind()),
        );
        return None;
    };
    let mut client = ClientProperties::default();
    for (key, value) in members {
        let path = format!("/clientProperties/{key}");
        let text = || value.as_str().map(str::to_owned);
        match (key, value.view()) {
            ("deviceFamily", View::String("DESKTOP" | "TABLET" | "MOBILE")) => {
                client.device_family = text();
            }
            ("deviceFamily", _) => errors.at(path, "expected DESKTOP, TABLET or MOBILE"),
            (
                "appVersion" | "ipAddress" | "os" | "osName" | "osVersion",
                View::String(s),
            ) if s.len() <= 256 => match key {
                "appVersion" => client.app_version = text(),
                "os" | "osName" => {
                    if client.os.is_some() && client.os != text() {
                        errors.at(path, "`os` and `osName` name the same thing: give one");
                    }
                    client.os = text();
                }
                "osVersion" => client.os_version = text(),
                _ => {}
            },
            ("appVersion" | "ipAddress" | "os" | "osName" | "osVersion", _) => {
                errors.at(path, "expected a string of at most 256 characters")
            }
            _ => errors.at(
                path,
                format!("unknown field `{key}`, expected appVersion, deviceFamily, ipAddress, os, osName or osVersion"),
            ),
        }
    }
    Some(client)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use engage_model::Tape;

    fn read(body: &str, call: Call) -> Result<MonitoringBody, Invalid> {
        let tape = Tape::parse(body.as_bytes()).unwrap();
        MonitoringBody::read(tape.root(), call, "page-1")
    }

    #[test]
    fn entry_points_become_the_url_the_sections_and_the_language() {
        let body = read(
            r#"{"entryPoints": ["tel://972737004000", "HTTPS://shop.example/a", "http://other.example",
                                "sec://Sport", "SEC://News", "sec://Sport", "lang://English", "lang://French"]}"#,
            Call::Engagement,
        )
        .unwrap();
        let page = body.page.unwrap();
        assert_eq!(page.url.as_deref(), Some("HTTPS://shop.example/a"));
        assert_eq!(page.sections, ["Sport", "News"]);
        assert_eq!(body.client.unwrap().language.as_deref(), Some("English"));
        let body = read(r#"{"entryPoints": ["tel://1"]}"#, Call::Report).unwrap();
        assert!(body.page.is_none() && body.client.is_none());
    }

    #[test]
    fn identities_and_consumer_id_name_the_consumer() {
        let body = read(
            r#"{"consumerId": "c", "identities": [{"acr": "0", "sub": "a"}, {"iss": "TMO", "acr": "loa1", "sub": "b"}]}"#,
            Call::Report,
        )
        .unwrap();
        assert_eq!(body.identity(), Some("a"));
        assert_eq!(body.identities[1].iss.as_deref(), Some("TMO"));
        let body = read(r#"{"consumerId": "c"}"#, Call::Engagement).unwrap();
        assert_eq!(body.identity(), Some("c"));
        assert_eq!(body.client, None);
        let body = read(
            r#"{"clientProperties": {"osName": "IOS"}}"#,
            Call::Engagement,
        )
        .unwrap();
        assert_eq!(body.client.unwrap().os.as_deref(), Some("IOS"));
    }
}
