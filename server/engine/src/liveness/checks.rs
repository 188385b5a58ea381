//! The checks run on an analysed burst. Each returns its measured values, its thresholds and
//! whether it passed, so the decision can list reasons and the debug view can show why.

use serde::Serialize;

use super::challenge::{Action, Challenge};
use super::flow::{self, FlowParallax, FlowParams, FlowView};
use super::frames::{AnalyzedFrame, thumbnail_difference};
use super::geometry::{self, PlanarityMeasures};
use super::pose::Pose;
use super::{ChallengeThresholds, GeometryThresholds, IntegrityThresholds};
use crate::face::embed::Embedding;

// ---------------------------------------------------------------------------------------------
// Frame integrity: timing, duplicates, sizes.

#[derive(Debug, Clone, Serialize)]
pub struct IntegrityCheck {
    pub frame_count: usize,
    pub undecodable: usize,
    /// Timestamps strictly increasing.
    pub monotonic: bool,
    pub min_interval_ms: i64,
    pub max_gap_ms: i64,
    pub span_ms: i64,
    /// Frames captured outside the challenge window (→ `timeout`).
    pub outside_window: usize,
    pub exact_duplicates: usize,
    /// Consecutive pairs whose thumbnails differ by less than the threshold.
    pub near_identical_pairs: usize,
    pub sizes_consistent: bool,
    pub oversized: usize,
    /// Everything except the window passed.
    pub passed: bool,
    pub in_window: bool,
}

pub fn integrity(frames: &[AnalyzedFrame], challenge: &Challenge, t: &IntegrityThresholds) -> IntegrityCheck {
    let stamps: Vec<i64> = frames.iter().map(|f| f.report.timestamp_ms).collect();
    let intervals: Vec<i64> = stamps.windows(2).map(|w| w[1] - w[0]).collect();
    let decoded: Vec<&AnalyzedFrame> = frames.iter().filter(|f| f.report.width > 0).collect();
    let first_size = decoded.first().map(|f| (f.report.width, f.report.height));
    let mut hashes: Vec<[u8; 32]> = frames.iter().map(|f| f.sha256).collect();
    hashes.sort_unstable();
    hashes.dedup();
    let mut check = IntegrityCheck {
        frame_count: frames.len(),
        undecodable: frames.len() - decoded.len(),
        monotonic: intervals.iter().all(|d| *d > 0),
        min_interval_ms: intervals.iter().copied().min().unwrap_or(0),
        max_gap_ms: intervals.iter().copied().max().unwrap_or(0),
        span_ms: stamps.last().zip(stamps.first()).map(|(l, f)| l - f).unwrap_or(0),
        outside_window: stamps.iter().filter(|s| !challenge.in_window(**s, t.clock_skew_ms)).count(),
        exact_duplicates: frames.len() - hashes.len(),
        near_identical_pairs: decoded
            .windows(2)
            .filter(|w| thumbnail_difference(&w[0].thumbnail, &w[1].thumbnail) < t.near_identical_level)
            .count(),
        sizes_consistent: decoded.iter().all(|f| Some((f.report.width, f.report.height)) == first_size),
        oversized: decoded.iter().filter(|f| f.report.width.max(f.report.height) > t.max_frame_side).count(),
        passed: false,
        in_window: false,
    };
    check.in_window = check.outside_window == 0;
    check.passed = (t.min_frames..=t.max_frames).contains(&frames.len())
        && check.undecodable == 0
        && check.monotonic
        && check.min_interval_ms >= t.min_interval_ms
        && check.max_gap_ms <= t.max_gap_ms
        && check.span_ms >= t.min_span_ms
        && check.exact_duplicates == 0
        && check.near_identical_pairs as f32 <= t.max_near_identical_fraction * (frames.len().max(2) - 1) as f32
        && check.sizes_consistent
        && check.oversized == 0;
    check
}

// ---------------------------------------------------------------------------------------------
// Faces: exactly one in every frame.

#[derive(Debug, Clone, Serialize)]
pub struct FaceCountCheck {
    pub frames_without_face: usize,
    pub frames_with_several_faces: usize,
    /// Frames without a face tolerated (a far turn loses the face briefly).
    pub max_faceless: usize,
    /// The start pose is the first frame's: it must show the face.
    pub first_frame_has_face: bool,
    /// At most `max_faceless` frames without a face, the first frame has one, none with several.
    pub passed: bool,
}

