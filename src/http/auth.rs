//! Sign-in, sessions and the gate every request passes. The gate looks up the matched
//! route's [`Rule`]; a route without one is refused (fail closed). Cookie sessions must
//! echo their CSRF token on every change. The signed-in [`Caller`] is put in the request
//! for handlers and store filters.

use super::error::{ApiError, ApiResult};
use super::extract::{Ctx, Json};
use super::AppState;
use crate::auth::{self, Gate, Throttle};
use crate::config::IpBlock;
use crate::domain::access::{allows, Action, Area, Caller, Rule};
use crate::store::accounts::Account;
use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "wangge_session";
/// Name of the cookie holding the CSRF token (readable by the web app).
pub const CSRF_COOKIE: &str = "wangge_csrf";
/// Header the web app echoes the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How long a looked-up session is trusted before it is read again. Revocations (logout,
/// password change, disabling) reach every process through the change log and clear this
/// cache at once; the time bounds only expiry.
const SESSION_CACHE_TTL: Duration = Duration::from_secs(5);

/// Most sessions the cache holds.
const MAX_CACHED_SESSIONS: usize = 10_000;

/// Sessions checked within this time are kept (while unexpired) when the cache is pruned,
/// so that callers signed in lately are still recognised during a database outage.
const KEEP_FOR_OUTAGES: Duration = Duration::from_secs(3600);

/// The route table: which rule guards each (method, path) pair.
pub type Rules = Arc<HashMap<(Method, String), Rule>>;

/// One checked session.
struct Cached {
    at: Instant,
    epoch: u64,
    caller: Arc<Caller>,
    csrf: Option<Vec<u8>>,
    expires_at: DateTime<Utc>,
}

/// A session as the cache gives it back: the caller and the hash of its CSRF token.
type Known = (Arc<Caller>, Option<Vec<u8>>);

/// Recently checked sessions, keyed by token hash.
#[derive(Default)]
pub struct SessionCache {
    entries: Mutex<HashMap<Vec<u8>, Cached>>,
}

impl std::fmt::Debug for SessionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionCache")
    }
}

impl SessionCache {
    fn get(&self, key: &[u8], epoch: u64) -> Option<Known> {
        let map = self.entries.lock().ok()?;
        map.get(key)
            .filter(|c| c.at.elapsed() < SESSION_CACHE_TTL && c.epoch == epoch)
            .map(|c| (Arc::clone(&c.caller), c.csrf.clone()))
    }

    /// A session checked at any time before, still unexpired and from the current epoch
    /// (no revocation seen since): what the gate trusts while the database is down.
    fn get_known(&self, key: &[u8], epoch: u64) -> Option<Known> {
        let map = self.entries.lock().ok()?;
        map.get(key)
            .filter(|c| c.epoch == epoch && c.expires_at > Utc::now())
            .map(|c| (Arc::clone(&c.caller), c.csrf.clone()))
    }

    fn put(
        &self,
        key: Vec<u8>,
        caller: Arc<Caller>,
        csrf: Option<Vec<u8>>,
        epoch: u64,
        expires_at: DateTime<Utc>,
    ) {
        if let Ok(mut map) = self.entries.lock() {
            if map.len() >= MAX_CACHED_SESSIONS {
                let now = Utc::now();
                map.retain(|_, c| c.expires_at > now && c.at.elapsed() < KEEP_FOR_OUTAGES);
            }
            if map.len() >= MAX_CACHED_SESSIONS {
                // Still full of live sessions: keep the most recently checked half.
                let mut ages: Vec<Instant> = map.values().map(|c| c.at).collect();
                ages.sort_unstable();
                let cut = ages[ages.len() / 2];
                map.retain(|_, c| c.at >= cut);
            }
            map.insert(
                key,
                Cached {
                    at: Instant::now(),
                    epoch,
                    caller,
                    csrf,
                    expires_at,
                },
            );
        }
    }
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The token of a request: a bearer token, or the session cookie.
fn token(headers: &HeaderMap) -> Option<(String, bool)> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        if let Some(t) = v.strip_prefix("Bearer ") {
            return Some((t.trim().to_string(), false));
        }
    }
    cookie(headers, SESSION_COOKIE).map(|t| (t, true))
}

fn unauthorized() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "sign in first (POST /api/auth/login), then send the session cookie or a bearer token",
    )
}

