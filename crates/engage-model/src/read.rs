//! Walking an input object field by field, remembering which members were read so
//! that everything else can be reported as unknown or duplicated.

use crate::body::child;
use crate::error::{Errors, Token};
use crate::tape::{Members, Node, View};

/// Objects in the schema have at most a couple of dozen members; the read set is a bitmask.
const MAX_MEMBERS: usize = 64;

/// Reads the members of one JSON object. Create with [`ObjReader::new`], take the
/// known members, then call [`ObjReader::finish`] to report the rest; or create with
/// [`ObjReader::strict`], which checks the members up front, and look them up with
/// [`ObjReader::get`].
pub struct ObjReader<'t, 'a> {
    /// All the members: their tape, the first one's key position and their count.
    members: Members<'t, 'a>,
    read: u64,
    /// Where the next lookup looks first (its index and its key's tape position): inputs
    /// usually list members in the documented order, which is the order they are read in,
    /// so most lookups hit at once.
    next: usize,
    next_at: usize,
}

impl<'t, 'a> ObjReader<'t, 'a> {
    /// `None` (with the problem reported) when `json` is not an object or too large.
    pub fn new(json: Node<'t, 'a>, errors: &mut Errors) -> Option<Self> {
        match json.view() {
            View::Object(members) if members.len() <= MAX_MEMBERS => Some(ObjReader {
                members,
                read: 0,
                next: 0,
                next_at: members.at,
            }),
            View::Object(members) => {
                errors.here(format!(
                    "object has {} members, at most {MAX_MEMBERS} are allowed",
                    members.len()
                ));
                None
            }
            _ => {
                errors.here(format!("expected an object, found {}", json.kind()));
                None
            }
        }
    }

    /// Every member not in `known`, and every repeat of one that is, is reported at once
    /// under `path`, in input order; what the caller then finds wrong comes after. `None`
    /// when `json` is not an object (reported) or has more than 64 members (after its
    /// unknown and repeated members were reported).
    ///
    /// Read the members with [`ObjReader::get`]: a strict reader counts every member as
    /// read, so [`ObjReader::finish`] has nothing left to report.
    pub fn strict(
        json: Node<'t, 'a>,
        path: &str,
        known: &[&str],
        errors: &mut Errors,
    ) -> Option<Self> {
        let View::Object(members) = json.view() else {
            errors.at(path, format!("expected an object, found {}", json.kind()));
            return None;
        };
        for (i, (key, _)) in members.enumerate() {
            if !known.contains(&key) {
                let expected = known
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                errors.at(
                    child(path, key),
                    format!("unknown field `{key}`, expected {expected}"),
                );
            } else if members.take(i).any(|(k, _)| k == key) {
                errors.at(child(path, key), format!("duplicate member `{key}`"));
            }
        }
        // Past the read set's width, `take` could not mark what it takes: such an object
        // has reported dozens of unknown or repeated members already.
        (members.len() <= MAX_MEMBERS).then_some(ObjReader {
            members,
            // Nothing is left to report as unread.
            read: u64::MAX >> (MAX_MEMBERS - members.len().max(1)),
            next: 0,
            next_at: members.at,
        })
    }

    /// The first member named `key`, unless it is absent or `null`; not marked as read.
    pub fn get(&self, key: &str) -> Option<Node<'t, 'a>> {
        let mut members = self.members;
        members
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
            .filter(|v| !v.is_null())
    }

    /// A member named `key`, marked as read. When the name is repeated, which one is
    /// taken does not matter: the others are reported as duplicates.
    ///
    /// Inlined with the field readers into each validator, where `key` is a constant:
    /// comparing it with the expected member then takes a few instructions.
    #[inline(always)]
    pub fn take(&mut self, key: &str) -> Option<Node<'t, 'a>> {
        let (i, at, after) = match self.expected() {
            Some((name, after)) if same(name, key) => (self.next, self.next_at, after),
            _ => self.find(key)?,
        };
        self.read |= 1 << i;
        self.next = i + 1;
        self.next_at = after;
        Some(Node {
            tape: self.members.tape,
            at: at + 1,
        })
    }

    /// The name of the member after the last one taken, and where the one after it is.
    fn expected(&self) -> Option<(&'t str, usize)> {
        (self.next < self.members.left).then(|| self.members.tape.key_at(self.next_at))
    }

