-- Credentials, MFA challenges, e-mail codes, sessions and throttle counters. Secrets of
-- high entropy (session tokens, challenges, recovery codes) are stored as
-- SHA-256 hashes; passwords as argon2id PHC strings; TOTP secrets sealed
-- with the account's data key.

CREATE TABLE passwords (
    account_id  TEXT PRIMARY KEY REFERENCES accounts (id),
    hash        TEXT NOT NULL,
    update_time BIGINT NOT NULL
);

CREATE TABLE totp_secrets (
    account_id   TEXT PRIMARY KEY REFERENCES accounts (id),
    secret       BYTEA NOT NULL,
    last_step    BIGINT NOT NULL,
    create_time  BIGINT NOT NULL,
    confirm_time BIGINT
);

CREATE TABLE recovery_codes (
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    hash        BYTEA NOT NULL,
    create_time BIGINT NOT NULL,
    use_time    BIGINT,
    PRIMARY KEY (account_id, hash)
);

CREATE TABLE mfa_challenges (
    hash        BYTEA PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    expire_time BIGINT NOT NULL
);
CREATE INDEX mfa_challenges_expire ON mfa_challenges (expire_time);

CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    token_hash    BYTEA NOT NULL UNIQUE,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    account_state TEXT NOT NULL,
    aal           INTEGER NOT NULL,
    methods       TEXT NOT NULL,
    auth_time     BIGINT NOT NULL,
    last_seen     BIGINT NOT NULL,
    expire_time   BIGINT NOT NULL,
    revoke_time   BIGINT
);
CREATE INDEX sessions_account ON sessions (account_id, id);

CREATE TABLE throttle (
    key           TEXT PRIMARY KEY,
    failures      BIGINT NOT NULL,
    blocked_until BIGINT NOT NULL,
    update_time   BIGINT NOT NULL
);

CREATE TABLE email_codes (
    flow_hash   BYTEA PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    address     TEXT NOT NULL,
    code_hash   BYTEA NOT NULL,
    expire_time BIGINT NOT NULL
);
CREATE INDEX email_codes_account ON email_codes (account_id);
