//! The liveness engine: did a live person follow our challenge, or is it a print, a screen,
//! a replay or injected frames? Challenge in ([`challenge`]), timed frames in ([`frames`]),
//! checks ([`checks`]: challenge performed in order, same identity, 3-D test of
//! [`geometry`], passive texture score of [`passive`], frame integrity), decision out
//! ([`decision`]). No HTTP, no database: the server stores the [`Challenge`] with the session
//! and calls [`LivenessEngine::evaluate`] once per challenge.
//!
//! Every default below is justified with measurements in `docs/liveness-engine.md`.

pub mod challenge;
pub mod checks;
pub mod decision;
pub mod flow;
pub mod frames;
pub mod geometry;
pub mod passive;
pub mod pose;
pub mod synthetic;

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

pub use challenge::{Action, Challenge, ChallengeConfig, ChallengeError};
pub use decision::ReasonCode;
pub use frames::{Frame, FrameReport};
pub use pose::{Pose, PoseSource};

use crate::face::FaceConfig;
use crate::face::embed::Embedding;
use crate::imaging::IntakeLimits;
use crate::models::ModelSet;
use checks::{ChallengeCheck, FaceCountCheck, GeometryCheck, IdentityCheck, IntegrityCheck, PassiveCheck};
use frames::{AnalyzedFrame, FrameSettings, FrontalPick};

/// What counts as a performed action.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChallengeThresholds {
    /// Yaw change from the first frame's pose that counts as a turn (default 20°).
    pub turn_degrees: f32,
    /// Pitch change (chin up) that counts as looking up (default 12°).
    pub look_up_degrees: f32,
    /// Both eyes' P(closed) above this is a closed frame (default 0.5).
    pub eye_closed_above: f32,
    /// Both eyes' P(closed) below this is an open frame (default 0.3).
    pub eye_open_below: f32,
    /// The page sends mirrored (selfie-preview) frames; flips the turn directions (default false).
    pub mirrored_frames: bool,
    /// Which head pose the turns are measured with (default landmarks; see the docs).
    pub pose_source: PoseSource,
}

/// What a well-formed answer looks like.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntegrityThresholds {
    /// Frames per answer (default 10–30).
    pub min_frames: usize,
    pub max_frames: usize,
    /// Longest side of a frame (default 720 px, what the page sends).
    pub max_frame_side: u32,
    /// Phone/server clock difference tolerated at both ends of the window (default 2 s).
    pub clock_skew_ms: i64,
    /// Shortest interval between frames (default 20 ms: faster than any phone camera streams).
    pub min_interval_ms: i64,
    /// Longest gap between frames (default 1.5 s).
    pub max_gap_ms: i64,
    /// Shortest capture span (default 500 ms: two actions cannot be done faster).
    pub min_span_ms: i64,
    /// Mean grey difference (0–255) of 16×16 thumbnails below which two consecutive frames
    /// count as the same picture (default 0.08: a re-encoded copy measures ~0, consecutive
    /// frames of a person holding still in front of a webcam 0.12 and more).
    pub near_identical_level: f32,
    /// Largest tolerated fraction of near-identical consecutive pairs (default 0.3).
    pub max_near_identical_fraction: f32,
}

/// Everything configurable about the liveness engine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LivenessConfig {
    pub challenge: ChallengeThresholds,
    pub integrity: IntegrityThresholds,
    /// 3-D test thresholds, applied when a turn was asked.
    pub geometry: GeometryThresholds,
    /// Frames scored by the passive model (default 2: the same frontal frames as the
    /// embeddings, so the second pass touches at most two frames).
    pub passive_frames: usize,
    /// Mean P(live) below this is `spoof_texture` when `passive_gate` is on (default 0.4:
    /// bona fide windows measured ≥ 0.49, screens/prints/replays without a live person in view
    /// ≤ 0.26).
    pub passive_min_live: f32,
    /// Whether the passive score may reject (default on: the only check that catches replays).
    pub passive_gate: bool,
    /// Weight of the passive score in the fused score (default 0.3).
    pub passive_weight: f32,
    /// Frames embedded for the identity check (default 2, one per half of the burst: the
    /// embeddings are most of the burst's cost, and the face track's continuity covers the
    /// frames between them).
    pub identity_frames: usize,
    /// Embeddings and passive scores are taken only on faces within these pose bounds
    /// (absolute degrees; default yaw 25°, pitch 20°): both models are trained on near-frontal
    /// faces, and a near-profile embedding falls below the match threshold for the same person.
    pub frontal_max_yaw: f32,
    pub frontal_max_pitch: f32,
    /// Face track continuity: lowest IoU of the face boxes of consecutive face frames (default
    /// 0.3). Catches a face swapped in while the head is turned, where no embedding is taken.
    pub min_track_iou: f32,
    /// Largest fraction of frames allowed without a face (default 0.2: a far turn can lose the
    /// face for a frame or two).
    pub max_faceless_fraction: f32,
    /// Also run `fr_pose` on every frame, for comparison in the details (default off).
    pub compare_pose_model: bool,
    /// The detector runs on every n-th frame (default 2); the frames between find the face
    /// from the previous frame's landmarks (`frames::track_face`), which costs a fifth of the
    /// detector. 1 = the detector on every frame.
    pub detect_every: usize,
}

