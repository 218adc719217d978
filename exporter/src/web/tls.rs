//! Turns the `tls_server_config` of a web configuration file into a rustls server configuration:
//! certificate and key, client certificate policy, protocol versions, cipher suites and curves.
//! The toolkit's names are Go's; each maps to what rustls (ring provider) offers, and a setting
//! rustls cannot honour is an error that says so.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{ring, CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, NamedGroup, RootCertStore, ServerConfig};

use super::config::TlsServerConfig;

/// Builds the server configuration; `http2` decides the ALPN protocols offered.
pub fn server_config(t: &TlsServerConfig, http2: bool) -> Result<ServerConfig, String> {
    // Settings first, then files: a wrong setting is reported even when a file is missing too.
    let versions = versions(t)?;
    let provider = Arc::new(provider(t)?);
    let certs = load_certs(t)?;
    let key = load_key(t)?;
    let client_ca = load_client_ca(t)?;
    if t.client_allowed_sans.is_some() {
        return Err(
            "tls_server_config.client_allowed_sans is not supported by sysmon-exporter; \
                    restrict clients with client_ca_file and RequireAndVerifyClientCert"
                .to_string(),
        );
    }
    let auth = t.client_auth_type.as_deref().unwrap_or("");
    let verifier: Arc<dyn ClientCertVerifier> = match auth {
        "" | "NoClientCert" => {
            if client_ca.is_some() {
                return Err("tls_server_config: client_ca_file (or client_ca) is set without a client_auth_type; \
                            set client_auth_type: RequireAndVerifyClientCert"
                    .to_string());
            }
            WebPkiClientVerifier::no_client_auth()
        }
        "RequestClientCert" => Arc::new(AnyClientCert::new(&provider, false)),
        "RequireAnyClientCert" | "RequireClientCert" => {
            Arc::new(AnyClientCert::new(&provider, true))
        }
        "VerifyClientCertIfGiven" | "RequireAndVerifyClientCert" => {
            let Some(roots) = client_ca else {
                return Err(format!(
                    "tls_server_config.client_auth_type {auth} needs client_ca_file (or client_ca) to verify client certificates against"
                ));
            };
            let builder =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider));
            let builder = if auth == "VerifyClientCertIfGiven" {
                builder.allow_unauthenticated()
            } else {
                builder
            };
            builder
                .build()
                .map_err(|e| format!("tls_server_config: client CA: {e}"))?
        }
        other => {
            return Err(format!(
                "tls_server_config.client_auth_type: expected one of NoClientCert, RequestClientCert, \
                 RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert, found {other:?}"
            ))
        }
    };
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| format!("tls_server_config: {e}"))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| format!("tls_server_config: certificate and key: {e}"))?;
    cfg.ignore_client_order = t.prefer_server_cipher_suites.unwrap_or(true);
    cfg.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(cfg)
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| {
        format!(
            "tls_server_config.{what}: cannot read {}: {e}",
            path.display()
        )
    })
}

fn load_certs(t: &TlsServerConfig) -> Result<Vec<CertificateDer<'static>>, String> {
    let (bytes, source) = match (&t.cert_file, &t.cert) {
        (Some(p), _) => (read(p, "cert_file")?, p.display().to_string()),
        (None, Some(pem)) if !pem.is_empty() => (pem.as_bytes().to_vec(), "cert".to_string()),
        _ => return Err("tls_server_config: missing one of cert or cert_file".to_string()),
    };
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("tls_server_config: {source}: not a PEM certificate: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "tls_server_config: {source}: no PEM certificate found"
        ));
    }
    Ok(certs)
}

