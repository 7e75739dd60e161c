//! An account's engagements compiled for deciding, and the decision itself.
//!
//! Built once per change of the account's campaigns (see [`super::Decisions`]), then
//! shared read-only by every decision. The layout is chosen for the decision's loop:
//!
//! - Engagements are sorted once by the order they compete in (campaign priority, then
//!   the older campaign, then the older engagement), so "the first eligible one of its
//!   zone wins" is a single pass that skips engagements whose zone is already taken.
//! - Section names are interned. Engagements that require a section are reached through
//!   a bit set per section, the others through one "always" bit set; a page view ORs the
//!   sets of its sections and visits only the bits that are set, so an engagement aimed
//!   at other sections costs nothing.
//! - URL rules and attribute conditions are interned too, and evaluated at most once per
//!   decision (memoized) however many engagements share them.
//!
//! Nothing here does I/O: the caller brings the visit's attributes and impression counts.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use engage_model::{AgentState, EngagementType, VisitSdes};
use engage_store::{AppInstallation, Campaign, Engagement};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use aho_corasick::{AhoCorasick, MatchKind};
use regex::{RegexSet, RegexSetBuilder};

use super::sde_path::SdePath;
use super::targeting::{as_number, Condition, Op, Scalar, Targeting, UrlMatch};

/// What the tag needs to render one engagement, and what its `LP_OFFERS` events carry.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    pub campaign_id: u64,
    pub engagement_id: u64,
    pub engagement_revision: u64,
    pub engagement_type: EngagementType,
    pub zone_id: Option<u64>,
    pub state: AgentState,
    pub conf_key: String,
    pub tgl_name: String,
    pub engagement_name: String,
    pub timeout_seconds: Option<u32>,
    pub content: Content,
    /// The offer's entry of the decision answer written once, around its `contextId`:
    /// the head ends with `"contextId":`, the tail starts with the `,` after it.
    json: Option<(String, String)>,
}

impl Offer {
    /// Writes the answer's JSON around the context id (see [`decision_answer`]).
    fn prepare_json(&mut self) {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Tail<'a> {
            zone_id: Option<u64>,
            state: AgentState,
            conf_key: &'a str,
            tgl_name: &'a str,
            engagement_name: &'a str,
            timeout_seconds: Option<u32>,
            content: &'a Content,
        }
        let tail = serde_json::to_string(&Tail {
            zone_id: self.zone_id,
            state: self.state,
            conf_key: &self.conf_key,
            tgl_name: &self.tgl_name,
            engagement_name: &self.engagement_name,
            timeout_seconds: self.timeout_seconds,
            content: &self.content,
        });
        self.json = match tail {
            Ok(tail) if tail.starts_with('{') => Some((
                format!(
                    r#"{{"campaignId":{},"engagementId":{},"engagementRevision":{},"engagementType":{},"contextId":"#,
                    self.campaign_id,
                    self.engagement_id,
                    self.engagement_revision,
                    self.engagement_type.code()
                ),
                format!(",{}", &tail[1..]),
            )),
            _ => None,
        };
    }
}

/// The decision route's answer, `{"engagements": [...]}`, from each offer's JSON written
/// when the snapshot was built: only the context ids are serialized per decision.
pub fn decision_answer(shown: &[Shown<'_>]) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(20 + shown.len() * 512);
    out.extend_from_slice(br#"{"engagements":["#);
    for (i, item) in shown.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match &item.offer.json {
            Some((head, tail)) => {
                out.extend_from_slice(head.as_bytes());
                serde_json::to_writer(&mut out, &item.context_id)?;
                out.extend_from_slice(tail.as_bytes());
            }
            None => serde_json::to_writer(&mut out, item)?,
        }
    }
    out.extend_from_slice(b"]}");
    Ok(out)
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    pub title: Option<String>,
    pub body: Option<String>,
    pub accept_label: Option<String>,
    pub close_label: Option<String>,
}

/// An offer shown in one engagement context: the decision route's answer item.
pub struct Shown<'a> {
    pub offer: &'a Offer,
    pub context_id: String,
}

impl Serialize for Shown<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let o = self.offer;
        let mut map = s.serialize_map(Some(12))?;
        map.serialize_entry("campaignId", &o.campaign_id)?;
        map.serialize_entry("engagementId", &o.engagement_id)?;
        map.serialize_entry("engagementRevision", &o.engagement_revision)?;
        map.serialize_entry("engagementType", &o.engagement_type)?;
        map.serialize_entry("contextId", &self.context_id)?;
        map.serialize_entry("zoneId", &o.zone_id)?;
        map.serialize_entry("state", &o.state)?;
        map.serialize_entry("confKey", &o.conf_key)?;
        map.serialize_entry("tglName", &o.tgl_name)?;
        map.serialize_entry("engagementName", &o.engagement_name)?;
        map.serialize_entry("timeoutSeconds", &o.timeout_seconds)?;
        map.serialize_entry("content", &o.content)?;
        map.end()
    }
}

