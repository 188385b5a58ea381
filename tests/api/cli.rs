//! The `thirdfactor` binary's subcommands, run as a user would.

use std::process::Command;

use serde_json::Value;

use crate::helpers::thirdfactor;

#[test]
fn migrate_then_create_and_list_merchants() {
    let dir = tempfile::tempdir().unwrap();
    let out = thirdfactor(dir.path(), &["migrate"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("database schema at version "));
    assert!(dir.path().join("thirdfactor.db").is_file(), "SQLite file in the data directory");

    let out = thirdfactor(
        dir.path(),
        &["merchant", "create", "--name", "Acme 3FA", "--webhook-base", "https://api.acme.example/hooks", "--json"],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(created["merchant_id"], "1");
    let key = created["api_key"].as_str().unwrap();
    let secret = created["webhook_secret"].as_str().unwrap();
    assert!(key.starts_with("tf_") && secret.starts_with("whsec_"));

    let out =
        thirdfactor(dir.path(), &["merchant", "create", "--name", "Second", "--webhook-base", "https://b.example/"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("merchant_id:    2"));

    let out = thirdfactor(dir.path(), &["merchant", "list", "--json"]);
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains(key) && !text.contains(secret), "list never shows secrets");

    // Only a hash of the key is stored.
    // The main file and its write-ahead log (WAL mode) together hold every row.
    let mut db = std::fs::read(dir.path().join("thirdfactor.db")).unwrap();
    db.extend(std::fs::read(dir.path().join("thirdfactor.db-wal")).unwrap_or_default());
    let db_text = String::from_utf8_lossy(&db);
    assert!(!db_text.contains(key), "the API key is not in the database file");
    assert!(db_text.contains(&thirdfactor::domain::sha256_hex(key.as_bytes())));
}

#[test]
fn bad_merchant_arguments_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = thirdfactor(dir.path(), &["merchant", "create", "--name", "X", "--webhook-base", "not a url"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--webhook-base"));
    let out = thirdfactor(
        dir.path(),
        &["merchant", "create", "--name", "X", "--webhook-base", "https://x.example", "--id", "7"],
    );
    assert!(out.status.success());
    let out = thirdfactor(
        dir.path(),
        &["merchant", "create", "--name", "Y", "--webhook-base", "https://y.example", "--id", "7"],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
}

#[test]
fn invalid_configuration_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_thirdfactor"))
        .args(["migrate"])
        .env("THIRDFACTOR_SESSIONS__TTL_SECS", "zero")
        .env("THIRDFACTOR_PATHS__DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).to_lowercase().contains("ttl_secs"));
}
