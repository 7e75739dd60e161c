//! A borrowed JSON tree that keeps object keys in input order and strings without
//! copying where the input has no escapes.
//!
//! It is built from a [`Tape`](crate::Tape), which is what the validators read; the tree
//! is for callers that construct values or keep them (tests, configuration). Like the
//! tape, and unlike `serde_json::Value`, it keeps duplicate keys so they can be reported
//! instead of silently dropped.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Serialize, Serializer};

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

/// A JSON number as the parser produced it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Unsigned(u64),
    Signed(i64),
    Float(f64),
}

impl Number {
    /// The number as a non-negative integer, if it is one.
    pub fn as_u64(self) -> Option<u64> {
        match self {
            Number::Unsigned(n) => Some(n),
            Number::Signed(n) => u64::try_from(n).ok(),
            Number::Float(f)
                if f.fract() == 0.0 && (0.0..9.007_199_254_740_992e15).contains(&f) =>
            {
                // Exact: the float is integral and below 2^53.
                Some(f as u64)
            }
            Number::Float(_) => None,
        }
    }
}

impl fmt::Display for Number {
    /// Integers print as integers, floats in their shortest round-trip form (`7.8`, `34.0`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Number::Unsigned(n) => write!(f, "{n}"),
            Number::Signed(n) => write!(f, "{n}"),
            Number::Float(x) => match serde_json::Number::from_f64(x) {
                Some(n) => write!(f, "{n}"),
                None => write!(f, "{x}"),
            },
        }
    }
}

impl<'a> Json<'a> {
    /// Parses one JSON document (onto a tape, then into a tree). Trailing non-whitespace
    /// is an error.
    pub fn parse(input: &'a [u8]) -> Result<Json<'a>, serde_json::Error> {
        crate::parse::parse_bytes(input).map(crate::Tape::into_json)
    }

    /// Parses one JSON document from text.
    pub fn parse_str(input: &'a str) -> Result<Json<'a>, serde_json::Error> {
        crate::parse::parse_str(input).map(crate::Tape::into_json)
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
    fn numbers_print_in_their_shortest_exact_form() {
        assert_eq!(Number::Float(7.8).to_string(), "7.8");
        assert_eq!(Number::Float(34.0).to_string(), "34.0");
        assert_eq!(Number::Signed(-400).to_string(), "-400");
        assert_eq!(Number::Unsigned(210599710).to_string(), "210599710");
        assert_eq!(Number::Float(18.0).as_u64(), Some(18));
        assert_eq!(Number::Float(18.5).as_u64(), None);
        assert_eq!(Number::Signed(-1).as_u64(), None);
    }

    #[test]
    fn rejects_trailing_garbage_and_deep_nesting() {
        assert!(Json::parse(b"{} x").is_err());
        let deep = "[".repeat(10_000);
        assert!(Json::parse(deep.as_bytes()).is_err());
    }
}
