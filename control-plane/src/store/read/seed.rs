//! Synthetic fleet for benchmarks (cargo feature `testing`): writes N endpoints with their hosts,
//! users, clients, servers, credentials, findings, change events and endpoint summaries straight
//! into a freshly migrated database, the way ingest would have left them, then refreshes the
//! rollups. Bulk paths per dialect: `COPY ... FROM STDIN` on PostgreSQL, one transaction of
//! prepared multi-row `INSERT`s on SQLite. Deterministic for a given seed.
//!
//! Not a fixture for correctness tests (those ingest real reports); not for production.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use muster_proto::prost::Message as _;
use muster_proto::v1 as pb;

use super::{ReadModels, day_start, member_key};
use crate::store::{PostgresStore, SqliteStore, StoreError};

/// What to create.
#[derive(Debug, Clone)]
pub struct FleetSpec {
    pub endpoints: usize,
    pub servers_per_endpoint: usize,
    /// The clock the data is relative to (last seen, events over the previous 30 days).
    pub now: i64,
    pub seed: u64,
}

impl Default for FleetSpec {
    fn default() -> Self {
        Self { endpoints: 100_000, servers_per_endpoint: 20, now: 1_800_000_000, seed: 7 }
    }
}

/// Row counts and timings of a seeding run.
#[derive(Debug, Clone, Default)]
pub struct SeedReport {
    pub rows: Vec<(&'static str, usize)>,
    pub insert_time: Duration,
    pub analyze_time: Duration,
    pub rollup_time: Duration,
}

/// Seeds the (empty) database at `url`, creating and migrating it first.
pub async fn seed(url: &str, spec: &FleetSpec) -> Result<SeedReport, StoreError> {
    if url.starts_with("sqlite:") {
        let store = SqliteStore::open(url).await?;
        let mut tx = store.writer().begin().await?;
        let mut report = write_all(spec, &mut SqliteSink { conn: &mut tx }).await?;
        tx.commit().await?;
        let started = Instant::now();
        sqlx::query("ANALYZE").execute(store.writer()).await?;
        report.analyze_time = started.elapsed();
        rollups(Box::new(store), spec, report).await
    } else {
        let store = PostgresStore::open(url).await?;
        let mut conn = store.writer().acquire().await?;
        let mut report = write_all(spec, &mut PgSink { conn: &mut conn }).await?;
        let started = Instant::now();
        sqlx::query("ANALYZE").execute(&mut *conn).await?;
        report.analyze_time = started.elapsed();
        drop(conn);
        rollups(Box::new(store), spec, report).await
    }
}

async fn rollups(
    store: Box<dyn ReadModels>,
    spec: &FleetSpec,
    mut report: SeedReport,
) -> Result<SeedReport, StoreError> {
    let started = Instant::now();
    // The seed writes rows around ingest, so the live rollups are rebuilt once from them.
    store.rebuild_rollups().await?;
    store.refresh_rollups(spec.now, spec.now - 600).await?;
    report.rollup_time = started.elapsed();
    Ok(report)
}

/// A rule of the published policy the compliance seed reports against: its id and action.
pub type SeedRule = (&'static str, &'static str);

/// Adds, to a database [`seed`] filled with `spec`, what every agent would have reported about
/// policy `version` (published already, with `rules`): per endpoint its `policy_compliance` row
/// and 0-4 actions in every state (most on `version`, some a version behind, a few never
/// reported). Replaces any compliance rows there. Returns the number of action rows.
pub async fn seed_compliance(
    url: &str,
    spec: &FleetSpec,
    version: u64,
    rules: &[SeedRule],
) -> Result<usize, StoreError> {
    let (rows, actions) = compliance_tables(spec, version, rules);
    if url.starts_with("sqlite:") {
        let store = SqliteStore::open(url).await?;
        let mut tx = store.writer().begin().await?;
        sqlx::query("DELETE FROM policy_compliance_actions").execute(&mut *tx).await?;
        sqlx::query("DELETE FROM policy_compliance").execute(&mut *tx).await?;
        let mut sink = SqliteSink { conn: &mut tx };
        sink.write(&rows).await?;
        sink.write(&actions).await?;
        tx.commit().await?;
        sqlx::query("ANALYZE").execute(store.writer()).await?;
    } else {
        let store = PostgresStore::open(url).await?;
        let mut conn = store.writer().acquire().await?;
        sqlx::query("DELETE FROM policy_compliance_actions").execute(&mut *conn).await?;
        sqlx::query("DELETE FROM policy_compliance").execute(&mut *conn).await?;
        let mut sink = PgSink { conn: &mut conn };
        sink.write(&rows).await?;
        sink.write(&actions).await?;
        sqlx::query("ANALYZE policy_compliance").execute(&mut *conn).await?;
        sqlx::query("ANALYZE policy_compliance_actions").execute(&mut *conn).await?;
    }
    Ok(actions.rows.len())
}

fn compliance_tables(spec: &FleetSpec, version: u64, rules: &[SeedRule]) -> (Table, Table) {
    let mut rows = Table::new(
        "policy_compliance",
        &[
            "agent_id",
            "applied_version",
            "acked_version",
            "evaluated_at",
            "violations",
            "refusal",
            "reported_at",
            "pending",
            "applied",
            "failed",
            "excepted",
            "not_in_force",
        ],
    );
    let mut actions = Table::new(
        "policy_compliance_actions",
        &["agent_id", "server_id", "rule_id", "action", "state", "detail", "due_at"],
    );
    let mut rng = Rng(spec.seed ^ 0xC0FF_EE00);
    let version = i64::try_from(version).unwrap_or(i64::MAX);
    for n in 0..spec.endpoints {
        // 2% never reported a policy state; 8% are a version behind.
        if rng.chance(2) {
            continue;
        }
        let applied = if rng.chance(8) { (version - 1).max(0) } else { version };
        let id = agent_id(n);
        let mut counts = [0i64; 5];
        let wanted = [0, 0, 0, 1, 1, 2, 3, 4][rng.below(8) as usize];
        let mut used = Vec::new();
        for _ in 0..wanted.min(spec.servers_per_endpoint) {
            let slot = rng.below(spec.servers_per_endpoint as u64) as usize;
            let (rule, action) = rules[rng.below(rules.len() as u64) as usize];
            if used.contains(&(slot, rule)) {
                continue;
            }
            used.push((slot, rule));
            // pending 30%, applied 50%, failed 5%, excepted 10%, not in force 5%.
            let (state, detail) = match rng.below(100) {
                0..30 => (1, ""),
                30..80 => (2, ""),
                80..85 => (3, "the client's config file is read-only"),
                85..95 => (4, "exc-bench"),
                _ => (5, "a managed setting the client ranks higher shadows it"),
            };
            counts[state as usize - 1] += 1;
            let due = if state == 1 && rng.chance(50) { Cell::Int(spec.now + 86_400) } else { Cell::Null };
            let server_id = format!("{:032x}", (n as u128) << 32 | slot as u128);
            actions.rows.push(vec![
                text(&id),
                text(server_id),
                text(rule),
                text(action),
                Cell::Int(state),
                text(detail),
                due,
            ]);
        }
        let violations = counts.iter().sum::<i64>() - counts[3];
        rows.rows.push(vec![
            text(&id),
            Cell::Int(applied),
            Cell::Int(version),
            Cell::Int(spec.now - rng.below(3_600) as i64),
            Cell::Int(violations),
            text(""),
            Cell::Int(spec.now - rng.below(3_600) as i64),
            Cell::Int(counts[0]),
            Cell::Int(counts[1]),
            Cell::Int(counts[2]),
            Cell::Int(counts[3]),
            Cell::Int(counts[4]),
        ]);
    }
    (rows, actions)
}

/// One value of a generated row.
#[derive(Debug, Clone)]
enum Cell {
    Int(i64),
    Text(String),
    /// A blob (the encoded `muster.v1.McpServer` of a server row).
    Blob(Vec<u8>),
    /// SQL NULL (an integer column).
    Null,
}

struct Table {
    name: &'static str,
    columns: &'static [&'static str],
    rows: Vec<Vec<Cell>>,
}

