//! The draft from observation: an allowlist policy proposing "allow what the fleet runs today,
//! block the rest", so a team starts from the blast radius of zero and tightens from there.
//!
//! [`Observed`] is fed every active endpoint's stored servers and groups them: local (`stdio`)
//! servers by their exact launch command line (command and masked arguments, as the policy's
//! `command_line` condition sees them), remote ones (`http`, `sse`, `ws`) by URL scheme and
//! host, each with its package or service and how many endpoints and servers it covers.
//! [`Observed::policy_text`] writes the policy: one rule per kind, `action = "block"`, whose
//! `unless` lists the observed patterns (metacharacters escaped, so each pattern matches exactly
//! the text seen) with a comment per entry giving its package, service and coverage. The text is
//! parsed before it is returned, so a draft always passes `policy check`. Servers reported with
//! no transport are counted but not covered by either rule.

use std::collections::BTreeMap;

use muster_proto::v1::{Ecosystem, InventorySnapshot, McpServer, Transport};
use muster_proto::words::WireWord as _;
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::{Store, StoreError};

/// Why a draft could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DraftError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A bug: the drafted text did not parse.
    #[error("the drafted policy does not parse: {0}")]
    Unparsable(#[from] muster_policy::PolicyError),
}

/// What kind of allowlist entry a group is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LaunchKind {
    /// A local server, by its exact command line.
    Command,
    /// A remote server, by URL scheme and host.
    Remote,
}

/// One allowlist entry with what it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ObservedGroup {
    pub kind: LaunchKind,
    /// The command line, or `scheme://host`.
    pub launch: String,
    /// The package's ecosystem word (`npm`, `pypi`, ...), `unspecified` when none.
    pub ecosystem: String,
    pub package: String,
    pub service: String,
    pub endpoints: u64,
    pub servers: u64,
}

/// The draft: the policy text and the groups it allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Draft {
    /// A complete policy file (passes `policy check`).
    pub policy: String,
    /// Active endpoints observed.
    pub endpoints: u64,
    /// Servers observed.
    pub servers: u64,
    /// Servers with no transport, covered by neither rule.
    pub uncovered_servers: u64,
    /// The entries, grouped by package and service (sorted by kind, package, service, launch).
    pub groups: Vec<ObservedGroup>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    kind: LaunchKind,
    package: String,
    service: String,
    launch: String,
    ecosystem: i32,
}

#[derive(Debug, Default)]
struct Count {
    endpoints: u64,
    servers: u64,
    /// The endpoint counted last (endpoints arrive one at a time).
    last_endpoint: u64,
}

/// The pure accumulator of a draft: fed every endpoint once.
#[derive(Debug, Default)]
pub struct Observed {
    groups: BTreeMap<Key, Count>,
    endpoints: u64,
    servers: u64,
    uncovered: u64,
}

/// The command line as the policy's `command_line` condition sees it.
fn command_line(s: &McpServer) -> String {
    let mut line = s.command.clone();
    for a in &s.args {
        line.push(' ');
        line.push_str(a);
    }
    line.replace('\\', "/")
}

/// A glob matching exactly `text` (policy globs read `\` as `/`, so only the metacharacters
/// need a class of their own).
pub fn exact_glob(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '*' | '?' | '[' | ']' | '{' | '}' | '!' => {
                out.push('[');
                out.push(c);
                out.push(']');
            }
            '\\' => out.push('/'),
            c => out.push(c),
        }
    }
    out
}

impl Observed {
    /// Adds one endpoint's servers.
    pub fn add(&mut self, snapshot: &InventorySnapshot) {
        self.endpoints += 1;
        let endpoint = self.endpoints;
        for s in &snapshot.servers {
            self.servers += 1;
            let (package, ecosystem) = s.package.as_ref().map_or((String::new(), 0), |p| (p.name.clone(), p.ecosystem));
            let key = match s.transport() {
                Transport::Stdio => Key {
                    kind: LaunchKind::Command,
                    package,
                    service: s.service.clone(),
                    launch: command_line(s),
                    ecosystem,
                },
                Transport::Sse | Transport::Http | Transport::Ws => {
                    let (scheme, host) = s.endpoint.as_ref().map_or((String::new(), String::new()), |e| {
                        (e.scheme.to_ascii_lowercase(), e.host.to_ascii_lowercase())
                    });
                    Key {
                        kind: LaunchKind::Remote,
                        package,
                        service: s.service.clone(),
                        launch: format!("{scheme}://{host}"),
                        ecosystem,
                    }
                }
                _ => {
                    self.uncovered += 1;
                    continue;
                }
            };
            let count = self.groups.entry(key).or_default();
            count.servers += 1;
            if count.last_endpoint != endpoint {
                count.last_endpoint = endpoint;
                count.endpoints += 1;
            }
        }
    }

