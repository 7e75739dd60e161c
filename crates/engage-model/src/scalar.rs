//! Attribute values: alphanumeric text, the three-state field (absent, null, set), the
//! value sets and calendar dates (docs/vocabulary.md, Values and limits).

use std::fmt::{self, Write as _};

use compact_str::CompactString;

use crate::error::{Errors, Token};
use crate::read::ObjReader;
use crate::tape::Number;
use crate::tape::{Node, View};
use crate::write::{key, JsonOut, Key, WriteJson};

/// The longest attribute value accepted, in characters (docs/vocabulary.md, Values and
/// limits).
pub const MAX_VALUE_CHARS: usize = 50_000;

/// An alphanumeric attribute value in its canonical text form (numbers in their shortest
/// exact form, booleans as `true`/`false`). Always at most [`MAX_VALUE_CHARS`] characters.
///
/// Most attribute values (currencies, prices, SKUs, ids, names) are short: up to 24 bytes
/// are kept inline, which spares an allocation per value.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Text(CompactString);

impl Text {
    /// Checks the length limit.
    pub fn new(value: impl Into<String>) -> Result<Text, String> {
        let value = value.into();
        check_length(&value)?;
        Ok(Text(CompactString::from(value)))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn into_string(self) -> String {
        self.0.into_string()
    }

    /// A number's text, written in place when it fits.
    fn from_number(n: Number) -> Text {
        let mut text = CompactString::default();
        match n {
            Number::Unsigned(n) => text.push_str(itoa::Buffer::new().format(n)),
            Number::Signed(n) => text.push_str(itoa::Buffer::new().format(n)),
            // serde_json's shortest round-trip form, which `Number`'s `Display` also writes.
            Number::Float(x) if x.is_finite() => {
                text.push_str(zmij::Buffer::new().format_finite(x));
            }
            // Writing to a `CompactString` does not fail.
            Number::Float(_) => {
                let _ = write!(text, "{n}");
            }
        }
        Text(text)
    }

    /// Reads a string or a number (booleans only when `allow_bool`).
    pub(crate) fn parse(json: Node<'_, '_>, errors: &mut Errors, allow_bool: bool) -> Option<Text> {
        let text = match json.view() {
            View::String(s) => {
                if let Err(message) = check_length(s) {
                    errors.here(message);
                    return None;
                }
                Text(CompactString::new(s))
            }
            View::Number(n) => match json.number_text() {
                Some(raw) if is_canonical_number(n, raw) => Text(CompactString::new(raw)),
                _ => Text::from_number(n),
            },
            View::Bool(b) if allow_bool => {
                Text(CompactString::const_new(if b { "true" } else { "false" }))
            }
            _ => {
                let expected = if allow_bool {
                    "a string, a number or a boolean"
                } else {
                    "a string or a number"
                };
                errors.here(format!("expected {expected}, found {}", json.kind()));
                return None;
            }
        };
        Some(text)
    }
}

/// Whether a number's input text is already its canonical text (what
/// [`Text::from_number`] writes), so that it can be copied instead of formatted.
///
/// - An integer: always. JSON integers have no `+` and no leading zeros, and `-0`, the one
///   integer written differently (`-0.0`), is read as a float.
/// - A float: when written as a plain decimal (digits, a point, digits, no exponent)
///   ending in a non-zero digit, with at most 15 significant digits, between 1e-5 and
///   1e16. A double holds every decimal of up to 15 significant digits distinctly, so its
///   shortest round-trip form has exactly those digits, and in that range it is written
///   without an exponent.
fn is_canonical_number(n: Number, raw: &str) -> bool {
    let Number::Float(x) = n else {
        return true;
    };
    let digits = raw.strip_prefix('-').unwrap_or(raw).as_bytes();
    let plain = digits.iter().all(|&b| b.is_ascii_digit() || b == b'.')
        && digits.contains(&b'.')
        && digits.last().is_some_and(|&b| b != b'0' && b != b'.');
    let significant = digits
        .iter()
        .filter(|&&b| b != b'.')
        .skip_while(|&&b| b == b'0')
        .count();
    plain && significant <= 15 && (1e-5..1e16).contains(&x.abs())
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Text").field(&self.as_str()).finish()
    }
}

