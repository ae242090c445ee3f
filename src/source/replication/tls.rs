//! rustls client configuration for each `sslmode`, shared by the replication and admin connections.
//!
//! libpq's modes map onto three certificate checks: none (prefer, require), chain only
//! (verify-ca) and chain plus host name (verify-full). rustls only ships the last one, so we
//! implement the verifier ourselves on top of rustls' own building blocks.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::params::ConnectParams;
use crate::config::SslMode;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TlsSetupError(pub String);

/// How much of the server certificate we check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Nothing,
    Chain,
    ChainAndName,
}

/// The effective check for a mode. libpq upgrades `require` to `verify-ca` when a root
/// certificate is configured, and so do we: a configured CA is meant to be used.
fn check_for(params: &ConnectParams) -> Option<Check> {
    match params.sslmode {
        SslMode::Disable => None,
        SslMode::Prefer => Some(Check::Nothing),
        SslMode::Require if params.sslrootcert.is_some() => Some(Check::Chain),
        SslMode::Require => Some(Check::Nothing),
        SslMode::VerifyCa => Some(Check::Chain),
        SslMode::VerifyFull => Some(Check::ChainAndName),
    }
}

/// The rustls configuration for `params`, or `None` for `sslmode=disable`.
pub fn client_config(params: &ConnectParams) -> Result<Option<Arc<ClientConfig>>, TlsSetupError> {
    let Some(check) = check_for(params) else {
        return Ok(None);
    };
    // An explicit provider keeps us independent of whichever process-wide default gets installed.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = match check {
        Check::Nothing => RootCertStore::empty(),
        _ => load_roots(params.sslrootcert.as_deref())?,
    };
    let verifier = PgVerifier {
        check,
        roots: Arc::new(roots),
        algs: provider.signature_verification_algorithms,
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError(format!("cannot set up TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(Some(Arc::new(config)))
}

/// The name to present via SNI and to check in verify-full. Host names that are not valid
/// DNS names or IPs only matter for verify-full; the other modes do not look at the name.
pub fn server_name(params: &ConnectParams) -> Result<ServerName<'static>, TlsSetupError> {
    match ServerName::try_from(params.host.clone()) {
        Ok(name) => Ok(name),
        Err(_) if params.sslmode != SslMode::VerifyFull => {
            Ok(ServerName::try_from("localhost").expect("valid name"))
        }
        Err(e) => Err(TlsSetupError(format!(
            "database.hostname {:?} cannot be checked against a certificate ({e}): use a DNS name or IP address, or sslmode=verify-ca",
            params.host
        ))),
    }
}

fn load_roots(path: Option<&Path>) -> Result<RootCertStore, TlsSetupError> {
    let mut store = RootCertStore::empty();
    let Some(path) = path else {
        store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        return Ok(store);
    };
    let pem = std::fs::read(path)
        .map_err(|e| TlsSetupError(format!("cannot read sslrootcert {}: {e}", path.display())))?;
    let mut reader = &pem[..];
    for cert in rustls_pemfile::certs(&mut reader) {
        let cert = cert.map_err(|e| {
            TlsSetupError(format!(
                "sslrootcert {} is not valid PEM: {e}",
                path.display()
            ))
        })?;
        store.add(cert).map_err(|e| {
            TlsSetupError(format!(
                "sslrootcert {} holds an unusable certificate: {e}",
                path.display()
            ))
        })?;
    }
    if store.is_empty() {
        return Err(TlsSetupError(format!(
            "sslrootcert {} contains no PEM certificates",
            path.display()
        )));
    }
    Ok(store)
}

#[derive(Debug)]
struct PgVerifier {
    check: Check,
    roots: Arc<RootCertStore>,
    algs: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PgVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.check == Check::Nothing {
            return Ok(ServerCertVerified::assertion());
        }
        let cert = ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.algs.all,
        )?;
        if self.check == Check::ChainAndName {
            rustls::client::verify_server_name(&cert, server_name)?;
        }
        Ok(ServerCertVerified::assertion())
    }

    // Handshake signatures are always checked, even when the certificate is not: this is what
    // proves the peer holds the key of the certificate it sent.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// Turns a failed handshake into an error that says what to change. rustls reports its
/// errors wrapped in `io::Error`; anything else is a plain network failure.
pub fn describe_handshake_error(err: &std::io::Error, params: &ConnectParams) -> Option<String> {
    let tls = err.get_ref()?.downcast_ref::<rustls::Error>()?;
    let fix = match tls {
        rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName)
        | rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForNameContext { .. }) => {
            format!(
                "the server certificate is not valid for host {:?}: connect using a name the certificate lists, or use sslmode=verify-ca",
                params.host
            )
        }
        rustls::Error::InvalidCertificate(_) => match &params.sslrootcert {
            Some(p) => format!(
                "the server certificate is not signed by a CA in sslrootcert {}: check database.sslrootcert",
                p.display()
            ),
            None => "the server certificate is not signed by a public CA: set database.sslrootcert to your CA file".to_string(),
        },
        _ => "check the server's ssl settings and database.sslmode".to_string(),
    };
    Some(format!("TLS handshake failed ({tls}): {fix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_map_to_checks() {
        let mut p = ConnectParams {
            sslmode: SslMode::Disable,
            ..ConnectParams::default()
        };
        assert_eq!(check_for(&p), None);
        p.sslmode = SslMode::Require;
        assert_eq!(check_for(&p), Some(Check::Nothing));
        p.sslrootcert = Some("/x.pem".into());
        assert_eq!(check_for(&p), Some(Check::Chain));
        p.sslmode = SslMode::VerifyFull;
        assert_eq!(check_for(&p), Some(Check::ChainAndName));
    }

    #[test]
    fn missing_root_file_is_a_clear_error() {
        let p = ConnectParams {
            sslmode: SslMode::VerifyCa,
            sslrootcert: Some("/nonexistent/ca.pem".into()),
            ..ConnectParams::default()
        };
        let err = client_config(&p).unwrap_err();
        assert!(
            err.0
                .contains("cannot read sslrootcert /nonexistent/ca.pem"),
            "{err}"
        );
    }

    #[test]
    fn verify_full_needs_a_checkable_name() {
        let mut p = ConnectParams {
            host: "not a host name".into(),
            sslmode: SslMode::VerifyFull,
            ..ConnectParams::default()
        };
        assert!(server_name(&p).is_err());
        p.sslmode = SslMode::Require;
        assert!(server_name(&p).is_ok());
    }
}
