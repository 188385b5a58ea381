//! `thirdfactor eval documents DIR --out DIR`: the document engine on a folder of card photos
//! with ground-truth JSON (schema: the evaluation set's README): corner error, MRZ exact /
//! valid / wrong-but-valid, per-field exact match, names with accents, time per image, and a
//! failure analysis by capture condition. Optionally times RapidOCR on the same images in the
//! same run (`--rapidocr-python`), reported as a speed ratio.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use serde_json::Value;
use thirdfactor_engine::document::checks::Source;
use thirdfactor_engine::document::{DocumentEngine, DocumentReading, Timings};
use thirdfactor_engine::imaging::IntakeLimits;
use thirdfactor_engine::models::ModelSet;
use thirdfactor_engine::ocr::geometry::Point;

use super::report::{self, Axes};

/// One image's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct ImageResult {
    pub image: String,
    pub ms: f64,
    /// The engine's own per-stage times.
    pub stages: Option<Timings>,
    pub error: Option<String>,
    /// Largest corner error / image diagonal (ground truth with corners only).
    pub corner_error: Option<f64>,
    /// The corners found (TL, TR, BR, BL of the upright card, photo pixels), for failure analysis.
    pub corners: Option<[[f64; 2]; 4]>,
    pub mrz_expected: bool,
    pub mrz_found: bool,
    pub mrz_valid: bool,
    pub mrz_exact: bool,
    /// The source image's own check digits are invalid (public specimens).
    pub source_check_digits_invalid: bool,
    pub mrz_read: Vec<String>,
    pub mrz_truth: Vec<String>,
    /// Field → exact match (MRZ fields, normalised data, printed strings).
    pub fields: BTreeMap<String, bool>,
    /// What was read where a printed or normalised field missed (`None`: nothing read).
    pub field_misses: BTreeMap<String, FieldMiss>,
    /// Fields where the MRZ and the printed value disagree (`mrz_printed_mismatch`).
    pub disagreements: Vec<String>,
    pub accented_surname: Option<bool>,
    pub accented_given_names: Option<bool>,
    pub reasons: Vec<String>,
    /// Condition tags for the failure analysis.
    pub conditions: Vec<String>,
}

/// A field read wrong: what came out and what the ground truth says.
#[derive(Debug, Clone, Serialize)]
pub struct FieldMiss {
    pub got: Option<String>,
    pub want: String,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct Rate {
    pub hits: usize,
    pub n: usize,
}

impl Rate {
    fn add(&mut self, hit: bool) {
        self.n += 1;
        self.hits += usize::from(hit);
    }
    pub fn pct(&self) -> f64 {
        if self.n == 0 { 0.0 } else { 100.0 * self.hits as f64 / self.n as f64 }
    }
    fn show(&self) -> String {
        if self.n == 0 { "–".into() } else { format!("{:.1} % ({}/{})", self.pct(), self.hits, self.n) }
    }
}

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub images: usize,
    pub corners_within_2pct: Rate,
    pub median_corner_error_pct: Option<f64>,
    pub mrz_found: Rate,
    pub mrz_valid: Rate,
    pub mrz_exact: Rate,
    pub mrz_wrong_but_valid: Rate,
    pub fields: BTreeMap<String, Rate>,
    pub accented_surname: Rate,
    pub accented_given_names: Rate,
    pub by_condition: BTreeMap<String, Rate>,
    /// Corners within 2 % by capture condition.
    pub corners_by_condition: BTreeMap<String, Rate>,
    /// Median milliseconds per engine stage.
    pub stage_median_ms: BTreeMap<String, f64>,
    pub median_ms: f64,
    pub p90_ms: f64,
    pub rapidocr_median_ms: Option<f64>,
    pub speed_ratio_vs_rapidocr: Option<f64>,
}

