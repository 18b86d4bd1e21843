//! The link to the local agent: one `WatchStatus` stream, reopened when the agent restarts.
//! Every status it pushes goes to [`crate::on_status`]; between statuses it wakes only when the
//! notification rules ask for it (a snooze ending, the digest hour).

#[cfg(unix)]
use std::collections::BTreeMap;
#[cfg(unix)]
use std::time::Duration;

#[cfg(unix)]
use muster_proto::local::client::connect_first;
#[cfg(unix)]
use muster_proto::local::socket::{SOCKET_ENV, client_candidates};
#[cfg(unix)]
use muster_proto::local::v1::GetStatusRequest;
#[cfg(unix)]
use tauri::Manager;
use tauri::{AppHandle, Runtime};

#[cfg(unix)]
use crate::AppState;

/// How long to wait before asking again for an agent that is not running.
#[cfg(unix)]
const RECONNECT: Duration = Duration::from_secs(5);

/// No local API client off Unix yet (the agent's Windows named pipe is not built): offline.
#[cfg(not(unix))]
pub fn spawn<R: Runtime>(app: AppHandle<R>) {
    crate::on_status(&app, None);
}

#[cfg(unix)]
pub fn spawn<R: Runtime>(app: AppHandle<R>) {
    let env: BTreeMap<String, String> = ["XDG_RUNTIME_DIR", SOCKET_ENV]
        .into_iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
        .collect();
    let candidates = client_candidates(&env);
    tauri::async_runtime::spawn(async move {
        loop {
            match connect_first(&candidates).await {
                Ok((path, mut client)) => match client.watch_status(GetStatusRequest {}).await {
                    Ok(stream) => {
                        tracing::info!(socket = %path.display(), "connected to the agent");
                        follow(&app, stream.into_inner()).await;
                    }
                    Err(refused) => tracing::warn!(error = %refused.message(), "the agent refused"),
                },
                Err(e) => tracing::debug!(error = %e, "no agent"),
            }
            crate::on_status(&app, None);
            tokio::time::sleep(RECONNECT).await;
        }
    });
}

#[cfg(unix)]
async fn follow<R: Runtime>(
    app: &AppHandle<R>,
    mut stream: muster_proto::tonic::Streaming<muster_proto::local::v1::LocalStatus>,
) {
    loop {
        let wake = {
            let state = app.state::<AppState>();
            let now = state.now();
            let next = state.notifier.lock().unwrap_or_else(|e| e.into_inner()).next_wakeup(now);
            next.map(|at| Duration::try_from(at - now).unwrap_or_default())
        };
        let timer = async {
            match wake {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            msg = stream.message() => match msg {
                Ok(Some(status)) => crate::on_status(app, Some(status)),
                Ok(None) | Err(_) => return,
            },
            () = timer => crate::on_tick(app),
        }
    }
}
