//! The collect body parser: one request of `POST /api/account/{id}/events`, checked item
//! by item. Every item is validated on its own; the valid ones become store records and
//! the invalid ones quarantine entries with their errors (absolute JSON pointers into the
//! body). This function sees raw network bytes: it must never panic (a fuzz target runs it).

use engage_model::body::{push_pointer_token, Errors};
use engage_model::tape::Items;
use engage_model::{FieldError, Invalid, Node, OfferEvent, Sde, Tape, View, MAX_VALUE_CHARS};
use engage_store::{
    ClientProperties, NewEvent, NewQuarantine, NewSde, PageView, QuarantineKind, RawJson,
    VisitContext,
};
use serde::Serialize;

use super::form::FormSubmission;

/// Longest visitor, session, page or item id accepted.
pub const MAX_ID_CHARS: usize = 128;
/// Most sections one page may name.
pub const MAX_SECTIONS: usize = 100;

/// A batch whose envelope is valid, with its items sorted into accepted and rejected,
/// and its form submissions, which wait for their engagement's form ([`PendingForm`]).
#[derive(Debug, Clone)]
pub struct CollectBody {
    pub visit: VisitContext,
    pub events: Vec<NewEvent>,
    pub sdes: Vec<NewSde>,
    pub rejected: Vec<NewQuarantine>,
    pub forms: Vec<PendingForm>,
}

/// A form submission read from `sdes[index]`, to be checked against its engagement's
/// form ([`FormSubmission::check`]) before it becomes SDEs or a quarantine entry.
#[derive(Debug, Clone)]
pub struct PendingForm {
    pub index: usize,
    pub submission: FormSubmission,
    /// The item as it would be quarantined.
    raw: String,
}

/// How a rejected item is reported to the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub kind: QuarantineKind,
    pub index: usize,
    pub errors: Vec<FieldError>,
}

impl CollectBody {
    pub fn rejections(&self) -> Vec<Rejection> {
        self.rejected
            .iter()
            .map(|q| Rejection {
                kind: q.kind,
                index: q.index.unwrap_or(0),
                errors: q.errors.clone(),
            })
            .collect()
    }

    pub fn item_count(&self) -> usize {
        self.events.len() + self.sdes.len() + self.rejected.len() + self.forms.len()
    }

    /// Adds what a form submission's check gave: its SDEs, or its problems (relative to
    /// the item) as a quarantine entry; answers the entry's rejection.
    pub fn settle_form(
        &mut self,
        form: PendingForm,
        checked: Result<Vec<NewSde>, Invalid>,
    ) -> Option<Rejection> {
        match checked {
            Ok(sdes) => {
                self.sdes.extend(sdes);
                None
            }
            Err(invalid) => {
                let errors = invalid
                    .within(&pointer(&["sdes", &form.index.to_string()]))
                    .errors;
                self.rejected.push(NewQuarantine {
                    kind: QuarantineKind::Sde,
                    index: Some(form.index),
                    client_id: Some(form.submission.client_id),
                    raw: form.raw,
                    context: StoredContext::of(&self.visit).to_stored(),
                    errors: errors.clone(),
                });
                Some(Rejection {
                    kind: QuarantineKind::Sde,
                    index: form.index,
                    errors,
                })
            }
        }
    }
}

/// Why a whole body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Not JSON at all.
    Malformed(String),
    /// JSON, but the envelope (ids, page, the arrays) is wrong.
    Invalid(Invalid),
    /// More items than one request may carry.
    TooManyItems { found: usize, limit: usize },
}

