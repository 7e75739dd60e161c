//! The `LP_OFFERS` lifecycle events (docs/vocabulary.md, Events) and the types that hold
//! their invariants.

use std::borrow::Cow;
use std::fmt;

use serde::ser::{SerializeMap, SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};

use crate::error::{Errors, Invalid, Token};
use crate::read::ObjReader;
use crate::scalar::{check_length, describe, parse_uint};
use crate::tape::{Node, View};

/// The app of the lifecycle events.
pub const LP_OFFERS: &str = "LP_OFFERS";
/// The app of Engage's own events about what a visitor did with an engagement's action
/// (docs/api.md, Engagement actions); LivePerson documents no such app, so its names
/// never meet a LivePerson page's listeners of `LP_OFFERS`.
pub const ENGAGE_ACTION: &str = "ENGAGE_ACTION";

/// The seven lifecycle events of one engagement context, then Engage's own action
/// events of that context (`ENGAGE_ACTION`): a coupon revealed, a coupon copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OfferEventName {
    Start,
    OfferDisplay,
    OfferImpression,
    OfferClick,
    OfferDeclined,
    OfferTimeout,
    OfferRemove,
    CouponRevealed,
    CouponCopied,
}

impl OfferEventName {
    /// Every name; stored codes are positions in this list, so it is append only.
    pub const ALL: [OfferEventName; 9] = [
        OfferEventName::Start,
        OfferEventName::OfferDisplay,
        OfferEventName::OfferImpression,
        OfferEventName::OfferClick,
        OfferEventName::OfferDeclined,
        OfferEventName::OfferTimeout,
        OfferEventName::OfferRemove,
        OfferEventName::CouponRevealed,
        OfferEventName::CouponCopied,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OfferEventName::Start => "START",
            OfferEventName::OfferDisplay => "OFFER_DISPLAY",
            OfferEventName::OfferImpression => "OFFER_IMPRESSION",
            OfferEventName::OfferClick => "OFFER_CLICK",
            OfferEventName::OfferDeclined => "OFFER_DECLINED",
            OfferEventName::OfferTimeout => "OFFER_TIMEOUT",
            OfferEventName::OfferRemove => "OFFER_REMOVE",
            OfferEventName::CouponRevealed => "COUPON_REVEALED",
            OfferEventName::CouponCopied => "COUPON_COPIED",
        }
    }

    /// The app the event belongs to: `LP_OFFERS` for the lifecycle, `ENGAGE_ACTION` for
    /// Engage's action events.
    pub fn app_name(self) -> &'static str {
        if self.is_lifecycle() {
            LP_OFFERS
        } else {
            ENGAGE_ACTION
        }
    }

    /// One of the seven `LP_OFFERS` events.
    pub fn is_lifecycle(self) -> bool {
        !matches!(
            self,
            OfferEventName::CouponRevealed | OfferEventName::CouponCopied
        )
    }

    pub fn from_name(name: &str) -> Option<OfferEventName> {
        OfferEventName::ALL.into_iter().find(|n| n.as_str() == name)
    }
}

impl fmt::Display for OfferEventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The engagement format (`engagementType`). `4` is not a format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EngagementType {
    PeelingCorner = 0,
    Overlay = 1,
    Toaster = 2,
    SlideOut = 3,
    Embedded = 5,
    Sticky = 6,
}

impl EngagementType {
    pub const ALL: [EngagementType; 6] = [
        EngagementType::PeelingCorner,
        EngagementType::Overlay,
        EngagementType::Toaster,
        EngagementType::SlideOut,
        EngagementType::Embedded,
        EngagementType::Sticky,
    ];

    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u64) -> Option<EngagementType> {
        EngagementType::ALL
            .into_iter()
            .find(|t| u64::from(t.code()) == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            EngagementType::PeelingCorner => "Peeling corner",
            EngagementType::Overlay => "Overlay",
            EngagementType::Toaster => "Toaster",
            EngagementType::SlideOut => "Slide-out",
            EngagementType::Embedded => "Embedded",
            EngagementType::Sticky => "Sticky",
        }
    }

    /// The renderer used when an engagement names none: configured per engagement, with
    /// a default per type (docs/vocabulary.md, Events, `tglName`).
    pub fn default_tgl_name(self) -> &'static str {
        match self {
            EngagementType::PeelingCorner => "peeling",
            EngagementType::Overlay => "overlay",
            EngagementType::Toaster => "toaster",
            EngagementType::SlideOut => "slider",
            EngagementType::Embedded => "embedded",
            EngagementType::Sticky => "sticky",
        }
    }

    pub(crate) fn parse(json: Node<'_, '_>, errors: &mut Errors) -> Option<EngagementType> {
        let found = match json.view() {
            View::Number(n) => n.as_u64().and_then(EngagementType::from_code),
            View::String(s) if s.len() == 1 => s.parse().ok().and_then(EngagementType::from_code),
            _ => None,
        };
        if found.is_none() {
            errors.here(format!(
                "expected an engagement type 0, 1, 2, 3, 5 or 6 (peeling corner, overlay, toaster, slide-out, embedded, sticky), found {}",
                describe(json)
            ));
        }
        found
    }
}