    /// The index, key position and next member's position of a member named `key`,
    /// looking from the expected member on and then from the start.
    fn find(&self, key: &str) -> Option<(usize, usize, usize)> {
        // Most misses are optional fields left out, asked for after everything was read.
        if self.all_read() {
            return None;
        }
        let (mut i, mut at) = (self.next, self.next_at);
        for _ in 0..self.members.left {
            if i >= self.members.left {
                (i, at) = (0, self.members.at);
            }
            let (name, after) = self.members.tape.key_at(at);
            if same(name, key) {
                return Some((i, at, after));
            }
            (i, at) = (i + 1, after);
        }
        None
    }

    /// Whether every member was taken (without counting bits: the target has no `popcnt`
    /// instruction by default).
    fn all_read(&self) -> bool {
        let all = u64::MAX >> (MAX_MEMBERS - self.members.left.max(1));
        self.members.left == 0 || self.read == all
    }

    /// The first of several accepted spellings of one member, with the spelling found.
    pub fn take_any(&mut self, keys: &[&'static str]) -> Option<(&'static str, Node<'t, 'a>)> {
        keys.iter().find_map(|k| self.take(k).map(|v| (*k, v)))
    }

    /// Reads `key` with `parse`, reporting its problems under `/key`.
    #[inline(always)]
    pub fn field<T>(
        &mut self,
        key: &'static str,
        errors: &mut Errors,
        parse: impl FnOnce(Node<'t, 'a>, &mut Errors) -> Option<T>,
    ) -> Option<T> {
        let value = self.take(key)?;
        errors.nested(Token::Key(key), |e| parse(value, e))
    }

    /// Like [`ObjReader::field`], for a member with several accepted spellings.
    pub fn field_any<T>(
        &mut self,
        keys: &[&'static str],
        errors: &mut Errors,
        parse: impl FnOnce(Node<'t, 'a>, &mut Errors) -> Option<T>,
    ) -> Option<T> {
        let (key, value) = self.take_any(keys)?;
        // Another spelling of the same member (`Currency` beside `currency`) is a repeat,
        // not an unknown field.
        for other in keys.iter().filter(|k| keys.len() > 1 && **k != key) {
            if self.take(other).is_some() {
                errors.nested(Token::Key(other), |e| {
                    e.here(format!("duplicate member: `{other}` repeats `{key}`"))
                });
            }
        }
        errors.nested(Token::Key(key), |e| parse(value, e))
    }

    /// Reports every member that was not read: unknown, or a repeat of one that was.
    /// `expected` is only formatted when there is something to report.
    pub fn finish(&self, errors: &mut Errors, expected: impl std::fmt::Display) {
        if self.all_read() {
            return;
        }
        for (i, (key, _)) in self.members.enumerate() {
            if self.read & (1 << i) != 0 {
                continue;
            }
            // A repeat of a member that was read, or of an earlier unread one.
            let repeated = self
                .members
                .enumerate()
                .any(|(j, (k, _))| j != i && k == key && (self.read & (1 << j) != 0 || j < i));
            errors.nested(Token::Key(key), |e| {
                if repeated {
                    e.here(format!("duplicate member `{key}`"));
                } else {
                    e.here(format!("unknown field `{key}`, expected {expected}"));
                }
            });
        }
    }
}

/// Whether two member names are the same. Names are short: comparing them in place, a
/// word at a time, is cheaper than calling `memcmp` the way `==` does.
#[inline(always)]
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    // Two overlapping reads cover any length from a read's size to twice that.
    fn word(s: &[u8], at: usize) -> Option<u64> {
        s.get(at..at + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
            .map(u64::from_le_bytes)
    }
    fn half(s: &[u8], at: usize) -> Option<u32> {
        s.get(at..at + 4)
            .and_then(|w| <[u8; 4]>::try_from(w).ok())
            .map(u32::from_le_bytes)
    }
    match n {
        4..=7 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

/// Reads every element of an array with `parse`, reporting problems under `/index`.
/// `None` when the value is not an array or any element failed.
pub fn array<'t, 'a, T>(
    json: Node<'t, 'a>,
    errors: &mut Errors,
    mut parse: impl FnMut(Node<'t, 'a>, &mut Errors) -> Option<T>,
) -> Option<Vec<T>> {
    let View::Array(items) = json.view() else {
        errors.here(format!("expected an array, found {}", json.kind()));
        return None;
    };
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.enumerate() {
        match errors.nested(Token::Index(i), |e| parse(item, e)) {
            Some(v) => out.push(v),
            None => ok = false,
        }
    }
    ok.then_some(out)
}
