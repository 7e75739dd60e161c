//! A shop's simulated engagement history, as the collect route hands it to the store:
//! visitors and their visits, page views in time order across all visits, the
//! engagements each page shows with their whole `LP_OFFERS` lifecycle, and the SDEs the
//! shop pushes on those pages.
//!
//! Everything is deterministic for a seed, and every id is what the tag would send: the
//! visitor, session, page, engagement context (interaction) and client ids are UUIDv7 in
//! canonical lowercase text, made from the simulated time (so they are time-ordered, as
//! the store's indexes expect), with the random bits from [`Rng`] rather than a system
//! call per id.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt::Write;

use engage_model::{
    AgentState, ConfKey, EngagementType, OfferData, OfferEvent, OfferEventName, Sde, Tape,
};
use engage_store::{IngestBatch, NewEvent, NewSde, PageView, VisitContext};

use super::payload::Rng;

pub const SECOND_MS: i64 = 1_000;
pub const DAY_MS: i64 = 86_400_000;

/// The mean number of interactions a visit shows (uniform in 1..=7).
const INTERACTIONS_PER_VISIT: u64 = 4;
/// At most this many of each kind of sample are kept (reservoir sampling).
const SAMPLE_CAP: usize = 4096;

/// One engagement of the simulated account, as its events name it.
#[derive(Debug, Clone)]
pub struct EngagementPlan {
    pub campaign_id: u64,
    pub engagement_id: u64,
    /// Revisions 1..=`revisions` exist; each is shown for an equal part of the span.
    pub revisions: u64,
    pub engagement_type: EngagementType,
    pub tgl_name: String,
    pub name: String,
    pub zone_id: u64,
}

/// What to simulate.
#[derive(Debug, Clone)]
pub struct Plan {
    pub account_id: String,
    /// Interactions in all (the generator stops after the page that reaches it).
    pub interactions: u64,
    pub visitors: u32,
    /// Visits start in `[span_start_ms, span_end_ms]`.
    pub span_start_ms: i64,
    pub span_end_ms: i64,
    /// Samples are taken only from visits that start at or after this time.
    pub sample_from_ms: i64,
    pub engagements: Vec<EngagementPlan>,
    pub seed: u64,
}

/// One page view's batch, and how many interactions it starts.
pub struct PageBatch {
    pub batch: IngestBatch,
    pub interactions: u64,
}

/// Known values to search for, each from a visit with interactions that started at or
/// after [`Plan::sample_from_ms`].
#[derive(Debug, Default)]
pub struct Samples {
    pub visitor_ids: Reservoir,
    /// `ctmrinfo.customerId` values.
    pub customer_ids: Reservoir,
    /// `purchase.orderId` values.
    pub order_ids: Reservoir,
}

/// A uniform sample of at most [`SAMPLE_CAP`] of the values offered to it.
#[derive(Debug, Default)]
pub struct Reservoir {
    pub values: Vec<String>,
    offered: u64,
}

impl Reservoir {
    fn offer(&mut self, rng: &mut Rng, value: impl FnOnce() -> String) {
        self.offered += 1;
        if self.values.len() < SAMPLE_CAP {
            self.values.push(value());
        } else {
            let slot = rng.below(self.offered) as usize;
            if slot < SAMPLE_CAP {
                self.values[slot] = value();
            }
        }
    }
}

struct Visitor {
    id: String,
    /// Logged-in shoppers: they report `ctmrinfo` (and often `personal`) in every visit.
    customer_id: Option<String>,
    first_name: &'static str,
    last_name: &'static str,
    user_agent: &'static str,
}

/// A visit between two of its page views.
struct ActiveVisit {
    visitor: usize,
    session_id: String,
    started_ms: i64,
    page_no: u32,
    pages_left: u32,
    /// Interactions still to show, spread over the pages left.
    interactions_left: u32,
    purchases: bool,
    referrer: &'static str,
}

