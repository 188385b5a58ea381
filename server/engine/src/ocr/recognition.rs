//! Text-line recognition: PP-OCR's CRNN-style recognizer reads a 48-pixel-high line image and
//! outputs per-time-step class probabilities; CTC greedy decoding turns them into text.

use image::RgbImage;
use rayon::prelude::*;

use super::OcrError;
use super::geometry::{Quad, warp_quad};
use super::tensor::{RECOGNITION_NORM, run_single, write_chw};
use crate::models::ModelSet;

/// Line height the recognizer was trained on.
pub const LINE_HEIGHT: u32 = 48;
/// Widest line image fed to the recognizer (a stretched 44-character passport MRZ line fits).
pub const MAX_LINE_WIDTH: u32 = 2600;

/// The recognizer's classes: index 0 is the CTC blank, then the model's `character` list
/// (stored in the ONNX model's metadata), then a space.
#[derive(Debug, Clone)]
pub struct Alphabet {
    symbols: Vec<String>,
}

impl Alphabet {
    /// Reads the character list from the recognizer model's custom metadata key `character`.
    pub fn from_model(models: &ModelSet, model: &str) -> Result<Self, OcrError> {
        let session = models.session(model)?;
        let metadata = session.metadata().map_err(|e| OcrError::Alphabet(e.to_string()))?;
        let list = metadata.custom("character").ok_or_else(|| OcrError::Alphabet("no `character` metadata".into()))?;
        Ok(Self::from_list(&list))
    }

    /// Builds the class list from newline-separated characters.
    pub fn from_list(list: &str) -> Self {
        let mut symbols = vec![String::new()];
        symbols.extend(list.split('\n').map(str::to_string));
        symbols.push(" ".to_string());
        Self { symbols }
    }

    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    pub fn is_empty(&self) -> bool {
        self.symbols.len() <= 1
    }

    pub fn symbol(&self, class: usize) -> &str {
        self.symbols.get(class).map(String::as_str).unwrap_or("")
    }

    pub fn index_of(&self, symbol: &str) -> Option<usize> {
        self.symbols.iter().skip(1).position(|s| s == symbol).map(|i| i + 1)
    }

    /// A class mask that allows only the given characters (and the blank).
    pub fn mask_of(&self, chars: &str) -> Vec<bool> {
        let mut mask = vec![false; self.symbols.len()];
        mask[0] = true;
        for c in chars.chars() {
            if let Some(i) = self.index_of(c.encode_utf8(&mut [0u8; 4])) {
                mask[i] = true;
            }
        }
        mask
    }
}

/// One recognised character with its probability and the runner-up.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RecognizedChar {
    pub symbol: String,
    pub prob: f32,
    /// Best other class at the character's most confident step, with its probability.
    pub runner_up: Option<(String, f32)>,
}

/// A recognised line.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct Recognition {
    pub text: String,
    /// Mean character probability (0 for an empty line).
    pub confidence: f32,
    pub chars: Vec<RecognizedChar>,
}

/// Cuts the text box out of `image` and scales it to the recognizer's line height (public for
/// debugging: this is what the recognizer sees).
pub fn prepare_recognition_input(image: &RgbImage, quad: &Quad) -> RgbImage {
    prepare_stretched_input(image, quad, 1.0)
}

/// Like [`prepare_recognition_input`], with the line stretched horizontally by `stretch`:
/// narrow, tightly pitched glyphs (OCR-B in an MRZ) get more CTC steps per character, which
/// stops the recognizer from dropping one of two neighbours.
pub fn prepare_stretched_input(image: &RgbImage, quad: &Quad, stretch: f64) -> RgbImage {
    let (w, h) = (quad.width().max(1.0), quad.height().max(1.0));
    let width = ((LINE_HEIGHT as f64 * stretch * w / h).round() as u32).clamp(8, MAX_LINE_WIDTH);
    warp_quad(image, quad, width, LINE_HEIGHT)
}

/// Recognises prepared line images (48 px high). `mask` restricts decoding to some classes
/// (e.g. the MRZ alphabet); `None` allows all.
pub fn recognize_lines(
    models: &ModelSet,
    alphabet: &Alphabet,
    lines: &[RgbImage],
    mask: Option<&[bool]>,
) -> Result<Vec<Recognition>, OcrError> {
    // One line per inference, lines in parallel (one session each, see `ModelSet`): batching
    // pads every line to the widest and measured slower than single runs even without
    // padding (3 × 48×320 lines: 110 ms batched, 3 × 32 ms alone, one thread).
    lines.par_iter().map(|line| recognize_one(models, alphabet, line, mask)).collect()
}

