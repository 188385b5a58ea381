//! The document engine: an ID card photo in, a typed [`DocumentReading`] out.
//!
//! Pipeline: text detection on the downscaled photo → a TD1-shaped block of three stacked
//! lines (`td1_shape`) places the card, snapped to its edges (`card`) → the MRZ read once at
//! its fixed place on the card while the card's text is read beside it. Only when that MRZ is
//! not sound does the MRZ search run: line-like boxes read (direction voted by the longest
//! lines) and assembled/repaired against the check digits (`mrz_reader`, `mrz_repair`), the
//! card placed from what it found. Then quality (`quality`) → printed fields by label
//! (`fields`), else by the form of their value (`unlabelled`) → portrait (`portrait`) →
//! MRZ/printed cross-check and document checks (`checks`).

pub mod card;
pub mod checks;
pub mod countries;
pub mod fields;
pub mod mrz;
pub mod mrz_reader;
pub mod mrz_repair;
pub mod names;
pub mod portrait;
pub mod quality;
pub mod td1_shape;
pub mod unlabelled;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use image::RgbImage;
use serde::Serialize;

use crate::imaging::{self, ImageError, IntakeLimits};
use crate::models::ModelSet;
use crate::ocr::geometry::{Homography, Point, Quad};
use crate::ocr::{DetectionParams, OcrEngine, OcrError, TextBox, TextLine};
use checks::{DocumentCheck, FieldValue};
use fields::PrintedField;
use mrz::{CheckResults, MrzFields, MrzFormat};
use mrz_reader::MrzReading;
use mrz_repair::Repair;
use portrait::PortraitBox;
use quality::{QualityMeasures, QualityReason, QualityThresholds};

#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Ocr(#[from] OcrError),
}

/// Tunable parameters; the defaults are the evaluated configuration.
#[derive(Debug, Clone, Copy)]
pub struct DocumentParams {
    /// Text detection on the whole photo (finds the MRZ and the card's text).
    pub photo_detection: DetectionParams,
    /// Text detection on the rectified card (printed fields).
    pub card_detection: DetectionParams,
    pub quality: QualityThresholds,
}

impl Default for DocumentParams {
    fn default() -> Self {
        Self {
            photo_detection: DetectionParams { max_side: 1280, ..DetectionParams::default() },
            card_detection: DetectionParams { max_side: 1216, ..DetectionParams::default() },
            quality: QualityThresholds::default(),
        }
    }
}

/// The MRZ as read: lines, parsed fields, each check digit, and the repairs applied.
#[derive(Debug, Clone, Serialize)]
pub struct MrzResult {
    pub format: MrzFormat,
    pub lines: Vec<String>,
    /// Every check digit holds.
    pub valid: bool,
    pub checks: CheckResults,
    pub fields: MrzFields,
    pub repairs: Vec<Repair>,
}

/// Milliseconds per stage.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Timings {
    /// JPEG/PNG decoding (not part of `total_ms`, which starts from pixels).
    pub decode_ms: f64,
    pub detect_photo_ms: f64,
    /// The MRZ search over the photo's text boxes, counting the fixed-place attempt that
    /// failed before it: 0 when the MRZ read at its fixed place on a card placed from a
    /// TD1-shaped block was sound.
    pub mrz_search_ms: f64,
    /// Card location and rectification, the MRZ read at its fixed place and the card text
    /// detected and recognised (the last two side by side).
    pub card_ms: f64,
    /// Printed fields, checks and quality.
    pub fields_ms: f64,
    pub total_ms: f64,
}

/// Everything read from one card photo.
#[derive(Debug, Clone, Serialize)]
pub struct DocumentReading {
    /// Card corners in the photo: TL, TR, BR, BL in the card's reading orientation.
    pub corners: Option<Quad>,
    /// The card at 1200×757 (ID-1 aspect).
    #[serde(skip)]
    pub card: Option<RgbImage>,
    pub quality: Option<QualityMeasures>,
    pub quality_reasons: Vec<QualityReason>,
    pub mrz: Option<MrzResult>,
    pub printed: Vec<PrintedField>,
    /// Normalised values (ISO dates, ICAO codes) with their source.
    pub data: BTreeMap<String, FieldValue>,
    /// Every field as read from the card, unnormalised (SPEC §2 `dataOnIDcard`).
    pub data_on_id_card: BTreeMap<String, String>,
    pub checks: Vec<DocumentCheck>,
    /// Portrait box on the rectified card (fractions); see [`DocumentReading::portrait_crop`].
    pub portrait: Option<PortraitBox>,
    pub timings: Timings,
}

impl DocumentReading {
    /// The portrait pixels for the face engine.
    pub fn portrait_crop(&self) -> Option<RgbImage> {
        Some(portrait::crop_portrait(self.card.as_ref()?, self.portrait.as_ref()?))
    }

