//! The webhook admin API's body: `POST .../webhooks` `{"url", "events": [...]}`. Strict:
//! an unknown or repeated member is an error. The URL is checked here as text; the
//! route applies the SSRF guard (`webhooks::guard`), which depends on the server's
//! configuration.

use engage_model::body::{describe, index, Errors, ObjReader};
use engage_model::{Invalid, Node, OfferEventName};

use crate::webhooks::NAMED_EVENTS;

/// The body as the OpenAPI description states it.
pub mod schema;

/// Longest endpoint URL.
pub const MAX_WEBHOOK_URL_CHARS: usize = 2_048;
/// More names than there are to choose from would only repeat them.
const MAX_EVENTS: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookBody {
    pub url: String,
    /// Each once, in the order given.
    pub events: Vec<String>,
}

impl WebhookBody {
    pub fn read(json: Node<'_, '_>) -> Result<WebhookBody, Invalid> {
        let mut errors = Errors::new();
        let body = webhook(json, &mut errors);
        errors.finish(body)
    }
}

fn webhook(json: Node<'_, '_>, errors: &mut Errors) -> Option<WebhookBody> {
    let members = ObjReader::strict(json, "", &["url", "events"], errors)?;
    let url = members.required_string("", "url", MAX_WEBHOOK_URL_CHARS, errors);
    let events = match members.get("events") {
        None => {
            errors.at(
                "/events",
                "missing: a list such as [\"offer.clicked\", \"lead.submitted\"]",
            );
            None
        }
        Some(list) => events(list, errors),
    };
    Some(WebhookBody {
        url: url?,
        events: events?,
    })
}

fn known(name: &str) -> bool {
    NAMED_EVENTS.contains(&name) || OfferEventName::from_name(name).is_some()
}

fn events(list: Node<'_, '_>, errors: &mut Errors) -> Option<Vec<String>> {
    let Some(items) = list.items() else {
        errors.at(
            "/events",
            format!("expected a list of event names, found {}", list.kind()),
        );
        return None;
    };
    if items.len() == 0 || items.len() > MAX_EVENTS {
        errors.at(
            "/events",
            format!(
                "expected 1 to {MAX_EVENTS} event names, found {}",
                items.len()
            ),
        );
        return None;
    }
    let mut out: Vec<String> = Vec::new();
    let mut ok = true;
    for (i, item) in items.enumerate() {
        match item.as_str() {
            Some(name) if known(name) => {
                if !out.iter().any(|e| e == name) {
                    out.push(name.to_owned());
                }
            }
            _ => {
                ok = false;
                errors.at(
                    index("/events", i),
                    format!(
                        "expected one of {}, or an LP_OFFERS or ENGAGE_ACTION event name ({}), found {}",
                        NAMED_EVENTS.join(", "),
                        OfferEventName::ALL.map(OfferEventName::as_str).join(", "),
                        describe(item)
                    ),
                );
            }
        }
    }
    ok.then_some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use engage_model::Tape;

    fn read(text: &str) -> Result<WebhookBody, Vec<String>> {
        let tape = Tape::parse_str(text).unwrap();
        WebhookBody::read(tape.root()).map_err(|e| e.errors.into_iter().map(|f| f.path).collect())
    }

    #[test]
    fn names_are_the_documented_ones_each_kept_once() {
        assert_eq!(
            read(r#"{"url":"https://h.example/","events":["offer.clicked","OFFER_IMPRESSION","offer.clicked"]}"#)
                .unwrap()
                .events,
            ["offer.clicked", "OFFER_IMPRESSION"]
        );
        assert_eq!(
            read(r#"{"url":"","events":["offer.clickd",7],"secret":"x"}"#).unwrap_err(),
            ["/secret", "/url", "/events/0", "/events/1"]
        );
        assert_eq!(
            read(r#"{"url":"https://h.example/","events":[]}"#).unwrap_err(),
            ["/events"]
        );
        assert_eq!(
            read(r#"{"url":"https://h.example/"}"#).unwrap_err(),
            ["/events"]
        );
    }
}
