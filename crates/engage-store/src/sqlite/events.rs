//! LP_OFFERS events as stored since schema version 9: runs, not rows.
//!
//! A *run* is the events of one batch that follow each other and belong to one
//! interaction: they share the account, the interaction (and through it the visit and
//! the context id), the server time and the page. `event_runs` holds one row per run,
//! its events packed into one BLOB ([`encode_run`]): per event a byte with the name's
//! code and flags, the shape (`event_shapes`), the client id (a canonical UUIDv7 in 11
//! or 12 bytes: its time is stored as its distance from the client time), the client
//! time as its lag behind the server time, and the page context id only when it is not
//! the page's own id. That is about 16 bytes an event, where a version 7 row with its
//! three indexes took about 200.
//!
//! Exactly-once stays per item: `event_ids` holds every accepted `(account, client id)`
//! as a WITHOUT ROWID key, the whole of it; an event whose id is there already is a
//! duplicate and joins no run. An interaction's timeline is its runs
//! (`event_runs_interaction`, one entry a run). The export walks the runs in row order;
//! its cursor is `run id * 256 + position`, so a run holds at most [`MAX_RUN`] events.
//!
//! The packed format is frozen: a stored byte keeps its meaning.

use std::collections::HashMap;

use engage_model::{AgentState, ConfKey, EngagementType, OfferData, OfferEvent, OfferEventName};
use rusqlite::{params, Connection};

use super::batch::{ClientKey, PreparedEvent};
use super::compact::{event_code, event_name};
use super::reader::corrupt;
use super::{read_u64, sql_err};
use crate::StoreError;

/// The most events in one run: the export cursor gives a position 8 bits.
pub(crate) const MAX_RUN: usize = 256;

/// The first byte of an event: the name's code in the low three bits, then these flags.
/// Codes past 7 (Engage's action events) leave the bits 0 and follow in a byte of their
/// own; no run written before them has a 0 there.
const NAME_BITS: u8 = 0b111;
const UUID_ID: u8 = 1 << 3;
const HAS_TIME: u8 = 1 << 4;
const OWN_PAGE_CONTEXT: u8 = 1 << 5;
const UUID_PAGE_CONTEXT: u8 = 1 << 6;
/// The UUID's first 48 bits (a UUIDv7's epoch ms) are stored as their distance from the
/// client time, then its last 10 bytes: the tag makes an event's id when it stamps its
/// time, so the distance fits in a byte or two instead of six.
const ID_TIME_FROM_CLIENT: u8 = 1 << 7;
/// The largest distance stored that way (four varint bytes).
const MAX_ID_TIME_DISTANCE: i64 = 1 << 26;

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}

/// The first 48 bits of a UUID, as a UUIDv7 keeps its epoch ms.
fn uuid_ms(bytes: &[u8; 16]) -> i64 {
    bytes[..6]
        .iter()
        .fold(0i64, |ms, b| (ms << 8) | i64::from(*b))
}

/// One event of a run as written.
pub(crate) struct RunEvent<'a> {
    pub name: OfferEventName,
    pub shape: i64,
    pub client_id: &'a ClientKey,
    pub client_time_ms: Option<i64>,
    /// `None` when the page context id is the id of the run's page.
    pub page_context: Option<&'a ClientKey>,
}

