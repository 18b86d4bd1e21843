-- Initial schema (PostgreSQL). Forward-only: later changes are new files, never edits to this one.
-- Times are unix seconds. Credential rows hold fingerprints only, never secret values.

CREATE TABLE agents (
    id TEXT PRIMARY KEY NOT NULL,
    hostname TEXT NOT NULL,
    cert_serial TEXT NOT NULL,
    cert_not_after BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    agent_version TEXT NOT NULL,
    enrolled_at BIGINT NOT NULL,
    enrolled_with_token TEXT NOT NULL,
    last_seen_at BIGINT,
    last_sequence BIGINT NOT NULL DEFAULT 0,
    revoked_at BIGINT
);

CREATE TABLE enrollment_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    max_uses BIGINT NOT NULL,
    uses BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE hosts (
    agent_id TEXT PRIMARY KEY NOT NULL REFERENCES agents (id),
    hostname TEXT NOT NULL,
    os BIGINT NOT NULL,
    os_version TEXT NOT NULL,
    arch TEXT NOT NULL,
    machine_id TEXT NOT NULL,
    scanned_root TEXT NOT NULL,
    scanned_at BIGINT NOT NULL,
    process_count BIGINT NOT NULL,
    problem_count BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE os_users (
    agent_id TEXT NOT NULL REFERENCES agents (id),
    name TEXT NOT NULL,
    uid BIGINT,
    home TEXT NOT NULL,
    PRIMARY KEY (agent_id, name)
);

CREATE TABLE clients (
    agent_id TEXT NOT NULL REFERENCES agents (id),
    client TEXT NOT NULL,
    first_seen_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    PRIMARY KEY (agent_id, client)
);

CREATE TABLE config_sources (
    agent_id TEXT NOT NULL REFERENCES agents (id),
    path TEXT NOT NULL,
    client TEXT NOT NULL,
    scope BIGINT NOT NULL,
    format BIGINT NOT NULL,
    user_name TEXT NOT NULL,
    project TEXT NOT NULL,
    mtime_unix BIGINT,
    owner TEXT NOT NULL,
    mode BIGINT,
    size BIGINT NOT NULL,
    client_accepts BOOLEAN NOT NULL,
    server_count BIGINT NOT NULL,
    PRIMARY KEY (agent_id, path)
);

CREATE TABLE servers (
    agent_id TEXT NOT NULL REFERENCES agents (id),
    server_id TEXT NOT NULL,
    name TEXT NOT NULL,
    client TEXT NOT NULL,
    user_name TEXT NOT NULL,
    scope BIGINT NOT NULL,
    config_path TEXT NOT NULL,
    project TEXT NOT NULL,
    transport BIGINT NOT NULL,
    command TEXT NOT NULL,
    url TEXT NOT NULL,
    disabled BOOLEAN NOT NULL,
    content_hash TEXT NOT NULL,
    detail BYTEA NOT NULL,
    first_seen_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    PRIMARY KEY (agent_id, server_id)
);

CREATE TABLE credentials (
    agent_id TEXT NOT NULL REFERENCES agents (id),
    server_id TEXT NOT NULL,
    location TEXT NOT NULL,
    kind TEXT NOT NULL,
    source BIGINT NOT NULL,
    fingerprint TEXT NOT NULL,
    provider TEXT NOT NULL,
    reference TEXT NOT NULL,
    PRIMARY KEY (agent_id, server_id, location)
);
CREATE INDEX credentials_fingerprint ON credentials (fingerprint);

CREATE TABLE findings (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agent_id TEXT NOT NULL REFERENCES agents (id),
    -- Empty for findings about a client or user as a whole.
    server_id TEXT NOT NULL,
    finding_id TEXT NOT NULL,
    severity BIGINT NOT NULL,
    owasp TEXT NOT NULL,
    message TEXT NOT NULL,
    client TEXT NOT NULL,
    user_name TEXT NOT NULL,
    server_ids TEXT NOT NULL
);
CREATE INDEX findings_agent ON findings (agent_id, server_id);

CREATE TABLE change_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agent_id TEXT NOT NULL REFERENCES agents (id),
    server_id TEXT NOT NULL,
    server_name TEXT NOT NULL,
    client TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('appeared', 'changed', 'disappeared')),
    sequence BIGINT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX change_events_agent ON change_events (agent_id, id);
