//! Data bundles reach real agent processes: a service catalog row published at runtime (not in
//! the agent's built-in catalog) changes what a running agent reports about a server it already
//! knew, without a restart or an upgrade; the agent keeps the bundle across a restart; a
//! malformed bundle is refused at publish and stores nothing. A bundle only the agent refuses is
//! listed with the agent and its reason by `/api/v1/data-bundles`; imported MCP Registry data
//! reaches running agents.

use anyhow::{Context, ensure};
use muster_control_plane::data_bundles::{self, DataParts};
use muster_control_plane::state::unix_now;
use muster_e2e::{Sandbox, eventually, image};
use muster_proto::prost::Message as _;
use muster_proto::v1::DataBundle;

/// A catalog row for a package the built-in catalog does not know.
const ROW: &str = "\n[[server]]\nid = \"e2e-acme-tickets\"\nservice = \"e2e-acme\"\ncategory = \"ticketing\"\nauth = \"api-key\"\nnpm = [\"@example/e2e-acme\"]\nlegs = [\"private_data\"]\nreason = \"reads tickets\"\nsource = \"e2e\"\n";

/// The service the stored inventory of `agent_id` names for server `name` ("" when none).
async fn stored_service(sb: &Sandbox, agent_id: &str, name: &str) -> anyhow::Result<Option<String>> {
    let endpoints = sb.cp()?.store().policy_endpoints("", 100).await?;
    let Some(endpoint) = endpoints.into_iter().find(|e| e.agent_id == agent_id) else { return Ok(None) };
    Ok(endpoint.snapshot.servers.iter().find(|s| s.name == name).map(|s| s.service.clone()))
}

pub async fn published_catalog_changes_detection_on_running_agents(sb: Sandbox) -> anyhow::Result<Sandbox> {
    let mut agent = sb.enrolled_agent("data").await?;
    image::add_cursor_server(&agent.root, "e2e-acme")?;
    agent.spawn()?;
    let id = agent.id()?;
    let id = id.as_str();
    let sbr = &sb;
    let before = eventually("the server reported with the built-in catalog", || async move {
        stored_service(sbr, id, "e2e-acme").await
    })
    .await
    .with_context(|| agent.log())?;
    ensure!(before != "e2e-acme", "the built-in catalog already knows the package");

    // A malformed bundle is refused at publish and changes nothing.
    let cp = sb.cp()?;
    let store = cp.state.store.clone();
    let broken = DataParts { services_toml: Some("version = 1\n[[server]\n".into()), ..DataParts::default() };
    let refused = data_bundles::publish(store.as_ref(), cp.state.as_ref(), &broken, "e2e", "", unix_now()).await;
    ensure!(refused.is_err(), "a malformed catalog was published");
    ensure!(store.current_data_bundle().await?.is_none(), "a refused bundle was stored");

    let mut parts = DataParts::builtin();
    parts.services_toml = parts.services_toml.map(|text| text + ROW);
    let (published, _) =
        data_bundles::publish(store.as_ref(), cp.state.as_ref(), &parts, "e2e", "", unix_now()).await?;
    eventually("the running agent to report the service from the published catalog", || async move {
        Ok(stored_service(sbr, id, "e2e-acme").await?.filter(|s| s == "e2e-acme"))
    })
    .await
    .with_context(|| agent.log())?;
    let held =
        DataBundle::decode(std::fs::read(agent.state_dir.join(muster_agent::data_bundle::BUNDLE_FILE))?.as_slice())?;
    ensure!(held.version == published.version, "the agent holds version {}", held.version);

    // Kept across a restart: the restarted agent analyses with the stored bundle (verified again
    // from its state dir) before its stream could bring anything, so its reports still name the
    // service; with the built-in data it would report the server's guessed service again.
    agent.kill().await?;
    image::add_cursor_server(&agent.root, "e2e-later")?;
    agent.spawn()?;
    eventually("the restarted agent to report the server added while it was down", || async move {
        stored_service(sbr, id, "e2e-later").await
    })
    .await
    .with_context(|| agent.log())?;
    let after = stored_service(sbr, id, "e2e-acme").await?;
    ensure!(after.as_deref() == Some("e2e-acme"), "after a restart the server reads {after:?}:\n{}", agent.log());
    ensure!(!agent.log().contains("stored data bundle not used"), "{}", agent.log());
    agent.check_running()?;
    Ok(sb)
}

/// A literal the registry marks `isSecret`; no key shape or variable name flags it.
const ACCOUNT_CODE: &str = "e2eAcct7731Q";

