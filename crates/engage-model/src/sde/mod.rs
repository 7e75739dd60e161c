//! The ten engagement attribute types (SDEs), read from the page shape a site pushes or
//! from the history shape the Engagement History API returns, and written in history
//! shape (docs/vocabulary.md, Attributes).
//!
//! Both shapes parse into the same [`Sde`]: the per-type readers take a [`Shape`] that
//! picks the member names, so every rename (docs/vocabulary.md, Renames) is written
//! down once. Each type's fields are declared once, a line each, with
//! `fields::declare!`: the struct, its reader, the unknown-field hint and the history
//! writer all come from that line.

mod fields;

mod activity;
mod commerce;
mod customer;

use serde::{Serialize, Serializer};

pub use activity::{Lead, SearchContent, ServiceActivity, VisitorError};
pub use commerce::{Cart, Product, ProductLine, Purchase, ViewedProduct};
pub use customer::{Address, Age, Contact, CustomerInfo, MarketingInfo, PersonalInfo};

use crate::error::{Errors, Invalid, Token};
use crate::read::ObjReader;
use crate::scalar::{describe, parse_uint};
use crate::tape::{Node, Tape, View};
use crate::write::{key, JsonOut, WriteJson};

/// Which of the two shapes an input is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// What `lpTag.sdes.push` takes: `{"type": "cart", ...}`.
    Page,
    /// What the Engagement History API returns: `{"cartStatus": {...}}`.
    History,
}

impl Shape {
    /// The member name in this shape.
    pub(crate) fn key(self, page: &'static str, history: &'static str) -> &'static str {
        match self {
            Shape::Page => page,
            Shape::History => history,
        }
    }
}

/// What happens when a visit reports a type it has reported before (docs/vocabulary.md,
/// Visit rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepeatRule {
    /// Later fields overwrite earlier ones, the rest stay.
    Merge,
    /// Every report is kept, in order.
    Append,
    /// The latest report is the state.
    Replace,
}

/// The ten attribute types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SdeType {
    Cart,
    Purchase,
    ViewedProduct,
    CustomerInfo,
    MarketingInfo,
    PersonalInfo,
    Lead,
    ServiceActivity,
    VisitorError,
    SearchContent,
}

impl SdeType {
    pub const ALL: [SdeType; 10] = [
        SdeType::Cart,
        SdeType::Purchase,
        SdeType::ViewedProduct,
        SdeType::CustomerInfo,
        SdeType::MarketingInfo,
        SdeType::PersonalInfo,
        SdeType::Lead,
        SdeType::ServiceActivity,
        SdeType::VisitorError,
        SdeType::SearchContent,
    ];

    /// The page shape's `type` value.
    pub fn page_type(self) -> &'static str {
        match self {
            SdeType::Cart => "cart",
            SdeType::Purchase => "purchase",
            SdeType::ViewedProduct => "prodView",
            SdeType::CustomerInfo => "ctmrinfo",
            SdeType::MarketingInfo => "mrktInfo",
            SdeType::PersonalInfo => "personal",
            SdeType::Lead => "lead",
            SdeType::ServiceActivity => "service",
            SdeType::VisitorError => "error",
            SdeType::SearchContent => "searchInfo",
        }
    }

    /// The history shape's key (and the `ea.<key>` keyword search area).
    pub fn history_key(self) -> &'static str {
        match self {
            SdeType::Cart => "cartStatus",
            SdeType::Purchase => "purchase",
            SdeType::ViewedProduct => "viewedProduct",
            SdeType::CustomerInfo => "customerInfo",
            SdeType::MarketingInfo => "marketingCampaignInfo",
            SdeType::PersonalInfo => "personalInfo",
            SdeType::Lead => "lead",
            SdeType::ServiceActivity => "serviceActivity",
            SdeType::VisitorError => "visitorError",
            SdeType::SearchContent => "searchContent",
        }
    }

    /// The member holding the fields on the page (`info`, `personal`, ...); `None` when
    /// the fields sit next to `type`.
    fn page_body(self) -> Option<&'static str> {
        match self {
            SdeType::CustomerInfo | SdeType::MarketingInfo => Some("info"),
            SdeType::PersonalInfo => Some("personal"),
            SdeType::Lead => Some("lead"),
            SdeType::ServiceActivity => Some("service"),
            SdeType::VisitorError => Some("error"),
            SdeType::Cart | SdeType::Purchase | SdeType::ViewedProduct | SdeType::SearchContent => {
                None
            }
        }
    }

    /// Whether history nests an inner object named like the key (not "flat").
    pub fn is_nested_in_history(self) -> bool {
        self.page_body().is_some()
    }

    pub fn repeat_rule(self) -> RepeatRule {
        match self {
            SdeType::PersonalInfo | SdeType::CustomerInfo | SdeType::MarketingInfo => {
                RepeatRule::Merge
            }
            SdeType::Cart => RepeatRule::Replace,
            SdeType::ViewedProduct
            | SdeType::VisitorError
            | SdeType::Purchase
            | SdeType::Lead
            | SdeType::SearchContent
            | SdeType::ServiceActivity => RepeatRule::Append,
        }
    }

    pub fn from_page_type(name: &str) -> Option<SdeType> {
        SdeType::ALL.into_iter().find(|t| t.page_type() == name)
    }

    /// Also takes `viewProduct`, an alias seen in history-shaped input.
    pub fn from_history_key(key: &str) -> Option<SdeType> {
        if key == "viewProduct" {
            return Some(SdeType::ViewedProduct);
        }
        SdeType::ALL.into_iter().find(|t| t.history_key() == key)
    }
}

