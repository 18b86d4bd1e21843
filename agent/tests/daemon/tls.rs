//! Real TLS on 127.0.0.1:0 with certificates made per run by rcgen: the CA-pinning verifier
//! refuses a wrong CA, a leaf the pinned CA did not sign and a wrong server name; enrollment and
//! an mTLS report against an in-process control plane that signs the agent's CSR.

use std::net::SocketAddr;
use std::sync::Arc;

use muster_agent::enroll::{self, EnrollError, EnrollParams};
use muster_agent::grpc::GrpcTransport;
use muster_agent::report::ReportTransport;
use muster_agent::state::StateDir;
use muster_proto::v1::{Host, ReportRequest, report_request::Body};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use zeroize::Zeroizing;

use crate::support::{Pki, control_plane, control_plane_signing_with, inventory, key_der};

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

#[tokio::test]
async fn a_client_certificate_from_another_ca_is_not_stored() {
    let pki = Arc::new(Pki::new("fleet CA"));
    let rogue = Arc::new(Pki::new("rogue CA"));
    let (addr, _seen) = control_plane_signing_with(pki.clone(), rogue).await;
    let tmp = tempfile::tempdir().unwrap();
    let state = StateDir::open(tmp.path()).unwrap();
    let params = EnrollParams {
        server: format!("https://{addr}"),
        token: Zeroizing::new("good-token".into()),
        ca_fingerprint: pki.fingerprint(),
        host: Host::default(),
    };
    let err = enroll::enroll(&params, &state).await.unwrap_err();
    assert!(matches!(err, EnrollError::BadResponse(_)), "{err}");
    assert!(err.to_string().contains("does not chain to the fleet CA"), "{err}");
    assert!(state.load_identity().unwrap().is_none());
}
