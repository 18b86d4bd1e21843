-- Signed data bundles (SQLite). Forward-only.
--
-- Every data bundle ever published (the service catalog and the advisory bundle agents analyse
-- with, docs/adr/0016-signed-data-bundles.md): the JSON document that is signed and pushed over
-- Policy.Watch, who published it, when and why. A bundle is never updated once written; the
-- current bundle is the one with the highest version (Unix seconds of publication, strictly
-- increasing), so agents can refuse any bundle not newer than the one they hold.
CREATE TABLE data_bundles (
    version INTEGER PRIMARY KEY NOT NULL CHECK (version > 0),
    -- The document as signed (JSON: format, version and the parts it carries).
    document BLOB NOT NULL,
    -- SHA-256 of `document`, lower-case hex.
    digest TEXT NOT NULL,
    -- The parts the document carries, comma-separated (`services,advisories`).
    parts TEXT NOT NULL,
    author TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
