//! Shared set-up for the engine's integration tests: the real face models and fixture photos
//! fetched by scripts/setup.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use thirdfactor_engine::face::{FaceConfig, FaceEngine};
use thirdfactor_engine::models::{FileKind, Manifest, ModelConfig, ModelSet};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Only the face models: the OCR sessions are not needed here and cost load time.
pub fn face_models() -> Arc<ModelSet> {
    let mut manifest = Manifest::embedded().expect("manifest");
    manifest.files.retain(|f| f.kind != FileKind::Onnx || thirdfactor_engine::face::is_face_model(&f.name));
    let root = repo_root();
    let config = ModelConfig {
        models_dir: root.join("models/files"),
        onnxruntime_path: std::env::var_os("ORT_DYLIB_PATH")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("models/files/libonnxruntime.so.1.31.1")),
        intra_threads: 1,
        wide_intra_threads: 0,
        sessions_per_model: 0,
        verify_hashes: false,
    };
    Arc::new(ModelSet::load_with(manifest, &config).expect("face models load (run scripts/setup)"))
}

pub fn engine() -> FaceEngine {
    FaceEngine::new(face_models(), FaceConfig::default())
}

pub fn fixture_bytes(name: &str) -> Vec<u8> {
    let path = repo_root().join("fixtures/fetched").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (run scripts/setup)", path.display()))
}

pub fn fixture(name: &str) -> image::RgbImage {
    image::load_from_memory(&fixture_bytes(name)).expect("fixture decodes").into_rgb8()
}