impl Table {
    fn new(name: &'static str, columns: &'static [&'static str]) -> Self {
        Self { name, columns, rows: Vec::new() }
    }
}

trait Sink {
    async fn write(&mut self, table: &Table) -> Result<(), StoreError>;
}

struct SqliteSink<'c> {
    conn: &'c mut sqlx::SqliteConnection,
}

impl Sink for SqliteSink<'_> {
    async fn write(&mut self, table: &Table) -> Result<(), StoreError> {
        // Full chunks share one statement text, so sqlx prepares it once and reuses it.
        let per_statement = (30_000 / table.columns.len()).min(2_000);
        for chunk in table.rows.chunks(per_statement) {
            let mut qb = sqlx::QueryBuilder::<sqlx::Sqlite>::new(format!(
                "INSERT INTO {} ({}) ",
                table.name,
                table.columns.join(", ")
            ));
            qb.push_values(chunk, |mut b, row| {
                for cell in row {
                    match cell {
                        Cell::Int(v) => b.push_bind(*v),
                        Cell::Text(v) => b.push_bind(v.clone()),
                        Cell::Blob(v) => b.push_bind(v.clone()),
                        Cell::Null => b.push_bind(None::<i64>),
                    };
                }
            });
            qb.build().execute(&mut *self.conn).await?;
        }
        Ok(())
    }
}

