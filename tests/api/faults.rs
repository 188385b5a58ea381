//! Faults on the real binary: `kill -9` during webhook delivery and during document
//! processing, then a restart on the same database; PostgreSQL going away and coming back; the
//! SQLite file turning read-only and writable again.
//! Nothing may be lost or stuck: deliveries arrive (at least once, idempotency key = session
//! id) and sessions are resumable or end with a clear status.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use thirdfactor::store::Store;

use crate::helpers::repo_root;
use crate::receiver::Receiver;
use crate::server_process::{
    Integrator, ServerProcess, free_port, get_state, migrated_store, open_capture, upload_step,
};

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", dir.join("thirdfactor.db").display())
}

#[tokio::test]
async fn kill_9_during_webhook_delivery_then_restart_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let store = migrated_store(&url).await;
    // The receiver holds the first request open: the server dies with the delivery in flight.
    let receiver = Receiver::start_holding(1).await;
    let integrator = Integrator::new(&store, &receiver.base).await;
    let server = ServerProcess::start(dir.path(), &url).await;
    let created: Value = integrator.create(&server, "enrollment,liveness").await.json().await.unwrap();
    let id = created["session_id"].as_str().unwrap().to_string();
    integrator.cancel(&server, &id).await;
    receiver.wait_for(1, Duration::from_secs(10)).await;
    server.kill9();

    let delivery = store.delivery_for_session(&id).await.unwrap().expect("outbox row");
    assert_eq!(delivery.status, "pending", "not delivered: the answer never came");

    let server = ServerProcess::start(dir.path(), &url).await;
    let got = receiver.wait_for(2, Duration::from_secs(30)).await;
    assert!(got.iter().all(|r| r.header("idempotency-key") == Some(id.as_str())), "same idempotency key");
    assert_eq!(got[0].body, got[1].body, "the same payload again");
    wait_for_delivery(&store, &id, "delivered").await;
    assert_eq!(integrator.session(&server, &id).await["status"], "cancelled");
}

#[tokio::test]
async fn kill_9_during_document_processing_leaves_the_session_resumable() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let store = migrated_store(&url).await;
    let receiver = Receiver::start(0).await;
    let integrator = Integrator::new(&store, &receiver.base).await;
    let server = ServerProcess::start(dir.path(), &url).await;
    let created: Value = integrator.create(&server, "enrollment,liveness").await.json().await.unwrap();
    let id = created["session_id"].as_str().unwrap().to_string();
    let cookie = open_capture(&server, &created).await;

    // Upload a card photo and kill the server while the document engine works on it.
    let photo = std::fs::read(repo_root().join("fixtures/fetched/obama.jpg")).unwrap();
    let upload = {
        let (address, cookie, photo) = (server.address.clone(), cookie.clone(), photo.clone());
        tokio::spawn(async move { upload_step(&address, &cookie, "document", photo).await })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    server.kill9();
    assert!(upload.await.unwrap().is_err(), "the connection died with the server");

    let server = ServerProcess::start(dir.path(), &url).await;
    let view = integrator.session(&server, &id).await;
    assert!(matches!(view["status"].as_str(), Some("created" | "in_progress")), "not lost, not ended: {view}");
    let state: Value = get_state(&server, &cookie).await;
    assert_eq!(state["step"], "document", "still at the document step: {state}");
    assert_eq!(state["attempts"], json!({}), "the interrupted upload cost no attempt");
    // The user retries; the step works on the restarted server.
    let retry = upload_step(&server.address, &cookie, "document", photo).await.expect("upload answered");
    assert!(retry.status() == 200 || retry.status() == 422, "a decision, not an error: {}", retry.status());
    let after: Value = get_state(&server, &cookie).await;
    assert_ne!(after["attempts"], json!({}), "this time the attempt counted: {after}");
}

