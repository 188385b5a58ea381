//! Fuzz harnesses: one function per input surface, each asserting the properties that must hold
//! for every input (no panic, errors are client errors, checks are never reported as passing
//! when they fail). The cargo-fuzz targets in `tests/fuzz/` call these, and the ordinary test
//! suite replays the committed corpora through them on stable Rust.

use std::sync::OnceLock;

use actix_web::ResponseError;
use actix_web::http::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use actix_web::web::Bytes;
use thirdfactor_engine::document::mrz::{Mrz, MrzFormat};
use thirdfactor_engine::document::mrz_repair::{OcrChar, assemble};
use thirdfactor_engine::imaging::{self, IntakeLimits};

use crate::capture::intake::{UploadLimits, read_burst, read_single_image};
use crate::domain::{Branding, Language, MerchantRef, RedirectUrl, SessionConfig, WebhookUrl};
use crate::sessions::SessionRequest;

/// Text → MRZ: lines are split on newlines. Parsing must not panic; an MRZ the repair path
/// assembles and calls valid must re-parse from its own text and be valid there too.
pub fn fuzz_mrz(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let lines: Vec<&str> = text.lines().collect();
    if let Ok(mrz) = Mrz::parse(&lines) {
        let fields = mrz.fields();
        assert!(fields.document_number.len() <= 30);
        assert_eq!(mrz.is_valid(), mrz.checks().all_hold());
    }
    // The OCR path: every character as read, its runner-up the next character.
    let ocr: Vec<Vec<OcrChar>> = lines
        .iter()
        .map(|l| {
            let chars: Vec<char> = l.chars().take(64).collect();
            chars
                .iter()
                .enumerate()
                .map(|(i, &c)| OcrChar { symbol: c, runner_up: chars.get(i + 1).copied() })
                .collect()
        })
        .collect();
    for format in MrzFormat::ALL {
        let Some(repaired) = assemble(format, &ocr) else { continue };
        let text = repaired.mrz.line_strings();
        let refs: Vec<&str> = text.iter().map(String::as_str).collect();
        let reparsed = Mrz::parse(&refs).expect("an assembled MRZ is well-formed");
        assert_eq!(reparsed.is_valid(), repaired.mrz.is_valid(), "validity must follow from the text alone");
    }
}

/// A session-creation body: JSON first, then every field through its parser. Parsers return
/// errors, never panic, and what they accept stays within the documented bounds.
pub fn fuzz_session_request(data: &[u8]) {
    let Ok(request) = serde_json::from_slice::<SessionRequest>(data) else { return };
    if let Ok(config) = SessionConfig::parse(&request.config) {
        let _ = config.kind();
        assert!(config.flags().count() <= 3);
    }
    if let Some(b) = request.branding.as_deref() {
        let _ = Branding::parse(b);
    }
    if let Some(l) = request.language.as_deref() {
        let _ = Language::parse(l);
    }
    if let Ok(url) = WebhookUrl::parse_under(&request.backend_url, "https://hooks.example.com/tf") {
        assert_eq!((url.host(), url.port()), ("hooks.example.com", 443), "a webhook outside its base");
    }
    let _ = RedirectUrl::parse(&request.return_url, "return_url");
    let _ = RedirectUrl::parse(&request.cancel_url, "cancel_url");
    if let Ok(r) = MerchantRef::parse(&request.merchant_ref) {
        assert!(r.as_str().bytes().all(|b| b.is_ascii_graphic()) && r.as_str().len() <= MerchantRef::MAX_LEN);
    }
}

/// Uploaded bytes → image, with small limits so the fuzzer reaches them: whatever decodes
/// respects them.
pub fn fuzz_image_intake(data: &[u8]) {
    let limits = IntakeLimits { max_bytes: 1 << 20, max_side: 2048, max_pixels: 2_000_000 };
    if let Ok(image) = imaging::decode(data, &limits) {
        assert!(u64::from(image.width()) * u64::from(image.height()) <= limits.max_pixels);
        assert!(image.width().max(image.height()) <= limits.max_side);
    }
    if let Ok((image, scale)) = imaging::decode_for_analysis(data, &limits, 640) {
        assert!(image.width().max(image.height()) <= 640);
        assert!(scale > 0.0 && scale <= 1.0);
    }
}

/// A multipart body as the capture endpoints read it. The first byte picks the endpoint
/// (single image or liveness burst) and the chunk size the body arrives in; every failure
/// must be a client error (4xx), never a server error.
pub fn fuzz_multipart_intake(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else { return };
    let chunk = usize::from(selector >> 1).max(1);
    let chunks: Vec<Result<Bytes, actix_web::error::PayloadError>> =
        body.chunks(chunk).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("multipart/form-data; boundary=fuzz"));
    let payload = actix_multipart::Multipart::new(&headers, futures_util::stream::iter(chunks));
    let limits = UploadLimits { max_part_bytes: 4096, max_parts: 4 };
    let status = runtime().block_on(async move {
        if selector & 1 == 0 {
            read_single_image(payload, limits).await.err().map(|e| e.status_code())
        } else {
            read_burst(payload, limits).await.err().map(|e| e.status_code())
        }
    });
    if let Some(status) = status {
        assert!(status.is_client_error(), "multipart intake answered {status}");
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| tokio::runtime::Builder::new_current_thread().build().expect("a current-thread runtime"))
}
