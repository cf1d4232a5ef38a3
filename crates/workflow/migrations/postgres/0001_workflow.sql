-- The workflow store: messages and their review, the audit log, the outbox, API tokens.
-- Times are milliseconds since the Unix epoch (UTC); JSON is stored as text.

CREATE TABLE messages (
    id          TEXT PRIMARY KEY,
    brand       TEXT NOT NULL,
    channel     TEXT NOT NULL,
    inbound     TEXT NOT NULL,
    status      TEXT NOT NULL,
    state       TEXT NOT NULL,
    version     BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX messages_queue ON messages (brand, status, received_at);

CREATE TABLE draft_sets (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id      TEXT NOT NULL REFERENCES messages (id),
    message_version BIGINT NOT NULL,
    drafts          TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX draft_sets_message ON draft_sets (message_id, id);

CREATE TABLE reviews (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id      TEXT NOT NULL REFERENCES messages (id),
    message_version BIGINT NOT NULL,
    reviewer        TEXT NOT NULL,
    verdict         TEXT NOT NULL,
    text            TEXT,
    reason          TEXT,
    at              BIGINT NOT NULL
);
CREATE INDEX reviews_message ON reviews (message_id, id);

CREATE TABLE audit_log (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id  TEXT NOT NULL REFERENCES messages (id),
    brand       TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    at          BIGINT NOT NULL,
    draft_text  TEXT,
    final_text  TEXT,
    diff        TEXT,
    note        TEXT
);
CREATE INDEX audit_log_message ON audit_log (message_id, seq);

CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

CREATE TABLE outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id      TEXT NOT NULL REFERENCES messages (id),
    brand           TEXT NOT NULL,
    connector       TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_by      TEXT,
    claimed_until   BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    delivered_at    BIGINT
);
CREATE INDEX outbox_due ON outbox (connector, status, next_attempt_at);
CREATE INDEX outbox_message ON outbox (message_id, id);

CREATE TABLE final_replies (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id   TEXT NOT NULL REFERENCES messages (id),
    brand        TEXT NOT NULL,
    channel      TEXT NOT NULL,
    inbound_text TEXT NOT NULL,
    draft_text   TEXT NOT NULL,
    final_text   TEXT NOT NULL,
    edited       BIGINT NOT NULL,
    approved_by  TEXT NOT NULL,
    approved_at  BIGINT NOT NULL
);
CREATE INDEX final_replies_brand ON final_replies (brand, seq);

CREATE TABLE brand_policies (
    brand      TEXT PRIMARY KEY,
    policy     TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL UNIQUE,
    label       TEXT NOT NULL,
    role        TEXT NOT NULL,
    brands      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
