use super::*;

fn npm(name: &str, version: Option<&str>) -> Package {
    Package { ecosystem: Ecosystem::Npm as i32, name: name.into(), version: version.map(Into::into), pinned: false }
}

fn pypi(name: &str, version: Option<&str>) -> Package {
    Package { ecosystem: Ecosystem::Pypi as i32, name: name.into(), version: version.map(Into::into), pinned: false }
}

fn db() -> &'static AdvisoryDb {
    AdvisoryDb::bundled().expect("bundled advisories parse")
}

fn ids(db: &AdvisoryDb, p: &Package) -> Vec<String> {
    let mut v: Vec<String> = db.matches(p).into_iter().map(|a| a.id.clone()).collect();
    v.sort();
    v
}

/// A one-record bundle with the given ecosystem, name, ranges JSON and versions JSON.
fn single(ecosystem: &str, ranges: &str, versions: &str) -> AdvisoryDb {
    let json = format!(
        r#"[{{"id":"TEST-1","modified":"2026-01-01T00:00:00Z","affected":[{{"package":{{"ecosystem":"{ecosystem}","name":"pkg"}},"ranges":{ranges},"versions":{versions}}}],"database_specific":{{"severity":"HIGH"}}}}]"#
    );
    AdvisoryDb::from_json(&json).expect("test bundle parses")
}

fn hit(db: &AdvisoryDb, eco: Ecosystem, v: Option<&str>) -> bool {
    let p = Package { ecosystem: eco as i32, name: "pkg".into(), version: v.map(Into::into), pinned: false };
    !db.matches(&p).is_empty()
}

#[test]
fn bundle_covers_every_matchable_reference_advisory() {
    let db = db();
    for id in [
        "GHSA-6xpm-ggf7-wc3p",
        "CVE-2025-49596",
        "CVE-2025-53109",
        "CVE-2025-53110",
        "CVE-2025-66414",
        "CVE-2025-66416",
        "CVE-2026-0621",
        "CVE-2025-53365",
        "CVE-2025-53366",
        "CVE-2025-68143",
        "CVE-2025-68144",
        "CVE-2025-68145",
        "CVE-2026-27735",
        "CVE-2025-53967",
        "CVE-2026-46519",
        "GHSA-m67f-jxm9-cvx8",
        "CVE-2026-27825",
        "CVE-2026-27826",
        "GHSA-v9m3-wfh8-5646",
        "CVE-2025-9611",
        "MAL-2025-47604",
    ] {
        let found = db.get(id).is_some() || db.advisories().iter().any(|a| a.related.iter().any(|r| r == id));
        assert!(found, "{id} missing from the bundle");
    }
    let mut seen = std::collections::HashSet::new();
    for a in db.advisories() {
        assert!(seen.insert(a.id.as_str()), "duplicate id {}", a.id);
        assert!(a.severity().is_some(), "{} has no severity", a.id);
        assert!(!a.summary.is_empty() && !a.details.is_empty(), "{}", a.id);
        assert!(!a.references.is_empty(), "{}", a.id);
        assert!(a.affected.iter().all(|x| x.package.ecosystem == "npm" || x.package.ecosystem == "PyPI"), "{}", a.id);
    }
}

#[test]
fn mcp_remote_cve_2025_6514_boundaries() {
    let db = db();
    assert_eq!(ids(db, &npm("mcp-remote", Some("0.1.15"))), ["GHSA-6xpm-ggf7-wc3p"]);
    assert_eq!(ids(db, &npm("mcp-remote", Some("0.0.5"))), ["GHSA-6xpm-ggf7-wc3p"], "introduced is inclusive");
    assert!(ids(db, &npm("mcp-remote", Some("0.0.4"))).is_empty(), "before introduced");
    assert!(ids(db, &npm("mcp-remote", Some("0.1.16"))).is_empty(), "fixed is exclusive");
    assert!(ids(db, &npm("mcp-remote", Some("1.0.0"))).is_empty());
    assert_eq!(
        ids(db, &npm("mcp-remote", Some("0.1.16-rc.1"))),
        ["GHSA-6xpm-ggf7-wc3p"],
        "a pre-release precedes its fix"
    );
    assert_eq!(ids(db, &npm("mcp-remote", Some("v0.1.15"))), ["GHSA-6xpm-ggf7-wc3p"]);
    assert!(ids(db, &npm("mcp-remote", Some("0.1.16+build.7"))).is_empty(), "build metadata is ignored");
    assert_eq!(db.get("CVE-2025-6514").and_then(Advisory::severity), Some(AdvisorySeverity::Critical));
}

