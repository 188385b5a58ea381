//! `/api/v1/sessions`: create, get, cancel, and every validation and auth failure.

use serde_json::{Value, json};

use crate::helpers::{Db, assert_error, create_merchant, spawn_app, spawn_app_with};
use crate::on_both_databases;

on_both_databases!(
    create_returns_link_and_get_shows_session,
    cancel_ends_session_once,
    unknown_config_flag_is_rejected,
    malformed_urls_are_rejected,
    backend_url_outside_webhook_base_is_rejected,
    backend_url_on_private_address_is_rejected,
    merchant_id_of_another_merchant_is_forbidden,
    missing_or_bad_api_key_is_unauthorized,
    verification_without_enrollment_conflicts,
    malformed_json_and_wrong_content_type,
    sessions_of_other_merchants_are_invisible,
    expired_session_reports_expired,
);

async fn create_returns_link_and_get_shows_session(db: Db) {
    let app = spawn_app(db).await;
    let created = app.create_seed_session().await;
    assert_eq!(created["status"], "created");
    let id = created["session_id"].as_str().unwrap();
    let url = created["info"]["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/c/", app.address)), "{url}");
    let token = url.rsplit('/').next().unwrap();
    assert_eq!(token.len(), 43, "256-bit token, base64url");
    assert!(created["expires_at"].as_str().unwrap().ends_with('Z'));

    let response = app.get_session(id).await;
    assert_eq!(response.status(), 200);
    let view: Value = response.json().await.unwrap();
    assert_eq!(view["session_id"], id);
    assert_eq!(view["status"], "created");
    assert_eq!(view["type"], "enrollment");
    assert_eq!(view["step"], "document");
    assert_eq!(view["config"], "enrollment,liveness,debug");
    assert_eq!(view["merchant_ref"], "user-4711");
    assert_eq!(view["branding"], "3fatesting");
    assert!(view["result"].is_null());
    // The token is never stored or returned again.
    assert!(!view.to_string().contains(token));
}

async fn cancel_ends_session_once(db: Db) {
    let app = spawn_app(db).await;
    let id = app.create_seed_session().await["session_id"].as_str().unwrap().to_string();
    let response = app.cancel_session(&id).await;
    assert_eq!(response.status(), 200);
    let view: Value = response.json().await.unwrap();
    assert_eq!(view["status"], "cancelled");
    assert_eq!(view["result"]["status"], "cancelled");
    assert_eq!(view["result"]["session_id"], id.as_str());
    assert_eq!(view["result"]["type"], "enrollment");
    assert!(view["ended_at"].is_string());

    assert_error(app.cancel_session(&id).await, 409, "session_ended").await;
    let again: Value = app.get_session(&id).await.json().await.unwrap();
    assert_eq!(again["status"], "cancelled");
}

async fn unknown_config_flag_is_rejected(db: Db) {
    let app = spawn_app(db).await;
    let mut body = app.seed_body();
    body["config"] = json!("enrollment,selfie");
    let message = assert_error(app.post_session(&body).await, 400, "unknown_config_flag").await;
    assert!(message.contains("selfie"), "{message}");
    body["config"] = json!("enrollment,,debug");
    assert_error(app.post_session(&body).await, 400, "invalid_config").await;
}

async fn malformed_urls_are_rejected(db: Db) {
    let app = spawn_app(db).await;
    for (field, value) in [
        ("return_url", "not a url"),
        ("cancel_url", "javascript:alert(1)"),
        ("return_url", "https://user:pw@client.example/done"),
        ("backend_url", "api.client.example/webhook"),
    ] {
        let mut body = app.seed_body();
        body[field] = json!(value);
        let message = assert_error(app.post_session(&body).await, 400, "invalid_url").await;
        assert!(message.contains(field), "{field}: {message}");
    }
}

async fn backend_url_outside_webhook_base_is_rejected(db: Db) {
    let app = spawn_app(db).await;
    for url in [
        "https://evil.example/webhook/{{sessionId}}",
        "https://api.client.example/webhookx/{{sessionId}}",
        "http://api.client.example/webhook/{{sessionId}}",
    ] {
        let mut body = app.seed_body();
        body["backend_url"] = json!(url);
        assert_error(app.post_session(&body).await, 400, "backend_url_not_allowed").await;
    }
}

