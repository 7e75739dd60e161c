//! A batch made ready for the writer: everything that can be serialized is serialized
//! here, on the caller's task, so the one writer thread only binds and steps statements.

use engage_model::{Sde, Stamps};

use crate::{IngestBatch, NewEvent, QuarantineKind, StoreError};

pub(crate) struct PreparedBatch {
    pub account: String,
    pub received_ms: i64,
    pub visit: Option<PreparedVisit>,
    pub events: Vec<NewEvent>,
    pub sdes: Vec<PreparedSde>,
    pub rejected: Vec<PreparedQuarantine>,
}

pub(crate) struct PreparedVisit {
    pub visitor_id: String,
    pub session_id: String,
    pub page_id: String,
    pub user_agent: Option<String>,
    pub url: Option<String>,
    pub referrer: Option<String>,
    pub title: Option<String>,
    /// JSON array.
    pub sections: String,
}

pub(crate) struct PreparedSde {
    pub client_id: String,
    pub client_time_ms: Option<i64>,
    pub sde: Sde,
    /// History shape without stamps: they are columns, and export adds them back.
    pub history: String,
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
                visitor_id: visit.visitor_id,
                session_id: visit.session_id,
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
            Ok(PreparedSde {
                history: json(&item.sde.to_history(Stamps::default()))?,
                client_id: item.client_id,
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
        events: batch.events,
        sdes,
        rejected,
    })
}
