//! Helpers for integration tests: a fresh PostGIS database per test, copied from a
//! template (empty-but-migrated, or with the demo district loaded), and the real server
//! started on a free port against it.
#![allow(dead_code)]

pub mod e2e;
pub mod patrols;

use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection};
use std::path::{Path, PathBuf};
use wangge::cache::Registry;
use wangge::config::Config;
use wangge::domain::access::{Role, ScopeKind};
use wangge::http::{app, AppState};
use wangge::store::accounts::NewAccount;
use wangge::store::audit::Actor;
use wangge::store::import::{describe, Layer};
use wangge::store::Store;

/// The server's database URL, from the environment (`make test` sets it).
pub fn base_url() -> String {
    std::env::var("DATABASE_URL").expect(
        "DATABASE_URL is not set: run the tests with `make test`, which starts a private PostGIS, \
         or point DATABASE_URL at a PostGIS server where this user may create databases",
    )
}

/// The URL of database `name` on the same server.
pub fn url_for(name: &str) -> String {
    let base = base_url();
    let (head, tail) = match base.find('?') {
        Some(q) => (&base[..q], &base[q..]),
        None => (base.as_str(), ""),
    };
    let cut = head.rfind('/').expect("a database URL has a path");
    format!("{}/{name}{tail}", &head[..cut])
}

/// The project folder.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Which starting content a test database has.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Template {
    /// Migrations only.
    Empty,
    /// The committed demo district (data/demo) loaded.
    Demo,
}

fn fingerprint(template: Template) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("migrations"))
        .expect("migrations folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    if template == Template::Demo {
        files.extend(
            std::fs::read_dir(root().join("data/demo"))
                .expect("data/demo folder")
                .filter_map(|e| e.ok().map(|e| e.path())),
        );
    }
    files.sort();
    for f in files {
        f.file_name().hash(&mut h);
        std::fs::read(&f).unwrap_or_default().hash(&mut h);
    }
    format!("{:x}", h.finish())
}

async fn admin() -> PgConnection {
    PgConnection::connect(&url_for("postgres"))
        .await
        .expect("connect to the server's postgres database")
}

async fn exists(conn: &mut PgConnection, name: &str) -> bool {
    sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(conn)
        .await
        .expect("query pg_database")
}

/// Makes sure the template database exists, building it under an advisory lock so that
/// parallel tests build it once.
async fn ensure_template(template: Template) -> String {
    let name = format!(
        "wangge_tpl_{}_{}",
        match template {
            Template::Empty => "empty",
            Template::Demo => "demo",
        },
        fingerprint(template)
    );
    let mut conn = admin().await;
    sqlx::query("SELECT pg_advisory_lock(4242)")
        .execute(&mut conn)
        .await
        .expect("lock");
    if !exists(&mut conn, &name).await {
        let building = format!("{name}_building");
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"
        ))
        .execute(&mut conn)
        .await
        .expect("drop half-built template");
        sqlx::query(&format!("CREATE DATABASE \"{building}\""))
            .execute(&mut conn)
            .await
            .expect("create template");
        {
            let store = Store::connect(&url_for(&building), 4)
                .await
                .expect("connect template");
            store.migrate().await.expect("migrate template");
            if template == Template::Demo {
                store
                    .import_dir(
                        &root().join("data/demo"),
                        1.0,
                        &Actor::system("test"),
                        &|_, _, _| {},
                    )
                    .await
                    .expect("load the demo into the template");
            }
            store.pool.close().await;
        }
        sqlx::query(&format!(
            "ALTER DATABASE \"{building}\" RENAME TO \"{name}\""
        ))
        .execute(&mut conn)
        .await
        .expect("publish template");
    }
    sqlx::query("SELECT pg_advisory_unlock(4242)")
        .execute(&mut conn)
        .await
        .expect("unlock");
    name
}

/// A database of its own for one test.
pub struct TestDb {
    /// Its name.
    pub name: String,
    /// Its URL.
    pub url: String,
}

impl Drop for TestDb {
    /// Drops the database (its connections are closed by force), so test runs do not fill
    /// the disk.
    fn drop(&mut self) {
        let name = self.name.clone();
        let url = url_for("postgres");
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(mut c) = PgConnection::connect(&url).await {
                    let _ =
                        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                            .execute(&mut c)
                            .await;
                }
            });
        })
        .join();
    }
}

