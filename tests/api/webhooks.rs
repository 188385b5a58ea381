//! Signed webhooks from the persistent outbox: delivered, retried, given up, and delivered
//! after a restart.

use std::time::Duration;

use serde_json::Value;
use thirdfactor::webhooks::verify_signature;

use crate::helpers::{Db, spawn_app, spawn_app_with};
use crate::on_both_databases;
use crate::receiver::Receiver;

on_both_databases!(cancelled_session_is_delivered_signed, failing_receiver_is_retried_with_backoff);

fn fast_retries(s: &mut thirdfactor::config::Settings) {
    s.webhooks.initial_backoff_ms = 50;
    s.webhooks.max_backoff_secs = 1;
    s.webhooks.poll_interval_ms = 50;
}

async fn cancelled_session_is_delivered_signed(db: Db) {
    let receiver = Receiver::start(0).await;
    let mut app = spawn_app(db).await;
    app.use_webhook_base(&receiver.base).await;
    let id = app.create_seed_session().await["session_id"].as_str().unwrap().to_string();
    app.cancel_session(&id).await;

    let got = receiver.wait_for(1, Duration::from_secs(10)).await;
    let hook = &got[0];
    assert_eq!(hook.path, format!("/hooks/{id}"), "{{sessionId}} substituted");
    assert_eq!(hook.header("idempotency-key"), Some(id.as_str()));
    assert_eq!(hook.header("content-type"), Some("application/json"));
    let signature = hook.header("thirdfactor-signature").expect("signed");
    let now = thirdfactor::store::now_ms() / 1000;
    assert!(verify_signature(&app.webhook_secret, signature, &hook.body, now, 300), "valid HMAC");
    assert!(!verify_signature("whsec_wrong", signature, &hook.body, now, 300));
    let body: Value = serde_json::from_str(&hook.body).unwrap();
    assert_eq!(body["session_id"], id.as_str());
    assert_eq!(body["status"], "cancelled");
    assert_eq!(body["merchant_ref"], "user-4711");
    assert_eq!(body["type"], "enrollment");

    // The API shows the same result.
    let view: Value = app.get_session(&id).await.json().await.unwrap();
    assert_eq!(view["result"], body);
    let delivery = app.store.delivery_for_session(&id).await.unwrap().unwrap();
    assert_eq!(delivery.status, "delivered");
    assert_eq!(delivery.attempts, 1);
}

async fn failing_receiver_is_retried_with_backoff(db: Db) {
    let receiver = Receiver::start(2).await;
    let mut app = spawn_app_with(db, fast_retries).await;
    app.use_webhook_base(&receiver.base).await;
    let id = app.create_seed_session().await["session_id"].as_str().unwrap().to_string();
    app.cancel_session(&id).await;
    let got = receiver.wait_for(3, Duration::from_secs(15)).await;
    assert!(got.iter().all(|r| r.body == got[0].body), "the same body every time");
    assert!(got.iter().all(|r| r.header("idempotency-key") == Some(id.as_str())));
    let delivery = wait_for_status(&app.store, &id, "delivered").await;
    assert_eq!(delivery.attempts, 3);
    assert_eq!(delivery.last_status, Some(200));
}

async fn wait_for_status(
    store: &thirdfactor::store::Store,
    session_id: &str,
    status: &str,
) -> thirdfactor::store::webhooks::Delivery {
    for _ in 0..300 {
        if let Some(d) = store.delivery_for_session(session_id).await.unwrap()
            && d.status == status
        {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("delivery for {session_id} never reached {status}");
}

#[tokio::test]
async fn gives_up_after_max_attempts() {
    let receiver = Receiver::start(usize::MAX).await;
    let mut app = spawn_app_with(Db::Sqlite, |s| {
        fast_retries(s);
        s.webhooks.max_attempts = 3;
    })
    .await;
    app.use_webhook_base(&receiver.base).await;
    let id = app.create_seed_session().await["session_id"].as_str().unwrap().to_string();
    app.cancel_session(&id).await;
    let delivery = wait_for_status(&app.store, &id, "failed").await;
    assert_eq!(delivery.attempts, 3);
    assert_eq!(delivery.last_status, Some(500));
    assert_eq!(receiver.received().len(), 3);
}

#[tokio::test]
async fn pending_delivery_survives_a_restart() {
    // Receiver down while the session ends: the delivery stays pending in the outbox.
    let receiver = Receiver::start(0).await;
    let port = receiver.port();
    receiver.stop().await;
    let mut app = spawn_app_with(Db::Sqlite, fast_retries).await;
    app.use_webhook_base(&format!("http://127.0.0.1:{port}/hooks")).await;
    let id = app.create_seed_session().await["session_id"].as_str().unwrap().to_string();
    app.cancel_session(&id).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pending = app.store.delivery_for_session(&id).await.unwrap().unwrap();
    assert_eq!(pending.status, "pending");
    assert!(pending.attempts >= 1, "attempted while the receiver was down");

    // The server goes away; a new instance on the same database delivers once the receiver is back.
    app.server.stop(false).await;
    let receiver = Receiver::start_on(port, 0).await;
    let settings = app.settings.clone();
    let restarted = thirdfactor::startup::Application::build(settings).await.unwrap();
    tokio::spawn(restarted.run_until_stopped());
    let got = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got[0].header("idempotency-key"), Some(id.as_str()));
    wait_for_status(&app.store, &id, "delivered").await;
}
