//! Hostile input: every case gets a clear 4xx JSON error (or, for text that is merely odd,
//! is stored verbatim), the server stays up after each one, and nothing half-written remains.
//! The suite prints how many cases it ran.

use reqwest::Method;
use serde_json::{Value, json};

use crate::capture_link::{open_link, with_cookie};
use crate::helpers::{Db, TestApp, create_merchant, spawn_app_with};

/// Runs cases against one server and keeps count.
struct Suite<'a> {
    app: &'a TestApp,
    cases: usize,
}

impl Suite<'_> {
    /// One case: the response must be `status` with a JSON error `code` (any code when
    /// `None`), and the server must still answer its health check afterwards.
    async fn expect(&mut self, case: &str, response: reqwest::Response, status: u16, code: Option<&str>) {
        let got = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        assert_eq!(got, status, "{case}: status (body {body:.300})");
        let parsed: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{case}: not JSON: {body:.300}"));
        let actual = parsed["error"]["code"].as_str().unwrap_or_else(|| panic!("{case}: no error code: {parsed}"));
        if let Some(code) = code {
            assert_eq!(actual, code, "{case}");
        }
        assert!(parsed["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{case}: no message");
        self.still_up(case).await;
    }

    /// A case answered with an HTML page (the capture link): status only, then health.
    async fn expect_page(&mut self, case: &str, response: reqwest::Response, status: u16) {
        assert_eq!(response.status().as_u16(), status, "{case}");
        let ct = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        assert!(ct.starts_with("text/html"), "{case}: {ct}");
        self.still_up(case).await;
    }

    async fn still_up(&mut self, case: &str) {
        let health = self.app.get("/healthz").await;
        assert_eq!(health.status(), 200, "server unhealthy after {case}");
        self.cases += 1;
    }

    async fn json_body(&mut self, case: &str, body: Vec<u8>, status: u16, code: Option<&str>) {
        let response = self.app.post_raw("/api/v1/sessions", Some(&self.app.api_key), "application/json", body).await;
        self.expect(case, response, status, code).await;
    }
}

async fn hostile_input_is_refused_cleanly(db: Db) {
    let mut app = spawn_app_with(db, |s| {
        s.webhooks.allow_private_targets = false;
        // Rate limits are tested on their own (rate_limits.rs); here every request must reach
        // the input handling.
        s.rate_limits.enabled = false;
    })
    .await;
    // With the SSRF guard on, the merchant's webhook host must be public and resolvable
    // without DNS here: a public IP literal (deliveries to it simply fail offline).
    app.use_webhook_base("https://93.184.216.34/webhook").await;
    let mut suite = Suite { app: &app, cases: 0 };
    let mut accepted = 0_i64;

    json_bodies(&mut suite).await;
    accepted += text_fields(&mut suite).await;
    ssrf_targets(&mut suite).await;
    keys_and_paths(&mut suite).await;
    capture_tokens(&mut suite).await;
    uploads(&mut suite).await;
    accepted += 2; // capture_tokens and uploads each open one session

    let cases = suite.cases;
    eprintln!("hostile input suite ({db:?}): {cases} cases, every one refused cleanly");
    assert!(cases >= 50, "{cases}");
    nothing_half_written(&app, accepted).await;
}

crate::on_both_databases!(hostile_input_is_refused_cleanly);

async fn json_bodies(s: &mut Suite<'_>) {
    let limit = s.app.settings.server.max_json_bytes;
    let padding = "x".repeat(limit + 1);
    s.json_body(
        "oversized JSON",
        json!({ "merchant_ref": padding }).to_string().into_bytes(),
        413,
        Some("payload_too_large"),
    )
    .await;
    let nested = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
    s.json_body("deeply nested JSON", format!("{{\"config\": {nested}}}").into_bytes(), 400, None).await;
    s.json_body("invalid UTF-8", b"{\"merchant_ref\": \"\xff\xfe\xfd\"}".to_vec(), 400, Some("invalid_json")).await;
    s.json_body("empty body", Vec::new(), 400, Some("invalid_json")).await;
    s.json_body("truncated JSON", b"{\"merchant_id\": \"1\", \"con".to_vec(), 400, Some("invalid_json")).await;
    s.json_body("top-level array", b"[1,2,3]".to_vec(), 400, Some("invalid_request")).await;
    s.json_body("null body", b"null".to_vec(), 400, Some("invalid_request")).await;
    let mut extra = s.app.seed_body();
    extra["is_admin"] = json!(true);
    s.json_body("unknown field", extra.to_string().into_bytes(), 400, Some("invalid_request")).await;
    let mut missing = s.app.seed_body();
    missing.as_object_mut().map(|o| o.remove("merchant_ref"));
    s.json_body("missing field", missing.to_string().into_bytes(), 400, Some("invalid_request")).await;
    let mut wrong_type = s.app.seed_body();
    wrong_type["merchant_ref"] = json!(4711);
    s.json_body("number for a string", wrong_type.to_string().into_bytes(), 400, Some("invalid_request")).await;
    let key = s.app.api_key.clone();
    for (case, content_type) in [
        ("text/plain body", "text/plain"),
        ("form body", "application/x-www-form-urlencoded"),
        ("multipart body", "multipart/form-data; boundary=x"),
    ] {
        let body = s.app.seed_body().to_string().into_bytes();
        let response = s.app.post_raw("/api/v1/sessions", Some(&key), content_type, body).await;
        s.expect(case, response, 415, Some("unsupported_media_type")).await;
    }
}

