//! LP_OFFERS events as stored since schema version 3: packed runs and a shape dictionary,
//! the layout the SQLite store has used since its version 9 (`sqlite::events`,
//! `sqlite::compact`), in PostgreSQL's terms.
//!
//! - `event_shapes (account, shape_id)`: what every event of an engagement repeats
//!   (campaign, engagement, revision, type, zone, state, renderer, `done`, name), one row
//!   per distinct combination of an account; a unique index over the whole combination
//!   (`NULLS NOT DISTINCT`) makes two servers that meet a new one at once agree on one id.
//! - `event_runs`: the events of one batch and one interaction, packed into one `bytea`
//!   with `sqlite::events::encode_run` (about 16 bytes an event: name code, shape,
//!   client id, client time as a lag, page context only when it is not the page's id),
//!   partitioned by server time like `sdes`. One row and two index entries per run
//!   instead of per event.
//! - Exactly-once stays per item in `event_ids`.
//! - The frequency cap and the `ended` filter read flags of the interaction row
//!   (`impressed`, `ended`) instead of the events.

use std::collections::HashMap;

use deadpool_postgres::Transaction;
use engage_model::{AgentState, ConfKey, EngagementType, OfferData, OfferEvent, OfferEventName};

use super::{from_sql_u64, pg_err, to_sql_u64};
use crate::sqlite::events::StoredRunEvent;
use crate::StoreError;

/// What an event repeats of its engagement: the key of `event_shapes`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ShapeKey {
    pub campaign_id: i64,
    pub engagement_id: i64,
    pub engagement_revision: i64,
    pub engagement_type: Option<i16>,
    pub zone_id: Option<i64>,
    pub state: Option<i16>,
    pub tgl_name: Option<String>,
    pub done: Option<bool>,
    pub engagement_name: Option<String>,
}

impl ShapeKey {
    pub fn of(d: &OfferData) -> ShapeKey {
        ShapeKey {
            campaign_id: to_sql_u64(d.conf_key.campaign_id),
            engagement_id: to_sql_u64(d.conf_key.engagement_id),
            engagement_revision: to_sql_u64(d.conf_key.engagement_revision),
            engagement_type: d.engagement_type.map(|t| i16::from(t.code())),
            zone_id: d.zone_id.map(to_sql_u64),
            state: d.state.map(|s| i16::from(s.code())),
            tgl_name: d.tgl_name.clone(),
            done: d.done,
            engagement_name: d.engagement_name.clone(),
        }
    }
}

/// The shape ids of `shapes` (each `(account, key)`), inserting the new ones in `tx`;
/// each with whether it was committed before (only those may be cached: a shape this
/// transaction inserted is gone if it rolls back).
pub(crate) async fn shape_ids(
    tx: &Transaction<'_>,
    shapes: &[(&str, ShapeKey)],
) -> Result<HashMap<(String, ShapeKey), (i64, bool)>, tokio_postgres::Error> {
    let mut ids = HashMap::new();
    if shapes.is_empty() {
        return Ok(ids);
    }
    let mut cols = ShapeColumns::default();
    for (account, k) in shapes {
        cols.push(account, k);
    }
    // Inserted or read in one statement; a shape another transaction committed after
    // it began is read again below.
    let sql = "WITH t AS (
             SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[],
                 $5::smallint[], $6::bigint[], $7::smallint[], $8::text[], $9::boolean[],
                 $10::text[]) AS t(a, c, e, r, ty, z, st, tg, d, n)),
         ins AS (
             INSERT INTO event_shapes AS s (account, campaign_id, engagement_id,
                 engagement_revision, engagement_type, zone_id, state, tgl_name, done,
                 engagement_name)
             SELECT * FROM t ON CONFLICT DO NOTHING
             RETURNING s.*)
         SELECT *, false FROM ins
         UNION ALL
         SELECT s.*, true FROM event_shapes s JOIN t ON s.account = t.a AND s.campaign_id = t.c
             AND s.engagement_id = t.e AND s.engagement_revision = t.r
             AND s.engagement_type IS NOT DISTINCT FROM t.ty
             AND s.zone_id IS NOT DISTINCT FROM t.z AND s.state IS NOT DISTINCT FROM t.st
             AND s.tgl_name IS NOT DISTINCT FROM t.tg AND s.done IS NOT DISTINCT FROM t.d
             AND s.engagement_name IS NOT DISTINCT FROM t.n";
    for _ in 0..2 {
        let statement = tx.prepare_cached(sql).await?;
        let rows = tx.query(&statement, &cols.params()).await?;
        for r in &rows {
            let (account, id, key) = shape_row(r)?;
            // The first sighting decides: on the second pass this transaction's own
            // inserts are visible as if they were committed.
            let committed: bool = r.try_get(11)?;
            ids.entry((account, key)).or_insert((id, committed));
        }
        if shapes
            .iter()
            .all(|(a, k)| ids.contains_key(&((*a).to_owned(), k.clone())))
        {
            break;
        }
    }
    Ok(ids)
}

/// `event_shapes` columns in order: account, shape_id, then the key.
fn shape_row(r: &tokio_postgres::Row) -> Result<(String, i64, ShapeKey), tokio_postgres::Error> {
    Ok((
        r.try_get(0)?,
        r.try_get(1)?,
        ShapeKey {
            campaign_id: r.try_get(2)?,
            engagement_id: r.try_get(3)?,
            engagement_revision: r.try_get(4)?,
            engagement_type: r.try_get(5)?,
            zone_id: r.try_get(6)?,
            state: r.try_get(7)?,
            tgl_name: r.try_get(8)?,
            done: r.try_get(9)?,
            engagement_name: r.try_get(10)?,
        },
    ))
}

