//! A collection's features (`/items`) and one feature (`/items/{featureId}`): the query
//! parameters (`limit`, `offset`, `bbox`, `bbox-crs`, `crs`, `datetime`, `filter`,
//! `filter-lang`, `filter-crs`, queryables as `name=value`), the page with its links and
//! counts, and the answer in the asked CRS with `Content-Crs`.

use super::documents::readable;
use super::layers::{self, Extra, Feat, FeatureId, Layer, Scan};
use super::{
    encode, href, Link, DEFAULT_LIMIT, GEOJSON_TYPE, JSON_TYPE, MAX_BBOX_DEGREES, MAX_LIMIT,
};
use crate::domain::access::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Ctx, Path, Query};
use crate::http::{params, AppState};
use crate::spatial::cql2::{self, Cmp, Expr, FilterError, Lang, Operand, Subject};
use crate::spatial::ogc_crs::OgcCrs;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use geo::{Coord, Geometry, MapCoords, Rect};
use serde::Serialize;
use serde_json::Map;
use serde_json::Value;
use std::time::Duration;

/// Time a page may take on the work pool.
const PAGE_BUDGET: Duration = Duration::from_secs(20);

/// Parameters of `/items`, read from the query string.
struct ItemsQuery {
    limit: usize,
    offset: usize,
    bbox: Option<Rect<f64>>,
    crs: OgcCrs,
    at: Option<DateTime<Utc>>,
    filter: Option<Expr>,
    /// The parameters as given, to repeat in the paging links.
    given: Vec<(String, String)>,
}

fn number(name: &str, v: &str) -> ApiResult<usize> {
    v.parse::<usize>().map_err(|_| {
        ApiError::invalid(
            name,
            format!("{name} must be a whole number ≥ 0, got {v:?}"),
        )
    })
}

fn crs_param(name: &str, v: &str) -> ApiResult<OgcCrs> {
    OgcCrs::parse(v).ok_or_else(|| {
        let all: Vec<&str> = OgcCrs::ALL.iter().map(|c| c.uri()).collect();
        ApiError::invalid(
            name,
            format!("unsupported {name} {v:?}; supported: {}", all.join(", ")),
        )
    })
}

/// The box of `bbox` in WGS 84, given in `crs`; at most [`MAX_BBOX_DEGREES`] wide.
fn bbox(v: &str, crs: OgcCrs) -> ApiResult<Rect<f64>> {
    let nums: Vec<f64> = v
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| ApiError::invalid("bbox", format!("bbox must be four numbers, got {v:?}")))?;
    let [a, b, c, d] = nums[..] else {
        return Err(ApiError::invalid(
            "bbox",
            format!("bbox must be four numbers, got {v:?}"),
        ));
    };
    let lo = crs.to_wgs84(Coord { x: a, y: b });
    let hi = crs.to_wgs84(Coord { x: c, y: d });
    // Checked as the JSON routes check a box, once in longitude and latitude.
    let b = params::bbox(&format!("{},{},{},{}", lo.x, lo.y, hi.x, hi.y))?;
    if b.max_x - b.min_x > MAX_BBOX_DEGREES || b.max_y - b.min_y > MAX_BBOX_DEGREES {
        return Err(ApiError::invalid(
            "bbox",
            format!("bbox may span at most {MAX_BBOX_DEGREES} degrees each way"),
        ));
    }
    Ok(Rect::new(
        Coord {
            x: b.min_x,
            y: b.min_y,
        },
        Coord {
            x: b.max_x,
            y: b.max_y,
        },
    ))
}

/// A refused parameter: 400, as OGC API - Features asks (the JSON routes' `invalid` is a
/// 422), naming the parameter.
fn bad_parameter(mut e: ApiError) -> ApiError {
    if e.status == axum::http::StatusCode::UNPROCESSABLE_ENTITY {
        e.status = axum::http::StatusCode::BAD_REQUEST;
    }
    e
}

fn filter_error(e: &FilterError) -> ApiError {
    let err = ApiError::invalid("filter", e.to_string());
    match e {
        FilterError::UnknownProperty(p) => err.with("property", Value::String(p.clone())),
        _ => err,
    }
}

