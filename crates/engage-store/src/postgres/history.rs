//! Interaction search for the Engagement History API, on PostgreSQL.
//!
//! `interactions` holds one row per engagement context, kept by the writers as events
//! arrive; a search reads it and its indexes, never the events (except the `ended`
//! filter for clicked interactions, through `events_interaction`).
//!
//! Text search: each attribute row keeps its searchable values (the same values the
//! SQLite backend indexes, see `sqlite::history::search_text`) as `words`: lowercase
//! words, split at every character that is not a letter or digit, each between single
//! spaces. A search's words match as a phrase: ` w1 w2 ` must occur in `words` of an
//! attribute of a chosen type, which is what the SQLite backend's FTS5 phrase query
//! (unicode61 tokenizer) matches too, diacritics aside (FTS5 folds `é` to `e`, this
//! does not).

use std::collections::HashMap;

use deadpool_postgres::Transaction;
use engage_model::{EngagementType, SdeType};
use tokio_postgres::types::ToSql;

use super::{from_sql_u64, pg_err, to_sql_u64};
use crate::sqlite::reader::{corrupt, stamped};
use crate::{
    Interaction, InteractionCampaign, InteractionFilters, InteractionPage, InteractionQuery,
    Outcome, RawJson, SortField, StoreError, StoredEvent, TextSearch,
};

/// `text`'s words, lowercase, each between single spaces (`" a b "`; `""` for none).
pub(crate) fn words(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if out.is_empty() {
            out.push(' ');
        }
        for c in word.chars() {
            out.extend(c.to_lowercase());
        }
        out.push(' ');
    }
    out
}

/// An attribute type's code: its position in [`SdeType::ALL`].
pub(crate) fn sde_type_code(t: SdeType) -> i16 {
    SdeType::ALL
        .iter()
        .position(|x| *x == t)
        .and_then(|p| i16::try_from(p).ok())
        .unwrap_or(i16::MAX)
}

/// The LIKE pattern of a search (its words are letters and digits only, so nothing in
/// them is a LIKE wildcard), and its type codes. `None`: no word to look for, which
/// matches nothing.
fn pattern(search: &TextSearch) -> Option<(String, Vec<i16>)> {
    let w = words(&search.text);
    if w.is_empty() {
        return None;
    }
    let types = if search.types.is_empty() {
        &SdeType::ALL[..]
    } else {
        &search.types[..]
    };
    Some((
        format!("%{w}%"),
        types.iter().map(|t| sde_type_code(*t)).collect(),
    ))
}

/// The words of a LIKE pattern of [`pattern`] as a phrase for `phraseto_tsquery`, when
/// PostgreSQL's parser surely keeps each of them as one lexeme, as it was (ASCII
/// letters and digits, shorter than the 2,047 bytes a lexeme may have); `None` sends the
/// search to the LIKE alone, which is exact but reads every attribute of the account.
fn indexable_phrase(like: &str) -> Option<String> {
    let phrase = like.trim_matches(|c| c == '%' || c == ' ');
    let plain = !phrase.is_empty()
        && phrase.split(' ').all(|w| {
            !w.is_empty() && w.len() < 1_000 && w.bytes().all(|b| b.is_ascii_alphanumeric())
        });
    plain.then(|| phrase.to_owned())
}

type Arg = Box<dyn ToSql + Sync + Send>;

/// The WHERE clause of a search and its parameters (`$1` is the account).
struct Filter {
    sql: String,
    args: Vec<Arg>,
}

impl Filter {
    fn arg(&mut self, value: Arg) -> String {
        self.args.push(value);
        format!("${}", self.args.len())
    }

