//! End-to-end tests of the face engine on the real models and the fetched fixture photos.

mod common;

use image::{RgbImage, imageops};
use thirdfactor_engine::face::{
    EmbeddingConfig, EmbeddingModel, FaceConfig, FaceEngine, FaceError, MatchKind, QualityReason,
};
use thirdfactor_engine::imaging::{self, IntakeLimits};

/// Fixture photo scaled to a phone-selfie-like size (keeps the tests fast).
fn photo(name: &str) -> RgbImage {
    imaging::fit_within(&common::fixture(name), 640)
}

fn embedding_of(engine: &thirdfactor_engine::face::FaceEngine, name: &str) -> thirdfactor_engine::face::Embedding {
    let analysis = engine.analyze(&photo(name)).unwrap();
    assert!(analysis.is_usable(), "{name}: {:?}", analysis.reason_codes());
    analysis.usable_embedding().unwrap().clone()
}

/// Genuine pairs (Obama × 3) and impostor pairs (Obama × Biden) under `engine`'s embedding:
/// every genuine pair must clear its threshold by `margin`, every impostor stay `margin` below.
fn assert_separates(engine: &FaceEngine, margin: f32) {
    let obama: Vec<_> = ["obama.jpg", "obama2.jpg", "obama3.jpg"].iter().map(|n| embedding_of(engine, n)).collect();
    let biden = embedding_of(engine, "biden.jpg");
    let label = engine.config().embedding.label();
    for (i, a) in obama.iter().enumerate() {
        for b in &obama[i + 1..] {
            let decision = engine.verify(a, b, MatchKind::SelfieVsTemplate);
            assert!(
                decision.matched && decision.score > decision.threshold + margin,
                "{label}: genuine pair scored {} (threshold {})",
                decision.score,
                decision.threshold
            );
        }
        let decision = engine.verify(a, &biden, MatchKind::SelfieVsPortrait);
        assert!(
            !decision.matched && decision.score < decision.threshold - margin,
            "{label}: impostor pair scored {} (threshold {})",
            decision.score,
            decision.threshold
        );
    }
}

#[test]
fn the_same_person_matches_across_photos_and_different_people_do_not() {
    let engine = common::engine();
    assert_separates(&engine, 0.05);
}

/// The default (fused) template and every single model, each with the same thresholds: the
/// fixture pairs are easy, so each embedding alone must separate them too.
#[test]
fn the_fused_embedding_and_each_member_separate_the_fixture_pairs() {
    let models = common::face_models();
    let fused = FaceEngine::new(models.clone(), FaceConfig::default());
    assert!(fused.config().embedding.members().len() >= 2, "the default embedding is a fusion");
    let dims: usize = fused
        .config()
        .embedding
        .members()
        .iter()
        .map(|(m, _)| if *m == EmbeddingModel::FrFeature { 512 } else { 128 })
        .sum();
    let obama = embedding_of(&fused, "obama.jpg");
    assert_eq!(obama.dimension(), dims);
    // Each member alone scores on its own scale; only the ordering is checked here.
    for spec in ["fr_feature", "sface", "dlib_resnet:flip"] {
        let engine = FaceEngine::new(
            models.clone(),
            FaceConfig { embedding: EmbeddingConfig::parse(spec).unwrap(), ..FaceConfig::default() },
        );
        let obama: Vec<_> =
            ["obama.jpg", "obama2.jpg", "obama3.jpg"].iter().map(|n| embedding_of(&engine, n)).collect();
        let biden = embedding_of(&engine, "biden.jpg");
        let worst_genuine = [obama[0].cosine(&obama[1]), obama[0].cosine(&obama[2]), obama[1].cosine(&obama[2])]
            .into_iter()
            .fold(f32::INFINITY, f32::min);
        let best_impostor = obama.iter().map(|o| o.cosine(&biden)).fold(f32::NEG_INFINITY, f32::max);
        assert!(worst_genuine > best_impostor + 0.1, "{spec}: genuine {worst_genuine} vs impostor {best_impostor}");
    }
}

#[test]
fn a_photo_without_a_face_is_rejected_as_no_face() {
    let engine = common::engine();
    // The lower part of a fixture (suit and background): real photo texture, no face.
    let full = common::fixture("obama.jpg");
    let (w, h) = full.dimensions();
    let no_face = imageops::crop_imm(&full, 0, h * 2 / 3, w, h / 3).to_image();
    let analysis = engine.analyze(&no_face).unwrap();
    assert!(analysis.face.is_none());
    assert_eq!(analysis.reason_codes(), vec!["no_face"]);
}

#[test]
fn two_faces_side_by_side_are_rejected_as_multiple_faces() {
    let engine = common::engine();
    let (left, right) = (photo("obama.jpg"), photo("biden.jpg"));
    let right = imaging::resize(&right, right.width() * left.height() / right.height(), left.height());
    let mut both = RgbImage::new(left.width() + right.width(), left.height());
    imageops::replace(&mut both, &left, 0, 0);
    imageops::replace(&mut both, &right, i64::from(left.width()), 0);
    let analysis = engine.analyze(&both).unwrap();
    assert_eq!(analysis.detections.len(), 2, "{:?}", analysis.detections);
    assert!(analysis.reasons.contains(&QualityReason::MultipleFaces), "{:?}", analysis.reason_codes());
    assert!(analysis.usable_embedding().is_err());
}

