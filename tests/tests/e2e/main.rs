//! The end-to-end test binary: a control plane in-process with real certificates and agents as
//! real `muster-agent` processes (see `muster_e2e::Sandbox`). Every scenario runs on SQLite and on
//! PostgreSQL: `MUSTER_TEST_POSTGRES_URL` names a superuser URL; without it the PostgreSQL
//! variants fail unless `MUSTER_SKIP_POSTGRES=1`.
//!
//! Topics: `enroll` (enroll, run, the stored inventory equals the agent's own scan), `deltas`
//! (a config edit arrives as a delta), `outage` (control plane down, agents queue, exactly once
//! after restart), `kill` (SIGKILL after queuing and mid-send), `refusals` (revoked agent, impostor
//! control plane, reused and expired tokens, wrong CA pin), `leaks` (canary secrets in payloads and database files), `generated_leaks` (every detector
//! family in every field and format, searched for in every output, page, export and webhook),
//! `process_leaks` (the same families in running servers' command lines), `local_api_leaks`
//! (the same plan searched for in every local API answer, `muster-agent status` and what the
//! tray app renders of it),
//! `config_file` (the installed agent.toml enrolls silently on first start), `policy` (a
//! published policy in force on running agents within 2 s, kept across restarts), `data` (a
//! catalog row published at runtime changes what a running agent reports; a bundle the agent
//! refuses is listed with its reason by `/api/v1/data-bundles`; imported MCP Registry data names
//! the agent's server and makes an `isSecret` literal a credential), `exceptions`
//! (an exception request from the local API reaches the queue, the denial comes back), `quickstart`
//! (the newcomer command with the real agent scanning this machine).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::future::Future;

use muster_e2e::{Backend, Sandbox};

/// Runs `scenario` in a fresh sandbox on `backend`, failing clearly when PostgreSQL is not
/// configured (unless skipped on purpose), and cleans the sandbox up.
async fn on<F, Fut>(backend: Backend, scenario: F)
where
    F: FnOnce(Sandbox) -> Fut,
    Fut: Future<Output = anyhow::Result<Sandbox>>,
{
    let sandbox = match Sandbox::start(backend).await {
        Ok(Some(sandbox)) => sandbox,
        Ok(None) => {
            eprintln!("skipped on {backend:?}: MUSTER_SKIP_POSTGRES=1");
            return;
        }
        Err(e) => panic!("cannot start the sandbox on {backend:?}: {e:#}"),
    };
    match scenario(sandbox).await {
        Ok(sandbox) => sandbox.finish().await.expect("sandbox cleanup"),
        Err(e) => panic!("scenario failed on {backend:?}: {e:#}"),
    }
}

/// Declares `mod $name { fn sqlite(); fn postgres(); }` running `$scenario` on each backend.
macro_rules! on_both_backends {
    ($name:ident, $scenario:path) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                crate::on(muster_e2e::Backend::Sqlite, $scenario).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                crate::on(muster_e2e::Backend::Postgres, $scenario).await;
            }
        }
    };
}

mod config_file;
mod data;
mod deltas;
mod enroll;
mod exceptions;
mod generated_leaks;
mod kill;
mod leaks;
mod local_api_leaks;
mod outage;
mod policy;
mod process_leaks;
mod quickstart;
mod refusals;

on_both_backends!(enroll_run_stores_exactly_the_inventory, crate::enroll::run_stores_exactly_the_inventory);
on_both_backends!(config_file_first_start_enrolls, crate::config_file::first_start_enrolls_from_the_config_file);
on_both_backends!(config_edit_arrives_as_a_delta, crate::deltas::config_edit_arrives_as_a_delta);
on_both_backends!(outage_queues_then_delivers_exactly_once, crate::outage::queues_then_delivers_exactly_once);
on_both_backends!(kill_after_queuing_loses_nothing, crate::kill::after_queuing_loses_nothing);
on_both_backends!(kill_mid_send_loses_nothing_and_duplicates_nothing, crate::kill::mid_send_loses_nothing);
on_both_backends!(published_policy_reaches_running_agents, crate::policy::published_policy_reaches_running_agents);
on_both_backends!(
    exception_request_from_the_tray_comes_back_decided,
    crate::exceptions::requested_from_the_tray_reaches_the_queue_and_the_decision_comes_back
);
on_both_backends!(
    published_enforcement_is_applied_and_lifted,
    crate::policy::published_enforcement_is_applied_and_lifted
);
on_both_backends!(
    published_catalog_changes_detection_on_running_agents,
    crate::data::published_catalog_changes_detection_on_running_agents
);
on_both_backends!(
    data_refusals_reach_the_api_and_registry_data_reaches_agents,
    crate::data::refusals_reach_the_api_and_registry_data_reaches_agents
);
on_both_backends!(revoked_agent_is_refused, crate::refusals::revoked_agent_is_refused);
on_both_backends!(impostor_control_plane_gets_nothing, crate::refusals::impostor_control_plane_gets_nothing);
on_both_backends!(enrollment_refusals, crate::refusals::enrollment_refusals);
on_both_backends!(canaries_never_leave_the_agent, crate::leaks::canaries_never_leave_the_agent);
on_both_backends!(
    generated_secrets_never_leave_the_agent,
    crate::generated_leaks::generated_secrets_never_leave_the_agent
);

/// The local API and tray leak test on SQLite only: what it searches never reaches the control
/// plane's database (the generated leak test covers both backends), so PostgreSQL adds nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_secrets_never_reach_the_local_api_or_the_tray() {
    crate::on(Backend::Sqlite, crate::local_api_leaks::generated_secrets_never_reach_the_local_api_or_the_tray).await;
}

/// Quickstart is SQLite only (the embedded default), so it runs once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_enrolls_the_local_agent_and_stores_this_machine() {
    crate::quickstart::enrolls_the_local_agent_and_stores_this_machine().await.expect("quickstart scenario");
}
