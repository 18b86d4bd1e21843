//! The fleet PKI: a CA (ECDSA P-256) created on first start in the data dir, the server's own
//! certificate, agent client certificates signed from CSRs, the fleet fingerprint key, and the
//! policy signing key (Ed25519, used for nothing but policy bundles; no TLS key signs policies).
//!
//! Files under `<data dir>/pki/`: `ca.pem`, `ca.key`, `server.pem`, `server.key`, `fleet.key`,
//! `policy-signing.key` (PKCS#8, created on first start, or on the first start of a version
//! that signs policies);
//! keys are written with 0600 permissions. The server certificate is re-issued on every start so
//! it always carries the configured names. This module does not do TLS; `grpc::tls` builds the
//! rustls configuration from what it loads.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SanType, SerialNumber,
};
use rustls_pki_types::{CertificateDer, CertificateSigningRequestDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// Prefix of the SAN URI that names an agent in its client certificate.
pub const AGENT_URI_PREFIX: &str = "muster://agent/";
/// Lifetime of agent client certificates; agents renew at half-life.
pub const AGENT_CERT_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);
const CA_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
const SERVER_CERT_LIFETIME: Duration = Duration::from_secs(365 * 24 * 3600);
/// Tolerance for agents whose clock is a little behind.
const BACKDATE: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("cannot read or write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a valid {what}")]
    Invalid { path: PathBuf, what: &'static str },
    #[error("certificate generation failed")]
    Generate(#[from] rcgen::Error),
    #[error("certificate signing request is invalid")]
    InvalidCsr(#[source] rcgen::Error),
    #[error("certificate signing request must use an ECDSA P-256 key")]
    UnsupportedCsrKey,
    #[error("invalid agent id {0}")]
    InvalidAgentId(String),
    #[error("no random numbers available")]
    Random,
}

/// A certificate issued to an agent.
#[derive(Debug, Clone)]
pub struct IssuedCertificate {
    /// The client certificate followed by the CA certificate, PEM.
    pub chain_pem: String,
    pub der: CertificateDer<'static>,
    /// Lowercase hex serial number.
    pub serial: String,
    pub not_after_unix: i64,
}

/// The loaded fleet PKI.
pub struct Pki {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    ca_fingerprint: String,
    issuer: Issuer<'static, KeyPair>,
    server_chain: Vec<CertificateDer<'static>>,
    server_key_der: Vec<u8>,
    fleet_key: [u8; 32],
    policy_key: ring::signature::Ed25519KeyPair,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pki").field("ca_fingerprint", &self.ca_fingerprint).finish_non_exhaustive()
    }
}

impl Pki {
    /// Loads the PKI from `data_dir/pki`, creating the CA and fleet key on first start, and issues
    /// a fresh server certificate for `server_names` (DNS names or IP addresses).
    pub fn load_or_create(data_dir: &Path, server_names: &[String]) -> Result<Self, PkiError> {
        let dir = data_dir.join("pki");
        std::fs::create_dir_all(&dir).map_err(|source| PkiError::Io { path: dir.clone(), source })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|source| PkiError::Io { path: dir.clone(), source })?;
        }
        let ca_cert_path = dir.join("ca.pem");
        let ca_key_path = dir.join("ca.key");
        if !ca_cert_path.exists() {
            let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
            let cert = ca_params()?.self_signed(&key)?;
            write_private(&ca_key_path, key.serialize_pem().as_bytes())?;
            write_public(&ca_cert_path, cert.pem().as_bytes())?;
        }
        let ca_pem = read_text(&ca_cert_path)?;
        let ca_key = KeyPair::from_pem(&read_text(&ca_key_path)?)
            .map_err(|_| PkiError::Invalid { path: ca_key_path.clone(), what: "CA key" })?;
        let ca_der =
            pem_to_der(&ca_pem).ok_or(PkiError::Invalid { path: ca_cert_path.clone(), what: "CA certificate" })?;
        let issuer = Issuer::from_ca_cert_der(&ca_der, ca_key)
            .map_err(|_| PkiError::Invalid { path: ca_cert_path.clone(), what: "CA certificate" })?;

        let fleet_key_path = dir.join("fleet.key");
        if !fleet_key_path.exists() {
            let mut key = [0u8; 32];
            getrandom::fill(&mut key).map_err(|_| PkiError::Random)?;
            write_private(&fleet_key_path, &key)?;
        }
        let fleet_key: [u8; 32] = std::fs::read(&fleet_key_path)
            .map_err(|source| PkiError::Io { path: fleet_key_path.clone(), source })?
            .try_into()
            .map_err(|_| PkiError::Invalid { path: fleet_key_path.clone(), what: "32-byte fleet key" })?;

        let policy_key_path = dir.join("policy-signing.key");
        if !policy_key_path.exists() {
            let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
                .map_err(|_| PkiError::Random)?;
            write_private(&policy_key_path, pkcs8.as_ref())?;
        }
        let policy_key_der = zeroize::Zeroizing::new(
            std::fs::read(&policy_key_path).map_err(|source| PkiError::Io { path: policy_key_path.clone(), source })?,
        );
        let policy_key = ring::signature::Ed25519KeyPair::from_pkcs8(&policy_key_der)
            .map_err(|_| PkiError::Invalid { path: policy_key_path.clone(), what: "Ed25519 policy signing key" })?;

        let server_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let server_cert = server_params(server_names)?.signed_by(&server_key, &issuer)?;
        write_private(&dir.join("server.key"), server_key.serialize_pem().as_bytes())?;
        write_public(&dir.join("server.pem"), server_cert.pem().as_bytes())?;

        Ok(Self {
            ca_fingerprint: fingerprint(&ca_der),
            ca_pem,
            server_chain: vec![server_cert.der().clone(), ca_der.clone()],
            ca_der,
            issuer,
            server_key_der: server_key.serialize_der(),
            fleet_key,
            policy_key,
        })
    }

    /// The policy signing key's public half (32 bytes), which agents pin at enrollment.
    pub fn policy_public_key(&self) -> Vec<u8> {
        use ring::signature::KeyPair as _;
        self.policy_key.public_key().as_ref().to_vec()
    }

    /// Signs a policy bundle's message (`muster_proto::policy_signing_message`): Ed25519, 64
    /// bytes, deterministic.
    pub fn sign_policy(&self, message: &[u8]) -> Vec<u8> {
        self.policy_key.sign(message).as_ref().to_vec()
    }

    /// Lowercase hex SHA-256 of the CA certificate DER: what agents pin.
    pub fn ca_fingerprint(&self) -> &str {
        &self.ca_fingerprint
    }

    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    pub fn ca_der(&self) -> &CertificateDer<'static> {
        &self.ca_der
    }

    pub fn fleet_key(&self) -> &[u8; 32] {
        &self.fleet_key
    }

    /// The chain the server presents: its certificate, then the CA.
    pub fn server_chain(&self) -> Vec<CertificateDer<'static>> {
        self.server_chain.clone()
    }

    pub fn server_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key_der.clone()))
    }

    /// Signs an agent's CSR into a client certificate valid for [`AGENT_CERT_LIFETIME`]. Only the
    /// CSR's public key is used: names and extensions come from us.
    pub fn sign_agent_csr(&self, csr_der: &[u8], agent_id: &str) -> Result<IssuedCertificate, PkiError> {
        let now = SystemTime::now();
        self.sign_agent_csr_valid(csr_der, agent_id, now - BACKDATE, now + AGENT_CERT_LIFETIME)
    }

    /// Like [`Self::sign_agent_csr`] with an explicit validity window (tests issue expired
    /// certificates with it).
    pub fn sign_agent_csr_valid(
        &self,
        csr_der: &[u8],
        agent_id: &str,
        not_before: SystemTime,
        not_after: SystemTime,
    ) -> Result<IssuedCertificate, PkiError> {
        if uuid::Uuid::parse_str(agent_id).is_err() {
            return Err(PkiError::InvalidAgentId(agent_id.to_string()));
        }
        let csr = CertificateSigningRequestParams::from_der(&CertificateSigningRequestDer::from(csr_der))
            .map_err(PkiError::InvalidCsr)?;
        if csr.public_key.algorithm() != &PKCS_ECDSA_P256_SHA256 {
            return Err(PkiError::UnsupportedCsrKey);
        }
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, agent_id);
        params.distinguished_name = name;
        let uri = format!("{AGENT_URI_PREFIX}{agent_id}");
        params.subject_alt_names =
            vec![SanType::URI(uri.try_into().map_err(|_| PkiError::InvalidAgentId(agent_id.to_string()))?)];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.not_before = OffsetDateTime::from(not_before);
        params.not_after = OffsetDateTime::from(not_after);
        let serial = random_serial()?;
        params.serial_number = Some(SerialNumber::from_slice(&serial));
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&csr.public_key, &self.issuer)?;
        let ca_pem = self.ca_pem.trim_end();
        Ok(IssuedCertificate {
            chain_pem: format!("{}{ca_pem}\n", cert.pem()),
            der: cert.der().clone(),
            serial: hex::encode(serial),
            not_after_unix: unix_seconds(not_after),
        })
    }
}