    /// The groups, by kind, package, service and launch.
    pub fn groups(&self) -> Vec<ObservedGroup> {
        self.groups
            .iter()
            .map(|(k, c)| ObservedGroup {
                kind: k.kind,
                launch: k.launch.clone(),
                ecosystem: Ecosystem::try_from(k.ecosystem).unwrap_or(Ecosystem::Unspecified).word().to_string(),
                package: k.package.clone(),
                service: k.service.clone(),
                endpoints: c.endpoints,
                servers: c.servers,
            })
            .collect()
    }

    /// The allowlist policy as a TOML file (`observed_at` is written into its description).
    pub fn policy_text(&self, observed_at: &str) -> String {
        use std::fmt::Write as _;
        let groups = self.groups();
        let mut out = String::new();
        let _ = writeln!(out, "# Drafted from what the fleet ran at {observed_at}: review before publishing.");
        out.push_str("version = 1\nname = \"observed-allowlist\"\n");
        let _ = writeln!(
            out,
            "description = {}",
            toml_string(&format!("Allow what {} endpoint(s) ran at {observed_at}, block the rest", self.endpoints))
        );
        let commands: Vec<&ObservedGroup> = groups.iter().filter(|g| g.kind == LaunchKind::Command).collect();
        let remotes: Vec<&ObservedGroup> = groups.iter().filter(|g| g.kind == LaunchKind::Remote).collect();
        if !commands.is_empty() {
            out.push_str(
                "\n[[rule]]\nid = \"only-observed-commands\"\ntitle = \"Only the local servers the fleet ran when \
                 this was drafted\"\naction = \"block\"\n[rule.match]\ntransport = [\"stdio\"]\n[rule.unless]\n\
                 command_line = [\n",
            );
            for g in commands {
                let _ = writeln!(out, "  # {}", describe(g));
                let _ = writeln!(out, "  {},", toml_string(&exact_glob(&g.launch)));
            }
            out.push_str("]\n");
        }
        if !remotes.is_empty() {
            let mut schemes: Vec<&str> = Vec::new();
            let mut hosts: BTreeMap<&str, Vec<&ObservedGroup>> = BTreeMap::new();
            for g in &remotes {
                let (scheme, host) = g.launch.split_once("://").unwrap_or(("", g.launch.as_str()));
                if !schemes.contains(&scheme) {
                    schemes.push(scheme);
                }
                hosts.entry(host).or_default().push(g);
            }
            schemes.sort_unstable();
            out.push_str(
                "\n[[rule]]\nid = \"only-observed-remotes\"\ntitle = \"Only the remote servers the fleet reached when \
                 this was drafted\"\naction = \"block\"\n[rule.match]\ntransport = [\"http\", \"sse\", \"ws\"]\n\
                 [rule.unless]\n",
            );
            let schemes: Vec<String> = schemes.iter().map(|s| toml_string(&exact_glob(s))).collect();
            let _ = writeln!(out, "url_scheme = [{}]", schemes.join(", "));
            out.push_str("url_host = [\n");
            for (host, groups) in hosts {
                for g in groups {
                    let _ = writeln!(out, "  # {}", describe(g));
                }
                let _ = writeln!(out, "  {},", toml_string(&exact_glob(host)));
            }
            out.push_str("]\n");
        }
        out
    }

    /// The draft result (parsing the text first: a draft that does not parse is a bug).
    pub fn finish(&self, observed_at: &str) -> Result<Draft, DraftError> {
        let policy = self.policy_text(observed_at);
        muster_policy::parse(&policy)?;
        Ok(Draft {
            policy,
            endpoints: self.endpoints,
            servers: self.servers,
            uncovered_servers: self.uncovered,
            groups: self.groups(),
        })
    }
}

