//! The Monitoring API's engagement attributes (docs/vocabulary.md, Monitoring API):
//! page-shape SDEs, plus the impression attributes an app reports instead of tag events,
//! each mapped to the `LP_OFFERS` event it stands for.

use crate::error::{Errors, Invalid, Token};
use crate::event::{ConfKey, OfferData, OfferEvent, OfferEventName};
use crate::read::{array, ObjReader};
use crate::scalar::{describe, parse_uint};
use crate::sde::Sde;
use crate::tape::{Node, View};

/// The five impression attribute types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImpressionKind {
    /// `impDisplay`: the engagement was shown.
    Display,
    /// `impAccept`: the visitor accepted it.
    Accept,
    /// `impExpanded`: it was expanded (rendered in full).
    Expanded,
    /// `impTimeout`: its time ran out.
    Timeout,
    /// `impClose`: the visitor closed it.
    Close,
}

impl ImpressionKind {
    pub const ALL: [ImpressionKind; 5] = [
        ImpressionKind::Display,
        ImpressionKind::Accept,
        ImpressionKind::Expanded,
        ImpressionKind::Timeout,
        ImpressionKind::Close,
    ];

    pub fn type_name(self) -> &'static str {
        match self {
            ImpressionKind::Display => "impDisplay",
            ImpressionKind::Accept => "impAccept",
            ImpressionKind::Expanded => "impExpanded",
            ImpressionKind::Timeout => "impTimeout",
            ImpressionKind::Close => "impClose",
        }
    }

    pub fn from_type_name(name: &str) -> Option<ImpressionKind> {
        ImpressionKind::ALL
            .into_iter()
            .find(|k| k.type_name() == name)
    }

    /// The `LP_OFFERS` event this attribute becomes.
    pub fn event_name(self) -> OfferEventName {
        match self {
            ImpressionKind::Display => OfferEventName::OfferImpression,
            ImpressionKind::Accept => OfferEventName::OfferClick,
            ImpressionKind::Expanded => OfferEventName::OfferDisplay,
            ImpressionKind::Timeout => OfferEventName::OfferTimeout,
            ImpressionKind::Close => OfferEventName::OfferDeclined,
        }
    }
}

/// `{type, campaign, engId, revision, eContext?, expanded?, userInit?, actionableItems?}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Impression {
    pub kind: ImpressionKind,
    pub conf_key: ConfKey,
    /// The `engagementContext` id of `eContext`; `None` when the attribute has none, as
    /// LivePerson's `impExpanded`, `impTimeout` and `impClose` examples do.
    pub context_id: Option<String>,
}

/// Most `actionableItems` an impression may list (their values are not kept).
const MAX_ACTIONABLE_ITEMS: usize = 32;

impl Impression {
    /// The engagement context this impression belongs to on page view `page_context_id`:
    /// its `eContext` id, or else one context per engagement and page view, named after
    /// both (`{pageId}:{campaign}_{engId}_{revision}`), so that impressions without
    /// `eContext` never meet another page view's. The Monitoring API's route replaces
    /// the latter with the session's exposed context of the engagement (engage-server,
    /// `routes/monitoring.rs`, `bind_impressions`), which the model cannot know.
    pub fn context_on(&self, page_context_id: &str) -> String {
        match &self.context_id {
            Some(id) => id.clone(),
            None => format!("{page_context_id}:{}", self.conf_key),
        }
    }

    /// The `LP_OFFERS` event of this impression on page view `page_context_id`; what the
    /// attribute does not say (type, zone, state, ...) stays unset.
    pub fn to_event(&self, page_context_id: &str) -> OfferEvent {
        OfferEvent {
            name: self.kind.event_name(),
            data: OfferData {
                context_id: self.context_on(page_context_id),
                page_context_id: page_context_id.to_owned(),
                conf_key: self.conf_key,
                engagement_type: None,
                zone_id: None,
                state: None,
                tgl_name: None,
                done: None,
                engagement_name: None,
            },
        }
    }

