//! SQLite backend: the embedded default. One file in the data dir, WAL journal, foreign keys on.
//! The statements themselves are shared with PostgreSQL (`sql.rs`); this file only connects and
//! migrates.
//!
//! Writes go through a pool of exactly one connection, so concurrent reports queue for that
//! connection in the pool instead of contending for SQLite's file lock: with several writer
//! connections, the losers sleep in SQLite's busy handler (1, 2, 5, 10, ... ms), which made the
//! p99 ingest latency several times the median. Reads use their own pool and, in WAL mode, never
//! wait for the writer. `synchronous = NORMAL` is durable against a crash of the process (WAL);
//! only a power loss can drop the last commits.
//!
//! The database holds the fleet's inventory, so its files are private to the server's user:
//! the file is created `0600` before SQLite opens it (SQLite would create it `0644` under the
//! usual umask, and gives its `-wal` and `-shm` files the main file's permissions), and a file
//! or side file left group- or world-readable by an older version is tightened on open.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

/// Prepared statements kept per connection. Multi-row statements have one shape per row count,
/// so the default (100) would evict the fixed statements under a varied load.
const STATEMENT_CACHE: usize = 512;
const READERS: u32 = 4;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: sqlx::SqlitePool,
    reader: sqlx::SqlitePool,
}

impl SqliteStore {
    /// Opens `sqlite://PATH` (created if missing) and applies pending migrations.
    pub async fn open(url: &str) -> Result<Self, super::StoreError> {
        let connect = |source| super::StoreError::Connect { url: url.to_string(), source };
        // An in-memory database exists once per connection: readers must share the writer's.
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let options = SqliteConnectOptions::from_str(url).map_err(connect)?;
        if !in_memory {
            let path = options.get_filename().to_path_buf();
            restrict_database_files(&path).map_err(|source| super::StoreError::DatabaseFile { path, source })?;
        }
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .statement_cache_capacity(STATEMENT_CACHE)
            .busy_timeout(Duration::from_secs(10));
        // The writer never gives up its connection: reopening one costs more than it saves.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(options.clone())
            .await
            .map_err(connect)?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        read_models::backfill_finding_subjects(&writer).await?;
        read_models::backfill_live_rollups(&writer).await?;
        let reader = if in_memory {
            writer.clone()
        } else {
            SqlitePoolOptions::new().max_connections(READERS).connect_with(options).await.map_err(connect)?
        };
        Ok(Self { writer, reader })
    }
}

super::access::impl_access_store!(SqliteStore, sqlx::Sqlite);
super::compliance_sql::impl_compliance_store!(SqliteStore, sqlx::Sqlite, sqlx::SqliteConnection);
super::sql::impl_store!(SqliteStore, sqlx::Sqlite, sqlx::SqliteConnection);
super::exports_sql::impl_export_store!(crate::store::SqliteStore, sqlx::Sqlite);
super::policy_inputs_sql::impl_policy_inputs!(crate::store::SqliteStore, sqlx::Sqlite);
super::exception_requests_sql::impl_exception_request_store!(crate::store::SqliteStore, sqlx::Sqlite);
super::policies_sql::impl_policy_store!(crate::store::SqliteStore, sqlx::Sqlite);
super::data_bundles_sql::impl_data_bundle_store!(crate::store::SqliteStore, sqlx::Sqlite);
super::read::sql::impl_read_models!(SqliteStore, sqlx::Sqlite, sqlx::SqliteConnection);

impl SqliteStore {
    /// The single writer connection: every statement that writes and every transaction goes here
    /// (also the benchmark seeder's bulk writes, `store::read::seed`).
    pub(crate) fn writer(&self) -> &sqlx::SqlitePool {
        &self.writer
    }

    /// The pool for plain reads outside a transaction; in WAL mode they never wait for the writer.
    pub(crate) fn reader(&self) -> &sqlx::SqlitePool {
        &self.reader
    }
}

/// Creates the database file `path` with mode `0600` if it does not exist, and takes group and
/// other permissions away from it and from its `-wal` and `-shm` files if they have any. Runs
/// before SQLite opens the file, so it never creates it itself; not affected by the umask.
#[cfg(unix)]
fn restrict_database_files(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        // The umask may have taken bits away from 0600 at creation: set it exactly.
        Ok(_) => std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?,
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(error) => return Err(error),
    }
    let side_file = |suffix: &str| {
        let mut name = path.as_os_str().to_os_string();
        name.push(suffix);
        PathBuf::from(name)
    };
    for file in [path.to_path_buf(), side_file("-wal"), side_file("-shm")] {
        let file = file.as_path();
        let mode = match std::fs::metadata(file) {
            Ok(meta) => meta.permissions().mode() & 0o7777,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => return Err(error),
        };
        if mode & 0o077 != 0 {
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(mode & 0o700))?;
            tracing::info!(path = %file.display(), from = format!("{mode:04o}"), to = format!("{:04o}", mode & 0o700), "database file permissions tightened");
        }
    }
    Ok(())
}

/// Elsewhere files get the permissions of their directory (see ARCHITECTURE.md).
#[cfg(not(unix))]
fn restrict_database_files(_path: &Path) -> std::io::Result<()> {
    Ok(())
}
