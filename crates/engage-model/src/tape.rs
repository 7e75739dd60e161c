//! A parsed JSON document as one flat list of tokens: what every validator reads.
//!
//! A tree of [`Json`] values costs an allocation per object and array, a copy of each
//! container's members into it, and a walk to free them again; on a tag's batch that was
//! about half of all the work of validating it. The tape is one `Vec` in document order
//! instead: a container's token records how many entries it has and where it ends, so a
//! reader can step over it, and dropping the tape frees two allocations.
//!
//! [`Tape::parse`] reads JSON text (the same documents as [`Json::parse`], with the same
//! errors); [`Tape::from_json`] lays out a tree that is already parsed. [`Node`] is a
//! position in a tape, and [`Node::view`] says what is there in a form made for `match`.

use std::borrow::Cow;

use crate::json::{Json, Number};

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
        crate::parse::parse_bytes(input)
    }

    /// Parses one JSON document from text.
    pub fn parse_str(input: &'a str) -> Result<Tape<'a>, serde_json::Error> {
        crate::parse::parse_str(input)
    }

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

    /// The document's value. A tape made by [`Tape::parse`] or [`Tape::from_json`] always
    /// has one.
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

impl std::fmt::Debug for Node<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.to_json().fmt(f)
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
