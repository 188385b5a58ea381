//! Short identifiers from requests: the merchant's user reference, page language, branding.

use super::FieldError;

/// The end user's id within the merchant; templates are keyed by it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerchantRef(String);

impl MerchantRef {
    pub const MAX_LEN: usize = 128;

    /// 1–128 visible ASCII characters: it appears in URLs, logs and webhooks, so no
    /// whitespace, control characters or look-alike Unicode.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        if raw.is_empty() || raw.len() > Self::MAX_LEN {
            return Err(FieldError::new("invalid_merchant_ref", "merchant_ref must be 1 to 128 characters"));
        }
        if !raw.bytes().all(|b| b.is_ascii_graphic()) || raw.contains(['/', '\\', '?', '#', '%']) {
            return Err(FieldError::new(
                "invalid_merchant_ref",
                "merchant_ref may hold visible ASCII characters except / \\ ? # %",
            ));
        }
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A capture page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    En,
    De,
    Fr,
    Es,
    Hr,
}

impl Language {
    pub const ALL: [Language; 5] = [Language::En, Language::De, Language::Fr, Language::Es, Language::Hr];

    pub fn as_str(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::De => "de",
            Language::Fr => "fr",
            Language::Es => "es",
            Language::Hr => "hr",
        }
    }

    /// Accepts `de` and regional forms such as `de-AT` or `de_CH`.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let primary = raw.split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|l| l.as_str() == primary)
            .ok_or_else(|| FieldError::new("unsupported_language", "language must be one of en, de, fr, es, hr"))
    }
}

/// Name of a branding profile (colours, logo) for the capture page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branding(String);

impl Branding {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let ok = !raw.is_empty()
            && raw.len() <= 64
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
        if ok {
            Ok(Self(raw.to_string()))
        } else {
            Err(FieldError::new("invalid_branding", "branding must be 1 to 64 of A-Z a-z 0-9 . _ -"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merchant_refs() {
        assert!(MerchantRef::parse("user-4711").is_ok());
        assert!(MerchantRef::parse("a@b.example:7").is_ok());
        for bad in ["", "has space", "semi\u{7f}", "ünïcode", "a/b", &"x".repeat(129)] {
            assert!(MerchantRef::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn languages() {
        assert_eq!(Language::parse("hr").unwrap(), Language::Hr);
        assert_eq!(Language::parse("de-AT").unwrap(), Language::De);
        assert_eq!(Language::parse("it").unwrap_err().code, "unsupported_language");
    }

    #[test]
    fn brandings() {
        assert!(Branding::parse("3fatesting").is_ok());
        assert!(Branding::parse("<script>").is_err());
    }
}
