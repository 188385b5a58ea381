//! Synthetic ID-1 card photos for the document tests: a card with a header band, labelled
//! printed fields (DejaVu fonts from Debian's fonts-dejavu-core), a portrait (a fetched
//! fixture photo) and the ICAO TD1 specimen MRZ, placed with perspective and rotation on a
//! textured background. Small (960×720) so the suite stays quick. `render_card_with` makes a
//! card with any fields (a valid, unexpired one for the end-to-end tests) and its MRZ.

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

/// What a generated card shows. `CardFields::specimen()` is the ICAO specimen (expired);
/// any other fields give a card with its own MRZ and correct check digits.
#[derive(Debug, Clone, PartialEq)]
pub struct CardFields {
    /// Printed form, accents allowed; the MRZ carries the ICAO 9303 transliteration.
    pub surname: String,
    pub given_names: String,
    /// (year, month, day)
    pub date_of_birth: (u32, u32, u32),
    /// `F`, `M` or `X`
    pub sex: char,
    pub nationality: String,
    pub issuing_state: String,
    /// Up to 9 characters (longer numbers need the TD1 overflow rule, not generated here).
    pub document_number: String,
    pub date_of_expiry: (u32, u32, u32),
    /// The portrait, a photo under `fixtures/fetched/`.
    pub portrait: String,
    /// The part of that photo to print (x, y, width, height in pixels), or all of it.
    pub portrait_crop: Option<(u32, u32, u32, u32)>,
}

impl CardFields {
    /// The fields of the ICAO Doc 9303 part 5 TD1 specimen (with a fixture portrait).
    pub fn specimen() -> Self {
        Self {
            surname: "ERIKSSON".into(),
            given_names: "ANNA MARIA".into(),
            date_of_birth: (1974, 8, 12),
            sex: 'F',
            nationality: "UTO".into(),
            issuing_state: "UTO".into(),
            document_number: "D23145890".into(),
            date_of_expiry: (2012, 4, 15),
            portrait: "obama.jpg".into(),
            portrait_crop: None,
        }
    }

    /// A valid Croatian card (expiring in `expiry_year`) of the fetched Obama portrait, head and
    /// shoulders as ID photos are (the fixture is a half-length shot).
    #[allow(dead_code)] // used by the API and browser tests, not the engine's
    pub fn valid(surname: &str, given_names: &str, expiry_year: u32) -> Self {
        Self {
            surname: surname.into(),
            given_names: given_names.into(),
            date_of_birth: (1985, 6, 23),
            sex: 'M',
            nationality: "HRV".into(),
            issuing_state: "HRV".into(),
            document_number: "117243580".into(),
            date_of_expiry: (expiry_year, 3, 15),
            portrait: "obama.jpg".into(),
            portrait_crop: Some((240, 0, 500, 667)),
        }
    }

    /// The three TD1 lines, with the check digits and the composite check digit.
    pub fn mrz(&self) -> [String; 3] {
        let number = pad(&self.document_number, 9);
        let line1 = format!("I<{}{}{}{}", pad(&self.issuing_state, 3), number, check_digit(&number), "<".repeat(15));
        let dob = yymmdd(self.date_of_birth);
        let expiry = yymmdd(self.date_of_expiry);
        let head = format!(
            "{dob}{}{}{expiry}{}{}{}",
            check_digit(&dob),
            self.sex,
            check_digit(&expiry),
            pad(&self.nationality, 3),
            "<".repeat(11)
        );
        // Composite: line 1 from the document number on, then line 2's dates (with their
        // check digits) and optional data, skipping sex and nationality.
        let composite = format!("{}{}{}{}", &line1[5..30], &head[0..7], &head[8..15], &head[18..29]);
        let line2 = format!("{head}{}", check_digit(&composite));
        let names = format!("{}<<{}", mrz_name(&self.surname), mrz_name(&self.given_names));
        let line3: String = pad(&names, 30).chars().take(30).collect();
        [line1, line2, line3]
    }
}

/// ICAO 9303 check digit: weights 7, 3, 1; digits as themselves, A–Z as 10–35, filler 0.
pub fn check_digit(field: &str) -> char {
    let value = |c: char| match c {
        '0'..='9' => c as u32 - '0' as u32,
        'A'..='Z' => c as u32 - 'A' as u32 + 10,
        _ => 0,
    };
    let sum: u32 = field.chars().zip([7, 3, 1].iter().cycle()).map(|(c, w)| value(c) * w).sum();
    char::from_digit(sum % 10, 10).expect("a digit")
}

fn pad(s: &str, len: usize) -> String {
    format!("{s:<<len$}")
}

