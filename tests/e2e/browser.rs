//! Runs the Node driver (`tests/e2e/drive.mjs`, playwright-core on Debian's chromium) for one
//! browser launch and returns what the page showed.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::helpers::repo_root;

/// The integrator's pages in the session body; the driver answers them locally.
pub const RETURN_URL: &str = "https://client.example/done";
pub const CANCEL_URL: &str = "https://client.example/cancel";

/// One browser launch: where it starts, what its camera plays, what it does.
pub struct Launch {
    pub url: String,
    pub camera: Option<PathBuf>,
    pub deny_camera: bool,
    pub state: PathBuf,
    /// Capture API paths this browser may POST to (the step its camera is for).
    pub allow: Vec<&'static str>,
    pub actions: Vec<Value>,
}

/// What the driver reports: one result per action, the final URL, page errors.
pub struct Report(pub Value);

impl Report {
    pub fn result(&self, i: usize) -> &Value {
        &self.0["results"][i]
    }
}

/// Where screenshots go (`TF_E2E_SCREENSHOTS`, set by scripts/screenshots), if anywhere.
pub fn screenshot_dir() -> Option<PathBuf> {
    std::env::var_os("TF_E2E_SCREENSHOTS").map(PathBuf::from).filter(|p| !p.as_os_str().is_empty())
}

fn driver_dir() -> PathBuf {
    repo_root().join("tests/e2e")
}

/// Runs the launch to its end (off the async runtime: the server under test shares it).
pub async fn run(launch: Launch) -> Report {
    let shots = screenshot_dir();
    if let Some(dir) = &shots {
        std::fs::create_dir_all(dir).expect("create the screenshot directory");
    }
    let plan = json!({
        "url": launch.url,
        "camera": launch.camera,
        "deny_camera": launch.deny_camera,
        "state_in": launch.state.is_file().then_some(&launch.state),
        "state_out": launch.state,
        "shots": shots,
        "allow": launch.allow,
        "redirects": [RETURN_URL, CANCEL_URL],
        "actions": launch.actions,
    });
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(driver_dir().join("drive.mjs"))
            .current_dir(driver_dir())
            .env("TF_E2E_PLAN", plan.to_string())
            .output()
    })
    .await
    .expect("driver task")
    .unwrap_or_else(|e| panic!("run node (scripts/setup installs the driver): {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: Value = stdout.lines().last().and_then(|l| serde_json::from_str(l).ok()).unwrap_or_else(|| {
        panic!("driver printed no report (missing tests/e2e/node_modules? run scripts/setup)\n{stderr}")
    });
    assert!(report["failure"].is_null(), "browser run failed: {}\nreport: {report:#}", report["failure"]);
    let errors: Vec<&str> = report["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        // Chromium logs every non-2xx response and every aborted request; the test asserts
        // on those responses itself.
        .filter(|e| !e.contains("Failed to load resource"))
        .collect();
    assert!(errors.is_empty(), "the page logged errors: {errors:#?}");
    Report(report)
}

/// `{do: …}` actions for the driver.
pub fn consent(shot: Option<&str>) -> Value {
    json!({ "do": "consent", "shot": shot })
}

pub fn capture(step: &str, shot: Option<&str>, shot_after: Option<&str>) -> Value {
    json!({ "do": "capture", "step": step, "shot": shot, "shot_after": shot_after })
}

pub fn liveness(shot: Option<&str>, shot_after: Option<&str>) -> Value {
    json!({ "do": "liveness", "shot": shot, "shot_after": shot_after })
}

pub fn message(wait_text: &str, shot: Option<&str>) -> Value {
    json!({ "do": "message", "wait_text": wait_text, "shot": shot })
}

pub fn redirect(to: &str) -> Value {
    json!({ "do": "redirect", "to": to })
}

pub fn cancel(to: &str) -> Value {
    json!({ "do": "cancel", "to": to })
}

/// True when `path` exists; used to explain a missing driver early.
pub fn driver_installed() -> bool {
    Path::new(&driver_dir().join("node_modules/playwright-core/package.json")).is_file()
}
