//! Settings, from flags or the environment (flags win). Every setting has a default except
//! the database.

use std::net::{IpAddr, SocketAddr};
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

    /// Seconds a request waits for a database connection before it is answered 503
    /// `database_unavailable` (with `Retry-After`): how fast requests fail while the
    /// database is down or every connection is busy.
    #[arg(long, env = "WANGGE_POOL_ACQUIRE_TIMEOUT", default_value_t = 3)]
    pub pool_acquire_timeout_s: u64,

    /// Folder of the built web app served at `/`.
    #[arg(long, env = "WANGGE_WEB_DIR", default_value = "web/dist")]
    pub web_dir: PathBuf,

    /// Largest request body in bytes on every route but `POST /api/import/{layer}` (413
    /// `too_large` past it). 16 MiB carries the most positions one request may hold
    /// (`WANGGE_MAX_REQUEST_VERTICES`) written with 7 decimals (about 1 cm).
    #[arg(long, env = "WANGGE_BODY_LIMIT", default_value_t = 16 * 1024 * 1024)]
    pub body_limit: usize,

    /// Largest request body in bytes of `POST /api/import/{layer}` (whole layers).
    #[arg(long, env = "WANGGE_IMPORT_BODY_LIMIT", default_value_t = 256 * 1024 * 1024)]
    pub import_body_limit: usize,

    /// Requests with a large body (over 256 KiB, or of unknown length) read and parsed at
    /// once; another waits up to the work pool's queue wait, then gets 503 `busy`.
    #[arg(long, env = "WANGGE_LARGE_BODIES", default_value_t = 2)]
    pub large_bodies: usize,

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

    /// Largest straight access leg, in metres, from a building or station to the nearest
    /// street of the walking network; farther ones are off the network (not covered).
    #[arg(long, env = "WANGGE_MAX_ACCESS_M", default_value_t = crate::coverage::DEFAULT_MAX_ACCESS_M)]
    pub max_access_m: f64,

    /// Seconds a coverage request waits for the walking-network model to be (re)built
    /// before it is answered 503 `warming_up` with `Retry-After`.
    #[arg(long, env = "WANGGE_COVERAGE_WAIT", default_value_t = 5)]
    pub coverage_wait_s: u64,

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

    /// Reverse proxies whose `X-Forwarded-For` is believed, as comma-separated addresses
    /// or CIDR blocks (`127.0.0.1,10.0.0.0/8,::1`). When a request comes from one of them,
    /// its client is the rightmost address of `X-Forwarded-For` that is not a trusted
    /// proxy; otherwise the client is the peer of the connection. Empty: no proxy trusted.
    #[arg(long, env = "WANGGE_TRUSTED_PROXIES", value_delimiter = ',', value_parser = IpBlock::parse)]
    pub trusted_proxies: Vec<IpBlock>,

    /// The server's public URL (`https://wangge.example.gov.cn`), used for absolute links
    /// such as the tile URLs of TileJSON. Without it those links are relative to the site
    /// (`/tiles/...`); the request's `Host` header is never used.
    #[arg(long, env = "WANGGE_PUBLIC_URL")]
    pub public_url: Option<String>,

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

    /// Most chunks one patrol's track may be sent in (chunks are numbered below this).
    #[arg(long, env = "WANGGE_PATROL_MAX_CHUNKS", default_value_t = 10_000)]
    pub max_chunks: i32,

    /// Most points in one patrol's whole track, all chunks together.
    #[arg(
        long,
        env = "WANGGE_PATROL_MAX_TRACK_POINTS",
        default_value_t = 200_000
    )]
    pub max_track_points: usize,
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
            max_chunks: 10_000,
            max_track_points: 200_000,
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
            pool_acquire_timeout_s: 3,
            web_dir: PathBuf::from("web/dist"),
            body_limit: 16 * 1024 * 1024,
            import_body_limit: 256 * 1024 * 1024,
            large_bodies: 2,
            request_timeout_s: 120,
            session_ttl_s: 12 * 3600,
            login_window_s: 15 * 60,
            login_delay_scale: 1.0,
            secure_cookies: false,
            trusted_proxies: vec![],
            public_url: None,
            tile_cache_mb: 64,
            max_access_m: crate::coverage::DEFAULT_MAX_ACCESS_M,
            coverage_wait_s: 5,
            basemap_url: None,
            basemap_attribution: None,
            patrols: PatrolSettings::default(),
            geometry: GeometrySettings::default(),
        }
    }
}

/// An address or a CIDR block of addresses (`10.0.0.0/8`, `::1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpBlock {
    addr: IpAddr,
    prefix: u8,
}

impl IpBlock {
    /// Parses `ADDR` or `ADDR/PREFIX`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or CIDR block"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(Self { addr, prefix })
    }

    /// Whether `ip` lies in the block (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_blocks() {
        let b = IpBlock::parse("10.0.0.0/8").expect("block");
        assert!(b.contains("10.2.3.4".parse().expect("ip")));
        assert!(!b.contains("11.0.0.1".parse().expect("ip")));
        assert!(b.contains("::ffff:10.9.9.9".parse().expect("ip")));
        let one = IpBlock::parse("127.0.0.1").expect("address");
        assert!(one.contains("127.0.0.1".parse().expect("ip")));
        assert!(!one.contains("127.0.0.2".parse().expect("ip")));
        assert!(IpBlock::parse("0.0.0.0/0")
            .expect("all")
            .contains("8.8.8.8".parse().expect("ip")));
        assert!(IpBlock::parse("fd00::/8")
            .expect("v6")
            .contains("fd12::1".parse().expect("ip")));
        assert!(IpBlock::parse("10.0.0.0/33").is_err());
        assert!(IpBlock::parse("example.org").is_err());
    }
}
