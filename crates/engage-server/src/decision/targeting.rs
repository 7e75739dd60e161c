//! An engagement's targeting rules: which page views and visits it is shown to.
//!
//! ```json
//! {"sections":  {"include": ["shop"], "exclude": ["checkout"]},
//!  "url":       {"include": [{"contains": "/cart"}, {"prefix": "https://shop.example/sale/"},
//!                            {"regex": "/product/[0-9]+$"}],
//!               "exclude": [{"contains": "?preview"}]},
//!  "sdes":      [{"path": "cartStatus.total", "op": "gt", "value": 100},
//!                {"path": "customerInfo.customerType", "op": "eq", "value": "vip"}],
//!  "frequency": {"maxImpressions": 3}}
//! ```
//!
//! Every part is optional and all given parts must hold. An `include` list holds when any
//! of its entries does (an empty or absent one always holds), an `exclude` list when none
//! does. Sections and text values compare without regard to case. Attribute conditions
//! are read on the visit's merged attribute state (see [`super::sde_path`]).
//!
//! [`Targeting::parse`] validates once, when an engagement is written: unknown members,
//! bad regular expressions, unknown attribute paths and operators, and values that do not
//! fit their operator are errors at their JSON pointers. The parsed form evaluates without
//! allocating and its serialization ([`Targeting::to_stored`]) is what is stored: compact,
//! each object's members in name order, the form stored targeting has always had.

use engage_model::{Node, Tape, View, VisitSdes};
use engage_store::RawJson;
use regex::Regex;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::sde_path::SdePath;
use engage_model::body::{child, index, number, string, uint, Errors, ObjReader};

/// Most entries in one list of a rule.
pub const MAX_LIST: usize = 100;
/// Most attribute conditions of one engagement.
pub const MAX_CONDITIONS: usize = 50;
/// Longest section name, URL pattern or compared text.
pub const MAX_SECTION_CHARS: usize = 256;
pub const MAX_PATTERN_CHARS: usize = 2048;
/// Largest compiled regular expression (bytes of the regex crate's program).
const REGEX_SIZE_LIMIT: usize = 256 * 1024;
/// Largest compiled form of one regular expression (the bytes of its Thompson NFA, which
/// is what a decision runs when the lazy DFA gives up): bounds what one rule costs per
/// character of the text it scans.
pub const MAX_REGEX_WEIGHT: usize = 16 * 1024;
/// Largest total of [`regex_weight`] over every regular expression of an account's
/// engagements (latest revisions): the URL regexes are evaluated together on every
/// decision, so their sum, times [`MAX_SCANNED_CHARS`], bounds a decision's CPU time.
pub const MAX_ACCOUNT_REGEX_WEIGHT: usize = 128 * 1024;
/// The most characters of a URL or an attribute value that rules look at: a longer one
/// is matched on its first `MAX_SCANNED_CHARS` characters (browsers keep URLs far shorter).
pub const MAX_SCANNED_CHARS: usize = 2048;
/// Highest frequency cap.
pub const MAX_IMPRESSIONS: u64 = 10_000;

#[derive(Debug, Clone, Default)]
pub struct Targeting {
    pub sections: Lists<String>,
    pub url: Lists<UrlMatch>,
    pub sdes: Vec<Condition>,
    /// At most this many impressions per visitor.
    pub max_impressions: Option<u32>,
    /// The caps with a time window, and the pause after a decline.
    pub windows: FrequencyWindows,
}

/// Frequency caps over a time window (`frequency` `maxPerSession`, `maxPerDay`,
/// `maxPerWeek`) and `declineDays`, "not again for D days after the visitor declined".
/// Days and weeks are rolling: the last 24 hours, the last 7 days.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrequencyWindows {
    pub max_per_session: Option<u32>,
    pub max_per_day: Option<u32>,
    pub max_per_week: Option<u32>,
    pub decline_days: Option<u32>,
}

/// The longest pause after a decline.
pub const MAX_DECLINE_DAYS: u64 = 365;

impl FrequencyWindows {
    pub fn is_empty(&self) -> bool {
        *self == FrequencyWindows::default()
    }
}

/// An include list and an exclude list.
#[derive(Debug, Clone)]
pub struct Lists<T> {
    pub include: Vec<T>,
    pub exclude: Vec<T>,
}

impl<T> Default for Lists<T> {
    fn default() -> Self {
        Lists {
            include: Vec::new(),
            exclude: Vec::new(),
        }
    }
}

impl<T> Lists<T> {
    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }
}

/// One URL rule.
#[derive(Debug, Clone)]
pub enum UrlMatch {
    Contains(String),
    Prefix(String),
    Regex(Regex),
}

