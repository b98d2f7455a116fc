-- Sign-In with Ethereum nonces, stored as SHA-256 hashes. A nonce is used
-- once: use_time is set by a conditional update whose affected-row count
-- decides which of concurrent sign-ins wins.

CREATE TABLE siwe_nonces (
    hash        BYTEA PRIMARY KEY,
    expire_time BIGINT NOT NULL,
    use_time    BIGINT
);
CREATE INDEX siwe_nonces_expire ON siwe_nonces (expire_time);