    /// `None` when the query can match nothing.
    fn new(account: &str, q: &InteractionFilters) -> Option<Filter> {
        if q.matches_nothing {
            return None;
        }
        let mut f = Filter {
            sql: String::new(),
            args: vec![Box::new(account.to_owned())],
        };
        let from = f.arg(Box::new(q.start_from_ms));
        let to = f.arg(Box::new(q.start_to_ms));
        f.sql = format!("i.account = $1 AND i.start_ms >= {from} AND i.start_ms <= {to}");
        if let Some(id) = &q.interaction_id {
            let p = f.arg(Box::new(id.clone()));
            f.sql.push_str(&format!(" AND i.context_id = {p}"));
        }
        if let Some(visitor) = &q.visitor {
            // An array, computed once: without statistics (a table just loaded) the
            // planner ran the semi-join as a probe of visits for every interaction of
            // the range.
            let p = f.arg(Box::new(visitor.clone()));
            f.sql.push_str(&format!(
                " AND i.visit_id = ANY(ARRAY(SELECT visit_id FROM visits WHERE account = $1 AND visitor_id = {p}))"
            ));
        }
        if !q.campaign_ids.is_empty() {
            let ids: Vec<i64> = q.campaign_ids.iter().map(|v| to_sql_u64(*v)).collect();
            let p = f.arg(Box::new(ids));
            f.sql.push_str(&format!(" AND i.campaign_id = ANY({p})"));
        }
        if !q.engagement_ids.is_empty() {
            let ids: Vec<i64> = q.engagement_ids.iter().map(|v| to_sql_u64(*v)).collect();
            let p = f.arg(Box::new(ids));
            f.sql.push_str(&format!(" AND i.engagement_id = ANY({p})"));
        }
        if !q.engagement_types.is_empty() {
            // An app's impressions do not say the type; the record shows the definition's,
            // so the filter reads it too (only for those rows).
            let codes: Vec<i32> = q
                .engagement_types
                .iter()
                .map(|t: &EngagementType| i32::from(t.code()))
                .collect();
            let p = f.arg(Box::new(codes));
            f.sql.push_str(&format!(
                " AND coalesce(i.engagement_type::integer, (
                     SELECT (r.definition::jsonb ->> 'engagementType')::integer
                     FROM engagements e JOIN engagement_revisions r
                       ON r.account = e.account AND r.engagement_id = e.engagement_id
                     WHERE e.account = i.account AND e.engagement_id = i.engagement_id
                       AND r.revision = i.engagement_revision)) = ANY({p})"
            ));
        }
        if !q.outcomes.is_empty() {
            let ranks: Vec<i16> = q.outcomes.iter().map(|o| i16::from(o.rank())).collect();
            let p = f.arg(Box::new(ranks));
            f.sql.push_str(&format!(" AND i.outcome = ANY({p})"));
        }
        let clicked = Outcome::Clicked.rank();
        match q.interactive {
            // A click outranks every other event, so the outcome says whether there is one.
            Some(true) => f.sql.push_str(&format!(" AND i.outcome = {clicked}")),
            Some(false) => f.sql.push_str(&format!(" AND i.outcome <> {clicked}")),
            None => {}
        }
        if !q.include_bots {
            f.sql.push_str(" AND i.bot = 0");
        }
        if let Some(ended) = q.ended {
            // The interaction row keeps whether an ending event arrived.
            f.sql.push_str(if ended {
                " AND i.ended"
            } else {
                " AND NOT i.ended"
            });
        }
        if let Some((from, to)) = q.duration_s {
            // Seconds above i64::MAX are no bound at all.
            let from = f.arg(Box::new(i64::try_from(from).unwrap_or(i64::MAX)));
            let to = f.arg(Box::new(i64::try_from(to).unwrap_or(i64::MAX)));
            f.sql.push_str(&format!(
                " AND (i.end_ms - i.start_ms) / 1000 BETWEEN {from} AND {to}"
            ));
        }
        for search in q.keyword.iter().chain(&q.sde_search) {
            let (like, types) = pattern(search)?;
            // The phrase through the full-text index (`sdes_words`) where the index
            // surely holds its words; the LIKE keeps the answer exact either way.
            let indexed = indexable_phrase(&like).map(|phrase| {
                let phrase = f.arg(Box::new(phrase));
                format!(
                    " AND to_tsvector('simple', s.words) @@ phraseto_tsquery('simple', {phrase})"
                )
            });
            let like = f.arg(Box::new(like));
            let types = f.arg(Box::new(types));
            // An array, computed once: as a semi-join the planner would look the
            // attributes up once per interaction of the range.
            f.sql.push_str(&format!(
                " AND i.visit_id = ANY(ARRAY(SELECT s.visit_id FROM sdes s
                     WHERE s.account = $1 AND s.visit_id IS NOT NULL{}
                       AND s.sde_type = ANY({types}) AND s.words LIKE {like}))",
                indexed.unwrap_or_default()
            ));
        }
        Some(f)
    }
}

