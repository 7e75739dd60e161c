//! An engagement's `action` (docs/api.md, Engagement actions): what its accept button
//! leads to. Read once, when the engagement is written, into [`Action`]; the store keeps
//! [`Action::to_stored`], the canonical JSON the decision serves to the tag as it is.
//!
//! - `link` `{url, newTab?}`: an http(s) URL; `{contextId}` and `{engagementId}` in it
//!   are filled in by the tag.
//! - `form` `{fields, submitLabel?, thanks?}`: a lead form of fields from a fixed set
//!   ([`FormFieldName`]), each once.
//! - `coupon` `{code, copyLabel?}`: a code revealed with a copy button.
//! - `chat` `{provider?}`: the site's own chat ([`ChatProvider`]), or only the
//!   `BEFORE_ENG_CHANNEL_OPEN` hook without one.

use engage_model::body::{child, describe, index, string, Errors, ObjReader};
use engage_model::Node;
use engage_store::RawJson;
use serde::Serialize;

/// A URL longer than this is not a landing page anyone types.
const MAX_URL_CHARS: usize = 2_048;
const MAX_LABEL_CHARS: usize = 256;
const MAX_THANKS_CHARS: usize = 2_000;
const MAX_COUPON_CHARS: usize = 64;
/// A topic list longer than this is a menu, not a form field.
const MAX_CHOICES: usize = 20;
const MAX_CHOICE_CHARS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Action {
    #[serde(rename_all = "camelCase")]
    Link { url: String, new_tab: bool },
    #[serde(rename_all = "camelCase")]
    Form {
        fields: Vec<FormField>,
        #[serde(skip_serializing_if = "Option::is_none")]
        submit_label: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        thanks: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    Coupon {
        code: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        copy_label: Option<String>,
    },
    Chat {
        #[serde(skip_serializing_if = "Option::is_none")]
        provider: Option<ChatProvider>,
    },
}

/// The fields a lead form may ask for; each becomes part of a `lead` or `personal` SDE
/// (docs/api.md, Engagement actions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FormFieldName {
    Name,
    Email,
    Phone,
    Company,
    Topic,
    Message,
}

impl FormFieldName {
    pub const ALL: [FormFieldName; 6] = [
        FormFieldName::Name,
        FormFieldName::Email,
        FormFieldName::Phone,
        FormFieldName::Company,
        FormFieldName::Topic,
        FormFieldName::Message,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FormFieldName::Name => "name",
            FormFieldName::Email => "email",
            FormFieldName::Phone => "phone",
            FormFieldName::Company => "company",
            FormFieldName::Topic => "topic",
            FormFieldName::Message => "message",
        }
    }

    fn from_name(name: &str) -> Option<FormFieldName> {
        FormFieldName::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FormField {
    pub name: FormFieldName,
    pub required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<String>>,
}

/// The chat widgets the tag opens through their public JavaScript API when they are on
/// the page (tag/README.md, Actions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatProvider {
    Intercom,
    Zendesk,
    Crisp,
    Tawk,
    Livechat,
}

impl ChatProvider {
    pub const ALL: [ChatProvider; 5] = [
        ChatProvider::Intercom,
        ChatProvider::Zendesk,
        ChatProvider::Crisp,
        ChatProvider::Tawk,
        ChatProvider::Livechat,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChatProvider::Intercom => "intercom",
            ChatProvider::Zendesk => "zendesk",
            ChatProvider::Crisp => "crisp",
            ChatProvider::Tawk => "tawk",
            ChatProvider::Livechat => "livechat",
        }
    }
}

