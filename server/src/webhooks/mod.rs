//! Webhook delivery: a worker drains the outbox (`store::webhooks`), signs each body with
//! the merchant's secret (HMAC-SHA256 over `timestamp.body`), and retries with exponential
//! backoff and jitter until a 2xx or the attempt limit. Rows survive restarts; the session id
//! is the receiver's idempotency key (delivery is at least once).

mod resolver;

use std::sync::Arc;
use std::time::Duration;

use hmac::{KeyInit, Mac};
use rand::RngExt;
use sha2::Sha256;
use tokio::sync::Notify;

use crate::domain::is_internal_address;
use crate::store::webhooks::{AttemptOutcome, Delivery};
use crate::store::{Store, StoreError, now_ms};

pub const SIGNATURE_HEADER: &str = "ThirdFactor-Signature";
pub const SESSION_HEADER: &str = "ThirdFactor-Session-Id";
pub const DELIVERY_HEADER: &str = "ThirdFactor-Delivery-Id";
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// How deliveries are attempted.
#[derive(Debug, Clone)]
pub struct DeliveryPolicy {
    pub timeout: Duration,
    pub max_attempts: i64,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub poll_interval: Duration,
    pub allow_private_targets: bool,
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac =
        <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("t={timestamp},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a signature header the way a receiver should (constant-time compare, fresh stamp).
pub fn verify_signature(secret: &str, header: &str, body: &str, now_secs: i64, tolerance_secs: i64) -> bool {
    let mut timestamp = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", s)) => v1 = hex::decode(s).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(sig)) = (timestamp, v1) else { return false };
    if (now_secs - t).abs() > tolerance_secs {
        return false;
    }
    let mut mac =
        <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    mac.verify_slice(&sig).is_ok()
}

/// Delay before attempt `attempts + 1`: doubling from the initial backoff, capped, ±20 % jitter
/// so that many failed deliveries do not retry in lockstep.
pub fn backoff(policy: &DeliveryPolicy, attempts: i64) -> Duration {
    let exp = attempts.clamp(0, 30) as u32;
    let base = policy.initial_backoff.saturating_mul(2u32.saturating_pow(exp)).min(policy.max_backoff);
    let jitter = rand::rng().random_range(0.8..1.2);
    base.mul_f64(jitter)
}

/// The outbox worker of one server instance.
pub struct Dispatcher {
    store: Store,
    policy: DeliveryPolicy,
    worker_id: String,
    http: reqwest::Client,
    wake: Arc<Notify>,
}

impl Dispatcher {
    pub fn new(store: Store, policy: DeliveryPolicy, wake: Arc<Notify>) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(policy.timeout)
            .connect_timeout(policy.timeout)
            // A redirect could lead anywhere, including inside the operator's network.
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(resolver::PublicOnly { allow_private: policy.allow_private_targets }))
            .user_agent(concat!("ThirdFactor-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { store, policy, worker_id: format!("worker-{}", uuid::Uuid::new_v4()), http, wake })
    }

    /// Runs until the task is dropped: drains what is due, then waits for the next poll or a
    /// wake-up from a session that just ended on this instance.
    pub async fn run(self) {
        loop {
            match self.drain_once().await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "webhook outbox unavailable"),
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.policy.poll_interval) => {}
            }
        }
    }

    /// Attempts every due delivery once; returns how many were attempted.
    pub async fn drain_once(&self) -> Result<usize, StoreError> {
        let due = self.store.claim_due_deliveries(&self.worker_id, now_ms(), self.lease_ms(), 16).await?;
        let count = due.len();
        for delivery in due {
            self.attempt(delivery).await?;
        }
        Ok(count)
    }

    /// How long a claim holds: one attempt (the request timeout) with a wide margin.
    fn lease_ms(&self) -> i64 {
        (self.policy.timeout.as_millis() as i64) * 2 + 5_000
    }

    async fn attempt(&self, delivery: Delivery) -> Result<(), StoreError> {
        let secret = self.store.merchant(&delivery.merchant_id).await?.map(|m| m.webhook_secret);
        // The batch is sent one row after another, so a row's claim may have lapsed (and been
        // taken by another instance) by its turn: renew it right before sending, or leave it.
        // A fresh lease outlasts this one attempt, so each attempt is made by one instance.
        if !self.store.renew_claim(&delivery.id, &self.worker_id, now_ms(), self.lease_ms()).await? {
            tracing::warn!(delivery = %delivery.id, "webhook claim lapsed before its turn; left to its new holder");
            return Ok(());
        }
        let result = self.send(&delivery, secret.as_deref()).await;
        let attempts = delivery.attempts + 1;
        let outcome = match &result {
            Ok(status) if (200..300).contains(status) => AttemptOutcome::Delivered { status: *status },
            _ if attempts >= self.policy.max_attempts => {
                let (status, error) = describe(&result);
                tracing::error!(delivery = %delivery.id, session_id = %delivery.session_id, attempts, error, "webhook given up");
                return self.record(&delivery, AttemptOutcome::GaveUp { status, error: &error }).await;
            }
            _ => {
                let (status, error) = describe(&result);
                let next = now_ms() + backoff(&self.policy, delivery.attempts).as_millis() as i64;
                tracing::warn!(delivery = %delivery.id, session_id = %delivery.session_id, attempts, error, "webhook failed, will retry");
                return self
                    .record(&delivery, AttemptOutcome::Retry { status, error: &error, next_attempt_at: next })
                    .await;
            }
        };
        metrics::counter!("thirdfactor_webhooks_delivered_total").increment(1);
        tracing::info!(delivery = %delivery.id, session_id = %delivery.session_id, attempts, "webhook delivered");
        self.record(&delivery, outcome).await
    }

    async fn record(&self, delivery: &Delivery, outcome: AttemptOutcome<'_>) -> Result<(), StoreError> {
        if matches!(outcome, AttemptOutcome::Retry { .. } | AttemptOutcome::GaveUp { .. }) {
            metrics::counter!("thirdfactor_webhook_failures_total").increment(1);
        }
        if !self.store.record_attempt(&delivery.id, &self.worker_id, now_ms(), outcome).await? {
            tracing::warn!(delivery = %delivery.id, "webhook claim lapsed before the attempt was recorded");
        }
        Ok(())
    }

    async fn send(&self, delivery: &Delivery, secret: Option<&str>) -> Result<i64, String> {
        let secret = secret.ok_or_else(|| "merchant no longer exists".to_string())?;
        check_literal_target(&delivery.url, self.policy.allow_private_targets)?;
        let timestamp = now_ms() / 1000;
        let response = self
            .http
            .post(&delivery.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature(secret, timestamp, &delivery.body))
            .header(SESSION_HEADER, &delivery.session_id)
            .header(IDEMPOTENCY_HEADER, &delivery.session_id)
            .header(DELIVERY_HEADER, &delivery.id)
            .body(delivery.body.clone())
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        Ok(i64::from(response.status().as_u16()))
    }
}

