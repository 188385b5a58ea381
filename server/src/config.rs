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
    pub webhooks: WebhookSettings,
    pub templates: TemplateSettings,
    pub liveness: LivenessSettings,
    pub log: LogSettings,
}

/// The liveness challenge the server issues (see `thirdfactor_engine::liveness::challenge`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LivenessSettings {
    /// Actions a challenge may ask for.
    pub actions: Vec<thirdfactor_engine::liveness::Action>,
    pub min_actions: usize,
    pub max_actions: usize,
    /// Time the page has to capture the answer, from issue.
    pub window_ms: i64,
    /// Always ask at least one head turn (the 3-D test needs yaw parallax).
    pub require_turn: bool,
    /// TEST ONLY: draws every challenge's actions from this seed, so browser tests know the
    /// order in advance. The nonce stays random. Absent by default; a loud warning at start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge_seed: Option<u64>,
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

impl LivenessSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: &str| Err(ConfigError::Invalid(format!("liveness.{m}")));
        if self.actions.is_empty() {
            return invalid("actions must name at least one action");
        }
        if self.min_actions == 0 || self.min_actions > self.max_actions {
            return invalid("min_actions must be between 1 and max_actions");
        }
        if self.max_actions > 6 {
            return invalid("max_actions above 6 cannot be done in a capture window");
        }
        if !(1_000..=60_000).contains(&self.window_ms) {
            return invalid("window_ms must be between 1000 and 60000");
        }
        Ok(())
    }
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
        self.liveness.validate()?;
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

    pub fn challenge_config(&self) -> thirdfactor_engine::liveness::ChallengeConfig {
        let l = &self.liveness;
        thirdfactor_engine::liveness::ChallengeConfig {
            actions: l.actions.clone(),
            min_actions: l.min_actions,
            max_actions: l.max_actions,
            window_ms: l.window_ms,
            require_turn: l.require_turn,
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
    fn the_challenge_seed_is_absent_by_default_and_read_when_set() {
        assert_eq!(Settings::defaults().liveness.challenge_seed, None);
        let text = DEFAULTS_TOML.replace("# challenge_seed = 42", "challenge_seed = 42");
        let s: Settings = toml::from_str(&text).unwrap();
        assert_eq!(s.liveness.challenge_seed, Some(42));
    }

    #[test]
    fn bad_liveness_settings_are_refused() {
        let mut s = Settings::defaults();
        s.liveness.min_actions = 4;
        assert!(s.validate().is_err(), "min above max");
        let mut s = Settings::defaults();
        s.liveness.actions.clear();
        assert!(s.validate().is_err(), "no actions");
        let mut s = Settings::defaults();
        s.liveness.window_ms = 10;
        assert!(s.validate().is_err(), "window too short");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let text = format!("{DEFAULTS_TOML}\n[extra]\nx = 1\n");
        assert!(toml::from_str::<Settings>(&text).is_err());
    }
}
