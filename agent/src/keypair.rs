//! The agent's private key and the certificate signing request for it, made at enrollment and
//! again at every renewal (a renewal always brings a fresh key).
//!
//! The key is generated here and never leaves the machine: the control plane sees only the
//! PKCS#10 request. This module neither stores the key (that is `state`) nor talks to the control
//! plane (that is `enroll` and `grpc`).

use zeroize::Zeroizing;

/// The key or the request could not be made.
#[derive(Debug, thiserror::Error)]
#[error("cannot create a key or certificate request: {0}")]
pub struct KeyError(String);

/// A fresh ECDSA P-256 key (PKCS#8 PEM) and a PKCS#10 request (DER) for it, with `common_name`
/// as the subject.
pub fn new_key_and_csr(common_name: &str) -> Result<(Zeroizing<String>, Vec<u8>), KeyError> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| KeyError(e.to_string()))?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| KeyError(e.to_string()))?;
    params.distinguished_name.push(rcgen::DnType::CommonName, common_name);
    let csr = params.serialize_request(&key).map_err(|e| KeyError(e.to_string()))?;
    Ok((Zeroizing::new(key.serialize_pem()), csr.der().to_vec()))
}

/// The policy key as stored in the identity: hex of its 32 bytes, empty when the control plane
/// sent none (an older control plane) or something that is not an Ed25519 public key.
pub fn policy_key_hex(key: &[u8]) -> String {
    if key.len() == 32 { key.iter().map(|b| format!("{b:02x}")).collect() } else { String::new() }
}

#[cfg(test)]
mod tests {
    use rcgen::PublicKeyData;

    use super::*;

    #[test]
    fn the_request_is_signed_by_the_new_key_and_names_the_subject() {
        let (key_pem, csr_der) = new_key_and_csr("agent-7").expect("key and request");
        let key = rcgen::KeyPair::from_pem(&key_pem).expect("the key is PKCS#8 PEM");
        let csr = rcgen::CertificateSigningRequestParams::from_der(&csr_der.into()).expect("a valid PKCS#10 request");
        assert_eq!(csr.public_key.der_bytes(), key.der_bytes(), "the request is for the new key");
        let cn = csr.params.distinguished_name.get(&rcgen::DnType::CommonName);
        assert_eq!(cn, Some(&rcgen::DnValue::Utf8String("agent-7".into())));
    }
}