async fn backend_url_on_private_address_is_rejected(db: Db) {
    let app = spawn_app_with(db, |s| s.webhooks.allow_private_targets = false).await;
    for base in
        ["http://127.0.0.1:9/hooks", "http://localhost:9/hooks", "http://[::1]:9/hooks", "http://10.0.0.8/hooks"]
    {
        let (merchant_id, key) = create_merchant(&app.store, base).await;
        let mut body = app.seed_body();
        body["merchant_id"] = json!(merchant_id);
        body["backend_url"] = json!(format!("{base}/{{{{sessionId}}}}"));
        let response = app
            .client
            .post(format!("{}/api/v1/sessions", app.address))
            .bearer_auth(&key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_error(response, 400, "backend_url_private").await;
    }
}

async fn merchant_id_of_another_merchant_is_forbidden(db: Db) {
    let app = spawn_app(db).await;
    let (other_id, _) = create_merchant(&app.store, "https://other.example/hooks").await;
    let mut body = app.seed_body();
    body["merchant_id"] = json!(other_id);
    assert_error(app.post_session(&body).await, 403, "merchant_mismatch").await;
}

async fn missing_or_bad_api_key_is_unauthorized(db: Db) {
    let app = spawn_app(db).await;
    let body = serde_json::to_vec(&app.seed_body()).unwrap();
    let missing = app.post_raw("/api/v1/sessions", None, "application/json", body.clone()).await;
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    assert_error(missing, 401, "missing_api_key").await;
    let malformed = app.post_raw("/api/v1/sessions", Some("not-a-key"), "application/json", body.clone()).await;
    assert_error(malformed, 401, "invalid_api_key").await;
    let unknown = thirdfactor::domain::ApiKey::generate();
    let wrong = app.post_raw("/api/v1/sessions", Some(unknown.expose()), "application/json", body).await;
    assert_error(wrong, 401, "invalid_api_key").await;
    let get = app.client.get(format!("{}/api/v1/sessions/{}", app.address, uuid::Uuid::new_v4())).send().await.unwrap();
    assert_error(get, 401, "missing_api_key").await;
}

async fn verification_without_enrollment_conflicts(db: Db) {
    let app = spawn_app(db).await;
    let mut body = app.seed_body();
    body["config"] = json!("liveness");
    body["merchant_ref"] = json!("never-enrolled");
    let message = assert_error(app.post_session(&body).await, 409, "not_enrolled").await;
    assert!(message.contains("never-enrolled"));
}

async fn malformed_json_and_wrong_content_type(db: Db) {
    let app = spawn_app(db).await;
    let key = Some(app.api_key.as_str());
    let broken = app.post_raw("/api/v1/sessions", key, "application/json", b"{\"merchant_id\": ".to_vec()).await;
    assert_error(broken, 400, "invalid_json").await;
    let text = app.post_raw("/api/v1/sessions", key, "text/plain", b"hello".to_vec()).await;
    assert_error(text, 415, "unsupported_media_type").await;
    let missing_field =
        app.post_raw("/api/v1/sessions", key, "application/json", b"{\"merchant_id\": \"1\"}".to_vec()).await;
    assert_error(missing_field, 400, "invalid_request").await;
    let mut extra = app.seed_body();
    extra["surprise"] = json!(true);
    assert_error(app.post_session(&extra).await, 400, "invalid_request").await;
    let huge = app.post_raw("/api/v1/sessions", key, "application/json", vec![b' '; 64 * 1024]).await;
    assert_error(huge, 413, "payload_too_large").await;
    let mut bad_ref = app.seed_body();
    bad_ref["merchant_ref"] = json!("has spaces");
    assert_error(app.post_session(&bad_ref).await, 400, "invalid_merchant_ref").await;
    let mut bad_lang = app.seed_body();
    bad_lang["language"] = json!("tlh");
    assert_error(app.post_session(&bad_lang).await, 400, "unsupported_language").await;
}

async fn sessions_of_other_merchants_are_invisible(db: Db) {
    let app = spawn_app(db).await;
    let id = app.create_seed_session().await["session_id"].as_str().unwrap().to_string();
    let (_, other_key) = create_merchant(&app.store, "https://other.example/hooks").await;
    let response =
        app.client.get(format!("{}/api/v1/sessions/{id}", app.address)).bearer_auth(&other_key).send().await.unwrap();
    assert_error(response, 404, "not_found").await;
    assert_error(app.get_session("not-a-uuid").await, 404, "not_found").await;
    assert_error(app.get_session(&uuid::Uuid::new_v4().to_string()).await, 404, "not_found").await;
}

async fn expired_session_reports_expired(db: Db) {
    let app = spawn_app_with(db, |s| s.sessions.ttl_secs = 1).await;
    let id = app.create_seed_session().await["session_id"].as_str().unwrap().to_string();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let view: Value = app.get_session(&id).await.json().await.unwrap();
    assert_eq!(view["status"], "expired");
    assert_eq!(view["result"]["status"], "expired");
    assert_error(app.cancel_session(&id).await, 409, "session_ended").await;
}
