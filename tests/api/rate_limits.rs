//! Rate limits per client IP and per API key: 429 with Retry-After and the JSON error, and
//! X-Forwarded-For believed only from a trusted proxy. The limiters are in memory per
//! instance, so SQLite suffices.

use crate::helpers::{Db, TestApp, assert_error, create_merchant_full, spawn_app_with};

async fn get_with(app: &TestApp, path: &str, key: Option<&str>, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut req = app.client.get(format!("{}{path}", app.address));
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    if let Some(ip) = forwarded_for {
        req = req.header("x-forwarded-for", ip);
    }
    req.send().await.expect("request")
}

const SESSION: &str = "/api/v1/sessions/00000000-0000-4000-8000-000000000000";

#[tokio::test]
async fn an_ip_over_its_limit_gets_429_with_retry_after() {
    let app = spawn_app_with(Db::Sqlite, |s| {
        s.rate_limits.per_ip_per_minute = 1;
        s.rate_limits.per_ip_burst = 3;
    })
    .await;
    for _ in 0..3 {
        assert_eq!(get_with(&app, SESSION, Some(&app.api_key), None).await.status(), 404);
    }
    let response = get_with(&app, SESSION, Some(&app.api_key), None).await;
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "one request per minute: {retry_after}");
    let message = assert_error(response, 429, "rate_limited").await;
    assert!(message.contains("retry in"), "{message}");
    // The capture page and unknown clients share the limit; the probes do not.
    assert_eq!(app.get("/capture").await.status(), 429);
    assert_eq!(app.get("/healthz").await.status(), 200);
    // Without a trusted proxy, X-Forwarded-For is the client's own claim and ignored.
    assert_eq!(get_with(&app, SESSION, None, Some("203.0.113.50")).await.status(), 429);
}

#[tokio::test]
async fn forwarded_for_names_the_client_behind_a_trusted_proxy() {
    let app = spawn_app_with(Db::Sqlite, |s| {
        s.rate_limits.per_ip_per_minute = 1;
        s.rate_limits.per_ip_burst = 2;
        s.server.trusted_proxies = vec!["127.0.0.0/8".into()];
    })
    .await;
    let first = Some("203.0.113.1");
    for _ in 0..2 {
        assert_eq!(get_with(&app, "/capture", None, first).await.status(), 200);
    }
    assert_eq!(get_with(&app, "/capture", None, first).await.status(), 429);
    // Another client behind the same proxy has its own allowance, and a forged entry in
    // front of the proxy-appended address changes nothing.
    assert_eq!(get_with(&app, "/capture", None, Some("203.0.113.2")).await.status(), 200);
    assert_eq!(get_with(&app, "/capture", None, Some("198.51.100.9, 203.0.113.1")).await.status(), 429);
}

#[tokio::test]
async fn each_api_key_has_its_own_limit() {
    let app = spawn_app_with(Db::Sqlite, |s| {
        s.rate_limits.per_api_key_per_minute = 1;
        s.rate_limits.per_api_key_burst = 2;
    })
    .await;
    let other = create_merchant_full(&app.store, &app.webhook_base).await;
    for _ in 0..2 {
        assert_eq!(get_with(&app, SESSION, Some(&app.api_key), None).await.status(), 404);
    }
    let response = get_with(&app, SESSION, Some(&app.api_key), None).await;
    assert!(response.headers().contains_key("retry-after"));
    assert_error(response, 429, "rate_limited").await;
    assert_eq!(get_with(&app, SESSION, Some(&other.api_key), None).await.status(), 404, "another key is unaffected");
    // Invalid keys are not counted per key (the per-IP limit covers guessing).
    for _ in 0..3 {
        assert_eq!(get_with(&app, SESSION, Some("tf_invalid"), None).await.status(), 401);
    }
}