/// One page view as the decision sees it.
#[derive(Debug, Clone, Copy)]
pub struct PageView<'a> {
    pub url: &'a str,
    pub sections: &'a [String],
    /// The visit's merged attributes, with what this page pushed so far.
    pub sdes: &'a VisitSdes,
    /// Impressions of this visitor per engagement id, sorted by engagement id.
    pub impressions: &'a [(u64, u64)],
}

/// An engagement's rules with every name and pattern replaced by an interned index.
#[derive(Debug, Clone)]
struct Rules {
    zone: usize,
    include_sections: Box<[u32]>,
    exclude_sections: Box<[u32]>,
    url_include: Box<[u32]>,
    url_exclude: Box<[u32]>,
    conditions: Box<[u32]>,
    max_impressions: Option<u32>,
}

/// A fixed-size bit set over the engagements.
type Bits = Vec<u64>;

fn set_bit(bits: &mut Bits, i: usize) {
    if let Some(word) = bits.get_mut(i / 64) {
        *word |= 1 << (i % 64);
    }
}

fn or_into(into: &mut Bits, more: &Bits) {
    for (word, more) in into.iter_mut().zip(more) {
        *word |= more;
    }
}

/// What the memo of one interned rule holds during a decision.
const UNKNOWN: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;

/// Every URL rule of the account, evaluated in one pass over a URL: the `contains` and
/// `prefix` patterns by one Aho-Corasick automaton, the regular expressions by one set.
#[derive(Debug, Default)]
struct UrlMatcher {
    automaton: Option<AhoCorasick>,
    /// Per automaton pattern: the rules with that text, and whether each is a prefix.
    by_pattern: Vec<Vec<(u32, bool)>>,
    regexes: Option<RegexSet>,
    regex_rules: Vec<u32>,
}

/// Largest compiled set of all an account's URL regexes; past it they are evaluated one
/// by one, only for the engagements that need them.
const REGEX_SET_SIZE_LIMIT: usize = 32 * 1024 * 1024;

impl UrlMatcher {
    fn build(rules: &[UrlMatch]) -> UrlMatcher {
        let mut patterns: Vec<&str> = Vec::new();
        let mut by_pattern: Vec<Vec<(u32, bool)>> = Vec::new();
        let mut sources = Vec::new();
        let mut regex_rules = Vec::new();
        for (id, rule) in rules.iter().enumerate() {
            let id = u32::try_from(id).unwrap_or(u32::MAX);
            let (text, prefix) = match rule {
                UrlMatch::Contains(text) => (text.as_str(), false),
                UrlMatch::Prefix(text) => (text.as_str(), true),
                UrlMatch::Regex(regex) => {
                    sources.push(regex.as_str());
                    regex_rules.push(id);
                    continue;
                }
            };
            match patterns.iter().position(|p| *p == text) {
                Some(at) => by_pattern[at].push((id, prefix)),
                None => {
                    patterns.push(text);
                    by_pattern.push(vec![(id, prefix)]);
                }
            }
        }
        let automaton = (!patterns.is_empty())
            .then(|| {
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .build(&patterns)
            })
            .and_then(|built| match built {
                Ok(automaton) => Some(automaton),
                Err(error) => {
                    tracing::warn!(%error, "URL patterns are evaluated one by one");
                    None
                }
            });
        let regexes = (!sources.is_empty())
            .then(|| {
                RegexSetBuilder::new(&sources)
                    .size_limit(REGEX_SET_SIZE_LIMIT)
                    .build()
            })
            .and_then(|built| match built {
                Ok(set) => Some(set),
                Err(error) => {
                    tracing::warn!(%error, "URL regexes are evaluated one by one");
                    None
                }
            });
        UrlMatcher {
            automaton,
            by_pattern,
            regexes,
            regex_rules,
        }
    }

    /// Writes the result of every rule it covers for `url` into `memo`; rules it does not
    /// cover stay unknown (evaluated on demand).
    fn evaluate(&self, url: &str, memo: &mut [u8]) {
        if let Some(automaton) = &self.automaton {
            for rules in &self.by_pattern {
                for (id, _) in rules {
                    if let Some(slot) = memo.get_mut(*id as usize) {
                        *slot = FALSE;
                    }
                }
            }
            for found in automaton.find_overlapping_iter(url) {
                let Some(rules) = self.by_pattern.get(found.pattern().as_usize()) else {
                    continue;
                };
                for (id, prefix) in rules {
                    if !*prefix || found.start() == 0 {
                        if let Some(slot) = memo.get_mut(*id as usize) {
                            *slot = TRUE;
                        }
                    }
                }
            }
        }
        if let Some(set) = &self.regexes {
            for id in &self.regex_rules {
                if let Some(slot) = memo.get_mut(*id as usize) {
                    *slot = FALSE;
                }
            }
            for at in set.matches(url).iter() {
                if let Some(slot) = self
                    .regex_rules
                    .get(at)
                    .and_then(|id| memo.get_mut(*id as usize))
                {
                    *slot = TRUE;
                }
            }
        }
    }
}

