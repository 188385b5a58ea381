//! `thirdfactor eval liveness DIR --out DIR`: the liveness engine on a labelled folder in the
//! layout of the shared liveness set (`labels.csv` with `file,kind,…`; `frames/NAME/` folders
//! of JPEG frames at 10 fps; `stills/*.jpg`). Clips are cut into 12-frame windows (stride 6),
//! each window is answered to the challenge it actually performs (a yaw excursion ≥ 20° from
//! its first frame is a turn in that direction; otherwise a turn is asked and not done), and
//! the decision is counted per kind: APCER per attack kind, BPCER on bona fide turn windows.
//! Stills become two bursts: the picture tilted by hand (a planar attack) and held still.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use image::RgbImage;
use serde::Serialize;
use thirdfactor_engine::liveness::frames::AnalyzedFrame;
use thirdfactor_engine::liveness::synthetic::tilted_burst;
use thirdfactor_engine::liveness::{Action, Challenge, Frame, LivenessEngine, ReasonCode};

use super::report::{self, Axes};

pub const WINDOW: usize = 12;
pub const STRIDE: usize = 6;
const FRAME_MS: i64 = 100;
const TURN_DEGREES: f32 = 20.0;

#[derive(Debug, Clone, Serialize)]
pub struct WindowResult {
    pub sequence: String,
    pub kind: String,
    pub start: usize,
    pub inferred: Option<Action>,
    pub yaw_excursion: f32,
    pub approved: bool,
    pub reasons: Vec<ReasonCode>,
    pub score: f32,
    pub homography_residual: Option<f32>,
    pub nose_ratio_change: Option<f32>,
    pub nose_parallax: Option<f32>,
    /// Median texture parallax (reference pixels) of the flow test.
    pub flow_parallax_px: Option<f32>,
    pub eye_distance_px: Option<f32>,
    pub passive_mean: Option<f32>,
    pub model_yaw_excursion: Option<f32>,
    /// Identity check: lowest cosine between embedded frames, lowest consecutive box IoU.
    pub identity_min: Option<f32>,
    pub track_iou_min: Option<f32>,
    pub total_ms: f32,
}

#[derive(Debug, Clone, Serialize)]
pub struct KindSummary {
    pub kind: String,
    pub windows: usize,
    pub turn_windows: usize,
    /// Accepted windows among all / among turn windows.
    pub accepted: usize,
    pub accepted_turn_windows: usize,
    /// How often each reason fired.
    pub reasons: BTreeMap<String, usize>,
    /// Windows rejected by this reason alone (what each check contributes on its own).
    pub sole_reasons: BTreeMap<String, usize>,
    pub median_ms: f32,
}

#[derive(Debug, Clone, Serialize)]
pub struct LivenessReport {
    pub windows: Vec<WindowResult>,
    pub kinds: Vec<KindSummary>,
    /// Bona fide turn windows rejected / all of them.
    pub bpcer: f64,
    /// Per attack kind: accepted / attempted windows.
    pub apcer: BTreeMap<String, f64>,
}

/// One labelled sequence: frames and the kind from labels.csv.
struct Sequence {
    name: String,
    kind: String,
    frames: Vec<Frame>,
}