/// One engagement attribute, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sde {
    Cart(Cart),
    Purchase(Purchase),
    ViewedProduct(ViewedProduct),
    /// Boxed, as the two largest types: an `Sde` stays about the size of a cart, which
    /// is what every move of a validated attribute copies.
    CustomerInfo(Box<CustomerInfo>),
    MarketingInfo(MarketingInfo),
    PersonalInfo(Box<PersonalInfo>),
    Lead(Lead),
    ServiceActivity(ServiceActivity),
    VisitorError(VisitorError),
    SearchContent(SearchContent),
}

/// The times a history-shape attribute carries, in epoch milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stamps {
    /// When the server received it (`serverTimeStamp`).
    pub server_ms: Option<u64>,
    /// When the page reported it (`originalTimeStamp`), when known.
    pub original_ms: Option<u64>,
}

const PAGE_TYPES: &str = "one of `cart`, `purchase`, `prodView`, `ctmrinfo`, `mrktInfo`, `personal`, `lead`, `service`, `error`, `searchInfo`";
const HISTORY_KEYS: &str = "one of `cartStatus`, `purchase`, `viewedProduct`, `customerInfo`, `marketingCampaignInfo`, `personalInfo`, `lead`, `serviceActivity`, `visitorError`, `searchContent`";

impl Sde {
    pub fn sde_type(&self) -> SdeType {
        match self {
            Sde::Cart(_) => SdeType::Cart,
            Sde::Purchase(_) => SdeType::Purchase,
            Sde::ViewedProduct(_) => SdeType::ViewedProduct,
            Sde::CustomerInfo(_) => SdeType::CustomerInfo,
            Sde::MarketingInfo(_) => SdeType::MarketingInfo,
            Sde::PersonalInfo(_) => SdeType::PersonalInfo,
            Sde::Lead(_) => SdeType::Lead,
            Sde::ServiceActivity(_) => SdeType::ServiceActivity,
            Sde::VisitorError(_) => SdeType::VisitorError,
            Sde::SearchContent(_) => SdeType::SearchContent,
        }
    }

    /// Reads the page shape: `{"type": "ctmrinfo", "info": {...}}`.
    pub fn read_page(json: Node<'_, '_>) -> Result<Sde, Invalid> {
        let mut errors = Errors::new();
        let sde = parse_page(json, &mut errors);
        errors.finish(sde)
    }

    /// Reads the history shape: `{"customerInfo": {"serverTimeStamp": "...", "customerInfo": {...}}}`.
    pub fn read_history(json: Node<'_, '_>) -> Result<(Sde, Stamps), Invalid> {
        let mut errors = Errors::new();
        let sde = parse_history(json, &mut errors);
        errors.finish(sde)
    }

    /// Reads either shape: an object with `type` is page shape, anything else history shape.
    pub fn read_either(json: Node<'_, '_>) -> Result<(Sde, Stamps), Invalid> {
        if json.get("type").is_some() {
            Sde::read_page(json).map(|sde| (sde, Stamps::default()))
        } else {
            Sde::read_history(json)
        }
    }

