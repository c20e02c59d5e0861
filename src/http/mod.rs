//! HTTP: the router, thin handlers, request and response shapes. Status codes are chosen
//! in `error`; access in `auth::gate` with the rules declared here next to each route.
//! Must not: hold SQL or geometry algorithms, or decide access anywhere but the gate and
//! `domain::access`.

pub mod accounts;
pub mod assess;
pub mod auth;
pub mod bodies;
pub mod buildings;
pub mod coverage;
pub mod error;
pub mod extract;
pub mod incident_report;
pub mod incidents;
pub mod kept;
pub mod ogc;
pub mod params;
pub mod party;
pub mod patrols;
pub mod people;
pub mod registry;
pub mod tiles;
pub mod xlsx;

use crate::cache::Registry;
use crate::config::Config;
use crate::domain::access::{Action, Area, Rule};
use crate::store::Store;
use axum::handler::Handler;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::{on, MethodFilter};
use axum::Router;
use error::ApiError;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tower_http::set_header::SetResponseHeaderLayer;

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// The in-process index.
    pub registry: Arc<Registry>,
    /// Settings.
    pub config: Arc<Config>,
    /// Recently checked sessions.
    pub sessions: Arc<auth::SessionCache>,
    /// Vector tiles and their cache.
    pub tiles: Arc<crate::maptiles::MapTiles>,
    /// The walking-network accessibility engine.
    pub coverage: Arc<crate::coverage::CoverageService>,
    /// Slots for requests with large bodies.
    pub large_bodies: Arc<bodies::LargeBodies>,
    /// The party rules' findings of the whole zone, evaluated once per change.
    pub party_findings: Arc<party::FindingsCache>,
    /// The street metres inside every second-level grid, measured once per change of the
    /// network or the grids.
    pub streets: Arc<patrols::StreetCache>,
    /// The party members of every cell, counted once per change.
    pub member_counts: Arc<party::MemberCounts>,
    /// Every grid's list feature without its shape, serialised once per change.
    pub lean_grids: Arc<registry::LeanGridCache>,
}

impl AppState {
    /// State over a store and a loaded index.
    pub fn new(store: Store, registry: Arc<Registry>, config: Config) -> Self {
        let tiles = crate::maptiles::MapTiles::new(
            &registry.snapshot(),
            config.tile_cache_mb * 1024 * 1024,
        );
        let coverage = Arc::new(crate::coverage::CoverageService::new(
            config.max_access_m,
            Duration::from_secs(config.coverage_wait_s),
        ));
        // The walking-network model is built in the background from the start, and kept
        // in step with the registry (not built on a request).
        if tokio::runtime::Handle::try_current().is_ok() {
            coverage.spawn_keeper(Arc::clone(&registry), Duration::from_secs(1));
        }
        Self {
            store,
            registry,
            large_bodies: Arc::new(bodies::LargeBodies::new(config.large_bodies)),
            config: Arc::new(config),
            sessions: Arc::new(auth::SessionCache::default()),
            tiles: Arc::new(tiles),
            coverage,
            party_findings: Arc::default(),
            streets: Arc::default(),
            member_counts: Arc::default(),
            lean_grids: Arc::default(),
        }
    }

    /// Refreshes the index after a committed write, so the writer reads its own write.
    pub async fn after_change(&self) {
        if let Err(e) = self.registry.refresh().await {
            tracing::warn!("refreshing the index after a write failed: {e}");
        }
    }
}

/// Routes with their access rules, before state and the gate are applied.
pub struct Api {
    router: Router<AppState>,
    rules: HashMap<(Method, String), Rule>,
}

impl Default for Api {
    fn default() -> Self {
        Self {
            router: Router::new(),
            rules: HashMap::new(),
        }
    }
}

impl Api {
    /// Adds a route guarded by `rule`.
    pub fn at<H, T>(mut self, method: Method, path: &str, rule: Rule, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("a standard method");
        self.router = self.router.route(path, on(filter, handler));
        let previous = self.rules.insert((method.clone(), path.to_string()), rule);
        assert!(previous.is_none(), "{method} {path} registered twice");
        self
    }

