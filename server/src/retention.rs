//! Raw images. By default none is ever written: an upload lives only in memory — the
//! multipart reader (`capture::intake`) buffers it, the engine decodes it on a blocking
//! thread, and the buffer is dropped when that analysis returns; only derived data (card
//! fields, sealed embeddings) is persisted. When `capture.retain_images_for` is set, each
//! upload (document photo, selfie, liveness frames) is also sealed with the template key
//! (AES-256-GCM, bound to session and file name) into `data_dir/retained-images/` (0700
//! directories, 0600 files), and the sweeper deletes it when the period ends. Retained images
//! stay on the instance that received them (not in the shared database).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rand::RngExt;
use zeroize::Zeroizing;

use crate::templates::{Sealed, TemplateKeys};

pub const DIR_NAME: &str = "retained-images";

#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error("retained image {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("retained image {0} is not a sealed image of its session")]
    Corrupt(String),
}

#[derive(Debug, Clone)]
pub struct ImageRetention {
    dir: PathBuf,
    period: Option<Duration>,
    keys: Arc<TemplateKeys>,
}

impl ImageRetention {
    pub fn new(data_dir: &Path, period: Option<Duration>, keys: Arc<TemplateKeys>) -> Self {
        Self { dir: data_dir.join(DIR_NAME), period, keys }
    }

    pub fn enabled(&self) -> bool {
        self.period.is_some()
    }

    /// Seals each image to its own file; returns the paths (none when retention is off).
    pub fn keep(
        &self,
        session_id: &str,
        kind: &str,
        images: &[Vec<u8>],
        now_ms: i64,
    ) -> Result<Vec<PathBuf>, RetentionError> {
        let Some(period) = self.period else { return Ok(Vec::new()) };
        // Session ids are UUIDs; anything else must not become a path.
        if session_id.is_empty() || !session_id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
            return Err(RetentionError::Corrupt(session_id.chars().take(40).collect()));
        }
        let dir = self.dir.join(session_id);
        create_private_dir(&self.dir)?;
        create_private_dir(&dir)?;
        let expires_at = now_ms.saturating_add(period.as_millis() as i64);
        let batch: u32 = rand::rng().random();
        let mut paths = Vec::with_capacity(images.len());
        for (i, image) in images.iter().enumerate() {
            let name = format!("{expires_at}-{kind}-{batch:08x}-{i:02}.sealed");
            let sealed = self.keys.seal(image, &aad(session_id, &name));
            let path = dir.join(&name);
            write_private(&path, format!("{}\n{}", sealed.key_id, sealed.blob).as_bytes())?;
            paths.push(path);
        }
        Ok(paths)
    }

    /// Decrypts a retained file (for operators' tooling and tests).
    pub fn open(&self, path: &Path) -> Result<Zeroizing<Vec<u8>>, RetentionError> {
        let corrupt = || RetentionError::Corrupt(path.display().to_string());
        let text = std::fs::read_to_string(path).map_err(|e| io(path, e))?;
        let (key_id, blob) = text.split_once('\n').ok_or_else(corrupt)?;
        let session_id = path.parent().and_then(Path::file_name).and_then(|n| n.to_str()).ok_or_else(corrupt)?;
        let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(corrupt)?;
        let sealed = Sealed { key_id: key_id.to_string(), blob: blob.to_string() };
        self.keys.open(&sealed, &aad(session_id, name)).map_err(|_| corrupt())
    }

    /// Deletes every retained image whose period has ended (and emptied session folders).
    /// Runs whether or not retention is on now, so turning it off still clears old images.
    pub fn sweep(&self, now_ms: i64) -> Result<usize, RetentionError> {
        let sessions = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(io(&self.dir, e)),
        };
        let mut deleted = 0;
        for session in sessions.flatten() {
            let dir = session.path();
            let Ok(files) = std::fs::read_dir(&dir) else { continue };
            let mut remaining = 0;
            for file in files.flatten() {
                let path = file.path();
                if expires_at(&path).is_some_and(|at| at <= now_ms) {
                    std::fs::remove_file(&path).map_err(|e| io(&path, e))?;
                    deleted += 1;
                } else {
                    remaining += 1;
                }
            }
            if remaining == 0 {
                // Another instance may be writing into it right now: a failure is harmless.
                let _ = std::fs::remove_dir(&dir);
            }
        }
        Ok(deleted)
    }
}

