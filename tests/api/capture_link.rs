//! The link from `info.url`: the page while open, friendly 404 and 410 pages otherwise.

use serde_json::json;

use crate::helpers::{Db, spawn_app, spawn_app_with};
use crate::on_both_databases;

on_both_databases!(open_link_serves_capture_page, unknown_token_gets_404_page, ended_sessions_get_410_page);

fn link_path(created: &serde_json::Value) -> String {
    let url = created["info"]["url"].as_str().unwrap();
    format!("/c/{}", url.rsplit('/').next().unwrap())
}

async fn open_link_serves_capture_page(db: Db) {
    let app = spawn_app(db).await;
    let mut body = app.seed_body();
    body["language"] = json!("hr");
    let created: serde_json::Value = app.post_session(&body).await.json().await.unwrap();
    let response = app.get(&link_path(&created)).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["cache-control"], "no-store");
    let html = response.text().await.unwrap();
    assert!(html.contains("lang=\"hr\""));
    assert!(html.contains("Fotografirajte prednju stranu osobne iskaznice"), "enrollment starts with the ID card");
    assert!(!html.contains("<script>"), "no inline script");
    let css = app.get("/static/app.css").await;
    assert_eq!(css.status(), 200);
    assert!(css.headers()["content-type"].to_str().unwrap().starts_with("text/css"));
}

async fn unknown_token_gets_404_page(db: Db) {
    let app = spawn_app(db).await;
    let token = "A".repeat(43);
    let response = app
        .client
        .get(format!("{}/c/{token}", app.address))
        .header("accept-language", "de-DE,de;q=0.9")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(response.text().await.unwrap().contains("Dieser Link ist ungültig"));
    let garbage = app.get("/c/..%2F..%2Fetc%2Fpasswd").await;
    assert_eq!(garbage.status(), 404);
}

async fn ended_sessions_get_410_page(db: Db) {
    let app = spawn_app_with(db, |s| s.sessions.ttl_secs = 1).await;
    let cancelled = app.create_seed_session().await;
    app.cancel_session(cancelled["session_id"].as_str().unwrap()).await;
    let response = app.get(&link_path(&cancelled)).await;
    assert_eq!(response.status(), 410);
    assert!(response.text().await.unwrap().contains("This link has expired"));

    let expiring = app.create_seed_session().await;
    assert_eq!(app.get(&link_path(&expiring)).await.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(app.get(&link_path(&expiring)).await.status(), 410);
}