pub fn face_counts(frames: &[AnalyzedFrame], max_faceless_fraction: f32) -> FaceCountCheck {
    let faceless = |f: &AnalyzedFrame| f.report.width > 0 && f.landmarks.is_none();
    let frames_without_face = frames.iter().filter(|f| faceless(f)).count();
    let frames_with_several_faces = frames.iter().filter(|f| f.report.faces > 1).count();
    let max_faceless = (max_faceless_fraction.clamp(0.0, 1.0) * frames.len() as f32).floor() as usize;
    let first_frame_has_face = frames.first().is_some_and(|f| f.landmarks.is_some());
    FaceCountCheck {
        frames_without_face,
        frames_with_several_faces,
        max_faceless,
        first_frame_has_face,
        passed: first_frame_has_face && frames_without_face <= max_faceless && frames_with_several_faces == 0,
    }
}

// ---------------------------------------------------------------------------------------------
// Challenge: the pose/eye track performs the actions in order.

#[derive(Debug, Clone, Serialize)]
pub struct ActionResult {
    pub action: Action,
    pub performed: bool,
    /// Frame at which the action was complete.
    pub frame: Option<usize>,
    /// Largest excursion towards the action (degrees from the start pose, or P(closed)).
    pub peak: f32,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChallengeCheck {
    pub start_pose: Option<Pose>,
    pub yaw_range: f32,
    pub pitch_range: f32,
    pub actions: Vec<ActionResult>,
    pub passed: bool,
}

pub fn challenge(frames: &[AnalyzedFrame], challenge: &Challenge, t: &ChallengeThresholds) -> ChallengeCheck {
    let poses: Vec<Option<Pose>> = frames.iter().map(|f| f.report.pose).collect();
    let start = poses.iter().flatten().next().copied();
    let range = |f: fn(&Pose) -> f32| {
        let vals: Vec<f32> = poses.iter().flatten().map(f).collect();
        vals.iter().copied().fold(f32::NEG_INFINITY, f32::max) - vals.iter().copied().fold(f32::INFINITY, f32::min)
    };
    let mut cursor = 0;
    let mut actions = Vec::new();
    for &action in &challenge.actions {
        let result = match start {
            Some(start) => find_action(frames, action, start, cursor, t),
            None => ActionResult { action, performed: false, frame: None, peak: 0.0 },
        };
        // Order matters: the next action is searched for only after this one completed.
        cursor = result.frame.map(|f| f + 1).unwrap_or(frames.len());
        actions.push(result);
    }
    let passed = !actions.is_empty() && actions.iter().all(|a| a.performed);
    ChallengeCheck {
        start_pose: start,
        yaw_range: range(|p| p.yaw).max(0.0),
        pitch_range: range(|p| p.pitch).max(0.0),
        actions,
        passed,
    }
}

/// The first frame from `from` on at which `action` is complete.
fn find_action(
    frames: &[AnalyzedFrame],
    action: Action,
    start: Pose,
    from: usize,
    t: &ChallengeThresholds,
) -> ActionResult {
    if action == Action::Blink {
        return find_blink(frames, from, t);
    }
    // Towards the action, in degrees from the start pose. The subject's left is the image
    // right in an unmirrored frame, i.e. negative yaw.
    let mirror = if t.mirrored_frames { -1.0 } else { 1.0 };
    let excursion = |p: &Pose| match action {
        Action::TurnLeft => -(p.yaw - start.yaw) * mirror,
        Action::TurnRight => (p.yaw - start.yaw) * mirror,
        _ => p.pitch - start.pitch,
    };
    let needed = if action == Action::LookUp { t.look_up_degrees } else { t.turn_degrees };
    let mut peak = f32::NEG_INFINITY;
    for (i, f) in frames.iter().enumerate().skip(from) {
        if let Some(p) = f.report.pose {
            let e = excursion(&p);
            peak = peak.max(e);
            if e >= needed {
                return ActionResult { action, performed: true, frame: Some(i), peak: e };
            }
        }
    }
    ActionResult { action, performed: false, frame: None, peak: peak.max(0.0) }
}

/// Open → closed (both eyes) → open, from `from` on.
fn find_blink(frames: &[AnalyzedFrame], from: usize, t: &ChallengeThresholds) -> ActionResult {
    #[derive(PartialEq)]
    enum Awaiting {
        Open,
        Closed,
        Reopen,
    }
    let mut stage = Awaiting::Open;
    let mut peak = 0f32;
    for (i, f) in frames.iter().enumerate().skip(from) {
        let Some(eyes) = f.report.eyes else { continue };
        let (closed, open) = (eyes.left_closed.min(eyes.right_closed), eyes.left_closed.max(eyes.right_closed));
        peak = peak.max(closed);
        stage = match stage {
            Awaiting::Open if open < t.eye_open_below => Awaiting::Closed,
            Awaiting::Closed if closed > t.eye_closed_above => Awaiting::Reopen,
            Awaiting::Reopen if open < t.eye_open_below => {
                return ActionResult { action: Action::Blink, performed: true, frame: Some(i), peak };
            }
            s => s,
        };
    }
    ActionResult { action: Action::Blink, performed: false, frame: None, peak }
}

// ---------------------------------------------------------------------------------------------
// 3-D test.

#[derive(Debug, Clone, Serialize)]
pub struct GeometryCheck {
    /// Only meaningful when the challenge asks for a turn (yaw parallax).
    pub applicable: bool,
    /// The landmarks' departure from planar motion.
    pub measures: Option<PlanarityMeasures>,
    /// The image texture's departure from planar motion (`flow`).
    pub flow: Option<FlowParallax>,
    pub thresholds: GeometryThresholds,
    pub passed: bool,
}

impl GeometryCheck {
    /// The landmark homography residual over its threshold (1.0 = at it); 0 when it is below
    /// the pixel noise floor.
    pub fn depth_ratio(&self) -> f32 {
        let Some(m) = self.measures else { return 0.0 };
        let t = &self.thresholds;
        if m.homography_residual * m.eye_distance_px < t.min_residual_px {
            return 0.0;
        }
        m.homography_residual / t.min_homography_residual.max(1e-6)
    }