/// Binds a sealed image to its session and file name (which carries kind and expiry): a file
/// moved to another session or renamed to live longer does not open.
fn aad(session_id: &str, name: &str) -> Vec<u8> {
    let mut aad = b"thirdfactor-image-v1".to_vec();
    for field in [session_id, name] {
        aad.extend_from_slice(&(field.len() as u32).to_be_bytes());
        aad.extend_from_slice(field.as_bytes());
    }
    aad
}

fn expires_at(path: &Path) -> Option<i64> {
    path.file_name()?.to_str()?.split('-').next()?.parse().ok()
}

fn io(path: &Path, source: std::io::Error) -> RetentionError {
    RetentionError::Io { path: path.display().to_string(), source }
}

fn create_private_dir(dir: &Path) -> Result<(), RetentionError> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io(dir, e)),
    }
}

fn write_private(path: &Path, data: &[u8]) -> Result<(), RetentionError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file =
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(|e| io(path, e))?;
    file.write_all(data).map_err(|e| io(path, e))
}

/// `capture.retain_images_for`: empty or "0" = never; else a number and a unit s, m, h or d.
pub fn parse_period(raw: &str) -> Result<Option<Duration>, String> {
    let raw = raw.trim();
    if raw.is_empty() || raw == "0" {
        return Ok(None);
    }
    let (number, unit) = raw.split_at(raw.len() - 1);
    let n: u64 = number.trim().parse().map_err(|_| format!("{raw:?} is not like 30m, 24h or 7d"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("{raw:?} needs a unit: s, m, h or d")),
    };
    if secs == 0 || secs > 366 * 86_400 {
        return Err(format!("{raw:?} must be between 1 s and 366 days"));
    }
    Ok(Some(Duration::from_secs(secs)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn retention(dir: &Path, period: Option<Duration>) -> ImageRetention {
        let keys = TemplateKeys::load("", &Default::default(), dir).unwrap();
        ImageRetention::new(dir, period, Arc::new(keys))
    }

    const SESSION: &str = "0b6f1c1e-2a4b-4c8e-9d3f-5a6b7c8d9e0f";

    #[test]
    fn periods_parse() {
        assert_eq!(parse_period(""), Ok(None));
        assert_eq!(parse_period("0"), Ok(None));
        assert_eq!(parse_period("90s"), Ok(Some(Duration::from_secs(90))));
        assert_eq!(parse_period("7d"), Ok(Some(Duration::from_secs(7 * 86_400))));
        for bad in ["7", "d", "-1h", "1w", "400d", "0h"] {
            assert!(parse_period(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn off_by_default_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let r = retention(dir.path(), None);
        assert!(r.keep(SESSION, "selfie", &[b"jpeg".to_vec()], 0).unwrap().is_empty());
        assert!(!dir.path().join(DIR_NAME).exists());
    }

    #[test]
    fn kept_images_are_sealed_private_and_swept_when_due() {
        let dir = tempfile::tempdir().unwrap();
        let r = retention(dir.path(), Some(Duration::from_secs(60)));
        let frames = vec![b"\xff\xd8frame-one".to_vec(), b"\xff\xd8frame-two".to_vec()];
        let paths = r.keep(SESSION, "liveness", &frames, 1_000).unwrap();
        assert_eq!(paths.len(), 2);
        for (path, original) in paths.iter().zip(&frames) {
            let on_disk = std::fs::read(path).unwrap();
            assert!(!on_disk.windows(9).any(|w| w == &original[2..11]), "encrypted at rest");
            assert_eq!(std::fs::metadata(path).unwrap().permissions().mode() & 0o777, 0o600);
            assert_eq!(r.open(path).unwrap().as_slice(), original.as_slice());
        }
        let session_dir = paths[0].parent().unwrap();
        assert_eq!(std::fs::metadata(session_dir).unwrap().permissions().mode() & 0o777, 0o700);

        // A file renamed to live longer no longer opens.
        let renamed =
            session_dir.join(paths[0].file_name().unwrap().to_str().unwrap().replacen("61000", "99999999", 1));
        std::fs::copy(&paths[0], &renamed).unwrap();
        assert!(r.open(&renamed).is_err());
        std::fs::remove_file(&renamed).unwrap();

        assert_eq!(r.sweep(60_999).unwrap(), 0, "not yet due");
        assert_eq!(r.sweep(61_000).unwrap(), 2);
        assert!(!session_dir.exists(), "the emptied session folder goes too");
    }
}