/// ORDER BY for the sort keys, ordered as SQLite orders them (NULLS first ascending,
/// text by bytes); ties end in row order, in the first key's direction. Keys that are
/// never NULL name no NULLS order, so that a time order matches `interactions_start`
/// (read backwards for a descending one) and a page is read off the index instead of
/// sorting the range.
fn order_by(q: &InteractionQuery) -> String {
    let mut keys: Vec<String> = q
        .sort
        .iter()
        .map(|k| {
            let (column, nullable) = match k.field {
                SortField::Start => ("i.start_ms".to_owned(), false),
                SortField::End => ("i.end_ms".to_owned(), false),
                SortField::Duration => ("(i.end_ms - i.start_ms)".to_owned(), false),
                SortField::Visitor => (
                    "(SELECT visitor_id FROM visits v
                     WHERE v.account = i.account AND v.visit_id = i.visit_id) COLLATE \"C\""
                        .to_owned(),
                    true,
                ),
                SortField::EngagementId => ("i.context_id COLLATE \"C\"".to_owned(), false),
                SortField::Interactive => {
                    (format!("(i.outcome = {})", Outcome::Clicked.rank()), false)
                }
            };
            match (k.descending, nullable) {
                (true, true) => format!("{column} DESC NULLS LAST"),
                (false, true) => format!("{column} ASC NULLS FIRST"),
                (true, false) => format!("{column} DESC"),
                (false, false) => format!("{column} ASC"),
            }
        })
        .collect();
    let last = q.sort.first().is_some_and(|k| k.descending);
    keys.push(format!(
        "i.interaction_id {}",
        if last { "DESC" } else { "ASC" }
    ));
    keys.join(", ")
}

/// Schema version 16: the time index of interactions ends in the row order, the
/// tie-break of every sort, so that a page in time order is read off it (a deep page
/// skips its offset in the index); it and the campaign index carry the bot flag, so
/// that a count of a range without bots reads an index alone where the table's
/// visibility map allows.
pub(crate) const START_ORDER_MIGRATION: &str = "
DROP INDEX interactions_start;
CREATE INDEX interactions_start ON interactions (account, start_ms, interaction_id) INCLUDE (bot);
DROP INDEX interactions_campaign;
CREATE INDEX interactions_campaign ON interactions (account, campaign_id, start_ms) INCLUDE (bot);
";

pub(crate) async fn search(
    client: &mut deadpool_postgres::Object,
    account: &str,
    q: &InteractionQuery,
) -> Result<InteractionPage, StoreError> {
    let Some(filter) = Filter::new(account, &q.filters) else {
        return Ok(InteractionPage {
            count: 0,
            records: Vec::new(),
        });
    };
    // One snapshot: the count and the page see the same commits.
    let tx = client
        .build_transaction()
        .read_only(true)
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .start()
        .await
        .map_err(pg_err)?;
    let params: Vec<&(dyn ToSql + Sync)> = filter
        .args
        .iter()
        .map(|a| a.as_ref() as &(dyn ToSql + Sync))
        .collect();
    let mut ids = Vec::new();
    if q.limit > 0 {
        let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
        let offset = i64::try_from(q.offset).unwrap_or(i64::MAX);
        let mut params = params.clone();
        params.push(&limit);
        params.push(&offset);
        let n = params.len();
        let sql = format!(
            "SELECT i.interaction_id FROM interactions i WHERE {} ORDER BY {} LIMIT ${} OFFSET ${}",
            filter.sql,
            order_by(q),
            n - 1,
            n
        );
        ids = tx
            .query(&sql, &params)
            .await
            .map_err(pg_err)?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()
            .map_err(pg_err)?;
    }
    // A page that ends before its limit holds the last matches (the same snapshot), so
    // it says the count: most searches of a visitor or an attribute need no count of
    // their own.
    let found = u64::try_from(ids.len()).unwrap_or(u64::MAX);
    let ended = ids.len() < q.limit && (!ids.is_empty() || q.offset == 0);
    let count = if ended {
        q.offset.saturating_add(found)
    } else {
        let count: i64 = tx
            .query_one(
                &format!("SELECT count(*) FROM interactions i WHERE {}", filter.sql),
                &params,
            )
            .await
            .map_err(pg_err)?
            .try_get(0)
            .map_err(pg_err)?;
        u64::try_from(count).unwrap_or_default()
    };
    let records = interactions(&tx, account, &ids).await?;
    tx.commit().await.map_err(pg_err)?;
    Ok(InteractionPage { count, records })
}

