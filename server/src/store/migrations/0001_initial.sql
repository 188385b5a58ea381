-- One schema for SQLite and PostgreSQL: portable types only (TEXT, BIGINT), times as
-- Unix milliseconds, binary data as base64 text.

CREATE TABLE merchants (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    -- SHA-256 of the API key: keys are 256 random bits, so a fast hash is safe and O(1) to look up.
    api_key_hash   TEXT NOT NULL UNIQUE,
    -- Non-secret prefix of the key, to tell keys apart in listings and logs.
    api_key_hint   TEXT NOT NULL,
    webhook_base   TEXT NOT NULL,
    webhook_secret TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);

CREATE TABLE sessions (
    id             TEXT PRIMARY KEY,
    merchant_id    TEXT NOT NULL REFERENCES merchants(id),
    merchant_ref   TEXT NOT NULL,
    kind           TEXT NOT NULL,
    config         TEXT NOT NULL,
    branding       TEXT,
    language       TEXT NOT NULL,
    backend_url    TEXT NOT NULL,
    return_url     TEXT NOT NULL,
    cancel_url     TEXT NOT NULL,
    status         TEXT NOT NULL,
    step           TEXT NOT NULL,
    -- SHA-256 of the capture token; the token itself is only in the link.
    token_hash     TEXT NOT NULL UNIQUE,
    reasons        TEXT NOT NULL,
    result         TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    ended_at       BIGINT
);
CREATE INDEX sessions_by_ref ON sessions (merchant_id, merchant_ref);
CREATE INDEX sessions_open_by_expiry ON sessions (status, expires_at);

CREATE TABLE enrollments (
    merchant_id    TEXT NOT NULL REFERENCES merchants(id),
    merchant_ref   TEXT NOT NULL,
    -- AES-256-GCM ciphertext of the face template, base64.
    template       TEXT NOT NULL,
    key_id         TEXT NOT NULL,
    model_version  TEXT NOT NULL,
    session_id     TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, merchant_ref)
);
