//! The server under test: the real `thirdfactor serve` binary as a child process with its own
//! config and data directory, and what /proc says about it (RSS, peak RSS, CPU time).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

/// `thirdfactor serve` started with `--config FILE`.
pub struct ServerProcess {
    child: Child,
    pub address: String,
    pub log: PathBuf,
}

/// The config the load test runs with: plain HTTP on loopback, SQLite in `dir`, rate limits far
/// above the test's request rate (one client IP sends every request), blink left out of the
/// challenge (the synthetic head cannot blink, as in the browser tests). Everything else —
/// workers, model sessions, analysis slots and queue — stays at the shipped defaults, unless
/// `liveness` adds `key=value` lines to `[liveness]`.
pub fn write_config(dir: &Path, root: &Path, port: u16, liveness: &[String]) -> anyhow::Result<PathBuf> {
    let models = root.join("models/files");
    let text = format!(
        r#"[server]
bind = "127.0.0.1:{port}"
tls = "off"

[database]
url = "sqlite://{db}?mode=rwc"

[paths]
data_dir = "{data}"

[models]
dir = "{models}"
onnxruntime = "{models}/libonnxruntime.so.1.31.1"

[webhooks]
allow_private_targets = true

[liveness]
actions = ["turn_left", "turn_right", "look_up"]
{extra}

[rate_limits]
per_api_key_per_minute = 10000000
per_api_key_burst = 100000
per_ip_per_minute = 10000000
per_ip_burst = 100000

[log]
level = "warn"
"#,
        db = dir.join("load.db").display(),
        data = dir.join("data").display(),
        models = models.display(),
        extra = liveness.join("\n"),
    );
    let path = dir.join("thirdfactor.toml");
    std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))?;
    Ok(path)
}

impl ServerProcess {
    pub async fn start(binary: &Path, config: &Path, port: u16, log: PathBuf) -> anyhow::Result<Self> {
        let stderr = std::fs::File::create(&log).with_context(|| format!("create {}", log.display()))?;
        let child = Command::new(binary)
            .arg("--config")
            .arg(config)
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("start {}", binary.display()))?;
        let server = Self { child, address: format!("http://127.0.0.1:{port}"), log };
        server.wait_ready().await?;
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits (up to a minute: models load at start) for `/readyz` to answer 200.
    pub async fn wait_ready(&self) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        for _ in 0..600 {
            if let Ok(r) = client.get(format!("{}/readyz", self.address)).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("/readyz never answered 200; see {}", self.log.display())
    }

    /// Whether the process is still running (a crash under load fails the run).
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// One reading of a process from /proc.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct ProcSample {
    /// Seconds since the run started.
    pub t: f64,
    pub rss_mb: f64,
    /// Peak resident set so far (VmHWM).
    pub hwm_mb: f64,
    /// User + system CPU time so far, seconds.
    pub cpu_s: f64,
}

/// Reads VmRSS / VmHWM from /proc/PID/status and utime + stime from /proc/PID/stat.
pub fn sample(pid: &str, t: f64, ticks_per_s: f64) -> Option<ProcSample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = |key: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(key))?;
        line.split_whitespace().nth(1)?.parse::<f64>().ok()
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at field 3 (state).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some(ProcSample {
        t,
        rss_mb: kb("VmRSS:")? / 1024.0,
        hwm_mb: kb("VmHWM:")? / 1024.0,
        cpu_s: (utime + stime) / ticks_per_s,
    })
}

/// Clock ticks per second for /proc/PID/stat times (`getconf CLK_TCK`; 100 on Linux).
pub fn ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}
