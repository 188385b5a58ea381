//! Secrets handed out once: API keys, capture tokens, webhook secrets. Only their SHA-256
//! is stored (except the webhook secret, which signing needs).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;
use sha2::{Digest, Sha256};

fn random_b64(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// `tf_` + 256 random bits. High entropy makes a plain SHA-256 a safe stored form.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    const PREFIX: &'static str = "tf_";

    pub fn generate() -> Self {
        Self(format!("{}{}", Self::PREFIX, random_b64(32)))
    }

    /// Shape check only; whether the key exists is the database's answer.
    pub fn parse(raw: &str) -> Option<Self> {
        let body = raw.strip_prefix(Self::PREFIX)?;
        (body.len() == 43 && body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
            .then(|| Self(raw.to_string()))
    }

    pub fn hash(&self) -> String {
        sha256_hex(self.0.as_bytes())
    }

    /// A non-secret prefix to recognise the key by.
    pub fn hint(&self) -> String {
        format!("{}…", &self.0[..Self::PREFIX.len() + 6])
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKey({})", self.hint())
    }
}

/// The capture link's token: 256 random bits (SPEC §7).
#[derive(Clone, PartialEq, Eq)]
pub struct CaptureToken(String);

impl CaptureToken {
    pub fn generate() -> Self {
        Self(random_b64(32))
    }

    pub fn parse(raw: &str) -> Option<Self> {
        (raw.len() == 43 && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
            .then(|| Self(raw.to_string()))
    }

    pub fn hash(&self) -> String {
        sha256_hex(self.0.as_bytes())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for CaptureToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CaptureToken(…)")
    }
}

/// Key of the webhook HMAC; printed once at merchant creation.
#[derive(Clone)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    pub fn generate() -> Self {
        Self(format!("whsec_{}", random_b64(32)))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_round_trip_and_differ() {
        let a = ApiKey::generate();
        let b = ApiKey::generate();
        assert_ne!(a, b);
        assert_eq!(ApiKey::parse(a.expose()).unwrap(), a);
        assert_eq!(a.hash().len(), 64);
        assert!(!format!("{a:?}").contains(&a.expose()[10..]));
        assert!(ApiKey::parse("tf_short").is_none());
    }

    #[test]
    fn capture_tokens_have_256_bits() {
        let t = CaptureToken::generate();
        assert_eq!(t.expose().len(), 43);
        assert!(CaptureToken::parse(t.expose()).is_some());
        assert!(CaptureToken::parse("../etc/passwd").is_none());
    }
}