    /// Stable reason codes (photo quality and document checks) for the API.
    pub fn reason_codes(&self) -> Vec<&'static str> {
        self.quality_reasons.iter().map(|r| r.code()).chain(self.checks.iter().map(|c| c.code())).collect()
    }
}

/// Reads ID documents with the shared OCR models.
#[derive(Debug, Clone)]
pub struct DocumentEngine {
    ocr: OcrEngine,
    params: DocumentParams,
}

impl DocumentEngine {
    pub fn new(models: Arc<ModelSet>) -> Result<Self, DocumentError> {
        Ok(Self { ocr: OcrEngine::new(models)?, params: DocumentParams::default() })
    }

    pub fn with_params(mut self, params: DocumentParams) -> Self {
        self.params = params;
        self
    }

    pub fn ocr(&self) -> &OcrEngine {
        &self.ocr
    }

    /// Decodes an upload (limits, EXIF orientation) and reads it.
    pub fn read(&self, bytes: &[u8], limits: &IntakeLimits) -> Result<DocumentReading, DocumentError> {
        let started = Instant::now();
        let photo = imaging::decode(bytes, limits)?;
        let decode_ms = ms_since(started);
        let mut reading = self.read_image(&photo)?;
        reading.timings.decode_ms = decode_ms;
        Ok(reading)
    }

    pub fn read_image(&self, photo: &RgbImage) -> Result<DocumentReading, DocumentError> {
        let started = Instant::now();
        let mut timings = Timings::default();
        let small = imaging::fit_within(photo, self.params.photo_detection.max_side);
        let scale = photo.width() as f64 / small.width().max(1) as f64;
        let boxes = self.ocr.detect(&small, &self.params.photo_detection)?;
        timings.detect_photo_ms = ms_since(started);
        let t = Instant::now();
        let placed = self.read_td1_in_place(photo, &small, &boxes, scale)?;
        let (mrz, corners, card, card_text) = match placed {
            Some(p) if p.mrz.as_ref().is_some_and(MrzReading::is_sound) => {
                (p.mrz, Some(p.corners), Some(p.card), p.card_text)
            }
            placed => {
                let search = mrz_reader::read_mrz(&self.ocr, photo, &boxes, scale)?;
                timings.mrz_search_ms = ms_since(t);
                let (mrz, corners) = self.locate_and_reread(photo, &small, &boxes, scale, search)?;
                match (placed, corners) {
                    // The card the TD1 block placed: its rectification and text stand.
                    (Some(p), Some(c)) if same_card(&p.corners, &c, photo) => {
                        (mrz, Some(p.corners), Some(p.card), p.card_text)
                    }
                    (_, Some(c)) => {
                        let card = card::rectify(photo, &c);
                        let card_text = self.read_card_text(&card)?;
                        (mrz, Some(c), Some(card), card_text)
                    }
                    (_, None) => (mrz, None, None, Vec::new()),
                }
            }
        };
        timings.card_ms = ms_since(t) - timings.mrz_search_ms;
        let t = Instant::now();
        let mut reading = assemble_reading(photo.dimensions(), corners, card, mrz, &card_text, &self.params.quality);
        timings.fields_ms = ms_since(t);
        timings.total_ms = ms_since(started);
        reading.timings = timings;
        Ok(reading)
    }

    /// The card placed from a TD1-shaped block of detector boxes and its MRZ read once at its
    /// fixed place on the card, while the card's text is read beside it (the three MRZ lines
    /// leave a core idle half the time): no MRZ search. `None` without such a block.
    fn read_td1_in_place(
        &self,
        photo: &RgbImage,
        small: &RgbImage,
        boxes: &[TextBox],
        scale: f64,
    ) -> Result<Option<InPlace>, DocumentError> {
        let Some(shape) = td1_shape::find_td1_block(boxes, small.dimensions()) else { return Ok(None) };
        let block = shape.block.scale(scale);
        let Some(corners) = locate_card(&block, small, boxes, scale) else { return Ok(None) };
        let shift = block_shift(&block, &corners);
        // The re-read warps its lines straight from the photo, so the card's rectification
        // need not wait for it or it for the rectification.
        let (mrz, (card, card_text)) = rayon::join(
            || mrz_reader::reread_td1(&self.ocr, photo, &corners, shift, None),
            || {
                let card = card::rectify(photo, &corners);
                let card_text = self.read_card_text(&card);
                (card, card_text)
            },
        );
        Ok(Some(InPlace { mrz: mrz?, corners, card, card_text: card_text? }))
    }

