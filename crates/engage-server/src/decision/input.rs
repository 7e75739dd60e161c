//! Reading admin and decision request bodies: strict objects (unknown and duplicate
//! members are errors) and typed members, every problem collected at its JSON pointer.

use engage_model::error::push_pointer_token;
use engage_model::Number;
use engage_model::{EngagementType, FieldError, Node, View};

/// The problems found so far in one body.
#[derive(Debug, Default)]
pub struct Problems {
    pub errors: Vec<FieldError>,
}

impl Problems {
    pub fn add(&mut self, path: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(path, message));
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }
}

/// `path` with one more reference token.
pub fn child(path: &str, token: &str) -> String {
    let mut out = String::with_capacity(path.len() + token.len() + 1);
    out.push_str(path);
    push_pointer_token(&mut out, token);
    out
}

/// `path` with an array index.
pub fn index(path: &str, i: usize) -> String {
    format!("{path}/{i}")
}

/// An object's members, checking that each is one of `known` and appears once.
pub fn object<'t, 'a>(
    json: Node<'t, 'a>,
    path: &str,
    known: &[&str],
    problems: &mut Problems,
) -> Option<Members<'t, 'a>> {
    let Some(members) = json.members() else {
        problems.add(path, format!("expected an object, found {}", json.kind()));
        return None;
    };
    for (i, (key, _)) in members.enumerate() {
        if !known.contains(&key) {
            problems.add(
                &child(path, key),
                format!(
                    "unknown field `{key}`, expected {}",
                    known
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        } else if members.take(i).any(|(k, _)| k == key) {
            problems.add(&child(path, key), format!("duplicate member `{key}`"));
        }
    }
    Some(Members {
        json,
        path: path.to_owned(),
    })
}

/// The members of an object checked by [`object`].
#[derive(Clone)]
pub struct Members<'t, 'a> {
    json: Node<'t, 'a>,
    path: String,
}

impl<'t, 'a> Members<'t, 'a> {
    /// The member, unless absent or `null`.
    pub fn get(&self, key: &str) -> Option<Node<'t, 'a>> {
        self.json.get(key).filter(|v| !v.is_null())
    }

    pub fn path(&self, key: &str) -> String {
        child(&self.path, key)
    }

    /// A required string of 1 to `max_chars` characters (surrounding space trimmed).
    pub fn required_string(
        &self,
        key: &str,
        max_chars: usize,
        problems: &mut Problems,
    ) -> Option<String> {
        match self.get(key) {
            None => {
                problems.add(&self.path(key), "missing");
                None
            }
            Some(v) => string(v, &self.path(key), max_chars, problems),
        }
    }

    /// An optional string of 1 to `max_chars` characters.
    pub fn optional_string(
        &self,
        key: &str,
        max_chars: usize,
        problems: &mut Problems,
    ) -> Option<String> {
        self.get(key)
            .and_then(|v| string(v, &self.path(key), max_chars, problems))
    }

    /// An optional whole number in `range`, given as a number or a string of digits.
    pub fn optional_uint(
        &self,
        key: &str,
        range: std::ops::RangeInclusive<u64>,
        problems: &mut Problems,
    ) -> Option<u64> {
        self.get(key)
            .and_then(|v| uint(v, &self.path(key), range, problems))
    }

    pub fn optional_bool(&self, key: &str, problems: &mut Problems) -> Option<bool> {
        match self.get(key).map(|v| (v, v.view())) {
            None => None,
            Some((_, View::Bool(b))) => Some(b),
            Some((other, _)) => {
                problems.add(
                    &self.path(key),
                    format!("expected true or false, found {}", other.kind()),
                );
                None
            }
        }
    }
}

/// A string of 1 to `max_chars` characters, surrounding space trimmed.
pub fn string(
    json: Node<'_, '_>,
    path: &str,
    max_chars: usize,
    problems: &mut Problems,
) -> Option<String> {
    let Some(s) = json.as_str() else {
        problems.add(path, format!("expected a string, found {}", json.kind()));
        return None;
    };
    let trimmed = s.trim();
    if trimmed.is_empty() {
        problems.add(path, "must not be empty");
        return None;
    }
    let chars = trimmed.chars().count();
    if chars > max_chars {
        problems.add(
            path,
            format!("is {chars} characters long, at most {max_chars} are allowed"),
        );
        return None;
    }
    Some(trimmed.to_owned())
}

/// A whole number in `range`, given as a number or a string of digits.
pub fn uint(
    json: Node<'_, '_>,
    path: &str,
    range: std::ops::RangeInclusive<u64>,
    problems: &mut Problems,
) -> Option<u64> {
    let n = match json.view() {
        View::Number(n) => n.as_u64(),
        View::String(s)
            if !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()) =>
        {
            s.parse().ok()
        }
        _ => None,
    };
    match n {
        Some(n) if range.contains(&n) => Some(n),
        _ => {
            problems.add(
                path,
                format!(
                    "expected a whole number {}-{}, found {}",
                    range.start(),
                    range.end(),
                    describe(json)
                ),
            );
            None
        }
    }
}

/// A JSON number as `f64` (for numeric comparisons).
pub fn number(json: Node<'_, '_>) -> Option<f64> {
    match json.view() {
        View::Number(Number::Unsigned(n)) => Some(n as f64),
        View::Number(Number::Signed(n)) => Some(n as f64),
        View::Number(Number::Float(f)) => Some(f),
        _ => None,
    }
}

/// A value as error messages show it: short scalars verbatim, the rest by kind.
pub fn describe(json: Node<'_, '_>) -> String {
    match json.view() {
        View::Number(n) => n.to_string(),
        View::String(s) if s.chars().count() <= 40 => format!("\"{s}\""),
        View::Bool(b) => b.to_string(),
        _ => json.kind().to_owned(),
    }
}

/// An `engagementType` (a number, or a one-digit string): one of the six formats.
pub fn engagement_type(
    json: Node<'_, '_>,
    path: &str,
    problems: &mut Problems,
) -> Option<EngagementType> {
    let found = match json.view() {
        View::Number(n) => n.as_u64().and_then(EngagementType::from_code),
        View::String(s) if s.len() == 1 => s.parse().ok().and_then(EngagementType::from_code),
        _ => None,
    };
    if found.is_none() {
        problems.add(
            path,
            format!(
                "expected an engagement type 0, 1, 2, 3, 5 or 6 (peeling corner, overlay, toaster, slide-out, embedded, sticky), found {}",
                describe(json)
            ),
        );
    }
    found
}
