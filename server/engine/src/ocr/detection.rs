//! Text detection: PP-OCR's DB (differentiable binarisation) model gives a per-pixel text
//! probability map; post-processing turns connected regions of it into oriented boxes.

use image::RgbImage;
use imageproc::point::Point as IPoint;

use super::geometry::{Point, Quad};
use super::tensor::{DETECTION_NORM, run_single, write_chw};
use crate::imaging;
use crate::models::{ModelError, ModelSet};

/// Parameters of detection and its post-processing (PaddleOCR's names in brackets).
#[derive(Debug, Clone, Copy)]
pub struct DetectionParams {
    /// Longest side the image is scaled to before detection (`limit_side_len`); multiples of 32.
    pub max_side: u32,
    /// Pixels with probability above this are text (`thresh`).
    pub pixel_threshold: f32,
    /// Regions whose mean probability is below this are dropped (`box_thresh`).
    pub box_threshold: f32,
    /// How far a region grows back to the full text extent (`unclip_ratio`): the DB model is
    /// trained on shrunken text kernels.
    pub unclip_ratio: f64,
    /// Regions with a shorter side (in map pixels) are noise.
    pub min_side: f64,
}

impl Default for DetectionParams {
    fn default() -> Self {
        Self { max_side: 960, pixel_threshold: 0.3, box_threshold: 0.5, unclip_ratio: 1.6, min_side: 3.0 }
    }
}

/// One detected text region in the coordinates of the image given to [`detect_text`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct TextBox {
    /// Corner 0 → 1 runs along the long side, left to right in the image (the reading
    /// direction is not known yet: the text may be upside down).
    pub quad: Quad,
    /// Mean text probability over the region.
    pub score: f32,
}

/// The text probability map at the detector's resolution.
#[derive(Debug, Clone)]
pub struct ProbabilityMap {
    pub width: usize,
    pub height: usize,
    pub values: Vec<f32>,
    /// Image pixels per map pixel, per axis.
    pub scale_x: f64,
    pub scale_y: f64,
}

/// Runs the detector model on `image` scaled to fit `max_side` (public for debugging: this is
/// what the model saw).
pub fn detect_text_pixels(models: &ModelSet, image: &RgbImage, max_side: u32) -> Result<ProbabilityMap, ModelError> {
    let (w, h) = image.dimensions();
    let k = (max_side as f64 / w.max(h) as f64).min(1.0);
    let round32 = |v: f64| (((v / 32.0).round() as u32).max(1) * 32) as usize;
    let (tw, th) = (round32(w as f64 * k), round32(h as f64 * k));
    let resized = imaging::resize(image, tw as u32, th as u32);
    let mut data = vec![0.0f32; 3 * tw * th];
    write_chw(&resized, DETECTION_NORM, &mut data, tw, th);
    let (shape, values) = run_single(models, "ocr_det", "x", [1, 3, th, tw], data)?;
    let (mh, mw) = (shape.get(2).copied().unwrap_or(th), shape.get(3).copied().unwrap_or(tw));
    Ok(ProbabilityMap { width: mw, height: mh, values, scale_x: w as f64 / mw as f64, scale_y: h as f64 / mh as f64 })
}

/// Detects text boxes in `image`.
pub fn detect_text(models: &ModelSet, image: &RgbImage, params: &DetectionParams) -> Result<Vec<TextBox>, ModelError> {
    let map = detect_text_pixels(models, image, params.max_side)?;
    Ok(boxes_from_map(&map, params))
}

/// DB post-processing: threshold, connected regions, minimum-area rectangle, unclip.
pub fn boxes_from_map(map: &ProbabilityMap, params: &DetectionParams) -> Vec<TextBox> {
    let mut boxes = Vec::new();
    for region in connected_regions(map, params.pixel_threshold) {
        if region.points.len() < 4 {
            continue;
        }
        let score = region.prob_sum / region.points.len() as f32;
        if score < params.box_threshold {
            continue;
        }
        let Some(rect) = oriented_rect(&region.points) else { continue };
        if rect.height() < params.min_side {
            continue;
        }
        let grown = unclip(&rect, params.unclip_ratio);
        let quad = Quad(grown.0.map(|p| Point::new(p.x * map.scale_x, p.y * map.scale_y)));
        boxes.push(TextBox { quad, score });
    }
    boxes
}

struct Region {
    points: Vec<IPoint<i32>>,
    prob_sum: f32,
}

