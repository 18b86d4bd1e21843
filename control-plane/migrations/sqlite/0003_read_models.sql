-- Read models for the dashboard and API (SQLite). Forward-only.
-- Facts derived at ingest (service, package, endpoint host, auth) become columns so fleet-wide
-- grouping needs no protobuf decoding; per-endpoint counters live in endpoint_summary (refreshed
-- at ingest); fleet-wide aggregates live in *_rollup tables and fleet_daily (refreshed by the
-- rollup task), so no page scans the 2,000,000-row servers table while a user waits.

ALTER TABLE servers ADD COLUMN service TEXT NOT NULL DEFAULT '';
ALTER TABLE servers ADD COLUMN package_ecosystem INTEGER NOT NULL DEFAULT 0;
ALTER TABLE servers ADD COLUMN package_name TEXT NOT NULL DEFAULT '';
ALTER TABLE servers ADD COLUMN package_version TEXT NOT NULL DEFAULT '';
ALTER TABLE servers ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE servers ADD COLUMN endpoint_host TEXT NOT NULL DEFAULT '';
ALTER TABLE servers ADD COLUMN auth TEXT NOT NULL DEFAULT 'none';

ALTER TABLE findings ADD COLUMN service TEXT NOT NULL DEFAULT '';
ALTER TABLE findings ADD COLUMN eff_client TEXT NOT NULL DEFAULT '';
ALTER TABLE findings ADD COLUMN eff_user TEXT NOT NULL DEFAULT '';
ALTER TABLE findings ADD COLUMN advisory TEXT NOT NULL DEFAULT '';
CREATE INDEX findings_severity ON findings (severity, id);
CREATE INDEX findings_owasp ON findings (owasp, severity, id);
CREATE INDEX findings_service ON findings (service, severity, id);
CREATE INDEX findings_client ON findings (eff_client, severity, id);
CREATE INDEX findings_user ON findings (eff_user, severity, id);

-- Acknowledged or waived findings, keyed by what survives re-ingest (finding rows do not).
CREATE TABLE finding_states (
    agent_id TEXT NOT NULL REFERENCES agents (id),
    server_id TEXT NOT NULL,
    finding_id TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('acknowledged', 'waived')),
    reason TEXT NOT NULL,
    expires_at INTEGER,
    decided_by TEXT NOT NULL,
    decided_at INTEGER NOT NULL,
    PRIMARY KEY (agent_id, server_id, finding_id)
);
CREATE INDEX finding_states_expiry ON finding_states (expires_at);

CREATE TABLE endpoint_summary (
    agent_id TEXT PRIMARY KEY NOT NULL REFERENCES agents (id),
    hostname TEXT NOT NULL,
    -- Lower-case hostname, for search and sort.
    hostname_key TEXT NOT NULL,
    os INTEGER NOT NULL,
    -- ",alice,bob," (lower-case), for user search and client filter without a join.
    users_key TEXT NOT NULL,
    clients_key TEXT NOT NULL,
    user_count INTEGER NOT NULL,
    client_count INTEGER NOT NULL,
    server_count INTEGER NOT NULL,
    literal_secrets INTEGER NOT NULL,
    findings_open INTEGER NOT NULL,
    findings_high INTEGER NOT NULL,
    findings_critical INTEGER NOT NULL,
    max_severity INTEGER NOT NULL,
    -- max_severity * 1,000,000 + findings_open: one keyset column for "sort by findings".
    risk INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX endpoint_summary_hostname ON endpoint_summary (hostname_key, agent_id);
CREATE INDEX endpoint_summary_risk ON endpoint_summary (risk, agent_id);
CREATE INDEX endpoint_summary_os ON endpoint_summary (os, hostname_key, agent_id);
CREATE INDEX agents_last_seen ON agents (last_seen_at, id);
CREATE INDEX agents_hostname ON agents (hostname, id);
CREATE INDEX agents_version ON agents (agent_version);

CREATE INDEX change_events_kind ON change_events (kind, id);
CREATE INDEX change_events_client ON change_events (client, id);
CREATE INDEX servers_service ON servers (service, agent_id, user_name, auth);
CREATE INDEX servers_package ON servers (package_ecosystem, package_name, package_version, pinned, agent_id);
CREATE INDEX servers_endpoint_host ON servers (endpoint_host, agent_id);
CREATE INDEX credentials_literal ON credentials (source, provider, kind);

-- One row per UTC day: the overview trend. Today's row is overwritten by each rollup.
CREATE TABLE fleet_daily (
    day INTEGER PRIMARY KEY NOT NULL,
    endpoints INTEGER NOT NULL,
    endpoints_online INTEGER NOT NULL,
    servers INTEGER NOT NULL,
    clients INTEGER NOT NULL,
    services INTEGER NOT NULL,
    literal_secrets INTEGER NOT NULL,
    findings_high INTEGER NOT NULL,
    findings_critical INTEGER NOT NULL,
    taken_at INTEGER NOT NULL
);

CREATE TABLE service_rollup (
    service TEXT PRIMARY KEY NOT NULL,
    servers INTEGER NOT NULL,
    endpoints INTEGER NOT NULL,
    users INTEGER NOT NULL,
    auth_oauth INTEGER NOT NULL,
    auth_reference INTEGER NOT NULL,
    auth_literal INTEGER NOT NULL,
    auth_none INTEGER NOT NULL
);

-- kind 'package' (ecosystem + name) or 'remote' (endpoint host, ecosystem 0).
CREATE TABLE package_rollup (
    kind TEXT NOT NULL CHECK (kind IN ('package', 'remote')),
    ecosystem INTEGER NOT NULL,
    name TEXT NOT NULL,
    servers INTEGER NOT NULL,
    endpoints INTEGER NOT NULL,
    pinned_servers INTEGER NOT NULL,
    -- Newline-separated, sorted.
    versions TEXT NOT NULL,
    advisories TEXT NOT NULL,
    PRIMARY KEY (kind, ecosystem, name)
);
CREATE INDEX package_rollup_rank ON package_rollup (servers, kind, ecosystem, name);

CREATE TABLE secret_rollup (
    provider TEXT NOT NULL,
    kind TEXT NOT NULL,
    location_type TEXT NOT NULL,
    secrets INTEGER NOT NULL,
    endpoints INTEGER NOT NULL,
    PRIMARY KEY (provider, kind, location_type)
);

-- Fingerprints seen on two or more hosts.
CREATE TABLE fingerprint_rollup (
    fingerprint TEXT PRIMARY KEY NOT NULL,
    provider TEXT NOT NULL,
    kind TEXT NOT NULL,
    hosts INTEGER NOT NULL,
    servers INTEGER NOT NULL
);
CREATE INDEX fingerprint_rollup_rank ON fingerprint_rollup (hosts, fingerprint);

CREATE TABLE rollup_state (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    refreshed_at INTEGER NOT NULL
);
