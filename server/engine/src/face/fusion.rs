//! Score fusion of several face-embedding models.
//!
//! Each member model embeds its own aligned crop of the same five points; its L2-normalised
//! embedding is scaled by √(wᵢ / Σw) and the scaled vectors are concatenated. The result is
//! again unit length and its cosine with another fused embedding is the weighted mean of the
//! members' cosines, Σ wᵢ·cosᵢ / Σ wᵢ — so a fused template is an ordinary [`Embedding`] and
//! everything that compares embeddings stays as it is. Per-model z-normalisation of the scores
//! is the same thing up to an affine map of the score (weights wᵢ ∝ 1/σᵢ of the impostor
//! scores), so weights cover it; `docs/face-engine.md` gives the measured options.
//!
//! Members (`research/embeddings.md`):
//! - `fr_feature`: MobileFaceNet 512-d, ArcFace 112×112 crop, BGR, (p − 127)/128.
//! - `sface`: OpenCV Zoo SFace 128-d (converted to float32), the same 112×112 crop, RGB 0..255.
//! - `dlib_resnet`: dlib's ResNet 128-d (converted to ONNX), a 150×150 chip from the same five
//!   points on dlib's own template, RGB 0..255 (the graph subtracts dlib's mean and scales).

use image::RgbImage;
use serde::Serialize;

use super::align;
use super::embed::{self, Embedding};
use super::geometry::Point;
use super::landmarks::FivePoints;
use super::runtime::infer;
use crate::models::{ModelError, ModelSet};

/// dlib's 150×150 face chip (padding 0.25) expressed as the five points' template: the ArcFace
/// warp with another template and size (`research/embeddings.md` §3.2, `DLIB_CHIP_T5`).
pub const DLIB_CHIP_150: [Point; 5] = [
    Point::new(47.3526, 46.5059),
    Point::new(100.2736, 46.8024),
    Point::new(74.4461, 77.5008),
    Point::new(52.5171, 102.0327),
    Point::new(95.2599, 102.5108),
];
pub const DLIB_CHIP_SIZE: u32 = 150;

/// One embedding model that can take part in a fusion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EmbeddingModel {
    FrFeature,
    Sface,
    DlibResnet,
}

impl EmbeddingModel {
    pub const ALL: [EmbeddingModel; 3] = [EmbeddingModel::FrFeature, EmbeddingModel::Sface, EmbeddingModel::DlibResnet];

    /// The manifest name (= ONNX session name).
    pub fn model_name(self) -> &'static str {
        match self {
            EmbeddingModel::FrFeature => embed::MODEL,
            EmbeddingModel::Sface => "sface",
            EmbeddingModel::DlibResnet => "dlib_resnet",
        }
    }

    pub fn parse(name: &str) -> Option<EmbeddingModel> {
        Self::ALL.into_iter().find(|m| m.model_name() == name)
    }

    fn dimension(self) -> usize {
        match self {
            EmbeddingModel::FrFeature => embed::DIMENSION,
            EmbeddingModel::Sface | EmbeddingModel::DlibResnet => 128,
        }
    }

    /// Raw (unnormalised) output for one crop of the right kind.
    fn raw(self, models: &ModelSet, crop: &RgbImage) -> Result<Vec<f32>, ModelError> {
        let (input, output, data) = match self {
            EmbeddingModel::FrFeature => return embed::raw_embedding(models, crop),
            EmbeddingModel::Sface => ("data", "fc1", rgb_planar(crop)),
            EmbeddingModel::DlibResnet => ("input", "descriptor", rgb_planar(crop)),
        };
        let name = self.model_name();
        let shape = [1, 3, crop.height() as usize, crop.width() as usize];
        let out = infer(models, name, input, shape, data, &[output])?;
        out.into_iter().next().filter(|v| v.len() == self.dimension()).ok_or_else(|| ModelError::Inference {
            name: name.into(),
            message: format!("expected {} outputs", self.dimension()),
        })
    }
}

/// One member of the fusion: whether it also embeds the mirrored crop (test-time augmentation)
/// and its weight in the mean of cosines.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Member {
    pub flip: bool,
    pub weight: f32,
}

impl Member {
    pub const PLAIN: Member = Member { flip: false, weight: 1.0 };
    pub const FLIPPED: Member = Member { flip: true, weight: 1.0 };
}

/// Which models make the embedding; absent models are not run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EmbeddingConfig {
    pub fr_feature: Option<Member>,
    pub sface: Option<Member>,
    pub dlib_resnet: Option<Member>,
}

impl Default for EmbeddingConfig {
    /// SFace + dlib ResNet (crop + mirror), dlib weighted 2.75: the best option measured by
    /// `thirdfactor eval faces` (docs/face-engine.md, "Fusion"). 2.75 ≈ σ(SFace) / σ(dlib) of
    /// the impostor scores, i.e. the mean of z-normalised scores.
    fn default() -> Self {
        Self { fr_feature: None, sface: Some(Member::PLAIN), dlib_resnet: Some(Member { flip: true, weight: 2.75 }) }
    }
}

