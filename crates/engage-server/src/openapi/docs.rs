//! The description rendered as HTML (`GET /api/docs`), from the JSON document itself so
//! that the pages show exactly what `GET /api/openapi.json` says: operations grouped by
//! tag, each with its security, parameters, request body, answers and examples, then
//! every named schema. Plain HTML and the console's stylesheet: no script, nothing from
//! another origin.

use maud::{html, Markup};
use serde_json::Value;

/// The methods an operation may have, in the order they are shown.
const METHODS: [&str; 7] = ["get", "put", "post", "patch", "delete", "options", "head"];

/// One operation of the document.
struct Operation<'a> {
    method: &'a str,
    path: &'a str,
    op: &'a Value,
}

impl Operation<'_> {
    fn anchor(&self) -> String {
        match self.op["operationId"].as_str() {
            Some(id) => format!("op-{id}"),
            None => format!("op-{}-{}", self.method, self.path),
        }
    }
}

/// The whole page's content.
pub fn render(doc: &Value) -> Markup {
    let operations = operations(doc);
    let tags = tag_names(doc, &operations);
    let info = &doc["info"];
    html! {
        main.api-docs {
            h1 { (info["title"].as_str().unwrap_or("API")) " HTTP API" }
            @if let Some(description) = info["description"].as_str() {
                p { (prose(description)) }
            }
            p {
                "The machine-readable description (OpenAPI " (doc["openapi"].as_str().unwrap_or("")) "): "
                a href="/api/openapi.json" { code { "/api/openapi.json" } }
                " (also " code { "engage openapi" } ")."
            }
            (security_schemes(doc))
            nav aria-label="Operations" {
                h2 { "Operations" }
                @for (tag, _) in &tags {
                    h3 { a href={ "#" (tag_anchor(tag)) } { (tag) } }
                    ul {
                        @for o in operations.iter().filter(|o| first_tag(o.op) == tag.as_str()) {
                            li {
                                a href={ "#" (o.anchor()) } {
                                    code { (o.method.to_uppercase()) " " (o.path) }
                                }
                                @if let Some(summary) = o.op["summary"].as_str() {
                                    " · " (prose(summary))
                                }
                            }
                        }
                    }
                }
            }
            @for (tag, description) in &tags {
                section id=(tag_anchor(tag)) {
                    h2 { (tag) }
                    @if let Some(description) = description {
                        p { (prose(description)) }
                    }
                    @for o in operations.iter().filter(|o| first_tag(o.op) == tag.as_str()) {
                        (operation(doc, o))
                    }
                }
            }
            section id="schemas" {
                h2 { "Schemas" }
                @if let Some(schemas) = doc["components"]["schemas"].as_object() {
                    @for (name, schema) in schemas {
                        article id={ "schema-" (name) } {
                            h3 { code { (name) } }
                            (schema_block(schema))
                        }
                    }
                }
            }
        }
    }
}

fn operations(doc: &Value) -> Vec<Operation<'_>> {
    let mut out = Vec::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            for method in METHODS {
                if item.get(method).is_some() {
                    out.push(Operation {
                        method,
                        path,
                        op: &item[method],
                    });
                }
            }
        }
    }
    out
}

fn first_tag(op: &Value) -> &str {
    op["tags"][0].as_str().unwrap_or("Other")
}

/// The document's tags in its order, then any an operation names that it does not list.
fn tag_names(doc: &Value, operations: &[Operation<'_>]) -> Vec<(String, Option<String>)> {
    let mut tags: Vec<(String, Option<String>)> = doc["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| {
            let name = t["name"].as_str()?;
            Some((
                name.to_owned(),
                t["description"].as_str().map(str::to_owned),
            ))
        })
        .collect();
    for o in operations {
        let tag = first_tag(o.op);
        if !tags.iter().any(|(name, _)| name == tag) {
            tags.push((tag.to_owned(), None));
        }
    }
    tags.retain(|(name, _)| operations.iter().any(|o| first_tag(o.op) == name));
    tags
}

fn tag_anchor(tag: &str) -> String {
    let slug: String = tag
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("tag-{slug}")
}

