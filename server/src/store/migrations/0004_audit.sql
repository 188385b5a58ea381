-- Append-only audit trail of API actions (who, what, when, which reference; never biometric
-- data). Each row's hash covers the previous row's hash (see server/src/audit.rs);
-- `thirdfactor audit verify` recomputes the chain. The primary key on seq makes concurrent
-- appenders from several instances serialise: the loser retries on the new head.
CREATE TABLE audit_log (
    seq        BIGINT PRIMARY KEY,
    at         BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    detail     TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
