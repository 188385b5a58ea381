//! Enrolled face templates (sealed by `crate::templates`) and verification throttling counts.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError};

#[derive(Debug, Clone)]
pub struct EnrollmentRecord {
    pub merchant_id: String,
    pub merchant_ref: String,
    /// Sealed template, base64.
    pub template: String,
    pub key_id: String,
    pub model_version: String,
    pub session_id: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub failed_verifications: i64,
    pub last_failed_at: Option<i64>,
}

/// A sealed template about to be stored (or to replace the reference's current one).
#[derive(Debug, Clone)]
pub struct NewEnrollment {
    pub merchant_id: String,
    pub merchant_ref: String,
    /// Sealed template, base64.
    pub template: String,
    pub key_id: String,
    pub model_version: String,
    pub session_id: String,
    pub now: i64,
}

fn from_row(row: &AnyRow) -> Result<EnrollmentRecord, sqlx::Error> {
    Ok(EnrollmentRecord {
        merchant_id: row.try_get("merchant_id")?,
        merchant_ref: row.try_get("merchant_ref")?,
        template: row.try_get("template")?,
        key_id: row.try_get("key_id")?,
        model_version: row.try_get("model_version")?,
        session_id: row.try_get("session_id")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        failed_verifications: row.try_get("failed_verifications")?,
        last_failed_at: row.try_get("last_failed_at")?,
    })
}

impl Store {
    pub async fn enrollment_exists(&self, merchant_id: &str, merchant_ref: &str) -> Result<bool, StoreError> {
        Ok(self.enrollment(merchant_id, merchant_ref).await?.is_some())
    }

    pub async fn enrollment(
        &self,
        merchant_id: &str,
        merchant_ref: &str,
    ) -> Result<Option<EnrollmentRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT merchant_id, merchant_ref, template, key_id, model_version, session_id, created_at, updated_at, \
             failed_verifications, last_failed_at FROM enrollments WHERE merchant_id = $1 AND merchant_ref = $2",
        )
        .bind(merchant_id)
        .bind(merchant_ref)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(from_row).transpose()?)
    }

    /// Stores or replaces the template; re-enrollment also resets the throttling counts.
    pub async fn upsert_enrollment(&self, enrollment: &NewEnrollment) -> Result<(), StoreError> {
        Store::write_enrollment(self.pool(), enrollment).await
    }

    /// The upsert on any executor, so ending an enrollment session can write the template in
    /// the same transaction. The primary key (merchant_id, merchant_ref) and ON CONFLICT keep
    /// one row per reference however many instances write it at once.
    pub(super) async fn write_enrollment<'c, E>(executor: E, e: &NewEnrollment) -> Result<(), StoreError>
    where
        E: sqlx::Executor<'c, Database = sqlx::Any>,
    {
        sqlx::query(
            "INSERT INTO enrollments (merchant_id, merchant_ref, template, key_id, model_version, session_id, \
             created_at, updated_at, failed_verifications, last_failed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 0, NULL) \
             ON CONFLICT (merchant_id, merchant_ref) DO UPDATE SET template = excluded.template, \
             key_id = excluded.key_id, model_version = excluded.model_version, session_id = excluded.session_id, \
             updated_at = excluded.updated_at, failed_verifications = 0, last_failed_at = NULL",
        )
        .bind(&e.merchant_id)
        .bind(&e.merchant_ref)
        .bind(&e.template)
        .bind(&e.key_id)
        .bind(&e.model_version)
        .bind(&e.session_id)
        .bind(e.now)
        .execute(executor)
        .await?;
        Ok(())
    }

    /// Erases the template; false if there was none.
    pub async fn delete_enrollment(&self, merchant_id: &str, merchant_ref: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM enrollments WHERE merchant_id = $1 AND merchant_ref = $2")
            .bind(merchant_id)
            .bind(merchant_ref)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Counts a failed verification; returns the new consecutive count.
    pub async fn record_failed_verification(
        &self,
        merchant_id: &str,
        merchant_ref: &str,
        now: i64,
    ) -> Result<i64, StoreError> {
        sqlx::query(
            "UPDATE enrollments SET failed_verifications = failed_verifications + 1, last_failed_at = $1 \
             WHERE merchant_id = $2 AND merchant_ref = $3",
        )
        .bind(now)
        .bind(merchant_id)
        .bind(merchant_ref)
        .execute(self.pool())
        .await?;
        Ok(self.enrollment(merchant_id, merchant_ref).await?.map(|e| e.failed_verifications).unwrap_or(0))
    }

    pub async fn reset_failed_verifications(&self, merchant_id: &str, merchant_ref: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE enrollments SET failed_verifications = 0, last_failed_at = NULL WHERE merchant_id = $1 AND merchant_ref = $2",
        )
        .bind(merchant_id)
        .bind(merchant_ref)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