/// A visit waiting for its next page view at `at`.
struct Pending {
    at: i64,
    seq: u64,
    visit: ActiveVisit,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Pending {}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pending {
    /// Reversed: the binary heap is a max-heap, and the earliest page view goes first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// The generator: call [`HistoryGenerator::next_page`] until it answers `None`.
pub struct HistoryGenerator {
    plan: Plan,
    rng: Rng,
    visitors: Vec<Visitor>,
    waiting: BinaryHeap<Pending>,
    /// Visits are started at an even pace over the span; this is the next one's number.
    next_visit: u64,
    next_arrival_ms: i64,
    visit_spacing_ms: f64,
    /// Coprime with the number of visitors: `i * stride % n` visits each of them once.
    visitor_stride: u64,
    seq: u64,
    interactions_left: u64,
    next_order: u64,
    samples: Samples,
    /// Reused for each SDE's page-shape JSON text.
    text: String,
}

/// A generated SDE did not pass the model's validation: a bug in this generator.
#[derive(Debug)]
pub struct InvalidSde(pub String);

impl std::fmt::Display for InvalidSde {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the generator made an invalid SDE: {}", self.0)
    }
}

impl std::error::Error for InvalidSde {}

const FIRST_NAMES: [&str; 8] = [
    "John", "Maria", "Wei", "Aisha", "Lucas", "Emma", "Noah", "Sofia",
];
const LAST_NAMES: [&str; 8] = [
    "Doe", "Garcia", "Chen", "Khan", "Silva", "Muller", "Smith", "Rossi",
];
const USER_AGENTS: [&str; 4] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
];
const REFERRERS: [&str; 4] = [
    "https://www.google.com/",
    "https://www.facebook.com/",
    "https://mail.example.net/",
    "",
];
const CATEGORIES: [&str; 6] = [
    "women shoes",
    "men shoes",
    "bags",
    "software",
    "garden",
    "books",
];
const SEARCHES: [&str; 6] = [
    "red high heels",
    "running shoes size 42",
    "leather bag",
    "antivirus",
    "garden hose",
    "crime novels",
];

impl HistoryGenerator {
    pub fn new(plan: Plan) -> HistoryGenerator {
        let mut rng = Rng::new(plan.seed);
        let visitors: Vec<Visitor> = (0..plan.visitors.max(1))
            .map(|v| {
                // Visitors were first seen up to a year before the span starts.
                let first_seen = plan.span_start_ms - rng.below(365) as i64 * DAY_MS;
                Visitor {
                    id: uuid_v7(&mut rng, first_seen),
                    customer_id: (v % 5 != 0).then(|| format!("C{:07}", 1_000_000 + v)),
                    first_name: FIRST_NAMES[v as usize % FIRST_NAMES.len()],
                    last_name: LAST_NAMES[(v as usize / 8) % LAST_NAMES.len()],
                    user_agent: USER_AGENTS[rng.below(USER_AGENTS.len() as u64) as usize],
                }
            })
            .collect();
        let n = visitors.len() as u64;
        let mut visitor_stride = 2_654_435_761 % n.max(2);
        while gcd(visitor_stride, n) != 1 {
            visitor_stride += 1;
        }
        let planned_visits = plan.interactions.div_ceil(INTERACTIONS_PER_VISIT).max(1);
        let span = (plan.span_end_ms - plan.span_start_ms).max(1) as f64;
        let mut generator = HistoryGenerator {
            rng,
            visitors,
            waiting: BinaryHeap::new(),
            next_visit: 0,
            next_arrival_ms: 0,
            visit_spacing_ms: span / planned_visits as f64,
            visitor_stride,
            seq: 0,
            interactions_left: plan.interactions,
            next_order: 0,
            samples: Samples::default(),
            text: String::with_capacity(1024),
            plan,
        };
        generator.next_arrival_ms = generator.arrival_ms(0);
        generator
    }

    pub fn into_samples(self) -> Samples {
        self.samples
    }