#[test]
fn unpinned_packages_match_only_advisories_without_a_fix() {
    let db = db();
    // mcp-remote has a fix, so `npx mcp-remote` (latest) is not flagged for it.
    assert!(db.matches(&npm("mcp-remote", None)).is_empty());
    assert!(db.matches(&npm("mcp-remote", Some("latest"))).is_empty());
    assert!(db.matches(&npm("mcp-remote", Some("^0.1.0"))).is_empty(), "a range is not a version");
    assert!(db.matches(&npm("mcp-remote", Some("0.1"))).is_empty(), "npm reads 0.1 as the newest 0.1.x, not 0.1.0");
    // The archived Postgres server was never fixed: every install is affected.
    let pg = db.assess(&npm("@modelcontextprotocol/server-postgres", None));
    assert_eq!(pg.len(), 1);
    assert_eq!((pg[0].advisory.id.as_str(), pg[0].basis), ("MUSTER-2025-0002", MatchBasis::UnpinnedLatest));
}

#[test]
fn postmark_mcp_is_malicious_in_every_version() {
    let db = db();
    for v in [None, Some("latest"), Some("1.0.0"), Some("1.0.16"), Some("9.9.9")] {
        let m = db.assess(&npm("postmark-mcp", v));
        assert_eq!(m.len(), 1, "{v:?}");
        assert_eq!(m[0].basis, MatchBasis::Malicious);
        assert!(m[0].advisory.is_malicious());
        assert_eq!(m[0].advisory.severity().map(AdvisorySeverity::to_proto), Some(Severity::Critical));
    }
    assert!(db.matches(&npm("@activecampaign/postmark-mcp", Some("1.0.0"))).is_empty(), "the genuine package is clean");
}

#[test]
fn filesystem_server_two_ranges_with_last_affected() {
    let db = db();
    let fs = |v: &str| ids(db, &npm("@modelcontextprotocol/server-filesystem", Some(v)));
    let both = ["GHSA-hc55-p739-j48w", "GHSA-q66q-fx2p-7w4m"];
    assert_eq!(fs("0.6.2"), both, "last_affected is inclusive");
    assert_eq!(fs("0.1.0"), both);
    assert!(fs("0.6.3").is_empty(), "after last_affected, before the second range");
    assert!(fs("2025.1.13").is_empty());
    assert_eq!(fs("2025.1.14"), both);
    assert_eq!(fs("2025.6.30"), both);
    assert!(fs("2025.7.1").is_empty());
}

#[test]
fn kubernetes_server_last_affected_and_multiple_advisories() {
    let db = db();
    let k = |v: &str| ids(db, &npm("mcp-server-kubernetes", Some(v)));
    assert_eq!(k("2.4.9"), ["GHSA-cr22-wjx7-2w6m", "GHSA-m67f-jxm9-cvx8", "MUSTER-2025-0001"]);
    assert_eq!(k("3.5.1"), ["GHSA-cr22-wjx7-2w6m", "GHSA-m67f-jxm9-cvx8"]);
    assert_eq!(k("4.0.1"), ["GHSA-m67f-jxm9-cvx8"]);
    assert!(k("4.0.2").is_empty());
    assert!(k("4.0.2-beta.1").is_empty(), "a pre-release of the next version is past last_affected 4.0.1");
}

