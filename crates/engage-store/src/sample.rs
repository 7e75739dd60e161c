//! Sample inputs for the conformance suite and the ingest benchmark: one valid event and
//! one valid attribute of each of the ten types, parsed from their wire form.

use std::sync::atomic::{AtomicU64, Ordering};

use engage_model::{OfferEvent, Sde, SdeType, Tape};

use crate::{NewEvent, NewSde, PageView, VisitContext};

/// Page-shape attributes, one per type, in [`SdeType::ALL`] order.
const PAGE_SDES: [&str; 10] = [
    r#"{"type":"cart","total":"11.7","currency":"USD","numItems":"3","products":[{"product":{"name":"prod1","category":"category","sku":"sku","price":"7.8"},"quantity":"1"}]}"#,
    r#"{"type":"purchase","total":"11.7","currency":"USD","orderId":"DRV1534XC","cart":{"products":[{"product":{"name":"prod1","category":"category","sku":"sku","price":"7.8"},"quantity":"1"}]}}"#,
    r#"{"type":"prodView","currency":"USD","products":[{"product":{"name":"red high heel shoe","category":"women shoes","sku":"xyz567","price":"77.8"}}]}"#,
    r#"{"type":"ctmrinfo","info":{"cstatus":"cancelled","ctype":"vip","balance":"-400.99","customerId":"138766AC","socialId":"11256324780","imei":"3543546543545688","userName":"user000","companySize":"500","accountName":"bank corp","role":"broker","lastPaymentDate":{"day":15,"month":10,"year":2014},"registrationDate":{"day":23,"month":5,"year":2013}}}"#,
    r#"{"type":"mrktInfo","info":{"channel":"1","affiliate":"Yahoo","campaignId":"US-VIP"}}"#,
    r#"{"type":"personal","personal":{"firstname":"John","lastname":"Doe","age":{"age":34,"year":1980,"month":4,"day":15},"contacts":[{"email":"john@example.com","phone":"+1 212-788-8877"}],"gender":"MALE","company":"company","language":"en-US"}}"#,
    r#"{"type":"lead","lead":{"topic":"luxury car test drive 2015","value":"22.22","currency":"USD","leadId":"xyz123"}}"#,
    r#"{"type":"service","service":{"topic":"order checkbook","status":"0","category":"finance","serviceId":"service12"}}"#,
    r#"{"type":"error","error":{"contextId":"error-ctx","message":"Expiration date missing","code":"er100004","level":"10","resolved":false}}"#,
    r#"{"type":"searchInfo","keywords":["summer","shoes"]}"#,
];

/// A page-shape attribute of `sde_type` (parsed from the table above).
pub(crate) fn page_sde_text(sde_type: SdeType) -> &'static str {
    let i = SdeType::ALL
        .iter()
        .position(|t| *t == sde_type)
        .unwrap_or(0);
    PAGE_SDES[i]
}

/// Parses a page-shape attribute the suite or the benchmark wrote itself.
#[allow(clippy::expect_used)]
pub(crate) fn page_sde(text: &str) -> Sde {
    let tape = Tape::parse_str(text).expect("sample attributes are JSON (tested in sample::tests)");
    Sde::read_page(tape.root()).expect("sample attributes are valid (tested in sample::tests)")
}

/// One attribute of `sde_type`.
pub(crate) fn sde(sde_type: SdeType) -> Sde {
    page_sde(page_sde_text(sde_type))
}

/// An `LP_OFFERS` event, in its wire form.
pub(crate) fn event_text(event_name: &str, context_id: &str, page_context_id: &str) -> String {
    engagement_event_text(event_name, context_id, page_context_id, (1234, 5678, 5))
}