struct PgSink<'c> {
    conn: &'c mut sqlx::PgConnection,
}

impl Sink for PgSink<'_> {
    async fn write(&mut self, table: &Table) -> Result<(), StoreError> {
        let statement = format!("COPY {} ({}) FROM STDIN (FORMAT text)", table.name, table.columns.join(", "));
        let mut copy = self.conn.copy_in_raw(&statement).await?;
        let mut buffer = String::with_capacity(1 << 20);
        for row in &table.rows {
            for (i, cell) in row.iter().enumerate() {
                if i > 0 {
                    buffer.push('\t');
                }
                match cell {
                    Cell::Int(v) => {
                        let _ = write!(buffer, "{v}");
                    }
                    Cell::Text(v) => {
                        for c in v.chars() {
                            match c {
                                '\\' => buffer.push_str("\\\\"),
                                '\t' => buffer.push_str("\\t"),
                                '\n' => buffer.push_str("\\n"),
                                '\r' => buffer.push_str("\\r"),
                                c => buffer.push(c),
                            }
                        }
                    }
                    Cell::Null => buffer.push_str("\\N"),
                    Cell::Blob(v) => {
                        buffer.push_str("\\\\x");
                        for byte in v {
                            let _ = write!(buffer, "{byte:02x}");
                        }
                    }
                }
            }
            buffer.push('\n');
            if buffer.len() > (1 << 20) {
                copy.send(buffer.as_bytes()).await?;
                buffer.clear();
            }
        }
        if !buffer.is_empty() {
            copy.send(buffer.as_bytes()).await?;
        }
        copy.finish().await?;
        Ok(())
    }
}

/// A small deterministic generator (SplitMix64); benchmark data needs repeatability, not quality.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// Skewed towards small indexes (popular packages, services, clients).
    fn popular(&mut self, n: u64) -> u64 {
        let a = self.below(n);
        let b = self.below(n);
        a.min(b)
    }
}

const CLIENTS: [&str; 10] = [
    "claude-code",
    "cursor",
    "vscode",
    "claude-desktop",
    "windsurf",
    "zed",
    "jetbrains",
    "codex",
    "gemini-cli",
    "cline",
];
const SERVICES: [&str; 40] = [
    "github",
    "gitlab",
    "slack",
    "jira",
    "confluence",
    "linear",
    "notion",
    "google-drive",
    "gmail",
    "sentry",
    "datadog",
    "aws",
    "gcp",
    "azure",
    "stripe",
    "postgres",
    "mysql",
    "mongodb",
    "redis",
    "snowflake",
    "bigquery",
    "figma",
    "asana",
    "zendesk",
    "salesforce",
    "hubspot",
    "pagerduty",
    "cloudflare",
    "vercel",
    "netlify",
    "supabase",
    "firebase",
    "openai",
    "anthropic",
    "huggingface",
    "docker",
    "kubernetes",
    "terraform",
    "okta",
    "box",
];
const PROVIDERS: [&str; 8] = ["github", "slack", "aws", "openai", "stripe", "google", "atlassian", "generic"];
const FINDINGS: [(&str, i64, &str); 8] = [
    ("MUSTER-SECRET-ENV", 3, "MCP01"),
    ("MUSTER-SECRET-ARG", 4, "MCP01"),
    ("MUSTER-PKG-UNPINNED", 2, "MCP04"),
    ("MUSTER-PKG-VULNERABLE", 4, "MCP04"),
    ("MUSTER-PKG-MALICIOUS", 5, "MCP04"),
    ("MUSTER-REMOTE-HTTP", 3, "MCP07"),
    ("MUSTER-AUTO-APPROVE-ALL", 4, "MCP02"),
    ("MUSTER-TRIFECTA", 5, "MCP06"),
];

