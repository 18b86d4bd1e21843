use super::*;
use crate::discovery::package::{endpoint, identify};

fn cat() -> &'static ServiceCatalog {
    bundled().expect("bundled service catalog parses")
}

fn id_of(cmd: &str, args: &[&str]) -> Option<&'static str> {
    let pkg = identify(cmd, args);
    let ep = endpoint(None, pkg.as_ref(), args);
    lookup(pkg.as_ref(), ep.as_ref(), Some(cmd)).map(|e| e.id.as_str())
}

fn remote(url: &str) -> Option<&'static str> {
    let ep = endpoint(Some(url), None, &[]).expect("url parses");
    lookup(None, Some(&ep), None).map(|e| e.id.as_str())
}

#[test]
fn bundled_catalog_parses_with_at_least_120_unique_entries() {
    let c = cat();
    let ids: HashSet<&str> = c.entries().iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), c.entries().len(), "entry ids are unique");
    assert!(ids.len() >= 120, "only {} entries", ids.len());
    for e in c.entries() {
        assert!(is_slug(&e.service), "{}", e.id);
        assert!(!e.reason.trim().is_empty(), "{}", e.id);
        assert!(e.legs.iter().all(|l| !e.maybe_legs.contains(l)), "{}", e.id);
        assert_eq!(c.get(&e.id).map(|x| x.id.as_str()), Some(e.id.as_str()));
    }
}

#[test]
fn every_service_the_agent_reports_on_is_known_to_catalog_or_hints() {
    let c = cat();
    let known: HashSet<&str> = c
        .entries()
        .iter()
        .flat_map(ServiceEntry::services)
        .chain(c.hints().iter().map(|h| h.service.as_str()))
        .collect();
    for s in [
        "github",
        "gitlab",
        "bitbucket",
        "slack",
        "jira",
        "confluence",
        "linear",
        "notion",
        "asana",
        "postgres",
        "mysql",
        "mongodb",
        "redis",
        "snowflake",
        "bigquery",
        "databricks",
        "kafka",
        "aws",
        "azure",
        "gcp",
        "kubernetes",
        "docker",
        "sentry",
        "datadog",
        "grafana",
        "pagerduty",
        "stripe",
        "salesforce",
        "hubspot",
        "zendesk",
        "google-drive",
        "gmail",
        "filesystem",
        "git",
        "browser",
        "web-fetch",
        "web-search",
        "shell",
        "memory",
    ] {
        assert!(known.contains(s), "no catalog row or hint for {s}");
    }
}

#[test]
fn lookup_by_npm_pypi_oci_and_binary() {
    assert_eq!(id_of("npx", &["-y", "@modelcontextprotocol/server-filesystem", "/home/dev"]), Some("ref-filesystem"));
    assert_eq!(id_of("npx", &["-y", "@modelcontextprotocol/server-github@2025.4.8"]), Some("ref-github-archived"));
    assert_eq!(id_of("uvx", &["mcp-server-git==2025.1.1"]), Some("ref-git"));
    // PEP 503: `python -m` turns `_` into `-`, uvx may spell dots as underscores.
    assert_eq!(id_of("uvx", &["awslabs_cloudwatch_mcp_server"]), Some("aws-cloudwatch"));
    assert_eq!(id_of("uvx", &["MCP-Atlassian"]), Some("mcp-atlassian"));
    assert_eq!(
        id_of(
            "docker",
            &["run", "-i", "--rm", "-e", "GITHUB_PERSONAL_ACCESS_TOKEN", "ghcr.io/github/github-mcp-server"]
        ),
        Some("github-official")
    );
    assert_eq!(id_of("docker", &["run", "-i", "docker.io/mcp/fetch:latest"]), Some("ref-fetch"));
    assert_eq!(id_of("docker", &["run", "mcp/git@sha256:0123"]), Some("ref-git"));
    assert_eq!(id_of("github-mcp-server", &["stdio"]), Some("github-official"));
    assert_eq!(id_of("/opt/homebrew/bin/github-mcp-server", &["stdio"]), Some("github-official"));
    assert_eq!(id_of("C:\\tools\\azmcp.exe", &["server", "start"]), Some("azure-mcp"));
}

#[test]
fn lookup_prefers_the_endpoint_a_bridge_reaches() {
    assert_eq!(id_of("npx", &["-y", "mcp-remote", "https://mcp.linear.app/sse"]), Some("linear-remote"));
    // An endpoint the catalog does not know falls back to the bridge itself.
    assert_eq!(id_of("npx", &["-y", "mcp-remote", "https://mcp.example.test/mcp"]), Some("mcp-remote"));
}