pub fn run(models: Arc<ModelSet>, dir: &Path, out: &Path, rapidocr_python: Option<&Path>) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)?;
    let engine = DocumentEngine::new(models)?;
    let images = list_images(dir)?;
    anyhow::ensure!(!images.is_empty(), "no images with ground truth in {}", dir.display());
    // Warm-up: the first inference of each model is slower and would skew the timings.
    if let Ok(bytes) = std::fs::read(&images[0].0) {
        let _ = engine.read(&bytes, &IntakeLimits::default());
    }
    let bar = report::progress(images.len() as u64, "documents");
    let mut results = Vec::new();
    for (image, truth) in &images {
        results.push(evaluate_one(&engine, image, truth));
        bar.inc(1);
    }
    bar.finish();
    let mut summary = summarise(&results);
    if let Some(python) = rapidocr_python {
        let paths: Vec<&Path> = images.iter().map(|(p, _)| p.as_path()).collect();
        let times = rapidocr_times(python, &paths)?;
        let median = percentile(&times, 0.5);
        summary.rapidocr_median_ms = Some(median);
        summary.speed_ratio_vs_rapidocr = Some(median / summary.median_ms.max(1e-9));
    }
    report::write_json(&out.join("documents.json"), &serde_json::json!({"summary": &summary, "images": &results}))?;
    report::write_text(&out.join("documents.md"), &markdown(dir, &summary, &results))?;
    plots(out, &results)?;
    println!("{}", markdown(dir, &summary, &results));
    Ok(())
}

fn list_images(dir: &Path) -> anyhow::Result<Vec<(PathBuf, Value)>> {
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for json_path in entries.iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
        let truth: Value = serde_json::from_slice(&std::fs::read(json_path)?)?;
        let Some(name) = truth.get("image").and_then(Value::as_str) else { continue };
        let image = dir.join(name);
        if image.is_file() {
            out.push((image, truth));
        }
    }
    Ok(out)
}

fn evaluate_one(engine: &DocumentEngine, image: &Path, truth: &Value) -> ImageResult {
    let name = image.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let started = Instant::now();
    let reading = std::fs::read(image)
        .map_err(|e| e.to_string())
        .and_then(|bytes| engine.read(&bytes, &IntakeLimits::default()).map_err(|e| e.to_string()));
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let mrz_truth: Vec<String> = truth
        .pointer("/mrz/lines")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|l| l.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let mut result = ImageResult {
        image: name,
        ms,
        stages: None,
        error: None,
        corner_error: None,
        corners: None,
        mrz_expected: !mrz_truth.is_empty(),
        mrz_found: false,
        mrz_valid: false,
        mrz_exact: false,
        source_check_digits_invalid: truth.pointer("/mrz/check_digits_valid") == Some(&Value::Bool(false)),
        mrz_read: Vec::new(),
        mrz_truth,
        fields: BTreeMap::new(),
        field_misses: BTreeMap::new(),
        disagreements: Vec::new(),
        accented_surname: None,
        accented_given_names: None,
        reasons: Vec::new(),
        conditions: conditions(truth),
    };
    match reading {
        Ok(r) => score(&mut result, &r, truth),
        Err(e) => result.error = Some(e),
    }
    result
}

fn score(result: &mut ImageResult, r: &DocumentReading, truth: &Value) {
    result.stages = Some(r.timings);
    result.reasons = r.reason_codes().iter().map(|s| s.to_string()).collect();
    result.corners = r.corners.map(|q| q.0.map(|p| [p.x, p.y]));
    if let (Some(corners), Some(found)) = (truth_corners(truth), r.corners) {
        let size = truth.get("image_size").and_then(Value::as_array);
        let (w, h) = size.map(|s| (s[0].as_f64().unwrap_or(1.0), s[1].as_f64().unwrap_or(1.0))).unwrap_or((1.0, 1.0));
        let diag = (w * w + h * h).sqrt();
        result.corner_error = Some(thirdfactor_engine::document::max_corner_error(&found, &corners) / diag);
    } else if truth_corners(truth).is_some() {
        result.corner_error = Some(f64::INFINITY);
    }
    if let Some(m) = &r.mrz {
        result.mrz_found = true;
        result.mrz_valid = m.valid;
        result.mrz_read = m.lines.clone();
        result.mrz_exact = !result.mrz_truth.is_empty() && m.lines == result.mrz_truth;
    }
    score_fields(result, r, truth);
}

