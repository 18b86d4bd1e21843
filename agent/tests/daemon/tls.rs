//! Real TLS on 127.0.0.1:0 with certificates made per run by rcgen: the CA-pinning verifier
//! refuses a wrong CA, a leaf the pinned CA did not sign and a wrong server name; enrollment and
//! an mTLS report against an in-process control plane that signs the agent's CSR.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use muster_agent::enroll::pin::CaFingerprint;
use muster_agent::enroll::{self, EnrollError, EnrollParams};
use muster_agent::grpc::GrpcTransport;
use muster_agent::report::ReportTransport;
use muster_agent::state::StateDir;
use muster_proto::tonic::{self, Request, Response, Status};
use muster_proto::v1::enrollment_server::{Enrollment, EnrollmentServer};
use muster_proto::v1::inventory_server::{Inventory, InventoryServer};
use muster_proto::v1::{
    EnrollRequest, EnrollResponse, HeartbeatRequest, HeartbeatResponse, Host, RenewRequest, RenewResponse,
    ReportRequest, ReportResponse, report_request::Body,
};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use zeroize::Zeroizing;

use crate::support::inventory;

/// A fleet CA and a server certificate it signed.
struct Pki {
    ca_params: CertificateParams,
    ca_key: KeyPair,
    ca_der: CertificateDer<'static>,
    ca_pem: String,
}

impl Pki {
    fn new(name: &str) -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.distinguished_name.push(DnType::CommonName, name);
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = ca_params.self_signed(&ca_key).unwrap();
        Pki { ca_der: ca.der().clone(), ca_pem: ca.pem(), ca_params, ca_key }
    }

    fn fingerprint(&self) -> CaFingerprint {
        CaFingerprint::of(&self.ca_der)
    }

    fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_params(&self.ca_params, &self.ca_key)
    }

    /// A server certificate for `names` and its key.
    fn server_cert(&self, names: &[&str]) -> (CertificateDer<'static>, KeyPair) {
        let (cert, key) = self.server_certificate(names);
        (cert.der().clone(), key)
    }

    /// The same, PEM.
    fn server_cert_pem(&self, names: &[&str]) -> (String, KeyPair) {
        let (cert, key) = self.server_certificate(names);
        (cert.pem(), key)
    }

    fn server_certificate(&self, names: &[&str]) -> (rcgen::Certificate, KeyPair) {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = p.signed_by(&key, &self.issuer()).unwrap();
        (cert, key)
    }

    /// Signs an agent's CSR the way the control plane does: SAN URI `muster://agent/<id>`.
    fn sign_csr(&self, csr_der: &[u8], agent_id: &str) -> String {
        let mut csr = CertificateSigningRequestParams::from_der(&csr_der.to_vec().into()).unwrap();
        csr.params.subject_alt_names = vec![SanType::URI(format!("muster://agent/{agent_id}").try_into().unwrap())];
        csr.params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        csr.signed_by(&self.issuer()).unwrap().pem()
    }
}

fn key_der(key: &KeyPair) -> PrivateKeyDer<'static> {
    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()))
}

