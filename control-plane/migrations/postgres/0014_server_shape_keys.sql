-- A shape key per server, for the policy dry run. Forward-only.
--
-- The key is a digest of the server's *shape* (what rule conditions see: muster_policy's
-- shape_bytes, without id, user, paths, fingerprints...), prefixed by muster_policy's
-- SHAPE_VERSION. Ingest writes it with the server row in the same transaction; the dry run
-- reads narrow rows and decodes one stored server per distinct key. NULL: not computed yet.
-- The row in data_backfills makes the next start compute the keys of existing rows (the
-- digest needs the policy crate, so SQL cannot). A key whose version byte is not the current
-- one is treated as absent by the dry run (that server is decoded on its own).
ALTER TABLE servers ADD COLUMN shape_key BYTEA;
INSERT INTO data_backfills (name) VALUES ('server_shape_keys');