    fn parse(kind: ImpressionKind, json: Node<'_, '_>, errors: &mut Errors) -> Option<Impression> {
        let mut r = ObjReader::new(json, errors)?;
        r.take("type");
        let required = |r: &mut ObjReader<'_, '_>, key: &'static str, errors: &mut Errors| {
            let value = r.field(key, errors, parse_uint);
            if value.is_none() && json.get(key).is_none() {
                errors.nested(Token::Key(key), |e| e.here("missing"));
            }
            value
        };
        let campaign = required(&mut r, "campaign", errors);
        let engagement = required(&mut r, "engId", errors);
        let revision = required(&mut r, "revision", errors);
        let has_context = json.get("eContext").is_some();
        let context_id = r.field("eContext", errors, |j, e| {
            let ids = array(j, e, engagement_context)?;
            let mut ids = ids.into_iter().flatten();
            let first = ids.next();
            if first.is_none() {
                e.here("expected an entry {\"type\": \"engagementContext\", \"id\": ...}");
            }
            first
        });
        // Documented on `impExpanded` with `null` values; read (null, a flag, a list of
        // at most MAX_ACTIONABLE_ITEMS strings) and not kept.
        r.field("expanded", errors, flag_or_null);
        r.field("userInit", errors, flag_or_null);
        r.field("actionableItems", errors, actionable_items);
        r.finish(
            errors,
            "`type`, `campaign`, `engId`, `revision`, `eContext`, `expanded`, `userInit` or `actionableItems`",
        );
        if has_context && context_id.is_none() {
            return None;
        }
        Some(Impression {
            kind,
            conf_key: ConfKey {
                campaign_id: campaign?,
                engagement_id: engagement?,
                engagement_revision: revision?,
            },
            context_id,
        })
    }
}

/// `null` or a boolean.
fn flag_or_null(json: Node<'_, '_>, errors: &mut Errors) -> Option<()> {
    match json.view() {
        View::Null | View::Bool(_) => Some(()),
        _ => {
            errors.here(format!(
                "expected null or a boolean, found {}",
                describe(json)
            ));
            None
        }
    }
}

/// `null` or a short list of short strings.
fn actionable_items(json: Node<'_, '_>, errors: &mut Errors) -> Option<()> {
    match json.view() {
        View::Null => Some(()),
        View::Array(items) => {
            for (i, item) in items.enumerate() {
                let fits = matches!(item.view(), View::String(s) if s.chars().count() <= 256);
                if i >= MAX_ACTIONABLE_ITEMS || !fits {
                    errors.here(format!(
                        "expected null or at most {MAX_ACTIONABLE_ITEMS} strings of at most 256 characters"
                    ));
                    return None;
                }
            }
            Some(())
        }
        _ => {
            errors.here(format!(
                "expected null or a list of strings, found {}",
                describe(json)
            ));
            None
        }
    }
}

/// One `eContext` entry: the id when its type is `engagementContext`, `None` for others.
fn engagement_context(json: Node<'_, '_>, errors: &mut Errors) -> Option<Option<String>> {
    let mut r = ObjReader::new(json, errors)?;
    let kind = r.take("type").and_then(Node::as_str);
    let id = r.take("id");
    r.finish(errors, "`type` or `id`");
    if kind != Some("engagementContext") {
        return Some(None);
    }
    match id.map(|id| (id, id.view())) {
        Some((_, View::String(s))) if !s.is_empty() => Some(Some(s.to_string())),
        Some((_, View::Number(n))) => Some(Some(n.to_string())),
        Some((other, _)) => {
            errors.nested(Token::Key("id"), |e| {
                e.here(format!(
                    "expected a non-empty string, found {}",
                    describe(other)
                ))
            });
            None
        }
        None => {
            errors.nested(Token::Key("id"), |e| e.here("missing"));
            None
        }
    }
}

/// One entry of a Monitoring API `engagementAttributes` array.
// Not boxed: an attribute lives for one request and is matched on right away; most
// entries are SDEs, so a box would cost an allocation for nearly every one.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngagementAttribute {
    Sde(Sde),
    Impression(Impression),
}

impl EngagementAttribute {
    /// An `imp*` type is an impression; any other `type` is a page-shape SDE.
    pub fn read(json: Node<'_, '_>) -> Result<EngagementAttribute, Invalid> {
        let kind = json
            .get("type")
            .and_then(Node::as_str)
            .and_then(ImpressionKind::from_type_name);
        match kind {
            Some(kind) => {
                let mut errors = Errors::new();
                let impression = Impression::parse(kind, json, &mut errors);
                errors
                    .finish(impression)
                    .map(EngagementAttribute::Impression)
            }
            None => Sde::read_page(json).map(EngagementAttribute::Sde),
        }
    }
}
