//! Live rollups: what one endpoint contributes to the fleet-wide rollups (services, package and
//! remote-host groups, their versions and advisories, secret groups, fingerprints), and the
//! difference a report makes to it. Ingest reads the endpoint's contribution before and after it
//! writes, and `live_sql.rs` adds the difference to the rollup tables in the same transaction, so
//! every page reflects a report as soon as it is stored and no two pages disagree.
//!
//! Every rollup column is a sum over endpoints (a distinct count of endpoints, or of
//! endpoint/user pairs, is a sum of per-endpoint distinct counts), which is what makes the
//! difference exact. Pure: no SQL, no clock.

use std::collections::BTreeMap;

use super::PostureCounts;
use super::facts::location_type;

/// One stored server's derived facts, as the rollups need them.
#[derive(Debug, Clone, Default)]
pub(crate) struct ServerFactsRow {
    pub service: String,
    pub user_name: String,
    pub auth: String,
    /// The reported posture's wire number (0: not judged).
    pub posture: i64,
    pub ecosystem: i64,
    pub package_name: String,
    pub package_version: String,
    pub pinned: bool,
    pub endpoint_host: String,
}

/// One stored credential, as the rollups need it.
#[derive(Debug, Clone, Default)]
pub(crate) struct CredentialFactsRow {
    pub provider: String,
    pub kind: String,
    pub location: String,
    pub literal: bool,
    pub fingerprint: String,
}

/// Counters of one service.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ServiceCounts {
    pub servers: i64,
    pub endpoints: i64,
    pub users: i64,
    pub oauth: i64,
    pub env_reference: i64,
    pub secret_manager: i64,
    /// References of another (prompt, file) or an unknown kind.
    pub reference: i64,
    pub literal: i64,
    pub none: i64,
    /// Remote servers per reported posture.
    pub posture: PostureCounts,
}

/// Counters of one package or remote-host group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct GroupCounts {
    pub servers: i64,
    pub endpoints: i64,
    pub pinned: i64,
}

/// Counters of one fingerprint; provider and kind label it (the first seen is kept).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FingerprintCounts {
    pub provider: String,
    pub kind: String,
    pub hosts: i64,
    pub servers: i64,
}

/// A group key: kind (`package` or `remote`), ecosystem (0 for a remote host), name.
pub(crate) type GroupKey = (String, i64, String);
/// A package's version or advisory: ecosystem, name, version or advisory id.
pub(crate) type PackageItemKey = (i64, String, String);

/// What one endpoint adds to every rollup; also the type of a difference between two of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Contribution {
    pub services: BTreeMap<String, ServiceCounts>,
    pub groups: BTreeMap<GroupKey, GroupCounts>,
    /// Servers per package version (empty versions are not listed).
    pub versions: BTreeMap<PackageItemKey, i64>,
    /// Endpoints per package advisory.
    pub advisories: BTreeMap<PackageItemKey, i64>,
    /// Literal secrets and endpoints per (provider, kind, location type).
    pub secrets: BTreeMap<(String, String, String), (i64, i64)>,
    pub fingerprints: BTreeMap<String, FingerprintCounts>,
}

