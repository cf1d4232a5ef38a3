-- The workflow store: messages and their review, the audit log, the outbox, API tokens.
-- Times are milliseconds since the Unix epoch (UTC); JSON is stored as text.

CREATE TABLE messages (
    id          TEXT PRIMARY KEY,
    brand       TEXT NOT NULL,
    channel     TEXT NOT NULL,
    inbound     TEXT NOT NULL,
    status      TEXT NOT NULL,
    state       TEXT NOT NULL,
    version     INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX messages_queue ON messages (brand, status, received_at);

CREATE TABLE draft_sets (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id      TEXT NOT NULL REFERENCES messages (id),
    message_version INTEGER NOT NULL,
    drafts          TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX draft_sets_message ON draft_sets (message_id, id);

CREATE TABLE reviews (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id      TEXT NOT NULL REFERENCES messages (id),
    message_version INTEGER NOT NULL,
    reviewer        TEXT NOT NULL,
    verdict         TEXT NOT NULL,
    text            TEXT,
    reason          TEXT,
    at              INTEGER NOT NULL
);
CREATE INDEX reviews_message ON reviews (message_id, id);

CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id  TEXT NOT NULL REFERENCES messages (id),
    brand       TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    at          INTEGER NOT NULL,
    draft_text  TEXT,
    final_text  TEXT,
    diff        TEXT,
    note        TEXT
);
CREATE INDEX audit_log_message ON audit_log (message_id, seq);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id      TEXT NOT NULL REFERENCES messages (id),
    brand           TEXT NOT NULL,
    connector       TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_by      TEXT,
    claimed_until   INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER
);
CREATE INDEX outbox_due ON outbox (connector, status, next_attempt_at);
CREATE INDEX outbox_message ON outbox (message_id, id);

CREATE TABLE final_replies (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id   TEXT NOT NULL REFERENCES messages (id),
    brand        TEXT NOT NULL,
    channel      TEXT NOT NULL,
    inbound_text TEXT NOT NULL,
    draft_text   TEXT NOT NULL,
    final_text   TEXT NOT NULL,
    edited       INTEGER NOT NULL,
    approved_by  TEXT NOT NULL,
    approved_at  INTEGER NOT NULL
);
CREATE INDEX final_replies_brand ON final_replies (brand, seq);

CREATE TABLE brand_policies (
    brand      TEXT PRIMARY KEY,
    policy     TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL UNIQUE,
    label       TEXT NOT NULL,
    role        TEXT NOT NULL,
    brands      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
