//! The capture steps through the page's API with real photos and the real models: a
//! verification selfie that matches, one that does not, attempt limits and throttling.

use std::sync::Arc;

use reqwest::Method;
use serde_json::{Value, json};
use thirdfactor::templates::{TemplateKeys, save_template};
use thirdfactor_engine::face::{FaceConfig, FaceEngine};
use thirdfactor_engine::imaging::IntakeLimits;
use thirdfactor_engine::models::ModelSet;

use crate::capture_link::{open_link, with_cookie};
use crate::helpers::{Db, TestApp, assert_error, repo_root, spawn_app};
use crate::on_both_databases;
use crate::receiver::Receiver;

on_both_databases!(verification_selfie_of_the_enrolled_person_is_approved);

pub fn photo(name: &str) -> Vec<u8> {
    std::fs::read(repo_root().join("fixtures/fetched").join(name)).expect("fixture photo (scripts/setup fetches it)")
}

/// Enrolls `merchant_ref` with the template of `photo_name`, as an approved enrollment would.
pub async fn enroll(app: &TestApp, merchant_ref: &str, photo_name: &str) {
    let models = Arc::new(ModelSet::load(&app.settings.model_config()).unwrap());
    let engine = FaceEngine::new(models, FaceConfig::default());
    let analysis = engine.analyze_bytes(&photo(photo_name), &IntakeLimits::default()).unwrap();
    let embedding = analysis.usable_embedding().unwrap();
    let keys = TemplateKeys::load("", &Default::default(), &app.settings.paths.data_dir).unwrap();
    save_template(
        &app.store,
        &keys,
        &app.merchant_id,
        merchant_ref,
        &engine.embedding_version(),
        embedding.as_slice(),
        "enroll",
    )
    .await
    .unwrap();
}

pub async fn verification_session(app: &TestApp, merchant_ref: &str) -> (String, String) {
    let mut body = app.seed_body();
    body["config"] = json!("debug");
    body["merchant_ref"] = json!(merchant_ref);
    let created: Value = app.post_session(&body).await.json().await.unwrap();
    let cookie = open_link(app, &created).await;
    (created["session_id"].as_str().unwrap().to_string(), cookie)
}

