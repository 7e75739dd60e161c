//! The JSON text parser behind [`Tape::parse`]: RFC 8259, the same
//! documents serde_json accepts (and the same numbers: integers as `u64`/`i64`, `-0` and
//! everything else as `f64`), nesting limited to 128 levels like serde_json's.
//!
//! Why not serde_json's parser: with its `float_roundtrip` feature it reads floats
//! exactly too, so rounding is no reason; speed is. Writing tokens straight onto a
//! [`Tape`] takes about a fifth of the time serde_json takes to build a `Value` of our
//! batches, and feeding the validators from sonic-rs (faster at parsing alone) or
//! simd-json costs 1.7 to 2 times our time end to end (docs/benchmarks.md, "Our parser
//! against sonic-rs and simd-json"). UTF-8 is validated once for the whole input, and
//! syntax errors are worded as serde_json words them.

use serde::de::Error as _;

use super::{pos, Number, Tape, Tok};

/// serde_json's limit, so that inputs are accepted or refused exactly as before.
const MAX_DEPTH: usize = 128;

type Result<T> = std::result::Result<T, serde_json::Error>;

/// Parses one JSON document from bytes, which must be UTF-8.
pub(crate) fn parse_bytes(input: &[u8]) -> Result<Tape<'_>> {
    match std::str::from_utf8(input) {
        Ok(text) => parse_str(text),
        Err(e) => {
            // Inside a string this is what serde_json says; outside one, a non-ASCII byte
            // is not JSON anyway.
            let valid = &input[..e.valid_up_to()];
            Err(error_at(valid, valid.len(), "invalid unicode code point"))
        }
    }
}

/// Parses one JSON document from text. Trailing non-whitespace is an error.
pub(crate) fn parse_str(input: &str) -> Result<Tape<'_>> {
    if u32::try_from(input.len()).is_err() {
        return Err(serde_json::Error::custom(
            "document too large: at most 4 GiB of JSON text is read",
        ));
    }
    let mut parser = Parser::new(input);
    parser.value(MAX_DEPTH)?;
    parser.skip_whitespace();
    if parser.pos < parser.bytes.len() {
        return Err(parser.error("trailing characters"));
    }
    Ok(parser.tape)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    tape: Tape<'a>,
}

