//! Matching policy: which cosine similarity counts as "same person", separately for a selfie
//! against an ID portrait and against an enrolled template. Decisions and scores are logged;
//! embeddings never are.

use serde::Serialize;

/// What a probe is compared with: the two cases have different image quality, so they get
/// their own thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    /// Selfie against the portrait cropped from an identity document (print, small, older).
    SelfieVsPortrait,
    /// Selfie against the template enrolled from an earlier selfie.
    SelfieVsTemplate,
}

/// Thresholds on cosine similarity. Defaults are calibrated for FMR ≤ 0.1 % on the evaluation
/// set; `docs/face-engine.md` records the data and the numbers behind them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MatchPolicy {
    pub selfie_vs_portrait: f32,
    pub selfie_vs_template: f32,
}

impl Default for MatchPolicy {
    fn default() -> Self {
        Self { selfie_vs_portrait: DEFAULT_THRESHOLD, selfie_vs_template: DEFAULT_THRESHOLD }
    }
}

/// The fused score (SFace + dlib ResNet, the default embedding) at which the evaluation set's
/// FMR fell to ≤ 0.1 %: 0.764 over every image with a face (14/14437 impostor pairs above),
/// 0.767 over the quality-gated ones (8/8674); see docs/face-engine.md. A different
/// `EmbeddingConfig` needs its own threshold (`thirdfactor eval faces` lists them).
pub const DEFAULT_THRESHOLD: f32 = 0.77;

/// The outcome of one comparison.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MatchDecision {
    pub kind: MatchKind,
    pub score: f32,
    pub threshold: f32,
    pub matched: bool,
}

impl MatchPolicy {
    pub fn threshold(&self, kind: MatchKind) -> f32 {
        match kind {
            MatchKind::SelfieVsPortrait => self.selfie_vs_portrait,
            MatchKind::SelfieVsTemplate => self.selfie_vs_template,
        }
    }

    /// Applies the threshold for `kind` to a similarity score and logs the decision.
    pub fn decide(&self, kind: MatchKind, score: f32) -> MatchDecision {
        let threshold = self.threshold(kind);
        let matched = score.is_finite() && score >= threshold;
        tracing::info!(kind = ?kind, score, threshold, matched, "face match decision");
        MatchDecision { kind, score, threshold, matched }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_uses_its_own_threshold() {
        let policy = MatchPolicy { selfie_vs_portrait: 0.3, selfie_vs_template: 0.5 };
        assert!(policy.decide(MatchKind::SelfieVsPortrait, 0.4).matched);
        assert!(!policy.decide(MatchKind::SelfieVsTemplate, 0.4).matched);
        assert!(policy.decide(MatchKind::SelfieVsTemplate, 0.5).matched);
        assert!(!policy.decide(MatchKind::SelfieVsTemplate, f32::NAN).matched);
    }
}