    /// Places the card from the MRZ (a full TD1 reading, else three TD1 line starts) and
    /// re-reads the TD1 lines at their fixed places when the first reading is not clean.
    fn locate_and_reread(
        &self,
        photo: &RgbImage,
        small: &RgbImage,
        boxes: &[TextBox],
        scale: f64,
        search: mrz_reader::MrzSearch,
    ) -> Result<(Option<MrzReading>, Option<Quad>), DocumentError> {
        let block = match &search.best {
            Some(m) if m.format == MrzFormat::Td1 && m.repaired.mrz.is_valid() => Some(m.block()),
            _ => mrz_reader::td1_block_from_line_starts(&search.lines)
                .or_else(|| search.best.as_ref().filter(|m| m.format == MrzFormat::Td1).map(MrzReading::block)),
        };
        let Some(block) = block else { return Ok((search.best, None)) };
        let corners = locate_card(&block, small, boxes, scale);
        let mrz = match (search.best, &corners) {
            (Some(m), _) if m.is_clean() => Some(m),
            (m, Some(c)) => mrz_reader::reread_td1(&self.ocr, photo, c, 0.0, m)?,
            (m, None) => m,
        };
        Ok((mrz, corners))
    }

    /// Text lines of the rectified card above the MRZ (which is read separately).
    pub fn read_card_text(&self, card: &RgbImage) -> Result<Vec<TextLine>, DocumentError> {
        let mrz_top = card.height() as f64 * (card::TD1_MRZ_PLACEMENT.top - 0.01);
        // The detector sees only the card above the MRZ (a quarter less work), cut at a
        // multiple of its 32-pixel stride so nothing is resampled.
        let above_mrz = ((mrz_top as u32 + 20).div_ceil(32) * 32).min(card.height());
        let upper = image::imageops::crop_imm(card, 0, 0, card.width(), above_mrz).to_image();
        let boxes: Vec<TextBox> = self
            .ocr
            .detect(&upper, &self.params.card_detection)?
            .into_iter()
            .filter(|b| b.quad.center().y < mrz_top && b.quad.height() < 0.2 * card.height() as f64)
            .collect();
        let quads: Vec<Quad> = boxes.iter().map(|b| b.quad).collect();
        let recognitions = self.ocr.recognize(card, &quads, None)?;
        Ok(boxes
            .iter()
            .zip(recognitions)
            .map(|(b, recognition)| TextLine { quad: b.quad, detection_score: b.score, recognition })
            .collect())
    }
}

/// How far the MRZ block's middle lies below ICAO's nominal place on the card with `corners`,
/// as a fraction of the card height: genuine cards put it up to half a line pitch off (the
/// Swiss specimen 4 % of the card height higher). 0 beyond 7 % (nearly a pitch), where the
/// card's placement rather than its MRZ is off.
fn block_shift(block: &Quad, corners: &Quad) -> f64 {
    let (w, h) = (card::RECTIFIED_WIDTH as f64, card::RECTIFIED_HEIGHT as f64);
    let Some(to_card) = Homography::from_points(&corners.0, &Quad::from_rect(0.0, 0.0, w, h).0) else { return 0.0 };
    let placement = card::TD1_MRZ_PLACEMENT;
    let middle = to_card.apply(block.center()).y / h;
    let shift = middle - 0.5 * (placement.top + placement.bottom);
    if shift.abs() < 0.07 { shift } else { 0.0 }
}

/// Two placements of one card: every corner within 1 % of the photo's diagonal.
fn same_card(a: &Quad, b: &Quad, photo: &RgbImage) -> bool {
    let diagonal = (photo.width() as f64).hypot(photo.height() as f64);
    max_corner_error(a, &b.0) < 0.01 * diagonal
}

