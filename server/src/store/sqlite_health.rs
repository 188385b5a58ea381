//! Keeping SQLite connections usable across a period when the database refused writes
//! (file made read-only, full disk, I/O errors).
//!
//! Two things go wrong on a connection during such a period, and neither heals when the file
//! becomes writable again: a connection *opened* while the file is read-only is silently opened
//! read-only by SQLite (every later write: "attempt to write a readonly database"), and a write
//! that failed with an I/O error can leave the connection inside a transaction with an old
//! snapshot (every later write: SQLITE_BUSY_SNAPSHOT, "database is locked"). So every refusal
//! is noted here, and the pool replaces each connection that existed at the last refusal
//! when it is next acquired.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnectionMetadata;

/// Milliseconds (on [`clock_ms`]) of the most recent refused write; 0 = none yet.
static LAST_REFUSAL_MS: AtomicU64 = AtomicU64::new(0);

/// A monotonic millisecond clock that starts at 1, so 0 can mean "never".
fn clock_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    duration_ms(START.get_or_init(Instant::now).elapsed()) + 1
}

/// SQLite result codes (primary or extended) that mean the database refused the write.
const REFUSAL_CODES: &[u32] = &[
    8,   // SQLITE_READONLY and its extended codes' primary
    10,  // SQLITE_IOERR
    13,  // SQLITE_FULL
    14,  // SQLITE_CANTOPEN
    517, // SQLITE_BUSY_SNAPSHOT: a stale snapshot that cannot be upgraded to a write
];

/// True for an error that says SQLite refused a write on this connection.
pub fn is_write_refusal(e: &sqlx::Error) -> bool {
    let Some(code) = e.as_database_error().and_then(|d| d.code()) else {
        return false;
    };
    // SQLite's codes are numbers below 10 000; PostgreSQL's SQLSTATEs are five characters.
    let Some(number) = code.parse::<u32>().ok().filter(|_| code.len() <= 4) else {
        return false;
    };
    REFUSAL_CODES.contains(&number) || REFUSAL_CODES.contains(&(number & 0xff))
}

/// Notes `e` if it is a refused write (called where a sqlx error becomes a `StoreError`).
pub fn note(e: &sqlx::Error) {
    if is_write_refusal(e) {
        LAST_REFUSAL_MS.store(clock_ms(), Ordering::Relaxed);
    }
}

/// Whether a pooled connection of this age may be used again: only if it was opened after the
/// last refused write.
pub fn connection_is_usable(meta: &PoolConnectionMetadata) -> bool {
    let last = LAST_REFUSAL_MS.load(Ordering::Relaxed);
    if last == 0 {
        return true;
    }
    let opened_at = clock_ms().saturating_sub(duration_ms(meta.age));
    opened_at > last
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_starts_after_never() {
        assert!(clock_ms() >= 1);
    }

    #[test]
    fn non_database_errors_are_not_refusals() {
        assert!(!is_write_refusal(&sqlx::Error::PoolTimedOut));
        assert!(!is_write_refusal(&sqlx::Error::RowNotFound));
    }
}
