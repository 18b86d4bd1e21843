-- Policy exception requests (SQLite). Forward-only.
--
-- A developer (through the API; later the tray) asks for a rule to be lifted for a server, an
-- endpoint or a user; an admin approves it with an expiry (published as an `[[exception]]` of a
-- new policy version, whose number is kept here) or denies it. Rows are never deleted.
CREATE TABLE policy_exception_requests (
    id TEXT PRIMARY KEY NOT NULL,
    requested_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    -- Comma-separated rule ids, or `*`.
    rules TEXT NOT NULL,
    -- What the exception would cover; empty means "any" (at least one is set).
    agent_id TEXT NOT NULL,
    server_id TEXT NOT NULL,
    user_name TEXT NOT NULL,
    reason TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'denied')),
    decided_by TEXT NOT NULL DEFAULT '',
    decided_at INTEGER,
    note TEXT NOT NULL DEFAULT '',
    -- For an approval: when the exception ends, and the policy version that carries it.
    expires_at INTEGER,
    policy_version INTEGER
);
CREATE INDEX policy_exception_requests_state ON policy_exception_requests (state, created_at);