impl<'a> RunEvent<'a> {
    /// `p` of a batch whose page id is `page_id`.
    pub fn of(p: &'a PreparedEvent, shape: i64, page_id: Option<&str>) -> RunEvent<'a> {
        let own = page_id != Some(p.event.data.page_context_id.as_str());
        RunEvent {
            name: p.event.name,
            shape,
            client_id: &p.client_id,
            client_time_ms: p.client_time_ms,
            page_context: own.then_some(&p.page_context),
        }
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn put_key(out: &mut Vec<u8>, key: &ClientKey) {
    match key {
        ClientKey::Uuid(bytes) => out.extend_from_slice(bytes),
        ClientKey::Text(text) => {
            put_varint(out, text.len() as u64);
            out.extend_from_slice(text.as_bytes());
        }
    }
}

/// The BLOB of a run whose server time is `server_ms`.
pub(crate) fn encode_run(events: &[RunEvent<'_>], server_ms: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(events.len() * 24);
    for e in events {
        let code = u8::try_from(event_code(e.name)).unwrap_or(0);
        let mut flags = if code > NAME_BITS { 0 } else { code };
        let id_distance = match (e.client_id, e.client_time_ms) {
            (ClientKey::Uuid(bytes), Some(t)) => Some(uuid_ms(bytes).wrapping_sub(t))
                .filter(|d| (-MAX_ID_TIME_DISTANCE..=MAX_ID_TIME_DISTANCE).contains(d)),
            _ => None,
        };
        if matches!(e.client_id, ClientKey::Uuid(_)) {
            flags |= UUID_ID;
        }
        if id_distance.is_some() {
            flags |= ID_TIME_FROM_CLIENT;
        }
        if e.client_time_ms.is_some() {
            flags |= HAS_TIME;
        }
        if let Some(own) = e.page_context {
            flags |= OWN_PAGE_CONTEXT;
            if matches!(own, ClientKey::Uuid(_)) {
                flags |= UUID_PAGE_CONTEXT;
            }
        }
        out.push(flags);
        if code > NAME_BITS {
            out.push(code);
        }
        put_varint(&mut out, u64::try_from(e.shape).unwrap_or(0));
        match (e.client_id, id_distance) {
            (ClientKey::Uuid(bytes), Some(d)) => {
                put_varint(&mut out, zigzag(d));
                out.extend_from_slice(&bytes[6..]);
            }
            (key, _) => put_key(&mut out, key),
        }
        if let Some(t) = e.client_time_ms {
            // A page clock ahead of the server's gives a negative lag.
            put_varint(&mut out, zigzag(server_ms.wrapping_sub(t)));
        }
        if let Some(own) = e.page_context {
            put_key(&mut out, own);
        }
    }
    out
}

/// One event read back from a run.
pub(crate) struct StoredRunEvent {
    pub name: OfferEventName,
    pub shape: i64,
    pub client_id: String,
    pub client_time_ms: Option<i64>,
    /// `None`: the page's own id.
    pub page_context_id: Option<String>,
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(s)
    }

    fn key(&mut self, uuid: bool) -> Option<String> {
        if uuid {
            let b = <[u8; 16]>::try_from(self.take(16)?).ok()?;
            ClientKey::read(rusqlite::types::ValueRef::Blob(&b))
        } else {
            let n = usize::try_from(self.varint()?).ok()?;
            String::from_utf8(self.take(n)?.to_vec()).ok()
        }
    }
}

/// The events of a run, in order; `None` when the BLOB is not one.
pub(crate) fn decode_run(bytes: &[u8], server_ms: i64) -> Option<Vec<StoredRunEvent>> {
    let mut r = Reader { bytes, at: 0 };
    let mut out = Vec::new();
    while r.at < bytes.len() {
        let flags = r.byte()?;
        let code = match flags & NAME_BITS {
            0 => r.byte()?,
            code => code,
        };
        let name = event_name(i64::from(code))?;
        let shape = i64::try_from(r.varint()?).ok()?;
        // The id's time may need the client time, which follows it.
        let id_distance = if flags & ID_TIME_FROM_CLIENT != 0 {
            Some((
                unzigzag(r.varint()?),
                <[u8; 10]>::try_from(r.take(10)?).ok()?,
            ))
        } else {
            None
        };
        let stored_id = match id_distance {
            Some(_) => None,
            None => Some(r.key(flags & UUID_ID != 0)?),
        };
        let client_time_ms = if flags & HAS_TIME != 0 {
            Some(server_ms.wrapping_sub(unzigzag(r.varint()?)))
        } else {
            None
        };
        let client_id = match (stored_id, id_distance, client_time_ms) {
            (Some(id), _, _) => id,
            (None, Some((distance, rest)), Some(t)) => {
                let ms = t.wrapping_add(distance);
                let mut bytes = [0u8; 16];
                bytes[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
                bytes[6..].copy_from_slice(&rest);
                ClientKey::read(rusqlite::types::ValueRef::Blob(&bytes))?
            }
            _ => return None,
        };
        let page_context_id = if flags & OWN_PAGE_CONTEXT != 0 {
            Some(r.key(flags & UUID_PAGE_CONTEXT != 0)?)
        } else {
            None
        };
        out.push(StoredRunEvent {
            name,
            shape,
            client_id,
            client_time_ms,
            page_context_id,
        });
    }
    Some(out)
}

/// Writes the runs of a batch's accepted events: `accepted[i]` is the interaction row of
/// event `i`, or `None` for a duplicate. Consecutive accepted events of one interaction
/// make a run, so the export gives them back in the order they came.
pub(crate) fn write_runs(
    conn: &Connection,
    account: &str,
    server_ms: i64,
    page_row: Option<i64>,
    events: &[RunEvent<'_>],
    interactions: &[Option<i64>],
) -> rusqlite::Result<()> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO event_runs (account, interaction_row, server_ms, page_row, events)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let mut start = 0;
    while start < events.len() {
        let Some(row) = interactions[start] else {
            start += 1;
            continue;
        };
        let mut end = start + 1;
        while end < events.len() && end - start < MAX_RUN && interactions[end] == Some(row) {
            end += 1;
        }
        let blob = encode_run(&events[start..end], server_ms);
        insert.execute(params![account, row, server_ms, page_row, blob])?;
        start = end;
    }
    Ok(())
}

/// `event_shapes` rows as event data without the ids, read once per id.
#[derive(Default)]
pub(crate) struct ShapeReader {
    known: HashMap<i64, OfferData>,
}

impl ShapeReader {
    pub fn data(&mut self, conn: &Connection, id: i64) -> Result<&OfferData, StoreError> {
        match self.known.entry(id) {
            std::collections::hash_map::Entry::Occupied(e) => Ok(e.into_mut()),
            std::collections::hash_map::Entry::Vacant(e) => Ok(e.insert(read_shape(conn, id)?)),
        }
    }
}

fn read_shape(conn: &Connection, id: i64) -> Result<OfferData, StoreError> {
    let bad = |what: &str| corrupt(format!("event shape {id}: {what}"));
    let mut stmt = conn
        .prepare_cached(
            "SELECT campaign_id, engagement_id, engagement_revision, engagement_type, zone_id,
                    state, tgl_name, done, engagement_name
             FROM event_shapes WHERE id = ?1",
        )
        .map_err(sql_err)?;
    let mut rows = stmt.query([id]).map_err(sql_err)?;
    let r = rows
        .next()
        .map_err(sql_err)?
        .ok_or_else(|| bad("missing"))?;
    let u64_at = |i: usize| -> Result<Option<u64>, StoreError> {
        match r.get_ref(i).map_err(sql_err)? {
            rusqlite::types::ValueRef::Null => Ok(None),
            v => read_u64(v).map(Some).ok_or_else(|| bad("a number column")),
        }
    };
    let required = |i: usize| u64_at(i)?.ok_or_else(|| bad("a missing number"));
    let engagement_type = match u64_at(3)? {
        None => None,
        Some(code) => Some(EngagementType::from_code(code).ok_or_else(|| bad("engagement type"))?),
    };
    let state = match u64_at(5)? {
        None => None,
        Some(code) => Some(AgentState::from_code(code).ok_or_else(|| bad("state"))?),
    };
    Ok(OfferData {
        context_id: String::new(),
        page_context_id: String::new(),
        conf_key: ConfKey {
            campaign_id: required(0)?,
            engagement_id: required(1)?,
            engagement_revision: required(2)?,
        },
        engagement_type,
        zone_id: u64_at(4)?,
        state,
        tgl_name: r.get(6).map_err(sql_err)?,
        done: r.get(7).map_err(sql_err)?,
        engagement_name: r.get(8).map_err(sql_err)?,
    })
}

/// An event of a run as the model has it: the shape's data with the run's context id and
/// the page context id (the event's own, or the page's).
pub(crate) fn offer_event(
    shapes: &mut ShapeReader,
    conn: &Connection,
    e: &StoredRunEvent,
    context_id: &str,
    page_id: Option<&str>,
) -> Result<OfferEvent, StoreError> {
    let mut data = shapes.data(conn, e.shape)?.clone();
    context_id.clone_into(&mut data.context_id);
    data.page_context_id = match (&e.page_context_id, page_id) {
        (Some(own), _) => own.clone(),
        (None, Some(page)) => page.to_owned(),
        (None, None) => return Err(corrupt("an event without its page context")),
    };
    Ok(OfferEvent { name: e.name, data })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::sample;

    fn prepared(id: &str, time: Option<i64>, page_context: &str) -> PreparedEvent {
        let mut e = sample::event("OFFER_CLICK", "ctx", "page");
        e.data.page_context_id = page_context.to_owned();
        PreparedEvent {
            client_id: ClientKey::new(id.to_owned()),
            client_time_ms: time,
            page_context: ClientKey::new(page_context.to_owned()),
            event: e,
        }
    }

    #[test]
    fn a_run_reads_back_as_it_was_written() {
        let uuid = "0190f0e2-7b1c-7a00-8000-00000000002a";
        let events = [
            prepared(uuid, Some(0x0190_f0e2_7b1c), uuid),
            prepared(uuid, Some(1_750_000_000_000), uuid),
            prepared("evt-1", None, "page-x"),
            prepared("", Some(1_750_000_009_999), ""),
            prepared(&"é".repeat(200), Some(i64::MIN), uuid),
        ];
        let shapes = [1, 2, 300, 0, i64::from(u32::MAX)];
        let run: Vec<RunEvent<'_>> = events
            .iter()
            .enumerate()
            .map(|(i, e)| RunEvent::of(e, shapes[i], (i < 2).then_some(uuid)))
            .collect();
        let blob = encode_run(&run, 1_750_000_005_000);
        let back = decode_run(&blob, 1_750_000_005_000).unwrap();
        assert_eq!(back.len(), 5);
        for (i, (b, e)) in back.iter().zip(&events).enumerate() {
            assert_eq!(b.name, OfferEventName::OfferClick);
            assert_eq!(b.shape, shapes[i]);
            assert_eq!(
                Some(b.client_id.clone()),
                ClientKey::read(match &e.client_id {
                    ClientKey::Uuid(bytes) => rusqlite::types::ValueRef::Blob(bytes),
                    ClientKey::Text(t) => rusqlite::types::ValueRef::Text(t.as_bytes()),
                })
            );
            assert_eq!(b.client_time_ms, e.client_time_ms);
            let own = (i >= 2).then(|| e.event.data.page_context_id.clone());
            assert_eq!(b.page_context_id, own);
        }
        // A UUIDv7 made at the event's time and a lag under 2^13 ms: 15 bytes.
        let at = 0x0190_f0e2_7b1c_i64;
        let small = encode_run(&run[..1], at + 100);
        assert_eq!(small.len(), 1 + 1 + 1 + 10 + 2);
        let back = decode_run(&small, at + 100).unwrap();
        assert_eq!(back[0].client_id, uuid);
        assert_eq!(back[0].client_time_ms, Some(at));
        assert!(decode_run(&blob[..blob.len() - 1], 1_750_000_005_000).is_none());
    }
}
