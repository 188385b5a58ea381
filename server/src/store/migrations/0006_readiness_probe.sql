-- One row per server instance, rewritten by every /readyz: readiness means the database
-- accepts writes, not only reads (a read-only file or a standby answers SELECT 1).
CREATE TABLE readiness_probe (
    instance TEXT PRIMARY KEY,
    checked_at BIGINT NOT NULL
);