/// What [`DocumentEngine::read_td1_in_place`] found.
struct InPlace {
    mrz: Option<MrzReading>,
    corners: Quad,
    card: RgbImage,
    card_text: Vec<TextLine>,
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// Card corners in photo coordinates from a TD1 MRZ block (photo coordinates); passports
/// (TD2/TD3 pages are not ID-1 cards) never get here.
fn locate_card(block: &Quad, small: &RgbImage, boxes: &[TextBox], scale: f64) -> Option<Quad> {
    let block = block.scale(1.0 / scale);
    let predicted = card::card_from_mrz(&block, &card::TD1_MRZ_PLACEMENT)?;
    let bands = search_bands(&predicted, boxes);
    let edges = card::EdgeImage::new(small);
    Some(card::refine_card(&edges, &predicted, &bands).scale(scale))
}

/// Search bands per side: never inside the card's own text (which bounds the header band,
/// the MRZ band and other inner edges), up to a margin outside the prediction.
fn search_bands(predicted: &Quad, boxes: &[TextBox]) -> [card::SearchBand; 4] {
    let (w, h) = (card::RECTIFIED_WIDTH as f64, card::RECTIFIED_HEIGHT as f64);
    let frame = Quad::from_rect(0.0, 0.0, w, h);
    let to_card = Homography::from_points(&predicted.0, &frame.0);
    // Text extents in the card frame: (left, top, right, bottom).
    let mut extent = (w * 0.06, h * 0.74, w * 0.94, h * 0.97);
    if let Some(map) = to_card {
        for b in boxes {
            let c = map.apply(b.quad.center());
            if c.x > -0.02 * w && c.x < 1.02 * w && c.y > -0.02 * h && c.y < 1.02 * h {
                let q = map.apply_quad(&b.quad);
                let (x0, y0, x1, y1) = q.bounding_box();
                extent = (extent.0.min(x0), extent.1.min(y0), extent.2.max(x1), extent.3.max(y1));
            }
        }
    }
    let (pw, ph) = (predicted.width(), predicted.height());
    let inner = |frac: f64, size: f64| (frac * size * 0.9).clamp(2.0, 0.2 * size);
    [
        card::SearchBand { inner: inner(extent.1.max(0.0) / h, ph), outer: 0.25 * ph },
        card::SearchBand { inner: inner((w - extent.2).max(0.0) / w, pw), outer: 0.15 * pw },
        card::SearchBand { inner: inner((h - extent.3).max(0.0) / h, ph), outer: 0.12 * ph },
        card::SearchBand { inner: inner(extent.0.max(0.0) / w, pw), outer: 0.15 * pw },
    ]
}

fn assemble_reading(
    photo_size: (u32, u32),
    corners: Option<Quad>,
    card: Option<RgbImage>,
    mrz: Option<MrzReading>,
    card_text: &[TextLine],
    thresholds: &QualityThresholds,
) -> DocumentReading {
    let today = checks::today_utc();
    let mrz_parsed = mrz.as_ref().map(|m| &m.repaired.mrz);
    let printed = fields::read_printed_fields(card_text, mrz_parsed.map(|m| m.fields()).as_ref(), &today);
    let (data, mismatches) = checks::merge(mrz_parsed, &printed, &today);
    let expiry = data.get("date_of_expiry").map(|v| v.value.as_str());
    let document_checks = checks::document_checks(mrz_parsed, &mismatches, expiry, &today);
    let (quality, mut quality_reasons) = match (&corners, &card) {
        (Some(c), Some(img)) => {
            let m = quality::measure(photo_size, c, img);
            (Some(m), quality::reasons(photo_size, c, &m, thresholds))
        }
        _ => (None, Vec::new()),
    };
    if corners.is_none() && mrz.is_none() {
        quality_reasons.push(QualityReason::NoCardFound);
    }
    let mut data_on_id_card: BTreeMap<String, String> =
        printed.iter().map(|p| (p.name.key().to_string(), p.value.clone())).collect();
    if let Some(m) = &mrz {
        data_on_id_card.insert("mrz".into(), m.repaired.mrz.line_strings().join("\n"));
    }
    let portrait = card.as_ref().map(|_| portrait::locate_portrait(card_text));
    DocumentReading {
        corners,
        card,
        quality,
        quality_reasons,
        mrz: mrz.map(|m| MrzResult {
            format: m.format,
            lines: m.repaired.mrz.line_strings(),
            valid: m.repaired.mrz.is_valid(),
            checks: m.repaired.mrz.checks(),
            fields: m.repaired.mrz.fields(),
            repairs: m.repaired.repairs,
        }),
        printed,
        data,
        data_on_id_card,
        checks: document_checks,
        portrait,
        timings: Timings::default(),
    }
}

/// Corner error helper for evaluations: the largest distance between matching corners.
pub fn max_corner_error(found: &Quad, truth: &[Point; 4]) -> f64 {
    (0..4).map(|i| found.0[i].distance(truth[i])).fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The TD1 block on a card laid out as rectified (corners = the rectified frame), moved
    /// down by `dy` of the card height.
    fn block_moved(dy: f64) -> (Quad, Quad) {
        let (w, h) = (card::RECTIFIED_WIDTH as f64, card::RECTIFIED_HEIGHT as f64);
        let p = card::TD1_MRZ_PLACEMENT;
        let block = Quad::from_rect(p.left * w, (p.top + dy) * h, p.right * w, (p.bottom + dy) * h);
        (block, Quad::from_rect(0.0, 0.0, w, h))
    }

    #[test]
    fn the_cuts_follow_an_mrz_printed_off_its_nominal_place() {
        let (block, corners) = block_moved(-0.04);
        assert!((block_shift(&block, &corners) + 0.04).abs() < 1e-9);
        let (block, corners) = block_moved(0.0);
        assert!(block_shift(&block, &corners).abs() < 1e-9);
    }

    #[test]
    fn a_block_a_pitch_away_does_not_move_the_cuts() {
        let (block, corners) = block_moved(0.09);
        assert_eq!(block_shift(&block, &corners), 0.0);
    }
}
