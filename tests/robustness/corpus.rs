//! The standing hostile-input corpus: cases (a role, a request, what may come back) built
//! from generators, a snapshot of the database to show that nothing changed, and a prober
//! that measures `GET /api/locate` while the corpus runs. Shared with
//! tests/heavy_tenants.rs.
#![allow(dead_code)]

use super::common::*;
use axum::body::Bytes;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Who sends a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    Admin,
    Planner,
    Chief,
    Patrol,
}

/// Every role a case is sent as.
pub const EVERYONE: [Who; 4] = [Who::Admin, Who::Planner, Who::Chief, Who::Patrol];

/// What a case may answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// A JSON 4xx.
    Refused,
    /// A JSON 4xx with this status.
    Status(u16),
    /// A JSON 4xx with this error code.
    Code(&'static str),
    /// A success (the input is valid) or a JSON 4xx; never a change (the corpus only sends
    /// valid input to routes that write nothing, or that refuse it for another reason).
    Either,
}

/// One hostile request.
#[derive(Clone, Debug)]
pub struct Case {
    pub name: String,
    pub who: Who,
    pub method: Method,
    pub path: String,
    pub body: Option<Bytes>,
    pub if_match: Option<String>,
    pub expect: Expect,
    /// Sent this many times at once.
    pub times: usize,
}

impl Case {
    pub fn new(name: impl Into<String>, who: Who, method: Method, path: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            who,
            method,
            path: path.into(),
            body: None,
            if_match: None,
            expect: Expect::Refused,
            times: 1,
        }
    }

    pub fn body(mut self, b: impl Into<Bytes>) -> Self {
        self.body = Some(b.into());
        self
    }

    pub fn json(self, v: &Value) -> Self {
        self.body(serde_json::to_vec(v).expect("a body"))
    }

    pub fn if_match(mut self, m: &str) -> Self {
        self.if_match = Some(m.to_string());
        self
    }

    pub fn expect(mut self, e: Expect) -> Self {
        self.expect = e;
        self
    }

    pub fn times(mut self, n: usize) -> Self {
        self.times = n;
        self
    }
}

/// What one answer was.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub retry_after: bool,
    pub took: Duration,
}

/// Sends a case once.
pub async fn send(c: &Client, case: &Case) -> Answer {
    let mut req = c.raw(case.method.clone(), &case.path);
    if let Some(b) = &case.body {
        req = req
            .header("Content-Type", "application/json")
            .body(b.clone());
    }
    if let Some(m) = &case.if_match {
        req = req.header("If-Match", m);
    }
    let t = Instant::now();
    let r = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            return Answer {
                status: 0,
                body: json!({ "no_answer": format!("{e:?}") }),
                retry_after: false,
                took: t.elapsed(),
            }
        }
    };
    let status = r.status().as_u16();
    let retry_after = r.headers().contains_key("retry-after");
    let text = r.text().await.unwrap_or_default();
    let took = t.elapsed();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| json!({ "not_json": text }));
    Answer {
        status,
        body,
        retry_after,
        took,
    }
}

/// Checks one answer against what the case allows; `crowd` says the case was sent many
/// times at once (then 503 `busy` with `Retry-After` is also right: the server sheds).
pub fn judge(case: &Case, a: &Answer, crowd: bool) -> Result<(), String> {
    let what = || {
        format!(
            "{} ({:?} {} {}): {} {}",
            case.name,
            case.who,
            case.method,
            cut(&case.path, 100),
            a.status,
            cut(&a.body.to_string(), 300)
        )
    };
    if a.status == 0 {
        return Err(format!("no answer: {}", what()));
    }
    if crowd && a.status == 503 && a.body["error"] == "busy" && a.retry_after {
        return Ok(());
    }
    if a.status >= 400 {
        if !(a.body["error"].is_string() && a.body["message"].is_string()) {
            return Err(format!("not a JSON error: {}", what()));
        }
        if a.status >= 500 {
            return Err(format!("a server error: {}", what()));
        }
    }
    let ok = match case.expect {
        Expect::Refused => (400..500).contains(&a.status),
        Expect::Status(s) => a.status == s,
        Expect::Code(c) => (400..500).contains(&a.status) && a.body["error"] == c,
        Expect::Either => a.status < 300 || (400..500).contains(&a.status),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("expected {:?}: {}", case.expect, what()))
    }
}

