//! Realistic collect batches: a page view's lifecycle events and the SDEs a shop pushes.

use std::fmt::Write;

/// A small, fast, deterministic generator (xorshift64*), so runs are comparable.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const EVENTS: [&str; 4] = ["START", "OFFER_DISPLAY", "OFFER_IMPRESSION", "OFFER_CLICK"];
const CATEGORIES: [&str; 4] = ["women shoes", "software", "garden", "books"];

/// One visit a load task plays.
pub struct Visit {
    pub visitor_id: String,
    pub session_id: String,
    pub page_id: String,
    pub page_views: u64,
}

impl Visit {
    pub fn new() -> Self {
        Visit {
            visitor_id: uuid::Uuid::now_v7().hyphenated().to_string(),
            session_id: uuid::Uuid::now_v7().hyphenated().to_string(),
            page_id: uuid::Uuid::now_v7().hyphenated().to_string(),
            page_views: 0,
        }
    }

    /// Moves to the next page, and every 20 pages to a new visit.
    pub fn next_page(&mut self) {
        self.page_views += 1;
        if self.page_views % 20 == 0 {
            *self = Visit::new();
        } else {
            self.page_id = uuid::Uuid::now_v7().hyphenated().to_string();
        }
    }
}

/// A collect body with `items` new items (about half events, half SDEs), each with a
/// fresh time-ordered client id, as the tag sends them.
pub fn collect_body(rng: &mut Rng, visit: &Visit, items: usize, now_ms: u64) -> String {
    let mut out = String::with_capacity(items * 420 + 300);
    let _ = write!(
        out,
        r#"{{"visitorId":"{}","sessionId":"{}","pageId":"{}","page":{{"url":"https://shop.example/p/{}","referrer":"https://www.example.org/search?q=shoes","title":"Red high heel shoe","sections":["shoes","women"]}},"events":["#,
        visit.visitor_id,
        visit.session_id,
        visit.page_id,
        rng.below(5000)
    );
    let n_events = items.div_ceil(2);
    let campaign = 210_599_700 + rng.below(20);
    let engagement = 210_600_700 + rng.below(50);
    let revision = 1 + rng.below(20);
    // Every run of EVENTS is one engagement context, with an id of its own (the decision
    // hands out a fresh one per engagement shown): different page views' contexts must
    // never share an id, or their events would read as one interaction.
    let mut context = String::new();
    for i in 0..n_events {
        if i > 0 {
            out.push(',');
        }
        if i % EVENTS.len() == 0 {
            context = uuid::Uuid::now_v7().hyphenated().to_string();
        }
        let _ = write!(
            out,
            r#"{{"id":"{}","time":{},"appName":"LP_OFFERS","eventName":"{}","data":{{"contexts":[{{"EngagementContext":{{"id":"{context}"}}}},{{"pageContext":{{"id":"{}"}}}}],"campaignId":{campaign},"engagementId":{engagement},"engagementRevision":{revision},"engagementType":{},"contextId":"{context}","zoneId":471288710,"state":1,"confKey":"{campaign}_{engagement}_{revision}","tglName":"slider","done":true,"engagementName":"Slide-out chat button"}}}}"#,
            uuid::Uuid::now_v7().hyphenated(),
            now_ms + i as u64,
            EVENTS[i % EVENTS.len()],
            visit.page_id,
            [0, 1, 2, 3, 5, 6][(engagement % 6) as usize],
        );
    }
    out.push_str(r#"],"sdes":["#);
    for i in 0..items - n_events {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            r#"{{"id":"{}","time":{},"sde":"#,
            uuid::Uuid::now_v7().hyphenated(),
            now_ms + i as u64
        );
        sde(rng, &mut out);
        out.push('}');
    }
    out.push_str("]}");
    out
}

