//! Request bodies and memory: the body limit of each route (small everywhere, large only
//! for whole-layer imports) and a bound on how many large bodies are read and parsed at
//! once, so that the memory a burst of requests can take is bounded by slots × (limit +
//! the parsed values the extractor allows) (see README, Limits). It also reads small
//! bodies before the gate, and drains what is left of a large one after its answer, so
//! that a client refused before its body was read still reads the answer.
//!
//! Must not: parse bodies (the extractors do, within the limit set here).

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

/// What is left of a large body after its answer is read and thrown away (a chunk at a
/// time) up to this size, so that the client reads the answer.
const DRAIN_BYTES: u64 = 64 * 1024 * 1024;

/// Reads and forgets up to `max` bytes of a body.
async fn drain(mut body: axum::body::Body, max: u64) {
    use axum::body::HttpBody;
    let mut read = 0u64;
    while read <= max {
        let frame = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await;
        match frame {
            Some(Ok(f)) => read += f.data_ref().map_or(0, |d| d.len() as u64),
            _ => break,
        }
    }
}

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
        // Refused unread ([`read_small`] reads and forgets what the client still sends).
        return too_large(limit).into_response();
    }
    let unknown_length =
        declared.is_none() && req.headers().contains_key(header::TRANSFER_ENCODING);
    let large = unknown_length || declared.is_some_and(|n| n > LARGE_BODY_BYTES as u64);
    let _slot = if large {
        let wait = crate::work::pool().queue_wait();
        match tokio::time::timeout(wait, Arc::clone(&st.large_bodies.slots).acquire_owned()).await {
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

/// Reads a small body (a declared length up to [`LARGE_BODY_BYTES`]) in full before the
/// request is handled, and after the answer to a request with a larger body, reads and
/// forgets what is left of it (up to [`DRAIN_BYTES`]). A request refused before its body
/// is read (by the gate, by a route that takes no body, or for its declared size) would
/// otherwise leave unread bytes in the socket, and closing the connection would reset it
/// under the answer: the client would see no answer.
pub async fn read_small(req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(0) => next.run(req).await,
        Some(n) if n <= LARGE_BODY_BYTES as u64 => {
            let (parts, body) = req.into_parts();
            match axum::body::to_bytes(body, LARGE_BODY_BYTES).await {
                Ok(b) => {
                    next.run(Request::from_parts(parts, axum::body::Body::from(b)))
                        .await
                }
                Err(_) => {
                    ApiError::bad_request("the body could not be read to its declared length")
                        .into_response()
                }
            }
        }
        None if !req.headers().contains_key(header::TRANSFER_ENCODING) => next.run(req).await,
        _ => {
            let (parts, body) = req.into_parts();
            let shared = Arc::new(std::sync::Mutex::new(body));
            let inner = Arc::clone(&shared);
            let stream = futures::stream::poll_fn(move |cx| {
                use axum::body::HttpBody;
                use std::task::Poll;
                let Ok(mut b) = inner.lock() else {
                    return Poll::Ready(None);
                };
                loop {
                    return match std::pin::Pin::new(&mut *b).poll_frame(cx) {
                        Poll::Ready(Some(Ok(f))) => match f.into_data() {
                            Ok(d) => Poll::Ready(Some(Ok::<_, axum::Error>(d))),
                            Err(_) => continue,
                        },
                        Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
                        Poll::Ready(None) => Poll::Ready(None),
                        Poll::Pending => Poll::Pending,
                    };
                }
            });
            let resp = next
                .run(Request::from_parts(
                    parts,
                    axum::body::Body::from_stream(stream),
                ))
                .await;
            let rest = shared.lock().map(|mut b| std::mem::take(&mut *b)).ok();
            if let (Some(rest), true) = (rest, declared.is_none_or(|n| n <= DRAIN_BYTES)) {
                drain(rest, DRAIN_BYTES).await;
            }
            resp
        }
    }
}