fn cut(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Tables whose rows change without any write: sign-ins and their throttling. Everything
/// else must be the same after a case as before it.
const NOT_COMPARED: [&str; 3] = ["sessions", "login_failures", "login_throttle"];

/// The database's content: per table, its row count and a digest of its rows.
pub async fn snapshot(pool: &sqlx::PgPool) -> Vec<(String, i64, String)> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .expect("tables");
    let parts: Vec<String> = tables
        .iter()
        .filter(|t| !NOT_COMPARED.contains(&t.as_str()) && t.as_str() != "spatial_ref_sys")
        .map(|t| {
            format!(
                "SELECT '{t}'::text, count(*), md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM \"{t}\" x"
            )
        })
        .collect();
    sqlx::query_as(&parts.join(" UNION ALL "))
        .fetch_all(pool)
        .await
        .expect("snapshot")
}

/// The differences between two snapshots, by table.
pub fn changed(before: &[(String, i64, String)], after: &[(String, i64, String)]) -> Vec<String> {
    before
        .iter()
        .zip(after)
        .filter(|(b, a)| b != a)
        .map(|(b, a)| format!("{}: {} rows → {} rows", b.0, b.1, a.1))
        .collect()
}

/// Latencies measured by a prober.
#[derive(Debug, Default, Clone)]
pub struct Latencies(pub Vec<Duration>, pub Vec<String>);

impl Latencies {
    pub fn quantile(&self, q: f64) -> Duration {
        let mut v = self.0.clone();
        v.sort();
        if v.is_empty() {
            return Duration::ZERO;
        }
        v[((v.len() - 1) as f64 * q).round() as usize]
    }

    pub fn max(&self) -> Duration {
        self.0.iter().max().copied().unwrap_or_default()
    }

    pub fn summary(&self) -> String {
        format!(
            "{} probes ({} failed{}): p50 {:?}, p95 {:?}, p99 {:?}, max {:?}",
            self.0.len(),
            self.1.len(),
            self.1
                .first()
                .map(|f| format!(", first {f}"))
                .unwrap_or_default(),
            self.quantile(0.5),
            self.quantile(0.95),
            self.quantile(0.99),
            self.max()
        )
    }
}

/// A task that asks `GET /api/locate` (and every tenth time `GET /api/health`) every
/// `every` until stopped, and hands back what each answer took.
pub struct Prober {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<(Latencies, Latencies)>,
}

/// The locate the prober asks: grid C0202 of the fixture.
pub const LOCATE: &str = "/api/locate?lon=105.715&lat=32.4075";

impl Prober {
    pub fn start(c: &Client, every: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        // A client of its own, so that its connections never wait behind the corpus's.
        let c = Client {
            http: reqwest::Client::new(),
            ..c.clone()
        };
        let flag = Arc::clone(&stop);
        let task = tokio::spawn(async move {
            let (mut locate, mut health) = (Latencies::default(), Latencies::default());
            let mut i = 0usize;
            while !flag.load(Ordering::Relaxed) {
                let t = Instant::now();
                let ok = c
                    .raw(Method::GET, LOCATE)
                    .send()
                    .await
                    .map(|r| r.status().as_u16());
                locate.0.push(t.elapsed());
                if !matches!(ok, Ok(200)) {
                    locate.1.push(format!("locate: {ok:?}"));
                }
                if i.is_multiple_of(10) {
                    let t = Instant::now();
                    let ok = c
                        .raw(Method::GET, "/api/health")
                        .send()
                        .await
                        .map(|r| r.status().as_u16());
                    health.0.push(t.elapsed());
                    if !matches!(ok, Ok(200)) {
                        health.1.push(format!("health: {ok:?}"));
                    }
                }
                i += 1;
                tokio::time::sleep(every).await;
            }
            (locate, health)
        });
        Self { stop, task }
    }

    pub async fn finish(self) -> (Latencies, Latencies) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("the prober")
    }
}

/// The process's peak resident memory so far (`VmHWM`), in bytes.
pub fn peak_rss() -> u64 {
    field_kb("VmHWM:") * 1024
}

/// The process's resident memory now (`VmRSS`), in bytes.
pub fn rss() -> u64 {
    field_kb("VmRSS:") * 1024
}

