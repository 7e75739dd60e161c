//! Every URL rule of an account evaluated in one pass over a URL: the `contains` and
//! `prefix` patterns by one Aho-Corasick automaton, the regular expressions by one
//! `RegexSet`.
//!
//! Invariants: what it writes for a rule is what the rule's own `UrlMatch::matches` says
//! (see the tests). When the automaton or the set cannot be built (too large), it covers
//! none of those rules: they stay unknown in the memo and are evaluated one by one, only
//! for the engagements that need them.

use aho_corasick::{AhoCorasick, MatchKind};
use regex::{RegexSet, RegexSetBuilder};

use super::memo::{FALSE, TRUE};
use super::targeting::UrlMatch;

/// Every URL rule of the account, evaluated in one pass over a URL: the `contains` and
/// `prefix` patterns by one Aho-Corasick automaton, the regular expressions by one set.
#[derive(Debug, Default)]
pub(super) struct UrlMatcher {
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
    pub(super) fn build(rules: &[UrlMatch]) -> UrlMatcher {
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
    pub(super) fn evaluate(&self, url: &str, memo: &mut [u8]) {
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::decision::memo::UNKNOWN;
    use crate::decision::test_support::{Lcg, URL_PARTS};

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
}
