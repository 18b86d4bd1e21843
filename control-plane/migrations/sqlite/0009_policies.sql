-- Remediation policies (SQLite). Forward-only.
--
-- Every version ever written is kept: the text as written, and the canonical document the
-- control plane signs and pushes (with its `revision` and `published_at` stamped in). A version
-- is never updated once written. The current policy is the published version with the highest
-- number; a rollback publishes an old version's text again as a new number, so the current
-- version only ever grows and an agent can refuse anything not newer than what it holds.
CREATE TABLE policy_versions (
    version INTEGER PRIMARY KEY NOT NULL CHECK (version > 0),
    name TEXT NOT NULL,
    -- The file as the author wrote it (comments and layout kept).
    source_text TEXT NOT NULL,
    -- `muster_policy::Bundle::canonical_bytes` of the stamped document.
    canonical BLOB NOT NULL,
    -- SHA-256 of `canonical`, lower-case hex.
    digest TEXT NOT NULL,
    author TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    -- NULL while the version is a draft (never published).
    published_at INTEGER,
    -- For a rollback: the version whose text this one republishes.
    rollback_of INTEGER REFERENCES policy_versions (version)
);
CREATE INDEX policy_versions_published ON policy_versions (version) WHERE published_at IS NOT NULL;

-- Per endpoint, what its last report said about policies (filled in the ingest transaction).
CREATE TABLE policy_compliance (
    agent_id TEXT PRIMARY KEY NOT NULL REFERENCES agents (id),
    -- The version the agent's decisions come from (0: it holds no policy).
    applied_version INTEGER NOT NULL,
    -- The highest version the agent received and verified over Policy.Watch.
    acked_version INTEGER NOT NULL,
    evaluated_at INTEGER NOT NULL,
    -- Violations not lifted by an exception.
    violations INTEGER NOT NULL,
    -- Why the agent refused the last bundle it was offered (empty when it refused none).
    refusal TEXT NOT NULL,
    reported_at INTEGER NOT NULL
);

-- Per endpoint, server and rule: the action a violation asks for and its state.
CREATE TABLE policy_compliance_actions (
    agent_id TEXT NOT NULL REFERENCES agents (id),
    server_id TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    -- `notify`, `require-approval`, `deny-tools`, `quarantine` or `block`.
    action TEXT NOT NULL,
    -- muster.v1.PolicyActionState as a number.
    state INTEGER NOT NULL,
    -- The agent's reason for a failed action, the exception id for an excepted one.
    detail TEXT NOT NULL,
    -- When a grace period ends (NULL: due now).
    due_at INTEGER,
    PRIMARY KEY (agent_id, server_id, rule_id)
);