fn score_fields(result: &mut ImageResult, r: &DocumentReading, truth: &Value) {
    let s = |p: &str| truth.pointer(p).and_then(Value::as_str).map(str::to_string);
    let mrz_fields = r.mrz.as_ref().map(|m| &m.fields);
    let mrz_pairs = [
        (
            "mrz.document_number",
            s("/mrz/document_number").or(s("/mrz/fields/document_number")),
            mrz_fields.map(|f| f.document_number.clone()),
        ),
        (
            "mrz.date_of_birth",
            s("/mrz/date_of_birth").or(s("/mrz/fields/date_of_birth")),
            mrz_fields.map(|f| f.date_of_birth.clone()),
        ),
        (
            "mrz.date_of_expiry",
            s("/mrz/date_of_expiry").or(s("/mrz/fields/date_of_expiry")),
            mrz_fields.map(|f| f.date_of_expiry.clone()),
        ),
        ("mrz.sex", s("/mrz/sex").or(s("/mrz/fields/sex")), mrz_fields.map(|f| f.sex.clone())),
        (
            "mrz.nationality",
            s("/mrz/nationality").or(s("/mrz/fields/nationality")),
            mrz_fields.map(|f| f.nationality.clone()),
        ),
        ("mrz.surname", s("/mrz/surname").or(s("/mrz/fields/surname")), mrz_fields.map(|f| f.surname.clone())),
        (
            "mrz.given_names",
            s("/mrz/given_names").or(s("/mrz/fields/given_names")),
            mrz_fields.map(|f| f.given_names.clone()),
        ),
    ];
    for (key, want, got) in mrz_pairs {
        if let Some(want) = want {
            let want = want.trim_end_matches('<').replace('<', " ");
            result.fields.insert(key.into(), got.is_some_and(|g| g == want.trim()));
        }
    }
    result.disagreements =
        r.data.iter().filter(|(_, v)| v.source == Source::Disagree).map(|(k, _)| k.clone()).collect();
    let Some(fields) = truth.get("fields").and_then(Value::as_object) else { return };
    for (key, want) in fields {
        let Some(want) = want.as_str() else { continue };
        let got = r.data.get(key.as_str()).map(|v| v.value.clone()).or_else(|| mrz_only_field(r, key));
        let hit = record(result, format!("data.{key}"), got, want);
        if matches!(key.as_str(), "surname" | "given_names") && !want.is_ascii() {
            if key == "surname" {
                result.accented_surname = Some(hit);
            } else {
                result.accented_given_names = Some(hit);
            }
        }
    }
    if let Some(printed) = truth.get("printed").and_then(Value::as_object) {
        for (key, want) in printed {
            let Some(want) = want.as_str() else { continue };
            let got = r.printed.iter().find(|p| p.name.key() == key).map(|p| p.value.clone());
            record(result, format!("printed.{key}"), got, want);
        }
    }
}

/// Scores one field, keeping what was read when it misses.
fn record(result: &mut ImageResult, key: String, got: Option<String>, want: &str) -> bool {
    let hit = got.as_deref() == Some(want);
    if !hit {
        result.field_misses.insert(key.clone(), FieldMiss { got, want: want.to_string() });
    }
    result.fields.insert(key, hit);
    hit
}

/// Fields the card prints only in its MRZ; the API reports them from there
/// (`issuing_country`, `document_type`), so they are scored from there.
fn mrz_only_field(r: &DocumentReading, key: &str) -> Option<String> {
    let fields = &r.mrz.as_ref()?.fields;
    let value = match key {
        "issuing_state" => &fields.issuing_state,
        "document_code" => &fields.document_code,
        _ => return None,
    };
    Some(value.trim_end_matches('<').to_string())
}

fn truth_corners(truth: &Value) -> Option<[Point; 4]> {
    let c = truth.get("corners")?.as_array()?;
    let p = |i: usize| -> Option<Point> {
        let xy = c.get(i)?.as_array()?;
        Some(Point::new(xy.first()?.as_f64()?, xy.get(1)?.as_f64()?))
    };
    Some([p(0)?, p(1)?, p(2)?, p(3)?])
}

/// Condition tags as in the research note's failure analysis.
fn conditions(truth: &Value) -> Vec<String> {
    let mut tags = Vec::new();
    let Some(capture) = truth.get("capture") else { return tags };
    let f = |k: &str| capture.get(k).and_then(Value::as_f64);
    if let Some(rot) = f("rotation_deg") {
        let r = rot.rem_euclid(360.0);
        let d = |a: f64| (r - a).abs().min(360.0 - (r - a).abs());
        let tag = if d(0.0) < 45.0 {
            "rotation≈0"
        } else if d(180.0) < 45.0 {
            "rotation≈180"
        } else {
            "rotation≈90"
        };
        tags.push(tag.into());
    }
    let glare = capture.pointer("/glare/strength").and_then(Value::as_f64).unwrap_or(0.0);
    tags.push(
        if glare >= 0.6 {
            "glare strong"
        } else if glare > 0.0 {
            "glare weak"
        } else {
            "glare none"
        }
        .into(),
    );
    if f("blur_sigma_px").unwrap_or(0.0) >= 1.5 {
        tags.push("defocus≥1.5px".into());
    }
    if capture.get("motion_blur").is_some_and(|m| !m.is_null() && m != &Value::Bool(false)) {
        tags.push("motion blur".into());
    }
    if f("tilt_deg").unwrap_or(0.0) >= 20.0 {
        tags.push("tilt≥20°".into());
    }
    if let Some(bg) = capture.get("background").and_then(Value::as_str) {
        tags.push(format!("background {bg}"));
    }
    if capture.get("thumb_occluder").is_some_and(|t| !t.is_null()) {
        tags.push("thumb".into());
    }
    tags
}

