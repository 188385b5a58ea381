//! Debugging aid: reads one card photo and prints what each stage saw (text boxes, MRZ
//! candidates, corners, timings) and writes the boxes drawn on the photo.
//! `cargo run --release -p thirdfactor-engine --example document_debug -- PHOTO [OUT.png [CARD.png]]`

use std::sync::Arc;

use image::Rgb;
use thirdfactor_engine::document::mrz_reader::{self, MRZ_ALPHABET};
use thirdfactor_engine::document::{DocumentEngine, DocumentParams};
use thirdfactor_engine::imaging::{self, IntakeLimits};
use thirdfactor_engine::models::{ModelConfig, ModelSet};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let config = ModelConfig {
        models_dir: root.join("models/files"),
        onnxruntime_path: root.join("models/files/libonnxruntime.so.1.31.1"),
        intra_threads: 1,
        wide_intra_threads: 0,
        sessions_per_model: 0,
        verify_hashes: false,
    };
    let engine = DocumentEngine::new(Arc::new(ModelSet::load(&config)?))?;
    let bytes = std::fs::read(&args[1])?;
    let photo = imaging::decode(&bytes, &IntakeLimits::default())?;
    let params = DocumentParams::default();
    let small = imaging::fit_within(&photo, params.photo_detection.max_side);
    let boxes = engine.ocr().detect(&small, &params.photo_detection)?;
    let merged = mrz_reader::merge_collinear(&boxes);
    let mask = engine.ocr().alphabet().mask_of(MRZ_ALPHABET);
    let mut canvas = small.clone();
    for b in &merged {
        let q = b.quad;
        let ratio = q.width() / q.height().max(1.0);
        if ratio > 8.0 {
            let recs = engine.ocr().recognize(&small, &[q, q.flipped()], Some(&mask))?;
            println!(
                "box w={:.0} h={:.0} ratio={ratio:.1} score={:.2}\n  fwd {:.2} {}\n  rev {:.2} {}",
                q.width(),
                q.height(),
                b.score,
                recs[0].confidence,
                recs[0].text,
                recs[1].confidence,
                recs[1].text
            );
        }
        for i in 0..4 {
            let (a, c) = (q.0[i], q.0[(i + 1) % 4]);
            imageproc::drawing::draw_line_segment_mut(
                &mut canvas,
                (a.x as f32, a.y as f32),
                (c.x as f32, c.y as f32),
                Rgb([255, 0, 0]),
            );
        }
    }
    let reading = engine.read_image(&photo)?;
    println!("corners {:?}", reading.corners);
    println!("mrz {:?}", reading.mrz.as_ref().map(|m| (&m.lines, m.valid)));
    println!("printed {:?}", reading.printed.iter().map(|p| (p.name.key(), &p.value)).collect::<Vec<_>>());
    println!("timings {:?}", reading.timings);
    if let Some(card) = &reading.card {
        for line in engine.read_card_text(card)? {
            let (x0, y0, x1, y1) = line.quad.bounding_box();
            println!(
                "card text [{x0:.0},{y0:.0} {x1:.0},{y1:.0}] {:.2} {}",
                line.recognition.confidence, line.recognition.text
            );
        }
        if let Some(out) = args.get(3) {
            card.save(out)?;
        }
    }
    if let Some(out) = args.get(2) {
        canvas.save(out)?;
    }
    Ok(())
}
