//! TLS: a self-signed certificate for local use (generated once into the data directory),
//! or the operator's certificate and key.

use std::path::{Path, PathBuf};

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::{Settings, TlsMode};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}", path = .path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write {path}: {source}", path = .path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{path} holds no usable PEM {what}", path = .path.display())]
    Pem { path: PathBuf, what: &'static str },
    #[error("cannot generate a self-signed certificate: {0}")]
    Generate(String),
    #[error("invalid certificate or key: {0}")]
    Config(String),
}

/// The rustls config for `settings`, or `None` when TLS is off.
pub fn server_config(settings: &Settings) -> Result<Option<ServerConfig>, TlsError> {
    let (cert, key) = match settings.server.tls {
        TlsMode::Off => return Ok(None),
        TlsMode::Files => (settings.server.cert_file.clone(), settings.server.key_file.clone()),
        TlsMode::SelfSigned => ensure_self_signed(&settings.paths.data_dir.join("tls"))?,
    };
    let certs = CertificateDer::pem_file_iter(&cert)
        .map_err(|_| TlsError::Pem { path: cert.clone(), what: "certificate" })?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| TlsError::Pem { path: cert.clone(), what: "certificate" })?;
    if certs.is_empty() {
        return Err(TlsError::Pem { path: cert, what: "certificate" });
    }
    let key =
        PrivateKeyDer::from_pem_file(&key).map_err(|_| TlsError::Pem { path: key.clone(), what: "private key" })?;
    let mut config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Some(config))
}

/// Creates `cert.pem`/`key.pem` for localhost in `dir` unless they exist; returns their paths.
pub fn ensure_self_signed(dir: &Path) -> Result<(PathBuf, PathBuf), TlsError> {
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    if cert_path.is_file() && key_path.is_file() {
        return Ok((cert_path, key_path));
    }
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Write { path: dir.to_path_buf(), source })?;
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
    let generated = rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::Generate(e.to_string()))?;
    write_private(&key_path, generated.signing_key.serialize_pem().as_bytes())?;
    std::fs::write(&cert_path, generated.cert.pem())
        .map_err(|source| TlsError::Write { path: cert_path.clone(), source })?;
    tracing::warn!(cert = %cert_path.display(), "generated a self-signed TLS certificate for localhost; configure a real one for production");
    Ok((cert_path, key_path))
}

fn write_private(path: &Path, data: &[u8]) -> Result<(), TlsError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| TlsError::Write { path: path.to_path_buf(), source };
    let mut file =
        std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path).map_err(err)?;
    file.write_all(data).map_err(err)
}
