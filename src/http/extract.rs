//! Extractors that reject bad input in the project's own error shape instead of axum's
//! plain-text rejections, the one context every handler starts from ([`Ctx`]), and that
//! context with the key of the record its path names ([`Named`]), a read's query
//! ([`Queried`]), or a write's path key and body ([`Write`]).

use super::bodies::{too_large, BodyLimit, LARGE_BODY_BYTES};
use super::error::ApiError;
use super::AppState;
use crate::domain::access::Caller;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::json;
use std::time::Duration;

/// JSON body; a bad body is a 400 (syntax) or 422 (shape) with line and column. Text
/// with NUL characters is refused (PostgreSQL cannot store them). A body over
/// [`LARGE_BODY_BYTES`] is checked and parsed on the work pool, not on an async worker.
pub struct Json<T>(pub T);

/// Time allowed to parse one large body on the work pool (parsing cannot be cut short;
/// the route's body limit bounds it).
const PARSE_BUDGET: Duration = Duration::from_secs(120);

impl<S: Send + Sync, T: DeserializeOwned + Send + 'static> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json_type = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|m| {
                let m = m.trim().to_ascii_lowercase();
                m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
            })
            .unwrap_or(false);
        if !json_type {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let limit = req.extensions().get::<BodyLimit>().map(|l| l.0);
        let bytes = match axum::body::Bytes::from_request(req, state).await {
            Ok(b) => b,
            Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(match limit {
                    Some(l) => too_large(l),
                    None => ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "too_large",
                        "the request body is too large",
                    ),
                })
            }
            Err(r) => {
                return Err(ApiError::bad_request(format!(
                    "cannot read the body: {}",
                    r.body_text()
                )))
            }
        };
        if bytes.len() > LARGE_BODY_BYTES {
            let max_values = limit.unwrap_or(bytes.len()) / BYTES_PER_VALUE;
            crate::work::heavy(PARSE_BUDGET, move || {
                Ok(check_values(&bytes, max_values).and_then(|()| parse::<T>(&bytes)))
            })
            .await
            .map_err(ApiError::from)?
        } else {
            parse(&bytes)
        }
    }
}

/// A large body may hold at most one JSON value (number, string, list, object...) per
/// this many bytes of its route's limit: parsed, a value takes tens of bytes however few
/// it took as text (`0,` is two), so this bounds what a body can grow to once parsed.
pub const BYTES_PER_VALUE: usize = 8;

/// Refuses a body with more than `max` JSON values (counted, not parsed: the openings of
/// lists and objects and the commas outside strings).
fn check_values(b: &[u8], max: usize) -> Result<(), ApiError> {
    let (mut values, mut in_string, mut escaped) = (1usize, false, false);
    for &c in b {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
            }
            continue;
        }
        match c {
            b'"' => in_string = true,
            // A comma, or the opening of a list or an object.
            c if b",[{".contains(&c) => values += 1,
            _ => {}
        }
    }
    if values > max {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the body holds about {values} JSON values; this route takes at most {max} (one per {BYTES_PER_VALUE} bytes of its size limit)"),
        )
        .with("limit_values", json!(max)));
    }
    Ok(())
}

/// Checks and parses a JSON body.
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<Json<T>, ApiError> {
    if has_nul_escape(bytes) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "text in the body must not contain NUL characters (\\u0000)",
        ));
    }
    match serde_json::from_slice::<T>(bytes) {
        Ok(v) => Ok(Json(v)),
        Err(e) if e.is_data() => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            format!("the JSON body does not have the expected shape: {e}"),
        )
        .with("where", json!({ "line": e.line(), "column": e.column() }))),
        Err(e) => Err(
            ApiError::bad_request(format!("the body is not valid JSON: {e}"))
                .with("where", json!({ "line": e.line(), "column": e.column() })),
        ),
    }
}

/// Whether JSON text contains the escape `\u0000` (in any letter case).
fn has_nul_escape(b: &[u8]) -> bool {
    b.windows(6)
        .any(|w| w[0] == b'\\' && (w[1] | 0x20) == b'u' && &w[2..6] == b"0000")
}

/// Query string; a bad parameter is a 400 that names it.
pub struct Query<T>(pub T);

/// Wraps one of axum's extractors from the request's parts (`axum::extract::$name`) in
/// ours of the same name, whose rejection is `$rejection`'s [`ApiError`].
macro_rules! wrap_parts_extractor {
    ($name:ident, $rejection:ident) => {
        impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for $name<T> {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
                axum::extract::$name::<T>::from_request_parts(parts, state)
                    .await
                    .map(|axum::extract::$name(v)| $name(v))
                    .map_err($rejection)
            }
        }
    };
}

wrap_parts_extractor!(Query, query_rejection);

fn query_rejection(r: QueryRejection) -> ApiError {
    let detail = std::error::Error::source(&r)
        .map(std::string::ToString::to_string)
        .unwrap_or_else(|| r.body_text());
    ApiError::bad_request(format!("bad query parameters: {detail}")).with("where", json!("query"))
}

/// Path parameters; a bad one is a 400.
pub struct Path<T>(pub T);

wrap_parts_extractor!(Path, path_rejection);

fn path_rejection(r: PathRejection) -> ApiError {
    ApiError::bad_request(format!("bad path: {}", r.body_text())).with("where", json!("path"))
}

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// What a handler starts from: the application's state and the signed-in caller it
/// answers. Extracted in that order (the state never fails; a request without a valid
/// session is a 401 before any path, query or body is read).
pub struct Ctx {
    /// The application's state.
    pub st: AppState,
    /// The caller, with its scope resolved.
    pub caller: Caller,
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, st).await?;
        Ok(Ctx {
            st: st.clone(),
            caller,
        })
    }
}

/// A request about the record the path names: the state and caller every handler starts
/// from ([`Ctx`]) and the path's key (a code unless said otherwise), extracted in that order.
pub struct Named<K = String>(pub AppState, pub Caller, pub K);

/// Extracts `$name(state, caller, value)`: a [`Ctx`], then `$part` (one of ours above).
macro_rules! ctx_with {
    ($name:ident, $part:ident) => {
        impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for $name<T> {
            type Rejection = ApiError;

            async fn from_request_parts(
                parts: &mut Parts,
                st: &AppState,
            ) -> Result<Self, ApiError> {
                let Ctx { st, caller } = Ctx::from_request_parts(parts, st).await?;
                let $part(v) = $part::from_request_parts(parts, &st).await?;
                Ok($name(st, caller, v))
            }
        }
    };
}

ctx_with!(Named, Path);

/// A read with a query: the state and caller every handler starts from ([`Ctx`]) and the
/// parsed query string, extracted in that order.
pub struct Queried<Q>(pub AppState, pub Caller, pub Q);

ctx_with!(Queried, Query);

/// A write to the record the path names: the state and caller every handler starts from
/// ([`Ctx`]), the path's key (a code unless said otherwise) and the JSON body, extracted
/// in that order.
pub struct Write<B, K = String>(pub AppState, pub Caller, pub K, pub B);

impl<B, K> FromRequest<AppState> for Write<B, K>
where
    B: DeserializeOwned + Send + 'static,
    K: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, st: &AppState) -> Result<Self, ApiError> {
        let (mut parts, body) = req.into_parts();
        let Ctx { st, caller } = Ctx::from_request_parts(&mut parts, st).await?;
        let Path(key) = Path::from_request_parts(&mut parts, &st).await?;
        let Json(body) = Json::from_request(Request::from_parts(parts, body), &st).await?;
        Ok(Write(st, caller, key, body))
    }
}