fn field_kb(name: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

// ---- generators -------------------------------------------------------------------------

/// A ring of `n` positions around a point of grid C0101 (a valid polygon for n ≥ 4).
pub fn circle(n: usize, cx: f64, cy: f64) -> Vec<[f64; 2]> {
    let mut ring: Vec<[f64; 2]> = (0..n)
        .map(|i| {
            let t = i as f64 / n as f64 * std::f64::consts::TAU;
            [cx + 0.004 * t.cos(), cy + 0.002 * t.sin()]
        })
        .collect();
    ring.push(ring[0]);
    ring
}

/// A ring of `n` positions written with short integer coordinates (about 8 bytes each):
/// many positions in few bytes.
pub fn int_ring_text(n: usize) -> String {
    let digits: Vec<String> = (0..90).map(|d| d.to_string()).collect();
    let mut s = String::with_capacity(n * 9 + 64);
    s.push_str("[[");
    for i in 0..n {
        let (x, y) = match i % 4 {
            0 => (0, 0),
            1 => (i % 90, 0),
            2 => (i % 90, i % 45),
            _ => (0, i % 45),
        };
        if i > 0 {
            s.push(',');
        }
        s.push('[');
        s.push_str(&digits[x]);
        s.push(',');
        s.push_str(&digits[y]);
        s.push(']');
    }
    s.push_str(",[0,0]]]");
    s
}

/// Pathological polygon coordinates: (name, coordinates as JSON text).
pub fn bad_shapes() -> Vec<(&'static str, String)> {
    let big_ring = serde_json::to_string(&vec![circle(100_000, 105.705, 32.4025)]).expect("ring");
    let many_rings: Vec<Vec<[f64; 2]>> = std::iter::once(circle(8, 105.705, 32.4025))
        .chain((0..1_001).map(|i| {
            let x = 105.702 + f64::from(i % 40) * 0.0001;
            let y = 32.4015 + f64::from(i / 40) * 0.00005;
            vec![[x, y], [x + 0.00002, y], [x + 0.00002, y + 0.00002], [x, y]]
        }))
        .collect();
    vec![
        ("bowtie", "[[[105.70,32.40],[105.71,32.405],[105.71,32.40],[105.70,32.405],[105.70,32.40]]]".into()),
        ("spike", "[[[105.70,32.40],[105.71,32.40],[105.71,32.405],[105.705,32.405],[105.705,32.5],[105.705,32.405],[105.70,32.405],[105.70,32.40]]]".into()),
        ("unclosed ring", "[[[105.70,32.40],[105.71,32.40],[105.71,32.405],[105.70,32.405]]]".into()),
        ("two positions", "[[[105.70,32.40],[105.70,32.40]]]".into()),
        ("empty ring", "[[]]".into()),
        ("no rings", "[]".into()),
        ("zero area", "[[[105.70,32.40],[105.71,32.40],[105.72,32.40],[105.70,32.40]]]".into()),
        ("repeated positions", "[[[105.70,32.40],[105.70,32.40],[105.70,32.40],[105.70,32.40]]]".into()),
        ("longitude 200", "[[[200,32.40],[201,32.40],[201,33],[200,32.40]]]".into()),
        ("latitude 1e308", "[[[105.70,1e308],[105.71,1e308],[105.71,-1e308],[105.70,1e308]]]".into()),
        ("NaN as a string", "[[[\"NaN\",32.40],[105.71,32.40],[105.71,32.405],[\"NaN\",32.40]]]".into()),
        ("Infinity as a string", "[[[\"Infinity\",\"-Infinity\"],[105.71,32.40],[105.71,32.405],[\"Infinity\",\"-Infinity\"]]]".into()),
        ("NaN as a bare word", "[[[NaN,32.40],[105.71,32.40],[105.71,32.405],[NaN,32.40]]]".into()),
        ("Infinity as a bare word", "[[[Infinity,32.40],[105.71,32.40],[105.71,32.405],[Infinity,32.40]]]".into()),
        ("a number past f64", "[[[1e400,32.40],[105.71,32.40],[105.71,32.405],[1e400,32.40]]]".into()),
        ("one coordinate", "[[[105.70],[105.71],[105.71],[105.70]]]".into()),
        ("twelve coordinates", "[[[1,2,3,4,5,6,7,8,9,10,11,12],[1,2,3,4,5,6,7,8,9,10,11,12],[1,2,3,4,5,6,7,8,9,10,11,12],[1,2,3,4,5,6,7,8,9,10,11,12]]]".into()),
        ("coordinates as strings", "[[[\"105.70\",\"32.40\"],[\"105.71\",\"32.40\"],[\"105.71\",\"32.405\"],[\"105.70\",\"32.40\"]]]".into()),
        ("hole outside its shell", "[[[105.70,32.40],[105.705,32.40],[105.705,32.405],[105.70,32.40]],[[105.71,32.40],[105.712,32.40],[105.712,32.402],[105.71,32.40]]]".into()),
        ("a ring of 10^5 positions", big_ring),
        ("1,002 rings", serde_json::to_string(&many_rings).expect("rings")),
        ("a ring of 10^6 positions", int_ring_text(1_000_000)),
        ("arrays nested 10^5 deep", format!("{}{}", "[".repeat(100_000), "]".repeat(100_000))),
    ]
}

/// Malformed bodies any route may get: (name, bytes).
pub fn malformed_bodies() -> Vec<(&'static str, Bytes)> {
    let b = |s: &str| Bytes::from(s.to_string());
    let mut digits = String::from("{\"n\":");
    digits.push_str(&"9".repeat(100_000));
    digits.push('}');
    vec![
        ("empty", Bytes::new()),
        ("arrays 10^5 deep", b(&format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)))),
        ("objects 10^5 deep", b(&format!("{}1{}", "{\"a\":".repeat(100_000), "}".repeat(100_000)))),
        ("NaN", b("{\"lon\":NaN,\"lat\":NaN}")),
        ("Infinity", b("{\"x\":Infinity,\"y\":-Infinity}")),
        ("1e400", b("{\"x\":1e400}")),
        ("10^5 digits", b(&digits)),
        ("invalid UTF-8", Bytes::from_static(b"{\"name\":\"\xff\xfe\xfd\"}")),
        ("a lone surrogate", b("{\"name\":\"\\ud800\"}")),
        ("a NUL escape", b("{\"name\":\"a\\u0000b\"}")),
        ("a byte-order mark", Bytes::from_static(b"\xef\xbb\xbf{}")),
        ("trailing garbage", b("{} x")),
        ("duplicate keys", b("{\"name\":\"a\",\"name\":\"b\"}")),
        ("truncated", b("{\"type\":\"Feature\",\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[1,2],[3")),
        ("a bare string", b("\"x\"")),
        ("a bare number", b("-0")),
        ("null", b("null")),
        ("a list", b("[]")),
    ]
}

