-- Every finding gets its own decision key. Until now a decision (acknowledge, waive) was keyed by
-- (agent_id, server_id, finding_id), which host-wide findings (server_id '': the lethal trifecta
-- per client and user, a secret reused across servers, a shadow process) share, so waiving one
-- client's finding waived every client's. `subject` tells findings with the same three apart:
-- for a host-wide finding its finding uid (computed in Rust at ingest), for a package advisory
-- finding its advisory id, empty for other server findings (the server identifies them).
--
-- Host-wide rows get their subject from a Rust backfill at the next start (the same SHA-256 as
-- the SQLite side, computed in one place): it copies each legacy host-wide decision onto every
-- finding it covered, so nothing changes on screen, and from then on each is decided on its own.
-- The row in data_backfills marks that work as pending.

ALTER TABLE findings ADD COLUMN subject TEXT NOT NULL DEFAULT '';
UPDATE findings SET subject = advisory
 WHERE server_id <> '' AND finding_id IN ('MUSTER-PKG-VULNERABLE', 'MUSTER-PKG-MALICIOUS');

ALTER TABLE finding_states ADD COLUMN subject TEXT NOT NULL DEFAULT '';
ALTER TABLE finding_states DROP CONSTRAINT finding_states_pkey;
ALTER TABLE finding_states ADD PRIMARY KEY (agent_id, server_id, finding_id, subject);

-- A server's advisory decision covered all its advisories: each current one keeps it.
INSERT INTO finding_states (agent_id, server_id, finding_id, subject, state, reason, expires_at,
    decided_by, decided_at)
SELECT DISTINCT st.agent_id, st.server_id, st.finding_id, f.subject, st.state, st.reason, st.expires_at,
       st.decided_by, st.decided_at
  FROM finding_states st
  JOIN findings f ON f.agent_id = st.agent_id AND f.server_id = st.server_id AND f.finding_id = st.finding_id
 WHERE st.subject = '' AND st.server_id <> '' AND f.subject <> ''
ON CONFLICT DO NOTHING;
DELETE FROM finding_states
 WHERE subject = '' AND server_id <> '' AND finding_id IN ('MUSTER-PKG-VULNERABLE', 'MUSTER-PKG-MALICIOUS');

CREATE TABLE data_backfills (
    name TEXT PRIMARY KEY NOT NULL
);
INSERT INTO data_backfills (name) VALUES ('finding_subjects');
