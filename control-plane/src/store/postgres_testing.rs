//! PostgreSQL helpers for tests and benchmarks only (feature `testing`): create and drop
//! throwaway databases (`DROP DATABASE ... WITH (FORCE)`) and dump every row as text for the leak
//! tests. Compiled out of the production server; used through `crate::testing::TestDatabase`.

use sqlx::postgres::PgPoolOptions;

use super::{PostgresStore, StoreError};

impl PostgresStore {
    /// A single admin connection pool for creating and dropping test databases.
    pub async fn admin_connect(url: &str) -> Result<sqlx::PgPool, StoreError> {
        PgPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await
            .map_err(|source| StoreError::Connect { url: super::postgres::redact(url), source })
    }

    /// Creates database `name` (which must be a plain identifier).
    pub async fn create_database(admin: &sqlx::PgPool, name: &str) -> Result<(), StoreError> {
        check_identifier(name)?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\""))).execute(admin).await?;
        Ok(())
    }

    /// Drops database `name`, closing other sessions on it.
    pub async fn drop_database(admin: &sqlx::PgPool, name: &str) -> Result<(), StoreError> {
        check_identifier(name)?;
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")))
            .execute(admin)
            .await?;
        Ok(())
    }

    /// Every row of every table in the current schema of the database at `url`, each rendered
    /// as PostgreSQL's text form of the whole row (`bytea` columns as `\x` hex), prefixed with
    /// its table name. For leak tests that must look at every stored byte without knowing the
    /// schema; not for production use.
    pub async fn dump_rows_as_text(url: &str) -> Result<Vec<String>, StoreError> {
        let pool = Self::admin_connect(url).await?;
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1",
        )
        .fetch_all(&pool)
        .await?;
        let mut rows = Vec::new();
        for table in tables {
            check_identifier(&table)?;
            let texts: Vec<String> =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT CAST(t AS text) FROM \"{table}\" t")))
                    .fetch_all(&pool)
                    .await?;
            rows.extend(texts.into_iter().map(|row| format!("{table}: {row}")));
        }
        pool.close().await;
        Ok(rows)
    }
}

fn check_identifier(name: &str) -> Result<(), StoreError> {
    if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        Err(StoreError::Corrupt(format!("invalid database name {name}")))
    }
}