/// Engagements reached through a text value at an attribute path (`eq` and `in`).
#[derive(Debug)]
struct TextIndex {
    path: SdePath,
    by_value: HashMap<String, Bits>,
}

/// Engagements reached through a number at an attribute path: `above` holds the
/// `gt`/`gte` thresholds in ascending order, `below` the `lt`/`lte` ones in descending
/// order, each with whether it is inclusive.
#[derive(Debug)]
struct NumberIndex {
    path: SdePath,
    above: Vec<(f64, bool, usize)>,
    below: Vec<(f64, bool, usize)>,
}

/// Engagements reached through any value at an attribute path (`exists`).
#[derive(Debug)]
struct ExistsIndex {
    path: SdePath,
    bits: Bits,
}

/// An account's apps and eligible engagements, ready to decide from.
///
/// Every engagement is reached through one index of a condition it cannot be shown
/// without (a section it requires, an attribute value, a URL rule, ...) or else through
/// `always`; a decision ORs the entries its page view hits, then checks every rule of
/// only those candidates. The index only narrows: the full check decides.
#[derive(Debug, Default)]
pub struct AccountSnapshot {
    apps: HashSet<String>,
    offers: Vec<Offer>,
    rules: Vec<Rules>,
    words: usize,
    always: Bits,
    /// Per interned section: the engagements that require one of their sections.
    include_bits: Vec<Bits>,
    section_ids: HashMap<String, u32>,
    text_index: Vec<TextIndex>,
    number_index: Vec<NumberIndex>,
    exists_index: Vec<ExistsIndex>,
    /// Per URL rule reached through: the engagements whose URL include lists it.
    url_keys: Vec<(u32, Bits)>,
    url_rules: Vec<UrlMatch>,
    url_matcher: UrlMatcher,
    conditions: Vec<Condition>,
    zones: usize,
    has_caps: bool,
}

/// Lowercase without allocating when the name already is.
fn lowercase(name: &str) -> Cow<'_, str> {
    if name.is_ascii() && !name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(name.to_lowercase())
    }
}

/// Interns values by key, handing out dense indexes.
struct Interner<T> {
    ids: HashMap<String, u32>,
    values: Vec<T>,
}

impl<T> Interner<T> {
    fn new() -> Self {
        Interner {
            ids: HashMap::new(),
            values: Vec::new(),
        }
    }

    fn intern(&mut self, key: String, value: impl FnOnce() -> T) -> u32 {
        let next = u32::try_from(self.values.len()).unwrap_or(u32::MAX);
        *self.ids.entry(key).or_insert_with(|| {
            self.values.push(value());
            next
        })
    }
}

/// The index an engagement is reached through.
enum Key<'t> {
    Sections,
    Text(SdePath, Vec<&'t str>),
    Url,
    Number(SdePath, f64, bool, bool),
    Exists(SdePath),
    Always,
}

/// The most selective condition of `targeting` that an index can serve.
fn key(targeting: &Targeting) -> Key<'_> {
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