impl CollectBody {
    /// Parses and validates one collect body. `user_agent` comes from the request headers.
    pub fn read(
        body: &[u8],
        user_agent: Option<&str>,
        max_items: usize,
    ) -> Result<CollectBody, BodyError> {
        let tape = Tape::parse(body).map_err(|e| BodyError::Malformed(e.to_string()))?;
        let json = tape.root();
        let Some(members) = json.members() else {
            return Err(BodyError::Invalid(Invalid::single(
            "",
            format!("expected an object with `visitorId`, `sessionId`, `pageId`, `events` and `sdes`, found {}", json.kind()),
        )));
        };
        let mut errors = Errors::new();
        for (i, (key, _)) in members.enumerate() {
            let known = matches!(
                key,
                "visitorId" | "sessionId" | "pageId" | "page" | "events" | "sdes"
            );
            if !known {
                errors.at(
                pointer(&[key]),
                format!("unknown field `{key}`, expected `visitorId`, `sessionId`, `pageId`, `page`, `events` or `sdes`"),
            );
            } else if members.take(i).any(|(k, _)| k == key) {
                errors.at(pointer(&[key]), format!("duplicate member `{key}`"));
            }
        }
        let visitor_id = required_id(json, "visitorId", &mut errors);
        let session_id = required_id(json, "sessionId", &mut errors);
        let page_id = required_id(json, "pageId", &mut errors);
        let page = json.get("page").and_then(|p| parse_page(p, &mut errors));
        let events = item_array(json, "events", &mut errors);
        let sdes = item_array(json, "sdes", &mut errors);
        let found = events.len() + sdes.len();
        if found > max_items {
            return Err(BodyError::TooManyItems {
                found,
                limit: max_items,
            });
        }
        let ids = match (visitor_id, session_id, page_id) {
            (Some(visitor_id), Some(session_id), Some(page_id)) => {
                Some((visitor_id, session_id, page_id))
            }
            _ => None,
        };
        let (visitor_id, session_id, page_id) = errors.finish(ids).map_err(BodyError::Invalid)?;
        let visit = VisitContext {
            visitor_id,
            session_id,
            page_id,
            page,
            user_agent: user_agent.map(|ua| truncate(ua, 1024)),
            client: None,
        };
        let mut batch = CollectBody {
            visit,
            events: Vec::with_capacity(events.len()),
            sdes: Vec::with_capacity(sdes.len()),
            rejected: Vec::new(),
            forms: Vec::new(),
        };
        // Built only when something is rejected: the common batch never needs it.
        let mut context = None;
        let items = events
            .map(|item| (QuarantineKind::Event, item))
            .enumerate()
            .chain(sdes.map(|item| (QuarantineKind::Sde, item)).enumerate());
        for (index, (kind, item)) in items {
            let invalid = match kind {
                QuarantineKind::Event => match parse_event_item(item) {
                    Ok(event) => {
                        batch.events.push(event);
                        continue;
                    }
                    Err(invalid) => invalid,
                },
                _ if FormSubmission::is_one(item) => match parse_form_item(item) {
                    Ok(submission) => {
                        batch.forms.push(PendingForm {
                            index,
                            submission,
                            // Cannot fail: a node's keys are strings and its numbers finite.
                            raw: serde_json::to_string(&item.sorted()).unwrap_or_default(),
                        });
                        continue;
                    }
                    Err(invalid) => invalid,
                },
                _ => match parse_sde_item(item) {
                    Ok(sde) => {
                        batch.sdes.push(sde);
                        continue;
                    }
                    Err(invalid) => invalid,
                },
            };
            let context =
                context.get_or_insert_with(|| StoredContext::of(&batch.visit).to_stored());
            batch
                .rejected
                .push(quarantine(kind, index, item, context, invalid));
        }
        Ok(batch)
    }
}

/// The visit context as stored with quarantined items, so a replay knows where they
/// belong; a Monitoring API body also says which call of which app it came through.
/// The members are declared in name order, the order in which contexts have always been
/// stored.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredContext<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_installation_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) client_properties: Option<&'a ClientProperties>,
    pub(crate) page: Option<StoredPage<'a>>,
    pub(crate) page_id: &'a str,
    pub(crate) session_id: &'a str,
    pub(crate) user_agent: Option<&'a str>,
    pub(crate) visitor_id: &'a str,
}

/// The page of a [`StoredContext`], its members in name order too.
#[derive(Serialize)]
pub(crate) struct StoredPage<'a> {
    referrer: Option<&'a str>,
    sections: &'a [String],
    title: Option<&'a str>,
    url: Option<&'a str>,
}

