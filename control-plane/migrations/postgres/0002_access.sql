-- Dashboard and API access (postgres): local and single-sign-on accounts, browser sessions, API tokens
-- and the audit log. Forward-only. Session ids and API tokens are stored only as SHA-256 hashes;
-- passwords only as argon2id PHC strings. Times are unix seconds.

CREATE TABLE users (
    username TEXT PRIMARY KEY NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'analyst', 'viewer')),
    -- 'local' accounts have a password hash; 'oidc' accounts never do.
    source TEXT NOT NULL CHECK (source IN ('local', 'oidc')),
    password_hash TEXT,
    created_at BIGINT NOT NULL,
    disabled_at BIGINT
);

CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY NOT NULL,
    username TEXT NOT NULL REFERENCES users (username),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    source_addr TEXT NOT NULL,
    revoked_at BIGINT
);

CREATE INDEX sessions_by_user ON sessions (username);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'analyst', 'viewer')),
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);

CREATE TABLE audit_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    source_addr TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('success', 'denied', 'failure')),
    detail TEXT NOT NULL
);

CREATE INDEX audit_log_by_time ON audit_log (at);
