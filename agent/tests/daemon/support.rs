//! Builders shared by the daemon tests: small inventories with a chosen set of servers, a PKI
//! made per run with rcgen, and an in-process control plane (TLS 1.3, optional client
//! certificates) that signs CSRs and records reports.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use muster_agent::enroll::pin::CaFingerprint;
use muster_proto::tonic::{self, Request, Response, Status};
use muster_proto::v1::enrollment_server::{Enrollment, EnrollmentServer};
use muster_proto::v1::inventory_server::{Inventory, InventoryServer};
use muster_proto::v1::{
    ConfigSource, EnrollRequest, EnrollResponse, HeartbeatRequest, HeartbeatResponse, Host, InventorySnapshot,
    McpServer, RenewRequest, RenewResponse, ReportRequest, ReportResponse,
};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;

/// An inventory of one host with one source holding servers named by `ids`.
pub fn inventory(ids: &[&str]) -> InventorySnapshot {
    InventorySnapshot {
        host: Some(Host { hostname: "laptop".into(), ..Default::default() }),
        sources: vec![ConfigSource {
            path: "/home/dev/.cursor/mcp.json".into(),
            server_count: ids.len() as u32,
            ..Default::default()
        }],
        servers: ids
            .iter()
            .map(|id| McpServer { id: (*id).into(), name: (*id).into(), command: "npx".into(), ..Default::default() })
            .collect(),
        agent_version: "test".into(),
        ..Default::default()
    }
}

/// A fleet CA and a server certificate it signed.
pub struct Pki {
    pub ca_params: CertificateParams,
    pub ca_key: KeyPair,
    pub ca_der: CertificateDer<'static>,
    pub ca_pem: String,
}

impl Pki {
    pub fn new(name: &str) -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.distinguished_name.push(DnType::CommonName, name);
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = ca_params.self_signed(&ca_key).unwrap();
        Pki { ca_der: ca.der().clone(), ca_pem: ca.pem(), ca_params, ca_key }
    }

    pub fn fingerprint(&self) -> CaFingerprint {
        CaFingerprint::of(&self.ca_der)
    }

    pub fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_params(&self.ca_params, &self.ca_key)
    }

    /// A server certificate for `names` and its key.
    pub fn server_cert(&self, names: &[&str]) -> (CertificateDer<'static>, KeyPair) {
        let (cert, key) = self.server_certificate(names);
        (cert.der().clone(), key)
    }

    /// The same, PEM.
    pub fn server_cert_pem(&self, names: &[&str]) -> (String, KeyPair) {
        let (cert, key) = self.server_certificate(names);
        (cert.pem(), key)
    }

    pub fn server_certificate(&self, names: &[&str]) -> (rcgen::Certificate, KeyPair) {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = p.signed_by(&key, &self.issuer()).unwrap();
        (cert, key)
    }

    /// Signs an agent's CSR the way the control plane does: SAN URI `muster://agent/<id>`.
    pub fn sign_csr(&self, csr_der: &[u8], agent_id: &str) -> String {
        let mut csr = CertificateSigningRequestParams::from_der(&csr_der.to_vec().into()).unwrap();
        csr.params.subject_alt_names = vec![SanType::URI(format!("muster://agent/{agent_id}").try_into().unwrap())];
        csr.params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        csr.signed_by(&self.issuer()).unwrap().pem()
    }
}

pub fn key_der(key: &KeyPair) -> PrivateKeyDer<'static> {
    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()))
}

/// What the in-process control plane saw.
#[derive(Default)]
pub struct Seen {
    pub tokens: Vec<String>,
    pub reports: Vec<ReportRequest>,
    /// Whether each report came with a client certificate.
    pub report_client_certs: Vec<bool>,
    pub renewals: u32,
}

#[derive(Clone)]
pub struct ControlPlane {
    pki: Arc<Pki>,
    /// Signs agent certificates with this CA instead of the fleet CA (a broken or hostile server).
    signer: Arc<Pki>,
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
            certificate_chain_pem: self.signer.sign_csr(&req.csr_der, "agent-1"),
            ca_certificate_pem: self.pki.ca_pem.clone(),
            fleet_fingerprint_key: vec![7; 32],
            not_after_unix: muster_agent::state::now_unix() + 30 * 86_400,
            ..Default::default()
        }))
    }

    async fn renew(&self, req: Request<RenewRequest>) -> Result<Response<RenewResponse>, Status> {
        if req.peer_certs().is_none_or(|c| c.is_empty()) {
            return Err(Status::unauthenticated("a client certificate is required"));
        }
        self.seen.lock().unwrap().renewals += 1;
        Ok(Response::new(RenewResponse {
            certificate_chain_pem: self.signer.sign_csr(&req.into_inner().csr_der, "agent-1"),
            not_after_unix: muster_agent::state::now_unix() + 30 * 86_400,
            ..Default::default()
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
pub async fn control_plane(pki: Arc<Pki>) -> (SocketAddr, Arc<Mutex<Seen>>) {
    control_plane_signing_with(pki.clone(), pki).await
}

/// A control plane whose TLS uses `pki` but which signs agent certificates with `signer`.
pub async fn control_plane_signing_with(pki: Arc<Pki>, signer: Arc<Pki>) -> (SocketAddr, Arc<Mutex<Seen>>) {
    let (leaf, key) = pki.server_cert_pem(&["127.0.0.1"]);
    let chain_pem = format!("{leaf}{}", pki.ca_pem);
    let tls = tonic::transport::ServerTlsConfig::new()
        .identity(tonic::transport::Identity::from_pem(chain_pem, key.serialize_pem()))
        .client_ca_root(tonic::transport::Certificate::from_pem(pki.ca_pem.clone()))
        .client_auth_optional(true);
    let seen = Arc::new(Mutex::new(Seen::default()));
    let cp = ControlPlane { pki, signer, seen: seen.clone() };
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