fn security_schemes(doc: &Value) -> Markup {
    let Some(schemes) = doc["components"]["securitySchemes"].as_object() else {
        return html! {};
    };
    html! {
        h2 { "Authentication" }
        dl {
            @for (name, scheme) in schemes {
                dt { code { (name) } " (" (scheme["type"].as_str().unwrap_or("")) " " (scheme["scheme"].as_str().unwrap_or("")) ")" }
                dd { (prose(scheme["description"].as_str().unwrap_or(""))) }
            }
        }
    }
}

fn operation(doc: &Value, o: &Operation<'_>) -> Markup {
    let op = o.op;
    let security: Vec<String> = op["security"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|requirement| requirement.as_object())
        .flat_map(|requirement| requirement.keys().cloned())
        .collect();
    let parameters = op["parameters"].as_array();
    html! {
        article.operation id=(o.anchor()) {
            h3 { code { (o.method.to_uppercase()) " " (o.path) } }
            @if let Some(summary) = op["summary"].as_str() {
                p { strong { (prose(summary)) } }
            }
            @if let Some(description) = op["description"].as_str() {
                p { (prose(description)) }
            }
            p {
                @if security.is_empty() {
                    "No key."
                } @else {
                    "Needs one of: "
                    @for (i, name) in security.iter().enumerate() {
                        @if i > 0 { ", " }
                        code { (name) }
                    }
                    "."
                }
            }
            @if let Some(parameters) = parameters.filter(|p| !p.is_empty()) {
                h4 { "Parameters" }
                table {
                    thead { tr { th { "name" } th { "in" } th { "type" } th { "description" } } }
                    tbody {
                        @for p in parameters {
                            tr {
                                td {
                                    code { (p["name"].as_str().unwrap_or("")) }
                                    @if p["required"].as_bool() == Some(true) { " (required)" }
                                }
                                td { (p["in"].as_str().unwrap_or("")) }
                                td { (type_of(&p["schema"])) }
                                td {
                                    (prose(p["description"].as_str().unwrap_or("")))
                                    @if let Some(example) = p.get("example") {
                                        " Example: " code { (compact(example)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(body) = op.get("requestBody") {
                h4 { "Request body" @if body["required"].as_bool() == Some(true) { " (required)" } }
                @if let Some(description) = body["description"].as_str() {
                    p { (prose(description)) }
                }
                (contents(doc, &body["content"]))
            }
            h4 { "Responses" }
            @if let Some(responses) = op["responses"].as_object() {
                @for (status, response) in responses {
                    div.response {
                        p {
                            strong { (status) } " "
                            (prose(response["description"].as_str().unwrap_or("")))
                        }
                        @if let Some(headers) = response["headers"].as_object() {
                            ul {
                                @for (name, header) in headers {
                                    li { "Header " code { (name) } ": " (prose(header["description"].as_str().unwrap_or(""))) }
                                }
                            }
                        }
                        (contents(doc, &response["content"]))
                    }
                }
            }
        }
    }
}

/// A body's media types, each with its schema and examples.
fn contents(doc: &Value, content: &Value) -> Markup {
    let Some(content) = content.as_object() else {
        return html! {};
    };
    html! {
        @for (media_type, media) in content {
            p { code { (media_type) } ": " (type_of(&media["schema"])) }
            @if let Some(example) = example_of(doc, media) {
                details {
                    summary { "Example" }
                    pre { code { (pretty(example)) } }
                }
            }
        }
    }
}

/// The media type's example, else its schema's (or that of the schema it names).
fn example_of<'a>(doc: &'a Value, media: &'a Value) -> Option<&'a Value> {
    if let Some(example) = media.get("example") {
        return Some(example);
    }
    if let Some(example) = media["examples"]
        .as_object()
        .and_then(|e| e.values().next())
    {
        return example.get("value");
    }
    let schema = &media["schema"];
    if let Some(example) = schema.get("example") {
        return Some(example);
    }
    let name = schema["$ref"].as_str()?.rsplit('/').next()?;
    doc["components"]["schemas"][name].get("example")
}

/// A schema in full: its description, its members (or alternatives) and its example.
fn schema_block(schema: &Value) -> Markup {
    html! {
        @if let Some(description) = schema["description"].as_str() {
            p { (prose(description)) }
        }
        p { "Type: " (type_of(schema)) }
        @if let Some(properties) = schema["properties"].as_object() {
            (properties_table(schema, properties))
        }
        @if let Some(example) = schema.get("example") {
            details {
                summary { "Example" }
                pre { code { (pretty(example)) } }
            }
        }
    }
}

fn properties_table(schema: &Value, properties: &serde_json::Map<String, Value>) -> Markup {
    let required: Vec<&str> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    html! {
        table {
            thead { tr { th { "member" } th { "type" } th { "description" } } }
            tbody {
                @for (name, property) in properties {
                    tr {
                        td {
                            code { (name) }
                            @if required.contains(&name.as_str()) { " (required)" }
                        }
                        td { (type_of(property)) }
                        td { (prose(property["description"].as_str().unwrap_or(""))) }
                    }
                }
            }
        }
    }
}

/// A schema's type in a few words: named schemas linked, arrays and alternatives
/// spelled out, enumerations and bounds listed.
fn type_of(schema: &Value) -> Markup {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return html! { a href={ "#schema-" (name) } { (name) } };
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(alternatives) = schema[key].as_array() {
            let joiner = if key == "allOf" { " and " } else { " or " };
            return html! {
                @for (i, alternative) in alternatives.iter().enumerate() {
                    @if i > 0 { (joiner) }
                    (type_of(alternative))
                }
            };
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let bounds = bounds(schema);
    html! {
        @if types.is_empty() {
            "any"
        }
        @for (i, t) in types.iter().enumerate() {
            @if i > 0 { " or " }
            @if *t == "array" {
                "array of " (type_of(&schema["items"]))
            } @else {
                (t)
                @if let Some(format) = schema["format"].as_str() { " (" (format) ")" }
            }
        }
        @if let Some(values) = schema["enum"].as_array() {
            ": one of "
            @for (i, v) in values.iter().enumerate() {
                @if i > 0 { ", " }
                code { (compact(v)) }
            }
        }
        @if !bounds.is_empty() { " (" (bounds.join(", ")) ")" }
    }
}

/// The bounds a schema states.
fn bounds(schema: &Value) -> Vec<String> {
    [
        ("minLength", "at least {} characters"),
        ("maxLength", "at most {} characters"),
        ("minimum", "at least {}"),
        ("maximum", "at most {}"),
        ("minItems", "at least {} items"),
        ("maxItems", "at most {} items"),
    ]
    .into_iter()
    .filter_map(|(key, text)| schema.get(key).map(|v| text.replace("{}", &compact(v))))
    .collect()
}

/// A description's text, its `code` spans set as code (the document's descriptions are
/// the handlers' doc comments, written with backticks).
fn prose(text: &str) -> Markup {
    html! {
        @for (i, part) in text.split('`').enumerate() {
            @if i % 2 == 1 { code { (part) } } @else { (part) }
        }
    }
}

fn compact(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_operation_and_schema_of_the_document_is_on_the_page() {
        let doc = serde_json::to_value(super::super::document()).unwrap();
        let page = render(&doc).into_string();
        for o in operations(&doc) {
            assert!(
                page.contains(&format!("id=\"{}\"", o.anchor())),
                "{} {} missing",
                o.method,
                o.path
            );
        }
        for name in doc["components"]["schemas"].as_object().unwrap().keys() {
            assert!(page.contains(&format!("id=\"schema-{name}\"")), "{name}");
        }
    }

    #[test]
    fn backticks_are_code() {
        assert_eq!(
            prose("send `version=1.0` & <b>").into_string(),
            "send <code>version=1.0</code> &amp; &lt;b&gt;"
        );
    }

    #[test]
    fn types_are_spelled_out() {
        let schema = serde_json::json!({
            "type": ["array", "null"], "items": {"$ref": "#/components/schemas/FieldError"},
            "maxItems": 8
        });
        assert_eq!(
            type_of(&schema).into_string(),
            "array of <a href=\"#schema-FieldError\">FieldError</a> or null (at most 8 items)"
        );
    }
}
