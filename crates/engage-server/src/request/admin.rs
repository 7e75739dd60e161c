//! The admin API's bodies (Bearer key): app installations, campaigns, engagements, their
//! availability, and the account's allowed origins. Strict: an unknown or repeated member
//! is an error.

use engage_model::body::{describe, engagement_type, index, Errors, ObjReader};
use engage_model::{AgentState, Invalid, Node, View};
use engage_store::{CampaignFields, EngagementContent, EngagementDefinition};

use super::action::Action;
use crate::decision::Targeting;

/// The body as the OpenAPI description states it.
pub mod schema;

/// Longest campaign, engagement or app name.
const MAX_NAME_CHARS: usize = 256;
const MAX_GOAL_CHARS: usize = 256;
const MAX_TGL_NAME_CHARS: usize = 64;
/// Longest title or button label, and longest body text.
const MAX_LABEL_CHARS: usize = 256;
const MAX_BODY_CHARS: usize = 10_000;
/// Priorities run from 0 (first) to this; a campaign without one gets the default.
const MAX_PRIORITY: u64 = 1_000_000;
const DEFAULT_PRIORITY: u32 = 100;
/// Longest display duration, one day.
const MAX_TIMEOUT_SECONDS: u64 = 86_400;
/// More would be a list nobody keeps up to date; a site with more uses `"*"`.
const MAX_ORIGINS: usize = 100;
/// An origin is a scheme, a host and a port: far shorter than this.
const MAX_ORIGIN_CHARS: usize = 300;

/// `POST .../apps` `{"name"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppNameBody {
    pub name: String,
}

impl AppNameBody {
    pub fn read(json: Node<'_, '_>) -> Result<AppNameBody, Invalid> {
        let mut errors = Errors::new();
        let name = ObjReader::strict(json, "", &["name"], &mut errors)
            .and_then(|r| r.required_string("", "name", MAX_NAME_CHARS, &mut errors));
        errors.finish(name.map(|name| AppNameBody { name }))
    }
}

/// `{"name", "goal"?, "priority"?, "enabled"?, "controlGroupPercent"?,
/// "attributionWindowDays"?}`: what is left out takes its default.
#[derive(Debug, Clone)]
pub struct CampaignFieldsBody(pub CampaignFields);

impl CampaignFieldsBody {
    pub fn read(json: Node<'_, '_>) -> Result<CampaignFieldsBody, Invalid> {
        let mut errors = Errors::new();
        let fields = campaign_fields(json, &mut errors);
        errors.finish(fields.map(CampaignFieldsBody))
    }
}

fn campaign_fields(json: Node<'_, '_>, errors: &mut Errors) -> Option<CampaignFields> {
    let members = ObjReader::strict(
        json,
        "",
        &[
            "name",
            "goal",
            "priority",
            "enabled",
            "controlGroupPercent",
            "attributionWindowDays",
        ],
        errors,
    )?;
    let name = members.required_string("", "name", MAX_NAME_CHARS, errors);
    let goal = members.optional_string("", "goal", MAX_GOAL_CHARS, errors);
    let priority = members
        .optional_uint("", "priority", 0..=MAX_PRIORITY, errors)
        .map_or(DEFAULT_PRIORITY, |p| u32::try_from(p).unwrap_or(u32::MAX));
    let enabled = members.optional_bool("", "enabled", errors).unwrap_or(true);
    let control_group_percent = members
        .optional_uint(
            "",
            "controlGroupPercent",
            0..=u64::from(CampaignFields::MAX_CONTROL_GROUP_PERCENT),
            errors,
        )
        .and_then(|p| u8::try_from(p).ok())
        .unwrap_or(CampaignFields::DEFAULT_CONTROL_GROUP_PERCENT);
    let attribution_window_days = members
        .optional_uint(
            "",
            "attributionWindowDays",
            1..=u64::from(CampaignFields::MAX_ATTRIBUTION_WINDOW_DAYS),
            errors,
        )
        .and_then(|d| u8::try_from(d).ok())
        .unwrap_or(CampaignFields::DEFAULT_ATTRIBUTION_WINDOW_DAYS);
    Some(CampaignFields {
        name: name?,
        goal,
        priority,
        enabled,
        control_group_percent,
        attribution_window_days,
    })
}

const ENGAGEMENT_FIELDS: [&str; 10] = [
    "name",
    "engagementType",
    "tglName",
    "zoneId",
    "timeoutSeconds",
    "targeting",
    "content",
    "hideWhenOffline",
    "action",
    "weight",
];

/// The largest traffic-split weight: weights are relative, so this is only a bound that
/// keeps a split's total far from overflowing.
pub const MAX_WEIGHT: u64 = 1_000_000;

