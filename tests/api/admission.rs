//! Admission control under a burst of analyses: one slot and one place in the queue, so of six
//! selfies sent at once one runs, one waits and is then analysed, and the rest are refused with
//! 503 + Retry-After without costing the user an attempt.

use reqwest::Method;
use serde_json::{Value, json};

use crate::capture_link::with_cookie;
use crate::capture_steps::{enroll, photo, upload, verification_session};
use crate::helpers::{Db, spawn_app_with};

#[tokio::test]
async fn a_full_analysis_queue_answers_503_with_retry_after() {
    let app = spawn_app_with(Db::Sqlite, |s| {
        s.capture.max_concurrent_analyses = 1;
        s.capture.max_queued_analyses = 1;
        s.capture.max_queue_wait_ms = 60_000;
    })
    .await;
    enroll(&app, "obama", "obama.jpg").await;
    let mut cookies = Vec::new();
    for _ in 0..6 {
        cookies.push(verification_session(&app, "obama").await.1);
    }
    let selfie = photo("obama2.jpg");
    let replies = futures_util::future::join_all(
        cookies.iter().map(|cookie| upload(&app, "selfie", cookie, selfie.clone(), "image/jpeg")),
    )
    .await;

    let (mut accepted, mut shed) = (0, Vec::new());
    for (response, cookie) in replies.into_iter().zip(&cookies) {
        match response.status().as_u16() {
            200 => {
                let reply: Value = response.json().await.unwrap();
                assert_eq!(reply["accepted"], true, "{reply}");
                accepted += 1;
            }
            503 => {
                let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
                assert!((1..=10).contains(&retry_after), "Retry-After {retry_after}");
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["error"]["code"], "overloaded", "{body}");
                shed.push(cookie);
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(accepted >= 2, "the running and the queued selfie are both analysed ({accepted})");
    assert!(!shed.is_empty(), "beyond one running and one queued, requests are refused");
    // A refused upload cost no attempt and may simply be sent again.
    for cookie in shed {
        let state: Value = with_cookie(&app, Method::GET, "/api/capture/state", cookie).await.json().await.unwrap();
        assert_eq!(state["attempts"], json!({}), "{state}");
        let again: Value = upload(&app, "selfie", cookie, selfie.clone(), "image/jpeg").await.json().await.unwrap();
        assert_eq!(again["accepted"], true, "{again}");
    }
}
