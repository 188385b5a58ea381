//! Browser end-to-end tests: the capture page in Debian's headless Chromium, driven by
//! playwright-core (`tests/e2e/drive.mjs`), with the camera faked from Y4M clips this test
//! makes itself (a generated ID card, fixture portraits, a head-turn clip), against the real
//! server (real models, a real SQLite file) and a webhook receiver. The assertions are on
//! what the page showed, what the server decided and what the integrator received.
//!
//! Chromium's fake camera plays one file per browser process, so each capture step is its
//! own browser launch; the capture cookie carries the session from one launch to the next
//! and reloading the page resumes at the session's current step.
//!
//! `TF_E2E_SCREENSHOTS=DIR` also saves phone-sized screenshots of every step
//! (`scripts/screenshots` refreshes `docs/screenshots/`).

#[allow(dead_code)]
#[path = "../../server/engine/tests/support/cardgen.rs"]
mod cardgen;
#[allow(clippy::type_complexity)]
#[path = "../../server/engine/tests/support/headturn.rs"]
mod headturn;
#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;
#[allow(dead_code)]
#[path = "../api/receiver.rs"]
mod receiver;

mod browser;
mod camera;
mod world;

mod approvals;
mod rejections;

use cardgen::CardFields;

/// Capture API paths a browser launch may upload to, per step.
pub const DOCUMENT: &str = "/api/capture/document";
pub const SELFIE: &str = "/api/capture/selfie";
pub const CHALLENGE: &str = "/api/capture/liveness/challenge";
pub const LIVENESS: &str = "/api/capture/liveness";

/// A valid card (expiry eight years ahead) whose portrait is the fixture `obama.jpg`. The
/// name is Croatian but without diacritics: the recognizer (PP-OCRv4 `ch`) cannot read Č, Ć
/// or Đ, so a printed accented name never matches its MRZ transliteration
/// (`mrz_printed_mismatch`; accented names are issue 4's open problem).
pub fn valid_card() -> CardFields {
    CardFields::valid("HORVAT", "IVAN MARKO", time::OffsetDateTime::now_utc().year() as u32 + 8)
}

#[test]
fn card_generator_computes_the_icao_specimen_mrz() {
    assert_eq!(CardFields::specimen().mrz(), cardgen::SPECIMEN_MRZ.map(String::from));
    let mrz = valid_card().mrz();
    assert!(mrz.iter().all(|l| l.len() == 30), "{mrz:?}");
    assert!(mrz[2].starts_with("HORVAT<<IVAN<MARKO<"), "{mrz:?}");
    assert_eq!(cardgen::check_digit("117243580"), mrz[0].chars().nth(14).unwrap());
}
