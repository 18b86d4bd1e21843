//! `muster-agent scan --format sarif`: the findings of a scan as a SARIF 2.1.0 log, for CI
//! pipelines and code-scanning UIs. One run, one rule per finding id that occurs (described from
//! the findings catalog), one result per finding located at its server's config file.
//!
//! Like every rendering it reads only the masked wire model, so it cannot print a secret; it
//! lists findings only (servers without findings, processes and problems are not results).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use serde_json::json;
use serde_sarif::sarif::{
    ArtifactLocation, Location, Message, MultiformatMessageString, PhysicalLocation, PropertyBag,
    ReportingConfiguration, ReportingDescriptor, Result as SarifResult, ResultKind, ResultLevel, Run, Sarif, Tool,
    ToolComponent,
};
use sha2::{Digest, Sha256};

use super::json::severity as severity_name;
use crate::findings::catalog::{self, FindingSeverity};
use muster_proto::v1 as pb;

/// The `partialFingerprints` key of each result. Its value is stable across scans and across
/// checkout directories, so code-scanning UIs recognise a finding they have seen before.
pub const FINGERPRINT_KEY: &str = "musterFinding/v1";

/// Number GitHub-style code scanning reads from a rule's `security-severity` property.
pub fn security_severity(s: pb::Severity) -> &'static str {
    match s {
        pb::Severity::Critical => "9.5",
        pb::Severity::High => "8.0",
        pb::Severity::Medium => "5.5",
        pb::Severity::Low => "3.0",
        pb::Severity::Info | pb::Severity::Unspecified => "1.0",
    }
}

/// SARIF level of a severity: high and critical fail a check, medium warns, the rest are notes.
pub fn level(s: pb::Severity) -> ResultLevel {
    match s {
        pb::Severity::Critical | pb::Severity::High => ResultLevel::Error,
        pb::Severity::Medium => ResultLevel::Warning,
        pb::Severity::Low | pb::Severity::Info | pb::Severity::Unspecified => ResultLevel::Note,
    }
}

fn proto_severity(s: i32) -> pb::Severity {
    pb::Severity::try_from(s).unwrap_or_default()
}

fn catalog_severity(s: FindingSeverity) -> pb::Severity {
    s.to_proto()
}

/// The SARIF log of an inventory. `project_root` is the directory given with `--project`
/// (written as config paths are); files inside it get URIs relative to it, every other file an
/// absolute `file:` URI.
pub fn log(inv: &pb::InventorySnapshot, project_root: Option<&str>) -> Sarif {
    let servers: HashMap<&str, &pb::McpServer> = inv.servers.iter().map(|s| (s.id.as_str(), s)).collect();
    let located: Vec<(&pb::Finding, Vec<&pb::McpServer>)> = inv
        .servers
        .iter()
        .flat_map(|s| s.findings.iter().map(move |f| (f, vec![s])))
        .chain(inv.findings.iter().map(|f| {
            let named: Vec<&pb::McpServer> =
                f.server_ids.iter().filter_map(|id| servers.get(id.as_str()).copied()).collect();
            (f, named)
        }))
        .collect();

    let rule_ids: BTreeSet<&str> = located.iter().map(|(f, _)| f.id.as_str()).collect();
    let rule_index: HashMap<&str, usize> = rule_ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let rules: Vec<ReportingDescriptor> = rule_ids
        .iter()
        .map(|id| {
            // Every finding of one id shares the catalog's OWASP id; the first one stands for all.
            let owasp = located.iter().find(|(f, _)| f.id == *id).map(|(f, _)| f.owasp.as_str()).unwrap_or("");
            rule(id, owasp)
        })
        .collect();

    let mut seen: HashMap<String, u32> = HashMap::new();
    let results: Vec<SarifResult> = located
        .iter()
        .map(|(f, named)| {
            let uris: Vec<(String, &pb::McpServer)> =
                named.iter().map(|s| (artifact_uri(&s.config_path, project_root), *s)).collect();
            let mut fingerprint = fingerprint(f, &uris);
            // Two findings of one kind on the same servers stay apart by their order.
            let n = seen.entry(fingerprint.clone()).or_insert(0);
            *n += 1;
            if *n > 1 {
                fingerprint.push_str(&format!(":{n}"));
            }
            result(f, &uris, rule_index.get(f.id.as_str()).copied().unwrap_or(0), fingerprint)
        })
        .collect();

    let driver = ToolComponent::builder()
        .name("muster-agent")
        .version(env!("CARGO_PKG_VERSION"))
        .semantic_version(env!("CARGO_PKG_VERSION"))
        .rules(rules)
        .build();
    let run = Run::builder().tool(Tool::from(driver)).results(results).build();
    Sarif::builder().schema(serde_sarif::sarif::SCHEMA_URL).version(json!("2.1.0")).runs(vec![run]).build()
}

