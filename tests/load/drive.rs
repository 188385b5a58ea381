//! Open-loop driving: verifications start at a fixed rate whatever the server's latency (a
//! closed loop would slow down with the server and hide overload), phase after phase; and a
//! sampler of the server's memory and CPU once a second.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::server::ProcSample;
use crate::verify::{self, Outcome, Record, Target};

#[derive(Debug, Clone, serde::Serialize)]
pub struct Phase {
    pub name: String,
    /// Verifications started per second.
    pub rate: f64,
    pub secs: f64,
}

/// The server's /proc readings at the start and the end of a phase (the last phase ends when
/// its last verification has finished).
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Bounds {
    pub start: ProcSample,
    pub end: ProcSample,
}

pub async fn run(
    target: Arc<Target>,
    phases: &[Phase],
    origin: Instant,
    probe: impl Fn() -> ProcSample,
) -> anyhow::Result<(Vec<Record>, Vec<Bounds>)> {
    let total: f64 = phases.iter().map(|p| (p.rate * p.secs).round()).sum();
    let bar = thirdfactor::eval::report::progress(total as u64, "verifications");
    let mut tasks = JoinSet::new();
    let mut records = Vec::new();
    let mut bounds = Vec::new();
    let mut started = 0usize;
    for (index, phase) in phases.iter().enumerate() {
        let count = (phase.rate * phase.secs).round() as u32;
        let step = Duration::from_secs_f64(1.0 / phase.rate);
        let begin = tokio::time::Instant::now();
        let start = probe();
        for i in 0..count {
            tokio::time::sleep_until(begin + step * i).await;
            while let Some(done) = tasks.try_join_next() {
                finished(done?, &mut records, &bar);
            }
            let person = started % target.persons.len();
            tasks.spawn(verify::run(target.clone(), person, index, origin));
            started += 1;
        }
        tokio::time::sleep_until(begin + step * count).await;
        if index + 1 == phases.len() {
            while let Some(done) = tasks.join_next().await {
                finished(done?, &mut records, &bar);
            }
        }
        bounds.push(Bounds { start, end: probe() });
    }
    bar.finish();
    Ok((records, bounds))
}

fn finished(record: Record, records: &mut Vec<Record>, bar: &indicatif::ProgressBar) {
    bar.inc(1);
    records.push(record);
    let count = |f: fn(&Outcome) -> bool| records.iter().filter(|r| f(&r.outcome)).count();
    bar.set_message(format!(
        "ok {} shed {} bad {}",
        count(|o| *o == Outcome::Approved),
        count(|o| matches!(o, Outcome::Shed { .. })),
        count(|o| matches!(o, Outcome::Rejected { .. } | Outcome::Error { .. })),
    ));
}

/// Samples the server once a second until the returned handle is aborted.
pub fn sampler(
    probe: impl Fn() -> Option<ProcSample> + Send + 'static,
    samples: Arc<Mutex<Vec<ProcSample>>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            if let (Some(s), Ok(mut all)) = (probe(), samples.lock()) {
                all.push(s);
            }
        }
    })
}