    /// The next page view in time order, over all visits; `None` once the planned
    /// number of interactions is reached.
    pub fn next_page(&mut self) -> Result<Option<PageBatch>, InvalidSde> {
        if self.interactions_left == 0 {
            return Ok(None);
        }
        loop {
            match self.waiting.peek() {
                Some(next) if next.at <= self.next_arrival_ms => break,
                _ => self.start_visit(),
            }
        }
        let Some(Pending { at, mut visit, .. }) = self.waiting.pop() else {
            return Ok(None);
        };
        let (page, page_end_ms) = self.page_view(&mut visit, at)?;
        visit.page_no += 1;
        visit.pages_left -= 1;
        if visit.pages_left > 0 {
            // The next page view comes some time after this one's engagements are gone.
            let at = page_end_ms + SECOND_MS * (5 + self.rng.below(90) as i64);
            self.push(at, visit);
        }
        Ok(Some(page))
    }

    /// When visit number `n` starts: an even pace over the span with some jitter, never
    /// after its end.
    fn arrival_ms(&mut self, n: u64) -> i64 {
        let jitter = (self.rng.below(1000) as f64) / 1000.0;
        let offset = (n as f64 + jitter) * self.visit_spacing_ms;
        (self.plan.span_start_ms + offset as i64).min(self.plan.span_end_ms)
    }

    fn start_visit(&mut self) {
        let at = self.next_arrival_ms;
        let visitor = self.visit_visitor();
        let interactions = 1 + self.rng.below(2 * INTERACTIONS_PER_VISIT - 1) as u32;
        let pages = (1 + self.rng.below(6) as u32).min(interactions + 2);
        let visit = ActiveVisit {
            visitor,
            session_id: uuid_v7(&mut self.rng, at),
            started_ms: at,
            page_no: 0,
            pages_left: pages,
            interactions_left: interactions,
            purchases: self.rng.below(10) < 3,
            referrer: REFERRERS[self.rng.below(REFERRERS.len() as u64) as usize],
        };
        self.next_visit += 1;
        self.next_arrival_ms = self.arrival_ms(self.next_visit).max(at);
        self.push(at, visit);
    }

    /// The first pass over the visitors gives each of them a visit (in a scrambled
    /// order); after that, visitors come back at random.
    fn visit_visitor(&mut self) -> usize {
        let n = self.visitors.len() as u64;
        if self.next_visit < n {
            ((self.next_visit * self.visitor_stride) % n) as usize
        } else {
            self.rng.below(n) as usize
        }
    }

    fn push(&mut self, at: i64, visit: ActiveVisit) {
        self.seq += 1;
        self.waiting.push(Pending {
            at,
            seq: self.seq,
            visit,
        });
    }