/// Pretty SARIF JSON text of an inventory.
pub fn render(inv: &pb::InventorySnapshot, project_root: Option<&str>) -> String {
    // The log is plain strings, numbers and maps with string keys: serialising cannot fail.
    serde_json::to_string_pretty(&log(inv, project_root)).unwrap_or_else(|_| "{}".to_string())
}

fn rule(id: &str, owasp: &str) -> ReportingDescriptor {
    let def = catalog::get(id);
    let default = def.map(|d| catalog_severity(d.severity)).unwrap_or(pb::Severity::Info);
    let mut tags = vec!["security".to_string(), "mcp".to_string()];
    if !owasp.is_empty() {
        tags.push(owasp.to_string());
    }
    let mut extra = BTreeMap::new();
    extra.insert("security-severity".to_string(), json!(security_severity(default)));
    let properties = PropertyBag::builder().tags(tags).additional_properties(extra).build();
    let config = ReportingConfiguration::builder().level(json!(level(default).to_string())).build();
    let builder =
        ReportingDescriptor::builder().id(id).name(rule_name(id)).default_configuration(config).properties(properties);
    match def {
        Some(d) => builder
            .short_description(MultiformatMessageString::builder().text(d.title.clone()).build())
            .help(MultiformatMessageString::builder().text(d.remediation.clone()).build())
            .build(),
        // Ids come from the bundled catalog; an unknown one still gets a usable rule.
        None => builder
            .short_description(MultiformatMessageString::builder().text(id).build())
            .help(MultiformatMessageString::builder().text(id).build())
            .build(),
    }
}

