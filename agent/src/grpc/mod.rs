//! gRPC channels to the control plane over rustls (ring, TLS 1.3 only), and the gRPC
//! [`ReportTransport`].
//!
//! The agent brings its own TLS connector instead of tonic's built-in TLS so that enrollment can
//! use the CA-pinning verifier (which `enroll` passes in) and every later call uses mutual TLS
//! with the stored fleet CA as the only root. This module holds no policy about when to call.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use muster_proto::tonic::transport::{Channel, Endpoint};
use muster_proto::tonic::{self, codegen::http::Uri};
use muster_proto::v1::enrollment_client::EnrollmentClient;
use muster_proto::v1::inventory_client::InventoryClient;
use muster_proto::v1::{HeartbeatRequest, HeartbeatResponse, RenewRequest, ReportRequest, ReportResponse};
use rustls::ClientConfig;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject};
use tokio::net::TcpStream;

use crate::keypair::new_key_and_csr;
use crate::report::{CertificateValidity, ReportTransport, TransportError};
use crate::state::{Identity, StateDir, now_unix};

/// How long one call may take before it counts as a failure.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A TLS or address problem that prevents building a channel.
#[derive(Debug, thiserror::Error)]
pub enum GrpcError {
    #[error("{server:?} is not an https://HOST:PORT address: {message}")]
    BadServer { server: String, message: String },
    #[error("invalid TLS material: {0}")]
    Tls(String),
}

/// A parsed `https://HOST:PORT` control-plane address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerAddr {
    pub host: String,
    pub port: u16,
}

impl ServerAddr {
    pub fn parse(server: &str) -> Result<ServerAddr, GrpcError> {
        let bad = |message: &str| GrpcError::BadServer { server: server.to_string(), message: message.to_string() };
        let url = url::Url::parse(server).map_err(|e| bad(&e.to_string()))?;
        if url.scheme() != "https" {
            return Err(bad("the scheme must be https"));
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.to_string(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(bad("no host")),
        };
        Ok(ServerAddr { host, port: url.port().unwrap_or(443) })
    }

    fn server_name(&self) -> Result<ServerName<'static>, GrpcError> {
        ServerName::try_from(self.host.clone())
            .map_err(|e| GrpcError::BadServer { server: self.host.clone(), message: e.to_string() })
    }

    fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// The crypto provider every agent TLS connection uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// TLS 1.3 client configuration with a custom server verifier and no client certificate
/// (enrollment).
pub fn client_config_with_verifier(verifier: Arc<dyn ServerCertVerifier>) -> Result<ClientConfig, GrpcError> {
    let mut cfg = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| GrpcError::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(cfg)
}

/// TLS 1.3 mutual-TLS configuration: the fleet CA as the only root, the agent's certificate as
/// the client certificate.
pub fn mtls_client_config(id: &Identity) -> Result<ClientConfig, GrpcError> {
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(id.ca_certificate_pem.as_bytes()) {
        let ca = ca.map_err(|e| GrpcError::Tls(format!("fleet CA: {e}")))?;
        roots.add(ca).map_err(|e| GrpcError::Tls(format!("fleet CA: {e}")))?;
    }
    if roots.is_empty() {
        return Err(GrpcError::Tls("the stored fleet CA holds no certificate".into()));
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(id.certificate_chain_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| GrpcError::Tls(format!("client certificate: {e}")))?;
    if chain.is_empty() {
        return Err(GrpcError::Tls("the stored client certificate chain is empty".into()));
    }
    // The key's parse error never includes key bytes.
    let key = PrivateKeyDer::from_pem_slice(id.private_key_pem.as_bytes())
        .map_err(|e| GrpcError::Tls(format!("client key: {e}")))?;
    let mut cfg = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| GrpcError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| GrpcError::Tls(format!("client certificate: {e}")))?;
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(cfg)
}

/// Checks that the stored client certificate chains to the stored fleet CA and is valid now for
/// client authentication, so a certificate the fleet CA did not issue is never stored.
pub fn check_client_certificate(id: &Identity) -> Result<(), GrpcError> {
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(id.ca_certificate_pem.as_bytes()) {
        let ca = ca.map_err(|e| GrpcError::Tls(format!("fleet CA: {e}")))?;
        roots.add(ca).map_err(|e| GrpcError::Tls(format!("fleet CA: {e}")))?;
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(id.certificate_chain_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| GrpcError::Tls(format!("client certificate: {e}")))?;
    let Some((leaf, intermediates)) = chain.split_first() else {
        return Err(GrpcError::Tls("the client certificate chain is empty".into()));
    };
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| GrpcError::Tls(format!("fleet CA: {e}")))?;
    verifier
        .verify_client_cert(leaf, intermediates, rustls::pki_types::UnixTime::now())
        .map_err(|e| GrpcError::Tls(format!("the client certificate does not chain to the fleet CA: {e}")))?;
    Ok(())
}

/// A lazily connecting channel to `addr` whose connections are TLS with `tls`.
pub fn channel(addr: &ServerAddr, tls: ClientConfig) -> Result<Channel, GrpcError> {
    let name = addr.server_name()?;
    let authority = addr.authority();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls));
    let target = authority.clone();
    let connect = tower::service_fn(move |_: Uri| {
        let connector = connector.clone();
        let name = name.clone();
        let target = target.clone();
        async move {
            let tcp = TcpStream::connect(target.as_str()).await?;
            tcp.set_nodelay(true)?;
            let tls = connector.connect(name, tcp).await?;
            Ok::<_, std::io::Error>(TokioIo::new(tls))
        }
    });
    // tonic refuses `https` URIs without its own TLS, so the endpoint is addressed as `http` and
    // the requests carry the real `https` origin; the connector above does the TLS.
    let bad = |e: &dyn std::fmt::Display| GrpcError::BadServer { server: authority.clone(), message: e.to_string() };
    let origin: Uri = format!("https://{authority}").parse().map_err(|e| bad(&e))?;
    let endpoint = Endpoint::from_shared(format!("http://{authority}"))
        .map_err(|e| bad(&e))?
        .origin(origin)
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(CALL_TIMEOUT)
        .http2_keep_alive_interval(Duration::from_secs(60))
        .keep_alive_while_idle(false);
    Ok(endpoint.connect_with_connector_lazy(connect))
}