    /// One page view of `visit` at `at`: its batch and when its last engagement is gone.
    fn page_view(
        &mut self,
        visit: &mut ActiveVisit,
        at: i64,
    ) -> Result<(PageBatch, i64), InvalidSde> {
        let first = visit.page_no == 0;
        let last = visit.pages_left == 1;
        // Spread the visit's interactions over its pages; the first page always shows
        // one, so every visit has an interaction to find it by.
        let pages = u64::from(visit.pages_left);
        let k = u64::from(visit.interactions_left);
        let mut shown = if last {
            k
        } else {
            k / pages + u64::from(self.rng.below(pages) < k % pages)
        };
        if first {
            shown = shown.max(1);
        }
        let shown = shown.min(k).min(self.interactions_left);
        visit.interactions_left -= shown as u32;
        self.interactions_left -= shown;

        let visitor = &self.visitors[visit.visitor];
        let page_id = uuid_v7(&mut self.rng, at);
        let sku = self.rng.below(100_000);
        let (url, title, sections) = if last && visit.purchases {
            (
                "https://shop.example/checkout/thanks".to_owned(),
                "Thank you for your order",
                vec!["checkout".to_owned()],
            )
        } else if first {
            (
                "https://shop.example/".to_owned(),
                "Shop Example: shoes, bags and more",
                vec!["home".to_owned()],
            )
        } else {
            (
                format!("https://shop.example/p/{sku}"),
                "Red high heel shoe",
                vec!["shoes".to_owned(), "women".to_owned()],
            )
        };
        let visit_context = VisitContext {
            visitor_id: visitor.id.clone(),
            session_id: visit.session_id.clone(),
            page_id: page_id.clone(),
            page: Some(PageView {
                url: Some(url),
                referrer: (first && !visit.referrer.is_empty()).then(|| visit.referrer.to_owned()),
                title: Some(title.to_owned()),
                sections,
            }),
            user_agent: Some(visitor.user_agent.to_owned()),
            client: None,
        };

        let mut events = Vec::with_capacity(shown as usize * 11);
        let mut page_end = at + SECOND_MS;
        for j in 0..shown as i64 {
            let end = self.interaction(&page_id, at + 150 + j * 40, &mut events);
            page_end = page_end.max(end);
        }

        let sdes = self.page_sdes(visit, at, first, last)?;
        if first && visit.started_ms >= self.plan.sample_from_ms {
            let visitor = &self.visitors[visit.visitor];
            self.samples
                .visitor_ids
                .offer(&mut self.rng, || visitor.id.clone());
            if let Some(customer) = &visitor.customer_id {
                self.samples
                    .customer_ids
                    .offer(&mut self.rng, || customer.clone());
            }
        }
        let last_item = sdes
            .iter()
            .filter_map(|s| s.client_time_ms)
            .chain(events.iter().filter_map(|e: &NewEvent| e.client_time_ms))
            .max()
            .unwrap_or(at);
        let received_ms = last_item + 50 + self.rng.below(400) as i64;
        let batch = IngestBatch {
            account_id: self.plan.account_id.clone(),
            received_ms,
            visit: Some(visit_context),
            events,
            sdes,
            rejected: Vec::new(),
        };
        Ok((
            PageBatch {
                batch,
                interactions: shown,
            },
            page_end.max(received_ms),
        ))
    }

    /// One engagement shown on the page from about `start`: START, OFFER_DISPLAY, a few
    /// OFFER_IMPRESSIONs (it scrolls in and out of view), then a click, a close or a
    /// timeout, and OFFER_REMOVE. Returns the time of its last event.
    fn interaction(&mut self, page_id: &str, start: i64, events: &mut Vec<NewEvent>) -> i64 {
        let rng = &mut self.rng;
        let engagement =
            &self.plan.engagements[rng.below(self.plan.engagements.len() as u64) as usize];
        let start = start + rng.below(1500) as i64;
        let span = (self.plan.span_end_ms - self.plan.span_start_ms).max(1);
        let revision = (1
            + (start - self.plan.span_start_ms).max(0) as u64 * engagement.revisions / span as u64)
            .min(engagement.revisions);
        let state = match rng.below(10) {
            0 => AgentState::Offline,
            1 => AgentState::Busy,
            _ => AgentState::Online,
        };
        let data = OfferData {
            context_id: uuid_v7(rng, start),
            page_context_id: page_id.to_owned(),
            conf_key: ConfKey {
                campaign_id: engagement.campaign_id,
                engagement_id: engagement.engagement_id,
                engagement_revision: revision,
            },
            engagement_type: Some(engagement.engagement_type),
            zone_id: Some(engagement.zone_id),
            state: Some(state),
            tgl_name: Some(engagement.tgl_name.clone()),
            done: Some(true),
            engagement_name: Some(engagement.name.clone()),
        };
        let mut t = start;
        let mut push = |rng: &mut Rng, name: OfferEventName, t: i64, data: OfferData| {
            events.push(NewEvent {
                client_id: uuid_v7(rng, t),
                client_time_ms: Some(t),
                event: OfferEvent { name, data },
            });
        };
        push(rng, OfferEventName::Start, t, data.clone());
        t += 20 + rng.below(180) as i64;
        push(rng, OfferEventName::OfferDisplay, t, data.clone());
        for _ in 0..4 + rng.below(5) {
            t += 300 + rng.below(4000) as i64;
            push(rng, OfferEventName::OfferImpression, t, data.clone());
        }
        t += SECOND_MS + rng.below(29_000) as i64;
        let outcome = match rng.below(20) {
            0..=2 => OfferEventName::OfferClick,
            3..=7 => OfferEventName::OfferDeclined,
            _ => OfferEventName::OfferTimeout,
        };
        push(rng, outcome, t, data.clone());
        t += 50 + rng.below(450) as i64;
        push(rng, OfferEventName::OfferRemove, t, data);
        t
    }