impl EmbeddingConfig {
    /// `fr_feature` alone: the single-model pipeline of the Python reference.
    pub fn fr_feature_only() -> Self {
        Self { fr_feature: Some(Member::PLAIN), sface: None, dlib_resnet: None }
    }

    /// Every model, each embedded with and without its mirror image (for evaluations that
    /// compare fusions: [`PartEmbedding`] keeps both).
    pub fn everything() -> Self {
        Self { fr_feature: Some(Member::FLIPPED), sface: Some(Member::FLIPPED), dlib_resnet: Some(Member::FLIPPED) }
    }

    /// The same members and weights without mirror images: one model run fewer per flipped
    /// member. The vector stays comparable with flipped templates (same parts, same weights);
    /// the liveness frames use it, where the selfie, not the frame, carries the match.
    pub fn without_flips(self) -> Self {
        let plain = |m: Option<Member>| m.map(|m| Member { flip: false, ..m });
        Self { fr_feature: plain(self.fr_feature), sface: plain(self.sface), dlib_resnet: plain(self.dlib_resnet) }
    }

    pub fn member(&self, model: EmbeddingModel) -> Option<Member> {
        match model {
            EmbeddingModel::FrFeature => self.fr_feature,
            EmbeddingModel::Sface => self.sface,
            EmbeddingModel::DlibResnet => self.dlib_resnet,
        }
    }

    pub fn set(&mut self, model: EmbeddingModel, member: Option<Member>) {
        match model {
            EmbeddingModel::FrFeature => self.fr_feature = member,
            EmbeddingModel::Sface => self.sface = member,
            EmbeddingModel::DlibResnet => self.dlib_resnet = member,
        }
    }

    /// The configured members in a fixed order (the order of the concatenation).
    pub fn members(&self) -> Vec<(EmbeddingModel, Member)> {
        EmbeddingModel::ALL.into_iter().filter_map(|m| self.member(m).map(|member| (m, member))).collect()
    }

    /// Parses `model[:flip][*weight]` items separated by `+`, e.g. `sface+dlib_resnet:flip`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut config = Self { fr_feature: None, sface: None, dlib_resnet: None };
        for item in spec.split('+').map(str::trim).filter(|s| !s.is_empty()) {
            let (item, weight) = match item.split_once('*') {
                Some((i, w)) => (i, w.parse::<f32>().map_err(|_| format!("bad weight in {item:?}"))?),
                None => (item, 1.0),
            };
            let (name, flip) = match item.strip_suffix(":flip") {
                Some(name) => (name, true),
                None => (item, false),
            };
            let model = EmbeddingModel::parse(name)
                .ok_or_else(|| format!("unknown embedding model {name:?} (fr_feature, sface, dlib_resnet)"))?;
            if !(weight.is_finite() && weight > 0.0) {
                return Err(format!("weight of {name} must be positive"));
            }
            config.set(model, Some(Member { flip, weight }));
        }
        if config.members().is_empty() {
            return Err("no embedding model given".into());
        }
        Ok(config)
    }

    /// The configuration in `parse`'s syntax (for reports and the template version).
    pub fn label(&self) -> String {
        let items: Vec<String> = self
            .members()
            .into_iter()
            .map(|(m, member)| {
                let flip = if member.flip { ":flip" } else { "" };
                let weight = if member.weight == 1.0 { String::new() } else { format!("*{}", member.weight) };
                format!("{}{flip}{weight}", m.model_name())
            })
            .collect();
        items.join("+")
    }
}

/// One model's embeddings of one face: of the crop, and (when the member flips) of the crop
/// plus its mirror image, summed before normalising.
#[derive(Debug, Clone)]
pub struct PartEmbedding {
    pub model: EmbeddingModel,
    pub plain: Embedding,
    pub flipped: Option<Embedding>,
}

impl PartEmbedding {
    /// The embedding a member with `flip` uses (the plain one when no flipped one exists).
    pub fn variant(&self, flip: bool) -> &Embedding {
        if flip { self.flipped.as_ref().unwrap_or(&self.plain) } else { &self.plain }
    }
}

/// Runs every configured model on its crop of the face given by `points` in `image`;
/// `arcface` is the 112×112 ArcFace crop when the caller has it already. `None` when the
/// points are degenerate.
pub fn embed_parts(
    models: &ModelSet,
    image: &RgbImage,
    points: &FivePoints,
    arcface: Option<&RgbImage>,
    config: &EmbeddingConfig,
) -> Result<Option<Vec<PartEmbedding>>, ModelError> {
    let members = config.members();
    let owned_arcface;
    let arcface = match arcface {
        Some(crop) => crop,
        None if members.iter().any(|(m, _)| *m != EmbeddingModel::DlibResnet) => {
            let Some((crop, _)) = align::align_arcface(image, points) else { return Ok(None) };
            owned_arcface = crop;
            &owned_arcface
        }
        None => &RgbImage::new(0, 0),
    };
    let mut parts = Vec::with_capacity(members.len());
    for (model, member) in members {
        let dlib_chip;
        let crop = if model == EmbeddingModel::DlibResnet {
            let Some(chip) = align::align_to_antialiased(image, points, &DLIB_CHIP_150, DLIB_CHIP_SIZE) else {
                return Ok(None);
            };
            dlib_chip = chip;
            &dlib_chip
        } else {
            arcface
        };
        parts.push(embed_part(models, model, crop, member.flip)?);
    }
    Ok(Some(parts))
}

