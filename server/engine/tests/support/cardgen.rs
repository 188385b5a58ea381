//! Synthetic ID-1 card photos for the document tests: a card with a header band, labelled
//! printed fields (DejaVu fonts from Debian's fonts-dejavu-core), a portrait (a fetched
//! fixture photo) and the ICAO TD1 specimen MRZ, placed with perspective and rotation on a
//! textured background. Small (960×720) so the suite stays quick.

use std::path::{Path, PathBuf};

use ab_glyph::FontVec;
use image::{Rgb, RgbImage};
use imageproc::drawing::{draw_filled_rect_mut, draw_text_mut};
use imageproc::rect::Rect;
use thirdfactor_engine::ocr::geometry::{Homography, Point, Quad, sample_bilinear};

pub const CARD_W: u32 = 1200;
pub const CARD_H: u32 = 757;
pub const FONT_DIR: &str = "/usr/share/fonts/truetype/dejavu";

/// The ICAO Doc 9303 part 5 TD1 specimen (valid check digits).
pub const SPECIMEN_MRZ: [&str; 3] =
    ["I<UTOD231458907<<<<<<<<<<<<<<<", "7408122F1204159UTO<<<<<<<<<<<6", "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"];

/// The repository root, found upward from the crate that includes this file (the engine's
/// tests and the server's tests both do).
pub fn repo_root() -> PathBuf {
    let start = Path::new(env!("CARGO_MANIFEST_DIR"));
    start.ancestors().find(|p| p.join("models/manifest.toml").is_file()).unwrap_or(start).to_path_buf()
}

fn font(name: &str) -> FontVec {
    let bytes =
        std::fs::read(Path::new(FONT_DIR).join(name)).expect("fonts-dejavu-core is installed (scripts/install-deps)");
    FontVec::try_from_vec(bytes).expect("valid TrueType font")
}

/// Renders the card upright at 1200×757.
pub fn render_card() -> RgbImage {
    let (regular, bold, mono) = (font("DejaVuSans.ttf"), font("DejaVuSans-Bold.ttf"), font("DejaVuSansMono.ttf"));
    let mut card = RgbImage::from_fn(CARD_W, CARD_H, |x, y| {
        // Soft guilloche-like background.
        let v = ((x as f32 * 0.05).sin() * (y as f32 * 0.07).cos() * 6.0) as i32;
        Rgb([(228 + v) as u8, (236 + v) as u8, (242 - v) as u8])
    });
    draw_filled_rect_mut(&mut card, Rect::at(0, 0).of_size(CARD_W, 90), Rgb([30, 70, 140]));
    draw_text_mut(&mut card, Rgb([255, 255, 255]), 330, 22, 46.0, &bold, "IDENTITY CARD");
    let portrait =
        image::open(repo_root().join("fixtures/fetched/obama.jpg")).expect("scripts/setup fetched the fixtures");
    let portrait = image::imageops::resize(&portrait.to_rgb8(), 300, 400, image::imageops::FilterType::Triangle);
    image::imageops::overlay(&mut card, &portrait, 45, 115);
    let label = Rgb([70, 80, 100]);
    let value = Rgb([10, 10, 20]);
    let rows: [(&str, &str, i32, i32); 7] = [
        ("Surname / Nom", "ERIKSSON", 390, 120),
        ("Given names / Prénoms", "ANNA MARIA", 390, 200),
        ("Date of birth / Date de naissance", "12.08.1974", 390, 280),
        ("Sex / Sexe", "F", 390, 360),
        ("Nationality / Nationalité", "UTO", 640, 360),
        ("Document No.", "D23145890", 390, 440),
        ("Date of expiry", "15.04.2012", 760, 440),
    ];
    for (l, v, x, y) in rows {
        draw_text_mut(&mut card, label, x, y, 22.0, &regular, l);
        draw_text_mut(&mut card, value, x, y + 28, 34.0, &bold, v);
    }
    // ICAO pitch: 30 characters span about 76 mm of the 85.6 mm card (DejaVu Sans Mono's
    // advance is 0.52 of this pixel scale).
    for (i, line) in SPECIMEN_MRZ.iter().enumerate() {
        draw_text_mut(&mut card, Rgb([0, 0, 0]), 72, 566 + 62 * i as i32, 66.0, &mono, line);
    }
    card
}

/// A photo of `card` whose corners land on `corners` (TL, TR, BR, BL of the card).
pub fn photograph(card: &RgbImage, corners: &Quad, width: u32, height: u32) -> RgbImage {
    let card_rect = Quad::from_rect(0.0, 0.0, card.width() as f64, card.height() as f64);
    let to_card = Homography::from_points(&corners.0, &card_rect.0).expect("non-degenerate corners");
    RgbImage::from_fn(width, height, |x, y| {
        let p = to_card.apply(Point::new(x as f64 + 0.5, y as f64 + 0.5));
        if p.x >= 0.0 && p.y >= 0.0 && p.x < card.width() as f64 && p.y < card.height() as f64 {
            let v = sample_bilinear(card, p.x - 0.5, p.y - 0.5);
            Rgb([v[0] as u8, v[1] as u8, v[2] as u8])
        } else {
            // Wood-ish desk texture.
            let g = ((x as f32 * 0.11 + (y as f32 * 0.013).sin() * 9.0).sin() * 18.0) as i32;
            Rgb([(120 + g) as u8, (85 + g / 2) as u8, (55 + g / 3) as u8])
        }
    })
}

/// Corners of a card of `width` px centred at (cx, cy), turned by `degrees`, with a
/// perspective (the top edge `shrink` × shorter than the bottom).
pub fn card_corners(cx: f64, cy: f64, width: f64, degrees: f64, shrink: f64) -> Quad {
    let height = width * CARD_H as f64 / CARD_W as f64;
    let (s, c) = degrees.to_radians().sin_cos();
    let local = [
        Point::new(-width / 2.0 * shrink, -height / 2.0),
        Point::new(width / 2.0 * shrink, -height / 2.0),
        Point::new(width / 2.0, height / 2.0),
        Point::new(-width / 2.0, height / 2.0),
    ];
    Quad(local.map(|p| Point::new(cx + p.x * c - p.y * s, cy + p.x * s + p.y * c)))
}

pub fn jpeg(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90).encode_image(image).expect("encode JPEG");
    out
}