    /// The SDEs a shop pushes on a page: who the shopper is on the first page, products
    /// viewed, the cart and searches on every page, the order on the last one.
    fn page_sdes(
        &mut self,
        visit: &ActiveVisit,
        at: i64,
        first: bool,
        last: bool,
    ) -> Result<Vec<NewSde>, InvalidSde> {
        let mut sdes = Vec::with_capacity(6);
        let visitor = visit.visitor;
        let mut t = at + 100;
        if first {
            if self.rng.below(2) == 0 {
                let channel = self.rng.below(7);
                self.sde(&mut sdes, &mut t, |_, out| {
                    write!(
                        out,
                        r#"{{"type":"mrktInfo","info":{{"channel":{channel},"affiliate":"Partner {channel}","campaignId":"US coupon campaign"}}}}"#
                    )
                })?;
            }
            if let Some(customer) = self.visitors[visitor].customer_id.clone() {
                let v = visitor;
                self.sde(&mut sdes, &mut t, |rng, out| {
                    write!(
                        out,
                        r#"{{"type":"ctmrinfo","info":{{"cstatus":"{}","ctype":"{}","balance":{}.{:02},"currency":"USD","customerId":"{customer}","socialId":"1{:010}","userName":"user{v}","accountName":"Shop account {v}","role":"customer","lastPaymentDate":{{"day":{},"month":{},"year":2025}},"registrationDate":{{"day":23,"month":5,"year":2021}},"loginStatus":true,"storeZipCode":"{:05}","storeNumber":"{}"}}}}"#,
                        ["active", "active", "suspended", "cancelled"][rng.below(4) as usize],
                        ["regular", "vip", "gold"][v % 3],
                        rng.below(2000),
                        rng.below(100),
                        v * 7919,
                        1 + rng.below(28),
                        1 + rng.below(12),
                        rng.below(100_000),
                        rng.below(300),
                    )
                })?;
                if self.rng.below(10) < 6 {
                    let (first_name, last_name) =
                        (self.visitors[v].first_name, self.visitors[v].last_name);
                    self.sde(&mut sdes, &mut t, |rng, out| {
                        let year = 1950 + rng.below(55);
                        write!(
                            out,
                            r#"{{"type":"personal","personal":{{"firstname":"{first_name}","lastname":"{last_name}","age":{{"age":{},"year":{year},"month":{},"day":{}}},"contacts":[{{"email":"{}.{}{v}@example.com","phone":"+1 212-555-{:04}","phoneType":"MOBILE","address":{{"country":"US","region":"NY"}}}}],"gender":"{}","language":"en-US"}}}}"#,
                            2025 - year,
                            1 + rng.below(12),
                            1 + rng.below(28),
                            first_name.to_lowercase(),
                            last_name.to_lowercase(),
                            rng.below(10_000),
                            ["MALE", "FEMALE"][v % 2],
                        )
                    })?;
                }
            }
        }
        let views = match self.rng.below(10) {
            0 => 0,
            1..=6 => 1,
            _ => 2,
        };
        for _ in 0..views {
            self.sde(&mut sdes, &mut t, |rng, out| {
                let sku = rng.below(100_000);
                let category = CATEGORIES[rng.below(CATEGORIES.len() as u64) as usize];
                write!(
                    out,
                    r#"{{"type":"prodView","currency":"USD","products":[{{"product":{{"name":"{category} item {sku}","category":"{category}","sku":"sku{sku}","price":{}.99,"statusInStock":true,"quantityInStock":{}}}}}]}}"#,
                    5 + rng.below(300),
                    rng.below(50),
                )
            })?;
        }
        if self.rng.below(100) < 35 {
            self.sde(&mut sdes, &mut t, |rng, out| {
                let (a, b) = (rng.below(100_000), rng.below(100_000));
                let (pa, pb) = (5 + rng.below(300), 5 + rng.below(100));
                write!(
                    out,
                    r#"{{"type":"cart","total":{}.98,"currency":"USD","numItems":3,"products":[{{"product":{{"name":"item {a}","category":"women shoes","sku":"sku{a}","price":{pa}.99}},"quantity":2}},{{"product":{{"name":"item {b}","category":"bags","sku":"sku{b}","price":{pb}.99}},"quantity":1}}]}}"#,
                    2 * pa + pb + 2,
                )
            })?;
        }
        if self.rng.below(100) < 30 {
            self.sde(&mut sdes, &mut t, |rng, out| {
                write!(
                    out,
                    r#"{{"type":"searchInfo","keywords":["{}"]}}"#,
                    SEARCHES[rng.below(SEARCHES.len() as u64) as usize]
                )
            })?;
        }
        if last {
            if visit.purchases {
                self.next_order += 1;
                let order_id = format!("ORD{:09}", 100_000_000 + self.next_order);
                self.sde(&mut sdes, &mut t, |rng, out| {
                    let sku = rng.below(100_000);
                    let price = 5 + rng.below(300);
                    write!(
                        out,
                        r#"{{"type":"purchase","total":{}.98,"currency":"USD","orderId":"{order_id}","cart":{{"products":[{{"product":{{"name":"item {sku}","category":"women shoes","sku":"sku{sku}","price":{price}.99}},"quantity":2}}],"numItems":2}}}}"#,
                        2 * price + 1,
                    )
                })?;
                if visit.started_ms >= self.plan.sample_from_ms {
                    self.samples.order_ids.offer(&mut self.rng, || order_id);
                }
            }
            match self.rng.below(100) {
                0..=2 => self.sde(&mut sdes, &mut t, |rng, out| {
                    write!(
                        out,
                        r#"{{"type":"lead","lead":{{"topic":"business plan","value":{},"currency":"USD","leadId":"L{}"}}}}"#,
                        100 + rng.below(10_000),
                        rng.below(1_000_000)
                    )
                })?,
                3..=5 => self.sde(&mut sdes, &mut t, |rng, out| {
                    write!(
                        out,
                        r#"{{"type":"service","service":{{"topic":"order status","status":{},"category":"delivery","serviceId":"S{}"}}}}"#,
                        rng.below(14),
                        rng.below(1_000_000)
                    )
                })?,
                6..=7 => self.sde(&mut sdes, &mut t, |rng, out| {
                    write!(
                        out,
                        r#"{{"type":"error","error":{{"contextId":"checkout","message":"card declined","code":"E{}","level":3,"resolved":false}}}}"#,
                        100 + rng.below(900)
                    )
                })?,
                _ => {}
            }
        }
        Ok(sdes)
    }

