//! Passive anti-spoofing with `fr_liveness` (MiniFASNet-class, 128×128): one frame's texture
//! says live or spoof. Fed as the research measured best: BGR, raw 0–255, the square face box
//! scaled 1.5× about its centre and shifted inside the image. Class 0 = live.

use image::RgbImage;

use crate::face::crop::face_crop;
use crate::face::geometry::FaceBox;
use crate::face::runtime::infer;
use crate::models::{ModelError, ModelSet};

pub const MODEL: &str = "fr_liveness";
pub const INPUT_SIZE: u32 = 128;
pub const CROP_SCALE: f32 = 1.5;

/// Model input: BGR planes, raw 0–255.
pub fn passive_input(image: &RgbImage, square: &FaceBox) -> Vec<f32> {
    let crop = face_crop(image, square, CROP_SCALE, INPUT_SIZE);
    let plane = (INPUT_SIZE * INPUT_SIZE) as usize;
    let mut data = vec![0f32; plane * 3];
    for (k, p) in crop.pixels().enumerate() {
        for c in 0..3 {
            data[c * plane + k] = p.0[2 - c] as f32;
        }
    }
    data
}

/// P(live) of one face (softmax of the three logits, class 0).
pub fn live_probability(models: &ModelSet, image: &RgbImage, square: &FaceBox) -> Result<f32, ModelError> {
    let shape = [1, 3, INPUT_SIZE as usize, INPUT_SIZE as usize];
    let out = infer(models, MODEL, "input", shape, passive_input(image, square), &["output"])?;
    let logits = out
        .first()
        .filter(|l| l.len() == 3)
        .ok_or_else(|| ModelError::Inference { name: MODEL.into(), message: "expected 3 logits".into() })?;
    Ok(softmax(logits)[0])
}

pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
    let total: f32 = exps.iter().sum();
    exps.iter().map(|e| e / total.max(1e-30)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one_and_keeps_order() {
        let p = softmax(&[2.0, 0.5, -1.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(p[0] > p[1] && p[1] > p[2]);
    }
}
