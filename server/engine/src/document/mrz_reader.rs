//! Finding and reading the MRZ in a photo: long text boxes read with the MRZ alphabet in both
//! directions, grouped into 2 or 3 parallel lines of the same length, then assembled and
//! repaired against the check digits.

use image::RgbImage;
use serde::Serialize;

use super::mrz::MrzFormat;
use super::mrz_repair::{OcrChar, RepairedMrz, assemble};
use crate::ocr::geometry::Quad;
use crate::ocr::recognition::Recognition;
use crate::ocr::{OcrEngine, OcrError, TextBox};

pub const MRZ_ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<";

/// A text line read as MRZ (quad in reading order, photo coordinates).
#[derive(Debug, Clone, Serialize)]
pub struct MrzLineReading {
    pub quad: Quad,
    pub text: String,
    pub confidence: f32,
    #[serde(skip)]
    pub chars: Vec<OcrChar>,
}

/// The MRZ lines found, top to bottom, and what they assemble into.
#[derive(Debug, Clone, Serialize)]
pub struct MrzReading {
    pub format: MrzFormat,
    pub lines: Vec<MrzLineReading>,
    pub repaired: RepairedMrz,
}

impl MrzReading {
    /// The MRZ text block: first line's top edge to the last line's bottom edge.
    pub fn block(&self) -> Quad {
        let (first, last) = (&self.lines[0].quad, &self.lines[self.lines.len() - 1].quad);
        Quad([first.0[0], first.0[1], last.0[2], last.0[3]])
    }
}

/// Boxes long and thin enough to be an MRZ line (30+ characters, each about as wide as high).
fn is_line_candidate(b: &TextBox) -> bool {
    b.quad.width() > 12.0 * b.quad.height() && b.quad.height() >= 4.0
}

/// Reads the MRZ from `boxes` detected in `image` (boxes in `image` coordinates scaled by
/// `scale` to the detector's image: photo = detector × scale).
pub fn read_mrz(
    ocr: &OcrEngine,
    image: &RgbImage,
    boxes: &[TextBox],
    scale: f64,
) -> Result<Option<MrzReading>, OcrError> {
    let mut candidates: Vec<Quad> =
        boxes.iter().filter(|b| is_line_candidate(b)).map(|b| b.quad.scale(scale)).collect();
    candidates.sort_by(|a, b| b.width().total_cmp(&a.width()));
    candidates.truncate(10);
    if candidates.is_empty() {
        return Ok(None);
    }
    let quads: Vec<Quad> = candidates.iter().flat_map(|q| [*q, q.flipped()]).collect();
    let mask = ocr.alphabet().mask_of(MRZ_ALPHABET);
    let readings = ocr.recognize(image, &quads, Some(&mask))?;
    // Keep, per box, the direction that reads better.
    let lines: Vec<MrzLineReading> = quads
        .chunks(2)
        .zip(readings.chunks(2))
        .map(|(q, r)| {
            let upright = mrz_likeness(&r[0]) >= mrz_likeness(&r[1]);
            let (quad, rec) = if upright { (q[0], &r[0]) } else { (q[1], &r[1]) };
            to_line_reading(quad, rec)
        })
        .filter(|l| l.confidence > 0.5 && l.text.len() >= 20)
        .collect();
    Ok(best_group(&lines))
}

/// Confidence, weighted towards lines with fillers (an MRZ line nearly always has some).
fn mrz_likeness(r: &Recognition) -> f32 {
    let fillers = r.text.chars().filter(|&c| c == '<').count() as f32;
    r.confidence * r.text.len().min(44) as f32 + 0.5 * fillers.min(10.0)
}

fn to_line_reading(quad: Quad, rec: &Recognition) -> MrzLineReading {
    let chars = rec
        .chars
        .iter()
        .filter_map(|c| {
            let symbol = c.symbol.chars().next()?;
            let runner_up = c.runner_up.as_ref().and_then(|(s, p)| if *p > 0.05 { s.chars().next() } else { None });
            Some(OcrChar { symbol, runner_up })
        })
        .collect();
    MrzLineReading { quad, text: rec.text.clone(), confidence: rec.confidence, chars }
}

/// Chooses the set of 2–3 parallel, stacked lines of similar length that forms the best MRZ.
fn best_group(lines: &[MrzLineReading]) -> Option<MrzReading> {
    let mut best: Option<(f32, MrzReading)> = None;
    for (i, anchor) in lines.iter().enumerate() {
        let dir = anchor.quad.direction();
        let down = dir.perp();
        let mut group: Vec<&MrzLineReading> = lines
            .iter()
            .filter(|l| {
                let off = l.quad.center().sub(anchor.quad.center());
                l.quad.direction().dot(dir) > 0.97
                    && (l.quad.width() / anchor.quad.width() - 1.0).abs() < 0.2
                    && off.dot(dir).abs() < 0.2 * anchor.quad.width()
                    && off.dot(down).abs() < 3.2 * 3.0 * anchor.quad.height()
            })
            .collect();
        group.sort_by(|a, b| a.quad.center().dot(down).total_cmp(&b.quad.center().dot(down)));
        for format in MrzFormat::ALL {
            let n = format.line_count();
            if group.len() < n {
                continue;
            }
            for start in 0..=group.len() - n {
                let window = &group[start..start + n];
                if !window.iter().any(|l| std::ptr::eq(*l, &lines[i])) {
                    continue;
                }
                if let Some(reading) = try_format(format, window) {
                    let score = group_score(&reading);
                    if best.as_ref().is_none_or(|(s, _)| score > *s) {
                        best = Some((score, reading));
                    }
                }
            }
        }
    }
    best.map(|(_, r)| r)
}

fn try_format(format: MrzFormat, window: &[&MrzLineReading]) -> Option<MrzReading> {
    let mean_len = window.iter().map(|l| l.text.len()).sum::<usize>() as f64 / window.len() as f64;
    if (mean_len - format.line_length() as f64).abs() > 0.2 * format.line_length() as f64 {
        return None;
    }
    let chars: Vec<Vec<OcrChar>> = window.iter().map(|l| l.chars.clone()).collect();
    let repaired = assemble(format, &chars)?;
    Some(MrzReading { format, lines: window.iter().map(|l| (*l).clone()).collect(), repaired })
}

/// Valid MRZs first, then by check digits passed, confidence and fewer repairs.
fn group_score(r: &MrzReading) -> f32 {
    let checks = r.repaired.mrz.checks();
    let passed = [checks.document_number, checks.date_of_birth, checks.date_of_expiry, checks.composite.unwrap_or(true)]
        .iter()
        .filter(|&&b| b)
        .count() as f32;
    let confidence = r.lines.iter().map(|l| l.confidence).sum::<f32>() / r.lines.len() as f32;
    let valid_bonus = if r.repaired.mrz.is_valid() { 10.0 } else { 0.0 };
    valid_bonus + passed + confidence - 0.01 * r.repaired.repairs.len() as f32
}
