//! Merchants (integrators): their API key hash, webhook base and secret.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError};

#[derive(Debug, Clone)]
pub struct Merchant {
    pub id: String,
    pub name: String,
    pub api_key_hint: String,
    pub webhook_base: String,
    pub webhook_secret: String,
    pub created_at: i64,
}

/// What `merchant create` stores; the API key itself is never stored.
pub struct NewMerchant<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub api_key_hash: &'a str,
    pub api_key_hint: &'a str,
    pub webhook_base: &'a str,
    pub webhook_secret: &'a str,
    pub created_at: i64,
}

/// `SELECT <COLUMNS> FROM merchants <tail>` as a `&'static str`.
macro_rules! select_merchants {
    ($tail:literal) => {
        concat!("SELECT id, name, api_key_hint, webhook_base, webhook_secret, created_at FROM merchants ", $tail)
    };
}

fn from_row(row: &AnyRow) -> Result<Merchant, sqlx::Error> {
    Ok(Merchant {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        api_key_hint: row.try_get("api_key_hint")?,
        webhook_base: row.try_get("webhook_base")?,
        webhook_secret: row.try_get("webhook_secret")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    pub async fn insert_merchant(&self, m: &NewMerchant<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO merchants (id, name, api_key_hash, api_key_hint, webhook_base, webhook_secret, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(m.id)
        .bind(m.name)
        .bind(m.api_key_hash)
        .bind(m.api_key_hint)
        .bind(m.webhook_base)
        .bind(m.webhook_secret)
        .bind(m.created_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn merchant_by_key_hash(&self, hash: &str) -> Result<Option<Merchant>, StoreError> {
        let row =
            sqlx::query(select_merchants!("WHERE api_key_hash = $1")).bind(hash).fetch_optional(self.pool()).await?;
        Ok(row.as_ref().map(from_row).transpose()?)
    }

    pub async fn merchant(&self, id: &str) -> Result<Option<Merchant>, StoreError> {
        let row = sqlx::query(select_merchants!("WHERE id = $1")).bind(id).fetch_optional(self.pool()).await?;
        Ok(row.as_ref().map(from_row).transpose()?)
    }

    pub async fn merchants(&self) -> Result<Vec<Merchant>, StoreError> {
        let rows = sqlx::query(select_merchants!("ORDER BY created_at, id")).fetch_all(self.pool()).await?;
        Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
    }

    /// Smallest unused numeric id ("1", "2", …), the form integrators already use.
    pub async fn next_merchant_id(&self) -> Result<String, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM merchants").fetch_all(self.pool()).await?;
        let max = ids.iter().filter_map(|id| id.parse::<u64>().ok()).max().unwrap_or(0);
        Ok((max + 1).to_string())
    }
}