fn load_key(t: &TlsServerConfig) -> Result<PrivateKeyDer<'static>, String> {
    let (bytes, source) = match (&t.key_file, &t.key) {
        (Some(p), _) => (read(p, "key_file")?, p.display().to_string()),
        (None, Some(pem)) if !pem.is_empty() => (pem.as_bytes().to_vec(), "key".to_string()),
        _ => return Err("tls_server_config: missing one of key or key_file".to_string()),
    };
    PrivateKeyDer::from_pem_slice(&bytes)
        .map_err(|e| format!("tls_server_config: {source}: no PEM private key found ({e})"))
}

fn load_client_ca(t: &TlsServerConfig) -> Result<Option<RootCertStore>, String> {
    let (bytes, source) = match (&t.client_ca_file, &t.client_ca) {
        (Some(p), _) => (read(p, "client_ca_file")?, p.display().to_string()),
        (None, Some(pem)) if !pem.is_empty() => (pem.as_bytes().to_vec(), "client_ca".to_string()),
        _ => return Ok(None),
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&bytes) {
        let cert =
            cert.map_err(|e| format!("tls_server_config: {source}: not a PEM certificate: {e}"))?;
        roots
            .add(cert)
            .map_err(|e| format!("tls_server_config: {source}: {e}"))?;
    }
    if roots.is_empty() {
        return Err(format!(
            "tls_server_config: {source}: no CA certificate found"
        ));
    }
    Ok(Some(roots))
}

fn version_number(key: &str, v: &str) -> Result<u8, String> {
    match v {
        "TLS10" => Ok(0),
        "TLS11" => Ok(1),
        "TLS12" => Ok(2),
        "TLS13" => Ok(3),
        other => Err(format!(
            "tls_server_config.{key}: expected one of TLS10, TLS11, TLS12, TLS13, found {other:?}"
        )),
    }
}

/// The protocol versions between `min_version` (default TLS12) and `max_version` (default
/// TLS13). rustls speaks TLS 1.2 and 1.3 only: a minimum below 1.2 is raised to 1.2 (stricter,
/// never weaker, so a file written for node_exporter still works), a maximum below 1.2 is an error.
fn versions(t: &TlsServerConfig) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    let min = version_number("min_version", t.min_version.as_deref().unwrap_or("TLS12"))?;
    let max = version_number("max_version", t.max_version.as_deref().unwrap_or("TLS13"))?;
    if max < 2 {
        return Err("tls_server_config.max_version: TLS 1.0 and 1.1 are not supported (rustls speaks TLS12 and TLS13)".to_string());
    }
    if min > max {
        return Err("tls_server_config: min_version is above max_version".to_string());
    }
    if min < 2 {
        tracing::warn!("tls_server_config.min_version below TLS12: rustls speaks TLS 1.2 and 1.3 only, so TLS12 is the minimum");
    }
    let mut v = Vec::new();
    if max >= 3 {
        v.push(&rustls::version::TLS13);
    }
    if min <= 2 {
        v.push(&rustls::version::TLS12);
    }
    Ok(v)
}