fn embed_part(
    models: &ModelSet,
    model: EmbeddingModel,
    crop: &RgbImage,
    flip: bool,
) -> Result<PartEmbedding, ModelError> {
    let degenerate =
        || ModelError::Inference { name: model.model_name().into(), message: "degenerate embedding".into() };
    let raw = model.raw(models, crop)?;
    let flipped = if flip {
        let mirrored = model.raw(models, &image::imageops::flip_horizontal(crop))?;
        let sum = raw.iter().zip(&mirrored).map(|(a, b)| a + b).collect();
        Some(Embedding::from_raw(sum).ok_or_else(degenerate)?)
    } else {
        None
    };
    Ok(PartEmbedding { model, plain: Embedding::from_raw(raw).ok_or_else(degenerate)?, flipped })
}

/// The fused embedding of `parts` under `config` (members missing from `parts` are skipped).
pub fn fuse(parts: &[PartEmbedding], config: &EmbeddingConfig) -> Option<Embedding> {
    let chosen: Vec<(&Embedding, f32)> = config
        .members()
        .into_iter()
        .filter_map(|(model, member)| {
            parts.iter().find(|p| p.model == model).map(|p| (p.variant(member.flip), member.weight))
        })
        .collect();
    if let [(only, _)] = chosen.as_slice() {
        return Some((*only).clone());
    }
    let total: f32 = chosen.iter().map(|(_, w)| w).sum();
    let mut joined = Vec::with_capacity(chosen.iter().map(|(e, _)| e.dimension()).sum());
    for (embedding, weight) in &chosen {
        let scale = (weight / total).sqrt();
        joined.extend(embedding.as_slice().iter().map(|v| v * scale));
    }
    Embedding::from_raw(joined)
}

/// The fused embedding of the face given by `points` (`None` for degenerate points).
pub fn embed_face(
    models: &ModelSet,
    image: &RgbImage,
    points: &FivePoints,
    config: &EmbeddingConfig,
) -> Result<Option<Embedding>, ModelError> {
    Ok(embed_parts(models, image, points, None, config)?.and_then(|parts| fuse(&parts, config)))
}

/// Planar RGB float32 of 0..255: SFace and the dlib graph normalise inside.
pub fn rgb_planar(crop: &RgbImage) -> Vec<f32> {
    let plane = (crop.width() * crop.height()) as usize;
    let mut data = vec![0f32; plane * 3];
    for (i, p) in crop.pixels().enumerate() {
        data[i] = p.0[0] as f32;
        data[plane + i] = p.0[1] as f32;
        data[2 * plane + i] = p.0[2] as f32;
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(model: EmbeddingModel, v: Vec<f32>) -> PartEmbedding {
        PartEmbedding { model, plain: Embedding::from_raw(v).unwrap(), flipped: None }
    }

    #[test]
    fn fused_cosine_is_the_weighted_mean_of_member_cosines() {
        let config = EmbeddingConfig::parse("sface*3+dlib_resnet").unwrap();
        let a = [part(EmbeddingModel::Sface, vec![1.0, 0.0]), part(EmbeddingModel::DlibResnet, vec![0.0, 1.0])];
        let b = [part(EmbeddingModel::Sface, vec![0.6, 0.8]), part(EmbeddingModel::DlibResnet, vec![1.0, 0.0])];
        let (fa, fb) = (fuse(&a, &config).unwrap(), fuse(&b, &config).unwrap());
        assert!((fa.cosine(&fa) - 1.0).abs() < 1e-6);
        let expected = (3.0 * 0.6 + 1.0 * 0.0) / 4.0;
        assert!((fa.cosine(&fb) - expected).abs() < 1e-6);
    }

    #[test]
    fn parses_and_prints_member_lists() {
        let config = EmbeddingConfig::parse("dlib_resnet:flip + sface").unwrap();
        assert_eq!(config.sface, Some(Member::PLAIN));
        assert_eq!(config.dlib_resnet, Some(Member::FLIPPED));
        assert_eq!(config.fr_feature, None);
        assert_eq!(config.label(), "sface+dlib_resnet:flip");
        assert_eq!(EmbeddingConfig::parse(&EmbeddingConfig::default().label()).unwrap(), EmbeddingConfig::default());
        assert!(EmbeddingConfig::parse("arcface").is_err());
        assert!(EmbeddingConfig::parse("sface*0").is_err());
        assert!(EmbeddingConfig::parse("").is_err());
    }

    #[test]
    fn rgb_input_is_planar_and_unscaled() {
        let img = RgbImage::from_pixel(2, 1, image::Rgb([255, 127, 0]));
        assert_eq!(rgb_planar(&img), vec![255.0, 255.0, 127.0, 127.0, 0.0, 0.0]);
    }
}
