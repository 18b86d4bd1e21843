//! The generated leak test (`muster_e2e::leakgen`, the same plan as `generated_leaks`) on the
//! developer's side of the agent: the local API and the tray app. A real `muster-agent run`,
//! enrolled, with a published policy that quarantines one planted server, serves its local API on
//! a socket of its own over a `--root` image whose home is the caller's (this test's account) and
//! holds every generated file. Then every byte the developer can get from the agent is searched
//! for each secret, its encodings and every 12-character window (`find_leaks`):
//!
//! - every local rpc's answer: `GetStatus`; the first `WatchStatus` message and the ones up to
//!   the one showing a config file written after the stream opened; `DisableServer` and
//!   `UndoDisable` on a planted server (and their refusals); `RequestException`'s answer and
//!   its refusals (the error messages too);
//! - `muster-agent status` and `status --format json`, stdout and stderr;
//! - the agent's state dir after all that, except two kinds of file: the identity (the agent's
//!   own private key, no inventory in it) and the file-safety layer's backups
//!   (`enforce/backups/`): those are byte-identical copies of the user's own config files, kept
//!   by design so a quarantine or a disable can be undone byte for byte; they hold the user's
//!   secrets exactly as the user's file does, never leave the machine and are readable by root
//!   only. Everything else there (journal, developer-disable records, outbox, local inventory)
//!   is searched;
//! - the daemon's log;
//! - the tray app's side, fed the statuses the real agent served: `desktop-ui`'s
//!   `render_status` example (built by cargo like the agent binary, so this crate does not link
//!   the app) answers the app's own `get_status` command through Tauri's mock runtime — the
//!   window's model, what the window renders — and prints the tray's state line, every
//!   notification candidate's title and body, and what the notification rules release (the
//!   app's defaults, and with no rate limit so every urgent finding's notice is rendered).
//!
//! The tray app persists no state of its own: its notification, snooze and pause state
//! (`AppState.notifier`) lives in memory only, so there is no tray state file to search here
//! (`desktop-ui/README.md` says so). The webview's own storage is checked by the window test
//! under Xvfb (`desktop-ui/tests/window_under_xvfb.rs`).
//!
//! It cannot pass by seeing nothing: the caller's status must list every planted server of the
//! parsable files, the stream's later message the late file's servers, the policy's quarantine
//! with its rule, the developer's disable, the window's model the planted server names and the
//! quarantine's rule, and at least one notification must be released.
//!
//! Its first run failed on the planted `aws-bedrock-api-key` value of the form
//! `bedrock-api-key-YmVk…`: the "leak" was the family's own name (`aws-bedrock-api-key`) matching
//! the value's first windows, because the generator took only the first alternative's literal
//! as public. `leakgen` now takes the literal of the alternative the value starts with.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::AsyncWriteExt;

use anyhow::{Context, anyhow, ensure};
use muster_control_plane::policies;
use muster_control_plane::state::unix_now;
use muster_e2e::leakgen::{self, find_leaks};
use muster_e2e::{Sandbox, agent_binary, eventually};
use muster_proto::local::client;
use muster_proto::local::v1::{
    DisableServerRequest, GetStatusRequest, LocalStatus, QuarantineOrigin, RequestExceptionRequest, UndoDisableRequest,
};
use muster_proto::prost::Message;

/// The planted server the policy quarantines (its name holds no secret; its arguments do), in
/// Codex's file only: Codex has its own switch (`enabled = false`), so the entry stays in the
/// file and every planted server is still counted (the other formats' entries would move to a
/// sidecar and out of the inventory).
const QUARANTINED: &str = "arg-flag-space-0";
/// The planted server the developer disables and turns back on.
const DISABLED: &str = "env-secret-name-0";
/// The generated file written only after the status stream is open.
const LATE_FILE: &str = ".continue/config.yaml";

const POLICY: &str = r#"version = 1
name = "e2e-local-leaks"

[[rule]]
id = "retire-flag-servers"
title = "Servers taking a token flag are being retired"
action = "quarantine"
[rule.match]
name = ["arg-flag-space-0"]
[rule.target]
client = ["codex"]
"#;

