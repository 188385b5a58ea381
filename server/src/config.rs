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
    pub face: FaceSettings,
    pub liveness: LivenessSettings,
    pub rate_limits: RateLimitSettings,
    pub log: LogSettings,
}

/// Request rate limits, in memory per instance (see `crate::ratelimit`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    pub enabled: bool,
    pub per_api_key_per_minute: u32,
    pub per_api_key_burst: u32,
    pub per_ip_per_minute: u32,
    pub per_ip_burst: u32,
}

/// Addresses (`10.0.0.1`) and networks (`10.0.0.0/8`, `fd00::/8`) of reverse proxies whose
/// X-Forwarded-For is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<(std::net::IpAddr, u8)>);

impl TrustedProxies {
    pub fn parse(entries: &[String]) -> Result<Self, ConfigError> {
        let bad = |e: &str| ConfigError::Invalid(format!("server.trusted_proxies: {e:?} is not an address or CIDR"));
        let mut nets = Vec::with_capacity(entries.len());
        for entry in entries {
            let (addr, len) = entry.split_once('/').map_or((entry.as_str(), None), |(a, l)| (a, Some(l)));
            let ip: std::net::IpAddr = addr.trim().parse().map_err(|_| bad(entry))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let len = match len {
                Some(l) => l.trim().parse::<u8>().ok().filter(|l| *l <= max).ok_or_else(|| bad(entry))?,
                None => max,
            };
            nets.push((ip, len));
        }
        Ok(Self(nets))
    }

    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr::{V4, V6};
        // An IPv4 peer may show up as ::ffff:a.b.c.d on a dual-stack socket.
        let ip = match ip {
            V6(v6) => v6.to_ipv4_mapped().map_or(ip, V4),
            v4 => v4,
        };
        self.0.iter().any(|&(net, len)| match (net, ip) {
            (V4(n), V4(a)) => prefix_eq(&n.octets(), &a.octets(), len),
            (V6(n), V6(a)) => prefix_eq(&n.octets(), &a.octets(), len),
            _ => false,
        })
    }
}

fn prefix_eq(a: &[u8], b: &[u8], len: u8) -> bool {
    let (bytes, bits) = (usize::from(len / 8), len % 8);
    if a[..bytes] != b[..bytes] {
        return false;
    }
    bits == 0 || {
        let mask = 0xffu8 << (8 - bits);
        a[bytes] & mask == b[bytes] & mask
    }
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
    /// Head yaw change (degrees) that counts as a turn.
    pub turn_degrees: f32,
    /// Head pitch change (degrees, chin up) that counts as looking up.
    pub look_up_degrees: f32,
    /// Both eyes' P(closed) above this is a closed frame, below `eye_open_below` an open one.
    pub eye_closed_above: f32,
    pub eye_open_below: f32,
    /// The page sends mirrored frames (flips turn directions).
    pub mirrored_frames: bool,
    /// 3-D test: least homography residual (inter-ocular units) a real head shows in a turn,
    /// and the pixels it must also reach (above landmark noise).
    pub min_homography_residual: f32,
    pub min_parallax_px: f32,
    /// 3-D test on the face texture: median parallax (pixels) that is depth, and below which
    /// the texture moved as one plane; either overrides the landmark residual.
    pub min_flow_parallax_px: f32,
    pub max_flat_flow_px: f32,
    /// Frames the texture test measures (0 turns it off: the landmark residual alone decides).
    pub flow_views: usize,
    /// Phone/server clock difference tolerated at both ends of the window.
    pub clock_skew_ms: i64,
    /// Whether the passive anti-spoofing score may reject, and below which P(live).
    pub passive_gate: bool,
    pub passive_min_live: f32,
    /// Weight of the passive score in the fused liveness score.
    pub passive_weight: f32,
    /// The face detector runs on every n-th burst frame; the frames between follow the face
    /// by its landmarks (1 = detector on every frame).
    pub detector_every_nth_frame: usize,
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
    /// Reverse proxies whose X-Forwarded-For names the client (addresses or CIDRs).
    pub trusted_proxies: Vec<String>,
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
    pub wide_intra_threads: usize,
    pub sessions_per_model: usize,
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
    /// Uploads analysed at once per instance; more wait in the queue below.
    pub max_concurrent_analyses: usize,
    /// Uploads that may wait for an analysis slot; beyond them 503 + Retry-After (0: no queue).
    pub max_queued_analyses: usize,
    /// Longest wait in that queue before 503 + Retry-After.
    pub max_queue_wait_ms: u64,
    /// Keep raw uploads (sealed) this long, e.g. "7d"; empty = never store them.
    pub retain_images_for: String,
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

/// The face engine's thresholds (see `thirdfactor_engine::face` and docs/face-engine.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaceSettings {
    /// Cosine similarity at or above which two faces match.
    pub selfie_vs_portrait_threshold: f32,
    pub selfie_vs_template_threshold: f32,
    /// Least detector confidence for a face.
    pub min_detector_score: f32,
    /// Quality gate of the selfie.
    pub min_eye_distance_px: f32,
    pub min_brightness: f32,
    pub max_brightness: f32,
    pub max_clipped_fraction: f32,
    pub min_sharpness: f32,
    pub max_abs_yaw: f32,
    pub max_abs_roll: f32,
    pub max_eye_closed: f32,
    pub second_face_min_score: f32,
    pub second_face_min_relative_height: f32,
}

