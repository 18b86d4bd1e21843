-- What each agent reports about data bundles (PostgreSQL). Forward-only.
--
-- Carried by the policy part of a report (muster.v1.PolicyReport fields 6-8,
-- docs/adr/0021-mcp-registry-import.md): the data bundle version the agent analyses with (its
-- built-in data's version when it holds none) and the last bundle it refused with the agent's
-- own reason. 0 and '' for agents that predate the fields. Written with the rest of the row by
-- ingest; read by the data bundle history (which agents refused which version and why).
ALTER TABLE policy_compliance ADD COLUMN data_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE policy_compliance ADD COLUMN data_refused_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE policy_compliance ADD COLUMN data_refusal TEXT NOT NULL DEFAULT '';
CREATE INDEX policy_compliance_data_refused ON policy_compliance (data_refused_version) WHERE data_refused_version > 0;