    /// Writes one page-shape SDE with `write`, reads it through the model as the collect
    /// route does, and adds it at time `t` (which moves on a little).
    fn sde(
        &mut self,
        sdes: &mut Vec<NewSde>,
        t: &mut i64,
        write: impl FnOnce(&mut Rng, &mut String) -> std::fmt::Result,
    ) -> Result<(), InvalidSde> {
        self.text.clear();
        write(&mut self.rng, &mut self.text).map_err(|e| InvalidSde(e.to_string()))?;
        let tape =
            Tape::parse_str(&self.text).map_err(|e| InvalidSde(format!("{e}: {}", self.text)))?;
        let sde =
            Sde::read_page(tape.root()).map_err(|e| InvalidSde(format!("{e:?}: {}", self.text)))?;
        *t += 20 + self.rng.below(2000) as i64;
        sdes.push(NewSde {
            client_id: uuid_v7(&mut self.rng, *t),
            client_time_ms: Some(*t),
            sde,
        });
        Ok(())
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// A UUIDv7 for the time `ms` with random bits from `rng`, in canonical lowercase text.
pub fn uuid_v7(rng: &mut Rng, ms: i64) -> String {
    let mut random = [0u8; 10];
    random[..8].copy_from_slice(&rng.next().to_le_bytes());
    random[8..].copy_from_slice(&rng.next().to_le_bytes()[..2]);
    uuid::Builder::from_unix_timestamp_millis(ms.max(0) as u64, &random)
        .into_uuid()
        .hyphenated()
        .to_string()
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;

    fn plan(interactions: u64, visitors: u32) -> Plan {
        let span_end = 1_780_000_000_000;
        Plan {
            account_id: "1".into(),
            interactions,
            visitors,
            span_start_ms: span_end - 30 * DAY_MS,
            span_end_ms: span_end,
            sample_from_ms: span_end - 30 * DAY_MS,
            engagements: (0..6)
                .map(|i| EngagementPlan {
                    campaign_id: 10 + i / 3,
                    engagement_id: 100 + i,
                    revisions: 1 + i % 3,
                    engagement_type: EngagementType::ALL[i as usize],
                    tgl_name: EngagementType::ALL[i as usize].default_tgl_name().into(),
                    name: format!("engagement {i}"),
                    zone_id: 471_288_700 + i,
                })
                .collect(),
            seed: 1,
        }
    }

    fn generate(plan: Plan) -> (Vec<PageBatch>, Samples) {
        let mut generator = HistoryGenerator::new(plan);
        let mut pages = Vec::new();
        while let Some(page) = generator.next_page().unwrap() {
            pages.push(page);
        }
        (pages, generator.into_samples())
    }

    #[test]
    fn the_history_has_the_planned_interactions_with_their_whole_lifecycle() {
        let (pages, _) = generate(plan(5_000, 300));
        let shown: u64 = pages.iter().map(|p| p.interactions).sum();
        assert_eq!(shown, 5_000);
        let mut contexts: HashMap<&str, Vec<&NewEvent>> = HashMap::new();
        let mut client_ids = HashSet::new();
        for page in &pages {
            let visit = page.batch.visit.as_ref().unwrap();
            for e in &page.batch.events {
                assert_eq!(e.event.data.page_context_id, visit.page_id);
                assert!(client_ids.insert(e.client_id.as_str()));
                contexts
                    .entry(&e.event.data.context_id)
                    .or_default()
                    .push(e);
                // What the collect route would read back is the same event.
                let text = serde_json::to_string(&e.event).unwrap();
                let tape = Tape::parse_str(&text).unwrap();
                assert_eq!(
                    OfferEvent::read(tape.root(), &[]).unwrap(),
                    e.event,
                    "{text}"
                );
            }
            for s in &page.batch.sdes {
                assert!(client_ids.insert(s.client_id.as_str()));
                assert!(s.client_time_ms.unwrap() <= page.batch.received_ms);
            }
        }
        // One context per interaction, each START .. OFFER_REMOVE in client-time order.
        assert_eq!(contexts.len(), 5_000);
        for events in contexts.values() {
            let names: Vec<_> = events.iter().map(|e| e.event.name).collect();
            assert_eq!(names[0], OfferEventName::Start);
            assert_eq!(names[1], OfferEventName::OfferDisplay);
            assert_eq!(names[names.len() - 1], OfferEventName::OfferRemove);
            assert!(names[2..names.len() - 2]
                .iter()
                .all(|n| *n == OfferEventName::OfferImpression));
            assert!(matches!(
                names[names.len() - 2],
                OfferEventName::OfferClick
                    | OfferEventName::OfferDeclined
                    | OfferEventName::OfferTimeout
            ));
            assert!(events
                .windows(2)
                .all(|w| w[0].client_time_ms < w[1].client_time_ms));
            assert!(events.iter().all(|e| e.event.data == events[0].event.data));
        }
        let events: usize = contexts.values().map(Vec::len).sum();
        let sdes: usize = pages.iter().map(|p| p.batch.sdes.len()).sum();
        let per_interaction = |n: usize| n as f64 / 5_000.0;
        assert!(
            (9.0..11.0).contains(&per_interaction(events)),
            "{events} events"
        );
        assert!((1.5..2.5).contains(&per_interaction(sdes)), "{sdes} SDEs");
    }

    #[test]
    fn ids_are_canonical_uuid_v7_of_the_simulated_time() {
        let (pages, _) = generate(plan(500, 50));
        for page in &pages {
            let visit = page.batch.visit.as_ref().unwrap();
            for id in [&visit.visitor_id, &visit.session_id, &visit.page_id] {
                let uuid = uuid::Uuid::parse_str(id).unwrap();
                assert_eq!(uuid.get_version_num(), 7);
                assert_eq!(uuid.hyphenated().to_string(), *id);
            }
            for e in &page.batch.events {
                for id in [&e.client_id, &e.event.data.context_id] {
                    let uuid = uuid::Uuid::parse_str(id).unwrap();
                    assert_eq!(uuid.hyphenated().to_string(), *id);
                }
                let (secs, nanos) = uuid::Uuid::parse_str(&e.client_id)
                    .unwrap()
                    .get_timestamp()
                    .unwrap()
                    .to_unix();
                let ms = secs as i64 * 1000 + i64::from(nanos / 1_000_000);
                assert_eq!(Some(ms), e.client_time_ms);
            }
        }
    }

    #[test]
    fn page_views_come_in_time_order_and_visits_group_several_interactions() {
        let p = plan(5_000, 300);
        let (start, end) = (p.span_start_ms, p.span_end_ms);
        let (pages, samples) = generate(p);
        let page_time = |p: &PageBatch| {
            p.batch
                .sdes
                .iter()
                .filter_map(|s| s.client_time_ms)
                .chain(p.batch.events.iter().filter_map(|e| e.client_time_ms))
                .min()
        };
        let mut last = i64::MIN;
        let mut visits: HashMap<&str, (u64, &str)> = HashMap::new();
        let mut visitors = HashSet::new();
        for page in &pages {
            if let Some(t) = page_time(page) {
                // Items come a little after the page view starts, within seconds.
                assert!(t + 5_000 >= last, "{t} after {last}");
                assert!(t >= start && t <= end + DAY_MS);
                last = last.max(t);
            }
            let visit = page.batch.visit.as_ref().unwrap();
            let entry = visits
                .entry(&visit.session_id)
                .or_insert((0, &visit.visitor_id));
            assert_eq!(entry.1, visit.visitor_id);
            entry.0 += page.interactions;
            visitors.insert(visit.visitor_id.as_str());
        }
        assert_eq!(visitors.len(), 300);
        let mean = 5_000.0 / visits.len() as f64;
        assert!((3.0..5.0).contains(&mean), "{mean} interactions a visit");
        assert!(visits.values().all(|(n, _)| *n >= 1));
        // Every sample is something the history holds.
        assert!(!samples.visitor_ids.values.is_empty());
        assert!(!samples.customer_ids.values.is_empty());
        assert!(!samples.order_ids.values.is_empty());
        let mut orders = HashSet::new();
        for page in &pages {
            for s in &page.batch.sdes {
                if let Sde::Purchase(p) = &s.sde {
                    let id = p.order_id.as_set().unwrap().as_str().to_owned();
                    assert!(orders.insert(id), "order ids are unique");
                }
            }
        }
        assert!(samples.order_ids.values.iter().all(|o| orders.contains(o)));
    }
}
