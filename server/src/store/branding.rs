//! Branding profiles of merchants (validated in `crate::branding` before they get here).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, now_ms};
use crate::branding::{BrandingProfile, Logo, Rgb};
use crate::domain::Branding;

/// `SELECT <COLUMNS> FROM branding_profiles <tail>` as a `&'static str`.
macro_rules! select_profiles {
    ($tail:literal) => {
        concat!(
            "SELECT name, display_name, primary_color, accent_color, logo_type, logo_base64 FROM branding_profiles ",
            $tail
        )
    };
}

fn from_row(row: &AnyRow) -> Result<BrandingProfile, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("branding profile: {what}"));
    let name: String = row.try_get("name")?;
    let primary: String = row.try_get("primary_color")?;
    let accent: Option<String> = row.try_get("accent_color")?;
    let logo_base64: Option<String> = row.try_get("logo_base64")?;
    let logo = match logo_base64 {
        Some(b64) => {
            let bytes = STANDARD.decode(b64).map_err(|_| corrupt("logo"))?;
            // Re-validated on read: the row could have been edited by hand.
            Some(Logo::parse(bytes).map_err(|_| corrupt("logo"))?)
        }
        None => None,
    };
    Ok(BrandingProfile {
        name: Branding::parse(&name).map_err(|_| corrupt("name"))?,
        display_name: row.try_get("display_name")?,
        primary: Rgb::parse("primary", &primary).map_err(|_| corrupt("primary colour"))?,
        accent: accent.map(|a| Rgb::parse("accent", &a)).transpose().map_err(|_| corrupt("accent colour"))?,
        logo,
    })
}

impl Store {
    /// Creates or replaces the merchant's profile of that name.
    pub async fn upsert_branding(&self, merchant_id: &str, p: &BrandingProfile) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM branding_profiles WHERE merchant_id = $1 AND name = $2")
            .bind(merchant_id)
            .bind(p.name.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO branding_profiles (merchant_id, name, display_name, primary_color, accent_color, \
             logo_type, logo_base64, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(merchant_id)
        .bind(p.name.as_str())
        .bind(&p.display_name)
        .bind(p.primary.to_string())
        .bind(p.accent.map(|c| c.to_string()))
        .bind(p.logo.as_ref().map(|l| l.content_type))
        .bind(p.logo.as_ref().map(Logo::to_base64))
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn branding(&self, merchant_id: &str, name: &str) -> Result<Option<BrandingProfile>, StoreError> {
        let row = sqlx::query(select_profiles!("WHERE merchant_id = $1 AND name = $2"))
            .bind(merchant_id)
            .bind(name)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn branding_exists(&self, merchant_id: &str, name: &str) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM branding_profiles WHERE merchant_id = $1 AND name = $2")
            .bind(merchant_id)
            .bind(name)
            .fetch_one(self.pool())
            .await?;
        Ok(n > 0)
    }

    pub async fn brandings(&self, merchant_id: &str) -> Result<Vec<BrandingProfile>, StoreError> {
        let rows = sqlx::query(select_profiles!("WHERE merchant_id = $1 ORDER BY name"))
            .bind(merchant_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// True if a profile was deleted. Sessions naming it fall back to the default look.
    pub async fn delete_branding(&self, merchant_id: &str, name: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM branding_profiles WHERE merchant_id = $1 AND name = $2")
            .bind(merchant_id)
            .bind(name)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