/// What counts as depth in the 3-D test (`checks::geometry`): the landmarks' homography
/// residual above its threshold in inter-ocular units and above the landmark noise in pixels,
/// unless the face texture's parallax (`flow`) is clearly deep or clearly flat.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GeometryThresholds {
    /// Homography residual of all 68 landmarks (default 0.08; tilted prints/screens ≤ 0.018).
    pub min_homography_residual: f32,
    /// The residual must also be this many pixels (default 3.0): landmark noise on flat bursts
    /// reaches 2.5 px, which on a small face (IOD 19 px) is 0.13 IOD; bona fide turns ≥ 5.2 px.
    pub min_residual_px: f32,
    /// Median parallax of the tracked face texture (`flow`, reference pixels) that counts as
    /// depth whatever the landmarks say (default 2.0: bona fide turn windows of the shared clips
    /// 1.7–11.3 px, 12 of the 13 measured ≥ 2.5 px).
    pub min_flow_parallax_px: f32,
    /// Below this the texture moved as one plane and the burst is flat whatever the landmarks
    /// say (default 1.5: flat pictures of the shared set ≤ 0.62 px; fixture photos tilted 60–70°
    /// ≤ 1.3 px).
    pub max_flat_flow_px: f32,
    /// Frames the flow test measures, those whose pose differs most from the first (default 6).
    pub flow_views: usize,
}

impl Default for GeometryThresholds {
    fn default() -> Self {
        Self {
            min_homography_residual: 0.08,
            min_residual_px: 3.0,
            min_flow_parallax_px: 2.0,
            max_flat_flow_px: 1.5,
            flow_views: 6,
        }
    }
}

impl Default for ChallengeThresholds {
    fn default() -> Self {
        Self {
            turn_degrees: 20.0,
            look_up_degrees: 12.0,
            eye_closed_above: 0.5,
            eye_open_below: 0.3,
            mirrored_frames: false,
            pose_source: PoseSource::Landmarks,
        }
    }
}

impl Default for IntegrityThresholds {
    fn default() -> Self {
        Self {
            min_frames: 10,
            max_frames: 30,
            max_frame_side: 720,
            clock_skew_ms: 2_000,
            min_interval_ms: 20,
            max_gap_ms: 1_500,
            min_span_ms: 500,
            near_identical_level: 0.08,
            max_near_identical_fraction: 0.3,
        }
    }
}

impl Default for LivenessConfig {
    fn default() -> Self {
        Self {
            challenge: ChallengeThresholds::default(),
            integrity: IntegrityThresholds::default(),
            geometry: GeometryThresholds::default(),
            passive_frames: 2,
            passive_min_live: 0.4,
            passive_gate: true,
            passive_weight: 0.3,
            identity_frames: 2,
            frontal_max_yaw: 25.0,
            frontal_max_pitch: 20.0,
            min_track_iou: 0.3,
            max_faceless_fraction: 0.2,
            compare_pose_model: false,
            detect_every: 2,
        }
    }
}

/// Per-check values and thresholds; the server shows them only with the session's `debug` flag.
#[derive(Debug, Clone, Serialize)]
pub struct LivenessDetails {
    pub nonce_matches: bool,
    pub integrity: Option<IntegrityCheck>,
    pub faces: Option<FaceCountCheck>,
    pub challenge: Option<ChallengeCheck>,
    pub geometry: Option<GeometryCheck>,
    pub passive: Option<PassiveCheck>,
    pub identity: Option<IdentityCheck>,
    pub frames: Vec<FrameReport>,
    pub timings: Timings,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Timings {
    /// Wall time of the parallel per-frame stage.
    pub frames_ms: f32,
    pub checks_ms: f32,
    pub total_ms: f32,
}

#[derive(Debug, Clone, Serialize)]
pub struct LivenessDecision {
    pub approved: bool,
    pub reasons: Vec<ReasonCode>,
    /// Fused score in [0, 1]; higher is more likely live.
    pub score: f32,
    pub details: LivenessDetails,
}

/// The façade the server calls. Cheap to clone (the models are shared).
#[derive(Clone)]
pub struct LivenessEngine {
    models: Arc<ModelSet>,
    face: FaceConfig,
    config: LivenessConfig,
}

impl LivenessEngine {
    /// `face` supplies the detector settings, the competing-face rule and the identity
    /// threshold (`matching.selfie_vs_template`), so both engines agree on "same person".
    pub fn new(models: Arc<ModelSet>, face: FaceConfig, config: LivenessConfig) -> Self {
        Self { models, face, config }
    }