    /// The attribute in history shape, with its times, ready to serialize.
    pub fn to_history(&self, stamps: Stamps) -> HistorySde<'_> {
        HistorySde { sde: self, stamps }
    }
}

fn parse_page(json: Node<'_, '_>, errors: &mut Errors) -> Option<Sde> {
    let mut r = ObjReader::new(json, errors)?;
    let sde_type = match r.take("type") {
        None => {
            errors.nested(Token::Key("type"), |e| {
                e.here(format!("missing, expected {PAGE_TYPES}"))
            });
            None
        }
        Some(value) => {
            let found = value.as_str().and_then(SdeType::from_page_type);
            if found.is_none() {
                errors.nested(Token::Key("type"), |e| {
                    e.here(format!(
                        "unknown SDE type {}, expected {PAGE_TYPES}",
                        describe(value)
                    ))
                });
            }
            found
        }
    }?;
    let sde = match sde_type.page_body() {
        None => read_flat(sde_type, &mut r, errors),
        Some(body) => {
            let sde = r.field(body, errors, |j, e| parse_body(sde_type, j, Shape::Page, e));
            if sde.is_none() && json.get(body).is_none() {
                errors.nested(Token::Key(body), |e| {
                    e.here(format!(
                        "missing, a `{}` SDE keeps its fields in `{body}`",
                        sde_type.page_type()
                    ))
                });
            }
            sde
        }
    };
    match sde_type.page_body() {
        None => r.finish(errors, format_args!("`type`, {}", flat_fields(sde_type))),
        Some(body) => r.finish(errors, format_args!("`type` or `{body}`")),
    }
    sde
}

fn parse_history(json: Node<'_, '_>, errors: &mut Errors) -> Option<(Sde, Stamps)> {
    let View::Object(mut members) = json.view() else {
        errors.here(format!("expected an SDE object, found {}", json.kind()));
        return None;
    };
    let all = members;
    let Some((key, inner)) = members.next() else {
        errors.here(format!(
            "expected an SDE: a history-shape object with one member, {HISTORY_KEYS}, or a page-shape object with `type`"
        ));
        return None;
    };
    let sde = parse_history_member(key, inner, errors);
    // One attribute per object: whatever follows the first member is reported where it is.
    for (i, (other, _)) in members.enumerate() {
        let repeated = all.take(i + 1).any(|(k, _)| k == other);
        errors.nested(Token::Key(other), |e| {
            if repeated {
                e.here(format!("duplicate member `{other}`"));
            } else {
                e.here(format!(
                    "a history-shape SDE has exactly one member, found `{other}` after `{key}`"
                ));
            }
        });
    }
    sde
}

/// The one member of a history-shape SDE: `"<historyKey>": {...}`.
fn parse_history_member(
    key: &str,
    inner: Node<'_, '_>,
    errors: &mut Errors,
) -> Option<(Sde, Stamps)> {
    let Some(sde_type) = SdeType::from_history_key(key) else {
        errors.nested(Token::Key(key), |e| {
            e.here(format!("unknown SDE `{key}`, expected {HISTORY_KEYS}"))
        });
        return None;
    };
    errors.nested(Token::Key(key), |errors| {
        let mut r = ObjReader::new(inner, errors)?;
        let sde = if sde_type.is_nested_in_history() {
            let inner_key = sde_type.history_key();
            let sde = r.field(inner_key, errors, |j, e| {
                parse_body(sde_type, j, Shape::History, e)
            });
            if sde.is_none() && inner.get(inner_key).is_none() {
                errors.nested(Token::Key(inner_key), |e| e.here("missing"));
            }
            sde
        } else {
            read_flat(sde_type, &mut r, errors)
        };
        let stamps = Stamps {
            server_ms: r.field("serverTimeStamp", errors, parse_uint),
            original_ms: r.field("originalTimeStamp", errors, parse_uint),
        };
        if sde_type.is_nested_in_history() {
            r.finish(
                errors,
                format_args!(
                    "`serverTimeStamp`, `originalTimeStamp` or `{}`",
                    sde_type.history_key()
                ),
            );
        } else {
            r.finish(
                errors,
                format_args!(
                    "`serverTimeStamp`, `originalTimeStamp`, {}",
                    flat_fields(sde_type)
                ),
            );
        }
        sde.map(|sde| (sde, stamps))
    })
}

