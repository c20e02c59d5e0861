//! Accounts, their scopes, sessions and login failures.

use super::audit::{Actor, Entry};
use super::{read_all, DbContext, Store, StoreError};
use crate::domain::access::{Role, ScopeKind};
use crate::domain::FieldError;
use crate::store::changes::ChangeLayer;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use sqlx::{PgConnection, Row};

/// An account as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Account {
    /// Id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Name shown in the app.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Kind of scope.
    pub scope_kind: ScopeKind,
    /// Region id.
    pub region_id: i64,
    /// Region code.
    pub region_code: String,
    /// Community ids of a `communities` scope.
    pub communities: Vec<i64>,
    /// Grid ids of a `grids` scope.
    pub grids: Vec<i64>,
    /// Linked staff record.
    pub staff_id: Option<i64>,
    /// Disabled accounts cannot sign in.
    pub disabled: bool,
    /// The argon2id hash.
    #[serde(skip)]
    pub password_hash: String,
}

/// What an administrator sends to create an account.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Login name: 3-40 of a-z, 0-9, `_.-`.
    pub username: String,
    /// Shown name.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Kind of scope.
    pub scope_kind: ScopeKind,
    /// Region code.
    pub region_code: String,
    /// Community codes for a `communities` scope.
    pub communities: Vec<String>,
    /// Grid codes for a `grids` scope.
    pub grids: Vec<String>,
    /// Staff code to link, for grid chiefs and patrol staff.
    pub staff_code: Option<String>,
}

/// Changes to an account; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct AccountChange {
    /// New shown name.
    pub display_name: Option<String>,
    /// New role.
    pub role: Option<Role>,
    /// Disable or enable.
    pub disabled: Option<bool>,
    /// New password hash (all sessions are revoked).
    pub password_hash: Option<String>,
    /// New scope: kind, communities, grids.
    pub scope: Option<(ScopeKind, Vec<String>, Vec<String>)>,
}

impl AccountChange {
    /// A new password (its hash), nothing else.
    pub fn password(hash: String) -> Self {
        Self {
            password_hash: Some(hash),
            ..Self::default()
        }
    }

    /// Disabling the account, nothing else.
    pub fn disable() -> Self {
        Self {
            disabled: Some(true),
            ..Self::default()
        }
    }
}

/// A session as looked up by its token.
#[derive(Debug, Clone)]
pub struct Session {
    /// Id.
    pub id: i64,
    /// `cookie` or `bearer`.
    pub kind: String,
    /// SHA-256 of the CSRF token, for cookie sessions.
    pub csrf_hash: Option<Vec<u8>>,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
}

const ACCOUNT: &str = "SELECT a.id, a.username, a.display_name, a.password_hash, a.role, a.scope_kind, \
     a.region_id, r.code AS region_code, a.staff_id, a.disabled, \
     ARRAY(SELECT community_id FROM account_communities WHERE account_id = a.id ORDER BY 1) AS communities, \
     ARRAY(SELECT grid_id FROM account_grids WHERE account_id = a.id ORDER BY 1) AS grids \
     FROM accounts a JOIN regions r ON r.id = a.region_id";

/// A row of [`ACCOUNT`].
#[derive(sqlx::FromRow)]
struct AccountRow {
    id: i64,
    username: String,
    display_name: String,
    password_hash: String,
    role: String,
    scope_kind: String,
    region_id: i64,
    region_code: String,
    staff_id: Option<i64>,
    disabled: bool,
    communities: Vec<i64>,
    grids: Vec<i64>,
}

impl From<AccountRow> for Account {
    fn from(r: AccountRow) -> Self {
        Account {
            role: Role::parse(&r.role).unwrap_or(Role::Viewer),
            scope_kind: ScopeKind::parse(&r.scope_kind).unwrap_or(ScopeKind::Grids),
            id: r.id,
            username: r.username,
            display_name: r.display_name,
            password_hash: r.password_hash,
            region_id: r.region_id,
            region_code: r.region_code,
            staff_id: r.staff_id,
            disabled: r.disabled,
            communities: r.communities,
            grids: r.grids,
        }
    }
}