type Captured = Vec<(String, Vec<u8>)>;

fn servers(status: &LocalStatus) -> impl Iterator<Item = &muster_proto::v1::McpServer> {
    status.clients.iter().flat_map(|c| &c.servers)
}

fn count_in(status: &LocalStatus, file: &str) -> usize {
    servers(status).filter(|s| s.config_path.ends_with(file)).count()
}

fn server_id(status: &LocalStatus, name: &str, file: &str) -> anyhow::Result<String> {
    servers(status)
        .find(|s| s.name == name && s.config_path.ends_with(file))
        .map(|s| s.id.clone())
        .with_context(|| format!("{name} in {file} is not in the caller's status"))
}

/// `desktop-ui`'s `render_status` example, built once per test run.
fn tray_renderer() -> anyhow::Result<PathBuf> {
    static BINARY: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    BINARY
        .get_or_init(|| {
            let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
            let mut build = escargot::CargoBuild::new()
                .manifest_path(manifest)
                .package("muster-desktop-ui")
                .example("render_status");
            // As for the agent binary: the variables cargo set for this test describe this package.
            for (name, _) in std::env::vars_os() {
                let name = name.to_string_lossy();
                if (name.starts_with("CARGO_") && name != "CARGO_HOME" && name != "CARGO_TARGET_DIR")
                    || name == "OUT_DIR"
                {
                    build = build.env_remove(name.as_ref());
                }
            }
            build.run().map(|run| run.path().to_path_buf()).map_err(|e| format!("building render_status: {e}"))
        })
        .clone()
        .map_err(|e| anyhow!(e))
}

