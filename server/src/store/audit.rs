//! The audit log table: appends that keep the hash chain linear even with several server
//! instances writing at once, and ordered reads for verification.

use sqlx::Row;

use super::{Store, StoreError};
use crate::audit::{AuditEntry, AuditEvent, GENESIS, chain_hash};

/// Attempts before giving up when other writers keep taking the next sequence number.
const APPEND_ATTEMPTS: usize = 20;

impl Store {
    /// Appends `event` as the next link: reads the head and inserts `seq + 1` in one
    /// transaction; a concurrent writer that took the same number makes the insert fail on
    /// the primary key, and the append retries on the new head.
    pub async fn append_audit(&self, event: &AuditEvent) -> Result<AuditEntry, StoreError> {
        let mut last_error = None;
        for _ in 0..APPEND_ATTEMPTS {
            match self.try_append_audit(event).await {
                Ok(entry) => return Ok(entry),
                Err(StoreError::Database(e)) if is_conflict(&e) => last_error = Some(e),
                Err(e) => return Err(e),
            }
            tokio::time::sleep(std::time::Duration::from_millis(2 + rand::random::<u64>() % 10)).await;
        }
        Err(StoreError::Database(last_error.unwrap_or(sqlx::Error::PoolTimedOut)))
    }

    async fn try_append_audit(&self, event: &AuditEvent) -> Result<AuditEntry, StoreError> {
        let mut tx = self.pool().begin().await?;
        let head =
            sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetch_optional(&mut *tx).await?;
        let (prev_seq, prev_hash) = match head {
            Some(row) => (row.try_get::<i64, _>("seq")?, row.try_get::<String, _>("hash")?),
            None => (0, GENESIS.to_string()),
        };
        let seq = prev_seq + 1;
        let hash = chain_hash(&prev_hash, seq, event);
        sqlx::query(
            "INSERT INTO audit_log (seq, at, actor, action, target, detail, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(seq)
        .bind(event.at)
        .bind(&event.actor)
        .bind(&event.action)
        .bind(&event.target)
        .bind(&event.detail)
        .bind(&prev_hash)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(AuditEntry {
            seq,
            at: event.at,
            actor: event.actor.clone(),
            action: event.action.clone(),
            target: event.target.clone(),
            detail: event.detail.clone(),
            prev_hash,
            hash,
        })
    }

    /// The newest entry's sequence number (0 when empty).
    pub async fn audit_head_seq(&self) -> Result<i64, StoreError> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM audit_log").fetch_one(self.pool()).await?;
        Ok(seq.unwrap_or(0))
    }

    /// Up to `limit` entries after `after_seq`, in order.
    pub async fn audit_entries_after(&self, after_seq: i64, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, at, actor, action, target, detail, prev_hash, hash FROM audit_log \
             WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after_seq)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    seq: r.try_get("seq")?,
                    at: r.try_get("at")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    target: r.try_get("target")?,
                    detail: r.try_get("detail")?,
                    prev_hash: r.try_get("prev_hash")?,
                    hash: r.try_get("hash")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}

/// A lost race for the next sequence number: unique violation (both databases), SQLite's
/// busy/locked, or PostgreSQL's serialization failure.
fn is_conflict(e: &sqlx::Error) -> bool {
    e.as_database_error().is_some_and(|d| {
        d.is_unique_violation()
            || matches!(d.code().as_deref(), Some("40001") | Some("5") | Some("6") | Some("517"))
            || d.message().contains("locked")
    })
}
