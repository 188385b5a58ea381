//! The audit log: API actions are recorded with who, what, which reference and the outcome
//! (never bodies), the hash chain verifies, the database refuses edits, and an edit made
//! behind its back is found by `thirdfactor audit verify`.

use serde_json::json;
use thirdfactor::audit::{ChainStatus, verify_chain};
use thirdfactor::store::Backend;

use crate::helpers::{Db, TestApp, spawn_app};

async fn api_actions_are_chained_and_tampering_is_found(db: Db) {
    let app = spawn_app(db).await;
    let created = app.create_seed_session().await;
    let id = created["session_id"].as_str().unwrap();
    assert_eq!(app.get_session(id).await.status(), 200);
    assert_eq!(app.cancel_session(id).await.status(), 200);
    let refused = app.post_raw("/api/v1/sessions", Some("tf_guessed"), "application/json", b"{}".to_vec()).await;
    assert_eq!(refused.status(), 401);
    let erase = app
        .client
        .delete(format!("{}/api/v1/enrollments/user-4711", app.address))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(erase.status(), 404);
    assert_eq!(app.get("/healthz").await.status(), 200);

    let entries = wait_for_entries(&app, 5).await;
    let actions: Vec<(&str, &str, &str)> =
        entries.iter().map(|e| (e.actor.as_str(), e.action.as_str(), e.target.as_str())).collect();
    let m = app.merchant_id.as_str();
    let session = format!("session:{id}");
    assert_eq!(actions[0], (m, "POST /api/v1/sessions", format!("{session} ref:user-4711").as_str()));
    assert_eq!(actions[1], (m, "GET /api/v1/sessions/{id}", session.as_str()));
    assert_eq!(actions[2], (m, "POST /api/v1/sessions/{id}/cancel", session.as_str()));
    assert_eq!(actions[3], ("anonymous", "POST /api/v1/sessions", ""));
    assert_eq!(actions[4], (m, "DELETE /api/v1/enrollments/{merchant_ref}", "ref:user-4711"));
    assert!(entries[3].detail.contains("\"status\":401"), "{}", entries[3].detail);
    assert!(entries.iter().all(|e| !e.detail.contains("return_url")), "no request bodies");

    let ChainStatus::Intact { entries: n, head_seq, .. } = verify_chain(&app.store).await.unwrap() else {
        panic!("chain broken")
    };
    assert_eq!((n, head_seq), (5, 5));

    let edit = sqlx::query("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2").execute(app.store.pool()).await;
    assert!(edit.unwrap_err().to_string().contains("append-only"), "the database refuses edits");
    let delete = sqlx::query("DELETE FROM audit_log WHERE seq = 3").execute(app.store.pool()).await;
    assert!(delete.is_err(), "the database refuses deletes");

    // An administrator who drops the guard can edit; the chain names the entry.
    let drop_guard = match app.store.backend() {
        Backend::Sqlite => "DROP TRIGGER audit_log_no_update",
        Backend::Postgres => "DROP TRIGGER audit_log_no_change ON audit_log",
    };
    sqlx::query(drop_guard).execute(app.store.pool()).await.unwrap();
    sqlx::query("UPDATE audit_log SET target = 'session:forged' WHERE seq = 2")
        .execute(app.store.pool())
        .await
        .unwrap();
    let status = verify_chain(&app.store).await.unwrap();
    assert!(matches!(status, ChainStatus::Broken { seq: 2, .. }), "{}", json!(status));
}

/// Appends happen after the response; wait until they are all in.
async fn wait_for_entries(app: &TestApp, n: usize) -> Vec<thirdfactor::audit::AuditEntry> {
    for _ in 0..100 {
        let entries = app.store.audit_entries_after(0, 100).await.unwrap();
        if entries.len() >= n {
            return entries;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("fewer than {n} audit entries")
}

/// Concurrent appenders (as several instances or workers would be) never fork the chain.
async fn concurrent_appends_keep_one_chain(db: Db) {
    let app = spawn_app(db).await;
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = app.store.clone();
            tokio::spawn(async move {
                let event = thirdfactor::audit::AuditEvent {
                    at: i,
                    actor: "test".into(),
                    action: "concurrent".into(),
                    target: format!("n:{i}"),
                    detail: "{}".into(),
                };
                store.append_audit(&event).await.unwrap()
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let status = verify_chain(&app.store).await.unwrap();
    assert!(matches!(status, ChainStatus::Intact { entries: 20, head_seq: 20, .. }), "{}", json!(status));
}

crate::on_both_databases!(api_actions_are_chained_and_tampering_is_found, concurrent_appends_keep_one_chain);
