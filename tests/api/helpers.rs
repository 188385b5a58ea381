//! Spawns the application for a test and talks to it over HTTP.

use std::path::PathBuf;
use std::sync::Once;

use serde_json::{Value, json};
use thirdfactor::branding::{BrandingInput, BrandingProfile};
use thirdfactor::config::{Settings, TlsMode};
use thirdfactor::domain::{ApiKey, WebhookSecret};
use thirdfactor::startup::Application;
use thirdfactor::store::merchants::NewMerchant;
use thirdfactor::store::{Store, now_ms};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub const WEBHOOK_BASE: &str = "https://api.client.example/webhook";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub store: Store,
    pub merchant_id: String,
    pub api_key: String,
    pub webhook_base: String,
    pub webhook_secret: String,
    /// Stops the server (as a crash or restart would, from the clients' point of view).
    pub server: actix_web::dev::ServerHandle,
    pub settings: Settings,
    _data_dir: tempfile::TempDir,
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("server/ has a parent").to_path_buf()
}

pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Settings every test starts from: embedded defaults, port 0, plain HTTP, temp data dir.
pub fn test_settings(data_dir: &std::path::Path) -> Settings {
    let mut s = Settings::defaults();
    let root = repo_root();
    s.server.bind = "127.0.0.1:0".parse().expect("literal address");
    s.server.tls = TlsMode::Off;
    s.server.workers = 2;
    s.server.shutdown_timeout_secs = 1;
    s.paths.data_dir = data_dir.to_path_buf();
    s.models.dir = root.join("models/files");
    s.models.onnxruntime = root.join("models/files/libonnxruntime.so.1.31.1");
    s.webhooks.allow_private_targets = true;
    s.log.level = "warn".into();
    s
}

/// A fresh, empty database for one test.
pub async fn fresh_database_url(db: Db, data_dir: &std::path::Path) -> String {
    match db {
        Db::Sqlite => format!("sqlite://{}?mode=rwc", data_dir.join("test.db").display()),
        Db::Postgres => {
            let admin = std::env::var("THIRDFACTOR_TEST_PG_URL")
                .expect("THIRDFACTOR_TEST_PG_URL is not set: run the tests with scripts/test, which starts PostgreSQL");
            let name = format!("tf_{}", uuid::Uuid::new_v4().simple());
            let store =
                Store::connect(&admin, 1, std::time::Duration::from_secs(10)).await.expect("connect to PostgreSQL");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(store.pool())
                .await
                .expect("create test database");
            store.close().await;
            let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
            format!("{base}/{name}")
        }
    }
}

pub async fn spawn_app(db: Db) -> TestApp {
    spawn_app_with(db, |_| {}).await
}

pub async fn spawn_app_with(db: Db, customize: impl FnOnce(&mut Settings)) -> TestApp {
    install_crypto_provider();
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut settings = test_settings(data_dir.path());
    settings.database.url = fresh_database_url(db, data_dir.path()).await;
    customize(&mut settings);
    let app = Application::build(settings.clone()).await.expect("application starts");
    let address = app.public_url().to_string();
    let server = app.handle();
    tokio::spawn(app.run_until_stopped());
    let store = Store::connect(&settings.database_url(), 2, std::time::Duration::from_secs(5))
        .await
        .expect("test store connects");
    let merchant = create_merchant_full(&store, WEBHOOK_BASE).await;
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        // Below the server's keep-alive (5 s): never reuse a connection the server may be closing.
        .pool_idle_timeout(std::time::Duration::from_secs(2))
        .build()
        .expect("client");
    TestApp {
        address,
        client,
        store,
        merchant_id: merchant.id,
        api_key: merchant.api_key,
        webhook_base: WEBHOOK_BASE.to_string(),
        webhook_secret: merchant.webhook_secret,
        server,
        settings,
        _data_dir: data_dir,
    }
}

pub struct TestMerchant {
    pub id: String,
    pub api_key: String,
    pub webhook_secret: String,
}

/// Inserts a merchant the way `thirdfactor merchant create` does; returns (id, API key).
pub async fn create_merchant(store: &Store, webhook_base: &str) -> (String, String) {
    let m = create_merchant_full(store, webhook_base).await;
    (m.id, m.api_key)
}