impl UrlMatch {
    pub fn kind(&self) -> &'static str {
        match self {
            UrlMatch::Contains(_) => "contains",
            UrlMatch::Prefix(_) => "prefix",
            UrlMatch::Regex(_) => "regex",
        }
    }

    pub fn pattern(&self) -> &str {
        match self {
            UrlMatch::Contains(s) | UrlMatch::Prefix(s) => s,
            UrlMatch::Regex(r) => r.as_str(),
        }
    }

    /// URLs compare as sent (case matters in paths); a regex may use `(?i)`.
    pub fn matches(&self, url: &str) -> bool {
        match self {
            UrlMatch::Contains(s) => url.contains(s.as_str()),
            UrlMatch::Prefix(s) => url.starts_with(s.as_str()),
            UrlMatch::Regex(r) => r.is_match(url),
        }
    }
}

impl Serialize for UrlMatch {
    /// `{"<kind>": "<pattern>"}`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry(self.kind(), self.pattern())?;
        map.end()
    }
}

/// A text to compare with, lowercased once.
#[derive(Debug, Clone)]
pub struct Needle {
    lower: String,
    ascii: bool,
}

impl Needle {
    fn new(text: &str) -> Needle {
        Needle {
            lower: text.to_lowercase(),
            ascii: text.is_ascii(),
        }
    }

    /// The text, lowercased.
    pub fn lower(&self) -> &str {
        &self.lower
    }

    fn equals(&self, value: &str) -> bool {
        if self.ascii && value.is_ascii() {
            value.eq_ignore_ascii_case(&self.lower)
        } else {
            value.to_lowercase() == self.lower
        }
    }

    fn starts(&self, value: &str) -> bool {
        if self.ascii && value.is_ascii() {
            value
                .as_bytes()
                .get(..self.lower.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(self.lower.as_bytes()))
        } else {
            value.to_lowercase().starts_with(&self.lower)
        }
    }

    fn within(&self, value: &str) -> bool {
        if self.ascii && value.is_ascii() {
            let needle = self.lower.as_bytes();
            needle.is_empty()
                || value
                    .as_bytes()
                    .windows(needle.len())
                    .any(|w| w.eq_ignore_ascii_case(needle))
        } else {
            value.to_lowercase().contains(&self.lower)
        }
    }
}

/// A value an attribute is compared with: numbers compare as numbers, the rest as text
/// without regard to case.
#[derive(Debug, Clone)]
pub enum Scalar {
    Number(f64),
    Text(Needle),
}

impl Scalar {
    fn equals(&self, value: &str) -> bool {
        match self {
            Scalar::Number(n) => as_number(value) == Some(*n),
            Scalar::Text(t) => t.equals(value),
        }
    }
}

/// An attribute value as a number, when it is one.
pub fn as_number(value: &str) -> Option<f64> {
    value.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

#[derive(Debug, Clone)]
pub enum Op {
    Eq(Scalar),
    Ne(Scalar),
    Gt(f64),
    Gte(f64),
    Lt(f64),
    Lte(f64),
    Contains(Needle),
    StartsWith(Needle),
    In(Vec<Scalar>),
    NotIn(Vec<Scalar>),
    Exists(bool),
    Matches(Regex),
}

pub const OPERATORS: [&str; 12] = [
    "eq",
    "ne",
    "gt",
    "gte",
    "lt",
    "lte",
    "contains",
    "startsWith",
    "in",
    "notIn",
    "exists",
    "matches",
];

/// One attribute condition.
#[derive(Debug, Clone)]
pub struct Condition {
    pub path: SdePath,
    pub op: Op,
    /// The operator's name and the value as given (members sorted), for its serialization.
    op_name: &'static str,
    value: RawJson,
}

impl Condition {
    /// Whether the visit's attributes satisfy the condition. The positive operators hold
    /// when any value at the path satisfies them; `ne`, `notIn` and `exists: false` when
    /// none does (so an attribute never reported satisfies them).
    pub fn holds(&self, sdes: &VisitSdes) -> bool {
        let path = self.path;
        match &self.op {
            Op::Eq(s) => path.any(sdes, &mut |v| s.equals(v)),
            Op::Ne(s) => !path.any(sdes, &mut |v| s.equals(v)),
            Op::Gt(n) => path.any(sdes, &mut |v| as_number(v).is_some_and(|x| x > *n)),
            Op::Gte(n) => path.any(sdes, &mut |v| as_number(v).is_some_and(|x| x >= *n)),
            Op::Lt(n) => path.any(sdes, &mut |v| as_number(v).is_some_and(|x| x < *n)),
            Op::Lte(n) => path.any(sdes, &mut |v| as_number(v).is_some_and(|x| x <= *n)),
            Op::Contains(t) => path.any(sdes, &mut |v| t.within(v)),
            Op::StartsWith(t) => path.any(sdes, &mut |v| t.starts(v)),
            Op::In(list) => path.any(sdes, &mut |v| list.iter().any(|s| s.equals(v))),
            Op::NotIn(list) => !path.any(sdes, &mut |v| list.iter().any(|s| s.equals(v))),
            Op::Exists(expected) => path.any(sdes, &mut |_| true) == *expected,
            Op::Matches(r) => path.any(sdes, &mut |v| r.is_match(scanned(v))),
        }
    }

    /// The canonical form's text, also the key under which equal conditions are shared.
    pub fn key(&self) -> String {
        // Names and a JSON text always serialize.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl Serialize for Condition {
    /// `{"op": ..., "path": ..., "value": ...}`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry("op", self.op_name)?;
        map.serialize_entry("path", self.path.name())?;
        map.serialize_entry("value", &self.value)?;
        map.end()
    }
}

impl<T: Serialize> Serialize for Lists<T> {
    /// `{"exclude": [...], "include": [...]}`, each only when it has entries.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        if !self.exclude.is_empty() {
            map.serialize_entry("exclude", &self.exclude)?;
        }
        if !self.include.is_empty() {
            map.serialize_entry("include", &self.include)?;
        }
        map.end()
    }
}

