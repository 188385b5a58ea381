//! From check results to the decision: hard gates give stable reason codes; one fused score
//! in [0, 1] ranks bursts (for logs, dashboards and later calibration). Approved means no
//! reason at all.

use serde::{Deserialize, Serialize};

use super::checks::{ChallengeCheck, FaceCountCheck, GeometryCheck, IdentityCheck, IntegrityCheck, PassiveCheck};

/// Why a burst was rejected. The strings are part of the API: never rename them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    /// The pose/eye track does not show the asked actions in the asked order.
    ChallengeNotPerformed,
    /// The landmark motion fits a homography: a flat picture (print, screen) was moved.
    FlatPresentation,
    /// The passive anti-spoof model sees print/screen texture (only when its gate is on).
    SpoofTexture,
    /// Not the same person throughout the burst, or not the person of the reference selfie.
    IdentityChanged,
    /// Wrong nonce, bad frame count, timing, duplicated frames, inconsistent sizes, undecodable.
    FramesInvalid,
    /// Frames captured outside the challenge's time window.
    Timeout,
    /// A frame without a face.
    FaceNotFound,
    /// A frame with more than one face.
    MultipleFaces,
}

impl ReasonCode {
    pub fn code(self) -> &'static str {
        match self {
            ReasonCode::ChallengeNotPerformed => "challenge_not_performed",
            ReasonCode::FlatPresentation => "flat_presentation",
            ReasonCode::SpoofTexture => "spoof_texture",
            ReasonCode::IdentityChanged => "identity_changed",
            ReasonCode::FramesInvalid => "frames_invalid",
            ReasonCode::Timeout => "timeout",
            ReasonCode::FaceNotFound => "face_not_found",
            ReasonCode::MultipleFaces => "multiple_faces",
        }
    }
}

/// The checks of one burst, as the decision sees them.
pub struct CheckSet<'a> {
    pub integrity: &'a IntegrityCheck,
    pub faces: &'a FaceCountCheck,
    pub challenge: &'a ChallengeCheck,
    pub geometry: &'a GeometryCheck,
    pub passive: &'a PassiveCheck,
    pub identity: &'a IdentityCheck,
}

/// Reason codes in a fixed order, without repeats.
pub fn reasons(checks: &CheckSet<'_>) -> Vec<ReasonCode> {
    let mut reasons = Vec::new();
    let mut flag = |cond: bool, code| {
        if cond {
            reasons.push(code);
        }
    };
    flag(!checks.integrity.in_window, ReasonCode::Timeout);
    flag(!checks.integrity.passed, ReasonCode::FramesInvalid);
    flag(
        checks.faces.frames_without_face > checks.faces.max_faceless || !checks.faces.first_frame_has_face,
        ReasonCode::FaceNotFound,
    );
    flag(checks.faces.frames_with_several_faces > 0, ReasonCode::MultipleFaces);
    flag(!checks.challenge.passed, ReasonCode::ChallengeNotPerformed);
    flag(!checks.geometry.passed, ReasonCode::FlatPresentation);
    flag(!checks.passive.passed, ReasonCode::SpoofTexture);
    flag(!checks.identity.passed, ReasonCode::IdentityChanged);
    reasons
}

/// Fused score: the weakest of the hard checks' soft scores, blended with the passive score
/// by `passive_weight` (0 when the model is not trusted; see docs/liveness-engine.md).
pub fn fused_score(checks: &CheckSet<'_>, passive_weight: f32) -> f32 {
    let performed = checks.challenge.actions.iter().filter(|a| a.performed).count() as f32;
    let challenge = performed / checks.challenge.actions.len().max(1) as f32;
    let geometry = match (checks.geometry.applicable, checks.geometry.measures) {
        (false, _) => 1.0,
        (true, Some(_)) => logistic(checks.geometry.evidence(), 1.0, 0.25),
        (true, None) => 0.0,
    };
    let identity = [checks.identity.min_within_burst, checks.identity.min_to_reference]
        .into_iter()
        .flatten()
        .map(|c| logistic(c, checks.identity.threshold, 0.15))
        .fold(if checks.identity.frames_embedded > 0 { 1.0 } else { 0.0 }, f32::min);
    let integrity = if checks.integrity.passed && checks.integrity.in_window { 1.0 } else { 0.0 };
    let faces = if checks.faces.passed { 1.0 } else { 0.0 };
    let hard = [challenge, geometry, identity, integrity, faces].into_iter().fold(1.0, f32::min);
    let w = passive_weight.clamp(0.0, 1.0);
    match checks.passive.mean_live {
        Some(p) => (1.0 - w) * hard + w * p,
        None => hard,
    }
}

/// 0.5 at the threshold, rising with `value`; `relative_width` sets the slope relative to
/// the threshold's size.
fn logistic(value: f32, threshold: f32, relative_width: f32) -> f32 {
    let width = (threshold.abs() * relative_width).max(1e-3);
    1.0 / (1.0 + (-(value - threshold) / width).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_codes_are_stable_strings() {
        let json = serde_json::to_string(&[ReasonCode::FlatPresentation, ReasonCode::ChallengeNotPerformed]).unwrap();
        assert_eq!(json, r#"["flat_presentation","challenge_not_performed"]"#);
        assert_eq!(ReasonCode::Timeout.code(), "timeout");
        assert_eq!(ReasonCode::FramesInvalid.code(), "frames_invalid");
    }

    #[test]
    fn logistic_is_half_at_the_threshold() {
        assert!((logistic(0.1, 0.1, 0.25) - 0.5).abs() < 1e-6);
        assert!(logistic(0.2, 0.1, 0.25) > 0.95 && logistic(0.0, 0.1, 0.25) < 0.05);
    }
}
