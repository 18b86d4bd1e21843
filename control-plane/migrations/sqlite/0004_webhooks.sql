-- Webhooks on new high and critical findings (SQLite). Forward-only.
-- `secret` is the HMAC key shared with the receiver: stored as given (encryption at rest is a
-- later change), never logged and never returned by a list call's Debug output.

CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY NOT NULL,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    -- Lowest finding severity (muster.v1.Severity) that is sent.
    min_severity INTEGER NOT NULL,
    enabled INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

-- One row per attempt to deliver one event to one endpoint.
CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('delivered', 'retrying', 'failed')),
    response_code INTEGER,
    latency_ms INTEGER NOT NULL,
    error TEXT NOT NULL,
    attempted_at INTEGER NOT NULL,
    next_retry_at INTEGER
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);

-- High and critical findings already announced, per agent, by a stable key; a finding whose key
-- is absent here is new. Keys of findings that went away are removed, so a finding that comes
-- back is announced again.
CREATE TABLE notified_findings (
    agent_id TEXT NOT NULL REFERENCES agents (id),
    finding_key TEXT NOT NULL,
    notified_at INTEGER NOT NULL,
    PRIMARY KEY (agent_id, finding_key)
);
