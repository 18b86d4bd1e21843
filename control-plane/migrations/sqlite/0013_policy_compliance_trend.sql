-- Compliance read paths and their hourly trend (SQLite). Forward-only.
--
-- Per-state action counts on each endpoint's row, written with the row at ingest, so the
-- endpoint list filters by state and the fleet totals sum one row per endpoint instead of
-- scanning every action. (0013, not 0012: another branch took 0012.)
ALTER TABLE policy_compliance ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
ALTER TABLE policy_compliance ADD COLUMN applied INTEGER NOT NULL DEFAULT 0;
ALTER TABLE policy_compliance ADD COLUMN failed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE policy_compliance ADD COLUMN excepted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE policy_compliance ADD COLUMN not_in_force INTEGER NOT NULL DEFAULT 0;
CREATE INDEX policy_compliance_version ON policy_compliance (applied_version);
-- Per-rule counts (grouped by rule and state) and the rule filter of the endpoint list.
CREATE INDEX policy_compliance_actions_rule ON policy_compliance_actions (rule_id, state, agent_id);

-- One row per hour: the fleet's compliance as the rollup task last counted it in that hour.
CREATE TABLE policy_compliance_trend (
    -- Start of the hour, unix seconds (UTC).
    hour INTEGER PRIMARY KEY NOT NULL,
    -- The current published version when counted (0: none).
    policy_version INTEGER NOT NULL,
    -- Endpoints whose agent reported a policy state.
    endpoints INTEGER NOT NULL,
    -- Of those, the ones whose decisions come from policy_version.
    on_current INTEGER NOT NULL,
    -- Of those, the ones with at least one violation (an action no exception lifts).
    violating INTEGER NOT NULL,
    -- Actions by state across the fleet.
    pending INTEGER NOT NULL,
    applied INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    excepted INTEGER NOT NULL,
    not_in_force INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