/// An engagement's definition: `name` and `engagementType` are required, the rest has
/// defaults (`tglName` the type's renderer, no zone, no timeout, no targeting, no
/// content, shown when offline).
#[derive(Debug, Clone)]
pub struct EngagementDefinitionBody(pub EngagementDefinition);

impl EngagementDefinitionBody {
    pub fn read(json: Node<'_, '_>) -> Result<EngagementDefinitionBody, Invalid> {
        let mut errors = Errors::new();
        let definition = engagement_definition(json, &mut errors);
        errors.finish(definition.map(EngagementDefinitionBody))
    }
}

fn engagement_definition(json: Node<'_, '_>, errors: &mut Errors) -> Option<EngagementDefinition> {
    let members = ObjReader::strict(json, "", &ENGAGEMENT_FIELDS, errors)?;
    let name = members.required_string("", "name", MAX_NAME_CHARS, errors);
    let engagement_type = match members.get("engagementType") {
        None => {
            errors.at("/engagementType", "missing");
            None
        }
        Some(v) => engagement_type(v, "/engagementType", errors),
    };
    let tgl_name = members.optional_string("", "tglName", MAX_TGL_NAME_CHARS, errors);
    let zone_id = members.optional_uint("", "zoneId", 0..=u64::MAX, errors);
    let timeout_seconds = members
        .optional_uint("", "timeoutSeconds", 1..=MAX_TIMEOUT_SECONDS, errors)
        .and_then(|t| u32::try_from(t).ok());
    let targeting = match members.get("targeting") {
        None => Some(Targeting::default()),
        Some(t) => Targeting::parse(t, "/targeting", errors),
    };
    let content = match members.get("content") {
        None => Some(EngagementContent::default()),
        Some(c) => content(c, "/content", errors),
    };
    let hide_when_offline = members
        .optional_bool("", "hideWhenOffline", errors)
        .unwrap_or(false);
    let action = match members.get("action") {
        None => Some(None),
        Some(a) => Action::parse(a, "/action", errors).map(Some),
    };
    let weight = members
        .optional_uint("", "weight", 0..=MAX_WEIGHT, errors)
        .and_then(|w| u32::try_from(w).ok());
    let engagement_type = engagement_type?;
    Some(EngagementDefinition {
        name: name?,
        engagement_type,
        tgl_name: tgl_name.unwrap_or_else(|| engagement_type.default_tgl_name().to_owned()),
        zone_id,
        timeout_seconds,
        targeting: targeting?.to_stored(),
        content: content?,
        hide_when_offline,
        action: action?.map(|a| a.to_stored()),
        weight,
    })
}

fn content(json: Node<'_, '_>, path: &str, errors: &mut Errors) -> Option<EngagementContent> {
    let members = ObjReader::strict(
        json,
        path,
        &["title", "body", "acceptLabel", "closeLabel"],
        errors,
    )?;
    Some(EngagementContent {
        title: members.optional_string(path, "title", MAX_LABEL_CHARS, errors),
        body: members.optional_string(path, "body", MAX_BODY_CHARS, errors),
        accept_label: members.optional_string(path, "acceptLabel", MAX_LABEL_CHARS, errors),
        close_label: members.optional_string(path, "closeLabel", MAX_LABEL_CHARS, errors),
    })
}

/// `PUT .../availability` `{"state": 1|2|4}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AvailabilityBody {
    pub state: AgentState,
}

impl AvailabilityBody {
    pub fn read(json: Node<'_, '_>) -> Result<AvailabilityBody, Invalid> {
        let mut errors = Errors::new();
        let state =
            ObjReader::strict(json, "", &["state"], &mut errors).and_then(|members| match members
                .get("state")
            {
                None => {
                    errors.at("/state", "missing");
                    None
                }
                Some(v) => agent_state(v, "/state", &mut errors),
            });
        errors.finish(state.map(|state| AvailabilityBody { state }))
    }
}

fn agent_state(json: Node<'_, '_>, path: &str, errors: &mut Errors) -> Option<AgentState> {
    let found = match json.view() {
        View::Number(n) => n.as_u64().and_then(AgentState::from_code),
        View::String(s) if s.len() == 1 => s.parse().ok().and_then(AgentState::from_code),
        _ => None,
    };
    if found.is_none() {
        errors.at(
            path,
            format!(
                "expected an agent state 1 (online), 2 (offline) or 4 (busy), found {}",
                describe(json)
            ),
        );
    }
    found
}

/// `PUT .../origins` `{"allowedOrigins": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedOriginsBody {
    pub allowed_origins: Vec<String>,
}

impl AllowedOriginsBody {
    pub fn read(json: Node<'_, '_>) -> Result<AllowedOriginsBody, Invalid> {
        let mut errors = Errors::new();
        let allowed_origins = allowed_origins(json, &mut errors);
        errors.finish(allowed_origins.map(|allowed_origins| AllowedOriginsBody { allowed_origins }))
    }
}