impl Serialize for EngagementType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.code())
    }
}

/// The agents' availability an engagement shows (`state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgentState {
    Online = 1,
    Offline = 2,
    Busy = 4,
}

impl AgentState {
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u64) -> Option<AgentState> {
        match code {
            1 => Some(AgentState::Online),
            2 => Some(AgentState::Offline),
            4 => Some(AgentState::Busy),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            AgentState::Online => "online",
            AgentState::Offline => "offline",
            AgentState::Busy => "busy",
        }
    }

    pub(crate) fn parse(json: Node<'_, '_>, errors: &mut Errors) -> Option<AgentState> {
        let found = match json.view() {
            View::Number(n) => n.as_u64().and_then(AgentState::from_code),
            View::String(s) if s.len() == 1 => s.parse().ok().and_then(AgentState::from_code),
            _ => None,
        };
        if found.is_none() {
            errors.here(format!(
                "expected an agent state 1 (online), 2 (offline) or 4 (busy), found {}",
                describe(json)
            ));
        }
        found
    }
}

impl Serialize for AgentState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.code())
    }
}

/// `<campaignId>_<engagementId>_<engagementRevision>`: one revision of one engagement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConfKey {
    pub campaign_id: u64,
    pub engagement_id: u64,
    pub engagement_revision: u64,
}

impl ConfKey {
    /// Whether `text` is exactly this key written out (`text == self.to_string()`,
    /// without writing it).
    pub fn matches(&self, text: &str) -> bool {
        let ids = [
            self.campaign_id,
            self.engagement_id,
            self.engagement_revision,
        ];
        let mut rest = text.as_bytes();
        for (i, id) in ids.into_iter().enumerate() {
            if i > 0 {
                match rest.split_first() {
                    Some((b'_', after)) => rest = after,
                    _ => return false,
                }
            }
            match rest.strip_prefix(itoa::Buffer::new().format(id).as_bytes()) {
                Some(after) => rest = after,
                None => return false,
            }
        }
        rest.is_empty()
    }
}

impl fmt::Display for ConfKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}_{}_{}",
            self.campaign_id, self.engagement_id, self.engagement_revision
        )
    }
}

impl Serialize for ConfKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The longest id or name accepted in an event, in characters (the attribute limit).
const MAX_EVENT_TEXT: usize = crate::scalar::MAX_VALUE_CHARS;

/// The properties every `LP_OFFERS` event carries (the properties of `START`).
///
/// `engagement_type`, `state`, `zone_id`, `tgl_name`, `done` and `engagement_name` are
/// optional because events made from Monitoring API impressions do not carry them; the
/// tag always sends `engagementType`, and it is required on tag input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferData {
    /// The engagement context (impression instance) id: `contextId`, and the
    /// `EngagementContext` entry of `contexts`.
    pub context_id: String,
    /// The page view the context belongs to: the `pageContext` entry of `contexts`.
    pub page_context_id: String,
    pub conf_key: ConfKey,
    pub engagement_type: Option<EngagementType>,
    pub zone_id: Option<u64>,
    pub state: Option<AgentState>,
    pub tgl_name: Option<String>,
    pub done: Option<bool>,
    pub engagement_name: Option<String>,
}

/// One `LP_OFFERS` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferEvent {
    pub name: OfferEventName,
    pub data: OfferData,
}

impl OfferEvent {
    /// Reads `{"appName": "LP_OFFERS", "eventName": ..., "data": {...}}`; other members
    /// of the object (a collect envelope's `id` and `time`) are the caller's business and
    /// listed in `extra_members`.
    pub fn read(json: Node<'_, '_>, extra_members: &[&str]) -> Result<OfferEvent, Invalid> {
        let mut errors = Errors::new();
        let event = parse_event(json, extra_members, &mut errors);
        errors.finish(event)
    }