/// Looks a session up in the database and caches it.
async fn check_session(
    st: &AppState,
    key: &[u8],
    epoch: u64,
) -> Result<Option<Known>, crate::store::StoreError> {
    let Some((session, account)) = st.store.session(key).await? else {
        return Ok(None);
    };
    let regions = st.store.region_and_below(account.region_id).await?;
    let caller = Arc::new(Caller {
        account_id: account.id,
        username: account.username.clone(),
        role: account.role,
        scope_kind: account.scope_kind,
        regions: regions.into_iter().collect(),
        communities: account.communities.iter().copied().collect(),
        grids: account.grids.iter().copied().collect(),
        staff_id: account.staff_id,
        session_id: session.id,
    });
    st.sessions.put(
        key.to_vec(),
        Arc::clone(&caller),
        session.csrf_hash.clone(),
        epoch,
        session.expires_at,
    );
    Ok(Some((caller, session.csrf_hash)))
}

/// The gate in front of every route. While the database cannot be reached, sessions it
/// checked before are still recognised (until they expire or a revocation is seen), so that
/// what the index alone answers (locate, tiles, the grid list) keeps working; unknown
/// sessions get 503 `database_unavailable`.
pub async fn gate(
    State((st, rules)): State<(AppState, Rules)>,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    let Some(rule) = rules.get(&(req.method().clone(), path.clone())).copied() else {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "no_rule",
            format!(
                "{} {path} has no access rule, so it is closed",
                req.method()
            ),
        )
        .into_response();
    };
    if rule == Rule::Public {
        return next.run(req).await;
    }
    let Some((tok, from_cookie)) = token(req.headers()) else {
        return unauthorized().into_response();
    };
    let key = auth::token_hash(&tok);
    // Read the epoch before the database: a revocation after this read bumps it.
    let epoch = st.registry.session_epoch();
    let (caller, csrf) = match st.sessions.get(&key, epoch) {
        Some(known) => known,
        // The database was unreachable a moment ago: do not wait for it again.
        None if st.store.health.is_down() => match st.sessions.get_known(&key, epoch) {
            Some(known) => known,
            None => return ApiError::database_unavailable().into_response(),
        },
        None => match check_session(&st, &key, epoch).await {
            Ok(Some(known)) => known,
            Ok(None) => return unauthorized().into_response(),
            Err(e) if e.is_unavailable() => {
                st.store.health.mark_down();
                match st.sessions.get_known(&key, epoch) {
                    Some(known) => known,
                    None => return ApiError::database_unavailable().into_response(),
                }
            }
            Err(e) => return ApiError::from(e).into_response(),
        },
    };
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if from_cookie && unsafe_method {
        let sent = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(auth::token_hash);
        if sent.is_none() || sent != csrf {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf",
                format!("changes made with a session cookie must carry the {CSRF_HEADER} header from sign-in"),
            )
            .into_response();
        }
    }
    if !caller.passes(rule) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("a {} account may not do this", caller.role.as_str()),
        )
        .into_response();
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Arc<Caller>>()
            .map(|c| (**c).clone())
            .ok_or_else(unauthorized)
    }
}

/// The client's address: the peer of the connection, or, when the peer is a trusted
/// proxy (`WANGGE_TRUSTED_PROXIES`), the rightmost address of `X-Forwarded-For` that is
/// not itself a trusted proxy. `None` when the server was started without connection info.
pub struct ClientAddr(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(ClientAddr(peer.map(|p| {
            client_ip(p, &parts.headers, &st.config.trusted_proxies)
        })))
    }
}

/// The client behind `peer`: see [`ClientAddr`]. Entries of `X-Forwarded-For` are read
/// right to left (the nearest proxy appends last); the walk stops at the first address no
/// trusted proxy would have written, or at anything that is not an address.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpBlock]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|b| b.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    // At most 32 hops are read: a longer chain is not a real one.
    for hop in hops.iter().rev().take(32) {
        match parse_hop(hop) {
            Some(ip) => {
                client = ip;
                if !is_trusted(ip) {
                    break;
                }
            }
            None => break,
        }
    }
    client
}

