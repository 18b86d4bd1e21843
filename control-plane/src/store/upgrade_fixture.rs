//! Test support (feature `testing`): a database left exactly as migration `0006` made it, with
//! rows only the old schema could hold, so tests can open it with the current code and check
//! what later migrations (and the backfill after them) make of it. Not for production use.
//!
//! The fixture: one agent with two host-wide lethal-trifecta findings (clients `windsurf` and
//! `gemini-cli`) under one old-style decision (waived, keyed by agent, server id `""` and
//! finding id, so it covered both), and one server `s1` with two advisory findings under one
//! old-style acknowledgement.

use sqlx::migrate::Migrator;

use super::StoreError;

/// The agent id of the fixture.
pub const AGENT_ID: &str = "00000000-0000-4000-8000-000000000007";

/// When the fixture's waiver expires (unix seconds).
pub const WAIVER_EXPIRES_AT: i64 = 4_000_000_000;

/// The last schema version before finding subjects.
const LEGACY_VERSION: i64 = 6;

static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

const ROWS: [&str; 7] = [
    "INSERT INTO agents (id, hostname, cert_serial, cert_not_after, status, agent_version, enrolled_at, \
     enrolled_with_token, last_sequence) VALUES ('00000000-0000-4000-8000-000000000007', 'h1', '01', \
     4000000000, 'active', '0.1.0', 1, 't', 1)",
    "INSERT INTO findings (agent_id, server_id, finding_id, severity, owasp, message, client, user_name, \
     server_ids, eff_client, eff_user) VALUES ('00000000-0000-4000-8000-000000000007', '', \
     'MUSTER-LETHAL-TRIFECTA', 5, 'MCP03', 'windsurf for user alice runs servers that together bring all \
     three legs', 'windsurf', 'alice', 'w1', 'windsurf', 'alice')",
    "INSERT INTO findings (agent_id, server_id, finding_id, severity, owasp, message, client, user_name, \
     server_ids, eff_client, eff_user) VALUES ('00000000-0000-4000-8000-000000000007', '', \
     'MUSTER-LETHAL-TRIFECTA', 5, 'MCP03', 'gemini-cli for user alice runs servers that together bring \
     all three legs', 'gemini-cli', 'alice', 'g1', 'gemini-cli', 'alice')",
    "INSERT INTO findings (agent_id, server_id, finding_id, severity, owasp, message, client, user_name, \
     server_ids, eff_client, eff_user, advisory) VALUES ('00000000-0000-4000-8000-000000000007', 's1', \
     'MUSTER-PKG-VULNERABLE', 4, 'MCP04', 'runs x at version 1: GHSA-aaaa-bbbb-0001 a', '', '', 's1', \
     'cursor', 'alice', 'GHSA-aaaa-bbbb-0001')",
    "INSERT INTO findings (agent_id, server_id, finding_id, severity, owasp, message, client, user_name, \
     server_ids, eff_client, eff_user, advisory) VALUES ('00000000-0000-4000-8000-000000000007', 's1', \
     'MUSTER-PKG-VULNERABLE', 4, 'MCP04', 'runs x at version 1: GHSA-aaaa-bbbb-0002 b', '', '', 's1', \
     'cursor', 'alice', 'GHSA-aaaa-bbbb-0002')",
    "INSERT INTO finding_states (agent_id, server_id, finding_id, state, reason, expires_at, decided_by, \
     decided_at) VALUES ('00000000-0000-4000-8000-000000000007', '', 'MUSTER-LETHAL-TRIFECTA', 'waived', \
     'sandboxed', 4000000000, 'ana', 1)",
    "INSERT INTO finding_states (agent_id, server_id, finding_id, state, reason, expires_at, decided_by, \
     decided_at) VALUES ('00000000-0000-4000-8000-000000000007', 's1', 'MUSTER-PKG-VULNERABLE', \
     'acknowledged', 'patch due', NULL, 'ana', 1)",
];

/// Migrates the (empty) database at `url` to `0006` and writes the fixture's rows.
pub async fn create_legacy_database(url: &str) -> Result<(), StoreError> {
    let connect = |source| StoreError::Connect { url: "(upgrade fixture)".to_string(), source };
    if url.starts_with("sqlite:") {
        let options = <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(url)
            .map_err(connect)?
            .create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(options).await.map_err(connect)?;
        SQLITE.run_to(LEGACY_VERSION, &pool).await?;
        for row in ROWS {
            sqlx::query(row).execute(&pool).await?;
        }
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.map_err(connect)?;
        POSTGRES.run_to(LEGACY_VERSION, &pool).await?;
        for row in ROWS {
            sqlx::query(row).execute(&pool).await?;
        }
        pool.close().await;
    }
    Ok(())
}