impl TestDb {
    /// A new database copied from a template.
    pub async fn new(template: Template) -> Self {
        let tpl = ensure_template(template).await;
        let name = format!("wangge_t_{}", uuid::Uuid::new_v4().simple());
        let mut conn = admin().await;
        // CREATE DATABASE ... TEMPLATE fails while another session is copying the same
        // template; retry briefly.
        let mut tries = 0;
        loop {
            match sqlx::query(&format!("CREATE DATABASE \"{name}\" TEMPLATE \"{tpl}\""))
                .execute(&mut conn)
                .await
            {
                Ok(_) => break,
                Err(e) if tries < 50 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(std::time::Duration::from_millis(100 + 50 * tries)).await;
                }
                Err(e) => panic!("cannot create test database: {e}"),
            }
        }
        let url = url_for(&name);
        Self { name, url }
    }

    /// A store on this database.
    pub async fn store(&self) -> Store {
        Store::connect(&self.url, 8)
            .await
            .expect("connect test database")
    }

    /// A plain pool for checks in SQL.
    pub async fn pool(&self) -> sqlx::PgPool {
        PgPoolOptions::new()
            .max_connections(4)
            .connect(&self.url)
            .await
            .expect("connect test database")
    }
}

/// An HTTP client of the test server, signed in as someone (or no one).
#[derive(Clone)]
pub struct Client {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The client.
    pub http: reqwest::Client,
    /// Bearer token, if signed in.
    pub token: Option<String>,
}

impl Client {
    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let r = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    /// GET a path, returning status and JSON body.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .req(reqwest::Method::GET, path)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Sends a JSON body with a method, returning status, ETag and JSON body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> (u16, Option<String>, Value) {
        let mut req = self.req(method, path);
        if let Some(b) = body {
            req = req.json(b);
        }
        if let Some(m) = if_match {
            req = req.header("If-Match", m);
        }
        let r = req.send().await.expect("request");
        let status = r.status().as_u16();
        let etag = r
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        (status, etag, r.json().await.unwrap_or(Value::Null))
    }

    /// A raw request builder with this client's credentials.
    pub fn raw(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.req(method, path)
    }
}

/// The real server running against a test database.
pub struct TestServer {
    /// The state the server uses (its store and index).
    pub state: AppState,
    /// The default client: signed in as `admin` once [`TestServer::sign_in_all`] ran.
    pub client: Client,
    task: tokio::task::JoinHandle<()>,
}

impl std::ops::Deref for TestServer {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The password every test account gets.
pub const PASSWORD: &str = "correct horse battery staple";

impl TestServer {
    /// Waits (at most 120 s) for the coverage model, which the server builds in the
    /// background at start.
    pub async fn wait_for_coverage(&self) {
        let started = std::time::Instant::now();
        loop {
            let (code, _) = self.get("/api/coverage?kind=clinic&minutes=5").await;
            if code == 200 {
                return;
            }
            assert!(
                code == 503 && started.elapsed() < std::time::Duration::from_secs(120),
                "coverage model not ready after {:?} ({code})",
                started.elapsed()
            );
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }

    /// Starts a server on a free port.
    pub async fn start(db: &TestDb) -> Self {
        Self::start_with(db, |_| {}).await
    }

    /// Starts a server with adjusted settings.
    pub async fn start_with(db: &TestDb, adjust: impl FnOnce(&mut Config)) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        Self::start_on(listener, db, adjust).await
    }

    /// Starts a server whose public URL is its own address, so that the links it writes
    /// (OGC API - Features, TileJSON) are absolute, as clients such as GDAL follow them.
    pub async fn start_public(db: &TestDb) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        Self::start_on(listener, db, |c| c.public_url = Some(url)).await
    }