pub(crate) fn check_length(value: &str) -> Result<(), String> {
    // A string of at most N bytes has at most N characters: count only when it matters.
    if value.len() > MAX_VALUE_CHARS {
        let chars = value.chars().count();
        if chars > MAX_VALUE_CHARS {
            return Err(format!(
                "value is {chars} characters long, at most {MAX_VALUE_CHARS} are allowed"
            ));
        }
    }
    Ok(())
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl WriteJson for Text {
    fn write_json(&self, out: &mut JsonOut<'_>) {
        out.string(self.as_str());
    }
}

/// A field of an attribute: left out, explicitly `null`, or set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Field<T> {
    #[default]
    Absent,
    Null,
    Set(T),
}

impl<T> Field<T> {
    pub fn is_absent(&self) -> bool {
        matches!(self, Field::Absent)
    }

    pub fn as_set(&self) -> Option<&T> {
        match self {
            Field::Set(v) => Some(v),
            _ => None,
        }
    }

    /// The later report wins unless it left the field out (the merge of
    /// docs/vocabulary.md, Visit rule).
    pub fn merge(&mut self, later: Field<T>) {
        if !later.is_absent() {
            *self = later;
        }
    }

    /// Reads an optional, nullable member: `null` is kept as null, anything else goes
    /// through `parse`. Problems leave the field absent; they are in `errors`.
    #[inline(always)]
    pub(crate) fn read<'j, 'a>(
        reader: &mut ObjReader<'j, 'a>,
        keys: &[&'static str],
        errors: &mut Errors,
        parse: impl FnOnce(Node<'j, 'a>, &mut Errors) -> Option<T>,
    ) -> Field<T> {
        let parse = |json: Node<'j, 'a>, e: &mut Errors| {
            if json.is_null() {
                Some(Field::Null)
            } else {
                parse(json, e).map(Field::Set)
            }
        };
        let read = match keys {
            [key] => reader.field(key, errors, parse),
            keys => reader.field_any(keys, errors, parse),
        };
        read.unwrap_or_default()
    }
}

impl<T> Field<T> {
    /// The field as a member named `key` of the object `out` is writing: left out when
    /// absent, `null` when null.
    #[inline(always)]
    pub(crate) fn write_member(&self, key: Key, out: &mut JsonOut<'_>)
    where
        T: WriteJson,
    {
        match self {
            Field::Absent => {}
            Field::Null => {
                out.key(key);
                out.0.push_str("null");
            }
            Field::Set(value) => out.member(key, value),
        }
    }
}

impl Field<Text> {
    /// An alphanumeric member (string or number).
    #[inline(always)]
    pub(crate) fn text(
        reader: &mut ObjReader<'_, '_>,
        key: &'static str,
        errors: &mut Errors,
    ) -> Self {
        Field::read(reader, &[key], errors, |j, e| Text::parse(j, e, false))
    }

    /// An alphanumeric member that also takes a boolean (`resolved`, `statusInStock`, ...).
    #[inline(always)]
    pub(crate) fn flag(
        reader: &mut ObjReader<'_, '_>,
        key: &'static str,
        errors: &mut Errors,
    ) -> Self {
        Field::read(reader, &[key], errors, |j, e| Text::parse(j, e, true))
    }

