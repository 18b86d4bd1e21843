-- Keeps the dialects' migration numbers aligned: PostgreSQL 0006 adds pg_trgm indexes for the
-- endpoint search. SQLite's equivalent (an FTS5 trigram table kept in step with
-- endpoint_summary) is not built yet; its search still scans the summaries (docs/benchmarks.md,
-- "Known gaps").
SELECT 1;