/// `MUSTER-SECRET-ENV` -> `SecretEnv`: SARIF rule names are identifier-like.
fn rule_name(id: &str) -> String {
    id.strip_prefix("MUSTER-")
        .unwrap_or(id)
        .split('-')
        .map(|w| {
            let lower = w.to_ascii_lowercase();
            let mut chars = lower.chars();
            match chars.next() {
                Some(c) => c.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

fn result(f: &pb::Finding, uris: &[(String, &pb::McpServer)], rule_index: usize, fingerprint: String) -> SarifResult {
    let sev = proto_severity(f.severity);
    let mut uniq: Vec<&str> = Vec::new();
    for (uri, _) in uris {
        if !uniq.contains(&uri.as_str()) {
            uniq.push(uri);
        }
    }
    let locations: Vec<Location> = uniq
        .iter()
        .map(|uri| {
            let names: Vec<String> =
                uris.iter().filter(|(u, _)| u == uri).map(|(_, s)| format!("{} ({})", s.name, s.client)).collect();
            Location::builder()
                .physical_location(
                    PhysicalLocation::builder()
                        .artifact_location(ArtifactLocation::builder().uri(uri.to_string()).build())
                        .build(),
                )
                .message(Message::builder().text(format!("server {}", names.join(", "))).build())
                .build()
        })
        .collect();
    let mut fingerprints = BTreeMap::new();
    fingerprints.insert(FINGERPRINT_KEY.to_string(), fingerprint);
    let mut extra = BTreeMap::new();
    extra.insert("severity".to_string(), json!(severity_name(f.severity)));
    extra.insert("owasp".to_string(), json!(f.owasp));
    let server_ids: Vec<&str> = if f.server_ids.is_empty() {
        uris.iter().map(|(_, s)| s.id.as_str()).collect()
    } else {
        f.server_ids.iter().map(String::as_str).collect()
    };
    if !server_ids.is_empty() {
        extra.insert("serverIds".to_string(), json!(server_ids));
    }
    for (key, value) in [("client", &f.client), ("user", &f.user)] {
        if !value.is_empty() {
            extra.insert(key.to_string(), json!(value));
        }
    }
    SarifResult::builder()
        .rule_id(f.id.clone())
        .rule_index(rule_index as i64)
        .kind(ResultKind::Fail)
        .level(level(sev))
        .message(Message::builder().text(f.message.clone()).build())
        .locations(locations)
        .partial_fingerprints(fingerprints)
        .properties(PropertyBag::builder().additional_properties(extra).build())
        .build()
}

/// Hash of what identifies a finding across runs: its id, client and user, and each server it is
/// about by client, file URI and name. Not the server id: that hashes the absolute config path,
/// which changes with the CI checkout directory; the project-relative URI does not.
fn fingerprint(f: &pb::Finding, uris: &[(String, &pb::McpServer)]) -> String {
    let mut parts: Vec<String> = uris.iter().map(|(uri, s)| format!("{}\u{1}{uri}\u{1}{}", s.client, s.name)).collect();
    parts.sort();
    let mut h = Sha256::new();
    for part in [f.id.as_str(), f.client.as_str(), f.user.as_str()].into_iter().chain(parts.iter().map(String::as_str))
    {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    h.finalize()[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// The artifact URI of a config file: relative to `project_root` with forward slashes when the
/// file lies inside it, else an absolute `file:` URI.
pub fn artifact_uri(config_path: &str, project_root: Option<&str>) -> String {
    if let Some(root) = project_root
        && let Ok(rel) = Path::new(config_path).strip_prefix(root)
    {
        let parts: Vec<String> = rel
            .components()
            .map(|c| percent_encode(&c.as_os_str().to_string_lossy()))
            .filter(|c| !c.is_empty())
            .collect();
        if !parts.is_empty() {
            return parts.join("/");
        }
    }
    file_uri(config_path)
}

/// `file:` URI of an absolute path written the Unix (`/home/dev/x`) or Windows
/// (`C:\Users\dev\x`, `\\server\share\x`) way.
pub fn file_uri(path: &str) -> String {
    let b = path.as_bytes();
    let is_drive = b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':';
    if is_drive {
        let rest = path[2..].replace('\\', "/");
        format!("file:///{}:{}", &path[..1], percent_encode(&rest))
    } else if let Some(unc) = path.strip_prefix("\\\\") {
        format!("file://{}", percent_encode(&unc.replace('\\', "/")))
    } else {
        format!("file://{}", percent_encode(path))
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters and `/`.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]

    use super::*;

    fn server(id: &str, name: &str, path: &str, findings: Vec<pb::Finding>) -> pb::McpServer {
        pb::McpServer {
            id: id.into(),
            name: name.into(),
            client: "claude-code".into(),
            config_path: path.into(),
            findings,
            ..Default::default()
        }
    }

    fn finding(id: &str, sev: pb::Severity, msg: &str) -> pb::Finding {
        let def = catalog::get(id).expect("known id");
        let mut f = def.to_finding(msg);
        f.severity = sev as i32;
        f
    }

    fn inventory() -> pb::InventorySnapshot {
        let env = finding("MUSTER-SECRET-ENV", pb::Severity::Medium, "literal secret in env GITHUB_TOKEN");
        let pin = finding("MUSTER-PKG-UNPINNED", pb::Severity::Low, "unpinned");
        let mut reused = finding("MUSTER-SECRET-REUSED", pb::Severity::Medium, "one secret used twice");
        reused.server_ids = vec!["a".into(), "b".into()];
        pb::InventorySnapshot {
            servers: vec![
                server("a", "github", "/work/repo/.mcp.json", vec![env, pin]),
                server("b", "gh two", "/home/dev/my files/.cursor/mcp.json", vec![]),
            ],
            findings: vec![reused],
            ..Default::default()
        }
    }

    #[test]
    fn uris_are_relative_inside_the_project_and_file_uris_outside() {
        assert_eq!(artifact_uri("/work/repo/.mcp.json", Some("/work/repo")), ".mcp.json");
        assert_eq!(artifact_uri("/work/repo/.vscode/mcp.json", Some("/work/repo")), ".vscode/mcp.json");
        // A sibling whose name merely starts with the root's is outside it.
        assert_eq!(artifact_uri("/work/repo2/.mcp.json", Some("/work/repo")), "file:///work/repo2/.mcp.json");
        assert_eq!(artifact_uri("/home/dev/my files/x.json", None), "file:///home/dev/my%20files/x.json");
        assert_eq!(file_uri("C:\\Users\\dev\\.cursor\\mcp.json"), "file:///C:/Users/dev/.cursor/mcp.json");
        assert_eq!(file_uri("\\\\srv\\share\\mcp.json"), "file://srv/share/mcp.json");
    }

    #[test]
    fn one_rule_per_used_id_and_one_result_per_finding() {
        let v = serde_json::to_value(log(&inventory(), Some("/work/repo"))).expect("serialises");
        let run = &v["runs"][0];
        assert_eq!(v["version"], "2.1.0");
        assert_eq!(run["tool"]["driver"]["name"], "muster-agent");
        let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
        let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["MUSTER-PKG-UNPINNED", "MUSTER-SECRET-ENV", "MUSTER-SECRET-REUSED"]);
        let env_rule = &rules[1];
        assert_eq!(env_rule["name"], "SecretEnv");
        assert_eq!(env_rule["properties"]["security-severity"], "5.5");
        assert_eq!(env_rule["defaultConfiguration"]["level"], "warning");
        let tags = env_rule["properties"]["tags"].as_array().unwrap();
        assert!(tags.contains(&json!("security")) && tags.contains(&json!("MCP01")), "{tags:?}");
        assert_eq!(env_rule["shortDescription"]["text"], catalog::get("MUSTER-SECRET-ENV").unwrap().title.as_str());

        let results = run["results"].as_array().expect("results");
        assert_eq!(results.len(), 3);
        for r in results {
            let idx = r["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[idx]["id"], r["ruleId"], "ruleIndex points at the rule");
        }
        assert_eq!(results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], ".mcp.json");
        assert_eq!(results[0]["level"], "warning");
        assert_eq!(results[1]["level"], "note");
        // A client-level finding is located at every server it names.
        let reused: Vec<&str> = results[2]["locations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["physicalLocation"]["artifactLocation"]["uri"].as_str().unwrap())
            .collect();
        assert_eq!(reused, [".mcp.json", "file:///home/dev/my%20files/.cursor/mcp.json"]);
    }

    #[test]
    fn fingerprints_survive_a_move_of_the_checkout_and_differ_per_finding() {
        let fps = |root: &str| -> Vec<String> {
            let mut inv = inventory();
            inv.servers[0].config_path = format!("{root}/.mcp.json");
            inv.servers[0].id = format!("id-under-{root}");
            let v = serde_json::to_value(log(&inv, Some(root))).unwrap();
            v["runs"][0]["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["partialFingerprints"][FINGERPRINT_KEY].as_str().unwrap().to_string())
                .collect()
        };
        let here = fps("/work/repo");
        assert_eq!(here, fps("/builds/other/checkout"));
        let distinct: BTreeSet<&String> = here.iter().collect();
        assert_eq!(distinct.len(), here.len(), "{here:?}");
    }

    #[test]
    fn duplicate_findings_get_distinct_fingerprints() {
        let mut inv = inventory();
        let again = inv.servers[0].findings[0].clone();
        inv.servers[0].findings.push(again);
        let v = serde_json::to_value(log(&inv, Some("/work/repo"))).unwrap();
        let fps: BTreeSet<String> = v["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["partialFingerprints"][FINGERPRINT_KEY].as_str().unwrap().to_string())
            .collect();
        assert_eq!(fps.len(), 4);
    }
}