/// An `LP_OFFERS` event of the engagement `(campaignId, engagementId, engagementType)`
/// at revision 3, in its wire form.
pub(crate) fn engagement_event_text(
    event_name: &str,
    context_id: &str,
    page_context_id: &str,
    (campaign, engagement, engagement_type): (u64, u64, u8),
) -> String {
    let app = engage_model::OfferEventName::from_name(event_name).map_or(
        engage_model::LP_OFFERS,
        engage_model::OfferEventName::app_name,
    );
    format!(
        r#"{{"appName":"{app}","eventName":"{event_name}","data":{{"contexts":[{{"EngagementContext":{{"id":"{context_id}"}}}},{{"pageContext":{{"id":"{page_context_id}"}}}}],"campaignId":{campaign},"engagementId":{engagement},"engagementRevision":3,"engagementType":{engagement_type},"contextId":"{context_id}","zoneId":42,"state":1,"confKey":"{campaign}_{engagement}_3","tglName":"embedded","engagementName":"Spring sale"}}}}"#
    )
}

/// Parses an event the suite or the benchmark wrote itself.
#[allow(clippy::expect_used)]
pub(crate) fn event(event_name: &str, context_id: &str, page_context_id: &str) -> OfferEvent {
    parse_event(&event_text(event_name, context_id, page_context_id))
}

/// Parses an event written by [`event_text`] or [`engagement_event_text`].
#[allow(clippy::expect_used)]
pub(crate) fn parse_event(text: &str) -> OfferEvent {
    let tape = Tape::parse_str(text).expect("sample events are JSON (tested in sample::tests)");
    OfferEvent::read(tape.root(), &[]).expect("sample events are valid (tested in sample::tests)")
}

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// A time-ordered id shaped like a UUIDv7 (48 bits of epoch ms, then a process-wide
/// sequence), as the tag makes them. Written by hand because the benchmark makes millions.
pub(crate) fn client_id() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let ms = u64::try_from(crate::ids::now_ms()).unwrap_or(0) & 0xffff_ffff_ffff;
    let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    // 48 bits of time, version 7, 12 + 62 bits of sequence with the variant bits set.
    let hi: u128 = (u128::from(ms) << 80) | (0x7u128 << 76) | (u128::from(seq >> 62) << 64);
    let lo: u128 = (0b10u128 << 62) | u128::from(seq & 0x3fff_ffff_ffff_ffff);
    let id = hi | lo;
    let mut out = String::with_capacity(36);
    for i in 0..32 {
        if matches!(i, 8 | 12 | 16 | 20) {
            out.push('-');
        }
        let nibble = (id >> (124 - 4 * i)) & 0xf;
        out.push(char::from(HEX[nibble as usize]));
    }
    out
}

pub(crate) fn new_event(event: OfferEvent, client_time_ms: Option<i64>) -> NewEvent {
    NewEvent {
        client_id: client_id(),
        client_time_ms,
        event,
    }
}

pub(crate) fn new_sde(sde: Sde, client_time_ms: Option<i64>) -> NewSde {
    NewSde {
        client_id: client_id(),
        client_time_ms,
        sde,
    }
}

pub(crate) fn visit_context(visitor_id: &str, session_id: &str, page_id: &str) -> VisitContext {
    VisitContext {
        visitor_id: visitor_id.to_owned(),
        session_id: session_id.to_owned(),
        page_id: page_id.to_owned(),
        page: Some(PageView {
            url: Some("https://shop.example/shoes".into()),
            referrer: Some("https://search.example/?q=shoes".into()),
            title: Some("Shoes".into()),
            sections: vec!["shoes".into(), "summer".into()],
        }),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) engage-test".into()),
        client: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_parses_and_has_its_type() {
        for t in SdeType::ALL {
            assert_eq!(sde(t).sde_type(), t, "{}", page_sde_text(t));
        }
        for name in ["START", "OFFER_IMPRESSION", "OFFER_CLICK"] {
            assert_eq!(event(name, "c1", "p1").name.as_str(), name);
        }
    }

    #[test]
    fn client_ids_are_time_ordered() {
        let a = client_id();
        let b = client_id();
        assert!(a < b, "{a} < {b}");
        assert_eq!(a.len(), 36);
    }
}
