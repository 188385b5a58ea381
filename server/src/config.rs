//! Typed settings: embedded defaults, then an optional TOML file, then `THIRDFACTOR_*`
//! environment variables (`__` separates sections: `THIRDFACTOR_SERVER__BIND=0.0.0.0:443`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::{Deserialize, Serialize};

/// The defaults, also the documented reference (see README "Configuration").
pub const DEFAULTS_TOML: &str = include_str!("defaults.toml");

/// File read when `--config` / `THIRDFACTOR_CONFIG` is not given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "thirdfactor.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Invalid(String),
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub paths: PathSettings,
    pub models: ModelSettings,
    pub sessions: SessionSettings,
    pub capture: CaptureSettings,
    pub liveness: LivenessSettings,
    pub webhooks: WebhookSettings,
    pub templates: TemplateSettings,
    pub log: LogSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSettings {
    /// Key id that seals new templates; empty with one key means that key.
    pub active_key_id: String,
    /// Key id → base64 of 32 random bytes. Keep retired ids to read old records.
    pub keys: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    /// Generate a certificate for localhost into the data directory on first start.
    SelfSigned,
    /// Use `cert_file` and `key_file`.
    Files,
    /// Plain HTTP, e.g. behind a TLS-terminating proxy.
    Off,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub bind: SocketAddr,
    /// Base of the links sent to users; derived from the bound address when empty.
    pub public_url: String,
    pub tls: TlsMode,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    pub shutdown_timeout_secs: u64,
    pub max_json_bytes: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://…` or `postgres://…`; empty means `sqlite://<data_dir>/thirdfactor.db`.
    pub url: String,
    pub max_connections: u32,
    pub connect_timeout_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathSettings {
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSettings {
    pub dir: PathBuf,
    pub onnxruntime: PathBuf,
    pub intra_threads: usize,
    pub verify_hashes: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSettings {
    /// Lifetime of a session and its capture link.
    pub ttl_secs: u64,
    /// How often ended-by-time sessions are swept to `expired`.
    pub sweep_interval_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureSettings {
    /// Tries per step (document, selfie, liveness) before the session is rejected.
    pub max_attempts_per_step: u32,
    /// Largest single image upload.
    pub max_image_bytes: usize,
    /// Largest image side and pixel count accepted (checked from the header, before decoding).
    pub max_image_side: u32,
    pub max_image_pixels: u64,
    /// Liveness burst bounds.
    pub min_frames: usize,
    pub max_frames: usize,
    pub max_frame_bytes: usize,
    /// Uploads analysed at once per instance; more are answered 503 + Retry-After.
    pub max_concurrent_analyses: usize,
}

/// The liveness engine's decision thresholds (the rest keep the engine's measured defaults;
/// docs/liveness-engine.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LivenessSettings {
    /// Yaw change that counts as a turn, pitch change that counts as looking up (degrees).
    pub turn_degrees: f32,
    pub look_up_degrees: f32,
    /// The page sends mirrored (selfie-preview) frames.
    pub mirrored_frames: bool,
    /// 3-D test: smallest homography residual of the landmark motion (inter-ocular distances).
    pub min_homography_residual: f32,
    /// Passive anti-spoof model: whether it may reject, its threshold and its fused-score weight.
    pub passive_gate: bool,
    pub passive_min_live: f32,
    pub passive_weight: f32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Allow `backend_url`s resolving to loopback or private addresses (local setups, tests).
    pub allow_private_targets: bool,
    pub timeout_secs: u64,
    /// Attempts before a delivery is marked failed.
    pub max_attempts: i64,
    pub initial_backoff_ms: u64,
    pub max_backoff_secs: u64,
    pub poll_interval_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `json` (one object per line) or `pretty`.
    pub format: String,
    /// An `EnvFilter` directive; `RUST_LOG` overrides it.
    pub level: String,
}

impl Settings {
    /// Defaults, then `file` (or `thirdfactor.toml` if present), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULTS_TOML));
        match file {
            Some(path) if !path.is_file() => return Err(ConfigError::MissingFile(path.to_path_buf())),
            Some(path) => figment = figment.merge(Toml::file(path)),
            None if Path::new(DEFAULT_CONFIG_FILE).is_file() => {
                figment = figment.merge(Toml::file(DEFAULT_CONFIG_FILE))
            }
            None => {}
        }
        // Every setting lives in a section, so only SECTION__KEY variables are settings; others
        // with the prefix (THIRDFACTOR_CONFIG, THIRDFACTOR_CACHE, test variables) are not.
        let env = Env::prefixed("THIRDFACTOR_").filter(|key| key.as_str().contains("__")).split("__");
        let figment = figment.merge(env);
        let settings: Settings = figment.extract().map_err(|e| ConfigError::Invalid(e.to_string()))?;
        settings.validate()?;
        Ok(settings)
    }

    /// The embedded defaults alone (tests start from these).
    pub fn defaults() -> Self {
        toml::from_str(DEFAULTS_TOML).expect("embedded defaults.toml is valid")
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.server.tls == TlsMode::Files
            && (self.server.cert_file.as_os_str().is_empty() || self.server.key_file.as_os_str().is_empty())
        {
            return Err(ConfigError::Invalid(
                "server.tls = \"files\" needs server.cert_file and server.key_file".into(),
            ));
        }
        if self.sessions.ttl_secs == 0 {
            return Err(ConfigError::Invalid("sessions.ttl_secs must be positive".into()));
        }
        if !self.server.public_url.is_empty() {
            url::Url::parse(&self.server.public_url)
                .map_err(|e| ConfigError::Invalid(format!("server.public_url: {e}")))?;
        }
        Ok(())
    }

    pub fn database_url(&self) -> String {
        if self.database.url.is_empty() {
            format!("sqlite://{}?mode=rwc", self.paths.data_dir.join("thirdfactor.db").display())
        } else {
            self.database.url.clone()
        }
    }

    pub fn delivery_policy(&self) -> crate::webhooks::DeliveryPolicy {
        let w = &self.webhooks;
        crate::webhooks::DeliveryPolicy {
            timeout: std::time::Duration::from_secs(w.timeout_secs.max(1)),
            max_attempts: w.max_attempts.max(1),
            initial_backoff: std::time::Duration::from_millis(w.initial_backoff_ms.max(1)),
            max_backoff: std::time::Duration::from_secs(w.max_backoff_secs.max(1)),
            poll_interval: std::time::Duration::from_millis(w.poll_interval_ms.max(10)),
            allow_private_targets: w.allow_private_targets,
        }
    }

    pub fn liveness_config(&self) -> thirdfactor_engine::liveness::LivenessConfig {
        use thirdfactor_engine::liveness::{ChallengeThresholds, LivenessConfig};
        let l = &self.liveness;
        LivenessConfig {
            challenge: ChallengeThresholds {
                turn_degrees: l.turn_degrees,
                look_up_degrees: l.look_up_degrees,
                mirrored_frames: l.mirrored_frames,
                ..ChallengeThresholds::default()
            },
            min_homography_residual: l.min_homography_residual,
            passive_gate: l.passive_gate,
            passive_min_live: l.passive_min_live,
            passive_weight: l.passive_weight,
            ..LivenessConfig::default()
        }
    }

    pub fn model_config(&self) -> thirdfactor_engine::models::ModelConfig {
        thirdfactor_engine::models::ModelConfig {
            models_dir: self.models.dir.clone(),
            onnxruntime_path: self.models.onnxruntime.clone(),
            intra_threads: self.models.intra_threads,
            verify_hashes: self.models.verify_hashes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_parse_and_validate() {
        let s = Settings::defaults();
        s.validate().unwrap();
        assert_eq!(s.server.tls, TlsMode::SelfSigned);
        assert_eq!(s.sessions.ttl_secs, 900);
        assert!(s.database_url().starts_with("sqlite://"));
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let text = format!("{DEFAULTS_TOML}\n[extra]\nx = 1\n");
        assert!(toml::from_str::<Settings>(&text).is_err());
    }
}