fn recognize_one(
    models: &ModelSet,
    alphabet: &Alphabet,
    line: &RgbImage,
    mask: Option<&[bool]>,
) -> Result<Recognition, OcrError> {
    let (width, height) = (line.width() as usize, LINE_HEIGHT as usize);
    let mut data = vec![0.0f32; 3 * width * height];
    write_chw(line, RECOGNITION_NORM, &mut data, width, height);
    let (shape, probs) = run_single(models, "ocr_rec", "x", [1, 3, height, width], data)?;
    let classes = shape.get(2).copied().unwrap_or(0);
    if classes != alphabet.len() {
        return Err(OcrError::Alphabet(format!("model has {classes} classes, alphabet {}", alphabet.len())));
    }
    Ok(ctc_greedy(&probs, classes, alphabet, mask))
}

/// Greedy CTC decoding: best class per step (within `mask`), repeats collapsed, blanks dropped.
pub fn ctc_greedy(probs: &[f32], classes: usize, alphabet: &Alphabet, mask: Option<&[bool]>) -> Recognition {
    let allowed = |c: usize| mask.is_none_or(|m| m.get(c).copied().unwrap_or(false));
    let mut chars: Vec<RecognizedChar> = Vec::new();
    let mut previous = 0usize;
    for step in probs.chunks_exact(classes) {
        let (best, second) = top_two(step, &allowed);
        if best != 0 && best != previous {
            chars.push(RecognizedChar { symbol: alphabet.symbol(best).to_string(), prob: step[best], runner_up: None });
        }
        if best != 0
            && let Some(last) = chars.last_mut()
            && step[best] >= last.prob
        {
            last.prob = step[best];
            last.runner_up = second.map(|s| (alphabet.symbol(s).to_string(), step[s]));
        }
        previous = best;
    }
    let text: String = chars.iter().map(|c| c.symbol.as_str()).collect();
    let confidence =
        if chars.is_empty() { 0.0 } else { chars.iter().map(|c| c.prob).sum::<f32>() / chars.len() as f32 };
    Recognition { text, confidence, chars }
}

/// Best allowed class and best allowed non-blank runner-up.
fn top_two(step: &[f32], allowed: &impl Fn(usize) -> bool) -> (usize, Option<usize>) {
    let (mut best, mut second) = (0usize, None::<usize>);
    for (c, &p) in step.iter().enumerate() {
        if !allowed(c) {
            continue;
        }
        if p > step[best] || !allowed(best) {
            if best != 0 && allowed(best) {
                second = Some(best);
            }
            best = c;
        } else if c != 0 && second.is_none_or(|s| p > step[s]) {
            second = Some(c);
        }
    }
    (best, second)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_hot(classes: usize, seq: &[usize]) -> Vec<f32> {
        let mut v = vec![0.0; classes * seq.len()];
        for (t, &c) in seq.iter().enumerate() {
            v[t * classes + c] = 0.9;
            v[t * classes + (c + 1) % classes] = 0.1;
        }
        v
    }

    #[test]
    fn ctc_collapses_repeats_and_keeps_blank_separated_doubles() {
        let alphabet = Alphabet::from_list("A\nB\n<");
        // classes: 0 blank, 1 A, 2 B, 3 <, 4 space
        let probs = one_hot(5, &[1, 1, 0, 3, 0, 3, 3, 2, 0]);
        let rec = ctc_greedy(&probs, 5, &alphabet, None);
        assert_eq!(rec.text, "A<<B");
        assert!((rec.confidence - 0.9).abs() < 1e-6);
    }

    #[test]
    fn mask_forces_the_best_allowed_class() {
        let alphabet = Alphabet::from_list("A\nB\n<");
        let probs = one_hot(5, &[2, 0, 1]);
        let mask = alphabet.mask_of("A<");
        let rec = ctc_greedy(&probs, 5, &alphabet, Some(&mask));
        // B is not allowed: at its step the best allowed class is its runner-up `<`.
        assert_eq!(rec.text, "<A");
    }

    #[test]
    fn space_is_the_last_class() {
        let alphabet = Alphabet::from_list("A\nB");
        assert_eq!(alphabet.len(), 4);
        assert_eq!(alphabet.symbol(3), " ");
        assert_eq!(alphabet.index_of("B"), Some(2));
    }
}