/// A page of interactions, in the order of `ids`, each with its timeline and its visit's
/// attributes: three queries for the whole page (and one for the event shapes), not
/// three per record. What an interaction's events did not say (the Monitoring API's
/// impressions carry no renderer or name) comes from the engagement's definition at that
/// revision, when the account has it.
async fn interactions(
    tx: &Transaction<'_>,
    account: &str,
    ids: &[i64],
) -> Result<Vec<Interaction>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let statement = tx
        .prepare_cached(
            "SELECT i.interaction_id, i.context_id, i.start_ms, i.end_ms, i.outcome,
                    i.campaign_id, i.engagement_id, i.engagement_revision, i.engagement_type,
                    i.zone_id, i.tgl_name, i.engagement_name,
                    v.visitor_id, v.session_id, p.page_id, p.url,
                    coalesce(p.user_agent, v.user_agent), v.referrer, c.name,
                    v.client_properties, i.visit_id,
                    r.definition::jsonb ->> 'engagementType',
                    r.definition::jsonb ->> 'zoneId',
                    r.definition::jsonb ->> 'tglName',
                    r.definition::jsonb ->> 'name'
             FROM interactions i
             LEFT JOIN visits v ON v.account = i.account AND v.visit_id = i.visit_id
             LEFT JOIN pages p ON p.account = i.account AND p.page_row = i.page_row
             LEFT JOIN campaigns c ON c.account = i.account AND c.campaign_id = i.campaign_id
             LEFT JOIN engagements e ON e.account = i.account
                 AND e.engagement_id = i.engagement_id AND e.campaign_id = i.campaign_id
             LEFT JOIN engagement_revisions r ON r.account = e.account
                 AND r.engagement_id = e.engagement_id AND r.revision = i.engagement_revision
             WHERE i.account = $1 AND i.interaction_id = ANY($2)",
        )
        .await
        .map_err(pg_err)?;
    let rows = tx
        .query(&statement, &[&account, &ids])
        .await
        .map_err(pg_err)?;
    let mut found = HashMap::with_capacity(rows.len());
    let mut visits = Vec::with_capacity(rows.len());
    for r in &rows {
        let (id, visit_id, record) = interaction_row(r)?;
        if visit_id != 0 {
            visits.push(visit_id);
        }
        found.insert(id, (visit_id, record));
    }
    let mut timelines = timelines(tx, account, ids).await?;
    visits.sort_unstable();
    visits.dedup();
    let attributes = visit_attributes(tx, account, &visits).await?;
    ids.iter()
        .map(|id| {
            let (visit_id, mut record) = found
                .remove(id)
                .ok_or_else(|| corrupt(format!("interaction {id}: missing")))?;
            record.events = timelines.remove(id).unwrap_or_default();
            if let Some(sdes) = attributes.get(&visit_id) {
                record.sdes.clone_from(sdes);
            }
            Ok(record)
        })
        .collect()
}

