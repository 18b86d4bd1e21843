//! PostgreSQL backend, chosen by a `postgres://` database URL. The statements are shared with
//! SQLite (`sql.rs`); this file only connects and migrates.

use sqlx::postgres::PgPoolOptions;

#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: sqlx::PgPool,
}

impl PostgresStore {
    /// Connects to `url` and applies pending migrations.
    pub async fn open(url: &str) -> Result<Self, super::StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect(url)
            .await
            .map_err(|source| super::StoreError::Connect { url: redact(url), source })?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }
}

/// The URL without its password, for error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}://{}:***@{}", &url[..scheme], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

super::sql::impl_store!(PostgresStore, sqlx::Postgres, sqlx::PgConnection);
