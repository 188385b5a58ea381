//! Enrolled face templates (encrypted). Only existence is needed before the product flow lands.

use super::{Store, StoreError};

impl Store {
    pub async fn enrollment_exists(&self, merchant_id: &str, merchant_ref: &str) -> Result<bool, StoreError> {
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM enrollments WHERE merchant_id = $1 AND merchant_ref = $2")
                .bind(merchant_id)
                .bind(merchant_ref)
                .fetch_one(self.pool())
                .await?;
        Ok(count > 0)
    }
}
