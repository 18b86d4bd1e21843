//! Test helpers: servers, plans and the golden files under `agent/tests/fixtures/client_policy`.

use std::path::PathBuf;

use super::{Asks, Compiled, FileChange, Identity, Owned, Plan, ServerPolicy};

pub fn stdio(client: &str, name: &str, argv: &[&str]) -> ServerPolicy {
    ServerPolicy {
        client: client.into(),
        name: name.into(),
        identity: Identity::Command {
            program: argv[0].into(),
            args: argv[1..].iter().map(|a| Some((*a).to_string())).collect(),
        },
        asks: Asks::default(),
    }
}

pub fn remote(client: &str, name: &str, url: &str) -> ServerPolicy {
    ServerPolicy {
        client: client.into(),
        name: name.into(),
        identity: Identity::Url(Some(url.into())),
        asks: Asks::default(),
    }
}

pub fn blocked(mut s: ServerPolicy, rule: &str) -> ServerPolicy {
    s.asks.block = Some(rule.into());
    s
}

pub fn denied_tools(mut s: ServerPolicy, rule: &str, tools: &[&str]) -> ServerPolicy {
    s.asks.deny_tools.push((rule.into(), tools.iter().map(|t| (*t).to_string()).collect()));
    s
}

pub fn approval(mut s: ServerPolicy, rule: &str) -> ServerPolicy {
    s.asks.require_approval = Some(rule.into());
    s
}

pub fn plan<'a>(servers: &'a [ServerPolicy], existing: Option<&'a [u8]>, owned: &'a Owned) -> Plan<'a> {
    Plan { servers, existing, owned, os: crate::platform::Os::Linux, options: Default::default() }
}

/// The bytes a compile writes (panics on anything else).
pub fn written(c: &Compiled) -> &[u8] {
    match &c.change {
        FileChange::Write(b) => b,
        other => panic!("expected a write, got {other:?}"),
    }
}

/// A fixture file of `agent/tests/fixtures/client_policy/<client>/`.
pub fn fixture(client: &str, name: &str) -> Vec<u8> {
    let p = fixture_path(client, name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

pub fn fixture_path(client: &str, name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/client_policy").join(client).join(name)
}

/// Compare with a golden file, showing both texts on a mismatch.
pub fn assert_golden(client: &str, name: &str, actual: &[u8]) {
    let p = fixture_path(client, name);
    let Ok(expected) = std::fs::read(&p) else {
        let _ = std::fs::write(p.with_extension("actual"), actual);
        panic!("golden {} is missing; the output was left beside it as .actual", p.display());
    };
    assert!(
        expected == actual,
        "golden {client}/{name} differs\n--- expected\n{}\n--- actual\n{}",
        String::from_utf8_lossy(&expected),
        String::from_utf8_lossy(actual)
    );
}