impl<'a> StoredContext<'a> {
    /// The context of a batch of `visit`.
    pub fn of(visit: &'a VisitContext) -> StoredContext<'a> {
        StoredContext {
            api: None,
            app_installation_id: None,
            call: None,
            client_properties: visit.client.as_ref(),
            page: visit.page.as_ref().map(|p| StoredPage {
                referrer: p.referrer.as_deref(),
                sections: &p.sections,
                title: p.title.as_deref(),
                url: p.url.as_deref(),
            }),
            page_id: &visit.page_id,
            session_id: &visit.session_id,
            user_agent: visit.user_agent.as_deref(),
            visitor_id: &visit.visitor_id,
        }
    }

    /// The context as the store keeps it.
    pub fn to_stored(&self) -> RawJson {
        // Strings, string lists and options always serialize.
        RawJson::to_json(self).unwrap_or_else(|_| RawJson::null())
    }
}

fn quarantine(
    kind: QuarantineKind,
    index: usize,
    item: Node<'_, '_>,
    context: &RawJson,
    invalid: Invalid,
) -> NewQuarantine {
    let array = match kind {
        QuarantineKind::Event => "events",
        _ => "sdes",
    };
    NewQuarantine {
        kind,
        index: Some(index),
        client_id: item
            .get("id")
            .and_then(Node::as_str)
            .map(|id| truncate(id, MAX_ID_CHARS)),
        // Cannot fail: a node's keys are strings and its numbers finite.
        raw: serde_json::to_string(&item.sorted()).unwrap_or_default(),
        context: context.clone(),
        errors: invalid
            .within(&pointer(&[array, &index.to_string()]))
            .errors,
    }
}

/// Validates one `events[i]`: `{"id", "time"?, "appName", "eventName", "data"}`.
pub fn parse_event_item(item: Node<'_, '_>) -> Result<NewEvent, Invalid> {
    let mut errors = Errors::new();
    let client_id = item_id(item, &mut errors);
    let client_time_ms = item_time(item, &mut errors);
    let event = match OfferEvent::read(item, &["id", "time"]) {
        Ok(event) => Some(event),
        Err(invalid) => {
            errors.absorb(invalid);
            None
        }
    };
    errors.finish(client_id.zip(event).map(|(client_id, event)| NewEvent {
        client_id,
        client_time_ms,
        event,
    }))
}

/// Reads one `sdes[i]` that is a form submission: `{"id", "time"?, "form": {...}}`
/// (request/form.rs); its values are checked later, against its engagement's form.
pub fn parse_form_item(item: Node<'_, '_>) -> Result<FormSubmission, Invalid> {
    let mut errors = Errors::new();
    if let Some(members) = item.members() {
        for (key, _) in members {
            if !matches!(key, "id" | "time" | "form" | "sde") {
                errors.at(
                    pointer(&[key]),
                    format!("unknown field `{key}`, expected `id`, `time` or `form`"),
                );
            }
        }
    }
    let client_id = item_id(item, &mut errors);
    let client_time_ms = item_time(item, &mut errors);
    let form = match FormSubmission::read(item, client_id.unwrap_or_default(), client_time_ms) {
        Ok(form) => Some(form),
        Err(invalid) => {
            errors.absorb(invalid);
            None
        }
    };
    errors.finish(form)
}

/// Validates one `sdes[i]`: `{"id", "time"?, "sde": {page-shape SDE}}`.
pub fn parse_sde_item(item: Node<'_, '_>) -> Result<NewSde, Invalid> {
    let mut errors = Errors::new();
    let Some(members) = item.members() else {
        return Err(Invalid::single(
            "",
            format!(
                "expected an object with `id`, `time` and `sde`, found {}",
                item.kind()
            ),
        ));
    };
    for (key, _) in members {
        if !matches!(key, "id" | "time" | "sde") {
            errors.at(
                pointer(&[key]),
                format!("unknown field `{key}`, expected `id`, `time` or `sde`"),
            );
        }
    }
    let client_id = item_id(item, &mut errors);
    let client_time_ms = item_time(item, &mut errors);
    let sde = match item.get("sde") {
        None => {
            errors.at("/sde", "missing, expected the SDE pushed by the page");
            None
        }
        Some(sde) => match Sde::read_page(sde) {
            Ok(sde) => Some(sde),
            Err(invalid) => {
                errors.absorb(invalid.within("/sde"));
                None
            }
        },
    };
    errors.finish(client_id.zip(sde).map(|(client_id, sde)| NewSde {
        client_id,
        client_time_ms,
        sde,
    }))
}

fn item_id(item: Node<'_, '_>, errors: &mut Errors) -> Option<String> {
    match item.get("id") {
        Some(id) if id.as_str().is_some_and(valid_id) => id.as_str().map(str::to_owned),
        Some(other) => {
            errors.at(
                "/id",
                format!(
                    "expected a client id string of 1-{MAX_ID_CHARS} characters, found {}",
                    other.kind()
                ),
            );
            None
        }
        None => {
            errors.at(
                "/id",
                "missing, every item needs a client id so a retry is not stored twice",
            );
            None
        }
    }
}

/// A client id: 1 to [`MAX_ID_CHARS`] characters.
fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.chars().count() <= MAX_ID_CHARS
}

fn item_time(item: Node<'_, '_>, errors: &mut Errors) -> Option<i64> {
    let time = item.get("time")?;
    match time.view() {
        View::Null => None,
        View::Number(n) => match n.as_u64().and_then(|t| i64::try_from(t).ok()) {
            Some(t) => Some(t),
            None => {
                errors.at(
                    "/time",
                    "expected epoch milliseconds, a non-negative integer",
                );
                None
            }
        },
        _ => {
            errors.at(
                "/time",
                format!("expected epoch milliseconds, found {}", time.kind()),
            );
            None
        }
    }
}

fn required_id(json: Node<'_, '_>, key: &str, errors: &mut Errors) -> Option<String> {
    match json.get(key).map(|v| (v, v.view())) {
        Some((_, View::String(id))) if valid_id(id) => Some(id.to_string()),
        Some((_, View::Number(n))) => Some(n.to_string()),
        Some((other, _)) => {
            errors.at(
                pointer(&[key]),
                format!(
                    "expected a string of 1-{MAX_ID_CHARS} characters, found {}",
                    other.kind()
                ),
            );
            None
        }
        None => {
            errors.at(pointer(&[key]), "missing");
            None
        }
    }
}