/// The account `sql` (a query on [`ACCOUNT`]) finds with `$1` bound to `key` through
/// `ex`, if any.
async fn account_where<'q, 'c, K>(
    ex: impl sqlx::Executor<'c, Database = sqlx::Postgres> + 'q,
    sql: &'q str,
    key: K,
) -> Result<Option<Account>, StoreError>
where
    K: 'q + Send + sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    let row: Option<AccountRow> = sqlx::query_as(sql)
        .bind(key)
        .fetch_optional(ex)
        .await
        .ctx("reading an account")?;
    Ok(row.map(Account::from))
}

fn audit_view(a: &Account) -> serde_json::Value {
    json!({
        "username": a.username, "display_name": a.display_name, "role": a.role,
        "scope_kind": a.scope_kind, "region": a.region_code, "communities": a.communities,
        "grids": a.grids, "staff_id": a.staff_id, "disabled": a.disabled,
    })
}

fn check_username(u: &str) -> Result<(), FieldError> {
    let ok = (3..=40).contains(&u.len())
        && u.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(FieldError::new(
            "username",
            "3 to 40 characters of a-z, 0-9, _ . -",
        ))
    }
}

async fn account_in(tx: &mut PgConnection, username: &str) -> Result<Option<Account>, StoreError> {
    account_where(tx, &format!("{ACCOUNT} WHERE a.username = $1"), username).await
}

async fn set_scope(
    tx: &mut PgConnection,
    id: i64,
    kind: ScopeKind,
    communities: &[String],
    grids: &[String],
) -> Result<(), StoreError> {
    for delete in [
        "DELETE FROM account_communities WHERE account_id = $1",
        "DELETE FROM account_grids WHERE account_id = $1",
    ] {
        sqlx::query(delete)
            .bind(id)
            .execute(&mut *tx)
            .await
            .ctx("setting a scope")?;
    }
    let (sql, codes, field, hint) = match kind {
        ScopeKind::Region => return Ok(()),
        ScopeKind::Communities => (
            "INSERT INTO account_communities (account_id, community_id) \
             SELECT $1, id FROM communities WHERE code = ANY($2)",
            communities,
            "communities",
            "list existing community codes (at least one)",
        ),
        ScopeKind::Grids => (
            "INSERT INTO account_grids (account_id, grid_id) \
             SELECT $1, id FROM current_grids WHERE code = ANY($2)",
            grids,
            "grids",
            "list existing grid codes (at least one)",
        ),
    };
    let n = sqlx::query(sql)
        .bind(id)
        .bind(codes)
        .execute(&mut *tx)
        .await
        .ctx("setting a scope")?
        .rows_affected();
    if codes.is_empty() || n as usize != codes.len() {
        return Err(FieldError::new(field, hint).into());
    }
    Ok(())
}