/// The agent id in a client certificate's SAN URI `muster://agent/<uuid>`, if it has exactly one.
pub fn agent_id_from_certificate(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let san = cert.subject_alternative_name().ok()??;
    let mut ids = san.value.general_names.iter().filter_map(|name| match name {
        x509_parser::extensions::GeneralName::URI(uri) => uri.strip_prefix(AGENT_URI_PREFIX),
        _ => None,
    });
    let id = ids.next()?;
    if ids.next().is_some() {
        return None;
    }
    let id = uuid::Uuid::parse_str(id).ok()?;
    Some(id.hyphenated().to_string())
}

/// A certificate's serial number as [`IssuedCertificate::serial`] spells it: lower-case hex of
/// its bytes, without the leading zero byte DER adds to a number whose top bit is set.
pub fn certificate_serial(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let raw = cert.raw_serial();
    let start = raw.iter().position(|&b| b != 0).unwrap_or(raw.len().saturating_sub(1));
    Some(hex::encode(&raw[start..]))
}

/// Lowercase hex SHA-256 of a certificate's DER.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// Parses the first PEM block of `pem` into DER.
pub fn pem_to_der(pem: &str) -> Option<CertificateDer<'static>> {
    use rustls_pki_types::pem::PemObject as _;
    CertificateDer::from_pem_slice(pem.as_bytes()).ok()
}

