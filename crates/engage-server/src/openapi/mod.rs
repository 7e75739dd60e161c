//! The OpenAPI 3.1 description of the HTTP API (`GET /api/openapi.json`,
//! `engage openapi`), generated from the handlers' `#[utoipa::path]` annotations and the
//! request and response types. One part per audience: [`public`] (what pages, apps and
//! operators call: collect, the Monitoring API, decision, service discovery, the tag,
//! ops, the Engagement History API) and [`admin`] (what an account's key administers).

mod admin;
pub(crate) mod bodies;
mod docs;
mod public;
pub(crate) mod routes;
pub mod schema;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The parts every operation shares: the error body and the security schemes.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Engage",
        description = "Engagement tracking compatible with the LivePerson web tag, its \
                       Monitoring API and its Engagement History API. Prose and worked \
                       examples: docs/api.md.",
        license(name = "Apache-2.0")
    ),
    components(schemas(schema::Error, schema::FieldError)),
    modifiers(&SecuritySchemes)
)]
struct Common;

/// The name of the Bearer security scheme, for `security((...))` in annotations.
pub const BEARER: &str = "bearer";
/// The name of the OAuth 1.0a security scheme.
pub const OAUTH1: &str = "oauth1";

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key of the account (`engage account keys`), as \
                         `Authorization: Bearer <appKey>`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            OAUTH1,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::OAuth)
                    .description(Some(
                        "OAuth 1.0a (RFC 5849), HMAC-SHA1, signed with the API key's \
                         consumer key and secret and its token and token secret, as \
                         LivePerson's APIs accept.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The whole description (`GET /api/openapi.json`, `engage openapi`).
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = Common::openapi();
    doc.merge(public::PublicApi::openapi());
    doc.merge(admin::AdminApi::openapi());
    doc
}

/// The description as pretty-printed JSON, as `engage openapi` prints it.
pub fn document_json() -> String {
    // A document of strings, maps and numbers always serializes.
    serde_json::to_string_pretty(&document()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Merging keeps one schema of a name: two parts that name different shapes alike
    /// would describe one of them wrongly.
    #[test]
    fn no_two_parts_name_different_schemas_alike() {
        let schemas = |doc: utoipa::openapi::OpenApi| {
            let json = serde_json::to_value(doc).unwrap();
            json["components"]["schemas"]
                .as_object()
                .cloned()
                .unwrap_or_default()
        };
        let parts = [
            ("common", schemas(Common::openapi())),
            ("public", schemas(public::PublicApi::openapi())),
            ("admin", schemas(admin::AdminApi::openapi())),
        ];
        for (i, (a, first)) in parts.iter().enumerate() {
            for (b, second) in &parts[i + 1..] {
                for (name, shape) in first {
                    if let Some(other) = second.get(name) {
                        assert_eq!(shape, other, "`{name}` is one shape in {a}, another in {b}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_document_is_openapi_3_1_with_both_security_schemes_and_the_error_body() {
        let json = serde_json::to_value(document()).unwrap();
        assert_eq!(json["openapi"], "3.1.0");
        let components = &json["components"];
        assert_eq!(components["securitySchemes"][BEARER]["scheme"], "bearer");
        assert_eq!(components["securitySchemes"][OAUTH1]["scheme"], "oauth");
        assert_eq!(
            components["schemas"]["Error"]["required"],
            serde_json::json!(["code", "message"])
        );
    }

    #[test]
    fn every_security_requirement_names_a_scheme_of_the_document() {
        let json = serde_json::to_value(document()).unwrap();
        let schemes = json["components"]["securitySchemes"].as_object().unwrap();
        let mut named = 0;
        for (path, item) in json["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for requirement in op["security"].as_array().into_iter().flatten() {
                    for name in requirement.as_object().unwrap().keys() {
                        assert!(schemes.contains_key(name), "{method} {path}: {name}");
                        named += 1;
                    }
                }
            }
        }
        // The Engagement History search takes either scheme.
        let search = &json["paths"]
            ["/interaction_history/api/account/{account_id}/interactions/search"]["post"];
        assert_eq!(
            search["security"],
            serde_json::json!([{ BEARER: [] }, { OAUTH1: [] }])
        );
        assert!(named >= 2);
    }
}
