//! The generated demo district at a scale, in a database of its own (`wangge_bench_s{S}`
//! next to `DATABASE_URL`'s), generated and loaded on first use and reused after.

#![allow(dead_code)]

use sqlx::{Connection, PgConnection};
use std::time::Instant;
use wangge::store::audit::Actor;
use wangge::store::Store;

pub fn url_for(base: &str, name: &str) -> String {
    let cut = base.rfind('/').expect("a database URL has a path");
    format!("{}/{name}", &base[..cut])
}

pub async fn prepare(base: &str, scale: u32) -> String {
    let name = format!("wangge_bench_s{scale}");
    let mut admin = PgConnection::connect(&url_for(base, "postgres"))
        .await
        .expect("connect");
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await
            .expect("query");
    let url = url_for(base, &name);
    if exists {
        let ready: Option<bool> = match PgConnection::connect(&url).await {
            Ok(mut c) => sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM staff_assignments)")
                .fetch_one(&mut c)
                .await
                .ok(),
            Err(_) => None,
        };
        if ready == Some(true) {
            return url;
        }
        sqlx::query(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
            .execute(&mut admin)
            .await
            .expect("drop");
    }
    let dir = std::env::temp_dir().join(format!("wangge-demo-s{scale}"));
    eprintln!("generating the scale-{scale} demo in {}", dir.display());
    let mut opts = wangge::demo::GenerateOptions::new(1, scale);
    opts.divisions_csv = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/guangyuan/divisions.csv");
    wangge::demo::generate(&opts, &dir).expect("generate the demo");
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut admin)
        .await
        .expect("create");
    let store = Store::connect(&url, 4).await.expect("connect");
    store.migrate().await.expect("migrate");
    let t = Instant::now();
    store
        .import_dir(&dir, 1.0, &Actor::system("bench"), &|_, _, _| {})
        .await
        .expect("load the demo");
    eprintln!("loaded scale {scale} in {:.1} s", t.elapsed().as_secs_f64());
    sqlx::query("VACUUM ANALYZE")
        .execute(&store.pool)
        .await
        .expect("analyze");
    url
}