/// The ring provider restricted to the configured TLS 1.2 cipher suites (Go's names, which are the
/// IANA names) and curves. TLS 1.3 suites are not configurable, as in Go.
fn provider(t: &TlsServerConfig) -> Result<CryptoProvider, String> {
    let mut p = ring::default_provider();
    if let Some(names) = t.cipher_suites.as_ref().filter(|n| !n.is_empty()) {
        let all = p.cipher_suites.clone();
        let name_of = |s: &rustls::SupportedCipherSuite| format!("{:?}", s.suite());
        let tls12: Vec<String> = all
            .iter()
            .filter(|s| s.version() == &rustls::version::TLS12)
            .map(name_of)
            .collect();
        let mut chosen: Vec<rustls::SupportedCipherSuite> = all
            .iter()
            .filter(|s| s.version() == &rustls::version::TLS13)
            .copied()
            .collect();
        for name in names {
            // Go also accepts these spellings of the ChaCha20 suites.
            let canonical = match name.as_str() {
                "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305" => {
                    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
                }
                "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305" => {
                    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
                }
                n => n,
            };
            if let Some(s) = all.iter().find(|s| name_of(s) == canonical) {
                if !chosen.iter().any(|c| c.suite() == s.suite()) {
                    chosen.push(*s);
                }
            } else {
                return Err(format!(
                    "tls_server_config.cipher_suites: {name} is not supported by rustls; supported TLS 1.2 suites: {}",
                    tls12.join(", ")
                ));
            }
        }
        p.cipher_suites = chosen;
    }
    if let Some(names) = t.curve_preferences.as_ref().filter(|n| !n.is_empty()) {
        let all = p.kx_groups.clone();
        let mut chosen = Vec::new();
        for name in names {
            let group = match name.as_str() {
                "X25519" => Some(NamedGroup::X25519),
                "CurveP256" => Some(NamedGroup::secp256r1),
                "CurveP384" => Some(NamedGroup::secp384r1),
                "CurveP521" => Some(NamedGroup::secp521r1),
                _ => None,
            };
            match group.and_then(|g| all.iter().find(|k| k.name() == g)) {
                Some(k) => chosen.push(*k),
                None => {
                    return Err(format!(
                        "tls_server_config.curve_preferences: {name} is not supported by rustls; supported: X25519, CurveP256, CurveP384"
                    ))
                }
            }
        }
        p.kx_groups = chosen;
    }
    Ok(p)
}

/// `RequestClientCert` / `RequireAnyClientCert`: ask for a client certificate and check that the
/// client holds its key, but do not verify it against a CA (as Go does for these two policies).
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl AnyClientCert {
    fn new(provider: &CryptoProvider, mandatory: bool) -> Self {
        AnyClientCert {
            mandatory,
            algorithms: provider.signature_verification_algorithms,
        }
    }
}

impl ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(f: impl FnOnce(&mut TlsServerConfig)) -> TlsServerConfig {
        let mut t = TlsServerConfig::default();
        f(&mut t);
        t
    }

    #[test]
    fn versions_map_to_rustls() {
        let v = versions(&cfg(|_| {})).unwrap();
        assert_eq!(v.len(), 2);
        let v = versions(&cfg(|t| t.min_version = Some("TLS13".into()))).unwrap();
        assert_eq!(v, vec![&rustls::version::TLS13]);
        let v = versions(&cfg(|t| t.max_version = Some("TLS12".into()))).unwrap();
        assert_eq!(v, vec![&rustls::version::TLS12]);
        assert!(versions(&cfg(|t| t.min_version = Some("TLS10".into()))).is_ok());
        assert!(versions(&cfg(|t| t.max_version = Some("TLS11".into()))).is_err());
        assert!(versions(&cfg(|t| t.min_version = Some("SSL3".into()))).is_err());
        assert!(versions(&cfg(|t| {
            t.min_version = Some("TLS13".into());
            t.max_version = Some("TLS12".into());
        }))
        .is_err());
    }

    #[test]
    fn cipher_suites_and_curves() {
        let p = provider(&cfg(|t| {
            t.cipher_suites = Some(vec!["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".into()]);
            t.curve_preferences = Some(vec!["CurveP256".into(), "X25519".into()]);
        }))
        .unwrap();
        let tls12: Vec<_> = p
            .cipher_suites
            .iter()
            .filter(|s| s.version() == &rustls::version::TLS12)
            .collect();
        assert_eq!(tls12.len(), 1);
        assert_eq!(p.kx_groups.len(), 2);
        assert_eq!(p.kx_groups[0].name(), NamedGroup::secp256r1);
        let e = provider(&cfg(|t| {
            t.cipher_suites = Some(vec!["TLS_RSA_WITH_AES_128_CBC_SHA".into()])
        }))
        .unwrap_err();
        assert!(e.contains("not supported by rustls"), "{e}");
        assert!(provider(&cfg(
            |t| t.curve_preferences = Some(vec!["CurveP521".into()])
        ))
        .is_err());
    }
}
