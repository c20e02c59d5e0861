//! Request bodies and memory: the body limit of each route (small everywhere, large only
//! for whole-layer imports) and a bound on how many large bodies are read and parsed at
//! once, so that the memory a burst of requests can take is bounded by
//! limit × slots × the parse's expansion (see README, Limits).
//!
//! Must not: read bodies itself (the extractors do, within the limit set here).

use super::error::ApiError;
use super::AppState;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;
use tokio::sync::Semaphore;
use tower::{Layer, ServiceExt};

/// Bodies above this size (or of unknown length) are large: they take a slot while they
/// are read, parsed and handled, and JSON of this size is parsed on the work pool.
pub const LARGE_BODY_BYTES: usize = 256 * 1024;

/// The route whose bodies may be as large as `WANGGE_IMPORT_BODY_LIMIT`.
const IMPORT_ROUTE: &str = "/api/import/{layer}";

/// The body limit of the request being handled, for the 413 to name it.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// Slots for large bodies.
#[derive(Debug)]
pub struct LargeBodies {
    slots: Arc<Semaphore>,
    count: usize,
}

impl LargeBodies {
    /// `count` slots (at least one).
    pub fn new(count: usize) -> Self {
        let count = count.max(1);
        Self {
            slots: Arc::new(Semaphore::new(count)),
            count,
        }
    }

    /// Slots free now.
    pub fn free(&self) -> usize {
        self.slots.available_permits()
    }

    /// Slots in all.
    pub fn count(&self) -> usize {
        self.count
    }
}

/// The 413 for a body over `limit` bytes.
pub fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("the request body is larger than this route's limit of {limit} bytes"),
    )
    .with("limit", json!(limit))
}

/// Route middleware (after the gate, so only callers the route admits reach it): sets the
/// route's body limit, refuses a declared length over it at once, and makes a large body
/// wait for a slot (503 `busy` with `Retry-After` when none frees in time).
pub async fn limit(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    let import = req
        .extensions()
        .get::<MatchedPath>()
        .is_some_and(|p| p.as_str() == IMPORT_ROUTE);
    let limit = if import {
        st.config.import_body_limit
    } else {
        st.config.body_limit
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large(limit).into_response();
    }
    let unknown_length =
        declared.is_none() && req.headers().contains_key(header::TRANSFER_ENCODING);
    let large = unknown_length || declared.is_some_and(|n| n > LARGE_BODY_BYTES as u64);
    let _slot = if large {
        let wait = crate::work::pool().queue_wait();
        match tokio::time::timeout(wait, Arc::clone(&st.large_bodies.slots).acquire_owned()).await
        {
            Ok(Ok(permit)) => Some(permit),
            _ => {
                return ApiError::from(crate::work::WorkError::Busy {
                    retry_after_s: wait.as_secs().max(1) * 2,
                })
                .into_response()
            }
        }
    } else {
        None
    };
    req.extensions_mut().insert(BodyLimit(limit));
    match DefaultBodyLimit::max(limit).layer(next).oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    }
}
