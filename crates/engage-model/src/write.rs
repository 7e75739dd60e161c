//! Compact JSON text written straight into a `String`: the history shape of every
//! attribute the collect endpoint stores.
//!
//! Written by hand rather than through serde because it is on every request's path:
//! member names are this crate's own literals and go out as they are, and values, which
//! almost never hold a character JSON escapes, are checked once and copied whole. The
//! text is exactly what serde_json's compact writer produces for the same value.
//!
//! Nothing here knows the vocabulary: each value type writes itself ([`WriteJson`]), and a
//! field's absent, null or set state is written by `Field::write_member` beside `Field`,
//! so that `scalar` uses this module and not the other way round.

use crate::tape::parse::find_special;

/// A member name as it is written, quotes and colon included: made by [`key!`], so that
/// writing one is a single copy.
#[derive(Clone, Copy)]
pub(crate) struct Key(pub(crate) &'static str);

/// The [`Key`] for a member name literal (or a macro giving one): `key!("name")` is
/// `"name":`.
macro_rules! key {
    ($name:expr) => {
        $crate::write::Key(concat!("\"", $name, "\":"))
    };
}
pub(crate) use key;

/// A value that writes itself as JSON.
pub(crate) trait WriteJson {
    fn write_json(&self, out: &mut JsonOut<'_>);
}

/// The text being written.
pub(crate) struct JsonOut<'s>(pub(crate) &'s mut String);

impl JsonOut<'_> {
    /// `{ ... }` with the members `members` writes.
    pub(crate) fn object(&mut self, members: impl FnOnce(&mut Self)) {
        self.0.push('{');
        members(self);
        self.0.push('}');
    }

    /// A member's name, after a comma unless it is the object's first. Inlined, so that
    /// copying the name is a copy of a constant.
    #[inline(always)]
    pub(crate) fn key(&mut self, key: Key) {
        if !self.0.ends_with('{') {
            self.0.push(',');
        }
        self.0.push_str(key.0);
    }

    /// A member's name known only at run time. `name` is a literal of this crate: plain
    /// ASCII that needs no escaping.
    pub(crate) fn name(&mut self, name: &'static str) {
        if !self.0.ends_with('{') {
            self.0.push(',');
        }
        self.0.push('"');
        self.0.push_str(name);
        self.0.push_str("\":");
    }

    /// A member holding `value`.
    #[inline(always)]
    pub(crate) fn member<T: WriteJson + ?Sized>(&mut self, key: Key, value: &T) {
        self.key(key);
        value.write_json(self);
    }

    /// A JSON string.
    pub(crate) fn string(&mut self, s: &str) {
        // The bytes JSON escapes are the ones that end a string for the parser.
        let plain = find_special(s.as_bytes(), 0) == s.len();
        self.0.push('"');
        if plain {
            self.0.push_str(s);
        } else {
            escape_into(self.0, s);
        }
        self.0.push('"');
    }

    /// A non-negative integer as a JSON string of its decimal digits (history output
    /// gives every scalar as a string).
    pub(crate) fn digits(&mut self, n: u64) {
        self.0.push('"');
        self.0.push_str(itoa::Buffer::new().format(n));
        self.0.push('"');
    }
}

/// serde_json's escapes: the short forms where JSON has them, `\u00XX` for the other
/// control characters, everything else as it is.
#[cold]
fn escape_into(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => {
                let b = u32::from(c) as usize;
                out.push_str("\\u00");
                out.push(char::from(HEX[b >> 4]));
                out.push(char::from(HEX[b & 0xf]));
            }
            c => out.push(c),
        }
    }
}

impl<T: WriteJson> WriteJson for [T] {
    fn write_json(&self, out: &mut JsonOut<'_>) {
        out.0.push('[');
        for (i, item) in self.iter().enumerate() {
            if i > 0 {
                out.0.push(',');
            }
            item.write_json(out);
        }
        out.0.push(']');
    }
}

impl<T: WriteJson + ?Sized> WriteJson for Box<T> {
    fn write_json(&self, out: &mut JsonOut<'_>) {
        (**self).write_json(out);
    }
}

impl<T: WriteJson> WriteJson for Vec<T> {
    fn write_json(&self, out: &mut JsonOut<'_>) {
        self.as_slice().write_json(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(s: &str) -> String {
        let mut text = String::new();
        JsonOut(&mut text).string(s);
        text
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        for s in [
            "",
            "plain text, ascii",
            "quote \" backslash \\ slash /",
            "controls \u{0}\u{1}\u{8}\u{9}\u{a}\u{b}\u{c}\u{d}\u{1f} del \u{7f}",
            "é€😀 \u{2028}",
        ] {
            assert_eq!(string(s), serde_json::to_string(s).unwrap(), "{s:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_string_is_written_as_serde_json_writes_it(s in ".*", raw in proptest::collection::vec(0u8..0x80, 0..40)) {
            proptest::prop_assert_eq!(string(&s), serde_json::to_string(&s).unwrap());
            let ascii = String::from_utf8(raw).unwrap();
            proptest::prop_assert_eq!(string(&ascii), serde_json::to_string(&ascii).unwrap());
        }
    }

    #[test]
    fn digits_are_quoted_decimals() {
        for n in [0, 7, 10, 1_440_412_721_832, u64::MAX] {
            let mut text = String::new();
            JsonOut(&mut text).digits(n);
            assert_eq!(text, format!("\"{n}\""));
        }
    }
}
