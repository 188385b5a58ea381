//! Model files: the manifest that names them, their verification, and the ONNX Runtime sessions
//! built from them once at start and shared by every request.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use ort::environment::Environment;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use rayon::prelude::*;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The manifest compiled into the binary: a build pins the exact model files it was tested with.
pub const EMBEDDED_MANIFEST: &str = include_str!("../../../models/manifest.toml");

/// The command that fetches and verifies every model file.
pub const SETUP_HINT: &str = "run scripts/setup from the repository root";

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model manifest is invalid: {0}")]
    Manifest(String),
    #[error("missing model file {path} ({name}); {SETUP_HINT}", path = .path.display())]
    Missing { name: String, path: PathBuf },
    #[error(
        "model file {path} ({name}) has SHA-256 {actual}, the manifest expects {expected}; {SETUP_HINT}",
        path = .path.display()
    )]
    HashMismatch { name: String, path: PathBuf, expected: String, actual: String },
    #[error("cannot read {path}: {source}", path = .path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot load ONNX Runtime from {path}: {message}; {SETUP_HINT}", path = .path.display())]
    Runtime { path: PathBuf, message: String },
    #[error("cannot create an ONNX session for {name}: {message}")]
    Session { name: String, message: String },
    #[error("model {0} is not loaded")]
    NotLoaded(String),
    #[error("model {name} failed: {message}")]
    Inference { name: String, message: String },
}

/// What a manifest entry is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    Onnx,
    Runtime,
    Dict,
    Fixture,
}

/// One fetched file: where it comes from and what it must hash to.
#[derive(Debug, Clone, Deserialize)]
pub struct ManifestEntry {
    pub name: String,
    pub kind: FileKind,
    pub source: String,
    pub package: String,
    pub version: String,
    pub path_in_package: String,
    /// Path relative to the repository root; the server looks the file up by its file name
    /// inside the configured models directory.
    pub dest: String,
    pub sha256: String,
    pub size: u64,
    pub license: String,
}

impl ManifestEntry {
    pub fn file_name(&self) -> &str {
        self.dest.rsplit('/').next().unwrap_or(&self.dest)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    #[serde(rename = "file")]
    pub files: Vec<ManifestEntry>,
}

impl Manifest {
    pub fn embedded() -> Result<Self, ModelError> {
        Self::parse(EMBEDDED_MANIFEST)
    }

    pub fn parse(text: &str) -> Result<Self, ModelError> {
        toml::from_str(text).map_err(|e| ModelError::Manifest(e.to_string()))
    }

    pub fn of_kind(&self, kind: FileKind) -> impl Iterator<Item = &ManifestEntry> {
        self.files.iter().filter(move |f| f.kind == kind)
    }

    pub fn entry(&self, name: &str) -> Option<&ManifestEntry> {
        self.files.iter().find(|f| f.name == name)
    }
}

/// Where the model files are and how to run them.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    pub models_dir: PathBuf,
    pub onnxruntime_path: PathBuf,
    /// Intra-op threads per session. One is fastest for these small models on few cores;
    /// requests run in parallel instead.
    pub intra_threads: usize,
    /// Intra-op threads for [`WIDE_MODELS`]; 0 = one per CPU core.
    pub wide_intra_threads: usize,
    /// Sessions per model, so that many frames or requests can run one model at once
    /// (`Session::run` needs `&mut`); 0 = one per CPU core.
    pub sessions_per_model: usize,
    /// Check every file's SHA-256 against the manifest before loading it.
    pub verify_hashes: bool,
}

/// Models that take one large image per call (the OCR text detector on a whole photo or card).
/// Nothing else of the request runs beside them, so one call gets every core: a 1280×960
/// detection takes 355 ms on two threads against 589 ms on one.
pub const WIDE_MODELS: &[&str] = &["ocr_det"];

static ORT_ENVIRONMENT: OnceLock<Result<Environment, String>> = OnceLock::new();

/// ONNX Runtime allows one environment per process; every `ModelSet` shares it.
fn environment(runtime: &Path) -> Result<&'static Environment, ModelError> {
    let result = ORT_ENVIRONMENT.get_or_init(|| {
        let builder = ort::init_from(runtime).map_err(|e| e.to_string())?;
        builder.with_name("thirdfactor").build().map_err(|e| e.to_string())
    });
    result.as_ref().map_err(|message| ModelError::Runtime { path: runtime.to_path_buf(), message: message.clone() })
}

/// Interchangeable sessions of one model: a caller takes any free one, so parallel callers do
/// not queue behind one lock.
struct SessionPool {
    slots: Vec<Mutex<Session>>,
}

impl SessionPool {
    fn take(&self) -> MutexGuard<'_, Session> {
        // A panic while running a model leaves the session itself intact, so a poisoned lock is usable.
        for slot in &self.slots {
            match slot.try_lock() {
                Ok(guard) => return guard,
                Err(std::sync::TryLockError::Poisoned(p)) => return p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => {}
            }
        }
        // All busy: wait on a slot chosen by thread, so waiters spread over the pool.
        let mut hasher = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(&std::thread::current().id(), &mut hasher);
        let index = std::hash::Hasher::finish(&hasher) as usize % self.slots.len();
        self.slots[index].lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Every ONNX session the engines use, created once.
pub struct ModelSet {
    sessions: BTreeMap<String, SessionPool>,
    manifest: Manifest,
    models_dir: PathBuf,
    load_time: Duration,
}

impl std::fmt::Debug for ModelSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelSet")
            .field("models", &self.sessions.keys().collect::<Vec<_>>())
            .field("load_time", &self.load_time)
            .finish()
    }
}