impl AccountSnapshot {
    /// Compiles what the store holds. Engagements of disabled or unknown campaigns, and
    /// offline ones that hide when offline, are left out; so is one whose stored
    /// targeting no longer reads (logged: it was valid when written).
    pub fn build(
        apps: Vec<AppInstallation>,
        campaigns: &[Campaign],
        engagements: Vec<Engagement>,
    ) -> AccountSnapshot {
        let campaigns: HashMap<u64, &Campaign> = campaigns
            .iter()
            .filter(|c| c.fields.enabled)
            .map(|c| (c.id, c))
            .collect();
        let mut ranked: Vec<(&Campaign, Engagement, Targeting)> = Vec::new();
        for e in engagements {
            let Some(campaign) = campaigns.get(&e.campaign_id) else {
                continue;
            };
            if e.definition.hide_when_offline && e.state == AgentState::Offline {
                continue;
            }
            match Targeting::from_stored(&e.definition.targeting) {
                Ok(t) => ranked.push((campaign, e, t)),
                Err(error) => tracing::warn!(
                    engagement = e.id,
                    %error,
                    "stored targeting does not read; the engagement is left out"
                ),
            }
        }
        ranked.sort_by_key(|(c, e, _)| (c.fields.priority, c.created_ms, c.id, e.created_ms, e.id));

        let words = ranked.len().div_ceil(64);
        let mut snapshot = AccountSnapshot {
            apps: apps.into_iter().map(|a| a.id).collect(),
            words,
            always: vec![0; words],
            ..AccountSnapshot::default()
        };
        let mut zones: HashMap<Option<u64>, usize> = HashMap::new();
        let mut sections: Interner<()> = Interner::new();
        let mut url_rules: Interner<UrlMatch> = Interner::new();
        let mut conditions: Interner<Condition> = Interner::new();
        let mut url_keys: HashMap<u32, Bits> = HashMap::new();
        for (i, (_, e, targeting)) in ranked.into_iter().enumerate() {
            let d = &e.definition;
            let zone_count = zones.len();
            let zone = *zones.entry(d.zone_id).or_insert(zone_count);
            let mut section = |name: &String| sections.intern(lowercase(name).into_owned(), || ());
            let include_sections: Box<[u32]> = targeting
                .sections
                .include
                .iter()
                .map(&mut section)
                .collect();
            let exclude_sections = targeting
                .sections
                .exclude
                .iter()
                .map(&mut section)
                .collect();
            let mut url = |rule: &UrlMatch| {
                url_rules.intern(format!("{}\0{}", rule.kind(), rule.pattern()), || {
                    rule.clone()
                })
            };
            let url_include: Box<[u32]> = targeting.url.include.iter().map(&mut url).collect();
            let url_exclude = targeting.url.exclude.iter().map(&mut url).collect();
            let conditions_of = targeting
                .sdes
                .iter()
                .map(|c| conditions.intern(c.key(), || c.clone()))
                .collect();

            match key(&targeting) {
                Key::Sections => {
                    for id in include_sections.iter() {
                        let id = *id as usize;
                        if snapshot.include_bits.len() <= id {
                            snapshot.include_bits.resize(id + 1, Vec::new());
                        }
                        if let Some(bits) = snapshot.include_bits.get_mut(id) {
                            bits.resize(words, 0);
                            set_bit(bits, i);
                        }
                    }
                }
                Key::Text(path, values) => {
                    let at = match snapshot.text_index.iter().position(|t| t.path == path) {
                        Some(at) => at,
                        None => {
                            snapshot.text_index.push(TextIndex {
                                path,
                                by_value: HashMap::new(),
                            });
                            snapshot.text_index.len() - 1
                        }
                    };
                    if let Some(index) = snapshot.text_index.get_mut(at) {
                        for value in values {
                            let bits = index
                                .by_value
                                .entry(value.to_owned())
                                .or_insert_with(|| vec![0; words]);
                            set_bit(bits, i);
                        }
                    }
                }
                Key::Url => {
                    for id in url_include.iter() {
                        set_bit(url_keys.entry(*id).or_insert_with(|| vec![0; words]), i);
                    }
                }
                Key::Number(path, threshold, above, inclusive) => {
                    let at = match snapshot.number_index.iter().position(|n| n.path == path) {
                        Some(at) => at,
                        None => {
                            snapshot.number_index.push(NumberIndex {
                                path,
                                above: Vec::new(),
                                below: Vec::new(),
                            });
                            snapshot.number_index.len() - 1
                        }
                    };
                    if let Some(index) = snapshot.number_index.get_mut(at) {
                        let list = if above {
                            &mut index.above
                        } else {
                            &mut index.below
                        };
                        list.push((threshold, inclusive, i));
                    }
                }
                Key::Exists(path) => {
                    match snapshot.exists_index.iter_mut().find(|x| x.path == path) {
                        Some(index) => set_bit(&mut index.bits, i),
                        None => {
                            let mut bits = vec![0; words];
                            set_bit(&mut bits, i);
                            snapshot.exists_index.push(ExistsIndex { path, bits });
                        }
                    }
                }
                Key::Always => set_bit(&mut snapshot.always, i),
            }

            snapshot.has_caps |= targeting.max_impressions.is_some();
            snapshot.rules.push(Rules {
                zone,
                include_sections,
                exclude_sections,
                url_include,
                url_exclude,
                conditions: conditions_of,
                max_impressions: targeting.max_impressions,
            });
            let mut offer = Offer {
                campaign_id: e.campaign_id,
                engagement_id: e.id,
                engagement_revision: e.revision,
                engagement_type: d.engagement_type,
                zone_id: d.zone_id,
                state: e.state,
                conf_key: e.conf_key().to_string(),
                tgl_name: d.tgl_name.clone(),
                engagement_name: d.name.clone(),
                timeout_seconds: d.timeout_seconds,
                content: Content {
                    title: d.content.title.clone(),
                    body: d.content.body.clone(),
                    accept_label: d.content.accept_label.clone(),
                    close_label: d.content.close_label.clone(),
                },
                json: None,
            };
            offer.prepare_json();
            snapshot.offers.push(offer);
        }
        for index in &mut snapshot.number_index {
            index.above.sort_by(|a, b| a.0.total_cmp(&b.0));
            index.below.sort_by(|a, b| b.0.total_cmp(&a.0));
        }
        let mut url_keys: Vec<(u32, Bits)> = url_keys.into_iter().collect();
        url_keys.sort_by_key(|(id, _)| *id);
        snapshot.url_keys = url_keys;
        snapshot.section_ids = sections.ids;
        snapshot.url_rules = url_rules.values;
        snapshot.url_matcher = UrlMatcher::build(&snapshot.url_rules);
        snapshot.conditions = conditions.values;
        snapshot.zones = zones.len();
        snapshot
    }

