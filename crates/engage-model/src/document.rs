//! The documents `engage validate` checks: a page-shape SDE, a history-shape SDE, the
//! history API's `{"sdes": {"events": [...]}}`, an array of SDEs, or an `LP_OFFERS` event.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::error::{Errors, Invalid, Token};
use crate::event::OfferEvent;
use crate::read::{array, ObjReader};
use crate::sde::{Sde, Stamps};
use crate::tape::{Node, Tape, View};

/// A validated document, ready to print in canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Document {
    /// Engagement attributes, printed as `{"sdes": {"events": [...]}}` in history shape.
    Sdes(Vec<(Sde, Stamps)>),
    /// An event, printed as `{"appName", "eventName", "data"}`.
    Event(OfferEvent),
}

impl Document {
    /// Parses and validates raw bytes, reporting every problem found.
    pub fn parse(input: &[u8]) -> Result<Document, Invalid> {
        let tape =
            Tape::parse(input).map_err(|e| Invalid::single("", format!("malformed JSON: {e}")))?;
        Document::read(tape.root())
    }

    pub fn read(json: Node<'_, '_>) -> Result<Document, Invalid> {
        match json.view() {
            View::Array(_) => sde_list(json).map(Document::Sdes),
            View::Object(_) if json.get("appName").is_some() || json.get("eventName").is_some() => {
                OfferEvent::read(json, &[]).map(Document::Event)
            }
            View::Object(_) if json.get("sdes").is_some() && json.get("type").is_none() => {
                history_document(json).map(Document::Sdes)
            }
            View::Object(_) => Sde::read_either(json).map(|sde| Document::Sdes(vec![sde])),
            _ => Err(Invalid::single(
                "",
                format!(
                    "expected an SDE, an array of SDEs or an LP_OFFERS event, found {}",
                    json.kind()
                ),
            )),
        }
    }
}

/// `{"sdes": {"events": [...]}}`, the history API's form.
fn history_document(json: Node<'_, '_>) -> Result<Vec<(Sde, Stamps)>, Invalid> {
    let mut errors = Errors::new();
    let list = ObjReader::new(json, &mut errors).and_then(|mut r| {
        let list = r.field("sdes", &mut errors, |sdes, errors| {
            let mut r = ObjReader::new(sdes, errors)?;
            let list = r.field("events", errors, |events, e| match sde_list(events) {
                Ok(list) => Some(list),
                Err(invalid) => {
                    e.absorb(invalid);
                    None
                }
            });
            if list.is_none() && sdes.get("events").is_none() {
                errors.nested(Token::Key("events"), |e| {
                    e.here("missing, expected {\"events\": [...]}")
                });
            }
            r.finish(errors, "`events`");
            list
        });
        r.finish(&mut errors, "`sdes`");
        list
    });
    errors.finish(list)
}

fn sde_list(json: Node<'_, '_>) -> Result<Vec<(Sde, Stamps)>, Invalid> {
    let mut errors = Errors::new();
    let list = array(json, &mut errors, |item, e| match Sde::read_either(item) {
        Ok(sde) => Some(sde),
        Err(invalid) => {
            e.absorb(invalid);
            None
        }
    });
    errors.finish(list)
}

impl Serialize for Document {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Document::Event(event) => event.serialize(s),
            Document::Sdes(list) => {
                struct Events<'a>(&'a [(Sde, Stamps)]);
                impl Serialize for Events<'_> {
                    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                        let mut map = s.serialize_map(Some(1))?;
                        let history: Vec<_> = self
                            .0
                            .iter()
                            .map(|(sde, stamps)| sde.to_history(*stamps))
                            .collect();
                        map.serialize_entry("events", &history)?;
                        map.end()
                    }
                }
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("sdes", &Events(list))?;
                map.end()
            }
        }
    }
}
