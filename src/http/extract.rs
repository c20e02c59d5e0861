//! Extractors that reject bad input in the project's own error shape instead of axum's
//! plain-text rejections.

use super::error::ApiError;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::json;

/// JSON body; a bad body is a 400 (syntax) or 422 (shape) with line and column. Text
/// with NUL characters is refused (PostgreSQL cannot store them).
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
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
        let bytes = match axum::body::Bytes::from_request(req, state).await {
            Ok(b) => b,
            Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    "the request body is too large",
                ))
            }
            Err(r) => {
                return Err(ApiError::bad_request(format!(
                    "cannot read the body: {}",
                    r.body_text()
                )))
            }
        };
        if has_nul_escape(&bytes) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                "text in the body must not contain NUL characters (\\u0000)",
            ));
        }
        match serde_json::from_slice::<T>(&bytes) {
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
}

/// Whether JSON text contains the escape `\u0000` (in any letter case).
fn has_nul_escape(b: &[u8]) -> bool {
    b.windows(6)
        .any(|w| w[0] == b'\\' && (w[1] | 0x20) == b'u' && &w[2..6] == b"0000")
}

/// Query string; a bad parameter is a 400 that names it.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(r) => Err(query_rejection(r)),
        }
    }
}

fn query_rejection(r: QueryRejection) -> ApiError {
    let detail = std::error::Error::source(&r)
        .map(|s| s.to_string())
        .unwrap_or_else(|| r.body_text());
    ApiError::bad_request(format!("bad query parameters: {detail}")).with("where", json!("query"))
}

/// Path parameters; a bad one is a 400.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(r) => Err(path_rejection(r)),
        }
    }
}

fn path_rejection(r: PathRejection) -> ApiError {
    ApiError::bad_request(format!("bad path: {}", r.body_text())).with("where", json!("path"))
}

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}