    /// Reads just the `data` of an event whose name is known.
    pub fn read_data(name: OfferEventName, data: Node<'_, '_>) -> Result<OfferEvent, Invalid> {
        let mut errors = Errors::new();
        let data = OfferData::parse(data, &mut errors);
        errors.finish(data).map(|data| OfferEvent { name, data })
    }
}

fn parse_event(
    json: Node<'_, '_>,
    extra_members: &[&str],
    errors: &mut Errors,
) -> Option<OfferEvent> {
    let mut r = ObjReader::new(json, errors)?;
    for extra in extra_members {
        r.take(extra);
    }
    let app = match r.take("appName") {
        Some(app) if matches!(app.as_str(), Some(LP_OFFERS | ENGAGE_ACTION)) => app.as_str(),
        Some(other) => {
            errors.nested(Token::Key("appName"), |e| {
                e.here(format!(
                    "expected \"{LP_OFFERS}\" (or \"{ENGAGE_ACTION}\"), found {}",
                    describe(other)
                ))
            });
            None
        }
        None => {
            errors.nested(Token::Key("appName"), |e| {
                e.here(format!("missing, expected \"{LP_OFFERS}\""))
            });
            None
        }
    };
    let name = match r.take("eventName") {
        Some(value) => {
            let name = value
                .as_str()
                .and_then(OfferEventName::from_name)
                .filter(|n| app.is_none_or(|app| n.app_name() == app));
            if name.is_none() {
                let expected = if app == Some(ENGAGE_ACTION) {
                    "COUPON_REVEALED or COUPON_COPIED"
                } else {
                    "START, OFFER_DISPLAY, OFFER_IMPRESSION, OFFER_CLICK, OFFER_DECLINED, OFFER_TIMEOUT or OFFER_REMOVE"
                };
                errors.nested(Token::Key("eventName"), |e| {
                    e.here(format!(
                        "unknown event {}, expected {expected}",
                        describe(value)
                    ))
                });
            }
            name
        }
        None => {
            errors.nested(Token::Key("eventName"), |e| e.here("missing"));
            None
        }
    };
    let data = r.field("data", errors, OfferData::parse);
    if data.is_none() && json.get("data").is_none() {
        errors.nested(Token::Key("data"), |e| {
            e.here("missing, expected the event's properties")
        });
    }
    r.finish(errors, "`appName`, `eventName` or `data`");
    Some(OfferEvent {
        name: name?,
        data: data?,
    })
}

/// Reads a string, or a number as its digits, no longer than the attribute limit.
fn parse_id_text(json: Node<'_, '_>, errors: &mut Errors) -> Option<String> {
    id_text(json, errors).map(Cow::into_owned)
}

/// [`parse_id_text`], borrowing the string when it can: for values that are only compared.
fn id_text<'j>(json: Node<'j, '_>, errors: &mut Errors) -> Option<Cow<'j, str>> {
    let text = match json.view() {
        View::String(s) if !s.is_empty() => Cow::Borrowed(s),
        View::Number(n) => Cow::Owned(n.to_string()),
        _ => {
            errors.here(format!(
                "expected a non-empty string, found {}",
                describe(json)
            ));
            return None;
        }
    };
    match check_length(&text) {
        Ok(()) => Some(text),
        Err(message) => {
            errors.here(message);
            None
        }
    }
}

fn parse_string(json: Node<'_, '_>, errors: &mut Errors) -> Option<String> {
    string_ref(json, errors).map(str::to_owned)
}

/// [`parse_string`], borrowed: for values that are only compared.
fn string_ref<'j>(json: Node<'j, '_>, errors: &mut Errors) -> Option<&'j str> {
    match json.view() {
        // At most N bytes is at most N characters: count only when it matters.
        View::String(s) if s.len() <= MAX_EVENT_TEXT || s.chars().count() <= MAX_EVENT_TEXT => {
            Some(s)
        }
        View::String(_) => {
            errors.here(format!("at most {MAX_EVENT_TEXT} characters are allowed"));
            None
        }
        _ => {
            errors.here(format!("expected a string, found {}", json.kind()));
            None
        }
    }
}