    pub fn config(&self) -> &LivenessConfig {
        &self.config
    }

    /// Decides on one answer to `challenge`. The server must call this at most once per
    /// challenge and reject answers received after [`Challenge::is_expired`]. `reference` is
    /// the selfie's embedding, when there is one.
    pub fn evaluate(
        &self,
        challenge: &Challenge,
        nonce: &str,
        frames: &[Frame],
        reference: Option<&Embedding>,
    ) -> LivenessDecision {
        let started = Instant::now();
        if !challenge.nonce_matches(nonce) {
            // Not an answer to this challenge: nothing is analysed.
            return rejected_unanalysed(false);
        }
        if frames.len() > self.config.integrity.max_frames.max(1) * 2 {
            // Far too many frames: refuse before spending CPU on them.
            return rejected_unanalysed(true);
        }
        let analyzed = self.analyze(frames, challenge.actions.contains(&Action::Blink));
        let frames_ms = ms_since(started);
        let checks_started = Instant::now();
        let mut decision = self.decide(challenge, &analyzed, reference);
        decision.details.timings =
            Timings { frames_ms, checks_ms: ms_since(checks_started), total_ms: ms_since(started) };
        decision
    }

    /// The per-frame stage alone (public for the evaluation command and for debugging); the eye
    /// model runs only when `eyes` (a blink was asked).
    pub fn analyze(&self, frames: &[Frame], eyes: bool) -> Vec<AnalyzedFrame> {
        let c = &self.config;
        let settings = FrameSettings {
            detector: self.face.detector,
            quality: self.face.quality,
            limits: IntakeLimits { max_bytes: 4 * 1024 * 1024, max_side: 4_096, max_pixels: 8_000_000 },
            pose_source: c.challenge.pose_source,
            model_pose: c.compare_pose_model,
            eyes,
            // Frames are compared with the selfie taken a moment earlier (same light, same
            // camera). Without the mirror-image pass the shared set's identity scores move by
            // ≤ 0.009 and no decision changes; it saves a dlib run per embedded frame.
            embedding: self.face.embedding.without_flips(),
            detect_every: c.detect_every,
        };
        let mut analyzed = frames::analyze_frames(&self.models, frames, &settings);
        let pick = |count| FrontalPick { count, max_yaw: c.frontal_max_yaw, max_pitch: c.frontal_max_pitch };
        let embed = frames::pick_frontal(&analyzed, pick(c.identity_frames));
        let passive = frames::pick_frontal(&analyzed, pick(c.passive_frames));
        frames::complete_frames(&self.models, &mut analyzed, &settings.embedding, &embed, &passive);
        analyzed
    }

    /// Runs the checks on analysed frames and decides.
    pub fn decide(
        &self,
        challenge: &Challenge,
        frames: &[AnalyzedFrame],
        reference: Option<&Embedding>,
    ) -> LivenessDecision {
        let c = &self.config;
        let integrity = checks::integrity(frames, challenge, &c.integrity);
        let faces = checks::face_counts(frames, c.max_faceless_fraction);
        let challenge_check = checks::challenge(frames, challenge, &c.challenge);
        let geometry = checks::geometry(frames, challenge, c.geometry);
        let passive = checks::passive(frames, c.passive_min_live, c.passive_gate);
        let identity = checks::identity(frames, reference, self.face.matching.selfie_vs_template, c.min_track_iou);
        let set = decision::CheckSet {
            integrity: &integrity,
            faces: &faces,
            challenge: &challenge_check,
            geometry: &geometry,
            passive: &passive,
            identity: &identity,
        };
        let reasons = decision::reasons(&set);
        let score = decision::fused_score(&set, c.passive_weight);
        LivenessDecision {
            approved: reasons.is_empty(),
            reasons,
            score,
            details: LivenessDetails {
                nonce_matches: true,
                frames: frames.iter().map(|f| f.report.clone()).collect(),
                integrity: Some(integrity),
                faces: Some(faces),
                challenge: Some(challenge_check),
                geometry: Some(geometry),
                passive: Some(passive),
                identity: Some(identity),
                timings: Timings::default(),
            },
        }
    }
}

/// `frames_invalid` without analysis (wrong nonce, absurd frame count).
fn rejected_unanalysed(nonce_matches: bool) -> LivenessDecision {
    LivenessDecision {
        approved: false,
        reasons: vec![ReasonCode::FramesInvalid],
        score: 0.0,
        details: LivenessDetails {
            nonce_matches,
            integrity: None,
            faces: None,
            challenge: None,
            geometry: None,
            passive: None,
            identity: None,
            frames: Vec::new(),
            timings: Timings::default(),
        },
    }
}

fn ms_since(t: Instant) -> f32 {
    t.elapsed().as_secs_f32() * 1000.0
}
