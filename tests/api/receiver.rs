//! A webhook receiver for tests: a real HTTP server on a free port that records what it gets
//! and can be told to fail.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    /// Answer 500 to this many requests before succeeding.
    fail_first: AtomicUsize,
    /// Never answer this many requests (the sender dies or times out first).
    hold_first: AtomicUsize,
    /// Answer 500 to the first this-many requests of every path (each session's own URL).
    fail_first_per_path: AtomicUsize,
    /// Hold the first request of every path this many milliseconds before answering.
    delay_first_per_path_ms: AtomicUsize,
}

pub struct Receiver {
    pub base: String,
    shared: Arc<Shared>,
    handle: actix_web::dev::ServerHandle,
}

impl Receiver {
    pub async fn start(fail_first: usize) -> Self {
        Self::start_on(0, fail_first).await
    }

    /// On a given port (0 = any), so a test can bring a receiver back where it was.
    pub async fn start_on(port: u16, fail_first: usize) -> Self {
        let shared = Arc::new(Shared::default());
        shared.fail_first.store(fail_first, Ordering::SeqCst);
        let data = web::Data::from(shared.clone());
        let server = HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::to(record)))
            .workers(1)
            .bind(("127.0.0.1", port))
            .expect("bind receiver");
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self { base: format!("http://127.0.0.1:{port}/hooks"), shared, handle }
    }

    /// Records but never answers the first `n` requests.
    pub async fn start_holding(n: usize) -> Self {
        let receiver = Self::start_on(0, 0).await;
        receiver.shared.hold_first.store(n, Ordering::SeqCst);
        receiver
    }

    /// Answers 500 to the first `n` requests of each path, then 200; the first request of a
    /// path is held `slow_first` before its answer (a sender with a shorter timeout gives up).
    pub async fn start_failing_each_path(n: usize, slow_first: Duration) -> Self {
        let receiver = Self::start_on(0, 0).await;
        receiver.shared.fail_first_per_path.store(n, Ordering::SeqCst);
        receiver.shared.delay_first_per_path_ms.store(slow_first.as_millis() as usize, Ordering::SeqCst);
        receiver
    }

    pub fn port(&self) -> u16 {
        self.base.rsplit(':').next().and_then(|p| p.split('/').next()).and_then(|p| p.parse().ok()).unwrap_or(0)
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Waits until `n` requests have arrived (or panics after `timeout`).
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        match self.try_wait_for(n, timeout).await {
            Some(got) => got,
            None => panic!("expected {n} webhook requests, got {}", self.received().len()),
        }
    }

    /// Like [`Self::wait_for`], but `None` on timeout, for callers that explain the failure.
    pub async fn try_wait_for(&self, n: usize, timeout: Duration) -> Option<Vec<Received>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let got = self.received();
            if got.len() >= n {
                return Some(got);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

async fn record(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let headers =
        req.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string())).collect();
    // This request's number among those to its path, counted under the lock that records it.
    let nth_of_path = {
        let mut received = shared.received.lock().unwrap();
        received.push(Received {
            path: req.path().to_string(),
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        received.iter().filter(|r| r.path == req.path()).count()
    };
    if shared.hold_first.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let delay = shared.delay_first_per_path_ms.load(Ordering::SeqCst);
    if nth_of_path == 1 && delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay as u64)).await;
    }
    if nth_of_path <= shared.fail_first_per_path.load(Ordering::SeqCst) {
        return HttpResponse::InternalServerError().finish();
    }
    let failing = shared.fail_first.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
    if failing { HttpResponse::InternalServerError().finish() } else { HttpResponse::Ok().finish() }
}
