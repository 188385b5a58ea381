//! Per-frame analysis: decode, count faces, 68 landmarks, head pose, eye state, and — on the
//! frames picked for them — the passive anti-spoof score and the embedding. Frames are
//! independent, so the burst is analysed in parallel (rayon); the ONNX sessions are behind
//! mutexes, which costs little because each run is short and the models differ per stage.

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

/// Which optional stages run on a frame (the expensive ones run on a few frames only).
#[derive(Debug, Clone, Copy, Default)]
pub struct FramePlan {
    pub embed: bool,
    pub passive: bool,
    pub model_pose: bool,
}

/// What the per-frame stage needs from the configuration.
#[derive(Debug, Clone)]
pub struct FrameSettings {
    pub detector: DetectorParams,
    pub quality: quality::QualityThresholds,
    pub limits: IntakeLimits,
    pub pose_source: PoseSource,
    pub embedding: EmbeddingConfig,
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
}

pub const THUMB_SIDE: u32 = 16;

/// Analyses every frame in parallel; the result is in input order.
pub fn analyze_frames(
    models: &ModelSet,
    frames: &[Frame],
    plans: &[FramePlan],
    settings: &FrameSettings,
) -> Vec<AnalyzedFrame> {
    frames
        .par_iter()
        .enumerate()
        .map(|(i, f)| analyze_frame(models, i, f, plans.get(i).copied().unwrap_or_default(), settings))
        .collect()
}

/// One frame; errors become `report.error` so one bad frame never aborts the burst.
pub fn analyze_frame(
    models: &ModelSet,
    index: usize,
    frame: &Frame,
    plan: FramePlan,
    settings: &FrameSettings,
) -> AnalyzedFrame {
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
    };
    match imaging::decode(&frame.jpeg, &settings.limits) {
        Ok(image) => {
            if let Err(e) = analyze_image(models, &image, plan, settings, &mut out) {
                out.report.error = Some(e.to_string());
            }
        }
        Err(e) => out.report.error = Some(e.code().to_string()),
    }
    out.report.analysis_ms = started.elapsed().as_secs_f32() * 1000.0;
    out
}

fn analyze_image(
    models: &ModelSet,
    image: &RgbImage,
    plan: FramePlan,
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
    measure_face(models, image, &detection, plan, settings, out)
}

fn measure_face(
    models: &ModelSet,
    image: &RgbImage,
    detection: &Detection,
    plan: FramePlan,
    settings: &FrameSettings,
    out: &mut AnalyzedFrame,
) -> Result<(), ModelError> {
    let square = detection.square_box(image.width(), image.height());
    let landmarks = landmarks::detect_landmarks(models, image, detection)?;
    let report = &mut out.report;
    report.face_score = Some(detection.score);
    report.face_box = Some(detection.bbox);
    report.landmark_pose = pose::landmark_pose(&landmarks);
    if plan.model_pose || settings.pose_source == PoseSource::Model {
        report.model_pose = Some(pose::model_pose(models, image, &square)?);
    }
    report.pose = match settings.pose_source {
        PoseSource::Landmarks => report.landmark_pose,
        PoseSource::Model => report.model_pose,
    };
    report.eyes = Some(eyes::eye_state(models, image, &landmarks)?);
    if plan.passive {
        report.passive_live = Some(passive::live_probability(models, image, &square)?);
    }
    if plan.embed {
        // The face engine's own embedding, so frames compare with the selfie's template.
        out.embedding = fusion::embed_face(models, image, &landmarks.five_points(), &settings.embedding)?;
    }
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

/// `count` indices spread evenly over `0..n`, first and last included.
pub fn spread_indices(n: usize, count: usize) -> Vec<usize> {
    match (n, count) {
        (0, _) | (_, 0) => Vec::new(),
        (_, 1) => vec![0],
        _ if count >= n => (0..n).collect(),
        _ => {
            let mut v: Vec<usize> = (0..count).map(|k| (k * (n - 1) + (count - 1) / 2) / (count - 1)).collect();
            v.dedup();
            v
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_indices_cover_both_ends() {
        assert_eq!(spread_indices(12, 3), vec![0, 6, 11]);
        assert_eq!(spread_indices(12, 4), vec![0, 4, 7, 11]);
        assert_eq!(spread_indices(3, 5), vec![0, 1, 2]);
        assert_eq!(spread_indices(5, 1), vec![0]);
        assert!(spread_indices(0, 3).is_empty());
    }

    #[test]
    fn thumbnails_differ_only_when_the_pictures_do() {
        let a = RgbImage::from_fn(64, 48, |x, y| image::Rgb([(x * 4) as u8, (y * 5) as u8, 9]));
        let b = RgbImage::from_fn(64, 48, |x, y| image::Rgb([(y * 5) as u8, (x * 4) as u8, 9]));
        assert_eq!(thumbnail_difference(&thumbnail(&a), &thumbnail(&a)), 0.0);
        assert!(thumbnail_difference(&thumbnail(&a), &thumbnail(&b)) > 10.0);
        assert!(thumbnail_difference(&[1, 2], &[1]).is_infinite());
    }
}