fn parse_page(json: Node<'_, '_>, errors: &mut Errors) -> Option<PageView> {
    let Some(members) = json.members() else {
        if !json.is_null() {
            errors.at(
                "/page",
                format!("expected an object, found {}", json.kind()),
            );
        }
        return None;
    };
    let mut page = PageView::default();
    for (key, value) in members {
        let path = pointer(&["page", key]);
        let slot = match key {
            "url" => &mut page.url,
            "referrer" => &mut page.referrer,
            "title" => &mut page.title,
            "sections" => {
                match value.view() {
                    View::Array(items) if items.len() <= MAX_SECTIONS => {
                        for (i, s) in items.enumerate() {
                            match s.view() {
                                View::String(s) if s.chars().count() <= 256 => {
                                    page.sections.push(s.to_string())
                                }
                                _ => errors.at(
                                    format!("{path}/{i}"),
                                    "expected a section name, a string of at most 256 characters",
                                ),
                            }
                        }
                    }
                    View::String(s) if s.chars().count() <= 256 => {
                        page.sections.push(s.to_string())
                    }
                    View::Null => {}
                    _ => errors.at(
                        path,
                        format!("expected an array of at most {MAX_SECTIONS} section names"),
                    ),
                }
                continue;
            }
            _ => {
                errors.at(
                    path,
                    format!(
                        "unknown field `{key}`, expected `url`, `referrer`, `title` or `sections`"
                    ),
                );
                continue;
            }
        };
        match value.view() {
            View::String(s) if s.chars().count() <= MAX_VALUE_CHARS => *slot = Some(s.to_string()),
            View::String(_) => errors.at(
                path,
                format!("at most {MAX_VALUE_CHARS} characters are allowed"),
            ),
            View::Null => {}
            _ => errors.at(path, format!("expected a string, found {}", value.kind())),
        }
    }
    Some(page)
}

/// The items of `events` or `sdes`; none when it is absent, null or not an array.
fn item_array<'t, 'a>(json: Node<'t, 'a>, key: &str, errors: &mut Errors) -> Items<'t, 'a> {
    match json.get(key).map(|v| (v, v.view())) {
        Some((_, View::Array(items))) => return items,
        None | Some((_, View::Null)) => {}
        Some((other, _)) => errors.at(
            pointer(&[key]),
            format!("expected an array, found {}", other.kind()),
        ),
    }
    Items::default()
}

fn pointer(tokens: &[&str]) -> String {
    let mut p = String::new();
    for t in tokens {
        push_pointer_token(&mut p, t);
    }
    p
}

fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// How contexts were written before: a `serde_json::Value` built member by member.
    fn through_a_value(visit: &VisitContext, monitoring: Option<(&str, &str)>) -> String {
        let mut context = json!({
            "visitorId": visit.visitor_id,
            "sessionId": visit.session_id,
            "pageId": visit.page_id,
            "page": visit.page.as_ref().map(|p| json!({
                "url": p.url, "referrer": p.referrer, "title": p.title, "sections": p.sections,
            })),
            "userAgent": visit.user_agent,
        });
        if let Some(client) = &visit.client {
            context["clientProperties"] = serde_json::to_value(client).unwrap();
        }
        if let Some((call, app)) = monitoring {
            context["api"] = "monitoring".into();
            context["call"] = call.into();
            context["appInstallationId"] = app.into();
        }
        context.to_string()
    }

    #[test]
    fn a_stored_context_is_the_text_a_value_wrote() {
        let bare = VisitContext {
            visitor_id: "v\"1".into(),
            session_id: "s-1".into(),
            page_id: "p-1".into(),
            page: None,
            user_agent: None,
            client: None,
        };
        let full = VisitContext {
            page: Some(PageView {
                url: Some("https://shop.example/é".into()),
                referrer: None,
                title: Some("Tab\there".into()),
                sections: vec!["cart".into(), "sale".into()],
            }),
            user_agent: Some("Mozilla/5.0".into()),
            client: Some(ClientProperties {
                app_version: Some("2.1".into()),
                device_family: Some("MOBILE".into()),
                os: None,
                os_version: Some("17".into()),
                language: None,
            }),
            ..bare.clone()
        };
        for visit in [&bare, &full] {
            assert_eq!(
                StoredContext::of(visit).to_stored().as_str(),
                through_a_value(visit, None)
            );
            let monitoring = StoredContext {
                api: Some("monitoring"),
                call: Some("report"),
                app_installation_id: Some("app-7"),
                ..StoredContext::of(visit)
            };
            assert_eq!(
                monitoring.to_stored().as_str(),
                through_a_value(visit, Some(("report", "app-7")))
            );
        }
    }
}
