//! A float tensor in, named outputs out: the liveness engine's one contact with `ort`. (The
//! face engine keeps its own private copy; sharing it would mean editing `face/`.)

use crate::models::{ModelError, ModelSet};
use ort::value::Tensor;

/// Runs model `name` on one float32 input and returns the named outputs as flat vectors.
pub(crate) fn infer(
    models: &ModelSet,
    name: &str,
    input_name: &str,
    shape: [usize; 4],
    data: Vec<f32>,
    outputs: &[&str],
) -> Result<Vec<Vec<f32>>, ModelError> {
    let fail = |message: String| ModelError::Inference { name: name.to_string(), message };
    let tensor = Tensor::from_array((shape, data)).map_err(|e| fail(e.to_string()))?;
    let mut session = models.session(name)?;
    let result = session.run(ort::inputs![input_name => tensor]).map_err(|e| fail(e.to_string()))?;
    outputs
        .iter()
        .map(|out| {
            let value = result.get(*out).ok_or_else(|| fail(format!("no output named {out}")))?;
            let (_, values) = value.try_extract_tensor::<f32>().map_err(|e| fail(e.to_string()))?;
            Ok(values.to_vec())
        })
        .collect()
}