fn yymmdd((y, m, d): (u32, u32, u32)) -> String {
    format!("{:02}{m:02}{d:02}", y % 100)
}

fn ddmmyyyy((y, m, d): (u32, u32, u32)) -> String {
    format!("{d:02}.{m:02}.{y}")
}

/// A name in the MRZ: ICAO 9303 part 3 transliteration of Latin letters with diacritics
/// (the common ones), upper case, spaces and hyphens as fillers.
pub fn mrz_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.to_uppercase().chars() {
        match c {
            'Ä' | 'Æ' => out.push_str("AE"),
            'Ö' | 'Ø' | 'Œ' => out.push_str("OE"),
            'Ü' => out.push_str("UE"),
            'Å' => out.push_str("AA"),
            'ß' => out.push_str("SS"),
            'Đ' | 'Ð' => out.push('D'),
            'Ł' => out.push('L'),
            ' ' | '-' => out.push('<'),
            '\'' | '’' => {}
            'À' | 'Á' | 'Â' | 'Ã' => out.push('A'),
            'Ç' | 'Ć' | 'Č' => out.push('C'),
            'È' | 'É' | 'Ê' | 'Ë' | 'Ě' => out.push('E'),
            'Ì' | 'Í' | 'Î' | 'Ï' => out.push('I'),
            'Ñ' | 'Ń' | 'Ň' => out.push('N'),
            'Ò' | 'Ó' | 'Ô' | 'Õ' => out.push('O'),
            'Ř' => out.push('R'),
            'Š' | 'Ś' => out.push('S'),
            'Ù' | 'Ú' | 'Û' | 'Ů' => out.push('U'),
            'Ý' | 'Ÿ' => out.push('Y'),
            'Ž' | 'Ź' | 'Ż' => out.push('Z'),
            c if c.is_ascii_uppercase() => out.push(c),
            _ => {}
        }
    }
    out
}

/// Renders the ICAO specimen card upright at 1200×757.
pub fn render_card() -> RgbImage {
    render_card_with(&CardFields::specimen())
}

/// Renders a card with `fields` upright at 1200×757.
pub fn render_card_with(fields: &CardFields) -> RgbImage {
    let (regular, bold, mono) = (font("DejaVuSans.ttf"), font("DejaVuSans-Bold.ttf"), font("DejaVuSansMono.ttf"));
    let mut card = RgbImage::from_fn(CARD_W, CARD_H, |x, y| {
        // Soft guilloche-like background.
        let v = ((x as f32 * 0.05).sin() * (y as f32 * 0.07).cos() * 6.0) as i32;
        Rgb([(228 + v) as u8, (236 + v) as u8, (242 - v) as u8])
    });
    draw_filled_rect_mut(&mut card, Rect::at(0, 0).of_size(CARD_W, 90), Rgb([30, 70, 140]));
    draw_text_mut(&mut card, Rgb([255, 255, 255]), 330, 22, 46.0, &bold, "IDENTITY CARD");
    let portrait = image::open(repo_root().join("fixtures/fetched").join(&fields.portrait))
        .expect("scripts/setup fetched the fixtures");
    let portrait = match fields.portrait_crop {
        Some((x, y, w, h)) => portrait.crop_imm(x, y, w, h),
        None => portrait,
    };
    let portrait = image::imageops::resize(&portrait.to_rgb8(), 300, 400, image::imageops::FilterType::Triangle);
    image::imageops::overlay(&mut card, &portrait, 45, 115);
    let label = Rgb([70, 80, 100]);
    let value = Rgb([10, 10, 20]);
    let sex = fields.sex.to_string();
    let (birth, expiry) = (ddmmyyyy(fields.date_of_birth), ddmmyyyy(fields.date_of_expiry));
    let rows: [(&str, &str, i32, i32); 7] = [
        ("Surname / Nom", &fields.surname, 390, 120),
        ("Given names / Prénoms", &fields.given_names, 390, 200),
        ("Date of birth / Date de naissance", &birth, 390, 280),
        ("Sex / Sexe", &sex, 390, 360),
        ("Nationality / Nationalité", &fields.nationality, 640, 360),
        ("Document No.", &fields.document_number, 390, 440),
        ("Date of expiry", &expiry, 760, 440),
    ];
    for (l, v, x, y) in rows {
        draw_text_mut(&mut card, label, x, y, 22.0, &regular, l);
        draw_text_mut(&mut card, value, x, y + 28, 34.0, &bold, v);
    }
    // ICAO pitch: 30 characters span about 76 mm of the 85.6 mm card (DejaVu Sans Mono's
    // advance is 0.52 of this pixel scale).
    for (i, line) in fields.mrz().iter().enumerate() {
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
