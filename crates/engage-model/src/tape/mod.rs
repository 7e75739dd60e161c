//! A parsed JSON document as one flat list of tokens: what every validator reads.
//!
//! A tree of values costs an allocation per object and array, a copy of each
//! container's members into it, and a walk to free them again; on a tag's batch that was
//! about half of all the work of validating it. The tape is one `Vec` in document order
//! instead: a container's token records how many entries it has and where it ends, so a
//! reader can step over it, and dropping the tape frees two allocations.
//!
//! [`Tape::parse`] reads JSON text with the parser in `parse`. [`Node`] is a position
//! in a tape, and [`Node::view`] says what is there in a form made for `match`; a
//! [`Number`] is what a number token holds. The tape depends on nothing else in the
//! crate: the tree form (`json`, for tests) is built from it, never the other way round.

use std::fmt;

use serde::{Serialize, Serializer};

pub(crate) mod parse;

/// One token of a tape (24 bytes). Positions are `u32`: [`Tape::parse`] refuses inputs
/// of 4 GiB or more, which are the only way to have more tokens than that.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Tok<'a> {
    Null,
    Bool(bool),
    /// A number, with where its text is in the input (`len` 0 when the tape was laid
    /// out from a tree): history output gives numbers as text, and an integer's digits or
    /// a short decimal's are that text already.
    Unsigned {
        raw: u32,
        len: u32,
        value: u64,
    },
    Signed {
        raw: u32,
        len: u32,
        value: i64,
    },
    Float {
        raw: u32,
        len: u32,
        value: f64,
    },
    /// A string as it is in the input (or in the tree the tape was made from).
    Str(&'a str),
    /// A string that had escapes, decoded: an index into [`Tape::escaped`].
    Escaped(u32),
    /// An object member's name, with the position of the next member's name (or of the
    /// object's end), so that looking a member up steps from name to name.
    Key {
        next: u32,
        text: &'a str,
    },
    /// The same for a name that had escapes.
    EscapedKey {
        next: u32,
        index: u32,
    },
    /// `len` items follow; the next token after the array is at `end`.
    Array {
        len: u32,
        end: u32,
    },
    /// `len` members follow, each a key and then its value.
    Object {
        len: u32,
        end: u32,
    },
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

/// A tape position or count as stored in a token.
pub(crate) fn pos(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A JSON document as a token list. Keys keep their input order and repeats.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tape<'a> {
    pub(crate) toks: Vec<Tok<'a>>,
    pub(crate) escaped: Vec<String>,
    /// The text parsed, where numbers' text is found; empty for a tape made from a tree.
    pub(crate) text: &'a str,
}

impl<'a> Tok<'a> {
    /// A number token for `value`, whose text is `len` bytes at `raw` in the input.
    pub(crate) fn number(value: Number, raw: u32, len: u32) -> Tok<'a> {
        match value {
            Number::Unsigned(value) => Tok::Unsigned { raw, len, value },
            Number::Signed(value) => Tok::Signed { raw, len, value },
            Number::Float(value) => Tok::Float { raw, len, value },
        }
    }
}

