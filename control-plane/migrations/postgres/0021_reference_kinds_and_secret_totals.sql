-- Issue 15, labels and counts. Forward-only.
--
-- credentials.reference_kind: where a referenced secret is kept, the wire number of
-- muster.v1.ReferenceKind (1 environment, 2 secret manager, 3 prompt, 4 file; 0 for literals and
-- for references from agents older than the field, shown as "kind unknown").
--
-- servers.auth gains two words: env_reference and secret_manager ('reference' stays for prompts,
-- files and references of unknown kind); service_rollup counts them per service.
--
-- secret_totals: one row, the fleet's literal secrets counted two ways, kept live in the ingest
-- transaction with the fingerprint rollup (ADR 0024): distinct secrets (fingerprint_rollup rows)
-- and uses (literal credentials). Pages read one row instead of counting.
ALTER TABLE credentials ADD COLUMN reference_kind BIGINT NOT NULL DEFAULT 0;

ALTER TABLE service_rollup ADD COLUMN auth_env_reference BIGINT NOT NULL DEFAULT 0;
ALTER TABLE service_rollup ADD COLUMN auth_secret_manager BIGINT NOT NULL DEFAULT 0;

CREATE TABLE secret_totals (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    distinct_secrets BIGINT NOT NULL,
    uses BIGINT NOT NULL
);
INSERT INTO secret_totals (id, distinct_secrets, uses)
SELECT 1, (SELECT COUNT(*) FROM fingerprint_rollup), (SELECT COUNT(*) FROM credentials WHERE source = 1);