#[derive(Default)]
struct ShapeColumns<'a> {
    account: Vec<&'a str>,
    campaign: Vec<i64>,
    engagement: Vec<i64>,
    revision: Vec<i64>,
    engagement_type: Vec<Option<i16>>,
    zone: Vec<Option<i64>>,
    state: Vec<Option<i16>>,
    tgl_name: Vec<Option<&'a str>>,
    done: Vec<Option<bool>>,
    engagement_name: Vec<Option<&'a str>>,
}

impl<'a> ShapeColumns<'a> {
    fn push(&mut self, account: &'a str, k: &'a ShapeKey) {
        self.account.push(account);
        self.campaign.push(k.campaign_id);
        self.engagement.push(k.engagement_id);
        self.revision.push(k.engagement_revision);
        self.engagement_type.push(k.engagement_type);
        self.zone.push(k.zone_id);
        self.state.push(k.state);
        self.tgl_name.push(k.tgl_name.as_deref());
        self.done.push(k.done);
        self.engagement_name.push(k.engagement_name.as_deref());
    }

    fn params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 10] {
        [
            &self.account,
            &self.campaign,
            &self.engagement,
            &self.revision,
            &self.engagement_type,
            &self.zone,
            &self.state,
            &self.tgl_name,
            &self.done,
            &self.engagement_name,
        ]
    }
}

/// The account's shapes with these ids, as event data without the ids.
pub(crate) async fn load_shapes<C: tokio_postgres::GenericClient>(
    client: &C,
    account: &str,
    ids: &[i64],
) -> Result<HashMap<i64, OfferData>, StoreError> {
    let rows = client
        .query(
            "SELECT account, shape_id, campaign_id, engagement_id, engagement_revision,
                    engagement_type, zone_id, state, tgl_name, done, engagement_name
             FROM event_shapes WHERE account = $1 AND shape_id = ANY($2)",
            &[&account, &ids],
        )
        .await
        .map_err(pg_err)?;
    let mut shapes = HashMap::with_capacity(rows.len());
    for r in &rows {
        let (_, id, k) = shape_row(r).map_err(pg_err)?;
        shapes.insert(id, shape_data(id, k)?);
    }
    Ok(shapes)
}

fn shape_data(id: i64, k: ShapeKey) -> Result<OfferData, StoreError> {
    let bad = |what: &str| crate::sqlite::reader::corrupt(format!("event shape {id}: {what}"));
    let engagement_type = match k.engagement_type {
        None => None,
        Some(code) => Some(
            u64::try_from(code)
                .ok()
                .and_then(EngagementType::from_code)
                .ok_or_else(|| bad("engagement type"))?,
        ),
    };
    let state = match k.state {
        None => None,
        Some(code) => Some(
            u64::try_from(code)
                .ok()
                .and_then(AgentState::from_code)
                .ok_or_else(|| bad("state"))?,
        ),
    };
    Ok(OfferData {
        context_id: String::new(),
        page_context_id: String::new(),
        conf_key: ConfKey {
            campaign_id: from_sql_u64(k.campaign_id),
            engagement_id: from_sql_u64(k.engagement_id),
            engagement_revision: from_sql_u64(k.engagement_revision),
        },
        engagement_type,
        zone_id: k.zone_id.map(from_sql_u64),
        state,
        tgl_name: k.tgl_name,
        done: k.done,
        engagement_name: k.engagement_name,
    })
}

/// An event of a run as the model has it: its shape's data with the interaction's
/// context id and the page context id (its own, or the run's page's).
pub(crate) fn offer_event(
    shapes: &HashMap<i64, OfferData>,
    e: &StoredRunEvent,
    context_id: &str,
    page_id: Option<&str>,
) -> Result<OfferEvent, StoreError> {
    use crate::sqlite::reader::corrupt;
    let mut data = shapes
        .get(&e.shape)
        .ok_or_else(|| corrupt(format!("event shape {} is missing", e.shape)))?
        .clone();
    context_id.clone_into(&mut data.context_id);
    data.page_context_id = match (&e.page_context_id, page_id) {
        (Some(own), _) => own.clone(),
        (None, Some(page)) => page.to_owned(),
        (None, None) => return Err(corrupt("an event without its page context")),
    };
    Ok(OfferEvent { name: e.name, data })
}

/// Whether an event ends its interaction (the `ended` filter).
pub(crate) fn ends(name: OfferEventName) -> bool {
    matches!(
        name,
        OfferEventName::OfferDeclined | OfferEventName::OfferTimeout | OfferEventName::OfferRemove
    )
}

/// An attribute's history JSON from its `sdes` row: `packed` (schema 4 on) or `history`
/// (rows written before).
pub(crate) fn stored_history(history: Option<&str>, packed: Option<&[u8]>) -> Option<String> {
    match (packed, history) {
        (Some(bytes), _) => {
            crate::sqlite::compact::unpack_history(rusqlite::types::ValueRef::Blob(bytes))
        }
        (None, Some(text)) => Some(text.to_owned()),
        (None, None) => None,
    }
}
