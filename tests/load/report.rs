//! Results: per phase the achieved rate, latency percentiles, outcomes, server CPU time per
//! verification; memory over the run. Written as report.json, report.md, latency.png, rss.png.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use thirdfactor::eval::report::{Axes, Series, line_plot, write_json, write_text};

use crate::drive::{Bounds, Phase};
use crate::server::ProcSample;
use crate::verify::{Outcome, Record};

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Percentiles {
    pub n: usize,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

/// Nearest-rank percentiles.
pub fn percentiles(values: impl Iterator<Item = f64>) -> Percentiles {
    let mut v: Vec<f64> = values.collect();
    if v.is_empty() {
        return Percentiles::default();
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    Percentiles { n: v.len(), p50: at(0.50), p95: at(0.95), p99: at(0.99), max: v[v.len() - 1] }
}

#[derive(Debug, Serialize)]
pub struct PhaseReport {
    pub phase: Phase,
    pub started: usize,
    pub approved: usize,
    pub rejected: usize,
    pub shed: usize,
    pub shed_with_retry_after: usize,
    /// Which request was shed ("selfie", "liveness", …) → count.
    pub shed_by_step: BTreeMap<String, usize>,
    /// "step status" → count, for everything else.
    pub errors: BTreeMap<String, usize>,
    pub rejections: BTreeMap<String, usize>,
    /// Approved verifications per second of the phase.
    pub achieved_rate: f64,
    /// Whole verification (create → result), approved ones.
    pub total_ms: Percentiles,
    pub selfie_ms: Percentiles,
    pub liveness_ms: Percentiles,
    pub server_cpu_s: f64,
    /// Server user + system CPU time over the phase per verification that reached a decision.
    pub cpu_ms_per_verification: f64,
    pub rss_end_mb: f64,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub phases: Vec<PhaseReport>,
    pub peak_rss_mb: f64,
    pub rss_after_warmup_mb: f64,
    pub rss_end_mb: f64,
    pub server_alive: bool,
    pub webhooks_received: usize,
    pub load_generator_cpu_s: f64,
    pub cores: usize,
    pub samples: Vec<ProcSample>,
}

pub fn phase_report(index: usize, phase: &Phase, records: &[Record], bounds: &Bounds) -> PhaseReport {
    let mine: Vec<&Record> = records.iter().filter(|r| r.phase == index).collect();
    let approved: Vec<&&Record> = mine.iter().filter(|r| r.outcome == Outcome::Approved).collect();
    let mut errors = BTreeMap::new();
    let mut rejections = BTreeMap::new();
    let mut shed_by_step = BTreeMap::new();
    let (mut shed, mut with_retry_after) = (0, 0);
    for r in &mine {
        match &r.outcome {
            Outcome::Approved => {}
            Outcome::Rejected { step, reasons } => *rejections.entry(format!("{step} {reasons}")).or_insert(0) += 1,
            Outcome::Shed { step, retry_after } => {
                *shed_by_step.entry(step.to_string()).or_insert(0) += 1;
                shed += 1;
                with_retry_after += usize::from(*retry_after);
            }
            Outcome::Error { step, status } => *errors.entry(format!("{step} {status}")).or_insert(0) += 1,
        }
    }
    let rejected: usize = rejections.values().sum();
    let decided = (approved.len() + rejected).max(1);
    let cpu = bounds.end.cpu_s - bounds.start.cpu_s;
    PhaseReport {
        phase: phase.clone(),
        started: mine.len(),
        approved: approved.len(),
        rejected,
        shed,
        shed_with_retry_after: with_retry_after,
        shed_by_step,
        errors,
        rejections,
        achieved_rate: approved.len() as f64 / phase.secs,
        total_ms: percentiles(approved.iter().map(|r| r.total_ms)),
        selfie_ms: percentiles(approved.iter().filter_map(|r| r.selfie_ms)),
        liveness_ms: percentiles(approved.iter().filter_map(|r| r.liveness_ms)),
        server_cpu_s: cpu,
        cpu_ms_per_verification: cpu * 1000.0 / decided as f64,
        rss_end_mb: bounds.end.rss_mb,
    }
}

fn pct(p: &Percentiles) -> String {
    format!("{:.0} / {:.0} / {:.0}", p.p50, p.p95, p.p99)
}

pub fn markdown(report: &Report) -> String {
    let mut md = String::from(
        "| phase | target /s | duration | started | approved | achieved /s | verification p50 / p95 / p99 ms | \
         liveness answer p50 / p95 / p99 ms | selfie p50 / p95 / p99 ms | rejected | 503 (with Retry-After) | \
         other errors | server CPU ms / verification |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for p in &report.phases {
        let errors: Vec<String> = p.errors.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        md.push_str(&format!(
            "| {} | {} | {:.0} s | {} | {} | {:.2} | {} | {} | {} | {} | {} ({}) | {} | {:.0} |\n",
            p.phase.name,
            p.phase.rate,
            p.phase.secs,
            p.started,
            p.approved,
            p.achieved_rate,
            pct(&p.total_ms),
            pct(&p.liveness_ms),
            pct(&p.selfie_ms),
            p.rejected,
            p.shed,
            p.shed_with_retry_after,
            if errors.is_empty() { "0".to_string() } else { errors.join(", ") },
            p.cpu_ms_per_verification,
        ));
    }
    md.push_str(&format!(
        "\nServer RSS: {:.0} MB after warm-up, {:.0} MB at the end, peak (VmHWM) {:.0} MB. Server alive at the \
         end: {}. Webhooks received: {}. Load generator CPU: {:.1} s. Cores: {}.\n",
        report.rss_after_warmup_mb,
        report.rss_end_mb,
        report.peak_rss_mb,
        if report.server_alive { "yes" } else { "NO" },
        report.webhooks_received,
        report.load_generator_cpu_s,
        report.cores,
    ));
    for p in report.phases.iter().filter(|p| p.shed > 0) {
        md.push_str(&format!("\n503 in {} by request: {:?}\n", p.phase.name, p.shed_by_step));
    }
    for p in &report.phases {
        if !p.rejections.is_empty() {
            md.push_str(&format!("\nRejections in {}: {:?}\n", p.phase.name, p.rejections));
        }
    }
    md
}

/// Points of a plotted curve: (seconds since start, value).
type Curve = Vec<(f64, f64)>;

/// p50 and p95 of the approved verifications started in each `bucket_s` window.
fn latency_series(records: &[Record], bucket_s: f64, pick: fn(&Record) -> Option<f64>) -> (Curve, Curve) {
    let mut buckets: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
    for r in records.iter().filter(|r| r.outcome == Outcome::Approved) {
        if let Some(v) = pick(r) {
            buckets.entry((r.start_s / bucket_s).floor() as i64).or_default().push(v);
        }
    }
    let mut p50 = Vec::new();
    let mut p95 = Vec::new();
    for (b, values) in buckets {
        let p = percentiles(values.into_iter());
        let t = (b as f64 + 0.5) * bucket_s;
        p50.push((t, p.p50));
        p95.push((t, p.p95));
    }
    (p50, p95)
}

pub fn write(out: &Path, report: &Report, records: &[Record]) -> anyhow::Result<()> {
    write_json(&out.join("report.json"), report)?;
    write_json(&out.join("verifications.json"), &records)?;
    write_text(&out.join("report.md"), &markdown(report))?;
    let end = records.iter().map(|r| r.start_s + r.total_ms / 1000.0).fold(1.0, f64::max);
    let (total50, total95) = latency_series(records, 5.0, |r| Some(r.total_ms));
    let (_, live95) = latency_series(records, 5.0, |r| r.liveness_ms);
    let y_max = total95.iter().chain(&live95).map(|p| p.1).fold(100.0, f64::max) * 1.1;
    let latency = [
        Series { name: "verification p50".into(), points: total50 },
        Series { name: "verification p95".into(), points: total95 },
        Series { name: "liveness answer p95".into(), points: live95 },
    ];
    let axes = Axes {
        title: "Latency of approved verifications (5 s buckets by start time)",
        x_label: "seconds since start",
        y_label: "ms",
        x_range: (0.0, end),
        y_range: (0.0, y_max),
        log_x: false,
    };
    line_plot(&out.join("latency.png"), &axes, &latency)?;
    let rss: Vec<(f64, f64)> = report.samples.iter().map(|s| (s.t, s.rss_mb)).collect();
    let cpu: Vec<(f64, f64)> =
        report.samples.windows(2).map(|w| (w[1].t, 100.0 * (w[1].cpu_s - w[0].cpu_s) / (w[1].t - w[0].t))).collect();
    let y_max = rss.iter().chain(&cpu).map(|p| p.1).fold(100.0, f64::max) * 1.1;
    let axes = Axes {
        title: "Server memory and CPU over the run",
        x_label: "seconds since start",
        y_label: "RSS MB / CPU %",
        x_range: (0.0, end.max(report.samples.last().map_or(1.0, |s| s.t))),
        y_range: (0.0, y_max),
        log_x: false,
    };
    let series =
        [Series { name: "RSS MB".into(), points: rss }, Series { name: "CPU % (200 = 2 cores)".into(), points: cpu }];
    line_plot(&out.join("rss.png"), &axes, &series)?;
    Ok(())
}