#[test]
fn lookup_by_remote_host_port_and_wildcard() {
    assert_eq!(remote("https://mcp.atlassian.com/v1/sse"), Some("atlassian-remote"));
    assert_eq!(remote("https://MCP.Notion.com./mcp"), Some("notion-remote"));
    assert_eq!(remote("https://api.githubcopilot.com/mcp/"), Some("github-remote"));
    assert_eq!(remote("http://127.0.0.1:3845/mcp"), Some("figma-desktop"));
    assert_eq!(remote("http://127.0.0.1:3846/mcp"), None, "another local port is not Figma");
    assert_eq!(remote("https://mcp.us5.datadoghq.com/api/mcp"), Some("datadog-remote"));
    assert_eq!(remote("https://datadoghq.com.attacker.test/mcp"), None, "suffix must be a real subdomain");
    assert_eq!(remote("https://logs.mcp.cloudflare.com/sse"), Some("cloudflare-remote"));
    assert_eq!(remote("https://docs.mcp.cloudflare.com/sse"), Some("cloudflare-docs-remote"));
}

#[test]
fn lookup_of_unknown_or_empty_input_is_none() {
    assert!(lookup(None, None, None).is_none());
    assert_eq!(id_of("npx", &["-y", "some-unknown-mcp"]), None);
    assert_eq!(id_of("node", &["./server.js"]), None);
    let unspecified = Package { ecosystem: 0, name: "mcp-remote".into(), version: None, pinned: false };
    assert!(lookup(Some(&unspecified), None, None).is_none());
}

#[test]
fn trifecta_legs_follow_the_reference_defaults() {
    let c = cat();
    let dc = c.get("desktop-commander").expect("row");
    assert!(Leg::ALL.iter().all(|l| dc.brings(*l)));
    let time = c.get("ref-time").expect("row");
    assert!(Leg::ALL.iter().all(|l| !time.may_bring(*l)));
    let fs = c.get("ref-filesystem").expect("row");
    assert!(fs.brings(Leg::PrivateData) && !fs.may_bring(Leg::ExternalCommunication));
    let asana = c.get("asana-remote").expect("row");
    assert!(!asana.brings(Leg::ExternalCommunication) && asana.may_bring(Leg::ExternalCommunication));
    assert!(c.get("ref-postgres-archived").expect("row").archived);
    assert_eq!(c.get("mongodb").expect("row").auth, AuthMode::ConnectionString);
}

#[test]
fn guess_from_exact_env_names() {
    let g = guess("my-tool", &["GITHUB_TOKEN"], None).expect("guess");
    assert_eq!(
        (g.service, g.basis.clone(), g.confidence),
        ("github", GuessBasis::EnvVar("GITHUB_TOKEN".into()), Confidence::Low)
    );
    assert_eq!(g.auth, AuthMode::Pat);
    assert_eq!(guess("x", &["slack_bot_token"], None).map(|g| g.service), Some("slack"));
    let db = guess("internal", &[String::from("DATABASE_URL")], None).expect("guess");
    assert_eq!((db.service, db.auth), ("database", AuthMode::ConnectionString));
}

#[test]
fn guess_signal_order_env_then_host_then_name_then_prefix() {
    // An exact env var beats a name word that points elsewhere.
    assert_eq!(guess("slack-bridge", &["JIRA_API_TOKEN"], None).map(|g| g.service), Some("jira"));
    // A host beats the name.
    let g = guess("slack-bridge", &[] as &[&str], Some("acme.atlassian.net")).expect("guess");
    assert_eq!((g.service, g.basis), ("jira", GuessBasis::Host("acme.atlassian.net".into())));
    // A name word beats an env prefix.
    let g = guess("team-notion-sync", &["STRIPE_WHATEVER"], None).expect("guess");
    assert_eq!((g.service, g.basis), ("notion", GuessBasis::NameWord("notion".into())));
    let g = guess("tool", &["STRIPE_WHATEVER"], None).expect("guess");
    assert_eq!((g.service, g.basis), ("stripe", GuessBasis::EnvPrefix("STRIPE_WHATEVER".into())));
}

#[test]
fn guess_name_words_are_whole_words_except_long_ones() {
    assert_eq!(guess("my_postgres_mcp", &[] as &[&str], None).map(|g| g.service), Some("postgres"));
    assert_eq!(guess("mygithubserver", &[] as &[&str], None).map(|g| g.service), Some("github"));
    // Short words never match inside another word: "upgrade" contains "pg".
    assert_eq!(guess("upgrade-helper", &[] as &[&str], None), None);
    assert_eq!(guess("kafka-tail", &[] as &[&str], None).map(|g| g.category), Some(Category::Database));
    assert_eq!(guess("x", &[] as &[&str], Some("notgithub.com")), None, "host suffix must be a domain boundary");
}

