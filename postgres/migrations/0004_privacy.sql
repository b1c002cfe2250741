-- Erasure tombstones and the audit log.

-- A visitor erased at erased_at: events of this user (or of this session,
-- for events without a user) stamped at or before erased_at are refused,
-- so a late retry or a re-imported feed cannot bring them back. The id is
-- kept only as its SHA-256 (of the pseudonym, when pseudonymisation is on).
CREATE TABLE erased_visitors (
    kind      text NOT NULL CHECK (kind IN ('user', 'session')),
    id_sha256 bytea NOT NULL,
    erased_at timestamptz NOT NULL,
    PRIMARY KEY (kind, id_sha256)
);

-- Admin actions and builds: who (an API key's label, never the key), when,
-- what, which model version and data window. Never a shopper's id.
CREATE TABLE audit_log (
    seq           bigserial PRIMARY KEY,
    at            timestamptz NOT NULL,
    actor         text NOT NULL,
    action        text NOT NULL,
    model_version text NOT NULL DEFAULT '',
    data_from     timestamptz,
    data_to       timestamptz,
    counts        jsonb
);
CREATE INDEX audit_log_at_idx ON audit_log (at);

-- Settings that must not change under stored data, such as which key
-- pseudonymised the stored visitor ids (a fingerprint, never the key).
CREATE TABLE settings (
    name  text PRIMARY KEY,
    value text NOT NULL
);
