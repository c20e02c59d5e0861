//! Accounts and the audit log, for administrators of a region.

use super::error::{ApiError, ApiResult};
use super::extract::{Ctx, Json, Queried, Write};
use super::AppState;
use crate::auth;
use crate::domain::access::{Caller, Role, ScopeKind};
use crate::store::accounts::{Account, AccountChange, NewAccount};
use crate::store::audit::{Actor, Filter};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

/// The actor for the audit log.
pub fn actor(c: &Caller) -> Actor {
    Actor {
        account_id: Some(c.account_id),
        name: c.username.clone(),
    }
}

fn view(a: &Account) -> Value {
    json!({
        "username": a.username, "display_name": a.display_name, "role": a.role,
        "scope": { "kind": a.scope_kind, "region": a.region_code, "communities": a.communities, "grids": a.grids },
        "staff_id": a.staff_id, "disabled": a.disabled,
    })
}

/// `GET /api/accounts`: accounts of the caller's region.
pub async fn list(Ctx { st, caller }: Ctx) -> ApiResult<Json<Value>> {
    let regions: Vec<i64> = caller.regions.iter().copied().collect();
    let accounts = st.store.accounts(&regions).await?;
    Ok(Json(
        json!({ "accounts": accounts.iter().map(view).collect::<Vec<_>>() }),
    ))
}

/// A scope as sent.
#[derive(Deserialize)]
pub struct ScopeBody {
    kind: String,
    region: Option<String>,
    #[serde(default)]
    communities: Vec<String>,
    #[serde(default)]
    grids: Vec<String>,
}

/// Body of `POST /api/accounts`.
#[derive(Deserialize)]
pub struct CreateBody {
    username: String,
    display_name: String,
    password: Option<String>,
    role: String,
    scope: ScopeBody,
    staff_code: Option<String>,
}

fn role(s: &str) -> ApiResult<Role> {
    Role::parse(s).ok_or_else(|| {
        ApiError::invalid(
            "role",
            "role must be admin, planner, grid_chief, patrol or viewer",
        )
    })
}

fn scope_kind(s: &str) -> ApiResult<ScopeKind> {
    ScopeKind::parse(s).ok_or_else(|| {
        ApiError::invalid(
            "scope.kind",
            "scope.kind must be region, communities or grids",
        )
    })
}

/// Refuses a region outside the caller's own.
async fn check_region(st: &AppState, caller: &Caller, code: &str) -> ApiResult<()> {
    let regions = st.store.regions().await?;
    let r = regions
        .iter()
        .find(|r| r.code == code)
        .ok_or_else(|| ApiError::invalid("scope.region", format!("no region {code}")))?;
    if caller.regions.contains(&r.id) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "accounts can only be made for your own region or the regions below it",
        ))
    }
}

/// `POST /api/accounts`: creates an account in the caller's region; a password is
/// generated and returned once when none is given.
pub async fn create(Ctx { st, caller }: Ctx, Json(b): Json<CreateBody>) -> ApiResult<Response> {
    let region = b
        .scope
        .region
        .clone()
        .ok_or_else(|| ApiError::invalid("scope.region", "scope.region is required"))?;
    check_region(&st, &caller, &region).await?;
    let generated = b.password.is_none();
    let password = b.password.clone().unwrap_or_else(auth::new_password);
    auth::check_new_password(&password).map_err(|m| ApiError::invalid("password", m))?;
    let plain = password.clone();
    let hash = tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|e| ApiError::internal(&e))?;
    let new = NewAccount {
        username: b.username.trim().to_string(),
        display_name: b.display_name,
        role: role(&b.role)?,
        scope_kind: scope_kind(&b.scope.kind)?,
        region_code: region,
        communities: b.scope.communities,
        grids: b.scope.grids,
        staff_code: b.staff_code,
    };
    let a = st
        .store
        .create_account(&new, &hash, &actor(&caller))
        .await?;
    let mut body = view(&a);
    if generated {
        body["password"] = json!(plain);
    }
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

/// Body of `PUT /api/accounts/{username}`.
#[derive(Deserialize)]
pub struct UpdateBody {
    display_name: Option<String>,
    role: Option<String>,
    disabled: Option<bool>,
    password: Option<String>,
    scope: Option<ScopeBody>,
}

/// `PUT /api/accounts/{username}`: rename, change role or scope, disable, reset password.
pub async fn update(Write(st, caller, username, b): Write<UpdateBody>) -> ApiResult<Json<Value>> {
    let existing = st
        .store
        .account(&username)
        .await?
        .filter(|a| caller.regions.contains(&a.region_id))
        .ok_or_else(|| ApiError::not_found(format!("account {username} not found")))?;
    if b.display_name.is_none()
        && b.role.is_none()
        && b.disabled.is_none()
        && b.password.is_none()
        && b.scope.is_none()
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "nothing_to_change",
            "the body changes nothing: give display_name, role, disabled, password or scope",
        )
        .with("field", json!("body")));
    }
    let password_hash = match b.password {
        None => None,
        Some(p) => {
            auth::check_new_password(&p).map_err(|m| ApiError::invalid("password", m))?;
            Some(
                tokio::task::spawn_blocking(move || auth::hash_password(&p))
                    .await
                    .map_err(|e| ApiError::internal(&e))?
                    .map_err(|e| ApiError::internal(&e))?,
            )
        }
    };
    if existing.id == caller.account_id && b.disabled == Some(true) {
        return Err(ApiError::invalid(
            "disabled",
            "you cannot disable your own account",
        ));
    }
    let scope = match b.scope {
        None => None,
        Some(s) => Some((scope_kind(&s.kind)?, s.communities, s.grids)),
    };
    let ch = AccountChange {
        display_name: b.display_name,
        role: b.role.as_deref().map(role).transpose()?,
        disabled: b.disabled,
        password_hash,
        scope,
    };
    let a = st
        .store
        .update_account(&username, &ch, &actor(&caller))
        .await?;
    st.after_change().await;
    Ok(Json(view(&a)))
}

/// Query of `GET /api/audit`.
#[derive(Deserialize)]
pub struct AuditQuery {
    entity: Option<String>,
    key: Option<String>,
    after: Option<i64>,
    limit: Option<i64>,
}

/// `GET /api/audit?entity=&key=&after=&limit=`: the log, newest first.
pub async fn audit(Queried(st, caller, q): Queried<AuditQuery>) -> ApiResult<Json<Value>> {
    let regions: Vec<i64> = caller.regions.iter().copied().collect();
    let f = Filter {
        entity: q.entity,
        key: q.key,
        after_id: q.after,
        limit: super::patrols::list_limit(q.limit, 100, 1000)?,
    };
    let entries = st.store.audit(&f, &regions).await?;
    Ok(Json(json!({ "entries": entries })))
}
