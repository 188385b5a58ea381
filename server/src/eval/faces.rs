//! `thirdfactor eval faces`: verification accuracy of the face engine on a labelled folder.
//!
//! Every image is analysed once; every pair of analysed images is scored (genuine = same
//! identity). Images where no face is found, or where the quality gate rejects the face, are
//! failures to acquire: they are counted and listed, and the metrics are given both over every
//! image with a face ("all faces") and over the gated images only ("quality-gated").
//!
//! Every embedding model runs on every face, with and without flip TTA, so one run also
//! compares single models and fusions (`fusion_comparison`) and the `face_too_small` gate at
//! several eye distances (`eye_distance_sweep`); the detailed sections use `--embedding`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use rayon::prelude::*;
use serde::Serialize;
use thirdfactor_engine::face::fusion::{self, EmbeddingConfig, EmbeddingModel, Member};
use thirdfactor_engine::face::{Embedding, FaceEngine, PartEmbedding};
use thirdfactor_engine::imaging::IntakeLimits;

use super::report::{self, Axes, Series};

/// FMR targets the report gives FNMR at.
pub const FMR_TARGETS: [f64; 3] = [0.01, 0.001, 0.0001];
/// Thresholds of the fixed-threshold table: 0.20 to 0.80 in steps of 0.025 (fused scores sit
/// higher than single-model cosines: dlib's impostors average about 0.85 alone).
fn table_thresholds() -> Vec<f32> {
    (0..=24).map(|i| 0.20 + 0.025 * i as f32).collect()
}
/// Minimum eye distances (px) the `face_too_small` sweep tries.
const EYE_DISTANCE_SWEEP: [f32; 6] = [0.0, 10.0, 12.0, 16.0, 20.0, 24.0];

#[derive(Debug, Clone)]
pub struct FacesArgs {
    pub labels: PathBuf,
    pub images: PathBuf,
    pub out: PathBuf,
    /// Files (as written in the labels CSV) to leave out entirely.
    pub exclude: Vec<String>,
    /// The embedding (single model or fusion) the detailed sections score.
    pub embedding: EmbeddingConfig,
}

/// One labelled image and what the engine made of it.
#[derive(Debug, Serialize)]
pub struct ImageResult {
    pub file: String,
    pub identity: String,
    pub faces_found: usize,
    pub reasons: Vec<&'static str>,
    pub error: Option<String>,
    pub eye_distance_px: Option<f32>,
    /// Every model's embeddings of the chosen face.
    #[serde(skip)]
    pub parts: Option<Vec<PartEmbedding>>,
    /// The fused embedding under `FacesArgs::embedding`.
    #[serde(skip)]
    pub embedding: Option<Embedding>,
}

impl ImageResult {
    fn gated_ok(&self) -> bool {
        self.embedding.is_some() && self.reasons.is_empty()
    }

    /// Passes the gate when `face_too_small` is judged at `min_eye_px` instead of the default.
    fn gated_ok_at(&self, min_eye_px: f32) -> bool {
        self.embedding.is_some()
            && self.reasons.iter().all(|r| *r == "face_too_small")
            && self.eye_distance_px.is_some_and(|d| d >= min_eye_px)
    }
}

/// An FNMR-at-FMR operating point.
#[derive(Debug, Serialize)]
pub struct OperatingPoint {
    pub target_fmr: f64,
    /// The lowest threshold whose FMR is ≤ the target.
    pub threshold: f32,
    pub fmr: f64,
    pub fnmr: f64,
    /// Impostor pairs behind the point: at most `target × impostors` may score ≥ threshold.
    pub impostor_pairs: usize,
    pub false_matches: usize,
    pub false_non_matches: usize,
    /// False when the target is below 1/impostor_pairs: the point is then not measurable.
    pub resolvable: bool,
}

#[derive(Debug, Serialize)]
pub struct ThresholdRow {
    pub threshold: f32,
    pub false_matches: usize,
    pub fmr: f64,
    pub false_non_matches: usize,
    pub fnmr: f64,
}

