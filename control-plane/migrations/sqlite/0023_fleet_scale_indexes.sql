-- Two lists that missed at fleet scale (the 100,000-endpoint page bench, docs/benchmarks.md,
-- "Dashboard pages", session 9). Forward-only.
--
-- The findings list filters users case-insensitively (`LOWER(f.eff_user) = ?`), which the plain
-- (eff_user, severity, id) index cannot serve: SQLite walked the severity index over every
-- finding, 360-850 ms for a user with four. The index is on the folded name instead.
DROP INDEX findings_user;
CREATE INDEX findings_user ON findings (LOWER(eff_user), severity, id);

-- The compliance page's per-rule counts group every action of the listed rules by (rule, action,
-- state) and count servers and distinct endpoints. With only (rule_id, state, agent_id) the action
-- came from the table row by row and the groups from a temporary sort: 216 ms for 133,000 actions
-- (SQLite). This index covers the statement in group order: 35 ms.
CREATE INDEX policy_compliance_actions_rule_action ON policy_compliance_actions (rule_id, action, state, agent_id);

-- The agents list filtered by status walked the hostname index checking each agent's status: with
-- no revoked agent, all 100,000 (127 ms through HTTP, SQLite). With the status first, the filter
-- is one range in page order.
CREATE INDEX agents_status ON agents (status, hostname, id);
