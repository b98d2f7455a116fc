-- WebAuthn passkeys. The credential ID is the primary key, so no two
-- accounts can hold one credential. The sign count is a column of its own:
-- a login moves it forward by compare-and-set. flag_time marks a passkey
-- whose sign count went back (possibly cloned); it no longer signs in.

CREATE TABLE passkeys (
    id            BLOB PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    name          TEXT NOT NULL,
    credential    TEXT NOT NULL,
    sign_count    BIGINT NOT NULL,
    create_time   BIGINT NOT NULL,
    last_use_time BIGINT,
    flag_time     BIGINT
);
CREATE INDEX passkeys_account ON passkeys (account_id, create_time);

-- The WebAuthn user handle of an account: random, never personal data.
CREATE TABLE passkey_users (
    account_id  TEXT PRIMARY KEY REFERENCES accounts (id),
    user_handle BLOB NOT NULL UNIQUE
);

-- Begun ceremonies, by the SHA-256 of their challenge. A ceremony is used
-- once: a conditional delete whose affected row decides which of
-- concurrent answers gets it.
CREATE TABLE passkey_ceremonies (
    hash        BLOB PRIMARY KEY,
    purpose     TEXT NOT NULL,
    account_id  TEXT REFERENCES accounts (id),
    mfa_hash    BLOB,
    state       TEXT NOT NULL,
    expire_time BIGINT NOT NULL
);
CREATE INDEX passkey_ceremonies_expire ON passkey_ceremonies (expire_time);