fn describe(g: &ObservedGroup) -> String {
    let mut parts = Vec::new();
    if !g.package.is_empty() {
        parts.push(format!("{} {}", g.ecosystem, g.package));
    }
    if !g.service.is_empty() {
        parts.push(format!("service {}", g.service));
    }
    if g.kind == LaunchKind::Remote {
        parts.push(g.launch.clone());
    }
    parts.push(format!("{} endpoint(s), {} server(s)", g.endpoints, g.servers));
    parts.join("; ").replace(['\n', '\r'], " ")
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// The use-case: observes every active endpoint and drafts the allowlist at `now`.
pub async fn draft(store: &dyn Store, now: i64) -> Result<Draft, DraftError> {
    let mut observed = Observed::default();
    super::for_each_endpoint(store, |_, snapshot| observed.add(snapshot)).await?;
    observed.finish(&crate::timefmt::rfc3339(now))
}

#[cfg(test)]
mod tests {
    use muster_proto::v1::{Package, RemoteEndpoint};

    use super::*;

    fn stdio(id: &str, command: &str, args: &[&str], package: &str) -> McpServer {
        McpServer {
            id: id.into(),
            name: id.into(),
            transport: Transport::Stdio as i32,
            command: command.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            package: Some(Package { ecosystem: Ecosystem::Npm as i32, name: package.into(), ..Default::default() }),
            ..Default::default()
        }
    }

    fn remote(id: &str, host: &str) -> McpServer {
        McpServer {
            id: id.into(),
            name: id.into(),
            transport: Transport::Http as i32,
            url: format!("https://{host}/mcp"),
            endpoint: Some(RemoteEndpoint { scheme: "https".into(), host: host.into(), ..Default::default() }),
            ..Default::default()
        }
    }

    fn laptop(servers: Vec<McpServer>) -> InventorySnapshot {
        InventorySnapshot { servers, ..Default::default() }
    }

    #[test]
    fn the_draft_allows_exactly_what_was_observed_and_blocks_the_rest() {
        let odd = stdio("c", "C:\\tools\\run[1].exe", &["--flag=*", "{x}"], "");
        let mut observed = Observed::default();
        observed.add(&laptop(vec![
            stdio("a", "npx", &["-y", "@acme/server"], "@acme/server"),
            remote("b", "mcp.linear.app"),
        ]));
        observed.add(&laptop(vec![stdio("a", "npx", &["-y", "@acme/server"], "@acme/server"), odd.clone()]));
        let draft = observed.finish("2027-01-01T00:00:00Z").expect("the draft parses");
        let acme = draft.groups.iter().find(|g| g.package == "@acme/server").expect("acme group");
        assert_eq!((acme.endpoints, acme.servers), (2, 2));
        assert!(draft.policy.contains("npm @acme/server; 2 endpoint(s), 2 server(s)"), "{}", draft.policy);

        let bundle = muster_policy::parse(&draft.policy).expect("valid");
        let check = |servers: Vec<McpServer>| {
            let inv = laptop(servers);
            let d = muster_policy::evaluate(
                &bundle,
                &muster_policy::Endpoint { inventory: &inv, agent_id: "", tags: &[] },
                0,
            );
            d.servers.iter().map(|s| (s.server_id.clone(), s.violations.len())).collect::<Vec<_>>()
        };
        // Everything observed is allowed, metacharacters and backslashes included.
        assert_eq!(
            check(vec![stdio("a", "npx", &["-y", "@acme/server"], "@acme/server"), remote("b", "mcp.linear.app"), odd]),
            vec![("a".into(), 0), ("b".into(), 0), ("c".into(), 0)]
        );
        // Anything else is blocked: another package, another argument, another host.
        assert_eq!(
            check(vec![
                stdio("d", "npx", &["-y", "@evil/server"], "@evil/server"),
                stdio("e", "C:\\tools\\run1.exe", &["--flag=x", "x"], ""),
                remote("f", "mcp.evil.example"),
            ]),
            vec![("d".into(), 1), ("e".into(), 1), ("f".into(), 1)]
        );
    }

    #[test]
    fn an_empty_fleet_drafts_a_policy_without_rules() {
        let draft = Observed::default().finish("2027-01-01T00:00:00Z").expect("parses");
        assert_eq!(muster_policy::parse(&draft.policy).expect("valid").rule_ids().count(), 0);
    }
}