    /// The texture's median parallax over its threshold (1.0 = at it).
    pub fn flow_ratio(&self) -> f32 {
        self.flow.map_or(0.0, |f| f.median_px / self.thresholds.min_flow_parallax_px.max(1e-6))
    }

    /// Depth over its threshold (≥ 1.0 passes). The texture decides when it is clear — depth
    /// above its threshold, or a plane below the flat bound — because it is what the landmark
    /// model misjudges (beards, roll and blur on real turns; steep tilts of photos). Between the
    /// two bounds, or with too few tracks, the landmarks decide.
    pub fn evidence(&self) -> f32 {
        let t = &self.thresholds;
        match self.flow {
            Some(f) if f.median_px >= t.min_flow_parallax_px || f.median_px < t.max_flat_flow_px => self.flow_ratio(),
            _ => self.depth_ratio(),
        }
    }
}

pub fn geometry(frames: &[AnalyzedFrame], challenge: &Challenge, thresholds: GeometryThresholds) -> GeometryCheck {
    let track: Vec<_> = frames.iter().filter_map(|f| f.landmarks.as_ref()).collect();
    let measures = geometry::planarity(&track);
    let applicable = challenge.actions.iter().any(|a| a.is_turn());
    let flow = if applicable { flow_measure(frames, &thresholds) } else { None };
    let mut check = GeometryCheck { applicable, measures, flow, thresholds, passed: false };
    check.passed = !applicable || check.evidence() >= 1.0;
    check
}

/// The flow test against the first face frame, on the `views` frames whose pose differs most
/// from it (parallax grows with the turn).
fn flow_measure(frames: &[AnalyzedFrame], thresholds: &GeometryThresholds) -> Option<FlowParallax> {
    let mut candidates = frames.iter().filter_map(flow_view);
    let (reference, pose0) = candidates.next()?;
    let mut rest: Vec<_> = candidates.collect();
    let change = |p: &Pose| (p.yaw - pose0.yaw).abs() + (p.pitch - pose0.pitch).abs();
    rest.sort_by(|a, b| change(&b.1).total_cmp(&change(&a.1)));
    let chosen: Vec<FlowView> = rest.into_iter().take(thresholds.flow_views).map(|(v, _)| v).collect();
    flow::flow_parallax(reference, &chosen, &FlowParams::default(), thresholds.min_flow_parallax_px)
}

fn flow_view(f: &AnalyzedFrame) -> Option<(FlowView<'_>, Pose)> {
    match (&f.grey, &f.landmarks, f.report.pose) {
        (Some(grey), Some(landmarks), Some(pose)) => Some((FlowView { index: f.report.index, grey, landmarks }, pose)),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Passive anti-spoofing.

#[derive(Debug, Clone, Serialize)]
pub struct PassiveCheck {
    pub scores: Vec<f32>,
    pub mean_live: Option<f32>,
    pub min_live: f32,
    /// Whether a low score rejects (see `PassiveThresholds::gate`).
    pub gate: bool,
    pub passed: bool,
}

pub fn passive(frames: &[AnalyzedFrame], min_live: f32, gate: bool) -> PassiveCheck {
    let scores: Vec<f32> = frames.iter().filter_map(|f| f.report.passive_live).collect();
    let mean_live = (!scores.is_empty()).then(|| scores.iter().sum::<f32>() / scores.len() as f32);
    let passed = !gate || mean_live.is_some_and(|m| m >= min_live);
    PassiveCheck { scores, mean_live, min_live, gate, passed }
}

// ---------------------------------------------------------------------------------------------
// Identity: one person throughout, and the person of the selfie.

#[derive(Debug, Clone, Serialize)]
pub struct IdentityCheck {
    /// Frames embedded (the most frontal ones, spread over the burst).
    pub frames_embedded: usize,
    /// Lowest cosine between two embedded frames.
    pub min_within_burst: Option<f32>,
    /// Lowest cosine between an embedded frame and the reference.
    pub min_to_reference: Option<f32>,
    pub threshold: f32,
    /// Lowest IoU of the face boxes of consecutive face frames (the track between embeddings).
    pub min_track_iou: Option<f32>,
    pub track_iou_threshold: f32,
    pub passed: bool,
}

pub fn identity(
    frames: &[AnalyzedFrame],
    reference: Option<&Embedding>,
    threshold: f32,
    track_iou_threshold: f32,
) -> IdentityCheck {
    let embeddings: Vec<&Embedding> = frames.iter().filter_map(|f| f.embedding.as_ref()).collect();
    let lowest = |vals: Vec<f32>| vals.into_iter().reduce(f32::min);
    let pairs = embeddings.iter().enumerate().flat_map(|(i, a)| embeddings[i + 1..].iter().map(|b| a.cosine(b)));
    let min_within_burst = lowest(pairs.collect());
    let min_to_reference = reference.and_then(|r| lowest(embeddings.iter().map(|e| r.cosine(e)).collect()));
    let boxes: Vec<_> = frames.iter().filter_map(|f| f.report.face_box).collect();
    let min_track_iou = lowest(boxes.windows(2).map(|w| w[0].iou(&w[1])).collect());
    let passed = !embeddings.is_empty()
        && min_within_burst.is_none_or(|c| c >= threshold)
        && min_to_reference.is_none_or(|c| c >= threshold)
        && min_track_iou.is_none_or(|iou| iou >= track_iou_threshold);
    IdentityCheck {
        frames_embedded: embeddings.len(),
        min_within_burst,
        min_to_reference,
        threshold,
        min_track_iou,
        track_iou_threshold,
        passed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::face::eyes::EyeState;
    use crate::liveness::frames::FrameReport;

    fn frame(index: usize, yaw: f32, pitch: f32, closed: f32) -> AnalyzedFrame {
        AnalyzedFrame {
            report: FrameReport {
                index,
                timestamp_ms: 1_000 + 100 * index as i64,
                width: 64,
                height: 64,
                bytes: 100,
                faces: 1,
                face_score: Some(0.99),
                face_box: None,
                tracked: false,
                pose: Some(Pose { yaw, pitch, roll: 0.0 }),
                landmark_pose: None,
                model_pose: None,
                eyes: Some(EyeState { left_closed: closed, right_closed: closed }),
                passive_live: None,
                error: None,
                analysis_ms: 0.0,
            },
            landmarks: None,
            embedding: None,
            sha256: [index as u8; 32],
            thumbnail: vec![index as u8 * 10; 4],
            square: None,
            image: None,
            grey: None,
        }
    }

    /// Frontal, turn to the subject's left (nose to the image right: negative yaw), back,
    /// turn right, back, then a blink.
    fn left_then_right_then_blink() -> Vec<AnalyzedFrame> {
        let track = [(0.0, 0.0), (-12.0, 0.0), (-26.0, 0.0), (-5.0, 0.0), (14.0, 0.0), (27.0, 0.0), (3.0, 0.0)];
        let mut frames: Vec<AnalyzedFrame> =
            track.iter().enumerate().map(|(i, (y, p))| frame(i, *y, *p, 0.05)).collect();
        frames.push(frame(7, 1.0, 0.0, 0.95));
        frames.push(frame(8, 1.0, 0.0, 0.05));
        frames
    }

    fn run(actions: &[Action], frames: &[AnalyzedFrame]) -> ChallengeCheck {
        let c = Challenge { nonce: "x".into(), actions: actions.to_vec(), issued_at_ms: 0, window_ms: 10_000 };
        challenge(frames, &c, &ChallengeThresholds::default())
    }

    #[test]
    fn actions_in_the_asked_order_pass() {
        let frames = left_then_right_then_blink();
        let check = run(&[Action::TurnLeft, Action::TurnRight, Action::Blink], &frames);
        assert!(check.passed, "{check:?}");
        assert_eq!(check.actions.iter().map(|a| a.frame).collect::<Vec<_>>(), vec![Some(2), Some(5), Some(8)]);
    }

    #[test]
    fn the_wrong_order_fails() {
        let frames = left_then_right_then_blink();
        let check = run(&[Action::TurnRight, Action::TurnLeft], &frames);
        assert!(!check.passed);
        assert!(check.actions[0].performed && !check.actions[1].performed, "{check:?}");
    }

    #[test]
    fn a_blink_needs_open_closed_open_and_look_up_needs_pitch() {
        let mut frames = left_then_right_then_blink();
        frames.truncate(8); // ends with the eyes closed
        assert!(!run(&[Action::Blink], &frames).passed);
        assert!(!run(&[Action::LookUp], &frames).passed);
        let nod: Vec<AnalyzedFrame> =
            [0.0, 6.0, 14.0, 4.0].iter().enumerate().map(|(i, p)| frame(i, 0.0, *p, 0.0)).collect();
        assert!(run(&[Action::LookUp], &nod).passed);
    }

    #[test]
    fn mirrored_frames_swap_the_turn_directions() {
        let frames = left_then_right_then_blink();
        let c = Challenge {
            nonce: "x".into(),
            actions: vec![Action::TurnRight, Action::TurnLeft],
            issued_at_ms: 0,
            window_ms: 10_000,
        };
        let t = ChallengeThresholds { mirrored_frames: true, ..Default::default() };
        assert!(challenge(&frames, &c, &t).passed);
    }

    #[test]
    fn integrity_flags_gaps_and_near_identical_frames() {
        let c = Challenge { nonce: "x".into(), actions: vec![Action::Blink], issued_at_ms: 0, window_ms: 10_000 };
        let t = IntegrityThresholds { min_frames: 2, ..Default::default() };
        let mut frames: Vec<AnalyzedFrame> = (0..10).map(|i| frame(i, 0.0, 0.0, 0.0)).collect();
        assert!(integrity(&frames, &c, &t).passed);
        frames[5].report.timestamp_ms += 3_000;
        frames.iter_mut().skip(6).for_each(|f| f.report.timestamp_ms += 3_000);
        assert!(!integrity(&frames, &c, &t).passed);
        let mut same: Vec<AnalyzedFrame> = (0..10).map(|i| frame(i, 0.0, 0.0, 0.0)).collect();
        same.iter_mut().for_each(|f| f.thumbnail = vec![7; 4]);
        let check = integrity(&same, &c, &t);
        assert_eq!(check.near_identical_pairs, 9);
        assert!(!check.passed);
    }
}
