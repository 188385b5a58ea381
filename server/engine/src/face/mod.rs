//! The face engine: detection → 68 landmarks → 5-point similarity alignment → embedding,
//! plus the quality gate and the matching policy. Images in, typed results out; no HTTP,
//! no database.
//!
//! Stages live in their own modules and stay public so a wrong result can be traced to what
//! each model saw: [`detect`], [`landmarks`], [`align`], [`embed`], [`eyes`], [`pose`],
//! [`quality`], [`matching`], and the pixel helpers in [`crop`].

pub mod align;
pub mod crop;
pub mod detect;
pub mod embed;
pub mod eyes;
pub mod fusion;
pub mod geometry;
pub mod landmarks;
pub mod matching;
pub mod pose;
pub mod quality;
pub(crate) mod runtime;

use std::borrow::Cow;
use std::sync::Arc;

use image::RgbImage;
use serde::Serialize;

pub use detect::{Detection, DetectorParams};
pub use embed::Embedding;
pub use fusion::{EmbeddingConfig, EmbeddingModel, Member, PartEmbedding};
pub use geometry::{FaceBox, Point};
pub use landmarks::{FivePoints, Landmarks68};
pub use matching::{MatchDecision, MatchKind, MatchPolicy};
pub use pose::HeadPose;
pub use quality::{QualityMeasures, QualityReason, QualityThresholds};

use crate::imaging::{self, ImageError, IntakeLimits};
use crate::models::{ModelError, ModelSet};

#[derive(Debug, thiserror::Error)]
pub enum FaceError {
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("the face landmarks are degenerate; the face cannot be aligned")]
    Alignment,
}

/// Everything configurable about the face engine; every default is documented in
/// `docs/face-engine.md` with the measurement behind it.
#[derive(Debug, Clone, Serialize)]
pub struct FaceConfig {
    pub detector: DetectorParams,
    pub quality: QualityThresholds,
    pub matching: MatchPolicy,
    /// Which embedding models make the template, with their flip TTA and weights.
    pub embedding: EmbeddingConfig,
    /// Larger images are scaled down to this longer side before anything else: the detector
    /// sees 320×240 anyway, and a 112-pixel crop needs no more.
    pub max_analysis_side: u32,
}

impl Default for FaceConfig {
    fn default() -> Self {
        Self {
            detector: DetectorParams::default(),
            quality: QualityThresholds::default(),
            matching: MatchPolicy::default(),
            embedding: EmbeddingConfig::default(),
            max_analysis_side: 1280,
        }
    }
}

/// The chosen face with everything measured on it. Coordinates are in the input image's pixels.
#[derive(Debug, Clone)]
pub struct AnalyzedFace {
    pub detection: Detection,
    pub landmarks: Landmarks68,
    pub five_points: FivePoints,
    pub measures: QualityMeasures,
    /// The 112×112 ArcFace-aligned crop (quality measures, `fr_feature` and `sface` input).
    pub aligned: RgbImage,
    /// The template: the configured models' embeddings fused (see [`fusion`]).
    pub embedding: Embedding,
    /// Each configured model's own embeddings (what `embedding` was fused from).
    pub parts: Vec<PartEmbedding>,
}

/// The result of analysing one image.
#[derive(Debug, Clone)]
pub struct FaceAnalysis {
    pub image_width: u32,
    pub image_height: u32,
    /// Every face found, best score first, in input-image pixels.
    pub detections: Vec<Detection>,
    /// The face chosen for verification, if any.
    pub face: Option<AnalyzedFace>,
    /// Quality-gate failures; empty means the face is usable.
    pub reasons: Vec<QualityReason>,
}

impl FaceAnalysis {
    pub fn is_usable(&self) -> bool {
        self.face.is_some() && self.reasons.is_empty()
    }

    /// The embedding when the face passed the gate, else the reasons it did not.
    pub fn usable_embedding(&self) -> Result<&Embedding, &[QualityReason]> {
        match &self.face {
            Some(face) if self.reasons.is_empty() => Ok(&face.embedding),
            _ => Err(&self.reasons),
        }
    }

    pub fn reason_codes(&self) -> Vec<&'static str> {
        self.reasons.iter().map(|r| r.code()).collect()
    }
}

/// Owns the model sessions (shared) and the configuration.
#[derive(Debug, Clone)]
pub struct FaceEngine {
    models: Arc<ModelSet>,
    config: FaceConfig,
}

impl FaceEngine {
    pub fn new(models: Arc<ModelSet>, config: FaceConfig) -> Self {
        Self { models, config }
    }

    pub fn config(&self) -> &FaceConfig {
        &self.config
    }

    pub fn models(&self) -> &ModelSet {
        &self.models
    }

    /// Version string of the embedding weights, stored next to every template.
    /// For a fusion: every member's weights and the fusion itself, e.g.
    /// `sface@5050727e7f05+dlib_resnet@45f9f54a002c:flip`.
    pub fn embedding_version(&self) -> String {
        self.embedding_version_for(&self.config.embedding)
    }