    /// Every route and its rule, for tests and documentation.
    pub fn rules(&self) -> Vec<(Method, String, Rule)> {
        let mut v: Vec<_> = self
            .rules
            .iter()
            .map(|((m, p), r)| (m.clone(), p.clone(), *r))
            .collect();
        v.sort_by(|a, b| (&a.1, a.0.as_str()).cmp(&(&b.1, b.0.as_str())));
        v
    }

    /// Adds routes that were registered without a rule (only tests do this, to show that
    /// such routes are closed).
    pub fn with_unruled(mut self, router: Router<AppState>) -> Self {
        self.router = self.router.merge(router);
        self
    }
}

/// Every route of wangge with its rule: the access table, one route per line.
#[rustfmt::skip]
pub fn api() -> Api {
    use Action::{Read, Write};
    use Method as M;
    let read = |a| Rule::Allow(a, Read);
    let write = |a| Rule::Allow(a, Write);
    Api::default()
        .at(M::GET, "/api/health", Rule::Public, health)
        .at(M::GET, "/api/health/ready", Rule::Public, ready)
        .at(M::GET, "/config.json", Rule::Public, registry::web_config)
        .at(M::GET, "/api/search", read(Area::Map), registry::search)
        .at(M::POST, "/api/auth/login", Rule::Public, auth::login)
        .at(M::POST, "/api/auth/logout", Rule::SignedIn, auth::logout)
        .at(M::GET, "/api/auth/me", Rule::SignedIn, auth::me)
        .at(M::GET, "/api/locate", read(Area::Map), registry::locate)
        .at(M::GET, "/api/communities", read(Area::Map), registry::communities)
        .at(M::GET, "/api/grids", read(Area::Map), registry::list_grids)
        .at(M::POST, "/api/grids", write(Area::Boundaries), registry::create_grid)
        .at(M::POST, "/api/grids/batch", write(Area::Boundaries), registry::batch)
        .at(M::GET, "/api/grids/{code}", read(Area::Map), registry::get_grid)
        .at(M::PUT, "/api/grids/{code}", write(Area::Boundaries), registry::update_grid)
        .at(M::DELETE, "/api/grids/{code}", write(Area::Boundaries), registry::delete_grid)
        .at(M::GET, "/api/grids/{code}/history", read(Area::Boundaries), registry::grid_history)
        .at(M::GET, "/api/grids/{code}/people", read(Area::People), people::grid_people)
        .at(M::GET, "/api/grids/{code}/households", read(Area::Map), people::grid_households)
        .at(M::PUT, "/api/grids/{code}/staff", write(Area::Staff), people::put_staff)
        .at(M::GET, "/api/people/{code}", read(Area::People), people::get_person)
        .at(M::PUT, "/api/people/{code}", write(Area::People), people::put_person)
        .at(M::DELETE, "/api/people/{code}", write(Area::People), people::delete_person)
        .at(M::GET, "/api/buildings", read(Area::Map), registry::buildings)
        .at(M::GET, "/api/buildings/{code}", read(Area::Map), buildings::get_building)
        .at(M::GET, "/api/stations", read(Area::Stations), registry::stations)
        .at(M::GET, "/api/stations/{code}", read(Area::Stations), buildings::get_station)
        .at(M::PUT, "/api/stations/{code}/service", write(Area::Stations), buildings::put_station_service)
        .at(M::PUT, "/api/stations/{code}", write(Area::Stations), people::put_station)
        .at(M::DELETE, "/api/stations/{code}", write(Area::Stations), people::delete_station)
        .at(M::POST, "/api/import/{layer}", write(Area::Boundaries), registry::import)
        .at(M::GET, "/api/accounts", read(Area::Accounts), accounts::list)
        .at(M::POST, "/api/accounts", write(Area::Accounts), accounts::create)
        .at(M::PUT, "/api/accounts/{username}", write(Area::Accounts), accounts::update)
        .at(M::GET, "/api/audit", read(Area::Audit), accounts::audit)
        // The ten-minute service circle (issue 5).
        .at(M::GET, "/api/coverage", read(Area::Coverage), coverage::coverage)
        .at(M::GET, "/api/coverage/buildings", read(Area::Coverage), coverage::buildings)
        .at(M::GET, "/api/coverage/isochrone", read(Area::Coverage), coverage::isochrone_route)
        .at(M::POST, "/api/coverage/scenario", read(Area::Coverage), coverage::scenario)
        .at(M::POST, "/api/coverage/scenario/save", write(Area::Coverage), coverage::save_scenario)
        .at(M::POST, "/api/coverage/siting", read(Area::Coverage), coverage::siting)
        .at(M::GET, "/api/coverage/report", read(Area::Coverage), coverage::report)
        .at(M::GET, "/tiles/{file}", read(Area::Map), tiles::tilejson)
        .at(M::GET, "/tiles/{layer}/{z}/{x}/{y}", read(Area::Map), tiles::tile)
        // Weekly patrols and incidents (issue 6).
        .at(M::GET, "/api/patrols", read(Area::Patrols), patrols::list)
        .at(M::PUT, "/api/patrols/{id}", write(Area::Patrols), patrols::put_patrol)
        .at(M::GET, "/api/patrols/{id}", read(Area::Patrols), patrols::get_patrol)
        .at(M::PUT, "/api/patrols/{id}/end", write(Area::Patrols), patrols::end_patrol)
        .at(M::GET, "/api/patrols/{id}/chunks", read(Area::Patrols), patrols::get_chunks)
        .at(M::PUT, "/api/patrols/{id}/chunks/{seq}", write(Area::Patrols), patrols::put_chunk)
        .at(M::GET, "/api/compliance", read(Area::Patrols), patrols::compliance)
        .at(M::GET, "/api/compliance/overdue", read(Area::Patrols), patrols::overdue)
        .at(M::GET, "/api/compliance/summary", read(Area::Patrols), patrols::summary)
        .at(M::GET, "/api/compliance/export", read(Area::Patrols), patrols::export)
        .at(M::GET, "/api/incidents", read(Area::Incidents), incidents::list)
        .at(M::GET, "/api/incidents/counts", read(Area::Incidents), incidents::counts)
        .at(M::GET, "/api/incidents/report", read(Area::Incidents), incident_report::report)
        .at(M::PUT, "/api/incidents/{id}", write(Area::Incidents), incidents::put_incident)
        .at(M::GET, "/api/incidents/{id}", read(Area::Incidents), incidents::get_incident)
        .at(M::GET, "/api/incidents/{id}/next", read(Area::Incidents), incidents::next_steps)
        .at(M::POST, "/api/incidents/{id}/transitions", write(Area::Incidents), incidents::transition)
        .at(M::PUT, "/api/incidents/{id}/photos/{photo}", write(Area::Incidents), incidents::put_photo)
        .at(M::GET, "/api/incidents/{id}/photos/{photo}", read(Area::Incidents), incidents::get_photo)
        // Party organisations (issue 7).
        .at(M::GET, "/api/party/cells", read(Area::Party), party::cells)
        .at(M::GET, "/api/party/findings", read(Area::Party), party::findings)
        .at(M::GET, "/api/party/report", read(Area::Party), party::report)
        .at(M::POST, "/api/party/preview", read(Area::Party), party::preview)
        .at(M::POST, "/api/party/reassign", write(Area::Party), party::reassign)
        .at(M::GET, "/api/party/orgs", read(Area::Party), party::orgs)
        .at(M::GET, "/api/party/orgs/{code}", read(Area::Party), party::org)
        .at(M::PUT, "/api/party/orgs/{code}", write(Area::Party), party::put_org)
        .at(M::DELETE, "/api/party/orgs/{code}", write(Area::Party), party::delete_org)
        .at(M::PUT, "/api/party/orgs/{code}/officers", write(Area::Party), party::put_officers)
        .at(M::PUT, "/api/party/orgs/{code}/members", write(Area::Party), party::put_members)
        .at(M::GET, "/api/party/associations", read(Area::Party), party::associations)
        .at(M::PUT, "/api/party/associations/{code}", write(Area::Party), party::put_association)
        .at(M::DELETE, "/api/party/associations/{code}", write(Area::Party), party::DELETE_ASSOCIATION)
        .at(M::GET, "/api/party/units", read(Area::Party), party::units)
        .at(M::PUT, "/api/party/units/{code}", write(Area::Party), party::put_unit)
        .at(M::DELETE, "/api/party/units/{code}", write(Area::Party), party::DELETE_UNIT)
        .at(M::GET, "/api/party/dual-members", read(Area::Party), party::dual_members)
        .at(M::PUT, "/api/party/dual-members/{person}", write(Area::Party), party::put_dual_member)
        .at(M::DELETE, "/api/party/dual-members/{person}", write(Area::Party), party::delete_dual_member)
        .at(M::PUT, "/api/party/projects/{code}", write(Area::Party), party::put_project)
        .at(M::DELETE, "/api/party/projects/{code}", write(Area::Party), party::DELETE_PROJECT)
        .at(M::PUT, "/api/party/posts/{person}/{year}", write(Area::Party), party::put_posts)
        // The annual assessment (issue 15).
        .at(M::GET, "/api/assess/{year}", read(Area::Assessment), assess::year)
        .at(M::GET, "/api/assess/{year}/scorecard", read(Area::Assessment), assess::scorecard)
        .at(M::GET, "/api/assess/{year}/export", read(Area::Assessment), assess::export)
        .at(M::GET, "/api/assess/{year}/print/{community}", read(Area::Assessment), assess::print)
        .at(M::GET, "/api/assess/{year}/settings", read(Area::Assessment), assess::settings)
        .at(M::PUT, "/api/assess/{year}/settings", write(Area::Assessment), assess::put_settings)
        .at(M::PUT, "/api/assess/{year}/reports/{community}", write(Area::Assessment), assess::put_report)
        .at(M::PUT, "/api/assess/{year}/ratings/{community}", write(Area::Assessment), assess::put_ratings)
        .at(M::PUT, "/api/assess/{year}/lists/{community}", write(Area::Assessment), assess::put_lists)
        .at(M::PUT, "/api/assess/{year}/pledges/{person}", write(Area::Assessment), assess::put_pledges)
        .at(M::PUT, "/api/assess/{year}/units/{code}", write(Area::Assessment), assess::put_unit_rating)
        .at(M::PUT, "/api/assess/{year}/dual-members/{person}", write(Area::Assessment), assess::put_member_ratings)
        .at(M::PUT, "/api/assess/{year}/projects/{code}", write(Area::Assessment), assess::put_completion)
        // OGC API - Features, read side (issue 16): each collection's own area is checked
        // in the handler, as its JSON list route's rule.
        .at(M::GET, "/ogc", read(Area::Map), ogc::landing)
        .at(M::GET, "/ogc/api", read(Area::Map), ogc::api)
        .at(M::GET, "/ogc/conformance", read(Area::Map), ogc::conformance)
        .at(M::GET, "/ogc/collections", read(Area::Map), ogc::collections)
        .at(M::GET, "/ogc/collections/{id}", read(Area::Map), ogc::collection)
        .at(M::GET, "/ogc/collections/{id}/queryables", read(Area::Map), ogc::queryables)
        .at(M::GET, "/ogc/collections/{id}/items", read(Area::Map), ogc::items)
        .at(M::GET, "/ogc/collections/{id}/items/{feature}", read(Area::Map), ogc::item)
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route for {}", uri.path()))
}

