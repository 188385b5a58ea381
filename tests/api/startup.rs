//! Starting the server: models required, TLS by default.

use thirdfactor::config::TlsMode;
use thirdfactor::startup::Application;

use crate::helpers::{Db, fresh_database_url, test_settings};

#[tokio::test]
async fn refuses_to_start_without_models_and_names_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let empty_models = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path());
    settings.database.url = fresh_database_url(Db::Sqlite, dir.path()).await;
    settings.models.dir = empty_models.path().to_path_buf();
    let err = Application::build(settings).await.err().expect("must not start").to_string();
    assert!(err.contains("fr_detect") && err.contains("scripts/setup"), "{err}");
}

#[tokio::test]
async fn refuses_a_tampered_model() {
    let dir = tempfile::tempdir().unwrap();
    let models = tempfile::tempdir().unwrap();
    let source = crate::helpers::repo_root().join("models/files");
    for entry in std::fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, models.path().join(path.file_name().unwrap())).unwrap();
    }
    let mut bytes = std::fs::read(models.path().join("fr_eye.onnx")).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(models.path().join("fr_eye.onnx"), bytes).unwrap();
    let mut settings = test_settings(dir.path());
    settings.database.url = fresh_database_url(Db::Sqlite, dir.path()).await;
    settings.models.dir = models.path().to_path_buf();
    let err = Application::build(settings).await.err().expect("must not start").to_string();
    assert!(err.contains("fr_eye") && err.contains("SHA-256"), "{err}");
}

#[tokio::test]
async fn serves_https_with_a_generated_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path());
    settings.database.url = fresh_database_url(Db::Sqlite, dir.path()).await;
    settings.server.tls = TlsMode::SelfSigned;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let app = Application::build(settings.clone()).await.unwrap();
    let url = app.public_url().to_string();
    assert!(url.starts_with("https://localhost:"), "{url}");
    tokio::spawn(app.run_until_stopped());
    let cert_pem = std::fs::read(dir.path().join("tls/cert.pem")).expect("certificate written to the data dir");
    let cert = reqwest::Certificate::from_pem(&cert_pem).unwrap();
    let client = reqwest::Client::builder().add_root_certificate(cert).build().unwrap();
    let response = client.get(format!("{url}/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["strict-transport-security"].to_str().unwrap().contains("max-age"));
}
