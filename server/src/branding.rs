//! Branding profiles: per merchant, named looks for the capture page (display name, colours,
//! logo), chosen by a session's `branding`. Validation lives here so the CLI, the store and
//! the page only ever see profiles that meet WCAG AA contrast and carry a safe logo.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::domain::Branding;

/// WCAG 2.x AA: normal text needs 4.5:1; large text and UI components 3:1.
pub const AA_TEXT: f64 = 4.5;
pub const AA_NON_TEXT: f64 = 3.0;
/// Logos are small header images: bounded in bytes and pixels so one cannot bloat pages.
pub const MAX_LOGO_BYTES: usize = 256 * 1024;
pub const MAX_LOGO_SIDE: u32 = 1024;
pub const MIN_LOGO_SIDE: u32 = 16;
/// The capture page's background (web/app.css `--bg`).
const PAGE_BACKGROUND: Rgb = Rgb(0xff, 0xff, 0xff);
const WHITE: Rgb = Rgb(0xff, 0xff, 0xff);
const BLACK: Rgb = Rgb(0, 0, 0);

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BrandingError {
    #[error("{field} must be a colour like #1f4fd1 (got {value:?})")]
    BadColour { field: &'static str, value: String },
    #[error(
        "{field} {colour} has contrast {ratio:.2}:1 against the white page; WCAG AA needs {needed}:1 \
         (it is used for text and buttons). A darker shade that passes: {suggestion}"
    )]
    LowContrast { field: &'static str, colour: Rgb, ratio: f64, needed: f64, suggestion: Rgb },
    #[error("profile name must be 1 to 64 of A-Z a-z 0-9 . _ -")]
    BadName,
    #[error("display name must be 1 to 80 characters without control characters")]
    BadDisplayName,
    #[error("logo must be a PNG, JPEG or WebP image")]
    LogoFormat,
    #[error("logo is {0} bytes; at most {MAX_LOGO_BYTES} allowed")]
    LogoTooLarge(usize),
    #[error("logo is {width}×{height} px; sides must be {MIN_LOGO_SIDE} to {MAX_LOGO_SIDE} px")]
    LogoDimensions { width: u32, height: u32 },
    #[error("logo cannot be decoded: {0}")]
    LogoCorrupt(String),
}

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// `#rrggbb` (case-insensitive).
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, BrandingError> {
        let bad = || BrandingError::BadColour { field, value: raw.chars().take(32).collect() };
        let hex = raw.trim().strip_prefix('#').ok_or_else(bad)?;
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| bad());
        Ok(Rgb(byte(0)?, byte(2)?, byte(4)?))
    }

    /// WCAG relative luminance.
    pub fn luminance(self) -> f64 {
        let lin = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
        };
        0.2126 * lin(self.0) + 0.7152 * lin(self.1) + 0.0722 * lin(self.2)
    }

    /// WCAG contrast ratio, 1..=21.
    pub fn contrast(self, other: Rgb) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        (a.max(b) + 0.05) / (a.min(b) + 0.05)
    }

    /// The colour scaled towards black until it reaches `ratio` against `background`.
    fn darkened_to(self, background: Rgb, ratio: f64) -> Rgb {
        (0..=100)
            .rev()
            .map(|pct| {
                let f = |c: u8| (f64::from(c) * f64::from(pct) / 100.0).round() as u8;
                Rgb(f(self.0), f(self.1), f(self.2))
            })
            .find(|c| c.contrast(background) >= ratio)
            .unwrap_or(BLACK)
    }
}

impl fmt::Display for Rgb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

/// A checked logo: sniffed type (never the uploader's claim) and its bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Logo {
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

