//! Two `thirdfactor serve` processes on one PostgreSQL database with nothing in front but the
//! test's own round robin: a session hops between them at every request, each webhook
//! delivery attempt is made by exactly one of them, and concurrent enrollments of one
//! reference leave one template. The instances share only the database and the configuration
//! file (template key); each has its own data directory.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use futures_util::future::join_all;
use serde_json::{Value, json};
use thirdfactor::domain::SessionStatus;
use thirdfactor::sessions::{Outcome, SessionPolicy, SessionRequest, Sessions};
use thirdfactor::store::sessions::SessionRecord;
use thirdfactor::store::{Store, now_ms};
use thirdfactor::templates::{TemplateKeys, load_template, seal_template};

use crate::capture_steps::{cardgen, still_burst};
use crate::helpers::{Db, fresh_database_url, repo_root};
use crate::receiver::Receiver;
use crate::server_process::{Integrator, ServerProcess, get_state, migrated_store, open_capture, upload_step};

const KEY_ID: &str = "shared-1";

/// Both instances, the test's own view of the database, and whose turn it is.
struct Cluster {
    servers: [ServerProcess; 2],
    store: Store,
    integrator: Integrator,
    keys: TemplateKeys,
    turn: AtomicUsize,
    _dirs: [tempfile::TempDir; 3],
}

fn postgres_configured() -> bool {
    let set = std::env::var("THIRDFACTOR_TEST_PG_URL").is_ok();
    if !set {
        eprintln!(
            "skipped: multi-instance tests need PostgreSQL (THIRDFACTOR_TEST_PG_URL unset; scripts/test sets it)"
        );
    }
    set
}

impl Cluster {
    async fn start(webhook_base: &str) -> Self {
        let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        let url = fresh_database_url(Db::Postgres, dirs[0].path()).await;
        // What the instances must share beside the database: the template key (it also seals
        // each session's intermediate state). Written once, given to both, as an operator would.
        let key = base64_key();
        let config = dirs[0].path().join("thirdfactor.toml");
        std::fs::write(
            &config,
            format!("[templates]\nactive_key_id = \"{KEY_ID}\"\n\n[templates.keys]\n{KEY_ID} = \"{key}\"\n"),
        )
        .unwrap();
        let env = [
            ("THIRDFACTOR_CONFIG", config.display().to_string()),
            ("THIRDFACTOR_MODELS__SESSIONS_PER_MODEL", "1".to_string()),
            // Per-instance limits are not what is tested here.
            ("THIRDFACTOR_RATE_LIMITS__ENABLED", "false".to_string()),
        ];
        // Both start (and migrate the empty database) at the same time.
        let (a, b) = tokio::join!(
            ServerProcess::start_with(dirs[1].path(), &url, &env),
            ServerProcess::start_with(dirs[2].path(), &url, &env)
        );
        let store = migrated_store(&url).await;
        let integrator = Integrator::new(&store, webhook_base).await;
        let keys = TemplateKeys::from_base64(KEY_ID, &BTreeMap::from([(KEY_ID.to_string(), key)])).unwrap();
        Self { servers: [a, b], store, integrator, keys, turn: AtomicUsize::new(0), _dirs: dirs }
    }

    /// The next instance in round-robin order.
    fn next(&self) -> &ServerProcess {
        &self.servers[self.turn.fetch_add(1, Ordering::SeqCst) % 2]
    }

    /// Webhook attempts each instance has made (delivered or failed), from its `/metrics`.
    async fn attempts_per_instance(&self) -> [f64; 2] {
        let mut out = [0.0; 2];
        for (n, server) in self.servers.iter().enumerate() {
            out[n] = server.counter("thirdfactor_webhooks_delivered_total").await
                + server.counter("thirdfactor_webhook_failures_total").await;
        }
        out
    }
}

/// A fresh template key, as `openssl rand -base64 32` makes one.
fn base64_key() -> String {
    use rand::Rng;
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    base64::engine::general_purpose::STANDARD.encode(key)
}

fn photo(name: &str) -> Vec<u8> {
    std::fs::read(repo_root().join("fixtures/fetched").join(name)).expect("fixture photo (scripts/setup fetches it)")
}

/// A photographed, valid (unexpired) ID card whose portrait is `obama.jpg`.
fn card_photo() -> Vec<u8> {
    let year = time::OffsetDateTime::now_utc().year() as u32;
    let fields = cardgen::CardFields::valid("KOVAC", "LUKA", year + 8);
    let corners = cardgen::card_corners(480.0, 360.0, 640.0, 0.0, 1.0);
    cardgen::jpeg(&cardgen::photograph(&cardgen::render_card_with(&fields), &corners, 960, 720))
}