impl Serialize for Targeting {
    /// The canonical form: what was given, without the parts that say nothing.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        /// `{"maxImpressions": n, ...}`: the caps that were given.
        struct Frequency<'a>(&'a Targeting);
        impl Serialize for Frequency<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let t = self.0;
                let w = &t.windows;
                let mut map = s.serialize_map(None)?;
                for (name, value) in [
                    ("maxImpressions", t.max_impressions),
                    ("maxPerSession", w.max_per_session),
                    ("maxPerDay", w.max_per_day),
                    ("maxPerWeek", w.max_per_week),
                    ("declineDays", w.decline_days),
                ] {
                    if let Some(n) = value {
                        map.serialize_entry(name, &n)?;
                    }
                }
                map.end()
            }
        }
        let mut map = s.serialize_map(None)?;
        if self.max_impressions.is_some() || !self.windows.is_empty() {
            map.serialize_entry("frequency", &Frequency(self))?;
        }
        if !self.sdes.is_empty() {
            map.serialize_entry("sdes", &self.sdes)?;
        }
        if !self.sections.is_empty() {
            map.serialize_entry("sections", &self.sections)?;
        }
        if !self.url.is_empty() {
            map.serialize_entry("url", &self.url)?;
        }
        map.end()
    }
}

impl Targeting {
    /// Reads and checks a targeting object; `path` is its pointer in the request body.
    pub fn parse(json: Node<'_, '_>, path: &str, problems: &mut Errors) -> Option<Targeting> {
        let before = problems.len();
        let members = ObjReader::strict(
            json,
            path,
            &["sections", "url", "sdes", "frequency"],
            problems,
        )?;
        let mut targeting = Targeting::default();
        if let Some(sections) = members.get("sections") {
            targeting.sections = lists(sections, &child(path, "sections"), problems, |j, p, pr| {
                string(j, p, MAX_SECTION_CHARS, pr)
            });
        }
        if let Some(url) = members.get("url") {
            targeting.url = lists(url, &child(path, "url"), problems, url_match);
        }
        if let Some(sdes) = members.get("sdes") {
            let path = child(path, "sdes");
            match sdes.view() {
                View::Array(items) if items.len() > MAX_CONDITIONS => problems.at(
                    &path,
                    format!(
                        "{} conditions, at most {MAX_CONDITIONS} are allowed",
                        items.len()
                    ),
                ),
                View::Array(items) => {
                    targeting.sdes = items
                        .enumerate()
                        .filter_map(|(i, item)| condition(item, &index(&path, i), problems))
                        .collect();
                }
                _ => problems.at(&path, format!("expected an array, found {}", sdes.kind())),
            }
        }
        if let Some(frequency) = members.get("frequency") {
            let path = child(path, "frequency");
            const CAPS: [&str; 5] = [
                "maxImpressions",
                "maxPerSession",
                "maxPerDay",
                "maxPerWeek",
                "declineDays",
            ];
            if let Some(f) = ObjReader::strict(frequency, &path, &CAPS, problems) {
                let mut cap = |name: &str, max: u64| {
                    f.get(name).and_then(|n| {
                        uint(n, &child(&path, name), 1..=max, problems)
                            .and_then(|n| u32::try_from(n).ok())
                    })
                };
                targeting.max_impressions = cap("maxImpressions", MAX_IMPRESSIONS);
                targeting.windows = FrequencyWindows {
                    max_per_session: cap("maxPerSession", MAX_IMPRESSIONS),
                    max_per_day: cap("maxPerDay", MAX_IMPRESSIONS),
                    max_per_week: cap("maxPerWeek", MAX_IMPRESSIONS),
                    decline_days: cap("declineDays", MAX_DECLINE_DAYS),
                };
                if CAPS.iter().all(|name| f.get(name).is_none()) {
                    problems.at(
                        &path,
                        format!("expected at least one of {}", CAPS.join(", ")),
                    );
                }
            }
        }
        (problems.len() == before).then_some(targeting)
    }