async fn wait_for_delivery(store: &Store, id: &str, status: &str) {
    for _ in 0..300 {
        if store.delivery_for_session(id).await.unwrap().is_some_and(|d| d.status == status) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("delivery for {id} never became {status}");
}

/// A PostgreSQL cluster of this test's own, so it can be stopped and started.
struct OwnPostgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

impl OwnPostgres {
    fn init() -> Option<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("bin"))
            .max()?;
        let dir = tempfile::tempdir().ok()?;
        let pg = Self { bin, dir, port: free_port() };
        if is_root() {
            Command::new("chown").arg("postgres").arg(pg.dir.path()).status().ok()?;
        }
        let data = pg.dir.path().join("data");
        let ok = pg.run("initdb", &["-D", data.to_str()?, "-A", "trust", "-U", "thirdfactor"]);
        ok.then_some(pg)
    }

    fn run(&self, tool: &str, args: &[&str]) -> bool {
        let exe = self.bin.join(tool);
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        cmd.args(args).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
    }

    fn start(&self) {
        let data = self.dir.path().join("data");
        let log = self.dir.path().join("log");
        let opts =
            format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", self.port, self.dir.path().display());
        assert!(
            self.run(
                "pg_ctl",
                &["-D", data.to_str().unwrap(), "-l", log.to_str().unwrap(), "-w", "-o", &opts, "start"]
            )
        );
    }

    fn stop(&self) {
        let data = self.dir.path().join("data");
        assert!(self.run("pg_ctl", &["-D", data.to_str().unwrap(), "-m", "immediate", "-w", "stop"]));
    }

    fn url(&self) -> String {
        format!("postgres://thirdfactor@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = self.run("pg_ctl", &["-D", data.to_str().unwrap_or_default(), "-m", "immediate", "stop"]);
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0"))
}

#[tokio::test]
async fn postgres_down_gives_503_and_nothing_is_lost() {
    if std::env::var("THIRDFACTOR_TEST_PG_URL").is_err() {
        eprintln!("skipped: PostgreSQL tests run under scripts/test (THIRDFACTOR_TEST_PG_URL unset)");
        return;
    }
    let pg = OwnPostgres::init().expect("initdb (PostgreSQL server binaries are installed by scripts/install-deps)");
    pg.start();
    let dir = tempfile::tempdir().unwrap();
    let store = migrated_store(&pg.url()).await;
    let receiver = Receiver::start(0).await;
    let integrator = Integrator::new(&store, &receiver.base).await;
    let server = ServerProcess::start(dir.path(), &pg.url()).await;
    let created: Value = integrator.create(&server, "enrollment,liveness").await.json().await.unwrap();
    let id = created["session_id"].as_str().unwrap().to_string();

    pg.stop();
    server.wait_until(503).await;
    let refused = integrator.create(&server, "enrollment,liveness").await;
    assert_eq!(refused.status(), 503, "database down: 503, not 500");
    assert!(refused.headers().contains_key("retry-after"), "with Retry-After");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable");

    pg.start();
    server.wait_until(200).await;
    assert_eq!(integrator.session(&server, &id).await["status"], "created", "the earlier session survived");
    integrator.cancel(&server, &id).await;
    receiver.wait_for(1, Duration::from_secs(15)).await;
    assert_eq!(integrator.create(&server, "enrollment,liveness").await.status(), 201);
}

/// Repeats `request` while it answers 503 (at most 10 s); returns the last status.
async fn retry_while_unavailable<F, Fut>(request: F) -> u16
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = u16>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status = request().await;
        if status != 503 || std::time::Instant::now() > deadline {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Files made immutable (`chattr +i`) for as long as it lives: the one way to make a file
/// read-only that root, who runs CI, cannot write through; a chmod would not stop it.
struct Immutable(Vec<PathBuf>);

impl Immutable {
    fn set(paths: Vec<PathBuf>) -> Option<Self> {
        let done = Command::new("chattr").arg("+i").args(&paths).stderr(Stdio::null()).status();
        done.is_ok_and(|s| s.success()).then_some(Self(paths))
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").args(&self.0).status();
    }
}

#[tokio::test]
async fn read_only_sqlite_file_gives_503_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let store = migrated_store(&url).await;
    let receiver = Receiver::start(0).await;
    let integrator = Integrator::new(&store, &receiver.base).await;
    let server = ServerProcess::start(dir.path(), &url).await;
    let created: Value = integrator.create(&server, "enrollment,liveness").await.json().await.unwrap();
    let id = created["session_id"].as_str().unwrap().to_string();

    // The database file and its write-ahead log, where SQLite writes first.
    let files: Vec<PathBuf> =
        ["thirdfactor.db", "thirdfactor.db-wal"].iter().map(|f| dir.path().join(f)).filter(|p| p.exists()).collect();
    let Some(read_only) = Immutable::set(files) else {
        eprintln!("skipped: chattr +i is not possible here (needs root and a file system with the attribute)");
        return;
    };
    server.wait_until(503).await;
    let refused = integrator.create(&server, "enrollment,liveness").await;
    assert_eq!(refused.status(), 503, "read-only database: 503, not 500");
    assert!(refused.headers().contains_key("retry-after"), "with Retry-After");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable");

    drop(read_only);
    server.wait_until(200).await;
    assert_eq!(integrator.session(&server, &id).await["status"], "created", "the earlier session survived");
    // A pooled connection that failed a write may answer 503 (with Retry-After) once more
    // before it recovers; a client retries, as the header tells it to.
    let cancelled = retry_while_unavailable(|| integrator.try_cancel(&server, &id)).await;
    assert_eq!(cancelled, 200, "cancel once the database is writable; server log:\n{}", server.log_tail());
    let delivered = receiver.try_wait_for(1, Duration::from_secs(15)).await;
    assert!(delivered.is_some(), "the webhook was not delivered; server log:\n{}", server.log_tail());
    let create = || async { integrator.create(&server, "enrollment,liveness").await.status().as_u16() };
    assert_eq!(retry_while_unavailable(create).await, 201, "server log:\n{}", server.log_tail());
}