    /// An alphanumeric member with several accepted spellings (`currency`/`Currency`).
    #[inline(always)]
    pub(crate) fn text_any(
        reader: &mut ObjReader<'_, '_>,
        keys: &[&'static str],
        errors: &mut Errors,
    ) -> Self {
        Field::read(reader, keys, errors, |j, e| Text::parse(j, e, false))
    }

    pub fn text_value(&self) -> Option<&str> {
        self.as_set().map(Text::as_str)
    }
}

/// Reads a non-negative integer given as a JSON number or a string of digits.
pub(crate) fn parse_uint(json: Node<'_, '_>, errors: &mut Errors) -> Option<u64> {
    let parsed = match json.view() {
        View::Number(n) => n.as_u64(),
        View::String(s)
            if !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()) =>
        {
            s.parse().ok()
        }
        _ => None,
    };
    if parsed.is_none() {
        errors.here(format!(
            "expected a non-negative integer (a number or a string of digits), found {}",
            describe(json)
        ));
    }
    parsed
}

/// A value for error messages: short scalars shown as they are, the rest by kind.
pub fn describe(json: Node<'_, '_>) -> String {
    match json.view() {
        View::String(s) if s.chars().count() <= 40 => format!("\"{s}\""),
        View::Number(n) => n.to_string(),
        View::Bool(b) => b.to_string(),
        _ => json.kind().to_owned(),
    }
}

/// The marketing channel a visitor came from (`originatingChannel`, page `channel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Direct = 0,
    Search = 1,
    Social = 2,
    Email = 3,
    Referral = 4,
    PaidSearch = 5,
    Display = 6,
}

impl Channel {
    pub const ALL: [Channel; 7] = [
        Channel::Direct,
        Channel::Search,
        Channel::Social,
        Channel::Email,
        Channel::Referral,
        Channel::PaidSearch,
        Channel::Display,
    ];

    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u64) -> Option<Channel> {
        Channel::ALL
            .into_iter()
            .find(|c| u64::from(c.code()) == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            Channel::Direct => "Direct",
            Channel::Search => "Search",
            Channel::Social => "Social",
            Channel::Email => "Email",
            Channel::Referral => "Referral",
            Channel::PaidSearch => "Paid Search",
            Channel::Display => "Display",
        }
    }

    pub(crate) fn parse(json: Node<'_, '_>, errors: &mut Errors) -> Option<Channel> {
        let channel = parse_code(json).and_then(Channel::from_code);
        if channel.is_none() {
            errors.here(format!(
                "expected a channel code 0-6 (0 Direct, 1 Search, 2 Social, 3 Email, 4 Referral, 5 Paid Search, 6 Display), found {}",
                describe(json)
            ));
        }
        channel
    }
}

impl WriteJson for Channel {
    fn write_json(&self, out: &mut JsonOut<'_>) {
        out.digits(self.code().into());
    }
}

/// The status of a service activity: 0 Complete ... 13 Resolved (docs/vocabulary.md,
/// Values and limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ServiceStatus(u8);

impl ServiceStatus {
    pub const LABELS: [&'static str; 14] = [
        "Complete",
        "In Progress",
        "Approved",
        "cancelled",
        "Not Approved",
        "Reviewed",
        "Missing Details",
        "Closed",
        "Removed",
        "Assigned",
        "Waiting for Customer Response",
        "Waiting for Response",
        "Pending",
        "Resolved",
    ];

    pub fn from_code(code: u64) -> Option<ServiceStatus> {
        u8::try_from(code)
            .ok()
            .filter(|c| usize::from(*c) < Self::LABELS.len())
            .map(ServiceStatus)
    }

    pub fn code(self) -> u8 {
        self.0
    }

    pub fn label(self) -> &'static str {
        Self::LABELS[usize::from(self.0)]
    }

    pub(crate) fn parse(json: Node<'_, '_>, errors: &mut Errors) -> Option<ServiceStatus> {
        let status = parse_code(json).and_then(ServiceStatus::from_code);
        if status.is_none() {
            errors.here(format!(
                "expected a service status code 0-13 (0 Complete, 1 In Progress, ... 13 Resolved), found {}",
                describe(json)
            ));
        }
        status
    }
}

impl WriteJson for ServiceStatus {
    fn write_json(&self, out: &mut JsonOut<'_>) {
        out.digits(self.0.into());
    }
}

/// A small code given as a number or a string of digits.
fn parse_code(json: Node<'_, '_>) -> Option<u64> {
    match json.view() {
        View::Number(n) => n.as_u64(),
        View::String(s)
            if !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit()) =>
        {
            s.parse().ok()
        }
        _ => None,
    }
}

/// A real calendar date (`lastPaymentDate`, `registrationDate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