/// `engine` decides each window as the server would; `analysis` (the same engine with `fr_pose`
/// on every frame) measures the clips once to infer what each window performs.
pub fn run(
    engine: &LivenessEngine,
    analysis: &LivenessEngine,
    dir: &Path,
    out: &Path,
) -> anyhow::Result<LivenessReport> {
    std::fs::create_dir_all(out)?;
    let sequences = load_sequences(dir)?;
    let total: usize = sequences.iter().map(|s| window_starts(s.frames.len()).len()).sum();
    let bar = report::progress(total as u64, "liveness windows");
    let mut windows = Vec::new();
    for seq in &sequences {
        // Analyse every frame once with every stage, to infer what each window performs.
        let analyzed = analysis.analyze(&seq.frames, true);
        for start in window_starts(seq.frames.len()) {
            windows.push(evaluate_window(engine, seq, &analyzed, start));
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    let report = summarise(windows);
    write_outputs(&report, out)?;
    Ok(report)
}

fn window_starts(n: usize) -> Vec<usize> {
    if n < WINDOW { Vec::new() } else { (0..=n - WINDOW).step_by(STRIDE).collect() }
}

/// What the window does: the direction of its largest yaw excursion from its first frame, if
/// at least 20°.
fn infer_action(frames: &[AnalyzedFrame], model: bool) -> (Option<Action>, f32) {
    let yaw = |f: &AnalyzedFrame| if model { f.report.model_pose.map(|p| p.yaw) } else { f.report.pose.map(|p| p.yaw) };
    let yaws: Vec<f32> = frames.iter().filter_map(yaw).collect();
    let Some(first) = yaws.first().copied() else { return (None, 0.0) };
    let up = yaws.iter().map(|y| y - first).fold(0.0, f32::max);
    let down = yaws.iter().map(|y| first - y).fold(0.0, f32::max);
    let (excursion, action) = if up >= down { (up, Action::TurnRight) } else { (down, Action::TurnLeft) };
    ((excursion >= TURN_DEGREES).then_some(action), excursion)
}

fn evaluate_window(engine: &LivenessEngine, seq: &Sequence, analyzed: &[AnalyzedFrame], start: usize) -> WindowResult {
    let (inferred, yaw_excursion) = infer_action(&analyzed[start..start + WINDOW], false);
    let (_, model_excursion) = infer_action(&analyzed[start..start + WINDOW], true);
    let frames = &seq.frames[start..start + WINDOW];
    let issued = frames[0].timestamp_ms - 500;
    let challenge = Challenge {
        nonce: "eval".into(),
        actions: vec![inferred.unwrap_or(Action::TurnLeft)],
        issued_at_ms: issued,
        window_ms: 8_000,
    };
    let started = Instant::now();
    let decision = engine.evaluate(&challenge, "eval", frames, None);
    let total_ms = started.elapsed().as_secs_f32() * 1000.0;
    let geometry = decision.details.geometry.as_ref().and_then(|g| g.measures);
    WindowResult {
        sequence: seq.name.clone(),
        kind: seq.kind.clone(),
        start,
        inferred,
        yaw_excursion,
        approved: decision.approved,
        reasons: decision.reasons.clone(),
        score: decision.score,
        homography_residual: geometry.map(|m| m.homography_residual),
        nose_ratio_change: geometry.map(|m| m.nose_ratio_change),
        nose_parallax: geometry.map(|m| m.nose_parallax),
        flow_parallax_px: decision.details.geometry.as_ref().and_then(|g| g.flow).map(|f| f.median_px),
        eye_distance_px: geometry.map(|m| m.eye_distance_px),
        passive_mean: decision.details.passive.as_ref().and_then(|p| p.mean_live),
        model_yaw_excursion: analyzed[start].report.model_pose.map(|_| model_excursion),
        identity_min: decision.details.identity.as_ref().and_then(|i| i.min_within_burst),
        track_iou_min: decision.details.identity.as_ref().and_then(|i| i.min_track_iou),
        total_ms,
    }
}

fn summarise(windows: Vec<WindowResult>) -> LivenessReport {
    let mut by_kind: BTreeMap<String, Vec<&WindowResult>> = BTreeMap::new();
    for w in &windows {
        by_kind.entry(w.kind.clone()).or_default().push(w);
    }
    let kinds: Vec<KindSummary> = by_kind.iter().map(|(kind, ws)| kind_summary(kind, ws)).collect();
    let bona = kinds.iter().find(|k| k.kind == "bona_fide");
    let bpcer = bona.map_or(f64::NAN, |k| 1.0 - k.accepted_turn_windows as f64 / k.turn_windows.max(1) as f64);
    let apcer = kinds
        .iter()
        .filter(|k| k.kind != "bona_fide")
        .map(|k| (k.kind.clone(), k.accepted as f64 / k.windows.max(1) as f64))
        .collect();
    LivenessReport { windows, kinds, bpcer, apcer }
}

fn kind_summary(kind: &str, ws: &[&WindowResult]) -> KindSummary {
    let (mut reasons, mut sole_reasons) = (BTreeMap::new(), BTreeMap::new());
    for w in ws {
        for r in &w.reasons {
            *reasons.entry(r.code().to_string()).or_insert(0) += 1;
        }
        if let [only] = w.reasons.as_slice() {
            *sole_reasons.entry(only.code().to_string()).or_insert(0) += 1;
        }
    }
    let mut ms: Vec<f32> = ws.iter().map(|w| w.total_ms).collect();
    ms.sort_by(f32::total_cmp);
    KindSummary {
        kind: kind.to_string(),
        windows: ws.len(),
        turn_windows: ws.iter().filter(|w| w.inferred.is_some()).count(),
        accepted: ws.iter().filter(|w| w.approved).count(),
        accepted_turn_windows: ws.iter().filter(|w| w.approved && w.inferred.is_some()).count(),
        reasons,
        sole_reasons,
        median_ms: ms.get(ms.len() / 2).copied().unwrap_or(0.0),
    }
}

// ---------------------------------------------------------------------------------------------
// Input.

fn load_sequences(dir: &Path) -> anyhow::Result<Vec<Sequence>> {
    let labels = std::fs::read_to_string(dir.join("labels.csv")).context("labels.csv")?;
    let mut sequences = Vec::new();
    for row in labels.lines().skip(1).map(split_csv) {
        let (Some(file), Some(kind)) = (row.first(), row.get(1)) else { continue };
        let path = dir.join(file);
        if file.starts_with("frames/") && path.is_dir() {
            sequences.push(Sequence {
                name: file.trim_end_matches('/').to_string(),
                kind: kind.clone(),
                frames: frame_dir(&path)?,
            });
        } else if file.starts_with("stills/") && path.is_file() {
            sequences.extend(still_sequences(&path, file, kind)?);
        }
    }
    Ok(sequences)
}

/// Splits one CSV line, honouring double quotes.
fn split_csv(line: &str) -> Vec<String> {
    let (mut fields, mut field, mut quoted) = (Vec::new(), String::new(), false);
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}

fn frame_dir(path: &Path) -> anyhow::Result<Vec<Frame>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("jpg")))
        .collect();
    files.sort();
    files
        .iter()
        .enumerate()
        .map(|(i, p)| {
            Ok(Frame { jpeg: as_the_page_sends(std::fs::read(p)?)?, timestamp_ms: 1_000_000 + FRAME_MS * i as i64 })
        })
        .collect()
}