/// `{"allowedOrigins": [...]}`: each `"*"` or an origin as browsers send it in the
/// `Origin` header (`scheme://host[:port]`, lowercase, no path), duplicates removed.
fn allowed_origins(json: Node<'_, '_>, errors: &mut Errors) -> Option<Vec<String>> {
    let members = ObjReader::strict(json, "", &["allowedOrigins"], errors)?;
    let Some(list) = members.get("allowedOrigins") else {
        errors.at(
            "/allowedOrigins",
            "required: a list of origins (empty for every origin)",
        );
        return None;
    };
    let Some(items) = list.items() else {
        errors.at("/allowedOrigins", "expected a list of origins");
        return None;
    };
    if items.len() > MAX_ORIGINS {
        errors.at(
            "/allowedOrigins",
            format!("at most {MAX_ORIGINS} origins; use \"*\" for every origin"),
        );
        return None;
    }
    let mut origins: Vec<String> = Vec::with_capacity(items.len());
    for (i, item) in items.enumerate() {
        let path = index("/allowedOrigins", i);
        match item.as_str().map(check_origin) {
            Some(Ok(origin)) => {
                if !origins.contains(&origin) {
                    origins.push(origin);
                }
            }
            Some(Err(why)) => errors.at(&path, why),
            None => errors.at(&path, "expected an origin such as \"https://shop.example\""),
        }
    }
    Some(origins)
}

/// The origin as a browser writes it, or why it is not one.
fn check_origin(text: &str) -> Result<String, String> {
    if text == "*" {
        return Ok(text.to_owned());
    }
    let bad = |why: &str| Err(format!("`{text}` is not an origin: {why}"));
    if text.chars().count() > MAX_ORIGIN_CHARS {
        return bad("too long");
    }
    let Some((scheme, rest)) = text.split_once("://") else {
        return bad("expected scheme://host, such as https://shop.example");
    };
    if scheme != "http" && scheme != "https" {
        return bad("the scheme must be http or https");
    }
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return bad("only a host and an optional port, no path, query or user");
    }
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        match v6.split_once(']') {
            Some((host, "")) => (host, None),
            Some((host, port)) => match port.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return bad("expected :port after the IPv6 address"),
            },
            None => return bad("an IPv6 address needs its closing ]"),
        }
    } else {
        match rest.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        }
    };
    if port.is_some_and(|p| p.parse::<u16>().is_err()) {
        return bad("the port must be a number up to 65535");
    }
    if host.is_empty() {
        return bad("the host is missing");
    }
    // Browsers send a name in ASCII (an international one as punycode) and an IPv6
    // address as an address.
    let host_ok = if text.contains("://[") {
        host.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        host.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    };
    if !host_ok {
        return bad(
            "the host must be a name in ASCII (punycode), an IPv4 address or an [IPv6] address",
        );
    }
    if text.chars().any(|c| c.is_ascii_uppercase()) {
        return bad("browsers send origins in lowercase");
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_what_browsers_send_in_the_origin_header() {
        for ok in [
            "https://shop.example",
            "http://localhost:3000",
            "https://[::1]:8443",
            "http://[::1]",
            "*",
        ] {
            assert_eq!(check_origin(ok).as_deref(), Ok(ok), "{ok}");
        }
        for bad in [
            "shop.example",
            "ftp://shop.example",
            "https://shop.example/",
            "https://shop.example/path",
            "https://shop.example:99999",
            "https://Shop.example",
            "https://",
            "https://user@shop.example",
            "https://[::1",
            "https://:80",
            "https://[zz]",
            "https://shöp.example",
            "https://a:b:80",
        ] {
            assert!(check_origin(bad).is_err(), "{bad}");
        }
    }
}

/// `PUT .../retention` `{"days": N}`: keep the account's data N days (1 to
/// [`engage_store::MAX_RETENTION_DAYS`]); `{"days": null}` keeps it for ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionBody {
    pub days: Option<u32>,
}

impl RetentionBody {
    pub fn read(json: Node<'_, '_>) -> Result<RetentionBody, Invalid> {
        let mut errors = Errors::new();
        // `ObjReader::get` treats null as absent; here null says "for ever".
        let days = ObjReader::strict(json, "", &["days"], &mut errors).and_then(|_| {
            match json.get("days") {
                None => {
                    errors.at(
                        "/days",
                        "required: the number of days to keep data, or null for ever",
                    );
                    None
                }
                Some(days) if days.is_null() => Some(None),
                Some(days) => engage_model::body::uint(
                    days,
                    "/days",
                    1..=u64::from(engage_store::MAX_RETENTION_DAYS),
                    &mut errors,
                )
                .and_then(|d| u32::try_from(d).ok())
                .map(Some),
            }
        });
        errors.finish(days.map(|days| RetentionBody { days }))
    }
}
