//! Liveness: one 12-frame burst (480×640 JPEG frames of a synthetic head turn left then right
//! made from the fixture photo by tests/support/headturn.rs) through `LivenessEngine::evaluate`,
//! frames analysed in parallel; the same with one rayon thread, to show what the parallel
//! stage buys; and the same with the detector on every frame (`detect_every = 1`), the baseline
//! for the default's face tracking between detector frames; and without the texture flow test
//! (`flow_views = 0`), to show what it costs.

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use image::RgbImage;
use thirdfactor_engine::face::FaceConfig;
use thirdfactor_engine::liveness::{Action, Challenge, Frame, GeometryThresholds, LivenessConfig, LivenessEngine};
use thirdfactor_engine::models::ModelSet;

#[path = "../tests/support/headturn.rs"]
mod headturn;

#[path = "../tests/common.rs"]
mod common;

use common::repo_root;

/// Twelve frames spanning turn_left then turn_right (5.5 fps over the 2 s script).
fn burst(models: &Arc<ModelSet>) -> Vec<Frame> {
    let src = image::open(repo_root().join("fixtures/fetched/obama.jpg")).expect("fixture").into_rgb8();
    // 480×640 as the page's front camera sends it, the face as large as the oval makes it.
    let photo: RgbImage = headturn::front_camera_frame(&src, 480);
    let face = thirdfactor_engine::face::FaceEngine::new(models.clone(), FaceConfig::default());
    let landmarks = headturn::landmarks_of(&face, &photo).expect("a face in the fixture");
    let script = headturn::Script { fps: 5.5, ..headturn::Script::new(&[Action::TurnLeft, Action::TurnRight]) };
    let frames = headturn::head_turn(&photo, &landmarks, &script).expect("renderable");
    assert_eq!(frames.len(), 12);
    frames
        .iter()
        .map(|f| {
            let mut out = std::io::Cursor::new(Vec::new());
            f.image.write_to(&mut out, image::ImageFormat::Jpeg).expect("encode");
            Frame { jpeg: out.into_inner(), timestamp_ms: 1_000 + f.timestamp_ms }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let models = common::face_models();
    let engine = LivenessEngine::new(models.clone(), FaceConfig::default(), LivenessConfig::default());
    let frames = burst(&models);
    let decision = engine.evaluate(&challenge_for_bench(), "bench", &frames, None);
    // The benchmark measures a burst that passes every check (all stages run as in production).
    assert!(decision.approved, "{:?}", decision.reasons);
    let challenge = challenge_for_bench();
    let mut group = c.benchmark_group("liveness");
    group.sample_size(30);
    group.bench_function("evaluate_12_frames_parallel", |b| {
        b.iter(|| engine.evaluate(&challenge, "bench", &frames, None))
    });
    let single = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("pool");
    group.bench_function("evaluate_12_frames_one_thread", |b| {
        b.iter(|| single.install(|| engine.evaluate(&challenge, "bench", &frames, None)))
    });
    let every_frame = LivenessEngine::new(
        models.clone(),
        FaceConfig::default(),
        LivenessConfig { detect_every: 1, ..LivenessConfig::default() },
    );
    assert!(every_frame.evaluate(&challenge, "bench", &frames, None).approved);
    group.bench_function("evaluate_12_frames_parallel_detector_every_frame", |b| {
        b.iter(|| every_frame.evaluate(&challenge, "bench", &frames, None))
    });
    let without_flow = LivenessEngine::new(
        models.clone(),
        FaceConfig::default(),
        LivenessConfig {
            geometry: GeometryThresholds { flow_views: 0, ..GeometryThresholds::default() },
            ..LivenessConfig::default()
        },
    );
    assert!(without_flow.evaluate(&challenge, "bench", &frames, None).approved);
    group.bench_function("evaluate_12_frames_parallel_without_flow", |b| {
        b.iter(|| without_flow.evaluate(&challenge, "bench", &frames, None))
    });
    group.bench_function("evaluate_12_frames_one_thread_without_flow", |b| {
        b.iter(|| single.install(|| without_flow.evaluate(&challenge, "bench", &frames, None)))
    });
    group.finish();
}

fn challenge_for_bench() -> Challenge {
    Challenge {
        nonce: "bench".into(),
        actions: vec![Action::TurnLeft, Action::TurnRight],
        issued_at_ms: 0,
        window_ms: 60_000,
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