fn percentile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn summarise(results: &[ImageResult]) -> Summary {
    let mut s = Summary { images: results.len(), ..Summary::default() };
    let mut corner_errors = Vec::new();
    for r in results {
        if let Some(e) = r.corner_error {
            s.corners_within_2pct.add(e <= 0.02);
            corner_errors.push(e);
            for c in &r.conditions {
                s.corners_by_condition.entry(c.clone()).or_default().add(e <= 0.02);
            }
        }
        if r.mrz_expected {
            s.mrz_found.add(r.mrz_found);
            s.mrz_exact.add(r.mrz_exact);
            s.mrz_valid.add(r.mrz_valid);
            s.mrz_wrong_but_valid.add(r.mrz_valid && !r.mrz_exact);
            for c in &r.conditions {
                s.by_condition.entry(c.clone()).or_default().add(r.mrz_exact);
            }
        }
        for (k, &hit) in &r.fields {
            s.fields.entry(k.clone()).or_default().add(hit);
        }
        if let Some(hit) = r.accented_surname {
            s.accented_surname.add(hit);
        }
        if let Some(hit) = r.accented_given_names {
            s.accented_given_names.add(hit);
        }
    }
    s.median_corner_error_pct = (!corner_errors.is_empty()).then(|| 100.0 * percentile(&corner_errors, 0.5));
    let times: Vec<f64> = results.iter().map(|r| r.ms).collect();
    s.median_ms = percentile(&times, 0.5);
    s.p90_ms = percentile(&times, 0.9);
    let stages: Vec<Timings> = results.iter().filter_map(|r| r.stages).collect();
    let stage = |f: fn(&Timings) -> f64| percentile(&stages.iter().map(f).collect::<Vec<_>>(), 0.5);
    for (name, f) in [
        ("decode", (|t: &Timings| t.decode_ms) as fn(&Timings) -> f64),
        ("detect_photo", |t| t.detect_photo_ms),
        ("mrz_search", |t| t.mrz_search_ms),
        ("card", |t| t.card_ms),
        ("fields", |t| t.fields_ms),
        ("total", |t| t.total_ms),
    ] {
        s.stage_median_ms.insert(name.to_string(), stage(f));
    }
    s
}

