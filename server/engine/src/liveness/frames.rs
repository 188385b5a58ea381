//! Per-frame analysis in two passes. First every frame: decode, count faces, 68 landmarks,
//! head pose, eye state. Then, on a few frames picked from the poses (the most frontal ones,
//! spread over the burst — embeddings and the passive model are unreliable on turned faces),
//! the embedding and the passive anti-spoof score. Frames are independent, so each pass runs in
//! parallel (rayon); the ONNX sessions are behind mutexes, which costs little because each run
//! is short and the models differ per stage.

use std::time::Instant;

use image::RgbImage;
use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::passive;
use super::pose::{self, Pose, PoseSource};
use crate::face::crop::luma;
use crate::face::detect::{self, Detection, DetectorParams};
use crate::face::embed::Embedding;
use crate::face::eyes::{self, EyeState};
use crate::face::fusion::{self, EmbeddingConfig};
use crate::face::geometry::FaceBox;
use crate::face::landmarks::{self, Landmarks68};
use crate::face::quality;
use crate::imaging::{self, IntakeLimits};
use crate::models::{ModelError, ModelSet};

/// One captured frame as the page sends it: an encoded image (JPEG; PNG/WebP also decode)
/// and the capture time in ms since the Unix epoch (the page's clock).
#[derive(Debug, Clone)]
pub struct Frame {
    pub jpeg: Vec<u8>,
    pub timestamp_ms: i64,
}

/// What the per-frame stage needs from the configuration.
#[derive(Debug, Clone)]
pub struct FrameSettings {
    pub detector: DetectorParams,
    pub quality: quality::QualityThresholds,
    pub limits: IntakeLimits,
    pub pose_source: PoseSource,
    /// Also run `fr_pose` on every frame (for comparison).
    pub model_pose: bool,
    /// Run the eye model (only a blink needs it).
    pub eyes: bool,
    /// The face engine's embedding, so frames compare with the selfie's template.
    pub embedding: EmbeddingConfig,
}

/// Which frames the second pass picks: at most `count`, the most frontal one in each of
/// `count` equal stretches of the burst, among faces within the pose bounds (degrees).
#[derive(Debug, Clone, Copy)]
pub struct FrontalPick {
    pub count: usize,
    pub max_yaw: f32,
    pub max_pitch: f32,
}

/// Everything measured on one frame; serialisable for the debug details.
#[derive(Debug, Clone, Serialize)]
pub struct FrameReport {
    pub index: usize,
    pub timestamp_ms: i64,
    pub width: u32,
    pub height: u32,
    pub bytes: usize,
    /// Faces found (after the face engine's "competing face" rule: 2 means another strong face).
    pub faces: usize,
    pub face_score: Option<f32>,
    pub face_box: Option<FaceBox>,
    /// The pose the challenge check uses (from `pose_source`).
    pub pose: Option<Pose>,
    pub landmark_pose: Option<Pose>,
    pub model_pose: Option<Pose>,
    pub eyes: Option<EyeState>,
    pub passive_live: Option<f32>,
    /// Why the frame could not be analysed (decode error, …).
    pub error: Option<String>,
    pub analysis_ms: f32,
}

/// A frame's report plus the data the checks need but the report does not show.
#[derive(Debug, Clone)]
pub struct AnalyzedFrame {
    pub report: FrameReport,
    pub landmarks: Option<Landmarks68>,
    pub embedding: Option<Embedding>,
    pub sha256: [u8; 32],
    /// 16×16 grey thumbnail, for near-duplicate detection.
    pub thumbnail: Vec<u8>,
    /// The detector's square face box (the passive model's crop).
    pub square: Option<FaceBox>,
    /// The decoded picture, kept between the two passes only.
    pub image: Option<RgbImage>,
}

pub const THUMB_SIDE: u32 = 16;

/// First pass over every frame, in parallel; the result is in input order and keeps the
/// decoded pictures for [`complete_frames`].
pub fn analyze_frames(models: &ModelSet, frames: &[Frame], settings: &FrameSettings) -> Vec<AnalyzedFrame> {
    frames.par_iter().enumerate().map(|(i, f)| analyze_frame(models, i, f, settings)).collect()
}

/// Second pass: embeddings on `embed`, passive scores on `passive` (frame indices), in
/// parallel; then drops the decoded pictures.
pub fn complete_frames(
    models: &ModelSet,
    frames: &mut [AnalyzedFrame],
    embedding: &EmbeddingConfig,
    embed: &[usize],
    passive: &[usize],
) {
    frames.par_iter_mut().enumerate().for_each(|(i, f)| {
        let started = Instant::now();
        if let Err(e) = second_pass(models, f, embedding, embed.contains(&i), passive.contains(&i)) {
            f.report.error = Some(e.to_string());
        }
        f.report.analysis_ms += started.elapsed().as_secs_f32() * 1000.0;
        f.image = None;
    });
}

fn second_pass(
    models: &ModelSet,
    f: &mut AnalyzedFrame,
    embedding: &EmbeddingConfig,
    embed: bool,
    passive: bool,
) -> Result<(), ModelError> {
    let (Some(image), Some(landmarks), Some(square)) = (&f.image, &f.landmarks, f.square) else { return Ok(()) };
    if passive {
        f.report.passive_live = Some(passive::live_probability(models, image, &square)?);
    }
    if embed {
        // The face engine's own embedding, so frames compare with the selfie's template.
        f.embedding = fusion::embed_face(models, image, &landmarks.five_points(), embedding)?;
    }
    Ok(())
}