    /// Whether the account registered this Monitoring API app installation.
    pub fn has_app(&self, app_id: &str) -> bool {
        self.apps.contains(app_id)
    }

    /// How many engagements can be shown (their campaigns enabled).
    pub fn len(&self) -> usize {
        self.offers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.offers.is_empty()
    }

    /// Whether any engagement has attribute conditions (otherwise the visit's attributes
    /// need not be read).
    pub fn needs_sdes(&self) -> bool {
        !self.conditions.is_empty()
    }

    /// Whether any engagement has a frequency cap (otherwise impressions need not be counted).
    pub fn needs_impressions(&self) -> bool {
        self.has_caps
    }

    /// The engagements this page view shows: every eligible one whose zone no better
    /// ranked one took, in rank order. At most one per zone; engagements without a zone
    /// share one.
    pub fn decide(&self, page: &PageView<'_>) -> Vec<&Offer> {
        self.decide_with(page, true)
    }

    /// [`AccountSnapshot::decide`], with the index or checking every engagement (what
    /// the index must not change, see the tests).
    fn decide_with(&self, page: &PageView<'_>, use_index: bool) -> Vec<&Offer> {
        let mut chosen = Vec::new();
        if self.offers.is_empty() {
            return chosen;
        }
        let mut memo = vec![UNKNOWN; self.url_rules.len() + self.conditions.len()];
        let (url_memo, condition_memo) = memo.split_at_mut(self.url_rules.len());
        let mut page_sections: Vec<u32> = Vec::with_capacity(page.sections.len());
        for name in page.sections {
            if let Some(id) = self.section_ids.get(lowercase(name).as_ref()) {
                page_sections.push(*id);
            }
        }
        let candidates = if use_index {
            self.candidates(page, &page_sections, url_memo)
        } else {
            let mut all = vec![0; self.words];
            for i in 0..self.offers.len() {
                set_bit(&mut all, i);
            }
            all
        };

        let mut zone_taken = vec![false; self.zones];
        let mut zones_left = self.zones;
        for (w, word) in candidates.iter().enumerate() {
            let mut word = *word;
            while word != 0 {
                let i = w * 64 + word.trailing_zeros() as usize;
                word &= word - 1;
                let (Some(rules), Some(offer)) = (self.rules.get(i), self.offers.get(i)) else {
                    continue;
                };
                if zone_taken.get(rules.zone).copied().unwrap_or(true) {
                    continue;
                }
                if !self.eligible(rules, offer, page, &page_sections, url_memo, condition_memo) {
                    continue;
                }
                chosen.push(offer);
                if let Some(taken) = zone_taken.get_mut(rules.zone) {
                    *taken = true;
                }
                zones_left -= 1;
                if zones_left == 0 {
                    return chosen;
                }
            }
        }
        chosen
    }

