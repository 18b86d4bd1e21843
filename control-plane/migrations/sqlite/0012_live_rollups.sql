-- Live rollups: the fleet-wide rollups are kept up to date in each ingest transaction (every
-- report adds the difference between what its endpoint contributed before and after) instead of
-- being rewritten by a periodic task, so Services, Servers, Credentials and the Overview show a
-- report as soon as it is stored and always agree.
--
-- A version list and an advisory list can only be kept up to date by counting, so each gets a
-- table of counts; package_rollup.versions and .advisories are rewritten from them for the
-- packages a report touches. fingerprint_rollup now holds every fingerprint (hosts >= 1) so a
-- fingerprint seen on a second host is one increment, and reuse within one host can be listed.
--
-- The rows in data_backfills make the next start rebuild every rollup once from the stored
-- inventory (in Rust, in one transaction), after which ingest keeps them.

CREATE TABLE package_version_rollup (
    ecosystem INTEGER NOT NULL,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    servers INTEGER NOT NULL,
    PRIMARY KEY (ecosystem, name, version)
);

CREATE TABLE package_advisory_rollup (
    ecosystem INTEGER NOT NULL,
    name TEXT NOT NULL,
    advisory TEXT NOT NULL,
    endpoints INTEGER NOT NULL,
    PRIMARY KEY (ecosystem, name, advisory)
);

CREATE INDEX fingerprint_rollup_servers ON fingerprint_rollup (servers, fingerprint);

INSERT INTO data_backfills (name) VALUES ('live_rollups');
