-- Remote servers' authentication as the agent verified it (issue 16). Forward-only.
--
-- The agent reports it on each remote endpoint (muster.v1.RemoteEndpoint.auth); ingest stores
-- it in columns so the endpoint page, the API and the endpoint list's filter read it without
-- decoding each server's detail, and the services rollup counts servers per posture.
-- auth_posture is the wire number of muster.v1.AuthPosture (0: the agent did not judge it).
-- (0015, not 0014: another branch took 0014.)
ALTER TABLE servers ADD COLUMN auth_posture INTEGER NOT NULL DEFAULT 0;
ALTER TABLE servers ADD COLUMN auth_verified INTEGER NOT NULL DEFAULT 0;
-- What an oauth_partial server lacks, comma-separated words of the agent's vocabulary.
ALTER TABLE servers ADD COLUMN auth_missing TEXT NOT NULL DEFAULT '';
-- Why the posture is what it is, in the agent's own words ("not probed: offline").
ALTER TABLE servers ADD COLUMN auth_reason TEXT NOT NULL DEFAULT '';
CREATE INDEX servers_auth_posture ON servers (auth_posture, agent_id);

ALTER TABLE service_rollup ADD COLUMN posture_oauth INTEGER NOT NULL DEFAULT 0;
ALTER TABLE service_rollup ADD COLUMN posture_oauth_partial INTEGER NOT NULL DEFAULT 0;
ALTER TABLE service_rollup ADD COLUMN posture_static_key INTEGER NOT NULL DEFAULT 0;
ALTER TABLE service_rollup ADD COLUMN posture_none INTEGER NOT NULL DEFAULT 0;
ALTER TABLE service_rollup ADD COLUMN posture_unknown INTEGER NOT NULL DEFAULT 0;

-- Servers stored before this migration carry their posture only inside 'detail': the next start
-- derives the columns from it (in Rust), then rebuilds the rollups once.
INSERT INTO data_backfills (name) VALUES ('remote_auth_posture');
INSERT INTO data_backfills (name) VALUES ('live_rollups') ON CONFLICT (name) DO NOTHING;
