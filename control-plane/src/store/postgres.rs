//! PostgreSQL backend, chosen by a `postgres://` database URL. The statements are shared with
//! SQLite (`sql.rs`); this file only connects and migrates.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// Connections to the server. Ingest transactions are short and mostly wait on round trips, so a
/// few more connections than cores keep the server busy without queueing in PostgreSQL.
const POOL_SIZE: u32 = 8;
/// Prepared statements kept per connection (multi-row statements have one shape per row count).
const STATEMENT_CACHE: usize = 512;

#[derive(Debug, Clone)]
pub struct PostgresStore {
    /// One pool serves both roles: PostgreSQL handles concurrent writers itself.
    writer: sqlx::PgPool,
    reader: sqlx::PgPool,
}

impl PostgresStore {
    /// Connects to `url` and applies pending migrations.
    pub async fn open(url: &str) -> Result<Self, super::StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|source| super::StoreError::Connect { url: redact(url), source })?
            .statement_cache_capacity(STATEMENT_CACHE);
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .connect_with(options)
            .await
            .map_err(|source| super::StoreError::Connect { url: redact(url), source })?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        read_models::backfill_finding_subjects(&pool).await?;
        read_models::backfill_live_rollups(&pool).await?;
        Ok(Self { writer: pool.clone(), reader: pool })
    }
}

/// The URL without its password, for error messages.
pub(super) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}://{}:***@{}", &url[..scheme], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

super::access::impl_access_store!(PostgresStore, sqlx::Postgres);
super::compliance_sql::impl_compliance_store!(PostgresStore, sqlx::Postgres, sqlx::PgConnection);
super::sql::impl_store!(PostgresStore, sqlx::Postgres, sqlx::PgConnection);
super::exports_sql::impl_export_store!(crate::store::PostgresStore, sqlx::Postgres);
super::policy_inputs_sql::impl_policy_inputs!(crate::store::PostgresStore, sqlx::Postgres);
super::exception_requests_sql::impl_exception_request_store!(crate::store::PostgresStore, sqlx::Postgres);
super::policies_sql::impl_policy_store!(crate::store::PostgresStore, sqlx::Postgres);
super::data_bundles_sql::impl_data_bundle_store!(crate::store::PostgresStore, sqlx::Postgres);
super::read::sql::impl_read_models!(PostgresStore, sqlx::Postgres, sqlx::PgConnection);

impl PostgresStore {
    /// The pool for statements that write and for transactions (also the benchmark seeder's bulk
    /// writes, `store::read::seed`). The same pool as [`Self::reader`]: PostgreSQL handles
    /// concurrent writers itself.
    pub(crate) fn writer(&self) -> &sqlx::PgPool {
        &self.writer
    }

    /// The pool for plain reads outside a transaction.
    pub(crate) fn reader(&self) -> &sqlx::PgPool {
        &self.reader
    }
}
