//! End-to-end tests of the document engine on generated card photos (real models, no mocks).

mod support;

use std::sync::Arc;

use support::cardgen::{self, SPECIMEN_MRZ};
use thirdfactor_engine::document::checks::DocumentCheck;
use thirdfactor_engine::document::quality::QualityReason;
use thirdfactor_engine::document::{DocumentEngine, DocumentError, max_corner_error};
use thirdfactor_engine::imaging::IntakeLimits;
use thirdfactor_engine::models::{ModelConfig, ModelSet};

fn engine() -> DocumentEngine {
    let root = cardgen::repo_root();
    let config = ModelConfig {
        models_dir: root.join("models/files"),
        onnxruntime_path: root.join("models/files/libonnxruntime.so.1.31.1"),
        intra_threads: 1,
        wide_intra_threads: 0,
        sessions_per_model: 0,
        verify_hashes: false,
    };
    let models = ModelSet::load(&config).expect("models present: run scripts/setup");
    DocumentEngine::new(Arc::new(models)).expect("OCR alphabet in the recognizer's metadata")
}

/// Photographs the generated card with the given pose and checks corners and MRZ.
fn read_posed_card(degrees: f64, shrink: f64) -> thirdfactor_engine::document::DocumentReading {
    let card = cardgen::render_card();
    let corners = cardgen::card_corners(480.0, 360.0, 640.0, degrees, shrink);
    let photo = cardgen::photograph(&card, &corners, 960, 720);
    let reading = engine().read(&cardgen::jpeg(&photo), &IntakeLimits::default()).expect("readable photo");
    let found = reading.corners.expect("card found");
    let diagonal = (960.0f64 * 960.0 + 720.0 * 720.0).sqrt();
    let error = max_corner_error(&found, &corners.0) / diagonal;
    assert!(error <= 0.02, "corner error {:.2} % of the diagonal: {found:?} vs {corners:?}", 100.0 * error);
    let mrz = reading.mrz.as_ref().expect("MRZ read");
    // Never a wrong MRZ that passes its check digits.
    assert!(!mrz.valid || mrz.lines == SPECIMEN_MRZ.map(String::from).to_vec(), "wrong but valid: {:?}", mrz.lines);
    // Lines 2 and 3 (dates, names) are read exactly in every pose.
    assert_eq!(mrz.lines[1..], SPECIMEN_MRZ[1..].iter().map(|s| s.to_string()).collect::<Vec<_>>()[..]);
    reading
}

#[test]
fn upright_card_with_perspective_reads_fields_and_flags_expiry() {
    let reading = read_posed_card(4.0, 0.92);
    let mrz = reading.mrz.as_ref().expect("MRZ read");
    assert_eq!(mrz.lines, SPECIMEN_MRZ.map(String::from).to_vec(), "repairs: {:?}", mrz.repairs);
    assert!(mrz.valid);
    let data = &reading.data;
    assert_eq!(data["document_number"].value, "D23145890");
    assert_eq!(data["date_of_birth"].value, "1974-08-12");
    assert_eq!(data["date_of_expiry"].value, "2012-04-15");
    assert_eq!(data["surname"].value, "ERIKSSON");
    assert_eq!(data["given_names"].value, "ANNA MARIA");
    assert_eq!(data["nationality"].value, "UTO");
    // The specimen expired in 2012.
    assert!(reading.checks.contains(&DocumentCheck::DocumentExpired), "{:?}", reading.checks);
    assert!(reading.reason_codes().contains(&"document_expired"));
    let portrait = reading.portrait_crop().expect("portrait");
    assert!(portrait.width() > 200 && portrait.height() > 300);
}

#[test]
fn upside_down_card_is_found_in_reading_order() {
    read_posed_card(178.0, 1.0);
}

#[test]
fn card_turned_ninety_degrees_is_read() {
    read_posed_card(-88.0, 0.95);
}

#[test]
fn truncated_upload_is_a_clear_image_error() {
    let photo =
        cardgen::photograph(&cardgen::render_card(), &cardgen::card_corners(480.0, 360.0, 640.0, 0.0, 1.0), 960, 720);
    let bytes = cardgen::jpeg(&photo);
    // Only the first bytes of the JPEG arrive: the header parses, the image data is missing.
    match engine().read(&bytes[..120], &IntakeLimits::default()) {
        Err(DocumentError::Image(e)) => assert_eq!(e.code(), "image_unreadable"),
        other => panic!("expected an image error, got {:?}", other.map(|r| r.reason_codes())),
    }
}

#[test]
fn photo_without_a_card_says_so() {
    let empty = image::RgbImage::from_fn(640, 480, |x, y| image::Rgb([(x % 200) as u8 + 30, 90, (y % 120) as u8 + 60]));
    let reading = engine().read(&cardgen::jpeg(&empty), &IntakeLimits::default()).expect("decodes");
    assert!(reading.mrz.is_none() && reading.corners.is_none());
    assert_eq!(reading.quality_reasons, vec![QualityReason::NoCardFound]);
    assert!(reading.checks.contains(&DocumentCheck::MrzNotFound));
}
