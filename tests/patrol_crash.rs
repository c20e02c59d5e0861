//! Crash safety of patrol uploads: many clients upload patrols with 200-point tracks to a
//! real `wangge serve` process, which is killed with SIGKILL half-way and started again;
//! the clients retry until every upload is acknowledged. Afterwards every patrol is in
//! PostgreSQL exactly once, whole, and every acknowledgement matches what is stored.
//!
//! Small by default (it runs in `make test`); the full size is
//! `WANGGE_CRASH_CLIENTS=64 WANGGE_CRASH_PATROLS=50 cargo test --test patrol_crash -- --nocapture`
//! (3,200 patrols; about 30 s of uploads on two shared cores).

mod common;

use chrono::{Duration, Utc};
use common::patrols::{free_port, serve, staff_patrols, walk, whole, SOUTH_WEST};
use common::*;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};
use uuid::Uuid;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What a client saw for one upload.
struct Ack {
    status: u16,
    replayed: bool,
    body: Value,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_patrols_survive_sigkill_exactly_once() {
    let clients = setting("WANGGE_CRASH_CLIENTS", 12);
    let per_client = setting("WANGGE_CRASH_PATROLS", 8);
    let total = clients * per_client;
    let db = TestDb::new(Template::Empty).await;
    let mut s = TestServer::start(&db).await;
    load_fixture(&mut s).await;
    common::patrols::add_patrol2(&s).await;
    let pool = db.pool().await;
    staff_patrols(&s, &pool).await;
    let token = s.sign_in("patrol").await.token.expect("token");

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let pool_size = [("WANGGE_POOL_SIZE", "16".to_string())];
    let mut child = serve(&db, port, &pool_size).await;

    let acks: Arc<Mutex<HashMap<Uuid, Ack>>> = Arc::default();
    let acked = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(AtomicUsize::new(0));
    let grid = format!("{C}0101");
    let t0 = Utc::now() - Duration::minutes(total as i64 + 120);
    let mut tasks = vec![];
    for c in 0..clients {
        let (acks, acked, failures) = (acks.clone(), acked.clone(), failures.clone());
        let (base, token, grid) = (base.clone(), token.clone(), grid.clone());
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(StdDuration::from_secs(20))
                .build()
                .expect("client");
            for k in 0..per_client {
                let id = Uuid::new_v4();
                let start = t0 + Duration::minutes((c * per_client + k) as i64);
                let body = whole(&[&grid], &walk(SOUTH_WEST, start, 200, 4), json!([]));
                let mut tries = 0;
                loop {
                    tries += 1;
                    assert!(tries < 2000, "patrol {id} was never acknowledged");
                    let r = http
                        .put(format!("{base}/api/patrols/{id}"))
                        .bearer_auth(&token)
                        .json(&body)
                        .send()
                        .await;
                    let Ok(r) = r else {
                        failures.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(StdDuration::from_millis(100)).await;
                        continue;
                    };
                    let status = r.status().as_u16();
                    let replayed = r.headers().contains_key("idempotent-replayed");
                    let answer: Result<Value, _> = r.json().await;
                    match (status, answer) {
                        (200 | 201, Ok(body)) => {
                            acks.lock().expect("acks").insert(
                                id,
                                Ack {
                                    status,
                                    replayed,
                                    body,
                                },
                            );
                            acked.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                        // The connection died under the answer, or the server is busy.
                        (200 | 201 | 503, _) | (_, Err(_)) => {
                            failures.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(StdDuration::from_millis(100)).await;
                        }
                        (other, Ok(body)) => panic!("patrol {id}: {other} {body}"),
                    }
                }
            }
        }));
    }

    // Kill the server when about a third of the patrols are in, with uploads in flight.
    let started = Instant::now();
    while acked.load(Ordering::Relaxed) < total / 3 {
        assert!(
            started.elapsed() < StdDuration::from_secs(120),
            "no progress"
        );
        tokio::time::sleep(StdDuration::from_millis(5)).await;
    }
    let at_kill = acked.load(Ordering::Relaxed);
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    let mut child = serve(&db, port, &pool_size).await;
    for t in tasks {
        t.await.expect("client");
    }
    let _ = child.kill();
    let _ = child.wait();
    let took = started.elapsed();

    let acks = std::mem::take(&mut *acks.lock().expect("acks"));
    assert_eq!(acks.len(), total, "every patrol was acknowledged");
    assert!(at_kill < total, "the kill came before the end");
    let ids: Vec<Uuid> = acks.keys().copied().collect();
    let rows: Vec<(Uuid, bool, Option<i32>, i64, i64)> = sqlx::query_as(
        "SELECT p.id, p.complete, p.points, \
           (SELECT count(*) FROM patrol_chunks c WHERE c.patrol_id = p.id), \
           (SELECT count(*) FROM patrol_grids g WHERE g.patrol_id = p.id) \
         FROM patrols p",
    )
    .fetch_all(&pool)
    .await
    .expect("patrols");
    assert_eq!(rows.len(), total, "nothing stored twice, nothing lost");
    for (id, complete, points, chunks, grids) in &rows {
        assert!(ids.contains(id), "a patrol nobody sent: {id}");
        assert!(
            *complete && *points == Some(200),
            "patrol {id} is not whole"
        );
        assert_eq!((*chunks, *grids), (1, 1), "patrol {id}");
        let ack = &acks[id];
        assert_eq!(ack.body["id"], json!(id));
        assert_eq!(ack.body["points"], 200);
        assert!(ack.status == 201 || ack.replayed);
    }
    let stored_points: i64 =
        sqlx::query_scalar("SELECT sum(cardinality(lon))::bigint FROM patrol_chunks")
            .fetch_one(&pool)
            .await
            .expect("points");
    assert_eq!(stored_points, 200 * total as i64);
    let replays = acks.values().filter(|a| a.replayed).count();
    eprintln!(
        "{total} patrols from {clients} clients in {took:.1?}; killed after {at_kill} acknowledgements; \
         {} failed attempts retried; {replays} acknowledged as repeats of a committed upload",
        failures.load(Ordering::Relaxed)
    );
}