/// The resolver filters host names; an IP literal in the URL never reaches it.
fn check_literal_target(url: &str, allow_private: bool) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("invalid URL: {e}"))?;
    let ip = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
        _ => None,
    };
    match ip {
        Some(ip) if !allow_private && is_internal_address(ip) => Err(format!("target {ip} is an internal address")),
        _ => Ok(()),
    }
}

fn describe(result: &Result<i64, String>) -> (Option<i64>, String) {
    match result {
        Ok(status) => (Some(*status), format!("HTTP {status}")),
        Err(e) => (None, e.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_detect_tampering() {
        let header = signature("whsec_test", 1_700_000_000, "{\"a\":1}");
        assert!(header.starts_with("t=1700000000,v1="));
        assert!(verify_signature("whsec_test", &header, "{\"a\":1}", 1_700_000_010, 300));
        assert!(!verify_signature("whsec_test", &header, "{\"a\":2}", 1_700_000_010, 300), "body changed");
        assert!(!verify_signature("whsec_other", &header, "{\"a\":1}", 1_700_000_010, 300), "wrong secret");
        assert!(!verify_signature("whsec_test", &header, "{\"a\":1}", 1_700_009_999, 300), "stale");
    }

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let policy = DeliveryPolicy {
            timeout: Duration::from_secs(5),
            max_attempts: 10,
            initial_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(60),
            poll_interval: Duration::from_secs(1),
            allow_private_targets: false,
        };
        for (attempts, base) in [(0, 2.0), (1, 4.0), (3, 16.0), (10, 60.0)] {
            let d = backoff(&policy, attempts).as_secs_f64();
            assert!(d >= base * 0.8 - 1e-9 && d <= base * 1.2 + 1e-9, "attempt {attempts}: {d}");
        }
    }

    #[test]
    fn literal_internal_targets_are_refused() {
        assert!(check_literal_target("http://127.0.0.1:9/x", false).is_err());
        assert!(check_literal_target("http://[::1]:9/x", false).is_err());
        assert!(check_literal_target("http://127.0.0.1:9/x", true).is_ok());
        assert!(check_literal_target("https://hooks.example/x", false).is_ok());
    }
}
