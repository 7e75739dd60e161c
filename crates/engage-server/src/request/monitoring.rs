//! The Monitoring API's bodies (docs/vocabulary.md, Monitoring API): what an app sends
//! to `engagement` and `report` instead of tag events. The attributes are the model's
//! [`EngagementAttribute`]s; this reads the envelope around them. Sees raw network bytes
//! once parsed: it must never panic (a fuzz target runs it).

use engage_model::body::Errors;
use engage_model::{EngagementAttribute, Invalid, Node, View};
use engage_store::{ClientProperties, NewEvent, NewSde, PageView};

use engage_store::ids::new_id;

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

    /// The members a body of this call may have.
    fn members(self) -> &'static [&'static str] {
        match self {
            Call::Engagement => &[
                "consumerId",
                "identities",
                "clientProperties",
                "entryPoints",
                "engagementAttributes",
            ],
            Call::Report => &["pageId", "engagementAttributes"],
        }
    }
}

/// What a valid Monitoring API body holds: the page view it names, what the app says
/// about its device, and its items.
#[derive(Debug, Clone)]
pub struct MonitoringBody {
    pub page: Option<PageView>,
    pub client: Option<ClientProperties>,
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
        let mut page = None;
        if let Some(entry_points) = json.get("entryPoints") {
            match entry_points.view() {
                View::Array(items) => {
                    for (i, item) in items.enumerate() {
                        match item.view() {
                            View::String(url) if url.len() <= 8192 => {
                                page.get_or_insert_with(PageView::default)
                                    .url
                                    .get_or_insert_with(|| url.to_string());
                            }
                            _ => errors.at(format!("/entryPoints/{i}"), "expected a URL string"),
                        }
                    }
                }
                _ => errors.at(
                    "/entryPoints",
                    format!("expected an array, found {}", entry_points.kind()),
                ),
            }
        }
        let client = json
            .get("clientProperties")
            .and_then(|props| client_properties(props, &mut errors));
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
            page,
            client,
            events,
            sdes,
        }))
    }
}

/// `clientProperties`, checked; the IP address is checked but not kept.
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
            ("appVersion" | "ipAddress" | "os" | "osVersion", View::String(s)) if s.len() <= 256 => {
                match key {
                    "appVersion" => client.app_version = text(),
                    "os" => client.os = text(),
                    "osVersion" => client.os_version = text(),
                    _ => {}
                }
            }
            ("appVersion" | "ipAddress" | "os" | "osVersion", _) => {
                errors.at(path, "expected a string of at most 256 characters")
            }
            _ => errors.at(
                path,
                format!("unknown field `{key}`, expected appVersion, deviceFamily, ipAddress, os or osVersion"),
            ),
        }
    }
    Some(client)
}