/// Metrics over one set of images.
#[derive(Debug, Serialize)]
pub struct Metrics {
    pub images: usize,
    pub identities: usize,
    pub genuine_pairs: usize,
    pub impostor_pairs: usize,
    pub eer: f64,
    pub eer_threshold: f32,
    pub operating_points: Vec<OperatingPoint>,
    pub thresholds: Vec<ThresholdRow>,
    pub genuine_mean: f64,
    pub impostor_mean: f64,
    pub impostor_max: f32,
    pub genuine_min: f32,
    #[serde(skip)]
    pub genuine: Vec<f32>,
    #[serde(skip)]
    pub impostor: Vec<f32>,
}

#[derive(Debug, Serialize)]
pub struct FacesReport {
    pub labels: String,
    pub images_listed: usize,
    pub excluded: Vec<String>,
    /// `--embedding` in its own syntax, and with the weights' versions.
    pub embedding: String,
    pub embedding_model: String,
    pub failures_to_acquire: FtaSummary,
    pub all_faces: Metrics,
    pub quality_gated: Metrics,
    pub fusion_comparison: Vec<ComparisonRow>,
    pub eye_distance_sweep: Vec<SweepRow>,
    pub per_image: Vec<ImageResult>,
}

/// One scorer (single model or fusion) over both image sets.
#[derive(Debug, Serialize)]
pub struct ComparisonRow {
    pub embedding: String,
    pub all_faces: Summary,
    pub quality_gated: Summary,
}

/// The headline numbers of a [`Metrics`].
#[derive(Debug, Serialize)]
pub struct Summary {
    pub eer: f64,
    pub fnmr_at_fmr_1: f64,
    pub fnmr_at_fmr_01: f64,
    pub threshold_at_fmr_01: f32,
    pub false_matches_at_fmr_01: usize,
}

impl Summary {
    fn of(m: &Metrics) -> Summary {
        let at = |i: usize| m.operating_points.get(i);
        Summary {
            eer: m.eer,
            fnmr_at_fmr_1: at(0).map_or(f64::NAN, |p| p.fnmr),
            fnmr_at_fmr_01: at(1).map_or(f64::NAN, |p| p.fnmr),
            threshold_at_fmr_01: at(1).map_or(f32::NAN, |p| p.threshold),
            false_matches_at_fmr_01: at(1).map_or(0, |p| p.false_matches),
        }
    }
}

/// The gate with `face_too_small` at another eye distance (every other reason as configured).
#[derive(Debug, Serialize)]
pub struct SweepRow {
    pub min_eye_distance_px: f32,
    pub images: usize,
    pub fta_rate: f64,
    pub genuine_pairs: usize,
    pub impostor_pairs: usize,
    pub summary: Summary,
}

#[derive(Debug, Serialize)]
pub struct FtaSummary {
    /// Unreadable images or no face found: not in any metric.
    pub no_face_or_error: usize,
    /// A face was found but the quality gate rejected it: in "all faces", not in "gated".
    pub gate_rejected: usize,
    pub rate_all_faces: f64,
    pub rate_gated: f64,
    pub by_reason: BTreeMap<String, usize>,
}

/// Reads `file,identity` rows (a header line is skipped).
pub fn read_labels(path: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let rows: Vec<(String, String)> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(','))
        .map(|(f, id)| (f.trim().to_string(), id.trim().to_string()))
        .filter(|(f, id)| !(f == "file" && id == "identity"))
        .collect();
    anyhow::ensure!(!rows.is_empty(), "{} has no file,identity rows", path.display());
    Ok(rows)
}

fn analyse_one(engine: &FaceEngine, images: &Path, file: &str, identity: &str) -> ImageResult {
    let mut result = ImageResult {
        file: file.to_string(),
        identity: identity.to_string(),
        faces_found: 0,
        reasons: Vec::new(),
        error: None,
        eye_distance_px: None,
        parts: None,
        embedding: None,
    };
    let bytes = match std::fs::read(images.join(file)) {
        Ok(b) => b,
        Err(e) => {
            result.error = Some(e.to_string());
            return result;
        }
    };
    match engine.analyze_bytes(&bytes, &IntakeLimits::default()) {
        Ok(analysis) => {
            result.faces_found = analysis.detections.len();
            result.reasons = analysis.reason_codes();
            if let Some(face) = analysis.face {
                result.eye_distance_px = Some(face.measures.eye_distance_px);
                result.parts = Some(face.parts);
            }
        }
        Err(e) => result.error = Some(e.to_string()),
    }
    result
}