/// Turns a tonic error into a [`TransportError`] without echoing request data.
///
/// `InvalidArgument` (a report over the control plane's caps, or malformed) and `OutOfRange`
/// (larger than its message size limit) say the request itself is unacceptable: they become
/// [`TransportError::Rejected`], which the daemon does not retry. Everything else, notably
/// `ResourceExhausted` (rate and work budgets, one report at a time) and `Unavailable`, may pass
/// later and is retried with backoff.
pub fn status_error(status: &tonic::Status) -> TransportError {
    match status.code() {
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Unknown => {
            TransportError::Unreachable(format!("{}: {}", status.code(), status.message()))
        }
        code @ (tonic::Code::InvalidArgument | tonic::Code::OutOfRange) => {
            TransportError::Rejected { code: code.to_string(), message: status.message().to_string() }
        }
        code => TransportError::Status { code: code.to_string(), message: status.message().to_string() },
    }
}

/// Reports and renewals over mutual TLS with the stored identity.
#[derive(Debug)]
pub struct GrpcTransport {
    addr: ServerAddr,
    state: StateDir,
    identity: Identity,
    inventory: InventoryClient<Channel>,
    enrollment: EnrollmentClient<Channel>,
}

impl GrpcTransport {
    /// Connects (lazily) as the enrolled agent.
    pub fn new(state: StateDir, identity: Identity) -> Result<GrpcTransport, GrpcError> {
        let addr = ServerAddr::parse(&identity.server)?;
        let ch = channel(&addr, mtls_client_config(&identity)?)?;
        Ok(GrpcTransport {
            addr,
            state,
            identity,
            inventory: InventoryClient::new(ch.clone()),
            enrollment: EnrollmentClient::new(ch),
        })
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }
}

impl ReportTransport for GrpcTransport {
    async fn report(&mut self, mut req: ReportRequest) -> Result<ReportResponse, TransportError> {
        req.agent_id = self.identity.agent_id.clone();
        self.inventory.report(req).await.map(tonic::Response::into_inner).map_err(|s| status_error(&s))
    }

    async fn heartbeat(&mut self, last_sequence: u64) -> Result<HeartbeatResponse, TransportError> {
        let req = HeartbeatRequest { agent_version: env!("CARGO_PKG_VERSION").to_string(), last_sequence };
        self.inventory.heartbeat(req).await.map(tonic::Response::into_inner).map_err(|s| status_error(&s))
    }

    async fn renew(&mut self) -> Result<CertificateValidity, TransportError> {
        let (key_pem, csr_der) =
            new_key_and_csr(&self.identity.agent_id).map_err(|e| TransportError::Renewal(e.to_string()))?;
        let resp = self
            .enrollment
            .renew(RenewRequest { csr_der })
            .await
            .map(tonic::Response::into_inner)
            .map_err(|s| status_error(&s))?;
        let mut next = self.identity.clone();
        next.private_key_pem = key_pem.to_string();
        next.certificate_chain_pem = resp.certificate_chain_pem;
        next.issued_at_unix = now_unix();
        next.not_after_unix = resp.not_after_unix;
        if next.policy_public_key_hex.is_empty() {
            // Agents enrolled before policy signing pin the key once, over this mTLS call; a
            // pinned key is never replaced this way (ADR 0008).
            next.policy_public_key_hex = crate::keypair::policy_key_hex(&resp.policy_public_key);
        }
        // Check the certificate and build the new channel before storing, so a certificate that
        // the fleet CA did not issue or that does not fit the key never replaces a working one.
        check_client_certificate(&next).map_err(|e| TransportError::Renewal(e.to_string()))?;
        let ch = channel(&self.addr, mtls_client_config(&next).map_err(|e| TransportError::Renewal(e.to_string()))?)
            .map_err(|e| TransportError::Renewal(e.to_string()))?;
        self.state.save_identity(&next)?;
        self.inventory = InventoryClient::new(ch.clone());
        self.enrollment = EnrollmentClient::new(ch);
        self.identity = next;
        Ok(CertificateValidity {
            issued_at_unix: self.identity.issued_at_unix,
            not_after_unix: self.identity.not_after_unix,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_refusals_of_the_request_itself_are_permanent() {
        let rejected = |code| matches!(status_error(&tonic::Status::new(code, "m")), TransportError::Rejected { .. });
        assert!(rejected(tonic::Code::InvalidArgument));
        assert!(rejected(tonic::Code::OutOfRange));
        for retryable in [
            tonic::Code::ResourceExhausted,
            tonic::Code::Unavailable,
            tonic::Code::DeadlineExceeded,
            tonic::Code::PermissionDenied,
            tonic::Code::Unauthenticated,
            tonic::Code::Internal,
        ] {
            assert!(!rejected(retryable), "{retryable:?} must be retried");
        }
    }
}