/// How long a health check waits for the database.
const HEALTH_PING: Duration = Duration::from_secs(2);

/// Whether the database answers: not asked again while it was seen down lately (the change
/// listener keeps trying and marks it up once it answers).
async fn database_ok(st: &AppState) -> bool {
    !st.store.health.is_down() && st.store.ping(HEALTH_PING).await
}

/// `GET /api/health`: the process answers (always 200), with the state of the database
/// and of the change listener, and the last change applied to the index.
async fn health(axum::extract::State(st): axum::extract::State<AppState>) -> impl IntoResponse {
    let database = database_ok(&st).await;
    let listener = st.registry.listening();
    let word = |ok: bool| if ok { "ok" } else { "down" };
    axum::Json(serde_json::json!({
        "status": if database && listener { "ok" } else { "degraded" },
        "database": word(database),
        "listener": word(listener),
        "change": st.registry.snapshot().seq,
    }))
}

/// `GET /api/health/ready`: 200 when the database answers, else 503 with `Retry-After`
/// (for a load balancer to send requests elsewhere).
async fn ready(
    axum::extract::State(st): axum::extract::State<AppState>,
) -> axum::response::Response {
    if database_ok(&st).await {
        axum::Json(serde_json::json!({ "status": "ready" })).into_response()
    } else {
        ApiError::database_unavailable().into_response()
    }
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    ApiError::internal(&"a handler panicked").into_response()
}

