-- Activity (issue 15): finding events, what a `changed` event changed, time ranges (SQLite).
-- Forward-only.
--
-- `kind` gains `finding_appeared` and `finding_resolved`; SQLite cannot alter a CHECK, so the
-- table is rebuilt with its rows and ids. New columns: the finding of a finding event
-- (`finding_id`, `severity`; never its message) and `detail`, the JSON list of field changes of
-- a `changed` event (names and vocabulary only, see `ingest::activity`). The feed pages by
-- (at, id), newest first, so a time range reads only its own rows.
CREATE TABLE change_events_0016 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id TEXT NOT NULL REFERENCES agents (id),
    server_id TEXT NOT NULL,
    server_name TEXT NOT NULL,
    client TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('appeared', 'changed', 'disappeared', 'finding_appeared', 'finding_resolved')),
    sequence INTEGER NOT NULL,
    at INTEGER NOT NULL,
    finding_id TEXT NOT NULL DEFAULT '',
    severity INTEGER NOT NULL DEFAULT 0,
    detail TEXT NOT NULL DEFAULT ''
);
INSERT INTO change_events_0016 (id, agent_id, server_id, server_name, client, kind, sequence, at)
    SELECT id, agent_id, server_id, server_name, client, kind, sequence, at FROM change_events;
DROP TABLE change_events;
ALTER TABLE change_events_0016 RENAME TO change_events;
CREATE INDEX change_events_agent ON change_events (agent_id, id);
CREATE INDEX change_events_at ON change_events (at, id);
CREATE INDEX change_events_agent_at ON change_events (agent_id, at, id);
CREATE INDEX change_events_kind ON change_events (kind, at, id);
CREATE INDEX change_events_client ON change_events (client, at, id);

-- One host, one name: an agent row takes the name of the host its agent scans (ingest keeps it
-- so from now on).
UPDATE agents SET hostname = (SELECT h.hostname FROM hosts h WHERE h.agent_id = agents.id)
WHERE EXISTS (SELECT 1 FROM hosts h WHERE h.agent_id = agents.id AND h.hostname <> '' AND h.hostname <> agents.hostname);
