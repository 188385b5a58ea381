//! Face templates at rest: AES-256-GCM with keys from configuration, each record tagged with
//! its key id (rotation: new writes use the active key, old records still open), and bound by
//! associated data to merchant + merchant_ref + model version, so a record copied to another
//! user or model does not decrypt. The same sealing protects a session's intermediate state.

use std::collections::BTreeMap;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::Rng;
use zeroize::Zeroizing;

use crate::store::enrollments::NewEnrollment;
use crate::store::{Store, StoreError, now_ms};

/// Id of the key generated for a setup that configures none.
pub const GENERATED_KEY_ID: &str = "local-1";
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template key {0:?} is not configured")]
    UnknownKey(String),
    #[error("template key {id:?} must be 32 bytes, base64-encoded: {reason}")]
    BadKey { id: String, reason: String },
    #[error("templates.active_key_id {0:?} is not among templates.keys")]
    NoActiveKey(String),
    #[error("cannot read or write the generated key file {path}: {source}")]
    KeyFile { path: String, source: std::io::Error },
    #[error("a sealed record does not open (wrong key, record moved, or tampered)")]
    Open,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The configured keys and which one seals new records.
pub struct TemplateKeys {
    active: String,
    ciphers: BTreeMap<String, Aes256Gcm>,
}

impl std::fmt::Debug for TemplateKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemplateKeys").field("active", &self.active).field("ids", &self.ciphers.keys()).finish()
    }
}

/// A sealed blob and the key that sealed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    /// base64(nonce ‖ ciphertext ‖ tag)
    pub blob: String,
}

impl TemplateKeys {
    /// From configured keys; with none configured, a key is generated once into
    /// `data_dir/keys/` (like the self-signed certificate) so a default setup works.
    pub fn load(active: &str, keys: &BTreeMap<String, String>, data_dir: &Path) -> Result<Self, TemplateError> {
        if keys.is_empty() {
            let key = generated_key(data_dir)?;
            let keys = BTreeMap::from([(GENERATED_KEY_ID.to_string(), key.to_string())]);
            return Self::from_base64(GENERATED_KEY_ID, &keys);
        }
        Self::from_base64(active, keys)
    }

    pub fn from_base64(active: &str, keys: &BTreeMap<String, String>) -> Result<Self, TemplateError> {
        let mut ciphers = BTreeMap::new();
        for (id, b64) in keys {
            let bytes = Zeroizing::new(
                STANDARD
                    .decode(b64.trim())
                    .map_err(|e| TemplateError::BadKey { id: id.clone(), reason: e.to_string() })?,
            );
            let cipher = Aes256Gcm::new_from_slice(&bytes)
                .map_err(|_| TemplateError::BadKey { id: id.clone(), reason: format!("{} bytes", bytes.len()) })?;
            ciphers.insert(id.clone(), cipher);
        }
        let active = if active.is_empty() && ciphers.len() == 1 {
            ciphers.keys().next().cloned().unwrap_or_default()
        } else {
            active.to_string()
        };
        if !ciphers.contains_key(&active) {
            return Err(TemplateError::NoActiveKey(active));
        }
        Ok(Self { active, ciphers })
    }

    pub fn active_key_id(&self) -> &str {
        &self.active
    }

    /// Encrypts with the active key and a fresh random nonce.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Sealed {
        let cipher = &self.ciphers[&self.active];
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = cipher
            .encrypt(&Nonce::from(nonce), Payload { msg: plaintext, aad })
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ciphertext);
        Sealed { key_id: self.active.clone(), blob: STANDARD.encode(blob) }
    }

    pub fn open(&self, sealed: &Sealed, aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, TemplateError> {
        let cipher =
            self.ciphers.get(&sealed.key_id).ok_or_else(|| TemplateError::UnknownKey(sealed.key_id.clone()))?;
        let blob = STANDARD.decode(&sealed.blob).map_err(|_| TemplateError::Open)?;
        if blob.len() < NONCE_LEN + 16 {
            return Err(TemplateError::Open);
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| TemplateError::Open)?;
        cipher
            .decrypt(&Nonce::from(nonce), Payload { msg: ciphertext, aad })
            .map(Zeroizing::new)
            .map_err(|_| TemplateError::Open)
    }
}

/// Reads (or creates, 0600) the generated key file.
fn generated_key(data_dir: &Path) -> Result<Zeroizing<String>, TemplateError> {
    let path = data_dir.join("keys").join(format!("{GENERATED_KEY_ID}.key"));
    let err = |source| TemplateError::KeyFile { path: path.display().to_string(), source };
    if path.is_file() {
        return std::fs::read_to_string(&path).map(Zeroizing::new).map_err(err);
    }
    std::fs::create_dir_all(path.parent().unwrap_or(data_dir)).map_err(err)?;
    let mut key = Zeroizing::new([0u8; 32]);
    rand::rng().fill_bytes(key.as_mut());
    let encoded = Zeroizing::new(STANDARD.encode(key.as_ref()));
    write_private(&path, encoded.as_bytes()).map_err(err)?;
    tracing::warn!(path = %path.display(), "generated a template encryption key; configure templates.keys for production");
    Ok(encoded)
}

fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(data)
}

/// Binds a template to its owner and model.
pub fn template_aad(merchant_id: &str, merchant_ref: &str, model_version: &str) -> Vec<u8> {
    // Length-prefixed fields, so ("a|b", "c") and ("a", "b|c") differ.
    let mut aad = b"thirdfactor-template-v1".to_vec();
    for field in [merchant_id, merchant_ref, model_version] {
        aad.extend_from_slice(&(field.len() as u32).to_be_bytes());
        aad.extend_from_slice(field.as_bytes());
    }
    aad
}