impl Store {
    /// Creates an account with an already hashed password.
    pub async fn create_account(
        &self,
        a: &NewAccount,
        password_hash: &str,
        actor: &Actor,
    ) -> Result<Account, StoreError> {
        check_username(&a.username)?;
        crate::domain::hierarchy::check_name(&a.display_name, "display_name")?;
        let mut tx = self.begin_write(actor).await?;
        let region_id: i64 = sqlx::query_scalar("SELECT id FROM regions WHERE code = $1")
            .bind(&a.region_code)
            .fetch_optional(&mut *tx)
            .await
            .ctx("finding a region")?
            .ok_or_else(|| FieldError::new("region", format!("no region {}", a.region_code)))?;
        let staff_id: Option<i64> = match &a.staff_code {
            None => None,
            Some(c) => Some(
                sqlx::query_scalar("SELECT id FROM staff WHERE code = $1")
                    .bind(c)
                    .fetch_optional(&mut *tx)
                    .await
                    .ctx("finding staff")?
                    .ok_or_else(|| FieldError::new("staff_code", format!("no staff member {c}")))?,
            ),
        };
        let id: i64 = match sqlx::query_scalar(
            "INSERT INTO accounts (username, display_name, password_hash, role, scope_kind, region_id, staff_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(&a.username)
        .bind(a.display_name.trim())
        .bind(password_hash)
        .bind(a.role.as_str())
        .bind(a.scope_kind.as_str())
        .bind(region_id)
        .bind(staff_id)
        .fetch_one(&mut *tx)
        .await
        {
            Ok(id) => id,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(StoreError::Conflict(format!("account {} already exists", a.username)))
            }
            Err(e) => return Err(StoreError::db("creating an account", e)),
        };
        set_scope(&mut tx, id, a.scope_kind, &a.communities, &a.grids).await?;
        let created = account_in(&mut tx, &a.username)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("account {}", a.username)))?;
        let entry = Entry::record("account", &a.username, None, Some(audit_view(&created)));
        tx.audit(entry.in_region(Some(region_id))).await?;
        // No process keeps accounts in memory: nothing to announce.
        tx.commit_unannounced("committing an account").await?;
        Ok(created)
    }

    /// Changes an account; a new password or disabling revokes all its sessions.
    pub async fn update_account(
        &self,
        username: &str,
        ch: &AccountChange,
        actor: &Actor,
    ) -> Result<Account, StoreError> {
        let mut tx = self.begin_write(actor).await?;
        let before = account_in(&mut tx, username)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("account {username}")))?;
        if let Some(n) = &ch.display_name {
            crate::domain::hierarchy::check_name(n, "display_name")?;
        }
        sqlx::query(
            "UPDATE accounts SET display_name = COALESCE($2, display_name), role = COALESCE($3, role), \
             disabled = COALESCE($4, disabled), password_hash = COALESCE($5, password_hash), \
             password_changed_at = CASE WHEN $5 IS NULL THEN password_changed_at ELSE now() END, \
             scope_kind = COALESCE($6, scope_kind) WHERE id = $1",
        )
        .bind(before.id)
        .bind(ch.display_name.as_deref().map(str::trim))
        .bind(ch.role.map(super::super::domain::access::Role::as_str))
        .bind(ch.disabled)
        .bind(&ch.password_hash)
        .bind(ch.scope.as_ref().map(|s| s.0.as_str()))
        .execute(&mut *tx)
        .await
        .ctx("changing an account")?;
        if let Some((kind, communities, grids)) = &ch.scope {
            set_scope(&mut tx, before.id, *kind, communities, grids).await?;
        }
        if ch.password_hash.is_some()
            || ch.disabled == Some(true)
            || ch.role.is_some()
            || ch.scope.is_some()
        {
            sqlx::query("UPDATE sessions SET revoked_at = now() WHERE account_id = $1 AND revoked_at IS NULL")
                .bind(before.id)
                .execute(&mut *tx)
                .await
                .ctx("revoking sessions")?;
        }
        let after = account_in(&mut tx, username)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("account {username}")))?;
        let mut after_view = audit_view(&after);
        if ch.password_hash.is_some() {
            after_view["password"] = json!("changed");
        }
        let entry = Entry::record(
            "account",
            username,
            Some(audit_view(&before)),
            Some(after_view),
        );
        // Every server forgets the sessions it had checked for this account.
        let sessions = (ChangeLayer::Sessions, &[before.id][..]);
        let entry = entry.in_region(Some(after.region_id));
        tx.finish(entry, sessions, "committing an account").await?;
        Ok(after)
    }

    /// The account with this login name.
    pub async fn account(&self, username: &str) -> Result<Option<Account>, StoreError> {
        account_where(
            &self.pool,
            &format!("{ACCOUNT} WHERE a.username = $1"),
            username,
        )
        .await
    }

    /// Accounts whose region is one of `regions`.
    pub async fn accounts(&self, regions: &[i64]) -> Result<Vec<Account>, StoreError> {
        let sql = format!("{ACCOUNT} WHERE a.region_id = ANY($1) ORDER BY a.username");
        let q = sqlx::query_as::<_, AccountRow>(&sql).bind(regions);
        read_all(q, &self.pool, "reading accounts", Account::from).await
    }

    /// A region and all regions below it.
    pub async fn region_and_below(&self, region_id: i64) -> Result<Vec<i64>, StoreError> {
        sqlx::query_scalar(
            "WITH RECURSIVE r AS (SELECT id FROM regions WHERE id = $1 \
             UNION SELECT c.id FROM regions c JOIN r ON c.parent_id = r.id) SELECT id FROM r",
        )
        .bind(region_id)
        .fetch_all(&self.pool)
        .await
        .ctx("reading regions")
    }

    /// Opens a session.
    pub async fn create_session(
        &self,
        account_id: i64,
        kind: &str,
        token_hash: &[u8],
        csrf_hash: Option<&[u8]>,
        ttl: std::time::Duration,
        client: Option<&str>,
    ) -> Result<DateTime<Utc>, StoreError> {
        let ttl = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::hours(12));
        sqlx::query_scalar(
            "INSERT INTO sessions (token_hash, csrf_hash, account_id, kind, expires_at, client) \
             VALUES ($1, $2, $3, $4, now() + $5, $6) RETURNING expires_at",
        )
        .bind(token_hash)
        .bind(csrf_hash)
        .bind(account_id)
        .bind(kind)
        .bind(ttl)
        .bind(client)
        .fetch_one(&self.pool)
        .await
        .ctx("opening a session")
    }

    /// The live session and enabled account of a token, if any.
    pub async fn session(
        &self,
        token_hash: &[u8],
    ) -> Result<Option<(Session, Account)>, StoreError> {
        let row = sqlx::query(
            "SELECT id, account_id, kind, csrf_hash, expires_at FROM sessions \
             WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > now()",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .ctx("reading a session")?;
        let Some(r) = row else { return Ok(None) };
        let account_id: i64 = r.try_get("account_id").ctx("reading a session")?;
        let s = Session {
            id: r.try_get("id").ctx("reading a session")?,
            kind: r.try_get("kind").ctx("reading a session")?,
            csrf_hash: r.try_get("csrf_hash").ctx("reading a session")?,
            expires_at: r.try_get("expires_at").ctx("reading a session")?,
        };
        let sql = format!("{ACCOUNT} WHERE a.id = $1 AND NOT a.disabled");
        let account = account_where(&self.pool, &sql, account_id).await?;
        Ok(account.map(|a| (s, a)))
    }

    /// Revokes a session, and tells every server to forget it.
    pub async fn revoke_session(&self, id: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.ctx("starting a transaction")?;
        sqlx::query("UPDATE sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .execute(&mut *tx)
            .await
            .ctx("revoking a session")?;
        super::changes::record(&mut tx, ChangeLayer::Sessions, &[id]).await?;
        tx.commit().await.ctx("committing a revocation")?;
        Ok(())
    }

    /// Counts one sign-in attempt under each of `keys`, before its password is checked,
    /// and returns each key's count including this attempt. One statement reads and
    /// raises each counter (a row lock orders parallel attempts), so parallel attempts see
    /// 1, 2, 3 ... A counter whose window started more than `window` ago starts again.
    pub async fn count_login_attempt(
        &self,
        keys: &[String],
        window: std::time::Duration,
    ) -> Result<Vec<i64>, StoreError> {
        let w = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::minutes(15));
        // Keys are raised in one order everywhere, so parallel statements cannot deadlock.
        let mut sorted: Vec<&String> = keys.iter().collect();
        sorted.sort();
        sorted.dedup();
        let rows: Vec<(String, i32)> = sqlx::query_as(
            "INSERT INTO login_throttle AS t (key, n, since) \
             SELECT k, 1, now() FROM unnest($1::text[]) WITH ORDINALITY AS u(k, i) ORDER BY i \
             ON CONFLICT (key) DO UPDATE SET \
               n = CASE WHEN t.since < now() - $2 THEN 1 ELSE t.n + 1 END, \
               since = CASE WHEN t.since < now() - $2 THEN now() ELSE t.since END \
             RETURNING t.key, t.n",
        )
        .bind(&sorted)
        .bind(w)
        .fetch_all(&self.pool)
        .await
        .ctx("counting a sign-in attempt")?;
        Ok(keys
            .iter()
            .map(|k| {
                rows.iter()
                    .find(|(key, _)| key == k)
                    .map_or(1, |(_, n)| i64::from(*n))
            })
            .collect())
    }

    /// After a successful sign-in: forgets the counters of `reset` and gives back this
    /// attempt's count to those of `refund`; drops counters unused for a day.
    pub async fn login_succeeded(
        &self,
        reset: &[String],
        refund: &[String],
    ) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM login_throttle WHERE key = ANY($1) OR since < now() - interval '1 day'",
        )
        .bind(reset)
        .execute(&self.pool)
        .await
        .ctx("clearing sign-in counters")?;
        sqlx::query("UPDATE login_throttle SET n = GREATEST(n - 1, 0) WHERE key = ANY($1)")
            .bind(refund)
            .execute(&self.pool)
            .await
            .ctx("clearing sign-in counters")?;
        Ok(())
    }
}