impl Date {
    /// `None` unless the day exists in that month of that year (1..=9999).
    pub fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        ((1..=9999).contains(&year)
            && (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month))
        .then_some(Date { year, month, day })
    }

    /// Reads `{year, month, day}` (numbers or digit strings).
    pub(crate) fn parse(json: Node<'_, '_>, errors: &mut Errors) -> Option<Date> {
        let mut reader = ObjReader::new(json, errors)?;
        // In the order the documentation writes a date, the order a lookup expects.
        let day = reader.field("day", errors, parse_uint);
        let month = reader.field("month", errors, parse_uint);
        let year = reader.field("year", errors, parse_uint);
        reader.finish(errors, "`year`, `month` or `day`");
        for (name, value) in [("year", year), ("month", month), ("day", day)] {
            if value.is_none() && json.get(name).is_none() {
                errors.nested(Token::Key(name), |e| {
                    e.here("missing, a date needs `year`, `month` and `day`")
                });
            }
        }
        let (year, month, day) = (year?, month?, day?);
        let date = match (u16::try_from(year), u8::try_from(month), u8::try_from(day)) {
            (Ok(y), Ok(m), Ok(d)) => Date::new(y, m, d),
            _ => None,
        };
        if date.is_none() {
            errors.here(format!("{year}-{month:02}-{day:02} is not a calendar date"));
        }
        date
    }
}

pub(crate) fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

