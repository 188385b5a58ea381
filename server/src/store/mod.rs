//! Persistence: one SQL dialect for SQLite (default) and PostgreSQL (several instances),
//! reached through sqlx's `Any` driver. Handlers never see SQL; they call the functions here.

pub mod audit;
pub mod branding;
pub mod enrollments;
pub mod merchants;
pub mod sessions;
mod sqlite_health;
pub mod webhooks;

use std::borrow::Cow;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Executor};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        sqlite_health::note(&e);
        StoreError::Database(e)
    }
}

impl StoreError {
    /// True when the database itself is unreachable or refusing writes (the caller should
    /// answer 503 and retry later) rather than a bug or a constraint violation.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Database(e) => {
                matches!(
                    e,
                    sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_)
                ) || sqlite_health::is_write_refusal(e)
                    // PostgreSQL: a read-only transaction or standby; SQLite: busy or locked.
                    || e.as_database_error().is_some_and(|d| {
                        let msg = d.message();
                        msg.contains("read-only") || msg.contains("locked")
                    })
            }
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The SQL of one migration: the same for both databases, or (rarely: triggers) not.
enum MigrationSql {
    Portable(&'static str),
    PerBackend { sqlite: &'static str, postgres: &'static str },
}

/// The migrations, compiled in: `thirdfactor migrate` needs nothing beside the binary.
const MIGRATIONS: &[(i64, &str, MigrationSql)] = &[
    (1, "initial", MigrationSql::Portable(include_str!("migrations/0001_initial.sql"))),
    (2, "flow", MigrationSql::Portable(include_str!("migrations/0002_flow.sql"))),
    (3, "branding", MigrationSql::Portable(include_str!("migrations/0003_branding.sql"))),
    (4, "audit", MigrationSql::Portable(include_str!("migrations/0004_audit.sql"))),
    (
        5,
        "audit append-only",
        MigrationSql::PerBackend {
            sqlite: include_str!("migrations/0005_audit_append_only.sqlite.sql"),
            postgres: include_str!("migrations/0005_audit_append_only.postgres.sql"),
        },
    ),
    (6, "readiness probe", MigrationSql::Portable(include_str!("migrations/0006_readiness_probe.sql"))),
];

#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    pub async fn connect(url: &str, max_connections: u32, timeout: Duration) -> Result<Self, StoreError> {
        install_default_drivers();
        let backend = backend_of(url)?;
        if backend == Backend::Sqlite {
            ensure_sqlite_parent_dir(url);
        }
        let mut options = AnyPoolOptions::new().max_connections(max_connections).acquire_timeout(timeout);
        if backend == Backend::Sqlite {
            // Runs for every idle connection before it is handed out.
            options = options
                .before_acquire(|_, meta| Box::pin(async move { Ok(sqlite_health::connection_is_usable(&meta)) }));
        }
        let pool = options.connect(url).await?;
        let store = Self { pool, backend };
        if backend == Backend::Sqlite {
            // WAL lets readers proceed during a write; the setting persists in the file.
            store.pool.execute("PRAGMA journal_mode = WAL").await?;
        }
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Applies pending migrations; safe to run concurrently (PostgreSQL advisory lock).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        migrator(self.backend).run(&self.pool).await?;
        Ok(())
    }

    /// The highest applied migration version, if any.
    pub async fn schema_version(&self) -> Result<Option<i64>, StoreError> {
        let version: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_one(&self.pool)
            .await?;
        Ok(version)
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Writes this instance's row of `readiness_probe`: fails when the database refuses writes
    /// (read-only file, full disk, read-only standby), which `ping` cannot see.
    pub async fn probe_write(&self, instance: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO readiness_probe (instance, checked_at) VALUES ($1, $2) \
             ON CONFLICT (instance) DO UPDATE SET checked_at = excluded.checked_at",
        )
        .bind(instance)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

pub fn migrator(backend: Backend) -> Migrator {
    let migrations = MIGRATIONS
        .iter()
        .map(|(version, name, sql)| {
            let sql = match (sql, backend) {
                (MigrationSql::Portable(sql), _) => *sql,
                (MigrationSql::PerBackend { sqlite, .. }, Backend::Sqlite) => *sqlite,
                (MigrationSql::PerBackend { postgres, .. }, Backend::Postgres) => *postgres,
            };
            Migration::new(
                *version,
                Cow::Borrowed(*name),
                MigrationType::Simple,
                sqlx::SqlSafeStr::into_sql_str(sql),
                false,
            )
        })
        .collect();
    Migrator::with_migrations(migrations)
}

fn backend_of(url: &str) -> Result<Backend, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else {
        Err(StoreError::UnsupportedUrl(url.split('@').next_back().unwrap_or_default().to_string()))
    }
}

/// SQLite creates the file (mode=rwc) but not its directory.
fn ensure_sqlite_parent_dir(url: &str) {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if let Some(parent) = std::path::Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(parent);
    }
}

/// Milliseconds since the Unix epoch, the time format of every table.
pub fn now_ms() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos().div_euclid(1_000_000) as i64
}