async fn upload(server: &ServerProcess, cookie: &str, step: &str, bytes: Vec<u8>) -> (u16, Value) {
    let response = upload_step(&server.address, cookie, step, bytes).await.expect("upload answered");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn post_with_cookie(
    server: &ServerProcess,
    path: &str,
    cookie: &str,
    form: Option<reqwest::multipart::Form>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new().post(format!("{}{path}", server.address)).header("cookie", cookie);
    if let Some(form) = form {
        request = request.multipart(form);
    }
    request.send().await.unwrap()
}

/// Enrollments of one reference on both instances at once leave exactly one template row,
/// which either instance then opens for verifications that hop between instances.
#[tokio::test]
async fn enrollments_and_verifications_hop_between_instances() {
    if !postgres_configured() {
        return;
    }
    let receiver = Receiver::start(0).await;
    let cluster = Cluster::start(&receiver.base).await;
    let integrator = &cluster.integrator;

    // Two enrollments of the same person: enrollment i is created on instance i, its link
    // opened on the other, its card read on i, its selfie on the other. The two cards are read
    // at the same time (one per instance), then the two selfies sent at once (one per instance).
    let [a, b] = &cluster.servers;
    let card = card_photo();
    let mut enrollments = Vec::new();
    for (here, there) in [(a, b), (b, a)] {
        let created = integrator.created(here, "enrollment", "obama").await;
        let cookie = open_capture(there, &created).await;
        enrollments.push((created["session_id"].as_str().unwrap().to_string(), cookie, here, there));
    }
    let cards = join_all(enrollments.iter().map(|(_, c, here, _)| upload(here, c, "document", card.clone()))).await;
    for (status, reply) in &cards {
        assert_eq!((*status, &reply["next_step"]), (200, &json!("selfie")), "card accepted: {reply}");
    }
    let selfie = photo("obama2.jpg");
    let selfies = join_all(enrollments.iter().map(|(_, c, _, there)| upload(there, c, "selfie", selfie.clone()))).await;
    for (status, reply) in &selfies {
        assert_eq!((*status, &reply["session_ended"]), (200, &json!(true)), "approved: {reply}");
    }
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM enrollments WHERE merchant_id = $1 AND merchant_ref = $2")
        .bind(&integrator.merchant.id)
        .bind("obama")
        .fetch_one(cluster.store.pool())
        .await
        .unwrap();
    assert_eq!(rows, 1, "one template per reference");
    let record = cluster.store.enrollment(&integrator.merchant.id, "obama").await.unwrap().unwrap();
    assert!(enrollments.iter().any(|(id, ..)| *id == record.session_id), "written by one of the enrollments");
    assert_eq!(record.key_id, KEY_ID);
    let (template, _) =
        load_template(&cluster.store, &cluster.keys, &integrator.merchant.id, "obama").await.unwrap().unwrap();
    assert!(!template.is_empty(), "sealed with the shared key");

    // A verification: created on one, the link opened on the other, a failed selfie on one and
    // the right person on the other; both instances then report the same result.
    let created = integrator.created(cluster.next(), "debug", "obama").await;
    let id = created["session_id"].as_str().unwrap().to_string();
    let cookie = open_capture(cluster.next(), &created).await;
    assert_eq!(get_state(cluster.next(), &cookie).await["step"], "selfie");
    let (status, reply) = upload(cluster.next(), &cookie, "selfie", photo("biden.jpg")).await;
    assert_eq!((status, &reply["reasons"]), (422, &json!(["face_mismatch"])), "{reply}");
    assert_eq!(get_state(cluster.next(), &cookie).await["attempts"], json!({"selfie": 1}), "the attempt counted");
    let (status, reply) = upload(cluster.next(), &cookie, "selfie", photo("obama2.jpg")).await;
    assert_eq!(status, 200, "{reply}");
    let on_a = integrator.session(&cluster.servers[0], &id).await;
    let on_b = integrator.session(&cluster.servers[1], &id).await;
    assert_eq!(on_a["status"], "approved", "{on_a}");
    assert_eq!(on_a, on_b, "the same result from both instances");

    // With liveness: the challenge issued by one instance is answered on the other (it lives
    // in the session's sealed state, not in memory).
    let created = integrator.created(cluster.next(), "liveness", "obama").await;
    let id = created["session_id"].as_str().unwrap().to_string();
    let cookie = open_capture(cluster.next(), &created).await;
    let (status, reply) = upload(cluster.next(), &cookie, "selfie", photo("obama2.jpg")).await;
    assert_eq!((status, &reply["next_step"]), (200, &json!("liveness")), "{reply}");
    let challenge: Value =
        post_with_cookie(cluster.next(), "/api/capture/liveness/challenge", &cookie, None).await.json().await.unwrap();
    let burst = still_burst(&challenge, 480);
    let answered = post_with_cookie(cluster.next(), "/api/capture/liveness", &cookie, Some(burst())).await;
    assert_eq!(answered.status(), 422, "judged (a still burst fails), not refused as unknown");
    let replay = post_with_cookie(cluster.next(), "/api/capture/liveness", &cookie, Some(burst())).await;
    let replay: Value = replay.json().await.unwrap();
    assert_eq!(replay["error"]["code"], "challenge_already_answered", "the other instance knows: {replay}");
    integrator.cancel(cluster.next(), &id).await;
    let on_a = integrator.session(&cluster.servers[0], &id).await;
    assert_eq!(on_a["status"], "cancelled");
    assert_eq!(on_a, integrator.session(&cluster.servers[1], &id).await);

    // Four sessions ended: four webhooks, one each.
    receiver.wait_for(4, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = receiver.received();
    let paths: HashSet<_> = got.iter().map(|r| r.path.clone()).collect();
    assert_eq!((got.len(), paths.len()), (4, 4), "one delivery per session");
}

/// Many sessions end at once on both instances; the receiver fails each session's first two
/// deliveries, the first by answering after the sender's 1 s timeout. An instance sends its
/// claimed batch one by one, so 1 s per row outlasts the claims of the batch's last rows (7 s)
/// and the other instance takes them over. Every attempt the receiver sees is one the outbox
/// recorded, no more: the old holder does not send a row it lost.
#[tokio::test]
async fn each_webhook_attempt_is_made_by_exactly_one_instance() {
    if !postgres_configured() {
        return;
    }
    const SESSIONS: usize = 20;
    const FAILURES: usize = 2;
    let receiver = Receiver::start_failing_each_path(FAILURES, Duration::from_millis(1500)).await;
    let cluster = Cluster::start(&receiver.base).await;
    let mut ids = Vec::new();
    for _ in 0..SESSIONS {
        let created = cluster.integrator.created(cluster.next(), "enrollment", "someone").await;
        ids.push(created["session_id"].as_str().unwrap().to_string());
    }
    join_all(ids.iter().map(|id| cluster.integrator.cancel(cluster.next(), id))).await;

    let expected = SESSIONS * (FAILURES + 1);
    receiver.wait_for(expected, Duration::from_secs(60)).await;
    for id in &ids {
        wait_for_delivered(&cluster.store, id).await;
    }
    // Time for a stray duplicate to show up, were there one.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got = receiver.received();
    for id in &ids {
        let delivery = cluster.store.delivery_for_session(id).await.unwrap().unwrap();
        let hits: Vec<_> = got.iter().filter(|r| r.path.ends_with(&format!("/{id}"))).collect();
        assert_eq!(hits.len() as i64, delivery.attempts, "session {id}: receiver hits = outbox attempts");
        assert_eq!(delivery.attempts, FAILURES as i64 + 1, "two failures, then delivered");
        assert!(hits.iter().all(|r| r.header("thirdfactor-delivery-id") == Some(delivery.id.as_str())));
    }
    assert_eq!(got.len(), expected, "nothing beyond what the outbox records");
    let per_instance = cluster.attempts_per_instance().await;
    assert!(per_instance.iter().all(|n| *n > 0.0), "both instances delivered: {per_instance:?}");
    assert_eq!(per_instance.iter().sum::<f64>() as usize, expected, "{per_instance:?}");
}

async fn wait_for_delivered(store: &Store, id: &str) {
    for _ in 0..300 {
        if store.delivery_for_session(id).await.unwrap().is_some_and(|d| d.status == "delivered") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("delivery for {id} never became delivered");
}

/// The outbox claim as two instances see it, through two connection pools: concurrent claims
/// split the due rows without overlap, and a worker whose claim lapsed and was taken over
/// cannot renew it (the dispatcher then leaves the row to its new holder).
#[tokio::test]
async fn outbox_claims_never_overlap_and_a_lapsed_claim_is_not_reused() {
    if !postgres_configured() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(Db::Postgres, dir.path()).await;
    let store = migrated_store(&url).await;
    let integrator = Integrator::new(&store, "http://127.0.0.1:9/hooks").await;
    let ids = ended_sessions(&store, &integrator.merchant.id, 40).await;

    let instances = [migrated_store(&url).await, migrated_store(&url).await];
    let claims = join_all(instances.iter().enumerate().map(|(n, s)| async move {
        let mut mine = Vec::new();
        loop {
            let got = s.claim_due_deliveries(&format!("w{n}"), now_ms(), 60_000, 4).await.unwrap();
            if got.is_empty() {
                return mine;
            }
            mine.extend(got.into_iter().map(|d| d.id));
        }
    }))
    .await;
    let all: Vec<_> = claims.iter().flatten().collect();
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(
        (all.len(), unique.len()),
        (ids.len(), ids.len()),
        "every row claimed once: {:?}",
        claims.iter().map(Vec::len).collect::<Vec<_>>()
    );

    // A short lease lapses; another instance takes the row; the first may not renew it.
    let id = store.delivery_for_session(&ids[0]).await.unwrap().unwrap().id;
    sqlx::query("UPDATE webhook_deliveries SET locked_by = NULL, locked_until = NULL")
        .execute(store.pool())
        .await
        .unwrap();
    let first = instances[0].claim_due_deliveries("w0", now_ms(), 5_000, 100).await.unwrap();
    assert!(first.iter().any(|d| d.id == id));
    // Renewed with a lease that lapses at once (the claim itself may take longer than that).
    assert!(instances[0].renew_claim(&id, "w0", now_ms(), 100).await.unwrap(), "held: renewable");
    tokio::time::sleep(Duration::from_millis(250)).await;
    let second = instances[1].claim_due_deliveries("w1", now_ms(), 60_000, 100).await.unwrap();
    assert!(second.iter().any(|d| d.id == id), "the lapsed claim is retaken");
    assert!(!instances[0].renew_claim(&id, "w0", now_ms(), 60_000).await.unwrap(), "the old holder lost it");
    assert!(instances[1].renew_claim(&id, "w1", now_ms(), 60_000).await.unwrap());
}

/// The session service as an instance runs it, on `store`.
fn sessions_on(store: &Store) -> Sessions {
    Sessions {
        store: store.clone(),
        policy: SessionPolicy { ttl: Duration::from_secs(900), allow_private_targets: true },
        webhook_wake: Arc::new(tokio::sync::Notify::new()),
    }
}

/// Creates an enrollment session of `merchant_id` for `merchant_ref` the way the API does.
async fn enrollment_session(sessions: &Sessions, merchant_id: &str, merchant_ref: &str) -> SessionRecord {
    let merchant = sessions.store.merchant(merchant_id).await.unwrap().unwrap();
    let request: SessionRequest = serde_json::from_value(json!({
        "merchant_id": merchant_id, "config": "enrollment", "backend_url": "http://127.0.0.1:9/hooks/{{sessionId}}",
        "return_url": "https://client.example/done", "cancel_url": "https://client.example/cancel",
        "merchant_ref": merchant_ref,
    }))
    .unwrap();
    sessions.create(&merchant, &request).await.unwrap().record
}

/// `n` cancelled sessions, each with a pending outbox row, made the way the server makes them.
async fn ended_sessions(store: &Store, merchant_id: &str, n: usize) -> Vec<String> {
    let sessions = sessions_on(store);
    let mut ids = Vec::new();
    for _ in 0..n {
        let record = enrollment_session(&sessions, merchant_id, "someone").await;
        sessions.cancel_record(&record).await.unwrap();
        ids.push(record.id);
    }
    ids
}

/// An enrollment cancelled on one instance while another approves its last step: the approval
/// finds the session ended and writes nothing, not even the template (it is stored in the
/// transaction that ends the session).
#[tokio::test]
async fn an_enrollment_cancelled_elsewhere_leaves_no_template() {
    if !postgres_configured() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(Db::Postgres, dir.path()).await;
    let store = migrated_store(&url).await;
    let merchant_id = Integrator::new(&store, "http://127.0.0.1:9/hooks").await.merchant.id;
    let (a, b) = (sessions_on(&store), sessions_on(&migrated_store(&url).await));
    let keys = TemplateKeys::from_base64(KEY_ID, &BTreeMap::from([(KEY_ID.to_string(), base64_key())])).unwrap();

    // A's view of the session, read before B cancels it.
    let seen_by_a = enrollment_session(&a, &merchant_id, "racer").await;
    b.cancel_record(&seen_by_a).await.unwrap();
    let template = seal_template(&keys, &merchant_id, "racer", "v", &[0.5; 8], &seen_by_a.id);
    let approved = Outcome { template: Some(template.clone()), ..Outcome::default() };
    assert!(!a.finish(&seen_by_a, SessionStatus::Approved, approved).await.unwrap(), "already ended");
    assert!(store.enrollment(&merchant_id, "racer").await.unwrap().is_none(), "no template for a cancelled enrollment");
    let status = store.session(&seen_by_a.id).await.unwrap().unwrap().status;
    assert_eq!(status, "cancelled");

    // The same approval of an open session stores the template with the session's end.
    let open = enrollment_session(&a, &merchant_id, "racer").await;
    let template = seal_template(&keys, &merchant_id, "racer", "v", &[0.5; 8], &open.id);
    let approved = Outcome { template: Some(template), ..Outcome::default() };
    assert!(a.finish(&open, SessionStatus::Approved, approved).await.unwrap());
    assert_eq!(store.enrollment(&merchant_id, "racer").await.unwrap().unwrap().session_id, open.id);
}