impl WriteJson for Date {
    /// History shape: every scalar a string, `{year, month, day}`.
    fn write_json(&self, out: &mut JsonOut<'_>) {
        out.object(|o| {
            o.key(key!("year"));
            o.digits(self.year.into());
            o.key(key!("month"));
            o.digits(self.month.into());
            o.key(key!("day"));
            o.digits(self.day.into());
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::Json;
    use crate::tape::Tape;

    fn date(input: &str) -> Result<Date, crate::Invalid> {
        let tape = Tape::parse_str(input).unwrap();
        let mut errors = Errors::new();
        let date = Date::parse(tape.root(), &mut errors);
        errors.finish(date)
    }

    #[test]
    fn dates_must_exist_in_the_calendar() {
        assert_eq!(
            date(r#"{"year":2014,"month":10,"day":15}"#).unwrap(),
            Date {
                year: 2014,
                month: 10,
                day: 15
            }
        );
        assert_eq!(
            date(r#"{"year":"2024","month":"2","day":"29"}"#)
                .unwrap()
                .day,
            29
        );
        let err = date(r#"{"year":2023,"month":2,"day":29}"#).unwrap_err();
        assert_eq!(err.errors[0].message, "2023-02-29 is not a calendar date");
        assert!(date(r#"{"year":1900,"month":2,"day":29}"#).is_err());
        assert!(date(r#"{"year":2000,"month":2,"day":29}"#).is_ok());
        assert!(date(r#"{"year":2013,"month":13,"day":1}"#).is_err());
        assert!(date(r#"{"year":2013,"month":4,"day":31}"#).is_err());
        assert!(date(r#"{"year":2013,"month":4,"day":0}"#).is_err());
        let err = date(r#"{"year":2013,"day":"x"}"#).unwrap_err();
        let paths: Vec<_> = err.errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["/day", "/month"]);
    }

    #[test]
    fn text_takes_strings_and_numbers_and_enforces_the_length_limit() {
        let mut errors = Errors::new();
        assert_eq!(
            Text::parse(Tape::parse_str("7.8").unwrap().root(), &mut errors, false)
                .unwrap()
                .as_str(),
            "7.8"
        );
        assert_eq!(
            Text::parse(
                Tape::parse_str("\"USD\"").unwrap().root(),
                &mut errors,
                false
            )
            .unwrap()
            .as_str(),
            "USD"
        );
        assert!(errors.finish(Some(())).is_ok());
        let mut errors = Errors::new();
        let yes = Tape::parse_str("true").unwrap();
        assert!(Text::parse(yes.root(), &mut errors, false).is_none());
        assert_eq!(
            Text::parse(yes.root(), &mut errors, true).unwrap().as_str(),
            "true"
        );
        let at_limit = "é".repeat(MAX_VALUE_CHARS);
        assert!(
            Text::new(at_limit.clone()).is_ok(),
            "50,000 two-byte characters are allowed"
        );
        let over = format!("{at_limit}x");
        assert_eq!(
            Text::new(over).unwrap_err(),
            "value is 50001 characters long, at most 50000 are allowed"
        );
    }

    #[test]
    fn texts_compare_by_content_whether_inline_or_not() {
        let mut errors = Errors::new();
        for value in [
            "",
            "USD",
            "exactly twenty-two b.",
            "twenty-three bytes long",
            "é€😀",
        ] {
            let json = Json::String(value.into());
            let text = Text::parse(Tape::from_json(&json).root(), &mut errors, false).unwrap();
            assert_eq!(text.as_str(), value);
            assert_eq!(text, Text::new(value).unwrap());
            assert_eq!(text.clone().into_string(), value);
            assert_eq!(format!("{text:?}"), format!("Text({value:?})"));
        }
        for (number, expected) in [
            (
                Number::Float(-2.2250738585072014e-308),
                "-2.2250738585072014e-308",
            ),
            (Number::Unsigned(u64::MAX), "18446744073709551615"),
            (Number::Signed(i64::MIN), "-9223372036854775808"),
            (Number::Float(77.8), "77.8"),
        ] {
            let json = Json::Number(number);
            let text = Text::parse(Tape::from_json(&json).root(), &mut errors, false).unwrap();
            assert_eq!(text.as_str(), expected);
        }
        assert!(Text::new("a").unwrap() < Text::new("b".repeat(40)).unwrap());
        assert!(errors.finish(Some(())).is_ok());
    }

    proptest::proptest! {
        /// A number's text is its input text only when that is exactly what formatting
        /// the number gives: integers, and short plain decimals in the plain range.
        #[test]
        fn a_numbers_text_is_the_same_whether_copied_or_formatted(
            (text, _) in crate::tape::parse::number_text(18, 17, -20..20),
        ) {
            let tape = Tape::parse_str(&text).unwrap();
            let View::Number(n) = tape.root().view() else {
                panic!("{text} is a number")
            };
            let mut errors = Errors::new();
            let copied_or_formatted = Text::parse(tape.root(), &mut errors, false).unwrap();
            proptest::prop_assert_eq!(copied_or_formatted, Text::from_number(n), "{}", text);
        }
    }

    #[test]
    fn short_decimals_and_integers_are_copied_and_the_rest_formatted() {
        for (input, text) in [
            ("77.8", "77.8"),
            ("-400.99", "-400.99"),
            ("0.00001", "0.00001"),
            ("0.000001", "1e-6"),
            ("77.80", "77.8"),
            ("1.0", "1.0"),
            ("1e2", "100.0"),
            ("-0", "-0.0"),
            ("18446744073709551615", "18446744073709551615"),
            ("-9223372036854775808", "-9223372036854775808"),
            ("1234567890123456.7", "1234567890123456.8"),
            ("9999999999999999.5", "1e+16"),
        ] {
            let tape = Tape::parse_str(input).unwrap();
            let mut errors = Errors::new();
            assert_eq!(
                Text::parse(tape.root(), &mut errors, false)
                    .unwrap()
                    .as_str(),
                text,
                "{input}"
            );
        }
    }

    #[test]
    fn members_are_separated_and_absent_fields_left_out() {
        let mut text = String::new();
        JsonOut(&mut text).object(|o| {
            Field::<u8>::Absent.write_member(key!("absent"), o);
            Field::<u8>::Null.write_member(key!("null"), o);
            Field::Set(7u8).write_member(key!("set"), o);
            o.member(key!("list"), &vec![1u8, 2]);
            o.key(key!("empty"));
            o.object(|_| {});
            o.member(key!("last"), &0u8);
        });
        assert_eq!(
            text,
            r#"{"null":null,"set":"7","list":["1","2"],"empty":{},"last":"0"}"#
        );
    }

    impl WriteJson for u8 {
        fn write_json(&self, out: &mut JsonOut<'_>) {
            out.digits(u64::from(*self));
        }
    }

    #[test]
    fn value_sets_match_the_spec() {
        assert_eq!(Channel::from_code(5).unwrap().label(), "Paid Search");
        assert!(Channel::from_code(7).is_none());
        assert_eq!(ServiceStatus::from_code(13).unwrap().label(), "Resolved");
        assert_eq!(
            ServiceStatus::from_code(10).unwrap().label(),
            "Waiting for Customer Response"
        );
        assert!(ServiceStatus::from_code(14).is_none());
    }
}
