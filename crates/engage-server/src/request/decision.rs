//! The decision route's request body, read strictly (pure: the benchmark and the route
//! share it).

use engage_model::body::{child, index, Errors, ObjReader};
use engage_model::{Invalid, Node, Sde, View};

use super::collect::{MAX_ID_CHARS, MAX_SECTIONS};

/// Longest page URL read.
const MAX_URL_CHARS: usize = 8192;
/// Longest section name.
const MAX_SECTION_CHARS: usize = 256;

/// A decision request: `{"visitorId", "sessionId", "pageId"?, "url"?, "sections"?, "sdes"?}`.
#[derive(Debug)]
pub struct DecisionBody {
    pub visitor_id: String,
    pub session_id: String,
    pub url: String,
    pub sections: Vec<String>,
    /// The page-shape attributes this page pushed; invalid ones are left out (the collect
    /// route reports and quarantines them when the tag sends them).
    pub sdes: Vec<Sde>,
}

impl DecisionBody {
    /// Reads a decision body. Envelope problems are errors; an attribute that does not
    /// validate is skipped, so one bad push does not hide every engagement.
    pub fn read(json: Node<'_, '_>, max_sdes: usize) -> Result<DecisionBody, Invalid> {
        let mut errors = Errors::new();
        let body = read_members(json, max_sdes, &mut errors);
        errors.finish(body)
    }
}

fn read_members(json: Node<'_, '_>, max_sdes: usize, errors: &mut Errors) -> Option<DecisionBody> {
    let members = ObjReader::strict(
        json,
        "",
        &[
            "visitorId",
            "sessionId",
            "pageId",
            "url",
            "sections",
            "sdes",
        ],
        errors,
    )?;
    let visitor_id = members.required_string("", "visitorId", MAX_ID_CHARS, errors);
    let session_id = members.required_string("", "sessionId", MAX_ID_CHARS, errors);
    members.optional_string("", "pageId", MAX_ID_CHARS, errors);
    let url = match members.get("url").map(|v| (v, v.view())) {
        None => String::new(),
        Some((_, View::String(s))) if s.chars().count() <= MAX_URL_CHARS => s.to_owned(),
        Some((_, View::String(_))) => {
            errors.at("/url", format!("longer than {MAX_URL_CHARS} characters"));
            String::new()
        }
        Some((other, _)) => {
            errors.at("/url", format!("expected a string, found {}", other.kind()));
            String::new()
        }
    };
    // Sections as the collect route reads them: an array of names or one name, each at
    // most 256 characters; empty names name nothing.
    let mut sections = Vec::new();
    let section_error = "expected a section name, a string of at most 256 characters";
    match members.get("sections").map(Node::view) {
        None => {}
        Some(View::Array(items)) if items.len() > MAX_SECTIONS => errors.at(
            "/sections",
            format!(
                "{} sections, at most {MAX_SECTIONS} are allowed",
                items.len()
            ),
        ),
        Some(View::Array(items)) => {
            let path = child("", "sections");
            for (i, item) in items.enumerate() {
                match item.as_str() {
                    Some(s) if s.chars().count() <= MAX_SECTION_CHARS => {
                        sections.extend((!s.trim().is_empty()).then(|| s.to_owned()));
                    }
                    _ => errors.at(index(&path, i), section_error),
                }
            }
        }
        Some(View::String(s)) if s.chars().count() <= MAX_SECTION_CHARS => {
            sections.extend((!s.trim().is_empty()).then(|| s.to_owned()));
        }
        Some(_) => errors.at(
            "/sections",
            format!("expected an array of at most {MAX_SECTIONS} section names"),
        ),
    }
    let mut sdes = Vec::new();
    match members.get("sdes").map(|v| (v, v.view())) {
        None => {}
        Some((_, View::Array(items))) if items.len() > max_sdes => errors.at(
            "/sdes",
            format!("{} attributes, at most {max_sdes} are allowed", items.len()),
        ),
        Some((_, View::Array(items))) => {
            for (i, item) in items.enumerate() {
                match Sde::read_page(item) {
                    Ok(sde) => sdes.push(sde),
                    Err(invalid) => {
                        tracing::debug!(index = i, errors = %invalid, "decision: attribute skipped")
                    }
                }
            }
        }
        Some((other, _)) => errors.at(
            "/sdes",
            format!("expected an array, found {}", other.kind()),
        ),
    }
    Some(DecisionBody {
        visitor_id: visitor_id?,
        session_id: session_id?,
        url,
        sections,
        sdes,
    })
}
