//! Builds the application: database, models, HTTP server on a listener. Tests bind port 0
//! and get the real server.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::Server;
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpServer, web};
use thirdfactor_engine::document::{DocumentEngine, DocumentError};
use thirdfactor_engine::face::FaceEngine;
use thirdfactor_engine::liveness::LivenessEngine;
use thirdfactor_engine::models::{ModelError, ModelSet};
use tokio::sync::Notify;
use tracing_actix_web::TracingLogger;

use crate::api::error::{ApiError, api_not_found, json_error};
use crate::capture::challenge::ChallengeIssuer;
use crate::config::{ConfigError, Settings, TlsMode, TrustedProxies};
use crate::ratelimit::{self, RateLimits};
use crate::retention::ImageRetention;
use crate::sessions::{SessionPolicy, Sessions};
use crate::store::{Backend, Store, StoreError};
use crate::templates::{TemplateError, TemplateKeys};
use crate::tls::{self, TlsError};
use crate::webhooks::Dispatcher;
use crate::{api, audit, capture, telemetry};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Models(#[from] ModelError),
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("document engine: {0}")]
    Document(#[from] DocumentError),
    #[error("template keys: {0}")]
    Templates(#[from] TemplateError),
    #[error("HTTP client: {0}")]
    Http(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("model loading panicked")]
    Join,
}

/// Shared by every request handler.
pub struct AppState {
    pub store: Store,
    pub sessions: Sessions,
    pub models: Arc<ModelSet>,
    pub templates: Arc<TemplateKeys>,
    pub capture: crate::config::CaptureSettings,
    pub face: FaceEngine,
    pub document: DocumentEngine,
    pub liveness: LivenessEngine,
    pub challenges: ChallengeIssuer,
    pub rate_limits: RateLimits,
    pub retention: ImageRetention,
    /// Bounds concurrent CPU-heavy analyses and their queue (503 beyond it).
    pub admission: crate::admission::Admission,
    /// Base of capture links, without a trailing slash.
    pub public_url: String,
}

pub struct Application {
    port: u16,
    public_url: String,
    server: Server,
    store: Store,
    background: Vec<tokio::task::JoinHandle<()>>,
    ready_after: Duration,
}

impl Application {
    /// Connects and migrates the database, loads every model, binds the listener.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let started = Instant::now();
        telemetry::init_metrics();
        let model_config = settings.model_config();
        // Model loading is CPU work (hashing, graph optimisation): overlap it with the database.
        let models = tokio::task::spawn_blocking(move || ModelSet::load(&model_config));
        let store = connect_store(&settings).await?;
        store.migrate().await?;
        let models = Arc::new(models.await.map_err(|_| StartupError::Join)??);

        let listener = TcpListener::bind(settings.server.bind)
            .map_err(|source| StartupError::Bind { addr: settings.server.bind.to_string(), source })?;
        let local = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { addr: settings.server.bind.to_string(), source })?;
        let tls = tls::server_config(&settings)?;
        let public_url = public_url(&settings, local.port());
        let templates =
            TemplateKeys::load(&settings.templates.active_key_id, &settings.templates.keys, &settings.paths.data_dir)?;
        if settings.templates.keys.is_empty() && store.backend() == Backend::Postgres {
            // Instances sharing a database must share the key, or none opens the others' records.
            tracing::warn!(
                "PostgreSQL with a generated template key: every instance on this database needs the same \
                 templates.keys (docs/security.md, \"Running several instances\")"
            );
        }
        let document = DocumentEngine::new(models.clone())?;
        let webhook_wake = Arc::new(Notify::new());
        let sessions = Sessions {
            store: store.clone(),
            policy: SessionPolicy {
                ttl: Duration::from_secs(settings.sessions.ttl_secs),
                allow_private_targets: settings.webhooks.allow_private_targets,
            },
            webhook_wake: webhook_wake.clone(),
        };
        let dispatcher = Dispatcher::new(store.clone(), settings.delivery_policy(), webhook_wake)
            .map_err(|e| StartupError::Http(e.to_string()))?;
        let challenges = ChallengeIssuer::from_settings(&settings);
        if challenges.is_seeded() {
            tracing::warn!(
                "TEST ONLY: liveness.challenge_seed is set, so every liveness challenge asks the same \
                 actions. Never run a production server with it."
            );
        }
        let templates = Arc::new(templates);
        let retention = ImageRetention::new(&settings.paths.data_dir, settings.image_retention()?, templates.clone());
        let state = web::Data::new(AppState {
            store: store.clone(),
            sessions: sessions.clone(),
            models: models.clone(),
            templates,
            capture: settings.capture.clone(),
            face: FaceEngine::new(models.clone(), settings.face_config()),
            document,
            liveness: LivenessEngine::new(models.clone(), settings.face_config(), settings.liveness_config()),
            challenges,
            retention: retention.clone(),
            rate_limits: RateLimits::new(
                &settings.rate_limits,
                TrustedProxies::parse(&settings.server.trusted_proxies)?,
            ),
            admission: crate::admission::Admission::from_settings(&settings.capture),
            public_url: public_url.clone(),
        });
        let server = http_server(&settings, state, listener, tls)?;
        let every = Duration::from_secs(settings.sessions.sweep_interval_secs.max(1));
        let background = vec![tokio::spawn(sweep_loop(sessions, retention, every)), tokio::spawn(dispatcher.run())];
        let ready_after = started.elapsed();
        metrics::gauge!("thirdfactor_startup_seconds").set(ready_after.as_secs_f64());
        tracing::info!(%public_url, port = local.port(), ms = ready_after.as_millis() as u64, "ready");
        Ok(Self { port: local.port(), public_url, server, store, background, ready_after })
    }

    /// Stops the server from outside (tests simulate restarts with it).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// Time from `build` to a bound, ready server (models loaded, database migrated).
    pub fn ready_after(&self) -> Duration {
        self.ready_after
    }

    /// Serves until SIGINT/SIGTERM; in-flight requests get `shutdown_timeout_secs` to finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        for task in &self.background {
            task.abort();
        }
        self.store.close().await;
        tracing::info!("stopped");
        result
    }
}

