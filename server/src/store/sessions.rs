//! Capture sessions as stored. The state machine that moves them lives in `crate::sessions`.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::enrollments::NewEnrollment;
use super::webhooks::NewDelivery;
use super::{Store, StoreError};

#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub id: String,
    pub merchant_id: String,
    pub merchant_ref: String,
    pub kind: String,
    pub config: String,
    pub branding: Option<String>,
    pub language: String,
    pub backend_url: String,
    pub return_url: String,
    pub cancel_url: String,
    pub status: String,
    pub step: String,
    pub token_hash: String,
    /// JSON array of reason codes.
    pub reasons: String,
    /// JSON result payload once the session has ended.
    pub result: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub expires_at: i64,
    pub ended_at: Option<i64>,
    pub capture_secret_hash: Option<String>,
    pub token_used_at: Option<i64>,
    /// JSON object step → attempts used.
    pub attempts: String,
    /// Sealed intermediate state (see `crate::capture::state`).
    pub state: Option<String>,
    pub state_key_id: Option<String>,
    pub version: i64,
}

/// A step's progress write.
pub struct ProgressUpdate<'a> {
    pub id: &'a str,
    pub expected_version: i64,
    pub step: &'a str,
    pub attempts: &'a str,
    pub state: Option<&'a str>,
    pub state_key_id: Option<&'a str>,
    pub now: i64,
}

/// What ending a session writes.
pub struct SessionEnd<'a> {
    pub id: &'a str,
    pub status: &'a str,
    /// JSON array of reason codes.
    pub reasons: &'a str,
    /// JSON result payload (also the webhook body).
    pub result: &'a str,
    pub now: i64,
}

macro_rules! select_sessions {
    ($tail:literal) => {
        concat!(
            "SELECT id, merchant_id, merchant_ref, kind, config, branding, language, backend_url, return_url, ",
            "cancel_url, status, step, token_hash, reasons, result, created_at, updated_at, expires_at, ended_at, ",
            "capture_secret_hash, token_used_at, attempts, state, state_key_id, version ",
            "FROM sessions ",
            $tail
        )
    };
}

fn from_row(row: &AnyRow) -> Result<SessionRecord, sqlx::Error> {
    Ok(SessionRecord {
        id: row.try_get("id")?,
        merchant_id: row.try_get("merchant_id")?,
        merchant_ref: row.try_get("merchant_ref")?,
        kind: row.try_get("kind")?,
        config: row.try_get("config")?,
        branding: row.try_get("branding")?,
        language: row.try_get("language")?,
        backend_url: row.try_get("backend_url")?,
        return_url: row.try_get("return_url")?,
        cancel_url: row.try_get("cancel_url")?,
        status: row.try_get("status")?,
        step: row.try_get("step")?,
        token_hash: row.try_get("token_hash")?,
        reasons: row.try_get("reasons")?,
        result: row.try_get("result")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        expires_at: row.try_get("expires_at")?,
        ended_at: row.try_get("ended_at")?,
        capture_secret_hash: row.try_get("capture_secret_hash")?,
        token_used_at: row.try_get("token_used_at")?,
        attempts: row.try_get("attempts")?,
        state: row.try_get("state")?,
        state_key_id: row.try_get("state_key_id")?,
        version: row.try_get("version")?,
    })
}

impl Store {
    pub async fn insert_session(&self, s: &SessionRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (id, merchant_id, merchant_ref, kind, config, branding, language, backend_url, \
             return_url, cancel_url, status, step, token_hash, reasons, result, created_at, updated_at, expires_at, \
             ended_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
        )
        .bind(&s.id)
        .bind(&s.merchant_id)
        .bind(&s.merchant_ref)
        .bind(&s.kind)
        .bind(&s.config)
        .bind(&s.branding)
        .bind(&s.language)
        .bind(&s.backend_url)
        .bind(&s.return_url)
        .bind(&s.cancel_url)
        .bind(&s.status)
        .bind(&s.step)
        .bind(&s.token_hash)
        .bind(&s.reasons)
        .bind(&s.result)
        .bind(s.created_at)
        .bind(s.updated_at)
        .bind(s.expires_at)
        .bind(s.ended_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query(select_sessions!("WHERE id = $1")).bind(id).fetch_optional(self.pool()).await?;
        Ok(row.as_ref().map(from_row).transpose()?)
    }

    pub async fn session_by_token_hash(&self, hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query(select_sessions!("WHERE token_hash = $1")).bind(hash).fetch_optional(self.pool()).await?;
        Ok(row.as_ref().map(from_row).transpose()?)
    }

    /// Ends an open session, queues its webhook and (an approved enrollment) stores its
    /// template, all in one transaction. Returns false, and writes nothing, when it had already
    /// ended, so two racing writers cannot both end it and a session cancelled (on any
    /// instance) while its last step was analysed leaves no template.
    pub async fn end_session(
        &self,
        end: &SessionEnd<'_>,
        delivery: &NewDelivery,
        enrollment: Option<&NewEnrollment>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(concat!(
            "UPDATE sessions SET status = $1, step = 'done', reasons = $2, result = $3, updated_at = $4, ",
            "ended_at = $4, state = NULL, state_key_id = NULL, version = version + 1 ",
            "WHERE id = $5 AND status IN ('created', 'in_progress')"
        ))
        .bind(end.status)
        .bind(end.reasons)
        .bind(end.result)
        .bind(end.now)
        .bind(end.id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        if let Some(enrollment) = enrollment {
            Store::write_enrollment(&mut *tx, enrollment).await?;
        }
        Store::insert_delivery(&mut *tx, delivery).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn session_by_capture_secret_hash(&self, hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query(select_sessions!("WHERE capture_secret_hash = $1"))
            .bind(hash)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(from_row).transpose()?)
    }

    /// Marks the link's token used and stores the capture cookie's hash, once: false if the
    /// token was already exchanged or the session has ended.
    pub async fn exchange_token(&self, id: &str, secret_hash: &str, now: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET token_used_at = $1, capture_secret_hash = $2, updated_at = $1, version = version + 1 \
             WHERE id = $3 AND token_used_at IS NULL AND status IN ('created', 'in_progress')",
        )
        .bind(now)
        .bind(secret_hash)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Writes a step's progress if nobody else wrote since `expected_version` (optimistic
    /// concurrency: two uploads racing for one step cannot both win).
    pub async fn update_progress(&self, update: &ProgressUpdate<'_>) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET status = 'in_progress', step = $1, attempts = $2, state = $3, state_key_id = $4, \
             updated_at = $5, version = version + 1 \
             WHERE id = $6 AND version = $7 AND status IN ('created', 'in_progress')",
        )
        .bind(update.step)
        .bind(update.attempts)
        .bind(update.state)
        .bind(update.state_key_id)
        .bind(update.now)
        .bind(update.id)
        .bind(update.expected_version)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Open sessions whose time is up, oldest first.
    pub async fn overdue_sessions(&self, now: i64, limit: i64) -> Result<Vec<SessionRecord>, StoreError> {
        let rows = sqlx::query(select_sessions!(
            "WHERE status IN ('created', 'in_progress') AND expires_at <= $1 ORDER BY expires_at LIMIT $2"
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
    }
}
