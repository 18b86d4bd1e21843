-- Hashes of the parts of a host's state that full snapshots repeat unchanged (OS users, config
-- sources, host-wide findings). Ingest compares a snapshot's part with the stored hash and leaves
-- the rows alone when they match. An empty hash means "unknown": the next full snapshot rewrites
-- that part. Deltas that edit sources reset it; deltas that replace users or findings store the
-- hash of what they wrote.

ALTER TABLE hosts ADD COLUMN users_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE hosts ADD COLUMN sources_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE hosts ADD COLUMN findings_hash TEXT NOT NULL DEFAULT '';
