//! A borrowed JSON tree that keeps object keys in input order and strings without
//! copying where the input has no escapes.
//!
//! It is built from a [`Tape`], which is what the validators read, and only tests and
//! benchmarks build one: the module is compiled for this crate's tests and with the
//! `json-tree` feature, which dev-dependencies enable. Like the tape, and unlike
//! `serde_json::Value`, it keeps duplicate keys so they can be reported instead of
//! silently dropped. The readers' tree entry points (`Sde::from_page`,
//! `OfferEvent::from_json`, ...) are here too: each lays the tree out as a tape and reads
//! that.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Serialize, Serializer};

use crate::error::Invalid;
use crate::event::{OfferEvent, OfferEventName};
use crate::monitoring::EngagementAttribute;
use crate::sde::{Sde, Stamps};
use crate::tape::{pos, Node, Tok, View};
pub use crate::tape::{Number, Tape};
use crate::visit::VisitSdes;
use crate::Document;

/// One JSON value, borrowing from the input where it can.
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    /// Members in input order; duplicates are kept so validation can report them.
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl<'a> Json<'a> {
    /// Parses one JSON document (onto a tape, then into a tree). Trailing non-whitespace
    /// is an error.
    pub fn parse(input: &'a [u8]) -> Result<Json<'a>, serde_json::Error> {
        Tape::parse(input).map(Tape::into_json)
    }

    /// Parses one JSON document from text.
    pub fn parse_str(input: &'a str) -> Result<Json<'a>, serde_json::Error> {
        Tape::parse_str(input).map(Tape::into_json)
    }

    /// The first member named `key`, if this is an object.
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        match self {
            Json::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value as text, for strings only.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// A short name of the JSON type, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }

    /// Converts into an owned `serde_json::Value` (duplicate keys: the last one wins).
    pub fn to_value(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(Number::Unsigned(n)) => Value::from(*n),
            Json::Number(Number::Signed(n)) => Value::from(*n),
            Json::Number(Number::Float(x)) => serde_json::Number::from_f64(*x)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            Json::String(s) => Value::String(s.to_string()),
            Json::Array(items) => Value::Array(items.iter().map(Json::to_value).collect()),
            Json::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_value()))
                    .collect(),
            ),
        }
    }
}

impl Serialize for Json<'_> {
    /// Members in their order; a repeated key is written as often as it appears.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => s.serialize_unit(),
            Json::Bool(b) => s.serialize_bool(*b),
            Json::Number(Number::Unsigned(n)) => s.serialize_u64(*n),
            Json::Number(Number::Signed(n)) => s.serialize_i64(*n),
            Json::Number(Number::Float(x)) => s.serialize_f64(*x),
            Json::String(text) => s.serialize_str(text),
            Json::Array(items) => s.collect_seq(items),
            Json::Object(members) => s.collect_map(members.iter().map(|(k, v)| (k, v))),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Json<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Json::Bool(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Json::Number(Number::Unsigned(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Json::Number(Number::Signed(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Json::Number(Number::Float(v)))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Json::String(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Json::String(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Json::String(Cow::Owned(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Json::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Json::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
        while let Some(key) = map.next_key::<Key<'de>>()? {
            members.push((key.0, map.next_value()?));
        }
        Ok(Json::Object(members))
    }
}

/// An object key, borrowed when unescaped.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

impl<'a> Tape<'a> {
    /// Lays out a parsed tree as a tape, borrowing its strings.
    pub fn from_json(json: &'a Json<'_>) -> Tape<'a> {
        let mut tape = Tape::default();
        tape.push_json(json);
        tape
    }

    fn push_json(&mut self, json: &'a Json<'_>) {
        match json {
            Json::Null => self.toks.push(Tok::Null),
            Json::Bool(b) => self.toks.push(Tok::Bool(*b)),
            Json::Number(n) => self.toks.push(Tok::number(*n, 0, 0)),
            Json::String(s) => self.toks.push(Tok::Str(s)),
            Json::Array(items) => {
                let at = self.toks.len();
                self.toks.push(Tok::Null);
                for item in items {
                    self.push_json(item);
                }
                self.toks[at] = Tok::Array {
                    len: pos(items.len()),
                    end: pos(self.toks.len()),
                };
            }
            Json::Object(members) => {
                let at = self.toks.len();
                self.toks.push(Tok::Null);
                for (key, value) in members {
                    let key_at = self.toks.len();
                    self.toks.push(Tok::Key { next: 0, text: key });
                    self.push_json(value);
                    self.link_key(key_at);
                }
                self.toks[at] = Tok::Object {
                    len: pos(members.len()),
                    end: pos(self.toks.len()),
                };
            }
        }
    }

    /// The document as a tree; decoded strings move into it.
    pub fn into_json(mut self) -> Json<'a> {
        let mut escaped = std::mem::take(&mut self.escaped);
        let mut at = 0;
        build(&self.toks, &mut escaped, &mut at)
    }
}

/// The tree of the value at `*at`, leaving `*at` after it.
fn build<'a>(toks: &[Tok<'a>], escaped: &mut [String], at: &mut usize) -> Json<'a> {
    let tok = toks.get(*at).copied().unwrap_or(Tok::Null);
    *at += 1;
    match tok {
        Tok::Null => Json::Null,
        Tok::Bool(b) => Json::Bool(b),
        Tok::Unsigned { value, .. } => Json::Number(Number::Unsigned(value)),
        Tok::Signed { value, .. } => Json::Number(Number::Signed(value)),
        Tok::Float { value, .. } => Json::Number(Number::Float(value)),
        Tok::Str(s) | Tok::Key { text: s, .. } => Json::String(Cow::Borrowed(s)),
        Tok::Escaped(i) | Tok::EscapedKey { index: i, .. } => {
            Json::String(Cow::Owned(std::mem::take(&mut escaped[i as usize])))
        }
        Tok::Array { len, .. } => {
            let mut items = Vec::with_capacity(len as usize);
            for _ in 0..len {
                items.push(build(toks, escaped, at));
            }
            Json::Array(items)
        }
        Tok::Object { len, .. } => {
            let mut members = Vec::with_capacity(len as usize);
            for _ in 0..len {
                let key = match build(toks, escaped, at) {
                    Json::String(key) => key,
                    _ => Cow::Borrowed(""),
                };
                members.push((key, build(toks, escaped, at)));
            }
            Json::Object(members)
        }
    }
}

