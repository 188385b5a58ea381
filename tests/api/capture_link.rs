//! The link from `info.url`: exchanged once for the capture cookie, the page and its state,
//! cancelling from the page, and friendly 404 / 410 pages.

use serde_json::{Value, json};

use crate::helpers::{Db, TestApp, assert_error, spawn_app, spawn_app_with};
use crate::on_both_databases;

on_both_databases!(
    link_is_exchanged_once_for_a_cookie,
    page_state_and_cancel_with_the_cookie,
    unknown_token_gets_404_page,
    ended_sessions_get_410_page
);

fn link_path(created: &Value) -> String {
    let url = created["info"]["url"].as_str().unwrap();
    format!("/c/{}", url.rsplit('/').next().unwrap())
}

/// Opens the link; returns the `tf_capture=…` cookie pair.
pub async fn open_link(app: &TestApp, created: &Value) -> String {
    let response = app.get(&link_path(created)).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/capture");
    let set_cookie = response.headers()["set-cookie"].to_str().unwrap().to_string();
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/", "Max-Age="] {
        assert!(set_cookie.contains(attribute), "{attribute} in {set_cookie}");
    }
    set_cookie.split(';').next().unwrap().to_string()
}

pub async fn with_cookie(app: &TestApp, method: reqwest::Method, path: &str, cookie: &str) -> reqwest::Response {
    app.client.request(method, format!("{}{path}", app.address)).header("cookie", cookie).send().await.unwrap()
}

async fn link_is_exchanged_once_for_a_cookie(db: Db) {
    let app = spawn_app(db).await;
    let created = app.create_seed_session().await;
    let cookie = open_link(&app, &created).await;
    let token = link_path(&created).rsplit('/').next().unwrap().to_string();
    assert!(!cookie.contains(&token), "the cookie is not the link's token");

    // The link works once: another browser is refused, the same one goes back to the page.
    let again = app.get(&link_path(&created)).await;
    assert_eq!(again.status(), 410);
    assert!(again.text().await.unwrap().contains("already been used"));
    let same_browser = with_cookie(&app, reqwest::Method::GET, &link_path(&created), &cookie).await;
    assert_eq!(same_browser.status(), 303);

    let page = app.get("/capture").await;
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(!html.contains("<script>"), "no inline script");
    for asset in ["/static/app.js", "/static/i18n.js", "/static/app.css"] {
        assert!(html.contains(asset) || asset.ends_with(".css"), "{asset} referenced");
        assert_eq!(app.get(asset).await.status(), 200, "{asset}");
    }
}

async fn page_state_and_cancel_with_the_cookie(db: Db) {
    let app = spawn_app(db).await;
    let mut body = app.seed_body();
    body["language"] = json!("hr");
    let created: Value = app.post_session(&body).await.json().await.unwrap();
    assert_error(app.get("/api/capture/state").await, 401, "capture_unauthorized").await;
    let cookie = open_link(&app, &created).await;

    let state: Value =
        with_cookie(&app, reqwest::Method::GET, "/api/capture/state", &cookie).await.json().await.unwrap();
    assert_eq!(state["type"], "enrollment");
    assert_eq!(state["language"], "hr");
    assert_eq!(state["step"], "document");
    assert_eq!(state["steps"], json!(["document", "selfie", "liveness"]));
    assert!(state["redirect_url"].is_null());
    let i18n = app.get("/static/i18n.js").await.text().await.unwrap();
    assert!(i18n.contains("Fotografirajte prednju stranu osobne iskaznice"), "Croatian texts served");

    let cancelled = with_cookie(&app, reqwest::Method::POST, "/api/capture/cancel", &cookie).await;
    assert_eq!(cancelled.status(), 200);
    let redirect: Value = cancelled.json().await.unwrap();
    assert_eq!(redirect["redirect_url"], "https://client.example/cancel");
    let view: Value = app.get_session(created["session_id"].as_str().unwrap()).await.json().await.unwrap();
    assert_eq!(view["status"], "cancelled");
    let state: Value =
        with_cookie(&app, reqwest::Method::GET, "/api/capture/state", &cookie).await.json().await.unwrap();
    assert_eq!(state["status"], "cancelled");
    assert_eq!(state["redirect_url"], "https://client.example/cancel");
    let twice = with_cookie(&app, reqwest::Method::POST, "/api/capture/cancel", &cookie).await;
    assert_error(twice, 410, "session_ended").await;
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
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(app.get(&link_path(&expiring)).await.status(), 410);
}