impl<'a> Tape<'a> {
    /// Parses one JSON document from bytes, which must be UTF-8. Trailing
    /// non-whitespace is an error.
    pub fn parse(input: &'a [u8]) -> Result<Tape<'a>, serde_json::Error> {
        parse::parse_bytes(input)
    }

    /// Parses one JSON document from text.
    pub fn parse_str(input: &'a str) -> Result<Tape<'a>, serde_json::Error> {
        parse::parse_str(input)
    }

    /// The document's value. A tape made by [`Tape::parse`] always has one.
    pub fn root(&self) -> Node<'_, 'a> {
        Node { tape: self, at: 0 }
    }

    /// Points the key at `key_at` to the next member: the end of the tape so far, where
    /// the member after its value starts.
    pub(crate) fn link_key(&mut self, key_at: usize) {
        let end = pos(self.toks.len());
        if let Tok::Key { next, .. } | Tok::EscapedKey { next, .. } = &mut self.toks[key_at] {
            *next = end;
        }
    }

    /// The name of the member whose key is at `at`, and where the next member's key is.
    #[inline]
    pub(crate) fn key_at(&self, at: usize) -> (&str, usize) {
        match self.toks[at] {
            Tok::Key { next, text } => (text, next as usize),
            Tok::EscapedKey { next, index } => (&self.escaped[index as usize], next as usize),
            _ => ("", at + 1),
        }
    }

    /// Where the value after the one at `at` starts.
    pub(crate) fn end_of(&self, at: usize) -> usize {
        match self.toks[at] {
            Tok::Array { end, .. } | Tok::Object { end, .. } => end as usize,
            _ => at + 1,
        }
    }
}

/// One value in a tape. Cheap to copy; reading it never allocates.
#[derive(Clone, Copy)]
pub struct Node<'t, 'a> {
    pub(crate) tape: &'t Tape<'a>,
    /// Always the position of a value's token in `tape`.
    pub(crate) at: usize,
}

/// What a [`Node`] holds.
#[derive(Clone, Copy)]
pub enum View<'t, 'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(&'t str),
    Array(Items<'t, 'a>),
    Object(Members<'t, 'a>),
}

impl<'t, 'a> Node<'t, 'a> {
    fn tok(self) -> Tok<'a> {
        self.tape.toks[self.at]
    }

    /// Where the next value after this one starts.
    fn end(self) -> usize {
        self.tape.end_of(self.at)
    }

    pub fn view(self) -> View<'t, 'a> {
        match self.tok() {
            Tok::Null => View::Null,
            Tok::Bool(b) => View::Bool(b),
            Tok::Unsigned { value, .. } => View::Number(Number::Unsigned(value)),
            Tok::Signed { value, .. } => View::Number(Number::Signed(value)),
            Tok::Float { value, .. } => View::Number(Number::Float(value)),
            Tok::Str(s) | Tok::Key { text: s, .. } => View::String(s),
            Tok::Escaped(i) | Tok::EscapedKey { index: i, .. } => {
                View::String(&self.tape.escaped[i as usize])
            }
            Tok::Array { len, .. } => View::Array(Items {
                tape: self.tape,
                at: self.at + 1,
                left: len as usize,
            }),
            Tok::Object { len, .. } => View::Object(Members {
                tape: self.tape,
                at: self.at + 1,
                left: len as usize,
            }),
        }
    }

    /// The value as text, for strings only.
    pub fn as_str(self) -> Option<&'t str> {
        match self.tok() {
            Tok::Str(s) | Tok::Key { text: s, .. } => Some(s),
            Tok::Escaped(i) | Tok::EscapedKey { index: i, .. } => {
                Some(&self.tape.escaped[i as usize])
            }
            _ => None,
        }
    }

    /// A number's text as the input wrote it, when the tape was parsed from text.
    pub(crate) fn number_text(self) -> Option<&'t str> {
        match self.tok() {
            Tok::Unsigned { raw, len, .. }
            | Tok::Signed { raw, len, .. }
            | Tok::Float { raw, len, .. }
                if len > 0 =>
            {
                self.tape.text.get(raw as usize..(raw + len) as usize)
            }
            _ => None,
        }
    }

    pub fn is_null(self) -> bool {
        matches!(self.tok(), Tok::Null)
    }

    /// The members, if this is an object.
    pub fn members(self) -> Option<Members<'t, 'a>> {
        match self.view() {
            View::Object(members) => Some(members),
            _ => None,
        }
    }

    /// The items, if this is an array.
    pub fn items(self) -> Option<Items<'t, 'a>> {
        match self.view() {
            View::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The first member named `key`, if this is an object.
    pub fn get(self, key: &str) -> Option<Node<'t, 'a>> {
        self.members()?.find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// A short name of the JSON type, for error messages.
    pub fn kind(self) -> &'static str {
        match self.tok() {
            Tok::Null => "null",
            Tok::Bool(_) => "a boolean",
            Tok::Unsigned { .. } | Tok::Signed { .. } | Tok::Float { .. } => "a number",
            Tok::Str(_) | Tok::Escaped(_) | Tok::Key { .. } | Tok::EscapedKey { .. } => "a string",
            Tok::Array { .. } => "an array",
            Tok::Object { .. } => "an object",
        }
    }
}

impl Serialize for Node<'_, '_> {
    /// Members in their order; a repeated key is written as often as it appears.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.view() {
            View::Null => s.serialize_unit(),
            View::Bool(b) => s.serialize_bool(b),
            View::Number(Number::Unsigned(n)) => s.serialize_u64(n),
            View::Number(Number::Signed(n)) => s.serialize_i64(n),
            View::Number(Number::Float(x)) => s.serialize_f64(x),
            View::String(text) => s.serialize_str(text),
            View::Array(items) => s.collect_seq(items),
            View::Object(members) => s.collect_map(members),
        }
    }
}

impl<'t, 'a> Node<'t, 'a> {
    /// The value to serialize with each object's members sorted by name and only a
    /// repeated name's last value kept: what `serde_json::Value` writes (a sorted map per
    /// object, without serde_json's `preserve_order`), the form in which records kept as
    /// text have always been stored and answered.
    pub fn sorted(self) -> Sorted<'t, 'a> {
        Sorted(self)
    }
}

/// A [`Node`] that serializes with sorted members: see [`Node::sorted`].
#[derive(Clone, Copy, Debug)]
pub struct Sorted<'t, 'a>(Node<'t, 'a>);

