//! Load test of full verifications (selfie + 12-frame liveness) against the real release
//! server binary: a sustained phase at `--rate`, then an overload phase at twice it. Reports
//! latency percentiles, outcomes (503 shedding with Retry-After), server RSS and CPU time per
//! verification (docs/load.md). Run it with `scripts/loadtest`, which builds and copies the
//! binaries first.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use thirdfactor::config::Settings;
use thirdfactor::store::Store;

#[path = "../../server/engine/tests/support/headturn.rs"]
mod headturn;
#[path = "../api/receiver.rs"]
#[allow(dead_code)]
mod receiver;

mod drive;
mod prepare;
mod report;
mod server;
mod verify;

#[derive(Debug, Parser)]
#[command(about = "Load test: full verifications against a running thirdfactor server")]
struct Args {
    /// The server binary to start (`thirdfactor`, release build).
    #[arg(long)]
    server: PathBuf,
    /// Sustained rate, verifications started per second.
    #[arg(long, default_value_t = 8.0)]
    rate: f64,
    /// Length of the sustained phase.
    #[arg(long, default_value_t = 10.0)]
    minutes: f64,
    /// Length of the overload phase at twice the rate (0 skips it).
    #[arg(long, default_value_t = 2.0)]
    overload_minutes: f64,
    /// Persons enrolled (each verification picks the next one).
    #[arg(long, default_value_t = 8)]
    persons: usize,
    /// Directory for report.md, report.json, verifications.json, latency.png, rss.png.
    #[arg(long, default_value = "target/loadtest")]
    out: PathBuf,
    /// Extra `[liveness]` setting for the server, `key=value` in TOML (repeatable), for A/B
    /// runs of one knob, e.g. `--liveness detector_every_nth_frame=1`.
    #[arg(long = "liveness", value_name = "KEY=VALUE")]
    liveness: Vec<String>,
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(PathBuf::from).unwrap_or_default()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.rate <= 0.0 || args.minutes <= 0.0 || args.overload_minutes < 0.0 || args.persons == 0 {
        bail!("--rate, --minutes and --persons must be positive");
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    std::fs::create_dir_all(&args.out).with_context(|| format!("create {}", args.out.display()))?;
    let root = repo_root();
    let dir = tempfile::tempdir()?;
    let port = server::free_port()?;
    let config = server::write_config(dir.path(), &root, port, &args.liveness)?;
    let settings = Settings::load(Some(&config))?;
    let receiver = receiver::Receiver::start(0).await;

    eprintln!("rendering the head-turn bursts and checking them with the liveness engine…");
    let (identities, templates, version) = {
        let (root, settings) = (root.clone(), settings.clone());
        tokio::task::spawn_blocking(move || prepare::identities(&root, &settings)).await??
    };

    let mut server = server::ServerProcess::start(&args.server, &config, port, args.out.join("server.log")).await?;
    let store = Store::connect(&settings.database_url(), 2, Duration::from_secs(5)).await?;
    let merchant = prepare::merchant(&store, &receiver.base).await?;
    let persons =
        prepare::enroll(&store, &settings, &merchant.id, &identities, &templates, &version, args.persons).await?;
    store.close().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        // Below the server's keep-alive (5 s): never reuse a connection the server may be closing.
        .pool_idle_timeout(Duration::from_secs(2))
        .build()?;
    let target = Arc::new(verify::Target {
        client,
        address: server.address.clone(),
        merchant,
        webhook_base: receiver.base.clone(),
        persons,
    });

    let origin = Instant::now();
    warm_up(&target, origin).await?;

    let pid = server.pid().to_string();
    let ticks = server::ticks_per_second();
    let probe = {
        let pid = pid.clone();
        move || server::sample(&pid, origin.elapsed().as_secs_f64(), ticks)
    };
    let rss_after_warmup = probe().map_or(0.0, |s| s.rss_mb);
    let samples = Arc::new(Mutex::new(Vec::new()));
    let sampler = drive::sampler(probe.clone(), samples.clone());
    let mut phases = vec![drive::Phase { name: "sustained".into(), rate: args.rate, secs: args.minutes * 60.0 }];
    if args.overload_minutes > 0.0 {
        phases.push(drive::Phase {
            name: "overload 2×".into(),
            rate: 2.0 * args.rate,
            secs: args.overload_minutes * 60.0,
        });
    }
    let generator_cpu = server::sample("self", 0.0, ticks).map_or(0.0, |s| s.cpu_s);
    let (records, bounds) = drive::run(target.clone(), &phases, origin, || probe().unwrap_or_default()).await?;
    sampler.abort();

    // Webhooks of the last sessions may still be on their way.
    let approved = records.iter().filter(|r| r.outcome == verify::Outcome::Approved).count();
    let deadline = Instant::now() + Duration::from_secs(10);
    while receiver.received().len() < approved && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let last = probe();
    let alive = server.alive() && server.wait_ready().await.is_ok();
    let report = report::Report {
        phases: phases.iter().enumerate().map(|(i, p)| report::phase_report(i, p, &records, &bounds[i])).collect(),
        peak_rss_mb: last.map_or(0.0, |s| s.hwm_mb),
        rss_after_warmup_mb: rss_after_warmup,
        rss_end_mb: last.map_or(0.0, |s| s.rss_mb),
        server_alive: alive,
        webhooks_received: receiver.received().len(),
        load_generator_cpu_s: server::sample("self", 0.0, ticks).map_or(0.0, |s| s.cpu_s) - generator_cpu,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        samples: samples.lock().map(|s| s.clone()).unwrap_or_default(),
    };
    report::write(&args.out, &report, &records)?;
    println!("{}", report::markdown(&report));
    println!("written to {}", args.out.display());
    verdict(&report)
}

/// A few verifications one after another: the server's first inferences are slow, and a
/// wrong set-up shows here before any load.
async fn warm_up(target: &Arc<verify::Target>, origin: Instant) -> anyhow::Result<()> {
    for person in 0..target.persons.len().min(4) {
        let record = verify::run(target.clone(), person, usize::MAX, origin).await;
        if record.outcome != verify::Outcome::Approved {
            bail!("warm-up verification {person} was not approved: {:?}", record.outcome);
        }
    }
    Ok(())
}

/// Fails the run when the test itself is wrong (rejections: its answers should all pass) or
/// the server did not survive; slow or shed verifications are results, not failures.
fn verdict(report: &report::Report) -> anyhow::Result<()> {
    if !report.server_alive {
        bail!("the server died under load");
    }
    let approved: usize = report.phases.iter().map(|p| p.approved).sum();
    let rejected: usize = report.phases.iter().map(|p| p.rejected).sum();
    if rejected * 100 > (approved + rejected).max(1) {
        bail!("{rejected} verifications rejected against {approved} approved: the load test's answers are wrong");
    }
    if approved == 0 {
        bail!("no verification was approved");
    }
    Ok(())
}
