//! Rate limits per API key and per client IP: GCRA (the generic cell rate algorithm, a token
//! bucket kept as one timestamp per key), in memory. Limits are per instance: behind a load
//! balancer with N instances a client can get up to N times the configured rate.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;

use crate::api::error::ApiError;
use crate::config::{RateLimitSettings, TrustedProxies};
use crate::startup::AppState;

/// Keys kept before idle ones (whose bucket is full again) are dropped.
const PRUNE_ABOVE: usize = 10_000;

/// One limit: `per_minute` sustained, up to `burst` at once.
#[derive(Debug)]
pub struct Limiter {
    interval_ns: u64,
    tolerance_ns: u64,
    epoch: Instant,
    /// Key → theoretical arrival time (ns since `epoch`) of its next request.
    tat: Mutex<HashMap<String, u64>>,
}

impl Limiter {
    pub fn new(per_minute: u32, burst: u32) -> Self {
        let interval_ns = 60_000_000_000 / u64::from(per_minute.max(1));
        Self {
            interval_ns,
            tolerance_ns: interval_ns * u64::from(burst.max(1) - 1),
            epoch: Instant::now(),
            tat: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `key`'s allowance, or says how long until one is free.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let now = self.epoch.elapsed().as_nanos() as u64;
        // A poisoned lock only means another request panicked mid-update; the map is still sound.
        let mut tat = self.tat.lock().unwrap_or_else(|p| p.into_inner());
        let current = tat.get(key).copied().unwrap_or(now).max(now);
        let allowed_at = current.saturating_sub(self.tolerance_ns);
        if now < allowed_at {
            return Err(Duration::from_nanos(allowed_at - now));
        }
        tat.insert(key.to_string(), current + self.interval_ns);
        if tat.len() > PRUNE_ABOVE {
            // A key whose time has passed has a full bucket: forgetting it changes nothing.
            tat.retain(|_, t| *t > now);
        }
        Ok(())
    }
}

/// The instance's limiters, from `[rate_limits]`.
#[derive(Debug)]
pub struct RateLimits {
    enabled: bool,
    per_key: Limiter,
    per_ip: Limiter,
    trusted_proxies: TrustedProxies,
}

impl RateLimits {
    pub fn new(s: &RateLimitSettings, trusted_proxies: TrustedProxies) -> Self {
        Self {
            enabled: s.enabled,
            per_key: Limiter::new(s.per_api_key_per_minute, s.per_api_key_burst),
            per_ip: Limiter::new(s.per_ip_per_minute, s.per_ip_burst),
            trusted_proxies,
        }
    }

    /// `key_hash`: the SHA-256 of a valid API key (never the key itself).
    pub fn check_api_key(&self, key_hash: &str) -> Result<(), ApiError> {
        if !self.enabled {
            return Ok(());
        }
        self.per_key.check(key_hash).map_err(|wait| limited("api_key", wait))
    }

    pub fn check_ip(&self, ip: IpAddr) -> Result<(), ApiError> {
        if !self.enabled {
            return Ok(());
        }
        self.per_ip.check(&ip.to_string()).map_err(|wait| limited("ip", wait))
    }

    /// The client's address: the TCP peer, or — only when the peer is a trusted proxy — the
    /// right-most X-Forwarded-For entry that is not itself a trusted proxy (entries further
    /// left are written by the client and can be forged).
    pub fn client_ip(&self, peer: Option<IpAddr>, forwarded_for: Option<&str>) -> Option<IpAddr> {
        let peer = peer?;
        if !self.trusted_proxies.contains(peer) {
            return Some(peer);
        }
        let Some(header) = forwarded_for else { return Some(peer) };
        let mut client = peer;
        for entry in header.rsplit(',') {
            let Ok(ip) = entry.trim().parse::<IpAddr>() else { break };
            client = ip;
            if !self.trusted_proxies.contains(ip) {
                break;
            }
        }
        Some(client)
    }
}

fn limited(scope: &'static str, wait: Duration) -> ApiError {
    metrics::counter!("thirdfactor_rate_limited_total", "scope" => scope).increment(1);
    // Whole seconds, rounded up: Retry-After has no fractions and 0 would invite a hammering.
    ApiError::RateLimited { retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0) }
}

/// Per-IP limit on every route except the operational probes (load balancers poll those).
pub async fn limit_by_ip(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<actix_web::body::EitherBody<impl MessageBody>>, Error> {
    let path = req.path();
    let probe = matches!(path, "/healthz" | "/readyz" | "/metrics");
    if !probe && let Some(state) = req.app_data::<web::Data<AppState>>() {
        let forwarded = req.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok());
        let peer = req.peer_addr().map(|a| a.ip());
        if let Some(ip) = state.rate_limits.client_ip(peer, forwarded)
            && let Err(e) = state.rate_limits.check_ip(ip)
        {
            return Ok(req.error_response(e).map_into_right_body());
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_rate_holds() {
        let l = Limiter::new(60, 3);
        for _ in 0..3 {
            assert!(l.check("a").is_ok());
        }
        let wait = l.check("a").unwrap_err();
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1), "{wait:?}");
        assert!(l.check("b").is_ok(), "keys are independent");
    }

    #[test]
    fn retry_after_is_rounded_up_to_whole_seconds() {
        let ApiError::RateLimited { retry_after_secs } = limited("ip", Duration::from_millis(1)) else { panic!() };
        assert_eq!(retry_after_secs, 1);
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let settings = crate::config::Settings::defaults().rate_limits;
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let trusted = RateLimits::new(&settings, TrustedProxies::parse(&["10.0.0.0/8".into()]).unwrap());
        let untrusted = RateLimits::new(&settings, TrustedProxies::default());
        let header = Some("6.6.6.6, 203.0.113.9, 10.0.0.7");
        assert_eq!(untrusted.client_ip(Some(proxy), header), Some(proxy));
        // The forged left-most entry is skipped: the proxy chain vouches only for 203.0.113.9.
        assert_eq!(trusted.client_ip(Some(proxy), header), Some("203.0.113.9".parse().unwrap()));
        let direct: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(trusted.client_ip(Some(direct), header), Some(direct), "a direct client cannot claim another IP");
        assert_eq!(trusted.client_ip(Some(proxy), Some("garbage")), Some(proxy));
    }
}