/// An address as proxies write it in `X-Forwarded-For` (`1.2.3.4`, `1.2.3.4:5678`,
/// `2001:db8::1`, `[2001:db8::1]:5678`).
fn parse_hop(s: &str) -> Option<IpAddr> {
    s.parse::<IpAddr>()
        .ok()
        .or_else(|| s.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

/// Body of `POST /api/auth/login`.
#[derive(Deserialize)]
pub struct Login {
    username: String,
    password: String,
    /// Ask for a bearer token in the body (API clients) instead of a cookie.
    #[serde(default)]
    token: bool,
}

fn set_cookie(name: &str, value: &str, max_age: i64, http_only: bool, secure: bool) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; SameSite=Strict; Max-Age={max_age}");
    if http_only {
        c.push_str("; HttpOnly");
    }
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The failures counted under `key` before this attempt, this attempt counted first (so
/// that parallel attempts each see their own number; a success gives its count back).
async fn failures_before(st: &AppState, key: &str, window: Duration) -> ApiResult<i64> {
    let n = st
        .store
        .count_login_attempt(&[key.to_string()], window)
        .await?;
    Ok(n.first().copied().unwrap_or(1) - 1)
}

/// Counts a sign-in attempt against its address, its (account, address) pair and its
/// account, in that order; refuses it when one of them is locked, else returns how long
/// the attempt must wait.
async fn throttled(
    st: &AppState,
    throttle: &Throttle,
    [ip_key, pair_key, user_key]: [&str; 3],
) -> ApiResult<Duration> {
    let locked = || {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "locked",
            "too many failed sign-ins; wait and try again",
        )
        .with("retry_after_s", json!(throttle.window.as_secs()))
    };
    let ip_gate = throttle.address_gate(failures_before(st, ip_key, throttle.window).await?);
    if ip_gate == Gate::Locked {
        return Err(locked());
    }
    let pair_failures = failures_before(st, pair_key, throttle.window).await?;
    let pair_gate = throttle.gate(pair_failures);
    if pair_gate == Gate::Locked {
        return Err(locked());
    }
    let user_failures = failures_before(st, user_key, throttle.window).await?;
    if !throttle.account_open(user_failures, pair_failures) {
        return Err(locked());
    }
    Ok(match (ip_gate, pair_gate) {
        (Gate::Wait(a), Gate::Wait(b)) => a.max(b),
        _ => Duration::ZERO,
    })
}

/// Opens a session for a signed-in account: a bearer token in the body when `bearer`,
/// else a session cookie with its CSRF cookie.
async fn open_session(
    st: &AppState,
    account: &Account,
    bearer: bool,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let token = auth::new_token();
    let ttl = Duration::from_secs(st.config.session_ttl_s);
    let client = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(200).collect::<String>());
    let me = me_body(st, account).await?;
    let csrf = (!bearer).then(auth::new_token);
    let expires = st
        .store
        .create_session(
            account.id,
            if bearer { "bearer" } else { "cookie" },
            &auth::token_hash(&token),
            csrf.as_deref().map(auth::token_hash).as_deref(),
            ttl,
            client.as_deref(),
        )
        .await?;
    let Some(csrf) = csrf else {
        return Ok(
            axum::Json(json!({ "token": token, "expires_at": expires, "account": me }))
                .into_response(),
        );
    };
    let mut resp = axum::Json(json!({ "csrf_token": csrf, "expires_at": expires, "account": me }))
        .into_response();
    let max_age = ttl.as_secs() as i64;
    let secure = st.config.secure_cookies;
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, &token, max_age, true, secure),
    );
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(CSRF_COOKIE, &csrf, max_age, false, secure),
    );
    Ok(resp)
}

/// `POST /api/auth/login`: checks the password with throttling per account and per
/// address; the same answer whether or not the account exists.
pub async fn login(
    State(st): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    Json(body): Json<Login>,
) -> ApiResult<Response> {
    let throttle = Throttle {
        window: Duration::from_secs(st.config.login_window_s),
        ..Throttle::default()
    };
    let username = body.username.trim().to_lowercase();
    let ip = addr
        .0
        .map(|a| a.to_string())
        .unwrap_or_else(|| "unknown".into());
    let pair_key = format!("pair:{username}@{ip}");
    let ip_key = format!("ip:{ip}");
    let user_key = format!("user:{username}");
    let wait = throttled(&st, &throttle, [&ip_key, &pair_key, &user_key]).await?;
    tokio::time::sleep(wait.mul_f64(st.config.login_delay_scale.clamp(0.0, 10.0))).await;
    let account = st.store.account(body.username.trim()).await?;
    let hash = account
        .as_ref()
        .map(|a| a.password_hash.clone())
        .unwrap_or_else(|| auth::dummy_hash().to_string());
    let password = body.password.clone();
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    let account = match account {
        Some(a) if ok && !a.disabled => a,
        _ => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "wrong username or password",
            ));
        }
    };
    st.store
        .login_succeeded(&[pair_key], &[ip_key, user_key])
        .await?;
    open_session(&st, &account, body.token, &headers).await
}

