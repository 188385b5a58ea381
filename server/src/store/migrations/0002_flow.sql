-- The product flow: capture cookies, per-step attempts, encrypted intermediate state,
-- the webhook outbox and verification throttling.

-- SHA-256 of the capture cookie the link's token is exchanged for (the token works once).
ALTER TABLE sessions ADD COLUMN capture_secret_hash TEXT;
ALTER TABLE sessions ADD COLUMN token_used_at BIGINT;
-- JSON object step -> attempts used.
ALTER TABLE sessions ADD COLUMN attempts TEXT NOT NULL DEFAULT '{}';
-- AES-256-GCM sealed JSON of what earlier steps produced (document data, selfie template,
-- liveness challenge): instances keep no session state in memory.
ALTER TABLE sessions ADD COLUMN state TEXT;
ALTER TABLE sessions ADD COLUMN state_key_id TEXT;
-- Optimistic concurrency: every state write bumps it.
ALTER TABLE sessions ADD COLUMN version BIGINT NOT NULL DEFAULT 0;

-- NIST SP 800-63B-4 throttling of verifications per enrolled reference.
ALTER TABLE enrollments ADD COLUMN failed_verifications BIGINT NOT NULL DEFAULT 0;
ALTER TABLE enrollments ADD COLUMN last_failed_at BIGINT;

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    -- One delivery per session: the session id is the receiver's idempotency key.
    session_id      TEXT NOT NULL UNIQUE REFERENCES sessions(id),
    merchant_id     TEXT NOT NULL REFERENCES merchants(id),
    url             TEXT NOT NULL,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    -- A worker's claim; another instance may take the row once it lapses.
    locked_by       TEXT,
    locked_until    BIGINT,
    last_status     BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    delivered_at    BIGINT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