/// The two entries of `contexts`: `(engagement context id, page context id)`.
fn parse_contexts(json: Node<'_, '_>, errors: &mut Errors) -> Option<(String, String)> {
    let View::Array(items) = json.view() else {
        errors.here(format!(
            "expected [{{\"EngagementContext\":{{\"id\":...}}}}, {{\"pageContext\":{{\"id\":...}}}}], found {}",
            json.kind()
        ));
        return None;
    };
    let mut engagement = None;
    let mut page = None;
    for (i, item) in items.enumerate() {
        errors.nested(Token::Index(i), |errors| {
            let mut r = ObjReader::new(item, errors)?;
            if let Some((key, ctx)) = r.take_any(&["EngagementContext", "engagementContext"]) {
                let id = errors.nested(Token::Key(key), |e| context_id(ctx, e));
                if engagement.replace(id).is_some() {
                    errors.nested(Token::Key(key), |e| e.here("a second engagement context"));
                }
            } else if let Some((key, ctx)) = r.take_any(&["pageContext", "PageContext"]) {
                let id = errors.nested(Token::Key(key), |e| context_id(ctx, e));
                if page.replace(id).is_some() {
                    errors.nested(Token::Key(key), |e| e.here("a second page context"));
                }
            }
            r.finish(errors, "`EngagementContext` or `pageContext`");
            Some(())
        });
    }
    for (found, name) in [(&engagement, "EngagementContext"), (&page, "pageContext")] {
        if found.is_none() {
            errors.here(format!("missing the `{name}` entry"));
        }
    }
    Some((engagement.flatten()?, page.flatten()?))
}

fn context_id(json: Node<'_, '_>, errors: &mut Errors) -> Option<String> {
    let mut r = ObjReader::new(json, errors)?;
    let id = r.field("id", errors, parse_id_text);
    if id.is_none() && json.get("id").is_none() {
        errors.nested(Token::Key("id"), |e| e.here("missing"));
    }
    r.finish(errors, "`id`");
    id
}

fn parse_bool(json: Node<'_, '_>, errors: &mut Errors) -> Option<bool> {
    match json.view() {
        View::Bool(b) => Some(b),
        _ => {
            errors.here(format!("expected a boolean, found {}", describe(json)));
            None
        }
    }
}

impl OfferData {
    pub(crate) fn parse(json: Node<'_, '_>, errors: &mut Errors) -> Option<OfferData> {
        let mut r = ObjReader::new(json, errors)?;
        let required = |r: &mut ObjReader<'_, '_>, key: &'static str, errors: &mut Errors| {
            let value = r.field(key, errors, parse_uint);
            if value.is_none() && json.get(key).is_none() {
                errors.nested(Token::Key(key), |e| e.here("missing"));
            }
            value
        };
        // In the order the tag sends them (and the documentation lists them), which is the
        // order a lookup finds them in at once.
        let contexts = r.field("contexts", errors, parse_contexts);
        if contexts.is_none() && json.get("contexts").is_none() {
            errors.nested(Token::Key("contexts"), |e| e.here("missing"));
        }
        let campaign_id = required(&mut r, "campaignId", errors);
        let engagement_id = required(&mut r, "engagementId", errors);
        let engagement_revision = required(&mut r, "engagementRevision", errors);
        let engagement_type = r.field("engagementType", errors, EngagementType::parse);
        if engagement_type.is_none() && json.get("engagementType").is_none() {
            errors.nested(Token::Key("engagementType"), |e| e.here("missing"));
        }
        let context_id = r.field("contextId", errors, id_text);
        let zone_id = r.field("zoneId", errors, parse_uint);
        let state = r.field("state", errors, AgentState::parse);
        let conf_key_text = r.field("confKey", errors, string_ref);
        let tgl_name = r.field("tglName", errors, parse_string);
        let done = r.field("done", errors, parse_bool);
        let engagement_name = r.field("engagementName", errors, parse_string);
        r.finish(
            errors,
            "one of the LP_OFFERS properties (`contexts`, `campaignId`, `engagementId`, `engagementRevision`, `engagementType`, `contextId`, `zoneId`, `state`, `confKey`, `tglName`, `done`, `engagementName`)",
        );

