-- Webhooks on new high and critical findings (PostgreSQL). Forward-only.
-- `secret` is the HMAC key shared with the receiver: stored as given (encryption at rest is a
-- later change), never logged and never returned by a list call's Debug output.

CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY NOT NULL,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    -- Lowest finding severity (muster.v1.Severity) that is sent.
    min_severity BIGINT NOT NULL,
    enabled BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);

-- One row per attempt to deliver one event to one endpoint.
CREATE TABLE webhook_deliveries (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('delivered', 'retrying', 'failed')),
    response_code BIGINT,
    latency_ms BIGINT NOT NULL,
    error TEXT NOT NULL,
    attempted_at BIGINT NOT NULL,
    next_retry_at BIGINT
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);

-- High and critical findings already announced, per agent, by a stable key; a finding whose key
-- is absent here is new. Keys of findings that went away are removed, so a finding that comes
-- back is announced again.
CREATE TABLE notified_findings (
    agent_id TEXT NOT NULL REFERENCES agents (id),
    finding_key TEXT NOT NULL,
    notified_at BIGINT NOT NULL,
    PRIMARY KEY (agent_id, finding_key)
);