impl FaceSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: &str| Err(ConfigError::Invalid(format!("face.{m}")));
        let unit = |v: f32| (0.0..=1.0).contains(&v);
        for (name, v) in [
            ("selfie_vs_portrait_threshold", self.selfie_vs_portrait_threshold),
            ("selfie_vs_template_threshold", self.selfie_vs_template_threshold),
            ("min_detector_score", self.min_detector_score),
            ("max_clipped_fraction", self.max_clipped_fraction),
            ("max_eye_closed", self.max_eye_closed),
            ("second_face_min_score", self.second_face_min_score),
            ("second_face_min_relative_height", self.second_face_min_relative_height),
        ] {
            if !unit(v) {
                return invalid(&format!("{name} must be between 0 and 1"));
            }
        }
        // A match threshold this low accepts most impostors: refuse it as a typo.
        if self.selfie_vs_portrait_threshold < 0.2 || self.selfie_vs_template_threshold < 0.2 {
            return invalid("match thresholds below 0.2 would accept impostors");
        }
        if !(0.0..=255.0).contains(&self.min_brightness) || self.min_brightness >= self.max_brightness {
            return invalid("min_brightness must be below max_brightness, both in 0..255");
        }
        if self.min_eye_distance_px < 0.0 || self.min_sharpness < 0.0 {
            return invalid("min_eye_distance_px and min_sharpness must not be negative");
        }
        if !(0.0..=90.0).contains(&self.max_abs_yaw) || !(0.0..=90.0).contains(&self.max_abs_roll) {
            return invalid("max_abs_yaw and max_abs_roll must be between 0 and 90");
        }
        Ok(())
    }
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
        if !(1.0..=60.0).contains(&self.turn_degrees) || !(1.0..=60.0).contains(&self.look_up_degrees) {
            return invalid("turn_degrees and look_up_degrees must be between 1 and 60");
        }
        let unit = |v: f32| (0.0..=1.0).contains(&v);
        if !unit(self.eye_closed_above) || !unit(self.eye_open_below) || self.eye_open_below > self.eye_closed_above {
            return invalid("eye_open_below <= eye_closed_above, both in 0..1");
        }
        if !unit(self.passive_min_live) || !unit(self.passive_weight) {
            return invalid("passive_min_live and passive_weight must be in 0..1");
        }
        if !(1..=4).contains(&self.detector_every_nth_frame) {
            return invalid("detector_every_nth_frame must be between 1 and 4");
        }
        if !unit(self.min_homography_residual) {
            return invalid("min_homography_residual must be in 0..1");
        }
        if !(0.0..=20.0).contains(&self.min_parallax_px) || !(0..=30_000).contains(&self.clock_skew_ms) {
            return invalid("min_parallax_px must be in 0..20 and clock_skew_ms in 0..30000");
        }
        if !(0.0..=20.0).contains(&self.max_flat_flow_px) || self.min_flow_parallax_px <= self.max_flat_flow_px {
            return invalid("max_flat_flow_px must be in 0..20 and below min_flow_parallax_px");
        }
        if self.flow_views > 29 {
            return invalid("flow_views must be in 0..29 (a burst has at most 30 frames)");
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
        self.face.validate()?;
        self.liveness.validate()?;
        TrustedProxies::parse(&self.server.trusted_proxies)?;
        self.image_retention()?;
        let r = &self.rate_limits;
        if [r.per_api_key_per_minute, r.per_api_key_burst, r.per_ip_per_minute, r.per_ip_burst].contains(&0) {
            return Err(ConfigError::Invalid("rate_limits: rates and bursts must be positive".into()));
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

    /// `capture.retain_images_for` as a period; `None` = raw images are never stored.
    pub fn image_retention(&self) -> Result<Option<std::time::Duration>, ConfigError> {
        crate::retention::parse_period(&self.capture.retain_images_for)
            .map_err(|e| ConfigError::Invalid(format!("capture.retain_images_for: {e}")))
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

    /// The face engine's configuration: engine defaults with the `[face]` values applied.
    pub fn face_config(&self) -> thirdfactor_engine::face::FaceConfig {
        let f = &self.face;
        let mut c = thirdfactor_engine::face::FaceConfig::default();
        c.matching.selfie_vs_portrait = f.selfie_vs_portrait_threshold;
        c.matching.selfie_vs_template = f.selfie_vs_template_threshold;
        c.detector.min_score = f.min_detector_score;
        let q = &mut c.quality;
        q.min_eye_distance_px = f.min_eye_distance_px;
        q.min_brightness = f.min_brightness;
        q.max_brightness = f.max_brightness;
        q.max_clipped_fraction = f.max_clipped_fraction;
        q.min_sharpness = f.min_sharpness;
        q.max_abs_yaw = f.max_abs_yaw;
        q.max_abs_roll = f.max_abs_roll;
        q.max_eye_closed = f.max_eye_closed;
        q.second_face_min_score = f.second_face_min_score;
        q.second_face_min_relative_height = f.second_face_min_relative_height;
        c
    }

    /// The liveness engine's configuration: engine defaults with the `[liveness]` values.
    pub fn liveness_config(&self) -> thirdfactor_engine::liveness::LivenessConfig {
        let l = &self.liveness;
        let mut c = thirdfactor_engine::liveness::LivenessConfig::default();
        c.challenge.turn_degrees = l.turn_degrees;
        c.challenge.look_up_degrees = l.look_up_degrees;
        c.challenge.eye_closed_above = l.eye_closed_above;
        c.challenge.eye_open_below = l.eye_open_below;
        c.challenge.mirrored_frames = l.mirrored_frames;
        c.integrity.clock_skew_ms = l.clock_skew_ms;
        c.geometry.min_homography_residual = l.min_homography_residual;
        c.geometry.min_residual_px = l.min_parallax_px;
        c.geometry.min_flow_parallax_px = l.min_flow_parallax_px;
        c.geometry.max_flat_flow_px = l.max_flat_flow_px;
        c.geometry.flow_views = l.flow_views;
        c.passive_gate = l.passive_gate;
        c.passive_min_live = l.passive_min_live;
        c.passive_weight = l.passive_weight;
        c.detect_every = l.detector_every_nth_frame;
        c
    }

    pub fn model_config(&self) -> thirdfactor_engine::models::ModelConfig {
        thirdfactor_engine::models::ModelConfig {
            models_dir: self.models.dir.clone(),
            onnxruntime_path: self.models.onnxruntime.clone(),
            intra_threads: self.models.intra_threads,
            wide_intra_threads: self.models.wide_intra_threads,
            sessions_per_model: self.models.sessions_per_model,
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
        let mut s = Settings::defaults();
        s.liveness.max_flat_flow_px = s.liveness.min_flow_parallax_px;
        assert!(s.validate().is_err(), "flat bound not below the depth bound");
        let mut s = Settings::defaults();
        s.liveness.flow_views = 30;
        assert!(s.validate().is_err(), "more flow views than a burst has");
    }

    /// The documented defaults are the engines' own: a drift either way shows up here.
    #[test]
    fn defaults_toml_matches_the_engine_defaults() {
        let s = Settings::defaults();
        let json = |c: thirdfactor_engine::face::FaceConfig| serde_json::to_value(c).unwrap();
        assert_eq!(json(s.face_config()), json(thirdfactor_engine::face::FaceConfig::default()));
        assert_eq!(s.liveness_config(), thirdfactor_engine::liveness::LivenessConfig::default());
        assert_eq!(s.challenge_config(), thirdfactor_engine::liveness::ChallengeConfig::default());
    }

    #[test]
    fn bad_engine_settings_are_refused() {
        let mut s = Settings::defaults();
        s.face.selfie_vs_template_threshold = 0.05;
        assert!(s.validate().is_err());
        let mut s = Settings::defaults();
        s.face.min_brightness = 230.0;
        assert!(s.validate().is_err());
        let mut s = Settings::defaults();
        s.liveness.eye_open_below = 0.9;
        assert!(s.validate().is_err());
        let mut s = Settings::defaults();
        s.capture.retain_images_for = "7 weeks".into();
        assert!(s.validate().is_err());
    }

    #[test]
    fn trusted_proxies_parse_addresses_and_networks() {
        let p = TrustedProxies::parse(&["10.0.0.0/8".into(), "192.168.1.7".into(), "fd00::/8".into()]).unwrap();
        for inside in ["10.200.3.4", "192.168.1.7", "fd12::1", "::ffff:10.0.0.1"] {
            assert!(p.contains(inside.parse().unwrap()), "{inside}");
        }
        for outside in ["11.0.0.1", "192.168.1.8", "fe80::1"] {
            assert!(!p.contains(outside.parse().unwrap()), "{outside}");
        }
        assert!(TrustedProxies::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(TrustedProxies::parse(&["proxy.local".into()]).is_err());
        assert!(TrustedProxies::parse(&["10.1.2.3/12".into()]).unwrap().contains("10.15.0.1".parse().unwrap()));
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let text = format!("{DEFAULTS_TOML}\n[extra]\nx = 1\n");
        assert!(toml::from_str::<Settings>(&text).is_err());
    }
}
