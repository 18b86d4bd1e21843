//! Storage for dashboard and API access: accounts, browser sessions, API tokens and the audit log
//! (migration `0002_access.sql`). The [`AccessStore`] trait is a supertrait of [`super::Store`], so
//! every backend implements it and a `DynStore` can call it.
//!
//! Nothing secret is stored here in a usable form: session ids and API tokens arrive already hashed
//! (SHA-256 of 256 random bits), passwords as argon2id PHC strings. Hashing and policy (expiry,
//! idle timeout, roles) live in `crate::http::auth`; this module only keeps rows.

use super::StoreError;

/// A role, from least to most privileged. The ordering is the privilege order.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Analyst,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Analyst, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Analyst => "analyst",
            Self::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "viewer" => Some(Self::Viewer),
            "analyst" => Some(Self::Analyst),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text).ok_or_else(|| format!("unknown role `{text}` (expected admin, analyst or viewer)"))
    }
}

/// Where an account's identity comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountSource {
    /// A local account with an argon2id password hash.
    Local,
    /// A single-sign-on account; its role is refreshed from the identity provider at each login.
    Oidc,
}

impl AccountSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Oidc => "oidc",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub username: String,
    pub role: Role,
    pub source: AccountSource,
    /// argon2id PHC string; `None` for single-sign-on accounts.
    pub password_hash: Option<String>,
    pub created_at: i64,
    pub disabled_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub id_hash: String,
    pub username: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub source_addr: String,
}

/// A session joined with its account's current role and state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id_hash: String,
    pub username: String,
    pub role: Role,
    pub user_disabled: bool,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_seen_at: i64,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiToken {
    pub id: String,
    pub token_hash: String,
    pub name: String,
    pub role: Role,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenRecord {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditOutcome {
    Success,
    /// Refused by policy (wrong password, missing role, bad CSRF token, rate limit).
    Denied,
    /// Attempted but failed for another reason (internal error, bad input).
    Failure,
}

impl AuditOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Denied => "denied",
            Self::Failure => "failure",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "success" => Some(Self::Success),
            "denied" => Some(Self::Denied),
            "failure" => Some(Self::Failure),
            _ => None,
        }
    }
}

/// One audit entry: who did what to which target, when, from where, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: i64,
    /// A username, `token:<id>` for API tokens, `cli` for the command line, or `anonymous`.
    pub actor: String,
    /// A stable dotted name such as `session.login` or `api_token.create`.
    pub action: String,
    pub target: String,
    pub source_addr: String,
    pub outcome: AuditOutcome,
    /// Free text safe to show to admins; never a secret.
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: i64,
    pub entry: AuditEntry,
}

/// Storage for accounts, sessions, API tokens and the audit log. Every method is atomic.
#[async_trait::async_trait]
pub trait AccessStore: Send + Sync {
    /// Creates a user; returns false (changing nothing) when the username is taken.
    async fn create_user(&self, user: &UserRecord) -> Result<bool, StoreError>;
    async fn user(&self, username: &str) -> Result<Option<UserRecord>, StoreError>;
    async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError>;
    /// Creates or updates a single-sign-on account with `role`. Returns false (changing nothing)
    /// when a local account already has the name: SSO never takes over a local account.
    async fn upsert_oidc_user(&self, username: &str, role: Role, now: i64) -> Result<bool, StoreError>;

