//! Face pipeline speed per stage and end to end, on a 640×480 selfie and a 12-MP photo.
//!
//! Images: `$FACE_BENCH_IMAGES/{selfie_640x480,photo_12mp}.jpg` when set (scripts/bench_face
//! passes the images it also gives the Python reference), else derived from the fetched fixture
//! `obama.jpg`. Run single-threaded for comparison: `RAYON_NUM_THREADS=1` (sessions use one
//! intra-op thread).

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use image::RgbImage;
use thirdfactor_engine::face::{detect, fusion, landmarks};
use thirdfactor_engine::imaging::{self, IntakeLimits};

#[path = "../tests/common.rs"]
mod common;

use common::repo_root;

/// A 4:3 centre crop of the fixture, resized and JPEG-encoded (quality 90).
fn derived_jpeg(width: u32, height: u32) -> Vec<u8> {
    let src = image::open(repo_root().join("fixtures/fetched/obama.jpg")).expect("fixture (scripts/setup)").into_rgb8();
    let (w, h) = src.dimensions();
    let crop_h = (w * 3 / 4).min(h);
    let crop = image::imageops::crop_imm(&src, 0, (h - crop_h) / 4, w, crop_h).to_image();
    let img: RgbImage = imaging::resize(&crop, width, height);
    let mut out = std::io::Cursor::new(Vec::new());
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90);
    img.write_with_encoder(encoder).expect("encode");
    out.into_inner()
}

fn bench_image(name: &str, width: u32, height: u32) -> Vec<u8> {
    match std::env::var_os("FACE_BENCH_IMAGES") {
        Some(dir) => std::fs::read(PathBuf::from(dir).join(format!("{name}.jpg"))).expect("bench image"),
        None => derived_jpeg(width, height),
    }
}

fn stages(c: &mut Criterion) {
    let engine = common::engine();
    let models = engine.models();
    let limits = IntakeLimits::default();
    let max_side = engine.config().max_analysis_side;
    for (name, w, h) in [("selfie_640x480", 640, 480), ("photo_12mp", 4000, 3000)] {
        let bytes = bench_image(name, w, h);
        let (work, _) = imaging::decode_for_analysis(&bytes, &limits, max_side).expect("decodes");
        let params = engine.config().detector;
        let dets = detect::detect_faces(models, &work, &params).expect("detects");
        let face = dets[detect::choose_primary(&dets, params.tie_margin).expect("a face")];
        let lm = landmarks::detect_landmarks(models, &work, &face).expect("landmarks");
        let five = lm.five_points();
        let mut group = c.benchmark_group(format!("face_{name}"));
        group.sample_size(20);
        group.bench_function("decode", |b| {
            b.iter(|| imaging::decode_for_analysis(black_box(&bytes), &limits, max_side))
        });
        group.bench_function("detect", |b| b.iter(|| detect::detect_faces(models, black_box(&work), &params)));
        group.bench_function("landmarks", |b| b.iter(|| landmarks::detect_landmarks(models, black_box(&work), &face)));
        // The default fused embedding (SFace + dlib ResNet with flip), as the Python bench's embed_fused.
        let fusion = engine.config().embedding;
        group
            .bench_function("align_embed", |b| b.iter(|| fusion::embed_face(models, black_box(&work), &five, &fusion)));
        group.bench_function("whole", |b| b.iter(|| engine.analyze_bytes(black_box(&bytes), &limits)));
        group.finish();
    }
}

criterion_group!(benches, stages);
criterion_main!(benches);
