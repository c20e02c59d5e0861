//! Settings, from flags or the environment (flags win). Every setting has a default except
//! the database.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Server settings.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// PostgreSQL/PostGIS connection string. `make run` and `make test` set it to the
    /// private cluster under .wangge/ unless you set it yourself.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,

    /// Address to serve HTTP on.
    #[arg(long, env = "WANGGE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Largest total gap, and largest total overlap, in m², allowed between the grids that
    /// partition a community or a first-level grid.
    #[arg(long, env = "WANGGE_TOLERANCE_M2", default_value_t = 1.0)]
    pub tolerance_m2: f64,

    /// Connections in the database pool.
    #[arg(long, env = "WANGGE_POOL_SIZE", default_value_t = 16)]
    pub pool_size: u32,

    /// Folder of the built web app served at `/`.
    #[arg(long, env = "WANGGE_WEB_DIR", default_value = "web/dist")]
    pub web_dir: PathBuf,

    /// Largest request body in bytes (imports of whole layers need the most).
    #[arg(long, env = "WANGGE_BODY_LIMIT", default_value_t = 256 * 1024 * 1024)]
    pub body_limit: usize,

    /// Seconds a request may take before it is cut off with 503.
    #[arg(long, env = "WANGGE_REQUEST_TIMEOUT", default_value_t = 120)]
    pub request_timeout_s: u64,

    /// Seconds a session (cookie or bearer token) lasts after sign-in.
    #[arg(long, env = "WANGGE_SESSION_TTL", default_value_t = 12 * 3600)]
    pub session_ttl_s: u64,

    /// Seconds over which failed sign-ins are counted; also how long a lock lasts.
    #[arg(long, env = "WANGGE_LOGIN_WINDOW", default_value_t = 15 * 60)]
    pub login_window_s: u64,

    /// Scale of the growing delay after repeated failed sign-ins (1.0: 0.5 s, 1 s, 2 s, 4 s).
    #[arg(long, env = "WANGGE_LOGIN_DELAY_SCALE", default_value_t = 1.0)]
    pub login_delay_scale: f64,

    /// Megabytes of memory for cached vector tiles.
    #[arg(long, env = "WANGGE_TILE_CACHE_MB", default_value_t = 256)]
    pub tile_cache_mb: usize,

    /// An optional raster basemap drawn under wangge's layers, as a tile URL template
    /// (`https://.../{z}/{x}/{y}.png`). Without it the map draws only wangge's own data.
    #[arg(long, env = "WANGGE_BASEMAP_URL")]
    pub basemap_url: Option<String>,

    /// Attribution shown for the basemap (required by most tile providers).
    #[arg(long, env = "WANGGE_BASEMAP_ATTRIBUTION")]
    pub basemap_attribution: Option<String>,

    /// Mark cookies `Secure` (serve over HTTPS behind a proxy).
    #[arg(long, env = "WANGGE_SECURE_COOKIES", default_value_t = false)]
    pub secure_cookies: bool,

    /// Patrol and incident settings.
    #[command(flatten)]
    pub patrols: PatrolSettings,

    /// Caps and time budget of geometry work.
    #[command(flatten)]
    pub geometry: GeometrySettings,
}

/// Caps on the geometries a request may carry, and the time its geometry work may take.
#[derive(Debug, Clone, clap::Args)]
pub struct GeometrySettings {
    /// Most positions in one geometry. A district's boundary rarely needs 20,000; the cap
    /// leaves room for detailed traced boundaries while bounding the work per geometry.
    #[arg(long, env = "WANGGE_MAX_VERTICES", default_value_t = 50_000)]
    pub max_vertices: usize,

    /// Most rings (exteriors and holes) in one geometry.
    #[arg(long, env = "WANGGE_MAX_RINGS", default_value_t = 1_000)]
    pub max_rings: usize,

    /// Most positions over all geometries of one request (a batch, a preview, an import).
    #[arg(long, env = "WANGGE_MAX_REQUEST_VERTICES", default_value_t = 500_000)]
    pub max_request_vertices: usize,

    /// Seconds the geometry work of one request (validation, partition checks, building
    /// re-assignment, previews) may run on the work pool before it is stopped (503).
    #[arg(long, env = "WANGGE_GEOMETRY_BUDGET", default_value_t = 20)]
    pub budget_s: u64,
}

impl Default for GeometrySettings {
    fn default() -> Self {
        Self {
            max_vertices: 50_000,
            max_rings: 1_000,
            max_request_vertices: 500_000,
            budget_s: 20,
        }
    }
}

impl GeometrySettings {
    /// The caps of one geometry.
    pub fn limits(&self) -> crate::spatial::shape::ShapeLimits {
        crate::spatial::shape::ShapeLimits {
            max_vertices: self.max_vertices,
            max_rings: self.max_rings,
        }
    }

    /// The time budget of one request's geometry work.
    pub fn budget(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.budget_s.max(1))
    }
}

/// Settings of weekly patrols and incident reports.
#[derive(Debug, Clone, clap::Args)]
pub struct PatrolSettings {
    /// Share of a patrol's walked length that must lie inside a grid for the patrol to
    /// count for that grid's week.
    #[arg(long, env = "WANGGE_PATROL_MIN_SHARE", default_value_t = 0.3)]
    pub min_share_inside: f64,

    /// Segments of a track faster than this (km/h) are flagged and left out of the
    /// walked length (the patrol itself is kept).
    #[arg(long, env = "WANGGE_PATROL_SPEED_LIMIT", default_value_t = 30.0)]
    pub speed_limit_kmh: f64,

    /// A street counts as covered where it passes within this many metres of a track.
    #[arg(long, env = "WANGGE_PATROL_STREET_BUFFER", default_value_t = 20.0)]
    pub street_buffer_m: f64,

    /// Track points farther than this many metres outside every community of the
    /// account's region are refused as outside the zone.
    #[arg(long, env = "WANGGE_PATROL_ZONE_MARGIN", default_value_t = 200.0)]
    pub zone_margin_m: f64,

    /// Largest photo in bytes.
    #[arg(long, env = "WANGGE_PHOTO_MAX_BYTES", default_value_t = 5 * 1024 * 1024)]
    pub photo_max_bytes: usize,

    /// Most photos per incident.
    #[arg(long, env = "WANGGE_PHOTOS_PER_INCIDENT", default_value_t = 10)]
    pub photos_per_incident: i64,

    /// Most points in one upload (a whole track or one chunk).
    #[arg(long, env = "WANGGE_PATROL_MAX_POINTS", default_value_t = 5000)]
    pub max_points: usize,
}

impl Default for PatrolSettings {
    fn default() -> Self {
        Self {
            min_share_inside: 0.3,
            speed_limit_kmh: 30.0,
            street_buffer_m: 20.0,
            zone_margin_m: 200.0,
            photo_max_bytes: 5 * 1024 * 1024,
            photos_per_incident: 10,
            max_points: 5000,
        }
    }
}

impl Config {
    /// Settings for tests and tools: defaults with the given database.
    pub fn for_database(url: &str) -> Self {
        Self {
            database_url: url.to_string(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tolerance_m2: 1.0,
            pool_size: 8,
            web_dir: PathBuf::from("web/dist"),
            body_limit: 256 * 1024 * 1024,
            request_timeout_s: 120,
            session_ttl_s: 12 * 3600,
            login_window_s: 15 * 60,
            login_delay_scale: 1.0,
            secure_cookies: false,
            tile_cache_mb: 64,
            basemap_url: None,
            basemap_attribution: None,
            patrols: PatrolSettings::default(),
            geometry: GeometrySettings::default(),
        }
    }
}