/// An embedding as little-endian f32 bytes.
pub fn embedding_bytes(embedding: &[f32]) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(embedding.iter().flat_map(|v| v.to_le_bytes()).collect())
}

pub fn embedding_from_bytes(bytes: &[u8]) -> Option<Vec<f32>> {
    bytes
        .len()
        .is_multiple_of(4)
        .then(|| bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

/// What the integrator may know about an enrollment (never the template).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct EnrollmentInfo {
    pub merchant_ref: String,
    pub enrolled: bool,
    pub model_version: String,
    pub created_at: String,
    pub updated_at: String,
}

/// Encrypts the template of (merchant, merchant_ref), ready to store.
pub fn seal_template(
    keys: &TemplateKeys,
    merchant_id: &str,
    merchant_ref: &str,
    model_version: &str,
    embedding: &[f32],
    session_id: &str,
) -> NewEnrollment {
    let sealed = keys.seal(&embedding_bytes(embedding), &template_aad(merchant_id, merchant_ref, model_version));
    NewEnrollment {
        merchant_id: merchant_id.to_string(),
        merchant_ref: merchant_ref.to_string(),
        template: sealed.blob,
        key_id: sealed.key_id,
        model_version: model_version.to_string(),
        session_id: session_id.to_string(),
        now: now_ms(),
    }
}

/// Encrypts and stores (or replaces) the template of (merchant, merchant_ref).
pub async fn save_template(
    store: &Store,
    keys: &TemplateKeys,
    merchant_id: &str,
    merchant_ref: &str,
    model_version: &str,
    embedding: &[f32],
    session_id: &str,
) -> Result<(), TemplateError> {
    let enrollment = seal_template(keys, merchant_id, merchant_ref, model_version, embedding, session_id);
    store.upsert_enrollment(&enrollment).await?;
    Ok(())
}

/// Decrypts the stored template, if any.
pub async fn load_template(
    store: &Store,
    keys: &TemplateKeys,
    merchant_id: &str,
    merchant_ref: &str,
) -> Result<Option<(Vec<f32>, String)>, TemplateError> {
    let Some(record) = store.enrollment(merchant_id, merchant_ref).await? else {
        return Ok(None);
    };
    let sealed = Sealed { key_id: record.key_id.clone(), blob: record.template.clone() };
    let plain = keys.open(&sealed, &template_aad(merchant_id, merchant_ref, &record.model_version))?;
    let embedding = embedding_from_bytes(&plain).ok_or(TemplateError::Open)?;
    Ok(Some((embedding, record.model_version)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> String {
        let mut k = [0u8; 32];
        rand::rng().fill_bytes(&mut k);
        STANDARD.encode(k)
    }

    #[test]
    fn seal_open_round_trip_bound_to_owner() {
        let keys = TemplateKeys::from_base64("k1", &BTreeMap::from([("k1".to_string(), key())])).unwrap();
        let embedding = vec![0.25f32, -1.5, 3.0];
        let aad = template_aad("1", "user-4711", "fr_feature@abc");
        let sealed = keys.seal(&embedding_bytes(&embedding), &aad);
        let plain = keys.open(&sealed, &aad).unwrap();
        assert_eq!(embedding_from_bytes(&plain).unwrap(), embedding);
        assert!(!sealed.blob.contains("0.25"));
        assert!(matches!(
            keys.open(&sealed, &template_aad("1", "user-4712", "fr_feature@abc")),
            Err(TemplateError::Open)
        ));
        assert!(matches!(
            keys.open(&sealed, &template_aad("2", "user-4711", "fr_feature@abc")),
            Err(TemplateError::Open)
        ));
        assert!(matches!(
            keys.open(&sealed, &template_aad("1", "user-4711", "fr_feature@new")),
            Err(TemplateError::Open)
        ));
        assert_ne!(keys.seal(b"x", &aad).blob, keys.seal(b"x", &aad).blob, "fresh nonce every time");
    }

    #[test]
    fn rotation_keeps_old_records_readable() {
        let (k1, k2) = (key(), key());
        let old = TemplateKeys::from_base64("k1", &BTreeMap::from([("k1".to_string(), k1.clone())])).unwrap();
        let sealed = old.seal(b"template", b"aad");
        let rotated =
            TemplateKeys::from_base64("k2", &BTreeMap::from([("k1".to_string(), k1), ("k2".to_string(), k2)])).unwrap();
        assert_eq!(rotated.open(&sealed, b"aad").unwrap().as_slice(), b"template");
        assert_eq!(rotated.seal(b"new", b"aad").key_id, "k2");
        let without_k1 = TemplateKeys::from_base64("k2", &BTreeMap::from([("k2".to_string(), key())])).unwrap();
        assert!(matches!(without_k1.open(&sealed, b"aad"), Err(TemplateError::UnknownKey(_))));
    }

    #[test]
    fn bad_keys_are_reported() {
        let short = BTreeMap::from([("k".to_string(), STANDARD.encode([1u8; 16]))]);
        assert!(matches!(TemplateKeys::from_base64("k", &short), Err(TemplateError::BadKey { .. })));
        let one = BTreeMap::from([("k".to_string(), key())]);
        assert!(matches!(TemplateKeys::from_base64("other", &one), Err(TemplateError::NoActiveKey(_))));
    }

    #[test]
    fn generated_key_is_created_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let a = TemplateKeys::load("", &BTreeMap::new(), dir.path()).unwrap();
        let sealed = a.seal(b"x", b"y");
        let b = TemplateKeys::load("", &BTreeMap::new(), dir.path()).unwrap();
        assert_eq!(b.open(&sealed, b"y").unwrap().as_slice(), b"x");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("keys/local-1.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