/// `POST /api/auth/logout`: revokes the session and clears the cookies.
pub async fn logout(Ctx { st, caller }: Ctx) -> ApiResult<Response> {
    st.store.revoke_session(caller.session_id).await?;
    st.after_change().await;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let secure = st.config.secure_cookies;
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", 0, true, secure),
    );
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(CSRF_COOKIE, "", 0, false, secure),
    );
    Ok(resp)
}

async fn me_body(st: &AppState, a: &Account) -> ApiResult<serde_json::Value> {
    let snap = st.registry.snapshot();
    let mut permissions = serde_json::Map::new();
    for area in [
        Area::Map,
        Area::Boundaries,
        Area::People,
        Area::Staff,
        Area::Stations,
        Area::Coverage,
        Area::Accounts,
        Area::Audit,
        Area::Patrols,
        Area::Incidents,
        Area::Party,
        Area::Assessment,
    ] {
        let name = serde_json::to_value(area).unwrap_or_default();
        let mut acts = vec![];
        for (act, label) in [(Action::Read, "read"), (Action::Write, "write")] {
            if allows(a.role, area, act) {
                acts.push(label);
            }
        }
        permissions.insert(name.as_str().unwrap_or_default().to_string(), json!(acts));
    }
    // The box the map opens on: the account's scope.
    use geo::BoundingRect;
    let regions: std::collections::HashSet<i64> = st
        .store
        .region_and_below(a.region_id)
        .await?
        .into_iter()
        .collect();
    let mut bbox: Option<geo::Rect<f64>> = None;
    let mut grow = |mp: &geo::MultiPolygon<f64>| {
        if let Some(r) = mp.bounding_rect() {
            bbox = Some(match bbox {
                None => r,
                Some(b) => geo::Rect::new(
                    geo::coord! { x: b.min().x.min(r.min().x), y: b.min().y.min(r.min().y) },
                    geo::coord! { x: b.max().x.max(r.max().x), y: b.max().y.max(r.max().y) },
                ),
            });
        }
    };
    match a.scope_kind {
        crate::domain::access::ScopeKind::Region => {
            for c in snap
                .communities
                .items
                .iter()
                .filter(|c| regions.contains(&c.region_id))
            {
                grow(&c.geom);
            }
        }
        crate::domain::access::ScopeKind::Communities => {
            for id in &a.communities {
                if let Some(c) = snap.communities.get(*id) {
                    grow(&c.geom);
                }
            }
        }
        crate::domain::access::ScopeKind::Grids => {
            for id in &a.grids {
                if let Some(g) = snap.grids.get(*id) {
                    grow(&g.geom);
                }
            }
        }
    }
    let grid_codes: Vec<&str> = a
        .grids
        .iter()
        .filter_map(|id| snap.grids.get(*id).map(|g| g.code.as_str()))
        .collect();
    let community_codes: Vec<&str> = a
        .communities
        .iter()
        .filter_map(|id| snap.communities.get(*id).map(|c| c.code.as_str()))
        .collect();
    Ok(json!({
        "username": a.username, "display_name": a.display_name, "role": a.role,
        "scope": { "kind": a.scope_kind, "region": a.region_code, "communities": community_codes, "grids": grid_codes },
        "bbox": bbox.map(|b| [b.min().x, b.min().y, b.max().x, b.max().y]),
        "permissions": permissions,
    }))
}

/// `GET /api/auth/me`: the signed-in account, its scope and permissions.
pub async fn me(Ctx { st, caller }: Ctx) -> ApiResult<Json<serde_json::Value>> {
    let account = st
        .store
        .account(&caller.username)
        .await?
        .ok_or_else(unauthorized)?;
    Ok(Json(me_body(&st, &account).await?))
}
