//! Face detection with `fr_detect` (Ultra-Light-Fast-Generic-Face-Detector RFB-320).
//!
//! The ONNX graph already decodes its anchors: `boxes` are corners as fractions of the input
//! and `scores` are softmaxed. What remains is scoring, standard IoU-NMS and choosing the face.

use image::RgbImage;
use serde::Serialize;

use super::geometry::FaceBox;
use super::runtime::infer;
use crate::imaging;
use crate::models::{ModelError, ModelSet};

pub const MODEL: &str = "fr_detect";
pub const INPUT_WIDTH: u32 = 320;
pub const INPUT_HEIGHT: u32 = 240;

/// Detector settings; every default comes from `docs/face-engine.md`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct DetectorParams {
    /// Minimum P(face) to keep a candidate (0.7: the research default; chosen faces on the
    /// evaluation set all scored ≥ 0.947).
    pub min_score: f32,
    /// IoU above which the lower-scored of two candidates is dropped.
    pub nms_iou: f32,
    /// Candidates within this much of the top score count as tied; the largest of them wins
    /// (the largest box alone once picked a blurred background blob).
    pub tie_margin: f32,
}

impl Default for DetectorParams {
    fn default() -> Self {
        Self { min_score: 0.7, nms_iou: 0.4, tie_margin: 0.01 }
    }
}

/// One detected face in image pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Detection {
    /// The detector's box.
    pub bbox: FaceBox,
    /// P(face) in [0, 1].
    pub score: f32,
}

impl Detection {
    /// The square every later crop uses: side = box height, same centre, clipped to the image.
    pub fn square_box(&self, image_width: u32, image_height: u32) -> FaceBox {
        self.bbox.square_around_center(self.bbox.height()).clipped(image_width, image_height)
    }
}

/// The detector's input: the whole image squashed to 320×240, BGR planes, (p − 127)/128.
pub fn detector_input(image: &RgbImage) -> Vec<f32> {
    let small = imaging::resize(image, INPUT_WIDTH, INPUT_HEIGHT);
    let plane = (INPUT_WIDTH * INPUT_HEIGHT) as usize;
    let mut data = vec![0f32; plane * 3];
    for (i, p) in small.pixels().enumerate() {
        // BGR, as the shipped pipeline feeds it; the detector is insensitive to the order.
        data[i] = (p.0[2] as f32 - 127.0) / 128.0;
        data[plane + i] = (p.0[1] as f32 - 127.0) / 128.0;
        data[2 * plane + i] = (p.0[0] as f32 - 127.0) / 128.0;
    }
    data
}

/// Turns the raw outputs into scored boxes in image pixels (before NMS).
pub fn decode_outputs(scores: &[f32], boxes: &[f32], width: u32, height: u32, min_score: f32) -> Vec<Detection> {
    let (w, h) = (width as f32, height as f32);
    scores
        .chunks_exact(2)
        .zip(boxes.chunks_exact(4))
        .filter(|(s, _)| s[1] >= min_score)
        .map(|(s, b)| Detection {
            bbox: FaceBox { x1: b[0] * w, y1: b[1] * h, x2: b[2] * w, y2: b[3] * h },
            score: s[1],
        })
        .collect()
}

/// Standard greedy IoU non-maximum suppression, highest score first.
pub fn non_max_suppression(mut candidates: Vec<Detection>, iou_threshold: f32) -> Vec<Detection> {
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::new();
    for c in candidates {
        if kept.iter().all(|k| k.bbox.iou(&c.bbox) <= iou_threshold) {
            kept.push(c);
        }
    }
    kept
}

/// Index of the face to use: the highest score; among those within `tie_margin`, the largest.
pub fn choose_primary(detections: &[Detection], tie_margin: f32) -> Option<usize> {
    let top = detections.iter().map(|d| d.score).fold(f32::NEG_INFINITY, f32::max);
    detections
        .iter()
        .enumerate()
        .filter(|(_, d)| d.score >= top - tie_margin)
        .max_by(|(_, a), (_, b)| a.bbox.area().total_cmp(&b.bbox.area()))
        .map(|(i, _)| i)
}

/// Every face in the image after NMS, best score first.
pub fn detect_faces(
    models: &ModelSet,
    image: &RgbImage,
    params: &DetectorParams,
) -> Result<Vec<Detection>, ModelError> {
    let input = detector_input(image);
    let shape = [1, 3, INPUT_HEIGHT as usize, INPUT_WIDTH as usize];
    let mut outputs = infer(models, MODEL, "input", shape, input, &["scores", "boxes"])?.into_iter();
    let (scores, boxes) = (outputs.next().unwrap_or_default(), outputs.next().unwrap_or_default());
    let candidates = decode_outputs(&scores, &boxes, image.width(), image.height(), params.min_score);
    Ok(non_max_suppression(candidates, params.nms_iou))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x1: f32, y1: f32, x2: f32, y2: f32, score: f32) -> Detection {
        Detection { bbox: FaceBox { x1, y1, x2, y2 }, score }
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_boxes() {
        let kept = non_max_suppression(
            vec![det(0., 0., 10., 10., 0.8), det(1., 1., 11., 11., 0.9), det(50., 50., 60., 60., 0.75)],
            0.4,
        );
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].score, 0.9);
        assert_eq!(kept[1].score, 0.75);
    }

    #[test]
    fn tie_on_score_goes_to_the_larger_face() {
        let dets = [det(0., 0., 10., 10., 0.995), det(20., 20., 80., 80., 0.99), det(100., 0., 200., 100., 0.9)];
        assert_eq!(choose_primary(&dets, 0.01), Some(1));
        assert_eq!(choose_primary(&dets, 0.0), Some(0));
        assert_eq!(choose_primary(&[], 0.01), None);
    }

    #[test]
    fn decoding_scales_fractions_to_pixels_and_filters_scores() {
        let scores = [0.1, 0.9, 0.8, 0.2];
        let boxes = [0.25, 0.5, 0.75, 1.0, 0.0, 0.0, 1.0, 1.0];
        let dets = decode_outputs(&scores, &boxes, 640, 480, 0.7);
        assert_eq!(dets, vec![det(160., 240., 480., 480., 0.9)]);
    }

    #[test]
    fn square_box_uses_the_height() {
        let d = det(100., 100., 160., 200., 0.99);
        assert_eq!(d.square_box(1000, 1000), FaceBox { x1: 80., y1: 100., x2: 180., y2: 200. });
    }
}