    /// [`Self::embedding_version`] of another embedding configuration.
    pub fn embedding_version_for(&self, config: &EmbeddingConfig) -> String {
        let members: Vec<String> = config
            .members()
            .into_iter()
            .map(|(model, member)| {
                let name = model.model_name();
                let version = self.models.version_of(name).unwrap_or_else(|| name.to_string());
                let flip = if member.flip { ":flip" } else { "" };
                let weight = if member.weight == 1.0 { String::new() } else { format!("*{}", member.weight) };
                format!("{version}{flip}{weight}")
            })
            .collect();
        members.join("+")
    }

    /// Decodes an upload (JPEG/PNG/WebP within `limits`) and analyses it.
    pub fn analyze_bytes(&self, bytes: &[u8], limits: &IntakeLimits) -> Result<FaceAnalysis, FaceError> {
        let (image, scale) = imaging::decode_for_analysis(bytes, limits, self.config.max_analysis_side)?;
        self.analyze_scaled(&image, scale)
    }

    /// Detects, aligns, embeds and gates the main face of `image`.
    pub fn analyze(&self, image: &RgbImage) -> Result<FaceAnalysis, FaceError> {
        let (w, h) = image.dimensions();
        let work = bounded(image, self.config.max_analysis_side);
        let scale = work.width() as f32 / w.max(1) as f32;
        let mut analysis = self.analyze_scaled(&work, scale)?;
        analysis.image_width = w;
        analysis.image_height = h;
        Ok(analysis)
    }

    /// Analyses `work`, an image that is `scale` times the size of the uploaded one; every
    /// coordinate and pixel measure in the result refers to the uploaded image.
    pub fn analyze_scaled(&self, work: &RgbImage, scale: f32) -> Result<FaceAnalysis, FaceError> {
        let to_input = 1.0 / scale.max(1e-6);
        let detections = detect::detect_faces(&self.models, work, &self.config.detector)?;
        let (image_width, image_height) =
            ((work.width() as f32 * to_input).round() as u32, (work.height() as f32 * to_input).round() as u32);
        let Some(chosen) = detect::choose_primary(&detections, self.config.detector.tie_margin) else {
            return Ok(FaceAnalysis {
                image_width,
                image_height,
                detections: Vec::new(),
                face: None,
                reasons: vec![QualityReason::NoFace],
            });
        };
        let mut face = self.analyze_face(work, &detections[chosen], to_input)?;
        let mut reasons = Vec::new();
        if quality::has_competing_face(&detections, chosen, &self.config.quality) {
            reasons.push(QualityReason::MultipleFaces);
        }
        reasons.extend(quality::assess(&face.measures, &self.config.quality));
        face.detection.bbox = face.detection.bbox.scaled(to_input);
        let detections =
            detections.iter().map(|d| Detection { bbox: d.bbox.scaled(to_input), score: d.score }).collect();
        Ok(FaceAnalysis { image_width, image_height, detections, face: Some(face), reasons })
    }

    /// Landmarks, alignment, embedding and quality measures of one detected face in `work`.
    /// Landmarks come back in input-image pixels (`to_input` times `work`'s).
    pub fn analyze_face(
        &self,
        work: &RgbImage,
        detection: &Detection,
        to_input: f32,
    ) -> Result<AnalyzedFace, FaceError> {
        let landmarks = landmarks::detect_landmarks(&self.models, work, detection)?;
        let five_points = landmarks.five_points();
        let (aligned, _) = align::align_arcface(work, &five_points).ok_or(FaceError::Alignment)?;
        let parts = fusion::embed_parts(&self.models, work, &five_points, Some(&aligned), &self.config.embedding)?
            .ok_or(FaceError::Alignment)?;
        let embedding = fusion::fuse(&parts, &self.config.embedding).ok_or(FaceError::Alignment)?;
        let eyes = eyes::eye_state(&self.models, work, &landmarks)?;
        let (brightness, clipped_fraction, sharpness) = quality::photometric_measures(&aligned);
        let measures = QualityMeasures {
            eye_distance_px: five_points.eye_distance() * to_input,
            brightness,
            clipped_fraction,
            sharpness,
            pose: pose::estimate_pose(&landmarks),
            eyes,
        };
        Ok(AnalyzedFace {
            detection: *detection,
            landmarks: landmarks.scaled(to_input),
            five_points: five_points.scaled(to_input),
            measures,
            aligned,
            embedding,
            parts,
        })
    }

    /// Cosine similarity of two embeddings.
    pub fn compare(&self, a: &Embedding, b: &Embedding) -> f32 {
        a.cosine(b)
    }

    /// Compares and applies the configured threshold for `kind` (the decision is logged).
    pub fn verify(&self, probe: &Embedding, reference: &Embedding, kind: MatchKind) -> MatchDecision {
        self.config.matching.decide(kind, probe.cosine(reference))
    }
}

/// Whether manifest model `name` is one the face (and liveness) engine runs: the `fr_*` models
/// and the fusion's embedding models. Lets tools load only these.
pub fn is_face_model(name: &str) -> bool {
    name.starts_with("fr_") || EmbeddingModel::parse(name).is_some()
}

/// The image itself when small enough, else a downscaled copy.
fn bounded(image: &RgbImage, max_side: u32) -> Cow<'_, RgbImage> {
    if image.width().max(image.height()) <= max_side {
        Cow::Borrowed(image)
    } else {
        Cow::Owned(imaging::fit_within(image, max_side))
    }
}