pub async fn upload(app: &TestApp, step: &str, cookie: &str, bytes: Vec<u8>, mime: &str) -> reqwest::Response {
    let part = reqwest::multipart::Part::bytes(bytes).file_name("photo.jpg").mime_str(mime).unwrap();
    let form = reqwest::multipart::Form::new().part("image", part);
    app.client
        .request(Method::POST, format!("{}/api/capture/{step}", app.address))
        .header("cookie", cookie)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

async fn verification_selfie_of_the_enrolled_person_is_approved(db: Db) {
    let receiver = Receiver::start(0).await;
    let mut app = spawn_app(db).await;
    app.use_webhook_base(&receiver.base).await;
    enroll(&app, "obama", "obama.jpg").await;
    let (id, cookie) = verification_session(&app, "obama").await;
    let state: Value = with_cookie(&app, Method::GET, "/api/capture/state", &cookie).await.json().await.unwrap();
    assert_eq!(state["steps"], json!(["selfie"]));

    let response = upload(&app, "selfie", &cookie, photo("obama2.jpg"), "image/jpeg").await;
    assert_eq!(response.status(), 200);
    let reply: Value = response.json().await.unwrap();
    assert_eq!(reply["accepted"], true, "{reply}");
    assert_eq!(reply["session_ended"], true);
    assert!(reply["debug"]["faces_detected"].as_u64().unwrap() >= 1, "debug flag shows diagnostics");

    let got = receiver.wait_for(1, std::time::Duration::from_secs(10)).await;
    let body: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(body["status"], "approved");
    assert_eq!(body["type"], "verification");
    let score = body["scores"]["face_match"].as_f64().unwrap();
    assert!(score > 0.4, "same person scores high: {score}");
    assert!(!got[0].body.contains("embedding") && !got[0].body.contains("template"));
    let view: Value = app.get_session(&id).await.json().await.unwrap();
    assert_eq!(view["status"], "approved");
    let state: Value = with_cookie(&app, Method::GET, "/api/capture/state", &cookie).await.json().await.unwrap();
    assert_eq!(state["redirect_url"], "https://client.example/done");
}

#[tokio::test]
async fn another_persons_selfie_fails_then_attempts_run_out() {
    let app = spawn_app(Db::Sqlite).await;
    enroll(&app, "obama", "obama.jpg").await;
    let (id, cookie) = verification_session(&app, "obama").await;
    for left in [2, 1] {
        let response = upload(&app, "selfie", &cookie, photo("biden.jpg"), "image/jpeg").await;
        assert_eq!(response.status(), 422);
        let reply: Value = response.json().await.unwrap();
        assert_eq!(reply["reasons"], json!(["face_mismatch"]));
        assert_eq!(reply["attempts_left"], left);
    }
    let last: Value = upload(&app, "selfie", &cookie, photo("biden.jpg"), "image/jpeg").await.json().await.unwrap();
    assert_eq!(last["session_ended"], true);
    let view: Value = app.get_session(&id).await.json().await.unwrap();
    assert_eq!(view["status"], "rejected");
    assert_eq!(view["reasons"], json!(["face_mismatch", "too_many_attempts"]));
    assert_error(upload(&app, "selfie", &cookie, photo("obama2.jpg"), "image/jpeg").await, 410, "session_ended").await;

    // Three failures so far; two more in a new session reach the throttle: 30 s between tries.
    let (_, cookie) = verification_session(&app, "obama").await;
    for _ in 0..2 {
        assert_eq!(upload(&app, "selfie", &cookie, photo("biden.jpg"), "image/jpeg").await.status(), 422);
    }
    let throttled = upload(&app, "selfie", &cookie, photo("obama2.jpg"), "image/jpeg").await;
    assert!(throttled.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() <= 31);
    assert_error(throttled, 429, "verification_throttled").await;
}

#[path = "../../server/engine/tests/support/cardgen.rs"]
#[allow(dead_code)]
pub mod cardgen;

#[tokio::test]
async fn expired_id_card_is_read_and_refused_with_its_reason() {
    let app = spawn_app(Db::Sqlite).await;
    let mut body = app.seed_body();
    body["config"] = json!("enrollment,debug");
    let created: Value = app.post_session(&body).await.json().await.unwrap();
    let cookie = open_link(&app, &created).await;
    let corners = cardgen::card_corners(480.0, 360.0, 640.0, 0.0, 1.0);
    let card_photo = cardgen::jpeg(&cardgen::photograph(&cardgen::render_card(), &corners, 960, 720));
    let response = upload(&app, "document", &cookie, card_photo, "image/jpeg").await;
    assert_eq!(response.status(), 422);
    let reply: Value = response.json().await.unwrap();
    // The ICAO specimen card expired in 2012: read correctly, then refused for that reason.
    let reasons = reply["reasons"].as_array().unwrap();
    assert!(reasons.contains(&json!("document_expired")), "{reply}");
    assert_eq!(reply["attempts_left"], 2);
    assert_error(upload(&app, "selfie", &cookie, photo("obama2.jpg"), "image/jpeg").await, 409, "wrong_step").await;
}

#[tokio::test]
async fn bad_uploads_get_clear_errors_and_cost_no_attempt() {
    let app = spawn_app(Db::Sqlite).await;
    enroll(&app, "obama", "obama.jpg").await;
    let (_, cookie) = verification_session(&app, "obama").await;
    let jpeg = photo("obama2.jpg");
    assert_error(
        upload(&app, "selfie", &cookie, jpeg[..jpeg.len() / 3].to_vec(), "image/jpeg").await,
        400,
        "image_unreadable",
    )
    .await;
    assert_error(
        upload(&app, "selfie", &cookie, b"GIF89a not really".to_vec(), "image/gif").await,
        415,
        "unsupported_image_format",
    )
    .await;
    assert_error(
        upload(&app, "selfie", &cookie, b"plain text".to_vec(), "image/jpeg").await,
        415,
        "unsupported_image_format",
    )
    .await;
    let no_cookie = app.client.post(format!("{}/api/capture/selfie", app.address)).send().await.unwrap();
    assert_error(no_cookie, 401, "capture_unauthorized").await;
    let state: Value = with_cookie(&app, Method::GET, "/api/capture/state", &cookie).await.json().await.unwrap();
    assert_eq!(state["attempts"], json!({}), "input errors cost no attempt");
    let ok: Value = upload(&app, "selfie", &cookie, jpeg, "image/jpeg").await.json().await.unwrap();
    assert_eq!(ok["accepted"], true);
}

#[tokio::test]
async fn liveness_challenge_is_answered_once_and_a_still_burst_fails() {
    let app = spawn_app(Db::Sqlite).await;
    enroll(&app, "obama", "obama.jpg").await;
    let mut body = app.seed_body();
    body["config"] = json!("liveness");
    body["merchant_ref"] = json!("obama");
    let created: Value = app.post_session(&body).await.json().await.unwrap();
    let cookie = open_link(&app, &created).await;
    let challenge_path = "/api/capture/liveness/challenge";
    assert_error(with_cookie(&app, Method::POST, challenge_path, &cookie).await, 409, "wrong_step").await;
    let selfie: Value = upload(&app, "selfie", &cookie, photo("obama2.jpg"), "image/jpeg").await.json().await.unwrap();
    assert_eq!(selfie["next_step"], "liveness", "{selfie}");

    let challenge: Value = with_cookie(&app, Method::POST, challenge_path, &cookie).await.json().await.unwrap();
    let actions = challenge["actions"].as_array().unwrap();
    assert!((2..=3).contains(&actions.len()), "{challenge}");
    let again: Value = with_cookie(&app, Method::POST, challenge_path, &cookie).await.json().await.unwrap();
    assert_eq!(again["nonce"], challenge["nonce"], "an unanswered challenge is not re-minted");

    // A still burst (the same photo, re-encoded per frame) cannot perform head movements.
    let burst = still_burst(&challenge, 640);
    let url = format!("{}/api/capture/liveness", app.address);
    let first = app.client.post(&url).header("cookie", &cookie).multipart(burst()).send().await.unwrap();
    assert_eq!(first.status(), 422);
    let reply: Value = first.json().await.unwrap();
    assert_eq!(reply["accepted"], false);
    assert!(!reply["reasons"].as_array().unwrap().is_empty(), "{reply}");
    assert_eq!(reply["attempts_left"], 2);
    let replay = app.client.post(&url).header("cookie", &cookie).multipart(burst()).send().await.unwrap();
    assert_error(replay, 409, "challenge_already_answered").await;
    let fresh: Value = with_cookie(&app, Method::POST, challenge_path, &cookie).await.json().await.unwrap();
    assert_ne!(fresh["nonce"], challenge["nonce"], "a new challenge after an answer");
}

/// Twelve frames of one still photo (`side` px, re-encoded per frame so none are byte-identical)
/// answering `challenge`: judged, but it performs no movement.
pub fn still_burst(challenge: &Value, side: u32) -> impl Fn() -> reqwest::multipart::Form + use<> {
    let frame = image::load_from_memory(&photo("obama2.jpg"))
        .unwrap()
        .resize(side, side, image::imageops::FilterType::Triangle)
        .to_rgb8();
    let nonce = challenge["nonce"].clone();
    move || {
        let start = thirdfactor::store::now_ms();
        let meta = json!({ "nonce": nonce, "timestamps": (0..12).map(|i| start + i * 150).collect::<Vec<_>>() });
        let mut form = reqwest::multipart::Form::new().text("meta", meta.to_string());
        for i in 0..12u8 {
            let mut img = frame.clone();
            img.put_pixel(0, 0, image::Rgb([i, i, i])); // not byte-identical frames
            let mut jpeg = std::io::Cursor::new(Vec::new());
            img.write_to(&mut jpeg, image::ImageFormat::Jpeg).unwrap();
            let part =
                reqwest::multipart::Part::bytes(jpeg.into_inner()).file_name("f.jpg").mime_str("image/jpeg").unwrap();
            form = form.part("frame", part);
        }
        form
    }
}

/// The document step's portrait crop of a generated card holds a face the face engine
/// finds, however the card lies in the photo (the crop is taken from the rectified card).
#[test]
fn portrait_crop_of_a_generated_card_holds_the_face() {
    use thirdfactor_engine::document::DocumentEngine;
    let dir = tempfile::tempdir().unwrap();
    let models = Arc::new(ModelSet::load(&crate::helpers::test_settings(dir.path()).model_config()).unwrap());
    let document = DocumentEngine::new(models.clone()).unwrap();
    let face = FaceEngine::new(models, FaceConfig::default());
    let card = cardgen::render_card();
    for degrees in [0.0, 4.0, 178.0, -88.0] {
        let corners = cardgen::card_corners(480.0, 360.0, 640.0, degrees, 1.0);
        let photo = cardgen::jpeg(&cardgen::photograph(&card, &corners, 960, 720));
        let reading = document.read(&photo, &IntakeLimits::default()).unwrap();
        let crop = reading.portrait_crop().expect("a portrait box on the found card");
        let analysis = face.analyze(&crop).unwrap();
        assert!(analysis.face.is_some(), "{degrees}°: no face in the portrait crop {:?}", reading.portrait);
        // The whole head is inside the crop, not cut at its top edge.
        let top = analysis.detections[0].bbox.y1;
        assert!(top > 2.0, "{degrees}°: face box starts at y {top}");
    }
}
