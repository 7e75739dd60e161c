//! The one toolkit for reading a JSON body: every validator of this crate and every
//! request body of the server read their input with it.
//!
//! - [`Errors`] collects every problem found, each at a JSON pointer; [`Errors::finish`]
//!   turns it into the value or an [`Invalid`](crate::Invalid).
//! - [`ObjReader`] reads one object. Made with [`ObjReader::new`], it marks the members
//!   taken and [`ObjReader::finish`] reports the rest as unknown or repeated (the
//!   vocabulary's validators, tuned for speed). Made with [`ObjReader::strict`], it checks
//!   every member against a list up front and members are looked up with
//!   [`ObjReader::get`] (request bodies, which name their members once).
//! - [`array()`] reads every item of an array; the functions below read the scalars
//!   request bodies share.
//!
//! Problems are reported where they are: [`Errors::here`] for the value being read,
//! [`Errors::nested`] for a child, or [`Errors::at`] with a pointer below the value the
//! collector was handed (built with [`child`] and [`index`]).

use std::ops::RangeInclusive;

use crate::event::EngagementType;
use crate::tape::Number;
use crate::tape::{Node, View};

pub use crate::error::{push_pointer_token, Errors, Token};
pub use crate::read::{array, ObjReader};
pub use crate::scalar::describe;

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

impl<'t, 'a> ObjReader<'t, 'a> {
    /// A required string member of 1 to `max_chars` characters (surrounding space
    /// trimmed), of a strict reader whose object is at `path`.
    pub fn required_string(
        &self,
        path: &str,
        key: &str,
        max_chars: usize,
        errors: &mut Errors,
    ) -> Option<String> {
        match self.get(key) {
            None => {
                errors.at(child(path, key), "missing");
                None
            }
            Some(v) => string(v, &child(path, key), max_chars, errors),
        }
    }

    /// An optional string member of 1 to `max_chars` characters.
    pub fn optional_string(
        &self,
        path: &str,
        key: &str,
        max_chars: usize,
        errors: &mut Errors,
    ) -> Option<String> {
        self.get(key)
            .and_then(|v| string(v, &child(path, key), max_chars, errors))
    }

    /// An optional whole number member in `range`, given as a number or a string of digits.
    pub fn optional_uint(
        &self,
        path: &str,
        key: &str,
        range: RangeInclusive<u64>,
        errors: &mut Errors,
    ) -> Option<u64> {
        self.get(key)
            .and_then(|v| uint(v, &child(path, key), range, errors))
    }

    /// An optional `true` or `false` member.
    pub fn optional_bool(&self, path: &str, key: &str, errors: &mut Errors) -> Option<bool> {
        match self.get(key).map(|v| (v, v.view())) {
            None => None,
            Some((_, View::Bool(b))) => Some(b),
            Some((other, _)) => {
                errors.at(
                    child(path, key),
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
    errors: &mut Errors,
) -> Option<String> {
    let Some(s) = json.as_str() else {
        errors.at(path, format!("expected a string, found {}", json.kind()));
        return None;
    };
    let trimmed = s.trim();
    if trimmed.is_empty() {
        errors.at(path, "must not be empty");
        return None;
    }
    // As sent: surrounding spaces count, as they do in the OpenAPI description's maxLength.
    let chars = s.chars().count();
    if chars > max_chars {
        errors.at(
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
    range: RangeInclusive<u64>,
    errors: &mut Errors,
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
            errors.at(
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

/// An `engagementType` (a number, or a one-digit string): one of the six formats.
pub fn engagement_type(
    json: Node<'_, '_>,
    path: &str,
    errors: &mut Errors,
) -> Option<EngagementType> {
    let found = match json.view() {
        View::Number(n) => n.as_u64().and_then(EngagementType::from_code),
        View::String(s) if s.len() == 1 => s.parse().ok().and_then(EngagementType::from_code),
        _ => None,
    };
    if found.is_none() {
        errors.at(
            path,
            format!(
                "expected an engagement type 0, 1, 2, 3, 5 or 6 (peeling corner, overlay, toaster, slide-out, embedded, sticky), found {}",
                describe(json)
            ),
        );
    }
    found
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::tape::Tape;

    fn read(text: &str, known: &[&str]) -> (Option<Vec<String>>, Vec<(String, String)>) {
        let tape = Tape::parse_str(text).unwrap();
        let mut errors = Errors::new();
        let names = ObjReader::strict(tape.root(), "/body", known, &mut errors).map(|r| {
            known
                .iter()
                .filter_map(|k| r.optional_string("/body", k, 10, &mut errors))
                .collect()
        });
        let found = errors
            .into_vec()
            .into_iter()
            .map(|e| (e.path, e.message))
            .collect();
        (names, found)
    }

    #[test]
    fn a_strings_length_counts_its_surrounding_spaces_and_the_value_is_trimmed() {
        let (names, errors) = read(r#"{"a": "  twelve chars"}"#, &["a"]);
        assert_eq!(names, Some(vec![]));
        assert_eq!(
            errors,
            [(
                "/body/a".to_owned(),
                "is 14 characters long, at most 10 are allowed".to_owned()
            )]
        );
        let (names, errors) = read(r#"{"a": " ten char "}"#, &["a"]);
        assert_eq!((names, errors), (Some(vec!["ten char".to_owned()]), vec![]));
    }

    #[test]
    fn strict_readers_report_unknown_and_repeated_members_first_in_input_order() {
        let (names, errors) = read(
            r#"{"b": 1, "a": "x", "c": null, "a": "y", "d/e": "z"}"#,
            &["a", "b"],
        );
        assert_eq!(names.unwrap(), ["x"]);
        let expected = [
            ("/body/c", "unknown field `c`, expected `a`, `b`"),
            ("/body/a", "duplicate member `a`"),
            ("/body/d~1e", "unknown field `d/e`, expected `a`, `b`"),
            ("/body/b", "expected a string, found a number"),
        ];
        let expected: Vec<_> = expected
            .iter()
            .map(|(p, m)| ((*p).to_owned(), (*m).to_owned()))
            .collect();
        assert_eq!(errors, expected);
    }

    #[test]
    fn strict_readers_take_null_as_absent() {
        let (names, errors) = read(r#"{"a": null, "b": " y "}"#, &["a", "b"]);
        assert_eq!(names.unwrap(), ["y"]);
        assert!(errors.is_empty());
        let (names, errors) = read("[]", &["a"]);
        assert!(names.is_none());
        assert_eq!(
            errors,
            [(
                "/body".to_owned(),
                "expected an object, found an array".to_owned()
            )]
        );
    }

    #[test]
    fn whole_numbers_come_as_numbers_or_digits_within_their_range() {
        let tape = Tape::parse_str(r#"[7, "12", "x", 99, -1]"#).unwrap();
        let mut errors = Errors::new();
        let read: Vec<_> = tape
            .root()
            .items()
            .unwrap()
            .enumerate()
            .map(|(i, v)| uint(v, &index("", i), 1..=20, &mut errors))
            .collect();
        assert_eq!(read, [Some(7), Some(12), None, None, None]);
        let paths: Vec<_> = errors.into_vec().into_iter().map(|e| e.path).collect();
        assert_eq!(paths, ["/2", "/3", "/4"]);
    }
}