    /// Reads a targeting object that was stored by [`Targeting::to_stored`]: its text
    /// straight onto a tape.
    pub fn from_stored(stored: &RawJson) -> Result<Targeting, String> {
        let tape = Tape::parse_str(stored.as_str()).map_err(|e| e.to_string())?;
        let mut problems = Errors::new();
        Targeting::parse(tape.root(), "", &mut problems).ok_or_else(|| {
            problems
                .into_vec()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    /// The canonical form as the store keeps it.
    pub fn to_stored(&self) -> RawJson {
        // Names, numbers and JSON texts always serialize.
        RawJson::to_json(self).unwrap_or_else(|_| RawJson::null())
    }

    /// Every regular expression of these rules with its JSON pointer (under `path`) and
    /// its [`regex_weight`], in the order they are written.
    pub fn regex_weights(&self, path: &str) -> Vec<(String, usize)> {
        let weigh =
            |source: &str| regex_weight(source, MAX_REGEX_WEIGHT).unwrap_or(MAX_REGEX_WEIGHT);
        let mut out = Vec::new();
        let url = child(path, "url");
        for (list, rules) in [
            ("include", &self.url.include),
            ("exclude", &self.url.exclude),
        ] {
            for (i, rule) in rules.iter().enumerate() {
                if let UrlMatch::Regex(regex) = rule {
                    let at = child(&index(&child(&url, list), i), "regex");
                    out.push((at, weigh(regex.as_str())));
                }
            }
        }
        for (i, condition) in self.sdes.iter().enumerate() {
            if let Op::Matches(regex) = &condition.op {
                let at = child(&index(&child(path, "sdes"), i), "value");
                out.push((at, weigh(regex.as_str())));
            }
        }
        out
    }
}

/// Checks an account's regular expressions against [`MAX_ACCOUNT_REGEX_WEIGHT`]: `others`
/// is what the account's other engagements weigh; the first of `new` (pointer, weight)
/// that takes the total over is the error, at its pointer.
pub fn check_account_regex_weight(
    others: usize,
    new: &[(String, usize)],
) -> Result<(), (String, String)> {
    let mut total = others;
    for (at, weight) in new {
        total = total.saturating_add(*weight);
        if total > MAX_ACCOUNT_REGEX_WEIGHT {
            return Err((
                at.clone(),
                format!(
                    "the account's regular expressions would take {} KiB compiled, over the \
                     limit of {} KiB for all its engagements",
                    total.div_ceil(1024),
                    MAX_ACCOUNT_REGEX_WEIGHT / 1024
                ),
            ));
        }
    }
    Ok(())
}

fn lists<T>(
    json: Node<'_, '_>,
    path: &str,
    problems: &mut Errors,
    item: impl Fn(Node<'_, '_>, &str, &mut Errors) -> Option<T>,
) -> Lists<T> {
    let mut out = Lists::default();
    let Some(members) = ObjReader::strict(json, path, &["include", "exclude"], problems) else {
        return out;
    };
    for (key, list) in [("include", &mut out.include), ("exclude", &mut out.exclude)] {
        let Some(value) = members.get(key) else {
            continue;
        };
        let path = child(path, key);
        match value.view() {
            View::Array(items) if items.len() > MAX_LIST => problems.at(
                &path,
                format!("{} entries, at most {MAX_LIST} are allowed", items.len()),
            ),
            View::Array(items) => {
                for (i, entry) in items.enumerate() {
                    if let Some(parsed) = item(entry, &index(&path, i), problems) {
                        list.push(parsed);
                    }
                }
            }
            _ => problems.at(&path, format!("expected an array, found {}", value.kind())),
        }
    }
    out
}

const URL_KINDS: &str = "`contains`, `prefix` or `regex`";

fn url_match(json: Node<'_, '_>, path: &str, problems: &mut Errors) -> Option<UrlMatch> {
    let Some(members) = json.members() else {
        problems.at(
            path,
            format!(
                "expected an object with one of {URL_KINDS}, found {}",
                json.kind()
            ),
        );
        return None;
    };
    let mut first = members;
    let (1, Some((kind, value))) = (members.len(), first.next()) else {
        problems.at(
            path,
            format!(
                "expected exactly one of {URL_KINDS}, found {} members",
                members.len()
            ),
        );
        return None;
    };
    let value_path = child(path, kind);
    match kind {
        "contains" => string_raw(value, &value_path, problems).map(UrlMatch::Contains),
        "prefix" => string_raw(value, &value_path, problems).map(UrlMatch::Prefix),
        "regex" => string_raw(value, &value_path, problems)
            .and_then(|source| compile(&source, &value_path, problems))
            .map(UrlMatch::Regex),
        other => {
            problems.at(
                &value_path,
                format!("unknown URL rule `{other}`, expected {URL_KINDS}"),
            );
            None
        }
    }
}

/// A pattern string, kept exactly as given (spaces can matter in a URL pattern).
fn string_raw(json: Node<'_, '_>, path: &str, problems: &mut Errors) -> Option<String> {
    match json.view() {
        View::String("") => {
            problems.at(path, "must not be empty");
            None
        }
        View::String(s) if s.chars().count() > MAX_PATTERN_CHARS => {
            problems.at(path, format!("longer than {MAX_PATTERN_CHARS} characters"));
            None
        }
        View::String(s) => Some(s.to_owned()),
        _ => {
            problems.at(path, format!("expected a string, found {}", json.kind()));
            None
        }
    }
}

/// The text a rule scans: its first [`MAX_SCANNED_CHARS`] characters.
pub fn scanned(text: &str) -> &str {
    match text.char_indices().nth(MAX_SCANNED_CHARS) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// What a regular expression weighs: the heap size of its Thompson NFA, built with the
/// regex crate's defaults (Unicode, UTF-8). `None` when it is over `limit` or invalid.
pub fn regex_weight(source: &str, limit: usize) -> Option<usize> {
    use regex_automata::nfa::thompson::{Config, NFA};
    NFA::compiler()
        .configure(Config::new().nfa_size_limit(Some(limit)))
        .build(source)
        .ok()
        .map(|nfa| nfa.memory_usage())
}

fn compile(source: &str, path: &str, problems: &mut Errors) -> Option<Regex> {
    match regex::RegexBuilder::new(source)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
    {
        Ok(regex) => match regex_weight(source, MAX_REGEX_WEIGHT) {
            Some(_) => Some(regex),
            None => {
                problems.at(
                    path,
                    format!(
                        "regular expression is too large: over {} KiB compiled (a long \
                         repetition such as `.{{150}}` counts once per repeat)",
                        MAX_REGEX_WEIGHT / 1024
                    ),
                );
                None
            }
        },
        Err(regex::Error::CompiledTooBig(_)) => {
            problems.at(path, "regular expression is too large");
            None
        }
        Err(e) => {
            // The parser's message spans several lines (the pattern, a caret, the error):
            // the last line says what is wrong.
            let text = e.to_string();
            let reason = text
                .lines()
                .rev()
                .find_map(|l| l.trim().strip_prefix("error: "))
                .unwrap_or(text.trim());
            problems.at(path, format!("invalid regular expression: {reason}"));
            None
        }
    }
}

fn condition(json: Node<'_, '_>, path: &str, problems: &mut Errors) -> Option<Condition> {
    let members = ObjReader::strict(json, path, &["path", "op", "value"], problems)?;
    let sde_path = match members.get("path").map(|v| (v, v.view())) {
        None => {
            problems.at(child(path, "path"), "missing");
            None
        }
        Some((_, View::String(name))) => match SdePath::parse(name) {
            Ok(p) => Some(p),
            Err(message) => {
                problems.at(child(path, "path"), message);
                None
            }
        },
        Some((other, _)) => {
            problems.at(
                child(path, "path"),
                format!("expected a string, found {}", other.kind()),
            );
            None
        }
    };
    let op_name = match members.get("op").map(|v| (v, v.view())) {
        None => {
            problems.at(child(path, "op"), "missing");
            None
        }
        Some((_, View::String(name))) => match OPERATORS.iter().find(|o| **o == name) {
            Some(op) => Some(*op),
            None => {
                problems.at(
                    child(path, "op"),
                    format!(
                        "unknown operator `{name}`, expected one of {}",
                        OPERATORS.join(", ")
                    ),
                );
                None
            }
        },
        Some((other, _)) => {
            problems.at(
                child(path, "op"),
                format!("expected a string, found {}", other.kind()),
            );
            None
        }
    };
    let op_name = op_name?;
    let value_path = child(path, "value");
    let value = members.get("value");
    let op = match (op_name, value.map(|v| (v, v.view()))) {
        ("exists", None) => Some(Op::Exists(true)),
        ("exists", Some((_, View::Bool(b)))) => Some(Op::Exists(b)),
        ("exists", Some((other, _))) => {
            problems.at(
                &value_path,
                format!("`exists` takes true or false, found {}", other.kind()),
            );
            None
        }
        (_, None) => {
            problems.at(
                &value_path,
                format!("missing, `{op_name}` compares with a value"),
            );
            None
        }
        ("eq", Some((v, _))) => scalar(v, &value_path, problems).map(Op::Eq),
        ("ne", Some((v, _))) => scalar(v, &value_path, problems).map(Op::Ne),
        ("gt" | "gte" | "lt" | "lte", Some((v, _))) => match number(v).filter(|n| n.is_finite()) {
            Some(n) => Some(match op_name {
                "gt" => Op::Gt(n),
                "gte" => Op::Gte(n),
                "lt" => Op::Lt(n),
                _ => Op::Lte(n),
            }),
            None => {
                problems.at(
                    &value_path,
                    format!("`{op_name}` compares with a number, found {}", v.kind()),
                );
                None
            }
        },
        ("contains" | "startsWith", Some((v, _))) => {
            string(v, &value_path, MAX_PATTERN_CHARS, problems).map(|s| {
                if op_name == "contains" {
                    Op::Contains(Needle::new(&s))
                } else {
                    Op::StartsWith(Needle::new(&s))
                }
            })
        }
        ("in" | "notIn", Some((_, View::Array(items))))
            if items.len() == 0 || items.len() > MAX_LIST =>
        {
            problems.at(
                &value_path,
                format!("expected 1 to {MAX_LIST} values, found {}", items.len()),
            );
            None
        }
        ("in" | "notIn", Some((_, View::Array(items)))) => {
            let before = problems.len();
            let list: Vec<Scalar> = items
                .enumerate()
                .filter_map(|(i, item)| scalar(item, &index(&value_path, i), problems))
                .collect();
            (problems.len() == before).then(|| {
                if op_name == "in" {
                    Op::In(list)
                } else {
                    Op::NotIn(list)
                }
            })
        }
        ("in" | "notIn", Some((other, _))) => {
            problems.at(
                &value_path,
                format!(
                    "`{op_name}` takes an array of values, found {}",
                    other.kind()
                ),
            );
            None
        }
        ("matches", Some((v, _))) => string_raw(v, &value_path, problems)
            .and_then(|source| compile(&source, &value_path, problems))
            .map(Op::Matches),
        (_, Some(_)) => None,
    };
    let (path, op) = (sde_path?, op?);
    // Cannot fail: a node's keys are strings and its numbers finite.
    let value = match value {
        Some(v) => RawJson::to_json(&v.sorted()),
        None => RawJson::to_json(&true),
    }
    .unwrap_or_else(|_| RawJson::null());
    Some(Condition {
        path,
        op,
        op_name,
        value,
    })
}

fn scalar(json: Node<'_, '_>, path: &str, problems: &mut Errors) -> Option<Scalar> {
    match json.view() {
        View::Number(_) => number(json).filter(|n| n.is_finite()).map(Scalar::Number),
        View::String(s) if s.chars().count() <= MAX_PATTERN_CHARS => {
            Some(Scalar::Text(Needle::new(s)))
        }
        View::String(_) => {
            problems.at(path, format!("longer than {MAX_PATTERN_CHARS} characters"));
            None
        }
        View::Bool(b) => Some(Scalar::Text(Needle::new(if b { "true" } else { "false" }))),
        _ => {
            problems.at(
                path,
                format!(
                    "expected a string, a number or a boolean, found {}",
                    json.kind()
                ),
            );
            None
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use engage_model::Sde;
    use serde_json::{json, Value};

    fn parse(text: &str) -> Result<Targeting, Vec<(String, String)>> {
        let tape = Tape::parse_str(text).unwrap();
        let mut problems = Errors::new();
        Targeting::parse(tape.root(), "/targeting", &mut problems).ok_or_else(|| {
            problems
                .into_vec()
                .into_iter()
                .map(|e| (e.path, e.message))
                .collect()
        })
    }

    fn errors_at(text: &str) -> Vec<String> {
        parse(text)
            .unwrap_err()
            .into_iter()
            .map(|(p, _)| p)
            .collect()
    }

    fn visit(page_sdes: &[&str]) -> VisitSdes {
        page_sdes.iter().fold(VisitSdes::default(), |s, text| {
            s.with(Sde::read_page(Tape::parse_str(text).unwrap().root()).unwrap())
        })
    }

    fn cond(text: &str) -> Condition {
        let t = parse(&format!(r#"{{"sdes":[{text}]}}"#)).unwrap();
        t.sdes.into_iter().next().unwrap()
    }

    impl Targeting {
        /// The canonical form as a tree, to compare.
        fn to_json(&self) -> Value {
            serde_json::to_value(self).unwrap()
        }
    }

    #[test]
    fn the_documented_example_parses_and_round_trips() {
        let text = r#"{"sections":{"include":["shop"],"exclude":["checkout"]},
            "url":{"include":[{"contains":"/cart"},{"prefix":"https://shop.example/sale/"},{"regex":"/product/[0-9]+$"}],
                   "exclude":[{"contains":"?preview"}]},
            "sdes":[{"path":"cartStatus.total","op":"gt","value":100},
                    {"path":"customerInfo.customerType","op":"eq","value":"vip"}],
            "frequency":{"maxImpressions":3}}"#;
        let t = parse(text).unwrap();
        let canonical = t.to_json();
        assert_eq!(
            canonical,
            serde_json::from_str::<Value>(text).unwrap(),
            "canonical form keeps what was given"
        );
        let stored = t.to_stored();
        assert_eq!(
            stored.as_str(),
            canonical.to_string(),
            "stored as a serde_json::Value writes it: members sorted"
        );
        let again = Targeting::from_stored(&stored).unwrap();
        assert_eq!(again.to_json(), canonical);
        assert_eq!(again.max_impressions, Some(3));
        assert_eq!(parse("{}").unwrap().to_json(), json!({}));
        assert_eq!(
            parse(r#"{"sections":{},"url":{"include":[]},"sdes":[]}"#)
                .unwrap()
                .to_json(),
            json!({})
        );
    }

    #[test]
    fn unknown_members_and_impossible_rules_are_reported_at_their_pointers() {
        assert_eq!(errors_at(r#"{"section":[]}"#), ["/targeting/section"]);
        assert_eq!(
            errors_at(r#"{"sections":{"include":["a"],"only":["b"]}}"#),
            ["/targeting/sections/only"]
        );
        assert_eq!(
            errors_at(r#"{"sections":{"include":["a", 3, ""]}}"#),
            [
                "/targeting/sections/include/1",
                "/targeting/sections/include/2"
            ]
        );
        assert_eq!(
            errors_at(r#"{"url":{"include":[{"regex":"(unclosed"}]}}"#),
            ["/targeting/url/include/0/regex"]
        );
        let (_, message) = &parse(r#"{"url":{"include":[{"regex":"(unclosed"}]}}"#).unwrap_err()[0];
        assert_eq!(message, "invalid regular expression: unclosed group");
        assert_eq!(
            errors_at(r#"{"url":{"exclude":[{"suffix":".pdf"}]}}"#),
            ["/targeting/url/exclude/0/suffix"]
        );
        assert_eq!(
            errors_at(r#"{"url":{"include":[{"contains":"a","prefix":"b"}]}}"#),
            ["/targeting/url/include/0"]
        );
        assert_eq!(
            errors_at(
                r#"{"frequency":{"maxPerSession":0,"maxPerDay":"x","declineDays":366,"perMonth":1}}"#
            ),
            [
                "/targeting/frequency/perMonth",
                "/targeting/frequency/maxPerSession",
                "/targeting/frequency/maxPerDay",
                "/targeting/frequency/declineDays"
            ]
        );
        let windows = parse(
            r#"{"frequency":{"declineDays":7,"maxPerWeek":5,"maxPerDay":2,"maxPerSession":1}}"#,
        )
        .unwrap();
        assert_eq!(
            windows.to_json(),
            json!({"frequency": {"maxPerSession": 1, "maxPerDay": 2, "maxPerWeek": 5, "declineDays": 7}})
        );
        assert_eq!(
            errors_at(r#"{"sdes":[{"path":"cart.total","op":"gt","value":1}]}"#),
            ["/targeting/sdes/0/path"]
        );
        assert_eq!(
            errors_at(r#"{"sdes":[{"path":"cartStatus.total","op":"between","value":1}]}"#),
            ["/targeting/sdes/0/op"]
        );
        assert_eq!(
            errors_at(r#"{"sdes":[{"path":"cartStatus.total","op":"gt","value":"100"}]}"#),
            ["/targeting/sdes/0/value"]
        );
        assert_eq!(
            errors_at(r#"{"sdes":[{"path":"cartStatus.total","op":"gt"}]}"#),
            ["/targeting/sdes/0/value"]
        );
        assert_eq!(
            errors_at(r#"{"sdes":[{"path":"cartStatus.total","op":"in","value":[]}]}"#),
            ["/targeting/sdes/0/value"]
        );
        assert_eq!(
            errors_at(r#"{"sdes":[{"path":"cartStatus.total","op":"in","value":[1,{}]}]}"#),
            ["/targeting/sdes/0/value/1"]
        );
        assert_eq!(
            errors_at(r#"{"sdes":[{"path":"lead.topic","op":"matches","value":"["}]}"#),
            ["/targeting/sdes/0/value"]
        );
        assert_eq!(
            errors_at(r#"{"sdes":[{"path":"lead.topic","op":"eq","value":1,"x":1}]}"#),
            ["/targeting/sdes/0/x"]
        );
        assert_eq!(
            errors_at(r#"{"frequency":{"maxImpressions":0}}"#),
            ["/targeting/frequency/maxImpressions"]
        );
        assert_eq!(errors_at(r#"{"frequency":{}}"#), ["/targeting/frequency"]);
        assert_eq!(errors_at(r#"[]"#), ["/targeting"]);
        assert_eq!(
            errors_at(r#"{"sdes":[{"path":"a","op":"b"}],"url":{"include":[{"regex":"("}]}}"#),
            [
                "/targeting/url/include/0/regex",
                "/targeting/sdes/0/path",
                "/targeting/sdes/0/op"
            ]
        );
    }

    #[test]
    fn url_rules_match_contains_prefix_and_regex() {
        let t = parse(
            r#"{"url":{"include":[{"contains":"/cart"},{"prefix":"https://shop.example/sale/"},{"regex":"/product/[0-9]+$"}]}}"#,
        )
        .unwrap();
        let any = |url: &str| t.url.include.iter().any(|r| r.matches(url));
        assert!(any("https://shop.example/cart?x=1"));
        assert!(any("https://shop.example/sale/shoes"));
        assert!(any("https://shop.example/product/42"));
        assert!(!any("https://shop.example/product/42/reviews"));
        assert!(!any(
            "https://other.example/?next=https://shop.example/sale/"
        ));
        assert!(!any("https://shop.example/CART"), "URLs compare with case");
    }

    #[test]
    fn conditions_compare_numbers_as_numbers_and_text_without_case() {
        let sdes = visit(&[
            r#"{"type":"cart","total":"150.50","products":[{"product":{"category":"Shoes"}}]}"#,
            r#"{"type":"ctmrinfo","info":{"ctype":"VIP"}}"#,
            r#"{"type":"prodView","products":[{"product":{"category":"bags"}}]}"#,
            r#"{"type":"prodView","products":[{"product":{"category":"Women Shoes"}}]}"#,
        ]);
        let holds = |text: &str| cond(text).holds(&sdes);
        assert!(holds(
            r#"{"path":"cartStatus.total","op":"gt","value":100}"#
        ));
        assert!(!holds(
            r#"{"path":"cartStatus.total","op":"gt","value":150.5}"#
        ));
        assert!(holds(
            r#"{"path":"cartStatus.total","op":"gte","value":150.5}"#
        ));
        assert!(holds(
            r#"{"path":"cartStatus.total","op":"eq","value":150.5}"#
        ));
        assert!(holds(
            r#"{"path":"cartStatus.total","op":"lt","value":1000}"#
        ));
        assert!(!holds(
            r#"{"path":"cartStatus.total","op":"lte","value":100}"#
        ));
        assert!(holds(
            r#"{"path":"customerInfo.customerType","op":"eq","value":"vip"}"#
        ));
        assert!(!holds(
            r#"{"path":"customerInfo.customerType","op":"ne","value":"Vip"}"#
        ));
        assert!(holds(
            r#"{"path":"customerInfo.customerType","op":"in","value":["gold","vip"]}"#
        ));
        assert!(holds(
            r#"{"path":"customerInfo.customerType","op":"notIn","value":["gold"]}"#
        ));
        assert!(holds(
            r#"{"path":"viewedProduct.products.product.category","op":"eq","value":"BAGS"}"#
        ));
        assert!(holds(
            r#"{"path":"viewedProduct.products.product.category","op":"contains","value":"shoes"}"#
        ));
        assert!(holds(
            r#"{"path":"viewedProduct.products.product.category","op":"startsWith","value":"women"}"#
        ));
        assert!(holds(
            r#"{"path":"viewedProduct.products.product.category","op":"matches","value":"^Women"}"#
        ));
        assert!(holds(
            r#"{"path":"cartStatus.products.product.category","op":"exists"}"#
        ));
        assert!(holds(
            r#"{"path":"purchase.total","op":"exists","value":false}"#
        ));
        assert!(!holds(r#"{"path":"purchase.total","op":"gt","value":0}"#));
        assert!(holds(r#"{"path":"purchase.total","op":"ne","value":5}"#));
    }

    #[test]
    fn needles_handle_non_ascii_text() {
        let sdes = visit(&[r#"{"type":"ctmrinfo","info":{"ctype":"ÉLITE"}}"#]);
        assert!(
            cond(r#"{"path":"customerInfo.customerType","op":"eq","value":"élite"}"#).holds(&sdes)
        );
        assert!(
            cond(r#"{"path":"customerInfo.customerType","op":"contains","value":"lit"}"#)
                .holds(&sdes)
        );
        assert!(
            cond(r#"{"path":"customerInfo.customerType","op":"startsWith","value":"él"}"#)
                .holds(&sdes)
        );
    }
}