/// SQL-ish and script-ish strings in every text field. A value its field's grammar allows is
/// stored and returned verbatim (queries are parameterised); anything else is a 400. Returns
/// how many sessions were created.
async fn text_fields(s: &mut Suite<'_>) -> i64 {
    let nasty = [
        "x';DROP_TABLE_sessions;--",
        "1'OR'1'='1",
        "<script>alert(1)</script>",
        "\"><img src=x onerror=alert(1)>",
        "{{sessionId}}${7*7}",
        "\u{0}nul",
        "../../etc/passwd",
        "ｆｕｌｌｗｉｄｔｈ",
    ];
    let fields = ["merchant_ref", "config", "branding", "language", "return_url", "cancel_url", "backend_url"];
    let mut created = 0;
    for field in fields {
        for value in nasty {
            let mut body = s.app.seed_body();
            body[field] = json!(value);
            let response = s.app.post_session(&body).await;
            let case = format!("{field} = {value:?}");
            if response.status() == 201 {
                let session: Value = response.json().await.expect("201 body");
                let id = session["session_id"].as_str().expect("session id");
                let stored: Value = s.app.get_session(id).await.json().await.expect("session JSON");
                if field == "merchant_ref" {
                    assert_eq!(stored["merchant_ref"], value, "{case}: stored verbatim");
                }
                created += 1;
                s.still_up(&case).await;
            } else {
                s.expect(&case, response, 400, None).await;
            }
        }
    }
    let mut body = s.app.seed_body();
    body["merchant_id"] = json!("1 OR 1=1");
    let response = s.app.post_session(&body).await;
    s.expect("merchant_id = SQL", response, 403, Some("merchant_mismatch")).await;
    created
}

/// Webhook targets on loopback, private, link-local, CGNAT and ULA addresses, in the
/// spellings that slip past naive checks.
async fn ssrf_targets(s: &mut Suite<'_>) {
    for base in [
        "http://169.254.169.254/latest",
        "http://0.0.0.0:9/hooks",
        "http://[::ffff:127.0.0.1]:9/hooks",
        "http://2130706433:9/hooks",
        "http://0x7f000001:9/hooks",
        "http://127.1:9/hooks",
        "http://100.64.0.1/hooks",
        "http://192.168.1.1/hooks",
        "http://[fd00::1]/hooks",
        "http://[fe80::1]/hooks",
    ] {
        let (merchant_id, key) = create_merchant(&s.app.store, base).await;
        let mut body = s.app.seed_body();
        body["merchant_id"] = json!(merchant_id);
        body["backend_url"] = json!(format!("{base}/{{{{sessionId}}}}"));
        let response = s
            .app
            .client
            .post(format!("{}/api/v1/sessions", s.app.address))
            .bearer_auth(&key)
            .json(&body)
            .send()
            .await
            .expect("request");
        s.expect(&format!("SSRF {base}"), response, 400, Some("backend_url_private")).await;
    }
}

async fn keys_and_paths(s: &mut Suite<'_>) {
    let body = s.app.seed_body().to_string().into_bytes();
    let guessed = format!("tf_{}", "A".repeat(43));
    let response = s.app.post_raw("/api/v1/sessions", Some(&guessed), "application/json", body.clone()).await;
    s.expect("guessed API key", response, 401, Some("invalid_api_key")).await;
    let response = s.app.post_raw("/api/v1/sessions", None, "application/json", body).await;
    s.expect("no API key", response, 401, Some("missing_api_key")).await;
    for path in ["/api/v1/sessions/'%20OR%201=1--", "/api/v1/sessions/..%2f..%2fetc%2fpasswd", "/api/v1/sessions/%00"] {
        let response =
            s.app.client.get(format!("{}{path}", s.app.address)).bearer_auth(&s.app.api_key).send().await.unwrap();
        assert!(response.status().is_client_error(), "{path}: {}", response.status());
        s.expect(&format!("GET {path}"), response, 404, None).await;
    }
    let response = s
        .app
        .client
        .delete(format!("{}/api/v1/enrollments/x';DELETE_FROM_enrollments;--", s.app.address))
        .bearer_auth(&s.app.api_key)
        .send()
        .await
        .unwrap();
    s.expect("DELETE enrollment SQL ref", response, 404, Some("not_enrolled")).await;
}

