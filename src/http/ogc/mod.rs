//! OGC API - Features (Parts 1, 2 and 3, read side) at `/ogc`: the landing page,
//! conformance, collections, items with paging, boxes, `datetime`, CRS and CQL2 filters,
//! and the OpenAPI document of these routes. Features come from the in-process index with
//! the visibility of the JSON routes (`layers`); documents in `documents`, items in
//! `items`, the OpenAPI document in `openapi`.

mod documents;
mod items;
mod layers;
mod openapi;

pub use documents::{collection, collections, conformance, landing, queryables};
pub use items::{item, items};
pub use openapi::api;

use serde::Serialize;

/// Features on a page when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 100;
/// Most features on one page (a larger `limit` is lowered to it).
pub const MAX_LIMIT: usize = 10_000;
/// Widest `bbox`, in degrees of longitude or latitude.
pub const MAX_BBOX_DEGREES: f64 = 10.0;

/// The media type of the OpenAPI document.
pub const OPENAPI_TYPE: &str = "application/vnd.oai.openapi+json;version=3.0";
/// The media type of features.
pub const GEOJSON_TYPE: &str = "application/geo+json";
/// The media type of the other documents.
pub const JSON_TYPE: &str = "application/json";

/// A link of an OGC document.
#[derive(Debug, Clone, Serialize)]
pub struct Link {
    /// Where it points.
    pub href: String,
    /// Its relation.
    pub rel: &'static str,
    /// The media type found there.
    #[serde(rename = "type")]
    pub media: &'static str,
    /// Words for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

impl Link {
    /// A link without a title.
    pub fn new(href: String, rel: &'static str, media: &'static str) -> Self {
        Self {
            href,
            rel,
            media,
            title: None,
        }
    }

    /// The same link with a title.
    pub fn titled(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }
}

/// The absolute URL of a path of the OGC routes: under the configured public URL, else
/// relative to the site (the request's `Host` header is never used).
pub fn href(st: &crate::http::AppState, path: &str) -> String {
    let base = st
        .config
        .public_url
        .as_deref()
        .map_or("", |u| u.trim_end_matches('/'));
    format!("{base}/ogc{path}")
}

/// Percent-encodes a query value (everything but unreserved characters).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_query_values() {
        assert_eq!(super::encode("a b=c&d/é"), "a%20b%3Dc%26d%2F%C3%A9");
        assert_eq!(super::encode("x-1_2.3~"), "x-1_2.3~");
    }
}