    async fn start_on(
        listener: tokio::net::TcpListener,
        db: &TestDb,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        let mut config = Config::for_database(&db.url);
        adjust(&mut config);
        let store = db.store().await;
        let registry = Registry::load(store.clone()).await.expect("load index");
        registry.spawn_listener();
        let state = AppState::new(store, registry, config);
        let addr = listener.local_addr().expect("addr");
        let router = app(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await;
        });
        Self {
            state,
            client: Client {
                base: format!("http://{addr}"),
                http: reqwest::Client::new(),
                token: None,
            },
            task,
        }
    }

    /// A client with no credentials.
    pub fn anonymous(&self) -> Client {
        Client {
            token: None,
            ..self.client.clone()
        }
    }

    /// Creates an account directly in the store.
    pub async fn add_account(
        &self,
        username: &str,
        role: Role,
        region: &str,
        kind: ScopeKind,
        communities: &[&str],
        grids: &[&str],
    ) {
        let new = NewAccount {
            username: username.to_string(),
            display_name: username.to_string(),
            role,
            scope_kind: kind,
            region_code: region.to_string(),
            communities: communities
                .iter()
                .map(std::string::ToString::to_string)
                .collect(),
            grids: grids.iter().map(std::string::ToString::to_string).collect(),
            staff_code: None,
        };
        self.create_account(&new).await;
    }

    /// Creates a patrol account of one grid in `region`, linked to staff member `staff`.
    pub async fn add_patrol(
        &self,
        username: &str,
        display_name: &str,
        region: &str,
        grid: &str,
        staff: &str,
    ) {
        self.create_account(&NewAccount {
            username: username.to_string(),
            display_name: display_name.to_string(),
            role: Role::Patrol,
            scope_kind: ScopeKind::Grids,
            region_code: region.to_string(),
            communities: vec![],
            grids: vec![grid.to_string()],
            staff_code: Some(staff.to_string()),
        })
        .await;
    }

    /// Creates an account with the test password.
    async fn create_account(&self, new: &NewAccount) {
        let hash = wangge::auth::hash_password(PASSWORD).expect("hash");
        self.state
            .store
            .create_account(new, &hash, &Actor::system("test"))
            .await
            .expect("create test account");
    }

    /// Signs in with a bearer token and the test password.
    pub async fn sign_in(&self, username: &str) -> Client {
        self.sign_in_with(username, PASSWORD).await
    }

    /// Signs in with a bearer token and a given password.
    pub async fn sign_in_with(&self, username: &str, password: &str) -> Client {
        let r = self
            .anonymous()
            .send(
                reqwest::Method::POST,
                "/api/auth/login",
                Some(&json!({ "username": username, "password": password, "token": true })),
                None,
            )
            .await;
        assert_eq!(r.0, 200, "sign in as {username}: {}", r.2);
        Client {
            token: r.2["token"].as_str().map(String::from),
            ..self.client.clone()
        }
    }

    /// Makes `admin` the default client.
    pub async fn become_admin(&mut self) {
        self.client = self.sign_in("admin").await;
    }
}

