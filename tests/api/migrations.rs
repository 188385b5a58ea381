//! One set of migrations, applied from empty on SQLite and PostgreSQL.

use thirdfactor::store::Store;

use crate::helpers::{Db, fresh_database_url};
use crate::on_both_databases;

on_both_databases!(migrates_from_empty_and_is_idempotent);

async fn migrates_from_empty_and_is_idempotent(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(db, dir.path()).await;
    let store = Store::connect(&url, 2, std::time::Duration::from_secs(5)).await.unwrap();
    assert!(store.schema_version().await.is_err(), "empty database has no migration table");
    store.migrate().await.unwrap();
    let version = store.schema_version().await.unwrap().unwrap();
    assert!(version >= 1);
    store.migrate().await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), Some(version), "second run changes nothing");
    for table in ["merchants", "sessions", "enrollments"] {
        let sql = match table {
            "merchants" => "SELECT COUNT(*) FROM merchants",
            "sessions" => "SELECT COUNT(*) FROM sessions",
            _ => "SELECT COUNT(*) FROM enrollments",
        };
        let count: i64 = sqlx::query_scalar(sql).fetch_one(store.pool()).await.unwrap();
        assert_eq!(count, 0, "{table} exists and is empty");
    }
}
