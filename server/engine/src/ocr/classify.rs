//! Text direction: PP-OCR's mobile direction classifier tells a line read upright (0°) from
//! one upside down (180°).

use image::RgbImage;

use super::OcrError;
use super::tensor::{RECOGNITION_NORM, run_single, write_chw};
use crate::imaging;
use crate::models::ModelSet;

const CLS_HEIGHT: usize = 48;
const CLS_WIDTH: usize = 192;

/// Probability that each prepared line image (see `prepare_recognition_input`) is upside down.
pub fn upside_down_probability(models: &ModelSet, lines: &[RgbImage]) -> Result<Vec<f32>, OcrError> {
    if lines.is_empty() {
        return Ok(Vec::new());
    }
    let per_image = 3 * CLS_WIDTH * CLS_HEIGHT;
    let mut data = vec![0.0f32; per_image * lines.len()];
    for (i, line) in lines.iter().enumerate() {
        // Same rule as PaddleOCR: keep the aspect ratio, cap the width at 192, pad the rest.
        let width = ((CLS_HEIGHT as f64 * line.width() as f64 / line.height().max(1) as f64).ceil() as usize)
            .clamp(1, CLS_WIDTH);
        let resized = imaging::resize(line, width as u32, CLS_HEIGHT as u32);
        write_chw(&resized, RECOGNITION_NORM, &mut data[i * per_image..(i + 1) * per_image], CLS_WIDTH, CLS_HEIGHT);
    }
    let (_, probs) = run_single(models, "ocr_cls", "x", [lines.len(), 3, CLS_HEIGHT, CLS_WIDTH], data)?;
    Ok(probs.chunks_exact(2).map(|p| p[1]).collect())
}