/// The origin (`https://host:port`) of a URL, if it has a plain one that can be named in
/// a Content-Security-Policy.
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let host = rest.split(['/', '?', '#']).next()?;
    let plain = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    plain.then(|| format!("{scheme}://{host}"))
}

/// The Content-Security-Policy: the site itself, plus the basemap's origin for images and
/// fetches when a basemap is configured. No scheme-wide sources such as `https:`.
pub fn content_security_policy(basemap_url: Option<&str>) -> String {
    let basemap = basemap_url
        .and_then(origin)
        .map(|o| format!(" {o}"))
        .unwrap_or_default();
    format!(
        "default-src 'self'; img-src 'self' data: blob:{basemap}; style-src 'self' 'unsafe-inline'; \
         worker-src 'self' blob:; child-src blob:; connect-src 'self'{basemap}; object-src 'none'; \
         frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    )
}

/// Marks every `/api/` answer `Cache-Control: no-store` unless its handler chose its own
/// caching: answers carry personal data or the caller's scope, and must not be kept by a
/// shared cache or left on a shared computer's disk.
async fn no_store_by_default(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let api = req.uri().path().starts_with("/api/");
    let mut resp = next.run(req).await;
    if api && !resp.headers().contains_key(header::CACHE_CONTROL) {
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// Applies the gate, state, limits, security headers and the web app to a set of routes.
pub fn finish(api: Api, state: AppState) -> Router {
    let rules: auth::Rules = Arc::new(api.rules);
    let timeout = Duration::from_secs(state.config.request_timeout_s);
    let limit = state.config.body_limit;
    let web = state.config.web_dir.clone();
    let csp = HeaderValue::from_str(&content_security_policy(
        state.config.basemap_url.as_deref(),
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"));
    let gate = axum::middleware::from_fn_with_state((state.clone(), rules), auth::gate);
    let body_limit = axum::middleware::from_fn_with_state(state.clone(), bodies::limit);
    let spa = tower_http::services::ServeDir::new(&web)
        .fallback(tower_http::services::ServeFile::new(web.join("index.html")));
    let api_fallback = Router::new().route("/api/{*rest}", axum::routing::any(not_found));
    api.router
        .route_layer(body_limit)
        .route_layer(gate)
        .merge(api_fallback)
        .fallback_service(spa)
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method",
            )
        })
        .with_state(state)
        .layer(axum::middleware::from_fn(no_store_by_default))
        .layer(axum::middleware::from_fn(bodies::read_small))
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            timeout,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            csp,
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static("geolocation=(self), camera=(self), microphone=()"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ))
}

/// The whole application.
pub fn app(state: AppState) -> Router {
    finish(api(), state)
}