/// An error with serde_json's `at line L column C` suffix: the offending byte's line and
/// 1-based column, or the last byte's at the end of the input.
#[cold]
#[inline(never)]
fn error_at(bytes: &[u8], pos: usize, message: &str) -> serde_json::Error {
    let at_end = pos >= bytes.len();
    let before = &bytes[..pos.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = before.len() - line_start + usize::from(!at_end);
    serde_json::Error::custom(format_args!("{message} at line {line} column {column}"))
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            // About one token per eight bytes of a typical document.
            tape: Tape {
                toks: Vec::with_capacity(text.len() / 8 + 1),
                escaped: Vec::new(),
                text,
            },
        }
    }

    #[cold]
    fn error(&self, message: &str) -> serde_json::Error {
        self.error_at(self.pos, message)
    }

    fn error_at(&self, pos: usize, message: &str) -> serde_json::Error {
        error_at(self.bytes, pos, message)
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn push(&mut self, tok: Tok<'a>) {
        self.tape.toks.push(tok);
    }

    fn value(&mut self, depth: usize) -> Result<()> {
        self.skip_whitespace();
        match self.peek() {
            None => Err(self.error("EOF while parsing a value")),
            Some(b'{') => {
                let depth = self.descend(depth)?;
                self.object(depth)
            }
            Some(b'[') => {
                let depth = self.descend(depth)?;
                self.array(depth)
            }
            Some(b'"') => {
                self.pos += 1;
                let tok = self.string()?;
                self.push(tok);
                Ok(())
            }
            Some(b't') => self.literal(b"true", Tok::Bool(true)),
            Some(b'f') => self.literal(b"false", Tok::Bool(false)),
            Some(b'n') => self.literal(b"null", Tok::Null),
            Some(b'-' | b'0'..=b'9') => {
                let start = self.pos;
                let number = self.number()?;
                self.push(Tok::number(number, pos(start), pos(self.pos - start)));
                Ok(())
            }
            Some(_) => Err(self.error("expected value")),
        }
    }

    fn descend(&mut self, depth: usize) -> Result<usize> {
        self.pos += 1;
        match depth.checked_sub(1) {
            Some(depth) if depth > 0 => Ok(depth),
            _ => Err(self.error("recursion limit exceeded")),
        }
    }

    fn literal(&mut self, word: &[u8], tok: Tok<'a>) -> Result<()> {
        for &expected in word {
            match self.peek() {
                Some(b) if b == expected => self.pos += 1,
                Some(_) => return Err(self.error("expected ident")),
                None => return Err(self.error("EOF while parsing a value")),
            }
        }
        self.push(tok);
        Ok(())
    }

    /// An object: its token first, filled in with its size and end when it closes.
    fn object(&mut self, depth: usize) -> Result<()> {
        let at = self.tape.toks.len();
        self.push(Tok::Null);
        let mut len = 0;
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.tape.toks[at] = Tok::Object {
                len,
                end: pos(at + 1),
            };
            return Ok(());
        }
        loop {
            self.skip_whitespace();
            match self.peek() {
                Some(b'"') => self.pos += 1,
                Some(b'}') if len > 0 => return Err(self.error("trailing comma")),
                Some(_) => return Err(self.error("key must be a string")),
                None => return Err(self.error("EOF while parsing an object")),
            }
            let key_at = self.tape.toks.len();
            let key = match self.string()? {
                Tok::Escaped(index) => Tok::EscapedKey { next: 0, index },
                Tok::Str(text) => Tok::Key { next: 0, text },
                other => other,
            };
            self.push(key);
            self.skip_whitespace();
            match self.peek() {
                Some(b':') => self.pos += 1,
                Some(_) => return Err(self.error("expected `:`")),
                None => return Err(self.error("EOF while parsing an object")),
            }
            self.value(depth)?;
            self.tape.link_key(key_at);
            len += 1;
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    let end = pos(self.tape.toks.len());
                    self.tape.toks[at] = Tok::Object { len, end };
                    return Ok(());
                }
                Some(_) => return Err(self.error("expected `,` or `}`")),
                None => return Err(self.error("EOF while parsing an object")),
            }
        }
    }

    /// An array, like [`Parser::object`].
    fn array(&mut self, depth: usize) -> Result<()> {
        let at = self.tape.toks.len();
        self.push(Tok::Null);
        let mut len = 0;
        self.skip_whitespace();
        match self.peek() {
            Some(b']') => {
                self.pos += 1;
                self.tape.toks[at] = Tok::Array {
                    len,
                    end: pos(at + 1),
                };
                return Ok(());
            }
            None => return Err(self.error("EOF while parsing a list")),
            Some(_) => {}
        }
        loop {
            self.value(depth)?;
            len += 1;
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_whitespace();
                    if self.peek() == Some(b']') {
                        return Err(self.error("trailing comma"));
                    }
                }
                Some(b']') => {
                    self.pos += 1;
                    let end = pos(self.tape.toks.len());
                    self.tape.toks[at] = Tok::Array { len, end };
                    return Ok(());
                }
                Some(_) => return Err(self.error("expected `,` or `]`")),
                None => return Err(self.error("EOF while parsing a list")),
            }
        }
    }

    /// The rest of a string whose opening quote was consumed: borrowed from the input
    /// unless it has escapes.
    #[inline(always)]
    fn string(&mut self) -> Result<Tok<'a>> {
        let start = self.pos;
        let end = self.scan_plain();
        match self.bytes.get(end) {
            Some(b'"') => {
                self.pos = end + 1;
                // `start` follows a quote and `end` is a quote: both are char boundaries.
                Ok(Tok::Str(&self.text[start..end]))
            }
            _ => {
                self.pos = end;
                let mut out = String::with_capacity(end - start + 16);
                out.push_str(&self.text[start..end]);
                let decoded = self.string_with_escapes(out)?;
                self.tape.escaped.push(decoded);
                Ok(Tok::Escaped(pos(self.tape.escaped.len() - 1)))
            }
        }
    }

    /// The position of the first `"`, `\` or control character from `self.pos`.
    fn scan_plain(&self) -> usize {
        find_special(self.bytes, self.pos)
    }

    fn string_with_escapes(&mut self, mut out: String) -> Result<String> {
        loop {
            match self.peek() {
                None => return Err(self.error("EOF while parsing a string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    self.escape(&mut out)?;
                }
                Some(b) if b < 0x20 => {
                    self.pos += 1;
                    return Err(self.error(
                        "control character (\\u0000-\\u001F) found while parsing a string",
                    ));
                }
                Some(_) => {
                    let start = self.pos;
                    let end = self.scan_plain();
                    out.push_str(&self.text[start..end]);
                    self.pos = end;
                }
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> Result<()> {
        let Some(b) = self.peek() else {
            return Err(self.error("EOF while parsing a string"));
        };
        self.pos += 1;
        let c = match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => self.unicode_escape()?,
            _ => return Err(self.error_at(self.pos - 1, "invalid escape")),
        };
        out.push(c);
        Ok(())
    }

    /// `\uXXXX` (after the `u`), with a surrogate pair's second half when needed.
    fn unicode_escape(&mut self) -> Result<char> {
        let first = self.hex4()?;
        let code = match first {
            0xDC00..=0xDFFF => return Err(self.error("lone leading surrogate in hex escape")),
            0xD800..=0xDBFF => {
                if self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
                    return Err(self.error("unexpected end of hex escape"));
                }
                self.pos += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(self.error("lone leading surrogate in hex escape"));
                }
                0x10000 + ((u32::from(first) - 0xD800) << 10) + (u32::from(second) - 0xDC00)
            }
            other => u32::from(other),
        };
        char::from_u32(code).ok_or_else(|| self.error("invalid unicode code point"))
    }

    fn hex4(&mut self) -> Result<u16> {
        let mut value = 0u16;
        for _ in 0..4 {
            let digit = match self.peek() {
                Some(b @ b'0'..=b'9') => b - b'0',
                Some(b @ b'a'..=b'f') => b - b'a' + 10,
                Some(b @ b'A'..=b'F') => b - b'A' + 10,
                Some(_) => return Err(self.error("invalid escape")),
                None => return Err(self.error("EOF while parsing a string")),
            };
            self.pos += 1;
            value = value * 16 + u16::from(digit);
        }
        Ok(value)
    }

    /// Skips the digits at the current position, adding them to `mantissa` (wrapping:
    /// `count` says how many there were, so the caller knows when it overflowed).
    fn digits(&mut self, mantissa: &mut u64, count: &mut usize) -> usize {
        let start = self.pos;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            *mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
            self.pos += 1;
        }
        *count += self.pos - start;
        self.pos - start
    }

    fn number(&mut self) -> Result<Number> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let int_start = self.pos;
        // Every digit, integer and fraction part, as one integer: exact up to 19 digits.
        let (mut mantissa, mut count) = (0u64, 0usize);
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                count = 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(self.error("invalid number"));
                }
            }
            Some(b'1'..=b'9') => {
                self.digits(&mut mantissa, &mut count);
            }
            Some(_) => return Err(self.error("invalid number")),
            None => return Err(self.error("EOF while parsing a value")),
        }
        let int_end = self.pos;
        let mut integral = true;
        let mut fraction_digits = 0;
        if self.peek() == Some(b'.') {
            integral = false;
            self.pos += 1;
            fraction_digits = self.digits(&mut mantissa, &mut count);
            if fraction_digits == 0 {
                return Err(match self.peek() {
                    None => self.error("EOF while parsing a value"),
                    Some(_) => self.error("invalid number"),
                });
            }
        }
        let mut exponent = 0i64;
        if let Some(b'e' | b'E') = self.peek() {
            integral = false;
            self.pos += 1;
            let sign = match self.peek() {
                Some(b'-') => -1,
                _ => 1,
            };
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            let exponent_start = self.pos;
            while let Some(d @ b'0'..=b'9') = self.peek() {
                exponent = (exponent * 10 + i64::from(d - b'0')).min(1_000_000);
                self.pos += 1;
            }
            if self.pos == exponent_start {
                return Err(match self.peek() {
                    None => self.error("EOF while parsing a value"),
                    Some(_) => self.error("invalid number"),
                });
            }
            exponent *= sign;
        }
        if integral {
            let magnitude = if count <= 19 {
                Some(mantissa)
            } else {
                parse_u64(&self.bytes[int_start..int_end])
            };
            if let Some(magnitude) = magnitude {
                match (negative, magnitude) {
                    (false, n) => return Ok(Number::Unsigned(n)),
                    // serde_json reads `-0` as the float -0.0.
                    (true, 0) => return Ok(Number::Float(-0.0)),
                    (true, n) if n <= i64::MAX as u64 + 1 => {
                        return Ok(Number::Signed((n as i64).wrapping_neg()))
                    }
                    (true, _) => {}
                }
            }
        }
        let scale = exponent - fraction_digits as i64;
        if count <= 19 && mantissa <= 1 << 53 && scale.unsigned_abs() < POWERS_OF_TEN.len() as u64 {
            // Both operands are exact, so the one rounding of IEEE multiplication or
            // division gives the correctly rounded result (Clinger's fast path).
            let power = POWERS_OF_TEN[scale.unsigned_abs() as usize];
            let magnitude = if scale < 0 {
                mantissa as f64 / power
            } else {
                mantissa as f64 * power
            };
            return Ok(Number::Float(if negative { -magnitude } else { magnitude }));
        }
        // The grammar checked above is a subset of what `f64::from_str` takes, and its
        // result is correctly rounded.
        match self.text[start..self.pos].parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Number::Float(f)),
            _ => Err(self.error("number out of range")),
        }
    }
}