pub fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

fn ca_params() -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "Muster");
    name.push(DnType::CommonName, "Muster fleet CA");
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let now = SystemTime::now();
    params.not_before = OffsetDateTime::from(now - BACKDATE);
    params.not_after = OffsetDateTime::from(now + CA_LIFETIME);
    params.serial_number = Some(SerialNumber::from_slice(&random_serial()?));
    Ok(params)
}

fn server_params(names: &[String]) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::new(names.to_vec())?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "muster-server");
    params.distinguished_name = name;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let now = SystemTime::now();
    params.not_before = OffsetDateTime::from(now - BACKDATE);
    params.not_after = OffsetDateTime::from(now + SERVER_CERT_LIFETIME);
    params.serial_number = Some(SerialNumber::from_slice(&random_serial()?));
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

/// 16 random bytes with the top bit clear, so the DER integer stays positive.
fn random_serial() -> Result<[u8; 16], PkiError> {
    let mut serial = [0u8; 16];
    getrandom::fill(&mut serial).map_err(|_| PkiError::Random)?;
    serial[0] &= 0x7f;
    serial[0] |= 0x01;
    Ok(serial)
}

fn read_text(path: &Path) -> Result<String, PkiError> {
    std::fs::read_to_string(path).map_err(|source| PkiError::Io { path: path.to_path_buf(), source })
}

