//! Hostile limits (issue 11, items 1, 6, 8 and 9): no count a client chooses can make the
//! server allocate by it, sign-in throttling holds under parallel attempts and behind
//! proxies, a database outage fails fast while the index keeps answering known callers,
//! and headers leak neither hosts nor personal data.

mod common;

use chrono::{Duration as Days, Utc};
use common::patrols::*;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;
use wangge::cache::Registry;
use wangge::config::{Config, IpBlock};
use wangge::http::{app, AppState};
use wangge::store::Store;

fn g(suffix: &str) -> String {
    format!("{C}{suffix}")
}

async fn send(c: &Client, method: Method, path: &str, body: &Value) -> (u16, Value) {
    let r = c
        .raw(method, path)
        .json(body)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A GET that must answer within `within`: status, body size and body.
async fn timed_get(c: &Client, path: &str, within: Duration) -> (u16, usize, Value) {
    let t = Instant::now();
    let r = tokio::time::timeout(within, c.raw(Method::GET, path).send())
        .await
        .unwrap_or_else(|_| panic!("GET {path} took longer than {within:?}"))
        .expect("request");
    let status = r.status().as_u16();
    let bytes = r.bytes().await.expect("body");
    assert!(t.elapsed() < within, "GET {path} took {:?}", t.elapsed());
    (
        status,
        bytes.len(),
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

// Item 1 -----------------------------------------------------------------------------

#[tokio::test]
async fn a_chunk_count_of_two_billion_is_refused_and_old_rows_of_it_read_fast() {
    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start_with(&db, |c| c.patrols.max_track_points = 150).await;
    load_fixture(&mut s).await;
    let pool = db.pool().await;
    let p = s.sign_in("patrol").await;
    let chief = s.sign_in("chief").await;
    let id = Uuid::new_v4();
    let base = format!("/api/patrols/{id}");
    let started = Utc::now() - Days::minutes(40);
    let head = json!({ "grids": [g("0101")], "started_at": started.to_rfc3339() });
    assert_eq!(send(&p, Method::PUT, &base, &head).await.0, 201);

    // The request: refused before anything is stored or listed.
    let end = json!({ "ended_at": Utc::now().to_rfc3339(), "chunks": 2147483647 });
    let (st, e) = send(&p, Method::PUT, &format!("{base}/end"), &end).await;
    assert_eq!((st, e["field"].as_str()), (422, Some("chunks")), "{e}");
    let stored: Option<i32> = sqlx::query_scalar("SELECT chunks FROM patrols WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .expect("chunks");
    assert_eq!(stored, None, "nothing was committed");
    // Chunk numbers, list limits, visits and the whole track's points are bounded too.
    let w = walk(SOUTH_WEST, started, 200, 2);
    let chunk = |a: usize, b: usize| json!({ "id": Uuid::new_v4(), "points": points(&w[a..b]) });
    let (st, e) = send(
        &p,
        Method::PUT,
        &format!("{base}/chunks/10000"),
        &chunk(0, 10),
    )
    .await;
    assert_eq!((st, e["field"].as_str()), (422, Some("seq")), "{e}");
    assert_eq!(
        send(&p, Method::PUT, &format!("{base}/chunks/0"), &chunk(0, 100))
            .await
            .0,
        201
    );
    let (st, e) = send(
        &p,
        Method::PUT,
        &format!("{base}/chunks/1"),
        &chunk(100, 200),
    )
    .await;
    assert_eq!(
        (st, e["field"].as_str()),
        (422, Some("points")),
        "a track of 200 points with a limit of 150: {e}"
    );
    let (st, e) = chief.get("/api/patrols?limit=100000").await;
    assert_eq!((st, e["field"].as_str()), (422, Some("limit")), "{e}");
    let visits: Vec<Value> = (0..5001)
        .map(|i| json!({ "building": format!("X{i}"), "households": 1 }))
        .collect();
    let end = json!({ "ended_at": Utc::now().to_rfc3339(), "chunks": 2, "households": visits });
    let (st, e) = send(&p, Method::PUT, &format!("{base}/end"), &end).await;
    assert_eq!((st, e["field"].as_str()), (422, Some("households")), "{e}");

    // A row written by a version without the bound: reads neither allocate by it nor hang.
    sqlx::query(
        "UPDATE patrols SET chunks = 2147483647, ended_at = now(), end_hash = '\\x00' WHERE id = $1",
    )
    .bind(id)
    .execute(&pool)
    .await
    .expect("an old row");
    let within = Duration::from_secs(5);
    let (st, size, v) = timed_get(&chief, &format!("{base}/chunks"), within).await;
    assert_eq!(st, 200, "{v}");
    assert!(size < 64 * 1024, "{size} bytes");
    let chunks = &v["chunks"];
    assert_eq!(chunks["expected"], 2147483647);
    assert_eq!(chunks["received"], json!([0]));
    assert_eq!(chunks["missing"].as_array().map(Vec::len), Some(1000));
    assert_eq!(chunks["missing"][0], 1);
    assert_eq!(chunks["missing_total"], 2147483646i64);
    let (st, size, v) = timed_get(&chief, "/api/patrols", within).await;
    assert_eq!(st, 200, "{v}");
    assert!(size < 256 * 1024, "{size} bytes");
    assert_eq!(v["features"].as_array().map(Vec::len), Some(1), "{v}");
    let (st, _, _) = timed_get(&p, &base, within).await;
    assert_eq!(st, 200);
}

// Item 6 -----------------------------------------------------------------------------

async fn login(c: &Client, user: &str, password: &str, forwarded: Option<&str>) -> u16 {
    let mut r = c
        .raw(Method::POST, "/api/auth/login")
        .json(&json!({ "username": user, "password": password, "token": true }));
    if let Some(f) = forwarded {
        r = r.header("x-forwarded-for", f);
    }
    r.send().await.expect("login").status().as_u16()
}

#[tokio::test]
async fn sixteen_parallel_wrong_passwords_are_counted_one_by_one() {
    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start_with(&db, |c| c.login_delay_scale = 0.05).await;
    load_fixture(&mut s).await;
    let anon = s.anonymous();
    let attempts = (0..16).map(|i| {
        let anon = anon.clone();
        async move { login(&anon, "viewer", &format!("wrong password {i}"), None).await }
    });
    let answers = futures::future::join_all(attempts).await;
    let checked = answers.iter().filter(|s| **s == 401).count();
    let refused = answers.iter().filter(|s| **s == 429).count();
    assert_eq!(
        (checked, refused),
        (10, 6),
        "at most 10 passwords checked, the rest locked: {answers:?}"
    );
    assert_eq!(login(&anon, "viewer", PASSWORD, None).await, 429);
    // The counters hold one row per key, not one per attempt.
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM login_throttle")
        .fetch_one(&db.pool().await)
        .await
        .expect("count");
    assert!(rows <= 5, "{rows} counter rows");
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    // Not trusted: X-Forwarded-For is ignored, every attempt is the peer's.
    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start_with(&db, |c| c.login_delay_scale = 0.01).await;
    load_fixture(&mut s).await;
    let anon = s.anonymous();
    for i in 0..10 {
        let f = format!("198.51.100.{i}");
        assert_eq!(
            login(&anon, "viewer", "wrong password", Some(&f)).await,
            401
        );
    }
    assert_eq!(
        login(&anon, "viewer", PASSWORD, Some("203.0.113.5")).await,
        429,
        "a forged header from an untrusted peer changes nothing"
    );

    // Trusted: the client is the rightmost address no trusted proxy wrote.
    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start_with(&db, |c| {
        c.login_delay_scale = 0.01;
        c.trusted_proxies = vec![
            IpBlock::parse("127.0.0.1").expect("ip"),
            IpBlock::parse("10.0.0.0/8").expect("cidr"),
        ];
    })
    .await;
    load_fixture(&mut s).await;
    let anon = s.anonymous();
    for _ in 0..10 {
        let status = login(
            &anon,
            "viewer",
            "wrong password",
            Some("198.51.100.7, 10.1.2.3"),
        )
        .await;
        assert_eq!(status, 401);
    }
    assert_eq!(
        login(&anon, "viewer", PASSWORD, Some("198.51.100.7")).await,
        429,
        "locked for the attacker's address"
    );
    assert_eq!(
        login(&anon, "viewer", PASSWORD, Some("203.0.113.5, 198.51.100.7")).await,
        429,
        "an address the client wrote itself (left of the proxy's) is not believed"
    );
    assert_eq!(
        login(&anon, "viewer", PASSWORD, Some("203.0.113.5")).await,
        200,
        "the owner from another address is let in"
    );
    assert_eq!(
        login(&anon, "planner", PASSWORD, Some("198.51.100.7")).await,
        200,
        "other accounts from the attacker's address are not locked"
    );
}

// Item 8 -----------------------------------------------------------------------------

/// A TCP forwarder between the server and PostgreSQL that can be cut (every connection
/// dropped, new ones closed at once) and restored.
struct Cable {
    addr: std::net::SocketAddr,
    open: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Cable {
    async fn to(target: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let open = Arc::new(AtomicBool::new(true));
        let links: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let (o, l) = (Arc::clone(&open), Arc::clone(&links));
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !o.load(Ordering::SeqCst) {
                    continue; // dropped: closed at once
                }
                let target = target.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                l.lock().expect("links").push(link.abort_handle());
            }
        });
        Self {
            addr,
            open,
            links,
            task,
        }
    }

    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for l in self.links.lock().expect("links").drain(..) {
            l.abort();
        }
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for Cable {
    fn drop(&mut self) {
        self.cut();
        self.task.abort();
    }
}

/// `(scheme://user@, host:port, /db?query)` of a database URL.
fn split_url(url: &str) -> (String, String, String) {
    let (scheme, rest) = url.split_once("://").expect("scheme");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (user, host) = match authority.rsplit_once('@') {
        Some((u, h)) => (format!("{u}@"), h.to_string()),
        None => (String::new(), authority.to_string()),
    };
    (format!("{scheme}://{user}"), host, path.to_string())
}

#[tokio::test]
async fn a_database_outage_fails_fast_and_the_index_answers_known_callers() {
    let db = TestDb::new(Template::Empty).await;
    let mut direct = TestServer::start(&db).await;
    load_fixture(&mut direct).await;

    // A second server reaching the same database through the cable.
    let (head, target, tail) = split_url(&db.url);
    let cable = Cable::to(target).await;
    let url = format!("{head}{}{tail}", cable.addr);
    let mut config = Config::for_database(&url);
    config.pool_acquire_timeout_s = 2;
    let store = Store::connect_with(&url, 4, Duration::from_secs(2))
        .await
        .expect("connect through the cable");
    let registry = Registry::load(store.clone()).await.expect("index");
    let listener_task = registry.spawn_listener();
    let state = AppState::new(store, registry, config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = app(state);
    let server = tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await;
    });
    let base = format!("http://{addr}");
    let anon = Client {
        base: base.clone(),
        http: reqwest::Client::new(),
        token: None,
    };
    let sign_in = |user: &'static str| {
        let anon = anon.clone();
        async move {
            let (st, _, b) = anon
                .send(
                    Method::POST,
                    "/api/auth/login",
                    Some(&json!({ "username": user, "password": PASSWORD, "token": true })),
                    None,
                )
                .await;
            assert_eq!(st, 200, "{b}");
            Client {
                token: b["token"].as_str().map(String::from),
                ..anon.clone()
            }
        }
    };
    let viewer = sign_in("viewer").await;
    let locate = "/api/locate?lon=105.705&lat=32.4025";
    assert_eq!(viewer.get(locate).await.0, 200);
    // A session this server never saw (signed in on the other server).
    let stranger = Client {
        base: base.clone(),
        ..direct.sign_in("planner").await
    };
    let (_, h) = anon.get("/api/health").await;
    assert_eq!(
        (&h["database"], &h["listener"]),
        (&json!("ok"), &json!("ok")),
        "{h}"
    );

    cable.cut();
    // Reads that need the database fail fast, with Retry-After.
    let t = Instant::now();
    let r = viewer
        .raw(Method::GET, "/api/auth/me")
        .send()
        .await
        .expect("me");
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(r.status().as_u16(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let e: Value = r.json().await.expect("json");
    assert_eq!(e["error"], "database_unavailable", "{e}");
    // Health tells the truth; readiness says no.
    let t = Instant::now();
    let (st, h) = anon.get("/api/health").await;
    assert_eq!((st, &h["database"]), (200, &json!("down")), "{h}");
    assert_eq!(h["status"], "degraded");
    let r = anon
        .raw(Method::GET, "/api/health/ready")
        .send()
        .await
        .expect("ready");
    assert_eq!(r.status().as_u16(), 503);
    assert!(r.headers().contains_key("retry-after"));
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );
    // The index still answers a caller whose session is known, at once; an unknown
    // session gets 503 (not 401: it may well be valid).
    let t = Instant::now();
    let (st, v) = viewer.get(locate).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(viewer.get("/api/grids").await.0, 200);
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(stranger.get(locate).await.0, 503);
    // The listener notices too.
    let t = Instant::now();
    loop {
        let (_, h) = anon.get("/api/health").await;
        if h["listener"] == "down" {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(15), "{h}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Back: everything answers again.
    cable.restore();
    let t = Instant::now();
    loop {
        let (_, h) = anon.get("/api/health").await;
        if h["database"] == "ok" && h["listener"] == "ok" {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(20), "{h}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let r = anon
        .raw(Method::GET, "/api/health/ready")
        .send()
        .await
        .expect("ready");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(viewer.get("/api/auth/me").await.0, 200);
    assert_eq!(stranger.get(locate).await.0, 200);
    listener_task.abort();
    server.abort();
}

// Item 9 -----------------------------------------------------------------------------

#[tokio::test]
async fn tilejson_does_not_take_the_host_header() {
    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start(&db).await;
    load_fixture(&mut s).await;
    let r = s
        .raw(Method::GET, "/tiles/grids2.json")
        .header("host", "evil.example")
        .send()
        .await
        .expect("tilejson");
    assert_eq!(r.status().as_u16(), 200);
    let cache = r.headers().get("cache-control").cloned();
    let text = r.text().await.expect("body");
    assert!(!text.contains("evil.example"), "{text}");
    let tj: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(tj["tiles"][0], "/tiles/grids2/{z}/{x}/{y}.mvt");
    assert!(
        cache.is_some_and(|c| c.to_str().unwrap_or_default().contains("private")),
        "TileJSON follows the caller's scope: private"
    );

    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start_with(&db, |c| {
        c.public_url = Some("https://wangge.example.gov.cn/".into());
    })
    .await;
    load_fixture(&mut s).await;
    let r = s
        .raw(Method::GET, "/tiles/grids2.json")
        .header("host", "evil.example")
        .send()
        .await
        .expect("tilejson");
    let tj: Value = r.json().await.expect("json");
    assert_eq!(
        tj["tiles"][0],
        "https://wangge.example.gov.cn/tiles/grids2/{z}/{x}/{y}.mvt"
    );
}

#[tokio::test]
async fn personal_data_is_never_cached_and_photos_are_decoded() {
    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start_with(&db, |c| {
        c.basemap_url = Some("https://tiles.example.org/osm/{z}/{x}/{y}.png".into());
    })
    .await;
    load_fixture(&mut s).await;
    let p = s.sign_in("patrol").await;
    let id = Uuid::new_v4();
    let report = json!({ "category": "facility_damage", "description": "路灯损坏", "lon": 105.703, "lat": 32.402,
                         "reported_at": (Utc::now() - Days::minutes(5)).to_rfc3339() });
    assert_eq!(
        send(&p, Method::PUT, &format!("/api/incidents/{id}"), &report)
            .await
            .0,
        201
    );
    let upload = |bytes: Vec<u8>| {
        p.raw(
            Method::PUT,
            &format!("/api/incidents/{id}/photos/{}", Uuid::new_v4()),
        )
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
    };
    // A JPEG's first bytes followed by garbage: refused.
    let mut fake = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0,
    ];
    fake.extend((0..4000u32).map(|i| (i as u8).wrapping_mul(31)));
    let r = upload(fake).await.expect("upload");
    assert_eq!(r.status().as_u16(), 422);
    let e: Value = r.json().await.expect("json");
    assert_eq!(e["error"], "invalid_image", "{e}");
    // A real one: stored, and served with no-store.
    let photo = Uuid::new_v4();
    let r = p
        .raw(Method::PUT, &format!("/api/incidents/{id}/photos/{photo}"))
        .body(jpeg(3))
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status().as_u16(), 201);

    let chief = s.sign_in("chief").await;
    for (c, path) in [
        (&chief, "/api/auth/me".to_string()),
        (&chief, format!("/api/grids/{}/people", g("0101"))),
        (&chief, "/api/patrols".to_string()),
        (&chief, "/api/incidents".to_string()),
        (&chief, format!("/api/incidents/{id}")),
        (&chief, format!("/api/incidents/{id}/photos/{photo}")),
        (&s.client, "/api/accounts".to_string()),
        (&s.client, "/api/audit".to_string()),
        (&s.client, "/api/people/P1".to_string()),
    ] {
        let r = c.raw(Method::GET, &path).send().await.expect("get");
        assert_eq!(r.status().as_u16(), 200, "{path}");
        let cache = r
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(cache.contains("no-store"), "{path}: {cache:?}");
    }
    // Tiles keep their own caching, private to the caller.
    let r = chief
        .raw(Method::GET, "/tiles/grids2/13/6596/3303.mvt")
        .send()
        .await
        .expect("tile");
    let cache = r
        .headers()
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(cache.contains("private"), "{cache:?}");

    // The CSP names its sources: the site and the basemap's origin, no bare scheme.
    let r = s
        .raw(Method::GET, "/api/health")
        .send()
        .await
        .expect("health");
    let csp = r
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let sources: Vec<&str> = csp
        .split(';')
        .flat_map(|d| d.split_whitespace().skip(1))
        .collect();
    assert!(
        !sources
            .iter()
            .any(|s| matches!(*s, "https:" | "http:" | "*")),
        "{csp}"
    );
    assert!(
        csp.contains("img-src 'self' data: blob: https://tiles.example.org;"),
        "{csp}"
    );
    assert!(
        csp.contains("connect-src 'self' https://tiles.example.org;"),
        "{csp}"
    );
}
