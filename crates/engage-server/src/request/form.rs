//! A lead form's submission (docs/api.md, Engagement actions): one item of a collect
//! body's `sdes`, `{"id", "time"?, "form": {campaignId, engagementId, engagementRevision,
//! contextId, values}}`, instead of the SDEs themselves. The tag checks the form in the
//! page; the server checks it again here, against the form of the engagement revision
//! the visitor was shown, and only then makes the `lead` and `personal` SDEs the tag
//! would have made. Plain `lead` SDEs (what LivePerson pages push) never come here.
//!
//! Reading the item ([`FormSubmission::read`]) is pure; [`FormSubmission::check`] needs
//! the engagement's stored action, which the collect route reads.

use engage_model::body::{child, describe, uint, Errors, ObjReader};
use engage_model::{Invalid, Node, Sde, Tape, View};
use engage_store::{NewSde, RawJson};
use serde_json::{json, Map, Value};

use super::action::{Action, FormField, FormFieldName};
use super::collect::MAX_ID_CHARS;

/// A submission's values as the page sent them (field name, text), in its order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormSubmission {
    pub client_id: String,
    pub client_time_ms: Option<i64>,
    pub campaign_id: u64,
    pub engagement_id: u64,
    pub engagement_revision: u64,
    pub context_id: String,
    pub values: Vec<(String, String)>,
}

/// The longest value of each field, as the tag's form allows.
fn max_chars(field: FormFieldName) -> usize {
    match field {
        FormFieldName::Name | FormFieldName::Company => 200,
        FormFieldName::Email => 254,
        FormFieldName::Phone => 40,
        FormFieldName::Topic => 100,
        FormFieldName::Message => 2_000,
    }
}

/// Most values one submission may carry: more than the fixed set is never a form.
const MAX_VALUES: usize = 16;

/// `name@domain.tld`: no space, one `@`, a dot inside the domain (the tag's check).
fn is_email(v: &str) -> bool {
    let Some((local, domain)) = v.split_once('@') else {
        return false;
    };
    let plain = |s: &str| !s.is_empty() && !s.contains(|c: char| c.is_whitespace() || c == '@');
    plain(local)
        && plain(domain)
        && domain
            .char_indices()
            .any(|(i, c)| c == '.' && i > 0 && i + 1 < domain.len())
}

/// Digits, spaces and `().-`, 6 to 40 of them, after an optional `+` (the tag's check).
fn is_phone(v: &str) -> bool {
    let rest = v.strip_prefix('+').unwrap_or(v);
    (6..=40).contains(&rest.chars().count())
        && rest
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '(' | ')' | '.' | '-'))
}

impl FormSubmission {
    /// Whether an item of `sdes` is a form submission rather than an SDE.
    pub fn is_one(item: Node<'_, '_>) -> bool {
        item.get("form").is_some()
    }