/// A bare TLS 1.3 server presenting `chain`; completes handshakes and then drops them.
async fn tls_server(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> SocketAddr {
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = acceptor.accept(tcp).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn the_pinned_ca_is_accepted() {
    let pki = Pki::new("fleet CA");
    let (leaf, key) = pki.server_cert(&["127.0.0.1"]);
    let addr = tls_server(vec![leaf, pki.ca_der.clone()], key_der(&key)).await;
    enroll::probe_pinned(&format!("https://{addr}"), pki.fingerprint()).await.unwrap();
}

#[tokio::test]
async fn a_server_with_another_ca_is_refused_with_both_fingerprints() {
    let pki = Pki::new("fleet CA");
    let impostor = Pki::new("impostor CA");
    let (leaf, key) = impostor.server_cert(&["127.0.0.1"]);
    let addr = tls_server(vec![leaf, impostor.ca_der.clone()], key_der(&key)).await;
    let err = enroll::probe_pinned(&format!("https://{addr}"), pki.fingerprint()).await.unwrap_err();
    let EnrollError::CaMismatch { mismatch, .. } = &err else { panic!("expected a CA mismatch, got {err}") };
    assert_eq!(mismatch.expected, pki.fingerprint());
    assert_eq!(mismatch.presented, [impostor.fingerprint()]);
    let text = err.to_string();
    assert!(text.contains(&pki.fingerprint().to_string()) && text.contains("does not match"), "{text}");
}

#[tokio::test]
async fn the_pinned_ca_in_the_chain_does_not_vouch_for_a_leaf_it_did_not_sign() {
    let pki = Pki::new("fleet CA");
    let impostor = Pki::new("impostor CA");
    let (leaf, key) = impostor.server_cert(&["127.0.0.1"]);
    // The attacker copies the real (public) CA certificate into its chain.
    let addr = tls_server(vec![leaf, pki.ca_der.clone()], key_der(&key)).await;
    let err = enroll::probe_pinned(&format!("https://{addr}"), pki.fingerprint()).await.unwrap_err();
    assert!(matches!(err, EnrollError::Untrusted { .. }), "refused by webpki, got {err}");
    assert!(err.to_string().contains("invalid peer certificate"), "{err}");
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused() {
    let pki = Pki::new("fleet CA");
    let (leaf, key) = pki.server_cert(&["control-plane.example"]);
    let addr = tls_server(vec![leaf, pki.ca_der.clone()], key_der(&key)).await;
    let err = enroll::probe_pinned(&format!("https://{addr}"), pki.fingerprint()).await.unwrap_err();
    assert!(matches!(err, EnrollError::Untrusted { .. }), "{err}");
    assert!(err.to_string().contains("not valid for name"), "{err}");
}

/// What the in-process control plane saw.
#[derive(Default)]
struct Seen {
    tokens: Vec<String>,
    reports: Vec<ReportRequest>,
    /// Whether each report came with a client certificate.
    report_client_certs: Vec<bool>,
    renewals: u32,
}

#[derive(Clone)]
struct ControlPlane {
    pki: Arc<Pki>,
    seen: Arc<Mutex<Seen>>,
}

#[tonic::async_trait]
impl Enrollment for ControlPlane {
    async fn enroll(&self, req: Request<EnrollRequest>) -> Result<Response<EnrollResponse>, Status> {
        let req = req.into_inner();
        if req.token != "good-token" {
            return Err(Status::permission_denied("unknown enrollment token"));
        }
        self.seen.lock().unwrap().tokens.push(req.token.clone());
        Ok(Response::new(EnrollResponse {
            agent_id: "agent-1".into(),
            certificate_chain_pem: self.pki.sign_csr(&req.csr_der, "agent-1"),
            ca_certificate_pem: self.pki.ca_pem.clone(),
            fleet_fingerprint_key: vec![7; 32],
            not_after_unix: muster_agent::enroll::now_unix() + 30 * 86_400,
        }))
    }

    async fn renew(&self, req: Request<RenewRequest>) -> Result<Response<RenewResponse>, Status> {
        if req.peer_certs().is_none_or(|c| c.is_empty()) {
            return Err(Status::unauthenticated("a client certificate is required"));
        }
        self.seen.lock().unwrap().renewals += 1;
        Ok(Response::new(RenewResponse {
            certificate_chain_pem: self.pki.sign_csr(&req.into_inner().csr_der, "agent-1"),
            not_after_unix: muster_agent::enroll::now_unix() + 30 * 86_400,
        }))
    }
}

#[tonic::async_trait]
impl Inventory for ControlPlane {
    async fn report(&self, req: Request<ReportRequest>) -> Result<Response<ReportResponse>, Status> {
        let has_cert = req.peer_certs().is_some_and(|c| !c.is_empty());
        if !has_cert {
            return Err(Status::unauthenticated("a client certificate is required"));
        }
        let req = req.into_inner();
        let mut seen = self.seen.lock().unwrap();
        seen.report_client_certs.push(has_cert);
        let acked = req.sequence;
        seen.reports.push(req);
        Ok(Response::new(ReportResponse { acked_sequence: acked, resync_required: false }))
    }

    async fn heartbeat(&self, _req: Request<HeartbeatRequest>) -> Result<Response<HeartbeatResponse>, Status> {
        Ok(Response::new(HeartbeatResponse::default()))
    }
}

/// Starts the control plane on 127.0.0.1:0 with TLS 1.3 and optional client certificates.
async fn control_plane(pki: Arc<Pki>) -> (SocketAddr, Arc<Mutex<Seen>>) {
    let (leaf, key) = pki.server_cert_pem(&["127.0.0.1"]);
    let chain_pem = format!("{leaf}{}", pki.ca_pem);
    let tls = tonic::transport::ServerTlsConfig::new()
        .identity(tonic::transport::Identity::from_pem(chain_pem, key.serialize_pem()))
        .client_ca_root(tonic::transport::Certificate::from_pem(pki.ca_pem.clone()))
        .client_auth_optional(true);
    let seen = Arc::new(Mutex::new(Seen::default()));
    let cp = ControlPlane { pki, seen: seen.clone() };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .tls_config(tls)
            .unwrap()
            .add_service(EnrollmentServer::new(cp.clone()))
            .add_service(InventoryServer::new(cp))
            .serve_with_incoming(incoming)
            .await
            .unwrap();
    });
    (addr, seen)
}

#[tokio::test]
async fn enrollment_stores_a_private_identity_and_reports_go_over_mtls() {
    let pki = Arc::new(Pki::new("fleet CA"));
    let (addr, seen) = control_plane(pki.clone()).await;
    let tmp = tempfile::tempdir().unwrap();
    let state = StateDir::open(&tmp.path().join("state")).unwrap();
    let params = EnrollParams {
        server: format!("https://{addr}"),
        token: Zeroizing::new("good-token".into()),
        ca_fingerprint: pki.fingerprint(),
        host: Host { hostname: "laptop".into(), ..Default::default() },
    };
    let identity = enroll::enroll(&params, &state).await.unwrap();
    assert_eq!(identity.agent_id, "agent-1");
    assert_eq!(identity.fleet_fingerprint_key_hex, "07".repeat(32));
    assert_eq!(state.load_identity().unwrap().as_ref(), Some(&identity));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(tmp.path().join("state/identity.json")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(seen.lock().unwrap().tokens, ["good-token"]);

    let mut transport = GrpcTransport::new(state.clone(), identity).unwrap();
    let req = ReportRequest { sequence: 1, body: Some(Body::Full(inventory(&["a"]))), ..Default::default() };
    let resp = transport.report(req).await.unwrap();
    assert_eq!(resp.acked_sequence, 1);
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.report_client_certs, [true], "the report was made with the client certificate");
        assert_eq!(seen.reports[0].agent_id, "agent-1", "the transport fills in the agent id");
    }

    // Renewal swaps the key and certificate; the next report uses them.
    let before = state.load_identity().unwrap().unwrap().private_key_pem.clone();
    transport.renew().await.unwrap();
    let after = state.load_identity().unwrap().unwrap();
    assert_ne!(after.private_key_pem, before, "a fresh key per certificate");
    let req = ReportRequest { sequence: 2, body: Some(Body::Full(inventory(&["b"]))), ..Default::default() };
    assert_eq!(transport.report(req).await.unwrap().acked_sequence, 2);
    assert_eq!(seen.lock().unwrap().renewals, 1);
}

