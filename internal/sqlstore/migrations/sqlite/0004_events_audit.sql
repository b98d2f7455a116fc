-- Events get a position assigned in commit order; the audit chain, its
-- signed checkpoints, relay cursors with leases, and webhooks.
--
-- events.pos comes from the "events" row of sequencers, updated in the
-- appending transaction. SQLite has one writer at a time, so positions
-- follow commit order trivially; the same code is exact on PostgreSQL
-- because the row lock is held until commit (see sqlstore/events.go).

CREATE TABLE events_v4 (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    pos     BIGINT NOT NULL UNIQUE,
    id      TEXT NOT NULL UNIQUE,
    type    TEXT NOT NULL,
    subject TEXT NOT NULL,
    time    BIGINT NOT NULL,
    data    TEXT NOT NULL
);
INSERT INTO events_v4 (seq, pos, id, type, subject, time, data)
    SELECT seq, seq, id, type, subject, time, data FROM events ORDER BY seq;
DROP TABLE events;
ALTER TABLE events_v4 RENAME TO events;
CREATE INDEX events_subject ON events (subject, pos);
CREATE INDEX events_time ON events (time);

CREATE TABLE sequencers (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO sequencers (name, value) SELECT 'events', coalesce(max(pos), 0) FROM events;

CREATE TABLE audit_records (
    seq           BIGINT PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    time          BIGINT NOT NULL,
    type          TEXT NOT NULL,
    account_id    TEXT NOT NULL,
    actor         TEXT NOT NULL,
    request_id    TEXT NOT NULL,
    data          TEXT NOT NULL,
    client_digest BLOB NOT NULL,
    ip            TEXT,
    user_agent    TEXT,
    client_salt   BLOB,
    prev_hash     BLOB NOT NULL,
    hash          BLOB NOT NULL
);
CREATE INDEX audit_records_account ON audit_records (account_id, seq);
CREATE INDEX audit_records_actor ON audit_records (actor, seq);
CREATE INDEX audit_records_type ON audit_records (type, seq);
CREATE INDEX audit_records_time ON audit_records (time);

CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash BLOB
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, NULL);

CREATE TABLE audit_checkpoints (
    seq        BIGINT PRIMARY KEY,
    hash       BLOB NOT NULL,
    time       BIGINT NOT NULL,
    key_id     TEXT NOT NULL,
    signature  BLOB NOT NULL
);

CREATE TABLE relay_cursors (
    name        TEXT PRIMARY KEY,
    pos         BIGINT NOT NULL,
    holder      TEXT NOT NULL,
    lease_until BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);

CREATE TABLE webhooks (
    id          TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    types       TEXT NOT NULL,
    secret      BLOB NOT NULL,
    create_time BIGINT NOT NULL,
    delete_time BIGINT
);

CREATE TABLE webhook_deliveries (
    webhook_id   TEXT NOT NULL REFERENCES webhooks (id),
    event_pos    BIGINT NOT NULL,
    event_id     TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    payload      TEXT NOT NULL,
    state        TEXT NOT NULL,
    attempts     INTEGER NOT NULL,
    next_attempt BIGINT NOT NULL,
    last_status  INTEGER NOT NULL,
    last_error   TEXT NOT NULL,
    update_time  BIGINT NOT NULL,
    PRIMARY KEY (webhook_id, event_pos)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt);
CREATE INDEX webhook_deliveries_update ON webhook_deliveries (update_time);
