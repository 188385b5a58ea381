//! Capture quality of the card photo, as reasons a user can act on.

use image::RgbImage;
use serde::Serialize;

use crate::ocr::geometry::Quad;

/// Something about the photo the user should fix (stable codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QualityReason {
    NoCardFound,
    CardTooSmall,
    CardCutOff,
    Blurred,
    GlareOverText,
}

impl QualityReason {
    pub fn code(self) -> &'static str {
        match self {
            QualityReason::NoCardFound => "no_card_found",
            QualityReason::CardTooSmall => "card_too_small",
            QualityReason::CardCutOff => "card_cut_off",
            QualityReason::Blurred => "blurred",
            QualityReason::GlareOverText => "glare_over_text",
        }
    }
}

/// Measurements behind the reasons.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct QualityMeasures {
    /// Card area / photo area.
    pub card_coverage: f64,
    /// Mean absolute Laplacian over the MRZ band of the rectified card, divided by its
    /// contrast (standard deviation): sharp text ≈ 0.3+, blurred text < 0.1.
    pub sharpness: f64,
    /// Share of near-white saturated pixels in the text area of the rectified card.
    pub glare_share: f64,
}

/// Thresholds for the reasons.
#[derive(Debug, Clone, Copy)]
pub struct QualityThresholds {
    pub min_coverage: f64,
    pub min_sharpness: f64,
    pub max_glare_share: f64,
}

impl Default for QualityThresholds {
    fn default() -> Self {
        Self { min_coverage: 0.08, min_sharpness: 0.06, max_glare_share: 0.04 }
    }
}

pub fn measure(photo_size: (u32, u32), corners: &Quad, card: &RgbImage) -> QualityMeasures {
    let (w, h) = (photo_size.0 as f64, photo_size.1 as f64);
    let band = (card.height() as f64 * 0.74) as u32;
    QualityMeasures {
        card_coverage: corners.area() / (w * h).max(1.0),
        sharpness: sharpness(card, band),
        glare_share: glare_share(card),
    }
}

pub fn reasons(
    photo_size: (u32, u32),
    corners: &Quad,
    m: &QualityMeasures,
    t: &QualityThresholds,
) -> Vec<QualityReason> {
    let mut out = Vec::new();
    if m.card_coverage < t.min_coverage {
        out.push(QualityReason::CardTooSmall);
    }
    let margin = -0.01 * photo_size.0.max(photo_size.1) as f64;
    let outside = corners.0.iter().any(|p| {
        p.x < margin || p.y < margin || p.x > photo_size.0 as f64 - margin || p.y > photo_size.1 as f64 - margin
    });
    if outside {
        out.push(QualityReason::CardCutOff);
    }
    if m.sharpness < t.min_sharpness {
        out.push(QualityReason::Blurred);
    }
    if m.glare_share > t.max_glare_share {
        out.push(QualityReason::GlareOverText);
    }
    out
}

fn luma(card: &RgbImage, x: u32, y: u32) -> f64 {
    let p = card.get_pixel(x, y).0;
    0.299 * p[0] as f64 + 0.587 * p[1] as f64 + 0.114 * p[2] as f64
}

fn sharpness(card: &RgbImage, from_row: u32) -> f64 {
    let (w, h) = card.dimensions();
    let (mut lap, mut sum, mut sum2, mut n) = (0.0, 0.0, 0.0, 0.0);
    for y in from_row.max(1)..h - 1 {
        for x in (1..w - 1).step_by(2) {
            let c = luma(card, x, y);
            let l = 4.0 * c - luma(card, x - 1, y) - luma(card, x + 1, y) - luma(card, x, y - 1) - luma(card, x, y + 1);
            lap += l.abs();
            sum += c;
            sum2 += c * c;
            n += 1.0;
        }
    }
    if n == 0.0 {
        return 0.0;
    }
    let std = (sum2 / n - (sum / n).powi(2)).max(1.0).sqrt();
    lap / n / std
}

fn glare_share(card: &RgbImage) -> f64 {
    let (mut bright, mut n) = (0usize, 0usize);
    for (_, y, p) in card.enumerate_pixels().step_by(3) {
        if y < card.height() / 8 {
            continue;
        }
        n += 1;
        if p.0.iter().all(|&v| v >= 245) {
            bright += 1;
        }
    }
    bright as f64 / n.max(1) as f64
}
