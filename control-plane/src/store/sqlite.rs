//! SQLite backend: the embedded default. One file in the data dir, WAL journal, foreign keys on.
//! The statements themselves are shared with PostgreSQL (`sql.rs`); this file only connects and
//! migrates.

use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: sqlx::SqlitePool,
}

impl SqliteStore {
    /// Opens `sqlite://PATH` (created if missing) and applies pending migrations.
    pub async fn open(url: &str) -> Result<Self, super::StoreError> {
        let connect = |source| super::StoreError::Connect { url: url.to_string(), source };
        let options = SqliteConnectOptions::from_str(url)
            .map_err(connect)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await.map_err(connect)?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Self { pool })
    }
}

super::access::impl_access_store!(SqliteStore, sqlx::Sqlite);
super::sql::impl_store!(SqliteStore, sqlx::Sqlite, sqlx::SqliteConnection);
super::exports_sql::impl_export_store!(crate::store::SqliteStore, sqlx::Sqlite);
super::read::sql::impl_read_models!(SqliteStore, sqlx::Sqlite, sqlx::SqliteConnection);

#[cfg(feature = "testing")]
impl SqliteStore {
    /// The pool, for the benchmark seeder's bulk writes (`store::read::seed`).
    pub(crate) fn pool(&self) -> &sqlx::SqlitePool {
        &self.pool
    }
}