async fn connect_store(settings: &Settings) -> Result<Store, StoreError> {
    Store::connect(
        &settings.database_url(),
        settings.database.max_connections,
        Duration::from_secs(settings.database.connect_timeout_secs),
    )
    .await
}

fn public_url(settings: &Settings, port: u16) -> String {
    if !settings.server.public_url.is_empty() {
        return settings.server.public_url.trim_end_matches('/').to_string();
    }
    let scheme = if settings.server.tls == TlsMode::Off { "http" } else { "https" };
    let ip = settings.server.bind.ip();
    let host = if ip.is_unspecified() || ip.is_loopback() { "localhost".to_string() } else { ip.to_string() };
    format!("{scheme}://{host}:{port}")
}

fn http_server(
    settings: &Settings,
    state: web::Data<AppState>,
    listener: TcpListener,
    tls: Option<rustls::ServerConfig>,
) -> Result<Server, StartupError> {
    let json_limit = settings.server.max_json_bytes;
    let hsts = tls.is_some();
    let factory = move || {
        App::new()
            .app_data(state.clone())
            .app_data(
                web::JsonConfig::default().limit(json_limit).error_handler(move |err, _| json_error(err, json_limit)),
            )
            .app_data(web::PathConfig::default().error_handler(|_, _| ApiError::NotFound("resource").into()))
            .wrap(from_fn(ratelimit::limit_by_ip))
            .wrap(security_headers(hsts))
            .wrap(from_fn(audit::record_api_actions))
            .wrap(from_fn(telemetry::track_requests))
            .wrap(TracingLogger::default())
            .configure(api::configure)
            .configure(capture::configure)
            .default_service(web::to(api_not_found))
    };
    let mut server = HttpServer::new(factory).shutdown_timeout(settings.server.shutdown_timeout_secs);
    if settings.server.workers > 0 {
        server = server.workers(settings.server.workers);
    }
    let addr = settings.server.bind.to_string();
    let server = match tls {
        Some(config) => server.listen_rustls_0_23(listener, config),
        None => server.listen(listener),
    }
    .map_err(|source| StartupError::Bind { addr, source })?;
    Ok(server.run())
}

/// CSP without inline code, no framing, no referrer, camera only for our own pages.
fn security_headers(hsts: bool) -> DefaultHeaders {
    let mut headers = DefaultHeaders::new()
        .add((
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
             media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
             form-action 'self'; frame-ancestors 'none'",
        ))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("Permissions-Policy", "camera=(self), microphone=(), geolocation=()"));
    if hsts {
        headers = headers.add(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"));
    }
    headers
}

/// Ends overdue sessions in the background so results and webhooks do not wait for a reader.
/// Also deletes retained raw images whose period has ended.
async fn sweep_loop(sessions: Sessions, retention: ImageRetention, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    loop {
        ticker.tick().await;
        if let Err(e) = sessions.sweep_expired().await {
            tracing::warn!(error = %e, "expiry sweep failed");
        }
        let retention = retention.clone();
        match tokio::task::spawn_blocking(move || retention.sweep(crate::store::now_ms())).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(deleted = n, "retained images past their period deleted"),
            Ok(Err(e)) => tracing::warn!(error = %e, "retained image sweep failed"),
            Err(e) => tracing::warn!(error = %e, "retained image sweep task failed"),
        }
    }
}