/// `template` with the value at each place replaced, in turn, by each wrong value:
/// (path, body).
pub fn wrong_types(template: &Value) -> Vec<(String, Value)> {
    let wrong = [
        Value::Null,
        json!("x"),
        json!(-1),
        json!(1.5e308),
        json!([]),
        json!({}),
        json!(true),
        json!("NaN"),
    ];
    let mut paths = vec![];
    collect_paths(template, &mut vec![], &mut paths);
    let mut out = vec![];
    for p in paths {
        for w in &wrong {
            let mut v = template.clone();
            if let Some(slot) = at_path(&mut v, &p) {
                if slot == w {
                    continue;
                }
                *slot = w.clone();
                out.push((format!("/{}", p.join("/")), v));
            }
        }
    }
    out
}

fn collect_paths(v: &Value, here: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    if !here.is_empty() {
        out.push(here.clone());
    }
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                here.push(k.clone());
                collect_paths(x, here, out);
                here.pop();
            }
        }
        Value::Array(a) => {
            // The first two members stand for the rest.
            for (i, x) in a.iter().enumerate().take(2) {
                here.push(i.to_string());
                collect_paths(x, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

fn at_path<'a>(v: &'a mut Value, p: &[String]) -> Option<&'a mut Value> {
    let mut cur = v;
    for k in p {
        cur = match cur {
            Value::Object(m) => m.get_mut(k)?,
            Value::Array(a) => a.get_mut(k.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// A body of about `bytes` bytes: a patrol upload of as many points as fit (far past the
/// 5,000 a chunk may hold), valid JSON to the end.
pub fn huge_points(bytes: usize, id: &str, tail: &str) -> Bytes {
    let point = "{\"lon\":105.705,\"lat\":32.4025,\"t\":\"2026-01-01T00:00:00Z\"}";
    let n = bytes / (point.len() + 1);
    let mut s = String::with_capacity(bytes + 128);
    s.push_str(&format!("{{\"id\":\"{id}\",\"points\":["));
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        s.push_str(point);
    }
    s.push(']');
    s.push_str(tail);
    Bytes::from(s)
}
