-- Drill-down (issue 15): the server list and the credential locations page by (endpoint id,
-- server id[, location]) under each exact filter, so each filter gets an index that ends in that
-- order and a page is one index range however large the fleet. `servers_endpoint_host` is
-- replaced by a longer index with the same leading columns. The MCP server processes of the last report that
-- sent processes are kept with the host (length-delimited muster.v1.McpProcess messages, as the
-- agent sent them: masked command lines, listeners), for the endpoint page.

ALTER TABLE hosts ADD COLUMN processes BYTEA;

CREATE INDEX servers_service_order ON servers (service, agent_id, server_id);
-- The ecosystem trails: a package name almost always belongs to one ecosystem, and the filter
-- without it must still read rows in page order.
CREATE INDEX servers_package_order ON servers (package_name, agent_id, server_id, package_ecosystem);
CREATE INDEX servers_package_version_order
    ON servers (package_name, package_version, agent_id, server_id, package_ecosystem);
CREATE INDEX servers_client_order ON servers (client, agent_id, server_id);
CREATE INDEX servers_user_order ON servers (user_name, agent_id, server_id);
DROP INDEX servers_endpoint_host;
CREATE INDEX servers_endpoint_host_order ON servers (endpoint_host, agent_id, server_id);
-- A provider's credentials, and a provider's of one kind (a kind is a provider's: `github-pat`);
-- the source (literal, reference) is checked on the rows.
CREATE INDEX credentials_provider_order ON credentials (provider, agent_id, server_id, location);
CREATE INDEX credentials_kind_order ON credentials (provider, kind, agent_id, server_id, location);