    /// Reads the item's shape; pointers are relative to the item. What the values must
    /// be depends on the form, so [`FormSubmission::check`] judges them.
    pub fn read(
        item: Node<'_, '_>,
        client_id: String,
        client_time_ms: Option<i64>,
    ) -> Result<FormSubmission, Invalid> {
        let mut errors = Errors::new();
        if item.get("sde").is_some() {
            errors.at(
                "/sde",
                "a form submission carries `form` only: the server makes its SDEs",
            );
        }
        let path = "/form";
        let form = item.get("form").and_then(|f| {
            ObjReader::strict(
                f,
                path,
                &[
                    "campaignId",
                    "engagementId",
                    "engagementRevision",
                    "contextId",
                    "values",
                ],
                &mut errors,
            )
        });
        let Some(form) = form else {
            return Err(errors
                .finish::<()>(None)
                .err()
                .unwrap_or_else(|| Invalid::single(path, "expected an object")));
        };
        let id = |key: &str, errors: &mut Errors| match form.get(key) {
            None => {
                errors.at(child(path, key), "missing");
                None
            }
            Some(v) => uint(v, &child(path, key), 0..=u64::MAX, errors),
        };
        let campaign_id = id("campaignId", &mut errors);
        let engagement_id = id("engagementId", &mut errors);
        let engagement_revision = id("engagementRevision", &mut errors);
        let context_id = form.required_string(path, "contextId", MAX_ID_CHARS, &mut errors);
        let values_path = child(path, "values");
        let mut values = Vec::new();
        match form.get("values").map(|v| (v, v.view())) {
            None => errors.at(&values_path, "missing: the form's values by field name"),
            Some((_, View::Object(members))) if members.len() <= MAX_VALUES => {
                for (key, value) in members {
                    match value.as_str() {
                        Some(text) => values.push((key.to_owned(), text.to_owned())),
                        None => errors.at(
                            child(&values_path, key),
                            format!("expected a string, found {}", describe(value)),
                        ),
                    }
                }
            }
            Some((other, _)) => errors.at(
                &values_path,
                format!(
                    "expected an object of at most {MAX_VALUES} values by field name, found {}",
                    describe(other)
                ),
            ),
        }
        let read = match (campaign_id, engagement_id, engagement_revision, context_id) {
            (Some(c), Some(e), Some(r), Some(x)) => Some(FormSubmission {
                client_id,
                client_time_ms,
                campaign_id: c,
                engagement_id: e,
                engagement_revision: r,
                context_id: x,
                values,
            }),
            _ => None,
        };
        errors.finish(read)
    }

    /// The problem of a submission whose engagement revision does not exist.
    pub fn unknown_engagement(&self) -> Invalid {
        Invalid::single(
            "/form/engagementRevision",
            format!(
                "no engagement {} of campaign {} at revision {}",
                self.engagement_id, self.campaign_id, self.engagement_revision
            ),
        )
    }

    /// Checks the values against the engagement revision's stored action and makes the
    /// submission's SDEs: the `lead`, then the `personal` one when contact details were
    /// given. Pointers are relative to the item.
    pub fn check(
        &self,
        action: Option<&RawJson>,
        engagement_name: &str,
    ) -> Result<Vec<NewSde>, Invalid> {
        let Some(fields) = action.and_then(stored_form) else {
            return Err(Invalid::single(
                "/form/engagementId",
                format!(
                    "engagement {} (revision {}) has no form",
                    self.engagement_id, self.engagement_revision
                ),
            ));
        };
        let mut errors = Errors::new();
        let mut given: Vec<(FormFieldName, String)> = Vec::new();
        for (name, text) in &self.values {
            let path = child("/form/values", name);
            let Some(field) = fields.iter().find(|f| f.name.as_str() == name) else {
                let asked: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
                errors.at(
                    path,
                    format!(
                        "not a field of this form, which asks for {}",
                        asked.join(", ")
                    ),
                );
                continue;
            };
            if given.iter().any(|(n, _)| *n == field.name) {
                errors.at(path, "given twice");
                continue;
            }
            let v = text.trim();
            if v.is_empty() {
                continue;
            }
            let max = max_chars(field.name);
            let chars = v.chars().count();
            let why = if chars > max {
                Some(format!(
                    "is {chars} characters long, at most {max} are allowed"
                ))
            } else if let Some(choices) = &field.choices {
                (!choices.iter().any(|c| c == v))
                    .then(|| format!("expected one of {}, found \"{v}\"", quoted(choices)))
            } else {
                match field.name {
                    FormFieldName::Email if !is_email(v) => {
                        Some("expected an email address such as name@example.com".to_owned())
                    }
                    FormFieldName::Phone if !is_phone(v) => Some(
                        "expected a phone number such as +1 555 010 0000 (digits, spaces, ( ) . -)"
                            .to_owned(),
                    ),
                    _ => None,
                }
            };
            match why {
                Some(why) => errors.at(path, why),
                None => given.push((field.name, v.to_owned())),
            }
        }
        for field in fields.iter().filter(|f| f.required) {
            let name = field.name.as_str();
            let present = self
                .values
                .iter()
                .any(|(n, v)| n == name && !v.trim().is_empty());
            if !present {
                errors.at(child("/form/values", name), "required by the form");
            }
        }
        if !errors.is_empty() {
            return errors.finish::<()>(None).map(|_| Vec::new());
        }
        let value = |f: FormFieldName| given.iter().find(|(n, _)| *n == f).map(|(_, v)| v.as_str());
        let mut sdes = Vec::with_capacity(2);
        for (suffix, sde) in page_sdes(&value, &self.context_id, engagement_name) {
            // Made from checked values within the limits above: an SDE the model refuses
            // is a mistake here, reported at the form rather than lost.
            let text = sde.to_string();
            let parsed = Tape::parse_str(&text)
                .ok()
                .and_then(|tape| Sde::read_page(tape.root()).ok());
            let Some(sde) = parsed else {
                return Err(Invalid::single(
                    "/form/values",
                    "these values do not make a valid lead",
                ));
            };
            sdes.push(NewSde {
                client_id: format!("{}{suffix}", self.client_id),
                client_time_ms: self.client_time_ms,
                sde,
            });
        }
        Ok(sdes)
    }
}