#[test]
fn pypi_names_normalise_and_versions_compare_as_pep440() {
    let db = db();
    let git = |v: &str| ids(db, &pypi("MCP_Server.Git", Some(v)));
    assert_eq!(git("2025.9.24"), ["CVE-2025-68143", "CVE-2025-68144", "CVE-2025-68145", "GHSA-vjqx-cfc4-9h6v"]);
    assert_eq!(git("2025.9.25"), ["CVE-2025-68144", "CVE-2025-68145", "GHSA-vjqx-cfc4-9h6v"]);
    assert_eq!(
        git("2025.12.18rc1"),
        ["CVE-2025-68144", "CVE-2025-68145", "GHSA-vjqx-cfc4-9h6v"],
        "rc precedes release"
    );
    assert_eq!(git("2026.1.14.dev0"), ["GHSA-vjqx-cfc4-9h6v"], "dev precedes release");
    assert!(git("2026.1.14").is_empty());
    assert!(git("2026.1.14.post1").is_empty());
    assert_eq!(ids(db, &pypi("mcp-server-git", Some("==0.6.2"))).len(), 4);
    let mcp = |v: &str| ids(db, &pypi("mcp", Some(v)));
    assert_eq!(mcp("1.9.3"), ["CVE-2025-53365", "CVE-2025-53366", "CVE-2025-66416"]);
    assert_eq!(mcp("1.9.4"), ["CVE-2025-53365", "CVE-2025-66416"]);
    assert_eq!(mcp("1.10"), ["CVE-2025-66416"], "1.10 equals 1.10.0");
    assert!(mcp("1.23.0").is_empty());
    assert!(ids(db, &pypi("mcp-server-git", Some(">=2025.1"))).is_empty(), "a specifier is unpinned");
}

#[test]
fn ecosystems_do_not_cross() {
    let db = db();
    assert!(db.matches(&pypi("mcp-remote", Some("0.1.15"))).is_empty());
    assert!(db.matches(&npm("mcp-atlassian", Some("0.1.0"))).is_empty());
    let oci = Package { ecosystem: Ecosystem::Oci as i32, name: "postmark-mcp".into(), version: None, pinned: false };
    assert!(db.matches(&oci).is_empty());
}