    /// The decision with a new engagement context (`contextId`) for each engagement
    /// shown. Nothing is recorded: `START` comes from whoever shows it.
    pub fn show(&self, page: &PageView<'_>) -> Vec<Shown<'_>> {
        let chosen = self.decide(page);
        let now_ms = engage_store::ids::now_ms();
        chosen
            .into_iter()
            .map(|offer| Shown {
                offer,
                context_id: engage_store::ids::context_id_at(now_ms),
            })
            .collect()
    }

    /// The engagements whose index condition the page view meets.
    fn candidates(&self, page: &PageView<'_>, page_sections: &[u32], url_memo: &mut [u8]) -> Bits {
        let mut candidates = self.always.clone();
        for id in page_sections {
            if let Some(bits) = self.include_bits.get(*id as usize) {
                or_into(&mut candidates, bits);
            }
        }
        for index in &self.text_index {
            index.path.any(page.sdes, &mut |value| {
                if let Some(bits) = index.by_value.get(lowercase(value).as_ref()) {
                    or_into(&mut candidates, bits);
                }
                false
            });
        }
        for index in &self.number_index {
            let (mut max, mut min) = (f64::NEG_INFINITY, f64::INFINITY);
            index.path.any(page.sdes, &mut |value| {
                if let Some(x) = as_number(value) {
                    max = max.max(x);
                    min = min.min(x);
                }
                false
            });
            for (threshold, inclusive, i) in &index.above {
                if *threshold > max {
                    break;
                }
                if *threshold < max || *inclusive {
                    set_bit(&mut candidates, *i);
                }
            }
            for (threshold, inclusive, i) in &index.below {
                if *threshold < min {
                    break;
                }
                if *threshold > min || *inclusive {
                    set_bit(&mut candidates, *i);
                }
            }
        }
        for index in &self.exists_index {
            if index.path.any(page.sdes, &mut |_| true) {
                or_into(&mut candidates, &index.bits);
            }
        }
        if !self.url_keys.is_empty() {
            self.url_matcher.evaluate(page.url, url_memo);
            for (id, bits) in &self.url_keys {
                if self.url_matches(*id, page.url, url_memo) {
                    or_into(&mut candidates, bits);
                }
            }
        }
        debug_assert_eq!(candidates.len(), self.words);
        candidates
    }

    fn url_matches(&self, id: u32, url: &str, url_memo: &mut [u8]) -> bool {
        memoized(url_memo, id, || {
            self.url_rules
                .get(id as usize)
                .is_some_and(|rule| rule.matches(url))
        })
    }

    /// The rules of one engagement, cheapest first.
    fn eligible(
        &self,
        rules: &Rules,
        offer: &Offer,
        page: &PageView<'_>,
        page_sections: &[u32],
        url_memo: &mut [u8],
        condition_memo: &mut [u8],
    ) -> bool {
        if !rules.include_sections.is_empty()
            && !rules
                .include_sections
                .iter()
                .any(|id| page_sections.contains(id))
        {
            return false;
        }
        if rules
            .exclude_sections
            .iter()
            .any(|id| page_sections.contains(id))
        {
            return false;
        }
        if let Some(max) = rules.max_impressions {
            let seen = page
                .impressions
                .binary_search_by_key(&offer.engagement_id, |(id, _)| *id)
                .ok()
                .and_then(|at| page.impressions.get(at))
                .map_or(0, |(_, n)| *n);
            if seen >= u64::from(max) {
                return false;
            }
        }
        if !rules.url_include.is_empty()
            && !rules
                .url_include
                .iter()
                .any(|id| self.url_matches(*id, page.url, url_memo))
        {
            return false;
        }
        if rules
            .url_exclude
            .iter()
            .any(|id| self.url_matches(*id, page.url, url_memo))
        {
            return false;
        }
        rules.conditions.iter().all(|id| {
            memoized(condition_memo, *id, || {
                self.conditions
                    .get(*id as usize)
                    .is_some_and(|c| c.holds(page.sdes))
            })
        })
    }
}

fn memoized(memo: &mut [u8], id: u32, evaluate: impl FnOnce() -> bool) -> bool {
    let Some(slot) = memo.get_mut(id as usize) else {
        return false;
    };
    match *slot {
        TRUE => true,
        FALSE => false,
        _ => {
            let result = evaluate();
            *slot = if result { TRUE } else { FALSE };
            result
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use engage_store::{CampaignFields, EngagementContent, EngagementDefinition, RawJson};
    use serde_json::json;

    fn campaign(id: u64, priority: u32, enabled: bool) -> Campaign {
        Campaign {
            id,
            fields: CampaignFields {
                name: format!("c{id}"),
                goal: None,
                priority,
                enabled,
            },
            created_ms: 1,
            updated_ms: 1,
        }
    }

    fn engagement(
        campaign_id: u64,
        id: u64,
        zone_id: Option<u64>,
        targeting: serde_json::Value,
    ) -> Engagement {
        Engagement {
            campaign_id,
            id,
            revision: 1,
            latest_revision: 1,
            state: AgentState::Online,
            definition: EngagementDefinition {
                name: format!("e{id}"),
                engagement_type: EngagementType::Overlay,
                tgl_name: "overlay".into(),
                zone_id,
                timeout_seconds: None,
                targeting: RawJson::to_json(&targeting).unwrap(),
                content: EngagementContent::default(),
                hide_when_offline: false,
            },
            created_ms: i64::try_from(id).unwrap(),
            revised_ms: 1,
        }
    }

    fn ids(offers: &[&Offer]) -> Vec<u64> {
        offers.iter().map(|o| o.engagement_id).collect()
    }

    fn page<'a>(sections: &'a [String], sdes: &'a VisitSdes) -> PageView<'a> {
        PageView {
            url: "https://shop.example/",
            sections,
            sdes,
            impressions: &[],
        }
    }

    #[test]
    fn the_prepared_answer_is_the_serialized_answer() {
        let mut e = engagement(1, 10, Some(3), json!({}));
        e.definition.content.title = Some("Say \"hi\" \u{1F600}".into());
        e.definition.timeout_seconds = Some(30);
        let snapshot = AccountSnapshot::build(
            vec![],
            &[campaign(1, 1, true)],
            vec![e, engagement(1, 11, None, json!({}))],
        );
        let sdes = VisitSdes::default();
        let shown = snapshot.show(&page(&[], &sdes));
        assert_eq!(shown.len(), 2);
        let prepared: serde_json::Value =
            serde_json::from_slice(&decision_answer(&shown).unwrap()).unwrap();
        let serialized = json!({ "engagements": shown });
        assert_eq!(prepared, serialized);
        assert_eq!(
            prepared["engagements"][0]["content"]["title"],
            "Say \"hi\" \u{1F600}"
        );
        assert_eq!(decision_answer(&[]).unwrap(), br#"{"engagements":[]}"#);
    }

    #[test]
    fn sections_index_spans_many_words_of_engagements() {
        // 200 engagements in their own zones, a third of them per section: the candidate
        // bit sets run over four 64-bit words.
        let engagements: Vec<_> = (0..200u64)
            .map(|i| {
                engagement(
                    1,
                    1000 + i,
                    Some(i),
                    json!({"sections": {"include": [format!("S{}", i % 3)]}}),
                )
            })
            .collect();
        let snapshot = AccountSnapshot::build(vec![], &[campaign(1, 1, true)], engagements);
        assert_eq!(snapshot.len(), 200);
        let sdes = VisitSdes::default();
        let sections = vec!["s1".to_owned()];
        let expected: Vec<u64> = (0..200u64)
            .filter(|i| i % 3 == 1)
            .map(|i| 1000 + i)
            .collect();
        assert_eq!(ids(&snapshot.decide(&page(&sections, &sdes))), expected);
        assert!(snapshot.decide(&page(&[], &sdes)).is_empty());
    }

    #[test]
    fn disabled_campaigns_and_offline_hidden_engagements_are_left_out() {
        let mut hidden = engagement(1, 11, Some(2), json!({}));
        hidden.definition.hide_when_offline = true;
        hidden.state = AgentState::Offline;
        let mut busy = engagement(1, 12, Some(3), json!({}));
        busy.definition.hide_when_offline = true;
        busy.state = AgentState::Busy;
        let snapshot = AccountSnapshot::build(
            vec![],
            &[campaign(1, 1, true), campaign(2, 1, false)],
            vec![
                engagement(1, 10, Some(1), json!({})),
                hidden,
                busy,
                engagement(2, 20, Some(4), json!({})),
                engagement(3, 30, Some(5), json!({})),
            ],
        );
        let sdes = VisitSdes::default();
        assert_eq!(ids(&snapshot.decide(&page(&[], &sdes))), [10, 12]);
        assert!(!snapshot.needs_sdes() && !snapshot.needs_impressions());
    }

    #[test]
    fn the_frequency_cap_reads_the_sorted_impression_counts() {
        let snapshot = AccountSnapshot::build(
            vec![],
            &[campaign(1, 1, true), campaign(2, 2, true)],
            vec![
                engagement(1, 10, Some(1), json!({"frequency": {"maxImpressions": 2}})),
                engagement(2, 20, Some(1), json!({})),
            ],
        );
        assert!(snapshot.needs_impressions());
        let sdes = VisitSdes::default();
        let decide = |impressions: &[(u64, u64)]| {
            ids(&snapshot.decide(&PageView {
                url: "",
                sections: &[],
                sdes: &sdes,
                impressions,
            }))
        };
        assert_eq!(decide(&[]), [10]);
        assert_eq!(decide(&[(5, 9), (10, 1), (20, 7)]), [10]);
        assert_eq!(decide(&[(5, 9), (10, 2)]), [20]);
    }

    /// A small deterministic generator, so the test explores many combinations and
    /// fails the same way every time.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.next(items.len() as u64) as usize]
        }
    }

    const SECTIONS: [&str; 5] = ["shop", "Cart", "checkout", "shoes", "home"];
    const URL_PARTS: [&str; 5] = [
        "/cart",
        "/sale/",
        "https://shop.example/sale/",
        "/p/1",
        "shop",
    ];
    const TYPES: [&str; 4] = ["vip", "VIP", "gold", "élite"];
    const CATEGORIES: [&str; 4] = ["shoes", "bags", "Hats", "socks"];

    fn random_targeting(r: &mut Lcg) -> serde_json::Value {
        let mut t = serde_json::Map::new();
        if r.next(3) == 0 {
            let include: Vec<&str> = (0..r.next(3)).map(|_| r.pick(&SECTIONS)).collect();
            let exclude: Vec<&str> = (0..r.next(2)).map(|_| r.pick(&SECTIONS)).collect();
            t.insert(
                "sections".into(),
                json!({"include": include, "exclude": exclude}),
            );
        }
        if r.next(2) == 0 {
            let rule = |r: &mut Lcg| match r.next(3) {
                0 => json!({"contains": r.pick(&URL_PARTS)}),
                1 => json!({"prefix": r.pick(&URL_PARTS)}),
                _ => json!({"regex": format!("{}$", regex::escape(r.pick(&URL_PARTS)))}),
            };
            let include: Vec<_> = (0..r.next(3)).map(|_| rule(r)).collect();
            let exclude: Vec<_> = (0..r.next(2)).map(|_| rule(r)).collect();
            t.insert(
                "url".into(),
                json!({"include": include, "exclude": exclude}),
            );
        }
        let conditions: Vec<_> = (0..r.next(3))
            .map(|_| match r.next(8) {
                0 => json!({"path": "customerInfo.customerType", "op": "eq", "value": r.pick(&TYPES)}),
                1 => json!({"path": "customerInfo.customerType", "op": "in", "value": [r.pick(&TYPES), r.pick(&TYPES)]}),
                2 => {
                    let op = ["gt", "gte", "lt", "lte"][r.next(4) as usize];
                    json!({"path": "cartStatus.total", "op": op, "value": r.next(5) * 50})
                }
                3 => json!({"path": "viewedProduct.products.product.category", "op": "eq", "value": r.pick(&CATEGORIES)}),
                4 => json!({"path": "cartStatus.total", "op": "exists", "value": r.next(2) == 0}),
                5 => json!({"path": "customerInfo.customerType", "op": "ne", "value": r.pick(&TYPES)}),
                6 => json!({"path": "cartStatus.total", "op": "eq", "value": r.next(5) * 50}),
                _ => json!({"path": "viewedProduct.products.product.category", "op": "contains", "value": "s"}),
            })
            .collect();
        if !conditions.is_empty() {
            t.insert("sdes".into(), json!(conditions));
        }
        if r.next(5) == 0 {
            t.insert("frequency".into(), json!({"maxImpressions": 1 + r.next(3)}));
        }
        serde_json::Value::Object(t)
    }

    fn random_visit(r: &mut Lcg) -> VisitSdes {
        let mut sdes = VisitSdes::default();
        let mut push = |text: String| {
            let tape = engage_model::Tape::parse_str(&text).unwrap();
            sdes.record(engage_model::Sde::read_page(tape.root()).unwrap());
        };
        if r.next(2) == 0 {
            push(format!(r#"{{"type":"cart","total":{}}}"#, r.next(5) * 50));
        }
        if r.next(2) == 0 {
            push(format!(
                r#"{{"type":"ctmrinfo","info":{{"ctype":"{}"}}}}"#,
                r.pick(&TYPES)
            ));
        }
        for _ in 0..r.next(3) {
            push(format!(
                r#"{{"type":"prodView","products":[{{"product":{{"category":"{}"}}}}]}}"#,
                r.pick(&CATEGORIES)
            ));
        }
        sdes
    }

    #[test]
    fn the_url_matcher_agrees_with_each_rule() {
        let mut r = Lcg(7);
        let rules: Vec<UrlMatch> = URL_PARTS
            .iter()
            .flat_map(|p| {
                [
                    UrlMatch::Contains((*p).to_owned()),
                    UrlMatch::Prefix((*p).to_owned()),
                    UrlMatch::Regex(regex::Regex::new(&format!("{}$", regex::escape(p))).unwrap()),
                ]
            })
            .collect();
        let matcher = UrlMatcher::build(&rules);
        for _ in 0..200 {
            let url = format!(
                "https://shop.example{}{}",
                r.pick(&["/", "/sale/", "/cart", "/p/1", "/x/sale/"]),
                r.pick(&["", "shop", "/cart"])
            );
            let mut memo = vec![UNKNOWN; rules.len()];
            matcher.evaluate(&url, &mut memo);
            for (rule, result) in rules.iter().zip(&memo) {
                let expected = if rule.matches(&url) { TRUE } else { FALSE };
                assert_eq!(*result, expected, "{url} {rule:?}");
            }
        }
    }

    #[test]
    fn the_index_never_changes_the_decision() {
        let mut r = Lcg(7);
        let campaigns: Vec<Campaign> = (1..=5).map(|c| campaign(c, (c % 3) as u32, true)).collect();
        let engagements: Vec<Engagement> = (0..300)
            .map(|i| {
                let zone = (r.next(12) != 0).then(|| r.next(12));
                engagement(1 + r.next(5), 1000 + i, zone, random_targeting(&mut r))
            })
            .collect();
        let snapshot = AccountSnapshot::build(vec![], &campaigns, engagements);
        assert_eq!(snapshot.len(), 300);
        let mut shown = 0;
        for _ in 0..500 {
            let sections: Vec<String> = (0..r.next(3))
                .map(|_| r.pick(&SECTIONS).to_owned())
                .collect();
            let url = format!(
                "https://shop.example{}{}",
                r.pick(&["/", "/sale/", "/cart", "/p/1", "/x/sale/"]),
                r.pick(&["", "shop", "/cart"])
            );
            let sdes = random_visit(&mut r);
            let mut impressions: Vec<(u64, u64)> = Vec::new();
            for e in 1000..1300 {
                if r.next(4) == 0 {
                    impressions.push((e, r.next(4)));
                }
            }
            let page = PageView {
                url: &url,
                sections: &sections,
                sdes: &sdes,
                impressions: &impressions,
            };
            let indexed = ids(&snapshot.decide_with(&page, true));
            assert_eq!(
                indexed,
                ids(&snapshot.decide_with(&page, false)),
                "{url} {sections:?} {sdes:?}"
            );
            shown += indexed.len();
        }
        assert!(
            shown > 500,
            "the generated pages should show engagements, showed {shown}"
        );
    }
}
