//! Eye state (open / closed) with `fr_eye`, one eye at a time: the quality gate uses it for
//! "eyes closed", the liveness engine for blink detection.

use image::RgbImage;
use serde::Serialize;

use super::crop::{PixelRect, gray_planar, resize_region};
use super::geometry::FaceBox;
use super::landmarks::Landmarks68;
use super::runtime::infer;
use crate::models::{ModelError, ModelSet};

pub const MODEL: &str = "fr_eye";
pub const INPUT_SIZE: u32 = 24;

/// P(closed) of each eye, as seen in the image (left = the subject's right eye).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EyeState {
    pub left_closed: f32,
    pub right_closed: f32,
}

/// The square crops of both eyes: centred on the eyelid points, side 1.6 × the corner-to-corner
/// width, clipped to the image (the crop the model was used with).
pub fn eye_regions(landmarks: &Landmarks68, image_width: u32, image_height: u32) -> [PixelRect; 2] {
    let (left_w, right_w) = landmarks.eye_widths();
    let region = |center: super::geometry::Point, width: f32| {
        let side = (width * 1.6).max(2.0);
        let square = FaceBox { x1: center.x, y1: center.y, x2: center.x, y2: center.y }.square_around_center(side);
        PixelRect::from_box(&square.clipped(image_width, image_height), image_width, image_height)
    };
    [region(landmarks.left_eye_center(), left_w), region(landmarks.right_eye_center(), right_w)]
}

/// Model input: the eye crop at 24×24, grey, /255.
pub fn eye_input(image: &RgbImage, region: PixelRect) -> Vec<f32> {
    gray_planar(&resize_region(image, region, INPUT_SIZE, INPUT_SIZE), 1.0 / 255.0)
}

/// P(closed) for one eye crop (softmax over [closed, open] logits).
pub fn closed_probability(models: &ModelSet, image: &RgbImage, region: PixelRect) -> Result<f32, ModelError> {
    let shape = [1, 1, INPUT_SIZE as usize, INPUT_SIZE as usize];
    let logits = infer(models, MODEL, "input", shape, eye_input(image, region), &["output"])?;
    let logits = logits
        .first()
        .filter(|l| l.len() == 2)
        .ok_or_else(|| ModelError::Inference { name: MODEL.into(), message: "expected 2 logits".into() })?;
    Ok(softmax2(logits[0], logits[1]))
}

/// exp(a) / (exp(a) + exp(b)), computed stably.
pub fn softmax2(a: f32, b: f32) -> f32 {
    1.0 / (1.0 + (b - a).exp())
}

/// Both eyes' P(closed).
pub fn eye_state(models: &ModelSet, image: &RgbImage, landmarks: &Landmarks68) -> Result<EyeState, ModelError> {
    let [left, right] = eye_regions(landmarks, image.width(), image.height());
    Ok(EyeState {
        left_closed: closed_probability(models, image, left)?,
        right_closed: closed_probability(models, image, right)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_of_two_logits() {
        assert!((softmax2(0.0, 0.0) - 0.5).abs() < 1e-6);
        assert!(softmax2(10.0, -10.0) > 0.999);
        assert!(softmax2(-100.0, 100.0) < 1e-6);
    }
}
