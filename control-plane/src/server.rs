//! Running the control plane: gRPC (TLS only) and HTTP on listeners the caller bound, until a
//! shutdown future resolves, then a graceful stop with a grace period.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::state::ControlPlane;

/// How long in-flight calls get to finish after shutdown is requested.
pub const GRACE_PERIOD: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Tls(#[from] crate::grpc::tls::TlsSetupError),
    #[error("grpc server failed")]
    Grpc(#[from] tonic::transport::Error),
    #[error("http server failed")]
    Http(#[from] std::io::Error),
    #[error("server task failed")]
    Join(#[from] tokio::task::JoinError),
    #[error(transparent)]
    HttpListener(#[from] crate::http::listener::HttpListenerError),
}

/// Serves gRPC on `grpc_listener` (TLS 1.3, mTLS) and HTTP on `http_listener` (HTTPS unless
/// `http.tls` is off, which is refused on a non-loopback address) until `shutdown` resolves or a
/// server fails.
pub async fn serve(
    state: Arc<ControlPlane>,
    grpc_listener: TcpListener,
    http_listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    use crate::http::listener::{TlsListener, check_plain_http, tls_config};
    let http_addr = http_listener.local_addr()?;
    state.set_agent_address(grpc_listener.local_addr()?);
    check_plain_http(&state.http, http_addr)?;
    let http_tls = if state.http.tls { Some(tls_config(&state.http, &state.pki)?) } else { None };
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stopped| *stopped).await;
    };
    let tls = crate::grpc::tls::server_config(&state.pki)?;
    let incoming = crate::grpc::tls::incoming(grpc_listener, tls, stop_rx.clone());
    let router = crate::grpc::router(state.clone(), stop_rx.clone());
    let webhooks = crate::webhook::spawn(&state, crate::webhook::WebhookConfig::default(), stop_rx.clone());
    let mut grpc = tokio::spawn(router.serve_with_incoming_shutdown(incoming, stopped(stop_rx.clone())));
    let policies = tokio::spawn(crate::state::follow_store(state.clone(), stop_rx.clone()));
    let rollups = tokio::spawn(crate::rollup::run(
        state.store.clone(),
        crate::rollup::ROLLUP_EVERY,
        stop_rx.clone(),
        crate::rollup::wall_clock,
    ));
    let http_app = crate::http::router(state).into_make_service_with_connect_info::<crate::http::ClientAddr>();
    let http_stop = stopped(stop_rx);
    let mut http = match http_tls {
        Some(tls) => {
            let listener = TlsListener::new(http_listener, tls)?;
            tokio::spawn(async move { axum::serve(listener, http_app).with_graceful_shutdown(http_stop).await })
        }
        None => {
            tokio::spawn(async move { axum::serve(http_listener, http_app).with_graceful_shutdown(http_stop).await })
        }
    };

    tokio::select! {
        () = shutdown => tracing::info!("shutting down"),
        result = &mut grpc => {
            let _ = stop_tx.send(true);
            http.abort();
            return result?.map_err(ServeError::from);
        }
        result = &mut http => {
            let _ = stop_tx.send(true);
            grpc.abort();
            return result?.map_err(ServeError::from);
        }
    }
    let _ = stop_tx.send(true);
    if let Some(webhooks) = webhooks {
        // Pending retries are dropped on shutdown (see `crate::webhook`).
        webhooks.abort();
    }
    rollups.abort();
    policies.abort();
    let finished = tokio::time::timeout(GRACE_PERIOD, async { (grpc.await, http.await) }).await;
    match finished {
        Ok((grpc, http)) => {
            grpc??;
            http??;
        }
        Err(_) => tracing::warn!("grace period over, closing remaining connections"),
    }
    Ok(())
}