/// Analyses every image (progress bar), scores all pairs and writes the report files.
pub fn run(engine: &FaceEngine, args: &FacesArgs) -> anyhow::Result<FacesReport> {
    let labels = read_labels(&args.labels)?;
    let listed = labels.len();
    let labels: Vec<_> = labels.into_iter().filter(|(f, _)| !args.exclude.contains(f)).collect();
    let bar = report::progress(labels.len() as u64, "faces");
    let results: Vec<ImageResult> = labels
        .par_iter()
        .map(|(file, id)| {
            let r = analyse_one(engine, &args.images, file, id);
            bar.inc(1);
            r
        })
        .collect();
    bar.finish();
    let fusion_comparison = compare_fusions(&results);
    let mut results = results;
    set_embeddings(&mut results, &args.embedding);
    let all: Vec<&ImageResult> = results.iter().filter(|r| r.embedding.is_some()).collect();
    let gated: Vec<&ImageResult> = results.iter().filter(|r| r.gated_ok()).collect();
    let report = FacesReport {
        labels: args.labels.display().to_string(),
        images_listed: listed,
        excluded: args.exclude.clone(),
        embedding: args.embedding.label(),
        embedding_model: engine.embedding_version_for(&args.embedding),
        failures_to_acquire: fta_summary(&results),
        all_faces: metrics(&all),
        quality_gated: metrics(&gated),
        fusion_comparison,
        eye_distance_sweep: eye_distance_sweep(&results),
        per_image: results,
    };
    write_outputs(&args.out, &report)?;
    Ok(report)
}

/// Fuses every image's parts under `config` into `embedding`.
fn set_embeddings(results: &mut [ImageResult], config: &EmbeddingConfig) {
    for r in results {
        r.embedding = r.parts.as_ref().and_then(|parts| fusion::fuse(parts, config));
    }
}

/// The scorers the comparison table lists: each model alone, with and without flip, the
/// pairs and the triple with equal weights, and the z-normalised fusions.
fn candidate_fusions(results: &[ImageResult]) -> Vec<EmbeddingConfig> {
    let parse = |s: &str| EmbeddingConfig::parse(s).expect("built-in fusion spec");
    let mut list: Vec<EmbeddingConfig> = [
        "fr_feature",
        "fr_feature:flip",
        "sface",
        "sface:flip",
        "dlib_resnet",
        "dlib_resnet:flip",
        "fr_feature+dlib_resnet",
        "fr_feature+dlib_resnet:flip",
        "fr_feature+sface",
        "sface+dlib_resnet",
        "sface+dlib_resnet:flip",
        "sface:flip+dlib_resnet:flip",
        "fr_feature+sface+dlib_resnet",
        "fr_feature+sface+dlib_resnet:flip",
        "fr_feature:flip+sface:flip+dlib_resnet:flip",
        // Weight sensitivity around the z-normalised weights (dlib ≈ 2.75 × SFace).
        "sface+dlib_resnet:flip*2",
        "sface+dlib_resnet:flip*2.75",
        "sface+dlib_resnet:flip*3.5",
        "sface:flip+dlib_resnet:flip*2.75",
    ]
    .into_iter()
    .map(parse)
    .collect();
    for base in ["sface+dlib_resnet:flip", "sface:flip+dlib_resnet:flip", "fr_feature+sface+dlib_resnet:flip"] {
        list.push(z_normalised(&parse(base), results));
    }
    list
}