impl Logo {
    /// Accepts PNG, JPEG or WebP within the byte and pixel bounds, fully decoded once so a
    /// truncated or malicious file is refused here rather than in a user's browser. SVG is
    /// refused: it can carry script.
    pub fn parse(bytes: Vec<u8>) -> Result<Self, BrandingError> {
        if bytes.len() > MAX_LOGO_BYTES {
            return Err(BrandingError::LogoTooLarge(bytes.len()));
        }
        let format = image::guess_format(&bytes).map_err(|_| BrandingError::LogoFormat)?;
        let content_type = match format {
            image::ImageFormat::Png => "image/png",
            image::ImageFormat::Jpeg => "image/jpeg",
            image::ImageFormat::WebP => "image/webp",
            _ => return Err(BrandingError::LogoFormat),
        };
        let reader = image::ImageReader::with_format(std::io::Cursor::new(&bytes), format);
        let (width, height) = reader.into_dimensions().map_err(|e| BrandingError::LogoCorrupt(e.to_string()))?;
        let side_ok = |s: u32| (MIN_LOGO_SIDE..=MAX_LOGO_SIDE).contains(&s);
        if !side_ok(width) || !side_ok(height) {
            return Err(BrandingError::LogoDimensions { width, height });
        }
        image::load_from_memory_with_format(&bytes, format).map_err(|e| BrandingError::LogoCorrupt(e.to_string()))?;
        Ok(Self { content_type, bytes })
    }

    /// Short content hash: the page's cache-busting version and the HTTP ETag.
    pub fn version(&self) -> String {
        hex::encode(&Sha256::digest(&self.bytes)[..8])
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(&self.bytes)
    }
}

/// A validated profile, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct BrandingProfile {
    pub name: Branding,
    pub display_name: String,
    pub primary: Rgb,
    pub accent: Option<Rgb>,
    pub logo: Option<Logo>,
}

/// What the operator asks for (CLI), before validation.
pub struct BrandingInput<'a> {
    pub name: &'a str,
    pub display_name: &'a str,
    pub primary: &'a str,
    pub accent: Option<&'a str>,
    pub logo: Option<Vec<u8>>,
}

impl BrandingProfile {
    /// Rejects rather than silently adjusts colours: the operator sees the contrast and a
    /// passing darker shade, and the brand is never changed behind their back.
    pub fn parse(input: BrandingInput<'_>) -> Result<Self, BrandingError> {
        let name = Branding::parse(input.name).map_err(|_| BrandingError::BadName)?;
        let display_name = input.display_name.trim();
        if display_name.is_empty() || display_name.chars().count() > 80 || display_name.chars().any(char::is_control) {
            return Err(BrandingError::BadDisplayName);
        }
        // The primary colour is the brand name's text colour on the page and the buttons'
        // background: it must read as text on white.
        let primary = require_contrast("primary", Rgb::parse("primary", input.primary)?, AA_TEXT)?;
        // The accent marks UI parts (outlines, the progress bar), not text: 3:1 suffices.
        let accent = input
            .accent
            .map(|a| Rgb::parse("accent", a).and_then(|c| require_contrast("accent", c, AA_NON_TEXT)))
            .transpose()?;
        let logo = input.logo.map(Logo::parse).transpose()?;
        Ok(Self { name, display_name: display_name.to_string(), primary, accent, logo })
    }

    /// Text on the primary colour (buttons): white when it passes AA, else black.
    pub fn primary_text(&self) -> Rgb {
        if self.primary.contrast(WHITE) >= AA_TEXT { WHITE } else { BLACK }
    }

    /// The profile as the capture page reads it (`state.branding_profile` in web/app.js).
    pub fn page_view(&self) -> PageBranding {
        PageBranding {
            name: self.name.as_str().to_string(),
            display_name: self.display_name.clone(),
            primary_color: self.primary.to_string(),
            primary_text_color: self.primary_text().to_string(),
            accent_color: self.accent.map(|c| c.to_string()),
            logo_url: self.logo.as_ref().map(|l| format!("{LOGO_PATH}?v={}", l.version())),
        }
    }
}

/// Route of the session's logo (capture cookie).
pub const LOGO_PATH: &str = "/api/capture/branding/logo";

#[derive(Debug, Clone, Serialize)]
pub struct PageBranding {
    pub name: String,
    pub display_name: String,
    pub primary_color: String,
    pub primary_text_color: String,
    pub accent_color: Option<String>,
    pub logo_url: Option<String>,
}

