//! What narrows a decision's candidates: names, patterns and conditions interned into
//! dense indexes, bit sets over an account's ranked engagements, and the indexes that
//! reach an engagement through one condition it cannot be shown without.
//!
//! [`key`] picks that condition, the most selective one an index can serve: a section
//! the engagement requires, a text value (`eq`, `in`), a URL rule it includes, a number
//! threshold (`gt`, `gte`, `lt`, `lte`), `exists`; an engagement with none of these is
//! reached "always". Section names and text values are compared lowercase.
//!
//! Invariant: an index only narrows. Every engagement a page view can show is among its
//! candidates, and the full check of each candidate's rules decides (the snapshot's tests
//! compare deciding with and without the index).

use std::borrow::Cow;
use std::collections::HashMap;

use super::sde_path::SdePath;
use super::targeting::{Op, Scalar, Targeting};

/// A fixed-size bit set over the engagements.
pub(super) type Bits = Vec<u64>;

pub(super) fn set_bit(bits: &mut Bits, i: usize) {
    if let Some(word) = bits.get_mut(i / 64) {
        *word |= 1 << (i % 64);
    }
}

pub(super) fn or_into(into: &mut Bits, more: &Bits) {
    for (word, more) in into.iter_mut().zip(more) {
        *word |= more;
    }
}

/// Engagements reached through a text value at an attribute path (`eq` and `in`).
#[derive(Debug)]
pub(super) struct TextIndex {
    pub(super) path: SdePath,
    pub(super) by_value: HashMap<String, Bits>,
}

/// Engagements reached through a number at an attribute path: `above` holds the
/// `gt`/`gte` thresholds in ascending order, `below` the `lt`/`lte` ones in descending
/// order, each with whether it is inclusive.
#[derive(Debug)]
pub(super) struct NumberIndex {
    pub(super) path: SdePath,
    pub(super) above: Vec<(f64, bool, usize)>,
    pub(super) below: Vec<(f64, bool, usize)>,
}

/// Engagements reached through any value at an attribute path (`exists`).
#[derive(Debug)]
pub(super) struct ExistsIndex {
    pub(super) path: SdePath,
    pub(super) bits: Bits,
}

/// Lowercase without allocating when the name already is.
pub(super) fn lowercase(name: &str) -> Cow<'_, str> {
    if name.is_ascii() && !name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(name.to_lowercase())
    }
}

/// Interns values by key, handing out dense indexes.
pub(super) struct Interner<T> {
    pub(super) ids: HashMap<String, u32>,
    pub(super) values: Vec<T>,
}

impl<T> Interner<T> {
    pub(super) fn new() -> Self {
        Interner {
            ids: HashMap::new(),
            values: Vec::new(),
        }
    }

    pub(super) fn intern(&mut self, key: String, value: impl FnOnce() -> T) -> u32 {
        let next = u32::try_from(self.values.len()).unwrap_or(u32::MAX);
        *self.ids.entry(key).or_insert_with(|| {
            self.values.push(value());
            next
        })
    }
}

/// The index an engagement is reached through.
pub(super) enum Key<'t> {
    Sections,
    Text(SdePath, Vec<&'t str>),
    Url,
    Number(SdePath, f64, bool, bool),
    Exists(SdePath),
    Always,
}

/// The most selective condition of `targeting` that an index can serve.
pub(super) fn key(targeting: &Targeting) -> Key<'_> {
    if !targeting.sections.include.is_empty() {
        return Key::Sections;
    }
    for c in &targeting.sdes {
        match &c.op {
            Op::Eq(Scalar::Text(t)) => return Key::Text(c.path, vec![t.lower()]),
            Op::In(list) => {
                let texts: Option<Vec<&str>> = list
                    .iter()
                    .map(|s| match s {
                        Scalar::Text(t) => Some(t.lower()),
                        Scalar::Number(_) => None,
                    })
                    .collect();
                if let Some(texts) = texts {
                    return Key::Text(c.path, texts);
                }
            }
            _ => {}
        }
    }
    if !targeting.url.include.is_empty() {
        return Key::Url;
    }
    for c in &targeting.sdes {
        // (threshold, above, inclusive)
        let number = match &c.op {
            Op::Gt(n) => Some((*n, true, false)),
            Op::Gte(n) => Some((*n, true, true)),
            Op::Lt(n) => Some((*n, false, false)),
            Op::Lte(n) => Some((*n, false, true)),
            _ => None,
        };
        if let Some((n, above, inclusive)) = number {
            return Key::Number(c.path, n, above, inclusive);
        }
    }
    for c in &targeting.sdes {
        if matches!(c.op, Op::Exists(true)) {
            return Key::Exists(c.path);
        }
    }
    Key::Always
}