fn flat_fields(sde_type: SdeType) -> &'static str {
    match sde_type {
        SdeType::Cart => Cart::FIELDS,
        SdeType::Purchase => Purchase::FIELDS,
        SdeType::ViewedProduct => ViewedProduct::FIELDS,
        _ => SearchContent::FIELDS,
    }
}

fn read_flat(sde_type: SdeType, r: &mut ObjReader<'_, '_>, errors: &mut Errors) -> Option<Sde> {
    Some(match sde_type {
        SdeType::Cart => Sde::Cart(Cart::read(r, errors)),
        SdeType::Purchase => Sde::Purchase(Purchase::read(r, errors)),
        SdeType::ViewedProduct => Sde::ViewedProduct(ViewedProduct::read(r, errors)),
        SdeType::SearchContent => Sde::SearchContent(SearchContent::read(r, errors)),
        _ => return None,
    })
}

fn parse_body(
    sde_type: SdeType,
    json: Node<'_, '_>,
    shape: Shape,
    errors: &mut Errors,
) -> Option<Sde> {
    match sde_type {
        SdeType::CustomerInfo => {
            CustomerInfo::parse(json, shape, errors).map(|v| Sde::CustomerInfo(Box::new(v)))
        }
        SdeType::MarketingInfo => MarketingInfo::parse(json, shape, errors).map(Sde::MarketingInfo),
        SdeType::PersonalInfo => {
            PersonalInfo::parse(json, shape, errors).map(|v| Sde::PersonalInfo(Box::new(v)))
        }
        SdeType::Lead => Lead::parse(json, errors).map(Sde::Lead),
        SdeType::ServiceActivity => ServiceActivity::parse(json, errors).map(Sde::ServiceActivity),
        SdeType::VisitorError => VisitorError::parse(json, errors).map(Sde::VisitorError),
        SdeType::Cart | SdeType::Purchase | SdeType::ViewedProduct | SdeType::SearchContent => None,
    }
}

/// An attribute in history shape: `{"<historyKey>": {"serverTimeStamp": "...", ...}}`,
/// every scalar a string.
#[derive(Debug, Clone, Copy)]
pub struct HistorySde<'a> {
    pub sde: &'a Sde,
    pub stamps: Stamps,
}

impl HistorySde<'_> {
    /// The attribute as compact JSON text, as the store keeps it.
    pub fn to_json(&self) -> String {
        let mut text = String::with_capacity(512);
        self.write_json(&mut text);
        text
    }

    /// Appends the attribute as compact JSON text to `text`.
    pub fn write_json(&self, text: &mut String) {
        let key = self.sde.sde_type().history_key();
        JsonOut(text).object(|o| {
            o.name(key);
            o.object(|o| {
                if let Some(ms) = self.stamps.server_ms {
                    o.key(key!("serverTimeStamp"));
                    o.digits(ms);
                }
                if let Some(ms) = self.stamps.original_ms {
                    o.key(key!("originalTimeStamp"));
                    o.digits(ms);
                }
                let nested: &dyn WriteJson = match self.sde {
                    // "Flat": the fields sit next to the time stamps.
                    Sde::Cart(v) => return v.members(o),
                    Sde::Purchase(v) => return v.members(o),
                    Sde::ViewedProduct(v) => return v.members(o),
                    Sde::SearchContent(v) => return v.members(o),
                    // Nested in an inner object named like the type.
                    Sde::CustomerInfo(v) => &**v,
                    Sde::MarketingInfo(v) => v,
                    Sde::PersonalInfo(v) => &**v,
                    Sde::Lead(v) => v,
                    Sde::ServiceActivity(v) => v,
                    Sde::VisitorError(v) => v,
                };
                o.name(key);
                nested.write_json(o);
            });
        });
    }
}

impl Serialize for HistorySde<'_> {
    /// Through [`HistorySde::to_json`]'s text, so that the shape is written down once.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = self.to_json();
        Tape::parse_str(&text)
            .map_err(serde::ser::Error::custom)?
            .root()
            .serialize(s)
    }
}
