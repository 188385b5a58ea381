//! Per-frame analysis in two passes. First every frame: decode, find the face, 68 landmarks,
//! head pose, eye state. The detector (the costliest per-frame model) runs on every
//! `detect_every`-th frame, the anchors, which also count faces; the frames between them find
//! the face from the anchor's landmarks ([`track_face`]) and fall back to the detector when the
//! face has moved too far. Then, on a few frames picked from the poses (the most frontal ones,
//! spread over the burst — embeddings and the passive model are unreliable on turned faces),
//! the embedding and the passive anti-spoof score. Frames are independent, so each pass runs in
//! parallel (rayon); the ONNX sessions are behind mutexes, which costs little because each run
//! is short and the models differ per stage.

use std::time::Instant;

use image::RgbImage;
use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::flow::FaceGrey;
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
    /// Run the detector on every n-th frame (1 = every frame); see [`track_face`].
    pub detect_every: usize,
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
    /// The face was found from the previous anchor frame's landmarks, not by the detector
    /// (`face_score` is then the anchor's).
    pub tracked: bool,
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
    /// The face region in grey, kept for the image-based 3-D test ([`super::flow`]).
    pub grey: Option<FaceGrey>,
}

pub const THUMB_SIDE: u32 = 16;

/// First pass over every frame: the anchors in parallel, then the frames between them in
/// parallel (each needs its anchor's landmarks). The result is in input order and keeps the
/// decoded pictures for [`complete_frames`].
pub fn analyze_frames(models: &ModelSet, frames: &[Frame], settings: &FrameSettings) -> Vec<AnalyzedFrame> {
    let every = settings.detect_every.max(1);
    let anchors: Vec<AnalyzedFrame> =
        frames.par_iter().enumerate().step_by(every).map(|(i, f)| analyze_frame(models, i, f, settings)).collect();
    let between: Vec<AnalyzedFrame> = frames
        .par_iter()
        .enumerate()
        .filter(|(i, _)| i % every != 0)
        .map(|(i, f)| analyze_tracked_frame(models, i, f, &anchors[i / every], settings))
        .collect();
    let mut all: Vec<AnalyzedFrame> = anchors.into_iter().chain(between).collect();
    all.sort_by_key(|f| f.report.index);
    all
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

/// One frame with the detector; errors become `report.error` so one bad frame never aborts
/// the burst.
pub fn analyze_frame(models: &ModelSet, index: usize, frame: &Frame, settings: &FrameSettings) -> AnalyzedFrame {
    let started = Instant::now();
    let mut out = unanalyzed(index, frame);
    match imaging::decode(&frame.jpeg, &settings.limits) {
        Ok(image) => {
            if let Err(e) = analyze_image(models, &image, settings, &mut out) {
                out.report.error = Some(e.to_string());
            }
            keep_pictures(&mut out, image);
        }
        Err(e) => out.report.error = Some(e.code().to_string()),
    }
    out.report.analysis_ms = started.elapsed().as_secs_f32() * 1000.0;
    out
}

/// Keeps the decoded picture for the second pass and, where a face was found, its grey
/// region for the 3-D test.
fn keep_pictures(out: &mut AnalyzedFrame, image: RgbImage) {
    out.grey = out.landmarks.as_ref().map(|l| FaceGrey::around(&image, l));
    out.image = Some(image);
}

/// A frame between anchors: the face from `anchor`'s landmarks when it has exactly one face
/// and the face is found again, else the detector as on an anchor.
fn analyze_tracked_frame(
    models: &ModelSet,
    index: usize,
    frame: &Frame,
    anchor: &AnalyzedFrame,
    settings: &FrameSettings,
) -> AnalyzedFrame {
    let (Some(anchor_landmarks), Some(anchor_box), Some(score), 1) =
        (&anchor.landmarks, anchor.report.face_box, anchor.report.face_score, anchor.report.faces)
    else {
        return analyze_frame(models, index, frame, settings);
    };
    let started = Instant::now();
    let mut out = unanalyzed(index, frame);
    let image = match imaging::decode(&frame.jpeg, &settings.limits) {
        Ok(image) => image,
        Err(e) => {
            out.report.error = Some(e.code().to_string());
            return out;
        }
    };
    out.report.width = image.width();
    out.report.height = image.height();
    out.thumbnail = thumbnail(&image);
    let result = track_face(models, &image, anchor_landmarks, anchor_box).and_then(|found| match found {
        Some((bbox, landmarks)) => {
            out.report.faces = 1;
            out.report.tracked = true;
            measure_face(models, &image, &Detection { bbox, score }, landmarks, settings, &mut out)
        }
        None => analyze_image(models, &image, settings, &mut out),
    });
    if let Err(e) = result {
        out.report.error = Some(e.to_string());
    }
    keep_pictures(&mut out, image);
    out.report.analysis_ms = started.elapsed().as_secs_f32() * 1000.0;
    out
}

/// Finds the face of the previous anchor frame again without the detector: landmarks in the
/// anchor's box, the box those landmarks imply (the anchor's detector box relative to its
/// landmarks' bounding box, carried over), and landmarks again in that box when it moved.
/// `None` when the landmarks moved or changed size more than a face does between two frames
/// of a burst (the face left, or something else is in the box): the caller runs the detector.
pub fn track_face(
    models: &ModelSet,
    image: &RgbImage,
    anchor_landmarks: &Landmarks68,
    anchor_box: FaceBox,
) -> Result<Option<(FaceBox, Landmarks68)>, ModelError> {
    let anchor_extent = landmark_extent(anchor_landmarks);
    let first = landmarks::detect_landmarks(models, image, &Detection { bbox: anchor_box, score: 1.0 })?;
    let extent = landmark_extent(&first);
    if !plausibly_same_face(&anchor_extent, &extent, anchor_box.height()) {
        return Ok(None);
    }
    let moved = carry_box(&anchor_box, &anchor_extent, &extent);
    if moved.iou(&anchor_box) >= SETTLED_IOU {
        return Ok(Some((moved, first)));
    }
    let second = landmarks::detect_landmarks(models, image, &Detection { bbox: moved, score: 1.0 })?;
    let refined = carry_box(&anchor_box, &anchor_extent, &landmark_extent(&second));
    Ok(Some((refined, second)))
}

/// Box IoU at or above which the landmarks found in the anchor's box are kept: the crop
/// barely differs from the one the implied box gives.
const SETTLED_IOU: f32 = 0.9;

/// Bounding box of the 68 points.
fn landmark_extent(landmarks: &Landmarks68) -> FaceBox {
    let fold = |f: fn(f32, f32) -> f32, init: f32, get: fn(&crate::face::geometry::Point) -> f32| {
        landmarks.0.iter().map(get).fold(init, f)
    };
    FaceBox {
        x1: fold(f32::min, f32::INFINITY, |p| p.x),
        y1: fold(f32::min, f32::INFINITY, |p| p.y),
        x2: fold(f32::max, f32::NEG_INFINITY, |p| p.x),
        y2: fold(f32::max, f32::NEG_INFINITY, |p| p.y),
    }
}

/// Between two frames a quarter-second apart a face moves less than half its box and changes
/// size by less than 1.5× (a head turn narrows the landmarks less than that).
fn plausibly_same_face(anchor: &FaceBox, found: &FaceBox, box_side: f32) -> bool {
    let ratio = |a: f32, b: f32| if a > 0.0 && b > 0.0 { (a / b).max(b / a) } else { f32::INFINITY };
    let shift = anchor.center().distance(found.center());
    ratio(anchor.width(), found.width()) <= 1.5
        && ratio(anchor.height(), found.height()) <= 1.5
        && shift <= 0.5 * box_side
}

/// `anchor_box` moved with the landmarks: its edges keep their offsets from the landmarks'
/// bounding box, in units of that box's size.
fn carry_box(anchor_box: &FaceBox, from: &FaceBox, to: &FaceBox) -> FaceBox {
    let (sx, sy) = (to.width() / from.width().max(1e-3), to.height() / from.height().max(1e-3));
    FaceBox {
        x1: to.x1 + (anchor_box.x1 - from.x1) * sx,
        y1: to.y1 + (anchor_box.y1 - from.y1) * sy,
        x2: to.x2 + (anchor_box.x2 - from.x2) * sx,
        y2: to.y2 + (anchor_box.y2 - from.y2) * sy,
    }
}

/// A frame report with nothing measured yet.
fn unanalyzed(index: usize, frame: &Frame) -> AnalyzedFrame {
    AnalyzedFrame {
        report: FrameReport {
            index,
            timestamp_ms: frame.timestamp_ms,
            width: 0,
            height: 0,
            bytes: frame.jpeg.len(),
            faces: 0,
            face_score: None,
            face_box: None,
            tracked: false,
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
        grey: None,
    }
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
    let landmarks = landmarks::detect_landmarks(models, image, &detection)?;
    measure_face(models, image, &detection, landmarks, settings, out)
}

fn measure_face(
    models: &ModelSet,
    image: &RgbImage,
    detection: &Detection,
    landmarks: Landmarks68,
    settings: &FrameSettings,
    out: &mut AnalyzedFrame,
) -> Result<(), ModelError> {
    let square = detection.square_box(image.width(), image.height());
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

    fn square(x1: f32, y1: f32, side: f32) -> FaceBox {
        FaceBox { x1, y1, x2: x1 + side, y2: y1 + side }
    }

    #[test]
    fn the_carried_box_keeps_its_offsets_from_the_landmarks() {
        let detector = FaceBox { x1: 90.0, y1: 80.0, x2: 210.0, y2: 230.0 };
        let landmarks = square(100.0, 100.0, 100.0);
        // Unmoved landmarks give the anchor's box back.
        assert_eq!(carry_box(&detector, &landmarks, &landmarks), detector);
        // Moved 20 px right and shrunk to 80 % width: the margins move and shrink with them.
        let moved = FaceBox { x1: 120.0, y1: 100.0, x2: 200.0, y2: 200.0 };
        let carried = carry_box(&detector, &landmarks, &moved);
        assert!((carried.x1 - 112.0).abs() < 1e-4 && (carried.x2 - 208.0).abs() < 1e-4, "{carried:?}");
        assert!((carried.y1 - 80.0).abs() < 1e-4 && (carried.y2 - 230.0).abs() < 1e-4, "{carried:?}");
    }

    #[test]
    fn landmarks_that_jumped_or_changed_size_are_not_the_tracked_face() {
        let anchor = square(100.0, 100.0, 100.0);
        assert!(plausibly_same_face(&anchor, &square(130.0, 110.0, 90.0), 120.0));
        // Moved more than half the box, or grew 1.6×, or collapsed: run the detector instead.
        assert!(!plausibly_same_face(&anchor, &square(170.0, 100.0, 100.0), 120.0));
        assert!(!plausibly_same_face(&anchor, &square(70.0, 70.0, 160.0), 120.0));
        assert!(!plausibly_same_face(&anchor, &square(150.0, 150.0, 0.0), 120.0));
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