/// The frames [`FrontalPick`] describes, in order.
pub fn pick_frontal(frames: &[AnalyzedFrame], pick: FrontalPick) -> Vec<usize> {
    let frontality = |f: &AnalyzedFrame| {
        let p = f.report.pose.filter(|_| f.landmarks.is_some())?;
        (p.yaw.abs() <= pick.max_yaw && p.pitch.abs() <= pick.max_pitch).then_some(p.yaw.abs() + p.pitch.abs())
    };
    let n = frames.len();
    let segments = pick.count.min(n);
    let mut picked: Vec<usize> = (0..segments)
        .filter_map(|k| {
            let range = (k * n / segments)..((k + 1) * n / segments);
            range.filter_map(|i| frontality(&frames[i]).map(|d| (i, d))).min_by(|a, b| a.1.total_cmp(&b.1))
        })
        .map(|(i, _)| i)
        .collect();
    if picked.is_empty() && pick.count > 0 {
        // No face within the bounds: the most frontal face, so the checks still have a value.
        let any =
            |f: &AnalyzedFrame| f.report.pose.filter(|_| f.landmarks.is_some()).map(|p| p.yaw.abs() + p.pitch.abs());
        picked.extend(
            frames
                .iter()
                .enumerate()
                .filter_map(|(i, f)| any(f).map(|d| (i, d)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(i, _)| i),
        );
    }
    picked
}

/// One frame; errors become `report.error` so one bad frame never aborts the burst.
pub fn analyze_frame(models: &ModelSet, index: usize, frame: &Frame, settings: &FrameSettings) -> AnalyzedFrame {
    let started = Instant::now();
    let mut out = AnalyzedFrame {
        report: FrameReport {
            index,
            timestamp_ms: frame.timestamp_ms,
            width: 0,
            height: 0,
            bytes: frame.jpeg.len(),
            faces: 0,
            face_score: None,
            face_box: None,
            pose: None,
            landmark_pose: None,
            model_pose: None,
            eyes: None,
            passive_live: None,
            error: None,
            analysis_ms: 0.0,
        },
        landmarks: None,
        embedding: None,
        sha256: Sha256::digest(&frame.jpeg).into(),
        thumbnail: Vec::new(),
        square: None,
        image: None,
    };
    match imaging::decode(&frame.jpeg, &settings.limits) {
        Ok(image) => {
            if let Err(e) = analyze_image(models, &image, settings, &mut out) {
                out.report.error = Some(e.to_string());
            }
            out.image = Some(image);
        }
        Err(e) => out.report.error = Some(e.code().to_string()),
    }
    out.report.analysis_ms = started.elapsed().as_secs_f32() * 1000.0;
    out
}

fn analyze_image(
    models: &ModelSet,
    image: &RgbImage,
    settings: &FrameSettings,
    out: &mut AnalyzedFrame,
) -> Result<(), ModelError> {
    out.report.width = image.width();
    out.report.height = image.height();
    out.thumbnail = thumbnail(image);
    let detections = detect::detect_faces(models, image, &settings.detector)?;
    let Some(chosen) = detect::choose_primary(&detections, settings.detector.tie_margin) else {
        return Ok(());
    };
    let competing = quality::has_competing_face(&detections, chosen, &settings.quality);
    out.report.faces = if competing { 2 } else { 1 };
    let detection = detections[chosen];
    measure_face(models, image, &detection, settings, out)
}

fn measure_face(
    models: &ModelSet,
    image: &RgbImage,
    detection: &Detection,
    settings: &FrameSettings,
    out: &mut AnalyzedFrame,
) -> Result<(), ModelError> {
    let square = detection.square_box(image.width(), image.height());
    let landmarks = landmarks::detect_landmarks(models, image, detection)?;
    let report = &mut out.report;
    report.face_score = Some(detection.score);
    report.face_box = Some(detection.bbox);
    report.landmark_pose = pose::landmark_pose(&landmarks);
    if settings.model_pose || settings.pose_source == PoseSource::Model {
        report.model_pose = Some(pose::model_pose(models, image, &square)?);
    }
    report.pose = match settings.pose_source {
        PoseSource::Landmarks => report.landmark_pose,
        PoseSource::Model => report.model_pose,
    };
    if settings.eyes {
        report.eyes = Some(eyes::eye_state(models, image, &landmarks)?);
    }
    out.square = Some(square);
    out.landmarks = Some(landmarks);
    Ok(())
}

/// 16×16 grey thumbnail: enough to see that two frames are the same picture, cheap to compare.
pub fn thumbnail(image: &RgbImage) -> Vec<u8> {
    imaging::resize(image, THUMB_SIDE, THUMB_SIDE).pixels().map(|p| luma(p).round() as u8).collect()
}

/// Mean absolute grey difference of two thumbnails (∞ when they cannot be compared).
pub fn thumbnail_difference(a: &[u8], b: &[u8]) -> f32 {
    if a.len() != b.len() || a.is_empty() {
        return f32::INFINITY;
    }
    a.iter().zip(b).map(|(x, y)| (*x as f32 - *y as f32).abs()).sum::<f32>() / a.len() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbnails_differ_only_when_the_pictures_do() {
        let a = RgbImage::from_fn(64, 48, |x, y| image::Rgb([(x * 4) as u8, (y * 5) as u8, 9]));
        let b = RgbImage::from_fn(64, 48, |x, y| image::Rgb([(y * 5) as u8, (x * 4) as u8, 9]));
        assert_eq!(thumbnail_difference(&thumbnail(&a), &thumbnail(&a)), 0.0);
        assert!(thumbnail_difference(&thumbnail(&a), &thumbnail(&b)) > 10.0);
        assert!(thumbnail_difference(&[1, 2], &[1]).is_infinite());
    }
}