/// The page sends JPEGs of at most 720 px: larger frames (pis_* clips are 960×540) are scaled
/// down and re-encoded, the others kept byte for byte.
fn as_the_page_sends(jpeg: Vec<u8>) -> anyhow::Result<Vec<u8>> {
    const PAGE_MAX_SIDE: u32 = 720;
    let image = image::load_from_memory(&jpeg)?.into_rgb8();
    if image.width().max(image.height()) <= PAGE_MAX_SIDE {
        return Ok(jpeg);
    }
    let small = thirdfactor_engine::imaging::fit_within(&image, PAGE_MAX_SIDE);
    let mut out = std::io::Cursor::new(Vec::new());
    small.write_to(&mut out, image::ImageFormat::Jpeg)?;
    Ok(out.into_inner())
}

/// A still attack as two bursts: tilted by hand (±25°) and held still (with a little
/// brightness flicker so the frames are not byte-identical).
fn still_sequences(path: &Path, file: &str, kind: &str) -> anyhow::Result<Vec<Sequence>> {
    let image = image::open(path)?.into_rgb8();
    // The stills are stored rotated by 90° (SOURCES.md); upright them and bound to 640 px.
    let upright = thirdfactor_engine::imaging::fit_within(&image::imageops::rotate90(&image), 640);
    let tilted = tilted_burst(&upright, WINDOW, 25.0);
    let still: Vec<RgbImage> = (0..WINDOW)
        .map(|i| {
            let mut im = upright.clone();
            im.pixels_mut().for_each(|p| p.0 = p.0.map(|v| v.saturating_add((i % 3) as u8 * 2)));
            im
        })
        .collect();
    Ok(vec![
        Sequence { name: format!("{file}#tilted"), kind: kind.to_string(), frames: encode(&tilted)? },
        Sequence { name: format!("{file}#still"), kind: kind.to_string(), frames: encode(&still)? },
    ])
}

