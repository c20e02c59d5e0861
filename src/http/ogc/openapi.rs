//! The OpenAPI 3.0 document of the OGC routes (`/ogc/api`, the landing page's
//! `service-desc`): paths, parameters with the default and maximum `limit`, and answers.

use super::layers::Layer;
use super::{DEFAULT_LIMIT, GEOJSON_TYPE, JSON_TYPE, MAX_LIMIT, OPENAPI_TYPE};
use crate::http::extract::Ctx;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::collections::BTreeMap;

/// The document.
#[derive(Serialize)]
pub struct OpenApi {
    openapi: &'static str,
    info: Info,
    servers: Vec<Server>,
    paths: BTreeMap<String, PathItem>,
    components: Components,
}

/// Its title and version.
#[derive(Serialize)]
pub struct Info {
    title: &'static str,
    version: &'static str,
    description: &'static str,
}

/// Where the routes are served.
#[derive(Serialize)]
pub struct Server {
    url: String,
}

/// One path's operations (all reads).
#[derive(Serialize)]
pub struct PathItem {
    get: Operation,
}

/// One operation.
#[derive(Serialize)]
pub struct Operation {
    summary: String,
    #[serde(rename = "operationId")]
    operation_id: String,
    parameters: Vec<Param>,
    responses: BTreeMap<&'static str, Answer>,
}

/// A parameter.
#[derive(Serialize)]
pub struct Param {
    name: &'static str,
    #[serde(rename = "in")]
    place: &'static str,
    required: bool,
    description: &'static str,
    schema: Schema,
    #[serde(skip_serializing_if = "Option::is_none")]
    style: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    explode: Option<bool>,
}

/// A schema of a parameter or body.
#[derive(Serialize, Default)]
pub struct Schema {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    minimum: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    maximum: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    default: Option<usize>,
    #[serde(rename = "minItems", skip_serializing_if = "Option::is_none")]
    min_items: Option<usize>,
    #[serde(rename = "maxItems", skip_serializing_if = "Option::is_none")]
    max_items: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    items: Option<Box<Schema>>,
    #[serde(rename = "enum", skip_serializing_if = "Option::is_none")]
    one_of: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<&'static str>,
}

/// An answer.
#[derive(Serialize)]
pub struct Answer {
    description: &'static str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    content: BTreeMap<&'static str, Media>,
}

/// An answer's body.
#[derive(Serialize)]
pub struct Media {
    schema: Schema,
}

/// The security scheme: the bearer token.
#[derive(Serialize)]
pub struct Components {
    #[serde(rename = "securitySchemes")]
    security_schemes: BTreeMap<&'static str, Security>,
}

/// A bearer token.
#[derive(Serialize)]
pub struct Security {
    #[serde(rename = "type")]
    kind: &'static str,
    scheme: &'static str,
}

fn text() -> Schema {
    Schema {
        kind: Some("string"),
        ..Schema::default()
    }
}

fn query(name: &'static str, description: &'static str, schema: Schema) -> Param {
    Param {
        name,
        place: "query",
        required: false,
        description,
        schema,
        style: None,
        explode: None,
    }
}

fn path(name: &'static str, description: &'static str) -> Param {
    Param {
        name,
        place: "path",
        required: true,
        description,
        schema: text(),
        style: None,
        explode: None,
    }
}