impl Contribution {
    /// One endpoint's contribution from its stored servers, credentials and the (package,
    /// advisory) pairs of its advisory findings.
    pub(crate) fn of(
        servers: &[ServerFactsRow],
        credentials: &[CredentialFactsRow],
        advisories: &[PackageItemKey],
    ) -> Self {
        let mut out = Self::default();
        let mut service_users: BTreeMap<&str, std::collections::BTreeSet<&str>> = BTreeMap::new();
        for server in servers {
            if !server.service.is_empty() {
                let counts = out.services.entry(server.service.clone()).or_default();
                counts.servers += 1;
                counts.endpoints = 1;
                match server.auth.as_str() {
                    "oauth" => counts.oauth += 1,
                    "env_reference" => counts.env_reference += 1,
                    "secret_manager" => counts.secret_manager += 1,
                    "reference" => counts.reference += 1,
                    "literal" => counts.literal += 1,
                    "none" => counts.none += 1,
                    _ => {}
                }
                counts.posture.count(server.posture);
                service_users.entry(&server.service).or_default().insert(&server.user_name);
            }
            if !server.package_name.is_empty() {
                let key = ("package".to_string(), server.ecosystem, server.package_name.clone());
                let counts = out.groups.entry(key).or_default();
                counts.servers += 1;
                counts.endpoints = 1;
                counts.pinned += i64::from(server.pinned);
                if !server.package_version.is_empty() {
                    *out.versions
                        .entry((server.ecosystem, server.package_name.clone(), server.package_version.clone()))
                        .or_default() += 1;
                }
            }
            if !server.endpoint_host.is_empty() {
                let counts = out.groups.entry(("remote".to_string(), 0, server.endpoint_host.clone())).or_default();
                counts.servers += 1;
                counts.endpoints = 1;
            }
        }
        for (service, users) in service_users {
            if let Some(counts) = out.services.get_mut(service) {
                counts.users = i64::try_from(users.len()).unwrap_or(i64::MAX);
            }
        }
        for key in advisories {
            out.advisories.insert(key.clone(), 1);
        }
        for credential in credentials {
            if credential.literal {
                let key = (
                    credential.provider.clone(),
                    credential.kind.clone(),
                    location_type(&credential.location).to_string(),
                );
                let counts = out.secrets.entry(key).or_default();
                counts.0 += 1;
                counts.1 = 1;
            }
            if !credential.fingerprint.is_empty() {
                let counts = out.fingerprints.entry(credential.fingerprint.clone()).or_default();
                // The smallest label, as the full rebuild's MIN() picks.
                if counts.hosts == 0 || credential.provider < counts.provider {
                    counts.provider.clone_from(&credential.provider);
                }
                if counts.hosts == 0 || credential.kind < counts.kind {
                    counts.kind.clone_from(&credential.kind);
                }
                counts.hosts = 1;
                counts.servers += 1;
            }
        }
        out
    }

    /// What changes from `before` to `after`: every key whose counters differ, with `after`
    /// minus `before` (a key that disappears has negative counters). Fingerprint labels are
    /// taken from `after` when it has the key.
    pub(crate) fn difference(before: &Self, after: &Self) -> Self {
        fn diff<K: Ord + Clone, V: Clone + PartialEq + Default>(
            before: &BTreeMap<K, V>,
            after: &BTreeMap<K, V>,
            minus: impl Fn(&V, &V) -> V,
        ) -> BTreeMap<K, V> {
            let zero = V::default();
            let mut out = BTreeMap::new();
            for key in before.keys().chain(after.keys()) {
                if out.contains_key(key) {
                    continue;
                }
                let b = before.get(key).unwrap_or(&zero);
                let a = after.get(key).unwrap_or(&zero);
                if a != b {
                    out.insert(key.clone(), minus(a, b));
                }
            }
            out
        }
        Self {
            services: diff(&before.services, &after.services, |a, b| ServiceCounts {
                servers: a.servers - b.servers,
                endpoints: a.endpoints - b.endpoints,
                users: a.users - b.users,
                oauth: a.oauth - b.oauth,
                env_reference: a.env_reference - b.env_reference,
                secret_manager: a.secret_manager - b.secret_manager,
                reference: a.reference - b.reference,
                literal: a.literal - b.literal,
                none: a.none - b.none,
                posture: a.posture.minus(&b.posture),
            }),
            groups: diff(&before.groups, &after.groups, |a, b| GroupCounts {
                servers: a.servers - b.servers,
                endpoints: a.endpoints - b.endpoints,
                pinned: a.pinned - b.pinned,
            }),
            versions: diff(&before.versions, &after.versions, |a, b| a - b),
            advisories: diff(&before.advisories, &after.advisories, |a, b| a - b),
            secrets: diff(&before.secrets, &after.secrets, |a, b| (a.0 - b.0, a.1 - b.1)),
            fingerprints: diff(&before.fingerprints, &after.fingerprints, |a, b| FingerprintCounts {
                provider: if a.hosts > 0 { a.provider.clone() } else { b.provider.clone() },
                kind: if a.hosts > 0 { a.kind.clone() } else { b.kind.clone() },
                hosts: a.hosts - b.hosts,
                servers: a.servers - b.servers,
            }),
        }
    }