fn text(value: impl Into<String>) -> Cell {
    Cell::Text(value.into())
}

fn agent_id(n: usize) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// Every table's rows for endpoints `from..to`.
#[allow(clippy::too_many_lines)]
fn generate(spec: &FleetSpec, from: usize, to: usize) -> Vec<Table> {
    let now = spec.now;
    let mut agents = Table::new(
        "agents",
        &[
            "id",
            "hostname",
            "cert_serial",
            "cert_not_after",
            "status",
            "agent_version",
            "enrolled_at",
            "enrolled_with_token",
            "last_seen_at",
            "last_sequence",
        ],
    );
    let mut hosts = Table::new(
        "hosts",
        &[
            "agent_id",
            "hostname",
            "os",
            "os_version",
            "arch",
            "machine_id",
            "scanned_root",
            "scanned_at",
            "process_count",
            "problem_count",
            "updated_at",
        ],
    );
    let mut users = Table::new("os_users", &["agent_id", "name", "uid", "home"]);
    let mut clients = Table::new("clients", &["agent_id", "client", "first_seen_at", "last_seen_at"]);
    let mut servers = Table::new(
        "servers",
        &[
            "agent_id",
            "server_id",
            "name",
            "client",
            "user_name",
            "scope",
            "config_path",
            "project",
            "transport",
            "command",
            "url",
            "disabled",
            "content_hash",
            "detail",
            "first_seen_at",
            "last_seen_at",
            "service",
            "package_ecosystem",
            "package_name",
            "package_version",
            "pinned",
            "endpoint_host",
            "auth",
            "shape_key",
        ],
    );
    let mut credentials = Table::new(
        "credentials",
        &["agent_id", "server_id", "location", "kind", "source", "fingerprint", "provider", "reference"],
    );
    let mut findings = Table::new(
        "findings",
        &[
            "agent_id",
            "server_id",
            "finding_id",
            "severity",
            "owasp",
            "message",
            "client",
            "user_name",
            "server_ids",
            "service",
            "eff_client",
            "eff_user",
            "advisory",
            "subject",
        ],
    );
    let mut events =
        Table::new("change_events", &["agent_id", "server_id", "server_name", "client", "kind", "sequence", "at"]);
    let mut summaries = Table::new(
        "endpoint_summary",
        &[
            "agent_id",
            "hostname",
            "hostname_key",
            "os",
            "users_key",
            "clients_key",
            "user_count",
            "client_count",
            "server_count",
            "literal_secrets",
            "findings_open",
            "findings_high",
            "findings_critical",
            "max_severity",
            "risk",
            "updated_at",
        ],
    );
    let mut states = Table::new(
        "finding_states",
        &[
            "agent_id",
            "server_id",
            "finding_id",
            "subject",
            "state",
            "reason",
            "expires_at",
            "decided_by",
            "decided_at",
        ],
    );

    for n in from..to {
        let mut rng = Rng(spec.seed ^ (n as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
        let id = agent_id(n);
        let prefix = ["lap", "dev", "mbp", "wks", "build"][n % 5];
        let hostname = format!("{prefix}-{n:06}");
        let os = match rng.below(100) {
            0..30 => 1,
            30..85 => 2,
            _ => 3,
        };
        let last_seen =
            if rng.chance(85) { now - rng.below(300) as i64 } else { now - 600 - rng.below(30 * 86_400) as i64 };
        let version = ["0.1.0", "0.1.1", "0.2.0", "0.2.1"][rng.popular(4) as usize];
        agents.rows.push(vec![
            text(&id),
            text(&hostname),
            text(format!("{n:x}")),
            Cell::Int(now + 20 * 86_400),
            text("active"),
            text(version),
            Cell::Int(now - 90 * 86_400),
            text("seed-token"),
            Cell::Int(last_seen),
            Cell::Int(1 + rng.below(500) as i64),
        ]);
        hosts.rows.push(vec![
            text(&id),
            text(&hostname),
            Cell::Int(os),
            text("14.1"),
            text("arm64"),
            text(format!("m{n}")),
            text(""),
            Cell::Int(last_seen),
            Cell::Int(rng.below(6) as i64),
            Cell::Int(0),
            Cell::Int(last_seen),
        ]);
        let user_names: Vec<String> = (0..1 + rng.below(10).saturating_sub(7))
            .map(|u| format!("user{}", (n * 3 + u as usize) % 250_000))
            .collect();
        for (u, name) in user_names.iter().enumerate() {
            users.rows.push(vec![text(&id), text(name), Cell::Int(1000 + u as i64), text(format!("/home/{name}"))]);
        }
        let mut endpoint_clients: Vec<&str> =
            (0..2 + rng.below(3)).map(|_| CLIENTS[rng.popular(CLIENTS.len() as u64) as usize]).collect();
        endpoint_clients.sort_unstable();
        endpoint_clients.dedup();
        for client in &endpoint_clients {
            clients.rows.push(vec![text(&id), text(*client), Cell::Int(now - 60 * 86_400), Cell::Int(last_seen)]);
        }

        let (mut literal, mut open, mut high, mut critical, mut max_severity) = (0i64, 0i64, 0i64, 0i64, 0i64);
        for s in 0..spec.servers_per_endpoint {
            let server_id = format!("{:032x}", (n as u128) << 32 | s as u128);
            let client = endpoint_clients[rng.below(endpoint_clients.len() as u64) as usize];
            let user = &user_names[rng.below(user_names.len() as u64) as usize];
            // What the server runs comes from the fleet's catalogue of configurations (see
            // `ServerTemplate`); a few are one-offs of this laptop.
            let template = ServerTemplate::pick(spec.seed, &mut rng, n, s);
            let ServerTemplate { remote, service, ecosystem, ref package, ref version, pinned, ref host, .. } =
                template;
            let pinned = i64::from(pinned);
            let mut server_literal = false;
            let mut server_reference = false;
            let mut detail_credentials = Vec::new();
            for (location, provider) in &template.credentials {
                let (location, provider) = (location.clone(), *provider);
                let is_literal = rng.chance(35);
                server_literal |= is_literal;
                server_reference |= !is_literal;
                literal += i64::from(is_literal);
                let fingerprint = if rng.chance(15) {
                    format!("{:032x}", 0xF000_0000_u128 + u128::from(rng.popular(8_000)))
                } else {
                    format!("{:032x}", rng.next())
                };
                detail_credentials.push(pb::Credential {
                    location: location.clone(),
                    kind: format!("{provider}-token"),
                    source: if is_literal { 1 } else { 2 },
                    fingerprint: fingerprint.clone(),
                    provider: provider.to_string(),
                    reference: if is_literal { String::new() } else { "vault://kv/mcp".to_string() },
                    reference_kind: if is_literal { 0 } else { pb::ReferenceKind::SecretManager as i32 },
                });
                credentials.rows.push(vec![
                    text(&id),
                    text(&server_id),
                    text(location),
                    text(format!("{provider}-token")),
                    Cell::Int(if is_literal { 1 } else { 2 }),
                    text(fingerprint),
                    text(provider),
                    text(if is_literal { "" } else { "vault://kv/mcp" }),
                ]);
            }
            let auth = if server_literal {
                "literal"
            } else if server_reference {
                "reference"
            } else if remote {
                "oauth"
            } else {
                "none"
            };
            let name = template.name.clone();
            let mut detail = server_detail(ServerFacts {
                id: &server_id,
                name: &name,
                client,
                user,
                service,
                ecosystem,
                package,
                version,
                pinned: pinned == 1,
                host,
            });
            detail.credentials = detail_credentials;
            let detail_row = servers.rows.len();
            servers.rows.push(vec![
                text(&id),
                text(&server_id),
                text(&name),
                text(client),
                text(user),
                Cell::Int(1),
                text(format!("/home/{user}/.{client}/mcp.json")),
                text(""),
                Cell::Int(if remote { 3 } else { 1 }),
                text(if remote { String::new() } else { format!("npx -y {package}") }),
                text(if remote { format!("https://{host}/mcp") } else { String::new() }),
                Cell::Int(0),
                text(format!("{:016x}", rng.next())),
                Cell::Blob(Vec::new()),
                Cell::Int(now - rng.below(60 * 86_400) as i64),
                Cell::Int(last_seen),
                text(service),
                Cell::Int(ecosystem),
                text(package),
                text(version),
                Cell::Int(pinned),
                text(host),
                text(auth),
                Cell::Blob(Vec::new()),
            ]);
            if rng.chance(30) {
                let (finding_id, severity, owasp) = FINDINGS[rng.popular(FINDINGS.len() as u64) as usize];
                // An advisory belongs to the package the configuration runs.
                let advisory = if finding_id == "MUSTER-PKG-VULNERABLE" && !package.is_empty() {
                    template.advisory.clone()
                } else {
                    String::new()
                };
                let waived = rng.chance(3);
                if waived {
                    states.rows.push(vec![
                        text(&id),
                        text(&server_id),
                        text(finding_id),
                        // The decision subject of a server finding: its advisory id, if any
                        // (`store::read::finding_subject`).
                        text(&advisory),
                        text("waived"),
                        text("accepted risk"),
                        Cell::Int(now + 30 * 86_400),
                        text("seed"),
                        Cell::Int(now - 86_400),
                    ]);
                } else {
                    open += 1;
                    max_severity = max_severity.max(severity);
                    high += i64::from(severity == 4);
                    critical += i64::from(severity == 5);
                }
                detail.findings.push(pb::Finding {
                    id: finding_id.to_string(),
                    severity: i32::try_from(severity).unwrap_or(0),
                    owasp: owasp.to_string(),
                    message: format!("server {name:?} {finding_id} {advisory}"),
                    server_ids: vec![server_id.clone()],
                    ..Default::default()
                });
                findings.rows.push(vec![
                    text(&id),
                    text(&server_id),
                    text(finding_id),
                    Cell::Int(severity),
                    text(owasp),
                    text(format!("server {name:?} {finding_id} {advisory}")),
                    text(""),
                    text(""),
                    text(&server_id),
                    text(service),
                    text(client),
                    text(user),
                    text(&advisory),
                    text(advisory),
                ]);
            }
            servers.rows[detail_row][13] = Cell::Blob(detail.encode_to_vec());
            servers.rows[detail_row][23] = Cell::Blob(crate::store::policy_inputs::shape_key(&detail));
            if rng.chance(50) {
                let kind = ["appeared", "changed", "changed", "disappeared"][rng.below(4) as usize];
                events.rows.push(vec![
                    text(&id),
                    text(&server_id),
                    text(&name),
                    text(client),
                    text(kind),
                    Cell::Int(1 + s as i64),
                    Cell::Int(now - rng.below(30 * 86_400) as i64),
                ]);
            }
        }
        summaries.rows.push(vec![
            text(&id),
            text(&hostname),
            text(hostname.to_lowercase()),
            Cell::Int(os),
            text(member_key(user_names.iter().map(String::as_str))),
            text(member_key(endpoint_clients.iter().copied())),
            Cell::Int(user_names.len() as i64),
            Cell::Int(endpoint_clients.len() as i64),
            Cell::Int(spec.servers_per_endpoint as i64),
            Cell::Int(literal),
            Cell::Int(open),
            Cell::Int(high),
            Cell::Int(critical),
            Cell::Int(max_severity),
            Cell::Int(max_severity * 1_000_000 + open),
            Cell::Int(now),
        ]);
    }
    vec![agents, hosts, users, clients, servers, credentials, findings, events, summaries, states]
}

fn daily_history(spec: &FleetSpec) -> Table {
    let mut daily = Table::new(
        "fleet_daily",
        &[
            "day",
            "endpoints",
            "endpoints_online",
            "servers",
            "clients",
            "services",
            "literal_secrets",
            "findings_high",
            "findings_critical",
            "taken_at",
        ],
    );
    let endpoints = spec.endpoints as i64;
    for back in 1..30 {
        let day = day_start(spec.now) - back * 86_400;
        let scale = |v: i64| v - v * back / 60;
        daily.rows.push(vec![
            Cell::Int(day),
            Cell::Int(scale(endpoints)),
            Cell::Int(scale(endpoints * 85 / 100)),
            Cell::Int(scale(endpoints * spec.servers_per_endpoint as i64)),
            Cell::Int(scale(endpoints * 3)),
            Cell::Int(40),
            Cell::Int(scale(endpoints * spec.servers_per_endpoint as i64 * 17 / 100)),
            Cell::Int(scale(endpoints * spec.servers_per_endpoint as i64 * 8 / 100)),
            Cell::Int(scale(endpoints * spec.servers_per_endpoint as i64 * 3 / 100)),
            Cell::Int(day + 3_600),
        ]);
    }
    daily
}

async fn write_all(spec: &FleetSpec, sink: &mut impl Sink) -> Result<SeedReport, StoreError> {
    let started = Instant::now();
    let mut report = SeedReport::default();
    let mut counts: Vec<(&'static str, usize)> = Vec::new();
    // Agents (referenced by every other table) go first within each batch.
    const BATCH: usize = 5_000;
    let mut from = 0;
    while from < spec.endpoints {
        let to = (from + BATCH).min(spec.endpoints);
        for table in generate(spec, from, to) {
            sink.write(&table).await?;
            match counts.iter_mut().find(|(name, _)| *name == table.name) {
                Some((_, n)) => *n += table.rows.len(),
                None => counts.push((table.name, table.rows.len())),
            }
        }
        from = to;
    }
    let daily = daily_history(spec);
    sink.write(&daily).await?;
    counts.push((daily.name, daily.rows.len()));
    report.rows = counts;
    report.insert_time = started.elapsed();
    Ok(report)
}

/// Distinct server configurations of the seeded fleet's catalogue.
const TEMPLATES: usize = 3_000;
/// Percent of servers that are one-offs (a developer's own build), unique to their laptop.
const ONE_OFF_PERCENT: u64 = 3;

/// What one server runs and how it is reached, as a fleet repeats it. A real fleet copies its
/// configurations from the same READMEs and onboarding docs: a few (the GitHub, filesystem,
/// browser servers) are on most laptops and a long tail on a few each. So each server draws one
/// of [`TEMPLATES`] configurations with Zipf (s = 1) popularity, the shape of most popularity
/// data (package downloads included); [`ONE_OFF_PERCENT`] of servers are unique instead. What
/// varies per laptop: client, OS account, ids and paths, whether each credential is a literal
/// or a reference, fingerprints, and which findings were raised.
struct ServerTemplate {
    name: String,
    remote: bool,
    service: &'static str,
    ecosystem: i64,
    package: String,
    version: String,
    pinned: bool,
    host: String,
    /// (location, provider) of each credential the configuration passes.
    credentials: Vec<(String, &'static str)>,
    /// The advisory a `MUSTER-PKG-VULNERABLE` finding on it names.
    advisory: String,
}

impl ServerTemplate {
    fn pick(seed: u64, rng: &mut Rng, endpoint: usize, slot: usize) -> Self {
        if rng.chance(ONE_OFF_PERCENT) {
            let mut own = Rng(rng.next());
            let mut t = Self::generate(&mut own, 0);
            t.name = format!("dev-{slot}");
            t.remote = false;
            t.host.clear();
            t.ecosystem = 1;
            t.package = format!("@dev{endpoint}/mcp-{slot}");
            t.version.clear();
            t.pinned = false;
            return t;
        }
        let index = zipf_index(rng.next());
        Self::generate(&mut Rng(seed ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)), index)
    }

    fn generate(rng: &mut Rng, index: usize) -> Self {
        let remote = rng.chance(20);
        let service = if rng.chance(75) { SERVICES[rng.popular(SERVICES.len() as u64) as usize] } else { "" };
        let (ecosystem, package, version, pinned, host) = if remote {
            (0, String::new(), String::new(), false, format!("mcp{}.{}.example.com", rng.popular(40), service))
        } else {
            let ecosystem = [1, 1, 1, 2, 2, 3][rng.below(6) as usize];
            let package = format!("@mcp/server-{}", rng.popular(600));
            let pinned = rng.chance(55);
            let version = if pinned { format!("1.{}.{}", rng.below(8), rng.below(12)) } else { String::new() };
            (ecosystem, package, version, pinned, String::new())
        };
        let credential_count = match rng.below(10) {
            0..6 => 0,
            6..9 => 1,
            _ => 2,
        };
        let credentials = (0..credential_count)
            .map(|c| {
                let provider = PROVIDERS[rng.popular(PROVIDERS.len() as u64) as usize];
                let location = match rng.below(10) {
                    0..6 => format!("env:{}_TOKEN_{c}", provider.to_uppercase()),
                    6..=7 if c == 0 => "header:Authorization".to_string(),
                    6..=7 => format!("header:X-Api-Key-{c}"),
                    9 if c == 0 => "url".to_string(),
                    _ => format!("arg:{}", 2 + c),
                };
                (location, provider)
            })
            .collect();
        let advisory = format!("GHSA-{:04x}-{:04x}-mcp0", rng.popular(300), rng.below(4));
        let name = if index < SERVICES.len() && !service.is_empty() {
            service.to_string()
        } else {
            format!("{}-{index}", if service.is_empty() { "tool" } else { service })
        };
        ServerTemplate { name, remote, service, ecosystem, package, version, pinned, host, credentials, advisory }
    }
}

/// An index in `0..TEMPLATES` drawn with probability proportional to 1 / (index + 1), from a
/// uniform 64-bit draw (the cumulative weights are computed once).
fn zipf_index(draw: u64) -> usize {
    static CUMULATIVE: std::sync::OnceLock<Vec<f64>> = std::sync::OnceLock::new();
    let cumulative = CUMULATIVE.get_or_init(|| {
        let mut total = 0.0;
        (1..=TEMPLATES)
            .map(|k| {
                total += 1.0 / k as f64;
                total
            })
            .collect()
    });
    let total = cumulative.last().copied().unwrap_or(1.0);
    let u = (draw >> 11) as f64 / (1u64 << 53) as f64 * total;
    cumulative.partition_point(|&c| c <= u).min(TEMPLATES - 1)
}

/// The columns of a seeded server row that its stored `muster.v1.McpServer` repeats.
struct ServerFacts<'a> {
    id: &'a str,
    name: &'a str,
    client: &'a str,
    user: &'a str,
    service: &'a str,
    ecosystem: i64,
    package: &'a str,
    version: &'a str,
    pinned: bool,
    host: &'a str,
}

/// The server as an agent would have sent it, agreeing with the row's columns (what the policy
/// dry run reads); credentials and findings are added by the caller.
fn server_detail(f: ServerFacts<'_>) -> pb::McpServer {
    let remote = !f.host.is_empty();
    let (command, args) = match f.ecosystem {
        _ if remote => (String::new(), Vec::new()),
        2 => ("uvx".to_string(), vec![f.package.to_string()]),
        3 => ("docker".to_string(), vec!["run".into(), "-i".into(), "--rm".into(), f.package.to_string()]),
        _ => ("npx".to_string(), vec!["-y".into(), f.package.to_string()]),
    };
    pb::McpServer {
        id: f.id.to_string(),
        name: f.name.to_string(),
        client: f.client.to_string(),
        user: f.user.to_string(),
        scope: pb::Scope::User as i32,
        config_path: format!("/home/{}/.{}/mcp.json", f.user, f.client),
        transport: if remote { pb::Transport::Http as i32 } else { pb::Transport::Stdio as i32 },
        command,
        args,
        url: if remote { format!("https://{}/mcp", f.host) } else { String::new() },
        endpoint: remote.then(|| pb::RemoteEndpoint {
            scheme: "https".into(),
            host: f.host.to_string(),
            path: "/mcp".into(),
            ..Default::default()
        }),
        service: f.service.to_string(),
        package: (!remote).then(|| pb::Package {
            ecosystem: i32::try_from(f.ecosystem).unwrap_or(0),
            name: f.package.to_string(),
            version: (!f.version.is_empty()).then(|| f.version.to_string()),
            pinned: f.pinned,
        }),
        ..Default::default()
    }
}
