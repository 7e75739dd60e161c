//! A batch made ready for the writer: everything that can be serialized is serialized
//! here, on the caller's task, so the one writer thread only binds and steps statements.

use engage_model::{OfferEvent, Sde, Stamps};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::ToSql;

use crate::{IngestBatch, QuarantineKind, StoreError};

/// A client id as stored. The tag's ids are UUIDs in their canonical lowercase text;
/// those are stored as their 16 bytes (a BLOB), which takes 40 bytes less per item in
/// the row and the unique index and compares faster. Anything else is stored as the
/// text it is. The mapping is one to one (only the canonical form becomes a BLOB, and a
/// BLOB never equals a TEXT), so deduplication stays exact and export gives back the id
/// as it was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ClientKey {
    Uuid([u8; 16]),
    Text(String),
}

impl ClientKey {
    pub fn new(id: String) -> ClientKey {
        match canonical_uuid(&id) {
            Some(bytes) => ClientKey::Uuid(bytes),
            None => ClientKey::Text(id),
        }
    }

    /// The id as it was sent, from a stored `client_id`.
    pub fn read(value: ValueRef<'_>) -> Option<String> {
        match value {
            ValueRef::Text(t) => String::from_utf8(t.to_vec()).ok(),
            ValueRef::Blob(b) => <[u8; 16]>::try_from(b).ok().map(|b| uuid_text(&b)),
            ValueRef::Null | ValueRef::Integer(_) | ValueRef::Real(_) => None,
        }
    }
}

impl ToSql for ClientKey {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            ClientKey::Uuid(bytes) => ToSqlOutput::Borrowed(ValueRef::Blob(bytes)),
            ClientKey::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
        })
    }
}

/// The 16 bytes of `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in lowercase hex, and only of that.
pub(crate) fn canonical_uuid(text: &str) -> Option<[u8; 16]> {
    let bytes = text.as_bytes();
    if bytes.len() != 36 {
        return None;
    }
    let mut out = [0u8; 16];
    let mut nibbles = 0;
    for (i, &c) in bytes.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if c != b'-' {
                return None;
            }
            continue;
        }
        let v = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        };
        out[nibbles / 2] |= if nibbles % 2 == 0 { v << 4 } else { v };
        nibbles += 1;
    }
    Some(out)
}

pub(crate) fn uuid_text(bytes: &[u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

pub(crate) struct PreparedBatch {
    pub account: String,
    pub received_ms: i64,
    pub visit: Option<PreparedVisit>,
    pub events: Vec<PreparedEvent>,
    pub sdes: Vec<PreparedSde>,
    pub rejected: Vec<PreparedQuarantine>,
}

pub(crate) struct PreparedVisit {
    pub visitor_id: String,
    pub session_id: String,
    pub page_id: String,
    /// `page_id` as stored (see [`ClientKey`]).
    pub page_key: ClientKey,
    pub user_agent: Option<String>,
    pub url: Option<String>,
    pub referrer: Option<String>,
    pub title: Option<String>,
    /// JSON array.
    pub sections: String,
    /// `ClientProperties` as JSON.
    pub client: Option<String>,
}

pub(crate) struct PreparedEvent {
    pub client_id: ClientKey,
    pub client_time_ms: Option<i64>,
    pub event: OfferEvent,
    /// `event.data.page_context_id` as stored: 16 bytes for the tag's UUIDs.
    pub page_context: ClientKey,
}

pub(crate) struct PreparedSde {
    pub client_id: ClientKey,
    pub client_time_ms: Option<i64>,
    pub sde: Sde,
    /// History shape without stamps (they are columns, and export adds them back),
    /// packed (see `compact`).
    pub history: super::compact::PackedHistory,
    /// Its values as text for the attribute search index.
    pub search_text: String,
}

pub(crate) struct PreparedQuarantine {
    pub kind: QuarantineKind,
    pub index: Option<i64>,
    pub client_id: Option<String>,
    pub raw: String,
    pub context: String,
    pub errors: String,
}

impl PreparedBatch {
    /// Rows the batch may write, for the writer's group cap.
    pub fn len(&self) -> usize {
        self.events.len() + self.sdes.len() + self.rejected.len()
    }
}

fn json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Backend(format!("serializing: {e}")))
}

pub(crate) fn prepare(batch: IngestBatch) -> Result<PreparedBatch, StoreError> {
    let received_ms = batch.received_ms;
    let visit = match batch.visit {
        None => None,
        Some(visit) => {
            let page = visit.page.unwrap_or_default();
            Some(PreparedVisit {
                sections: json(&page.sections)?,
                client: visit.client.as_ref().map(json).transpose()?,
                visitor_id: visit.visitor_id,
                session_id: visit.session_id,
                page_key: ClientKey::new(visit.page_id.clone()),
                page_id: visit.page_id,
                user_agent: visit.user_agent,
                url: page.url,
                referrer: page.referrer,
                title: page.title,
            })
        }
    };
    let sdes = batch
        .sdes
        .into_iter()
        .map(|item| {
            let history = item.sde.to_history(Stamps::default()).to_json();
            Ok(PreparedSde {
                search_text: super::history::search_text(&history),
                history: super::compact::pack_history(&history),
                client_id: ClientKey::new(item.client_id),
                client_time_ms: item.client_time_ms,
                sde: item.sde,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let rejected = batch
        .rejected
        .into_iter()
        .map(|q| {
            Ok(PreparedQuarantine {
                kind: q.kind,
                index: q.index.and_then(|i| i64::try_from(i).ok()),
                client_id: q.client_id,
                context: json(&q.context)?,
                errors: json(&q.errors)?,
                raw: q.raw,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(PreparedBatch {
        account: batch.account_id,
        received_ms,
        visit,
        events: batch
            .events
            .into_iter()
            .map(|e| PreparedEvent {
                client_id: ClientKey::new(e.client_id),
                client_time_ms: e.client_time_ms,
                page_context: ClientKey::new(e.event.data.page_context_id.clone()),
                event: e.event,
            })
            .collect(),
        sdes,
        rejected,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_canonical_lowercase_uuids_become_bytes_and_every_id_reads_back_as_sent() {
        let ids = [
            "0190f0e2-7b1c-7a00-8000-00000000002a",
            "0190F0E2-7B1C-7A00-8000-00000000002A",
            "0190f0e27b1c7a00800000000000002a",
            "0190f0e2-7b1c-7a00-8000-00000000002",
            "0190f0e2-7b1c-7a00-8000_00000000002a",
            "zz90f0e2-7b1c-7a00-8000-00000000002a",
            "evt-1",
            "",
        ];
        for id in ids {
            let key = ClientKey::new(id.to_owned());
            assert_eq!(matches!(key, ClientKey::Uuid(_)), id == ids[0], "{id}");
            let stored = key.to_sql().unwrap();
            let ToSqlOutput::Borrowed(value) = stored else {
                panic!("borrowed")
            };
            assert_eq!(ClientKey::read(value).as_deref(), Some(id));
        }
    }
}
