//! Trust on first contact, done safely: before the agent has a CA it trusts, the operator gives it
//! the SHA-256 fingerprint of the fleet CA (`--ca-fingerprint`). [`PinnedCaVerifier`] accepts a
//! server only if its presented chain contains a certificate with exactly that fingerprint *and*
//! the leaf verifies against that certificate as the only root (signature, validity, server name),
//! through rustls' webpki verifier. It does not decide what happens after enrollment: then the
//! stored CA is an ordinary root (see `crate::grpc`).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};

/// SHA-256 of a CA certificate's DER encoding.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CaFingerprint(pub [u8; 32]);

impl CaFingerprint {
    /// The fingerprint of a DER certificate.
    pub fn of(der: &[u8]) -> CaFingerprint {
        CaFingerprint(Sha256::digest(der).into())
    }
}

impl fmt::Display for CaFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for CaFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CaFingerprint({self})")
    }
}

/// `--ca-fingerprint` is not 64 hex digits.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("a CA fingerprint is 64 hex digits (SHA-256 of the CA certificate), got {len} characters")]
pub struct BadFingerprint {
    pub len: usize,
}

impl FromStr for CaFingerprint {
    type Err = BadFingerprint;

    /// Lowercase hex as printed by the control plane; upper case and `:` separators (as
    /// `openssl x509 -fingerprint` prints) are accepted too.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex: String = s.trim().chars().filter(|c| *c != ':').collect();
        let bad = BadFingerprint { len: hex.len() };
        if hex.len() != 64 || !hex.is_ascii() {
            return Err(bad);
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad.clone())?;
        }
        Ok(CaFingerprint(out))
    }
}

/// The server's chain holds no certificate with the pinned fingerprint.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("the server's CA does not match the pinned fingerprint {expected} (the server presented {})", presented_list(.presented))]
pub struct CaPinMismatch {
    pub expected: CaFingerprint,
    /// Fingerprints of the CA certificates the server presented (the chain after the leaf).
    pub presented: Vec<CaFingerprint>,
}

fn presented_list(p: &[CaFingerprint]) -> String {
    if p.is_empty() {
        "no CA certificate".into()
    } else {
        p.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    }
}

/// Accepts a server whose chain contains the pinned CA and whose leaf that CA signed.
#[derive(Debug)]
pub struct PinnedCaVerifier {
    pin: CaFingerprint,
    provider: Arc<CryptoProvider>,
}

impl PinnedCaVerifier {
    pub fn new(pin: CaFingerprint, provider: Arc<CryptoProvider>) -> PinnedCaVerifier {
        PinnedCaVerifier { pin, provider }
    }
}

impl ServerCertVerifier for PinnedCaVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(ca) = intermediates.iter().find(|c| CaFingerprint::of(c) == self.pin) else {
            let mismatch = CaPinMismatch {
                expected: self.pin,
                presented: intermediates.iter().map(|c| CaFingerprint::of(c)).collect(),
            };
            return Err(rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(mismatch)))));
        };
        let mut roots = RootCertStore::empty();
        roots.add(ca.clone().into_owned())?;
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
            .build()
            .map_err(|e| rustls::Error::General(format!("cannot build a verifier for the pinned CA: {e}")))?;
        webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// Finds a [`CaPinMismatch`] inside an error chain (a TLS handshake error wrapped in I/O errors).
pub fn find_pin_mismatch(err: &(dyn std::error::Error + 'static)) -> Option<CaPinMismatch> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner)))) =
            e.downcast_ref::<rustls::Error>()
            && let Some(m) = inner.downcast_ref::<CaPinMismatch>()
        {
            return Some(m.clone());
        }
        if let Some(m) = e.downcast_ref::<CaPinMismatch>() {
            return Some(m.clone());
        }
        // io::Error hides its payload from `source()`; look inside explicitly.
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && let Some(m) = find_pin_mismatch(inner)
        {
            return Some(m);
        }
        cur = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_parse_in_common_spellings() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let fp: CaFingerprint = hex.parse().unwrap();
        assert_eq!(fp.to_string(), hex);
        let colons: String = hex
            .to_uppercase()
            .as_bytes()
            .chunks(2)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(colons.parse::<CaFingerprint>().unwrap(), fp);
        assert_eq!("abcd".parse::<CaFingerprint>(), Err(BadFingerprint { len: 4 }));
        assert!(hex.replace('0', "g").parse::<CaFingerprint>().is_err());
    }
}