#[test]
fn explicit_versions_list_matches_exactly() {
    let s = single("npm", "[]", r#"["1.2.3","2.0.0-beta.1"]"#);
    assert!(hit(&s, Ecosystem::Npm, Some("1.2.3")));
    assert!(hit(&s, Ecosystem::Npm, Some("2.0.0-beta.1")));
    assert!(!hit(&s, Ecosystem::Npm, Some("1.2.4")));
    assert!(!hit(&s, Ecosystem::Npm, Some("2.0.0")));
    assert!(!hit(&s, Ecosystem::Npm, None), "a list does not say the newest release is affected");
    let p = single("PyPI", "[]", r#"["1.0","not a version!"]"#);
    assert!(hit(&p, Ecosystem::Pypi, Some("1.0.0")), "PEP 440 pads zeros");
    assert!(!hit(&p, Ecosystem::Pypi, Some("1.0.1")));
}

#[test]
fn semver_range_prerelease_and_unsorted_events() {
    // Events out of order are sorted; introduced at a pre-release includes later pre-releases.
    let s = single("npm", r#"[{"type":"SEMVER","events":[{"fixed":"2.0.0"},{"introduced":"1.0.0-alpha.2"}]}]"#, "[]");
    assert!(!hit(&s, Ecosystem::Npm, Some("1.0.0-alpha.1")));
    assert!(hit(&s, Ecosystem::Npm, Some("1.0.0-alpha.2")));
    assert!(hit(&s, Ecosystem::Npm, Some("1.0.0-beta")));
    assert!(hit(&s, Ecosystem::Npm, Some("1.9.9")));
    assert!(hit(&s, Ecosystem::Npm, Some("2.0.0-rc.1")));
    assert!(!hit(&s, Ecosystem::Npm, Some("2.0.0")));
    assert!(!hit(&s, Ecosystem::Npm, None));
}

#[test]
fn reintroduced_range_is_open_ended() {
    let s = single(
        "npm",
        r#"[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.0"},{"introduced":"3.0.0"}]}]"#,
        "[]",
    );
    assert!(hit(&s, Ecosystem::Npm, Some("0.9.0")));
    assert!(!hit(&s, Ecosystem::Npm, Some("2.0.0")));
    assert!(hit(&s, Ecosystem::Npm, Some("3.1.0")));
    assert!(hit(&s, Ecosystem::Npm, None), "regressed again in 3.0.0 with no fix: latest is affected");
}

#[test]
fn semver_range_on_pypi_pads_short_releases() {
    let s = single("PyPI", r#"[{"type":"SEMVER","events":[{"introduced":"0"},{"last_affected":"1.4.0"}]}]"#, "[]");
    assert!(hit(&s, Ecosystem::Pypi, Some("1.4")));
    assert!(!hit(&s, Ecosystem::Pypi, Some("1.4.1")));
    assert!(!hit(&s, Ecosystem::Pypi, None), "last_affected closes the range");
}

#[test]
fn ecosystem_range_with_pep440_epochs_and_post_releases() {
    let s = single("PyPI", r#"[{"type":"ECOSYSTEM","events":[{"introduced":"1.0"},{"fixed":"1.0.post2"}]}]"#, "[]");
    assert!(hit(&s, Ecosystem::Pypi, Some("1.0")));
    assert!(hit(&s, Ecosystem::Pypi, Some("1.0.post1")));
    assert!(!hit(&s, Ecosystem::Pypi, Some("1.0.post2")));
    assert!(!hit(&s, Ecosystem::Pypi, Some("1.0rc1")), "rc precedes introduced 1.0");
    assert!(!hit(&s, Ecosystem::Pypi, Some("1!0.1")), "an epoch sorts after every epoch-0 version");
}

#[test]
fn withdrawn_and_foreign_ecosystem_records_never_match() {
    let json = r#"[
      {"id":"W-1","withdrawn":"2026-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"pkg"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"}]}]}]},
      {"id":"GO-1","affected":[{"package":{"ecosystem":"Go","name":"pkg"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"}]}]}]},
      {"id":"G-1","affected":[{"package":{"ecosystem":"npm","name":"other"},"ranges":[{"type":"GIT","repo":"r","events":[{"introduced":"abc"},{"limit":"def"}]}]}]}
    ]"#;
    let db = AdvisoryDb::from_json(json).expect("parses");
    assert_eq!(db.advisories().len(), 3);
    assert!(!hit(&db, Ecosystem::Npm, Some("1.0.0")));
    assert!(db.matches(&npm("other", Some("1.0.0"))).is_empty());
}

#[test]
fn invalid_bundles_are_rejected_with_the_reason() {
    assert!(matches!(AdvisoryDb::from_json("{}"), Err(AdvisoryError::Json(_))));
    let rec = |ranges: &str, extra: &str| {
        format!(
            r#"[{{"id":"X-1"{extra},"affected":[{{"package":{{"ecosystem":"npm","name":"p"}},"ranges":{ranges}}}]}}]"#
        )
    };
    let bad_version = rec(r#"[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"one.two"}]}]"#, "");
    assert!(
        matches!(AdvisoryDb::from_json(&bad_version), Err(AdvisoryError::InvalidVersion { ref version, .. }) if version == "one.two")
    );
    let mixed =
        rec(r#"[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.0"},{"last_affected":"2.0.0"}]}]"#, "");
    assert!(matches!(AdvisoryDb::from_json(&mixed), Err(AdvisoryError::InvalidRange { .. })));
    let no_intro = rec(r#"[{"type":"SEMVER","events":[{"fixed":"1.0.0"}]}]"#, "");
    assert!(matches!(AdvisoryDb::from_json(&no_intro), Err(AdvisoryError::InvalidRange { .. })));
    let two_keys = rec(r#"[{"type":"SEMVER","events":[{"introduced":"0","fixed":"1.0.0"}]}]"#, "");
    assert!(matches!(AdvisoryDb::from_json(&two_keys), Err(AdvisoryError::InvalidRange { .. })));
    let bad_sev = rec("[]", r#","database_specific":{"severity":"SEVERE"}"#);
    assert!(matches!(AdvisoryDb::from_json(&bad_sev), Err(AdvisoryError::InvalidSeverity { .. })));
    assert!(matches!(AdvisoryDb::from_json(r#"[{"id":" "}]"#), Err(AdvisoryError::MissingId { index: 0 })));
}

#[test]
fn advised_server_packages_are_in_the_service_catalog() {
    // SDKs are libraries inside servers and the malicious look-alike must not be classified as
    // Postmark; every other advised package is an MCP server the catalog should recognise.
    let not_servers = ["@modelcontextprotocol/sdk", "mcp", "postmark-mcp"];
    for advisory in db().advisories() {
        for affected in &advisory.affected {
            let name = affected.package.name.as_str();
            if not_servers.contains(&name) {
                continue;
            }
            let pkg = if affected.package.ecosystem == "npm" { npm(name, None) } else { pypi(name, None) };
            assert!(
                crate::catalog::lookup(Some(&pkg), None, None).is_some(),
                "{} ({}) not in the catalog",
                name,
                advisory.id
            );
        }
    }
}