fn sde(rng: &mut Rng, out: &mut String) {
    let price = 5 + rng.below(200);
    let category = CATEGORIES[rng.below(CATEGORIES.len() as u64) as usize];
    let sku = rng.below(100_000);
    let _ = match rng.below(10) {
        0 | 1 => write!(
            out,
            r#"{{"type":"cart","total":{},"currency":"USD","numItems":2,"products":[{{"product":{{"name":"prod {sku}","category":"{category}","sku":"sku{sku}","price":{price}.5}},"quantity":1}},{{"product":{{"name":"prod b","category":"{category}","sku":"skub","price":7.8}},"quantity":1}}]}}"#,
            price + 8
        ),
        2 | 3 => write!(
            out,
            r#"{{"type":"prodView","currency":"USD","products":[{{"product":{{"name":"red high heel shoe","category":"{category}","sku":"xyz{sku}","price":{price}.8,"statusInStock":true}}}}]}}"#
        ),
        4 => write!(
            out,
            r#"{{"type":"ctmrinfo","info":{{"cstatus":"cancelled","ctype":"vip","balance":-400.99,"currency":"USD","customerId":"C{sku}","socialId":"11256324780","userName":"user{sku}","lastPaymentDate":{{"day":15,"month":10,"year":2014}},"registrationDate":{{"day":23,"month":5,"year":2013}}}}}}"#
        ),
        5 => write!(
            out,
            r#"{{"type":"personal","personal":{{"firstname":"John","lastname":"Doe","age":{{"age":34,"year":1980,"month":4,"day":15}},"contacts":[{{"email":"john{sku}@example.com","phone":"+1 212-788-8877"}}],"gender":"MALE","language":"en-US"}}}}"#
        ),
        6 => write!(
            out,
            r#"{{"type":"purchase","total":{price}.7,"currency":"USD","orderId":"DRV{sku}","cart":{{"products":[{{"product":{{"name":"antivirus pro plan","category":"software","sku":"xyz001","price":7.8}},"quantity":3}}],"numItems":3}}}}"#
        ),
        7 => write!(
            out,
            r#"{{"type":"searchInfo","keywords":["{category}","size 38"]}}"#
        ),
        8 => write!(
            out,
            r#"{{"type":"mrktInfo","info":{{"channel":1,"affiliate":"Yahoo","campaignId":"US coupon campaign"}}}}"#
        ),
        _ => write!(
            out,
            r#"{{"type":"service","service":{{"topic":"order checkbook","status":{},"category":"finance","serviceId":"service{sku}"}}}}"#,
            rng.below(14)
        ),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_batches_are_fully_valid() {
        let mut rng = Rng::new(7);
        let mut visit = Visit::new();
        for _ in 0..50 {
            let body = collect_body(&mut rng, &visit, 20, 1_700_000_000_000);
            let batch =
                engage_server::request::CollectBody::read(body.as_bytes(), None, 500).unwrap();
            assert!(batch.rejected.is_empty(), "{:?}", batch.rejected);
            assert_eq!(batch.events.len() + batch.sdes.len(), 20);
            visit.next_page();
        }
    }

    #[test]
    fn each_engagement_context_has_its_own_id_across_page_views_and_visits() {
        let mut rng = Rng::new(7);
        let mut visit = Visit::new();
        let mut owner = std::collections::HashMap::new();
        for page in 0..45 {
            let body = collect_body(&mut rng, &visit, 20, 1_700_000_000_000);
            let batch =
                engage_server::request::CollectBody::read(body.as_bytes(), None, 500).unwrap();
            for (i, e) in batch.events.iter().enumerate() {
                let context = &e.event.data.context_id;
                assert!(uuid::Uuid::parse_str(context).is_ok(), "{context}");
                let run = (page, i / EVENTS.len());
                assert_eq!(
                    *owner.entry(context.clone()).or_insert(run),
                    run,
                    "{context}"
                );
            }
            visit.next_page();
        }
        assert_eq!(owner.len(), 45 * 3);
    }
}