/// One row of [`interactions`]' query: the interaction's id, its visit (0: none) and its
/// record without events or attributes.
fn interaction_row(r: &tokio_postgres::Row) -> Result<(i64, i64, Interaction), StoreError> {
    let id: i64 = r.try_get(0).map_err(pg_err)?;
    let bad = |what: &str| corrupt(format!("interaction {id}: {what}"));
    let get = |i: usize| -> Result<Option<String>, StoreError> { r.try_get(i).map_err(pg_err) };
    let num = |i: usize| -> Result<Option<i64>, StoreError> { r.try_get(i).map_err(pg_err) };
    let required = |i: usize| {
        num(i)?
            .map(from_sql_u64)
            .ok_or_else(|| bad("a missing number"))
    };
    let outcome: i16 = r.try_get(4).map_err(pg_err)?;
    let outcome = u8::try_from(outcome)
        .ok()
        .and_then(Outcome::from_rank)
        .ok_or_else(|| bad("outcome"))?;
    let defined_number = |i: usize| -> Result<Option<u64>, StoreError> {
        get(i)?
            .map(|t| t.parse::<u64>().map_err(|_| bad("a definition number")))
            .transpose()
    };
    let type_code = match r.try_get::<_, Option<i16>>(8).map_err(pg_err)? {
        Some(code) => u64::try_from(code).ok(),
        None => defined_number(21)?,
    };
    let engagement_type = match type_code {
        None => None,
        Some(code) => Some(EngagementType::from_code(code).ok_or_else(|| bad("engagement type"))?),
    };
    let zone_id = match num(9)? {
        Some(z) => Some(from_sql_u64(z)),
        None => defined_number(22)?,
    };
    let client = match get(19)? {
        None => None,
        Some(text) => {
            Some(serde_json::from_str(&text).map_err(|e| bad(&format!("client properties: {e}")))?)
        }
    };
    let visit_id: i64 = r.try_get(20).map_err(pg_err)?;
    let record = Interaction {
        interaction_id: r.try_get(1).map_err(pg_err)?,
        start_ms: r.try_get(2).map_err(pg_err)?,
        end_ms: r.try_get(3).map_err(pg_err)?,
        outcome,
        campaign: InteractionCampaign {
            campaign_id: required(5)?,
            campaign_name: get(18)?,
            engagement_id: required(6)?,
            engagement_name: get(11)?.or(get(24)?),
            engagement_revision: required(7)?,
            engagement_type,
            tgl_name: get(10)?.or(get(23)?),
            zone_id,
        },
        visitor_id: get(12)?,
        session_id: get(13)?,
        page_id: get(14)?,
        page_url: get(15)?,
        user_agent: get(16)?,
        referrer: get(17)?,
        client,
        events: Vec::new(),
        sdes: Vec::new(),
    };
    Ok((id, visit_id, record))
}

/// Each interaction's events by client time (server time where the page gave none),
/// then lifecycle order, then arrival.
async fn timelines(
    tx: &Transaction<'_>,
    account: &str,
    interaction_ids: &[i64],
) -> Result<HashMap<i64, Vec<StoredEvent>>, StoreError> {
    let statement = tx
        .prepare_cached(
            "SELECT r.interaction_id, r.run_row, r.server_ms, r.events, i.context_id, p.page_id
             FROM event_runs r
             JOIN interactions i
               ON i.account = r.account AND i.interaction_id = r.interaction_id
             LEFT JOIN pages p ON p.account = r.account AND p.page_row = r.page_row
             WHERE r.account = $1 AND r.interaction_id = ANY($2)",
        )
        .await
        .map_err(pg_err)?;
    let rows = tx
        .query(&statement, &[&account, &interaction_ids])
        .await
        .map_err(pg_err)?;
    let mut decoded = Vec::with_capacity(rows.len());
    let mut shape_ids = Vec::new();
    for r in &rows {
        let run: i64 = r.try_get(1).map_err(pg_err)?;
        let server_ms: i64 = r.try_get(2).map_err(pg_err)?;
        let blob: &[u8] = r.try_get(3).map_err(pg_err)?;
        let stored = crate::sqlite::events::decode_run(blob, server_ms)
            .ok_or_else(|| corrupt(format!("event run {run}")))?;
        shape_ids.extend(stored.iter().map(|e| e.shape));
        decoded.push((run, server_ms, stored));
    }
    shape_ids.sort_unstable();
    shape_ids.dedup();
    let shapes = super::runs::load_shapes(&**tx, account, &shape_ids).await?;
    let run_size = i64::try_from(crate::sqlite::events::MAX_RUN).unwrap_or(256);
    let mut events: HashMap<i64, Vec<(i64, StoredEvent)>> = HashMap::new();
    for (r, (run, server_ms, stored)) in rows.iter().zip(decoded) {
        let interaction_id: i64 = r.try_get(0).map_err(pg_err)?;
        let context_id: &str = r.try_get(4).map_err(pg_err)?;
        let page_id: Option<&str> = r.try_get(5).map_err(pg_err)?;
        let timeline = events.entry(interaction_id).or_default();
        for (pos, e) in stored.into_iter().enumerate() {
            let event = super::runs::offer_event(&shapes, &e, context_id, page_id)?;
            let at = run * run_size + i64::try_from(pos).unwrap_or(0);
            timeline.push((
                at,
                StoredEvent {
                    client_id: e.client_id,
                    client_time_ms: e.client_time_ms,
                    server_ms,
                    event,
                },
            ));
        }
    }
    Ok(events
        .into_iter()
        .map(|(id, mut timeline)| {
            timeline.sort_by_key(|(at, e)| {
                (e.client_time_ms.unwrap_or(e.server_ms), e.event.name, *at)
            });
            (id, timeline.into_iter().map(|(_, e)| e).collect())
        })
        .collect())
}

