//! The account's own settings (Bearer key): which origins' pages may post to it.
//!
//! `GET|PUT /api/account/{accountId}/origins` with `{"allowedOrigins": [...]}`. An empty
//! list lets every origin post (the default); `"*"` says the same explicitly. The collect
//! and decision routes answer other origins 403 `origin_not_allowed`, preflight included.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use engage_model::{Node, Tape};
use serde::Serialize;

use crate::body::{read_body, Accept};
use crate::error::ApiError;
use crate::AppState;
use engage_model::body::{index, Errors, ObjReader};

/// More would be a list nobody keeps up to date; a site with more uses `"*"`.
const MAX_ORIGINS: usize = 100;
/// An origin is a scheme, a host and a port: far shorter than this.
const MAX_ORIGIN_CHARS: usize = 300;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OriginsBody<'a> {
    allowed_origins: &'a [String],
}

/// `GET /api/account/{accountId}/origins`.
pub async fn get_origins(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let account = state.authorized_account(&account_id, &headers).await?;
    Ok(axum::Json(OriginsBody {
        allowed_origins: &account.allowed_origins,
    })
    .into_response())
}

/// `PUT /api/account/{accountId}/origins` `{"allowedOrigins": ["https://shop.example"]}`.
#[tracing::instrument(skip_all, fields(account = %account_id))]
pub async fn put_origins(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    state.authorized_account(&account_id, &headers).await?;
    let bytes = read_body(&headers, body, &state.limits, Accept::Json).await?;
    let tape = Tape::parse(&bytes).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    let mut problems = Errors::new();
    let origins = parse_origins(tape.root(), &mut problems);
    let origins = match origins {
        Some(origins) if problems.is_empty() => origins,
        _ => return Err(ApiError::invalid_all("origins", problems.into_vec())),
    };
    let account = state
        .store
        .set_allowed_origins(&account_id, origins)
        .await?;
    let account = state.accounts.replace(account);
    Ok(axum::Json(OriginsBody {
        allowed_origins: &account.allowed_origins,
    })
    .into_response())
}

/// `{"allowedOrigins": [...]}`: each `"*"` or an origin as browsers send it in the
/// `Origin` header (`scheme://host[:port]`, lowercase, no path), duplicates removed.
fn parse_origins(json: Node<'_, '_>, problems: &mut Errors) -> Option<Vec<String>> {
    let members = ObjReader::strict(json, "", &["allowedOrigins"], problems)?;
    let Some(list) = members.get("allowedOrigins") else {
        problems.at(
            "/allowedOrigins",
            "required: a list of origins (empty for every origin)",
        );
        return None;
    };
    let Some(items) = list.items() else {
        problems.at("/allowedOrigins", "expected a list of origins");
        return None;
    };
    if items.len() > MAX_ORIGINS {
        problems.at(
            "/allowedOrigins",
            format!("at most {MAX_ORIGINS} origins; use \"*\" for every origin"),
        );
        return None;
    }
    let mut origins: Vec<String> = Vec::with_capacity(items.len());
    for (i, item) in items.enumerate() {
        let path = index("/allowedOrigins", i);
        match item.as_str().map(check_origin) {
            Some(Ok(origin)) => {
                if !origins.contains(&origin) {
                    origins.push(origin);
                }
            }
            Some(Err(why)) => problems.at(&path, why),
            None => problems.at(&path, "expected an origin such as \"https://shop.example\""),
        }
    }
    Some(origins)
}

/// The origin as a browser writes it, or why it is not one.
fn check_origin(text: &str) -> Result<String, String> {
    if text == "*" {
        return Ok(text.to_owned());
    }
    let bad = |why: &str| Err(format!("`{text}` is not an origin: {why}"));
    if text.chars().count() > MAX_ORIGIN_CHARS {
        return bad("too long");
    }
    let Some((scheme, rest)) = text.split_once("://") else {
        return bad("expected scheme://host, such as https://shop.example");
    };
    if scheme != "http" && scheme != "https" {
        return bad("the scheme must be http or https");
    }
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return bad("only a host and an optional port, no path, query or user");
    }
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        match v6.split_once(']') {
            Some((host, "")) => (host, None),
            Some((host, port)) => match port.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return bad("expected :port after the IPv6 address"),
            },
            None => return bad("an IPv6 address needs its closing ]"),
        }
    } else {
        match rest.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        }
    };
    if port.is_some_and(|p| p.parse::<u16>().is_err()) {
        return bad("the port must be a number up to 65535");
    }
    if host.is_empty() {
        return bad("the host is missing");
    }
    if text.chars().any(|c| c.is_ascii_uppercase()) {
        return bad("browsers send origins in lowercase");
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_what_browsers_send_in_the_origin_header() {
        for ok in [
            "https://shop.example",
            "http://localhost:3000",
            "https://[::1]:8443",
            "http://[::1]",
            "*",
        ] {
            assert_eq!(check_origin(ok).as_deref(), Ok(ok), "{ok}");
        }
        for bad in [
            "shop.example",
            "ftp://shop.example",
            "https://shop.example/",
            "https://shop.example/path",
            "https://shop.example:99999",
            "https://Shop.example",
            "https://",
            "https://user@shop.example",
            "https://[::1",
            "https://:80",
        ] {
            assert!(check_origin(bad).is_err(), "{bad}");
        }
    }
}