/// A bundle the control plane accepts (TOML, `version = 1`) but the agent's stricter schema
/// refuses; the refusal reaches the control plane in the agent's next report and the data
/// bundle list names the agent, the version and its reason. Registry data imported next is used
/// by the running agent: its server gets the canonical name and the `isSecret` literal is
/// reported as a credential whose value is stored nowhere.
pub async fn refusals_reach_the_api_and_registry_data_reaches_agents(sb: Sandbox) -> anyhow::Result<Sandbox> {
    let mut agent = sb.enrolled_agent("data-refusal").await?;
    image::edit_mcp_servers(&image::cursor_config(&agent.root), |servers| {
        servers.insert(
            "e2e-ledger".into(),
            serde_json::json!({"command": "npx", "args": ["-y", "@example/e2e-ledger@1.9.0"],
                               "env": {"LEDGER_ACCOUNT_CODE": ACCOUNT_CODE}}),
        );
    })?;
    agent.spawn()?;
    let id = agent.id()?;
    let id = id.as_str();
    let sbr = &sb;
    eventually("the first report", || async move { stored_service(sbr, id, "e2e-ledger").await })
        .await
        .with_context(|| agent.log())?;

    let cp = sb.cp()?;
    let store = cp.state.store.clone();
    let strict = DataParts {
        services_toml: Some("version = 1\n[[server]]\nid = \"e2e-partial\"\n".into()),
        ..DataParts::default()
    };
    let (refused, _) = data_bundles::publish(store.as_ref(), cp.state.as_ref(), &strict, "e2e", "", unix_now()).await?;

    let api = Api::new(cp, muster_control_plane::store::Role::Viewer).await?;
    let apir = &api;
    let version = refused.version;
    let refusal = eventually("the refusal listed with its bundle", || async move {
        let list = apir.get("/api/v1/data-bundles").await?;
        let bundle = list.as_array().and_then(|b| b.iter().find(|b| b["version"] == version)).cloned();
        Ok(bundle
            .and_then(|b| b["refused_by"].as_array().and_then(|r| r.iter().find(|r| r["agent_id"] == id).cloned())))
    })
    .await
    .with_context(|| agent.log())?;
    let reason = refusal["reason"].as_str().unwrap_or_default();
    ensure!(reason.contains(&format!("data bundle {version} cannot be read")), "reason {reason:?}");
    ensure!(
        refusal["data_version"] == muster_agent::data_bundle::BUILTIN_DATA_VERSION,
        "the agent still uses its built-in data: {refusal}"
    );

    // Registry data: the next bundle, with the catalog of the refused one kept (the agent will
    // refuse it again for that catalog), so publish a good catalog first.
    data_bundles::publish(store.as_ref(), cp.state.as_ref(), &DataParts::builtin(), "e2e", "", unix_now()).await?;
    let document = serde_json::json!({"servers": [{"server": {
        "name": "io.github.example/e2e-ledger", "version": "1.9.0",
        "packages": [{"registryType": "npm", "identifier": "@example/e2e-ledger", "version": "1.9.0",
                      "environmentVariables": [{"name": "LEDGER_ACCOUNT_CODE", "isSecret": true}]}]},
        "_meta": {"io.modelcontextprotocol.registry/official": {"status": "deprecated"}}}]});
    let registry = data_bundles::registry::from_value("e2e", &document)?;
    data_bundles::import_registry(store.as_ref(), cp.state.as_ref(), "e2e", &registry, "e2e", "", unix_now()).await?;
    let server = eventually("the canonical name reported", || async move {
        let endpoints = sbr.cp()?.store().policy_endpoints("", 100).await?;
        let endpoint = endpoints.into_iter().find(|e| e.agent_id == id);
        Ok(endpoint
            .and_then(|e| e.snapshot.servers.into_iter().find(|s| s.name == "e2e-ledger"))
            .filter(|s| !s.registry_name.is_empty()))
    })
    .await
    .with_context(|| agent.log())?;
    ensure!(server.registry_name == "io.github.example/e2e-ledger", "{server:?}");
    let credential = server.credentials.iter().find(|c| c.location == "env:LEDGER_ACCOUNT_CODE");
    ensure!(credential.is_some_and(|c| c.kind == "registry-secret"), "{server:?}");
    ensure!(server.findings.iter().any(|f| f.id == "MUSTER-PKG-DEPRECATED-VERSION"), "{server:?}");
    ensure!(!format!("{server:?}").contains(ACCOUNT_CODE), "the value left the agent");
    ensure!(!agent.log().contains(ACCOUNT_CODE), "the value is in the agent's log");
    agent.check_running()?;
    Ok(sb)
}

/// `/api/v1` over real HTTPS with an API token.
struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn new(
        cp: &muster_control_plane::testing::TestControlPlane,
        role: muster_control_plane::store::Role,
    ) -> anyhow::Result<Api> {
        let issued = muster_control_plane::access::api_tokens::create_api_token(
            cp.store(),
            "e2e-data",
            role,
            std::time::Duration::from_secs(3600),
            "e2e",
            unix_now(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(cp.ca_pem().as_bytes())?)
            .tls_built_in_root_certs(false)
            .resolve("localhost", cp.http_addr)
            .build()?;
        Ok(Api { client, base: format!("https://localhost:{}", cp.http_addr.port()), token: issued.token })
    }

    async fn get(&self, path: &str) -> anyhow::Result<serde_json::Value> {
        let response = self.client.get(format!("{}{path}", self.base)).bearer_auth(&self.token).send().await?;
        ensure!(response.status().is_success(), "{path}: {}", response.status());
        Ok(serde_json::from_slice(&response.bytes().await?)?)
    }
}