fn quoted(choices: &[String]) -> String {
    choices
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The form's fields, when the stored action is a form.
fn stored_form(action: &RawJson) -> Option<Vec<FormField>> {
    let tape = Tape::parse_str(action.as_str()).ok()?;
    let mut errors = Errors::new();
    match Action::parse(tape.root(), "", &mut errors)? {
        Action::Form { fields, .. } => Some(fields),
        _ => None,
    }
}

/// The page-shape SDEs of a submission, each with the suffix of its client id: what the
/// tag's `formSdes` (tag/src/actions.js) makes of the same values.
fn page_sdes<'v>(
    value: &dyn Fn(FormFieldName) -> Option<&'v str>,
    context_id: &str,
    engagement_name: &str,
) -> Vec<(&'static str, Value)> {
    let topic = [value(FormFieldName::Topic), value(FormFieldName::Message)]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(": ");
    let topic = if !topic.is_empty() {
        topic
    } else if !engagement_name.is_empty() {
        engagement_name.to_owned()
    } else {
        "lead".to_owned()
    };
    let mut out = vec![(
        "",
        json!({"type": "lead", "lead": {"topic": topic, "leadId": context_id}}),
    )];
    let mut personal = Map::new();
    if let Some(name) = value(FormFieldName::Name) {
        let mut words = name.split_whitespace();
        if let Some(first) = words.next() {
            personal.insert("firstname".into(), first.into());
        }
        let rest = words.collect::<Vec<_>>().join(" ");
        if !rest.is_empty() {
            personal.insert("lastname".into(), rest.into());
        }
    }
    let mut contact = Map::new();
    if let Some(email) = value(FormFieldName::Email) {
        contact.insert("email".into(), email.into());
    }
    if let Some(phone) = value(FormFieldName::Phone) {
        contact.insert("phone".into(), phone.into());
    }
    if !contact.is_empty() {
        personal.insert(
            "contacts".into(),
            Value::Array(vec![Value::Object(contact)]),
        );
    }
    if let Some(company) = value(FormFieldName::Company) {
        personal.insert("company".into(), company.into());
    }
    if !personal.is_empty() {
        out.push((
            ":personal",
            json!({"type": "personal", "personal": Value::Object(personal)}),
        ));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn emails_and_phones_have_the_shape_the_tag_checks() {
        for good in ["a@b.co", "first.last+tag@mail.example.org"] {
            assert!(is_email(good), "{good}");
        }
        for bad in [
            "", "a@b", "a@.b", "a@b.", "a b@c.d", "a@b@c.d", "@b.c", "plain",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
        for good in ["+1 555 010 0000", "(030) 123-456", "123456"] {
            assert!(is_phone(good), "{good}");
        }
        for bad in ["12345", "call me", "+1 555 010 0000 ext. 9", "++123456"] {
            assert!(!is_phone(bad), "{bad}");
        }
    }
}