/// Each visit's attributes in history shape with their stamps, in client-time order
/// (server time where the page gave none), then storage order.
async fn visit_attributes(
    tx: &Transaction<'_>,
    account: &str,
    visit_ids: &[i64],
) -> Result<HashMap<i64, Vec<RawJson>>, StoreError> {
    let mut out: HashMap<i64, Vec<RawJson>> = HashMap::new();
    if visit_ids.is_empty() {
        return Ok(out);
    }
    let statement = tx
        .prepare_cached(
            "SELECT visit_id, sde_row, history, server_ms, client_ms, packed FROM sdes
             WHERE account = $1 AND visit_id = ANY($2)
             ORDER BY visit_id, coalesce(client_ms, server_ms), sde_row",
        )
        .await
        .map_err(pg_err)?;
    let rows = tx
        .query(&statement, &[&account, &visit_ids])
        .await
        .map_err(pg_err)?;
    for r in &rows {
        let visit_id: i64 = r.try_get(0).map_err(pg_err)?;
        let id: i64 = r.try_get(1).map_err(pg_err)?;
        let history = super::runs::stored_history(
            r.try_get(2).map_err(pg_err)?,
            r.try_get(5).map_err(pg_err)?,
        )
        .ok_or_else(|| corrupt(format!("attribute {id}")))?;
        let sde = stamped(
            &history,
            r.try_get(3).map_err(pg_err)?,
            r.try_get(4).map_err(pg_err)?,
        )
        .ok_or_else(|| corrupt(format!("attribute {id}")))?;
        out.entry(visit_id).or_default().push(sde);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_ascii_phrases_go_through_the_full_text_index() {
        assert_eq!(
            indexable_phrase("% drv1534xc women %").as_deref(),
            Some("drv1534xc women")
        );
        assert_eq!(indexable_phrase("% café %"), None);
        assert_eq!(indexable_phrase("%  %"), None);
        assert_eq!(
            indexable_phrase(&format!("% {} %", "a".repeat(2_000))),
            None
        );
    }

    #[test]
    fn words_are_lowercase_letters_and_digits_between_spaces() {
        assert_eq!(words("DRV1534XC"), " drv1534xc ");
        assert_eq!(
            words("red shoe ; john@example.com"),
            " red shoe john example com "
        );
        assert_eq!(words(" -- ; "), "");
        assert_eq!(words("\"Été"), " été ");
    }

    #[test]
    fn a_search_is_a_phrase_of_its_words_over_its_types() {
        let search = |text: &str, types: Vec<SdeType>| {
            pattern(&TextSearch {
                text: text.into(),
                types,
            })
        };
        assert_eq!(
            search("say \"hi\" 100%_x", vec![SdeType::Lead]),
            Some(("% say hi 100 x %".to_owned(), vec![6]))
        );
        assert_eq!(search("-- ; --", vec![]), None);
        assert_eq!(search("x", vec![]).map(|p| p.1.len()), Some(10));
    }
}