fn write_public(path: &Path, bytes: &[u8]) -> Result<(), PkiError> {
    write_file(path, bytes, 0o644)
}

/// Writes a secret with 0600 permissions (set at creation, so it is never readable by others).
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), PkiError> {
    write_file(path, bytes, 0o600)
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), PkiError> {
    let io = |source| PkiError::Io { path: path.to_path_buf(), source };
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(&tmp).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csr() -> Vec<u8> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        CertificateParams::new(vec!["ignored.example".to_string()])
            .unwrap()
            .serialize_request(&key)
            .unwrap()
            .der()
            .to_vec()
    }

    #[test]
    fn certificate_serial_reads_back_the_issued_serial() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::load_or_create(dir.path(), &["localhost".into()]).unwrap();
        for _ in 0..8 {
            let issued = pki.sign_agent_csr(&csr(), "6f1c1d3e-8a9b-4c2d-9e0f-1a2b3c4d5e6f").unwrap();
            assert_eq!(certificate_serial(&issued.der).as_deref(), Some(issued.serial.as_str()));
        }
    }

    #[test]
    fn ca_is_created_once_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let first = Pki::load_or_create(dir.path(), &["localhost".into()]).unwrap();
        let second = Pki::load_or_create(dir.path(), &["localhost".into()]).unwrap();
        assert_eq!(first.ca_fingerprint(), second.ca_fingerprint());
        assert_eq!(first.fleet_key(), second.fleet_key());
        assert_eq!(first.policy_public_key(), second.policy_public_key());
        assert_eq!(first.policy_public_key().len(), 32);
        assert_eq!(first.ca_fingerprint(), fingerprint(first.ca_der()));
        assert_eq!(first.ca_fingerprint().len(), 64);
        assert_eq!(first.server_chain()[1], *first.ca_der());
    }

    #[cfg(unix)]
    #[test]
    fn keys_are_private_to_the_owner() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        Pki::load_or_create(dir.path(), &["localhost".into()]).unwrap();
        for key in ["ca.key", "server.key", "fleet.key", "policy-signing.key"] {
            let mode = std::fs::metadata(dir.path().join("pki").join(key)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{key}");
        }
        let mode = std::fs::metadata(dir.path().join("pki")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn agent_certificate_names_only_the_agent() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::load_or_create(dir.path(), &["localhost".into()]).unwrap();
        let id = uuid::Uuid::new_v4().to_string();
        let issued = pki.sign_agent_csr(&csr(), &id).unwrap();
        assert_eq!(agent_id_from_certificate(&issued.der), Some(id));
        assert!(issued.chain_pem.matches("BEGIN CERTIFICATE").count() == 2);
        let lifetime = issued.not_after_unix - unix_seconds(SystemTime::now());
        assert!((29 * 24 * 3600..=30 * 24 * 3600).contains(&lifetime), "{lifetime}");
    }

    #[test]
    fn garbage_csr_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::load_or_create(dir.path(), &["localhost".into()]).unwrap();
        let id = uuid::Uuid::new_v4().to_string();
        assert!(matches!(pki.sign_agent_csr(b"not a csr", &id), Err(PkiError::InvalidCsr(_))));
        assert!(matches!(pki.sign_agent_csr(&csr(), "../etc"), Err(PkiError::InvalidAgentId(_))));
    }

    #[test]
    fn server_certificate_is_not_an_agent() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::load_or_create(dir.path(), &["localhost".into(), "127.0.0.1".into()]).unwrap();
        assert_eq!(agent_id_from_certificate(&pki.server_chain()[0]), None);
    }
}
