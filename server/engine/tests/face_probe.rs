mod common;
#[test]
fn probe() {
    let engine = common::engine();
    for name in ["obama.jpg","obama2.jpg","obama3.jpg","biden.jpg","obama_partial_face.jpg","obama_partial_face2.jpg"] {
        let img = common::fixture(name);
        let t = std::time::Instant::now();
        let a = engine.analyze(&img).unwrap();
        println!("{name} {:?} dets={:?} reasons={:?} t={:?}", img.dimensions(), a.detections, a.reason_codes(), t.elapsed());
        if let Some(f) = &a.face { println!("  five={:?}\n  measures={:?}", f.five_points, f.measures); }
    }
}
