//! Admission control for CPU-heavy analyses (selfie, document, liveness burst): at most
//! `capture.max_concurrent_analyses` run at once; up to `capture.max_queued_analyses` more wait
//! for a slot, each at most `capture.max_queue_wait_ms`; beyond that the request is refused at
//! once with 503 + Retry-After. Overload thus costs bounded latency and bounded memory (a
//! queued request holds its upload), never an ever-growing backlog.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::api::error::ApiError;
use crate::config::CaptureSettings;

/// Seconds a refused client is told to wait: a full queue drains in about that long.
pub const RETRY_AFTER_SECS: u64 = 2;

#[derive(Clone)]
pub struct Admission {
    slots: Arc<Semaphore>,
    /// One permit per place in the queue.
    queue: Arc<Semaphore>,
    max_wait: Duration,
}

impl Admission {
    pub fn new(concurrent: usize, queued: usize, max_wait: Duration) -> Self {
        Self { slots: Arc::new(Semaphore::new(concurrent.max(1))), queue: Arc::new(Semaphore::new(queued)), max_wait }
    }

    pub fn from_settings(c: &CaptureSettings) -> Self {
        Self::new(c.max_concurrent_analyses, c.max_queued_analyses, Duration::from_millis(c.max_queue_wait_ms))
    }

    /// A slot for one analysis, held until the permit drops; `Overloaded` when every slot is
    /// busy and the queue is full, or the wait in the queue ran out.
    pub async fn enter(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        if let Ok(slot) = self.slots.clone().try_acquire_owned() {
            return Ok(slot);
        }
        let overloaded = || {
            metrics::counter!("thirdfactor_analyses_shed_total").increment(1);
            ApiError::Overloaded { retry_after_secs: RETRY_AFTER_SECS }
        };
        let _place = self.queue.clone().try_acquire_owned().map_err(|_| overloaded())?;
        match tokio::time::timeout(self.max_wait, self.slots.clone().acquire_owned()).await {
            Ok(Ok(slot)) => Ok(slot),
            _ => Err(overloaded()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_in_a_bounded_queue_then_sheds() {
        let admission = Admission::new(1, 1, Duration::from_secs(5));
        let busy = admission.enter().await.unwrap();
        let queued = tokio::spawn({
            let admission = admission.clone();
            async move { admission.enter().await.is_ok() }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        // One running, one waiting: the next is refused at once.
        assert!(matches!(admission.enter().await, Err(ApiError::Overloaded { retry_after_secs: RETRY_AFTER_SECS })));
        drop(busy);
        assert!(queued.await.unwrap(), "the queued request gets the freed slot");
    }

    #[tokio::test]
    async fn a_wait_longer_than_the_limit_is_refused() {
        let admission = Admission::new(1, 4, Duration::from_millis(30));
        let _busy = admission.enter().await.unwrap();
        assert!(matches!(admission.enter().await, Err(ApiError::Overloaded { .. })));
    }
}
