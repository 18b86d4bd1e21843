-- Activity (issue 15): finding events, what a `changed` event changed, time ranges
-- (PostgreSQL). Forward-only.
--
-- `kind` gains `finding_appeared` and `finding_resolved`. New columns: the finding of a finding
-- event (`finding_id`, `severity`; never its message) and `detail`, the JSON list of field
-- changes of a `changed` event (names and vocabulary only, see `ingest::activity`). The feed
-- pages by (at, id), newest first, so a time range reads only its own rows.
ALTER TABLE change_events DROP CONSTRAINT change_events_kind_check;
ALTER TABLE change_events ADD CONSTRAINT change_events_kind_check
    CHECK (kind IN ('appeared', 'changed', 'disappeared', 'finding_appeared', 'finding_resolved'));
ALTER TABLE change_events ADD COLUMN finding_id TEXT NOT NULL DEFAULT '';
ALTER TABLE change_events ADD COLUMN severity BIGINT NOT NULL DEFAULT 0;
ALTER TABLE change_events ADD COLUMN detail TEXT NOT NULL DEFAULT '';
DROP INDEX change_events_kind;
DROP INDEX change_events_client;
CREATE INDEX change_events_at ON change_events (at, id);
CREATE INDEX change_events_agent_at ON change_events (agent_id, at, id);
CREATE INDEX change_events_kind ON change_events (kind, at, id);
CREATE INDEX change_events_client ON change_events (client, at, id);

-- One host, one name: an agent row takes the name of the host its agent scans (ingest keeps it
-- so from now on).
UPDATE agents SET hostname = h.hostname FROM hosts h
WHERE h.agent_id = agents.id AND h.hostname <> '' AND h.hostname <> agents.hostname;