impl Serialize for Sorted<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.view() {
            View::Array(items) => s.collect_seq(items.map(Node::sorted)),
            View::Object(members) => {
                let mut members: Vec<_> = members.collect();
                // Stable, so that of a repeated name the last value comes last.
                members.sort_by(|a, b| a.0.cmp(b.0));
                let mut last: Vec<(&str, Node<'_, '_>)> = Vec::with_capacity(members.len());
                for (key, value) in members {
                    match last.last_mut() {
                        Some(prev) if prev.0 == key => prev.1 = value,
                        _ => last.push((key, value)),
                    }
                }
                s.collect_map(last.into_iter().map(|(k, v)| (k, v.sorted())))
            }
            _ => self.0.serialize(s),
        }
    }
}

impl fmt::Debug for Node<'_, '_> {
    /// The value as compact JSON text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_string(self).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

/// The items of an array, in order.
#[derive(Clone, Copy)]
pub struct Items<'t, 'a> {
    tape: &'t Tape<'a>,
    at: usize,
    left: usize,
}

impl<'t, 'a> Iterator for Items<'t, 'a> {
    type Item = Node<'t, 'a>;

    fn next(&mut self) -> Option<Node<'t, 'a>> {
        self.left = self.left.checked_sub(1)?;
        let item = Node {
            tape: self.tape,
            at: self.at,
        };
        self.at = item.end();
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Items<'_, '_> {}

/// A tape with nothing on it, for empty iterators.
static EMPTY: Tape<'static> = Tape {
    toks: Vec::new(),
    escaped: Vec::new(),
    text: "",
};

impl Default for Items<'_, '_> {
    /// No items.
    fn default() -> Self {
        Items {
            tape: &EMPTY,
            at: 0,
            left: 0,
        }
    }
}

/// The members of an object, in input order, repeats included.
#[derive(Clone, Copy)]
pub struct Members<'t, 'a> {
    pub(crate) tape: &'t Tape<'a>,
    /// The position of the next member's key.
    pub(crate) at: usize,
    pub(crate) left: usize,
}

impl<'t, 'a> Iterator for Members<'t, 'a> {
    type Item = (&'t str, Node<'t, 'a>);

    fn next(&mut self) -> Option<(&'t str, Node<'t, 'a>)> {
        self.left = self.left.checked_sub(1)?;
        let (key, next) = self.tape.key_at(self.at);
        let value = Node {
            tape: self.tape,
            at: self.at + 1,
        };
        self.at = next;
        Some((key, value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Members<'_, '_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::Json;

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
    fn sorted_output_is_what_a_serde_json_value_writes() {
        let text = r#"{"b":[{"z":1,"a":2.50}],"a":"x\u0041","c":{"k":1,"k":2,"j":null},"c":3}"#;
        let tape = Tape::parse_str(text).unwrap();
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(
            serde_json::to_string(&tape.root().sorted()).unwrap(),
            value.to_string()
        );
        assert_eq!(
            serde_json::to_string(&tape.root()).unwrap(),
            r#"{"b":[{"z":1,"a":2.5}],"a":"xA","c":{"k":1,"k":2,"j":null},"c":3}"#,
            "unsorted, a node writes its members as they are"
        );
    }

    #[test]
    fn a_tape_reads_back_as_the_tree_it_was_parsed_from() {
        let input = br#"{"a":[1,{"b":null},"x\ny"],"a":true,"c":{},"d":[],"e":-2.5,"\u0066":0}"#;
        let tape = Tape::parse(input).unwrap();
        let tree = Json::parse(input).unwrap();
        assert_eq!(tape.root().to_json(), tree);
        assert_eq!(Tape::from_json(&tree).root().to_json(), tree);
        assert_eq!(tape.clone().into_json(), tree);
        let members: Vec<_> = tape.root().members().unwrap().map(|(k, _)| k).collect();
        assert_eq!(members, ["a", "a", "c", "d", "e", "f"]);
        assert!(
            tape.root().get("f").is_some(),
            "an escaped name is found by its text"
        );
        let a = tape.root().get("a").unwrap();
        assert_eq!(a.kind(), "an array");
        let items: Vec<_> = a.items().unwrap().map(Node::kind).collect();
        assert_eq!(items, ["a number", "an object", "a string"]);
        assert_eq!(a.items().unwrap().nth(2).unwrap().as_str(), Some("x\ny"));
        assert_eq!(a.items().unwrap().len(), 3);
        assert!(tape
            .root()
            .get("c")
            .unwrap()
            .members()
            .unwrap()
            .next()
            .is_none());
        assert!(tape.root().get("missing").is_none());
        assert!(
            matches!(tape.root().get("e").unwrap().view(), View::Number(Number::Float(x)) if x == -2.5)
        );
    }
}