/// Guessed, replayed and expired capture links and cookies.
async fn capture_tokens(s: &mut Suite<'_>) {
    let guessed = s.app.get(&format!("/c/{}", "A".repeat(43))).await;
    s.expect_page("guessed capture token", guessed, 404).await;
    let created = s.app.create_seed_session().await;
    let url = created["info"]["url"].as_str().expect("link").to_string();
    let path = url.split_once("/c/").map(|(_, t)| format!("/c/{t}")).expect("link path");
    let cookie = open_link(s.app, &created).await;
    let replayed = s.app.get(&path).await;
    s.expect_page("replayed capture token", replayed, 410).await;
    let forged = with_cookie(s.app, Method::GET, "/api/capture/state", "tf_capture=forged-cookie-value").await;
    s.expect("forged capture cookie", forged, 401, Some("capture_unauthorized")).await;
    let id = created["session_id"].as_str().expect("id");
    sqlx::query("UPDATE sessions SET expires_at = 0 WHERE id = $1").bind(id).execute(s.app.store.pool()).await.unwrap();
    let expired = with_cookie(s.app, Method::POST, "/api/capture/cancel", &cookie).await;
    s.expect("cookie of an expired session", expired, 410, None).await;
    let reopened = s.app.get(&path).await;
    s.expect_page("link of an expired session", reopened, 410).await;
}

/// Bad images and malformed multipart on the document step; none may cost an attempt.
async fn uploads(s: &mut Suite<'_>) {
    let created = s.app.create_seed_session().await;
    let cookie = open_link(s.app, &created).await;
    let jpeg = std::fs::read(crate::helpers::repo_root().join("fixtures/fetched/obama.jpg")).expect("fixture");
    let png = encode(&image::RgbImage::from_pixel(64, 48, image::Rgb([200, 180, 160])), image::ImageFormat::Png);
    let webp = encode(&image::RgbImage::from_pixel(64, 48, image::Rgb([200, 180, 160])), image::ImageFormat::WebP);
    let mut corrupt_png = png.clone();
    corrupt_png[40..].iter_mut().for_each(|b| *b = 0x5a);
    let image_cases: Vec<(&str, Vec<u8>, &str, u16, &str)> = vec![
        ("truncated JPEG", jpeg[..jpeg.len() / 2].to_vec(), "image/jpeg", 400, "image_unreadable"),
        ("JPEG header only", jpeg[..600].to_vec(), "image/jpeg", 400, "image_unreadable"),
        ("corrupt PNG", corrupt_png, "image/png", 400, "image_unreadable"),
        ("truncated WebP", webp[..webp.len() / 2].to_vec(), "image/webp", 400, "image_unreadable"),
        ("empty image", Vec::new(), "image/jpeg", 400, "image_unreadable"),
        (
            "random bytes as JPEG",
            (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect(),
            "image/jpeg",
            415,
            "unsupported_image_format",
        ),
        ("GIF", b"GIF89a\x01\x00\x01\x00".to_vec(), "image/gif", 415, "unsupported_image_format"),
        ("SVG with script", b"<svg onload=alert(1)>".to_vec(), "image/svg+xml", 415, "unsupported_image_format"),
        ("PNG bomb 60000x60000", png_bomb(60_000, 60_000), "image/png", 400, "image_too_many_pixels"),
        ("PNG one row 1000000 wide", png_bomb(1_000_000, 1), "image/png", 400, "image_too_many_pixels"),
        ("100-MP JPEG", hundred_megapixel_jpeg(), "image/jpeg", 400, "image_too_many_pixels"),
        (
            "oversized part",
            vec![0xff; s.app.settings.capture.max_image_bytes + 1],
            "image/jpeg",
            413,
            "payload_too_large",
        ),
    ];
    for (case, bytes, mime, status, code) in image_cases {
        match upload(s.app, &cookie, vec![("image", bytes, mime)]).await {
            Ok(response) => s.expect(case, response, status, Some(code)).await,
            // The server may answer 413 and close before the client finished sending; the
            // client then sees the connection end instead of the answer. Either is a refusal.
            Err(e) if status == 413 => {
                assert!(e.is_request(), "{case}: {e}");
                s.still_up(case).await;
            }
            Err(e) => panic!("{case}: {e:?}"),
        }
    }
    let small = jpeg[..2000].to_vec();
    let multipart_cases: Vec<(&str, Vec<Part>)> = vec![
        ("two image parts", vec![("image", jpeg.clone(), "image/jpeg"), ("image", jpeg.clone(), "image/jpeg")]),
        ("extra part", vec![("image", jpeg.clone(), "image/jpeg"), ("admin", b"1".to_vec(), "text/plain")]),
        ("wrong part name", vec![("photo", small.clone(), "image/jpeg")]),
        ("no parts", vec![]),
    ];
    for (case, parts) in multipart_cases {
        let response = upload(s.app, &cookie, parts).await.unwrap_or_else(|e| panic!("{case}: {e}"));
        s.expect(case, response, 400, Some("invalid_upload")).await;
    }
    let url = format!("{}/api/capture/document", s.app.address);
    for (case, content_type, body) in [
        ("JSON instead of multipart", "application/json", b"{\"image\":\"...\"}".to_vec()),
        ("multipart without boundary", "multipart/form-data", b"--x\r\n".to_vec()),
        ("garbage multipart", "multipart/form-data; boundary=zz", b"--zz\r\nno headers here".to_vec()),
    ] {
        let response = s
            .app
            .client
            .post(&url)
            .header("cookie", &cookie)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_client_error(), "{case}: {}", response.status());
        let status = response.status().as_u16();
        s.expect(case, response, status, None).await;
    }
    let state: Value = with_cookie(s.app, Method::GET, "/api/capture/state", &cookie).await.json().await.unwrap();
    assert_eq!(state["attempts"], json!({}), "input errors cost no attempt: {state}");
    assert_eq!(state["step"], "document", "still at the document step: {state}");
}