/// A rectangle polygon as GeoJSON.
pub fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Value {
    json!({ "type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]] })
}

/// A GeoJSON Feature.
pub fn feature(geometry: Value, properties: Value) -> Value {
    json!({ "type": "Feature", "geometry": geometry, "properties": properties })
}

/// A FeatureCollection.
pub fn collection(features: Vec<Value>) -> Value {
    json!({ "type": "FeatureCollection", "features": features })
}

/// Community code of the small fixture.
pub const C: &str = "510802102001";
/// A second community, east of the first, in the same town.
pub const C2: &str = "510802102002";

async fn import(s: &TestServer, layer: Layer, fc: Value) {
    let fc: geojson::FeatureCollection = serde_json::from_value(fc).expect("fixture is GeoJSON");
    s.state
        .store
        .import_layer(layer, fc, 1.0, &Actor::system("fixture"), &|_, _| {})
        .await
        .unwrap_or_else(|e| panic!("import {}: {}", layer.as_str(), describe(&e)));
}

/// Loads a small district: community C (0.02° × 0.01°) split into two first-level grids
/// (west, east), each split into two second-level grids (south, north), with one building
/// in the middle of each second-level grid; community C2 east of it with one grid of each
/// level and one building. Then accounts for every role, and signs in as `admin`:
/// `admin` (zone), `planner` and `viewer` (town), `chief` (grid C01), `patrol` (grid
/// C0101), `chief2` (community C2), `outsider` (admin of another town).
/// A database holding the demo district generated at `scale` (seed 1), and the code of its
/// zone: the city-sized data of the budget tests.
pub async fn demo_db(scale: u32) -> (TestDb, String) {
    let dir = std::env::temp_dir().join(format!("wangge-s{scale}-{}", uuid::Uuid::new_v4()));
    let mut opts = wangge::demo::GenerateOptions::new(1, scale);
    opts.divisions_csv = root().join(wangge::demo::DEFAULT_DIVISIONS_CSV);
    wangge::demo::generate(&opts, &dir).expect("generate the demo");
    let db = TestDb::new(Template::Empty).await;
    let store = db.store().await;
    store.migrate().await.expect("migrate");
    store
        .import_dir(&dir, 1.0, &Actor::system("test"), &|_, _, _| {})
        .await
        .expect("load the demo");
    let _ = std::fs::remove_dir_all(&dir);
    let zone: String =
        sqlx::query_scalar("SELECT code FROM regions WHERE kind = 'zone' ORDER BY id LIMIT 1")
            .fetch_one(&db.pool().await)
            .await
            .expect("the zone");
    (db, zone)
}

pub async fn load_fixture(s: &mut TestServer) {
    import(
        s,
        Layer::Regions,
        collection(vec![
            feature(Value::Null, json!({ "code": "GYKFQ", "name": "广元经济技术开发区", "kind": "zone" })),
            feature(
                rect(105.70, 32.40, 105.73, 32.41),
                json!({ "code": "510802102", "name": "盘龙镇", "kind": "town", "parent_code": "GYKFQ" }),
            ),
            feature(
                rect(105.80, 32.40, 105.81, 32.41),
                json!({ "code": "510802103", "name": "宝轮镇", "kind": "town", "parent_code": "GYKFQ" }),
            ),
        ]),
    )
    .await;
    import(
        s,
        Layer::Communities,
        collection(vec![
            feature(
                rect(105.70, 32.40, 105.72, 32.41),
                json!({ "code": C, "name": "陵江社区", "region_code": "510802102" }),
            ),
            feature(
                rect(105.72, 32.40, 105.73, 32.41),
                json!({ "code": C2, "name": "走马岭社区", "region_code": "510802102" }),
            ),
        ]),
    )
    .await;
    let mut grids = vec![];
    for (i, (x0, x1)) in [(105.70, 105.71), (105.71, 105.72)].into_iter().enumerate() {
        let g1 = format!("{C}0{}", i + 1);
        grids.push(feature(
            rect(x0, 32.40, x1, 32.41),
            json!({ "code": g1, "name": format!("第{}网格", i + 1), "level": 1, "parent_code": C }),
        ));
        for (j, (y0, y1)) in [(32.40, 32.405), (32.405, 32.41)].into_iter().enumerate() {
            grids.push(feature(
                rect(x0, y0, x1, y1),
                json!({ "code": format!("{g1}0{}", j + 1), "name": format!("第{}网格第{}分格", i + 1, j + 1), "level": 2, "parent_code": g1 }),
            ));
        }
    }
    grids.push(feature(rect(105.72, 32.40, 105.73, 32.41), json!({ "code": format!("{C2}01"), "name": "走马岭第1网格", "level": 1, "parent_code": C2 })));
    grids.push(feature(rect(105.72, 32.40, 105.73, 32.41), json!({ "code": format!("{C2}0101"), "name": "走马岭第1网格第1分格", "level": 2, "parent_code": format!("{C2}01") })));
    import(s, Layer::Grids, collection(grids)).await;
    let mut buildings = vec![];
    for (i, x) in [105.705, 105.715].into_iter().enumerate() {
        for (j, y) in [32.4025, 32.4075].into_iter().enumerate() {
            buildings.push(feature(
                rect(x - 0.0002, y - 0.0002, x + 0.0002, y + 0.0002),
                json!({ "code": format!("B{i}{j}"), "households": 10 * (i + 1) + j, "residents": 27 * (i + 1) + j, "address": format!("{i}{j}号楼") }),
            ));
        }
    }
    buildings.push(feature(
        rect(105.7248, 32.4048, 105.7252, 32.4052),
        json!({ "code": "B2", "households": 5, "residents": 12 }),
    ));
    import(s, Layer::Buildings, collection(buildings)).await;
    let people = "code,building_code,name,sex,birth_year,phone,work_unit,household,membership\n\
        P1,B00,张伟,M,1970,13800000001,广元钢铁,1-101,full\n\
        P2,B00,王芳,F,1985,13800000002,,1-102,none\n\
        P3,B10,李娜,F,1990,13800000003,市医院,2-201,probationary\n\
        P4,B2,刘洋,M,1960,13800000004,,3-301,full\n";
    s.state
        .store
        .import_people_csv(&Actor::system("fixture"), people.as_bytes(), &|_, _| {})
        .await
        .expect("people");
    use ScopeKind::*;
    s.add_account("admin", Role::Admin, "GYKFQ", Region, &[], &[])
        .await;
    s.add_account("planner", Role::Planner, "510802102", Region, &[], &[])
        .await;
    s.add_account("viewer", Role::Viewer, "510802102", Region, &[], &[])
        .await;
    s.add_account(
        "chief",
        Role::GridChief,
        "510802102",
        Grids,
        &[],
        &[&format!("{C}01")],
    )
    .await;
    s.add_account(
        "patrol",
        Role::Patrol,
        "510802102",
        Grids,
        &[],
        &[&format!("{C}0101")],
    )
    .await;
    s.add_account(
        "chief2",
        Role::GridChief,
        "510802102",
        Communities,
        &[C2],
        &[],
    )
    .await;
    s.add_account("outsider", Role::Admin, "510802103", Region, &[], &[])
        .await;
    s.add_account("planner_out", Role::Planner, "510802103", Region, &[], &[])
        .await;
    s.add_account("viewer_out", Role::Viewer, "510802103", Region, &[], &[])
        .await;
    import(
        s,
        Layer::Stations,
        collection(vec![feature(
            json!({ "type": "Point", "coordinates": [105.703, 32.403] }),
            json!({ "code": "S1", "name": "陵江社区党群服务中心", "kind": "party_mass_centre", "community_code": C, "programmes": 5 }),
        )]),
    )
    .await;
    // Two streets meeting at a shared vertex in the west grid, and one across the east grid.
    let streets: geojson::FeatureCollection = serde_json::from_value(collection(vec![
        feature(
            json!({ "type": "LineString", "coordinates": [[105.70, 32.4025], [105.705, 32.4025], [105.73, 32.4025]] }),
            json!({ "highway": "residential", "name": "甲路" }),
        ),
        feature(
            json!({ "type": "LineString", "coordinates": [[105.705, 32.40], [105.705, 32.4025], [105.705, 32.41]] }),
            json!({ "highway": "footway" }),
        ),
    ]))
    .expect("streets");
    s.state
        .store
        .import_network(
            &Actor::system("fixture"),
            wangge::import::NetworkSource::Lines(&streets),
        )
        .await
        .expect("streets");
    s.state.registry.refresh().await.expect("refresh");
    s.become_admin().await;
}

/// Reads a file next to the project, if the shared data folder exists.
pub fn shared(path: &str) -> Option<PathBuf> {
    let p = root().join("..").join("shared").join(path);
    if Path::new(&p).exists() {
        Some(p)
    } else {
        eprintln!("skipping: {} is absent", p.display());
        None
    }
}

/// An XLSX download as GDAL's XLSX driver reads it (first sheet, every row as data), in CSV:
/// another reader's view of what the server wrote.
pub fn xlsx_as_csv(bytes: &[u8]) -> String {
    assert_eq!(&bytes[..2], b"PK", "an XLSX is a zip");
    let path = std::env::temp_dir().join(format!(
        "wangge-xlsx-{}-{}.xlsx",
        std::process::id(),
        uuid::Uuid::new_v4()
    ));
    std::fs::write(&path, bytes).expect("write xlsx");
    let out = std::process::Command::new("ogr2ogr")
        .args(["-f", "CSV", "/vsistdout/", "-oo", "HEADERS=FORCE"])
        .arg(&path)
        .output()
        .expect("ogr2ogr runs (gdal-bin installed)");
    std::fs::remove_file(&path).ok();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("GDAL writes UTF-8")
}
