//! Branding profiles: chosen by a session's `branding`, refused when unknown, served to the
//! page with the logo; managed with `thirdfactor merchant branding`.

use reqwest::Method;
use serde_json::{Value, json};
use thirdfactor::branding::{BrandingInput, BrandingProfile};

use crate::capture_link::{open_link, with_cookie};
use crate::helpers::{Db, assert_error, spawn_app, thirdfactor};
use crate::on_both_databases;

on_both_databases!(unknown_branding_is_refused_at_creation, the_page_gets_the_profile_and_its_logo);

fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(width, height, image::Rgb([200, 30, 30]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

async fn unknown_branding_is_refused_at_creation(db: Db) {
    let app = spawn_app(db).await;
    let mut body = app.seed_body();
    body["branding"] = json!("nosuchbrand");
    let message = assert_error(app.post_session(&body).await, 400, "unknown_branding").await;
    assert!(message.contains("nosuchbrand") && message.contains("merchant branding set"), "{message}");

    // Another merchant's profile is unknown too.
    let other = crate::helpers::create_merchant_full(&app.store, &app.webhook_base).await;
    let profile = BrandingProfile::parse(BrandingInput {
        name: "theirs",
        display_name: "Theirs",
        primary: "#005a36",
        accent: None,
        logo: None,
    })
    .unwrap();
    app.store.upsert_branding(&other.id, &profile).await.unwrap();
    body["branding"] = json!("theirs");
    assert_error(app.post_session(&body).await, 400, "unknown_branding").await;

    // No branding at all is the default look.
    body.as_object_mut().unwrap().remove("branding");
    assert_eq!(app.post_session(&body).await.status(), 201);
}

async fn the_page_gets_the_profile_and_its_logo(db: Db) {
    let app = spawn_app(db).await;
    let logo = png(96, 32);
    let profile = BrandingProfile::parse(BrandingInput {
        name: "acme",
        display_name: "Acme Bank",
        primary: "#8a1538",
        accent: Some("#1f4fd1"),
        logo: Some(logo.clone()),
    })
    .unwrap();
    app.store.upsert_branding(&app.merchant_id, &profile).await.unwrap();
    let mut body = app.seed_body();
    body["branding"] = json!("acme");
    let created: Value = app.post_session(&body).await.json().await.unwrap();
    let cookie = open_link(&app, &created).await;

    let state: Value = with_cookie(&app, Method::GET, "/api/capture/state", &cookie).await.json().await.unwrap();
    let b = &state["branding_profile"];
    assert_eq!(b["display_name"], "Acme Bank");
    assert_eq!(b["primary_color"], "#8a1538");
    assert_eq!(b["primary_text_color"], "#ffffff");
    assert_eq!(b["accent_color"], "#1f4fd1");
    let logo_url = b["logo_url"].as_str().unwrap();

    let response = with_cookie(&app, Method::GET, logo_url, &cookie).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/png");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let etag = response.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(response.bytes().await.unwrap().as_ref(), logo.as_slice());
    let cached = app
        .client
        .get(format!("{}{logo_url}", app.address))
        .header("cookie", &cookie)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);

    // Without the capture cookie there is no logo.
    assert_error(app.get(logo_url).await, 401, "capture_unauthorized").await;

    // The seed profile has no logo: 404 in our error shape.
    let plain = app.create_seed_session().await;
    let plain_cookie = open_link(&app, &plain).await;
    let state: Value = with_cookie(&app, Method::GET, "/api/capture/state", &plain_cookie).await.json().await.unwrap();
    assert_eq!(state["branding_profile"]["logo_url"], Value::Null);
    let response = with_cookie(&app, Method::GET, "/api/capture/branding/logo", &plain_cookie).await;
    assert_error(response, 404, "not_found").await;
}

#[test]
fn cli_sets_lists_and_deletes_profiles_and_refuses_low_contrast() {
    let dir = tempfile::tempdir().unwrap();
    let out = thirdfactor(dir.path(), &["merchant", "create", "--name", "Acme", "--webhook-base", "https://a.example"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let logo = dir.path().join("logo.png");
    std::fs::write(&logo, png(64, 64)).unwrap();
    let set = |primary: &str| {
        let args = ["merchant", "branding", "set", "--merchant", "1", "--name", "acme", "--display-name", "Acme Bank"];
        let mut args: Vec<&str> = args.to_vec();
        args.extend(["--primary", primary, "--logo", logo.to_str().unwrap()]);
        thirdfactor(dir.path(), &args)
    };

    let out = set("#ffcc00");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("WCAG AA") && err.contains("darker shade"), "{err}");

    let out = set("#1f4fd1");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = thirdfactor(dir.path(), &["merchant", "branding", "list", "--merchant", "1", "--json"]);
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed[0]["name"], "acme");
    assert_eq!(listed[0]["primary_color"], "#1f4fd1");
    assert!(listed[0]["logo_url"].is_string());

    let out = thirdfactor(dir.path(), &["merchant", "branding", "delete", "--merchant", "1", "--name", "acme"]);
    assert!(out.status.success());
    let out = thirdfactor(dir.path(), &["merchant", "branding", "list", "--merchant", "1", "--json"]);
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap(), json!([]));
    let out = thirdfactor(
        dir.path(),
        &[
            "merchant",
            "branding",
            "set",
            "--merchant",
            "9",
            "--name",
            "x",
            "--display-name",
            "X",
            "--primary",
            "#000000",
        ],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no merchant 9"));
}
