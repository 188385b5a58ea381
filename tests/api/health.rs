//! Operational endpoints and the API description.

use serde_json::Value;

use crate::helpers::{Db, spawn_app};
use crate::on_both_databases;

on_both_databases!(ready_when_database_and_models_are_up);

async fn ready_when_database_and_models_are_up(db: Db) {
    let app = spawn_app(db).await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["database"], "ok");
    assert!(body["checks"]["models"].as_u64().unwrap() >= 9, "{body}");
}

#[tokio::test]
async fn metrics_count_requests() {
    let app = spawn_app(Db::Sqlite).await;
    app.create_seed_session().await;
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(text.contains("http_requests_total"), "{text}");
    assert!(text.contains("route=\"/api/v1/sessions\""), "{text}");
    assert!(text.contains("thirdfactor_sessions_created_total"));
}

#[tokio::test]
async fn openapi_document_and_local_docs_page() {
    let app = spawn_app(Db::Sqlite).await;
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in ["/api/v1/sessions", "/api/v1/sessions/{id}", "/api/v1/sessions/{id}/cancel"] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
    let page = app.get("/api/docs/").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger") && !html.contains("cdn"), "docs served locally");
    let unknown = app.get("/api/v1/nothing-here").await;
    crate::helpers::assert_error(unknown, 404, "not_found").await;
}

#[tokio::test]
async fn database_unreachable_makes_readyz_fail() {
    // A PostgreSQL URL on a port nothing listens on: the app cannot even start, and says why.
    let dir = tempfile::tempdir().unwrap();
    let mut settings = crate::helpers::test_settings(dir.path());
    settings.database.url = "postgres://nobody@127.0.0.1:1/none".into();
    settings.database.connect_timeout_secs = 1;
    let err = thirdfactor::startup::Application::build(settings).await.err().expect("must fail");
    assert!(err.to_string().contains("database"), "{err}");
}
