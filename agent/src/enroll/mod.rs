//! Enrollment: turns a one-time token and a pinned CA fingerprint into a stored identity (agent
//! id, ECDSA P-256 key, client certificate, fleet CA, fleet fingerprint key).
//!
//! The private key is generated here and never leaves the machine: the control plane sees only a
//! PKCS#10 request. Before anything is sent the agent makes a TLS handshake with the
//! [`pin::PinnedCaVerifier`], so a wrong server is refused with a clear message before the token
//! is ever written to the wire. This module neither logs nor returns the token or the key.

pub mod pin;

use std::sync::Arc;

use muster_proto::tonic;
use muster_proto::v1::enrollment_client::EnrollmentClient;
use muster_proto::v1::{EnrollRequest, Host};
use rustls::pki_types::{CertificateDer, pem::PemObject};
use zeroize::Zeroizing;

use crate::grpc::{self, GrpcError, ServerAddr};
use crate::state::{Identity, StateDir, StateError};
use pin::{CaFingerprint, CaPinMismatch, PinnedCaVerifier};

/// Enrollment failed.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error(transparent)]
    Address(#[from] GrpcError),
    #[error("refusing {server}: {mismatch}")]
    CaMismatch { server: String, mismatch: CaPinMismatch },
    #[error("cannot reach {server}: {message}")]
    Unreachable { server: String, message: String },
    #[error("refusing {server}: its TLS certificate is not acceptable: {message}")]
    Untrusted { server: String, message: String },
    #[error("the control plane refused enrollment: {code}: {message}")]
    Refused { code: String, message: String },
    #[error("the control plane's enrollment answer is unusable: {0}")]
    BadResponse(String),
    #[error("cannot create a key or certificate request: {0}")]
    Key(String),
    #[error(transparent)]
    State(#[from] StateError),
}

/// What `muster-agent enroll` needs.
pub struct EnrollParams {
    /// `https://HOST:PORT`.
    pub server: String,
    /// The one-time enrollment token (kept out of `Debug`).
    pub token: Zeroizing<String>,
    pub ca_fingerprint: CaFingerprint,
    pub host: Host,
}

impl std::fmt::Debug for EnrollParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrollParams")
            .field("server", &self.server)
            .field("ca_fingerprint", &self.ca_fingerprint)
            .finish_non_exhaustive()
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn now_unix() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// A fresh ECDSA P-256 key (PKCS#8 PEM) and a PKCS#10 request (DER) for it.
pub fn new_key_and_csr(common_name: &str) -> Result<(Zeroizing<String>, Vec<u8>), EnrollError> {
    let key =
        rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| EnrollError::Key(e.to_string()))?;
    let mut params =
        rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| EnrollError::Key(e.to_string()))?;
    params.distinguished_name.push(rcgen::DnType::CommonName, common_name);
    let csr = params.serialize_request(&key).map_err(|e| EnrollError::Key(e.to_string()))?;
    Ok((Zeroizing::new(key.serialize_pem()), csr.der().to_vec()))
}

/// Makes one TLS handshake with the pinning verifier and reports a mismatch as [`EnrollError::CaMismatch`].
pub async fn probe_pinned(server: &str, pin: CaFingerprint) -> Result<(), EnrollError> {
    let addr = ServerAddr::parse(server)?;
    let cfg = grpc::client_config_with_verifier(Arc::new(PinnedCaVerifier::new(pin, grpc::provider())))?;
    let name = rustls::pki_types::ServerName::try_from(addr.host.clone())
        .map_err(|e| GrpcError::BadServer { server: server.to_string(), message: e.to_string() })?;
    let unreachable =
        |e: &dyn std::fmt::Display| EnrollError::Unreachable { server: server.to_string(), message: e.to_string() };
    let target = if addr.host.contains(':') {
        format!("[{}]:{}", addr.host, addr.port)
    } else {
        format!("{}:{}", addr.host, addr.port)
    };
    let tcp = tokio::time::timeout(std::time::Duration::from_secs(10), tokio::net::TcpStream::connect(&target))
        .await
        .map_err(|e| unreachable(&e))?
        .map_err(|e| unreachable(&e))?;
    match tokio_rustls::TlsConnector::from(Arc::new(cfg)).connect(name, tcp).await {
        Ok(_) => Ok(()),
        Err(e) => match pin::find_pin_mismatch(&e) {
            Some(mismatch) => Err(EnrollError::CaMismatch { server: server.to_string(), mismatch }),
            None => Err(EnrollError::Untrusted { server: server.to_string(), message: e.to_string() }),
        },
    }
}

/// Enrolls with the control plane and stores the identity in `state`.
pub async fn enroll(params: &EnrollParams, state: &StateDir) -> Result<Identity, EnrollError> {
    probe_pinned(&params.server, params.ca_fingerprint).await?;
    let addr = ServerAddr::parse(&params.server)?;
    let verifier = Arc::new(PinnedCaVerifier::new(params.ca_fingerprint, grpc::provider()));
    let channel = grpc::channel(&addr, grpc::client_config_with_verifier(verifier)?)?;
    let hostname = params.host.hostname.clone();
    let (key_pem, csr_der) = new_key_and_csr(if hostname.is_empty() { "muster-agent" } else { &hostname })?;
    let req = EnrollRequest {
        token: params.token.to_string(),
        csr_der,
        host: Some(params.host.clone()),
        agent_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    let resp = EnrollmentClient::new(channel).enroll(req).await.map_err(|s| match s.code() {
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => {
            EnrollError::Unreachable { server: params.server.clone(), message: s.message().to_string() }
        }
        code => EnrollError::Refused { code: code.to_string(), message: s.message().to_string() },
    })?;
    let resp = resp.into_inner();
    if resp.agent_id.is_empty() {
        return Err(EnrollError::BadResponse("no agent id".into()));
    }
    if resp.fleet_fingerprint_key.len() != 32 {
        return Err(EnrollError::BadResponse(format!(
            "the fleet fingerprint key has {} bytes, expected 32",
            resp.fleet_fingerprint_key.len()
        )));
    }
    // The CA the agent will trust from now on must be the one the operator pinned.
    let ca = CertificateDer::from_pem_slice(resp.ca_certificate_pem.as_bytes())
        .map_err(|e| EnrollError::BadResponse(format!("CA certificate: {e}")))?;
    let presented = CaFingerprint::of(&ca);
    if presented != params.ca_fingerprint {
        return Err(EnrollError::CaMismatch {
            server: params.server.clone(),
            mismatch: CaPinMismatch { expected: params.ca_fingerprint, presented: vec![presented] },
        });
    }
    let identity = Identity {
        version: Identity::VERSION,
        server: params.server.clone(),
        agent_id: resp.agent_id,
        certificate_chain_pem: resp.certificate_chain_pem,
        ca_certificate_pem: resp.ca_certificate_pem,
        private_key_pem: key_pem.to_string(),
        fleet_fingerprint_key_hex: resp.fleet_fingerprint_key.iter().map(|b| format!("{b:02x}")).collect(),
        issued_at_unix: now_unix(),
        not_after_unix: resp.not_after_unix,
    };
    // Refuse a certificate the pinned CA did not issue, or one that does not fit the key.
    grpc::check_client_certificate(&identity).map_err(|e| EnrollError::BadResponse(e.to_string()))?;
    grpc::mtls_client_config(&identity).map_err(|e| EnrollError::BadResponse(e.to_string()))?;
    state.save_identity(&identity)?;
    Ok(identity)
}