#[test]
fn catalog_rejects_duplicate_keys_bad_versions_and_unknown_fields() {
    let row = |id: &str, npm: &str| {
        format!(
            "[[server]]\nid = \"{id}\"\nservice = \"s\"\ncategory = \"utility\"\nauth = \"none\"\nnpm = [\"{npm}\"]\nreason = \"r\"\nsource = \"t\"\n"
        )
    };
    let ok = format!("version = 1\n{}{}", row("a", "p"), row("b", "q"));
    assert_eq!(ServiceCatalog::from_toml(&ok).expect("valid").entries().len(), 2);
    let dup = format!("version = 1\n{}{}", row("a", "p"), row("b", "p"));
    assert!(matches!(ServiceCatalog::from_toml(&dup), Err(CatalogError::DuplicateKey { ref key, .. }) if key == "p"));
    let dup_id = format!("version = 1\n{}{}", row("a", "p"), row("a", "q"));
    assert!(matches!(ServiceCatalog::from_toml(&dup_id), Err(CatalogError::DuplicateKey { .. })));
    let v2 = format!("version = 2\n{}", row("a", "p"));
    assert!(matches!(ServiceCatalog::from_toml(&v2), Err(CatalogError::Version { found: 2, .. })));
    let unknown = format!("version = 1\n{}colour = \"red\"\n", row("a", "p"));
    assert!(matches!(ServiceCatalog::from_toml(&unknown), Err(CatalogError::Parse(_))));
    let bad_auth = format!("version = 1\n{}", row("a", "p")).replace("auth = \"none\"", "auth = \"password\"");
    assert!(matches!(ServiceCatalog::from_toml(&bad_auth), Err(CatalogError::Parse(_))));
    let no_key = "version = 1\n[[server]]\nid = \"a\"\nservice = \"s\"\ncategory = \"utility\"\nauth = \"none\"\nreason = \"r\"\nsource = \"t\"\n";
    assert!(matches!(ServiceCatalog::from_toml(no_key), Err(CatalogError::InvalidEntry { .. })));
}

#[test]
fn most_specific_host_wildcard_wins() {
    let text = "version = 1\n\
        [[server]]\nid = \"broad\"\nservice = \"a\"\ncategory = \"utility\"\nauth = \"none\"\nhosts = [\"*.example.test\"]\nreason = \"r\"\nsource = \"t\"\n\
        [[server]]\nid = \"narrow\"\nservice = \"b\"\ncategory = \"utility\"\nauth = \"none\"\nhosts = [\"*.eu.example.test\"]\nreason = \"r\"\nsource = \"t\"\n";
    let c = ServiceCatalog::from_toml(text).expect("valid");
    let at = |host: &str| {
        let ep =
            RemoteEndpoint { scheme: "https".into(), host: host.into(), port: None, path: "/mcp".into(), auth: None };
        c.lookup(None, Some(&ep), None).map(|e| e.id.clone())
    };
    assert_eq!(at("mcp.eu.example.test").as_deref(), Some("narrow"));
    assert_eq!(at("mcp.us.example.test").as_deref(), Some("broad"));
    assert_eq!(at("example.test"), None, "a wildcard does not cover the apex");
}

#[test]
fn name_normalisation() {
    assert_eq!(normalize_pypi("AwsLabs__Cloudwatch.-MCP_server"), "awslabs-cloudwatch-mcp-server");
    assert_eq!(normalize_oci("docker.io/library/Redis:7"), "redis");
    assert_eq!(normalize_oci("localhost:5000/team/img:1.2@sha256:ab"), "localhost:5000/team/img");
    assert_eq!(normalize_oci("ghcr.io/github/github-mcp-server"), "ghcr.io/github/github-mcp-server");
}

/// `credentials.toml` names catalog rows; every one must exist, and every row whose auth is a
/// static key (api-key, pat) must be named by one credentials row, so a new service cannot
/// arrive without a word on its key format.
#[test]
fn credential_formats_name_existing_rows_and_cover_every_static_key_service() {
    let catalog = bundled().expect("bundled catalog");
    let rows = crate::secrets::keyshapes::parse(include_str!("../../data/credentials.toml")).expect("credentials");
    let mut named = std::collections::HashSet::new();
    for row in &rows {
        for id in &row.servers {
            assert!(catalog.get(id).is_some(), "credentials.toml names unknown catalog row {id:?}");
            assert!(named.insert(id.as_str()), "catalog row {id:?} named by two credentials rows");
        }
    }
    for entry in catalog.entries() {
        if matches!(entry.auth, AuthMode::ApiKey | AuthMode::Pat) {
            assert!(
                named.contains(entry.id.as_str()),
                "catalog row {:?} ({}) has no credentials.toml row",
                entry.id,
                entry.auth.as_str()
            );
        }
    }
}