impl ItemsQuery {
    fn read(layer: Layer, party: bool, given: Vec<(String, String)>) -> ApiResult<Self> {
        let get = |k: &str| given.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let limit = get("limit").map(|v| number("limit", v)).transpose()?;
        if limit == Some(0) {
            return Err(ApiError::invalid("limit", "limit must be at least 1"));
        }
        let limit = limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
        let offset = get("offset")
            .map(|v| number("offset", v))
            .transpose()?
            .unwrap_or(0);
        let crs = get("crs")
            .map(|v| crs_param("crs", v))
            .transpose()?
            .unwrap_or(OgcCrs::Crs84);
        let bbox_crs = get("bbox-crs")
            .map(|v| crs_param("bbox-crs", v))
            .transpose()?
            .unwrap_or(OgcCrs::Crs84);
        let bbox = get("bbox").map(|v| bbox(v, bbox_crs)).transpose()?;
        let at = match get("datetime") {
            None => None,
            Some(_) if !layer.has_history() => {
                return Err(ApiError::invalid(
                    "datetime",
                    format!("the collection {} has no history to ask about", layer.id()),
                ))
            }
            Some(v) if v.contains('/') => {
                return Err(ApiError::invalid(
                    "datetime",
                    "datetime takes one instant (the grids as they were then), not an interval",
                ))
            }
            Some(v) => Some(params::at(v).map_err(|_| {
                ApiError::invalid(
                    "datetime",
                    format!("datetime must be an RFC 3339 instant, got {v:?}"),
                )
            })?),
        };
        let mut parts = Vec::new();
        if let Some(text) = get("filter") {
            let lang = match get("filter-lang") {
                None | Some("cql2-text") => Lang::Text,
                Some("cql2-json") => Lang::Json,
                Some(other) => {
                    return Err(ApiError::invalid(
                        "filter-lang",
                        format!("unsupported filter-lang {other:?}; cql2-text or cql2-json"),
                    ))
                }
            };
            let fcrs = get("filter-crs")
                .map(|v| crs_param("filter-crs", v))
                .transpose()?
                .unwrap_or(OgcCrs::Crs84);
            let e = cql2::parse(text, lang, &|c| fcrs.to_wgs84(c)).map_err(|e| filter_error(&e))?;
            cql2::check_properties(&e, &|p| layer.knows(p, party)).map_err(|e| filter_error(&e))?;
            parts.push(e);
        }
        for (name, value) in &given {
            let known = [
                "limit",
                "offset",
                "bbox",
                "bbox-crs",
                "crs",
                "datetime",
                "filter",
                "filter-lang",
                "filter-crs",
                "f",
            ];
            if known.contains(&name.as_str()) {
                continue;
            }
            let Some((_, kind)) = layer.queryables_for(party).find(|(n, _)| n == name) else {
                return Err(ApiError::invalid(
                    name,
                    format!(
                        "unknown parameter {name:?}: not a parameter nor a queryable of {}",
                        layer.id()
                    ),
                ));
            };
            let literal = match kind {
                layers::Kind::Text => Operand::Text(value.clone()),
                _ => Operand::Number(value.parse::<f64>().map_err(|_| {
                    ApiError::invalid(name, format!("{name} must be a number, got {value:?}"))
                })?),
            };
            parts.push(Expr::Compare(
                Cmp::Eq,
                Operand::Property(name.clone()),
                literal,
            ));
        }
        let filter = match parts.len() {
            0 => None,
            1 => parts.pop(),
            _ => Some(Expr::And(parts)),
        };
        Ok(Self {
            limit,
            offset,
            bbox,
            crs,
            at,
            filter,
            given,
        })
    }

    /// The query string with `offset` set to `offset`.
    fn with_offset(&self, offset: usize) -> String {
        let mut q: Vec<String> = self
            .given
            .iter()
            .filter(|(k, _)| k != "offset")
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        if offset > 0 {
            q.push(format!("offset={offset}"));
        }
        q.join("&")
    }
}

/// A feature as served.
#[derive(Serialize)]
pub struct FeatureOut {
    #[serde(rename = "type")]
    kind: &'static str,
    id: FeatureId,
    geometry: geojson::Geometry,
    properties: Map<String, Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    links: Vec<Link>,
}

/// A page of features.
#[derive(Serialize)]
pub struct Page {
    #[serde(rename = "type")]
    kind: &'static str,
    features: Vec<FeatureOut>,
    links: Vec<Link>,
    #[serde(rename = "numberMatched")]
    matched: usize,
    #[serde(rename = "numberReturned")]
    returned: usize,
    #[serde(rename = "timeStamp")]
    time_stamp: String,
}

fn out(f: Feat, crs: OgcCrs, links: Vec<Link>) -> FeatureOut {
    let g: Geometry<f64> = f.geometry.map_coords(|c| crs.from_wgs84(c));
    FeatureOut {
        kind: "Feature",
        id: f.id,
        geometry: geojson::Geometry::from(&g),
        properties: f.properties,
        links,
    }
}