pub async fn create_merchant_full(store: &Store, webhook_base: &str) -> TestMerchant {
    let id = store.next_merchant_id().await.expect("next id");
    let key = ApiKey::generate();
    let secret = WebhookSecret::generate();
    store
        .insert_merchant(&NewMerchant {
            id: &id,
            name: "Test merchant",
            api_key_hash: &key.hash(),
            api_key_hint: &key.hint(),
            webhook_base,
            webhook_secret: secret.expose(),
            created_at: now_ms(),
        })
        .await
        .expect("insert merchant");
    // The seed body names this profile, as integrators' requests do.
    let profile = BrandingProfile::parse(BrandingInput {
        name: "3fatesting",
        display_name: "3FA Testing",
        primary: "#1f4fd1",
        accent: None,
        logo: None,
    })
    .expect("valid test profile");
    store.upsert_branding(&id, &profile).await.expect("insert branding");
    TestMerchant { id, api_key: key.expose().to_string(), webhook_secret: secret.expose().to_string() }
}

impl TestApp {
    /// Switches the app's merchant to a new one whose webhooks go under `base`.
    pub async fn use_webhook_base(&mut self, base: &str) {
        let m = create_merchant_full(&self.store, base).await;
        self.merchant_id = m.id;
        self.api_key = m.api_key;
        self.webhook_secret = m.webhook_secret;
        self.webhook_base = base.to_string();
    }

    /// The seed body integrators already send.
    pub fn seed_body(&self) -> Value {
        json!({
            "merchant_id": self.merchant_id,
            "config": "enrollment,liveness,debug",
            "branding": "3fatesting",
            "language": "en",
            "backend_url": format!("{}/{{{{sessionId}}}}", self.webhook_base),
            "return_url": "https://client.example/done",
            "cancel_url": "https://client.example/cancel",
            "merchant_ref": "user-4711"
        })
    }

    pub async fn post_session(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}/api/v1/sessions", self.address))
            .bearer_auth(&self.api_key)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn post_raw(
        &self,
        path: &str,
        key: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> reqwest::Response {
        let mut req =
            self.client.post(format!("{}{path}", self.address)).header("content-type", content_type).body(body);
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        req.send().await.expect("request")
    }

    pub async fn get_session(&self, id: &str) -> reqwest::Response {
        self.client
            .get(format!("{}/api/v1/sessions/{id}", self.address))
            .bearer_auth(&self.api_key)
            .send()
            .await
            .expect("request")
    }

    pub async fn cancel_session(&self, id: &str) -> reqwest::Response {
        self.client
            .post(format!("{}/api/v1/sessions/{id}/cancel", self.address))
            .bearer_auth(&self.api_key)
            .send()
            .await
            .expect("request")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", self.address)).send().await.expect("request")
    }

    /// Creates a session from the seed body; returns the 201 body.
    pub async fn create_seed_session(&self) -> Value {
        let response = self.post_session(&self.seed_body()).await;
        assert_eq!(response.status(), 201);
        response.json().await.expect("json body")
    }
}

/// Asserts an error response's status and code; returns the message.
pub async fn assert_error(response: reqwest::Response, status: u16, code: &str) -> String {
    assert_eq!(response.status().as_u16(), status, "status for expected {code}");
    let body: Value = response.json().await.expect("error body is JSON");
    assert_eq!(body["error"]["code"], code, "body: {body}");
    let message = body["error"]["message"].as_str().expect("message").to_string();
    assert!(!message.is_empty());
    message
}

/// Generates one test per database for each async scenario `fn name(db: Db)`.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name($crate::helpers::Db::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name($crate::helpers::Db::Postgres).await })*
        }
    };
}

/// Runs the `thirdfactor` binary with `args` on the data directory `data_dir`, as a user would.
pub fn thirdfactor(data_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_thirdfactor"))
        .args(args)
        .env("THIRDFACTOR_PATHS__DATA_DIR", data_dir)
        .env("THIRDFACTOR_LOG__LEVEL", "warn")
        .output()
        .expect("run thirdfactor")
}
