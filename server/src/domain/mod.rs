//! Domain types that can only hold valid values ("parse, don't validate"): handlers parse
//! request fields into these once and never re-check them.

mod names;
mod session_config;
mod status;
mod tokens;
mod urls;

pub use names::{Branding, Language, MerchantRef};
pub use session_config::{ConfigFlag, SessionConfig, SessionKind};
pub use status::{SessionStatus, Step};
pub use tokens::{ApiKey, CaptureToken, WebhookSecret, sha256_hex};
pub use urls::{RedirectUrl, WebhookUrl, is_internal_address};

/// Why a field was rejected; `code` is a stable machine code for the API error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FieldError {
    pub code: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}