/// What the tray app renders of `statuses` (see the module comment), and how many notices its
/// rules released.
async fn tray_renderings(statuses: &[&LocalStatus]) -> anyhow::Result<(String, usize)> {
    let mut input = Vec::new();
    for s in statuses {
        s.encode_length_delimited(&mut input)?;
    }
    let mut child = tokio::process::Command::new(tray_renderer()?)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdin = child.stdin.take().context("stdin")?;
    stdin.write_all(&input).await?;
    drop(stdin);
    let out = child.wait_with_output().await?;
    ensure!(out.status.success(), "render_status failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout)?;
    ensure!(text.contains(&format!("statuses {}", statuses.len())), "render_status did not render every status");
    let released = text
        .lines()
        .find_map(|l| l.strip_prefix("released "))
        .and_then(|n| n.parse().ok())
        .context("no `released` line")?;
    Ok((text, released))
}

/// The agent's state dir, without the identity and the file-safety layer's backups (see above).
fn state_files(state_dir: &Path) -> anyhow::Result<Captured> {
    fn walk(dir: &Path, out: &mut Captured) -> anyhow::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                if path.ends_with("enforce/backups") {
                    continue;
                }
                walk(&path, out)?;
            } else if path.file_name().is_some_and(|n| n != muster_agent::state::IDENTITY_FILE) {
                out.push((path.display().to_string(), std::fs::read(&path)?));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(state_dir, &mut out)?;
    Ok(out)
}

pub async fn generated_secrets_never_reach_the_local_api_or_the_tray(sb: Sandbox) -> anyhow::Result<Sandbox> {
    let plan = leakgen::plan(0x1EA4_6E4E_2026_0013);
    let cp = sb.cp()?;
    policies::publish(cp.state.store.as_ref(), cp.state.as_ref(), POLICY, "e2e", "", unix_now()).await?;
    let mut agent = sb.enrolled_agent("local-leaks").await?;
    // The generated files go in the home of the account this test runs as: the local API shows a
    // caller their own servers only.
    let account = muster_agent::local_api::caller::account_name(muster_agent::state::effective_uid())
        .context("this test's account name")?;
    let home = agent.root.join(if account == "root" { "root".to_string() } else { format!("home/{account}") });
    let write = |rel: &str, text: &str| -> anyhow::Result<()> {
        let path = home.join(rel);
        std::fs::create_dir_all(path.parent().context("file has a parent")?)?;
        Ok(std::fs::write(&path, text)?)
    };
    for (rel, text) in plan.files.iter().filter(|(rel, _)| rel.as_str() != LATE_FILE) {
        write(rel, text)?;
    }
    let socket = agent.state_dir.with_file_name("local.sock");
    let socket_arg = socket.display().to_string();
    agent.spawn_with(&["--socket", &socket_arg])?;
    let mut captured: Captured = Vec::new();

    // Every planted server of the files written so far is in the caller's status, and the
    // policy's quarantine is in force.
    let early: Vec<(&String, &usize)> =
        plan.servers_per_file.iter().filter(|(f, _)| f.as_str() != LATE_FILE && !f.starts_with("src/")).collect();
    let socket_ref = &socket;
    let early_ref = &early;
    let first = eventually("every early planted server and the quarantine in the caller's status", || async move {
        let mut c = client::connect(socket_ref).await?;
        let s = c.get_status(GetStatusRequest {}).await?.into_inner();
        let all = early_ref.iter().all(|(f, n)| count_in(&s, f) == **n);
        let quarantined = s.quarantines.iter().any(|q| q.origin == QuarantineOrigin::Policy as i32);
        Ok((all && quarantined).then_some(s))
    })
    .await
    .with_context(|| agent.log())?;
    captured.push(("GetStatus".into(), first.encode_to_vec()));
    let quarantine = first
        .quarantines
        .iter()
        .find(|q| q.origin == QuarantineOrigin::Policy as i32)
        .context("the policy's quarantine")?
        .clone();
    ensure!(quarantine.server_name == QUARANTINED && quarantine.rule_id == "retire-flag-servers", "{quarantine:?}");

    // The stream: its first message, then the messages up to the one with the late file.
    let mut local = client::connect(&socket).await?;
    let mut stream = local.watch_status(GetStatusRequest {}).await?.into_inner();
    let opening = stream.message().await?.context("the stream's first message")?;
    captured.push(("WatchStatus first message".into(), opening.encode_to_vec()));
    write(LATE_FILE, &plan.files[LATE_FILE])?;
    let late = plan.servers_per_file[LATE_FILE];
    let after_edit = tokio::time::timeout(muster_e2e::DEADLINE, async {
        loop {
            let m = stream.message().await?.context("the stream ended")?;
            captured.push((format!("WatchStatus message revision {}", m.revision), m.encode_to_vec()));
            if count_in(&m, LATE_FILE) == late {
                return anyhow::Ok(m);
            }
        }
    })
    .await
    .map_err(|_| anyhow!("no WatchStatus message showed {LATE_FILE}: {}", agent.log()))??;

    // The developer's one-click fix on a planted server, and its undo; refusals too.
    let disabled_id = server_id(&after_edit, DISABLED, ".cursor/mcp.json")?;
    let disable = local.disable_server(DisableServerRequest { server_id: disabled_id.clone() }).await;
    let disable = disable.map_err(|e| anyhow!("DisableServer refused: {e:?}"))?.into_inner();
    captured.push(("DisableServer".into(), disable.encode_to_vec()));
    let disabled_ref = &disabled_id;
    let with_disable = eventually("the developer's disable in the status", || async move {
        let mut c = client::connect(socket_ref).await?;
        let s = c.get_status(GetStatusRequest {}).await?.into_inner();
        Ok(s.quarantines
            .iter()
            .any(|q| q.server_id == *disabled_ref && q.origin == QuarantineOrigin::Developer as i32)
            .then_some(s))
    })
    .await?;
    captured.push(("GetStatus with the disable".into(), with_disable.encode_to_vec()));
    // The disable's record and journal are in the state dir now; read them before the undo.
    captured.extend(state_files(&agent.state_dir)?.into_iter().map(|(p, b)| (format!("while disabled: {p}"), b)));
    let again = local.disable_server(DisableServerRequest { server_id: disabled_id.clone() }).await;
    let again = again.err().context("disabling twice was accepted")?;
    captured.push(("DisableServer twice (error)".into(), format!("{again:?}").into_bytes()));
    let undo = local.undo_disable(UndoDisableRequest { server_id: disabled_id.clone() }).await;
    captured
        .push(("UndoDisable".into(), undo.map_err(|e| anyhow!("UndoDisable: {e:?}"))?.into_inner().encode_to_vec()));
    let undo_again = local.undo_disable(UndoDisableRequest { server_id: disabled_id.clone() }).await;
    captured.push(("UndoDisable twice (error)".into(), format!("{:?}", undo_again.err()).into_bytes()));

    // Exception requests: filed for the quarantined server; refused for an unknown rule (the
    // control plane's words) and for a server that is not the caller's.
    let ask = |server_id: &str, rule: &str| RequestExceptionRequest {
        server_id: server_id.into(),
        rule_id: rule.into(),
        reason: "needed for the release; the token moves to the keychain next sprint".into(),
    };
    let filed = local.request_exception(ask(&quarantine.server_id, "retire-flag-servers")).await;
    let filed = filed.map_err(|e| anyhow!("RequestException: {e:?}"))?.into_inner();
    ensure!(filed.request.is_some(), "no request in the answer");
    captured.push(("RequestException".into(), filed.encode_to_vec()));
    let unknown_rule = local.request_exception(ask(&quarantine.server_id, "no-such-rule")).await;
    captured.push(("RequestException unknown rule (error)".into(), format!("{:?}", unknown_rule.err()).into_bytes()));
    let not_mine = local.request_exception(ask("0123456789abcdef", "retire-flag-servers")).await;
    captured.push(("RequestException not mine (error)".into(), format!("{:?}", not_mine.err()).into_bytes()));

    // The final status, with the exception request in it.
    let last = eventually("the exception request and the undone server in the status", || async move {
        let mut c = client::connect(socket_ref).await?;
        let s = c.get_status(GetStatusRequest {}).await?.into_inner();
        let back = server_id(&s, DISABLED, ".cursor/mcp.json").is_ok();
        Ok((!s.exception_requests.is_empty() && back).then_some(s))
    })
    .await?;
    captured.push(("GetStatus at the end".into(), last.encode_to_vec()));

    // `muster-agent status` in both formats, as the developer runs it.
    for format in ["text", "json"] {
        let out = tokio::process::Command::new(agent_binary()?)
            .args(["status", "--format", format, "--socket", &socket_arg])
            .output()
            .await?;
        ensure!(out.status.success(), "status --format {format}: {}", String::from_utf8_lossy(&out.stderr));
        ensure!(
            String::from_utf8_lossy(&out.stdout).contains(DISABLED),
            "status --format {format} does not name the planted servers: the search would be blind"
        );
        captured.push((format!("status --format {format} stdout"), out.stdout));
        captured.push((format!("status --format {format} stderr"), out.stderr));
    }

    // The tray app's renderings of what the real agent served.
    let (rendered, released) = tray_renderings(&[&first, &after_edit, &with_disable, &last]).await?;
    ensure!(released > 0, "the notification rules released nothing: the notification search would be blind");
    let last_names = rendered.lines().rfind(|l| l.starts_with("named ")).unwrap_or_default();
    for name in [DISABLED, "url-query-0", "header-bearer-0", "cwd-0"] {
        ensure!(
            last_names.split(' ').any(|n| n == name),
            "the window's model does not name {name}: the search would be blind"
        );
    }
    ensure!(
        rendered.lines().any(|l| l.starts_with("quarantine rules ") && l.contains("retire-flag-servers")),
        "the window's model does not show the quarantine's rule"
    );
    captured.push(("the tray app's renderings".into(), rendered.into_bytes()));

    agent.check_running()?;
    captured.extend(state_files(&agent.state_dir)?);
    captured.push(("daemon log".into(), agent.log().into_bytes()));
    let leaks = find_leaks(&plan.planted, &captured);
    ensure!(
        leaks.is_empty(),
        "{} generated secrets reached the local API or the tray:\n{}",
        leaks.len(),
        leaks.join("\n")
    );
    Ok(sb)
}