/// The powers of ten a double holds exactly.
const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The position of the first `"`, `\` or control character (below 0x20) in `bytes` from
/// `from` on, or the length: where a JSON string ends or needs escaping. Eight bytes at a
/// time, since strings are most of a document.
pub(crate) fn find_special(bytes: &[u8], from: usize) -> usize {
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let found = special_bytes(u64::from_le_bytes(word));
        if found != 0 {
            // The lowest flag is exact (borrows only spill upwards, from a flagged byte):
            // it is the first special byte of the chunk.
            return i + (found.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            return i;
        }
        i += 1;
    }
    i
}

/// Eight bytes (little-endian) → the high bit of each byte that is below 0x20, `"` or `\`
/// set; bytes above the first such one may be flagged too.
fn special_bytes(v: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    // `b < 0x20` per byte is `(b - 0x20) & !b & 0x80`, exact for bytes without the high
    // bit and false for bytes with it.
    (v.wrapping_sub(ONES * 0x20) & !v & HIGHS)
        | has_zero(v ^ (ONES * u64::from(b'"')))
        | has_zero(v ^ (ONES * u64::from(b'\\')))
}

/// Decimal digits to `u64`, `None` on overflow.
fn parse_u64(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// JSON number text for property tests, and whether it is an integer: an optional minus,
/// an integer part of up to `int_digits` digits, an optional fraction of up to
/// `fraction_digits` and an optional exponent from `exponents`.
#[cfg(test)]
pub(crate) fn number_text(
    int_digits: usize,
    fraction_digits: usize,
    exponents: std::ops::Range<i32>,
) -> impl proptest::strategy::Strategy<Value = (String, bool)> {
    use proptest::prelude::*;
    (
        any::<bool>(),
        proptest::string::string_regex(&format!("0|[1-9][0-9]{{0,{}}}", int_digits - 1))
            .unwrap_or_else(|e| panic!("{e}")),
        proptest::option::of(
            proptest::string::string_regex(&format!("[0-9]{{1,{fraction_digits}}}"))
                .unwrap_or_else(|e| panic!("{e}")),
        ),
        proptest::option::of(exponents),
    )
        .prop_map(|(negative, int, fraction, exponent)| {
            let mut text = format!("{}{int}", if negative { "-" } else { "" });
            if let Some(fraction) = &fraction {
                text.push('.');
                text.push_str(fraction);
            }
            if let Some(exponent) = exponent {
                text.push_str(&format!("e{exponent}"));
            }
            (text, fraction.is_none() && exponent.is_none())
        })
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::json::Json;

    fn parse_str(text: &str) -> Result<Json<'_>> {
        super::parse_str(text).map(Tape::into_json)
    }

    fn parse_bytes(bytes: &[u8]) -> Result<Json<'_>> {
        super::parse_bytes(bytes).map(Tape::into_json)
    }

    fn num(text: &str) -> Number {
        match parse_str(text).unwrap() {
            Json::Number(n) => n,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn numbers_are_typed_like_serde_json_and_floats_are_exact() {
        assert_eq!(num("0"), Number::Unsigned(0));
        assert_eq!(num("18446744073709551615"), Number::Unsigned(u64::MAX));
        assert_eq!(
            num("18446744073709551616"),
            Number::Float(1.8446744073709552e19)
        );
        assert_eq!(num("-9223372036854775808"), Number::Signed(i64::MIN));
        assert_eq!(
            num("-9223372036854775809"),
            Number::Float(-9.223372036854776e18)
        );
        assert!(matches!(num("-0"), Number::Float(f) if f == 0.0 && f.is_sign_negative()));
        assert_eq!(num("1E+2"), Number::Float(100.0));
        assert_eq!(num("1e-400"), Number::Float(0.0));
        assert_eq!(
            num("2.896156590074676e-8"),
            Number::Float(2.896156590074676e-8)
        );
        assert_eq!(
            num("2.896156590074676e-8").to_string(),
            "2.896156590074676e-8"
        );
        for bad in [
            "01", "1.", ".5", "1e", "-", "+1", "1e400", "-1e400", "0x10", "1.e3",
        ] {
            assert!(parse_str(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        /// The fast path for short decimals gives the correctly rounded double, exactly as
        /// the standard library's parser does, sign of zero included.
        #[test]
        fn decimals_parse_to_the_same_double_as_the_standard_library(
            (text, integral) in number_text(20, 20, -330..330),
        ) {
            let expected = text.parse::<f64>().unwrap();
            match parse_str(&text) {
                Ok(Json::Number(Number::Float(f))) => {
                    proptest::prop_assert_eq!(f.to_bits(), expected.to_bits(), "{}", text)
                }
                Ok(Json::Number(n @ (Number::Unsigned(_) | Number::Signed(_)))) => {
                    proptest::prop_assert!(integral);
                    proptest::prop_assert_eq!(n.to_string(), text)
                }
                Ok(other) => proptest::prop_assert!(false, "{text} parsed as {other:?}"),
                Err(e) => proptest::prop_assert!(!expected.is_finite(), "{text}: {e}"),
            }
        }
    }

    #[test]
    fn strings_borrow_unless_escaped_and_escapes_are_decoded() {
        let Json::String(Cow::Borrowed(s)) = parse_str(r#""plain é text""#).unwrap() else {
            panic!("a plain string is borrowed")
        };
        assert_eq!(s, "plain é text");
        let Json::String(Cow::Owned(s)) =
            parse_str(r#""a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00 long enough to scan""#).unwrap()
        else {
            panic!("an escaped string is owned")
        };
        assert_eq!(s, "a\"b\\c/d\u{8}\u{c}\n\r\té😀 long enough to scan");
        for bad in [
            r#""\ud800""#,
            r#""\udc00""#,
            r#""\ud800\u0041""#,
            "\"a\u{1}\"",
            r#""\x""#,
            r#""\u12"#,
            "\"abc",
            "\"0123456789abcdef\u{1f}\"",
        ] {
            assert!(parse_str(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn structure_errors_match_serde_json() {
        for bad in [
            "",
            "  ",
            "[",
            "{",
            "[1,]",
            "{\"a\":1,}",
            "{1:2}",
            "{\"a\" 1}",
            "nulll",
            "[1 2]",
            "\n\n  x",
            "tru",
            "trux",
            "\"abc",
            "01",
            "1.",
            "1e",
            "-",
            "1e400",
            "{\"a\":}",
            "[1,,2]",
            "\"\\x\"",
            "{\"a\":1 \"b\":2}",
            "\u{feff}1",
        ] {
            let ours = parse_str(bad).unwrap_err().to_string();
            let theirs = serde_json::from_str::<serde_json::Value>(bad)
                .unwrap_err()
                .to_string();
            assert_eq!(ours, theirs, "{bad:?}");
        }
        assert!(parse_bytes(b"\"\xff\"").is_err());
        assert!(parse_bytes(b"\xff").is_err());
        assert!(parse_str(&"[".repeat(127))
            .unwrap_err()
            .to_string()
            .contains("EOF"));
        assert!(parse_str(&"[".repeat(128))
            .unwrap_err()
            .to_string()
            .contains("recursion limit"));
        let nested = format!("{}{}", "[".repeat(127), "]".repeat(127));
        assert!(parse_str(&nested).is_ok());
    }
}
