-- Dashboard and API access (sqlite): local and single-sign-on accounts, browser sessions, API tokens
-- and the audit log. Forward-only. Session ids and API tokens are stored only as SHA-256 hashes;
-- passwords only as argon2id PHC strings. Times are unix seconds.

CREATE TABLE users (
    username TEXT PRIMARY KEY NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'analyst', 'viewer')),
    -- 'local' accounts have a password hash; 'oidc' accounts never do.
    source TEXT NOT NULL CHECK (source IN ('local', 'oidc')),
    password_hash TEXT,
    created_at INTEGER NOT NULL,
    disabled_at INTEGER
);

CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY NOT NULL,
    username TEXT NOT NULL REFERENCES users (username),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    source_addr TEXT NOT NULL,
    revoked_at INTEGER
);

CREATE INDEX sessions_by_user ON sessions (username);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'analyst', 'viewer')),
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at INTEGER
);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    source_addr TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('success', 'denied', 'failure')),
    detail TEXT NOT NULL
);

CREATE INDEX audit_log_by_time ON audit_log (at);