fn names(list: impl IntoIterator<Item = &'static str>) -> String {
    list.into_iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Action {
    /// Reads an action at `path`, reporting every problem there.
    pub fn parse(json: Node<'_, '_>, path: &str, errors: &mut Errors) -> Option<Action> {
        let type_path = child(path, "type");
        let Some(kind) = json.get("type") else {
            if json.members().is_none() {
                errors.at(path, format!("expected an object, found {}", json.kind()));
            } else {
                errors.at(
                    type_path,
                    "missing: one of \"link\", \"form\", \"coupon\", \"chat\"",
                );
            }
            return None;
        };
        match kind.as_str() {
            Some("link") => link(json, path, errors),
            Some("form") => form(json, path, errors),
            Some("coupon") => coupon(json, path, errors),
            Some("chat") => chat(json, path, errors),
            _ => {
                errors.at(
                    type_path,
                    format!(
                        "expected one of \"link\", \"form\", \"coupon\", \"chat\", found {}",
                        describe(kind)
                    ),
                );
                None
            }
        }
    }

    /// The canonical form as the store keeps it and the decision serves it.
    pub fn to_stored(&self) -> RawJson {
        // Strings, booleans and enums always serialize.
        RawJson::to_json(self).unwrap_or_else(|_| RawJson::null())
    }
}

fn link(json: Node<'_, '_>, path: &str, errors: &mut Errors) -> Option<Action> {
    let members = ObjReader::strict(json, path, &["type", "url", "newTab"], errors)?;
    let url = members.required_string(path, "url", MAX_URL_CHARS, errors);
    let new_tab = members
        .optional_bool(path, "newTab", errors)
        .unwrap_or(false);
    let url = url?;
    if let Err(why) = check_link(&url) {
        errors.at(child(path, "url"), why);
        return None;
    }
    Some(Action::Link { url, new_tab })
}

/// An absolute http(s) URL, once its placeholders are filled in; the browser parses it
/// again, this only refuses what could never be a landing page (`javascript:` above all).
fn check_link(url: &str) -> Result<(), String> {
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or_else(|| format!("expected an http or https URL, found `{url}`"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.starts_with('{') {
        return Err(format!("`{url}` has no host"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "`{url}` contains spaces or control characters; encode them"
        ));
    }
    Ok(())
}

fn form(json: Node<'_, '_>, path: &str, errors: &mut Errors) -> Option<Action> {
    let members = ObjReader::strict(
        json,
        path,
        &["type", "fields", "submitLabel", "thanks"],
        errors,
    )?;
    let submit_label = members.optional_string(path, "submitLabel", MAX_LABEL_CHARS, errors);
    let thanks = members.optional_string(path, "thanks", MAX_THANKS_CHARS, errors);
    let fields_path = child(path, "fields");
    let Some(list) = members.get("fields") else {
        errors.at(
            fields_path,
            "missing: a list of fields such as [{\"name\": \"email\", \"required\": true}]",
        );
        return None;
    };
    let Some(items) = list.items() else {
        errors.at(
            fields_path,
            format!("expected a list of fields, found {}", list.kind()),
        );
        return None;
    };
    if items.len() == 0 || items.len() > FormFieldName::ALL.len() {
        errors.at(
            &fields_path,
            format!(
                "expected 1 to {} fields, found {}",
                FormFieldName::ALL.len(),
                items.len()
            ),
        );
        return None;
    }
    let mut fields: Vec<FormField> = Vec::with_capacity(items.len());
    let mut complete = true;
    for (i, item) in items.enumerate() {
        let item_path = index(&fields_path, i);
        match form_field(item, &item_path, errors) {
            Some(field) if fields.iter().any(|f| f.name == field.name) => {
                complete = false;
                errors.at(
                    child(&item_path, "name"),
                    format!(
                        "the field \"{}\" is already in the form",
                        field.name.as_str()
                    ),
                );
            }
            Some(field) => fields.push(field),
            None => complete = false,
        }
    }
    (complete && errors.is_empty()).then_some(Action::Form {
        fields,
        submit_label,
        thanks,
    })
}

fn form_field(json: Node<'_, '_>, path: &str, errors: &mut Errors) -> Option<FormField> {
    let members = ObjReader::strict(
        json,
        path,
        &["name", "required", "label", "choices"],
        errors,
    )?;
    let name_path = child(path, "name");
    let name = match members.get("name") {
        None => {
            errors.at(&name_path, "missing");
            None
        }
        Some(n) => {
            let found = n.as_str().and_then(FormFieldName::from_name);
            if found.is_none() {
                errors.at(
                    &name_path,
                    format!(
                        "expected one of {}, found {}",
                        names(FormFieldName::ALL.map(FormFieldName::as_str)),
                        describe(n)
                    ),
                );
            }
            found
        }
    };
    let required = match members.get("required") {
        None => {
            errors.at(child(path, "required"), "missing: true or false");
            None
        }
        Some(_) => members.optional_bool(path, "required", errors),
    };
    let label = members.optional_string(path, "label", MAX_LABEL_CHARS, errors);
    let choices_path = child(path, "choices");
    let choices = match members.get("choices") {
        None => None,
        Some(_) if name.is_some_and(|n| n != FormFieldName::Topic) => {
            errors.at(&choices_path, "only the \"topic\" field has choices");
            None
        }
        Some(list) => match list.items() {
            Some(items) if (1..=MAX_CHOICES).contains(&items.len()) => {
                let mut choices = Vec::with_capacity(items.len());
                for (i, item) in items.enumerate() {
                    choices.push(string(
                        item,
                        &index(&choices_path, i),
                        MAX_CHOICE_CHARS,
                        errors,
                    ));
                }
                choices.into_iter().collect::<Option<Vec<String>>>()
            }
            _ => {
                errors.at(
                    &choices_path,
                    format!("expected a list of 1 to {MAX_CHOICES} choices"),
                );
                None
            }
        },
    };
    Some(FormField {
        name: name?,
        required: required?,
        label,
        choices,
    })
}

fn coupon(json: Node<'_, '_>, path: &str, errors: &mut Errors) -> Option<Action> {
    let members = ObjReader::strict(json, path, &["type", "code", "copyLabel"], errors)?;
    let code = members.required_string(path, "code", MAX_COUPON_CHARS, errors);
    let copy_label = members.optional_string(path, "copyLabel", MAX_LABEL_CHARS, errors);
    Some(Action::Coupon {
        code: code?,
        copy_label,
    })
}

fn chat(json: Node<'_, '_>, path: &str, errors: &mut Errors) -> Option<Action> {
    let members = ObjReader::strict(json, path, &["type", "provider"], errors)?;
    let provider = match members.get("provider") {
        None => None,
        Some(p) => {
            let found = p
                .as_str()
                .and_then(|name| ChatProvider::ALL.into_iter().find(|c| c.as_str() == name));
            if found.is_none() {
                errors.at(
                    child(path, "provider"),
                    format!(
                        "expected one of {}, found {}",
                        names(ChatProvider::ALL.map(ChatProvider::as_str)),
                        describe(p)
                    ),
                );
                return None;
            }
            found
        }
    };
    Some(Action::Chat { provider })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use engage_model::Tape;

    fn read(text: &str) -> Result<Action, Vec<(String, String)>> {
        let tape = Tape::parse_str(text).unwrap();
        let mut errors = Errors::new();
        let action = Action::parse(tape.root(), "/action", &mut errors);
        errors.finish(action).map_err(|e| {
            e.errors
                .iter()
                .map(|f| (f.path.clone(), f.message.clone()))
                .collect()
        })
    }

    #[test]
    fn each_action_reads_into_its_canonical_form() {
        for (input, stored) in [
            (
                r#"{"type":"link","url":"https://shop.example/l?c={contextId}&e={engagementId}"}"#,
                r#"{"type":"link","url":"https://shop.example/l?c={contextId}&e={engagementId}","newTab":false}"#,
            ),
            (
                r#"{"type":"form","fields":[{"name":"email","required":true},{"name":"topic","required":false,"choices":["Sales","Support"]}],"thanks":"Thanks!"}"#,
                r#"{"type":"form","fields":[{"name":"email","required":true},{"name":"topic","required":false,"choices":["Sales","Support"]}],"thanks":"Thanks!"}"#,
            ),
            (
                r#"{"type":"coupon","code":"SAVE10","copyLabel":"Copy"}"#,
                r#"{"type":"coupon","code":"SAVE10","copyLabel":"Copy"}"#,
            ),
            (r#"{"type":"chat"}"#, r#"{"type":"chat"}"#),
            (
                r#"{"type":"chat","provider":"crisp"}"#,
                r#"{"type":"chat","provider":"crisp"}"#,
            ),
        ] {
            let action = read(input).unwrap_or_else(|e| panic!("{input}: {e:?}"));
            assert_eq!(action.to_stored().as_str(), stored);
        }
    }

    #[test]
    fn every_problem_is_reported_at_its_pointer() {
        let problems = read(
            r#"{"type":"form","fields":[{"name":"fax","required":true},{"name":"email"},{"name":"name","required":true,"choices":["a"]},{"name":"topic","required":true,"choices":[]}]}"#,
        )
        .unwrap_err();
        let paths: Vec<&str> = problems.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/action/fields/0/name",
                "/action/fields/1/required",
                "/action/fields/2/choices",
                "/action/fields/3/choices"
            ],
            "{problems:?}"
        );
        assert_eq!(
            read(r#"{"type":"link","url":"javascript:alert(1)"}"#).unwrap_err()[0].0,
            "/action/url"
        );
        assert_eq!(
            read(r#"{"type":"link","url":"https://{contextId}/"}"#).unwrap_err()[0].0,
            "/action/url"
        );
        assert_eq!(
            read(r#"{"type":"teleport"}"#).unwrap_err()[0].0,
            "/action/type"
        );
        assert_eq!(read(r#"[]"#).unwrap_err()[0].0, "/action");
        assert_eq!(
            read(r#"{"type":"chat","provider":"icq"}"#).unwrap_err()[0].0,
            "/action/provider"
        );
        assert_eq!(
            read(r#"{"type":"coupon","code":"x","extra":1}"#).unwrap_err()[0].0,
            "/action/extra"
        );
        assert_eq!(
            read(r#"{"type":"form","fields":[{"name":"email","required":true},{"name":"email","required":false}]}"#)
                .unwrap_err()[0]
                .0,
            "/action/fields/1/name"
        );
    }
}