/// `config` with weights 1/σ of each member's impostor scores (over all faces): the weighted
/// mean is then the mean of z-normalised scores up to an affine map.
fn z_normalised(config: &EmbeddingConfig, results: &[ImageResult]) -> EmbeddingConfig {
    let mut out = *config;
    for (model, member) in config.members() {
        let mut single = EmbeddingConfig { fr_feature: None, sface: None, dlib_resnet: None };
        single.set(model, Some(Member { weight: 1.0, ..member }));
        let impostor = impostor_scores(results, &single);
        let n = impostor.len().max(1) as f64;
        let mean = impostor.iter().map(|&x| x as f64).sum::<f64>() / n;
        let sd = (impostor.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
        // Rounded so the label stays readable and reusable with --embedding.
        let weight = ((0.1 / sd.max(1e-3)) * 100.0).round() / 100.0;
        out.set(model, Some(Member { weight: weight as f32, ..member }));
    }
    out
}

/// Impostor scores over every image with a face under `config`.
fn impostor_scores(results: &[ImageResult], config: &EmbeddingConfig) -> Vec<f32> {
    let fused: Vec<(&str, Embedding)> =
        results.iter().filter_map(|r| Some((r.identity.as_str(), fusion::fuse(r.parts.as_ref()?, config)?))).collect();
    let mut impostor = Vec::new();
    for (i, (id_a, a)) in fused.iter().enumerate() {
        impostor.extend(fused[i + 1..].iter().filter(|(id_b, _)| id_b != id_a).map(|(_, b)| a.cosine(b)));
    }
    impostor
}

fn compare_fusions(results: &[ImageResult]) -> Vec<ComparisonRow> {
    let mut scratch: Vec<ImageResult> = results
        .iter()
        .map(|r| ImageResult {
            file: r.file.clone(),
            identity: r.identity.clone(),
            faces_found: r.faces_found,
            reasons: r.reasons.clone(),
            error: r.error.clone(),
            eye_distance_px: r.eye_distance_px,
            parts: r.parts.clone(),
            embedding: None,
        })
        .collect();
    let present: Vec<EmbeddingModel> = EmbeddingModel::ALL
        .into_iter()
        .filter(|m| results.iter().filter_map(|r| r.parts.as_ref()).flatten().any(|p| p.model == *m))
        .collect();
    candidate_fusions(results)
        .into_iter()
        .filter(|c| c.members().iter().all(|(m, _)| present.contains(m)))
        .map(|config| {
            set_embeddings(&mut scratch, &config);
            let all: Vec<&ImageResult> = scratch.iter().filter(|r| r.embedding.is_some()).collect();
            let gated: Vec<&ImageResult> = scratch.iter().filter(|r| r.gated_ok()).collect();
            ComparisonRow {
                embedding: config.label(),
                all_faces: Summary::of(&metrics(&all)),
                quality_gated: Summary::of(&metrics(&gated)),
            }
        })
        .collect()
}

fn eye_distance_sweep(results: &[ImageResult]) -> Vec<SweepRow> {
    let n = results.len().max(1) as f64;
    EYE_DISTANCE_SWEEP
        .iter()
        .map(|&min| {
            let kept: Vec<&ImageResult> = results.iter().filter(|r| r.gated_ok_at(min)).collect();
            let m = metrics(&kept);
            SweepRow {
                min_eye_distance_px: min,
                images: kept.len(),
                fta_rate: 1.0 - kept.len() as f64 / n,
                genuine_pairs: m.genuine_pairs,
                impostor_pairs: m.impostor_pairs,
                summary: Summary::of(&m),
            }
        })
        .collect()
}

fn fta_summary(results: &[ImageResult]) -> FtaSummary {
    let n = results.len().max(1) as f64;
    let no_face_or_error = results.iter().filter(|r| r.embedding.is_none()).count();
    let gate_rejected = results.iter().filter(|r| r.embedding.is_some() && !r.reasons.is_empty()).count();
    let mut by_reason = BTreeMap::new();
    for r in results {
        for code in &r.reasons {
            *by_reason.entry(code.to_string()).or_insert(0) += 1;
        }
        if r.error.is_some() {
            *by_reason.entry("error".to_string()).or_insert(0) += 1;
        }
    }
    FtaSummary {
        no_face_or_error,
        gate_rejected,
        rate_all_faces: no_face_or_error as f64 / n,
        rate_gated: (no_face_or_error + gate_rejected) as f64 / n,
        by_reason,
    }
}

/// Genuine and impostor scores over every pair of `images`.
pub fn pair_scores(images: &[&ImageResult]) -> (Vec<f32>, Vec<f32>) {
    let (mut genuine, mut impostor) = (Vec::new(), Vec::new());
    for (i, a) in images.iter().enumerate() {
        for b in &images[i + 1..] {
            let (Some(ea), Some(eb)) = (&a.embedding, &b.embedding) else { continue };
            let score = ea.cosine(eb);
            if a.identity == b.identity { genuine.push(score) } else { impostor.push(score) }
        }
    }
    (genuine, impostor)
}

fn metrics(images: &[&ImageResult]) -> Metrics {
    let (genuine, impostor) = pair_scores(images);
    let identities = images.iter().map(|r| r.identity.as_str()).collect::<std::collections::BTreeSet<_>>().len();
    let (eer, eer_threshold) = equal_error_rate(&genuine, &impostor);
    let mean = |v: &[f32]| v.iter().map(|&x| x as f64).sum::<f64>() / v.len().max(1) as f64;
    Metrics {
        images: images.len(),
        identities,
        genuine_pairs: genuine.len(),
        impostor_pairs: impostor.len(),
        eer,
        eer_threshold,
        operating_points: FMR_TARGETS.iter().map(|&t| operating_point(&genuine, &impostor, t)).collect(),
        thresholds: table_thresholds().into_iter().map(|t| threshold_row(&genuine, &impostor, t)).collect(),
        genuine_mean: mean(&genuine),
        impostor_mean: mean(&impostor),
        impostor_max: impostor.iter().copied().fold(f32::NEG_INFINITY, f32::max),
        genuine_min: genuine.iter().copied().fold(f32::INFINITY, f32::min),
        genuine,
        impostor,
    }
}

fn count_at_least(scores: &[f32], t: f32) -> usize {
    scores.iter().filter(|&&s| s >= t).count()
}

pub fn threshold_row(genuine: &[f32], impostor: &[f32], threshold: f32) -> ThresholdRow {
    let false_matches = count_at_least(impostor, threshold);
    let false_non_matches = genuine.len() - count_at_least(genuine, threshold);
    ThresholdRow {
        threshold,
        false_matches,
        fmr: false_matches as f64 / impostor.len().max(1) as f64,
        false_non_matches,
        fnmr: false_non_matches as f64 / genuine.len().max(1) as f64,
    }
}

/// The lowest threshold with FMR ≤ `target`: just above the (k+1)-th highest impostor score,
/// k = ⌊target · impostors⌋.
pub fn operating_point(genuine: &[f32], impostor: &[f32], target: f64) -> OperatingPoint {
    let mut sorted = impostor.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let allowed = (target * sorted.len() as f64).floor() as usize;
    let threshold = sorted.get(allowed).map_or(f32::NEG_INFINITY, |s| next_up(*s));
    let row = threshold_row(genuine, impostor, threshold);
    OperatingPoint {
        target_fmr: target,
        threshold,
        fmr: row.fmr,
        fnmr: row.fnmr,
        impostor_pairs: impostor.len(),
        false_matches: row.false_matches,
        false_non_matches: row.false_non_matches,
        resolvable: target * impostor.len() as f64 >= 1.0,
    }
}

fn next_up(x: f32) -> f32 {
    if x.is_finite() { f32::from_bits(if x >= 0.0 { x.to_bits() + 1 } else { x.to_bits() - 1 }) } else { x }
}

/// EER: at the threshold where FMR and FNMR are closest, their mean.
pub fn equal_error_rate(genuine: &[f32], impostor: &[f32]) -> (f64, f32) {
    let mut candidates: Vec<f32> = genuine.iter().chain(impostor).copied().collect();
    candidates.sort_by(f32::total_cmp);
    candidates.dedup();
    let mut best = (f64::INFINITY, 0.0, 0.0f32);
    for t in candidates {
        let row = threshold_row(genuine, impostor, t);
        let gap = (row.fmr - row.fnmr).abs();
        if gap < best.0 {
            best = (gap, (row.fmr + row.fnmr) / 2.0, t);
        }
    }
    (best.1, best.2)
}

/// A plotted curve: (x, y) points.
type Curve = Vec<(f64, f64)>;

/// ROC (TMR against FMR) and DET (FNMR against FMR) curves over every distinct score.
fn curves(m: &Metrics) -> (Curve, Curve) {
    let mut thresholds: Vec<f32> = m.impostor.clone();
    thresholds.sort_by(f32::total_cmp);
    thresholds.dedup();
    let floor = 0.5 / m.impostor.len().max(1) as f64; // FMR 0 drawn at half a pair on the log axis
    let (mut roc, mut det) = (Vec::new(), Vec::new());
    for t in thresholds.into_iter().rev() {
        let row = threshold_row(&m.genuine, &m.impostor, t);
        roc.push((row.fmr.max(floor), 1.0 - row.fnmr));
        det.push((row.fmr.max(floor), row.fnmr));
    }
    (roc, det)
}

fn write_outputs(out: &Path, report: &FacesReport) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    report::write_json(&out.join("report.json"), report)?;
    report::write_text(&out.join("report.md"), &markdown(report))?;
    plot(out, report)?;
    Ok(())
}

