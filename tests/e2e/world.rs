//! What every scenario runs against: the real server (real models, a real SQLite file), a
//! webhook receiver, a scratch directory for camera clips and browser state.

use std::path::PathBuf;
use std::time::Duration;

use hmac::{KeyInit, Mac};
use serde_json::{Value, json};
use thirdfactor::config::Settings;

use crate::browser::{self, CANCEL_URL, Launch, RETURN_URL, Report};
use crate::helpers::{Db, TestApp, spawn_app_with};
use crate::receiver::{Received, Receiver};

pub struct World {
    pub app: TestApp,
    pub receiver: Receiver,
    pub dir: tempfile::TempDir,
}

impl World {
    pub async fn start(customize: impl FnOnce(&mut Settings)) -> Self {
        assert!(browser::driver_installed(), "tests/e2e/node_modules is missing: run scripts/setup");
        let receiver = Receiver::start(0).await;
        let mut app = spawn_app_with(Db::Sqlite, customize).await;
        app.use_webhook_base(&receiver.base).await;
        Self { app, receiver, dir: tempfile::tempdir().expect("scratch dir") }
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Opens a session as the integrator does; `config` as in the API (`enrollment,liveness`…).
    pub async fn session(&self, config: &str, merchant_ref: &str) -> Capture {
        let mut body = self.app.seed_body();
        body["config"] = json!(config);
        body["merchant_ref"] = json!(merchant_ref);
        body["return_url"] = json!(RETURN_URL);
        body["cancel_url"] = json!(CANCEL_URL);
        let response = self.app.post_session(&body).await;
        assert_eq!(response.status(), 201, "session created");
        let created: Value = response.json().await.expect("JSON");
        let id = created["session_id"].as_str().expect("session_id").to_string();
        Capture {
            link: created["info"]["url"].as_str().expect("info.url").to_string(),
            page: format!("{}/capture", self.app.address),
            state: self.file(&format!("browser-{id}.json")),
            id,
        }
    }

    /// The session as `GET /api/v1/sessions/{id}` shows it.
    pub async fn session_view(&self, id: &str) -> Value {
        self.app.get_session(id).await.json().await.expect("JSON")
    }

    /// The webhook for `id`, once it has arrived; its signature checked as an integrator
    /// would (HMAC-SHA256 over "<t>.<body>" with the merchant's secret, fresh timestamp).
    pub async fn webhook_for(&self, id: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        let hook = loop {
            if let Some(hook) = self.receiver.received().into_iter().find(|r| r.path.ends_with(id)) {
                break hook;
            }
            assert!(tokio::time::Instant::now() < deadline, "no webhook for session {id}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_signed(&hook, &self.app.webhook_secret);
        serde_json::from_str(&hook.body).expect("webhook body is JSON")
    }
}

fn assert_signed(hook: &Received, secret: &str) {
    let header = hook.header("thirdfactor-signature").expect("signature header");
    let (t, v1) = header.split(',').filter_map(|p| p.split_once('=')).fold((None, None), |(t, v), (k, val)| match k {
        "t" => (val.parse::<i64>().ok(), v),
        "v1" => (t, hex::decode(val).ok()),
        _ => (t, v),
    });
    let (t, v1) = (t.expect("t= in the signature"), v1.expect("v1= in the signature"));
    let now = thirdfactor::store::now_ms() / 1000;
    assert!((now - t).abs() < 300, "signature timestamp {t} is fresh (now {now})");
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{t}.{}", hook.body).as_bytes());
    assert!(mac.verify_slice(&v1).is_ok(), "webhook signature verifies with the merchant's secret");
}

/// One user's capture session; each step is a browser launch with that step's camera.
pub struct Capture {
    pub id: String,
    link: String,
    page: String,
    /// Cookies carried from one launch to the next.
    state: PathBuf,
}

impl Capture {
    /// Launches a browser: the first opens the SMS link, later ones reload the page, which
    /// resumes at the session's current step.
    pub async fn launch(&self, camera: Option<PathBuf>, allow: &[&'static str], actions: Vec<Value>) -> Report {
        let url = if self.state.is_file() { self.page.clone() } else { self.link.clone() };
        browser::run(Launch {
            url,
            camera,
            deny_camera: false,
            state: self.state.clone(),
            allow: allow.to_vec(),
            actions,
        })
        .await
    }

    /// Like `launch`, with the camera permission refused.
    pub async fn launch_denied(&self, actions: Vec<Value>) -> Report {
        let url = if self.state.is_file() { self.page.clone() } else { self.link.clone() };
        browser::run(Launch { url, camera: None, deny_camera: true, state: self.state.clone(), allow: vec![], actions })
            .await
    }
}
