-- Accounts, fragments, identifiers, the outbox, API keys, idempotency
-- records, kinds documents and settings. Times are microseconds since the
-- Unix epoch (UTC) in BIGINT columns, identical on every engine.

CREATE TABLE accounts (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    state       TEXT NOT NULL,
    version     BIGINT NOT NULL,
    data_key    BLOB,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL,
    erase_time  BIGINT
);
CREATE INDEX accounts_kind_state_id ON accounts (kind, state, id);

CREATE TABLE fragments (
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    name        TEXT NOT NULL,
    version     BIGINT NOT NULL,
    data        BLOB NOT NULL,
    sealed      INTEGER NOT NULL,
    update_time BIGINT NOT NULL,
    PRIMARY KEY (account_id, name)
);

CREATE TABLE identifiers (
    type        TEXT NOT NULL,
    value       TEXT NOT NULL,
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    verify_time BIGINT,
    create_time BIGINT NOT NULL,
    PRIMARY KEY (type, value)
);
CREATE INDEX identifiers_account ON identifiers (account_id);

CREATE TABLE events (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    id       TEXT NOT NULL UNIQUE,
    type     TEXT NOT NULL,
    subject  TEXT NOT NULL,
    time     BIGINT NOT NULL,
    data     TEXT NOT NULL
);
CREATE INDEX events_subject ON events (subject, seq);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    hash        BLOB NOT NULL,
    role        TEXT NOT NULL,
    create_time BIGINT NOT NULL,
    revoke_time BIGINT
);

CREATE TABLE idempotency (
    principal    TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    status       INTEGER NOT NULL,
    response     BLOB,
    create_time  BIGINT NOT NULL,
    expire_time  BIGINT NOT NULL,
    PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_expire ON idempotency (expire_time);

CREATE TABLE kinds_documents (
    version     BIGINT PRIMARY KEY,
    document    TEXT NOT NULL,
    applied_by  TEXT NOT NULL,
    apply_time  BIGINT NOT NULL
);

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