fn geojson_response<T: Serialize>(body: &T, crs: OgcCrs) -> Response {
    let content_crs = HeaderValue::from_str(&format!("<{}>", crs.uri())).unwrap_or_else(|_| {
        HeaderValue::from_static("<http://www.opengis.net/def/crs/OGC/1.3/CRS84>")
    });
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(GEOJSON_TYPE)),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                (header::HeaderName::from_static("content-crs"), content_crs),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => ApiError::internal(&e).into_response(),
    }
}

/// The caller's features of a layer narrowed by `scan` and `filter`, on the work pool.
async fn matching(
    st: &AppState,
    caller: &Caller,
    layer: Layer,
    at: Option<DateTime<Utc>>,
    scan: Scan,
    filter: Option<Expr>,
) -> ApiResult<Vec<Feat>> {
    let extra: Extra = layers::load(st, caller, layer, at).await?;
    let snap = st.registry.snapshot();
    let caller = caller.clone();
    Ok(crate::work::heavy(PAGE_BUDGET, move || {
        let mut all = layers::features(&snap, &caller, layer, extra, scan)?;
        if let Some(e) = &filter {
            let mut kept = Vec::with_capacity(all.len());
            for (i, f) in all.into_iter().enumerate() {
                crate::work::checkpoint_every(i, 512)?;
                let s = Subject {
                    properties: &f.properties,
                    geometry: &f.geometry,
                };
                if s.matches(e) {
                    kept.push(f);
                }
            }
            all = kept;
        }
        Ok(all)
    })
    .await?)
}

/// The collection the path names and the parameters read for the caller.
fn asked(
    st: &AppState,
    caller: &Caller,
    id: &str,
    given: Vec<(String, String)>,
) -> ApiResult<(Layer, ItemsQuery)> {
    let layer = readable(caller, id)?;
    let party = layers::sees_party(&st.registry.snapshot(), caller);
    let q = ItemsQuery::read(layer, party, given).map_err(bad_parameter)?;
    Ok((layer, q))
}

/// `GET /ogc/collections/{id}/items`: a page of the collection's features.
pub async fn items(
    Ctx { st, caller }: Ctx,
    Path(id): Path<String>,
    Query(given): Query<Vec<(String, String)>>,
) -> ApiResult<Response> {
    let (layer, q) = asked(&st, &caller, &id, given)?;
    let scan = Scan {
        bbox: q.bbox,
        only: None,
    };
    let all = matching(&st, &caller, layer, q.at, scan, q.filter.clone()).await?;
    let matched = all.len();
    let features: Vec<FeatureOut> = all
        .into_iter()
        .skip(q.offset)
        .take(q.limit)
        .map(|f| out(f, q.crs, Vec::new()))
        .collect();
    let returned = features.len();
    let path = format!("/collections/{}/items", layer.id());
    let at = |offset: usize| {
        let query = q.with_offset(offset);
        let sep = if query.is_empty() { "" } else { "?" };
        href(&st, &format!("{path}{sep}{query}"))
    };
    let mut links = vec![
        Link::new(at(q.offset), "self", GEOJSON_TYPE),
        Link::new(
            href(&st, &format!("/collections/{}", layer.id())),
            "collection",
            JSON_TYPE,
        ),
    ];
    if q.offset + returned < matched {
        links.push(Link::new(at(q.offset + returned), "next", GEOJSON_TYPE));
    }
    if q.offset > 0 {
        links.push(Link::new(
            at(q.offset.saturating_sub(q.limit)),
            "prev",
            GEOJSON_TYPE,
        ));
    }
    let page = Page {
        kind: "FeatureCollection",
        features,
        links,
        matched,
        returned,
        time_stamp: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    Ok(geojson_response(&page, q.crs))
}

/// `GET /ogc/collections/{id}/items/{featureId}`: one feature (`crs` and, for grids,
/// `datetime` as for the items).
pub async fn item(
    Ctx { st, caller }: Ctx,
    Path((id, fid)): Path<(String, String)>,
    Query(given): Query<Vec<(String, String)>>,
) -> ApiResult<Response> {
    let (layer, q) = asked(&st, &caller, &id, given)?;
    let scan = Scan {
        bbox: None,
        only: fid.parse::<i64>().ok(),
    };
    let found = matching(&st, &caller, layer, q.at, scan, None)
        .await?
        .into_iter()
        .find(|f| f.id.is(&fid))
        .ok_or_else(|| ApiError::not_found(format!("no feature {fid} in {}", layer.id())))?;
    let base = format!("/collections/{}", layer.id());
    let links = vec![
        Link::new(
            href(&st, &format!("{base}/items/{}", encode(&fid))),
            "self",
            GEOJSON_TYPE,
        ),
        Link::new(href(&st, &base), "collection", JSON_TYPE),
    ];
    Ok(geojson_response(&out(found, q.crs, links), q.crs))
}