        // Each check runs whenever its own inputs are valid, so that one bad id does not
        // hide a mismatch elsewhere: every problem is reported at once.
        let conf_key = match (campaign_id, engagement_id, engagement_revision) {
            (Some(campaign_id), Some(engagement_id), Some(engagement_revision)) => Some(ConfKey {
                campaign_id,
                engagement_id,
                engagement_revision,
            }),
            _ => None,
        };
        match (&conf_key_text, conf_key) {
            (Some(text), Some(conf_key)) if !conf_key.matches(text) => {
                errors.nested(Token::Key("confKey"), |e| {
                    e.here(format!(
                        "\"{text}\" does not match campaignId_engagementId_engagementRevision \"{conf_key}\""
                    ))
                })
            }
            (None, conf_key) if json.get("confKey").is_none() => {
                errors.nested(Token::Key("confKey"), |e| match conf_key {
                    Some(conf_key) => e.here(format!("missing, expected \"{conf_key}\"")),
                    None => e.here("missing, expected \"<campaignId>_<engagementId>_<engagementRevision>\""),
                })
            }
            _ => {}
        }
        match (&context_id, &contexts) {
            (Some(id), Some((engagement_context, _))) if id != engagement_context => {
                errors.nested(Token::Key("contextId"), |e| {
                    e.here(format!(
                        "\"{id}\" differs from the EngagementContext id \"{engagement_context}\" in /contexts"
                    ))
                })
            }
            (None, _) if json.get("contextId").is_none() => {
                errors.nested(Token::Key("contextId"), |e| e.here("missing"))
            }
            _ => {}
        }
        let (engagement_context, page_context) = contexts?;
        Some(OfferData {
            context_id: engagement_context,
            page_context_id: page_context,
            conf_key: conf_key?,
            engagement_type: Some(engagement_type?),
            zone_id,
            state,
            tgl_name,
            done,
            engagement_name,
        })
    }
}

impl Serialize for OfferEvent {
    /// `{"appName": "LP_OFFERS", "eventName": ..., "data": {...}}`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("OfferEvent", 3)?;
        st.serialize_field("appName", self.name.app_name())?;
        st.serialize_field("eventName", self.name.as_str())?;
        st.serialize_field("data", &self.data)?;
        st.end()
    }
}

impl Serialize for OfferData {
    /// The documented property order, ids as numbers, `contexts` in the documented key case.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry(
            "contexts",
            &Contexts {
                engagement: &self.context_id,
                page: &self.page_context_id,
            },
        )?;
        map.serialize_entry("campaignId", &self.conf_key.campaign_id)?;
        map.serialize_entry("engagementId", &self.conf_key.engagement_id)?;
        map.serialize_entry("engagementRevision", &self.conf_key.engagement_revision)?;
        if let Some(t) = self.engagement_type {
            map.serialize_entry("engagementType", &t)?;
        }
        map.serialize_entry("contextId", &self.context_id)?;
        if let Some(zone) = self.zone_id {
            map.serialize_entry("zoneId", &zone)?;
        }
        if let Some(state) = self.state {
            map.serialize_entry("state", &state)?;
        }
        map.serialize_entry("confKey", &self.conf_key)?;
        if let Some(tgl) = &self.tgl_name {
            map.serialize_entry("tglName", tgl)?;
        }
        if let Some(done) = self.done {
            map.serialize_entry("done", &done)?;
        }
        if let Some(name) = &self.engagement_name {
            map.serialize_entry("engagementName", name)?;
        }
        map.end()
    }
}

struct Contexts<'a> {
    engagement: &'a str,
    page: &'a str,
}

impl Serialize for Contexts<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Id<'a> {
            id: &'a str,
        }
        #[derive(Serialize)]
        struct Engagement<'a> {
            #[serde(rename = "EngagementContext")]
            ctx: Id<'a>,
        }
        #[derive(Serialize)]
        struct Page<'a> {
            #[serde(rename = "pageContext")]
            ctx: Id<'a>,
        }
        let mut seq = s.serialize_seq(Some(2))?;
        seq.serialize_element(&Engagement {
            ctx: Id {
                id: self.engagement,
            },
        })?;
        seq.serialize_element(&Page {
            ctx: Id { id: self.page },
        })?;
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conf_key_matches_exactly_its_written_form() {
        let key = ConfKey {
            campaign_id: 210599710,
            engagement_id: 0,
            engagement_revision: 18,
        };
        for text in [
            "210599710_0_18",
            "210599710_00_18",
            "210599710_0_018",
            "210599710_0_18_",
            "210599710_0",
            "_210599710_0_18",
            "210599710_0_+18",
            "210599710-0-18",
            "",
            "210599710_0_18 ",
            "210599710__0_18",
        ] {
            assert_eq!(key.matches(text), text == key.to_string(), "{text:?}");
        }
        let max = ConfKey {
            campaign_id: u64::MAX,
            engagement_id: 1,
            engagement_revision: 2,
        };
        assert!(max.matches("18446744073709551615_1_2"));
        assert!(!max.matches("18446744073709551616_1_2"));
    }
}