    /// The packages whose version or advisory lists may have changed.
    pub(crate) fn packages_with_changed_lists(&self) -> std::collections::BTreeSet<(i64, String)> {
        self.versions.keys().chain(self.advisories.keys()).map(|(eco, name, _)| (*eco, name.clone())).collect()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// How a fingerprint's change moves the count of distinct secrets: `added` uses made its count
/// `now`. A fingerprint whose first uses these are appears (+1); one left without uses vanishes
/// (-1, its row is deleted). Rows never hold zero uses, so `now == added > 0` means it was new.
pub(crate) fn distinct_change(added: i64, now: i64) -> i64 {
    if now <= 0 {
        -1
    } else if added > 0 && now == added {
        1
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_fingerprint_counts_as_one_distinct_secret_while_it_has_uses() {
        assert_eq!(distinct_change(2, 2), 1, "first two uses: a new secret");
        assert_eq!(distinct_change(1, 3), 0, "a third use of a known secret");
        assert_eq!(distinct_change(-1, 2), 0, "one use fewer, still used");
        assert_eq!(distinct_change(-2, 0), -1, "its last uses gone");
        assert_eq!(distinct_change(0, 2), 0, "only its host count moved");
    }

    fn server(service: &str, user: &str, auth: &str) -> ServerFactsRow {
        ServerFactsRow { service: service.into(), user_name: user.into(), auth: auth.into(), ..Default::default() }
    }

    fn npm(name: &str, version: &str, pinned: bool) -> ServerFactsRow {
        ServerFactsRow {
            ecosystem: 1,
            package_name: name.into(),
            package_version: version.into(),
            pinned,
            ..Default::default()
        }
    }

    fn literal(provider: &str, location: &str, fingerprint: &str) -> CredentialFactsRow {
        CredentialFactsRow {
            provider: provider.into(),
            kind: "token".into(),
            location: location.into(),
            literal: true,
            fingerprint: fingerprint.into(),
        }
    }

    #[test]
    fn an_endpoint_counts_once_per_service_and_users_are_distinct() {
        let c = Contribution::of(
            &[
                server("github", "alice", "literal"),
                server("github", "alice", "oauth"),
                server("github", "bob", "none"),
            ],
            &[],
            &[],
        );
        let github = c.services["github"];
        assert_eq!((github.servers, github.endpoints, github.users), (3, 1, 2));
        assert_eq!((github.literal, github.oauth, github.none, github.reference), (1, 1, 1, 0));
    }

    #[test]
    fn packages_count_versions_pinning_and_remote_hosts() {
        let mut remote = server("", "alice", "none");
        remote.endpoint_host = "mcp.linear.app".into();
        let c = Contribution::of(
            &[npm("@x/gh", "1.0.0", true), npm("@x/gh", "", false), remote],
            &[],
            &[(1, "@x/gh".into(), "GHSA-1".into())],
        );
        let gh = c.groups[&("package".to_string(), 1, "@x/gh".to_string())];
        assert_eq!((gh.servers, gh.endpoints, gh.pinned), (2, 1, 1));
        assert_eq!(c.versions.len(), 1, "an empty version is no version");
        assert_eq!(c.groups[&("remote".to_string(), 0, "mcp.linear.app".to_string())].servers, 1);
        assert_eq!(c.advisories[&(1, "@x/gh".to_string(), "GHSA-1".to_string())], 1);
    }

    #[test]
    fn secrets_count_literals_and_fingerprints_count_every_use() {
        let mut reference = literal("github", "env:GH", "f1");
        reference.literal = false;
        let c = Contribution::of(
            &[],
            &[literal("github", "env:GH", "f1"), literal("github", "header:X", "f1"), reference],
            &[],
        );
        assert_eq!(c.secrets[&("github".to_string(), "token".to_string(), "env".to_string())], (1, 1));
        let f1 = &c.fingerprints["f1"];
        assert_eq!((f1.hosts, f1.servers), (1, 3));
    }

    #[test]
    fn the_difference_holds_only_what_changed_and_undoes_what_left() {
        let before =
            Contribution::of(&[server("github", "alice", "literal"), server("slack", "alice", "none")], &[], &[]);
        let after = Contribution::of(&[server("github", "alice", "oauth")], &[], &[]);
        let d = Contribution::difference(&before, &after);
        let github = d.services["github"];
        assert_eq!((github.servers, github.endpoints, github.literal, github.oauth), (0, 0, -1, 1));
        let slack = d.services["slack"];
        assert_eq!((slack.servers, slack.endpoints, slack.users, slack.none), (-1, -1, -1, -1));
        assert!(Contribution::difference(&after, &after).is_empty());
    }
}
