-- Endpoint tags (muster.v1.Host.tags, set by IT in the agent's config file), for policy
-- targeting and the endpoint filter. Stored as ",a,b," like users_key and clients_key (a tag
-- holds no comma: muster_proto::tags), so one LIKE tests for a whole tag without a join.
-- Hosts reported before this migration have none until their next report.

ALTER TABLE hosts ADD COLUMN tags TEXT NOT NULL DEFAULT ',';
ALTER TABLE endpoint_summary ADD COLUMN tags_key TEXT NOT NULL DEFAULT ',';
