//! The webhook outbox: one row per ended session, written in the same transaction that ends
//! the session, delivered at least once by whichever instance claims it.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError};

pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const FAILED: &str = "failed";

#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub id: String,
    pub session_id: String,
    pub merchant_id: String,
    pub url: String,
    pub body: String,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub session_id: String,
    pub merchant_id: String,
    pub url: String,
    pub body: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_at: Option<i64>,
}

macro_rules! select_deliveries {
    ($tail:literal) => {
        concat!(
            "SELECT id, session_id, merchant_id, url, body, status, attempts, next_attempt_at, last_status, ",
            "last_error, delivered_at FROM webhook_deliveries ",
            $tail
        )
    };
}

fn from_row(row: &AnyRow) -> Result<Delivery, sqlx::Error> {
    Ok(Delivery {
        id: row.try_get("id")?,
        session_id: row.try_get("session_id")?,
        merchant_id: row.try_get("merchant_id")?,
        url: row.try_get("url")?,
        body: row.try_get("body")?,
        status: row.try_get("status")?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        last_status: row.try_get("last_status")?,
        last_error: row.try_get("last_error")?,
        delivered_at: row.try_get("delivered_at")?,
    })
}

/// The outcome of one delivery attempt.
pub enum AttemptOutcome<'a> {
    Delivered { status: i64 },
    Retry { status: Option<i64>, error: &'a str, next_attempt_at: i64 },
    GaveUp { status: Option<i64>, error: &'a str },
}

impl Store {
    pub(super) async fn insert_delivery<'c, E>(executor: E, d: &NewDelivery) -> Result<(), StoreError>
    where
        E: sqlx::Executor<'c, Database = sqlx::Any>,
    {
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, session_id, merchant_id, url, body, status, attempts, \
             next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6)",
        )
        .bind(&d.id)
        .bind(&d.session_id)
        .bind(&d.merchant_id)
        .bind(&d.url)
        .bind(&d.body)
        .bind(d.created_at)
        .execute(executor)
        .await?;
        Ok(())
    }

    /// Claims up to `limit` due deliveries for `worker` until `now + lease_ms`. The claim is a
    /// conditional UPDATE, so of several instances exactly one wins each row.
    pub async fn claim_due_deliveries(
        &self,
        worker: &str,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        let candidates: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1 \
             AND (locked_until IS NULL OR locked_until < $1) ORDER BY next_attempt_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        let mut claimed = Vec::new();
        for id in candidates {
            let won = sqlx::query(
                "UPDATE webhook_deliveries SET locked_by = $1, locked_until = $2 WHERE id = $3 \
                 AND status = 'pending' AND (locked_until IS NULL OR locked_until < $4)",
            )
            .bind(worker)
            .bind(now + lease_ms)
            .bind(&id)
            .bind(now)
            .execute(self.pool())
            .await?
            .rows_affected()
                == 1;
            if won && let Some(d) = self.delivery(&id).await? {
                claimed.push(d);
            }
        }
        Ok(claimed)
    }

    /// Extends `worker`'s claim on a delivery to `now + lease_ms`, if it still holds it (the
    /// lease has not lapsed and been taken by another instance); false otherwise. Called right
    /// before each attempt, so a claim that lapsed while earlier rows of the batch were sent
    /// is never used for a second, concurrent attempt.
    pub async fn renew_claim(&self, id: &str, worker: &str, now: i64, lease_ms: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET locked_until = $1 WHERE id = $2 AND status = 'pending' \
             AND locked_by = $3 AND locked_until >= $4",
        )
        .bind(now + lease_ms)
        .bind(id)
        .bind(worker)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn delivery(&self, id: &str) -> Result<Option<Delivery>, StoreError> {
        let row = sqlx::query(select_deliveries!("WHERE id = $1")).bind(id).fetch_optional(self.pool()).await?;
        Ok(row.as_ref().map(from_row).transpose()?)
    }

    pub async fn delivery_for_session(&self, session_id: &str) -> Result<Option<Delivery>, StoreError> {
        let row = sqlx::query(select_deliveries!("WHERE session_id = $1"))
            .bind(session_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(from_row).transpose()?)
    }

    /// Records an attempt by the worker holding the claim; false if the claim was lost.
    pub async fn record_attempt(
        &self,
        id: &str,
        worker: &str,
        now: i64,
        outcome: AttemptOutcome<'_>,
    ) -> Result<bool, StoreError> {
        let (status, next_at, code, error, delivered_at) = match outcome {
            AttemptOutcome::Delivered { status } => (DELIVERED, now, Some(status), None, Some(now)),
            AttemptOutcome::Retry { status, error, next_attempt_at } => {
                (PENDING, next_attempt_at, status, Some(error), None)
            }
            AttemptOutcome::GaveUp { status, error } => (FAILED, now, status, Some(error), None),
        };
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1, next_attempt_at = $2, \
             last_status = $3, last_error = $4, delivered_at = $5, locked_by = NULL, locked_until = NULL \
             WHERE id = $6 AND locked_by = $7",
        )
        .bind(status)
        .bind(next_at)
        .bind(code)
        .bind(error.map(|e| e.chars().take(500).collect::<String>()))
        .bind(delivered_at)
        .bind(id)
        .bind(worker)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