impl ModelSet {
    /// Verifies the files named by the embedded manifest and creates every session.
    pub fn load(config: &ModelConfig) -> Result<Self, ModelError> {
        Self::load_with(Manifest::embedded()?, config)
    }

    pub fn load_with(manifest: Manifest, config: &ModelConfig) -> Result<Self, ModelError> {
        let started = Instant::now();
        let needed: Vec<&ManifestEntry> =
            manifest.files.iter().filter(|f| matches!(f.kind, FileKind::Onnx | FileKind::Dict)).collect();
        check_present(&config.models_dir, &needed)?;
        check_runtime_present(&config.onnxruntime_path)?;
        if config.verify_hashes {
            needed.par_iter().try_for_each(|entry| verify_file(&config.models_dir.join(entry.file_name()), entry))?;
        }
        let env = environment(&config.onnxruntime_path)?;
        let per_model = per_core(config.sessions_per_model);
        let onnx: Vec<&ManifestEntry> = needed.into_iter().filter(|e| e.kind == FileKind::Onnx).collect();
        let sessions = onnx
            .par_iter()
            .map(|entry| {
                let path = config.models_dir.join(entry.file_name());
                let threads = match WIDE_MODELS.contains(&entry.name.as_str()) {
                    true => per_core(config.wide_intra_threads),
                    false => config.intra_threads,
                };
                let slots = (0..per_model)
                    .map(|_| create_session(env, &path, &entry.name, threads).map(Mutex::new))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((entry.name.clone(), SessionPool { slots }))
            })
            .collect::<Result<BTreeMap<_, _>, ModelError>>()?;
        let load_time = started.elapsed();
        tracing::info!(models = sessions.len(), per_model, ms = load_time.as_millis() as u64, "models loaded");
        Ok(Self { sessions, manifest, models_dir: config.models_dir.clone(), load_time })
    }

    /// Exclusive use of one of the model's sessions (`Session::run` needs `&mut`).
    pub fn session(&self, name: &str) -> Result<MutexGuard<'_, Session>, ModelError> {
        let pool = self.sessions.get(name).ok_or_else(|| ModelError::NotLoaded(name.to_string()))?;
        Ok(pool.take())
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.sessions.keys().map(String::as_str)
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Path of a non-ONNX file from the manifest (e.g. the OCR dictionary).
    pub fn file_path(&self, name: &str) -> Result<PathBuf, ModelError> {
        let entry = self.manifest.entry(name).ok_or_else(|| ModelError::NotLoaded(name.to_string()))?;
        Ok(self.models_dir.join(entry.file_name()))
    }

    pub fn load_time(&self) -> Duration {
        self.load_time
    }

    /// Short identifier of a model's exact weights, stored with anything derived from it.
    pub fn version_of(&self, name: &str) -> Option<String> {
        self.manifest.entry(name).map(|e| format!("{}@{}", e.name, &e.sha256[..12.min(e.sha256.len())]))
    }
}

/// `configured`, or one per CPU core when 0.
fn per_core(configured: usize) -> usize {
    match configured {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    }
}

fn check_present(dir: &Path, entries: &[&ManifestEntry]) -> Result<(), ModelError> {
    for entry in entries {
        let path = dir.join(entry.file_name());
        if !path.is_file() {
            return Err(ModelError::Missing { name: entry.name.clone(), path });
        }
    }
    Ok(())
}

fn check_runtime_present(path: &Path) -> Result<(), ModelError> {
    if path.is_file() {
        Ok(())
    } else {
        Err(ModelError::Missing { name: "onnxruntime".into(), path: path.to_path_buf() })
    }
}

/// Streams the file through SHA-256 and compares with the manifest.
pub fn verify_file(path: &Path, entry: &ManifestEntry) -> Result<(), ModelError> {
    let actual = sha256_file(path)?;
    if actual.eq_ignore_ascii_case(&entry.sha256) {
        Ok(())
    } else {
        Err(ModelError::HashMismatch {
            name: entry.name.clone(),
            path: path.to_path_buf(),
            expected: entry.sha256.clone(),
            actual,
        })
    }
}

pub fn sha256_file(path: &Path) -> Result<String, ModelError> {
    let io_err = |source| ModelError::Io { path: path.to_path_buf(), source };
    let mut file = std::fs::File::open(path).map_err(io_err)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(io_err)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

fn create_session(env: &Environment, path: &Path, name: &str, threads: usize) -> Result<Session, ModelError> {
    let fail = |message: String| ModelError::Session { name: name.to_string(), message };
    Session::builder(env)
        .map_err(|e| fail(e.to_string()))?
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(|e| fail(e.to_string()))?
        .with_intra_threads(threads.max(1))
        .map_err(|e| fail(e.to_string()))?
        // Idle pool threads would otherwise spin after each call, taking the cores from the
        // recognizer calls that follow a detection.
        .with_intra_op_spinning(false)
        .map_err(|e| fail(e.to_string()))?
        .commit_from_file(path)
        .map_err(|e| fail(e.to_string()))
}
