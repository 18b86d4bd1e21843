-- Endpoint search (`q`: substring of the hostname or of a user name; `user`: one member of the
-- user list) is a LIKE '%text%' over endpoint_summary. A B-tree cannot serve a leading wildcard,
-- so without these the search scans all 100,000 summaries (~200 ms at fleet scale, see
-- docs/benchmarks.md). pg_trgm's GIN indexes answer LIKE '%text%' (3+ characters) directly.
-- pg_trgm ships with PostgreSQL's contrib and is a trusted extension (PostgreSQL 13+): the
-- database owner may create it without superuser rights.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX endpoint_summary_hostname_trgm ON endpoint_summary USING gin (hostname_key gin_trgm_ops);
CREATE INDEX endpoint_summary_users_trgm ON endpoint_summary USING gin (users_key gin_trgm_ops);