fn plot(out: &Path, report: &FacesReport) -> anyhow::Result<()> {
    let sets = [("all faces", &report.all_faces), ("quality-gated", &report.quality_gated)];
    let (mut roc, mut det) = (Vec::new(), Vec::new());
    for (name, m) in sets {
        let (r, d) = curves(m);
        roc.push(Series { name: format!("{name} (EER {:.2} %)", m.eer * 100.0), points: r });
        det.push(Series { name: name.to_string(), points: d });
    }
    let x_range = (1e-5, 1.0);
    let roc_axes = Axes { title: "ROC", x_label: "FMR", y_label: "TMR", x_range, y_range: (0.0, 1.0), log_x: true };
    report::line_plot(&out.join("roc.png"), &roc_axes, &roc)?;
    let det_axes = Axes { title: "DET", x_label: "FMR", y_label: "FNMR", x_range, y_range: (0.0, 0.5), log_x: true };
    report::line_plot(&out.join("det.png"), &det_axes, &det)?;
    let to_f64 = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
    let (g, i) = (to_f64(&report.all_faces.genuine), to_f64(&report.all_faces.impostor));
    let hist_axes = Axes {
        title: "Cosine similarity (all faces)",
        x_label: "score",
        y_label: "fraction of pairs",
        x_range: (-0.4, 1.0),
        y_range: (0.0, 0.12),
        log_x: false,
    };
    report::histogram_plot(&out.join("histogram.png"), &hist_axes, &[("genuine", &g), ("impostor", &i)], 70)?;
    Ok(())
}

