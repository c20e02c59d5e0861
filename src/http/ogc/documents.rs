//! The OGC documents around the features: the landing page, conformance, the collections
//! and one collection (extent and CRS list), and a collection's queryables (JSON Schema).

use super::layers::Layer;
use super::{href, Link, GEOJSON_TYPE, JSON_TYPE, OPENAPI_TYPE};
use crate::domain::access::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Ctx, Json, Named};
use crate::http::AppState;
use crate::spatial::ogc_crs::{OgcCrs, CRS84};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use geo::BoundingRect;
use serde::Serialize;
use std::collections::BTreeMap;

/// The conformance classes served.
pub const CONFORMS_TO: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
];

/// The landing page.
#[derive(Serialize)]
pub struct Landing {
    title: &'static str,
    description: &'static str,
    links: Vec<Link>,
}

/// `GET /ogc`: the landing page.
pub async fn landing(Ctx { st, .. }: Ctx) -> Json<Landing> {
    Json(Landing {
        title: "wangge",
        description: "Communities, grids, buildings, stations and incidents as OGC API - Features",
        links: vec![
            Link::new(href(&st, ""), "self", JSON_TYPE).titled("this document"),
            Link::new(href(&st, "/api"), "service-desc", OPENAPI_TYPE).titled("the API definition"),
            Link::new(href(&st, "/conformance"), "conformance", JSON_TYPE)
                .titled("conformance classes"),
            Link::new(href(&st, "/collections"), "data", JSON_TYPE).titled("the collections"),
        ],
    })
}

/// The conformance document.
#[derive(Serialize)]
pub struct Conformance {
    #[serde(rename = "conformsTo")]
    conforms_to: &'static [&'static str],
}

/// `GET /ogc/conformance`.
pub async fn conformance(_: Ctx) -> Json<Conformance> {
    Json(Conformance {
        conforms_to: CONFORMS_TO,
    })
}

/// The spatial extent of a collection.
#[derive(Serialize)]
pub struct Spatial {
    bbox: Vec<[f64; 4]>,
    crs: &'static str,
}

/// The temporal extent of a collection with history: open at both ends.
#[derive(Serialize)]
pub struct Temporal {
    interval: Vec<[Option<String>; 2]>,
}

/// A collection's extent.
#[derive(Serialize)]
pub struct Extent {
    spatial: Spatial,
    #[serde(skip_serializing_if = "Option::is_none")]
    temporal: Option<Temporal>,
}

/// One collection's description.
#[derive(Serialize)]
pub struct Collection {
    id: &'static str,
    title: &'static str,
    #[serde(rename = "itemType")]
    item_type: &'static str,
    extent: Extent,
    crs: Vec<&'static str>,
    #[serde(rename = "storageCrs")]
    storage_crs: &'static str,
    links: Vec<Link>,
}

/// The collections.
#[derive(Serialize)]
pub struct Collections {
    links: Vec<Link>,
    collections: Vec<Collection>,
}

fn describe(st: &AppState, layer: Layer) -> Collection {
    let snap = st.registry.snapshot();
    let bbox = snap
        .communities
        .items
        .iter()
        .filter_map(|c| c.geom.bounding_rect())
        .reduce(|a, b| {
            geo::Rect::new(
                geo::coord! { x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y) },
                geo::coord! { x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y) },
            )
        })
        .map_or([-180.0, -90.0, 180.0, 90.0], |r| {
            [r.min().x, r.min().y, r.max().x, r.max().y]
        });
    let base = format!("/collections/{}", layer.id());
    Collection {
        id: layer.id(),
        title: layer.title(),
        item_type: "feature",
        extent: Extent {
            spatial: Spatial {
                bbox: vec![bbox],
                crs: CRS84,
            },
            temporal: layer.has_history().then(|| Temporal {
                interval: vec![[None, None]],
            }),
        },
        crs: OgcCrs::ALL.iter().map(|c| c.uri()).collect(),
        storage_crs: CRS84,
        links: vec![
            Link::new(href(st, &base), "self", JSON_TYPE).titled(layer.title()),
            Link::new(href(st, &format!("{base}/items")), "items", GEOJSON_TYPE)
                .titled("the features"),
            Link::new(
                href(st, &format!("{base}/queryables")),
                "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                "application/schema+json",
            )
            .titled("the queryable properties"),
        ],
    }
}

/// The collection the path names, if the caller's role reads it: 404 for an unknown id,
/// 403 for one the role may not read (as its JSON route answers).
pub(super) fn readable(caller: &Caller, id: &str) -> ApiResult<Layer> {
    let layer = Layer::parse(id).ok_or_else(|| {
        let ids: Vec<&str> = Layer::ALL.iter().map(|l| l.id()).collect();
        ApiError::not_found(format!(
            "no collection {id:?}; collections: {}",
            ids.join(", ")
        ))
    })?;
    if !layer.readable(caller) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("this role may not read the collection {id}"),
        ));
    }
    Ok(layer)
}

/// `GET /ogc/collections`: the collections the caller's role reads.
pub async fn collections(Ctx { st, caller }: Ctx) -> Json<Collections> {
    Json(Collections {
        links: vec![Link::new(href(&st, "/collections"), "self", JSON_TYPE)],
        collections: Layer::ALL
            .into_iter()
            .filter(|l| l.readable(&caller))
            .map(|l| describe(&st, l))
            .collect(),
    })
}

/// `GET /ogc/collections/{id}`.
pub async fn collection(Named(st, caller, id): Named) -> ApiResult<Json<Collection>> {
    let layer = readable(&caller, &id)?;
    Ok(Json(describe(&st, layer)))
}

/// One queryable in JSON Schema.
#[derive(Serialize)]
pub struct Property {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(rename = "format", skip_serializing_if = "Option::is_none")]
    format: Option<&'static str>,
    #[serde(rename = "x-ogc-role", skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
}

/// A collection's queryables as a JSON Schema.
#[derive(Serialize)]
pub struct Queryables {
    #[serde(rename = "$schema")]
    schema: &'static str,
    #[serde(rename = "$id")]
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'static str,
    properties: BTreeMap<&'static str, Property>,
    #[serde(rename = "additionalProperties")]
    additional: bool,
}

/// `GET /ogc/collections/{id}/queryables`.
pub async fn queryables(Named(st, caller, id): Named) -> ApiResult<Response> {
    let layer = readable(&caller, &id)?;
    let party = super::layers::sees_party(&st.registry.snapshot(), &caller);
    let mut properties: BTreeMap<&'static str, Property> = layer
        .queryables_for(party)
        .map(|(name, kind)| {
            (
                name,
                Property {
                    kind: Some(kind.schema_type()),
                    format: None,
                    role: (name == "id").then_some("id"),
                },
            )
        })
        .collect();
    properties.insert(
        "geometry",
        Property {
            kind: None,
            format: Some(layer.geometry_format()),
            role: Some("primary-geometry"),
        },
    );
    let body = Queryables {
        schema: "https://json-schema.org/draft/2019-09/schema",
        id: href(&st, &format!("/collections/{}/queryables", layer.id())),
        kind: "object",
        title: layer.title(),
        properties,
        additional: false,
    };
    Ok((
        [(header::CONTENT_TYPE, "application/schema+json")],
        Json(body),
    )
        .into_response())
}
