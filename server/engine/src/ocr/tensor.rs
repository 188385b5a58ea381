//! Image → model input tensors (PaddleOCR conventions: BGR channel order, CHW layout) and one
//! helper that runs a single-input, single-output model.

use image::RgbImage;
use ort::value::Tensor;

use crate::models::{ModelError, ModelSet};

/// Per-channel normalisation `(v/255 - mean) / std`, channels in the model's (BGR) order.
#[derive(Debug, Clone, Copy)]
pub struct Normalisation {
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

/// The detector was trained with ImageNet statistics on BGR images.
pub const DETECTION_NORM: Normalisation = Normalisation { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
/// Recognizer and direction classifier map pixels to [-1, 1].
pub const RECOGNITION_NORM: Normalisation = Normalisation { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };

/// Writes `image` into `out` (a 3×`stride_h`×`stride_w` CHW plane set, BGR order); the area right
/// and below the image keeps whatever `out` held (zeros = padding).
pub fn write_chw(image: &RgbImage, norm: Normalisation, out: &mut [f32], stride_w: usize, stride_h: usize) {
    let plane = stride_w * stride_h;
    let scale: [f32; 3] = std::array::from_fn(|c| 1.0 / (255.0 * norm.std[c]));
    let offset: [f32; 3] = std::array::from_fn(|c| norm.mean[c] / norm.std[c]);
    for (y, row) in image.rows().enumerate() {
        for (x, px) in row.enumerate() {
            let i = y * stride_w + x;
            // BGR: model channel 0 is blue.
            for c in 0..3 {
                out[c * plane + i] = px.0[2 - c] as f32 * scale[c] - offset[c];
            }
        }
    }
}

/// Runs `model` on one f32 tensor and returns the first output's shape and values.
pub fn run_single(
    models: &ModelSet,
    model: &str,
    input_name: &str,
    shape: [usize; 4],
    data: Vec<f32>,
) -> Result<(Vec<usize>, Vec<f32>), ModelError> {
    let fail = |e: ort::Error| ModelError::Inference { name: model.to_string(), message: e.to_string() };
    let shape_i64: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    let tensor = Tensor::from_array((shape_i64, data)).map_err(fail)?;
    let mut session = models.session(model)?;
    let outputs = session.run(ort::inputs![input_name => tensor]).map_err(fail)?;
    let (out_shape, values) = outputs[0].try_extract_tensor::<f32>().map_err(fail)?;
    let dims = out_shape.iter().map(|&d| d.max(0) as usize).collect();
    Ok((dims, values.to_vec()))
}
