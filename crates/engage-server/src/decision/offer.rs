//! What a decision answers: the [`Offer`] of each engagement (what the tag needs to render
//! it, what its `LP_OFFERS` events carry), the [`Shown`] items of an answer, and
//! [`decision_answer`], the decision route's JSON.
//!
//! Invariant: an offer's entry of the answer is written once, when the snapshot is built,
//! around its `contextId`, so a decision serializes only the context ids. That prepared
//! JSON is the same as serializing [`Shown`] (see the tests); an offer without it is
//! serialized whole.

use engage_model::{AgentState, EngagementType};
use engage_store::RawJson;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

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
    /// The engagement's action as stored (request/action.rs), for the tag's action
    /// renderers; left out of the answer when there is none.
    pub action: Option<RawJson>,
    /// The offer's entry of the decision answer written once, around its `contextId`:
    /// the head ends with `"contextId":`, the tail starts with the `,` after it.
    pub(super) json: Option<(String, String)>,
}

impl Offer {
    /// Writes the answer's JSON around the context id (see [`decision_answer`]).
    pub(super) fn prepare_json(&mut self) {
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
            #[serde(skip_serializing_if = "Option::is_none")]
            action: Option<&'a RawJson>,
        }
        let tail = serde_json::to_string(&Tail {
            zone_id: self.zone_id,
            state: self.state,
            conf_key: &self.conf_key,
            tgl_name: &self.tgl_name,
            engagement_name: &self.engagement_name,
            timeout_seconds: self.timeout_seconds,
            content: &self.content,
            action: self.action.as_ref(),
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
        let mut map = s.serialize_map(Some(13))?;
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
        if let Some(action) = &o.action {
            map.serialize_entry("action", action)?;
        }
        map.end()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::decision::snapshot::AccountSnapshot;
    use crate::decision::test_support::{campaign, engagement, page};
    use engage_model::VisitSdes;
    use serde_json::json;

    #[test]
    fn the_prepared_answer_is_the_serialized_answer() {
        let mut e = engagement(1, 10, Some(3), json!({}));
        e.definition.content.title = Some("Say \"hi\" \u{1F600}".into());
        e.definition.timeout_seconds = Some(30);
        e.definition.action = Some(RawJson::to_json(&json!({"type": "chat"})).unwrap());
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
        assert_eq!(
            prepared["engagements"][0]["action"],
            json!({"type": "chat"})
        );
        assert!(prepared["engagements"][1].get("action").is_none());
        assert_eq!(decision_answer(&[]).unwrap(), br#"{"engagements":[]}"#);
    }
}
