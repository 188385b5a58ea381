//! The real binary as a child process (`thirdfactor serve`), and the API and capture page as an
//! integrator and a phone call them over HTTP: shared by the fault and multi-instance tests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use thirdfactor::store::Store;

use crate::helpers::{TestMerchant, create_merchant_full, repo_root};

/// `thirdfactor serve` as a child process.
pub struct ServerProcess {
    child: Child,
    pub address: String,
    /// The child's stderr, shown when it fails to come up.
    log: PathBuf,
}

impl ServerProcess {
    pub async fn start(data_dir: &Path, database_url: &str) -> Self {
        Self::start_with(data_dir, database_url, &[]).await
    }

    /// With more `THIRDFACTOR_*` variables (or `THIRDFACTOR_CONFIG`) beside the test defaults.
    pub async fn start_with(data_dir: &Path, database_url: &str, env: &[(&str, String)]) -> Self {
        crate::helpers::install_crypto_provider();
        let port = free_port();
        let root = repo_root();
        let log = data_dir.join(format!("server-{port}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_thirdfactor"))
            .arg("serve")
            .current_dir(&root)
            .env("THIRDFACTOR_SERVER__BIND", format!("127.0.0.1:{port}"))
            .env("THIRDFACTOR_SERVER__TLS", "off")
            .env("THIRDFACTOR_SERVER__WORKERS", "2")
            .env("THIRDFACTOR_PATHS__DATA_DIR", data_dir)
            .env("THIRDFACTOR_DATABASE__URL", database_url)
            .env("THIRDFACTOR_MODELS__DIR", root.join("models/files"))
            .env("THIRDFACTOR_MODELS__ONNXRUNTIME", root.join("models/files/libonnxruntime.so.1.31.1"))
            .env("THIRDFACTOR_WEBHOOKS__ALLOW_PRIVATE_TARGETS", "true")
            .env("THIRDFACTOR_WEBHOOKS__TIMEOUT_SECS", "1")
            .env("THIRDFACTOR_WEBHOOKS__INITIAL_BACKOFF_MS", "200")
            .env("THIRDFACTOR_WEBHOOKS__MAX_BACKOFF_SECS", "1")
            .env("THIRDFACTOR_WEBHOOKS__POLL_INTERVAL_MS", "100")
            .env("THIRDFACTOR_LOG__LEVEL", "warn")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start thirdfactor serve");
        let server = Self { child, address: format!("http://127.0.0.1:{port}"), log };
        server.wait_until(200).await;
        server
    }

    /// Waits until `/readyz` answers `status`.
    pub async fn wait_until(&self, status: u16) {
        let client = reqwest::Client::new();
        for _ in 0..600 {
            if let Ok(r) = client.get(format!("{}/readyz", self.address)).send().await
                && r.status().as_u16() == status
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("/readyz never answered {status}; server log:\n{}", self.log_tail());
    }

    /// The end of the server's log (for assertion messages).
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        log[log.floor_char_boundary(log.len().saturating_sub(3000))..].to_string()
    }

    /// The value of an unlabelled counter on `/metrics` (0 if not yet counted).
    pub async fn counter(&self, name: &str) -> f64 {
        let text = reqwest::get(format!("{}/metrics", self.address)).await.unwrap().text().await.unwrap();
        text.lines()
            .filter_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .find_map(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    }

    /// SIGKILL: no shutdown hook runs, in-flight work is cut off.
    pub fn kill9(mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reap");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

pub async fn migrated_store(url: &str) -> Store {
    crate::helpers::install_crypto_provider();
    let store = Store::connect(url, 2, Duration::from_secs(5)).await.expect("store");
    store.migrate().await.expect("migrate");
    store
}

/// The API as an integrator calls it.
pub struct Integrator {
    client: reqwest::Client,
    pub merchant: TestMerchant,
    webhook_base: String,
}

impl Integrator {
    pub async fn new(store: &Store, webhook_base: &str) -> Self {
        let merchant = create_merchant_full(store, webhook_base).await;
        Self { client: reqwest::Client::new(), merchant, webhook_base: webhook_base.to_string() }
    }

    fn body(&self, config: &str, merchant_ref: &str) -> Value {
        json!({
            "merchant_id": self.merchant.id, "config": config, "language": "en",
            "backend_url": format!("{}/{{{{sessionId}}}}", self.webhook_base),
            "return_url": "https://client.example/done", "cancel_url": "https://client.example/cancel",
            "merchant_ref": merchant_ref,
        })
    }

    pub async fn create(&self, server: &ServerProcess, config: &str) -> reqwest::Response {
        self.create_for(server, config, "user-1").await
    }

    pub async fn create_for(&self, server: &ServerProcess, config: &str, merchant_ref: &str) -> reqwest::Response {
        self.client
            .post(format!("{}/api/v1/sessions", server.address))
            .bearer_auth(&self.merchant.api_key)
            .json(&self.body(config, merchant_ref))
            .send()
            .await
            .expect("request")
    }

    /// Creates a session (201) and returns its body.
    pub async fn created(&self, server: &ServerProcess, config: &str, merchant_ref: &str) -> Value {
        let response = self.create_for(server, config, merchant_ref).await;
        assert_eq!(response.status(), 201, "create on {}", server.address);
        response.json().await.expect("json")
    }

    pub async fn session(&self, server: &ServerProcess, id: &str) -> Value {
        let r = self
            .client
            .get(format!("{}/api/v1/sessions/{id}", server.address))
            .bearer_auth(&self.merchant.api_key)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 200);
        r.json().await.expect("json")
    }

    pub async fn cancel(&self, server: &ServerProcess, id: &str) {
        assert_eq!(self.try_cancel(server, id).await, 200);
    }

    /// Cancels the session; returns the HTTP status.
    pub async fn try_cancel(&self, server: &ServerProcess, id: &str) -> u16 {
        let r = self
            .client
            .post(format!("{}/api/v1/sessions/{id}/cancel", server.address))
            .bearer_auth(&self.merchant.api_key)
            .send()
            .await
            .expect("request");
        r.status().as_u16()
    }
}

/// Opens the session's capture link on `server`; returns the `tf_capture=…` cookie pair.
pub async fn open_capture(server: &ServerProcess, created: &Value) -> String {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let link = created["info"]["url"].as_str().unwrap();
    let path = link.split_once("/c/").map(|(_, t)| format!("/c/{t}")).unwrap();
    let r = client.get(format!("{}{path}", server.address)).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let set_cookie = r.headers()["set-cookie"].to_str().unwrap();
    set_cookie.split(';').next().unwrap().to_string()
}

pub async fn get_state(server: &ServerProcess, cookie: &str) -> Value {
    let client = reqwest::Client::new();
    let r = client.get(format!("{}/api/capture/state", server.address)).header("cookie", cookie).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Uploads one image to a capture step (`document`, `selfie`).
pub async fn upload_step(
    address: &str,
    cookie: &str,
    step: &str,
    photo: Vec<u8>,
) -> reqwest::Result<reqwest::Response> {
    let part = reqwest::multipart::Part::bytes(photo).file_name("photo.jpg").mime_str("image/jpeg")?;
    reqwest::Client::new()
        .post(format!("{address}/api/capture/{step}"))
        .header("cookie", cookie)
        .multipart(reqwest::multipart::Form::new().part("image", part))
        .send()
        .await
}
