//! HTTP: the router, thin handlers, request and response shapes. Status codes are chosen
//! in `error`. Must not: hold SQL or geometry algorithms.

pub mod error;
pub mod extract;
pub mod params;
pub mod registry;

use crate::cache::Registry;
use crate::config::Config;
use crate::store::Store;
use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use error::ApiError;
use std::sync::Arc;
use std::time::Duration;

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// The in-process index.
    pub registry: Arc<Registry>,
    /// Settings.
    pub config: Arc<Config>,
}

impl AppState {
    /// Refreshes the index after a committed write, so the writer reads its own write.
    pub async fn after_change(&self) {
        if let Err(e) = self.registry.refresh().await {
            tracing::warn!("refreshing the index after a write failed: {e}");
        }
    }
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route for {}", uri.path()))
}

async fn health(axum::extract::State(st): axum::extract::State<AppState>) -> impl IntoResponse {
    let snap = st.registry.snapshot();
    axum::Json(serde_json::json!({
        "status": "ok",
        "change": snap.seq,
        "communities": snap.communities.items.len(),
        "grids": snap.grids.items.len(),
        "buildings": snap.buildings.items.len(),
        "stations": snap.stations.items.len(),
    }))
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    ApiError::internal(&"a handler panicked").into_response()
}

/// The whole application.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/health", get(health))
        .route("/api/locate", get(registry::locate))
        .route("/api/communities", get(registry::communities))
        .route(
            "/api/grids",
            get(registry::list_grids).post(registry::create_grid),
        )
        .route("/api/grids/batch", post(registry::batch))
        .route(
            "/api/grids/{code}",
            get(registry::get_grid)
                .put(registry::update_grid)
                .delete(registry::delete_grid),
        )
        .route("/api/grids/{code}/history", get(registry::grid_history))
        .route("/api/buildings", get(registry::buildings))
        .route("/api/stations", get(registry::stations))
        .route("/api/import/{layer}", post(registry::import));
    let timeout = Duration::from_secs(state.config.request_timeout_s);
    let limit = state.config.body_limit;
    api.fallback(not_found)
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method",
            )
        })
        .with_state(state)
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            timeout,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
}