fn pct(x: f64) -> String {
    format!("{:.2} %", x * 100.0)
}

fn metrics_markdown(name: &str, m: &Metrics) -> String {
    let mut s = format!(
        "## {name}\n\n{} images, {} identities: **{} genuine** and **{} impostor** pairs.\n\n\
         - EER **{}** (threshold {:.3})\n- genuine mean {:.3} (min {:.3}); impostor mean {:.3} (max {:.3})\n\n\
         | target FMR | threshold | FMR (false matches / impostor pairs) | FNMR (misses / genuine pairs) | note |\n\
         |---|---|---|---|---|\n",
        m.images,
        m.identities,
        m.genuine_pairs,
        m.impostor_pairs,
        pct(m.eer),
        m.eer_threshold,
        m.genuine_mean,
        m.genuine_min,
        m.impostor_mean,
        m.impostor_max
    );
    for p in &m.operating_points {
        let note = if p.resolvable { "" } else { "fewer than 1 impostor pair allowed: not measurable" };
        s += &format!(
            "| {} | {:.3} | {} ({}/{}) | **{}** ({}/{}) | {note} |\n",
            pct(p.target_fmr),
            p.threshold,
            pct(p.fmr),
            p.false_matches,
            p.impostor_pairs,
            pct(p.fnmr),
            p.false_non_matches,
            m.genuine_pairs
        );
    }
    s += "\n| threshold | false matches | FMR | misses | FNMR |\n|---|---|---|---|---|\n";
    for r in &m.thresholds {
        s += &format!(
            "| {:.2} | {} | {} | {} | {} |\n",
            r.threshold,
            r.false_matches,
            pct(r.fmr),
            r.false_non_matches,
            pct(r.fnmr)
        );
    }
    s + "\n"
}

fn summary_cells(m: &Summary) -> String {
    format!(
        "{} | {} | {} ({}) | {:.3}",
        pct(m.eer),
        pct(m.fnmr_at_fmr_1),
        pct(m.fnmr_at_fmr_01),
        m.false_matches_at_fmr_01,
        m.threshold_at_fmr_01
    )
}

