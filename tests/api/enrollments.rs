//! `/api/v1/enrollments/{ref}` and the encrypted template behind it.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use thirdfactor::templates::{TemplateKeys, load_template, save_template};

use crate::helpers::{Db, TestApp, assert_error, spawn_app};
use crate::on_both_databases;

on_both_databases!(enrollment_lifecycle);

fn app_keys(app: &TestApp) -> TemplateKeys {
    TemplateKeys::load("", &BTreeMap::new(), &app.settings.paths.data_dir).unwrap()
}

async fn enrollment_lifecycle(db: Db) {
    let app = spawn_app(db).await;
    let path = format!("{}/api/v1/enrollments/user-4711", app.address);
    let get = || app.client.get(&path).bearer_auth(&app.api_key).send();
    assert_error(get().await.unwrap(), 404, "not_enrolled").await;
    let mut verification = app.seed_body();
    verification["config"] = json!("liveness");
    assert_error(app.post_session(&verification).await, 409, "not_enrolled").await;

    let keys = app_keys(&app);
    let embedding: Vec<f32> = (0..512).map(|i| (i as f32 * 0.37).sin()).collect();
    save_template(&app.store, &keys, &app.merchant_id, "user-4711", "fr_feature@test", &embedding, "s-1")
        .await
        .unwrap();

    let response = get().await.unwrap();
    assert_eq!(response.status(), 200);
    let info: Value = response.json().await.unwrap();
    assert_eq!(info["enrolled"], true);
    assert_eq!(info["model_version"], "fr_feature@test");
    assert!(info.get("template").is_none(), "the template never leaves the server");
    assert_eq!(app.post_session(&verification).await.status(), 201, "verification allowed once enrolled");

    // At rest the template is sealed: no raw float bytes, and it opens only for its owner.
    let record = app.store.enrollment(&app.merchant_id, "user-4711").await.unwrap().unwrap();
    let raw: Vec<u8> = embedding.iter().flat_map(|v| v.to_le_bytes()).collect();
    assert!(!record.template.as_bytes().windows(16).any(|w| raw.windows(16).any(|r| r == w)));
    let (opened, _) = load_template(&app.store, &keys, &app.merchant_id, "user-4711").await.unwrap().unwrap();
    assert_eq!(opened, embedding);

    let delete = || app.client.delete(&path).bearer_auth(&app.api_key).send();
    assert_eq!(delete().await.unwrap().status(), 204);
    assert_error(get().await.unwrap(), 404, "not_enrolled").await;
    assert_error(delete().await.unwrap(), 404, "not_enrolled").await;
    assert_error(app.post_session(&verification).await, 409, "not_enrolled").await;
}

#[tokio::test]
async fn another_merchants_enrollment_is_invisible() {
    let app = spawn_app(Db::Sqlite).await;
    let keys = app_keys(&app);
    save_template(&app.store, &keys, &app.merchant_id, "shared-ref", "v", &[1.0, 2.0], "s").await.unwrap();
    let (_, other_key) = crate::helpers::create_merchant(&app.store, "https://other.example/hooks").await;
    let response = app
        .client
        .get(format!("{}/api/v1/enrollments/shared-ref", app.address))
        .bearer_auth(&other_key)
        .send()
        .await
        .unwrap();
    assert_error(response, 404, "not_enrolled").await;
    let bad = app
        .client
        .get(format!("{}/api/v1/enrollments/has%20space", app.address))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap();
    assert_error(bad, 400, "invalid_merchant_ref").await;
}