fn markdown(dir: &Path, s: &Summary, results: &[ImageResult]) -> String {
    let mut md = format!("# Document engine on `{}` ({} images)\n\n", dir.display(), s.images);
    md += "| metric | value |\n| --- | --- |\n";
    md += &format!("| corners within 2 % of the diagonal | {} |\n", s.corners_within_2pct.show());
    if let Some(m) = s.median_corner_error_pct {
        md += &format!("| median corner error | {m:.2} % of the diagonal |\n");
    }
    md += &format!("| MRZ found | {} |\n| MRZ fully valid | {} |\n", s.mrz_found.show(), s.mrz_valid.show());
    md += &format!(
        "| MRZ exact (all lines) | {} |\n| MRZ valid but wrong | {} |\n",
        s.mrz_exact.show(),
        s.mrz_wrong_but_valid.show()
    );
    let invalid_at_source = results.iter().filter(|r| r.source_check_digits_invalid).count();
    if invalid_at_source > 0 {
        md += &format!(
            "| images whose printed MRZ fails its own check digits | {invalid_at_source} (can be exact, never valid) |\n"
        );
    }
    md += &format!("| printed surname with accents, exact (normalised data) | {} |\n", s.accented_surname.show());
    md += &format!("| printed given names with accents, exact | {} |\n", s.accented_given_names.show());
    md += &format!("| time per image, median / p90 | {:.0} / {:.0} ms |\n", s.median_ms, s.p90_ms);
    if let (Some(r), Some(ratio)) = (s.rapidocr_median_ms, s.speed_ratio_vs_rapidocr) {
        md += &format!(
            "| RapidOCR 1.4.4 on the same images, median | {r:.0} ms → ThirdFactor is **{ratio:.2}×** faster |\n"
        );
    }
    md += "\n## Fields (exact match)\n\n| field | exact |\n| --- | --- |\n";
    for (k, r) in &s.fields {
        md += &format!("| {k} | {} |\n", r.show());
    }
    md += "\n## Median time per stage (engine's own clock)\n\n| stage | ms |\n| --- | --- |\n";
    for (k, v) in &s.stage_median_ms {
        md += &format!("| {k} | {v:.0} |\n");
    }
    md += "\n## By capture condition\n\n| condition | MRZ exact | corners within 2 % |\n| --- | --- | --- |\n";
    for (k, r) in &s.by_condition {
        let corners = s.corners_by_condition.get(k).map(Rate::show).unwrap_or_else(|| "–".into());
        md += &format!("| {k} | {} | {corners} |\n", r.show());
    }
    md += &field_miss_table(results);
    md += "\n## Failures\n\n| image | corner err % | MRZ read | reasons | conditions |\n| --- | --- | --- | --- | --- |\n";
    for r in results.iter().filter(|r| !r.mrz_exact || r.corner_error.is_some_and(|e| e > 0.02)) {
        md += &format!(
            "| {} | {} | `{}` | {} | {} |\n",
            r.image,
            r.corner_error.map(|e| format!("{:.2}", 100.0 * e)).unwrap_or_else(|| "–".into()),
            r.mrz_read.join(" / "),
            r.error.clone().unwrap_or_else(|| r.reasons.join(", ")),
            r.conditions.join(", ")
        );
    }
    md
}

/// Every printed-field miss, so a reader sees how the reads go wrong (label not found, value
/// misread, neighbour taken).
fn field_miss_table(results: &[ImageResult]) -> String {
    let mut md =
        "\n## Printed-field misses\n\n| image | field | read | truth |\n| --- | --- | --- | --- |\n".to_string();
    for r in results {
        for (key, miss) in r.field_misses.iter().filter(|(k, _)| k.starts_with("printed.")) {
            let got = miss.got.as_deref().map(|g| format!("`{g}`")).unwrap_or_else(|| "–".into());
            md += &format!("| {} | {} | {got} | `{}` |\n", r.image, &key["printed.".len()..], miss.want);
        }
    }
    md
}

fn plots(out: &Path, results: &[ImageResult]) -> anyhow::Result<()> {
    let times: Vec<f64> = results.iter().map(|r| r.ms).collect();
    let max_t = times.iter().copied().fold(100.0, f64::max) * 1.05;
    report::histogram_plot(
        &out.join("documents_time.png"),
        &Axes {
            title: "Time per image",
            x_label: "ms",
            y_label: "images",
            x_range: (0.0, max_t),
            y_range: (0.0, 0.0),
            log_x: false,
        },
        &[("ThirdFactor", &times)],
        30,
    )?;
    let errors: Vec<f64> = results.iter().filter_map(|r| r.corner_error).map(|e| (100.0 * e).min(10.0)).collect();
    if !errors.is_empty() {
        report::histogram_plot(
            &out.join("documents_corner_error.png"),
            &Axes {
                title: "Largest corner error (capped at 10 %)",
                x_label: "% of image diagonal",
                y_label: "images",
                x_range: (0.0, 10.0),
                y_range: (0.0, 0.0),
                log_x: false,
            },
            &[("corner error", &errors)],
            40,
        )?;
    }
    Ok(())
}

/// Runs `scripts/bench_rapidocr.py` with the given Python (a venv with rapidocr-onnxruntime)
/// on the same images; returns its wall time per image in ms.
fn rapidocr_times(python: &Path, images: &[&Path]) -> anyhow::Result<Vec<f64>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/bench_rapidocr.py");
    let output = std::process::Command::new(python).arg(script).args(images).output()?;
    anyhow::ensure!(output.status.success(), "RapidOCR bench failed: {}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8_lossy(&output.stdout);
    Ok(text.lines().filter_map(|l| l.split('\t').nth(1)?.trim().parse::<f64>().ok()).collect())
}