impl<'t> Node<'t, '_> {
    /// This value as a tree of its own.
    pub fn to_json(self) -> Json<'t> {
        match self.view() {
            View::Null => Json::Null,
            View::Bool(b) => Json::Bool(b),
            View::Number(n) => Json::Number(n),
            View::String(s) => Json::String(Cow::Borrowed(s)),
            View::Array(items) => Json::Array(items.map(Node::to_json).collect()),
            View::Object(members) => Json::Object(
                members
                    .map(|(k, v)| (Cow::Borrowed(k), v.to_json()))
                    .collect(),
            ),
        }
    }
}

impl Sde {
    /// [`Sde::read_page`] for a tree.
    pub fn from_page(json: &Json<'_>) -> Result<Sde, Invalid> {
        Sde::read_page(Tape::from_json(json).root())
    }

    /// [`Sde::read_history`] for a tree.
    pub fn from_history(json: &Json<'_>) -> Result<(Sde, Stamps), Invalid> {
        Sde::read_history(Tape::from_json(json).root())
    }

    /// [`Sde::read_either`] for a tree.
    pub fn from_either(json: &Json<'_>) -> Result<(Sde, Stamps), Invalid> {
        Sde::read_either(Tape::from_json(json).root())
    }
}

impl OfferEvent {
    /// [`OfferEvent::read`] for a tree.
    pub fn from_json(json: &Json<'_>, extra_members: &[&str]) -> Result<OfferEvent, Invalid> {
        OfferEvent::read(Tape::from_json(json).root(), extra_members)
    }

    /// [`OfferEvent::read_data`] for a tree.
    pub fn from_data(name: OfferEventName, data: &Json<'_>) -> Result<OfferEvent, Invalid> {
        OfferEvent::read_data(name, Tape::from_json(data).root())
    }
}

impl VisitSdes {
    /// [`VisitSdes::read`] for a tree.
    pub fn from_json(json: &Json<'_>) -> Result<VisitSdes, Invalid> {
        VisitSdes::read(Tape::from_json(json).root())
    }
}

impl EngagementAttribute {
    /// [`EngagementAttribute::read`] for a tree.
    pub fn from_json(json: &Json<'_>) -> Result<EngagementAttribute, Invalid> {
        EngagementAttribute::read(Tape::from_json(json).root())
    }
}

impl Document {
    /// [`Document::read`] for a tree.
    pub fn from_json(json: &Json<'_>) -> Result<Document, Invalid> {
        Document::read(Tape::from_json(json).root())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_duplicate_keys_in_order_and_borrows_plain_strings() {
        let input = br#"{"a":"x","a":"y\n","n":7.8,"i":-3,"u":18}"#;
        let json = Json::parse(input).unwrap();
        let Json::Object(members) = &json else {
            panic!("not an object")
        };
        assert_eq!(members.len(), 5);
        assert!(matches!(&members[0].1, Json::String(Cow::Borrowed("x"))));
        assert!(matches!(&members[1].1, Json::String(Cow::Owned(s)) if s == "y\n"));
        assert_eq!(json.get("n"), Some(&Json::Number(Number::Float(7.8))));
        assert_eq!(json.get("i").unwrap().kind(), "a number");
    }

    #[test]
    fn rejects_trailing_garbage_and_deep_nesting() {
        assert!(Json::parse(b"{} x").is_err());
        let deep = "[".repeat(10_000);
        assert!(Json::parse(deep.as_bytes()).is_err());
    }
}