fn require_contrast(field: &'static str, colour: Rgb, needed: f64) -> Result<Rgb, BrandingError> {
    let ratio = colour.contrast(PAGE_BACKGROUND);
    if ratio >= needed {
        return Ok(colour);
    }
    let suggestion = colour.darkened_to(PAGE_BACKGROUND, needed);
    Err(BrandingError::LowContrast { field, colour, ratio, needed, suggestion })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(primary: &'a str, accent: Option<&'a str>, logo: Option<Vec<u8>>) -> BrandingInput<'a> {
        BrandingInput { name: "acme", display_name: "Acme Bank", primary, accent, logo }
    }

    fn png(width: u32, height: u32) -> Vec<u8> {
        let img = image::RgbImage::from_pixel(width, height, image::Rgb([20, 40, 200]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn contrast_matches_the_wcag_reference_values() {
        assert!((WHITE.contrast(BLACK) - 21.0).abs() < 1e-9);
        assert!((Rgb(0x77, 0x77, 0x77).contrast(WHITE) - 4.48).abs() < 0.01);
        assert!((Rgb::parse("p", "#1F4FD1").unwrap().contrast(WHITE) - 6.78).abs() < 0.05);
    }

    #[test]
    fn colours_must_be_six_hex_digits() {
        for bad in ["1f4fd1", "#1f4fd", "#1f4fd1a", "#gggggg", "red", ""] {
            assert!(matches!(Rgb::parse("primary", bad), Err(BrandingError::BadColour { .. })), "{bad}");
        }
        assert_eq!(Rgb::parse("p", " #A0b1C2 ").unwrap().to_string(), "#a0b1c2");
    }

    #[test]
    fn a_light_primary_is_refused_with_a_passing_darker_shade() {
        let err = BrandingProfile::parse(input("#ffcc00", None, None)).unwrap_err();
        let BrandingError::LowContrast { suggestion, ratio, .. } = err else { panic!("{err:?}") };
        assert!(ratio < 2.0);
        assert!(suggestion.contrast(WHITE) >= AA_TEXT);
        assert!(BrandingProfile::parse(input(&suggestion.to_string(), None, None)).is_ok());
        assert!(err.to_string().contains("WCAG AA"), "{err}");
    }

    #[test]
    fn a_valid_profile_serves_aa_colours_and_a_versioned_logo() {
        let p = BrandingProfile::parse(input("#1f4fd1", Some("#767676"), Some(png(64, 32)))).unwrap();
        let view = p.page_view();
        assert_eq!(view.primary_color, "#1f4fd1");
        assert_eq!(view.primary_text_color, "#ffffff");
        assert!(p.primary.contrast(p.primary_text()) >= AA_TEXT);
        assert_eq!(view.accent_color.as_deref(), Some("#767676"));
        assert!(view.logo_url.unwrap().starts_with("/api/capture/branding/logo?v="));
        assert_eq!(p.logo.unwrap().content_type, "image/png");
        let pale_accent = BrandingProfile::parse(input("#1f4fd1", Some("#dddddd"), None));
        assert!(matches!(pale_accent, Err(BrandingError::LowContrast { field: "accent", .. })));
    }

    #[test]
    fn logos_are_sniffed_and_bounded() {
        assert_eq!(Logo::parse(b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec()), Err(BrandingError::LogoFormat));
        assert!(matches!(Logo::parse(png(8, 8)), Err(BrandingError::LogoDimensions { .. })));
        assert!(matches!(Logo::parse(png(2000, 20)), Err(BrandingError::LogoDimensions { .. })));
        assert!(matches!(Logo::parse(vec![0u8; MAX_LOGO_BYTES + 1]), Err(BrandingError::LogoTooLarge(_))));
        let mut truncated = png(64, 64);
        truncated.truncate(60);
        assert!(Logo::parse(truncated).is_err());
    }

    #[test]
    fn display_names_are_checked() {
        let mut i = input("#1f4fd1", None, None);
        i.display_name = "  ";
        assert_eq!(BrandingProfile::parse(i).unwrap_err(), BrandingError::BadDisplayName);
    }
}