/// 4-connected regions of pixels above `threshold` (iterative flood fill).
fn connected_regions(map: &ProbabilityMap, threshold: f32) -> Vec<Region> {
    let (w, h) = (map.width, map.height);
    let mut seen = vec![false; w * h];
    let mut regions = Vec::new();
    let mut stack = Vec::new();
    for start in 0..w * h {
        if seen[start] || map.values[start] <= threshold {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let mut region = Region { points: Vec::new(), prob_sum: 0.0 };
        while let Some(i) = stack.pop() {
            let (x, y) = (i % w, i / w);
            region.points.push(IPoint::new(x as i32, y as i32));
            region.prob_sum += map.values[i];
            let neighbours = [
                (x > 0).then(|| i - 1),
                (x + 1 < w).then(|| i + 1),
                (y > 0).then(|| i - w),
                (y + 1 < h).then(|| i + w),
            ];
            for n in neighbours.into_iter().flatten() {
                if !seen[n] && map.values[n] > threshold {
                    seen[n] = true;
                    stack.push(n);
                }
            }
        }
        regions.push(region);
    }
    regions
}

/// Minimum-area rectangle around the pixels (pixel squares, hence the half-pixel margin),
/// ordered so that corner 0 → 1 is the long side running left to right.
fn oriented_rect(points: &[IPoint<i32>]) -> Option<Quad> {
    let hull = imageproc::geometry::convex_hull(points.to_vec());
    if hull.len() < 3 {
        let (x, y) = (points[0].x as f64, points[0].y as f64);
        return Some(Quad::from_rect(x, y, x + 1.0, y + 1.0));
    }
    let rect = imageproc::geometry::min_area_rect(&hull);
    let corners = rect.map(|p| Point::new(p.x as f64 + 0.5, p.y as f64 + 0.5));
    let center = corners.iter().fold(Point::default(), |a, p| a.plus(*p)).scale(0.25);
    let (e1, e2) = (corners[1].minus(corners[0]), corners[2].minus(corners[1]));
    let (long, short) = if e1.norm() >= e2.norm() { (e1, e2) } else { (e2, e1) };
    let mut u = long.unit();
    if u.x < -1e-6 || (u.x.abs() <= 1e-6 && u.y < 0.0) {
        u = u.scale(-1.0);
    }
    // +1: the rectangle runs through pixel centres; the pixels themselves reach half a pixel further.
    let (half_w, half_h) = ((long.norm() + 1.0) / 2.0, (short.norm() + 1.0) / 2.0);
    Some(rect_around(center, u, half_w, half_h))
}

fn rect_around(center: Point, u: Point, half_w: f64, half_h: f64) -> Quad {
    let v = u.perp();
    let (a, b) = (u.scale(half_w), v.scale(half_h));
    Quad([center.minus(a).minus(b), center.plus(a).minus(b), center.plus(a).plus(b), center.minus(a).plus(b)])
}

/// Grows the rectangle by `area * ratio / perimeter` on every side (the DB unclip rule).
fn unclip(rect: &Quad, ratio: f64) -> Quad {
    let (w, h) = (rect.width(), rect.height());
    let d = w * h * ratio / (2.0 * (w + h));
    rect_around(rect.center(), rect.direction(), w / 2.0 + d, h / 2.0 + d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map_with_bar(w: usize, h: usize, x0: usize, x1: usize, y0: usize, y1: usize) -> ProbabilityMap {
        let mut values = vec![0.0f32; w * h];
        for y in y0..y1 {
            for x in x0..x1 {
                values[y * w + x] = 0.9;
            }
        }
        ProbabilityMap { width: w, height: h, values, scale_x: 2.0, scale_y: 2.0 }
    }

    #[test]
    fn a_probability_bar_becomes_one_unclipped_box_in_image_coordinates() {
        let map = map_with_bar(64, 32, 10, 50, 10, 16);
        let boxes = boxes_from_map(&map, &DetectionParams::default());
        assert_eq!(boxes.len(), 1);
        let b = boxes[0];
        // 40×6 kernel, d = 40*6*1.6/(2*46) ≈ 4.17 → ≈ 48.3×14.3 map px, ×2 in the image.
        assert!((b.quad.width() - 96.7).abs() < 1.5, "width {}", b.quad.width());
        assert!((b.quad.height() - 28.7).abs() < 1.5, "height {}", b.quad.height());
        assert!((b.quad.center().x - 60.0).abs() < 1.0 && (b.quad.center().y - 26.0).abs() < 1.0);
        assert!(b.quad.direction().x > 0.99);
    }

    #[test]
    fn faint_regions_are_dropped() {
        let mut map = map_with_bar(32, 32, 4, 20, 4, 10);
        map.values.iter_mut().filter(|v| **v > 0.0).for_each(|v| *v = 0.35);
        assert!(boxes_from_map(&map, &DetectionParams::default()).is_empty());
    }
}