#[tokio::test]
async fn a_refused_token_is_a_clear_error_and_stores_nothing() {
    let pki = Arc::new(Pki::new("fleet CA"));
    let (addr, _seen) = control_plane(pki.clone()).await;
    let tmp = tempfile::tempdir().unwrap();
    let state = StateDir::open(tmp.path()).unwrap();
    let params = EnrollParams {
        server: format!("https://{addr}"),
        token: Zeroizing::new("stolen-token".into()),
        ca_fingerprint: pki.fingerprint(),
        host: Host::default(),
    };
    let err = enroll::enroll(&params, &state).await.unwrap_err();
    assert!(matches!(err, EnrollError::Refused { .. }), "{err}");
    assert!(!err.to_string().contains("stolen-token"), "the token is never echoed: {err}");
    assert!(state.load_identity().unwrap().is_none());
}

#[tokio::test]
async fn enrollment_with_a_wrong_pin_never_sends_the_token() {
    let pki = Arc::new(Pki::new("fleet CA"));
    let other = Pki::new("other CA");
    let (addr, seen) = control_plane(pki.clone()).await;
    let tmp = tempfile::tempdir().unwrap();
    let state = StateDir::open(tmp.path()).unwrap();
    let params = EnrollParams {
        server: format!("https://{addr}"),
        token: Zeroizing::new("good-token".into()),
        ca_fingerprint: other.fingerprint(),
        host: Host::default(),
    };
    let err = enroll::enroll(&params, &state).await.unwrap_err();
    assert!(matches!(err, EnrollError::CaMismatch { .. }), "{err}");
    assert!(seen.lock().unwrap().tokens.is_empty());
    assert!(state.load_identity().unwrap().is_none());
}