fn comparison_markdown(r: &FacesReport) -> String {
    let mut s = String::from(
        "## Single models and fusions\n\nScore = weighted mean of the members' cosines (`model:flip` = crop + mirror \
         image, `*w` = weight). Same images and pairs as above.\n\n\
         | embedding | EER all | FNMR@1 % all | FNMR@0.1 % all (false matches) | thr@0.1 % all \
         | EER gated | FNMR@1 % gated | FNMR@0.1 % gated (false matches) | thr@0.1 % gated |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for row in &r.fusion_comparison {
        s += &format!(
            "| `{}` | {} | {} |\n",
            row.embedding,
            summary_cells(&row.all_faces),
            summary_cells(&row.quality_gated)
        );
    }
    s += "\n## `face_too_small` at other eye distances\n\nEvery other gate reason as configured; \
          scored with the embedding above.\n\n\
          | min eye distance (px) | images | FTA | genuine / impostor pairs | EER | FNMR@1 % | FNMR@0.1 % (false matches) | thr@0.1 % |\n\
          |---|---|---|---|---|---|---|---|\n";
    for row in &r.eye_distance_sweep {
        s += &format!(
            "| {} | {} | {} | {} / {} | {} |\n",
            row.min_eye_distance_px,
            row.images,
            pct(row.fta_rate),
            row.genuine_pairs,
            row.impostor_pairs,
            summary_cells(&row.summary)
        );
    }
    s + "\n"
}

fn markdown(r: &FacesReport) -> String {
    let fta = &r.failures_to_acquire;
    let mut s = format!(
        "# Face verification evaluation\n\nLabels: `{}` ({} images listed, {} excluded). Embedding: `{}` (`{}`).\n\n\
         ## Failures to acquire\n\n- no face found or unreadable: **{}**\n- face found but rejected by the quality gate: **{}**\n\
         - FTA rate: {} (all faces), {} (quality-gated)\n\n| reason | images |\n|---|---|\n",
        r.labels,
        r.images_listed,
        r.excluded.len(),
        r.embedding,
        r.embedding_model,
        fta.no_face_or_error,
        fta.gate_rejected,
        pct(fta.rate_all_faces),
        pct(fta.rate_gated)
    );
    for (reason, n) in &fta.by_reason {
        s += &format!("| {reason} | {n} |\n");
    }
    s += "\n";
    s += &metrics_markdown("All images with a face (no quality gate)", &r.all_faces);
    s += &metrics_markdown("Quality-gated images", &r.quality_gated);
    s += &comparison_markdown(r);
    s += "## Rejected or failed images\n\n| file | identity | faces | reasons / error |\n|---|---|---|---|\n";
    for i in r.per_image.iter().filter(|i| !i.gated_ok()) {
        let why = i.error.clone().unwrap_or_else(|| i.reasons.join(", "));
        s += &format!("| {} | {} | {} | {} |\n", i.file, i.identity, i.faces_found, why);
    }
    s + "\nPlots: `roc.png`, `det.png`, `histogram.png`.\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operating_point_allows_exactly_the_target_share_of_impostors() {
        let impostor: Vec<f32> = (0..1000).map(|i| i as f32 / 1000.0).collect();
        let genuine = vec![0.9985, 0.9995, 0.5];
        let p = operating_point(&genuine, &impostor, 0.001);
        assert_eq!(p.false_matches, 1);
        assert!(p.threshold > 0.998 && p.threshold <= 0.999);
        assert_eq!(p.false_non_matches, 1);
        assert!(p.resolvable);
        assert!(!operating_point(&genuine, &impostor, 0.0001).resolvable);
    }

    #[test]
    fn eer_of_separable_and_overlapping_scores() {
        assert_eq!(equal_error_rate(&[0.8, 0.9], &[0.1, 0.2]).0, 0.0);
        let (eer, _) = equal_error_rate(&[0.3, 0.6, 0.7, 0.8], &[0.1, 0.2, 0.4, 0.5]);
        assert!((eer - 0.25).abs() < 1e-9);
    }

    #[test]
    fn labels_skip_the_header_and_blank_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("labels.csv");
        std::fs::write(&path, "file,identity\na/1.jpg,p1\n\nb/2.jpg, p2\n").unwrap();
        let rows = read_labels(&path).unwrap();
        assert_eq!(rows, vec![("a/1.jpg".into(), "p1".into()), ("b/2.jpg".into(), "p2".into())]);
    }
}
