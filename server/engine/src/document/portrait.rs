//! The portrait on the rectified card. Located by card layout: ID-1 cards put the portrait at
//! the left or right of the upper three quarters; the side with less text holds it. When the
//! face engine is available its detector can refine the box inside this crop.

use image::RgbImage;
use serde::Serialize;

use super::card::{RECTIFIED_HEIGHT, RECTIFIED_WIDTH};
use crate::ocr::TextLine;

/// Portrait box as fractions of the rectified card (x0, y0, x1, y1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PortraitBox {
    pub x0: f64,
    pub y0: f64,
    pub x1: f64,
    pub y1: f64,
}

/// Typical portrait zones of ID-1 layouts (ICAO 9303 part 5 puts the portrait in zone V).
const LEFT_ZONE: PortraitBox = PortraitBox { x0: 0.035, y0: 0.145, x1: 0.295, y1: 0.675 };
const RIGHT_ZONE: PortraitBox = PortraitBox { x0: 0.698, y0: 0.143, x1: 0.96, y1: 0.678 };

/// Chooses the zone that the card's text leaves free.
pub fn locate_portrait(card_text: &[TextLine]) -> PortraitBox {
    let (w, h) = (RECTIFIED_WIDTH as f64, RECTIFIED_HEIGHT as f64);
    let covered = |zone: &PortraitBox| -> f64 {
        card_text
            .iter()
            .map(|l| {
                let (x0, y0, x1, y1) = l.quad.bounding_box();
                let ix = (x1.min(zone.x1 * w) - x0.max(zone.x0 * w)).max(0.0);
                let iy = (y1.min(zone.y1 * h) - y0.max(zone.y0 * h)).max(0.0);
                ix * iy
            })
            .sum()
    };
    if covered(&LEFT_ZONE) <= covered(&RIGHT_ZONE) { LEFT_ZONE } else { RIGHT_ZONE }
}

/// The portrait pixels, for the face engine.
pub fn crop_portrait(card: &RgbImage, portrait: &PortraitBox) -> RgbImage {
    let (w, h) = (card.width() as f64, card.height() as f64);
    let x = (portrait.x0 * w).round().max(0.0) as u32;
    let y = (portrait.y0 * h).round().max(0.0) as u32;
    let cw = (((portrait.x1 - portrait.x0) * w).round() as u32).min(card.width().saturating_sub(x)).max(1);
    let ch = (((portrait.y1 - portrait.y0) * h).round() as u32).min(card.height().saturating_sub(y)).max(1);
    image::imageops::crop_imm(card, x, y, cw, ch).to_image()
}