fn encode(images: &[RgbImage]) -> anyhow::Result<Vec<Frame>> {
    images
        .iter()
        .enumerate()
        .map(|(i, im)| {
            let mut out = std::io::Cursor::new(Vec::new());
            im.write_to(&mut out, image::ImageFormat::Jpeg)?;
            Ok(Frame { jpeg: out.into_inner(), timestamp_ms: 1_000_000 + FRAME_MS * i as i64 })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Output.

fn write_outputs(report: &LivenessReport, out: &Path) -> anyhow::Result<()> {
    report::write_json(&out.join("report.json"), report)?;
    report::write_text(&out.join("report.md"), &markdown(report))?;
    let hres = per_kind(report, |w| w.homography_residual.map(|v| (v as f64).min(0.6)));
    let axes = Axes {
        title: "Homography residual per 12-frame window",
        x_label: "residual (inter-ocular distances)",
        y_label: "fraction of the kind's windows",
        x_range: (0.0, 0.6),
        y_range: (0.0, 1.0),
        log_x: false,
    };
    report::histogram_plot(&out.join("homography_residual.png"), &axes, &as_refs(&hres), 30)?;
    let passive = per_kind(report, |w| w.passive_mean.map(f64::from));
    let axes = Axes {
        title: "Passive model: mean P(live) per 12-frame window",
        x_label: "mean P(live) (fr_liveness, frontal frames)",
        y_label: "fraction of the kind's windows",
        x_range: (0.0, 1.0),
        y_range: (0.0, 1.0),
        log_x: false,
    };
    report::histogram_plot(&out.join("passive_live.png"), &axes, &as_refs(&passive), 20)?;
    Ok(())
}

/// One value per window, grouped by kind.
fn per_kind(report: &LivenessReport, value: impl Fn(&WindowResult) -> Option<f64>) -> Vec<(String, Vec<f64>)> {
    report
        .kinds
        .iter()
        .map(|k| (k.kind.clone(), report.windows.iter().filter(|w| w.kind == k.kind).filter_map(&value).collect()))
        .collect()
}

fn as_refs(groups: &[(String, Vec<f64>)]) -> Vec<(&str, &[f64])> {
    groups.iter().map(|(k, v)| (k.as_str(), v.as_slice())).collect()
}

fn markdown(report: &LivenessReport) -> String {
    let mut md = String::from("# Liveness evaluation\n\n");
    md += &format!("BPCER (bona fide turn windows rejected): {:.1} %\n\n", report.bpcer * 100.0);
    md += "| kind | windows | turn windows | accepted | accepted turn windows | APCER | median ms | reasons (alone) |\n|---|---|---|---|---|---|---|---|\n";
    for k in &report.kinds {
        let apcer = report.apcer.get(&k.kind).map_or("–".to_string(), |a| format!("{:.1} %", a * 100.0));
        let reasons: Vec<String> = k
            .reasons
            .iter()
            .map(|(r, n)| format!("{r} {n} ({})", k.sole_reasons.get(r).copied().unwrap_or(0)))
            .collect();
        md += &format!(
            "| {} | {} | {} | {} | {} | {} | {:.0} | {} |\n",
            k.kind,
            k.windows,
            k.turn_windows,
            k.accepted,
            k.accepted_turn_windows,
            apcer,
            k.median_ms,
            reasons.join(", ")
        );
    }
    md += "\n## Windows\n\n| sequence | start | inferred | yaw exc. (landmarks / model) | hres | dr | nose | flow px | passive | identity | track IoU | approved | reasons |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
    for w in &report.windows {
        let f = |v: Option<f32>| v.map_or("–".to_string(), |v| format!("{v:.3}"));
        let reasons: Vec<&str> = w.reasons.iter().map(|r| r.code()).collect();
        md += &format!(
            "| {} | {} | {} | {:.0} / {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            w.sequence,
            w.start,
            w.inferred.map_or("–", |a| a.code()),
            w.yaw_excursion,
            w.model_yaw_excursion.map_or("–".to_string(), |v| format!("{v:.0}")),
            f(w.homography_residual),
            f(w.nose_ratio_change),
            f(w.nose_parallax),
            w.flow_parallax_px.map_or("–".to_string(), |v| format!("{v:.2}")),
            f(w.passive_mean),
            f(w.identity_min),
            f(w.track_iou_min),
            w.approved,
            reasons.join(" ")
        );
    }
    md
}