/// A multipart part: name, bytes, content type.
type Part<'a> = (&'a str, Vec<u8>, &'a str);

async fn upload(app: &TestApp, cookie: &str, parts: Vec<Part<'_>>) -> reqwest::Result<reqwest::Response> {
    let mut form = reqwest::multipart::Form::new();
    for (name, bytes, mime) in parts {
        let part = reqwest::multipart::Part::bytes(bytes).file_name("upload").mime_str(mime).expect("mime");
        form = form.part(name.to_string(), part);
    }
    app.client
        .post(format!("{}/api/capture/document", app.address))
        .header("cookie", cookie)
        .multipart(form)
        .send()
        .await
}

fn encode(image: &image::RgbImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, format).expect("encode");
    out.into_inner()
}

/// A valid PNG header claiming `width`×`height` with almost no data: a decompression bomb
/// that must be refused from the header, before any allocation.
fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(&mut out, b"IEND", &[]);
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = crc32(kind, 0xffff_ffff);
    crc = crc32(data, crc);
    out.extend_from_slice(&(!crc).to_be_bytes());
}

fn crc32(data: &[u8], mut crc: u32) -> u32 {
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    crc
}

/// A real, fully decodable 10000×10000 JPEG (flat grey, so it is small on the wire).
fn hundred_megapixel_jpeg() -> Vec<u8> {
    let image = image::GrayImage::from_pixel(10_000, 10_000, image::Luma([128]));
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Jpeg).expect("encode");
    out.into_inner()
}

/// Only what the accepted requests wrote exists: no stray sessions, exactly one outbox row
/// per ended session (the expired one), no templates, and the database passes its own
/// integrity check.
async fn nothing_half_written(app: &TestApp, accepted: i64) {
    let pool = app.store.pool();
    let count = |sql: &'static str| async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await.unwrap() };
    assert_eq!(count("SELECT COUNT(*) FROM sessions").await, accepted, "sessions");
    let ended = count("SELECT COUNT(*) FROM sessions WHERE status NOT IN ('created', 'in_progress')").await;
    assert_eq!(ended, 1, "only the expired session ended");
    let deliveries = count(
        "SELECT COUNT(*) FROM webhook_deliveries d JOIN sessions s ON s.id = d.session_id \
         WHERE s.status NOT IN ('created', 'in_progress')",
    )
    .await;
    assert_eq!(deliveries, ended, "one webhook per ended session");
    assert_eq!(count("SELECT COUNT(*) FROM webhook_deliveries").await, ended, "no stray outbox rows");
    assert_eq!(count("SELECT COUNT(*) FROM enrollments").await, 0, "templates");
    if app.store.backend() == thirdfactor::store::Backend::Sqlite {
        let check: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(pool).await.unwrap();
        assert_eq!(check, "ok");
    }
}
