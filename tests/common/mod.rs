//! Helpers for integration tests: a fresh PostGIS database per test, copied from a
//! template (empty-but-migrated, or with the demo district loaded), and the real server
//! started on a free port against it.
#![allow(dead_code)]

use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wangge::cache::Registry;
use wangge::config::Config;
use wangge::http::{app, AppState};
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
                    .import_dir(&root().join("data/demo"), 1.0, &|_, _, _| {})
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

/// The real server running against a test database.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The state the server uses (its store and index).
    pub state: AppState,
    /// A client.
    pub http: reqwest::Client,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    /// Starts a server on a free port.
    pub async fn start(db: &TestDb) -> Self {
        Self::start_with(db, |_| {}).await
    }

    /// Starts a server with adjusted settings.
    pub async fn start_with(db: &TestDb, adjust: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::for_database(&db.url);
        adjust(&mut config);
        let store = db.store().await;
        let registry = Registry::load(store.clone()).await.expect("load index");
        registry.spawn_listener();
        let state = AppState {
            store,
            registry,
            config: Arc::new(config),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let router = app(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            base: format!("http://{addr}"),
            state,
            http: reqwest::Client::new(),
            task,
        }
    }

    /// GET a path, returning status and JSON body.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
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
        let mut req = self.http.request(method, format!("{}{path}", self.base));
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

/// Loads a small district through the import API: one community 0.02° × 0.01° split into
/// two first-level grids (west, east), each split into two second-level grids (south,
/// north), with one building in the middle of each second-level grid.
pub async fn load_fixture(s: &TestServer) {
    let post = |layer: &'static str, body: Value| async move {
        let (status, _, b) = s
            .send(
                reqwest::Method::POST,
                &format!("/api/import/{layer}"),
                Some(&body),
                None,
            )
            .await;
        assert_eq!(status, 200, "import {layer}: {b}");
    };
    post(
        "regions",
        collection(vec![
            feature(Value::Null, json!({ "code": "GYKFQ", "name": "广元经济技术开发区", "kind": "zone" })),
            feature(
                rect(105.70, 32.40, 105.72, 32.41),
                json!({ "code": "510802102", "name": "盘龙镇", "kind": "town", "parent_code": "GYKFQ" }),
            ),
        ]),
    )
    .await;
    post(
        "communities",
        collection(vec![feature(
            rect(105.70, 32.40, 105.72, 32.41),
            json!({ "code": C, "name": "陵江社区", "region_code": "510802102" }),
        )]),
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
    post("grids", collection(grids)).await;
    let mut buildings = vec![];
    for (i, x) in [105.705, 105.715].into_iter().enumerate() {
        for (j, y) in [32.4025, 32.4075].into_iter().enumerate() {
            buildings.push(feature(
                rect(x - 0.0002, y - 0.0002, x + 0.0002, y + 0.0002),
                json!({ "code": format!("B{i}{j}"), "households": 10 * (i + 1) + j, "residents": 27 * (i + 1) + j }),
            ));
        }
    }
    post("buildings", collection(buildings)).await;
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
