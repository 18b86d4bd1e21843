//! CycloneDX 1.6 JSON of the inventory, for SBOM and asset tooling.
//!
//! Mapping: every MCP server on an endpoint is a `service` (a thing that is called, possibly
//! remote); the package it is launched from (npm, PyPI, OCI image, local script, binary) is a
//! `component`, shared by every service launched from it; `dependencies` link each service to its
//! package and each endpoint (a `device`) to its services. For one endpoint the device is
//! `metadata.component`; for the fleet every device is a component. Registry packages carry a
//! package URL (purl): `pkg:npm`, `pkg:pypi`, `pkg:oci`, with the version only when it is exact.
//!
//! The document is built in memory (one JSON value); the per-host streaming of the other formats
//! does not apply. Credentials appear only as kinds and fingerprints in properties.

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;

use super::{ExportError, ExportHost, ExportPackage, ExportServer, PackageEcosystem, rfc3339};

pub const SPEC_VERSION: &str = "1.6";

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Bom {
    pub bom_format: &'static str,
    pub spec_version: &'static str,
    pub serial_number: String,
    pub version: u32,
    pub metadata: Metadata,
    pub components: Vec<Component>,
    pub services: Vec<Service>,
    pub dependencies: Vec<Dependency>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Metadata {
    pub timestamp: String,
    pub tools: Tools,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<Component>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Tools {
    pub components: Vec<Component>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Component {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(rename = "bom-ref")]
    pub bom_ref: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<Property>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Service {
    #[serde(rename = "bom-ref")]
    pub bom_ref: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<String>,
    pub authenticated: bool,
    #[serde(rename = "x-trust-boundary")]
    pub trust_boundary: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<Property>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Property {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Dependency {
    #[serde(rename = "ref")]
    pub reference: String,
    pub depends_on: Vec<String>,
}

/// What the document describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// One endpoint: it becomes `metadata.component`.
    Endpoint,
    /// The whole fleet: endpoints are components.
    Fleet,
}

/// Percent-encodes everything but RFC 3986 unreserved characters (and those in `keep`).
fn encode(text: &str, keep: &[char]) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        let c = char::from(byte);
        if byte.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~') || (byte.is_ascii() && keep.contains(&c))
        {
            out.push(c);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// An OCI reference's repository with the registry Docker assumes when none is given.
fn oci_repository(name: &str) -> String {
    let first = name.split('/').next().unwrap_or(name);
    let has_registry = name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    if has_registry {
        name.to_string()
    } else if name.contains('/') {
        format!("docker.io/{name}")
    } else {
        format!("docker.io/library/{name}")
    }
}

/// The package URL of a registry package; `None` for local scripts and binaries. The version is
/// included only when it is exact (`pinned`); an OCI tag becomes the `tag` qualifier.
pub fn purl(package: &ExportPackage) -> Option<String> {
    let version = package.version.as_deref().filter(|_| package.pinned);
    match package.ecosystem {
        PackageEcosystem::Npm => {
            let path = match package.name.strip_prefix('@').and_then(|rest| rest.split_once('/')) {
                Some((scope, name)) => format!("{}/{}", encode(&format!("@{scope}"), &[]), encode(name, &[])),
                None => encode(&package.name, &[]),
            };
            Some(match version {
                Some(v) => format!("pkg:npm/{path}@{}", encode(v, &[])),
                None => format!("pkg:npm/{path}"),
            })
        }
        PackageEcosystem::Pypi => {
            let name = package.name.to_ascii_lowercase().replace('_', "-");
            Some(match version {
                Some(v) => format!("pkg:pypi/{}@{}", encode(&name, &[]), encode(v, &[])),
                None => format!("pkg:pypi/{}", encode(&name, &[])),
            })
        }
        PackageEcosystem::Oci => {
            let repository = oci_repository(&package.name);
            let name = repository.rsplit('/').next().unwrap_or(&repository).to_ascii_lowercase();
            let repository_url = encode(&repository, &['/', ':']);
            Some(match package.version.as_deref() {
                Some(digest) if digest.starts_with("sha256:") => {
                    format!("pkg:oci/{}@{}?repository_url={repository_url}", encode(&name, &[]), encode(digest, &[]))
                }
                Some(tag) => {
                    format!("pkg:oci/{}?repository_url={repository_url}&tag={}", encode(&name, &[]), encode(tag, &[]))
                }
                None => format!("pkg:oci/{}?repository_url={repository_url}", encode(&name, &[])),
            })
        }
        PackageEcosystem::Local | PackageEcosystem::Binary => None,
    }
}

fn package_component(package: &ExportPackage) -> Component {
    let purl = purl(package);
    let bom_ref = purl.clone().unwrap_or_else(|| format!("muster:{}:{}", package.ecosystem.as_str(), package.name));
    let (group, name) = match (package.ecosystem, package.name.strip_prefix('@').and_then(|r| r.split_once('/'))) {
        (PackageEcosystem::Npm, Some((scope, name))) => (Some(format!("@{scope}")), name.to_string()),
        _ => (None, package.name.clone()),
    };
    Component {
        kind: match package.ecosystem {
            PackageEcosystem::Npm | PackageEcosystem::Pypi => "library",
            PackageEcosystem::Oci => "container",
            PackageEcosystem::Local => "file",
            PackageEcosystem::Binary => "application",
        },
        bom_ref,
        group,
        name,
        version: package.version.clone(),
        purl,
        properties: vec![
            property("muster:ecosystem", package.ecosystem.as_str()),
            property("muster:pinned", &package.pinned.to_string()),
        ],
    }
}

fn property(name: &str, value: &str) -> Property {
    Property { name: name.into(), value: value.into() }
}

fn host_ref(host: &ExportHost) -> String {
    format!("muster:endpoint:{}", host.agent_id)
}

fn service_ref(host: &ExportHost, server: &ExportServer) -> String {
    format!("muster:mcp-server:{}:{}", host.agent_id, server.id)
}

fn host_component(host: &ExportHost) -> Component {
    let mut properties = vec![property("muster:agent_id", &host.agent_id), property("muster:os", host.os.as_str())];
    for (name, value) in [("muster:os_version", &host.os_version), ("muster:arch", &host.arch)] {
        if !value.is_empty() {
            properties.push(property(name, value));
        }
    }
    properties.push(property("muster:scanned_at", &rfc3339(host.scanned_at)));
    Component {
        kind: "device",
        bom_ref: host_ref(host),
        group: None,
        name: if host.hostname.is_empty() { host.agent_id.clone() } else { host.hostname.clone() },
        version: None,
        purl: None,
        properties,
    }
}

/// A URL the schema's `iri-reference` format accepts: a scheme and no whitespace or controls.
fn endpoint_url(url: &str) -> Option<String> {
    let scheme_ok = url.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    let clean = !url.chars().any(|c| {
        c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | '{' | '}' | '|' | '\\' | '^' | '`')
    });
    (scheme_ok && clean).then(|| url.to_string())
}

fn service(host: &ExportHost, server: &ExportServer) -> Service {
    let mut properties = vec![
        property("muster:server_id", &server.id),
        property("muster:endpoint", &host.hostname),
        property("muster:client", &server.client),
    ];
    for (name, value) in [
        ("muster:user", server.user.as_str()),
        ("muster:scope", server.scope),
        ("muster:transport", server.transport),
        ("muster:config_path", &server.config_path),
        ("muster:project", &server.project),
        ("muster:command", &server.command),
        ("muster:url", &server.url),
        ("muster:service", &server.service),
    ] {
        if !value.is_empty() {
            properties.push(property(name, value));
        }
    }
    properties.push(property("muster:disabled", &server.disabled.to_string()));
    for credential in &server.credentials {
        let source = if credential.literal { "literal" } else { "reference" };
        let mut value = format!("{} {} {source}", credential.location, credential.kind);
        if !credential.literal {
            value.push_str(&format!(" reference_kind={}", credential.reference_kind));
        }
        if !credential.fingerprint.is_empty() {
            value.push_str(&format!(" fingerprint={}", credential.fingerprint));
        }
        properties.push(property("muster:credential", &value));
    }
    Service {
        bom_ref: service_ref(host, server),
        group: (!server.client.is_empty()).then(|| server.client.clone()),
        name: server.name.clone(),
        endpoints: endpoint_url(&server.url).into_iter().collect(),
        authenticated: !server.credentials.is_empty(),
        trust_boundary: !server.url.is_empty(),
        properties,
    }
}

/// The BOM of `hosts`. `serial` is a UUID (the caller draws it, so tests are deterministic);
/// `now` is unix seconds for `metadata.timestamp`.
pub fn bom<'a>(subject: Subject, hosts: impl IntoIterator<Item = &'a ExportHost>, serial: uuid::Uuid, now: i64) -> Bom {
    let mut components: BTreeMap<String, Component> = BTreeMap::new();
    let mut devices = Vec::new();
    let mut services = Vec::new();
    let mut dependencies = Vec::new();
    for host in hosts {
        devices.push(host_component(host));
        let mut host_services = Vec::new();
        for server in &host.servers {
            let service = service(host, server);
            let mut depends_on = Vec::new();
            if let Some(package) = &server.package {
                let component = package_component(package);
                depends_on.push(component.bom_ref.clone());
                components.entry(component.bom_ref.clone()).or_insert(component);
            }
            host_services.push(service.bom_ref.clone());
            dependencies.push(Dependency { reference: service.bom_ref.clone(), depends_on });
            services.push(service);
        }
        dependencies.push(Dependency { reference: host_ref(host), depends_on: host_services });
    }
    for bom_ref in components.keys() {
        dependencies.push(Dependency { reference: bom_ref.clone(), depends_on: Vec::new() });
    }
    let tool = Component {
        kind: "application",
        bom_ref: "muster:tool:muster-server".into(),
        group: None,
        name: "muster-server".into(),
        version: Some(env!("CARGO_PKG_VERSION").into()),
        purl: None,
        properties: Vec::new(),
    };
    let (metadata_component, mut all_components) = match subject {
        Subject::Endpoint if devices.len() == 1 => (devices.pop(), Vec::new()),
        _ => (None, devices),
    };
    all_components.extend(components.into_values());
    Bom {
        bom_format: "CycloneDX",
        spec_version: SPEC_VERSION,
        serial_number: format!("urn:uuid:{}", serial.hyphenated()),
        version: 1,
        metadata: Metadata {
            timestamp: rfc3339(now),
            tools: Tools { components: vec![tool] },
            component: metadata_component,
        },
        components: all_components,
        services,
        dependencies,
    }
}

/// Writes `bom` as pretty JSON.
pub fn write_bom<W: Write>(out: W, bom: &Bom) -> Result<(), ExportError> {
    serde_json::to_writer_pretty(out, bom)?;
    Ok(())
}
