//! OCR with PaddleOCR's PP-OCRv4 models through ONNX Runtime: text detection (DB), line
//! recognition (CTC) and the 0/180° direction classifier.
//!
//! [`OcrEngine`] is the façade; the stages are public too (`detection::detect_text_pixels`,
//! `recognition::prepare_recognition_input`, …) so a wrong reading can be traced to what each
//! model saw.

pub mod classify;
pub mod detection;
pub mod geometry;
pub mod recognition;
pub mod tensor;

use std::sync::Arc;

use image::RgbImage;

pub use detection::{DetectionParams, TextBox};
pub use geometry::{Homography, Point, Quad};
pub use recognition::{Alphabet, Recognition};

use crate::models::{ModelError, ModelSet};

#[derive(Debug, thiserror::Error)]
pub enum OcrError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("the recognizer's alphabet is unusable: {0}")]
    Alphabet(String),
}

/// A detected and recognised text line.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TextLine {
    /// Corners in reading order (corner 0 = start of the text's top edge).
    pub quad: Quad,
    pub detection_score: f32,
    pub recognition: Recognition,
}

/// Detection + recognition over the shared model sessions.
#[derive(Debug, Clone)]
pub struct OcrEngine {
    models: Arc<ModelSet>,
    alphabet: Arc<Alphabet>,
}

impl OcrEngine {
    /// Loads the recognizer's alphabet from the model's metadata.
    pub fn new(models: Arc<ModelSet>) -> Result<Self, OcrError> {
        let alphabet = Arc::new(Alphabet::from_model(&models, "ocr_rec")?);
        Ok(Self { models, alphabet })
    }

    pub fn models(&self) -> &ModelSet {
        &self.models
    }

    pub fn alphabet(&self) -> &Alphabet {
        &self.alphabet
    }

    /// Text boxes in `image` (coordinates of `image`).
    pub fn detect(&self, image: &RgbImage, params: &DetectionParams) -> Result<Vec<TextBox>, OcrError> {
        Ok(detection::detect_text(&self.models, image, params)?)
    }

    /// Reads each quad of `image` (corner 0 → 1 = reading direction).
    pub fn recognize(
        &self,
        image: &RgbImage,
        quads: &[Quad],
        mask: Option<&[bool]>,
    ) -> Result<Vec<Recognition>, OcrError> {
        self.recognize_stretched(image, quads, mask, 1.0)
    }

    /// [`OcrEngine::recognize`] with the line images stretched horizontally (see
    /// [`recognition::prepare_stretched_input`]).
    pub fn recognize_stretched(
        &self,
        image: &RgbImage,
        quads: &[Quad],
        mask: Option<&[bool]>,
        stretch: f64,
    ) -> Result<Vec<Recognition>, OcrError> {
        let lines: Vec<RgbImage> =
            quads.iter().map(|q| recognition::prepare_stretched_input(image, q, stretch)).collect();
        recognition::recognize_lines(&self.models, &self.alphabet, &lines, mask)
    }

    /// Detects and reads all text in an upright-or-upside-down image; the direction classifier
    /// turns lines that read upside down.
    pub fn read(&self, image: &RgbImage, params: &DetectionParams) -> Result<Vec<TextLine>, OcrError> {
        let boxes = self.detect(image, params)?;
        let lines: Vec<RgbImage> =
            boxes.iter().map(|b| recognition::prepare_recognition_input(image, &b.quad)).collect();
        let flips = classify::upside_down_probability(&self.models, &lines)?;
        let quads: Vec<Quad> =
            boxes.iter().zip(&flips).map(|(b, &p)| if p > 0.9 { b.quad.flipped() } else { b.quad }).collect();
        let recognitions = self.recognize(image, &quads, None)?;
        Ok(boxes
            .iter()
            .zip(quads)
            .zip(recognitions)
            .map(|((b, quad), recognition)| TextLine { quad, detection_score: b.score, recognition })
            .collect())
    }
}
