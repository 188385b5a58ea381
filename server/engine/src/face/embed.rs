//! Face embeddings with `fr_feature` (MobileFaceNet, 512-d) on the ArcFace-aligned crop.

use image::RgbImage;

use super::runtime::infer;
use crate::models::{ModelError, ModelSet};

pub const MODEL: &str = "fr_feature";
pub const DIMENSION: usize = 512;

/// An L2-normalised face embedding.
///
/// `Debug` prints only the dimension: an embedding is biometric data and must never reach a
/// log line by accident.
#[derive(Clone, PartialEq)]
pub struct Embedding(Vec<f32>);

impl std::fmt::Debug for Embedding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Embedding({} dims)", self.0.len())
    }
}

impl Embedding {
    /// Normalises `raw` to unit length; `None` for an all-zero or non-finite vector.
    pub fn from_raw(raw: Vec<f32>) -> Option<Embedding> {
        let norm = raw.iter().map(|v| v * v).sum::<f32>().sqrt();
        (norm.is_finite() && norm > 1e-12).then(|| Embedding(raw.into_iter().map(|v| v / norm).collect()))
    }

    pub fn as_slice(&self) -> &[f32] {
        &self.0
    }

    pub fn dimension(&self) -> usize {
        self.0.len()
    }

    /// Cosine similarity in [−1, 1]; vectors of different dimension never match (−1).
    pub fn cosine(&self, other: &Embedding) -> f32 {
        if self.0.len() != other.0.len() {
            return -1.0;
        }
        self.0.iter().zip(&other.0).map(|(a, b)| a * b).sum::<f32>().clamp(-1.0, 1.0)
    }
}

/// Model input: BGR planes of the aligned crop, (p − 127)/128 (BGR measured slightly better
/// than the RGB the shipped code feeds).
pub fn embedding_input(aligned: &RgbImage) -> Vec<f32> {
    let plane = (aligned.width() * aligned.height()) as usize;
    let mut data = vec![0f32; plane * 3];
    for (i, p) in aligned.pixels().enumerate() {
        data[i] = (p.0[2] as f32 - 127.0) / 128.0;
        data[plane + i] = (p.0[1] as f32 - 127.0) / 128.0;
        data[2 * plane + i] = (p.0[0] as f32 - 127.0) / 128.0;
    }
    data
}

/// The raw (unnormalised) 512 outputs for one aligned crop.
pub fn raw_embedding(models: &ModelSet, aligned: &RgbImage) -> Result<Vec<f32>, ModelError> {
    let shape = [1, 3, aligned.height() as usize, aligned.width() as usize];
    let out = infer(models, MODEL, "input", shape, embedding_input(aligned), &["output"])?;
    out.into_iter()
        .next()
        .filter(|v| v.len() == DIMENSION)
        .ok_or_else(|| ModelError::Inference { name: MODEL.into(), message: format!("expected {DIMENSION} outputs") })
}

/// The embedding of an aligned crop; with `flip`, of the crop plus its mirror image (summed
/// before normalising).
pub fn embed(models: &ModelSet, aligned: &RgbImage, flip: bool) -> Result<Embedding, ModelError> {
    let mut raw = raw_embedding(models, aligned)?;
    if flip {
        let mirrored = image::imageops::flip_horizontal(aligned);
        for (a, b) in raw.iter_mut().zip(raw_embedding(models, &mirrored)?) {
            *a += b;
        }
    }
    Embedding::from_raw(raw)
        .ok_or_else(|| ModelError::Inference { name: MODEL.into(), message: "degenerate embedding".into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeddings_are_unit_length_and_cosine_is_bounded() {
        let a = Embedding::from_raw(vec![3.0, 4.0]).unwrap();
        let b = Embedding::from_raw(vec![-6.0, -8.0]).unwrap();
        assert!((a.as_slice()[0] - 0.6).abs() < 1e-6);
        assert!((a.cosine(&a) - 1.0).abs() < 1e-6);
        assert!((a.cosine(&b) + 1.0).abs() < 1e-6);
        assert!(Embedding::from_raw(vec![0.0, 0.0]).is_none());
        assert_eq!(format!("{a:?}"), "Embedding(2 dims)");
    }

    #[test]
    fn input_is_bgr_planar_and_centred() {
        let img = RgbImage::from_pixel(2, 1, image::Rgb([255, 127, 0]));
        let data = embedding_input(&img);
        assert_eq!(data.len(), 6);
        assert_eq!(&data[0..2], &[-127.0 / 128.0; 2]); // B first
        assert_eq!(&data[2..4], &[0.0; 2]);
        assert_eq!(&data[4..6], &[1.0; 2]);
    }
}
