-- Certificate renewal: the certificate a renewal replaced stays accepted until the agent first
-- calls with the new one; then only the current certificate (agents.cert_serial) is accepted.
-- NULL: no renewal pending. Agents renewed before this migration have none, so from now on only
-- their current certificate works.

ALTER TABLE agents ADD COLUMN previous_cert_serial TEXT;