    async fn create_session(&self, session: &NewSession) -> Result<(), StoreError>;
    async fn session(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError>;
    async fn touch_session(&self, id_hash: &str, now: i64) -> Result<(), StoreError>;
    /// Returns false when no unrevoked session has that hash.
    async fn revoke_session(&self, id_hash: &str, now: i64) -> Result<bool, StoreError>;

    async fn create_api_token(&self, token: &NewApiToken) -> Result<(), StoreError>;
    /// Looks a token up by hash (whatever its state) and records its use.
    async fn use_api_token(&self, token_hash: &str, now: i64) -> Result<Option<ApiTokenRecord>, StoreError>;
    async fn list_api_tokens(&self) -> Result<Vec<ApiTokenRecord>, StoreError>;
    /// Returns false when no unrevoked token has that id.
    async fn revoke_api_token(&self, id: &str, now: i64) -> Result<bool, StoreError>;

    /// Replaces a local account's password hash and revokes its open sessions. Returns false
    /// (changing nothing) when no local account has that name.
    async fn set_password(&self, username: &str, password_hash: &str, now: i64) -> Result<bool, StoreError>;
    /// Deletes an account and its sessions, unless it is the last enabled admin.
    async fn remove_user(&self, username: &str) -> Result<RemoveUser, StoreError>;

    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;
    /// Newest first: up to `limit` entries with an id below `before` (all when `None`).
    async fn list_audit(&self, before: Option<i64>, limit: u32) -> Result<Vec<AuditRecord>, StoreError>;
    /// Newest first: up to `limit` entries about exactly `target` whose action starts with
    /// `action_prefix` (a finding's decisions: `finding.`).
    async fn audit_of_target(
        &self,
        action_prefix: &str,
        target: &str,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError>;
}

/// What [`AccessStore::remove_user`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoveUser {
    Removed,
    NotFound,
    /// Refused: the account is the last enabled admin, and removing it would lock everyone out.
    LastAdmin,
}

/// A `LIKE` pattern matching every text that starts with `prefix` (its `%`, `_` and backslash escaped).
pub(crate) fn prefix_pattern(prefix: &str) -> String {
    let mut out = String::new();
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

pub(crate) fn parse_role(text: &str) -> Result<Role, StoreError> {
    Role::parse(text).ok_or_else(|| StoreError::Corrupt(format!("role {text}")))
}

pub(crate) fn parse_source(text: &str) -> Result<AccountSource, StoreError> {
    match text {
        "local" => Ok(AccountSource::Local),
        "oidc" => Ok(AccountSource::Oidc),
        other => Err(StoreError::Corrupt(format!("account source {other}"))),
    }
}

pub(crate) fn parse_outcome(text: &str) -> Result<AuditOutcome, StoreError> {
    AuditOutcome::parse(text).ok_or_else(|| StoreError::Corrupt(format!("audit outcome {text}")))
}

/// Implements [`AccessStore`] for `$store` (a struct with `writer()` and `reader()` pool accessors), with
/// the same portable SQL for both backends.
macro_rules! impl_access_store {
    ($store:ty, $db:ty) => {
        mod access_impl {
            use sqlx::Row as _;

            use super::*;
            use crate::store::StoreError;
            use crate::store::access::{
                AccessStore, ApiTokenRecord, AuditEntry, AuditRecord, NewApiToken, NewSession, RemoveUser, Role,
                SessionRecord, UserRecord, parse_outcome, parse_role, parse_source, prefix_pattern,
            };

            type Row = <$db as sqlx::Database>::Row;

            fn user_from_row(row: &Row) -> Result<UserRecord, StoreError> {
                Ok(UserRecord {
                    username: row.try_get("username")?,
                    role: parse_role(&row.try_get::<String, _>("role")?)?,
                    source: parse_source(&row.try_get::<String, _>("source")?)?,
                    password_hash: row.try_get("password_hash")?,
                    created_at: row.try_get("created_at")?,
                    disabled_at: row.try_get("disabled_at")?,
                })
            }

            fn token_from_row(row: &Row) -> Result<ApiTokenRecord, StoreError> {
                Ok(ApiTokenRecord {
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    role: parse_role(&row.try_get::<String, _>("role")?)?,
                    created_by: row.try_get("created_by")?,
                    created_at: row.try_get("created_at")?,
                    expires_at: row.try_get("expires_at")?,
                    last_used_at: row.try_get("last_used_at")?,
                    revoked_at: row.try_get("revoked_at")?,
                })
            }

            const USER_COLUMNS: &str = "username, role, source, password_hash, created_at, disabled_at";
            const TOKEN_COLUMNS: &str = "id, name, role, created_by, created_at, expires_at, last_used_at, revoked_at";

            #[async_trait::async_trait]
            impl AccessStore for $store {
                async fn create_user(&self, user: &UserRecord) -> Result<bool, StoreError> {
                    let result = sqlx::query(
                        "INSERT INTO users (username, role, source, password_hash, created_at, disabled_at) \
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (username) DO NOTHING",
                    )
                    .bind(&user.username)
                    .bind(user.role.as_str())
                    .bind(user.source.as_str())
                    .bind(&user.password_hash)
                    .bind(user.created_at)
                    .bind(user.disabled_at)
                    .execute(self.writer())
                    .await?;
                    Ok(result.rows_affected() == 1)
                }

                async fn user(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
                    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1");
                    let row =
                        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(username).fetch_optional(self.reader()).await?;
                    row.as_ref().map(user_from_row).transpose()
                }

                async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
                    let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY username");
                    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(self.reader()).await?;
                    rows.iter().map(user_from_row).collect()
                }

                async fn upsert_oidc_user(&self, username: &str, role: Role, now: i64) -> Result<bool, StoreError> {
                    let result = sqlx::query(
                        "INSERT INTO users (username, role, source, password_hash, created_at, disabled_at) \
                         VALUES ($1, $2, 'oidc', NULL, $3, NULL) \
                         ON CONFLICT (username) DO UPDATE SET role = excluded.role WHERE users.source = 'oidc'",
                    )
                    .bind(username)
                    .bind(role.as_str())
                    .bind(now)
                    .execute(self.writer())
                    .await?;
                    Ok(result.rows_affected() == 1)
                }

                async fn create_session(&self, session: &NewSession) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO sessions (id_hash, username, created_at, expires_at, last_seen_at, \
                         source_addr, revoked_at) VALUES ($1, $2, $3, $4, $3, $5, NULL)",
                    )
                    .bind(&session.id_hash)
                    .bind(&session.username)
                    .bind(session.created_at)
                    .bind(session.expires_at)
                    .bind(&session.source_addr)
                    .execute(self.writer())
                    .await?;
                    Ok(())
                }

                async fn session(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
                    let row = sqlx::query(
                        "SELECT s.id_hash, s.username, u.role, u.disabled_at, s.created_at, s.expires_at, \
                         s.last_seen_at, s.revoked_at FROM sessions s JOIN users u ON u.username = s.username \
                         WHERE s.id_hash = $1",
                    )
                    .bind(id_hash)
                    .fetch_optional(self.reader())
                    .await?;
                    let Some(row) = row else { return Ok(None) };
                    Ok(Some(SessionRecord {
                        id_hash: row.try_get("id_hash")?,
                        username: row.try_get("username")?,
                        role: parse_role(&row.try_get::<String, _>("role")?)?,
                        user_disabled: row.try_get::<Option<i64>, _>("disabled_at")?.is_some(),
                        created_at: row.try_get("created_at")?,
                        expires_at: row.try_get("expires_at")?,
                        last_seen_at: row.try_get("last_seen_at")?,
                        revoked_at: row.try_get("revoked_at")?,
                    }))
                }

                async fn touch_session(&self, id_hash: &str, now: i64) -> Result<(), StoreError> {
                    sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1 AND last_seen_at < $2")
                        .bind(id_hash)
                        .bind(now)
                        .execute(self.writer())
                        .await?;
                    Ok(())
                }

                async fn revoke_session(&self, id_hash: &str, now: i64) -> Result<bool, StoreError> {
                    let result =
                        sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE id_hash = $1 AND revoked_at IS NULL")
                            .bind(id_hash)
                            .bind(now)
                            .execute(self.writer())
                            .await?;
                    Ok(result.rows_affected() == 1)
                }

                async fn create_api_token(&self, token: &NewApiToken) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO api_tokens (id, token_hash, name, role, created_by, created_at, expires_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(&token.id)
                    .bind(&token.token_hash)
                    .bind(&token.name)
                    .bind(token.role.as_str())
                    .bind(&token.created_by)
                    .bind(token.created_at)
                    .bind(token.expires_at)
                    .execute(self.writer())
                    .await?;
                    Ok(())
                }

                async fn use_api_token(
                    &self,
                    token_hash: &str,
                    now: i64,
                ) -> Result<Option<ApiTokenRecord>, StoreError> {
                    let sql = format!(
                        "UPDATE api_tokens SET last_used_at = $2 WHERE token_hash = $1 RETURNING {TOKEN_COLUMNS}"
                    );
                    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(token_hash)
                        .bind(now)
                        .fetch_optional(self.writer())
                        .await?;
                    row.as_ref().map(token_from_row).transpose()
                }

                async fn list_api_tokens(&self) -> Result<Vec<ApiTokenRecord>, StoreError> {
                    let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY created_at, id");
                    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(self.reader()).await?;
                    rows.iter().map(token_from_row).collect()
                }

                async fn revoke_api_token(&self, id: &str, now: i64) -> Result<bool, StoreError> {
                    let result =
                        sqlx::query("UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                            .bind(id)
                            .bind(now)
                            .execute(self.writer())
                            .await?;
                    Ok(result.rows_affected() == 1)
                }

                async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO audit_log (at, actor, action, target, source_addr, outcome, detail) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(entry.at)
                    .bind(&entry.actor)
                    .bind(&entry.action)
                    .bind(&entry.target)
                    .bind(&entry.source_addr)
                    .bind(entry.outcome.as_str())
                    .bind(&entry.detail)
                    .execute(self.writer())
                    .await?;
                    Ok(())
                }

                async fn set_password(
                    &self,
                    username: &str,
                    password_hash: &str,
                    now: i64,
                ) -> Result<bool, StoreError> {
                    let mut tx = self.writer().begin().await?;
                    let updated =
                        sqlx::query("UPDATE users SET password_hash = $2 WHERE username = $1 AND source = 'local'")
                            .bind(username)
                            .bind(password_hash)
                            .execute(&mut *tx)
                            .await?;
                    if updated.rows_affected() == 0 {
                        return Ok(false);
                    }
                    sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE username = $1 AND revoked_at IS NULL")
                        .bind(username)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok(true)
                }

                async fn remove_user(&self, username: &str) -> Result<RemoveUser, StoreError> {
                    let mut tx = self.writer().begin().await?;
                    let role: Option<String> = sqlx::query("SELECT role FROM users WHERE username = $1")
                        .bind(username)
                        .fetch_optional(&mut *tx)
                        .await?
                        .map(|row| row.try_get("role"))
                        .transpose()?;
                    let Some(role) = role else {
                        return Ok(RemoveUser::NotFound);
                    };
                    if role == "admin" {
                        let others: i64 = sqlx::query(
                            "SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND disabled_at IS NULL \
                             AND username <> $1",
                        )
                        .bind(username)
                        .fetch_one(&mut *tx)
                        .await?
                        .try_get("n")?;
                        if others == 0 {
                            return Ok(RemoveUser::LastAdmin);
                        }
                    }
                    sqlx::query("DELETE FROM sessions WHERE username = $1").bind(username).execute(&mut *tx).await?;
                    sqlx::query("DELETE FROM users WHERE username = $1").bind(username).execute(&mut *tx).await?;
                    tx.commit().await?;
                    Ok(RemoveUser::Removed)
                }

                async fn audit_of_target(
                    &self,
                    action_prefix: &str,
                    target: &str,
                    limit: u32,
                ) -> Result<Vec<AuditRecord>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT id, at, actor, action, target, source_addr, outcome, detail FROM audit_log \
                         WHERE target = $1 AND action LIKE $2 ESCAPE '\\' ORDER BY id DESC LIMIT $3",
                    )
                    .bind(target)
                    .bind(prefix_pattern(action_prefix))
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter().map(audit_from_row).collect()
                }

                async fn list_audit(&self, before: Option<i64>, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT id, at, actor, action, target, source_addr, outcome, detail FROM audit_log \
                         WHERE id < $1 ORDER BY id DESC LIMIT $2",
                    )
                    .bind(before.unwrap_or(i64::MAX))
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter().map(audit_from_row).collect()
                }
            }

            fn audit_from_row(row: &Row) -> Result<AuditRecord, StoreError> {
                Ok(AuditRecord {
                    id: row.try_get("id")?,
                    entry: AuditEntry {
                        at: row.try_get("at")?,
                        actor: row.try_get("actor")?,
                        action: row.try_get("action")?,
                        target: row.try_get("target")?,
                        source_addr: row.try_get("source_addr")?,
                        outcome: parse_outcome(&row.try_get::<String, _>("outcome")?)?,
                        detail: row.try_get("detail")?,
                    },
                })
            }
        }
    };
}

pub(crate) use impl_access_store;