#[test]
fn a_tiny_dark_or_blurred_face_gets_its_reason() {
    let engine = common::engine();
    let base = photo("obama.jpg");
    // Scaled so the eyes are about 0.7 × the gate's minimum distance apart.
    let eyes = engine.analyze(&base).unwrap().face.unwrap().measures.eye_distance_px;
    let min_eyes = engine.config().quality.min_eye_distance_px;
    let side = (base.width().max(base.height()) as f32 * 0.7 * min_eyes / eyes).round() as u32;
    let tiny = imaging::fit_within(&base, side);
    let dark = RgbImage::from_fn(base.width(), base.height(), |x, y| image::Rgb(base.get_pixel(x, y).0.map(|v| v / 8)));
    let blurred = imageops::blur(&base, 6.0);
    for (image, reason) in [(tiny, "face_too_small"), (dark, "too_dark"), (blurred, "too_blurry")] {
        let analysis = engine.analyze(&image).unwrap();
        assert!(analysis.face.is_some(), "{reason}: the face is still found");
        assert!(analysis.reason_codes().contains(&reason), "expected {reason}, got {:?}", analysis.reason_codes());
    }
}

#[test]
fn truncated_or_non_image_bytes_get_a_clear_error() {
    let engine = common::engine();
    let limits = IntakeLimits::default();
    let jpeg = common::fixture_bytes("obama2.jpg");
    let truncated = engine.analyze_bytes(&jpeg[..jpeg.len() / 3], &limits);
    match truncated {
        Err(FaceError::Image(e)) => assert_eq!(e.code(), "image_unreadable", "{e}"),
        other => panic!("truncated JPEG: {other:?}"),
    }
    let text = engine.analyze_bytes(b"this is not an image", &limits);
    assert!(matches!(text, Err(FaceError::Image(ref e)) if e.code() == "unsupported_image_format"), "{text:?}");
    let whole = engine.analyze_bytes(&jpeg, &limits).unwrap();
    assert!(whole.is_usable(), "{:?}", whole.reason_codes());
}

/// The Rust pipeline against outputs of the Python reference (scripts/face_reference.py,
/// onnxruntime + numpy + OpenCV) stored in fixtures/face_reference.json. The detector input is
/// resized with a different (antialiased) filter, so boxes differ by a few pixels; the five
/// points and the embeddings must agree closely.
#[test]
fn matches_the_python_reference_pipeline() {
    let config = FaceConfig { embedding: EmbeddingConfig::everything(), ..FaceConfig::default() };
    let engine = FaceEngine::new(common::face_models(), config);
    let text = std::fs::read_to_string(common::repo_root().join("fixtures/face_reference.json")).unwrap();
    let reference: serde_json::Value = serde_json::from_str(&text).unwrap();
    let images = reference["images"].as_object().unwrap();
    assert_eq!(images.len(), 4);
    for (name, expected) in images {
        let analysis = engine.analyze_bytes(&common::fixture_bytes(name), &IntakeLimits::default()).unwrap();
        let face = analysis.face.as_ref().unwrap();
        let eye_distance = face.five_points.eye_distance();
        let worst_point = face
            .five_points
            .0
            .iter()
            .zip(expected["five_points"].as_array().unwrap())
            .map(|(p, q)| {
                let q = q.as_array().unwrap();
                p.distance(thirdfactor_engine::face::Point::new(
                    q[0].as_f64().unwrap() as f32,
                    q[1].as_f64().unwrap() as f32,
                ))
            })
            .fold(0f32, f32::max);
        assert!(
            worst_point < 0.06 * eye_distance,
            "{name}: a point is {worst_point:.1} px off (eyes {eye_distance:.0} px)"
        );
        let b = &face.detection.bbox;
        let rb: Vec<f32> = expected["box"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
        let box_error =
            [b.x1 - rb[0], b.y1 - rb[1], b.x2 - rb[2], b.y2 - rb[3]].iter().map(|d| d.abs()).fold(0f32, f32::max);
        assert!(box_error < 0.1 * b.height(), "{name}: box off by {box_error:.1} px");
        for (key, model) in [
            ("embedding", EmbeddingModel::FrFeature),
            ("sface", EmbeddingModel::Sface),
            ("dlib_resnet", EmbeddingModel::DlibResnet),
        ] {
            let raw: Vec<f32> = expected[key].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
            let python = thirdfactor_engine::face::Embedding::from_raw(raw).unwrap();
            let rust = &face.parts.iter().find(|p| p.model == model).unwrap().plain;
            let agreement = rust.cosine(&python);
            assert!(agreement > 0.97, "{name} {key}: Rust and Python embeddings agree only to cosine {agreement:.4}");
        }
    }
}