fn answers(media: &'static str) -> BTreeMap<&'static str, Answer> {
    let plain = |description| Answer {
        description,
        content: BTreeMap::new(),
    };
    let mut m = BTreeMap::new();
    m.insert(
        "200",
        Answer {
            description: "the document",
            content: BTreeMap::from([(
                media,
                Media {
                    schema: Schema {
                        kind: Some("object"),
                        ..Schema::default()
                    },
                },
            )]),
        },
    );
    m.insert("400", plain("a bad parameter, named in the JSON error"));
    m.insert("401", plain("no valid bearer token"));
    m.insert("403", plain("the role may not read this collection"));
    m.insert("404", plain("no such collection or feature"));
    m
}

fn operation(id: &str, summary: &str, parameters: Vec<Param>, media: &'static str) -> PathItem {
    PathItem {
        get: Operation {
            summary: summary.to_string(),
            operation_id: id.to_string(),
            parameters,
            responses: answers(media),
        },
    }
}

fn crs_param(name: &'static str, description: &'static str) -> Param {
    query(
        name,
        description,
        Schema {
            kind: Some("string"),
            format: Some("uri"),
            ..Schema::default()
        },
    )
}

fn item_params() -> Vec<Param> {
    vec![
        crs_param("crs", "the CRS of the answer (default CRS84)"),
        query(
            "datetime",
            "grids only: the grids as they were at this RFC 3339 instant",
            text(),
        ),
    ]
}

fn items_params() -> Vec<Param> {
    let mut v = vec![
        query(
            "limit",
            "features per page",
            Schema {
                kind: Some("integer"),
                minimum: Some(1),
                maximum: Some(MAX_LIMIT),
                default: Some(DEFAULT_LIMIT),
                ..Schema::default()
            },
        ),
        query(
            "offset",
            "features skipped (the next link sets it)",
            Schema {
                kind: Some("integer"),
                minimum: Some(0),
                default: Some(0),
                ..Schema::default()
            },
        ),
        Param {
            style: Some("form"),
            explode: Some(false),
            ..query(
                "bbox",
                "only features meeting this box (minx,miny,maxx,maxy in bbox-crs)",
                Schema {
                    kind: Some("array"),
                    min_items: Some(4),
                    max_items: Some(4),
                    items: Some(Box::new(Schema {
                        kind: Some("number"),
                        ..Schema::default()
                    })),
                    ..Schema::default()
                },
            )
        },
        crs_param("bbox-crs", "the CRS of bbox (default CRS84)"),
        query("filter", "a CQL2 filter on the queryables", text()),
        query(
            "filter-lang",
            "the language of filter",
            Schema {
                kind: Some("string"),
                one_of: Some(vec!["cql2-text", "cql2-json"]),
                ..Schema::default()
            },
        ),
        crs_param(
            "filter-crs",
            "the CRS of the filter's geometries (default CRS84)",
        ),
    ];
    v.extend(item_params());
    v
}

/// The document for a server at `base` (`…/ogc`).
pub fn document(base: String) -> OpenApi {
    let mut paths = BTreeMap::new();
    paths.insert(
        "/".into(),
        operation("landing", "the landing page", vec![], JSON_TYPE),
    );
    paths.insert(
        "/conformance".into(),
        operation("conformance", "the conformance classes", vec![], JSON_TYPE),
    );
    paths.insert(
        "/api".into(),
        operation("api", "this document", vec![], OPENAPI_TYPE),
    );
    paths.insert(
        "/collections".into(),
        operation(
            "collections",
            "the collections the caller may read",
            vec![],
            JSON_TYPE,
        ),
    );
    for l in Layer::ALL {
        let id = l.id();
        paths.insert(
            format!("/collections/{id}"),
            operation(&format!("{id}_collection"), l.title(), vec![], JSON_TYPE),
        );
        paths.insert(
            format!("/collections/{id}/queryables"),
            operation(
                &format!("{id}_queryables"),
                "the queryable properties (JSON Schema)",
                vec![],
                "application/schema+json",
            ),
        );
        paths.insert(
            format!("/collections/{id}/items"),
            operation(
                &format!("{id}_items"),
                "a page of features",
                items_params(),
                GEOJSON_TYPE,
            ),
        );
        let mut one = vec![path("featureId", "the feature's id")];
        one.extend(item_params());
        paths.insert(
            format!("/collections/{id}/items/{{featureId}}"),
            operation(&format!("{id}_item"), "one feature", one, GEOJSON_TYPE),
        );
    }
    OpenApi {
        openapi: "3.0.3",
        info: Info {
            title: "wangge OGC API - Features",
            version: env!("CARGO_PKG_VERSION"),
            description: "Read access to wangge's layers with the bearer token of the JSON API",
        },
        servers: vec![Server { url: base }],
        paths,
        components: Components {
            security_schemes: BTreeMap::from([(
                "bearer",
                Security {
                    kind: "http",
                    scheme: "bearer",
                },
            )]),
        },
    }
}

/// `GET /ogc/api`: the OpenAPI document.
pub async fn api(Ctx { st, .. }: Ctx) -> Response {
    let body = document(super::href(&st, ""));
    (
        [(header::CONTENT_TYPE, OPENAPI_TYPE)],
        crate::http::extract::Json(body),
    )
        .into_response()
}
